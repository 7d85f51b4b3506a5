/**
 * Updating the peer (RFC 5533 §10) through the state machine: the Update Request and
 * Acknowledgement cells of ESTABLISHED and I2BIS-SENT, the Error Message codes 2, 3 and 4
 * with their pointers checked against the real invoking packet (§7.2, §10.4), stale
 * acknowledgements (§10.3), the retransmission backoff capped at MAX_UPDATE_TIMEOUT
 * (§10.2), and Error Messages received about our own requests (§5.14).
 */
import { describe, expect, test } from 'vitest';
import { nextDeadline } from '../../src/context/machine.js';
import type { PendingUpdate } from '../../src/context/types.js';
import { readU16, readU32 } from '../../src/wire/bytes.js';
import { LocatorFlag, OptionType } from '../../src/wire/constants.js';
import { fixedLengthOf, type ErrorMessage } from '../../src/wire/control.js';
import { optionsLength, type Locator, type LocatorPreference, type Option } from '../../src/wire/options/index.js';
import { CGA, HBA, STRANGER, control, engineR1bis, hostA, hostB, hostC, ip, kinds, onlySend, option, optionKinds, received, sends, type Side } from './env.util.js';
import { expectDiscarded, inEstablished, inI2bisSent, inI2Sent, T0, updateAck, updateRequest } from './states.util.js';

const NOT_FOR_STATE = 'not-for-state';

function prefsOption(generation: number, elements: readonly LocatorPreference[], elementLength = 1): Option {
  return { kind: 'LocatorPreferences', critical: false, generation, elementLength, elements };
}

function listOption(generation: number, locators: readonly Locator[]): Option {
  return { kind: 'LocatorList', critical: false, generation, locators };
}

/** An Update Request from B's ULID to A's context, as it leaves B's stack. */
function fromB(a: Side, options: readonly Option[], nonce = 0x5151) {
  return received(hostB.ulid, hostA.ulid, updateRequest(a.ctx.ctLocal, nonce, options));
}

function expectTimer(u: PendingUpdate, nominalMs: number): void {
  expect(u.timer.timeoutMs).toBe(nominalMs);
  expect(u.timer.deadline - u.timer.sentAt).toBeGreaterThanOrEqual(0.5 * nominalMs);
  expect(u.timer.deadline - u.timer.sentAt).toBeLessThanOrEqual(1.5 * nominalMs);
}

