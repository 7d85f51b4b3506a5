/**
 * The context state machine, one test per STATE × trigger cell of RFC 5533 Appendix B,
 * with the text of §7 (and §10.4-10.5, §12.2 for "other control packets") where it is
 * more specific. The update cells of ESTABLISHED and I2BIS-SENT (§10) are in
 * update.test.ts.
 *
 * Beyond Appendix B: confusion (§7.15) with both policies, teardown from every STATE,
 * switching the locator pair, and the idle timeout (§9).
 *
 * Every message goes through real bytes (encode, then parse) and, where the cell is part
 * of an exchange, is produced by the other host's context (the two-party wire of
 * env.util.ts). "Discard and stay" cells assert the very same context object, no action,
 * and the drop reason. Cells marked N/A in Appendix B ("the dispatcher does not deliver")
 * are still fed to the machine, which must discard them.
 */
import { describe, expect, test } from 'vitest';
import { hasFastPath, nextDeadline, step } from '../../src/context/machine.js';
import type { ContextAction, Retransmit, ShimContext, StepResult } from '../../src/context/types.js';
import { readU16 } from '../../src/wire/bytes.js';
import { fixedLengthOf, type ControlMessage, type I2Message } from '../../src/wire/control.js';
import { OptionType } from '../../src/wire/constants.js';
import type { Locator, Option } from '../../src/wire/options/index.js';
import { locatorListSignedData } from '../../src/crypto/signature.js';
import {
  CGA,
  HBA,
  STRANGER,
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
  provider,
  received,
  sends,
  type SendAction,
  type Side,
  type TestEnv,
} from './env.util.js';
import { expectDiscarded, inEFailed, inEstablished, inI1Sent, inI2bisSent, inI2Sent, inNoSupport, keepalive, payloadFor, T0, updateAck, updateRequest } from './states.util.js';

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

function replaceOption(options: readonly Option[], kind: Option['kind'], by: Option): Option[] {
  return options.map((o) => (o.kind === kind ? by : o));
}

/** `m` with its Responder Validator's first octet flipped. */
function badValidator<M extends ControlMessage & { readonly options: readonly Option[] }>(m: M): M {
  const v = option(m.options, 'ResponderValidator')!.validator.slice();
  v[0]! ^= 0x01;
  return { ...m, options: replaceOption(m.options, 'ResponderValidator', { kind: 'ResponderValidator', critical: false, validator: v }) };
}

/** A Locator List of `owner` whose second locator (index 1) is nobody's HBA. */
function listWithStranger(owner: { readonly ulid: Uint8Array }, generation: number): Option {
  const locators: Locator[] = [{ address: owner.ulid, verificationMethod: HBA }, { address: STRANGER, verificationMethod: HBA }];
  return { kind: 'LocatorList', critical: false, generation, locators };
}

/** The peer locators a verified list of `id` becomes (§7.2). */
function verifiedLs(id: { readonly locators: readonly Locator[] }): unknown[] {
  return id.locators.map((l) => ({ address: l.address, verificationMethod: l.verificationMethod, verified: true, flags: 0 }));
}

/**
 * The I2 of `i2` re-sent from STRANGER with a validator the responder really issued for
 * that locator (so only the source check of §7.13 can reject it); carries the ULID Pair.
 */
function i2FromStranger(i2: SendAction, responder: TestEnv, t: number): ControlMessage {
  const m = i2.message as I2Message;
  const { responderNonce, validator } = responder.validators.r1(t, {
    initiatorContextTag: m.initiatorContextTag,
    ulidInitiator: hostA.ulid,
    ulidResponder: hostB.ulid,
    locInitiator: STRANGER,
    locResponder: i2.dst,
    fii: 0,
  });
  const rest = m.options.filter((o) => o.kind !== 'ResponderValidator');
  return forge(m, {
    responderNonce,
    options: [{ kind: 'ResponderValidator', critical: false, validator }, { kind: 'UlidPair', critical: false, reserved2: 0, senderUlid: hostA.ulid, receiverUlid: hostB.ulid }, ...rest],
  });
}

/** Deadline of a retransmission timer: nominal (backed off) × [0.5, 1.5] with jitter (§7.8, §14). */
function expectJittered(t: Retransmit, nominalMs: number): void {
  expect(t.timeoutMs).toBe(nominalMs);
  expect(t.deadline - t.sentAt).toBeGreaterThanOrEqual(0.5 * nominalMs);
  expect(t.deadline - t.sentAt).toBeLessThanOrEqual(1.5 * nominalMs);
}

function fastPathAction(r: StepResult): Extract<ContextAction, { kind: 'fast-path' }> | undefined {
  return r.actions.find((a): a is Extract<ContextAction, { kind: 'fast-path' }> => a.kind === 'fast-path');
}

