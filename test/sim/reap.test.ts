/**
 * REAP (RFC 5534) in simulation: two hosts A and B with two locators each in
 * 2001:db8::/32, 10 ms RTT, an application flow A→B at 100 packets/s that B answers
 * packet by packet (reap.util.ts). Each scenario breaks something at FAIL_AT and checks:
 * the REAP states and the current pair of both ends (as transcript labels), that data
 * flows again within a bound derived from the profile's timers (virtual time, so exact),
 * the probe counts of `ctx.reap.stats`, that the receivers see no corrupted, duplicated or
 * reordered packet and no gap outside the outage, and a checked-in transcript of the
 * REAP-relevant lines.
 *
 * Labels: `A` is A's first address (its ULID), `A.2` its second; likewise `B`, `B.2`,
 * and `B.3` once B advertises its third locator. The pair at establishment is A→B / B→A.
 */
import { describe, expect, it } from 'vitest';
import { FAST_REAP_CONFIG, RFC_REAP_CONFIG, type ReapConfig } from '../../src/reap/constants.js';
import { probeSpacing } from '../../src/reap/machine.js';
import { NO_NXT_HDR, ProbeState } from '../../src/wire/constants.js';
import type { ProbeMessage, ProbeReport } from '../../src/wire/control.js';
import { encodeControlPacket } from '../../src/wire/packet.js';
import { addr } from './scenario.util.js';
import {
  allDirectedPairs,
  checkStream,
  ctx,
  currentPair,
  DELAY_MS,
  eventsOf,
  type Flow,
  probeMessagesFrom,
  probesFrom,
  reap,
  reapFlow,
  reapTranscript,
  type Received,
  SEND_PERIOD_MS,
} from './reap.util.js';

const FAIL_AT = 3_000;
const RTT = 2 * DELAY_MS;
const FAST = FAST_REAP_CONFIG;
const RFC = RFC_REAP_CONFIG;

/** The latest a Send Timer can fire after the last answered packet: Send Timeout × (1 + jitter). */
function maxSendTimeout(cfg: ReapConfig): number {
  return Math.ceil(cfg.sendTimeoutMs * (1 + cfg.sendTimeoutJitter));
}

/**
 * First delivery of new data after a silent failure. `fast`: the brief's 1000 ms (the
 * Send Timeout is at most 440 ms; the rest leaves room for two Initial Probe Timeouts and
 * a few RTTs). `rfc`: 15 s × 1.1 plus four Initial Probe Timeouts.
 */
const FAST_BOUND_MS = 1_000;
const RFC_BOUND_MS = maxSendTimeout(RFC) + 4 * RFC.initialProbeTimeoutMs;
const bound = (mode: 'fast' | 'rfc'): number => (mode === 'fast' ? FAST_BOUND_MS : RFC_BOUND_MS);

/** Marks the directed address pairs down (or up again), with a transcript note. */
function setDown(f: Flow, pairs: readonly (readonly [string, string])[], down: boolean, note: string): void {
  for (const [x, y] of pairs) f.sim.network.setLinkDown(x, y, down);
  f.sim.note(note);
}

/** The first data packet B received, and the first answer A received, of data A sent at or after `t`. */
function firstNewDelivery(f: Flow, t: number): { atB: Received | undefined; atA: Received | undefined } {
  return {
    atB: f.atB.find((r) => f.sentAB[r.seq]! >= t),
    atA: f.atA.find((r) => f.sentAB[r.seq]! >= t),
  };
}

/** Time of the only event of one kind of `host`. */
function onlyEventAt(f: Flow, event: string, host: string): number {
  const list = eventsOf(f, event, host);
  expect(list, `${host} ${event} events`).toHaveLength(1);
  return list[0]!.at;
}

/** No corrupted packet; the data stream at B and the answers at A have gaps only in the windows given. */
function checkData(f: Flow, dataLoss: readonly (readonly [number, number])[], answerLoss: readonly (readonly [number, number])[]): { lostData: number[]; lostAnswers: number[] } {
  expect(f.corrupt).toEqual([]);
  const lostData = checkStream(f.atB, (s) => f.sentAB[s], dataLoss);
  const lostAnswers = checkStream(f.atA, (s) => f.sentBA.get(s), answerLoss);
  return { lostData, lostAnswers };
}

/** Both ends Operational with these current pairs. */
function expectConverged(f: Flow, pairA: string, pairB: string): void {
  expect(reap(f.a, f.b).state).toBe('Operational');
  expect(reap(f.b, f.a).state).toBe('Operational');
  expect(currentPair(f, f.a, f.b)).toBe(pairA);
  expect(currentPair(f, f.b, f.a)).toBe(pairB);
}

/** Data still flows both ways at the end of the run. */
function expectFlowing(f: Flow): void {
  const end = f.sim.now;
  expect(f.atB.at(-1)!.at).toBeGreaterThan(end - SEND_PERIOD_MS - RTT);
  expect(f.atA.at(-1)!.at).toBeGreaterThan(end - SEND_PERIOD_MS - RTT);
}

