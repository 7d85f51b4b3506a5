/**
 * The context state machine in triggers common to every STATE: teardown, confusion outside ESTABLISHED, switch-pair, INIT Nonces, failed validation: one test per trigger cell of RFC 5533
 * Appendix B, with §7 (and §10.4-10.5, §12.2) where the text is more specific. See
 * machine.util.ts for the helpers and env.util.ts for the two-party wire.
 */
import { describe, expect, test } from 'vitest';
import { hasFastPath, nextDeadline, step } from '../../src/context/machine.js';
import type { ShimContext } from '../../src/context/types.js';
import { type ControlMessage } from '../../src/wire/control.js';
import type { Option } from '../../src/wire/options/index.js';
import {
  STRANGER,
  control,
  engineR1bis,
  hostA,
  hostB,
  idleFor,
  kinds,
  onlySend,
  option,
  pair,
  received,
  type Side,
} from './env.util.js';
import { expectDiscarded, inEFailed, inEstablished, inI1Sent, inI2bisSent, inI2Sent, inNoSupport, T0 } from './states.util.js';
import { fastPathAction, NOT_FOR_STATE } from './machine.util.js';

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