/** Runs the timeout at the current deadline of `side`. */
function fire(side: Side): StepResult {
  const d = nextDeadline(side.ctx, side.env);
  expect(d).toBeDefined();
  return side.drive({ kind: 'timeout' }, d!);
}

const NOT_FOR_STATE = 'not-for-state';

// ---------------------------------------------------------------------------------------
// IDLE
// ---------------------------------------------------------------------------------------

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

describe('I1-SENT', () => {
  test('I1-SENT + R1 → sends I2, moves to I2-SENT', () => {
    const { p, i1 } = inI1Sent();
    const [r1] = p.b.receive(i1, T0 + 10);
    const r1m = onlySend(r1!, 'R1');
    const [r] = p.a.receive(r1!, T0 + 20);
    expect(kinds(r!)).toEqual(['send I2']);
    const c = r!.ctx;
    expect(c.state).toBe('I2-SENT');
    const i2 = onlySend(r!, 'I2');
    expect(i2.src).toEqual(hostA.ulid);
    expect(i2.dst).toEqual(hostB.ulid);
    expect(i2.message.initiatorContextTag).toBe(c.ctLocal);
    // We keep the I1's INIT Nonce (§7.11 allows either; §6.2 "to receive late R2").
    expect(i2.message.initiatorNonce).toBe(onlySend(i1, 'I1').message.initiatorNonce);
    expect(i2.message.responderNonce).toBe(r1m.message.responderNonce);
    expect(optionKinds(i2.message.options)).toEqual(['ResponderValidator', 'LocatorList', 'CgaParameterDataStructure']);
    expect(option(i2.message.options, 'ResponderValidator')!.validator).toEqual(option(r1m.message.options, 'ResponderValidator')!.validator);
    expect(option(i2.message.options, 'LocatorList')).toMatchObject({ generation: c.genLocal, locators: hostA.locators });
    expect(option(i2.message.options, 'CgaParameterDataStructure')!.pds).toEqual(hostA.pds);
    expectJittered(c.retransmit!, 4_000);
    expect(c.retransmit).toMatchObject({ count: 0, sentAt: T0 + 20 });
  });

  test('I1-SENT + R1 (CGA host) → the I2 carries Locator List, CGA PDS and a CGA Signature over the CGA locators (§7.11, §5.15.5)', () => {
    const { p, i2 } = inI2Sent({ x: hostC, y: hostB });
    const m = onlySend(i2, 'I2');
    expect(optionKinds(m.message.options)).toEqual(['ResponderValidator', 'LocatorList', 'CgaParameterDataStructure', 'CgaSignature']);
    const list = option(m.message.options, 'LocatorList')!;
    expect(list.locators.map((l) => l.verificationMethod)).toEqual([CGA, CGA]);
    expect(list.locators[1]!.address).toEqual(hostC.alt);
    const sig = option(m.message.options, 'CgaSignature')!.signature;
    expect(provider.verify(hostC.spki!, locatorListSignedData(list.generation, list.locators, 'table4'), sig)).toBe(true);
    // And B accepts it: Ls(C) verified, including the address that is not a CGA.
    const [r] = p.b.receive(i2, T0 + 30);
    expect(r!.ctx.state).toBe('ESTABLISHED');
    expect(r!.ctx.lsPeer).toEqual(verifiedLs(hostC));
  });

  test('I1-SENT + R1 with another INIT Nonce → discarded, stays I1-SENT', () => {
    const { p, i1 } = inI1Sent();
    const [r1] = p.b.receive(i1, T0 + 10);
    const m = onlySend(r1!, 'R1');
    const before = p.a.ctx;
    const r = p.a.drive(control(received(m.src, m.dst, forge(m.message, { initiatorNonce: (m.message.initiatorNonce + 1) >>> 0 }))), T0 + 20);
    expectDiscarded(r, before, 'nonce-mismatch');
  });

  test('I1-SENT + R1 without a Responder Validator → discarded, stays I1-SENT', () => {
    const { p, i1 } = inI1Sent();
    const [r1] = p.b.receive(i1, T0 + 10);
    const m = onlySend(r1!, 'R1');
    const before = p.a.ctx;
    const r = p.a.drive(control(received(m.src, m.dst, forge(m.message, { options: [] }))), T0 + 20);
    expectDiscarded(r, before, 'bad-validator');
  });

  test('I1-SENT + I1 → sends R2, stays I1-SENT with CT(peer) unset (crossing I1s, §7.4, §7.9)', () => {
    const { p } = inI1Sent();
    const bI1 = p.b.drive({ kind: 'establish' }, T0 + 1);
    const before = p.a.ctx;
    const [r] = p.a.receive(bI1, T0 + 10);
    expect(kinds(r!)).toEqual(['send R2']);
    expect(r!.ctx.state).toBe('I1-SENT');
    expect(r!.ctx.ctPeer).toBeUndefined();
    expect(r!.ctx.ctLocal).toBe(before.ctLocal);
    expect(r!.ctx.initNonce).toBe(before.initNonce);
    expect(r!.ctx.retransmit).toBe(before.retransmit);
    const r2 = onlySend(r!, 'R2');
    const m = onlySend(bI1, 'I1');
    expect(r2.src).toEqual(m.dst);
    expect(r2.dst).toEqual(m.src);
    expect(r2.message.responderContextTag).toBe(before.ctLocal);
    expect(r2.message.initiatorNonce).toBe(m.message.initiatorNonce);
    expect(optionKinds(r2.message.options)).toEqual(['LocatorList', 'CgaParameterDataStructure']);
  });

  test('I1-SENT + R2 → ESTABLISHED, installs fast path (crossing I1s, Figure 4)', () => {
    const { p, i1: aI1 } = inI1Sent();
    const bI1 = p.b.drive({ kind: 'establish' }, T0 + 1);
    const [aR2] = p.a.receive(bI1, T0 + 10);
    const [bR2] = p.b.receive(aI1, T0 + 11);
    const [rb] = p.b.receive(aR2!, T0 + 20);
    const [ra] = p.a.receive(bR2!, T0 + 21);
    for (const [r, self, peer, id] of [[ra!, p.a, p.b, hostB], [rb!, p.b, p.a, hostA]] as const) {
      expect(kinds(r)).toEqual(['fast-path install', 'notify established']);
      expect(r.ctx.state).toBe('ESTABLISHED');
      expect(r.ctx.ctPeer).toBe(peer.ctx.ctLocal);
      expect(r.ctx.lsPeer).toEqual(verifiedLs(id));
      expect(r.ctx.pdsPeer).toEqual(id.pds);
      expect(r.ctx.retransmit).toBeUndefined();
      expect(self.installed).toBe(true);
    }
  });

  test('I1-SENT + R2 with another INIT Nonce → discarded, stays I1-SENT', () => {
    const { p } = inI1Sent();
    const bI1 = p.b.drive({ kind: 'establish' }, T0 + 1);
    const [aR2] = p.a.receive(bI1, T0 + 10);
    const m = onlySend(aR2!, 'R2');
    const before = p.b.ctx;
    const r = p.b.drive(control(received(m.src, m.dst, forge(m.message, { initiatorNonce: (m.message.initiatorNonce ^ 1) >>> 0 }))), T0 + 20);
    expectDiscarded(r, before, 'nonce-mismatch');
  });

  test('I1-SENT + R2 with a CGA Parameter Data Structure that is not ULID(peer)\'s → silently discarded (§7.16)', () => {
    const { p } = inI1Sent();
    const bI1 = p.b.drive({ kind: 'establish' }, T0 + 1);
    const [aR2] = p.a.receive(bI1, T0 + 10);
    const m = onlySend(aR2!, 'R2');
    const forged = forge(m.message, { options: replaceOption(m.message.options, 'CgaParameterDataStructure', { kind: 'CgaParameterDataStructure', critical: false, pds: hostB.pds }) });
    const before = p.b.ctx;
    expectDiscarded(p.b.drive(control(received(m.src, m.dst, forged)), T0 + 20), before, 'bad-pds');
  });

  test('I1-SENT + I2 → sends R2, moves to ESTABLISHED keeping CT(local) (crossing I2 and I1, Figure 5)', () => {
    const { p, i1: aI1 } = inI1Sent();
    const [r1] = p.b.receive(aI1, T0 + 10);
    const bI1 = p.b.drive({ kind: 'establish' }, T0 + 11);
    const bTag = p.b.ctx.ctLocal;
    const [i2] = p.a.receive(r1!, T0 + 20);
    const [r] = p.b.receive(i2!, T0 + 30);
    expect(kinds(r!)).toEqual(['fast-path install', 'send R2', 'notify established']);
    expect(r!.ctx.state).toBe('ESTABLISHED');
    expect(r!.ctx.ctLocal).toBe(bTag);
    expect(p.b.env.allocated).toEqual([bTag]);
    expect(r!.ctx.ctPeer).toBe(p.a.ctx.ctLocal);
    expect(r!.ctx.retransmit).toBeUndefined();
    const r2 = onlySend(r!, 'R2');
    expect(r2.message.responderContextTag).toBe(bTag);
    expect(r2.message.initiatorNonce).toBe(onlySend(i2!, 'I2').message.initiatorNonce);
    // The rest of Figure 5: A (I2-SENT) answers B's I1 with R2, which B ignores; B's R2 completes A.
    const [aR2] = p.a.receive(bI1, T0 + 31);
    const bBefore = p.b.ctx;
    const [late] = p.b.receive(aR2!, T0 + 40);
    expectDiscarded(late!, bBefore, NOT_FOR_STATE);
    const [done] = p.a.receive(r!, T0 + 41);
    expect(done!.ctx.state).toBe('ESTABLISHED');
    expect(done!.ctx.ctPeer).toBe(bTag);
  });

  test('I1-SENT + I2 from a locator in neither Ls(peer) nor its verified list → discarded, stays I1-SENT (§7.13)', () => {
    const { p, i1: aI1 } = inI1Sent();
    const [r1] = p.b.receive(aI1, T0 + 10);
    p.b.drive({ kind: 'establish' }, T0 + 11);
    const [i2] = p.a.receive(r1!, T0 + 20);
    const m = onlySend(i2!, 'I2');
    const before = p.b.ctx;
    const r = p.b.drive(control(received(STRANGER, m.dst, i2FromStranger(m, p.b.env, T0 + 30))), T0 + 30);
    expectDiscarded(r, before, 'source-not-verified');
  });

  test('I1-SENT + I2 with a bad validator → discarded, stays I1-SENT', () => {
    const { p, i1: aI1 } = inI1Sent();
    const [r1] = p.b.receive(aI1, T0 + 10);
    p.b.drive({ kind: 'establish' }, T0 + 11);
    const [i2] = p.a.receive(r1!, T0 + 20);
    const m = onlySend(i2!, 'I2');
    const before = p.b.ctx;
    expectDiscarded(p.b.drive(control(received(m.src, m.dst, badValidator(m.message))), T0 + 30), before, 'bad-validator');
  });

  test('I1-SENT + I2bis → sends R2, moves to ESTABLISHED (the peer kept the context we lost, §7.20)', () => {
    const { p } = inEstablished();
    const t = T0 + 1_000;
    p.b.lose(hostA, t);
    p.b.drive({ kind: 'establish' }, t + 1); // B: I1-SENT for the same ULID pair (the I1 is still in flight)
    const bTag = p.b.ctx.ctLocal;
    const r1bis = engineR1bis(p.b.env, p.a.ctx.ctPeer!, p.a.ctx.lpLocal, p.a.ctx.lpPeer, t + 2);
    const [i2bis] = p.a.receive([r1bis], t + 10);
    const [r] = p.b.receive(i2bis!, t + 20);
    expect(kinds(r!)).toEqual(['fast-path install', 'send R2', 'notify established']);
    expect(r!.ctx.state).toBe('ESTABLISHED');
    expect(r!.ctx.ctLocal).toBe(bTag);
    expect(r!.ctx.ctPeer).toBe(p.a.ctx.ctLocal);
    expect(onlySend(r!, 'R2').message.initiatorNonce).toBe(onlySend(i2bis!, 'I2bis').message.initiatorNonce);
    const [done] = p.a.receive(r!, t + 30);
    expect(kinds(done!)).toEqual(['fast-path update', 'notify recovered']);
    expect(done!.ctx.ctPeer).toBe(bTag);
  });

  test('I1-SENT + timeout ×4 → retransmits with backoff; 5th → E-FAILED', () => {
    // §7.8 with jitter off: exact deadlines.
    const { p, i1 } = inI1Sent({ config: { jitter: false } });
    const first = onlySend(i1, 'I1').message;
    let t = T0;
    let nominal = 4_000;
    expect(p.a.ctx.retransmit!.deadline).toBe(T0 + 4_000);
    for (let n = 1; n <= 4; n++) {
      const early = p.a.ctx;
      const none = p.a.drive({ kind: 'timeout' }, t + nominal - 1);
      expect(none.ctx).toBe(early);
      expect(none.actions).toEqual([]);
      t += nominal;
      nominal *= 2;
      const r = p.a.drive({ kind: 'timeout' }, t);
      expect(r.ctx.state).toBe('I1-SENT');
      expect(onlySend(r, 'I1').message).toEqual(first);
      expect(r.ctx.retransmit).toEqual({ count: n, timeoutMs: nominal, sentAt: t, deadline: t + nominal });
      expect(nextDeadline(r.ctx, p.a.env)).toBe(t + nominal);
    }
    expect(t).toBe(T0 + 4_000 + 8_000 + 16_000 + 32_000);
    t += nominal;
    const r = p.a.drive({ kind: 'timeout' }, t);
    expect(kinds(r)).toEqual(['notify e-failed']);
    expect(r.ctx.state).toBe('E-FAILED');
    expect(r.ctx.retransmit).toBeUndefined();
    expect(r.ctx.holdUntil).toBe(t + 60_000);
    expect(nextDeadline(r.ctx, p.a.env)).toBe(t + 60_000);
  });

  test('I1-SENT + timeout with jitter → each deadline lies in [0.5, 1.5] × the backed-off timeout (§14)', () => {
    const { p } = inI1Sent();
    const offsets: number[] = [];
    let nominal = 4_000;
    expectJittered(p.a.ctx.retransmit!, nominal);
    offsets.push(p.a.ctx.retransmit!.deadline - T0);
    for (let n = 1; n <= 4; n++) {
      nominal *= 2;
      const r = fire(p.a);
      expectJittered(r.ctx.retransmit!, nominal);
      offsets.push((r.ctx.retransmit!.deadline - r.ctx.retransmit!.sentAt) / nominal);
    }
    // Randomised, not the nominal value every time.
    expect(offsets.slice(1).some((f) => f !== 1)).toBe(true);
    expect(fire(p.a).ctx.state).toBe('E-FAILED');
  });

  test('I1-SENT + ICMP no-support → NO-SUPPORT', () => {
    // §7.8 (Appendix B's table says E-FAILED; its diagram and §6.2 say NO-SUPPORT): held for ICMP_HOLDDOWN_TIME.
    const { p } = inI1Sent();
    const r = p.a.drive({ kind: 'icmp-no-support' }, T0 + 5);
    expect(kinds(r)).toEqual(['notify no-support']);
    expect(r.ctx.state).toBe('NO-SUPPORT');
    expect(r.ctx.retransmit).toBeUndefined();
    expect(r.ctx.holdUntil).toBe(T0 + 5 + 600_000);
    expect(nextDeadline(r.ctx, p.a.env)).toBe(T0 + 5 + 600_000);
  });

  test('I1-SENT + R1bis → N/A (CT(peer) unset); discarded, stays I1-SENT', () => {
    const { p } = inI1Sent();
    const before = p.a.ctx;
    const r1bis = engineR1bis(p.b.env, 0x4242, hostA.ulid, hostB.ulid, T0 + 10);
    expectDiscarded(p.a.receive([r1bis], T0 + 10)[0]!, before, NOT_FOR_STATE);
  });

  test('I1-SENT + payload or other control packet → discarded, stays I1-SENT (§10.4, §10.5, §12.2)', () => {
    const { p } = inI1Sent();
    const before = p.a.ctx;
    const tag = before.ctLocal;
    for (const input of [
      payloadFor(before),
      control(received(hostB.ulid, hostA.ulid, keepalive(tag))),
      control(received(hostB.ulid, hostA.ulid, updateRequest(tag, 5, []))),
      control(received(hostB.ulid, hostA.ulid, updateAck(tag, 5))),
    ]) {
      expectDiscarded(p.a.drive(input, T0 + 10), before, NOT_FOR_STATE);
    }
  });

  test('I1-SENT + heuristic trigger → ignored (already establishing)', () => {
    const { p } = inI1Sent();
    const before = p.a.ctx;
    expectDiscarded(p.a.drive({ kind: 'establish' }, T0 + 10), before, NOT_FOR_STATE);
  });

  test('I1-SENT + local locators changed → nothing sent; the I2 carries the new list and generation', () => {
    const { p, i1 } = inI1Sent();
    const locators = [hostA.locators[1]!, hostA.locators[0]!];
    const r = p.a.drive({ kind: 'local-locators', locators, preferences: undefined }, T0 + 5);
    expect(r.actions).toEqual([]);
    expect(r.ctx.state).toBe('I1-SENT');
    const [r1] = p.b.receive(i1, T0 + 10);
    const [i2] = p.a.receive(r1!, T0 + 20);
    expect(option(onlySend(i2!, 'I2').message.options, 'LocatorList')).toMatchObject({ generation: r.ctx.genLocal, locators });
  });
});

