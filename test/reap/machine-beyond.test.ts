/**
 * REAP beyond RFC 5534's tables (src/reap/machine.ts header, README "REAP"): local signals,
 * upper-layer retransmission hints, the operator's explore, a withdrawn or BROKEN peer
 * locator, failback to the primary pair, the per-context probe budget, forged probe
 * reports (§8), and mode `off`.
 *
 * Mostly the `fast` profile with exact timers (reap.util.ts): Send Timer 1 050 ms (the
 * peer has not sent the millisecond option, so the whole-second value applies), Initial
 * Probe Timeout 200 ms, failback probes every 5 000 ms, hold-down 30 000 ms.
 */
import { describe, expect, it } from 'vitest';
import { PROBE_DATA_REPLY_REQUESTED } from '../../src/reap/constants.js';
import { initialReap, reapDeadline, reapStep } from '../../src/reap/machine.js';
import type { ReapEvent } from '../../src/reap/types.js';
import { SeededRandom } from '../../src/sim/random.js';
import { ProbeState } from '../../src/wire/constants.js';
import {
  A1,
  A2,
  B1,
  B2,
  FIRST_NONCE,
  PRIMARY,
  Reap,
  STRANGER,
  echo,
  fastEnv,
  fixedEnv,
  makeView,
  onlyProbe,
  pairOf,
  peerProbe,
  probesOf,
  report,
  rfcEnv,
  summary,
  toExploring,
  type SendProbe,
  type TestReapEnv,
  T,
} from './reap.util.js';

const FAST_SEND = 1_050;

function downA1(a: Uint8Array): boolean {
  return a[7] !== 1 || a[5] !== 0x0a;
}

describe('local signals (§3.2, beyond the RFC)', () => {
  it('local-change with localSignals on and Lp(local) down: Exploring at once, local-different same-peer pair first', () => {
    const r = new Reap(fastEnv({ localOperational: downA1 }));
    const res = r.step({ kind: 'local-change' }, T);
    expect(summary(res.actions)).toEqual(['notify exploring', 'probe Exploring A2>B1']);
    expect(r.r.state).toBe('Exploring');
    expect(r.r.exploring).toEqual({ since: T, reason: 'local-signal', failed: PRIMARY, local: true });
    // A1 is not locally operational: no pair uses it.
    const out = r.runUntil(T + 2_000);
    expect(out.map((x) => summary([x.action])[0])).toEqual(['probe Exploring A2>B2', 'probe Exploring A2>B1', 'probe Exploring A2>B2', 'probe Exploring A2>B1', 'probe Exploring A2>B2', 'probe Exploring A2>B1']);
  });

  it('local-change with localSignals on and Lp(local) still operational: nothing', () => {
    const r = new Reap(fastEnv({ localOperational: (a) => a[5] !== 0x0a || a[7] !== 2 }));
    const before = r.r;
    const res = r.step({ kind: 'local-change' }, T);
    expect(res.reap).toBe(before);
    expect(res.actions).toEqual([]);
  });

  it('local-change with localSignals off (rfc profile): nothing, even with Lp(local) down', () => {
    const r = new Reap(rfcEnv({ localOperational: downA1 }));
    const before = r.r;
    const res = r.step({ kind: 'local-change' }, T);
    expect(res.reap).toBe(before);
    expect(res.actions).toEqual([]);
  });

  it('local-change while Exploring: no second exploration', () => {
    const { reap: r, at } = toExploring(fastEnv({ localOperational: downA1 }), T);
    const before = r.r;
    const res = r.step({ kind: 'local-change' }, at + 10);
    expect(res.reap).toBe(before);
    expect(res.actions).toEqual([]);
  });

  it('local-change in InboundOk with Lp(local) down: GOTO Exploring', () => {
    const r = new Reap(fastEnv({ localOperational: downA1 }));
    r.step(peerProbe(ProbeState.Exploring, B2, A2, 1), T);
    expect(r.r.state).toBe('InboundOk');
    const res = r.step({ kind: 'local-change' }, T + 10);
    // The exploration of the peer's episode goes on (A2>B2 was just the reply: skipped).
    expect(summary(res.actions)).toEqual(['notify exploring', 'probe Exploring A2>B1']);
    expect(r.r.state).toBe('Exploring');
  });
});

