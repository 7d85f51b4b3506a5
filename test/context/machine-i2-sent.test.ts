/**
 * The context state machine in I2-SENT: one test per trigger cell of RFC 5533
 * Appendix B, with §7 (and §10.4-10.5, §12.2) where the text is more specific. See
 * machine.util.ts for the helpers and env.util.ts for the two-party wire.
 */
import { describe, expect, test } from 'vitest';
import { nextDeadline, step } from '../../src/context/machine.js';
import { fixedLengthOf } from '../../src/wire/control.js';
import {
  HBA,
  control,
  engineR1bis,
  forge,
  hostA,
  hostB,
  hostC,
  idleFor,
  kinds,
  onlySend,
  option,
  optionKinds,
  pair,
  received,
} from './env.util.js';
import { expectDiscarded, inEstablished, inI2Sent, keepalive, payloadFor, T0, updateAck, updateRequest } from './states.util.js';
import { replaceOption, listWithStranger, verifiedLs, expectJittered, fastPathAction, fire, NOT_FOR_STATE } from './machine.util.js';

describe('I2-SENT', () => {
  test('I2-SENT + R2 → ESTABLISHED, installs fast path', () => {
    const { p, i2 } = inI2Sent();
    const [r2] = p.b.receive(i2, T0 + 30);
    const [r] = p.a.receive(r2!, T0 + 40);
    expect(kinds(r!)).toEqual(['fast-path install', 'notify established']);
    expect(fastPathAction(r!)!.ctx).toBe(r!.ctx);
    const c = r!.ctx;
    expect(c.state).toBe('ESTABLISHED');
    expect(c.ctPeer).toBe(p.b.ctx.ctLocal);
    expect(c.lsPeer).toEqual(verifiedLs(hostB));
    expect(c.genPeer).toBe(p.b.ctx.genLocal);
    expect(c.pdsPeer).toEqual(hostB.pds);
    expect(c.retransmit).toBeUndefined();
    expect(c.respNonce).toBeUndefined();
    expect(c.validator).toBeUndefined();
    expect(c.establishedAt).toBe(T0 + 40);
    expect(nextDeadline(c, p.a.env)).toBe(T0 + 40 + p.a.env.config.idleTimeoutMs);
  });

  test('I2-SENT + R2 from a CGA host → Ls(peer) verified through its CGA Signature', () => {
    const { p, i2 } = inI2Sent({ x: hostA, y: hostC });
    const [r2] = p.b.receive(i2, T0 + 30);
    expect(optionKinds(onlySend(r2!, 'R2').message.options)).toEqual(['LocatorList', 'CgaParameterDataStructure', 'CgaSignature']);
    const [r] = p.a.receive(r2!, T0 + 40);
    expect(r!.ctx.state).toBe('ESTABLISHED');
    expect(r!.ctx.lsPeer).toEqual(verifiedLs(hostC));
  });

  test('I2-SENT + R2 with another INIT Nonce → discarded, stays I2-SENT', () => {
    const { p, i2 } = inI2Sent();
    const [r2] = p.b.receive(i2, T0 + 30);
    const m = onlySend(r2!, 'R2');
    const before = p.a.ctx;
    expectDiscarded(p.a.drive(control(received(m.src, m.dst, forge(m.message, { initiatorNonce: (m.message.initiatorNonce + 7) >>> 0 }))), T0 + 40), before, 'nonce-mismatch');
  });

  test('I2-SENT + R2 whose Locator List fails verification → Error code 2, stays I2-SENT (§7.2)', () => {
    const { p, i2 } = inI2Sent();
    const [r2] = p.b.receive(i2, T0 + 30);
    const m = onlySend(r2!, 'R2');
    const rx = received(m.src, m.dst, forge(m.message, { options: replaceOption(m.message.options, 'LocatorList', listWithStranger(hostB, 77)) }));
    const before = p.a.ctx;
    const r = p.a.drive(control(rx), T0 + 40);
    expect(r.ctx).toBe(before);
    expect(r.drop).toBe('locators-rejected');
    const err = onlySend(r, 'Error');
    expect(err.message.errorCode).toBe(2);
    expect(err.message.pointer).toBe(40 + fixedLengthOf('R2') + 4 + 4 + 1 + 1);
    expect(rx.packet[err.message.pointer]).toBe(HBA);
  });

  test('I2-SENT + I1 → sends R2, stays I2-SENT', () => {
    const { p } = inI2Sent();
    const bI1 = p.b.drive({ kind: 'establish' }, T0 + 25);
    const before = p.a.ctx;
    const [r] = p.a.receive(bI1, T0 + 30);
    expect(kinds(r!)).toEqual(['send R2']);
    expect(r!.ctx.state).toBe('I2-SENT');
    expect(r!.ctx.retransmit).toBe(before.retransmit);
    const r2 = onlySend(r!, 'R2');
    expect(r2.message.responderContextTag).toBe(before.ctLocal);
    expect(r2.message.initiatorNonce).toBe(onlySend(bI1, 'I1').message.initiatorNonce);
  });

  test('I2-SENT + I2 → sends R2, stays I2-SENT with CT(peer) recorded (crossing I2s)', () => {
    // B initiated first and sits in I2-SENT; A's I1 got an R1 from B's stateless responder side.
    const p = pair(hostA, hostB);
    const bI1 = p.b.drive({ kind: 'establish' }, T0);
    const aIdle = p.a.ctx;
    const r1ForB = step(aIdle, control(received(onlySend(bI1, 'I1').src, onlySend(bI1, 'I1').dst, onlySend(bI1, 'I1').message)), T0 + 5, p.a.env);
    p.b.receive(r1ForB, T0 + 10); // B: I2-SENT (its I2 is lost)
    expect(p.b.ctx.state).toBe('I2-SENT');
    const aI1 = p.a.drive({ kind: 'establish' }, T0 + 11);
    const r1ForA = step(idleFor(hostB, hostA, T0), control(received(onlySend(aI1, 'I1').src, onlySend(aI1, 'I1').dst, onlySend(aI1, 'I1').message)), T0 + 12, p.b.env);
    const [aI2] = p.a.receive(r1ForA, T0 + 15);
    const before = p.b.ctx;
    const [r] = p.b.receive(aI2!, T0 + 20);
    expect(kinds(r!)).toEqual(['send R2', 'notify peer-locators-changed']);
    expect(r!.ctx.state).toBe('I2-SENT');
    expect(r!.ctx.ctPeer).toBe(p.a.ctx.ctLocal);
    expect(r!.ctx.lsPeer).toEqual(verifiedLs(hostA));
    expect(r!.ctx.ctLocal).toBe(before.ctLocal);
    expect(r!.ctx.retransmit).toBe(before.retransmit);
    expect(onlySend(r!, 'R2').message.responderContextTag).toBe(before.ctLocal);
    // A takes the R2 and is ESTABLISHED; B's next I2 retransmission finishes B.
    const [aDone] = p.a.receive(r!, T0 + 30);
    expect(aDone!.ctx.state).toBe('ESTABLISHED');
    const bI2 = fire(p.b);
    expect(onlySend(bI2, 'I2').message.initiatorContextTag).toBe(before.ctLocal);
    const [r2] = p.a.receive(bI2, p.b.ctx.retransmit!.sentAt + 1);
    // Same CT(peer) and addresses: Ls(peer) is refreshed (§7.13), nothing to notify.
    expect(kinds(r2!)).toEqual(['fast-path update', 'send R2']);
    expect(r2!.ctx.ctPeer).toBe(before.ctLocal);
    const [bDone] = p.b.receive(r2!, p.b.ctx.retransmit!.sentAt + 2);
    expect(bDone!.ctx.state).toBe('ESTABLISHED');
    expect(bDone!.ctx.ctPeer).toBe(p.a.ctx.ctLocal);
    expect(p.a.ctx.ctPeer).toBe(p.b.ctx.ctLocal);
  });

  test('I2-SENT + I2bis → sends R2, stays I2-SENT (§7.20)', () => {
    // Both ESTABLISHED; B loses its context and re-initiates (I1 → A's R1 → I2 lost): I2-SENT.
    // A's next payload hits B's engine with the old tag → R1bis → A sends I2bis to B.
    const { p } = inEstablished();
    const t = T0 + 1_000;
    p.b.lose(hostA, t);
    const bI1 = p.b.drive({ kind: 'establish' }, t);
    const [aR1] = p.a.receive(bI1, t + 5);
    expect(onlySend(aR1!, 'R1')).toBeDefined();
    p.b.receive(aR1!, t + 10);
    expect(p.b.ctx.state).toBe('I2-SENT');
    const r1bis = engineR1bis(p.b.env, p.a.ctx.ctPeer!, p.a.ctx.lpLocal, p.a.ctx.lpPeer, t + 11);
    const [i2bis] = p.a.receive([r1bis], t + 12);
    const before = p.b.ctx;
    const [r] = p.b.receive(i2bis!, t + 20);
    expect(kinds(r!)).toEqual(['send R2', 'notify peer-locators-changed']);
    expect(r!.ctx.state).toBe('I2-SENT');
    expect(r!.ctx.ctPeer).toBe(p.a.ctx.ctLocal);
    expect(r!.ctx.retransmit).toBe(before.retransmit);
    const r2 = onlySend(r!, 'R2');
    expect(r2.message.responderContextTag).toBe(before.ctLocal);
    expect(r2.message.initiatorNonce).toBe(onlySend(i2bis!, 'I2bis').message.initiatorNonce);
    const [aDone] = p.a.receive(r!, t + 30);
    expect(kinds(aDone!)).toEqual(['fast-path update', 'notify recovered']);
    expect(aDone!.ctx.ctPeer).toBe(before.ctLocal);
  });

  test('I2-SENT + R1 → discarded, stays I2-SENT (§7.11: a reply to a retransmitted I1)', () => {
    const { p, r1 } = inI2Sent();
    const before = p.a.ctx;
    expectDiscarded(p.a.receive(r1, T0 + 25)[0]!, before, NOT_FOR_STATE);
  });

  test('I2-SENT + timeout ≤ I2_RETRIES_MAX → resends the same I2 with backoff (§7.12, jitter off)', () => {
    const { p, i2 } = inI2Sent({ config: { jitter: false } });
    const first = onlySend(i2, 'I2').message;
    expect(p.a.ctx.retransmit).toEqual({ count: 0, timeoutMs: 4_000, sentAt: T0 + 20, deadline: T0 + 4_020 });
    const r1 = p.a.drive({ kind: 'timeout' }, T0 + 4_020);
    expect(onlySend(r1, 'I2').message).toEqual(first);
    expect(r1.ctx.state).toBe('I2-SENT');
    expect(r1.ctx.retransmit).toEqual({ count: 1, timeoutMs: 8_000, sentAt: T0 + 4_020, deadline: T0 + 12_020 });
    const r2 = p.a.drive({ kind: 'timeout' }, T0 + 12_020);
    expect(onlySend(r2, 'I2').message).toEqual(first);
    expect(r2.ctx.retransmit).toEqual({ count: 2, timeoutMs: 16_000, sentAt: T0 + 12_020, deadline: T0 + 28_020 });
  });

  test('I2-SENT + timeout > I2_RETRIES_MAX → I1-SENT with I1', () => {
    // §7.12: fall back to retransmitting the I1.
    const { p } = inI2Sent();
    const before = p.a.ctx;
    fire(p.a);
    fire(p.a);
    const r = fire(p.a);
    expect(kinds(r)).toEqual(['send I1']);
    const c = r.ctx;
    expect(c.state).toBe('I1-SENT');
    expect(c.ctLocal).toBe(before.ctLocal);
    expect(p.a.env.allocated).toEqual([before.ctLocal]);
    expect(c.respNonce).toBeUndefined();
    expect(c.validator).toBeUndefined();
    const i1 = onlySend(r, 'I1');
    expect(i1.message.initiatorContextTag).toBe(c.ctLocal);
    expect(i1.message.initiatorNonce).toBe(c.initNonce);
    expect(c.retransmit!.count).toBe(0);
    expectJittered(c.retransmit!, 4_000);
  });

  test('I2-SENT + timeout with jitter → deadlines in [0.5, 1.5] × 4 s, 8 s, 16 s', () => {
    const { p } = inI2Sent();
    expectJittered(p.a.ctx.retransmit!, 4_000);
    expectJittered(fire(p.a).ctx.retransmit!, 8_000);
    expectJittered(fire(p.a).ctx.retransmit!, 16_000);
  });

  test('I2-SENT + R1bis → N/A (CT(peer) unset); discarded, stays I2-SENT', () => {
    const { p } = inI2Sent();
    const before = p.a.ctx;
    expectDiscarded(p.a.receive([engineR1bis(p.b.env, 0x777, hostA.ulid, hostB.ulid, T0 + 25)], T0 + 25)[0]!, before, NOT_FOR_STATE);
  });

  test('I2-SENT + payload → resends I2 (rate-limited)', () => {
    const { p, i2 } = inI2Sent();
    const first = onlySend(i2, 'I2').message;
    const sentAt = p.a.ctx.retransmit!.sentAt;
    const deadline = p.a.ctx.retransmit!.deadline;
    const early = p.a.ctx;
    const r0 = p.a.drive(payloadFor(early), sentAt + 999);
    expect(r0.ctx).toBe(early);
    expect(r0.actions).toEqual([]);
    const r1 = p.a.drive(payloadFor(early), sentAt + 1_000);
    expect(onlySend(r1, 'I2').message).toEqual(first);
    expect(r1.ctx.state).toBe('I2-SENT');
    // A triggered resend does not restart the backoff timer.
    expect(r1.ctx.retransmit).toEqual({ ...early.retransmit, sentAt: sentAt + 1_000 });
    expect(r1.ctx.retransmit!.deadline).toBe(deadline);
    expect(p.a.drive(payloadFor(early), sentAt + 1_500).actions).toEqual([]);
    expect(onlySend(p.a.drive(payloadFor(early), sentAt + 2_000), 'I2').message).toEqual(first);
  });

  test('I2-SENT + Keepalive → resends I2 ("other control packet": R2 probably lost)', () => {
    const { p, i2 } = inI2Sent();
    const t = p.a.ctx.retransmit!.sentAt + 1_000;
    const r = p.a.drive(control(received(hostB.ulid, hostA.ulid, keepalive(p.a.ctx.ctLocal))), t);
    expect(onlySend(r, 'I2').message).toEqual(onlySend(i2, 'I2').message);
    expect(r.drop).toBeUndefined();
  });

  test('I2-SENT + Update Request → resends I2; the request waits for its retransmission (deviation from §10.4: no CT(peer) to acknowledge with)', () => {
    const { p, i2 } = inI2Sent();
    const t = p.a.ctx.retransmit!.sentAt + 1_000;
    const r = p.a.drive(control(received(hostB.ulid, hostA.ulid, updateRequest(p.a.ctx.ctLocal, 11, []))), t);
    expect(kinds(r)).toEqual(['send I2']);
    expect(onlySend(r, 'I2').message).toEqual(onlySend(i2, 'I2').message);
    expect(r.drop).toBe(NOT_FOR_STATE);
    expect(r.ctx.state).toBe('I2-SENT');
    expect(r.ctx.lsPeer).toBe(p.a.history.at(-2)!.ctx.lsPeer);
  });

  test('I2-SENT + Update Acknowledgement → resends I2 (§10.5 says R2; an ESTABLISHED peer ignores R2, §7.16)', () => {
    const { p, i2 } = inI2Sent();
    const t = p.a.ctx.retransmit!.sentAt + 1_000;
    const r = p.a.drive(control(received(hostB.ulid, hostA.ulid, updateAck(p.a.ctx.ctLocal, 11))), t);
    expect(kinds(r)).toEqual(['send I2']);
    expect(onlySend(r, 'I2').message).toEqual(onlySend(i2, 'I2').message);
    expect(r.drop).toBe(NOT_FOR_STATE);
  });

  test('I2-SENT + local locators changed → the next I2 carries the new Ls(local)', () => {
    const { p } = inI2Sent();
    const locators = hostA.locators.slice(0, 1);
    const r = p.a.drive({ kind: 'local-locators', locators, preferences: undefined }, T0 + 25);
    expect(r.actions).toEqual([]);
    const again = fire(p.a);
    const list = option(onlySend(again, 'I2').message.options, 'LocatorList');
    expect(list).toMatchObject({ generation: r.ctx.genLocal, locators });
    expect(option(onlySend(again, 'I2').message.options, 'CgaParameterDataStructure')!.pds).toEqual(hostA.pds);
    // And the responder ends up with the new list.
    const [r2] = p.b.receive(again, again.ctx.retransmit!.sentAt + 5);
    expect(r2!.ctx.lsPeer).toEqual(verifiedLs({ locators }));
  });

  test('I2-SENT + ICMP no-support or heuristic trigger → discarded, stays I2-SENT', () => {
    const { p } = inI2Sent();
    const before = p.a.ctx;
    expectDiscarded(p.a.drive({ kind: 'icmp-no-support' }, T0 + 25), before, NOT_FOR_STATE);
    expectDiscarded(p.a.drive({ kind: 'establish' }, T0 + 25), before, NOT_FOR_STATE);
  });
});

// ---------------------------------------------------------------------------------------
// I2BIS-SENT
// ---------------------------------------------------------------------------------------
