/**
 * REAP in the Exploring state: one test per event of RFC 5534 §6.1-6.9, each named after
 * its table cell. The `rfc` profile with exact timers (reap.util.ts). Exploring is reached
 * as §6.4 describes: a payload packet sent at T = 10 000, no return traffic, the Send
 * Timer fires at tE = T + 15 750 and the first probe goes to A2>B2 (the pair most
 * different from the failed A1>B1, pairs.ts).
 */
import { describe, expect, it } from 'vitest';
import { reapIgnores } from '../../src/reap/machine.js';
import { ProbeState } from '../../src/wire/constants.js';
import {
  A1,
  A2,
  B1,
  B2,
  FIRST_NONCE,
  NO_TIMERS,
  PRIMARY,
  Reap,
  echo,
  onlyProbe,
  pairOf,
  peerProbe,
  probesOf,
  report,
  rfcEnv,
  summary,
  timers,
  toExploring,
  type SendProbe,
  T,
  SEND,
  KT,
  KI,
} from './reap.util.js';

const N0 = FIRST_NONCE;

function exploring(): { readonly r: Reap; readonly tE: number; readonly first: SendProbe } {
  const { reap, at, first } = toExploring(rfcEnv(), T);
  expect(at).toBe(T + SEND);
  return { r: reap, tE: at, first };
}

