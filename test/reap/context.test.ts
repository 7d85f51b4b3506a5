/**
 * REAP on a Shim6 context (src/context/reap.ts, formerly src/reap/context.ts): the Keepalive Timeout option (RFC 5534
 * §5.3) in I2, R2, I2bis and Update Request, REAP's life in the RFC 5533 STATEs, Keepalive
 * and Probe messages with real bytes reaching REAP, and the check on a REAP `switch-pair`.
 * Two hosts of test/context/env.util.ts (HBA sets A and B) with `reap` in their envs.
 */
import { describe, expect, it } from 'vitest';
import { nextDeadline } from '../../src/context/machine.js';
import { KEEPALIVE_TIMEOUT_MS_OPTION_TYPE, resolveReapConfig, type ReapMode } from '../../src/reap/constants.js';
import { contextReapDeadline, keepaliveTimeoutOptions, readKeepaliveTimeout } from '../../src/context/reap.js';
import { bytesEqual } from '../../src/wire/bytes.js';
import { ProbeState } from '../../src/wire/constants.js';
import type { ControlMessage, ProbeMessage } from '../../src/wire/control.js';
import type { Option } from '../../src/wire/options/index.js';
import { Side, control, engineR1bis, establish, hostA, hostB, kinds, makeEnv, onlySend, option, received, sends, type Pair, type SendAction } from '../context/env.util.js';
import { keepalive } from '../context/states.util.js';

const T0 = 1_000_000;

function reapPair(mode: ReapMode): Pair {
  const reap = resolveReapConfig({ mode });
  return {
    a: new Side(hostA, hostB, { ...makeEnv([hostA], { seed: 'side-A', firstTag: 0x0a000 }), reap }),
    b: new Side(hostB, hostA, { ...makeEnv([hostB], { seed: 'side-B', firstTag: 0x0b000 }), reap }),
  };
}

const MS_OPTION: Option = { kind: 'Unknown', type: KEEPALIVE_TIMEOUT_MS_OPTION_TYPE, critical: false, contents: Uint8Array.of(0, 0, 0x01, 0x90) };
const SECONDS_OPTION_1: Option = { kind: 'KeepaliveTimeout', critical: false, reserved: 0, keepaliveTimeoutSeconds: 1 };

function msOption(m: Exclude<ControlMessage, { kind: 'Error' }>): Option | undefined {
  return m.options.find((o) => o.kind === 'Unknown' && o.type === KEEPALIVE_TIMEOUT_MS_OPTION_TYPE);
}

function probeSends(list: readonly SendAction[]): (SendAction & { readonly message: ProbeMessage })[] {
  return list.filter((s): s is SendAction & { readonly message: ProbeMessage } => s.message.kind === 'Probe');
}

