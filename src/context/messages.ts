/**
 * Builders for the establishment and update messages a context sends (RFC 5533 §5.4-5.11),
 * filled from the context per §7.7 (I1), §7.10 (R1), §7.11 (I2), §7.14 (R2), §7.17
 * (R1bis), §7.18 (I2bis), §10.1 (Update Request) and §10.4 (Update Acknowledgement).
 * Pure functions of their arguments; nothing here decides *whether* to send.
 */
import { bytesEqual } from '../wire/bytes.js';
import { NO_NXT_HDR } from '../wire/constants.js';
import type { ControlMessage, I1Message, I2bisMessage, I2Message, R1bisMessage, R1Message, R2Message, UpdateAckMessage, UpdateRequestMessage } from '../wire/control.js';
import type { Option } from '../wire/options/index.js';
import type { ContextAction, ShimContext } from './types.js';

const HEAD = { nextHeader: NO_NXT_HDR, reserved1: 0 } as const;

/** ULID Pair option when the locator pair is not the ULID pair (§7.7, §7.18), and the FII option when non-zero (§4.2). */
export function identityOptions(ctx: ShimContext, forceUlidOption: boolean): Option[] {
  const out: Option[] = [];
  if (forceUlidOption || !bytesEqual(ctx.lpLocal, ctx.ulidLocal) || !bytesEqual(ctx.lpPeer, ctx.ulidPeer)) {
    out.push({ kind: 'UlidPair', critical: false, reserved2: 0, senderUlid: ctx.ulidLocal, receiverUlid: ctx.ulidPeer });
  }
  if (ctx.fii !== 0) out.push({ kind: 'ForkedInstanceIdentifier', critical: false, forkedInstanceId: ctx.fii });
  return out;
}

export function i1Message(ctx: ShimContext): I1Message {
  return { kind: 'I1', ...HEAD, r: 0, initiatorContextTag: ctx.ctLocal, initiatorNonce: ctx.initNonce, options: identityOptions(ctx, ctx.ulidOption) };
}

export function r1Message(initiatorNonce: number, responderNonce: number, validator: Uint8Array): R1Message {
  return { kind: 'R1', ...HEAD, reserved2: 0, initiatorNonce, responderNonce, options: [{ kind: 'ResponderValidator', critical: false, validator }] };
}

export function i2Message(ctx: ShimContext): I2Message {
  return {
    kind: 'I2',
    ...HEAD,
    r: 0,
    initiatorContextTag: ctx.ctLocal,
    initiatorNonce: ctx.initNonce,
    responderNonce: ctx.respNonce ?? 0,
    reserved2: 0,
    options: [{ kind: 'ResponderValidator', critical: false, validator: ctx.validator ?? new Uint8Array(0) }, ...identityOptions(ctx, ctx.ulidOption), ...(ctx.localOptions ?? [])],
  };
}

export function r2Message(ctx: ShimContext, initiatorNonce: number): R2Message {
  return { kind: 'R2', ...HEAD, r: 0, responderContextTag: ctx.ctLocal, initiatorNonce, options: [...(ctx.localOptions ?? [])] };
}

export function r1bisMessage(packetContextTag: number, responderNonce: number, validator: Uint8Array): R1bisMessage {
  return { kind: 'R1bis', ...HEAD, r: 0, packetContextTag, responderNonce, options: [{ kind: 'ResponderValidator', critical: false, validator }] };
}

export function i2bisMessage(ctx: ShimContext): I2bisMessage {
  return {
    kind: 'I2bis',
    ...HEAD,
    r: 0,
    initiatorContextTag: ctx.ctLocal,
    initiatorNonce: ctx.initNonce,
    responderNonce: ctx.respNonce ?? 0,
    reserved2: 0,
    packetContextTag: ctx.ctR1bis ?? 0,
    options: [{ kind: 'ResponderValidator', critical: false, validator: ctx.validator ?? new Uint8Array(0) }, ...identityOptions(ctx, false), ...(ctx.localOptions ?? [])],
  };
}

export function updateRequestMessage(ctx: ShimContext, requestNonce: number, options: readonly Option[]): UpdateRequestMessage {
  return { kind: 'UpdateRequest', ...HEAD, r: 0, receiverContextTag: ctx.ctPeer ?? 0, requestNonce, options };
}

export function updateAckMessage(ctx: ShimContext, requestNonce: number): UpdateAckMessage {
  return { kind: 'UpdateAck', ...HEAD, r: 0, receiverContextTag: ctx.ctPeer ?? 0, requestNonce, options: [] };
}

/**
 * The messages that carry this host's per-context advertisements, the Keepalive Timeout
 * option (RFC 5534 §5.3) and the experimental Flow Label Demux option (issue #8): I2,
 * I2bis, R2 and Update Request.
 */
export const CARRIES_ADVERTISEMENTS: ReadonlySet<ControlMessage['kind']> = new Set(['I2', 'I2bis', 'R2', 'UpdateRequest']);

type Carrier = ContextAction & { kind: 'send'; message: Exclude<ControlMessage, { kind: 'Error' }> };

/** Whether an action sends a message that carries the advertisements. */
export function carriesAdvertisements(a: ContextAction): a is Carrier {
  return a.kind === 'send' && a.message.kind !== 'Error' && CARRIES_ADVERTISEMENTS.has(a.message.kind);
}

/** `actions` with `options` appended to every message that carries the advertisements. */
export function withAdvertisements(actions: readonly ContextAction[], options: readonly Option[]): readonly ContextAction[] {
  if (options.length === 0) return actions;
  return actions.map((a) => (carriesAdvertisements(a) ? { ...a, message: { ...a.message, options: [...a.message.options, ...options] } as ControlMessage } : a));
}
