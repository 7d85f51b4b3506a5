/**
 * The network-namespace test topology (netns-scripts/topology.sh) and the checksummed
 * TCP stream (netns-scripts/tcp-stream.mjs), driven from tests: two multihomed hosts hA
 * and hB, one router per ISP (r1, r2), ingress filtering at the routers, and silent-loss
 * cuts and link-downs as the failures to survive.
 *
 * Needs root, `ip netns` and nft. `describeNetns` skips a suite when they are missing,
 * unless SHIM6_REQUIRE_NETNS=1, where the suite fails and says why.
 *
 * Reachability is checked with tcp-stream's `probe` (a TCP SYN answered by a RST, or an
 * accept): ping(8) is not installed on the project's machines.
 */
import { execFile, spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TOPOLOGY_SH = join(ROOT, 'netns-scripts/topology.sh');
export const TCP_STREAM = join(ROOT, 'netns-scripts/tcp-stream.mjs');

/** The addresses topology.sh assigns (other code depends on them). */
export const ADDR = {
  /** hA's locator on ISP1 (hA eth1). */
  A1: '2001:db8:1:a::1',
  /** hA's locator on ISP2 (hA eth2). */
  A2: '2001:db8:2:a::1',
  /** hB's locator on ISP1 (hB eth1). */
  B1: '2001:db8:1:b::1',
  /** hB's locator on ISP2 (hB eth2). */
  B2: '2001:db8:2:b::1',
  /** r1's address toward hA (interface `a`). */
  R1A: '2001:db8:1:a::ff',
  /** r1's address toward hB (interface `b`). */
  R1B: '2001:db8:1:b::ff',
  /** r2's address toward hA (interface `a`). */
  R2A: '2001:db8:2:a::ff',
  /** r2's address toward hB (interface `b`). */
  R2B: '2001:db8:2:b::ff',
} as const;

export const PREFIX = { ISP1: '2001:db8:1::/48', ISP2: '2001:db8:2::/48' } as const;

export type NetnsNode = 'hA' | 'hB' | 'r1' | 'r2';
export type Isp = 'isp1' | 'isp2';
/** `a-to-b` is the traffic from hA toward hB. */
export type CutDirection = 'both' | 'a-to-b' | 'b-to-a';
export type Host = 'a' | 'b';

export interface ExecResult {
  /** Exit code; -1 when the process was killed (timeout or signal). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  readonly timeoutMs?: number;
}

export interface Counter {
  readonly packets: number;
  readonly bytes: number;
}

/** One router's named nft counters (see topology.sh). */
export interface RouterCounters {
  readonly ingress_drop: Counter;
  readonly cut_drop: Counter;
  readonly fwd_a_to_b: Counter;
  readonly fwd_b_to_a: Counter;
}

export interface Counters {
  readonly r1: RouterCounters;
  readonly r2: RouterCounters;
}

export interface ProbeResult {
  readonly reachable: boolean;
  /** `refused` or `connected` when reachable; `timeout` or an errno code when not. */
  readonly result: string;
  readonly ms: number;
}

export type Availability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const DEFAULT_TIMEOUT_MS = 20_000;

function run(file: string, args: readonly string[], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      const note = error !== null && error.killed ? `\n(killed: timeout after ${timeoutMs} ms)` : '';
      resolve({ code, stdout, stderr: stderr + note });
    });
  });
}

/** JSON.parse that yields undefined for a line that is not JSON (a stray log line). */
function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCounter(v: unknown): v is Counter {
  return isRecord(v) && typeof v['packets'] === 'number' && typeof v['bytes'] === 'number';
}

function isRouterCounters(v: unknown): v is RouterCounters {
  return isRecord(v) && isCounter(v['ingress_drop']) && isCounter(v['cut_drop']) && isCounter(v['fwd_a_to_b']) && isCounter(v['fwd_b_to_a']);
}

let availability: Availability | undefined;

/** Whether this process can build the topology: root, `ip netns` (it creates one), nft. */
export function netnsAvailability(): Availability {
  availability ??= probeAvailability();
  return availability;
}