describe('sending Update Requests (§10.1)', () => {
  test('ESTABLISHED + local locators changed → Update Request with a new generation, Locator List and CGA PDS', () => {
    const { p } = inEstablished();
    const before = p.b.ctx;
    const locators = hostB.locators.slice(0, 1);
    const r = p.b.drive({ kind: 'local-locators', locators, preferences: undefined }, T0 + 1_000);
    expect(kinds(r)).toEqual(['fast-path update', 'send UpdateRequest']);
    const c = r.ctx;
    expect(c.state).toBe('ESTABLISHED');
    expect(c.lsLocal).toEqual(locators);
    expect(c.genLocal).not.toBe(before.genLocal);
    const ur = onlySend(r, 'UpdateRequest');
    expect(ur.src).toEqual(c.lpLocal);
    expect(ur.dst).toEqual(c.lpPeer);
    expect(ur.message.receiverContextTag).toBe(before.ctPeer);
    expect(ur.message.requestNonce).toBe(c.update!.requestNonce);
    expect(optionKinds(ur.message.options)).toEqual(['LocatorList', 'CgaParameterDataStructure']);
    expect(option(ur.message.options, 'LocatorList')).toMatchObject({ generation: c.genLocal, locators });
    expect(option(ur.message.options, 'CgaParameterDataStructure')!.pds).toEqual(hostB.pds);
    expect(c.update!.options).toEqual(ur.message.options);
    expectTimer(c.update!, 4_000);
    expect(nextDeadline(c, p.b.env)).toBe(c.update!.timer.deadline);
  });

  test('ESTABLISHED + local locators changed (CGA host) → the Update Request carries a CGA Signature, and the peer accepts a new non-CGA locator', () => {
    const { p } = inEstablished({ x: hostA, y: hostC });
    const locators: Locator[] = [...hostC.locators, { address: ip('2001:db8:c:3::c'), verificationMethod: CGA }];
    const r = p.b.drive({ kind: 'local-locators', locators, preferences: undefined }, T0 + 1_000);
    const ur = onlySend(r, 'UpdateRequest');
    expect(optionKinds(ur.message.options)).toEqual(['LocatorList', 'CgaParameterDataStructure', 'CgaSignature']);
    const [a] = p.a.receive(r, T0 + 1_010);
    expect(kinds(a!)).toEqual(['fast-path update', 'send UpdateAck', 'notify peer-locators-changed']);
    expect(a!.ctx.lsPeer.map((l) => l.address)).toEqual(locators.map((l) => l.address));
    expect(a!.ctx.lsPeer.every((l) => l.verified && l.verificationMethod === CGA)).toBe(true);
    expect(a!.ctx.genPeer).toBe(r.ctx.genLocal);
  });

  test('ESTABLISHED + local preferences changed → Update Request with only a Locator Preferences option of the current generation', () => {
    const { p } = inEstablished();
    const before = p.b.ctx;
    const preferences: LocatorPreference[] = [{ flags: 0, priority: 1 }, { flags: LocatorFlag.BROKEN, priority: 2 }];
    const r = p.b.drive({ kind: 'local-locators', locators: before.lsLocal, preferences }, T0 + 1_000);
    const ur = onlySend(r, 'UpdateRequest');
    expect(ur.message.options).toEqual([prefsOption(before.genLocal, preferences, 2)]);
    expect(r.ctx.genLocal).toBe(before.genLocal);
    const [a] = p.a.receive(r, T0 + 1_010);
    expect(onlySend(a!, 'UpdateAck').message.requestNonce).toBe(ur.message.requestNonce);
    expect(a!.ctx.genPeer).toBe(before.genLocal);
    expect(a!.ctx.lsPeer.map((l) => [l.flags, l.priority])).toEqual([[0, 1], [LocatorFlag.BROKEN, 2]]);
  });

  test('ESTABLISHED + the same locators and preferences → nothing sent', () => {
    const { p } = inEstablished();
    const before = p.b.ctx;
    const r = p.b.drive({ kind: 'local-locators', locators: before.lsLocal, preferences: before.prefsLocal }, T0 + 1_000);
    expect(r.ctx).toBe(before);
    expect(r.actions).toEqual([]);
  });

  test('ESTABLISHED + newer information while an update is outstanding → a new request with a new nonce, a new generation and the full list (§10.3)', () => {
    const { p } = inEstablished();
    const first = p.b.drive({ kind: 'local-locators', locators: hostB.locators.slice(0, 1), preferences: undefined }, T0 + 1_000);
    const preferences = [{ flags: LocatorFlag.BROKEN }];
    const second = p.b.drive({ kind: 'local-locators', locators: first.ctx.lsLocal, preferences }, T0 + 1_100);
    const ur1 = onlySend(first, 'UpdateRequest').message;
    const ur2 = onlySend(second, 'UpdateRequest').message;
    expect(ur2.requestNonce).not.toBe(ur1.requestNonce);
    expect(second.ctx.genLocal).not.toBe(first.ctx.genLocal);
    expect(optionKinds(ur2.options)).toEqual(['LocatorList', 'LocatorPreferences', 'CgaParameterDataStructure']);
    expect(option(ur2.options, 'LocatorList')!.generation).toBe(second.ctx.genLocal);
    expect(option(ur2.options, 'LocatorPreferences')!.generation).toBe(second.ctx.genLocal);
    expect(second.ctx.update!.requestNonce).toBe(ur2.requestNonce);
  });

  test('I2BIS-SENT + local preferences changed → Update Request; the I2bis retransmission carries the new preferences', () => {
    const { p, t } = inI2bisSent();
    const preferences = [{ flags: 0 }, { flags: LocatorFlag.TRANSIENT }];
    const r = p.a.drive({ kind: 'local-locators', locators: p.a.ctx.lsLocal, preferences }, t + 5);
    expect(onlySend(r, 'UpdateRequest').message.options).toEqual([prefsOption(p.a.ctx.genLocal, preferences)]);
    const again = p.a.drive({ kind: 'timeout' }, p.a.ctx.retransmit!.deadline);
    const i2bis = sends(again).find((s) => s.message.kind === 'I2bis')!;
    expect(i2bis).toBeDefined();
    const opts = (i2bis.message as { options: readonly Option[] }).options;
    expect(optionKinds(opts)).toEqual(['ResponderValidator', 'LocatorList', 'LocatorPreferences', 'CgaParameterDataStructure']);
    expect(option(opts, 'LocatorPreferences')).toEqual(prefsOption(p.a.ctx.genLocal, preferences));
  });

  test('I2-SENT + local preferences changed → nothing sent; the next I2 carries them', () => {
    const { p } = inI2Sent();
    const preferences = [{ flags: LocatorFlag.BROKEN }, { flags: 0 }];
    const r = p.a.drive({ kind: 'local-locators', locators: p.a.ctx.lsLocal, preferences }, T0 + 25);
    expect(r.actions).toEqual([]);
    const again = p.a.drive({ kind: 'timeout' }, p.a.ctx.retransmit!.deadline);
    const opts = onlySend(again, 'I2').message.options;
    expect(option(opts, 'LocatorPreferences')).toEqual(prefsOption(p.a.ctx.genLocal, preferences));
    const [b] = p.b.receive(again, p.a.ctx.retransmit!.sentAt + 5);
    expect(b!.ctx.lsPeer.map((l) => l.flags)).toEqual([LocatorFlag.BROKEN, 0]);
  });
});

