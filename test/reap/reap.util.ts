/**
 * Fixtures for the REAP tests (src/reap, RFC 5534): four addresses in 2001:db8::/32
 * (RFC 3849), a `ReapView` over them, a deterministic `ReapEnv`, Probe builders, a
 * driver that applies `switch-pair` to its view as the context would, and one-line
 * summaries of actions so a test can compare them exactly.
 *
 * Host "A" (us) has A1 (the ULID) and A2; host "B" (the peer) has B1 (the ULID) and B2.
 * The current pair starts as the ULID pair (A1, B1).
 *
 * Randomness: `fixedEnv` draws nonces from a counter and `randomUnit` from a constant
 * (0.5 unless told), so every timer has one exact value:
 * - Send Timer: T × (1 + 0.1 × 0.5) = 1.05 T (rfc: 15 750 ms);
 * - Keepalive Interval: KT × (1/3 + 1/6 × 0.5) = 5/12 KT (KT 15 s: 6 250 ms);
 * - backed-off probe intervals: exactly the nominal value (jitter factor 1).
 * `seededEnv` uses SeededRandom (src/sim/random.ts) for the tests of bounds.
 */
import { expect } from 'vitest';
import { resolveReapConfig, type ReapConfig } from '../../src/reap/constants.js';
import { initialReap, reapDeadline, reapStep, type ReapView } from '../../src/reap/machine.js';
import type { LocatorPair, ReapAction, ReapContext, ReapEnv, ReapEvent, ReapResult } from '../../src/reap/types.js';
import { SeededRandom } from '../../src/sim/random.js';
import { parseIpv6 } from '../../src/wire/address.js';
import { bytesEqual } from '../../src/wire/bytes.js';
import { ProbeState } from '../../src/wire/constants.js';
import type { ProbeMessage, ProbeReport } from '../../src/wire/control.js';
import type { LocatorPreference } from '../../src/wire/options/index.js';

/** An IPv6 address from text (test data only). */
export function ip(text: string): Uint8Array {
  const a = parseIpv6(text);
  if (a === undefined) throw new Error(`bad address in test data: ${text}`);
  return a;
}

export const A1 = ip('2001:db8:a:1::1');
export const A2 = ip('2001:db8:a:2::1');
export const B1 = ip('2001:db8:b:1::1');
export const B2 = ip('2001:db8:b:2::1');
/** Nobody's address. */
export const STRANGER = ip('2001:db8:ff::1');

const NAMES: readonly [Uint8Array, string][] = [[A1, 'A1'], [A2, 'A2'], [B1, 'B1'], [B2, 'B2'], [STRANGER, 'X']];

/** 'A1', 'B2', … for the fixture addresses. */
export function nameOf(a: Uint8Array): string {
  return NAMES.find(([x]) => bytesEqual(x, a))?.[1] ?? `?${Array.from(a).join('.')}`;
}

export function pairOf(local: Uint8Array, peer: Uint8Array): LocatorPair {
  return { local, peer };
}

/** 'A2>B2' */
export function pairName(p: LocatorPair): string {
  return `${nameOf(p.local)}>${nameOf(p.peer)}`;
}

export const PRIMARY = pairOf(A1, B1);

export interface PeerLoc {
  readonly address: Uint8Array;
  readonly verified: boolean;
  readonly flags: number;
  readonly priority?: number;
  readonly weight?: number;
}

export function peerLoc(address: Uint8Array, extra: Partial<PeerLoc> = {}): PeerLoc {
  return { address, verified: true, flags: 0, ...extra };
}

export interface ViewOptions {
  readonly lp?: LocatorPair;
  readonly lsLocal?: readonly Uint8Array[];
  readonly prefsLocal?: readonly LocatorPreference[];
  readonly lsPeer?: readonly PeerLoc[];
}

/** A2 and B2 verified members of the locator sets, (A1, B1) current unless told. */
export function makeView(o: ViewOptions = {}): ReapView {
  const lp = o.lp ?? PRIMARY;
  return {
    ulidLocal: A1,
    ulidPeer: B1,
    lsLocal: (o.lsLocal ?? [A1, A2]).map((address) => ({ address })),
    prefsLocal: o.prefsLocal,
    lsPeer: o.lsPeer ?? [peerLoc(B1), peerLoc(B2)],
    lpLocal: lp.local,
    lpPeer: lp.peer,
  };
}

