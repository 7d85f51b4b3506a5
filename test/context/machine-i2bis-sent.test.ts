/**
 * The context state machine in I2BIS-SENT: one test per trigger cell of RFC 5533
 * Appendix B, with §7 (and §10.4-10.5, §12.2) where the text is more specific. See
 * machine.util.ts for the helpers and env.util.ts for the two-party wire.
 */
import { describe, expect, test } from 'vitest';
import { hasFastPath, step } from '../../src/context/machine.js';
import {
  control,
  engineR1bis,
  forge,
  hostA,
  hostB,
  idleFor,
  kinds,
  onlySend,
  option,
  optionKinds,
  received,
} from './env.util.js';
import { expectDiscarded, inEstablished, inI2bisSent, payloadFor, T0 } from './states.util.js';
import { expectJittered, fastPathAction, fire, NOT_FOR_STATE } from './machine.util.js';

describe('I2BIS-SENT', () => {
  test('ESTABLISHED + R1bis → I2BIS-SENT, sends I2bis', () => {
    const { p } = inEstablished();
    const before = p.a.ctx;
    const t = T0 + 1_000;
    const r1bis = engineR1bis(p.b.env, before.ctPeer!, before.lpLocal, before.lpPeer, t);
    const [r] = p.a.receive([r1bis], t + 10);
    // The fast path stays: I2BIS-SENT keeps CT(peer) (§11).
    expect(kinds(r!)).toEqual(['send I2bis']);
    const c = r!.ctx;
    expect(c.state).toBe('I2BIS-SENT');
    expect(c.ctPeer).toBe(before.ctPeer);
    expect(hasFastPath(c)).toBe(true);
    const m = onlySend(r!, 'I2bis');
    expect(m.src).toEqual(before.lpLocal);
    expect(m.dst).toEqual(before.lpPeer);
    expect(m.message.initiatorContextTag).toBe(before.ctLocal);
    expect(m.message.initiatorNonce).toBe(c.initNonce);
    expect(m.message.responderNonce).toBe(r1bis.message.responderNonce);
    expect(m.message.packetContextTag).toBe(before.ctPeer);
    expect(optionKinds(m.message.options)).toEqual(['ResponderValidator', 'LocatorList', 'CgaParameterDataStructure']);
    expect(option(m.message.options, 'ResponderValidator')!.validator).toEqual(option(r1bis.message.options, 'ResponderValidator')!.validator);
    expect(option(m.message.options, 'LocatorList')).toMatchObject({ generation: c.genLocal, locators: hostA.locators });
    expectJittered(c.retransmit!, 4_000);
  });

  test('ESTABLISHED (locators ≠ ULIDs) + R1bis → the I2bis carries the ULID Pair option (§7.18)', () => {
    const { p } = inEstablished();
    p.a.ctx = { ...p.a.ctx, lpLocal: hostA.alt, lpPeer: hostB.alt };
    const r1bis = engineR1bis(p.b.env, p.a.ctx.ctPeer!, hostA.alt, hostB.alt, T0 + 1_000);
    const [r] = p.a.receive([r1bis], T0 + 1_010);
    const m = onlySend(r!, 'I2bis');
    expect(m.src).toEqual(hostA.alt);
    expect(optionKinds(m.message.options).slice(0, 2)).toEqual(['ResponderValidator', 'UlidPair']);
  });

  test('I2BIS-SENT + R2 → ESTABLISHED, fast path updated with the new CT(peer) (recovered, Figure 6)', () => {
    const { p, i2bis, oldCtPeer, t } = inI2bisSent();
    const [r2] = p.b.receive(i2bis, t + 10);
    const [r] = p.a.receive(r2!, t + 20);
    expect(kinds(r!)).toEqual(['fast-path update', 'notify recovered']);
    expect(fastPathAction(r!)!.ctx).toBe(r!.ctx);
    const c = r!.ctx;
    expect(c.state).toBe('ESTABLISHED');
    expect(c.ctPeer).toBe(p.b.ctx.ctLocal);
    expect(c.ctPeer).not.toBe(oldCtPeer);
    expect(c.retransmit).toBeUndefined();
    expect(c.ctR1bis).toBeUndefined();
    expect(c.establishedAt).toBe(T0 + 40);
  });

  test('I2BIS-SENT + R2 with another INIT Nonce → discarded, stays I2BIS-SENT', () => {
    const { p, i2bis, t } = inI2bisSent();
    const [r2] = p.b.receive(i2bis, t + 10);
    const m = onlySend(r2!, 'R2');
    const before = p.a.ctx;
    expectDiscarded(p.a.drive(control(received(m.src, m.dst, forge(m.message, { initiatorNonce: (m.message.initiatorNonce + 1) >>> 0 }))), t + 20), before, 'nonce-mismatch');
  });

  test('I2BIS-SENT + I1 → sends R2, stays I2BIS-SENT', () => {
    const { p, t } = inI2bisSent();
    const bI1 = p.b.drive({ kind: 'establish' }, t + 5);
    const before = p.a.ctx;
    const [r] = p.a.receive(bI1, t + 10);
    expect(kinds(r!)).toEqual(['send R2']);
    expect(r!.ctx.state).toBe('I2BIS-SENT');
    expect(r!.ctx.ctPeer).toBe(before.ctPeer);
    const r2 = onlySend(r!, 'R2');
    expect(r2.message.responderContextTag).toBe(before.ctLocal);
    expect(r2.message.initiatorNonce).toBe(onlySend(bI1, 'I1').message.initiatorNonce);
  });

  test('I2BIS-SENT + I2 → sends R2, stays I2BIS-SENT with the new CT(peer)', () => {
    // B lost the context and re-initiates; A, meanwhile in I2BIS-SENT, gets B's I2.
    const { p, i2bis, t } = inI2bisSent();
    const bI1 = p.b.drive({ kind: 'establish' }, t + 1);
    const aAnswer = step(idleFor(hostA, hostB, t), control(received(onlySend(bI1, 'I1').src, onlySend(bI1, 'I1').dst, onlySend(bI1, 'I1').message)), t + 2, p.a.env);
    const [bI2] = p.b.receive(aAnswer, t + 3);
    const before = p.a.ctx;
    const [r] = p.a.receive(bI2!, t + 10);
    expect(kinds(r!)).toEqual(['fast-path update', 'send R2', 'notify peer-locators-changed']);
    expect(r!.ctx.state).toBe('I2BIS-SENT');
    expect(r!.ctx.ctPeer).toBe(p.b.ctx.ctLocal);
    expect(r!.ctx.retransmit).toBe(before.retransmit);
    expect(onlySend(r!, 'R2').message.responderContextTag).toBe(before.ctLocal);
    // B is ESTABLISHED with it; A's I2bis then gets its R2 from B (ESTABLISHED + I2bis).
    expect(p.b.receive(r!, t + 20)[0]!.ctx.state).toBe('ESTABLISHED');
    const [bR2] = p.b.receive(i2bis, t + 21);
    // Same CT(peer) and addresses: Ls(peer) is refreshed (§7.13), nothing to notify.
    expect(kinds(bR2!)).toEqual(['fast-path update', 'send R2']);
    const [done] = p.a.receive(bR2!, t + 30);
    expect(done!.ctx.state).toBe('ESTABLISHED');
    expect(done!.ctx.ctPeer).toBe(p.b.ctx.ctLocal);
  });

  test('I2BIS-SENT + I2bis → sends R2, stays I2BIS-SENT', () => {
    // Both sides received an R1bis (each side's stale Probe, say) and sent I2bis.
    const { p } = inEstablished();
    const t = T0 + 2_000;
    const aR1bis = engineR1bis(p.b.env, p.a.ctx.ctPeer!, p.a.ctx.lpLocal, p.a.ctx.lpPeer, t);
    const bR1bis = engineR1bis(p.a.env, p.b.ctx.ctPeer!, p.b.ctx.lpLocal, p.b.ctx.lpPeer, t);
    const [aI2bis] = p.a.receive([aR1bis], t + 1);
    p.b.receive([bR1bis], t + 2);
    expect(p.b.ctx.state).toBe('I2BIS-SENT');
    const before = p.b.ctx;
    const [r] = p.b.receive(aI2bis!, t + 10);
    // Same CT(peer) and addresses: Ls(peer) is refreshed (§7.13), nothing to notify.
    expect(kinds(r!)).toEqual(['fast-path update', 'send R2']);
    expect(r!.ctx.state).toBe('I2BIS-SENT');
    expect(r!.ctx.ctPeer).toBe(p.a.ctx.ctLocal);
    expect(r!.ctx.retransmit).toBe(before.retransmit);
    expect(onlySend(r!, 'R2').message.initiatorNonce).toBe(onlySend(aI2bis!, 'I2bis').message.initiatorNonce);
  });

  test('I2BIS-SENT + R1 or R1bis → discarded, stays I2BIS-SENT', () => {
    const { r1 } = inEstablished();
    const { p, r1bis, t } = inI2bisSent();
    const before = p.a.ctx;
    expectDiscarded(p.a.receive(r1, t + 5)[0]!, before, NOT_FOR_STATE);
    expectDiscarded(p.a.receive([r1bis], t + 5)[0]!, before, NOT_FOR_STATE);
  });

  test('I2BIS-SENT + timeout ≤ I2bis_RETRIES_MAX → resends the same I2bis with backoff (§7.19, jitter off)', () => {
    const { p, i2bis, t } = inI2bisSent({ config: { jitter: false, idleTimeoutMs: 10_000_000 } });
    const first = onlySend(i2bis, 'I2bis').message;
    expect(p.a.ctx.retransmit).toEqual({ count: 0, timeoutMs: 4_000, sentAt: t, deadline: t + 4_000 });
    const r1 = p.a.drive({ kind: 'timeout' }, t + 4_000);
    expect(onlySend(r1, 'I2bis').message).toEqual(first);
    expect(r1.ctx.retransmit).toEqual({ count: 1, timeoutMs: 8_000, sentAt: t + 4_000, deadline: t + 12_000 });
    const r2 = p.a.drive({ kind: 'timeout' }, t + 12_000);
    expect(onlySend(r2, 'I2bis').message).toEqual(first);
    expect(r2.ctx.retransmit).toEqual({ count: 2, timeoutMs: 16_000, sentAt: t + 12_000, deadline: t + 28_000 });
    expect(r2.ctx.state).toBe('I2BIS-SENT');
  });

  test('I2BIS-SENT + timeout with jitter → deadlines in [0.5, 1.5] × 4 s, 8 s, 16 s (§7.19, §14)', () => {
    const { p } = inI2bisSent();
    expectJittered(p.a.ctx.retransmit!, 4_000);
    expectJittered(fire(p.a).ctx.retransmit!, 8_000);
    expectJittered(fire(p.a).ctx.retransmit!, 16_000);
    expect(p.a.ctx.state).toBe('I2BIS-SENT');
  });

  test('I2BIS-SENT + timeout > I2bis_RETRIES_MAX → I1-SENT with I1, fast path removed (§7.19)', () => {
    const { p } = inI2bisSent();
    const before = p.a.ctx;
    fire(p.a);
    fire(p.a);
    const r = fire(p.a);
    expect(kinds(r)).toEqual(['fast-path remove', 'send I1']);
    expect(r.ctx.state).toBe('I1-SENT');
    expect(r.ctx.ctPeer).toBeUndefined();
    expect(r.ctx.ctLocal).toBe(before.ctLocal);
    expect(onlySend(r, 'I1').message.initiatorContextTag).toBe(before.ctLocal);
    expectJittered(r.ctx.retransmit!, 4_000);
  });

  test('I2BIS-SENT + payload → resends I2bis (rate-limited)', () => {
    const { p, i2bis, t } = inI2bisSent();
    const first = onlySend(i2bis, 'I2bis').message;
    const before = p.a.ctx;
    const r0 = p.a.drive(payloadFor(before), t + 500);
    expect(r0.ctx).toBe(before);
    expect(r0.actions).toEqual([]);
    const r1 = p.a.drive(payloadFor(before), t + 1_000);
    expect(kinds(r1)).toEqual(['send I2bis']);
    expect(onlySend(r1, 'I2bis').message).toEqual(first);
    expect(r1.ctx.retransmit!.deadline).toBe(before.retransmit!.deadline);
    expect(p.a.drive(payloadFor(before), t + 1_999).actions).toEqual([]);
  });

  test('I2BIS-SENT + idle timeout → IDLE, fast path removed', () => {
    const { p, t } = inI2bisSent({ config: { idleTimeoutMs: 5_000, i2bisTimeoutMs: 60_000 } });
    const r = p.a.drive({ kind: 'timeout' }, t + 5_000);
    expect(kinds(r)).toEqual(['fast-path remove', 'notify removed']);
    expect(r.ctx.state).toBe('IDLE');
  });

  test('I2BIS-SENT + ICMP no-support or heuristic trigger → discarded, stays I2BIS-SENT', () => {
    const { p, t } = inI2bisSent();
    const before = p.a.ctx;
    expectDiscarded(p.a.drive({ kind: 'icmp-no-support' }, t + 5), before, NOT_FOR_STATE);
    expectDiscarded(p.a.drive({ kind: 'establish' }, t + 5), before, NOT_FOR_STATE);
  });
});

// ---------------------------------------------------------------------------------------
// ESTABLISHED (the §10 update cells are in update.test.ts)
// ---------------------------------------------------------------------------------------
