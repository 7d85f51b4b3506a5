/**
 * REAP in the Operational state: one test per event of RFC 5534 §6.1-6.9, each named
 * after its table cell. The `rfc` profile with exact timers (reap.util.ts): Send Timer
 * 15 750 ms, Keepalive Timeout 15 000 ms, Keepalive Interval 6 250 ms, Initial Probe
 * Timeout 500 ms.
 */
import { describe, expect, it } from 'vitest';
import { initialReap, reapDeadline, reapIgnores, reapStep } from '../../src/reap/machine.js';
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
  STRANGER,
  makeView,
  onlyProbe,
  pairOf,
  peerProbe,
  report,
  rfcEnv,
  summary,
  timers,
  toExploring,
  T,
  SEND,
  KT,
  KI,
} from './reap.util.js';


/** Operational with no timer running. */
function idle(): Reap {
  return new Reap(rfcEnv(), makeView(), 0);
}

/** Operational with the Send Timer running since T. */
function sending(): Reap {
  const r = idle();
  r.step({ kind: 'payload-sent' }, T);
  expect(timers(r.r)).toEqual({ ...NO_TIMERS, sendTimerAt: T + SEND });
  return r;
}

/** Operational with the Keepalive Timer running since T. */
function receiving(): Reap {
  const r = idle();
  r.step({ kind: 'payload-received' }, T);
  expect(timers(r.r)).toEqual({ ...NO_TIMERS, keepaliveTimerAt: T + KT, nextKeepaliveAt: T + KI });
  return r;
}