describe('the Keepalive Timeout option (§5.3)', () => {
  it('fast: I2 and R2 carry Keepalive Timeout = 1 s (type 10) and the 400 ms option (type 16400), after the others', () => {
    const p = reapPair('fast');
    const { i1, r1, i2, r2 } = establish(p, T0);
    for (const m of [onlySend(i2, 'I2').message, onlySend(r2, 'R2').message]) {
      expect(m.options.slice(-2)).toEqual([SECONDS_OPTION_1, MS_OPTION]);
      expect(option(m.options, 'KeepaliveTimeout')!.keepaliveTimeoutSeconds).toBe(1);
    }
    // §5.3: "MAY be sent in the I2, I2bis, R2, or UPDATE messages" only.
    for (const m of [onlySend(i1, 'I1').message, onlySend(r1, 'R1').message]) {
      expect(option(m.options, 'KeepaliveTimeout')).toBeUndefined();
      expect(msOption(m)).toBeUndefined();
    }
  });

  it('rfc (Send Timeout 15 s, the default): no Keepalive Timeout option at all', () => {
    const p = reapPair('rfc');
    const { i2, r2 } = establish(p, T0);
    for (const m of [onlySend(i2, 'I2').message, onlySend(r2, 'R2').message]) {
      expect(option(m.options, 'KeepaliveTimeout')).toBeUndefined();
      expect(msOption(m)).toBeUndefined();
    }
    expect(p.a.ctx.reap!.keepaliveTimeoutMs).toBe(15_000);
    expect(p.b.ctx.reap!.keepaliveTimeoutMs).toBe(15_000);
  });

  it('fast: both ends read the option from the bytes they received (Keepalive Timeout 400 ms, peerFine)', () => {
    const p = reapPair('fast');
    establish(p, T0);
    for (const s of [p.a, p.b]) {
      expect(s.ctx.reap!.keepaliveTimeoutMs).toBe(400);
      expect(s.ctx.reap!.peerFine).toBe(true);
    }
  });

  it('fast: the I2bis (ESTABLISHED + R1bis) carries both options', () => {
    const p = reapPair('fast');
    establish(p, T0);
    const t = T0 + 1_000;
    p.b.lose(hostA, t - 500);
    const r1bis = engineR1bis(p.b.env, p.a.ctx.ctPeer!, p.a.ctx.lpLocal, p.a.ctx.lpPeer, t);
    const [r] = p.a.receive([r1bis], t + 10);
    expect(onlySend(r!, 'I2bis').message.options.slice(-2)).toEqual([SECONDS_OPTION_1, MS_OPTION]);
  });

  it('fast: an Update Request carries both options', () => {
    const p = reapPair('fast');
    establish(p, T0);
    const r = p.b.drive({ kind: 'local-locators', locators: hostB.locators.slice(0, 1), preferences: undefined }, T0 + 1_000);
    const m = onlySend(r, 'UpdateRequest').message;
    expect(m.options.map((o) => o.kind)).toEqual(['LocatorList', 'CgaParameterDataStructure', 'KeepaliveTimeout', 'Unknown']);
    expect(m.options.slice(-2)).toEqual([SECONDS_OPTION_1, MS_OPTION]);
  });

  it('keepaliveTimeoutOptions: only for a non-default Send Timeout; the ms option only when it is not whole seconds', () => {
    expect(keepaliveTimeoutOptions(resolveReapConfig({ mode: 'fast' }))).toEqual([SECONDS_OPTION_1, MS_OPTION]);
    expect(keepaliveTimeoutOptions(resolveReapConfig({ mode: 'rfc' }))).toEqual([]);
    expect(keepaliveTimeoutOptions(resolveReapConfig({ mode: 'off' }))).toEqual([]);
    expect(keepaliveTimeoutOptions(resolveReapConfig({ mode: 'off', sendTimeoutMs: 400 }))).toEqual([]);
    expect(keepaliveTimeoutOptions(resolveReapConfig({ mode: 'rfc', sendTimeoutMs: 20_000 }))).toEqual([{ ...SECONDS_OPTION_1, keepaliveTimeoutSeconds: 20 }]);
    expect(keepaliveTimeoutOptions(resolveReapConfig({ mode: 'fast', sendTimeoutMs: 15_000 }))).toEqual([]);
  });
});

describe('readKeepaliveTimeout', () => {
  const ms = (v: number): Option => {
    const contents = new Uint8Array(4);
    new DataView(contents.buffer).setUint32(0, v);
    return { kind: 'Unknown', type: KEEPALIVE_TIMEOUT_MS_OPTION_TYPE, critical: false, contents };
  };
  const sec = (v: number): Option => ({ kind: 'KeepaliveTimeout', critical: false, reserved: 0, keepaliveTimeoutSeconds: v });

  it('none: undefined', () => {
    expect(readKeepaliveTimeout([])).toBeUndefined();
  });

  it('seconds only: × 1 000, not fine', () => {
    expect(readKeepaliveTimeout([sec(15)])).toEqual({ ms: 15_000, fine: false });
    expect(readKeepaliveTimeout([sec(0xffff)])).toEqual({ ms: 65_535_000, fine: false });
  });

  it('prefers the millisecond option, wherever it is', () => {
    expect(readKeepaliveTimeout([sec(1), ms(400)])).toEqual({ ms: 400, fine: true });
    expect(readKeepaliveTimeout([ms(400), sec(1)])).toEqual({ ms: 400, fine: true });
  });

  it('ignores a zero value in either option', () => {
    expect(readKeepaliveTimeout([sec(2), ms(0)])).toEqual({ ms: 2_000, fine: false });
    expect(readKeepaliveTimeout([sec(0)])).toBeUndefined();
    expect(readKeepaliveTimeout([sec(0), ms(0)])).toBeUndefined();
  });

  it('ignores a millisecond option of another length or another type', () => {
    const short: Option = { kind: 'Unknown', type: KEEPALIVE_TIMEOUT_MS_OPTION_TYPE, critical: false, contents: Uint8Array.of(0, 1, 0x90) };
    const other: Option = { kind: 'Unknown', type: KEEPALIVE_TIMEOUT_MS_OPTION_TYPE + 1, critical: false, contents: Uint8Array.of(0, 0, 1, 0x90) };
    expect(readKeepaliveTimeout([short, sec(3)])).toEqual({ ms: 3_000, fine: false });
    expect(readKeepaliveTimeout([other])).toBeUndefined();
  });
});

