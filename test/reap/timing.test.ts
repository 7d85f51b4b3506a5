/**
 * REAP timers (RFC 5534 §4.1, §4.3, §7): the probe back-off of both profiles with its
 * jitter, the randomised Send Timeout and Keepalive Interval, the Send Timeout in force
 * with and without the peer's millisecond option, and a whole unanswered exploration.
 */
import { describe, expect, it } from 'vitest';
import { FAST_REAP_CONFIG, RFC_REAP_CONFIG, resolveReapConfig } from '../../src/reap/constants.js';
import { advertisedSeconds, effectiveSendTimeout, initialReap, probeSpacing } from '../../src/reap/machine.js';
import { explorationOrder } from '../../src/reap/pairs.js';
import { PRIMARY, Reap, fixedEnv, makeView, pairName, probesOf, rfcEnv, seededEnv, summary, toExploring } from './reap.util.js';

const UNIT_MAX = 1 - 2 ** -32;

describe('probeSpacing (§4.3, §7)', () => {
  it('rfc: Initial Probe Timeout 0.5 s for the 4 initial probes, with no jitter', () => {
    for (const unit of [0, 0.5, UNIT_MAX]) {
      expect([1, 2, 3, 4].map((k) => probeSpacing(k, 4, RFC_REAP_CONFIG, unit))).toEqual([500, 500, 500, 500]);
    }
  });

  it('rfc: then 1, 2, 4, 8, 16, 32 s, capped at Max Probe Timeout 60 s (jitter factor 1)', () => {
    expect([5, 6, 7, 8, 9, 10, 11, 12, 40, 1_000].map((k) => probeSpacing(k, 4, RFC_REAP_CONFIG, 0.5))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]);
  });

  it('rfc: the number of pairs does not change the cap', () => {
    expect(probeSpacing(20, 1, RFC_REAP_CONFIG, 0.5)).toBe(60_000);
    expect(probeSpacing(20, 100, RFC_REAP_CONFIG, 0.5)).toBe(60_000);
  });

  it('rfc: backed-off intervals are jittered by ±10 % (probeJitter)', () => {
    expect(probeSpacing(5, 4, RFC_REAP_CONFIG, 0)).toBe(900);
    expect(probeSpacing(5, 4, RFC_REAP_CONFIG, UNIT_MAX)).toBe(1_100);
    expect(probeSpacing(8, 4, RFC_REAP_CONFIG, 0.25)).toBe(7_600);
    const rng = seededEnv({ mode: 'rfc' }, 7);
    for (let k = 5; k < 60; k++) {
      const nominal = Math.min(60_000, 500 * 2 ** (k - 4));
      const s = probeSpacing(k, 4, RFC_REAP_CONFIG, rng.randomUnit());
      expect(s).toBeGreaterThanOrEqual(0.9 * nominal);
      expect(s).toBeLessThanOrEqual(1.1 * nominal);
    }
  });

  it('rfc: at the cap the jitter goes below 60 s (54 s at the low end)', () => {
    expect(probeSpacing(11, 4, RFC_REAP_CONFIG, 0)).toBe(54_000);
  });

  it('rfc: no probe interval exceeds Max Probe Timeout, whatever the jitter (§4.3)', () => {
    expect(probeSpacing(11, 4, RFC_REAP_CONFIG, UNIT_MAX)).toBeLessThanOrEqual(60_000);
  });

  it('fast: 200 ms × 4, then doubling, capped at maxProbeTimeoutMs / pairs', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 30].map((k) => probeSpacing(k, 4, FAST_REAP_CONFIG, 0.5))).toEqual([200, 200, 200, 200, 400, 800, 1_600, 2_000, 2_000, 2_000]);
    expect(probeSpacing(30, 1, FAST_REAP_CONFIG, 0.5)).toBe(8_000);
    expect(probeSpacing(30, 3, FAST_REAP_CONFIG, 0.5)).toBe(2_666);
    // Never below the Initial Probe Timeout, however many pairs.
    expect(probeSpacing(30, 100, FAST_REAP_CONFIG, 0.5)).toBe(200);
    expect(probeSpacing(30, 0, FAST_REAP_CONFIG, 0.5)).toBe(8_000);
  });

  it('fast: jitter can shorten the capped interval but never lengthen it (§4.3 "may not grow")', () => {
    expect(probeSpacing(30, 4, FAST_REAP_CONFIG, 0)).toBe(1_800);
    expect(probeSpacing(30, 4, FAST_REAP_CONFIG, UNIT_MAX)).toBe(2_000);
  });
});

