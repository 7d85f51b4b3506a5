/**
 * The REAP state machine (RFC 5534 §6): `reapStep(reap, sets, event, now, env) →
 * { reap, actions }` and `reapDeadline(reap)`, in the style of src/context/machine.ts.
 * The tables of §6.1-6.9 are followed cell by cell (comments name the cell); the text of
 * §4 fills in what the tables leave out:
 *
 * - Forced Bidirectional Detection (§4.1): sending starts the Send Timer, receiving
 *   stops it and starts the Keepalive Timer, which sends Keepalives every Keepalive
 *   Interval (1/3 to 1/2 of the peer's Send Timeout, §7) until the peer's traffic is
 *   answered by ours or it expires (§6.3: one last Keepalive).
 * - Exploration (§4.2, §4.3, §6.5): one probe at a time in the order of pairs.ts, the
 *   first at once, then every Initial Probe Timeout for Number of Initial Probes, then
 *   doubling with jitter up to the cap; the pair of a probe just received (reversed) is
 *   tried first when answering it, since it works one way already.
 * - A new current pair (§6.8) is the best-ranked of our probes the peer reports having
 *   received; the same rule applies to reports in an Operational probe (§6.9 leaves the
 *   pair unchanged only "if no received probes have been reported"). The pair is per
 *   direction: each end picks its own source and destination, so a pair that works one way
 *   only is usable (§4.2).
 *
 * Beyond the RFC (all off in the `rfc` profile, README "REAP"): local signals and
 * upper-layer retransmissions start exploring at once; failback probes the primary pair
 * while away from it and returns after a hold-down that doubles with each recent failover
 * (no flapping); every probe is at least `minProbeGapMs` after the previous one (deferred,
 * not dropped) and an exploration that starts soon after the last one keeps its back-off,
 * so neither a flapping link nor a forged trigger can make a context send probes faster.
 *
 * Security (§8): a probe report moves the current pair only if its nonce, source and
 * destination match a probe we sent; nonces are 32 random bits (§5.2).
 */
import type { ProbeReport } from '../wire/control.js';
import { bytesEqual } from '../wire/bytes.js';
import { KEEPALIVE_INTERVAL_MAX_FRACTION, KEEPALIVE_INTERVAL_MIN_FRACTION, PROBE_DATA_REPLY_REQUESTED, type ReapConfig } from './constants.js';
import { explorationOrder, samePair, type PairSets } from './pairs.js';
import { ReapState, type ExploreReason, type LocatorPair, type ReapAction, type ReapContext, type ReapEnv, type ReapEvent, type ReapResult, type SentProbe } from './types.js';

/** The context fields REAP reads: its sets and its current pair (Lp(local), Lp(peer)). */
export interface ReapView extends PairSets {
  readonly lpLocal: Uint8Array;
  readonly lpPeer: Uint8Array;
}

const NO_STATS = { explorations: 0, probesSent: 0, probesReceived: 0, keepalivesSent: 0, failovers: 0, failbacks: 0, probesDeferred: 0 } as const;

/** REAP for a context that just became ESTABLISHED: Operational, no timer running (see README conformance notes). */
export function initialReap(view: ReapView, now: number, env: ReapEnv): ReapContext {
  return {
    state: ReapState.OPERATIONAL,
    sendTimerAt: undefined,
    keepaliveTimerAt: undefined,
    nextKeepaliveAt: undefined,
    keepaliveTimeoutMs: env.reap.defaultKeepaliveTimeoutMs,
    peerFine: false,
    sent: [],
    received: [],
    probeCount: 0,
    nextProbeAt: undefined,
    cursor: 0,
    lastProbeAt: undefined,
    probeTokens: env.reap.probeBurst,
    probeTokensAt: now,
    pairConfirmedAt: undefined,
    exploring: undefined,
    exploredUntil: undefined,
    retransmits: 0,
    primary: { local: view.lpLocal, peer: view.lpPeer },
    failback: undefined,
    failoversAway: [],
    lastFailover: undefined,
    stats: NO_STATS,
  };
}

