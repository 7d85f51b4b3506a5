/**
 * Fixtures for the REAP scenarios (test/sim/reap.test.ts, RFC 5534): two HBA hosts A and
 * B in 2001:db8::/32, each advertising two locators (a third HBA locator of B can be
 * advertised later), a 10 ms RTT (5 ms each way, no jitter), and an application flow
 * A→B at 100 packets/s that B answers packet by packet, like TCP ACKs.
 *
 * Every application packet carries a sequence number and a pattern derived from it, so
 * the receiving side can check that nothing was corrupted, duplicated or reordered, and
 * that the only gaps are packets sent while no pair worked.
 */
import { expect } from 'vitest';
import type { SimHost, Simulation, SimulationOptions } from '../../src/api/index.js';
import { createSimulation } from '../../src/api/index.js';
import type { ShimContext } from '../../src/context/types.js';
import type { ReapConfig } from '../../src/reap/constants.js';
import type { ReapContext } from '../../src/reap/types.js';
import { packetKind } from '../../src/sim/transcript.js';
import { formatIpv6 } from '../../src/wire/address.js';
import type { ProbeMessage } from '../../src/wire/control.js';
import { parsePacket } from '../../src/wire/packet.js';
import type { Locator } from '../../src/wire/options/index.js';
import { identity, PREFIXES_A, PREFIXES_B } from './scenario.util.js';

/** Application sending period: 100 packets/s. */
export const SEND_PERIOD_MS = 10;
/** One-way delay of every link (10 ms RTT). */
export const DELAY_MS = 5;
/** When the flow A→B starts (the context is ESTABLISHED 20 ms after t=0). */
export const FLOW_START_MS = 1_000;

const DATA = 0xda;
const ACK = 0xac;
const PAYLOAD_LEN = 32;

/** An application packet: kind, sequence number (32 bits, big-endian), then a pattern of the sequence number. */
export function appPayload(kind: number, seq: number): Uint8Array {
  const b = new Uint8Array(PAYLOAD_LEN);
  b[0] = kind;
  b[1] = (seq >>> 24) & 0xff;
  b[2] = (seq >>> 16) & 0xff;
  b[3] = (seq >>> 8) & 0xff;
  b[4] = seq & 0xff;
  for (let i = 5; i < PAYLOAD_LEN; i++) b[i] = (seq * 7 + i) & 0xff;
  return b;
}

/** The sequence number of an intact application packet of `kind`, or undefined if it is corrupted. */
export function readPayload(kind: number, b: Uint8Array): number | undefined {
  if (b.length !== PAYLOAD_LEN || b[0] !== kind) return undefined;
  const seq = ((b[1]! << 24) | (b[2]! << 16) | (b[3]! << 8) | b[4]!) >>> 0;
  for (let i = 5; i < PAYLOAD_LEN; i++) if (b[i] !== ((seq * 7 + i) & 0xff)) return undefined;
  return seq;
}

export interface Received {
  readonly seq: number;
  readonly at: number;
  /** It came with the Payload Extension header (on a pair other than the ULIDs). */
  readonly tagged: boolean;
}

export interface ReapEvent {
  readonly at: number;
  readonly host: string;
  readonly event: string;
  readonly detail: string | undefined;
}

export interface Flow {
  readonly sim: Simulation;
  readonly a: SimHost;
  readonly b: SimHost;
  /** All three HBA locators of each host (the first two advertised). */
  readonly locsA: readonly Locator[];
  readonly locsB: readonly Locator[];
  /** Addresses in text form: A's first (its ULID) and second locators, B's first, second and third. */
  readonly a1: string;
  readonly a2: string;
  readonly b1: string;
  readonly b2: string;
  readonly b3: string;
  /** Send time of each data packet A→B, by sequence number. */
  readonly sentAB: number[];
  /** Send time of each answer B→A, by sequence number of the data packet it answers. */
  readonly sentBA: Map<number, number>;
  /** Data packets B received, and answers A received, in arrival order. */
  readonly atB: Received[];
  readonly atA: Received[];
  /** Corrupted or foreign application packets (must stay empty). */
  readonly corrupt: string[];
  /** REAP notifications of both hosts (and the others the engine gives). */
  readonly events: ReapEvent[];
  /** Stops the flow A→B (B keeps answering what is in flight). */
  stop(): void;
  /** Whether B answers data packets (default true). */
  answer: boolean;
}

