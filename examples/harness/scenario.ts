/**
 * The scenario runner: builds the topology (or uses one), starts a mode's machinery,
 * starts the traffic, waits until the mode is ready (shim6: contexts ESTABLISHED), lets
 * the traffic run for `warmupMs`, injects the failure schedule, keeps the traffic going
 * for `afterMs`, lets it finish, and writes the run directory:
 *
 *   result.json      everything: the spec, times, fault events, per-flow receiver and
 *                    sender reports with their metrics, hA's path over time, the
 *                    mode's state (shim6 contexts, MPTCP counters, tunnel monitors),
 *                    drop counters, the capture summary
 *   report.md        the metrics table and the plot
 *   throughput.svg   delivered Mbit/s per 100 ms, failure and switch marked
 *   *.log, *.pcap    daemons', monitors', traffic tools' output; captures (pcap: true)
 *
 * Times in the schedule are relative to the failure instant (the first step is at 0).
 */
import { mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startCapture, summarizeCaptures, type Capture, type CaptureSummary, type SummaryOptions } from './capture.js';
import { describeAction, Faults, type FaultAction, type FaultEvent } from './faults.js';
import { flowMetrics, pathSummary, type FlowMetrics, type PathSample, type PathSummary } from './metrics.js';
import { isModeName, startMode, type ModeInstance, type ModeName } from './modes.js';
import { nowMs, sleep } from './netns.js';
import { markdownReport, throughputSvg, type PlotMarker } from './report.js';
import { failoverEpochMs, parseContexts, type Shim6Options } from './shim6.js';
import type { TopologySpec } from './spec.js';
import { Topology } from './topology.js';
import { describeTraffic, finishFlow, startFlow, type Flow, type ReceiverReport, type SenderReport, type TrafficSpec } from './traffic.js';

export interface FailureStep {
  /** Milliseconds after the failure instant (the first step is normally at 0). */
  readonly atMs: number;
  readonly action: FaultAction;
}

export interface ScenarioSpec {
  readonly name?: string;
  readonly topology?: TopologySpec;
  readonly mode: ModeName;
  /** Default: one TCP flow paced at 100 Mbit/s. */
  readonly traffic?: readonly TrafficSpec[];
  /** Traffic before the failure, once the mode is ready (default 3000). */
  readonly warmupMs?: number;
  /** Traffic after the failure instant (default 6000). */
  readonly afterMs?: number;
  /** Time allowed after that for the flows to finish (default 5000). */
  readonly drainMs?: number;
  readonly failures: readonly FailureStep[];
  /** Capture hA's interfaces with dumpcap. */
  readonly pcap?: boolean;
  /** Parent of the run directory (default ./harness-output). */
  readonly outDir?: string;
  readonly seed?: string;
  readonly readyTimeoutMs?: number;
  readonly shim6?: Omit<Shim6Options, 'reap' | 'runDir'>;
  /** Port of the first flow (default 5201; the others follow). */
  readonly basePort?: number;
}

export interface FlowResult {
  readonly label: string;
  readonly spec: TrafficSpec;
  readonly port: number;
  readonly src: string;
  readonly dst: string;
  readonly receiver: ReceiverReport | undefined;
  readonly sender: SenderReport | undefined;
  readonly metrics: FlowMetrics;
  readonly errors: readonly string[];
}

export interface ScenarioResult {
  readonly name: string;
  readonly runId: string;
  readonly mode: ModeName;
  readonly runDir: string;
  readonly times: { readonly startMs: number; readonly readyMs: number; readonly failureMs: number | null; readonly endMs: number };
  readonly events: readonly (FaultEvent & { readonly description: string })[];
  readonly flows: readonly FlowResult[];
  readonly path: PathSummary & { readonly samples: readonly PathSample[] };
  /** For shim6: the daemon's lastFailover of hA's context (epoch ms), when it reports one. */
  readonly shim6FailoverMs: number | null;
  readonly modeStatus: Record<string, unknown>;
  readonly drops: Record<string, unknown>;
  readonly capture: CaptureSummary | null;
  readonly errors: readonly string[];
}

let runs = 0;

/**
 * Parses a failure step of the command line: `KIND[:ARGS][@MS]`, MS after the failure
 * instant (default 0). Kinds: loss:LINK[:DIR[:PERCENT]], link-down:LINK[:END],
 * link-up:LINK, isp-down:K, isp-up:K, flap:LINK:DOWN_MS:UP_MS:COUNT[:loss|down],
 * repair[:LINK]. Throws an Error whose message starts with "failure ".
 */