describe('Send Timeout randomisation (§4.1: "SHOULD be randomized")', () => {
  it('rfc: the Send Timer is T × [1, 1.1) after the packet, T = 15 s', () => {
    const env = seededEnv({ mode: 'rfc' }, 42);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const r = new Reap(env);
      r.step({ kind: 'payload-sent' }, 1_000);
      const d = r.r.sendTimerAt! - 1_000;
      expect(d).toBeGreaterThanOrEqual(15_000);
      expect(d).toBeLessThan(16_500);
      seen.add(d);
    }
    // Randomised, not one fixed value.
    expect(seen.size).toBeGreaterThan(100);
  });

  it('the extremes of the draw: exactly T, and just under T × 1.1 (rounded down to the millisecond)', () => {
    const lo = new Reap(fixedEnv({ mode: 'rfc' }, { unit: 0 }));
    lo.step({ kind: 'payload-sent' }, 0);
    expect(lo.r.sendTimerAt).toBe(15_000);
    const hi = new Reap(fixedEnv({ mode: 'rfc' }, { unit: UNIT_MAX }));
    hi.step({ kind: 'payload-sent' }, 0);
    expect(hi.r.sendTimerAt).toBe(16_499);
  });

  it('a custom Send Timeout is randomised the same way', () => {
    const env = seededEnv({ mode: 'rfc', sendTimeoutMs: 20_000 }, 3);
    for (let i = 0; i < 200; i++) {
      const r = new Reap(env);
      r.step({ kind: 'payload-sent' }, 0);
      expect(r.r.sendTimerAt!).toBeGreaterThanOrEqual(20_000);
      expect(r.r.sendTimerAt!).toBeLessThan(22_000);
    }
  });
});

describe('Keepalive Interval (§4.1 item 1, §7: one-third to one-half of the Keepalive Timeout)', () => {
  it('rfc: within [KT/3, KT/2] of the packet, KT = 15 s, and the Keepalive Timer at KT', () => {
    const env = seededEnv({ mode: 'rfc' }, 43);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const r = new Reap(env);
      r.step({ kind: 'payload-received' }, 1_000);
      const d = r.r.nextKeepaliveAt! - 1_000;
      expect(d).toBeGreaterThanOrEqual(5_000);
      expect(d).toBeLessThanOrEqual(7_500);
      expect(r.r.keepaliveTimerAt).toBe(16_000);
      seen.add(d);
    }
    expect(seen.size).toBeGreaterThan(100);
  });

  it('every later Keepalive Interval is drawn in the same bounds', () => {
    const env = seededEnv({ mode: 'rfc' }, 44);
    for (let i = 0; i < 50; i++) {
      const r = new Reap(env);
      r.step({ kind: 'payload-received' }, 0);
      const first = r.fire();
      expect(summary(first.actions)).toEqual(['keepalive']);
      const gap = r.r.nextKeepaliveAt! - first.at;
      expect(gap).toBeGreaterThanOrEqual(5_000);
      expect(gap).toBeLessThanOrEqual(7_500);
    }
  });

  it('after the peer\'s Keepalive Timeout option of 400 ms: within [133, 200] ms, Keepalive Timer at 400 ms', () => {
    const env = seededEnv({ mode: 'fast' }, 45);
    for (let i = 0; i < 200; i++) {
      const r = new Reap(env);
      r.step({ kind: 'keepalive-timeout', ms: 400, fine: true }, 0);
      r.step({ kind: 'payload-received' }, 10);
      expect(r.r.keepaliveTimerAt).toBe(410);
      const d = r.r.nextKeepaliveAt! - 10;
      expect(d).toBeGreaterThanOrEqual(133);
      expect(d).toBeLessThanOrEqual(200);
    }
  });
});

describe('effectiveSendTimeout and advertisedSeconds (§5.3)', () => {
  it('advertisedSeconds: the Send Timeout in whole seconds, rounded up, at least 1', () => {
    expect(advertisedSeconds(RFC_REAP_CONFIG)).toBe(15);
    expect(advertisedSeconds(FAST_REAP_CONFIG)).toBe(1);
    expect(advertisedSeconds(resolveReapConfig({ mode: 'fast', sendTimeoutMs: 1 }))).toBe(1);
    expect(advertisedSeconds(resolveReapConfig({ mode: 'fast', sendTimeoutMs: 1_001 }))).toBe(2);
    expect(advertisedSeconds(resolveReapConfig({ mode: 'fast', sendTimeoutMs: 2_500 }))).toBe(3);
  });

  it('fast without peerFine: the whole seconds the peer was told (1 000 ms); with peerFine: 400 ms', () => {
    const env = fixedEnv({ mode: 'fast' });
    const r = initialReap(makeView(), 0, env);
    expect(r.peerFine).toBe(false);
    expect(effectiveSendTimeout(r, env.reap)).toBe(1_000);
    expect(effectiveSendTimeout({ ...r, peerFine: true }, env.reap)).toBe(400);
    const cfg = resolveReapConfig({ mode: 'fast', sendTimeoutMs: 2_500 });
    expect(effectiveSendTimeout(r, cfg)).toBe(3_000);
    expect(effectiveSendTimeout({ ...r, peerFine: true }, cfg)).toBe(2_500);
  });

  it('rfc: 15 000 ms either way', () => {
    const env = rfcEnv();
    const r = initialReap(makeView(), 0, env);
    expect(effectiveSendTimeout(r, env.reap)).toBe(15_000);
    expect(effectiveSendTimeout({ ...r, peerFine: true }, env.reap)).toBe(15_000);
  });

  it('the Send Timer uses it: 1 050 ms before the option, 420 ms after (unit 0.5)', () => {
    const r = new Reap(fixedEnv({ mode: 'fast' }));
    r.step({ kind: 'payload-sent' }, 0);
    expect(r.r.sendTimerAt).toBe(1_050);
    const f = new Reap(fixedEnv({ mode: 'fast' }));
    f.step({ kind: 'keepalive-timeout', ms: 400, fine: true }, 0);
    f.step({ kind: 'payload-sent' }, 0);
    expect(f.r.sendTimerAt).toBe(420);
  });
});