describe('REAP: silent loss on the current pair (RFC 5534 §4.1 FBD, §6.4, §6.7-6.9)', () => {
  for (const mode of ['fast', 'rfc'] as const) {
    const cfg = mode === 'fast' ? FAST : RFC;

    it(`${mode}: A→B stops on the current pair; both ends move to A.2→B.2 / B.2→A.2`, async () => {
      const f = await reapFlow({ reap: { mode } });
      const { sim, a, b } = f;
      sim.at(FAIL_AT, () => setDown(f, [[f.a1, f.b1]], true, 'A→B is lost silently'));
      sim.run(FAIL_AT + bound(mode) + 2_000);

      // B, which answers, stops hearing from A first: its Send Timer, started by its last
      // answer (sent at most one RTT before the failure), fires first (§4.1 item 6).
      const explore = eventsOf(f, 'exploring');
      expect(explore.map((e) => `${e.host} ${e.detail}`)).toEqual(['B send-timeout']);
      expect(explore[0]!.at).toBeGreaterThanOrEqual(FAIL_AT - RTT + cfg.sendTimeoutMs);
      expect(explore[0]!.at).toBeLessThanOrEqual(FAIL_AT + maxSendTimeout(cfg));
      // A answers B's Exploring probe: InboundOk (§6.7); then B's Operational probe reports A's
      // probe, and A takes that pair (the rule of §6.8, which this implementation applies to §6.9 too).
      expect(eventsOf(f, 'inbound-ok', 'A').map((e) => e.detail)).toEqual(['the peer is exploring']);

      expectConverged(f, 'A.2→B.2', 'B.2→A.2');
      const ra = reap(a, b);
      const rb = reap(b, a);
      // The smallest exchange: Exploring (B), InboundOk (A), Operational (B).
      expect([rb.stats.probesSent, ra.stats.probesSent]).toEqual([2, 1]);
      expect([rb.stats.explorations, ra.stats.explorations]).toEqual([1, 0]);
      expect([ra.stats.failovers, rb.stats.failovers]).toEqual([1, 1]);
      expect(ra.lastFailover!.at - explore[0]!.at).toBe(3 * DELAY_MS);
      expect(sim.label(ra.lastFailover!.from.local)).toBe('A');

      const { atB, atA } = firstNewDelivery(f, FAIL_AT);
      expect(atB!.at - FAIL_AT).toBeLessThanOrEqual(bound(mode));
      expect(atB!.tagged).toBe(true);
      expect(atA!.at - FAIL_AT).toBeLessThanOrEqual(bound(mode));
      // Only data sent before A switched is lost; every answer to what B got arrives.
      const { lostData, lostAnswers } = checkData(f, [[FAIL_AT, ra.lastFailover!.at]], []);
      expect(lostData.length).toBeGreaterThan(0);
      expect(lostAnswers).toEqual([]);
      expectFlowing(f);
      await expect(reapTranscript(f)).toMatchFileSnapshot(`./transcripts/reap-${mode}-loss-ab.txt`);
    });

    it(`${mode}: B→A stops on the current pair; A explores and both ends move`, async () => {
      const f = await reapFlow({ reap: { mode } });
      const { sim, a, b } = f;
      sim.at(FAIL_AT, () => setDown(f, [[f.b1, f.a1]], true, 'B→A is lost silently'));
      sim.run(FAIL_AT + bound(mode) + 2_000);

      const explore = eventsOf(f, 'exploring');
      expect(explore.map((e) => `${e.host} ${e.detail}`)).toEqual(['A send-timeout']);
      expect(explore[0]!.at).toBeGreaterThanOrEqual(FAIL_AT - RTT + cfg.sendTimeoutMs);
      expect(explore[0]!.at).toBeLessThanOrEqual(FAIL_AT + maxSendTimeout(cfg));
      // B still hears A: it stays Operational until A's Exploring probe (§6.7).
      expect(eventsOf(f, 'inbound-ok', 'B').map((e) => e.detail)).toEqual(['the peer is exploring']);

      expectConverged(f, 'A.2→B.2', 'B.2→A.2');
      const ra = reap(a, b);
      const rb = reap(b, a);
      expect([ra.stats.probesSent, rb.stats.probesSent]).toEqual([2, 1]);
      expect([ra.stats.explorations, rb.stats.explorations]).toEqual([1, 0]);
      expect(ra.lastFailover!.reason).toBe('send-timeout');
      expect(ra.lastFailover!.durationMs).toBe(2 * DELAY_MS);

      // A→B never failed: no data is lost; answers are lost until B switches.
      const { atA } = firstNewDelivery(f, FAIL_AT);
      expect(atA!.at - FAIL_AT).toBeLessThanOrEqual(bound(mode));
      expect(atA!.tagged).toBe(true);
      const bSwitch = onlyEventAt(f, 'failover', 'B');
      const { lostData, lostAnswers } = checkData(f, [], [[FAIL_AT, bSwitch]]);
      expect(lostData).toEqual([]);
      expect(lostAnswers.length).toBeGreaterThan(0);
      expectFlowing(f);
      await expect(reapTranscript(f)).toMatchFileSnapshot(`./transcripts/reap-${mode}-loss-ba.txt`);
    });
  }
});