describe('receiving Update Requests (§10.4)', () => {
  test('ESTABLISHED + Update Request → Update Ack, Ls(peer) replaced', () => {
    const { p } = inEstablished();
    p.a.ctx = { ...p.a.ctx, lpPeer: hostB.alt };
    const locators = hostB.locators.slice(0, 1);
    const change = p.b.drive({ kind: 'local-locators', locators, preferences: undefined }, T0 + 1_000);
    const ur = onlySend(change, 'UpdateRequest');
    const before = p.a.ctx;
    const [r] = p.a.receive(change, T0 + 1_010);
    expect(kinds(r!)).toEqual(['fast-path update', 'send UpdateAck', 'notify peer-locators-changed']);
    const c = r!.ctx;
    expect(c.state).toBe('ESTABLISHED');
    expect(c.lsPeer).toEqual([{ address: hostB.ulid, verificationMethod: HBA, verified: true, flags: 0 }]);
    expect(c.genPeer).toBe(change.ctx.genLocal);
    // Lp(peer) was withdrawn: fall back to the ULID until REAP picks a pair (§10.4 last paragraph).
    expect(c.lpPeer).toEqual(hostB.ulid);
    expect(c.ctPeer).toBe(before.ctPeer);
    expect(c.lastActivity).toBe(T0 + 1_010);
    const ack = onlySend(r!, 'UpdateAck');
    expect(ack.src).toEqual(ur.dst);
    expect(ack.dst).toEqual(ur.src);
    expect(ack.message.receiverContextTag).toBe(before.ctPeer);
    expect(ack.message.requestNonce).toBe(ur.message.requestNonce);
    expect(ack.message.options).toEqual([]);
    // The Acknowledgement completes B's update and stops its timer.
    const [done] = p.b.receive(r!, T0 + 1_020);
    expect(kinds(done!)).toEqual(['notify update-acknowledged']);
    expect(done!.ctx.update).toBeUndefined();
    expect(nextDeadline(done!.ctx, p.b.env)).toBe(T0 + 1_020 + p.b.env.config.idleTimeoutMs);
  });

  test('ESTABLISHED + Update Request with a list and matching preferences → both recorded', () => {
    const { p } = inEstablished();
    const gen = 0x01020304;
    const r = p.a.drive(control(fromB(p.a, [listOption(gen, hostB.locators), prefsOption(gen, [{ flags: LocatorFlag.BROKEN }, { flags: 0 }]), { kind: 'CgaParameterDataStructure', critical: false, pds: hostB.pds }])), T0 + 1_000);
    expect(onlySend(r, 'UpdateAck').message.requestNonce).toBe(0x5151);
    expect(r.ctx.genPeer).toBe(gen);
    expect(r.ctx.lsPeer.map((l) => l.flags)).toEqual([LocatorFlag.BROKEN, 0]);
  });

  test('ESTABLISHED + Update Request, generation mismatch → Error code 3 with the pointer at the preferences\' generation', () => {
    const { p } = inEstablished();
    const before = p.a.ctx;
    const wrong = (before.genPeer! + 1) >>> 0;
    const rx = fromB(p.a, [prefsOption(wrong, [{ flags: 0 }, { flags: LocatorFlag.BROKEN }])]);
    const r = p.a.drive(control(rx), T0 + 1_000);
    expect(r.ctx).toBe(before);
    expect(r.drop).toBe('update-generation');
    const err = onlySend(r, 'Error');
    expect(err.src).toEqual(hostA.ulid);
    expect(err.dst).toEqual(hostB.ulid);
    expect(err.message.errorCode).toBe(3);
    // "the first octet in the Locator List Generation number in the Locator Preference option"
    expect(err.message.pointer).toBe(40 + fixedLengthOf('UpdateRequest') + 4);
    expect(readU32(rx.packet, err.message.pointer)).toBe(wrong);
    expect(readU16(rx.packet, err.message.pointer - 4) >>> 1).toBe(OptionType.LocatorPreferences);
    expect(err.message.packetInError).toEqual(rx.packet);
  });

  test('ESTABLISHED + Update Request, preferences not of the list in the same message → Error code 3 pointing into the second option', () => {
    const { p } = inEstablished();
    const before = p.a.ctx;
    const list = listOption(0x0a0a0a0a, hostB.locators);
    const rx = fromB(p.a, [list, prefsOption(0x0b0b0b0b, [{ flags: 0 }, { flags: 0 }]), { kind: 'CgaParameterDataStructure', critical: false, pds: hostB.pds }]);
    const r = p.a.drive(control(rx), T0 + 1_000);
    expect(r.ctx).toBe(before);
    const err = onlySend(r, 'Error');
    expect(err.message.errorCode).toBe(3);
    expect(err.message.pointer).toBe(40 + fixedLengthOf('UpdateRequest') + optionsLength([list]) + 4);
    expect(readU32(rx.packet, err.message.pointer)).toBe(0x0b0b0b0b);
  });

  test('ESTABLISHED + Update Request, count mismatch → Error code 4 with the pointer at the preferences\' Length field', () => {
    const { p } = inEstablished();
    const before = p.a.ctx;
    const rx = fromB(p.a, [prefsOption(before.genPeer!, [{ flags: 0 }, { flags: 0 }, { flags: LocatorFlag.BROKEN }])]);
    const r = p.a.drive(control(rx), T0 + 1_000);
    expect(r.ctx).toBe(before);
    expect(r.drop).toBe('update-count');
    const err = onlySend(r, 'Error');
    expect(err.message.errorCode).toBe(4);
    // "the first octet of the Length field in the Locator Preference option"
    expect(err.message.pointer).toBe(40 + fixedLengthOf('UpdateRequest') + 2);
    expect(readU16(rx.packet, err.message.pointer)).toBe(5 + 3);
    expect(readU16(rx.packet, err.message.pointer - 2) >>> 1).toBe(OptionType.LocatorPreferences);
  });

  test('ESTABLISHED + Update Request, locator verification failure → Error code 2 with pointer at the verification method octet and nothing changed', () => {
    const { p } = inEstablished();
    const before = p.a.ctx;
    const bad: Locator[] = [{ address: hostB.ulid, verificationMethod: HBA }, { address: hostB.alt, verificationMethod: HBA }, { address: STRANGER, verificationMethod: HBA }];
    const rx = fromB(p.a, [listOption(0x77, bad), { kind: 'CgaParameterDataStructure', critical: false, pds: hostB.pds }]);
    const r = p.a.drive(control(rx), T0 + 1_000);
    expect(r.ctx).toBe(before);
    expect(r.drop).toBe('locators-rejected');
    expect(kinds(r)).toEqual(['send Error']);
    const err = onlySend(r, 'Error');
    expect(err.message.errorCode).toBe(2);
    // Option header (4), generation (4), Num Locators (1), then method octets: index 2.
    const listAt = 40 + fixedLengthOf('UpdateRequest');
    expect(err.message.pointer).toBe(listAt + 4 + 4 + 1 + 2);
    expect(readU16(rx.packet, listAt) >>> 1).toBe(OptionType.LocatorList);
    expect(rx.packet[listAt + 8]).toBe(3);
    expect(rx.packet[err.message.pointer]).toBe(HBA);
    expect(err.message.packetInError).toEqual(rx.packet);
  });

  test('ESTABLISHED + Update Request with an unsupported verification method → Error code 2 at that method\'s octet', () => {
    const { p } = inEstablished();
    const before = p.a.ctx;
    const rx = fromB(p.a, [listOption(0x78, [{ address: hostB.ulid, verificationMethod: 7 }]), { kind: 'CgaParameterDataStructure', critical: false, pds: hostB.pds }]);
    const r = p.a.drive(control(rx), T0 + 1_000);
    expect(r.ctx).toBe(before);
    const err = onlySend(r, 'Error');
    expect(err.message.errorCode).toBe(2);
    expect(rx.packet[err.message.pointer]).toBe(7);
  });

  test('ESTABLISHED + Update Request that fails, with policy sendErrors off → dropped without Error messages', () => {
    const { p } = inEstablished({ policy: { sendErrors: false } });
    const before = p.a.ctx;
    const failing = [
      [fromB(p.a, [listOption(0x79, [{ address: STRANGER, verificationMethod: HBA }]), { kind: 'CgaParameterDataStructure', critical: false, pds: hostB.pds }]), 'locators-rejected'],
      [fromB(p.a, [prefsOption((before.genPeer! + 1) >>> 0, [{ flags: 0 }, { flags: 0 }])]), 'update-generation'],
      [fromB(p.a, [prefsOption(before.genPeer!, [{ flags: 0 }])]), 'update-count'],
    ] as const;
    for (const [rx, reason] of failing) expectDiscarded(p.a.drive(control(rx), T0 + 1_000), before, reason);
  });

  test('ESTABLISHED + Update Request with a CGA PDS that is not ULID(peer)\'s → silently discarded (§10.4)', () => {
    const { p } = inEstablished();
    const before = p.a.ctx;
    const rx = fromB(p.a, [listOption(0x80, hostB.locators), { kind: 'CgaParameterDataStructure', critical: false, pds: hostA.pds }]);
    expectDiscarded(p.a.drive(control(rx), T0 + 1_000), before, 'bad-pds');
  });

  test('I2BIS-SENT + Update Request → resends I2bis and processes the request (§10.4)', () => {
    const { p, i2bis, t } = inI2bisSent();
    // B got the I2bis (its R2 is lost) and then updates its locators.
    p.b.receive(i2bis, t + 10);
    const change = p.b.drive({ kind: 'local-locators', locators: hostB.locators.slice(0, 1), preferences: undefined }, t + 500);
    const [r] = p.a.receive(change, t + 1_500);
    expect(kinds(r!)).toEqual(['fast-path update', 'send I2bis', 'send UpdateAck', 'notify peer-locators-changed']);
    expect(r!.ctx.state).toBe('I2BIS-SENT');
    expect(onlySend({ ...r!, actions: sends(r!).filter((s) => s.message.kind === 'I2bis') }, 'I2bis').message).toEqual(onlySend(i2bis, 'I2bis').message);
    expect(r!.ctx.lsPeer.map((l) => l.address)).toEqual([hostB.ulid]);
  });
});