/** The earliest time `reapStep` must see `timeout`, or undefined. */
export function reapDeadline(r: ReapContext, cfg: ReapConfig): number | undefined {
  if (cfg.mode === 'off') return undefined;
  let d = Number.POSITIVE_INFINITY;
  if (r.sendTimerAt !== undefined) d = Math.min(d, r.sendTimerAt);
  if (r.keepaliveTimerAt !== undefined) d = Math.min(d, r.keepaliveTimerAt);
  if (r.nextKeepaliveAt !== undefined) d = Math.min(d, r.nextKeepaliveAt);
  if (r.nextProbeAt !== undefined) d = Math.min(d, r.nextProbeAt);
  // Failback runs in Operational only (failbackTimers); elsewhere its deadline would fire and change nothing.
  if (r.failback !== undefined && r.state === ReapState.OPERATIONAL) {
    d = Math.min(d, r.failback.nextProbeAt);
    if (r.failback.okSince !== undefined) d = Math.min(d, r.failback.okSince + failbackHoldDown(r, cfg));
  }
  return d === Number.POSITIVE_INFINITY ? undefined : d;
}

/**
 * The Send Timeout in force. A peer that did not send the millisecond option may not
 * understand ours, so it keeps alive by the whole seconds of the RFC's option (§5.3):
 * we must wait that long too.
 */
export function effectiveSendTimeout(r: ReapContext, cfg: ReapConfig): number {
  return r.peerFine ? cfg.sendTimeoutMs : advertisedSeconds(cfg) * 1000;
}

/** The Keepalive Timeout option value we send: our Send Timeout in whole seconds, at least 1. */
export function advertisedSeconds(cfg: ReapConfig): number {
  return Math.max(1, Math.ceil(cfg.sendTimeoutMs / 1000));
}

function sendTimerDeadline(r: ReapContext, now: number, env: ReapEnv, inboundOkPairs = 0): number {
  // fast: in InboundOk the Send Timer leaves room to probe every pair once at the initial
  // pace; a shorter one sends both ends back to Exploring before either reaches a pair
  // that works only one way, and they can chase each other indefinitely (README note 41).
  const floor = env.reap.mode === 'fast' ? inboundOkPairs * env.reap.initialProbeTimeoutMs : 0;
  const base = Math.max(floor, effectiveSendTimeout(r, env.reap));
  return now + Math.floor(base * (1 + env.reap.sendTimeoutJitter * env.randomUnit()));
}

function keepaliveInterval(r: ReapContext, env: ReapEnv): number {
  const f = KEEPALIVE_INTERVAL_MIN_FRACTION + (KEEPALIVE_INTERVAL_MAX_FRACTION - KEEPALIVE_INTERVAL_MIN_FRACTION) * env.randomUnit();
  return Math.max(1, Math.round(r.keepaliveTimeoutMs * f));
}

/** Wait after the `k`-th probe of an exploration (k from 1): §4.3 and §7. */
export function probeSpacing(k: number, pairs: number, cfg: ReapConfig, unit: number): number {
  if (k <= cfg.initialProbes) return cfg.initialProbeTimeoutMs;
  const cap = cfg.mode === 'rfc' ? cfg.maxProbeTimeoutMs : Math.max(cfg.initialProbeTimeoutMs, Math.floor(cfg.maxProbeTimeoutMs / Math.max(1, pairs)));
  const exp = Math.min(30, k - cfg.initialProbes);
  const base = Math.min(cap, cfg.initialProbeTimeoutMs * 2 ** exp);
  // Jitter first, then the cap: §4.3, the interval "may not grow" beyond Max Probe Timeout.
  return Math.max(1, Math.min(cap, Math.round(base * (1 - cfg.probeJitter + 2 * cfg.probeJitter * unit))));
}