describe('REAP: link down on the local locator of the current pair (RFC 5534 §3.2 local signals)', () => {
  it('fast: exploration starts at once (local-signal); the first probe changes the local locator and keeps B', async () => {
    const f = await reapFlow({ reap: { mode: 'fast' } });
    const { sim, a, b } = f;
    sim.at(FAIL_AT, () => a.setLinkState(addr(f.a1), false));
    sim.run(FAIL_AT + 2_000);

    expect(eventsOf(f, 'exploring', 'A').map((e) => [e.at, e.detail])).toEqual([[FAIL_AT, 'local-signal']]);
    expect(eventsOf(f, 'exploring', 'B')).toEqual([]);
    const first = probesFrom(f, a, FAIL_AT)[0]!;
    expect(first).toEqual({ at: FAIL_AT, src: 'A.2', dst: 'B' });
    expect(a.engine.counters()['reap.local-down']).toBe(1);

    // A leaves A (down); B reaches A at A.2, on the report of A's probe.
    expectConverged(f, 'A.2→B', 'B→A.2');
    const ra = reap(a, b);
    expect(ra.lastFailover!.reason).toBe('local-signal');
    expect(ra.lastFailover!.durationMs).toBeLessThanOrEqual(RTT);
    // The smallest exchange: Exploring (A), InboundOk (B), Operational (A).
    expect([ra.stats.probesSent, reap(b, a).stats.probesSent]).toEqual([2, 1]);
    // No Send Timeout involved: one probe round trip and the next packet.
    const { atB, atA } = firstNewDelivery(f, FAIL_AT);
    expect(atB!.at - FAIL_AT).toBeLessThanOrEqual(2 * RTT + SEND_PERIOD_MS);
    expect(atA!.at - FAIL_AT).toBeLessThanOrEqual(3 * RTT + SEND_PERIOD_MS);
    // Packets in flight to A when its link went down are lost too.
    checkData(f, [[FAIL_AT, ra.lastFailover!.at]], [[FAIL_AT - DELAY_MS, onlyEventAt(f, 'failover', 'B')]]);
    expectFlowing(f);
    await expect(reapTranscript(f)).toMatchFileSnapshot('./transcripts/reap-fast-link-down.txt');
  });

  it('rfc: no local signals; the Send Timeout finds the failure, and no pair uses A any more', async () => {
    const f = await reapFlow({ reap: { mode: 'rfc' } });
    const { sim, a, b } = f;
    sim.at(FAIL_AT, () => a.setLinkState(addr(f.a1), false));
    sim.run(FAIL_AT + RFC.sendTimeoutMs - RTT - 1);
    expect(f.events.filter((e) => e.event === 'exploring')).toEqual([]);
    expect(reap(a, b).state).toBe('Operational');
    expect(currentPair(f, a, b)).toBe('A→B');

    sim.run(FAIL_AT + RFC_BOUND_MS + 2_000);
    const explore = eventsOf(f, 'exploring');
    expect(explore.map((e) => e.detail)).toEqual(['send-timeout']);
    expect(explore[0]!.at).toBeLessThanOrEqual(FAIL_AT + maxSendTimeout(RFC));
    expectConverged(f, 'A.2→B.2', 'B.2→A.2');
    const { atB, atA } = firstNewDelivery(f, FAIL_AT);
    expect(atB!.at - FAIL_AT).toBeLessThanOrEqual(RFC_BOUND_MS);
    expect(atA!.at - FAIL_AT).toBeLessThanOrEqual(RFC_BOUND_MS);
    checkData(f, [[FAIL_AT, onlyEventAt(f, 'failover', 'A')]], [[FAIL_AT - DELAY_MS, onlyEventAt(f, 'failover', 'B')]]);
    expectFlowing(f);
    await expect(reapTranscript(f)).toMatchFileSnapshot('./transcripts/reap-rfc-link-down.txt');
  });
});