function probeAvailability(): Availability {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'network namespaces need root' };
  const nft = spawnSync('nft', ['--version'], { encoding: 'utf8' });
  if (nft.error !== undefined || nft.status !== 0) return { ok: false, reason: 'nft (Debian package nftables) is not installed' };
  const ip = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (ip.error !== undefined || ip.status !== 0) return { ok: false, reason: `\`ip netns\` does not work: ${ip.error?.message ?? ip.stderr.trim()}` };
  const name = `s6-probe-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', name]);
  if (add.status !== 0) return { ok: false, reason: `cannot create a network namespace: ${add.stderr.trim()}` };
  return { ok: true };
}

/**
 * `describe` for suites that need the topology. When it cannot be built the suite is
 * skipped with the reason in its name, or, when SHIM6_REQUIRE_NETNS=1, replaced by one
 * failing test that states the reason.
 */
export function describeNetns(name: string, fn: () => void): void {
  const a = netnsAvailability();
  if (a.ok) {
    describe(name, fn);
  } else if (process.env['SHIM6_REQUIRE_NETNS'] === '1') {
    describe(name, () => {
      it('needs network namespaces (SHIM6_REQUIRE_NETNS=1)', () => {
        throw new Error(`SHIM6_REQUIRE_NETNS=1 but the netns topology is unavailable: ${a.reason}`);
      });
    });
  } else {
    describe.skip(`${name} (skipped: ${a.reason})`, fn);
  }
}

let instances = 0;

export type TrackedChild = ChildProcessByStdio<null, Readable, Readable>;

/** One instance of the topology; every method runs topology.sh or `ip netns exec`. */
export class Topology {
  readonly id: string;
  private readonly children = new Set<TrackedChild>();
  private isDown = false;

  private constructor(id: string) {
    this.id = id;
  }

  /** Builds the topology (topology.sh up), by default with a fresh PID-based id. */
  static async up(id = `${process.pid}-${++instances}`): Promise<Topology> {
    const r = await run('bash', [TOPOLOGY_SH, 'up', id], 60_000);
    if (r.code !== 0) throw new Error(`topology.sh up ${id} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return new Topology(id);
  }

  /** The namespace name of a node, e.g. `s6-hA-<id>`. */
  ns(node: NetnsNode): string {
    return `s6-${node}-${this.id}`;
  }

  /** Runs a command in a node's namespace; resolves with its exit code (never rejects). */
  exec(node: NetnsNode, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.ns(node), ...args], opts.timeoutMs);
  }

  /** Starts a command in a node's namespace; it is killed by `down()`. */
  spawn(node: NetnsNode, args: readonly string[]): TrackedChild {
    if (this.isDown) throw new Error(`topology ${this.id} is down`);
    // `ip netns exec` execs the command, so the child's pid is the command's.
    const child = spawn('ip', ['netns', 'exec', this.ns(node), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  /** Silent 100 % loss in that ISP's router, for the direction given (default both). */
  cut(isp: Isp, dir: CutDirection = 'both'): Promise<void> {
    return this.script('cut', isp, dir);
  }

  /** Removes the cuts of that ISP's router. */
  restore(isp: Isp): Promise<void> {
    return this.script('restore', isp);
  }

  /** Admin-down of the host's interface to that ISP (its addresses stay). */
  linkDown(host: Host, isp: Isp): Promise<void> {
    return this.script('linkdown', host, isp);
  }

  /** Admin-up of the host's interface to that ISP, with its routes re-added. */
  linkUp(host: Host, isp: Isp): Promise<void> {
    return this.script('linkup', host, isp);
  }

  /** The routers' named nft counters. */
  async counters(): Promise<Counters> {
    const r = await run('bash', [TOPOLOGY_SH, 'counters', this.id]);
    if (r.code !== 0) throw new Error(`topology.sh counters failed (exit ${r.code}): ${r.stderr.trim()}`);
    const v = parseJson(r.stdout);
    if (!isRecord(v) || !isRouterCounters(v['r1']) || !isRouterCounters(v['r2'])) throw new Error(`unexpected counters: ${r.stdout}`);
    return { r1: v['r1'], r2: v['r2'] };
  }

  /** Whether `dst` answers a TCP SYN sent from `src` in `node` (see tcp-stream's probe). */
  async probe(node: NetnsNode, src: string, dst: string, timeoutMs = 1000): Promise<ProbeResult> {
    const r = await this.exec(node, [process.execPath, TCP_STREAM, 'probe', '--bind', src, '--connect', dst, '--timeout-ms', String(timeoutMs)], {
      timeoutMs: timeoutMs + 10_000,
    });
    const v = parseJson(r.stdout.trim());
    if (!isRecord(v) || typeof v['reachable'] !== 'boolean' || typeof v['result'] !== 'string' || typeof v['ms'] !== 'number') {
      throw new Error(`probe ${src} -> ${dst} failed (exit ${r.code}): ${r.stderr.trim()}`);
    }
    return { reachable: v['reachable'], result: v['result'], ms: v['ms'] };
  }

  /** Probes until reachable or `withinMs` has passed; returns the last result. */
  async waitReachable(node: NetnsNode, src: string, dst: string, withinMs: number): Promise<ProbeResult> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const r = await this.probe(node, src, dst, 500);
      if (r.reachable || Date.now() >= deadline) return r;
      await sleep(100);
    }
  }

  /** Kills the spawned processes and removes the namespaces. Idempotent. */
  async down(): Promise<void> {
    this.isDown = true;
    await Promise.all([...this.children].map((c) => killAndWait(c)));
    const r = await run('bash', [TOPOLOGY_SH, 'down', this.id], 60_000);
    if (r.code !== 0) throw new Error(`topology.sh down ${this.id} failed (exit ${r.code}): ${r.stderr.trim()}`);
  }

  private async script(...args: string[]): Promise<void> {
    const [cmd, ...rest] = args;
    const r = await run('bash', [TOPOLOGY_SH, cmd ?? '', this.id, ...rest]);
    if (r.code !== 0) throw new Error(`topology.sh ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function killAndWait(child: TrackedChild): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

// ------------------------------------------------------------------ tcp-stream helpers

export interface StreamGap {
  /** When the silence started, in ms from the first byte. */
  readonly atMs: number;
  readonly ms: number;
  /** The silence that was still going on when the server was stopped. */
  readonly open?: boolean;
}

/** The server's report (see the top of netns-scripts/tcp-stream.mjs). */
export interface StreamServerReport {
  readonly bytes: number;
  readonly sha256: string;
  /** From the accept; null when no byte came. */
  readonly firstByteMs: number | null;
  readonly lastByteMs: number | null;
  /** From the accept to the EOF (or to the stop). */
  readonly durationMs: number;
  /** False when the server was stopped before the client's EOF. */
  readonly eof: boolean;
  readonly gaps: readonly StreamGap[];
  /** [ms from the first byte, cumulative bytes], every 100 ms. */
  readonly progress: readonly (readonly [number, number])[];
  readonly error?: string;
}

export interface StreamClientResult {
  readonly bytes: number;
  readonly sha256: string;
  readonly durationMs: number;
  readonly mbit: number;
}

export type StreamAmount = { readonly bytes: number; readonly seconds?: undefined } | { readonly seconds: number; readonly bytes?: undefined };

export type StreamClientOptions = StreamAmount & {
  readonly connect: string;
  readonly port: number;
  readonly bind?: string;
  readonly rateMbit?: number;
  readonly seed?: string;
};

export interface StreamServer {
  readonly child: TrackedChild;
  /** Settles when the server prints its report (at EOF, or after `stop()`). */
  readonly report: Promise<StreamServerReport>;
  /** SIGTERM: the server reports the connection in progress (eof false) and exits. */
  stop(): Promise<StreamServerReport>;
}

export interface StreamClient {
  readonly child: TrackedChild;
  /** Settles when the client exits: its result, or an error with its stderr. */
  readonly result: Promise<StreamClientResult>;
}

function isServerReport(v: unknown): v is StreamServerReport {
  return isRecord(v) && typeof v['bytes'] === 'number' && typeof v['sha256'] === 'string' && typeof v['eof'] === 'boolean'
    && Array.isArray(v['gaps']) && Array.isArray(v['progress']);
}

function isClientResult(v: unknown): v is StreamClientResult {
  return isRecord(v) && typeof v['bytes'] === 'number' && typeof v['sha256'] === 'string' && typeof v['durationMs'] === 'number'
    && typeof v['mbit'] === 'number';
}

/** Calls `onLine` for each complete stdout line; returns the collected stderr. */
function collect(child: TrackedChild, onLine: (line: string) => void): { stderr: () => string } {
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (line !== '') onLine(line);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    err += s;
  });
  return { stderr: () => err.trim() };
}

/** Starts `tcp-stream server --once` in `node`; resolves once it listens. */
export function startStreamServer(topo: Topology, node: NetnsNode, addr: string, port: number, listenTimeoutMs = 10_000): Promise<StreamServer> {
  const child = topo.spawn(node, [process.execPath, TCP_STREAM, 'server', '--listen', addr, '--port', String(port), '--once']);
  return new Promise((resolveListening, rejectListening) => {
    let resolveReport: (r: StreamServerReport) => void = () => {};
    let rejectReport: (e: Error) => void = () => {};
    const report = new Promise<StreamServerReport>((res, rej) => {
      resolveReport = res;
      rejectReport = rej;
    });
    report.catch(() => {}); // observed through `report`/`stop()`; no unhandled rejection
    let listening = false;
    let reported = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rejectListening(new Error(`tcp-stream server on [${addr}]:${port} did not listen within ${listenTimeoutMs} ms`));
    }, listenTimeoutMs);
    const io = collect(child, (line) => {
      const v = parseJson(line);
      if (!listening && isRecord(v) && v['listening'] === true) {
        listening = true;
        clearTimeout(timer);
        resolveListening({
          child,
          report,
          stop: () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            return report;
          },
        });
      } else if (isServerReport(v)) {
        reported = true;
        resolveReport(v);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const why = `tcp-stream server exited (${signal ?? `code ${code}`}): ${io.stderr()}`;
      if (!listening) rejectListening(new Error(why));
      if (!reported) rejectReport(new Error(`${why} without a report`));
    });
  });
}

/** Starts `tcp-stream client` in `node`. */
export function startStreamClient(topo: Topology, node: NetnsNode, opts: StreamClientOptions): StreamClient {
  const args = [process.execPath, TCP_STREAM, 'client', '--connect', opts.connect, '--port', String(opts.port)];
  if (opts.bind !== undefined) args.push('--bind', opts.bind);
  if (opts.bytes !== undefined) args.push('--bytes', String(opts.bytes));
  else args.push('--seconds', String(opts.seconds));
  if (opts.rateMbit !== undefined) args.push('--rate-mbit', String(opts.rateMbit));
  if (opts.seed !== undefined) args.push('--seed', opts.seed);
  const child = topo.spawn(node, args);
  const result = new Promise<StreamClientResult>((resolve, reject) => {
    let parsed: StreamClientResult | undefined;
    const io = collect(child, (line) => {
      const v = parseJson(line);
      if (isClientResult(v)) parsed = v;
    });
    child.once('exit', (code, signal) => {
      if (code === 0 && parsed !== undefined) resolve(parsed);
      else reject(new Error(`tcp-stream client exited (${signal ?? `code ${code}`}): ${io.stderr()}`));
    });
  });
  result.catch(() => {}); // a killed client is expected in stall tests; callers await `result` when they need it
  return { child, result };
}

/** Runs `tcp-stream client` in `node` to completion (killed after `timeoutMs`). */
export async function runStreamClient(topo: Topology, node: NetnsNode, opts: StreamClientOptions, timeoutMs = 30_000): Promise<StreamClientResult> {
  const client = startStreamClient(topo, node, opts);
  const timer = setTimeout(() => client.child.kill('SIGKILL'), timeoutMs);
  try {
    return await client.result;
  } finally {
    clearTimeout(timer);
  }
}