function failbackHoldDown(r: ReapContext, cfg: ReapConfig): number {
  const n = Math.max(1, r.failoversAway.length);
  return Math.min(cfg.failbackMaxHoldDownMs, cfg.failbackHoldDownMs * 2 ** Math.min(20, n - 1));
}

function operational(env: ReapEnv): (a: Uint8Array) => boolean {
  return env.localOperational ?? (() => true);
}

function currentPair(view: ReapView): LocatorPair {
  return { local: view.lpLocal, peer: view.lpPeer };
}

/**
 * True when `event` would change nothing: the per-packet events in their steady state
 * (sending with the Send Timer already running, receiving with the Keepalive Timer
 * already running). Lets the caller skip the step, and its allocations, on the hot path.
 */
export function reapIgnores(r: ReapContext, event: ReapEvent): boolean {
  if (event.kind === 'payload-sent') {
    if (r.state === ReapState.EXPLORING) return true;
    return r.sendTimerAt !== undefined && r.keepaliveTimerAt === undefined;
  }
  if (event.kind === 'payload-received') {
    if (r.retransmits !== 0) return false;
    if (r.state === ReapState.OPERATIONAL) return r.sendTimerAt === undefined && r.keepaliveTimerAt !== undefined;
    return r.state === ReapState.INBOUND_OK && r.sendTimerAt === undefined;
  }
  return false;
}

/** A mutable builder for one step: keeps the no-change path allocation-free. */
class Step {
  r: ReapContext;
  readonly actions: ReapAction[] = [];
  readonly view: ReapView;
  readonly now: number;
  readonly env: ReapEnv;
  constructor(r: ReapContext, view: ReapView, now: number, env: ReapEnv) {
    this.r = r;
    this.view = view;
    this.now = now;
    this.env = env;
  }

  set(patch: Partial<ReapContext>): void {
    this.r = { ...this.r, ...patch };
  }

  stat(name: keyof ReapContext['stats'], n = 1): void {
    this.r = { ...this.r, stats: { ...this.r.stats, [name]: this.r.stats[name] + n } };
  }

  notify(event: Extract<ReapAction, { kind: 'notify' }>['event'], detail: string): void {
    this.actions.push({ kind: 'notify', event, detail });
  }

  result(): ReapResult {
    return { reap: this.r, actions: this.actions };
  }
}

/** The order for the current exploration (or by preference alone when not exploring). */
function order(s: Step): LocatorPair[] {
  const e = s.r.exploring;
  return explorationOrder(s.view, e?.failed, e?.local ?? false, operational(s.env));
}

/** Probe tokens available at `now` (a token bucket of `probeBurst`, one token per `minProbeGapMs`). */
function tokensAt(r: ReapContext, now: number, cfg: ReapConfig): number {
  if (cfg.minProbeGapMs === 0) return cfg.probeBurst;
  return Math.min(cfg.probeBurst, r.probeTokens + Math.max(0, now - r.probeTokensAt) / cfg.minProbeGapMs);
}

/**
 * Sends one probe now if the context's probe budget allows; `pair` undefined: the next
 * pair of the order. Returns false when the budget is spent: an exploration probe is then
 * deferred to when a token is back (the `nextProbeAt` deadline sends the next one of the
 * order), an Operational one is dropped (the peer retransmits its own probe, §6.5). Counted either way.
 */
