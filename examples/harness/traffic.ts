/**
 * Traffic flows for the harness: a receiver in hB and a sender in hA running
 * netns-scripts/traffic.mjs (TCP bulk, TCP paced at a rate, UDP at a rate), with the
 * mode's addresses and, for MPTCP, the socket made by netns-scripts/mptcp-exec.py.
 * The reports are traffic.mjs's final JSON lines.
 */
import type { ChildProcess } from 'node:child_process';
import { SCRIPTS, stopChild } from './netns.js';
import type { Topology } from './topology.js';

export type TrafficSpec =
  /** TCP: bulk when rateMbit is absent; `bytes` sends a fixed amount instead of a time. */
  | { readonly kind: 'tcp'; readonly rateMbit?: number; readonly bytes?: number }
  | { readonly kind: 'udp'; readonly rateMbit: number; readonly size?: number };

export function describeTraffic(t: TrafficSpec): string {
  if (t.kind === 'udp') return `UDP ${t.rateMbit} Mbit/s`;
  const what = t.rateMbit === undefined ? 'TCP bulk' : `TCP paced ${t.rateMbit} Mbit/s`;
  return t.bytes === undefined ? what : `${what}, ${t.bytes} bytes`;
}

/** Parses `tcp`, `tcp:100` (paced), `udp:50`, `udp:50:1200` (size). */
export function parseTraffic(s: string): TrafficSpec {
  const [kind, rate, size] = s.split(':');
  const n = (v: string | undefined, what: string): number | undefined => {
    if (v === undefined || v === '') return undefined;
    const x = Number(v);
    if (!Number.isFinite(x) || x <= 0) throw new Error(`traffic '${s}': bad ${what} '${v}'`);
    return x;
  };
  if (kind === 'tcp') {
    const r = n(rate, 'rate');
    return r === undefined ? { kind: 'tcp' } : { kind: 'tcp', rateMbit: r };
  }
  if (kind === 'udp') {
    const r = n(rate, 'rate');
    if (r === undefined) throw new Error(`traffic '${s}': UDP needs a rate (udp:MBIT)`);
    const sz = n(size, 'size');
    return sz === undefined ? { kind: 'udp', rateMbit: r } : { kind: 'udp', rateMbit: r, size: sz };
  }
  throw new Error(`traffic '${s}': kind must be tcp or udp`);
}

export interface Gap {
  readonly startMs: number;
  readonly endMs: number;
  readonly open?: boolean;
}

export interface ReceiverReport {
  readonly proto: 'tcp' | 'udp';
  readonly bytes: number;
  readonly firstByteMs: number | null;
  readonly lastByteMs: number | null;
  readonly gaps: readonly Gap[];
  readonly origin: number | null;
  readonly binMs: number;
  readonly bins: readonly number[];
  // TCP
  readonly eof?: boolean;
  readonly verify?: { readonly okBytes: number; readonly lostBytes: number; readonly dupBytes: number; readonly corruptBytes: number; readonly firstErrorAt: number | null };
  readonly error?: string;
  // UDP
  readonly size?: number;
  readonly datagrams?: number;
  readonly unique?: number;
  readonly dupDatagrams?: number;
  readonly corruptDatagrams?: number;
  readonly reordered?: number;
}

export interface SenderReport {
  readonly proto: 'tcp' | 'udp';
  readonly bytes: number;
  readonly startMs: number | null;
  readonly endMs: number | null;
  readonly closedMs?: number | null;
  readonly datagrams?: number;
  readonly sendErrors?: number;
  readonly errorCodes?: Record<string, number>;
  readonly error?: string;
}

/** How a mode opens TCP sockets: plainly, or wrapped (MPTCP). */
export interface SocketWrap {
  /** argv prefix for a listening socket on [addr]:port; the command gets `--fd N`. */
  listen(addr: string, port: number): readonly string[];
  /** argv prefix for a socket connected from bind to [addr]:port. */
  connect(addr: string, port: number, bind: string): readonly string[];
}

export interface FlowOptions {
  readonly spec: TrafficSpec;
  readonly port: number;
  /** Source (in hA) and destination (in hB) addresses. */
  readonly src: string;
  readonly dst: string;
  /** Sending time, when the spec has no `bytes`. */
  readonly seconds: number;
  readonly origin: number;
  readonly seed: string;
  readonly wrap?: SocketWrap;
  readonly logFile?: string;
}

export interface Flow {
  readonly options: FlowOptions;
  readonly receiver: ChildProcess;
  readonly sender: ChildProcess;
  readonly receiverReport: Promise<ReceiverReport>;
  readonly senderReport: Promise<SenderReport>;
  /** Stops whichever side has not finished (SIGTERM: each prints its report). */
  stop(): Promise<void>;
}

function lines(child: ChildProcess, onLine: (v: Record<string, unknown>) => void): () => string {
  let buf = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    buf += s;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const v = JSON.parse(line) as unknown;
        if (typeof v === 'object' && v !== null) onLine(v as Record<string, unknown>);
      } catch {
        // not a JSON line
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    err = (err + s).slice(-4000);
  });
  return () => err.trim();
}