describe('upper-layer retransmissions (§3.3 hint, beyond the RFC)', () => {
  it('the threshold (fast: 2) of ULP retransmissions while the Send Timer runs starts exploring', () => {
    const r = new Reap(fastEnv());
    r.step({ kind: 'payload-sent' }, T);
    const one = r.step({ kind: 'ulp-retransmit' }, T + 10);
    expect(one.actions).toEqual([]);
    expect(r.r.retransmits).toBe(1);
    expect(r.r.state).toBe('Operational');
    const two = r.step({ kind: 'ulp-retransmit' }, T + 20);
    expect(summary(two.actions)).toEqual(['notify exploring', 'probe Exploring A2>B2']);
    expect(r.r.exploring).toEqual({ since: T + 20, reason: 'ulp-hint', failed: PRIMARY, local: false });
    expect(r.r.retransmits).toBe(0);
  });

  it('a packet received resets the count', () => {
    const r = new Reap(fastEnv());
    r.step({ kind: 'payload-sent' }, T);
    r.step({ kind: 'ulp-retransmit' }, T + 10);
    r.step({ kind: 'payload-received' }, T + 15);
    expect(r.r.retransmits).toBe(0);
    r.step({ kind: 'payload-sent' }, T + 20);
    r.step({ kind: 'ulp-retransmit' }, T + 30);
    expect(r.r.retransmits).toBe(1);
    expect(r.r.state).toBe('Operational');
    r.step({ kind: 'keepalive-received' }, T + 35);
    expect(r.r.retransmits).toBe(0);
    // §6.6 stopped the Send Timer: send again.
    r.step({ kind: 'payload-sent' }, T + 37);
    r.step({ kind: 'ulp-retransmit' }, T + 40);
    expect(r.r.state).toBe('Operational');
    r.step({ kind: 'ulp-retransmit' }, T + 50);
    expect(r.r.state).toBe('Exploring');
  });

  it('ignored without the Send Timer running (nothing was sent since the last packet came back)', () => {
    const r = new Reap(fastEnv());
    const before = r.r;
    const res = r.step({ kind: 'ulp-retransmit' }, T);
    expect(res.reap).toBe(before);
    expect(res.actions).toEqual([]);
  });

  it('ignored in the rfc profile (threshold 0)', () => {
    const r = new Reap(rfcEnv());
    r.step({ kind: 'payload-sent' }, T);
    const before = r.r;
    for (let i = 1; i <= 5; i++) expect(r.step({ kind: 'ulp-retransmit' }, T + i).reap).toBe(before);
    expect(r.r.state).toBe('Operational');
  });
});

describe('explore and peer-locators', () => {
  it('explore (operator) in Operational: GOTO Exploring, SEND Probe Exploring', () => {
    const r = new Reap(fastEnv());
    const res = r.step({ kind: 'explore' }, T);
    expect(summary(res.actions)).toEqual(['notify exploring', 'probe Exploring A2>B2']);
    expect(r.r.exploring).toEqual({ since: T, reason: 'operator', failed: PRIMARY, local: false });
  });

  it('explore while Exploring: nothing', () => {
    const { reap: r, at } = toExploring(fastEnv(), T);
    const before = r.r;
    const res = r.step({ kind: 'explore' }, at + 1);
    expect(res.reap).toBe(before);
    expect(res.actions).toEqual([]);
  });

  it('peer-locators: explores from the withdrawn pair, most different pair first', () => {
    const r = new Reap(fastEnv(), makeView({ lp: pairOf(A1, B2) }));
    const res = r.step({ kind: 'peer-locators', failed: pairOf(A1, B2) }, T);
    expect(summary(res.actions)).toEqual(['notify exploring', 'probe Exploring A2>B1']);
    expect(r.r.exploring).toEqual({ since: T, reason: 'peer-locators', failed: pairOf(A1, B2), local: false });
  });
});