function probe(s: Step, state: ReapState, pair?: LocatorPair, purpose: SentProbe['purpose'] = 'explore', data = 0): boolean {
  const cfg = s.env.reap;
  const tokens = tokensAt(s.r, s.now, cfg);
  if (tokens < 1) {
    if (state !== ReapState.OPERATIONAL) s.set({ nextProbeAt: Math.min(s.r.nextProbeAt ?? Number.POSITIVE_INFINITY, s.now + Math.ceil((1 - tokens) * cfg.minProbeGapMs)) });
    s.stat('probesDeferred');
    return false;
  }
  let target = pair;
  let cursor = s.r.cursor;
  if (target === undefined) {
    const list = order(s);
    target = list[cursor % list.length]!;
    // Not the pair just probed by choice (a reply on the reverse pair), unless it is the only one.
    const last = s.r.sent[0];
    if (list.length > 1 && last !== undefined && last.purpose === 'explore' && bytesEqual(last.source, target.local) && bytesEqual(last.destination, target.peer)) {
      cursor = (cursor + 1) % list.length;
      target = list[cursor]!;
    }
    cursor = (cursor + 1) % list.length;
  }
  const nonce = s.env.randomU32();
  const mine: SentProbe = { source: target.local, destination: target.peer, nonce, data, at: s.now, reported: false, purpose };
  const unreported = s.r.sent.filter((p) => !p.reported && p.purpose === 'explore');
  const sentReports: ProbeReport[] = [mine, ...unreported.slice(0, cfg.reportsMax - 1)].map(report);
  s.actions.push({ kind: 'send-probe', src: target.local, dst: target.peer, state, sent: sentReports, received: s.r.received.slice(0, cfg.reportsMax) });
  s.set({ sent: [mine, ...s.r.sent].slice(0, cfg.reportsMax * 2), lastProbeAt: s.now, cursor, probeTokens: tokens - 1, probeTokensAt: s.now });
  s.stat('probesSent');
  return true;
}

function report(p: ProbeReport): ProbeReport {
  return { source: p.source, destination: p.destination, nonce: p.nonce, data: p.data };
}

/** After `probe(s, …)` while exploring: when the next probe is due (§4.3 back-off), unless the budget deferred it. */
function scheduleNextProbe(s: Step, sent: boolean): void {
  if (!sent) return;
  const count = s.r.probeCount + 1;
  const wait = probeSpacing(count, order(s).length, s.env.reap, s.env.randomUnit());
  // An answer to the peer's probe does not push back a retransmission already due earlier.
  s.set({ probeCount: count, nextProbeAt: Math.min(s.r.nextProbeAt ?? Number.POSITIVE_INFINITY, s.now + wait) });
}

/** §6.4 (and the beyond-RFC triggers): GOTO Exploring, SEND Probe Exploring. */
function startExploring(s: Step, reason: ExploreReason, localFailure: boolean): void {
  const cfg = s.env.reap;
  const r = s.r;
  // Flap damping: soon after the last exploration, keep its back-off instead of restarting it.
  const damped = r.exploredUntil !== undefined && s.now - r.exploredUntil < cfg.explorationQuietMs;
  s.set({
    state: ReapState.EXPLORING,
    sendTimerAt: undefined,
    keepaliveTimerAt: undefined,
    nextKeepaliveAt: undefined,
    received: [],
    probeCount: damped ? r.probeCount : 0,
    nextProbeAt: undefined,
    // Back to Exploring from InboundOk (same episode): go on through the order, do not start it again.
    cursor: r.exploring === undefined ? 0 : r.cursor,
    exploring: r.exploring ?? { since: s.now, reason, failed: currentPair(s.view), local: localFailure },
    retransmits: 0,
    failback: r.failback === undefined ? undefined : { ...r.failback, okSince: undefined, pendingNonce: undefined },
  });
  s.stat('explorations');
  s.notify('exploring', `${reason}${damped ? ' (back-off kept: last exploration ended recently)' : ''}`);
  scheduleNextProbe(s, probe(s, ReapState.EXPLORING));
}

/** Our probes the peer reports having received, that may move the current pair. */
function confirmed(s: Step, reports: readonly ProbeReport[]): SentProbe[] {
  const out: SentProbe[] = [];
  for (const rep of reports) {
    const p = s.r.sent.find((x) => x.nonce === rep.nonce && bytesEqual(x.source, rep.source) && bytesEqual(x.destination, rep.destination));
    if (p !== undefined) out.push(p);
  }
  return out;
}