describe('REAP: unidirectional paths only (RFC 5534 §4.2: per-direction pairs)', () => {
  for (const mode of ['fast', 'rfc'] as const) {
    it(`${mode}: only A.2→B and B.2→A work; A uses A.2→B, B uses B.2→A`, async () => {
      const f = await reapFlow({ reap: { mode } });
      const { sim, a, b } = f;
      const dead = allDirectedPairs(f).filter(([x, y]) => !(x === f.a2 && y === f.b1) && !(x === f.b2 && y === f.a1));
      expect(dead).toHaveLength(6);
      sim.at(FAIL_AT, () => setDown(f, dead, true, 'only A.2→B and B.2→A work'));
      sim.run(FAIL_AT + bound(mode) + 2_000);

      expectConverged(f, 'A.2→B', 'B.2→A');
      const ra = reap(a, b);
      const rb = reap(b, a);
      expect([ra.stats.explorations, rb.stats.explorations]).toEqual([1, 1]);
      expect([ra.stats.failovers, rb.stats.failovers]).toEqual([1, 1]);
      // Each end tried pairs that do not work before the one that does.
      expect(probesFrom(f, a, FAIL_AT).some((p) => p.src === 'A.2' && p.dst === 'B.2')).toBe(true);
      expect(probesFrom(f, b, FAIL_AT).some((p) => p.src === 'B.2' && p.dst === 'A.2')).toBe(true);
      // Sequential probing (§4.3): neither end needed more than one round over its 4 pairs.
      expect(ra.stats.probesSent).toBeLessThanOrEqual(4);
      expect(rb.stats.probesSent).toBeLessThanOrEqual(4);

      // Data flows both ways, each direction on its own pair.
      const { atB, atA } = firstNewDelivery(f, FAIL_AT);
      expect(atB!.at - FAIL_AT).toBeLessThanOrEqual(bound(mode));
      expect(atA!.at - FAIL_AT).toBeLessThanOrEqual(bound(mode));
      expect(atB!.tagged && atA!.tagged).toBe(true);
      checkData(f, [[FAIL_AT, ra.lastFailover!.at]], [[FAIL_AT, rb.lastFailover!.at]]);
      expectFlowing(f);
      await expect(reapTranscript(f)).toMatchFileSnapshot(`./transcripts/reap-${mode}-unidirectional.txt`);
    });
  }
});

describe('REAP: flapping (fast profile; probe budget and flap damping)', () => {
  const FLAP_END = FAIL_AT + 10_000;

  /** Down at FAIL_AT, up `half` later, down again..., for 10 s; then up for good. Returns the down windows in send time. */
  function flap(f: Flow, from: string, to: string, half: number, label: string): [number, number][] {
    const windows: [number, number][] = [];
    let down = false;
    for (let t = FAIL_AT; t < FLAP_END; t += half) {
      down = !down;
      const d = down;
      if (d) windows.push([t, Math.min(t + half, FLAP_END) - 1]);
      f.sim.at(t, () => setDown(f, [[from, to]], d, `${label} ${d ? 'down' : 'up'}`));
    }
    f.sim.at(FLAP_END, () => setDown(f, [[from, to]], false, `${label} up for good`));
    return windows;
  }

  it('A→B of the current pair down/up every 300 ms for 10 s: below the Send Timeout, no exploration at all', async () => {
    const f = await reapFlow({ reap: { mode: 'fast' } });
    const { sim, a, b } = f;
    const windows = flap(f, f.a1, f.b1, 300, 'A→B');
    // Each outage (300 ms) is shorter than the Send Timeout (400-440 ms) less one RTT,
    // so the answers come back before any Send Timer fires: FBD sees no failure.
    expect(300 + RTT).toBeLessThan(FAST.sendTimeoutMs);
    sim.run(FLAP_END + 5_000);

    expect(f.events.filter((e) => e.event !== 'established')).toEqual([]);
    expectConverged(f, 'A→B', 'B→A');
    for (const r of [reap(a, b), reap(b, a)]) {
      expect(r.stats.probesSent).toBe(0);
      expect(r.stats.failovers + r.stats.failbacks).toBe(0);
    }
    // Data keeps being delivered: only what was sent while A→B was down is missing.
    const { lostData, lostAnswers } = checkData(f, windows, []);
    expect(lostData).toHaveLength(windows.length * (300 / SEND_PERIOD_MS));
    expect(lostAnswers).toEqual([]);
    expectFlowing(f);
    await expect(reapTranscript(f)).toMatchFileSnapshot('./transcripts/reap-fast-flap-300ms.txt');
  });

  it('every A→B path down/up every 1 s for 10 s: probing stays bounded, damped, and the context ends Operational', async () => {
    const run = async (reapOverride: Partial<ReapConfig>) => {
      const f = await reapFlow({ reap: { mode: 'fast', ...reapOverride } });
      const windows = flap(f, 'A', 'B', 1_000, 'every A→B path');
      f.sim.run(FLAP_END);
      const during = [reap(f.a, f.b).stats.probesSent, reap(f.b, f.a).stats.probesSent] as const;
      f.sim.run(FLAP_END + 45_000);
      return { f, windows, during };
    };
    const { f, windows, during } = await run({});
    const { a, b } = f;

    // The probe budget (a bucket of probeBurst refilled every minProbeGapMs) bounds any
    // host hard (204 probes in 10 s). Flap damping keeps it far below: explorationQuietMs
    // (30 s) exceeds the 10 s of flapping, so every exploration after the first keeps the
    // back-off reached so far instead of restarting at the Initial Probe Timeout, and a
    // host sends no more than one initial burst (initialProbes) per outage over the whole
    // window. Without damping the same flapping exceeds that.
    const budget = FAST.probeBurst + (FLAP_END - FAIL_AT) / FAST.minProbeGapMs;
    const outages = windows.length;
    const damped = outages * FAST.initialProbes;
    for (const n of during) {
      expect(n).toBeLessThanOrEqual(budget);
      expect(n).toBeLessThanOrEqual(damped);
    }
    expect(eventsOf(f, 'exploring').filter((e) => e.detail?.includes('back-off kept')).length).toBeGreaterThan(0);
    const undamped = await run({ explorationQuietMs: 0 });
    expect(during[0] + during[1]).toBeLessThan(undamped.during[0] + undamped.during[1]);
    expect(Math.max(...undamped.during)).toBeGreaterThan(damped);

    // The pair may change once per outage at most (each exploration settles on one
    // confirmed pair), and there is no failback in the window: the primary never
    // answered for a whole hold-down while flapping.
    for (const [host, peer] of [[a, b], [b, a]] as const) {
      const r = reap(host, peer);
      expect(r.stats.failovers).toBeLessThanOrEqual(outages);
      expect(r.stats.failbacks).toBeLessThanOrEqual(1);
      const fb = eventsOf(f, 'failback', host.name).map((e) => e.at);
      for (let i = 1; i < fb.length; i++) expect(fb[i]! - fb[i - 1]!).toBeGreaterThanOrEqual(FAST.failbackHoldDownMs);
      expect(fb.every((t) => t >= FLAP_END)).toBe(true);
    }
    // At the end: Operational on both ends, data flowing; only data sent while every A→B
    // path was down is missing, and every answer arrived.
    expect(reap(a, b).state).toBe('Operational');
    expect(reap(b, a).state).toBe('Operational');
    const { lostData, lostAnswers } = checkData(f, windows, []);
    expect(lostData.length).toBeGreaterThan(0);
    expect(lostAnswers).toEqual([]);
    expect(firstNewDelivery(f, FLAP_END).atB!.at - FLAP_END).toBeLessThanOrEqual(RTT);
    expectFlowing(f);
    await expect(reapTranscript(f)).toMatchFileSnapshot('./transcripts/reap-fast-flap-1s.txt');
  });

  it('only the primary pair A→B flaps every 1 s: one failover, and one failback only after a whole hold-down', async () => {
    const f = await reapFlow({ reap: { mode: 'fast' } });
    const { sim, a, b } = f;
    const windows = flap(f, f.a1, f.b1, 1_000, 'A→B');
    sim.run(FLAP_END + 3 * FAST.failbackHoldDownMs);
    const ra = reap(a, b);
    expect(ra.stats.failovers).toBe(1);
    expect(ra.stats.failbacks).toBe(1);
    const away = eventsOf(f, 'failover', 'A')[0]!.at;
    const back = onlyEventAt(f, 'failback', 'A');
    expect(back - away).toBeGreaterThanOrEqual(FAST.failbackHoldDownMs);
    expectConverged(f, 'A→B', 'B→A');
    checkData(f, [[windows[0]![0], away]], []);
    expectFlowing(f);
  });
});

