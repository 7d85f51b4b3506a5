/**
 * Helpers shared by the machine-*.test.ts files (one file per STATE of RFC 5533
 * Appendix B).
 */
import { expect } from 'vitest';
import { nextDeadline } from '../../src/context/machine.js';
import type { ContextAction, Retransmit, StepResult } from '../../src/context/types.js';
import { type ControlMessage, type I2Message } from '../../src/wire/control.js';
import type { Locator, Option } from '../../src/wire/options/index.js';
import {
  HBA,
  STRANGER,
  forge,
  hostA,
  hostB,
  option,
  type SendAction,
  type Side,
  type TestEnv,
} from './env.util.js';

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

export function replaceOption(options: readonly Option[], kind: Option['kind'], by: Option): Option[] {
  return options.map((o) => (o.kind === kind ? by : o));
}

/** `m` with its Responder Validator's first octet flipped. */
export function badValidator<M extends ControlMessage & { readonly options: readonly Option[] }>(m: M): M {
  const v = option(m.options, 'ResponderValidator')!.validator.slice();
  v[0]! ^= 0x01;
  return { ...m, options: replaceOption(m.options, 'ResponderValidator', { kind: 'ResponderValidator', critical: false, validator: v }) };
}

/** A Locator List of `owner` whose second locator (index 1) is nobody's HBA. */
export function listWithStranger(owner: { readonly ulid: Uint8Array }, generation: number): Option {
  const locators: Locator[] = [{ address: owner.ulid, verificationMethod: HBA }, { address: STRANGER, verificationMethod: HBA }];
  return { kind: 'LocatorList', critical: false, generation, locators };
}

/** The peer locators a verified list of `id` becomes (§7.2). */
export function verifiedLs(id: { readonly locators: readonly Locator[] }): unknown[] {
  return id.locators.map((l) => ({ address: l.address, verificationMethod: l.verificationMethod, verified: true, flags: 0 }));
}

/**
 * The I2 of `i2` re-sent from STRANGER with a validator the responder really issued for
 * that locator (so only the source check of §7.13 can reject it); carries the ULID Pair.
 */
export function i2FromStranger(i2: SendAction, responder: TestEnv, t: number): ControlMessage {
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
export function expectJittered(t: Retransmit, nominalMs: number): void {
  expect(t.timeoutMs).toBe(nominalMs);
  expect(t.deadline - t.sentAt).toBeGreaterThanOrEqual(0.5 * nominalMs);
  expect(t.deadline - t.sentAt).toBeLessThanOrEqual(1.5 * nominalMs);
}

export function fastPathAction(r: StepResult): Extract<ContextAction, { kind: 'fast-path' }> | undefined {
  return r.actions.find((a): a is Extract<ContextAction, { kind: 'fast-path' }> => a.kind === 'fast-path');
}

/** Runs the timeout at the current deadline of `side`. */
export function fire(side: Side): StepResult {
  const d = nextDeadline(side.ctx, side.env);
  expect(d).toBeDefined();
  return side.drive({ kind: 'timeout' }, d!);
}

export const NOT_FOR_STATE = 'not-for-state';