describe('an unanswered exploration (§4.3, §6.5)', () => {
  it('rfc, exact timers: probes at 0, 0.5, 1, 1.5, 2, 3, 5, 9, 17, 33, 65, 125, 185 s, cycling through the four pairs', () => {
    const { reap: r, at } = toExploring(rfcEnv(), 10_000);
    const out = r.runUntil(at + 185_000);
    const times = [0, ...out.map((x) => x.at - at)];
    expect(times).toEqual([0, 500, 1_000, 1_500, 2_000, 3_000, 5_000, 9_000, 17_000, 33_000, 65_000, 125_000, 185_000]);
    const order = explorationOrder(makeView(), PRIMARY, false).map(pairName);
    expect(order).toEqual(['A2>B2', 'A2>B1', 'A1>B2', 'A1>B1']);
    const pairs = ['A2>B2', ...out.map((x) => summary([x.action])[0]!.replace('probe Exploring ', ''))];
    expect(pairs).toEqual(times.map((_, i) => order[i % 4]));
  });

  it('seeded: every probe goes out exactly at the nextProbeAt scheduled by the one before, within the jitter bounds, and every pair is tried in turn', () => {
    for (const seed of [1, 2, 3]) {
      const env = seededEnv({ mode: 'rfc' }, seed);
      const { reap: r, at } = toExploring(env, 10_000);
      const order = explorationOrder(makeView(), PRIMARY, false).map(pairName);
      let prev = at;
      for (let k = 1; k <= 16; k++) {
        const scheduled = r.r.nextProbeAt!;
        expect(r.deadline()).toBe(scheduled);
        const gap = scheduled - prev;
        const nominal = k <= 4 ? 500 : Math.min(60_000, 500 * 2 ** (k - 4));
        if (k <= 4) expect(gap).toBe(500);
        else {
          expect(gap).toBeGreaterThanOrEqual(0.9 * nominal);
          expect(gap).toBeLessThanOrEqual(1.1 * nominal);
        }
        const res = r.fire();
        expect(res.at).toBe(scheduled);
        const probes = probesOf(res.actions);
        expect(probes.length).toBe(1);
        expect(pairName({ local: probes[0]!.src, peer: probes[0]!.dst })).toBe(order[k % 4]);
        expect(probes[0]!.state).toBe('Exploring');
        prev = scheduled;
      }
      expect(r.r.stats.probesSent).toBe(17);
      expect(r.r.stats.probesDeferred).toBe(0);
      expect(r.r.state).toBe('Exploring');
    }
  });

  it('fast, exact timers, 4 pairs: 200 ms × 4, then 400, 800, 1 600 and 2 000 ms (8 s / 4 pairs)', () => {
    const { reap: r, at } = toExploring(fixedEnv({ mode: 'fast' }), 10_000);
    const out = r.runUntil(at + 10_000);
    expect(out.map((x) => x.at - at)).toEqual([200, 400, 600, 800, 1_200, 2_000, 3_600, 5_600, 7_600, 9_600]);
  });
});

describe('the Send Timer in InboundOk (fast: room to probe every pair once)', () => {
  it('fast, peerFine (400 ms): Operational 420 ms, but InboundOk max(400, 4 pairs × 200 ms) × 1.05 = 840 ms', () => {
    const r = new Reap(fixedEnv({ mode: 'fast' }));
    r.step({ kind: 'keepalive-timeout', ms: 400, fine: true }, 0);
    r.step({ kind: 'payload-sent' }, 0);
    expect(r.r.sendTimerAt).toBe(420);
    r.step({ kind: 'explore' }, 100);
    r.step({ kind: 'payload-received' }, 150);
    expect(r.r.state).toBe('InboundOk');
    expect(r.r.sendTimerAt).toBe(150 + 840);
  });

  it('fast, not peerFine (1 000 ms ≥ 800 ms): InboundOk 1 050 ms', () => {
    const r = new Reap(fixedEnv({ mode: 'fast' }));
    r.step({ kind: 'explore' }, 100);
    r.step({ kind: 'payload-received' }, 150);
    expect(r.r.sendTimerAt).toBe(150 + 1_050);
  });

  it('rfc: InboundOk uses the plain Send Timeout (15 750 ms)', () => {
    const r = new Reap(rfcEnv());
    r.step({ kind: 'explore' }, 100);
    r.step({ kind: 'payload-received' }, 150);
    expect(r.r.sendTimerAt).toBe(150 + 15_750);
  });
});