describe('Exploring', () => {
  it('§6: in Exploring no timer runs (only the probe schedule of §4.3)', () => {
    const { r, tE, first } = exploring();
    expect(timers(r.r)).toEqual({ ...NO_TIMERS, nextProbeAt: tE + 500 });
    expect(first.state).toBe('Exploring');
    expect(first.sent).toEqual([report(A2, B2, N0)]);
    expect(r.deadline()).toBe(tE + 500);
  });

  describe('§6.1 incoming payload packet', () => {
    it('§6.1 Exploring: SEND Probe InboundOk, START Send, GOTO InboundOk', () => {
      const { r, tE } = exploring();
      const res = r.step({ kind: 'payload-received' }, tE + 100);
      expect(summary(res.actions)).toEqual(['notify inbound-ok', 'probe InboundOk A2>B1']);
      const p = onlyProbe(res.actions);
      // §6.1: Psent repeats the recent probes not yet reported as seen by the peer.
      expect(p.sent).toEqual([report(A2, B1, N0 + 1), report(A2, B2, N0)]);
      // No probe of the peer arrived since the transition to Exploring.
      expect(p.received).toEqual([]);
      expect(r.r.state).toBe('InboundOk');
      // The retransmission already due at tE + 500 is not pushed back by the extra probe.
      expect(timers(r.r)).toEqual({ sendTimerAt: tE + 100 + SEND, keepaliveTimerAt: undefined, nextKeepaliveAt: undefined, nextProbeAt: tE + 500 });
      expect(r.current).toEqual(PRIMARY);
    });
  });

  describe('§6.2 outgoing payload packet', () => {
    it('§6.2 Exploring: - (no effect)', () => {
      const { r, tE } = exploring();
      const before = r.r;
      expect(reapIgnores(before, { kind: 'payload-sent' })).toBe(true);
      const res = r.step({ kind: 'payload-sent' }, tE + 100);
      expect(res.reap).toBe(before);
      expect(res.actions).toEqual([]);
      expect(r.r.sendTimerAt).toBeUndefined();
    });
  });

  describe('§6.3 Keepalive Timeout', () => {
    it('§6.3 Exploring: - (the Keepalive Timer is stopped on the way in and no timeout ever sends a Keepalive)', () => {
      const r = new Reap(rfcEnv());
      r.step({ kind: 'payload-received' }, T);
      r.step({ kind: 'payload-sent' }, T + 1_000);
      r.fire();
      expect(r.r.state).toBe('Exploring');
      expect(r.r.keepaliveTimerAt).toBeUndefined();
      const out = r.runUntil(T + 120_000);
      expect(out.length).toBe(10);
      expect(new Set(out.map((x) => summary([x.action])[0]!.split(' ').slice(0, 2).join(' ')))).toEqual(new Set(['probe Exploring']));
      expect(r.r.stats.keepalivesSent).toBe(0);
    });
  });

  describe('§6.4 Send Timeout', () => {
    it('§6.4 Exploring: - (the Send Timer is not running: a timeout before the next probe does nothing)', () => {
      const { r, tE } = exploring();
      const before = r.r;
      const res = r.step({ kind: 'timeout' }, tE + 499);
      expect(res.reap).toBe(before);
      expect(res.actions).toEqual([]);
    });
  });

  describe('§6.5 retransmission', () => {
    it('§6.5 Exploring: SEND Probe Exploring (to the next pair of the order, §4.3)', () => {
      const { r, tE } = exploring();
      const res = r.step({ kind: 'timeout' }, tE + 500);
      expect(summary(res.actions)).toEqual(['probe Exploring A2>B1']);
      expect(onlyProbe(res.actions).sent).toEqual([report(A2, B1, N0 + 1), report(A2, B2, N0)]);
      expect(r.r.state).toBe('Exploring');
      expect(timers(r.r)).toEqual({ ...NO_TIMERS, nextProbeAt: tE + 1_000 });
    });

    it('§6.5 Exploring: every pair in turn, then again from the first (§4.3 "retry the process")', () => {
      const { r, tE } = exploring();
      const out = r.runUntil(tE + 5_000);
      expect(out.map((x) => [x.at - tE, summary([x.action])[0]])).toEqual([
        [500, 'probe Exploring A2>B1'],
        [1_000, 'probe Exploring A1>B2'],
        [1_500, 'probe Exploring A1>B1'],
        [2_000, 'probe Exploring A2>B2'],
        [3_000, 'probe Exploring A2>B1'],
        [5_000, 'probe Exploring A1>B2'],
      ]);
    });
  });

  describe('§6.6 reception of the Keepalive message', () => {
    it('§6.6 Exploring: SEND Probe InboundOk, START Send, GOTO InboundOk', () => {
      const { r, tE } = exploring();
      const res = r.step({ kind: 'keepalive-received' }, tE + 100);
      expect(summary(res.actions)).toEqual(['notify inbound-ok', 'probe InboundOk A2>B1']);
      expect(onlyProbe(res.actions).state).toBe('InboundOk');
      expect(r.r.state).toBe('InboundOk');
      expect(timers(r.r)).toEqual({ sendTimerAt: tE + 100 + SEND, keepaliveTimerAt: undefined, nextKeepaliveAt: undefined, nextProbeAt: tE + 500 });
    });
  });

  describe('§6.7 reception of the Probe message State=Exploring', () => {
    it('§6.7 Exploring: SEND Probe InboundOk, START Send, GOTO InboundOk', () => {
      const { r, tE } = exploring();
      const res = r.step(peerProbe(ProbeState.Exploring, B2, A2, 0xb001), tE + 100);
      expect(summary(res.actions)).toEqual(['notify inbound-ok', 'probe InboundOk A2>B2']);
      const p = onlyProbe(res.actions);
      expect(p.sent).toEqual([report(A2, B2, N0 + 1), report(A2, B2, N0)]);
      expect(p.received).toEqual([report(B2, A2, 0xb001)]);
      expect(r.r.state).toBe('InboundOk');
      expect(timers(r.r)).toEqual({ sendTimerAt: tE + 100 + SEND, keepaliveTimerAt: undefined, nextKeepaliveAt: undefined, nextProbeAt: tE + 500 });
      // The exploration this host started goes on (its reason and failed pair are kept).
      expect(r.r.exploring).toEqual({ since: tE, reason: 'send-timeout', failed: PRIMARY, local: false });
    });
  });

  describe('§6.8 reception of the Probe message State=InboundOk', () => {
    it('§6.8 Exploring: SEND Probe Operational, RESTART Send, GOTO Operational; the new current pair is the reported one', () => {
      const { r, tE, first } = exploring();
      const res = r.step(peerProbe(ProbeState.InboundOk, B2, A2, 0xb001, [echo(first)]), tE + 100);
      expect(summary(res.actions)).toEqual(['switch A2>B2', 'notify failover', 'notify operational', 'probe Operational A2>B2']);
      const p = onlyProbe(res.actions);
      // The reported probe is no longer repeated in Psent (§6.1 "not yet reported as seen").
      expect(p.sent).toEqual([report(A2, B2, N0 + 1)]);
      expect(p.received).toEqual([report(B2, A2, 0xb001)]);
      expect(r.r.state).toBe('Operational');
      expect(timers(r.r)).toEqual({ sendTimerAt: tE + 100 + SEND, keepaliveTimerAt: undefined, nextKeepaliveAt: undefined, nextProbeAt: undefined });
      expect(r.current).toEqual(pairOf(A2, B2));
      expect(r.r.exploring).toBeUndefined();
      expect(r.r.exploredUntil).toBe(tE + 100);
      expect(r.r.lastFailover).toEqual({ at: tE + 100, from: PRIMARY, to: pairOf(A2, B2), durationMs: 100, reason: 'send-timeout' });
      expect(r.r.stats.failovers).toBe(1);
    });

    it('§6.8 Exploring: "If no received probes have been reported, the current address pair is unchanged"', () => {
      const { r, tE } = exploring();
      const res = r.step(peerProbe(ProbeState.InboundOk, B1, A1, 0xb001), tE + 100);
      expect(summary(res.actions)).toEqual(['notify operational', 'probe Operational A1>B1']);
      expect(r.r.state).toBe('Operational');
      expect(r.r.sendTimerAt).toBe(tE + 100 + SEND);
      expect(r.current).toEqual(PRIMARY);
    });

    it('§6.8 Exploring: with two of our probes reported, the better-ranked pair (RFC 6724 and list order) becomes current', () => {
      const { r, tE, first } = exploring();
      const second = onlyProbe(r.fire().actions);
      expect(summary([second])).toEqual(['probe Exploring A2>B1']);
      const res = r.step(peerProbe(ProbeState.InboundOk, B2, A2, 0xb001, [echo(first), echo(second)]), tE + 600);
      // Without a failed pair, ties break by list order: (A1,B1) (A1,B2) (A2,B1) (A2,B2).
      expect(summary(res.actions)).toEqual(['switch A2>B1', 'notify failover', 'notify operational', 'probe Operational A2>B1']);
      expect(r.current).toEqual(pairOf(A2, B1));
    });
  });

  describe('§6.9 reception of the Probe message State=Operational', () => {
    it('§6.9 Exploring: STOP Send, START Keepalive, GOTO Operational', () => {
      const { r, tE } = exploring();
      const res = r.step(peerProbe(ProbeState.Operational, B1, A1, 0xb001), tE + 100);
      expect(summary(res.actions)).toEqual(['notify operational']);
      expect(probesOf(res.actions)).toEqual([]);
      expect(r.r.state).toBe('Operational');
      expect(timers(r.r)).toEqual({ sendTimerAt: undefined, keepaliveTimerAt: tE + 100 + KT, nextKeepaliveAt: tE + 100 + KI, nextProbeAt: undefined });
      expect(r.current).toEqual(PRIMARY);
    });

    it('§6.9 Exploring: a report of our probe in the Operational probe moves the current pair too', () => {
      const { r, tE, first } = exploring();
      const res = r.step(peerProbe(ProbeState.Operational, B2, A2, 0xb001, [echo(first)]), tE + 100);
      expect(summary(res.actions)).toEqual(['switch A2>B2', 'notify failover', 'notify operational']);
      expect(r.current).toEqual(pairOf(A2, B2));
      expect(r.r.keepaliveTimerAt).toBe(tE + 100 + KT);
    });
  });
});
