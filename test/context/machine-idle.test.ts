/**
 * The context state machine in IDLE: one test per trigger cell of RFC 5533
 * Appendix B, with §7 (and §10.4-10.5, §12.2) where the text is more specific. See
 * machine.util.ts for the helpers and env.util.ts for the two-party wire.
 */
import { describe, expect, test } from 'vitest';
import { hasFastPath, nextDeadline, step } from '../../src/context/machine.js';
import { readU16 } from '../../src/wire/bytes.js';
import { fixedLengthOf, type I2Message } from '../../src/wire/control.js';
import { OptionType } from '../../src/wire/constants.js';
import {
  HBA,
  STRANGER,
  control,
  forge,
  hostA,
  hostB,
  idleFor,
  kinds,
  onlySend,
  option,
  optionKinds,
  pair,
  received,
  sends,
} from './env.util.js';
import { expectDiscarded, inEstablished, inI1Sent, inI2bisSent, inI2Sent, keepalive, payloadFor, T0, updateAck, updateRequest } from './states.util.js';
import { replaceOption, badValidator, listWithStranger, verifiedLs, i2FromStranger, expectJittered, fastPathAction, NOT_FOR_STATE } from './machine.util.js';

describe('IDLE', () => {
  test('IDLE + I1 → sends R1, stays IDLE (no state)', () => {
    const { p, i1 } = inI1Sent();
    const before = p.b.ctx;
    const t = T0 + 10;
    const [r] = p.b.receive(i1, t);
    expect(r!.ctx).toBe(before);
    expect(r!.drop).toBeUndefined();
    const sentI1 = onlySend(i1, 'I1');
    const r1 = onlySend(r!, 'R1');
    expect(r1.src).toEqual(sentI1.dst);
    expect(r1.dst).toEqual(sentI1.src);
    expect(r1.message.initiatorNonce).toBe(sentI1.message.initiatorNonce);
    expect(r1.message.responderNonce).toBe(p.b.env.validators.nonce(t));
    const v = option(r1.message.options, 'ResponderValidator')!.validator;
    expect(v).toHaveLength(16);
    // §7.10.1: the validator is what B recomputes from the I1's fields when the I2 comes.
    const input = { initiatorContextTag: sentI1.message.initiatorContextTag, ulidInitiator: hostA.ulid, ulidResponder: hostB.ulid, locInitiator: sentI1.src, locResponder: sentI1.dst, fii: 0 };
    expect(p.b.env.validators.checkI2(t, r1.message.responderNonce, v, input)).toBe('ok');
    expect(p.b.env.allocated).toEqual([]);
    expect(nextDeadline(r!.ctx, p.b.env)).toBeUndefined();
  });

  test('IDLE + heuristic trigger → sends I1, moves to I1-SENT', () => {
    const p = pair(hostA, hostB);
    const r = p.a.drive({ kind: 'establish' }, T0);
    expect(kinds(r)).toEqual(['send I1']);
    expect(r.ctx.state).toBe('I1-SENT');
    expect(p.a.env.allocated).toEqual([r.ctx.ctLocal]);
    expect(r.ctx.ctPeer).toBeUndefined();
    expect(r.ctx.initiator).toBe(true);
    const i1 = onlySend(r, 'I1');
    expect(i1.src).toEqual(hostA.ulid);
    expect(i1.dst).toEqual(hostB.ulid);
    expect(i1.message.initiatorContextTag).toBe(r.ctx.ctLocal);
    expect(i1.message.initiatorNonce).toBe(r.ctx.initNonce);
    // §7.7: the locators are the ULIDs, so no ULID Pair option; FII is zero, so no FII option.
    expect(i1.message.options).toEqual([]);
    expectJittered(r.ctx.retransmit!, 4_000);
    expect(r.ctx.retransmit).toMatchObject({ count: 0, sentAt: T0 });
    expect(nextDeadline(r.ctx, p.a.env)).toBe(r.ctx.retransmit!.deadline);
    expect(hasFastPath(r.ctx)).toBe(false);
  });

  test('IDLE + heuristic trigger with locators ≠ ULIDs and an FII → I1 carries the ULID Pair and FII options (§7.7)', () => {
    const p = pair(hostA, hostB);
    p.a.ctx = idleFor(hostA, hostB, T0, { lpLocal: hostA.alt, lpPeer: hostB.alt, fii: 7 });
    const i1 = onlySend(p.a.drive({ kind: 'establish' }, T0), 'I1');
    expect(i1.src).toEqual(hostA.alt);
    expect(i1.dst).toEqual(hostB.alt);
    expect(optionKinds(i1.message.options)).toEqual(['UlidPair', 'ForkedInstanceIdentifier']);
    expect(option(i1.message.options, 'UlidPair')).toMatchObject({ senderUlid: hostA.ulid, receiverUlid: hostB.ulid });
    expect(option(i1.message.options, 'ForkedInstanceIdentifier')!.forkedInstanceId).toBe(7);
  });

  test('IDLE + I1 with ULID Pair and FII → R1 whose validator covers them; the I2 repeats both and establishes (§7.10.1, §7.11)', () => {
    const p = pair(hostA, hostB);
    p.a.ctx = idleFor(hostA, hostB, T0, { lpLocal: hostA.alt, lpPeer: hostB.alt, fii: 7 });
    p.b.ctx = idleFor(hostB, hostA, T0, { fii: 7 });
    const i1 = p.a.drive({ kind: 'establish' }, T0);
    const [r1] = p.b.receive(i1, T0 + 10);
    const [i2] = p.a.receive(r1!, T0 + 20);
    const m = onlySend(i2!, 'I2');
    expect(optionKinds(m.message.options).slice(0, 3)).toEqual(['ResponderValidator', 'UlidPair', 'ForkedInstanceIdentifier']);
    const [r2] = p.b.receive(i2!, T0 + 30);
    expect(r2!.ctx.state).toBe('ESTABLISHED');
    expect(r2!.ctx.lpPeer).toEqual(hostA.alt);
    expect(r2!.ctx.lpLocal).toEqual(hostB.alt);
    // The FII is part of the validator input: an I2 claiming FII 8 is not the one the R1 answered.
    const other = forge(m.message, { options: replaceOption(m.message.options, 'ForkedInstanceIdentifier', { kind: 'ForkedInstanceIdentifier', critical: false, forkedInstanceId: 8 }) });
    const fresh = idleFor(hostB, hostA, T0, { fii: 8 });
    const r = step(fresh, control(received(m.src, m.dst, other)), T0 + 30, p.b.env);
    expectDiscarded(r, fresh, 'bad-validator');
  });

  test('IDLE + I2 → sends R2, moves to ESTABLISHED, installs fast path', () => {
    const { p, i2 } = inI2Sent();
    const m = onlySend(i2, 'I2');
    const [r] = p.b.receive(i2, T0 + 30);
    expect(kinds(r!)).toEqual(['fast-path install', 'send R2', 'notify established']);
    const c = r!.ctx;
    expect(fastPathAction(r!)!.ctx).toBe(c);
    expect(c.state).toBe('ESTABLISHED');
    expect(p.b.env.allocated).toEqual([c.ctLocal]);
    expect(c.ctPeer).toBe(m.message.initiatorContextTag);
    expect(c.ctPeer).toBe(p.a.ctx.ctLocal);
    expect(c.lsPeer).toEqual(verifiedLs(hostA));
    expect(c.genPeer).toBe(p.a.ctx.genLocal);
    expect(c.pdsPeer).toEqual(hostA.pds);
    expect(c.lpPeer).toEqual(m.src);
    expect(c.lpLocal).toEqual(m.dst);
    expect(c.initiator).toBe(false);
    expect(c.establishedAt).toBe(T0 + 30);
    expect(c.retransmit).toBeUndefined();
    const r2 = onlySend(r!, 'R2');
    expect(r2.src).toEqual(m.dst);
    expect(r2.dst).toEqual(m.src);
    expect(r2.message.responderContextTag).toBe(c.ctLocal);
    expect(r2.message.initiatorNonce).toBe(m.message.initiatorNonce);
    // §7.14: Ls(B) with the CGA Parameter Data Structure; HBA needs no signature.
    expect(optionKinds(r2.message.options)).toEqual(['LocatorList', 'CgaParameterDataStructure']);
    expect(option(r2.message.options, 'LocatorList')).toMatchObject({ generation: c.genLocal, locators: hostB.locators });
    expect(option(r2.message.options, 'CgaParameterDataStructure')!.pds).toEqual(hostB.pds);
    expect(nextDeadline(c, p.b.env)).toBe(T0 + 30 + p.b.env.config.idleTimeoutMs);
  });

  test.each([
    ['a flipped Responder Validator', (m: I2Message) => badValidator(m)],
    ['another Responder Nonce', (m: I2Message) => forge(m, { responderNonce: (m.responderNonce - 1) >>> 0 })],
    ['another Initiator Context Tag', (m: I2Message) => forge(m, { initiatorContextTag: m.initiatorContextTag + 1 })],
  ])('IDLE + I2 with %s → discarded, stays IDLE (§7.13)', (_, change) => {
    const { p, i2 } = inI2Sent();
    const m = onlySend(i2, 'I2');
    const before = p.b.ctx;
    const r = p.b.drive(control(received(m.src, m.dst, change(m.message))), T0 + 30);
    expectDiscarded(r, before, 'bad-validator');
    expect(p.b.env.allocated).toEqual([]);
  });

  test('IDLE + I2 with a Responder Nonce older than VALIDATOR_MIN_LIFETIME (+ one nonce period) → discarded, stays IDLE', () => {
    const { p, i2 } = inI2Sent();
    const before = p.b.ctx;
    const late = T0 + 10 + p.b.env.config.validatorMinLifetimeMs + p.b.env.config.validatorNoncePeriodMs;
    const [r] = p.b.receive(i2, late);
    expectDiscarded(r!, before, 'stale-validator');
  });

  test('IDLE + I2 from a locator outside its own verified Locator List → discarded, stays IDLE', () => {
    const { p, i2 } = inI2Sent();
    const m = onlySend(i2, 'I2');
    const before = p.b.ctx;
    const r = p.b.drive(control(received(STRANGER, m.dst, i2FromStranger(m, p.b.env, T0 + 30))), T0 + 30);
    expectDiscarded(r, before, 'source-not-verified');
  });

  test('IDLE + I2 with a CGA Parameter Data Structure that is not ULID(peer)\'s → silently discarded (§7.13)', () => {
    const { p, i2 } = inI2Sent();
    const m = onlySend(i2, 'I2');
    const forged = forge(m.message, { options: replaceOption(m.message.options, 'CgaParameterDataStructure', { kind: 'CgaParameterDataStructure', critical: false, pds: hostB.pds }) });
    const before = p.b.ctx;
    const r = p.b.drive(control(received(m.src, m.dst, forged)), T0 + 30);
    expectDiscarded(r, before, 'bad-pds');
  });

  test('IDLE + I2 whose Locator List fails verification → Error code 2 at that locator\'s method octet, stays IDLE (§7.2)', () => {
    const { p, i2 } = inI2Sent();
    const m = onlySend(i2, 'I2');
    const forged = forge(m.message, { options: replaceOption(m.message.options, 'LocatorList', listWithStranger(hostA, p.a.ctx.genLocal)) });
    const rx = received(m.src, m.dst, forged);
    const before = p.b.ctx;
    const r = p.b.drive(control(rx), T0 + 30);
    expect(r.ctx).toBe(before);
    expect(r.drop).toBe('locators-rejected');
    const err = onlySend(r, 'Error');
    expect(err.src).toEqual(m.dst);
    expect(err.dst).toEqual(m.src);
    expect(err.message.errorCode).toBe(2);
    // Options: Responder Validator (24 octets on the wire), then the Locator List; index 1.
    expect(err.message.pointer).toBe(40 + fixedLengthOf('I2') + 24 + 4 + 4 + 1 + 1);
    expect(rx.packet[err.message.pointer]).toBe(HBA);
    expect(readU16(rx.packet, err.message.pointer - 10) >>> 1).toBe(OptionType.LocatorList);
    expect(err.message.packetInError).toEqual(rx.packet);
  });

  test('IDLE + I2bis → sends R2, moves to ESTABLISHED with a new CT(local) (§7.20)', () => {
    const { p, i2bis, oldCtPeer, t } = inI2bisSent();
    const m = onlySend(i2bis, 'I2bis');
    const [r] = p.b.receive(i2bis, t + 10);
    expect(kinds(r!)).toEqual(['fast-path install', 'send R2', 'notify established']);
    const c = r!.ctx;
    expect(c.state).toBe('ESTABLISHED');
    // "SHOULD NOT use the Packet Context Tag in the I2bis message for CT(local)".
    expect(c.ctLocal).not.toBe(oldCtPeer);
    expect(p.b.env.allocated.at(-1)).toBe(c.ctLocal);
    expect(c.ctPeer).toBe(p.a.ctx.ctLocal);
    expect(c.lsPeer).toEqual(verifiedLs(hostA));
    const r2 = onlySend(r!, 'R2');
    expect(r2.message.responderContextTag).toBe(c.ctLocal);
    expect(r2.message.initiatorNonce).toBe(m.message.initiatorNonce);
    expect(r2.dst).toEqual(m.src);
  });

  test('IDLE + I2bis with another Packet Context Tag or a flipped validator → discarded, stays IDLE', () => {
    const { p, i2bis, t } = inI2bisSent();
    const m = onlySend(i2bis, 'I2bis');
    const before = p.b.ctx;
    for (const forged of [forge(m.message, { packetContextTag: m.message.packetContextTag + 1 }), badValidator(m.message)]) {
      const r = p.b.drive(control(received(m.src, m.dst, forged)), t + 10);
      expectDiscarded(r, before, 'bad-validator');
    }
  });

  test('IDLE + R1, R1bis, R2 → N/A (nothing for the dispatcher to deliver to); discarded, stays IDLE', () => {
    const { r1, r2 } = inEstablished();
    const { r1bis } = inI2bisSent();
    const p = pair(hostA, hostB);
    const before = p.a.ctx;
    for (const s of [...sends(r1), ...sends(r2), r1bis]) {
      const r = p.a.drive(control(received(s.src, s.dst, s.message)), T0 + 100);
      expectDiscarded(r, before, NOT_FOR_STATE);
    }
  });

  test('IDLE + payload or other control packet → discarded here; the engine answers R1bis (no CT(local) to find, §7.17)', () => {
    const p = pair(hostA, hostB);
    const before = p.a.ctx;
    const inputs = [
      payloadFor(before),
      control(received(hostB.ulid, hostA.ulid, keepalive(0x1234))),
      control(received(hostB.ulid, hostA.ulid, updateRequest(0x1234, 9, []))),
      control(received(hostB.ulid, hostA.ulid, updateAck(0x1234, 9))),
    ];
    for (const input of inputs) expectDiscarded(p.a.drive(input, T0), before, NOT_FOR_STATE);
  });

  test('IDLE + timeout → nothing pending, nothing done', () => {
    const p = pair(hostA, hostB);
    expect(nextDeadline(p.a.ctx, p.a.env)).toBeUndefined();
    const before = p.a.ctx;
    const r = p.a.drive({ kind: 'timeout' }, T0);
    expect(r.ctx).toBe(before);
    expect(r.actions).toEqual([]);
  });

  test('IDLE + ICMP no-support → discarded (no I1 was sent)', () => {
    const p = pair(hostA, hostB);
    const before = p.a.ctx;
    expectDiscarded(p.a.drive({ kind: 'icmp-no-support' }, T0), before, NOT_FOR_STATE);
  });

  test('IDLE + Shim6 Error message → reported, nothing else', () => {
    const p = pair(hostA, hostB);
    const before = p.a.ctx;
    const error = { kind: 'Error', nextHeader: 59, errorCode: 2, pointer: 50, packetInError: new Uint8Array(8) } as const;
    expectDiscarded(p.a.drive(control(received(hostB.ulid, hostA.ulid, error)), T0), before, NOT_FOR_STATE);
    const r = p.a.drive({ kind: 'error', error, inError: undefined }, T0);
    expect(r.ctx).toBe(before);
    expect(kinds(r)).toEqual(['notify error-received']);
  });

  test('IDLE + local locators changed → Ls(local) replaced with a new generation, nothing sent', () => {
    const p = pair(hostA, hostB);
    const before = p.a.ctx;
    const locators = hostA.locators.slice(0, 1);
    const r = p.a.drive({ kind: 'local-locators', locators, preferences: undefined }, T0);
    expect(r.actions).toEqual([]);
    expect(r.ctx.lsLocal).toEqual(locators);
    expect(r.ctx.genLocal).not.toBe(before.genLocal);
    expect(r.ctx.state).toBe('IDLE');
  });
});

// ---------------------------------------------------------------------------------------
// I1-SENT
// ---------------------------------------------------------------------------------------