export interface FlowOptions {
  readonly seed?: number;
  readonly reap?: Partial<ReapConfig>;
  /** Per-host REAP settings over `reap`. */
  readonly reapA?: Partial<ReapConfig>;
  readonly reapB?: Partial<ReapConfig>;
  readonly sim?: Partial<SimulationOptions>;
  /** Start the flow A→B at FLOW_START_MS (default true). */
  readonly flow?: boolean;
}

/** Two hosts, an established context, and (by default) the flow A→B with answers, starting at FLOW_START_MS. */
export async function reapFlow(opts: FlowOptions = {}): Promise<Flow> {
  const sim = createSimulation({ seed: opts.seed ?? 1, link: { delayMs: DELAY_MS }, ...(opts.reap === undefined ? {} : { reap: opts.reap }), ...opts.sim });
  const ia = await identity(sim, 'A', PREFIXES_A, 2);
  const ib = await identity(sim, 'B', PREFIXES_B, 2);
  const a = sim.addHost('A', ia.id, opts.reapA === undefined ? {} : { reap: opts.reapA });
  const b = sim.addHost('B', ib.id, opts.reapB === undefined ? {} : { reap: opts.reapB });
  const text = (l: Locator): string => formatIpv6(l.address);
  let stopped = false;
  const flow: Flow = {
    sim,
    a,
    b,
    locsA: ia.all,
    locsB: ib.all,
    a1: text(ia.all[0]!),
    a2: text(ia.all[1]!),
    b1: text(ib.all[0]!),
    b2: text(ib.all[1]!),
    b3: text(ib.all[2]!),
    sentAB: [],
    sentBA: new Map(),
    atB: [],
    atA: [],
    corrupt: [],
    events: [],
    stop: () => {
      stopped = true;
    },
    answer: true,
  };
  // HBA: the ULID is the first locator.
  expect(formatIpv6(a.ulid)).toBe(flow.a1);
  expect(formatIpv6(b.ulid)).toBe(flow.b1);
  for (const h of [a, b]) {
    h.onNotify = (n, now) => flow.events.push({ at: now, host: h.name, event: n.event, detail: n.detail });
  }
  b.onDeliver = (d) => {
    const seq = readPayload(DATA, d.data);
    if (seq === undefined) {
      flow.corrupt.push(`B got ${Buffer.from(d.data).toString('hex')} at t=${d.at}`);
      return;
    }
    flow.atB.push({ seq, at: d.at, tagged: d.contextTag !== undefined });
    if (flow.answer) {
      flow.sentBA.set(seq, d.at);
      b.send(a.ulid, appPayload(ACK, seq));
    }
  };
  a.onDeliver = (d) => {
    const seq = readPayload(ACK, d.data);
    if (seq === undefined) {
      flow.corrupt.push(`A got ${Buffer.from(d.data).toString('hex')} at t=${d.at}`);
      return;
    }
    flow.atA.push({ seq, at: d.at, tagged: d.contextTag !== undefined });
  };
  a.establish(b.ulid);
  sim.run(FLOW_START_MS - 1);
  expect(a.context(b.ulid)?.state).toBe('ESTABLISHED');
  expect(b.context(a.ulid)?.state).toBe('ESTABLISHED');
  if (opts.flow !== false) {
    const tick = (): void => {
      if (stopped) return;
      const seq = flow.sentAB.length;
      flow.sentAB.push(sim.now);
      a.send(b.ulid, appPayload(DATA, seq));
      sim.after(SEND_PERIOD_MS, tick);
    };
    sim.at(FLOW_START_MS, tick);
  }
  return flow;
}

/** The context of `host` with `peer`. */
export function ctx(host: SimHost, peer: SimHost): ShimContext {
  const c = host.context(peer.ulid);
  expect(c, `${host.name} has a context with ${peer.name}`).toBeDefined();
  return c!;
}

/** REAP state of `host`'s context with `peer`. */
export function reap(host: SimHost, peer: SimHost): ReapContext {
  const r = ctx(host, peer).reap;
  expect(r, `${host.name} runs REAP`).toBeDefined();
  return r!;
}

