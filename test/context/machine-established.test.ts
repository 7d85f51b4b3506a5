/**
 * The context state machine in ESTABLISHED, and confusion (§7.15): one test per trigger cell of RFC 5533
 * Appendix B, with §7 (and §10.4-10.5, §12.2) where the text is more specific. See
 * machine.util.ts for the helpers and env.util.ts for the two-party wire.
 */
import { describe, expect, test } from 'vitest';
import { nextDeadline } from '../../src/context/machine.js';
import {
  STRANGER,
  control,
  engineR1bis,
  forge,
  hostA,
  hostB,
  kinds,
  onlySend,
  option,
  received,
  sends,
} from './env.util.js';
import { expectDiscarded, inEstablished, inI2bisSent, keepalive, payloadFor, T0 } from './states.util.js';
import { badValidator, verifiedLs, i2FromStranger, fastPathAction, NOT_FOR_STATE } from './machine.util.js';

describe('ESTABLISHED', () => {
  test('ESTABLISHED + I1 with matching CT → R2', () => {
    // The R2 was lost and A retransmits its I1 (§7.9); here A's first I1 again.
    const { p, i1 } = inEstablished();
    const before = p.b.ctx;
    const [r] = p.b.receive(i1, T0 + 50);
    expect(kinds(r!)).toEqual(['send R2']);
    expect(r!.ctx.state).toBe('ESTABLISHED');
    expect(r!.ctx.ctPeer).toBe(before.ctPeer);
    expect(r!.ctx.lastActivity).toBe(T0 + 50);
    const r2 = onlySend(r!, 'R2');
    const m = onlySend(i1, 'I1');
    expect(r2.src).toEqual(m.dst);
    expect(r2.dst).toEqual(m.src);
    expect(r2.message.responderContextTag).toBe(before.ctLocal);
    expect(r2.message.initiatorNonce).toBe(m.message.initiatorNonce);
    expect(option(r2.message.options, 'LocatorList')).toMatchObject({ generation: before.genLocal, locators: hostB.locators });
  });

  test('ESTABLISHED + I1 with other CT → R1, unchanged', () => {
    // Figure 7: A lost the context and starts again.
    const { p } = inEstablished();
    p.a.lose(hostB, T0 + 100);
    const i1 = p.a.drive({ kind: 'establish' }, T0 + 100);
    expect(onlySend(i1, 'I1').message.initiatorContextTag).not.toBe(p.b.ctx.ctPeer);
    const before = p.b.ctx;
    const [r] = p.b.receive(i1, T0 + 110);
    expect(r!.ctx).toBe(before);
    expect(kinds(r!)).toEqual(['send R1']);
    expect(onlySend(r!, 'R1').message.initiatorNonce).toBe(onlySend(i1, 'I1').message.initiatorNonce);
  });

  test('ESTABLISHED + I1 with matching CT and a ULID Pair option from a locator outside Ls(peer) → R1, unchanged (§7.9)', () => {
    const { p, i1 } = inEstablished();
    const m = onlySend(i1, 'I1');
    const withPair = forge(m.message, { options: [{ kind: 'UlidPair', critical: false, reserved2: 0, senderUlid: hostA.ulid, receiverUlid: hostB.ulid }] });
    const before = p.b.ctx;
    const r = p.b.drive(control(received(STRANGER, m.dst, withPair)), T0 + 50);
    expect(r.ctx).toBe(before);
    expect(kinds(r)).toEqual(['send R1']);
    expect(onlySend(r, 'R1').dst).toEqual(STRANGER);
    // From a locator in Ls(peer) the same I1 gets the R2.
    expect(kinds(p.b.drive(control(received(hostA.alt, m.dst, withPair)), T0 + 50))).toEqual(['send R2']);
  });

  test('ESTABLISHED + I2 → sends R2, stays ESTABLISHED with the new CT(peer) and Ls(peer) (Figure 7)', () => {
    const { p } = inEstablished();
    const oldCtPeer = p.b.ctx.ctPeer;
    p.a.lose(hostB, T0 + 100);
    const i1 = p.a.drive({ kind: 'establish' }, T0 + 100);
    const [r1] = p.b.receive(i1, T0 + 110);
    const [i2] = p.a.receive(r1!, T0 + 120);
    const before = p.b.ctx;
    const [r] = p.b.receive(i2!, T0 + 130);
    expect(kinds(r!)).toEqual(['fast-path update', 'send R2', 'notify peer-locators-changed']);
    expect(fastPathAction(r!)!.ctx).toBe(r!.ctx);
    expect(r!.ctx.state).toBe('ESTABLISHED');
    expect(r!.ctx.ctLocal).toBe(before.ctLocal);
    expect(r!.ctx.ctPeer).toBe(p.a.ctx.ctLocal);
    expect(r!.ctx.ctPeer).not.toBe(oldCtPeer);
    expect(r!.ctx.genPeer).toBe(p.a.ctx.genLocal);
    const r2 = onlySend(r!, 'R2');
    expect(r2.message.responderContextTag).toBe(before.ctLocal);
    expect(r2.message.initiatorNonce).toBe(onlySend(i2!, 'I2').message.initiatorNonce);
    const [done] = p.a.receive(r!, T0 + 140);
    expect(done!.ctx.state).toBe('ESTABLISHED');
    expect(done!.ctx.ctPeer).toBe(before.ctLocal);
  });

  test('ESTABLISHED + I2 whose list drops Lp(peer) → Lp(peer) falls back to the ULID (§7.13 replaces Ls(peer); as §10.4 until REAP picks)', () => {
    const { p } = inEstablished();
    p.b.drive({ kind: 'switch-pair', lpLocal: hostB.alt, lpPeer: hostA.alt }, T0 + 100);
    p.a.lose(hostB, T0 + 200);
    p.a.drive({ kind: 'local-locators', locators: hostA.locators.slice(0, 1), preferences: undefined }, T0 + 200);
    const i1 = p.a.drive({ kind: 'establish' }, T0 + 300);
    const [r1] = p.b.receive(i1, T0 + 310);
    const [i2] = p.a.receive(r1!, T0 + 320);
    const [r] = p.b.receive(i2!, T0 + 330);
    expect(kinds(r!)).toEqual(['fast-path update', 'send R2', 'notify peer-locators-changed']);
    expect(r!.ctx.lsPeer).toEqual(verifiedLs({ locators: hostA.locators.slice(0, 1) }));
    expect(r!.ctx.lpPeer).toEqual(hostA.ulid);
    expect(r!.ctx.lpLocal).toEqual(hostB.alt);
  });

  test('I2BIS-SENT + R2 whose list drops Lp(peer) → ESTABLISHED with Lp(peer) back on the ULID', () => {
    const { p } = inEstablished();
    p.a.drive({ kind: 'switch-pair', lpLocal: hostA.alt, lpPeer: hostB.alt }, T0 + 100);
    // B restarts with only its ULID as locator; A's payload hits B's engine → R1bis.
    p.b.lose(hostA, T0 + 200);
    p.b.drive({ kind: 'local-locators', locators: hostB.locators.slice(0, 1), preferences: undefined }, T0 + 200);
    const [i2bis] = p.a.receive([engineR1bis(p.b.env, p.a.ctx.ctPeer!, hostA.alt, hostB.alt, T0 + 300)], T0 + 300);
    const [r2] = p.b.receive(i2bis!, T0 + 310);
    const [r] = p.a.receive(r2!, T0 + 320);
    expect(r!.ctx.state).toBe('ESTABLISHED');
    expect(r!.ctx.lsPeer).toEqual(verifiedLs({ locators: hostB.locators.slice(0, 1) }));
    expect(r!.ctx.lpPeer).toEqual(hostB.ulid);
  });

  test('ESTABLISHED + I2 with a bad validator, or from an unverified locator → discarded, unchanged', () => {
    const { p } = inEstablished();
    p.a.lose(hostB, T0 + 100);
    const i1 = p.a.drive({ kind: 'establish' }, T0 + 100);
    const [r1] = p.b.receive(i1, T0 + 110);
    const [i2] = p.a.receive(r1!, T0 + 120);
    const m = onlySend(i2!, 'I2');
    const before = p.b.ctx;
    expectDiscarded(p.b.drive(control(received(m.src, m.dst, badValidator(m.message))), T0 + 130), before, 'bad-validator');
    expectDiscarded(p.b.drive(control(received(STRANGER, m.dst, i2FromStranger(m, p.b.env, T0 + 130))), T0 + 130), before, 'source-not-verified');
  });

  test('ESTABLISHED + I2bis → sends R2, stays ESTABLISHED', () => {
    // B answered an R1bis from A's validators (a stale Probe, say) while A still has the context.
    const { p } = inEstablished();
    const t = T0 + 2_000;
    const bR1bis = engineR1bis(p.a.env, p.b.ctx.ctPeer!, p.b.ctx.lpLocal, p.b.ctx.lpPeer, t);
    const [bI2bis] = p.b.receive([bR1bis], t + 1);
    const before = p.a.ctx;
    const [r] = p.a.receive(bI2bis!, t + 10);
    // Same CT(peer) and addresses: Ls(peer) is refreshed (§7.13), nothing to notify.
    expect(kinds(r!)).toEqual(['fast-path update', 'send R2']);
    expect(r!.ctx.state).toBe('ESTABLISHED');
    expect(r!.ctx.ctPeer).toBe(before.ctPeer);
    expect(onlySend(r!, 'R2').message.responderContextTag).toBe(before.ctLocal);
    expect(p.b.receive(r!, t + 20)[0]!.ctx.state).toBe('ESTABLISHED');
  });

  test('ESTABLISHED + I2bis with a bad validator → discarded, unchanged', () => {
    const { p } = inEstablished();
    const bR1bis = engineR1bis(p.a.env, p.b.ctx.ctPeer!, p.b.ctx.lpLocal, p.b.ctx.lpPeer, T0 + 2_000);
    const [bI2bis] = p.b.receive([bR1bis], T0 + 2_001);
    const m = onlySend(bI2bis!, 'I2bis');
    const before = p.a.ctx;
    expectDiscarded(p.a.drive(control(received(m.src, m.dst, badValidator(m.message))), T0 + 2_010), before, 'bad-validator');
  });

  test('ESTABLISHED + R2 → discarded, stays ESTABLISHED (§7.16: reply to a retransmitted I2)', () => {
    const { p, r2 } = inEstablished();
    const before = p.a.ctx;
    expectDiscarded(p.a.receive(r2, T0 + 50)[0]!, before, NOT_FOR_STATE);
  });

  test('ESTABLISHED + R1 → discarded, stays ESTABLISHED (§7.11)', () => {
    const { p, r1 } = inEstablished();
    const before = p.a.ctx;
    expectDiscarded(p.a.receive(r1, T0 + 50)[0]!, before, NOT_FOR_STATE);
  });

  test('ESTABLISHED + R1bis for another Packet Context Tag → discarded, unchanged', () => {
    const { p } = inEstablished();
    const before = p.a.ctx;
    const r1bis = engineR1bis(p.b.env, before.ctPeer! + 1, before.lpLocal, before.lpPeer, T0 + 50);
    expectDiscarded(p.a.receive([r1bis], T0 + 50)[0]!, before, 'locator-mismatch');
  });

  test('ESTABLISHED + payload → processed, stays ESTABLISHED (activity recorded, §9, §12.1)', () => {
    const { p } = inEstablished();
    const before = p.a.ctx;
    const r = p.a.drive(payloadFor(before), T0 + 60_000);
    expect(r.actions).toEqual([]);
    expect(r.drop).toBeUndefined();
    expect(r.ctx.state).toBe('ESTABLISHED');
    expect(r.ctx.lastActivity).toBe(T0 + 60_000);
    expect(nextDeadline(r.ctx, p.a.env)).toBe(T0 + 60_000 + p.a.env.config.idleTimeoutMs);
  });

  test('ESTABLISHED + Keepalive or Probe → processed (REAP\'s), not counted as activity for §9 (RFC 5534 §4.3)', () => {
    const { p } = inEstablished();
    const tag = p.a.ctx.ctLocal;
    const probe = { kind: 'Probe', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: tag, state: 1, reserved2: 0, sent: [{ source: hostB.ulid, destination: hostA.ulid, nonce: 1, data: 2 }], received: [], options: [] } as const;
    for (const [i, m] of [keepalive(tag), probe].entries()) {
      const r = p.a.drive(control(received(hostB.ulid, hostA.ulid, m)), T0 + 1_000 * (i + 1));
      expect(r.actions).toEqual([]);
      expect(r.drop).toBeUndefined();
      expect(r.ctx.lastActivity).toBe(p.a.ctx.lastActivity);
    }
  });

  test('ESTABLISHED + idle timeout → IDLE, fast path removed (§9: quiescent for IDLE_TIMEOUT)', () => {
    const { p } = inEstablished();
    const idleAt = p.a.ctx.lastActivity + p.a.env.config.idleTimeoutMs;
    expect(idleAt).toBe(T0 + 40 + 300_000);
    expect(nextDeadline(p.a.ctx, p.a.env)).toBe(idleAt);
    const before = p.a.ctx;
    const early = p.a.drive({ kind: 'timeout' }, idleAt - 1);
    expect(early.ctx).toBe(before);
    expect(early.actions).toEqual([]);
    const r = p.a.drive({ kind: 'timeout' }, idleAt);
    expect(kinds(r)).toEqual(['fast-path remove', 'notify removed']);
    expect(fastPathAction(r)!.ctx).toBe(before);
    expect(r.ctx.state).toBe('IDLE');
    expect(nextDeadline(r.ctx, p.a.env)).toBeUndefined();
  });

  test('ESTABLISHED + ICMP no-support or heuristic trigger → discarded, unchanged', () => {
    const { p } = inEstablished();
    const before = p.a.ctx;
    expectDiscarded(p.a.drive({ kind: 'icmp-no-support' }, T0 + 50), before, NOT_FOR_STATE);
    expectDiscarded(p.a.drive({ kind: 'establish' }, T0 + 50), before, NOT_FOR_STATE);
  });
});