export function parseFailure(s: string): FailureStep {
  const bad = (why: string): never => {
    throw new Error(`failure '${s}': ${why}`);
  };
  const int = (v: string | undefined, what: string): number => {
    const n = Number(v);
    return v !== undefined && /^[0-9]+$/.test(v) && Number.isSafeInteger(n) ? n : bad(`${what} '${v ?? ''}' is not a whole number`);
  };
  const [body, at, extra] = s.split('@');
  if (extra !== undefined) bad('more than one @');
  const atMs = at === undefined ? 0 : int(at, 'time');
  const [kind, ...p] = (body ?? '').split(':');
  const link = (): string => p[0] ?? bad('needs a link');
  let action: FaultAction;
  switch (kind) {
    case 'loss': {
      const dir = p[1] ?? 'both';
      if (dir !== 'both' && dir !== 'a-to-b' && dir !== 'b-to-a') return bad('direction must be both, a-to-b or b-to-a');
      const percent = p[2] === undefined ? 100 : int(p[2], 'percent');
      if (percent > 100) bad('percent is at most 100');
      action = { kind: 'loss', link: link(), dir, percent };
      break;
    }
    case 'link-down': {
      const end = p[1];
      if (end !== undefined && end !== 'a' && end !== 'b' && end !== 'both') return bad('end must be a, b or both');
      action = end === undefined ? { kind: 'link-down', link: link() } : { kind: 'link-down', link: link(), end };
      break;
    }
    case 'link-up': action = { kind: 'link-up', link: link() }; break;
    case 'isp-down': action = { kind: 'isp-down', isp: int(p[0], 'ISP') }; break;
    case 'isp-up': action = { kind: 'isp-up', isp: int(p[0], 'ISP') }; break;
    case 'flap': {
      const how = p[4] ?? 'loss';
      if (how !== 'loss' && how !== 'down') return bad('flap is loss or down');
      action = { kind: 'flap', link: link(), downMs: int(p[1], 'down ms'), upMs: int(p[2], 'up ms'), count: int(p[3], 'count'), how };
      break;
    }
    case 'repair': action = p[0] === undefined ? { kind: 'repair' } : { kind: 'repair', link: p[0] }; break;
    default: return bad(`unknown kind '${kind ?? ''}'`);
  }
  return { atMs, action };
}

/** Reads hA's per-interface transmitted bytes through /proc/PID/net/dev of a process inside it. */
class PathSampler {
  private readonly pid: number;
  private readonly ifnames: readonly string[];
  private last: Record<string, number> | undefined;
  private timer: NodeJS.Timeout | undefined;
  readonly samples: PathSample[] = [];

  constructor(pid: number, ifnames: readonly string[]) {
    this.pid = pid;
    this.ifnames = ifnames;
  }

