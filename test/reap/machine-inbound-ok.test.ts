/**
 * REAP in the InboundOk state: one test per event of RFC 5534 §6.1-6.9, each named after
 * its table cell. The `rfc` profile with exact timers (reap.util.ts). InboundOk is reached
 * as §6.7 describes: Operational, the peer's Probe (State=Exploring) arrives at T on
 * B2→A2, this host answers with a Probe (InboundOk) on the reverse pair A2>B2 and starts
 * the Send Timer (T + 15 750); the next probe is due at T + 500.
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
  type SendProbe,
  T,
  SEND,
  KT,
  KI,
} from './reap.util.js';

const N0 = FIRST_NONCE;
const P1 = 0xb000_0001;
const P2 = 0xb000_0002;

function inboundOk(): { readonly r: Reap; readonly reply: SendProbe } {
  const r = new Reap(rfcEnv());
  const res = r.step(peerProbe(ProbeState.Exploring, B2, A2, P1), T);
  expect(r.r.state).toBe('InboundOk');
  expect(timers(r.r)).toEqual({ ...NO_TIMERS, sendTimerAt: T + SEND, nextProbeAt: T + 500 });
  return { r, reply: onlyProbe(res.actions) };
}

describe('InboundOk', () => {
  describe('§6.1 incoming payload packet', () => {
    it('§6.1 InboundOk: STOP Send (and nothing else: the probe schedule goes on)', () => {
      const { r } = inboundOk();
      const res = r.step({ kind: 'payload-received' }, T + 100);
      expect(res.actions).toEqual([]);
      expect(r.r.state).toBe('InboundOk');
      expect(timers(r.r)).toEqual({ ...NO_TIMERS, nextProbeAt: T + 500 });
    });

    it('§6.1 InboundOk: the Send Timer not running: nothing at all', () => {
      const { r } = inboundOk();
      r.step({ kind: 'payload-received' }, T + 100);
      const before = r.r;
      expect(reapIgnores(before, { kind: 'payload-received' })).toBe(true);
      const res = r.step({ kind: 'payload-received' }, T + 200);
      expect(res.reap).toBe(before);
      expect(res.actions).toEqual([]);
    });
  });

  describe('§6.2 outgoing payload packet', () => {
    it('§6.2 InboundOk: START Send (it was not running)', () => {
      const { r } = inboundOk();
      r.step({ kind: 'payload-received' }, T + 100);
      const res = r.step({ kind: 'payload-sent' }, T + 200);
      expect(res.actions).toEqual([]);
      expect(r.r.state).toBe('InboundOk');
      expect(timers(r.r)).toEqual({ ...NO_TIMERS, sendTimerAt: T + 200 + SEND, nextProbeAt: T + 500 });
    });

    it('§6.2 InboundOk: START Send only "if it was not yet running"', () => {
      const { r } = inboundOk();
      const before = r.r;
      expect(reapIgnores(before, { kind: 'payload-sent' })).toBe(true);
      const res = r.step({ kind: 'payload-sent' }, T + 200);
      expect(res.reap).toBe(before);
      expect(r.r.sendTimerAt).toBe(T + SEND);
    });
  });

  describe('§6.3 Keepalive Timeout', () => {
    it('§6.3 InboundOk: - (entering from Operational stopped the Keepalive Timer; no timeout sends a Keepalive)', () => {
      const r = new Reap(rfcEnv());
      r.step({ kind: 'payload-received' }, T - 5_000);
      expect(r.r.keepaliveTimerAt).toBe(T - 5_000 + KT);
      r.step(peerProbe(ProbeState.Exploring, B2, A2, P1), T);
      expect(r.r.keepaliveTimerAt).toBeUndefined();
      expect(r.r.nextKeepaliveAt).toBeUndefined();
      const out = r.runUntil(T + SEND - 1);
      // The order is A2>B2, A2>B1, A1>B2, A1>B1; A2>B2 was just probed by choice (the reply), so it is skipped once.
      expect(out.map((x) => [x.at - T, summary([x.action])[0]])).toEqual([
        [500, 'probe InboundOk A2>B1'],
        [1_000, 'probe InboundOk A1>B2'],
        [1_500, 'probe InboundOk A1>B1'],
        [2_000, 'probe InboundOk A2>B2'],
        [3_000, 'probe InboundOk A2>B1'],
        [5_000, 'probe InboundOk A1>B2'],
        [9_000, 'probe InboundOk A1>B1'],
      ]);
      expect(r.r.stats.keepalivesSent).toBe(0);
    });
  });

  describe('§6.4 Send Timeout', () => {
    it('§6.4 InboundOk: SEND Probe Exploring, GOTO Exploring (Precvd starts empty again, §5.2)', () => {
      const { r, reply } = inboundOk();
      expect(r.r.received).toEqual([report(B2, A2, P1)]);
      const res = r.step({ kind: 'timeout' }, T + SEND);
      // The exploration goes on through the order where it was (A2>B2 was just probed by choice: skipped).
      expect(summary(res.actions)).toEqual(['notify exploring', 'probe Exploring A2>B1']);
      const p = onlyProbe(res.actions);
      expect(p.sent).toEqual([report(A2, B1, N0 + 1), echo(reply)]);
      expect(p.received).toEqual([]);
      expect(r.r.received).toEqual([]);
      expect(r.r.state).toBe('Exploring');
      expect(timers(r.r)).toEqual({ ...NO_TIMERS, nextProbeAt: T + SEND + 500 });
    });
  });

  describe('§6.5 retransmission', () => {
    it('§6.5 InboundOk: SEND Probe InboundOk (the Send Timer already running is left alone)', () => {
      const { r } = inboundOk();
      const res = r.step({ kind: 'timeout' }, T + 500);
      // First of the order A2>B2, A2>B1, … that is not the pair just probed by choice (the reply on A2>B2).
      expect(summary(res.actions)).toEqual(['probe InboundOk A2>B1']);
      const p = onlyProbe(res.actions);
      // §5.2: a sender in InboundOk MUST include at least one inbound probe.
      expect(p.received).toEqual([report(B2, A2, P1)]);
      expect(r.r.state).toBe('InboundOk');
      expect(timers(r.r)).toEqual({ ...NO_TIMERS, sendTimerAt: T + SEND, nextProbeAt: T + 1_000 });
    });

    it('§6.5 InboundOk: SEND Probe InboundOk, START Send (it was not running)', () => {
      const { r } = inboundOk();
      r.step({ kind: 'payload-received' }, T + 100);
      const res = r.step({ kind: 'timeout' }, T + 500);
      expect(summary(res.actions)).toEqual(['probe InboundOk A2>B1']);
      expect(timers(r.r)).toEqual({ ...NO_TIMERS, sendTimerAt: T + 500 + SEND, nextProbeAt: T + 1_000 });
    });
  });

  describe('§6.6 reception of the Keepalive message', () => {
    it('§6.6 InboundOk: STOP Send', () => {
      const { r } = inboundOk();
      const res = r.step({ kind: 'keepalive-received' }, T + 100);
      expect(res.actions).toEqual([]);
      expect(r.r.state).toBe('InboundOk');
      expect(timers(r.r)).toEqual({ ...NO_TIMERS, nextProbeAt: T + 500 });
    });
  });

  describe('§6.7 reception of the Probe message State=Exploring', () => {
    it('§6.7 InboundOk: SEND Probe InboundOk, RESTART Send', () => {
      const { r } = inboundOk();
      const res = r.step(peerProbe(ProbeState.Exploring, B1, A1, P2), T + 200);
      // Already InboundOk: no new notification.
      expect(summary(res.actions)).toEqual(['probe InboundOk A1>B1']);
      const p = onlyProbe(res.actions);
      expect(p.received).toEqual([report(B1, A1, P2), report(B2, A2, P1)]);
      expect(r.r.state).toBe('InboundOk');
      // RESTART Send; the retransmission already due at T + 500 is not pushed back.
      expect(timers(r.r)).toEqual({ ...NO_TIMERS, sendTimerAt: T + 200 + SEND, nextProbeAt: T + 500 });
    });
  });

  describe('§6.8 reception of the Probe message State=InboundOk', () => {
    it('§6.8 InboundOk: SEND Probe Operational, RESTART Send, GOTO Operational; the reported pair becomes current', () => {
      const { r, reply } = inboundOk();
      const res = r.step(peerProbe(ProbeState.InboundOk, B2, A2, P2, [echo(reply)]), T + 100);
      expect(summary(res.actions)).toEqual(['switch A2>B2', 'notify failover', 'notify operational', 'probe Operational A2>B2']);
      const p = onlyProbe(res.actions);
      expect(p.received).toEqual([report(B2, A2, P2), report(B2, A2, P1)]);
      expect(r.r.state).toBe('Operational');
      expect(timers(r.r)).toEqual({ ...NO_TIMERS, sendTimerAt: T + 100 + SEND });
      expect(r.current).toEqual(pairOf(A2, B2));
      expect(r.r.lastFailover).toEqual({ at: T + 100, from: PRIMARY, to: pairOf(A2, B2), durationMs: 100, reason: 'peer-exploring' });
    });

    it('§6.8 InboundOk: no report: the current pair is unchanged', () => {
      const { r } = inboundOk();
      const res = r.step(peerProbe(ProbeState.InboundOk, B1, A1, P2), T + 100);
      expect(summary(res.actions)).toEqual(['notify operational', 'probe Operational A1>B1']);
      expect(r.r.sendTimerAt).toBe(T + 100 + SEND);
      expect(r.current).toEqual(PRIMARY);
    });
  });

  describe('§6.9 reception of the Probe message State=Operational', () => {
    it('§6.9 InboundOk: STOP Send, START Keepalive, GOTO Operational', () => {
      const { r } = inboundOk();
      const res = r.step(peerProbe(ProbeState.Operational, B1, A1, P2), T + 100);
      expect(summary(res.actions)).toEqual(['notify operational']);
      expect(probesOf(res.actions)).toEqual([]);
      expect(r.r.state).toBe('Operational');
      expect(timers(r.r)).toEqual({ sendTimerAt: undefined, keepaliveTimerAt: T + 100 + KT, nextKeepaliveAt: T + 100 + KI, nextProbeAt: undefined });
      expect(r.current).toEqual(PRIMARY);
      expect(r.r.exploring).toBeUndefined();
    });
  });

  it('§6.1 via Exploring: InboundOk reached by a payload packet also answers §6.7 with RESTART Send', () => {
    const r = new Reap(rfcEnv());
    r.step({ kind: 'payload-sent' }, T);
    r.fire();
    const tE = T + SEND;
    r.step({ kind: 'payload-received' }, tE + 100);
    expect(r.r.state).toBe('InboundOk');
    expect(r.r.sendTimerAt).toBe(tE + 100 + SEND);
    r.step(peerProbe(ProbeState.Exploring, B2, A2, P1), tE + 300);
    expect(r.r.sendTimerAt).toBe(tE + 300 + SEND);
  });
});