describe('REAP: every pair dead for 60 s, then one repaired (fast profile)', () => {
  it('probes keep going at the back-off cap during the outage; data flows within one cap after the repair', async () => {
    const f = await reapFlow({ reap: { mode: 'fast' } });
    const { sim, a, b } = f;
    const REPAIR_AT = FAIL_AT + 60_000;
    const repaired: [string, string][] = [[f.a2, f.b2], [f.b2, f.a2]];
    sim.at(FAIL_AT, () => setDown(f, allDirectedPairs(f), true, 'every pair down'));
    sim.at(REPAIR_AT, () => setDown(f, repaired, false, 'A.2↔B.2 repaired'));
    sim.run(REPAIR_AT + FAST.maxProbeTimeoutMs + 2_000);

    // fast: the cap is per pair (maxProbeTimeoutMs between two probes on one pair), so
    // with 4 pairs a host probes every maxProbeTimeoutMs / 4, jittered.
    const pairs = 4;
    const capSpacing = probeSpacing(100, pairs, FAST, 0.5);
    expect(capSpacing).toBe(FAST.maxProbeTimeoutMs / pairs);
    for (const host of [a, b]) {
      const probes = probesFrom(f, host, FAIL_AT, REPAIR_AT);
      // Initial probes at the Initial Probe Timeout, doubling, then the cap: the 9th probe on.
      const gaps = probes.slice(1).map((p, i) => p.at - probes[i]!.at);
      expect(gaps.slice(0, 4)).toEqual([200, 200, 200, 200]);
      for (const g of gaps.slice(7)) {
        expect(g).toBeGreaterThanOrEqual(capSpacing * (1 - FAST.probeJitter));
        expect(g).toBeLessThanOrEqual(capSpacing * (1 + FAST.probeJitter));
      }
      // 60 s: 8 probes before the cap (3.6 s), then one per capSpacing ± jitter.
      const rest = REPAIR_AT - probes[0]!.at - 3_600;
      expect(probes.length).toBeGreaterThanOrEqual(8 + Math.floor(rest / (capSpacing * (1 + FAST.probeJitter))));
      expect(probes.length).toBeLessThanOrEqual(8 + Math.ceil(rest / (capSpacing * (1 - FAST.probeJitter))));
      // Round robin: every pair is probed at least once per maxProbeTimeoutMs (+ jitter).
      const byPair = new Map<string, number[]>();
      for (const p of probes) byPair.set(`${p.src}→${p.dst}`, [...(byPair.get(`${p.src}→${p.dst}`) ?? []), p.at]);
      expect(byPair.size).toBe(pairs);
      for (const times of byPair.values()) {
        for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeLessThanOrEqual(FAST.maxProbeTimeoutMs * (1 + FAST.probeJitter));
      }
    }
    expect(reap(a, b).stats.probesDeferred + reap(b, a).stats.probesDeferred).toBe(0);

    expectConverged(f, 'A.2→B.2', 'B.2→A.2');
    const { atB, atA } = firstNewDelivery(f, REPAIR_AT);
    const limit = FAST.maxProbeTimeoutMs * (1 + FAST.probeJitter) + 2 * RTT + SEND_PERIOD_MS;
    expect(atB!.at - REPAIR_AT).toBeLessThanOrEqual(limit);
    expect(atA!.at - REPAIR_AT).toBeLessThanOrEqual(limit);
    checkData(f, [[FAIL_AT, reap(a, b).lastFailover!.at]], [[FAIL_AT, reap(b, a).lastFailover!.at]]);
    expectFlowing(f);
    await expect(reapTranscript(f)).toMatchFileSnapshot('./transcripts/reap-fast-outage-60s.txt');
  });
});