/** Marks reported probes and returns the best pair among the confirmed exploration probes. */
function noteReports(s: Step, reports: readonly ProbeReport[]): LocatorPair | undefined {
  const ok = confirmed(s, reports);
  if (ok.length === 0) return undefined;
  const nonces = new Set(ok.map((p) => p.nonce));
  s.set({ sent: s.r.sent.map((p) => (nonces.has(p.nonce) ? { ...p, reported: true } : p)) });
  const fb = s.r.failback;
  if (fb?.pendingNonce !== undefined && nonces.has(fb.pendingNonce)) {
    s.set({ failback: { ...fb, pendingNonce: undefined, okSince: fb.okSince ?? s.now } });
  }
  const explore = ok.filter((p) => p.purpose === 'explore');
  if (explore.length === 0) return undefined;
  // The primary pair if confirmed, then the best by preference (pairs.ts without a failed pair).
  const prim = explore.find((p) => bytesEqual(p.source, s.r.primary.local) && bytesEqual(p.destination, s.r.primary.peer));
  if (prim !== undefined) return s.r.primary;
  const ranked = explorationOrder(s.view, undefined, false, operational(s.env));
  let best: LocatorPair | undefined;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const p of explore) {
    const pair = { local: p.source, peer: p.destination };
    let rank = ranked.findIndex((x) => samePair(x, pair));
    if (rank < 0) rank = ranked.length;
    if (rank < bestRank) {
      best = pair;
      bestRank = rank;
    }
  }
  return best;
}

/**
 * Adopts `pair` as the current pair (the data plane switches at once) and records the
 * failover. Returns the pair in use afterwards.
 */
function adopt(s: Step, pair: LocatorPair | undefined): LocatorPair {
  const from = currentPair(s.view);
  if (pair === undefined) return from;
  if (samePair(from, pair)) {
    s.set({ pairConfirmedAt: s.now });
    return from;
  }
  // An Operational end whose pair was confirmed moments ago keeps it: two of its probes
  // confirmed in one exploration (one per message) would otherwise move it twice.
  const settle = s.env.reap.initialProbeTimeoutMs * s.env.reap.initialProbes;
  if (s.r.state === ReapState.OPERATIONAL && s.r.pairConfirmedAt !== undefined && s.now - s.r.pairConfirmedAt < settle) return from;
  const e = s.r.exploring;
  const away = samePair(from, s.r.primary);
  const cfg = s.env.reap;
  const window = cfg.failbackHoldDownMs * 8;
  const failoversAway = away ? [...s.r.failoversAway.filter((t) => s.now - t < window), s.now].slice(-16) : s.r.failoversAway;
  s.set({
    lastFailover: { at: s.now, from, to: pair, durationMs: e === undefined ? 0 : s.now - e.since, reason: e?.reason ?? 'peer-exploring' },
    failoversAway,
    pairConfirmedAt: s.now,
  });
  s.stat('failovers');
  s.actions.push({ kind: 'switch-pair', pair });
  s.notify('failover', `${e?.reason ?? 'peer-exploring'}: new current pair after ${e === undefined ? 0 : s.now - e.since} ms`);
  return pair;
}

/** Leaves exploration for Operational. */
function toOperational(s: Step): void {
  const wasExploring = s.r.state !== ReapState.OPERATIONAL;
  s.set({ state: ReapState.OPERATIONAL, nextProbeAt: undefined, exploring: undefined, exploredUntil: wasExploring ? s.now : s.r.exploredUntil });
  if (wasExploring) s.notify('operational', 'exploration over');
}

/** Failback bookkeeping after the current pair may have changed. */
function armFailback(s: Step, pairAfter: LocatorPair): void {
  const cfg = s.env.reap;
  if (cfg.mode === 'off' || cfg.failbackHoldDownMs === 0) return;
  const away = !samePair(pairAfter, s.r.primary);
  if (!away) {
    if (s.r.failback !== undefined) s.set({ failback: undefined });
    return;
  }
  if (s.r.failback === undefined) s.set({ failback: { nextProbeAt: s.now + cfg.failbackProbeIntervalMs, pendingNonce: undefined, okSince: undefined } });
}