// ---------------------------------------------------------------------------------------
// I2-SENT
// ---------------------------------------------------------------------------------------

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

  test('ESTABLISHED + Keepalive or Probe → processed (REAP\'s), activity recorded', () => {
    const { p } = inEstablished();
    const tag = p.a.ctx.ctLocal;
    const probe = { kind: 'Probe', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: tag, state: 1, reserved2: 0, sent: [{ source: hostB.ulid, destination: hostA.ulid, nonce: 1, data: 2 }], received: [], options: [] } as const;
    for (const [i, m] of [keepalive(tag), probe].entries()) {
      const r = p.a.drive(control(received(hostB.ulid, hostA.ulid, m)), T0 + 1_000 * (i + 1));
      expect(r.actions).toEqual([]);
      expect(r.drop).toBeUndefined();
      expect(r.ctx.lastActivity).toBe(T0 + 1_000 * (i + 1));
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

const HOLD_DOWN = [
  { state: 'E-FAILED', make: inEFailed, holdMs: 60_000, name: 'NO_R1_HOLDDOWN' },
  { state: 'NO-SUPPORT', make: inNoSupport, holdMs: 600_000, name: 'ICMP_HOLDDOWN' },
] as const;

describe.each(HOLD_DOWN)('$state', ({ state, make, holdMs, name }) => {
  test(`${state} + timeout after ${name} → IDLE (removed)`, () => {
    const { p, t } = make();
    expect(p.a.ctx.holdUntil).toBe(t + holdMs);
    expect(nextDeadline(p.a.ctx, p.a.env)).toBe(t + holdMs);
    const before = p.a.ctx;
    const early = p.a.drive({ kind: 'timeout' }, t + holdMs - 1);
    expect(early.ctx).toBe(before);
    expect(early.actions).toEqual([]);
    const r = p.a.drive({ kind: 'timeout' }, t + holdMs);
    expect(kinds(r)).toEqual(['notify removed']);
    expect(r.ctx.state).toBe('IDLE');
    expect(r.ctx.holdUntil).toBeUndefined();
    expect(nextDeadline(r.ctx, p.a.env)).toBeUndefined();
    // Once IDLE, the heuristic may try again, with a fresh CT(local).
    const again = p.a.drive({ kind: 'establish' }, t + holdMs + 1);
    expect(again.ctx.state).toBe('I1-SENT');
    expect(again.ctx.ctLocal).not.toBe(before.ctLocal);
  });

  test(`${state} + I1 → processed as IDLE: sends R1, stays ${state}`, () => {
    const { p, t } = make();
    const bI1 = p.b.drive({ kind: 'establish' }, t + 1);
    const before = p.a.ctx;
    const [r] = p.a.receive(bI1, t + 2);
    expect(r!.ctx).toBe(before);
    expect(kinds(r!)).toEqual(['send R1']);
    expect(onlySend(r!, 'R1').message.initiatorNonce).toBe(onlySend(bI1, 'I1').message.initiatorNonce);
  });

  test(`${state} + I2 → processed as IDLE → ESTABLISHED`, () => {
    const { p, t } = make();
    const old = p.a.ctx;
    const bI1 = p.b.drive({ kind: 'establish' }, t + 1);
    const [r1] = p.a.receive(bI1, t + 2);
    const [bI2] = p.b.receive(r1!, t + 3);
    const [r] = p.a.receive(bI2!, t + 4);
    expect(kinds(r!)).toEqual(['fast-path install', 'send R2', 'notify established']);
    const c = r!.ctx;
    expect(c.state).toBe('ESTABLISHED');
    expect(c.holdUntil).toBeUndefined();
    expect(c.ctLocal).not.toBe(old.ctLocal);
    expect(p.a.env.allocated).toEqual([old.ctLocal, c.ctLocal]);
    expect(c.ctPeer).toBe(p.b.ctx.ctLocal);
    expect(c.initiator).toBe(false);
    expect(nextDeadline(c, p.a.env)).toBe(t + 4 + p.a.env.config.idleTimeoutMs);
    expect(p.b.receive(r!, t + 5)[0]!.ctx.state).toBe('ESTABLISHED');
  });

  test(`${state} + I2 with a bad validator → discarded, stays ${state}`, () => {
    const { p, t } = make();
    const bI1 = p.b.drive({ kind: 'establish' }, t + 1);
    const [r1] = p.a.receive(bI1, t + 2);
    const [bI2] = p.b.receive(r1!, t + 3);
    const m = onlySend(bI2!, 'I2');
    const before = p.a.ctx;
    expectDiscarded(p.a.drive(control(received(m.src, m.dst, badValidator(m.message))), t + 4), before, 'bad-validator');
  });

  test(`${state} + I2bis → processed as IDLE → ESTABLISHED`, () => {
    const { p, t } = make();
    // B still has an old context whose CT(peer) A has lost: A's engine answered R1bis.
    const { p: q } = inEstablished();
    const bCtx = { ...q.b.ctx, ctPeer: 0x0c0ffee };
    const r1bis = engineR1bis(p.a.env, 0x0c0ffee, bCtx.lpLocal, bCtx.lpPeer, t + 1);
    const i2bis = step(bCtx, control(received(r1bis.src, r1bis.dst, r1bis.message)), t + 2, q.b.env);
    expect(kinds(i2bis)).toEqual(['send I2bis']);
    const [r] = p.a.receive(i2bis, t + 3);
    expect(kinds(r!)).toEqual(['fast-path install', 'send R2', 'notify established']);
    expect(r!.ctx.state).toBe('ESTABLISHED');
    expect(r!.ctx.ctLocal).not.toBe(0x0c0ffee);
    expect(r!.ctx.ctPeer).toBe(bCtx.ctLocal);
  });

  test(`${state} + R1, R2, R1bis → processed as IDLE: discarded, stays ${state}`, () => {
    const { r1, r2 } = inEstablished();
    const { r1bis } = inI2bisSent();
    const { p, t } = make();
    const before = p.a.ctx;
    for (const s of [...sends(r1), ...sends(r2), r1bis]) expectDiscarded(p.a.receive([s], t + 1)[0]!, before, NOT_FOR_STATE);
  });

  test(`${state} + payload or other control packet → discarded, stays ${state}`, () => {
    const { p, t } = make();
    const before = p.a.ctx;
    expectDiscarded(p.a.drive(payloadFor(before), t + 1), before, NOT_FOR_STATE);
    expectDiscarded(p.a.drive(control(received(hostB.ulid, hostA.ulid, keepalive(before.ctLocal))), t + 1), before, NOT_FOR_STATE);
  });

  test(`${state} + heuristic trigger → refused until the hold-down ends (negative cache, §7.8)`, () => {
    const { p, t } = make();
    const before = p.a.ctx;
    expectDiscarded(p.a.drive({ kind: 'establish' }, t + 1), before, NOT_FOR_STATE);
  });
});

// ---------------------------------------------------------------------------------------
// Teardown from each STATE
// ---------------------------------------------------------------------------------------

const EVERY_STATE: readonly { readonly state: ShimContext['state']; readonly make: () => { readonly p: { readonly a: Side } } }[] = [
  { state: 'IDLE', make: () => ({ p: pair(hostA, hostB) }) },
  { state: 'I1-SENT', make: () => inI1Sent() },
  { state: 'I2-SENT', make: () => inI2Sent() },
  { state: 'I2BIS-SENT', make: () => inI2bisSent() },
  { state: 'ESTABLISHED', make: () => inEstablished() },
  { state: 'E-FAILED', make: () => inEFailed() },
  { state: 'NO-SUPPORT', make: () => inNoSupport() },
];

describe('teardown', () => {
  test.each(EVERY_STATE)('$state + teardown → IDLE, removed', ({ state, make }) => {
    const { p } = make();
    const before = p.a.ctx;
    expect(before.state).toBe(state);
    const r = p.a.drive({ kind: 'teardown', reason: 'test' }, T0 + 100_000);
    const installed = state === 'ESTABLISHED' || state === 'I2BIS-SENT';
    expect(kinds(r)).toEqual([...(installed ? ['fast-path remove'] : []), 'notify removed']);
    expect(r.ctx.state).toBe('IDLE');
    expect(r.ctx.retransmit).toBeUndefined();
    expect(r.ctx.update).toBeUndefined();
    expect(r.ctx.holdUntil).toBeUndefined();
    expect(nextDeadline(r.ctx, p.a.env)).toBeUndefined();
    expect(hasFastPath(r.ctx)).toBe(false);
  });
});

describe('confusion outside ESTABLISHED and I2BIS-SENT', () => {
  test.each(EVERY_STATE.filter((s) => s.state !== 'ESTABLISHED' && s.state !== 'I2BIS-SENT'))('$state + confusion → ignored (§7.15: only ESTABLISHED or I2BIS-SENT contexts can hold the reused CT(peer))', ({ make }) => {
    for (const onConfusion of ['discard', 'reestablish'] as const) {
      const { p } = make();
      const side = p.a;
      const env = { ...side.env, policy: { ...side.env.policy, onConfusion } };
      const before = side.ctx;
      expectDiscarded(step(before, { kind: 'confused' }, T0 + 100_000, env), before, NOT_FOR_STATE);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Switching the locator pair (REAP's decision, RFC 5534 §4; or an operator's)
// ---------------------------------------------------------------------------------------

describe('switch-pair', () => {
  test.each(['ESTABLISHED', 'I2BIS-SENT'] as const)('%s + switch-pair to a verified pair → Lp replaced, fast path updated, nothing sent', (state) => {
    const { p } = state === 'ESTABLISHED' ? inEstablished() : inI2bisSent();
    const before = p.a.ctx;
    const r = p.a.drive({ kind: 'switch-pair', lpLocal: hostA.alt, lpPeer: hostB.alt }, T0 + 5_000);
    expect(kinds(r)).toEqual(['fast-path update']);
    expect(fastPathAction(r)!.ctx).toBe(r.ctx);
    expect(r.ctx.state).toBe(state);
    expect(r.ctx.lpLocal).toEqual(hostA.alt);
    expect(r.ctx.lpPeer).toEqual(hostB.alt);
    expect(r.ctx.ctPeer).toBe(before.ctPeer);
    // Back to the ULIDs is always allowed.
    expect(kinds(p.a.drive({ kind: 'switch-pair', lpLocal: hostA.ulid, lpPeer: hostB.ulid }, T0 + 5_001))).toEqual(['fast-path update']);
  });

  test('ESTABLISHED + switch-pair to the current pair → nothing to do', () => {
    const { p } = inEstablished();
    const before = p.a.ctx;
    const r = p.a.drive({ kind: 'switch-pair', lpLocal: before.lpLocal, lpPeer: before.lpPeer }, T0 + 5_000);
    expect(r.ctx).toBe(before);
    expect(r.actions).toEqual([]);
    expect(r.drop).toBeUndefined();
  });

  test('ESTABLISHED + switch-pair to a locator outside Ls(local) or not verified in Ls(peer) → discarded (§7.2: verify before use)', () => {
    const { p } = inEstablished();
    const before = p.a.ctx;
    expectDiscarded(p.a.drive({ kind: 'switch-pair', lpLocal: STRANGER, lpPeer: hostB.alt }, T0 + 5_000), before, 'bad-locator-set');
    expectDiscarded(p.a.drive({ kind: 'switch-pair', lpLocal: hostA.alt, lpPeer: STRANGER }, T0 + 5_000), before, 'bad-locator-set');
    const unverified = { ...before, lsPeer: before.lsPeer.map((l) => ({ ...l, verified: false })) };
    expectDiscarded(step(unverified, { kind: 'switch-pair', lpLocal: hostA.alt, lpPeer: hostB.alt }, T0 + 5_000, p.a.env), unverified, 'bad-locator-set');
  });

  test.each(EVERY_STATE.filter((s) => s.state !== 'ESTABLISHED' && s.state !== 'I2BIS-SENT'))('$state + switch-pair → discarded (no fast path to switch)', ({ make }) => {
    const { p } = make();
    const before = p.a.ctx;
    expectDiscarded(p.a.drive({ kind: 'switch-pair', lpLocal: hostA.alt, lpPeer: hostB.alt }, T0 + 100_000), before, NOT_FOR_STATE);
  });

  test('ESTABLISHED + switch-pair, then R1bis on the new pair → the I2bis goes out on it with the ULID Pair option (§7.18)', () => {
    const { p } = inEstablished();
    p.a.drive({ kind: 'switch-pair', lpLocal: hostA.alt, lpPeer: hostB.alt }, T0 + 5_000);
    const [r] = p.a.receive([engineR1bis(p.b.env, p.a.ctx.ctPeer!, hostA.alt, hostB.alt, T0 + 6_000)], T0 + 6_000);
    const m = onlySend(r!, 'I2bis');
    expect(m.src).toEqual(hostA.alt);
    expect(m.dst).toEqual(hostB.alt);
    expect(option(m.message.options, 'UlidPair')).toMatchObject({ senderUlid: hostA.ulid, receiverUlid: hostB.ulid });
  });
});

describe('INIT Nonces', () => {
  test('the I1 and the I2bis take their INIT Nonce from allocateInitNonce when the engine provides it (§12.4: R1/R2 are matched by it)', () => {
    const { p } = inEstablished();
    let next = 0x1000;
    const env = { ...p.a.env, allocateInitNonce: () => next++ };
    const i2bis = step(p.a.ctx, control(received(hostB.ulid, hostA.ulid, engineR1bis(p.b.env, p.a.ctx.ctPeer!, hostA.ulid, hostB.ulid, T0 + 100).message)), T0 + 100, env);
    expect(onlySend(i2bis, 'I2bis').message.initiatorNonce).toBe(0x1000);
    const i1 = step(idleFor(hostA, hostB, T0), { kind: 'establish' }, T0, env);
    expect(onlySend(i1, 'I1').message.initiatorNonce).toBe(0x1001);
    expect(i1.ctx.initNonce).toBe(0x1001);
  });
});

describe('I2 / I2bis failing validation in the other STATEs', () => {
  test.each(EVERY_STATE.filter((s) => s.state !== 'IDLE'))('$state + I2 or I2bis with a validator this host never issued → discarded, unchanged (§7.13, §7.20)', ({ make }) => {
    const { p } = make();
    const before = p.a.ctx;
    const t = T0 + 100_000;
    const responderNonce = p.a.env.validators.nonce(t);
    const validator: Option = { kind: 'ResponderValidator', critical: false, validator: new Uint8Array(16).fill(0x5a) };
    const locatorOptions: Option[] = [{ kind: 'LocatorList', critical: false, generation: 9, locators: hostB.locators }, { kind: 'CgaParameterDataStructure', critical: false, pds: hostB.pds }];
    const i2: ControlMessage = { kind: 'I2', nextHeader: 59, reserved1: 0, r: 0, initiatorContextTag: 0x777, initiatorNonce: 1, responderNonce, reserved2: 0, options: [validator, ...locatorOptions] };
    const i2bis: ControlMessage = { kind: 'I2bis', nextHeader: 59, reserved1: 0, r: 0, initiatorContextTag: 0x777, initiatorNonce: 1, responderNonce, reserved2: 0, packetContextTag: before.ctLocal < 0 ? 1 : before.ctLocal, options: [validator, ...locatorOptions] };
    for (const m of [i2, i2bis]) expectDiscarded(p.a.drive(control(received(hostB.ulid, hostA.ulid, m)), t), before, 'bad-validator');
  });
});