/** The current pair of `host` with `peer` as transcript labels, e.g. 'A.2→B.2'. */
export function currentPair(f: Flow, host: SimHost, peer: SimHost): string {
  const c = ctx(host, peer);
  return `${f.sim.label(c.lpLocal)}→${f.sim.label(c.lpPeer)}`;
}

/** Every directed address pair between A's two locators and B's first two, as [from, to] texts. */
export function allDirectedPairs(f: Flow): [string, string][] {
  const out: [string, string][] = [];
  for (const x of [f.a1, f.a2]) {
    for (const y of [f.b1, f.b2]) {
      out.push([x, y], [y, x]);
    }
  }
  return out;
}

/** First element of `list` at or after `t`. */
export function firstAfter(list: readonly Received[], t: number): Received | undefined {
  return list.find((r) => r.at >= t);
}

/**
 * The stream `received` (in arrival order) of packets sent at `sentAt(seq)`: intact
 * (checked on arrival), no duplicates, in order, and every sequence number missing up to
 * the last one received was sent in one of `lossWindows` ([from, to] in send time).
 * Returns the missing sequence numbers.
 */
export function checkStream(received: readonly Received[], sentAt: (seq: number) => number | undefined, lossWindows: readonly (readonly [number, number])[] = []): number[] {
  const seqs = received.map((r) => r.seq);
  expect(new Set(seqs).size, 'no duplicates').toBe(seqs.length);
  for (let i = 1; i < seqs.length; i++) expect(seqs[i]!, `in order at ${i}`).toBeGreaterThan(seqs[i - 1]!);
  const got = new Set(seqs);
  const missing: number[] = [];
  const last = seqs.length === 0 ? -1 : seqs[seqs.length - 1]!;
  for (let s = 0; s <= last; s++) {
    if (got.has(s)) continue;
    const t = sentAt(s);
    if (t === undefined) continue; // never sent (an answer to a data packet B never got)
    missing.push(s);
    const inWindow = lossWindows.some(([from, to]) => t >= from && t <= to);
    expect(inWindow, `seq ${s} sent at t=${t} is missing outside the outage windows ${JSON.stringify(lossWindows)}`).toBe(true);
  }
  return missing;
}

/** Probes sent by `host` (by its addresses) in [from, to). */
export function probesFrom(f: Flow, host: SimHost, from = 0, to = Number.POSITIVE_INFINITY): { at: number; src: string; dst: string }[] {
  return f.sim
    .packets()
    .filter((p) => p.sentAt >= from && p.sentAt < to && f.sim.network.owner(p.src) === host.name && packetKind(p.bytes) === 'Probe')
    .map((p) => ({ at: p.sentAt, src: f.sim.label(p.src), dst: f.sim.label(p.dst) }));
}

/** Probes sent by `host` in [from, to), parsed. */
export function probeMessagesFrom(f: Flow, host: SimHost, from = 0, to = Number.POSITIVE_INFINITY): { at: number; src: Uint8Array; dst: Uint8Array; probe: ProbeMessage }[] {
  const out: { at: number; src: Uint8Array; dst: Uint8Array; probe: ProbeMessage }[] = [];
  for (const p of f.sim.packets()) {
    if (p.sentAt < from || p.sentAt >= to || f.sim.network.owner(p.src) !== host.name) continue;
    const parsed = parsePacket(p.bytes);
    if (!parsed.ok) continue;
    const s = parsed.value.shim6;
    if (s?.kind === 'control' && s.message.kind === 'Probe') out.push({ at: p.sentAt, src: p.src, dst: p.dst, probe: s.message });
  }
  return out;
}

/** Events of one kind, optionally of one host. */
export function eventsOf(f: Flow, event: string, host?: string): ReapEvent[] {
  return f.events.filter((e) => e.event === event && (host === undefined || e.host === host));
}

/** Transcript lines REAP cares about: probes, keepalives, link changes, REAP notifications, establishment, updates, scenario notes. */
export const REAP_LINE = /Probe|Keepalive|LINK|EXPLORING|INBOUND-OK|OPERATIONAL|FAILOVER|FAILBACK|ESTABLISHED|Update|PEER-LOCATORS|^t=\d+ # /;

/** The REAP-relevant transcript as a commit-ready file. */
export function reapTranscript(f: Flow): string {
  return `${f.sim.transcript().filter((l) => REAP_LINE.test(l)).join('\n')}\n`;
}