function onReceivedTraffic(s: Step, keepalive: boolean): void {
  const r = s.r;
  if (r.retransmits !== 0) s.set({ retransmits: 0 });
  switch (r.state) {
    case ReapState.OPERATIONAL:
      // §6.1 / §6.6 Operational: STOP Send; (payload only) START Keepalive.
      if (keepalive) {
        if (r.sendTimerAt !== undefined) s.set({ sendTimerAt: undefined });
      } else if (r.sendTimerAt !== undefined || r.keepaliveTimerAt === undefined) {
        const ka = r.keepaliveTimerAt === undefined;
        s.set({
          sendTimerAt: undefined,
          ...(ka ? { keepaliveTimerAt: s.now + r.keepaliveTimeoutMs, nextKeepaliveAt: s.now + keepaliveInterval(r, s.env) } : {}),
        });
      }
      return;
    case ReapState.EXPLORING:
      // §6.1 / §6.6 Exploring: SEND Probe InboundOk, START Send, GOTO InboundOk.
      s.set({ state: ReapState.INBOUND_OK, sendTimerAt: sendTimerDeadline(r, s.now, s.env, order(s).length) });
      s.notify('inbound-ok', keepalive ? 'Keepalive received' : 'payload received');
      scheduleNextProbe(s, probe(s, ReapState.INBOUND_OK));
      return;
    case ReapState.INBOUND_OK:
      // §6.1 / §6.6 InboundOk: STOP Send.
      if (r.sendTimerAt !== undefined) s.set({ sendTimerAt: undefined });
      return;
  }
}

function onSent(s: Step): void {
  const r = s.r;
  switch (r.state) {
    case ReapState.OPERATIONAL:
      // §6.2 Operational: START Send, STOP Keepalive.
      if (r.sendTimerAt === undefined || r.keepaliveTimerAt !== undefined) {
        s.set({ sendTimerAt: r.sendTimerAt ?? sendTimerDeadline(r, s.now, s.env), keepaliveTimerAt: undefined, nextKeepaliveAt: undefined });
      }
      return;
    case ReapState.EXPLORING:
      return;
    case ReapState.INBOUND_OK:
      // §6.2 InboundOk: START Send.
      if (r.sendTimerAt === undefined) s.set({ sendTimerAt: sendTimerDeadline(r, s.now, s.env, order(s).length) });
      return;
  }
}