describe("REAP's life in the context STATEs (§4.2: only an established context explores)", () => {
  it('no REAP before ESTABLISHED; created at ESTABLISHED, Operational, no timer running, the ULID pair as primary', () => {
    const p = reapPair('fast');
    const i1 = p.a.drive({ kind: 'establish' }, T0);
    expect(p.a.ctx.reap).toBeUndefined();
    const [r1] = p.b.receive(i1, T0 + 10);
    expect(p.b.ctx.reap).toBeUndefined();
    const [i2] = p.a.receive(r1!, T0 + 20);
    expect(p.a.ctx.state).toBe('I2-SENT');
    expect(p.a.ctx.reap).toBeUndefined();
    const [r2] = p.b.receive(i2!, T0 + 30);
    p.a.receive(r2!, T0 + 40);
    for (const s of [p.a, p.b]) {
      const reap = s.ctx.reap!;
      expect(s.ctx.state).toBe('ESTABLISHED');
      expect(reap.state).toBe('Operational');
      expect([reap.sendTimerAt, reap.keepaliveTimerAt, reap.nextKeepaliveAt, reap.nextProbeAt]).toEqual([undefined, undefined, undefined, undefined]);
      expect(reap.primary).toEqual({ local: s.identity.ulid, peer: (s === p.a ? hostB : hostA).ulid });
      expect(contextReapDeadline(s.ctx, s.env)).toBeUndefined();
      // Only the idle timer of RFC 5533 §9 is pending.
      expect(nextDeadline(s.ctx, s.env)).toBe(s.ctx.lastActivity + s.env.config.idleTimeoutMs);
    }
  });

  it('dropped when the context leaves ESTABLISHED for IDLE', () => {
    const p = reapPair('fast');
    establish(p, T0);
    expect(p.a.ctx.reap).toBeDefined();
    p.a.drive({ kind: 'teardown', reason: 'test' }, T0 + 100);
    expect(p.a.ctx.state).toBe('IDLE');
    expect(p.a.ctx.reap).toBeUndefined();
  });

  it('kept, paused, in I2BIS-SENT, and the same after the recovery', () => {
    const p = reapPair('fast');
    establish(p, T0);
    p.a.drive({ kind: 'payload-sent' }, T0 + 100);
    const before = p.a.ctx.reap!;
    expect(before.sendTimerAt).toBeDefined();
    const t = T0 + 200;
    p.b.lose(hostA, t - 50);
    const r1bis = engineR1bis(p.b.env, p.a.ctx.ctPeer!, p.a.ctx.lpLocal, p.a.ctx.lpPeer, t);
    const [i2bis] = p.a.receive([r1bis], t + 10);
    expect(p.a.ctx.state).toBe('I2BIS-SENT');
    expect(p.a.ctx.reap).toBe(before);
    // Paused: no REAP deadline while not ESTABLISHED, even past the Send Timer.
    expect(contextReapDeadline(p.a.ctx, p.a.env)).toBeUndefined();
    expect(nextDeadline(p.a.ctx, p.a.env)).toBe(p.a.ctx.retransmit!.deadline);
    const [r2] = p.b.receive(i2bis!, t + 20);
    p.a.receive(r2!, t + 30);
    expect(p.a.ctx.state).toBe('ESTABLISHED');
    expect(p.a.ctx.reap).toBe(before);
    expect(contextReapDeadline(p.a.ctx, p.a.env)).toBe(before.sendTimerAt);
  });

  it('no REAP at all without env.reap', () => {
    const p: Pair = {
      a: new Side(hostA, hostB, makeEnv([hostA], { seed: 'side-A', firstTag: 0x0a000 })),
      b: new Side(hostB, hostA, makeEnv([hostB], { seed: 'side-B', firstTag: 0x0b000 })),
    };
    const { i2 } = establish(p, T0);
    expect(p.a.ctx.reap).toBeUndefined();
    expect(option(onlySend(i2, 'I2').message.options, 'KeepaliveTimeout')).toBeUndefined();
  });
});