describe('REAP: a peer locator update during exploration (RFC 5534 §4.1, RFC 5533 §10.4)', () => {
  it('B advertises B.3 while A explores; A probes B.3 by its own exploration order and moves to it', async () => {
    const f = await reapFlow({ reap: { mode: 'fast' } });
    const { sim, a, b } = f;
    const UPDATE_AT = FAIL_AT + 1_000;
    // Everything towards B's old locators fails; B→A still works (so B's Update Request
    // reaches A), but B.3→A does not: A cannot just answer a probe from B.3, it has to
    // find a pair towards B.3 itself.
    const dead: [string, string][] = [...allDirectedPairs(f).filter(([, y]) => y === f.b1 || y === f.b2), [f.b3, f.a1], [f.b3, f.a2]];
    sim.at(FAIL_AT, () => setDown(f, dead, true, 'every path to B and B.2 fails; B.3→A too'));
    sim.at(UPDATE_AT, () => {
      expect(reap(a, b).state).not.toBe('Operational');
      sim.note('B advertises B.3');
      b.setLocalLocators(b.ulid, f.locsB);
    });
    // fast: a pair is probed at least once per maxProbeTimeoutMs (jittered) while exploring;
    // then one probe exchange.
    const limit = FAST.maxProbeTimeoutMs * (1 + FAST.probeJitter) + 4 * RTT;
    sim.run(UPDATE_AT + limit + 2_000);

    expect(ctx(a, b).lsPeer.map((l) => sim.label(l.address))).toEqual(['B', 'B.2', 'B.3']);
    expect(probesFrom(f, a, FAIL_AT, UPDATE_AT).some((p) => p.dst === 'B.3')).toBe(false);
    expect(probesFrom(f, a, UPDATE_AT).filter((p) => p.dst === 'B.3').length).toBeGreaterThan(0);
    expect(reap(a, b).state).toBe('Operational');
    expect(reap(b, a).state).toBe('Operational');
    // A sends to B.3 (the only locator of B it can reach); B sends from B or B.2 (B.3→A is dead).
    expect(currentPair(f, a, b)).toMatch(/^A(\.2)?→B\.3$/);
    expect(currentPair(f, b, a)).toMatch(/^B(\.2)?→A(\.2)?$/);
    expect(sim.label(reap(a, b).lastFailover!.to.peer)).toBe('B.3');
    const { atB } = firstNewDelivery(f, UPDATE_AT);
    expect(atB!.at - UPDATE_AT).toBeLessThanOrEqual(limit);
    // B's answers never stopped (B→A works); only data sent before A switched is lost.
    checkData(f, [[FAIL_AT, reap(a, b).lastFailover!.at]], [[FAIL_AT, reap(b, a).lastFailover?.at ?? FAIL_AT]]);
    expectFlowing(f);
    await expect(reapTranscript(f)).toMatchFileSnapshot('./transcripts/reap-fast-peer-update.txt');
  });
});