// ---------------------------------------------------------------------------------------
// Context confusion (§7.15), both policies
// ---------------------------------------------------------------------------------------

describe('confusion', () => {
  test.each(['ESTABLISHED', 'I2BIS-SENT'] as const)('%s + confusion, policy discard → IDLE, fast path removed (§7.15 MAY discard)', (state) => {
    const { p } = state === 'ESTABLISHED' ? inEstablished({ policy: { onConfusion: 'discard' } }) : inI2bisSent({ policy: { onConfusion: 'discard' } });
    const before = p.a.ctx;
    const r = p.a.drive({ kind: 'confused' }, T0 + 5_000);
    expect(kinds(r)).toEqual(['fast-path remove', 'notify removed']);
    expect(fastPathAction(r)!.ctx).toBe(before);
    expect(r.ctx.state).toBe('IDLE');
    expect(sends(r)).toEqual([]);
  });

  test.each(['ESTABLISHED', 'I2BIS-SENT'] as const)('%s + confusion, policy reestablish → I1-SENT with a new I1 between the ULIDs (§7.15 MAY re-establish)', (state) => {
    const { p } = state === 'ESTABLISHED' ? inEstablished({ policy: { onConfusion: 'reestablish' } }) : inI2bisSent({ policy: { onConfusion: 'reestablish' } });
    p.a.ctx = { ...p.a.ctx, lpLocal: hostA.alt, lpPeer: hostB.alt };
    const before = p.a.ctx;
    const r = p.a.drive({ kind: 'confused' }, T0 + 5_000);
    expect(kinds(r)).toEqual(['fast-path remove', 'notify confusion', 'send I1']);
    const c = r.ctx;
    expect(c.state).toBe('I1-SENT');
    // The old context MUST NOT be used to send: no CT(peer), no peer locators beyond the ULID.
    expect(c.ctPeer).toBeUndefined();
    expect(c.lsPeer).toEqual([{ address: hostB.ulid, verificationMethod: 0, verified: true, flags: 0 }]);
    expect(c.genPeer).toBeUndefined();
    const i1 = onlySend(r, 'I1');
    expect(i1.src).toEqual(hostA.ulid);
    expect(i1.dst).toEqual(hostB.ulid);
    expect(i1.message.options).toEqual([]);
    expect(i1.message.initiatorContextTag).toBe(before.ctLocal);
    expect(i1.message.initiatorNonce).toBe(c.initNonce);
  });
});

// ---------------------------------------------------------------------------------------
// E-FAILED and NO-SUPPORT: "Any packet: process as in IDLE"; the hold-down ends in IDLE
// ---------------------------------------------------------------------------------------