describe('receiving Update Acknowledgements (§10.5)', () => {
  test('ESTABLISHED + stale Update Ack ignored (§10.3: the nonce of an abandoned request)', () => {
    const { p } = inEstablished();
    const first = p.b.drive({ kind: 'local-locators', locators: hostB.locators.slice(0, 1), preferences: undefined }, T0 + 1_000);
    const second = p.b.drive({ kind: 'local-locators', locators: hostB.locators, preferences: undefined }, T0 + 1_100);
    const oldNonce = onlySend(first, 'UpdateRequest').message.requestNonce;
    const before = p.b.ctx;
    const stale = p.b.drive(control(received(hostA.ulid, hostB.ulid, updateAck(before.ctLocal, oldNonce))), T0 + 1_200);
    expectDiscarded(stale, before, 'stale-update-ack');
    expect(p.b.ctx.update).toBeDefined();
    const [a] = p.a.receive(second, T0 + 1_300);
    const [done] = p.b.receive(a!, T0 + 1_400);
    expect(kinds(done!)).toEqual(['notify update-acknowledged']);
    expect(done!.ctx.update).toBeUndefined();
  });

  test('ESTABLISHED + Update Ack with no update outstanding → ignored', () => {
    const { p } = inEstablished();
    const before = p.a.ctx;
    expectDiscarded(p.a.drive(control(received(hostB.ulid, hostA.ulid, updateAck(before.ctLocal, 1))), T0 + 100), before, 'stale-update-ack');
  });

  test('I2BIS-SENT + Update Ack → resends I2bis and completes the update (§10.5 says R2; see machine.ts)', () => {
    const { p } = inEstablished();
    const change = p.a.drive({ kind: 'local-locators', locators: hostA.locators.slice(0, 1), preferences: undefined }, T0 + 1_000);
    const [ack] = p.b.receive(change, T0 + 1_010); // delayed in the network
    const r1bis = engineR1bis(p.b.env, p.a.ctx.ctPeer!, p.a.ctx.lpLocal, p.a.ctx.lpPeer, T0 + 1_020);
    const [i2bis] = p.a.receive([r1bis], T0 + 1_030);
    expect(p.a.ctx.state).toBe('I2BIS-SENT');
    expect(p.a.ctx.update).toBeDefined();
    const [r] = p.a.receive(ack!, T0 + 2_030);
    expect(kinds(r!)).toEqual(['send I2bis', 'notify update-acknowledged']);
    expect(onlySend(r!, 'I2bis').message).toEqual(onlySend(i2bis!, 'I2bis').message);
    expect(r!.ctx.update).toBeUndefined();
    expect(r!.ctx.state).toBe('I2BIS-SENT');
  });
});