describe('REAP: upper-layer hints (fast profile with a 10 s Send Timeout)', () => {
  const LONG = { mode: 'fast', sendTimeoutMs: 10_000 } as const;

  it('two ULP retransmissions after the failure start exploring at once (ulp-hint)', async () => {
    const f = await reapFlow({ reap: LONG });
    const { sim, a, b } = f;
    sim.at(FAIL_AT, () => setDown(f, [[f.a1, f.b1]], true, 'A→B is lost silently'));
    sim.at(FAIL_AT + 200, () => a.ulpRetransmit(b.ulid));
    sim.at(FAIL_AT + 250, () => {
      expect(eventsOf(f, 'exploring')).toEqual([]);
      a.ulpRetransmit(b.ulid);
      expect(eventsOf(f, 'exploring', 'A').map((e) => [e.at, e.detail])).toEqual([[FAIL_AT + 250, 'ulp-hint']]);
    });
    sim.run(FAIL_AT + 3_000);
    expectConverged(f, 'A.2→B.2', 'B.2→A.2');
    expect(reap(a, b).lastFailover!.reason).toBe('ulp-hint');
    expect(a.engine.counters()['reap.ulp-retransmit']).toBe(2);
    const { atB } = firstNewDelivery(f, FAIL_AT);
    expect(atB!.at - (FAIL_AT + 250)).toBeLessThanOrEqual(3 * RTT + SEND_PERIOD_MS);
    checkData(f, [[FAIL_AT, reap(a, b).lastFailover!.at]], []);
    expectFlowing(f);
    await expect(reapTranscript(f)).toMatchFileSnapshot('./transcripts/reap-fast-ulp-hint.txt');
  });

  it('with ulpRetransmitThreshold 0 the hints change nothing: the 10 s Send Timeout finds the failure', async () => {
    const f = await reapFlow({ reap: { ...LONG, ulpRetransmitThreshold: 0 } });
    const { sim, a, b } = f;
    sim.at(FAIL_AT, () => setDown(f, [[f.a1, f.b1]], true, 'A→B is lost silently'));
    for (const t of [200, 250, 300, 1_000]) sim.at(FAIL_AT + t, () => a.ulpRetransmit(b.ulid));
    sim.run(FAIL_AT + LONG.sendTimeoutMs - RTT - 1);
    expect(eventsOf(f, 'exploring')).toEqual([]);
    expect(currentPair(f, a, b)).toBe('A→B');
    sim.run(FAIL_AT + 15_000);
    const explore = eventsOf(f, 'exploring');
    expect(explore.map((e) => e.detail)).toEqual(['send-timeout']);
    expect(explore[0]!.at).toBeLessThanOrEqual(FAIL_AT + LONG.sendTimeoutMs * (1 + FAST.sendTimeoutJitter));
    expectConverged(f, 'A.2→B.2', 'B.2→A.2');
    checkData(f, [[FAIL_AT, reap(a, b).lastFailover!.at]], []);
    expectFlowing(f);
  });
});

describe('REAP: failback to the primary pair', () => {
  it('fast: A fails back to A→B only after the primary answered for failbackHoldDownMs', async () => {
    const f = await reapFlow({ reap: { mode: 'fast' } });
    const { sim, a, b } = f;
    const REPAIR_AT = FAIL_AT + 20_000;
    sim.at(FAIL_AT, () => setDown(f, [[f.a1, f.b1]], true, 'A→B is lost silently'));
    sim.at(REPAIR_AT, () => setDown(f, [[f.a1, f.b1]], false, 'A→B repaired'));
    sim.run(REPAIR_AT + FAST.failbackHoldDownMs - 1);
    expect(currentPair(f, a, b)).toBe('A.2→B.2');
    expect(reap(a, b).stats.failbacks).toBe(0);
    expect(reap(a, b).failback).toBeDefined();

    sim.run(REPAIR_AT + FAST.failbackHoldDownMs + FAST.failbackProbeIntervalMs + 1_000);
    const back = onlyEventAt(f, 'failback', 'A');
    // The first failback probe after the repair starts the hold-down.
    expect(back).toBeGreaterThanOrEqual(REPAIR_AT + FAST.failbackHoldDownMs);
    expect(back).toBeLessThanOrEqual(REPAIR_AT + FAST.failbackProbeIntervalMs + FAST.failbackHoldDownMs + RTT);
    expectConverged(f, 'A→B', 'B→A');
    const ra = reap(a, b);
    expect(ra.stats.failbacks).toBe(1);
    expect(ra.lastFailover!.reason).toBe('failback');
    expect(ra.failback).toBeUndefined();
    // B→A never failed: B's own failback needed no repair.
    expect(onlyEventAt(f, 'failback', 'B')).toBeLessThan(REPAIR_AT + FAST.failbackHoldDownMs);
    // Failing back loses nothing (the primary answered before the switch).
    checkData(f, [[FAIL_AT, eventsOf(f, 'failover', 'A')[0]!.at]], []);
    // And nothing more to probe once back on the primary.
    const after = probesFrom(f, a, back + 1);
    expect(after).toEqual([]);
    expectFlowing(f);
    await expect(reapTranscript(f)).toMatchFileSnapshot('./transcripts/reap-fast-failback.txt');
  });

  it('rfc: never fails back', async () => {
    const f = await reapFlow({ reap: { mode: 'rfc' } });
    const { sim, a, b } = f;
    const REPAIR_AT = FAIL_AT + 20_000;
    sim.at(FAIL_AT, () => setDown(f, [[f.a1, f.b1]], true, 'A→B is lost silently'));
    sim.at(REPAIR_AT, () => setDown(f, [[f.a1, f.b1]], false, 'A→B repaired'));
    sim.run(REPAIR_AT + 4 * FAST.failbackHoldDownMs);
    expectConverged(f, 'A.2→B.2', 'B.2→A.2');
    expect(eventsOf(f, 'failback')).toEqual([]);
    expect(reap(a, b).failback).toBeUndefined();
    expect(reap(a, b).stats.probesSent + reap(b, a).stats.probesSent).toBe(3);
    expect(probesFrom(f, a, REPAIR_AT)).toEqual([]);
    checkData(f, [[FAIL_AT, reap(a, b).lastFailover!.at]], []);
    expectFlowing(f);
    await expect(reapTranscript(f)).toMatchFileSnapshot('./transcripts/reap-rfc-no-failback.txt');
  });
});