  private read(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const line of readFileSync(`/proc/${this.pid}/net/dev`, 'utf8').split('\n')) {
      const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
      if (m === null || !this.ifnames.includes(m[1]!)) continue;
      out[m[1]!] = Number(m[2]!.trim().split(/\s+/)[8]);
    }
    return out;
  }

  start(): void {
    this.last = this.read();
    let t = nowMs();
    this.timer = setInterval(() => {
      try {
        const cur = this.read();
        const tx: Record<string, number> = {};
        for (const i of this.ifnames) tx[i] = (cur[i] ?? 0) - (this.last?.[i] ?? 0);
        this.samples.push({ atMs: Math.round(t * 10) / 10, tx });
        this.last = cur;
        t = nowMs();
      } catch {
        // the keeper process is gone: the run is ending
      }
    }, 100);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

async function keeperPid(topo: Topology, node: string): Promise<number> {
  const child = topo.spawn(node, ['sleep', '100000']);
  const want = statSync(`/run/netns/${topo.ns(node)}`).ino;
  for (let i = 0; i < 100; i++) {
    try {
      if (child.pid !== undefined && readlinkSync(`/proc/${child.pid}/ns/net`) === `net:[${want}]`) return child.pid;
    } catch {
      // not there yet
    }
    await sleep(20);
  }
  throw new Error(`no process in ${node}'s namespace to sample`);
}

/** Flow labels and ULIDs from the shim6 modes' status (contexts_hA/hB, identities), for the capture summary. */
function captureHints(status: Record<string, unknown>): SummaryOptions {
  const flowLabels: number[] = [];
  const ulids: string[] = [];
  for (const [k, v] of Object.entries(status)) {
    if (k.startsWith('contexts_') && Array.isArray(v)) {
      for (const c of v as { flowLabel?: { local?: unknown; peer?: unknown } | null }[]) {
        for (const l of [c.flowLabel?.local, c.flowLabel?.peer]) if (typeof l === 'number' && l > 0) flowLabels.push(l);
      }
    }
  }
  const ids = status['identities'];
  if (typeof ids === 'object' && ids !== null) for (const id of Object.values(ids as Record<string, { ulid?: unknown }>)) if (typeof id?.ulid === 'string') ulids.push(id.ulid);
  return { flowLabels, ulids };
}

/** Runs one scenario; always tears down what it built. */
export async function runScenario(spec: ScenarioSpec, existing?: Topology): Promise<ScenarioResult> {
  if (!isModeName(spec.mode)) throw new Error(`scenario: unknown mode '${String(spec.mode)}'`);
  if (!Array.isArray(spec.failures)) throw new Error('scenario: failures must be an array of {atMs, action}');
  const name = spec.name ?? `${spec.mode}`;
  const topo = existing ?? (await Topology.up(spec.topology ?? {}));
  const runId = `${topo.runId}-${++runs}`;
  const runDir = resolve(spec.outDir ?? 'harness-output', `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${runId}`);
  mkdirSync(runDir, { recursive: true });
  const errors: string[] = [];
  const faults = new Faults(topo);
  let mode: ModeInstance | undefined;
  let capture: Capture | undefined;
  const flows: Flow[] = [];
  let sampler: PathSampler | undefined;
  try {
    mode = await startMode(topo, spec.mode, { runDir, shim6: spec.shim6 });
    const hA = topo.host('a');
    const ifnames = topo.plan.hosts.a.locators.map((l) => l.ifname);
    if (spec.pcap === true) capture = await startCapture(topo, hA, ifnames, runDir);
    sampler = new PathSampler(await keeperPid(topo, hA), ifnames);
    const traffic = spec.traffic ?? [{ kind: 'tcp', rateMbit: 100 }];
    const startMs = nowMs();
    sampler.start();
    for (const [i, t] of traffic.entries()) {
      flows.push(await startFlow(topo, {
        spec: t,
        port: (spec.basePort ?? 5201) + i,
        src: mode.src,
        dst: mode.dst,
        seconds: 3600,
        origin: startMs,
        seed: `${spec.seed ?? 'harness'}-${i}`,
        wrap: t.kind === 'tcp' ? mode.tcpWrap : undefined,
        logFile: join(runDir, `flow${i}.log`),
      }));
    }
    await mode.ready(spec.readyTimeoutMs ?? 20_000);
    const readyMs = nowMs();
    const failAt = readyMs + (spec.warmupMs ?? 3000);
    const steps = [...spec.failures].sort((a, b) => a.atMs - b.atMs);
    for (const step of steps) {
      await sleep(failAt + step.atMs - nowMs());
      await faults.apply(step.action);
    }
    const failureMs = faults.events[0]?.atMs ?? null;
    const endAt = failAt + (spec.afterMs ?? 6000);
    await sleep(endAt - nowMs());
    for (const f of flows) if (f.options.spec.kind === 'udp' || f.options.spec.bytes === undefined) f.sender.kill('SIGUSR1');
    const deadline = endAt + (spec.drainMs ?? 5000);
    const finished = await Promise.all(flows.map((f) => finishFlow(f, deadline)));
    const endMs = nowMs();
    sampler.stop();
    await faults.settled();

    const modeStatus: Record<string, unknown> = await mode.status().catch((e: Error) => ({ error: e.message }));
    const drops: Record<string, unknown> = await faults.dropCounters().catch((e: Error) => ({ error: e.message }));
    if (capture !== undefined) await capture.stop();
    const captureSummary = capture === undefined ? null : summarizeCaptures(capture.files, failureMs, captureHints(modeStatus));

    const flowResults: FlowResult[] = finished.map((f, i) => {
      const o = flows[i]!.options;
      errors.push(...f.errors);
      return {
        label: describeTraffic(o.spec),
        spec: o.spec,
        port: o.port,
        src: o.src,
        dst: o.dst,
        receiver: f.receiver,
        sender: f.sender,
        metrics: flowMetrics(o.spec, f.receiver, f.sender, failureMs),
        errors: f.errors,
      };
    });
    // The failure's repair: the first repair, link-up or isp-up after it.
    const repair = failureMs === null ? undefined : faults.events.find((e) => e.atMs > failureMs && (e.action.kind === 'repair' || e.action.kind === 'link-up' || e.action.kind === 'isp-up'));
    const path = pathSummary(sampler.samples, failureMs, repair?.atMs ?? null);
    let shim6FailoverMs: number | null = null;
    const ctxs = modeStatus[`contexts_${hA}`];
    if (ctxs !== undefined && Array.isArray(ctxs)) {
      const c = parseContexts(ctxs).find((x) => x.peerUlid === mode!.dst);
      shim6FailoverMs = failoverEpochMs(c?.lastFailover);
    }
    const result: ScenarioResult = {
      name, runId, mode: spec.mode, runDir,
      times: { startMs, readyMs, failureMs, endMs },
      events: faults.events.map((e) => ({ ...e, description: describeAction(e.action) })),
      flows: flowResults,
      path: { ...path, samples: sampler.samples },
      shim6FailoverMs,
      modeStatus, drops, capture: captureSummary, errors,
    };
    writeOutputs(spec, result);
    return result;
  } finally {
    sampler?.stop();
    await Promise.all(flows.map((f) => f.stop().catch(() => undefined)));
    if (capture !== undefined) await capture.stop().catch(() => undefined);
    await faults.stop().catch(() => undefined);
    if (mode !== undefined) await mode.stop().catch(() => undefined);
    if (existing === undefined) await topo.down();
  }
}

function writeOutputs(spec: ScenarioSpec, r: ScenarioResult): void {
  writeFileSync(join(r.runDir, 'result.json'), `${JSON.stringify({ spec, ...r }, null, 1)}\n`);
  const markers: PlotMarker[] = [];
  r.events.forEach((e, i) => markers.push({ atMs: e.atMs, label: i === 0 ? `failure: ${e.description}` : e.description, kind: i === 0 ? 'failure' : 'event' }));
  const sw = r.flows[0]?.metrics.switchAtMs ?? null;
  if (sw !== null && r.flows[0]?.metrics.interrupted === true) markers.push({ atMs: sw, label: `first data after failure (+${Math.round(sw - (r.times.failureMs ?? sw))} ms)`, kind: 'switch' });
  if (r.shim6FailoverMs !== null) markers.push({ atMs: r.shim6FailoverMs, label: 'shim6 lastFailover', kind: 'switch' });
  if (r.path.failbackAtMs !== null) markers.push({ atMs: r.path.failbackAtMs, label: 'back on the initial path', kind: 'switch' });
  const segs: [number, number, string][] = [];
  const samples = r.path.samples;
  for (const s of samples) {
    const total = Object.values(s.tx).reduce((a, b) => a + b, 0);
    if (total < 2000) continue;
    const best = Object.entries(s.tx).sort((a, b) => b[1] - a[1])[0]![0];
    const last = segs.at(-1);
    if (last !== undefined && last[2] === best && s.atMs - last[1] < 150) last[1] = s.atMs + 100;
    else segs.push([s.atMs, s.atMs + 100, best]);
  }
  const title = `${r.name}: ${r.mode}, ${r.flows.map((f) => f.label).join(' + ')}`;
  const svg = throughputSvg({
    title,
    zeroMs: r.times.startMs,
    endMs: r.times.endMs,
    series: r.flows.filter((f) => f.receiver?.origin != null).map((f) => ({ label: f.label, origin: f.receiver!.origin!, binMs: f.receiver!.binMs, bins: f.receiver!.bins })),
    markers,
    path: segs,
  });
  writeFileSync(join(r.runDir, 'throughput.svg'), svg);
  const lines = [
    `Mode ${r.mode}; failure ${r.events[0]?.description ?? 'none'} at ${r.times.failureMs === null ? '–' : `${((r.times.failureMs - r.times.startMs) / 1000).toFixed(2)} s`}; run ${r.runId}.`,
  ];
  if (r.capture !== null) lines.push('', `Capture: ${r.capture.packets} packets; Shim6 control ${JSON.stringify(r.capture.control)}; payload packets ${r.capture.payload} (${r.capture.payloadAfter} after the failure, largest ${r.capture.maxPayloadOctets} octets)${r.capture.labelled > 0 ? `; flow-labelled packets ${r.capture.labelled} (${r.capture.labelledAfter} after the failure, largest ${r.capture.maxLabelledOctets} octets)` : ''}.`);
  if (r.errors.length > 0) lines.push('', `Errors: ${r.errors.join('; ')}`);
  writeFileSync(join(r.runDir, 'report.md'), markdownReport({ title, lines, flows: r.flows.map((f) => ({ label: f.label, metrics: f.metrics })), path: r.path, svgFile: 'throughput.svg' }));
}