describe('messages reaching REAP', () => {
  it('payload sent starts the Send Timer (a context deadline); a Keepalive from the peer stops it (§6.6)', () => {
    const p = reapPair('fast');
    establish(p, T0);
    const t = T0 + 1_000;
    p.a.drive({ kind: 'payload-sent' }, t);
    const send = p.a.ctx.reap!.sendTimerAt!;
    // peerFine: 400 ms × [1, 1.1].
    expect(send - t).toBeGreaterThanOrEqual(400);
    expect(send - t).toBeLessThanOrEqual(440);
    expect(nextDeadline(p.a.ctx, p.a.env)).toBe(send);
    const r = p.a.drive(control(received(hostB.ulid, hostA.ulid, keepalive(p.a.ctx.ctLocal))), t + 100);
    expect(r.actions).toEqual([]);
    expect(p.a.ctx.reap!.sendTimerAt).toBeUndefined();
    expect(p.a.ctx.reap!.state).toBe('Operational');
  });

  it('a received Update Request is payload received and the Update Acknowledgement payload sent (§4.1 item 2)', () => {
    const p = reapPair('fast');
    establish(p, T0);
    const ur = p.b.drive({ kind: 'local-locators', locators: hostB.locators.slice(0, 1), preferences: undefined }, T0 + 1_000);
    const [r] = p.a.receive(ur, T0 + 1_010);
    expect(kinds(r!)).toContain('send UpdateAck');
    const reap = p.a.ctx.reap!;
    expect(reap.keepaliveTimerAt).toBeUndefined();
    expect(reap.sendTimerAt! - (T0 + 1_010)).toBeGreaterThanOrEqual(400);
    expect(reap.sendTimerAt! - (T0 + 1_010)).toBeLessThanOrEqual(440);
  });

  it('an exploration with real Probe bytes: Exploring → InboundOk → Operational on both ends, both move to the alternative pair', () => {
    const p = reapPair('fast');
    establish(p, T0);
    const t = T0 + 1_000;
    const explore = p.b.drive({ kind: 'explore' }, t);
    expect(kinds(explore)).toEqual(['notify exploring', 'send Probe']);
    const bProbe = onlySend(explore, 'Probe');
    expect([bProbe.src, bProbe.dst]).toEqual([hostB.alt, hostA.alt]);
    expect(bProbe.message.state).toBe(ProbeState.Exploring);
    expect(bProbe.message.receiverContextTag).toBe(p.a.ctx.ctLocal);

    const [aStep] = p.a.receive(explore, t + 10);
    expect(kinds(aStep!)).toEqual(['notify inbound-ok', 'send Probe']);
    expect(p.a.ctx.reap!.state).toBe('InboundOk');
    const aProbe = onlySend(aStep!, 'Probe');
    expect([aProbe.src, aProbe.dst]).toEqual([hostA.alt, hostB.alt]);
    expect(aProbe.message.state).toBe(ProbeState.InboundOk);
    expect(aProbe.message.receiverContextTag).toBe(p.b.ctx.ctLocal);
    expect(aProbe.message.received).toEqual([bProbe.message.sent[0]]);

    const [bStep] = p.b.receive(aStep!, t + 20);
    expect(kinds(bStep!)).toEqual(['fast-path update', 'notify failover', 'notify operational', 'send Probe']);
    expect([p.b.ctx.lpLocal, p.b.ctx.lpPeer]).toEqual([hostB.alt, hostA.alt]);
    expect(p.b.ctx.reap!.state).toBe('Operational');
    const bOp = onlySend(bStep!, 'Probe');
    expect(bOp.message.state).toBe(ProbeState.Operational);

    const [aEnd] = p.a.receive(bStep!, t + 30);
    expect(kinds(aEnd!)).toEqual(['fast-path update', 'notify failover', 'notify operational']);
    expect([p.a.ctx.lpLocal, p.a.ctx.lpPeer]).toEqual([hostA.alt, hostB.alt]);
    expect(p.a.ctx.reap!.state).toBe('Operational');
  });

  it('a REAP switch-pair to a peer locator that is not verified is refused: the current pair stays', () => {
    const p = reapPair('fast');
    establish(p, T0);
    const t = T0 + 1_000;
    const explore = p.b.drive({ kind: 'explore' }, t);
    const [aStep] = p.a.receive(explore, t + 10);
    // Ls(peer) of b now holds A's alternative locator unverified.
    p.b.ctx = { ...p.b.ctx, lsPeer: p.b.ctx.lsPeer.map((l) => (bytesEqual(l.address, hostA.alt) ? { ...l, verified: false } : l)) };
    const before = p.b.ctx;
    const [bStep] = p.b.receive(aStep!, t + 20);
    // REAP chose the reported pair; the context did not take it.
    expect(kinds(bStep!)).toContain('notify failover');
    expect(kinds(bStep!)).not.toContain('fast-path update');
    expect([p.b.ctx.lpLocal, p.b.ctx.lpPeer]).toEqual([before.lpLocal, before.lpPeer]);
    expect([p.b.ctx.lpLocal, p.b.ctx.lpPeer]).toEqual([hostB.ulid, hostA.ulid]);
    expect(probeSends(sends(bStep!)).length).toBe(1);
  });

  // README conformance note 32: the establishment exchange (I2/I2bis/R2), first or
  // retransmitted, is not REAP payload (§4.1 item 2 would count it): the initiator that
  // gets the R2 starts REAP with no timer, so a Send Timer here would expire unanswered.
  it('note 32: an I2 received again in ESTABLISHED and the R2 sent for it leave the REAP timers alone', () => {
    const p = reapPair('rfc');
    const { i2 } = establish(p, T0);
    const before = p.b.ctx.reap!;
    const [r] = p.b.receive(i2, T0 + 1_000);
    expect(kinds(r!)).toContain('send R2');
    expect(p.b.ctx.reap!.keepaliveTimerAt).toBe(before.keepaliveTimerAt);
    expect(p.b.ctx.reap!.sendTimerAt).toBe(before.sendTimerAt);
  });
});