describe('REAP: forged probes (RFC 5534 §5.2 nonces, §8)', () => {
  function forgedProbe(tag: number, sent: ProbeReport, received: ProbeReport): ProbeMessage {
    return { kind: 'Probe', nextHeader: NO_NXT_HDR, reserved1: 0, r: 0, receiverContextTag: tag, state: ProbeState.InboundOk, reserved2: 0, sent: [sent], received: [received], options: [] };
  }

  it('Operational: an InboundOk probe reporting a probe A never sent leaves the pair and the flow alone', async () => {
    const f = await reapFlow({ reap: { mode: 'fast' } });
    const { sim, a, b } = f;
    const [a2, b2] = [addr(f.a2), addr(f.b2)];
    sim.at(FAIL_AT, () => {
      sim.note('forged Probe InboundOk B.2→A.2 reporting A.2→B.2 with a made-up nonce');
      const m = forgedProbe(ctx(a, b).ctLocal, { source: b2, destination: a2, nonce: 0x5eed5eed, data: 0 }, { source: a2, destination: b2, nonce: 0x0badf00d, data: 0 });
      sim.inject(encodeControlPacket({ source: b2, destination: a2 }, m));
    });
    sim.run(FAIL_AT + 3_000);
    expect(a.engine.counters()['rx.Probe']).toBe(1);
    expectConverged(f, 'A→B', 'B→A');
    expect(reap(a, b).stats.failovers).toBe(0);
    expect(reap(a, b).lastFailover).toBeUndefined();
    const { lostData, lostAnswers } = checkData(f, [], []);
    expect(lostData.length + lostAnswers.length).toBe(0);
    expectFlowing(f);
    await expect(reapTranscript(f)).toMatchFileSnapshot('./transcripts/reap-forged-probe.txt');
  });

  /** A→B fails on every path, so A explores; B→A still carries (forged) probes. Returns A's last probe on A.2→B.2. */
  async function exploringA() {
    const f = await reapFlow({ reap: { mode: 'fast' } });
    const dead = allDirectedPairs(f).filter(([x]) => x === f.a1 || x === f.a2);
    f.sim.at(FAIL_AT, () => setDown(f, dead, true, 'every A→B path fails'));
    f.sim.run(FAIL_AT + 1_000);
    expect(reap(f.a, f.b).state).not.toBe('Operational');
    const mine = probeMessagesFrom(f, f.a, FAIL_AT).filter((p) => f.sim.label(p.src) === 'A.2' && f.sim.label(p.dst) === 'B.2').at(-1)!;
    return { f, dead, mine: mine.probe.sent[0]! };
  }

  function injectReport(f: Flow, mine: ProbeReport, nonce: number): void {
    const [a2, b2] = [addr(f.a2), addr(f.b2)];
    const m = forgedProbe(ctx(f.a, f.b).ctLocal, { source: b2, destination: a2, nonce: 0x5eed5eed, data: 0 }, { ...mine, nonce });
    f.sim.inject(encodeControlPacket({ source: b2, destination: a2 }, m));
  }

  it('Exploring: a forged report of A.2→B.2 with a wrong nonce does not move A; the repaired pair does', async () => {
    const { f, dead, mine } = await exploringA();
    const { sim, a, b } = f;
    sim.note('forged Probe InboundOk B.2→A.2 reporting A\'s last probe A.2→B.2 with the nonce off by one bit');
    injectReport(f, mine, (mine.nonce ^ 1) >>> 0);
    sim.runFor(RTT);
    expect(currentPair(f, a, b)).toBe('A→B');
    expect(reap(a, b).stats.failovers).toBe(0);

    const REPAIR_AT = sim.now + 1_000;
    sim.at(REPAIR_AT, () => setDown(f, dead, false, 'A→B paths repaired'));
    sim.run(REPAIR_AT + FAST_BOUND_MS + 2_000);
    expect(reap(a, b).state).toBe('Operational');
    expect(reap(b, a).state).toBe('Operational');
    expect(reap(a, b).stats.failovers).toBeLessThanOrEqual(1);
    const { atB } = firstNewDelivery(f, REPAIR_AT);
    expect(atB!.at - REPAIR_AT).toBeLessThanOrEqual(FAST_BOUND_MS);
    checkData(f, [[FAIL_AT, REPAIR_AT]], []);
    expectFlowing(f);
    await expect(reapTranscript(f)).toMatchFileSnapshot('./transcripts/reap-forged-probe-exploring.txt');
  });

  it('control: the same forged report with the right nonce does move A (the nonce, not luck, refuses the forgery)', async () => {
    const { f, mine } = await exploringA();
    injectReport(f, mine, mine.nonce);
    f.sim.runFor(RTT);
    expect(currentPair(f, f.a, f.b)).toBe('A.2→B.2');
    expect(reap(f.a, f.b).stats.failovers).toBe(1);
  });
});