describe('a just-confirmed pair settles (beyond the RFC)', () => {
  it('rfc: a second confirmation of another pair within Initial Probe Timeout × 4 (2 s) does not move the pair again; later it does', () => {
    const { reap: r, at: tE, first } = toExploring(rfcEnv(), T);
    const second = onlyProbe(r.fire().actions);
    expect(summary([second])).toEqual(['probe Exploring A2>B1']);
    expect(summary(r.step(peerProbe(ProbeState.InboundOk, B2, A2, 0xb1, [echo(first)]), tE + 600).actions)).toEqual(['switch A2>B2', 'notify failover', 'notify operational', 'probe Operational A2>B2']);
    expect(r.r.pairConfirmedAt).toBe(tE + 600);
    const early = r.step(peerProbe(ProbeState.InboundOk, B1, A2, 0xb2, [echo(second)]), tE + 600 + 1_999);
    // The §6.8 answer goes out on the pair kept, not on the one declined.
    expect(summary(early.actions)).toEqual(['probe Operational A2>B2']);
    expect(r.current).toEqual(pairOf(A2, B2));
    const late = r.step(peerProbe(ProbeState.InboundOk, B1, A2, 0xb3, [echo(second)]), tE + 600 + 2_000);
    expect(summary(late.actions)).toEqual(['switch A2>B1', 'notify failover', 'probe Operational A2>B1']);
    expect(r.current).toEqual(pairOf(A2, B1));
  });
});

// ---------------------------------------------------------------------------------------
// Failback
// ---------------------------------------------------------------------------------------

/**
 * A failover away from the primary at `t` + 1 100 (send at t, Send Timeout at t + 1 050,
 * the peer reports our probe on A2>B2 at t + 1 100), then a packet from the peer at
 * t + 1 110 so that no Send Timer runs. Failback probing is armed for t + 6 100.
 */
function failover(r: Reap, t: number): number {
  r.step({ kind: 'payload-sent' }, t);
  expect(r.r.sendTimerAt).toBe(t + FAST_SEND);
  const first = onlyProbe(r.step({ kind: 'timeout' }, t + FAST_SEND).actions);
  expect(summary([first])).toEqual(['probe Exploring A2>B2']);
  const res = r.step(peerProbe(ProbeState.InboundOk, B2, A2, 0xb0, [echo(first)]), t + 1_100);
  expect(summary(res.actions)).toEqual(['switch A2>B2', 'notify failover', 'notify operational', 'probe Operational A2>B2']);
  r.step({ kind: 'payload-received' }, t + 1_110);
  expect(r.r.failback).toEqual({ nextProbeAt: t + 1_100 + 5_000, pendingNonce: undefined, okSince: undefined });
  return t + 1_100;
}

/** The peer's answer to our failback probe `p`: a Probe (Operational) on its current pair reporting `p`. */
function answer(p: SendProbe): ReapEvent {
  return peerProbe(ProbeState.Operational, B2, A2, 0xa000 + (p.sent[0]!.nonce & 0xfff), [echo(p)]);
}

/**
 * Fires every deadline up to `until`, answering each failback probe 10 ms later unless
 * `drop` says otherwise. Returns the failback probes and the switch-pair actions with their times.
 */
function runFailback(r: Reap, until: number, drop: (p: SendProbe, at: number) => boolean = () => false): { probes: { at: number; p: SendProbe }[]; switches: { at: number; text: string }[] } {
  const probes: { at: number; p: SendProbe }[] = [];
  const switches: { at: number; text: string }[] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    const d = r.deadline();
    if (d === undefined || d > until) return { probes, switches };
    const res = r.step({ kind: 'timeout' }, d);
    for (const a of res.actions) if (a.kind === 'switch-pair') switches.push({ at: d, text: summary([a])[0]! });
    for (const p of probesOf(res.actions)) {
      probes.push({ at: d, p });
      if (!drop(p, d)) r.step(answer(p), d + 10);
    }
  }
  throw new Error('deadline does not advance');
}