describe('Update retransmission (§10.2)', () => {
  test('update retransmission backoff capped at MAX_UPDATE_TIMEOUT (jitter off: exact deadlines, same nonce, forever)', () => {
    const { p } = inEstablished({ config: { jitter: false, idleTimeoutMs: 100_000_000 } });
    const first = p.b.drive({ kind: 'local-locators', locators: hostB.locators.slice(0, 1), preferences: undefined }, T0 + 1_000);
    const ur = onlySend(first, 'UpdateRequest').message;
    let t = T0 + 1_000;
    expect(p.b.ctx.update!.timer).toEqual({ count: 0, timeoutMs: 4_000, sentAt: t, deadline: t + 4_000 });
    const nominal = [8_000, 16_000, 32_000, 64_000, 120_000, 120_000, 120_000, 120_000, 120_000, 120_000];
    let wait = 4_000;
    for (const [i, n] of nominal.entries()) {
      t += wait;
      const r = p.b.drive({ kind: 'timeout' }, t);
      expect(onlySend(r, 'UpdateRequest').message).toEqual(ur);
      expect(r.ctx.update!.timer).toEqual({ count: i + 1, timeoutMs: n, sentAt: t, deadline: t + n });
      expect(nextDeadline(r.ctx, p.b.env)).toBe(t + n);
      wait = n;
    }
    expect(p.b.ctx.state).toBe('ESTABLISHED');
  });

  test('update retransmission with jitter → each deadline in [0.5, 1.5] × the capped nominal timeout', () => {
    const { p } = inEstablished({ config: { idleTimeoutMs: 100_000_000 } });
    p.b.drive({ kind: 'local-locators', locators: hostB.locators.slice(0, 1), preferences: undefined }, T0 + 1_000);
    expectTimer(p.b.ctx.update!, 4_000);
    const ratios: number[] = [];
    for (const n of [8_000, 16_000, 32_000, 64_000, 120_000, 120_000, 120_000]) {
      const r = p.b.drive({ kind: 'timeout' }, p.b.ctx.update!.timer.deadline);
      expect(sends(r).map((s) => s.message.kind)).toEqual(['UpdateRequest']);
      expectTimer(r.ctx.update!, n);
      ratios.push((r.ctx.update!.timer.deadline - r.ctx.update!.timer.sentAt) / n);
    }
    expect(ratios.some((x) => x !== 1)).toBe(true);
  });

  test('ESTABLISHED + idle timeout with an Update Request outstanding → IDLE (retransmissions alone are not activity, §10.2)', () => {
    const { p } = inEstablished({ config: { jitter: false } });
    p.b.drive({ kind: 'local-locators', locators: hostB.locators.slice(0, 1), preferences: undefined }, T0 + 1_000);
    const idleAt = p.b.ctx.lastActivity + p.b.env.config.idleTimeoutMs;
    let last = p.b.history.at(-1)!;
    while (last.ctx.state === 'ESTABLISHED') {
      const d = nextDeadline(p.b.ctx, p.b.env)!;
      expect(d).toBeLessThanOrEqual(idleAt);
      last = p.b.drive({ kind: 'timeout' }, d);
    }
    expect(kinds(last)).toEqual(['fast-path remove', 'notify removed']);
    expect(p.b.history.at(-1)!.ctx.lastActivity + p.b.env.config.idleTimeoutMs).toBe(idleAt);
  });
});