function reportOf<T>(child: ChildProcess, what: string, onEvent?: (v: Record<string, unknown>) => void): { report: Promise<T>; ready: Promise<void> } {
  let resolveReady: () => void = () => {};
  let rejectReady: (e: Error) => void = () => {};
  const ready = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => {});
  let report: T | undefined;
  const stderr = lines(child, (v) => {
    if (v['event'] === 'listening' || v['event'] === 'connected') resolveReady();
    if (v['event'] === 'report') report = v as T;
    onEvent?.(v);
  });
  const p = new Promise<T>((resolve, reject) => {
    child.once('exit', (code, signal) => {
      const why = new Error(`${what} exited (${signal ?? `code ${code}`}) ${report === undefined ? 'without a report' : ''}: ${stderr()}`);
      rejectReady(why);
      if (report !== undefined) resolve(report);
      else reject(why);
    });
  });
  p.catch(() => {});
  return { report: p, ready };
}

/** Starts a receiver in hB, waits until it listens, then starts the sender in hA. */
export async function startFlow(topo: Topology, o: FlowOptions): Promise<Flow> {
  const node = process.execPath;
  const common = ['--seed', o.seed, '--origin', o.origin.toFixed(1)];
  const hA = topo.host('a');
  const hB = topo.host('b');
  let recvArgs: string[];
  let sendArgs: string[];
  if (o.spec.kind === 'tcp') {
    const recv = [node, SCRIPTS.traffic, 'tcp-recv', '--listen', o.dst, '--port', String(o.port), ...common];
    const amount = o.spec.bytes === undefined ? ['--seconds', String(o.seconds)] : ['--bytes', String(o.spec.bytes)];
    const rate = o.spec.rateMbit === undefined ? [] : ['--rate-mbit', String(o.spec.rateMbit)];
    if (o.wrap === undefined) {
      recvArgs = recv;
      sendArgs = [node, SCRIPTS.traffic, 'tcp-send', '--connect', o.dst, '--port', String(o.port), '--bind', o.src, ...amount, ...rate, ...common];
    } else {
      recvArgs = [...o.wrap.listen(o.dst, o.port), ...recv];
      sendArgs = [...o.wrap.connect(o.dst, o.port, o.src), node, SCRIPTS.traffic, 'tcp-send', ...amount, ...rate, ...common];
    }
  } else {
    const size = ['--size', String(o.spec.size ?? 1200)];
    recvArgs = [node, SCRIPTS.traffic, 'udp-recv', '--listen', o.dst, '--port', String(o.port), ...size, ...common];
    sendArgs = [node, SCRIPTS.traffic, 'udp-send', '--connect', o.dst, '--port', String(o.port), '--bind', o.src, '--seconds', String(o.seconds), '--rate-mbit', String(o.spec.rateMbit), ...size, ...common];
  }
  const receiver = topo.spawn(hB, recvArgs, { logFile: o.logFile });
  const r = reportOf<ReceiverReport>(receiver, `${o.spec.kind} receiver on [${o.dst}]:${o.port}`);
  const listenTimer = setTimeout(() => receiver.kill('SIGKILL'), 15_000);
  try {
    await r.ready;
  } finally {
    clearTimeout(listenTimer);
  }
  const sender = topo.spawn(hA, sendArgs, { logFile: o.logFile });
  const s = reportOf<SenderReport>(sender, `${o.spec.kind} sender to [${o.dst}]:${o.port}`);
  return {
    options: o,
    receiver,
    sender,
    receiverReport: r.report,
    senderReport: s.report,
    async stop() {
      await stopChild(sender);
      await stopChild(receiver);
    },
  };
}

/** Waits until the flow finishes by itself or `deadline` (epoch ms) passes, then stops it. */
export async function finishFlow(flow: Flow, deadline: number): Promise<{ receiver: ReceiverReport | undefined; sender: SenderReport | undefined; errors: string[] }> {
  const both = Promise.allSettled([flow.receiverReport, flow.senderReport]);
  // A UDP receiver never sees an end: it is done shortly after its sender.
  const done = flow.options.spec.kind === 'udp' ? flow.senderReport.then(() => new Promise((r) => setTimeout(r, 300)), () => undefined) : both;
  const wait = Math.max(0, deadline - (performance.timeOrigin + performance.now()));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise((r) => (timer = setTimeout(r, wait)))]);
  clearTimeout(timer);
  // The sender first: a stuck TCP sender's report says how much it wrote.
  await stopChild(flow.sender);
  await stopChild(flow.receiver);
  const [rr, sr] = await both;
  const errors: string[] = [];
  if (rr.status === 'rejected') errors.push(String(rr.reason));
  if (sr.status === 'rejected') errors.push(String(sr.reason));
  return { receiver: rr.status === 'fulfilled' ? rr.value : undefined, sender: sr.status === 'fulfilled' ? sr.value : undefined, errors };
}