describe('failback (beyond the RFC; fast profile)', () => {
  it('while away from the primary pair, it is probed every failbackProbeIntervalMs with Probe Data bit 0x1, in state Operational', () => {
    const r = new Reap(fastEnv());
    const t = failover(r, T);
    expect(r.deadline()).toBe(t + 5_000);
    const res = r.fire();
    expect(res.at).toBe(t + 5_000);
    expect(summary(res.actions)).toEqual(['probe Operational A1>B1']);
    const p = onlyProbe(res.actions);
    expect(p.sent[0]).toEqual(report(A1, B1, FIRST_NONCE + 2, PROBE_DATA_REPLY_REQUESTED));
    // Psent repeats our unreported §6.8 probe on A2>B2 (data 0).
    expect(p.sent.slice(1)).toEqual([report(A2, B2, FIRST_NONCE + 1)]);
    expect(r.r.failback).toEqual({ nextProbeAt: t + 10_000, pendingNonce: p.sent[0]!.nonce, okSince: undefined });
    // The current pair stays A2>B2 while the primary is tested.
    expect(r.current).toEqual(pairOf(A2, B2));
  });

  it('okSince is set by the reply that reports the failback probe (nonce and addresses)', () => {
    const r = new Reap(fastEnv());
    const t = failover(r, T);
    const p = onlyProbe(r.fire().actions);
    const res = r.step(answer(p), t + 5_010);
    expect(res.actions.filter((a) => a.kind === 'switch-pair')).toEqual([]);
    expect(r.r.failback).toEqual({ nextProbeAt: t + 10_000, pendingNonce: undefined, okSince: t + 5_010 });
    expect(r.current).toEqual(pairOf(A2, B2));
  });

  it('okSince is not set by a reply with a wrong nonce, source or destination', () => {
    for (const forged of [
      (x: SendProbe) => ({ ...echo(x), nonce: (x.sent[0]!.nonce + 1) >>> 0 }),
      (x: SendProbe) => ({ ...echo(x), source: A2 }),
      (x: SendProbe) => ({ ...echo(x), destination: B2 }),
    ]) {
      const r = new Reap(fastEnv());
      const t = failover(r, T);
      const p = onlyProbe(r.fire().actions);
      r.step(peerProbe(ProbeState.Operational, B2, A2, 0xa1, [forged(p)]), t + 5_010);
      expect(r.r.failback).toEqual({ nextProbeAt: t + 10_000, pendingNonce: p.sent[0]!.nonce, okSince: undefined });
    }
  });

  it('switches back to the primary pair after the hold-down (30 s) of answered probes', () => {
    const r = new Reap(fastEnv());
    const t = failover(r, T);
    const { probes, switches } = runFailback(r, t + 60_000);
    const fb = probes.filter((x) => x.p.sent[0]!.data === PROBE_DATA_REPLY_REQUESTED);
    expect(fb.map((x) => x.at - t)).toEqual([5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 35_000]);
    // okSince = t + 5 010 (first answer), + 30 000.
    expect(switches).toEqual([{ at: t + 35_010, text: 'switch A1>B1' }]);
    expect(r.current).toEqual(PRIMARY);
    expect(r.r.failback).toBeUndefined();
    expect(r.r.stats.failbacks).toBe(1);
    expect(r.r.lastFailover).toEqual({ at: t + 35_010, from: pairOf(A2, B2), to: PRIMARY, durationMs: 0, reason: 'failback' });
    // Back on the primary, no more failback probes.
    expect(probesOf(r.log.filter((x) => x.at > t + 35_010).flatMap((x) => x.actions))).toEqual([]);
  });

  it('an unanswered failback probe resets okSince; the hold-down counts again from the next answer', () => {
    const r = new Reap(fastEnv());
    const t = failover(r, T);
    const { switches } = runFailback(r, t + 80_000, (_p, at) => at === t + 10_000);
    // Answers at t+5 010 (okSince), none for t+10 000; at t+15 000 okSince is reset, its answer at t+15 010 starts it again.
    expect(switches).toEqual([{ at: t + 45_010, text: 'switch A1>B1' }]);
  });

  it('the failback notification names the switch', () => {
    const r = new Reap(fastEnv());
    const t = failover(r, T);
    runFailback(r, t + 35_009);
    const res = r.fire();
    expect(res.at).toBe(t + 35_010);
    // (The Keepalive Timer started by the answer at t+20 010, §6.9, expires at the same time.)
    expect(summary(res.actions).filter((x) => x !== 'keepalive')).toEqual(['switch A1>B1', 'notify failback']);
  });

  it('the hold-down doubles with each failover away from the primary (30 s, 60 s, 120 s)', () => {
    const r = new Reap(fastEnv());
    const t1 = failover(r, T);
    expect(runFailback(r, t1 + 40_000).switches.map((s) => s.at - t1)).toEqual([35_010]);
    const t2 = failover(r, t1 + 40_000);
    expect(r.r.failoversAway).toEqual([t1, t2]);
    expect(runFailback(r, t2 + 100_000).switches.map((s) => s.at - t2)).toEqual([65_010]);
    const t3 = failover(r, t2 + 100_000);
    expect(r.r.failoversAway).toEqual([t1, t2, t3]);
    expect(runFailback(r, t3 + 200_000).switches.map((s) => s.at - t3)).toEqual([125_010]);
  });

  it('no failback in the rfc profile (failbackHoldDownMs 0)', () => {
    const r = new Reap(rfcEnv());
    r.step({ kind: 'payload-sent' }, T);
    const first = onlyProbe(r.fire().actions);
    r.step(peerProbe(ProbeState.InboundOk, B2, A2, 0xb0, [echo(first)]), r.r.exploring!.since + 50);
    expect(r.current).toEqual(pairOf(A2, B2));
    expect(r.r.failback).toBeUndefined();
  });

  it('the peer side: a Probe (Operational) with bit 0x1 is answered on the current pair in fast, not in rfc', () => {
    const ask = peerProbe(ProbeState.Operational, B1, A1, 0xf00d, [], PROBE_DATA_REPLY_REQUESTED);
    const fast = new Reap(fastEnv());
    const res = fast.step(ask, T);
    expect(summary(res.actions)).toEqual(['probe Operational A1>B1']);
    const p = onlyProbe(res.actions);
    expect(p.sent[0]!.data).toBe(0);
    expect(p.received).toEqual([report(B1, A1, 0xf00d, PROBE_DATA_REPLY_REQUESTED)]);
    const rfc = new Reap(rfcEnv());
    expect(rfc.step(ask, T).actions).toEqual([]);
  });

  it('failback timers armed before an exploration do not leave a deadline that a timeout cannot advance', () => {
    const r = new Reap(fastEnv());
    const t = failover(r, T);
    // Send again at t+1 000 with no answer: a second exploration while failback probing is armed for t+5 000.
    r.step({ kind: 'payload-sent' }, t + 1_000);
    r.fire();
    expect(r.r.state).toBe('Exploring');
    for (let i = 0; i < 20; i++) {
      const d = r.deadline()!;
      r.step({ kind: 'timeout' }, d);
      expect(r.deadline()!).toBeGreaterThan(d);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Probe budget and forged probes (§8)
// ---------------------------------------------------------------------------------------

/** Forged Probe (Exploring) from a stranger, every `gapMs` from `t0` for `count`, firing deadlines in between; counts probes sent. */
function flood(env: TestReapEnv, t0: number, count: number, gapMs: number): { sent: number; reap: Reap } {
  const r = new Reap(env);
  let sent = 0;
  for (let i = 0; i < count; i++) {
    const now = t0 + i * gapMs;
    for (let d = r.deadline(); d !== undefined && d <= now; d = r.deadline()) sent += probesOf(r.step({ kind: 'timeout' }, d).actions).length;
    sent += probesOf(r.step(peerProbe(ProbeState.Exploring, STRANGER, A1, i), now).actions).length;
  }
  return { sent, reap: r };
}

describe('the probe budget', () => {
  it('1 000 forged Probe(Exploring) within one millisecond yield at most probeBurst (4) probes', () => {
    const env = fastEnv();
    const { sent, reap } = flood(env, T, 1_000, 0.001);
    expect(sent).toBe(env.reap.probeBurst);
    expect(reap.r.stats.probesSent).toBe(4);
    expect(reap.r.stats.probesDeferred).toBe(996);
    expect(reap.r.stats.probesReceived).toBe(1_000);
  });

  for (const mode of ['fast', 'rfc'] as const) {
    it(`${mode}: forged Probe(Exploring) every millisecond for 10 s yield at most probeBurst + 10 000 / minProbeGapMs probes`, () => {
      const env = fixedEnv({ mode });
      const { sent } = flood(env, T, 10_000, 1);
      const bound = env.reap.probeBurst + 10_000 / env.reap.minProbeGapMs;
      expect(bound).toBe(mode === 'fast' ? 204 : 104);
      expect(sent).toBeLessThanOrEqual(bound);
      // The budget refills: the flood is answered at the token rate, not starved.
      expect(sent).toBeGreaterThan(bound - 10);
    });
  }
});

describe('forged received-reports never move the current pair (§8)', () => {
  const forgeries: [string, (p: SendProbe) => ReturnType<typeof echo>][] = [
    ['wrong nonce', (p) => ({ ...echo(p), nonce: (p.sent[0]!.nonce ^ 0x8000_0000) >>> 0 })],
    ['wrong source', (p) => ({ ...echo(p), source: A1 })],
    ['wrong destination', (p) => ({ ...echo(p), destination: B1 })],
    ['a stranger\'s addresses', (p) => ({ ...echo(p), source: STRANGER, destination: STRANGER })],
  ];
  for (const [name, forge] of forgeries) {
    for (const state of [ProbeState.InboundOk, ProbeState.Operational]) {
      it(`${name} in a Probe with State=${state}`, () => {
        const { reap: r, at, first } = toExploring(fastEnv(), T);
        const res = r.step(peerProbe(state, B2, A2, 0xbad, [forge(first)]), at + 50);
        expect(res.actions.filter((a) => a.kind === 'switch-pair')).toEqual([]);
        expect(r.current).toEqual(PRIMARY);
        expect(r.r.sent[0]!.reported).toBe(false);
      });
    }
  }

  it('200 Probes with random reports (seeded) never produce a switch-pair', () => {
    const rng = new SeededRandom(5534);
    const { reap: r, at } = toExploring(fastEnv(), T);
    for (let i = 0; i < 200; i++) {
      const reports = [report(rng.int(2) === 0 ? A1 : A2, rng.int(2) === 0 ? B1 : B2, rng.u32())];
      const res = r.step(peerProbe(i % 2 === 0 ? ProbeState.InboundOk : ProbeState.Operational, B2, A2, i, reports), at + 1 + i);
      expect(res.actions.filter((a) => a.kind === 'switch-pair')).toEqual([]);
    }
    expect(r.current).toEqual(PRIMARY);
  });
});

describe("mode 'off'", () => {
  it('does nothing for any event and reports no deadline', () => {
    const env = fixedEnv({ mode: 'off' }, { localOperational: () => false });
    const view = makeView();
    const r0 = initialReap(view, 0, env);
    const events: ReapEvent[] = [
      { kind: 'payload-sent' },
      { kind: 'payload-received' },
      { kind: 'keepalive-received' },
      peerProbe(ProbeState.Exploring, B2, A2, 1),
      peerProbe(ProbeState.InboundOk, B2, A2, 2),
      peerProbe(ProbeState.Operational, B2, A2, 3, [], PROBE_DATA_REPLY_REQUESTED),
      { kind: 'timeout' },
      { kind: 'local-change' },
      { kind: 'ulp-retransmit' },
      { kind: 'explore' },
      { kind: 'peer-locators', failed: PRIMARY },
    ];
    let r = r0;
    for (const [i, e] of events.entries()) {
      const res = reapStep(r, view, e, 1_000 * (i + 1), env);
      expect(res.reap).toBe(r0);
      expect(res.actions).toEqual([]);
      r = res.reap;
    }
    expect(reapDeadline(r, env.reap)).toBeUndefined();
    expect(env.nonces).toEqual([]);
  });

  it('still records the peer\'s Keepalive Timeout', () => {
    const env = fixedEnv({ mode: 'off' });
    const r0 = initialReap(makeView(), 0, env);
    const res = reapStep(r0, makeView(), { kind: 'keepalive-timeout', ms: 400, fine: true }, 1, env);
    expect(res.reap.keepaliveTimeoutMs).toBe(400);
    expect(res.reap.peerFine).toBe(true);
    expect(res.actions).toEqual([]);
  });
});