function onProbe(s: Step, src: Uint8Array, dst: Uint8Array, p: Extract<ReapEvent, { kind: 'probe-received' }>['probe']): void {
  const cfg = s.env.reap;
  s.stat('probesReceived');
  // Received since the last transition to Exploring (§5.2 Precvd); newest first.
  const first = p.sent[0]!;
  s.set({ received: [report(first), ...s.r.received.filter((x) => x.nonce !== first.nonce)].slice(0, cfg.reportsMax), retransmits: 0 });
  const pair = noteReports(s, p.received);
  const reverse: LocatorPair = { local: dst, peer: src };
  const reverseUsable = order(s).some((x) => samePair(x, reverse));
  switch (p.state) {
    case 0: {
      // §6.9 Operational: STOP Send, START Keepalive, GOTO Operational.
      const before = s.r.state;
      const inUse = adopt(s, pair);
      toOperational(s);
      s.set({ sendTimerAt: undefined, ...(s.r.keepaliveTimerAt === undefined ? { keepaliveTimerAt: s.now + s.r.keepaliveTimeoutMs, nextKeepaliveAt: s.now + keepaliveInterval(s.r, s.env) } : {}) });
      // Failback probe of a peer (Probe Data bit 0): answer on our current pair so it learns its direction works.
      if (before === ReapState.OPERATIONAL && (first.data & PROBE_DATA_REPLY_REQUESTED) !== 0 && cfg.mode === 'fast') {
        probe(s, ReapState.OPERATIONAL, inUse, 'failback');
      }
      return;
    }
    case 1: {
      // §6.7: SEND Probe InboundOk, STOP Keepalive, (RE)START Send, GOTO InboundOk.
      const entering = s.r.state !== ReapState.INBOUND_OK;
      s.set({
        state: ReapState.INBOUND_OK,
        keepaliveTimerAt: undefined,
        nextKeepaliveAt: undefined,
        sendTimerAt: sendTimerDeadline(s.r, s.now, s.env, order(s).length),
        ...(s.r.exploring === undefined ? { exploring: { since: s.now, reason: 'peer-exploring' as const, failed: currentPair(s.view), local: false } } : {}),
      });
      if (entering) s.notify('inbound-ok', 'the peer is exploring');
      // The reverse of the pair the probe came on works one way already: try it first.
      scheduleNextProbe(s, probe(s, ReapState.INBOUND_OK, reverseUsable ? reverse : undefined));
      return;
    }
    default: {
      // §6.8 InboundOk: SEND Probe Operational, RESTART Send, STOP Keepalive, GOTO Operational;
      // a new current pair from the reports of received probes.
      const inUse = adopt(s, pair);
      toOperational(s);
      s.set({ sendTimerAt: sendTimerDeadline(s.r, s.now, s.env), keepaliveTimerAt: undefined, nextKeepaliveAt: undefined });
      probe(s, ReapState.OPERATIONAL, inUse);
      return;
    }
  }
}

function onTimeout(s: Step): void {
  const r = s.r;
  const now = s.now;
  if (r.sendTimerAt !== undefined && now >= r.sendTimerAt && r.state !== ReapState.EXPLORING) {
    // §6.4: SEND Probe Exploring, GOTO Exploring (Operational and InboundOk).
    startExploring(s, 'send-timeout', false);
    return;
  }
  if (r.state === ReapState.OPERATIONAL) {
    if (r.keepaliveTimerAt !== undefined && now >= r.keepaliveTimerAt) {
      // §6.3: SEND Keepalive (one last), and the timer stops.
      s.actions.push({ kind: 'send-keepalive' });
      s.stat('keepalivesSent');
      s.set({ keepaliveTimerAt: undefined, nextKeepaliveAt: undefined });
    } else if (r.nextKeepaliveAt !== undefined && now >= r.nextKeepaliveAt) {
      // §4.1 item 5: a Keepalive every Keepalive Interval while the Keepalive Timer runs.
      s.actions.push({ kind: 'send-keepalive' });
      s.stat('keepalivesSent');
      s.set({ nextKeepaliveAt: now + keepaliveInterval(r, s.env) });
    }
    failbackTimers(s);
    return;
  }
  if (r.nextProbeAt !== undefined && now >= r.nextProbeAt) {
    // §6.5: retransmission; in InboundOk START Send if it was not running.
    if (r.state === ReapState.INBOUND_OK && r.sendTimerAt === undefined) s.set({ sendTimerAt: sendTimerDeadline(r, now, s.env, order(s).length) });
    s.set({ nextProbeAt: undefined });
    scheduleNextProbe(s, probe(s, r.state));
  }
}