export interface TestReapEnv extends ReapEnv {
  /** Every nonce handed out, in order. */
  readonly nonces: number[];
}

export interface EnvOptions {
  /** The constant `randomUnit` (default 0.5). */
  readonly unit?: number;
  readonly localOperational?: (a: Uint8Array) => boolean;
  /** First nonce; later ones count up. */
  readonly firstNonce?: number;
}

export const FIRST_NONCE = 0x5000_0001;

/** Counter nonces, a constant unit: every timer is exact (see the header). */
export function fixedEnv(cfg: Partial<ReapConfig> = {}, o: EnvOptions = {}): TestReapEnv {
  const reap = resolveReapConfig(cfg);
  const nonces: number[] = [];
  let next = o.firstNonce ?? FIRST_NONCE;
  const unit = o.unit ?? 0.5;
  return {
    reap,
    nonces,
    randomU32: () => {
      const n = next >>> 0;
      next = (next + 1) >>> 0;
      nonces.push(n);
      return n;
    },
    randomUnit: () => unit,
    ...(o.localOperational !== undefined ? { localOperational: o.localOperational } : {}),
  };
}

/** Both draws from SeededRandom(seed). */
export function seededEnv(cfg: Partial<ReapConfig>, seed: number, o: Omit<EnvOptions, 'unit' | 'firstNonce'> = {}): TestReapEnv {
  const reap = resolveReapConfig(cfg);
  const rng = new SeededRandom(seed);
  const nonces: number[] = [];
  return {
    reap,
    nonces,
    randomU32: () => {
      const n = rng.u32();
      nonces.push(n);
      return n;
    },
    randomUnit: () => rng.unit(),
    ...(o.localOperational !== undefined ? { localOperational: o.localOperational } : {}),
  };
}

// ---------------------------------------------------------------------------------------
// Probes
// ---------------------------------------------------------------------------------------

export function report(source: Uint8Array, destination: Uint8Array, nonce: number, data = 0): ProbeReport {
  return { source, destination, nonce, data };
}

/** A Probe from the peer as parsed: `sent[0]` describes the probe itself. */
export function probeMsg(state: ProbeState, sent: readonly ProbeReport[], received: readonly ProbeReport[] = []): ProbeMessage {
  return { kind: 'Probe', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: 0x1234, state, reserved2: 0, sent, received, options: [] };
}

/**
 * The peer's Probe with Sta = `state`, sent from its `src` to our `dst` with `nonce`,
 * reporting `received` (copies of our probes it saw).
 */
export function peerProbe(state: ProbeState, src: Uint8Array, dst: Uint8Array, nonce: number, received: readonly ProbeReport[] = [], data = 0): Extract<ReapEvent, { kind: 'probe-received' }> {
  return { kind: 'probe-received', src, dst, probe: probeMsg(state, [report(src, dst, nonce, data)], received) };
}

export type SendProbe = Extract<ReapAction, { kind: 'send-probe' }>;

export function probesOf(actions: readonly ReapAction[]): SendProbe[] {
  return actions.filter((a): a is SendProbe => a.kind === 'send-probe');
}

/** The one probe among `actions`. */
export function onlyProbe(actions: readonly ReapAction[]): SendProbe {
  const p = probesOf(actions);
  expect(p.length).toBe(1);
  return p[0]!;
}

/** What the peer copies back into its Precvd for our probe `p` (§5.2). */
export function echo(p: SendProbe): ProbeReport {
  return { ...p.sent[0]! };
}

/** Readable, exact action summaries: 'probe Exploring A2>B2', 'keepalive', 'switch A2>B2', 'notify exploring'. */
export function summary(actions: readonly ReapAction[]): string[] {
  return actions.map((a) => {
    switch (a.kind) {
      case 'send-keepalive': return 'keepalive';
      case 'send-probe': return `probe ${a.state} ${nameOf(a.src)}>${nameOf(a.dst)}`;
      case 'switch-pair': return `switch ${pairName(a.pair)}`;
      case 'notify': return `notify ${a.event}`;
    }
  });
}