describe('Operational', () => {
  it('§6: a context starts Operational with no timer running, on its current pair as the primary', () => {
    const env = rfcEnv();
    const r = initialReap(makeView(), 5, env);
    expect(r.state).toBe('Operational');
    expect(timers(r)).toEqual(NO_TIMERS);
    expect(r.primary).toEqual(PRIMARY);
    expect(r.keepaliveTimeoutMs).toBe(15_000);
    expect(r.probeTokens).toBe(4);
    expect(r.probeTokensAt).toBe(5);
    expect(reapDeadline(r, env.reap)).toBeUndefined();
  });

  describe('§6.1 incoming payload packet', () => {
    it('§6.1 Operational: STOP Send, START Keepalive (no timer running before)', () => {
      const r = idle();
      const res = r.step({ kind: 'payload-received' }, T);
      expect(res.actions).toEqual([]);
      expect(r.r.state).toBe('Operational');
      expect(timers(r.r)).toEqual({ sendTimerAt: undefined, keepaliveTimerAt: T + KT, nextKeepaliveAt: T + KI, nextProbeAt: undefined });
      expect(r.deadline()).toBe(T + KI);
    });

    it('§6.1 Operational: STOP Send, START Keepalive (the Send Timer was running)', () => {
      const r = sending();
      const res = r.step({ kind: 'payload-received' }, T + 100);
      expect(res.actions).toEqual([]);
      expect(timers(r.r)).toEqual({ sendTimerAt: undefined, keepaliveTimerAt: T + 100 + KT, nextKeepaliveAt: T + 100 + KI, nextProbeAt: undefined });
    });

    it('§6.1 Operational: START Keepalive only "if it was not yet running" (not restarted)', () => {
      const r = receiving();
      const before = r.r;
      expect(reapIgnores(before, { kind: 'payload-received' })).toBe(true);
      const res = r.step({ kind: 'payload-received' }, T + 3_000);
      expect(res.reap).toBe(before);
      expect(res.actions).toEqual([]);
      expect(r.r.keepaliveTimerAt).toBe(T + KT);
    });
  });

  describe('§6.2 outgoing payload packet', () => {
    it('§6.2 Operational: START Send (no timer running before)', () => {
      const r = idle();
      const res = r.step({ kind: 'payload-sent' }, T);
      expect(res.actions).toEqual([]);
      expect(r.r.state).toBe('Operational');
      expect(timers(r.r)).toEqual({ ...NO_TIMERS, sendTimerAt: T + SEND });
      expect(r.deadline()).toBe(T + SEND);
    });

    it('§6.2 Operational: START Send, STOP Keepalive (the Keepalive Timer was running)', () => {
      const r = receiving();
      const res = r.step({ kind: 'payload-sent' }, T + 1_000);
      expect(res.actions).toEqual([]);
      expect(timers(r.r)).toEqual({ sendTimerAt: T + 1_000 + SEND, keepaliveTimerAt: undefined, nextKeepaliveAt: undefined, nextProbeAt: undefined });
    });

    it('§6.2 Operational: START Send only "if it was not running" (not restarted)', () => {
      const r = sending();
      const before = r.r;
      expect(reapIgnores(before, { kind: 'payload-sent' })).toBe(true);
      const res = r.step({ kind: 'payload-sent' }, T + 5_000);
      expect(res.reap).toBe(before);
      expect(r.r.sendTimerAt).toBe(T + SEND);
    });
  });

  describe('§6.3 Keepalive Timeout (and §4.1 item 5, the Keepalive Interval)', () => {
    it('§4.1 item 5: a Keepalive every Keepalive Interval while the Keepalive Timer runs; §6.3 Operational: SEND Keepalive (one last) at its timeout', () => {
      const r = receiving();
      const k1 = r.fire();
      expect(k1.at).toBe(T + KI);
      expect(summary(k1.actions)).toEqual(['keepalive']);
      expect(timers(r.r)).toEqual({ ...NO_TIMERS, keepaliveTimerAt: T + KT, nextKeepaliveAt: T + 2 * KI });
      const k2 = r.fire();
      expect(k2.at).toBe(T + 2 * KI);
      expect(summary(k2.actions)).toEqual(['keepalive']);
      const last = r.fire();
      expect(last.at).toBe(T + KT);
      expect(summary(last.actions)).toEqual(['keepalive']);
      expect(r.r.state).toBe('Operational');
      expect(timers(r.r)).toEqual(NO_TIMERS);
      expect(r.deadline()).toBeUndefined();
      expect(r.r.stats.keepalivesSent).toBe(3);
    });

    it('§4.1 item 5: "Keepalives are not sent at all if one or more payload packets were sent within the Keepalive Interval"', () => {
      const r = receiving();
      r.step({ kind: 'payload-sent' }, T + 1_000);
      const sent = r.runUntil(T + KT + 1);
      expect(sent).toEqual([]);
      expect(r.deadline()).toBe(T + 1_000 + SEND);
    });

    it('§6.3 Operational: a timeout before the Keepalive Interval sends nothing', () => {
      const r = receiving();
      const before = r.r;
      const res = r.step({ kind: 'timeout' }, T + KI - 1);
      expect(res.reap).toBe(before);
      expect(res.actions).toEqual([]);
    });
  });

  describe('§6.4 Send Timeout', () => {
    it('§6.4 Operational: SEND Probe Exploring, GOTO Exploring', () => {
      const r = sending();
      const res = r.step({ kind: 'timeout' }, T + SEND);
      expect(summary(res.actions)).toEqual(['notify exploring', 'probe Exploring A2>B2']);
      const p = onlyProbe(res.actions);
      expect(p.sent).toEqual([report(A2, B2, FIRST_NONCE)]);
      expect(p.received).toEqual([]);
      expect(r.r.state).toBe('Exploring');
      // §6: "No timer is running in the Exploring state" (only the probe schedule).
      expect(timers(r.r)).toEqual({ ...NO_TIMERS, nextProbeAt: T + SEND + 500 });
      expect(r.r.exploring).toEqual({ since: T + SEND, reason: 'send-timeout', failed: PRIMARY, local: false });
      expect(r.r.stats).toMatchObject({ explorations: 1, probesSent: 1 });
    });

    it('§6.4 Operational: nothing before the Send Timer expires', () => {
      const r = sending();
      const before = r.r;
      const res = r.step({ kind: 'timeout' }, T + SEND - 1);
      expect(res.reap).toBe(before);
      expect(res.actions).toEqual([]);
    });
  });

  describe('§6.5 retransmission', () => {
    it('§6.5 Operational: - (no probe is scheduled once the exploration is over; timeouts send Keepalives only)', () => {
      const { reap: r, at } = toExploring(rfcEnv(), T);
      r.step(peerProbe(ProbeState.Operational, B1, A1, 0x77), at + 100);
      expect(r.r.state).toBe('Operational');
      expect(r.r.nextProbeAt).toBeUndefined();
      const out = r.runUntil(at + 100 + 120_000);
      expect(out.map((x) => [x.at, summary([x.action])[0]])).toEqual([
        [at + 100 + KI, 'keepalive'],
        [at + 100 + 2 * KI, 'keepalive'],
        [at + 100 + KT, 'keepalive'],
      ]);
    });
  });

  describe('§6.6 reception of the Keepalive message', () => {
    it('§6.6 Operational: STOP Send', () => {
      const r = sending();
      const res = r.step({ kind: 'keepalive-received' }, T + 100);
      expect(res.actions).toEqual([]);
      expect(r.r.state).toBe('Operational');
      expect(timers(r.r)).toEqual(NO_TIMERS);
    });

    it('§6.6 Operational: STOP Send only; a Keepalive does not START Keepalive', () => {
      const r = idle();
      const before = r.r;
      const res = r.step({ kind: 'keepalive-received' }, T);
      expect(res.reap).toBe(before);
      expect(res.actions).toEqual([]);
    });
  });

  describe('§6.7 reception of the Probe message State=Exploring', () => {
    it('§6.7 Operational: SEND Probe InboundOk, STOP Keepalive, RESTART Send, GOTO InboundOk', () => {
      const r = receiving();
      const res = r.step(peerProbe(ProbeState.Exploring, B2, A2, 0xabc), T + 100);
      // The reverse of the pair the probe came on works one way already: tried first.
      expect(summary(res.actions)).toEqual(['notify inbound-ok', 'probe InboundOk A2>B2']);
      const p = onlyProbe(res.actions);
      expect(p.sent).toEqual([report(A2, B2, FIRST_NONCE)]);
      // §5.2: in InboundOk the sender MUST include at least one of the inbound probes.
      expect(p.received).toEqual([report(B2, A2, 0xabc)]);
      expect(r.r.state).toBe('InboundOk');
      expect(timers(r.r)).toEqual({ sendTimerAt: T + 100 + SEND, keepaliveTimerAt: undefined, nextKeepaliveAt: undefined, nextProbeAt: T + 100 + 500 });
      expect(r.r.exploring).toEqual({ since: T + 100, reason: 'peer-exploring', failed: PRIMARY, local: false });
      expect(r.current).toEqual(PRIMARY);
    });

    it('§6.7 Operational: RESTART Send (the Send Timer was running)', () => {
      const r = sending();
      r.step(peerProbe(ProbeState.Exploring, B1, A1, 0xabc), T + 5_000);
      expect(r.r.state).toBe('InboundOk');
      expect(r.r.sendTimerAt).toBe(T + 5_000 + SEND);
    });

    it('§6.7 Operational: SEND Probe InboundOk on the next pair of the order when the reverse pair is no candidate (§4.3)', () => {
      const r = receiving();
      const res = r.step(peerProbe(ProbeState.Exploring, STRANGER, A1, 0xabc), T + 100);
      expect(summary(res.actions)).toEqual(['notify inbound-ok', 'probe InboundOk A2>B2']);
      expect(onlyProbe(res.actions).received).toEqual([report(STRANGER, A1, 0xabc)]);
    });
  });

  describe('§6.8 reception of the Probe message State=InboundOk', () => {
    it('§6.8 Operational: SEND Probe Operational, RESTART Send, STOP Keepalive (no reports: the current pair is unchanged)', () => {
      const r = receiving();
      const res = r.step(peerProbe(ProbeState.InboundOk, B1, A1, 0x77), T + 100);
      expect(summary(res.actions)).toEqual(['probe Operational A1>B1']);
      const p = onlyProbe(res.actions);
      expect(p.state).toBe('Operational');
      expect(p.sent).toEqual([report(A1, B1, FIRST_NONCE)]);
      expect(p.received).toEqual([report(B1, A1, 0x77)]);
      expect(r.r.state).toBe('Operational');
      expect(timers(r.r)).toEqual({ sendTimerAt: T + 100 + SEND, keepaliveTimerAt: undefined, nextKeepaliveAt: undefined, nextProbeAt: undefined });
      expect(r.current).toEqual(PRIMARY);
    });

    it('§6.8 Operational: RESTART Send (the Send Timer was running)', () => {
      const r = sending();
      r.step(peerProbe(ProbeState.InboundOk, B1, A1, 0x77), T + 2_000);
      expect(r.r.sendTimerAt).toBe(T + 2_000 + SEND);
    });

    it('§6.8 Operational: a report of our Operational probe on another pair moves the current pair to it', () => {
      // Our §6.8 answer went A1>B1; reach Operational on A2>B2 first, then the peer reports the A1>B1 probe.
      const view = makeView({ lp: pairOf(A2, B2) });
      const env = rfcEnv();
      const r = new Reap(env, view, 0);
      const first = onlyProbe(r.step(peerProbe(ProbeState.InboundOk, B2, A2, 0x1), T).actions);
      expect(first.sent[0]).toEqual(report(A2, B2, FIRST_NONCE));
      r.view = makeView({ lp: pairOf(A1, B1) });
      const res = r.step(peerProbe(ProbeState.InboundOk, B1, A1, 0x2, [{ ...first.sent[0]! }]), T + 50);
      expect(summary(res.actions)).toEqual(['switch A2>B2', 'notify failover', 'probe Operational A2>B2']);
      expect(r.current).toEqual(pairOf(A2, B2));
    });
  });

  describe('§6.9 reception of the Probe message State=Operational', () => {
    it('§6.9 Operational: STOP Send, START Keepalive', () => {
      const r = sending();
      const res = r.step(peerProbe(ProbeState.Operational, B1, A1, 0x77), T + 100);
      expect(res.actions).toEqual([]);
      expect(r.r.state).toBe('Operational');
      expect(timers(r.r)).toEqual({ sendTimerAt: undefined, keepaliveTimerAt: T + 100 + KT, nextKeepaliveAt: T + 100 + KI, nextProbeAt: undefined });
      expect(r.r.received).toEqual([report(B1, A1, 0x77)]);
      expect(r.r.stats.probesReceived).toBe(1);
    });

    it('§6.9 Operational: START Keepalive only "if it was not yet running"', () => {
      const r = receiving();
      r.step(peerProbe(ProbeState.Operational, B1, A1, 0x77), T + 4_000);
      expect(timers(r.r)).toEqual({ ...NO_TIMERS, keepaliveTimerAt: T + KT, nextKeepaliveAt: T + KI });
    });
  });

  it('reapIgnores agrees with reapStep: whenever it says "ignored" the step returns the same record and no action', () => {
    const env = rfcEnv();
    const view = makeView();
    const events = [{ kind: 'payload-sent' }, { kind: 'payload-received' }] as const;
    const states = [idle(), sending(), receiving(), toExploring(rfcEnv(), T).reap];
    let ignored = 0;
    for (const s of states) {
      for (const e of events) {
        if (!reapIgnores(s.r, e)) continue;
        ignored++;
        const res = reapStep(s.r, view, e, T + 1, env);
        expect(res.reap).toBe(s.r);
        expect(res.actions).toEqual([]);
      }
    }
    // sending/sent, receiving/received, exploring/sent.
    expect(ignored).toBe(3);
  });
});