function failbackTimers(s: Step): void {
  const fb = s.r.failback;
  const cfg = s.env.reap;
  if (fb === undefined) return;
  const primary = s.r.primary;
  if (fb.okSince !== undefined && s.now >= fb.okSince + failbackHoldDown(s.r, cfg)) {
    // The primary pair answered every probe for the whole hold-down: return to it.
    const from = currentPair(s.view);
    s.set({ failback: undefined, lastFailover: { at: s.now, from, to: primary, durationMs: 0, reason: 'failback' } });
    s.stat('failbacks');
    s.actions.push({ kind: 'switch-pair', pair: primary });
    s.notify('failback', `the primary pair worked for ${s.now - fb.okSince} ms`);
    return;
  }
  if (s.now >= fb.nextProbeAt) {
    const usable = order(s).some((x) => samePair(x, primary));
    // An unanswered failback probe breaks the run of answers.
    const okSince = fb.pendingNonce === undefined ? fb.okSince : undefined;
    if (!usable) {
      s.set({ failback: { nextProbeAt: s.now + cfg.failbackProbeIntervalMs, pendingNonce: undefined, okSince: undefined } });
      return;
    }
    const sent = probe(s, ReapState.OPERATIONAL, primary, 'failback', PROBE_DATA_REPLY_REQUESTED);
    s.set({ failback: { nextProbeAt: s.now + cfg.failbackProbeIntervalMs, pendingNonce: sent ? s.r.sent[0]!.nonce : undefined, okSince: sent ? okSince : undefined } });
  }
}

/**
 * One REAP transition for a context in ESTABLISHED (REAP does not run before, §4.2 last
 * paragraph). `view` is the context's sets and current pair before the step; a
 * `switch-pair` action asks the context to change it. Never throws for a parsed Probe.
 */
export function reapStep(r: ReapContext, view: ReapView, event: ReapEvent, now: number, env: ReapEnv): ReapResult {
  const cfg = env.reap;
  if (cfg.mode === 'off') {
    if (event.kind === 'keepalive-timeout') return { reap: { ...r, keepaliveTimeoutMs: event.ms, peerFine: event.fine }, actions: [] };
    return { reap: r, actions: [] };
  }
  const s = new Step(r, view, now, env);
  switch (event.kind) {
    case 'payload-sent':
      onSent(s);
      break;
    case 'payload-received':
      onReceivedTraffic(s, false);
      break;
    case 'keepalive-received':
      onReceivedTraffic(s, true);
      break;
    case 'probe-received':
      onProbe(s, event.src, event.dst, event.probe);
      break;
    case 'timeout':
      onTimeout(s);
      break;
    case 'local-change': {
      if (!cfg.localSignals) break;
      const up = operational(env);
      if (!up(view.lpLocal) && s.r.state !== ReapState.EXPLORING) startExploring(s, 'local-signal', true);
      break;
    }
    case 'ulp-retransmit': {
      if (cfg.ulpRetransmitThreshold === 0 || s.r.state !== ReapState.OPERATIONAL) break;
      // Only while nothing came back since we started sending (the Send Timer runs).
      if (s.r.sendTimerAt === undefined) break;
      const n = s.r.retransmits + 1;
      s.set({ retransmits: n });
      if (n >= cfg.ulpRetransmitThreshold) startExploring(s, 'ulp-hint', false);
      break;
    }
    case 'explore':
      if (s.r.state !== ReapState.EXPLORING) startExploring(s, 'operator', false);
      break;
    case 'peer-locators':
      if (s.r.state !== ReapState.EXPLORING) {
        s.set({ exploring: { since: now, reason: 'peer-locators', failed: event.failed, local: false } });
        startExploring(s, 'peer-locators', false);
      }
      break;
    case 'keepalive-timeout':
      if (s.r.keepaliveTimeoutMs !== event.ms || s.r.peerFine !== event.fine) s.set({ keepaliveTimeoutMs: event.ms, peerFine: event.fine });
      break;
  }
  // The pair after this step, for failback bookkeeping.
  let after = currentPair(view);
  for (const a of s.actions) if (a.kind === 'switch-pair') after = a.pair;
  if (s.r.state === ReapState.OPERATIONAL && (s.actions.length > 0 || s.r.failback !== undefined)) armFailback(s, after);
  return s.result();
}

/** Whether `a` is the same locator pair as the context's current one (for callers). */
export function isCurrent(view: ReapView, pair: LocatorPair): boolean {
  return bytesEqual(view.lpLocal, pair.local) && bytesEqual(view.lpPeer, pair.peer);
}