/** The four timers of the brief, for `toEqual`. */
export function timers(r: ReapContext): { sendTimerAt: number | undefined; keepaliveTimerAt: number | undefined; nextKeepaliveAt: number | undefined; nextProbeAt: number | undefined } {
  return { sendTimerAt: r.sendTimerAt, keepaliveTimerAt: r.keepaliveTimerAt, nextKeepaliveAt: r.nextKeepaliveAt, nextProbeAt: r.nextProbeAt };
}

export const NO_TIMERS = { sendTimerAt: undefined, keepaliveTimerAt: undefined, nextKeepaliveAt: undefined, nextProbeAt: undefined } as const;

// ---------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------

/** One REAP instance over a view; applies `switch-pair` to the view, as src/context/reap.ts does. */
export class Reap {
  r: ReapContext;
  view: ReapView;
  readonly env: TestReapEnv;
  /** Every step's time and actions. */
  readonly log: { readonly at: number; readonly actions: readonly ReapAction[] }[] = [];

  constructor(env: TestReapEnv, view: ReapView = makeView(), now = 0) {
    this.env = env;
    this.view = view;
    this.r = initialReap(view, now, env);
  }

  step(event: ReapEvent, now: number): ReapResult {
    const res = reapStep(this.r, this.view, event, now, this.env);
    this.r = res.reap;
    for (const a of res.actions) if (a.kind === 'switch-pair') this.view = { ...this.view, lpLocal: a.pair.local, lpPeer: a.pair.peer };
    this.log.push({ at: now, actions: res.actions });
    return res;
  }

  deadline(): number | undefined {
    return reapDeadline(this.r, this.env.reap);
  }

  /** A timeout at the current deadline, which must exist. */
  fire(): ReapResult & { readonly at: number } {
    const d = this.deadline();
    expect(d).toBeDefined();
    return { ...this.step({ kind: 'timeout' }, d!), at: d! };
  }

  /** Fires every deadline up to `until` (inclusive); returns the actions with their times. */
  runUntil(until: number): { readonly at: number; readonly action: ReapAction }[] {
    const out: { at: number; action: ReapAction }[] = [];
    for (let guard = 0; guard < 100_000; guard++) {
      const d = this.deadline();
      if (d === undefined || d > until) return out;
      for (const action of this.step({ kind: 'timeout' }, d).actions) out.push({ at: d, action });
    }
    throw new Error('runUntil: deadline does not advance');
  }

  get current(): LocatorPair {
    return { local: this.view.lpLocal, peer: this.view.lpPeer };
  }
}

/**
 * Timer values under `rfcEnv()` (randomUnit 0.5): a test clock origin `T`, the Send
 * Timer 15 s × 1.05, the Keepalive Timeout 15 s (the default, no option received) and
 * the Keepalive Interval 15 s × (1/3 + 1/6 × 0.5).
 */
export const T = 10_000;
export const SEND = 15_750;
export const KT = 15_000;
export const KI = 6_250;

/** rfc profile with exact timers. */
export function rfcEnv(o: EnvOptions = {}): TestReapEnv {
  return fixedEnv({ mode: 'rfc' }, o);
}

/** fast profile with exact timers. */
export function fastEnv(o: EnvOptions = {}, cfg: Partial<ReapConfig> = {}): TestReapEnv {
  return fixedEnv({ ...cfg, mode: 'fast' }, o);
}

/**
 * Exploring after a Send Timeout (§6.4): payload sent at `t`, no answer, the Send Timer
 * fires. Returns the driver and the time it fired.
 */
export function toExploring(env: TestReapEnv, t = 10_000, view: ReapView = makeView()): { readonly reap: Reap; readonly at: number; readonly first: SendProbe } {
  const reap = new Reap(env, view, 0);
  reap.step({ kind: 'payload-sent' }, t);
  const at = reap.r.sendTimerAt!;
  const res = reap.step({ kind: 'timeout' }, at);
  expect(reap.r.state).toBe('Exploring');
  return { reap, at, first: onlyProbe(res.actions) };
}