describe('Error Messages about our messages (§5.14)', () => {
  function errorAbout(code: number): ErrorMessage {
    return { kind: 'Error', nextHeader: 59, errorCode: code, pointer: 60, packetInError: new Uint8Array(48) };
  }

  test.each([3, 4])('ESTABLISHED + Error code %i about our Update Request → the whole list again, with a new generation and nonce', (code) => {
    const { p } = inEstablished();
    const first = p.b.drive({ kind: 'local-locators', locators: hostB.locators, preferences: [{ flags: 0 }, { flags: LocatorFlag.BROKEN }] }, T0 + 1_000);
    const ur = onlySend(first, 'UpdateRequest').message;
    const before = p.b.ctx;
    const r = p.b.drive({ kind: 'error', error: errorAbout(code), inError: ur }, T0 + 1_100);
    expect(kinds(r)).toEqual(['notify error-received', 'send UpdateRequest']);
    const again = onlySend(r, 'UpdateRequest').message;
    expect(again.requestNonce).not.toBe(ur.requestNonce);
    expect(r.ctx.genLocal).not.toBe(before.genLocal);
    expect(optionKinds(again.options)).toEqual(['LocatorList', 'LocatorPreferences', 'CgaParameterDataStructure']);
    expect(option(again.options, 'LocatorList')!.generation).toBe(r.ctx.genLocal);
    expect(option(again.options, 'LocatorPreferences')!.generation).toBe(r.ctx.genLocal);
    expect(r.ctx.update!.requestNonce).toBe(again.requestNonce);
  });

  test('ESTABLISHED + Error code 2 about our Update Request → the request is abandoned (it could never succeed)', () => {
    const { p } = inEstablished();
    const first = p.b.drive({ kind: 'local-locators', locators: hostB.locators.slice(0, 1), preferences: undefined }, T0 + 1_000);
    const r = p.b.drive({ kind: 'error', error: errorAbout(2), inError: onlySend(first, 'UpdateRequest').message }, T0 + 1_100);
    expect(kinds(r)).toEqual(['notify error-received']);
    expect(r.ctx.update).toBeUndefined();
    expect(r.ctx.state).toBe('ESTABLISHED');
  });

  test('ESTABLISHED + Error code 1 about a payload packet → reported only', () => {
    const { p } = inEstablished();
    const before = p.b.ctx;
    const r = p.b.drive({ kind: 'error', error: errorAbout(1), inError: undefined }, T0 + 1_100);
    expect(r.ctx).toBe(before);
    expect(kinds(r)).toEqual(['notify error-received']);
  });

  test('I2-SENT + Update Request within the triggered-resend interval → dropped, nothing sent', () => {
    const { p } = inI2Sent();
    const before = p.a.ctx;
    const r = p.a.drive(control(fromB(p.a, [])), T0 + 21);
    // Within the triggered-resend interval: nothing sent, request dropped.
    expectDiscarded(r, before, NOT_FOR_STATE);
  });
});
