/**
 * The RFC 5533 context state machine: `step(ctx, input, now, env) → { ctx, actions }`
 * and `nextDeadline(ctx)` (STYLE.md). The STATE × trigger table is Appendix B, with the
 * text of §7, §10 and §12 normative where they differ. Handlers live in
 * `establishment.ts` (§7) and `update.ts` (§10); this module routes to them, handles the
 * triggers common to all STATEs (timeouts, teardown, idle expiry, confusion), and turns
 * STATE changes into fast-path actions: a context is installed in the data plane exactly
 * while it is ESTABLISHED or I2BIS-SENT with CT(peer) known (§11: "Only in the ESTABLISHED
 * and I2BIS-SENT STATEs does the host have CT(peer) and Ls(peer) set").
 *
 * Deliberate deviations (README "Conformance notes"):
 * - §10.5 says an Update Acknowledgement in I2-SENT / I2BIS-SENT makes the host "send
 *   R2". An R2 from the initiator is ignored by an ESTABLISHED peer (§7.16), so we resend
 *   I2 / I2bis as §10.4 and §12.2 do for the same situation.
 * - §10.4 says to "send I2 and proceed to process" an Update Request in I2-SENT; without
 *   CT(peer) no Acknowledgement can be addressed, so we send I2 and drop the request
 *   (the peer retransmits it, §10.2, and it succeeds once our I2 completes).
 * - E-FAILED and NO-SUPPORT entries refuse `establish` until their hold-down ends;
 *   received messages are processed as in IDLE (Appendix B).
 */
import { bytesEqual } from '../wire/bytes.js';
import { dropped, establishmentTimeout, receiveI1, receiveI2, receiveIcmpNoSupport, receiveR1, receiveR1bis, receiveR2, startI1, triggeredResend } from './establishment.js';
import { hasAddress, ulidOnly } from './locators.js';
import { ContextState, DropReason, type ContextAction, type ContextEnv, type ContextInput, type LocalIdentity, type ReceivedControl, type ShimContext, type StepResult } from './types.js';
import { withFlowLabel } from './flow-label.js';
import { contextReapDeadline, withReap } from './reap.js';
import { localLocatorsChanged, receiveError, receiveUpdateAck, receiveUpdateRequest, updateTimeout } from './update.js';

export interface NewContextParams {
  readonly id: number;
  readonly ulidLocal: Uint8Array;
  readonly ulidPeer: Uint8Array;
  readonly fii?: number;
  /** The locator pair to use; defaults to the ULID pair (§13: initial contact uses the ULIDs). */
  readonly lpLocal?: Uint8Array;
  readonly lpPeer?: Uint8Array;
  /** Include the ULID Pair option even when the locators are the ULIDs. */
  readonly ulidOption?: boolean;
}

/** A context in IDLE: the starting point of every machine. CT(local) is allocated on leaving IDLE (-1 until then). */
export function idleContext(p: NewContextParams, identity: LocalIdentity | undefined, now: number, genLocal: number): ShimContext {
  const lpLocal = p.lpLocal ?? p.ulidLocal;
  const lpPeer = p.lpPeer ?? p.ulidPeer;
  return {
    id: p.id,
    state: ContextState.IDLE,
    ulidLocal: p.ulidLocal,
    ulidPeer: p.ulidPeer,
    fii: p.fii ?? 0,
    ctLocal: -1,
    ctPeer: undefined,
    lsLocal: identity?.locators ?? [{ address: p.ulidLocal, verificationMethod: 0 }],
    genLocal,
    prefsLocal: identity?.preferences,
    lsPeer: ulidOnly(p.ulidPeer),
    genPeer: undefined,
    pdsPeer: undefined,
    lpLocal,
    lpPeer,
    initNonce: 0,
    respNonce: undefined,
    validator: undefined,
    ctR1bis: undefined,
    ulidOption: p.ulidOption === true || !bytesEqual(lpLocal, p.ulidLocal) || !bytesEqual(lpPeer, p.ulidPeer),
    retransmit: undefined,
    update: undefined,
    holdUntil: undefined,
    lastActivity: now,
    createdAt: now,
    establishedAt: undefined,
    initiator: false,
    localOptions: undefined,
    reap: undefined,
  };
}

/** Installed in the data plane: ESTABLISHED or I2BIS-SENT with CT(peer) known (§11). */
export function hasFastPath(ctx: ShimContext): boolean {
  return (ctx.state === ContextState.ESTABLISHED || ctx.state === ContextState.I2BIS_SENT) && ctx.ctPeer !== undefined;
}

/** The earliest time `step` must be called with `timeout`, or undefined when nothing is pending. */
export function nextDeadline(ctx: ShimContext, env: Pick<ContextEnv, 'config' | 'reap'>): number | undefined {
  let d = contextReapDeadline(ctx, env) ?? Number.POSITIVE_INFINITY;
  if (ctx.retransmit !== undefined) d = Math.min(d, ctx.retransmit.deadline);
  if (ctx.update !== undefined) d = Math.min(d, ctx.update.timer.deadline);
  if (ctx.holdUntil !== undefined) d = Math.min(d, ctx.holdUntil);
  if (ctx.state === ContextState.ESTABLISHED || ctx.state === ContextState.I2BIS_SENT) d = Math.min(d, ctx.lastActivity + env.config.idleTimeoutMs);
  return d === Number.POSITIVE_INFINITY ? undefined : d;
}

function toIdle(ctx: ShimContext, reason: string): StepResult {
  const next: ShimContext = { ...ctx, state: ContextState.IDLE, retransmit: undefined, update: undefined, holdUntil: undefined };
  return { ctx: next, actions: [{ kind: 'notify', event: 'removed', ctx: next, detail: reason }] };
}

function onTimeout(ctx: ShimContext, now: number, env: ContextEnv): StepResult {
  if (ctx.holdUntil !== undefined && now >= ctx.holdUntil) return toIdle(ctx, `${ctx.state} hold-down over`);
  if ((ctx.state === ContextState.ESTABLISHED || ctx.state === ContextState.I2BIS_SENT) && now >= ctx.lastActivity + env.config.idleTimeoutMs) {
    return toIdle(ctx, `idle for ${now - ctx.lastActivity} ms`);
  }
  const actions: ContextAction[] = [];
  let c = ctx;
  const est = establishmentTimeout(c, now, env);
  if (est !== undefined) {
    c = est.ctx;
    actions.push(...est.actions);
  }
  if (c.state === ContextState.ESTABLISHED || c.state === ContextState.I2BIS_SENT) {
    const up = updateTimeout(c, now, env);
    if (up !== undefined) {
      c = up.ctx;
      actions.push(...up.actions);
    }
  }
  return { ctx: c, actions };
}

/** Control messages of types 64-127 and payload, for a context the engine found by CT(local) (§12.2, §12.4, §10.4-10.5). */
function onContextMessage(ctx: ShimContext, rx: ReceivedControl | undefined, now: number, env: ContextEnv): StepResult {
  switch (ctx.state) {
    case ContextState.ESTABLISHED:
      break;
    case ContextState.I2_SENT:
    case ContextState.I2BIS_SENT: {
      const resend = triggeredResend(ctx, now)!;
      if (ctx.state === ContextState.I2_SENT || rx === undefined) {
        return rx?.message.kind === 'UpdateRequest' || rx?.message.kind === 'UpdateAck'
          ? { ...resend, drop: DropReason.NotForState }
          : resend;
      }
      return processInEstablished(resend.ctx, rx, now, env, resend.actions);
    }
    default:
      return dropped(ctx, DropReason.NotForState);
  }
  if (rx === undefined) return { ctx: { ...ctx, lastActivity: now }, actions: [] };
  return processInEstablished(ctx, rx, now, env, []);
}

function processInEstablished(ctx: ShimContext, rx: ReceivedControl, now: number, env: ContextEnv, prefix: readonly ContextAction[]): StepResult {
  switch (rx.message.kind) {
    case 'UpdateRequest': return receiveUpdateRequest(ctx, rx, now, env, prefix);
    case 'UpdateAck': return receiveUpdateAck(ctx, rx, now, prefix);
    // Keepalive and Probe: REAP's alone (withReap, RFC 5534 §6.6-6.9). They do not count as
    // activity for garbage collection (§9): REAP probes until the context is collected "because
    // upper-layer protocols ... are no longer attempting to send packets" (RFC 5534 §4.3).
    default: return { ctx, actions: prefix };
  }
}

function onControl(ctx: ShimContext, rx: ReceivedControl, now: number, env: ContextEnv): StepResult {
  const m = rx.message;
  switch (m.kind) {
    case 'I1': return receiveI1(ctx, rx, now, env);
    case 'R1': return receiveR1(ctx, rx, now, env);
    case 'I2':
    case 'I2bis': return receiveI2(ctx, rx, now, env);
    case 'R2': return receiveR2(ctx, rx, now, env);
    case 'R1bis': return receiveR1bis(ctx, rx, now, env);
    case 'Error': return dropped(ctx, DropReason.NotForState);
    default:
      // Update Request, Update Acknowledgement, Keepalive, Probe: types 64-127.
      return onContextMessage(ctx, rx, now, env);
  }
}

function dispatch(ctx: ShimContext, input: ContextInput, now: number, env: ContextEnv): StepResult {
  const holdDown = ctx.state === ContextState.E_FAILED || ctx.state === ContextState.NO_SUPPORT;
  switch (input.kind) {
    case 'establish':
      if (ctx.state !== ContextState.IDLE) return dropped(ctx, DropReason.NotForState);
      return startI1(ctx, now, env);
    case 'control': {
      if (holdDown) {
        // Appendix B: "Any packet: process as in IDLE"; a context created by it replaces the entry.
        const r = onControl({ ...ctx, state: ContextState.IDLE }, input.rx, now, env);
        return r.ctx.state === ContextState.IDLE ? { ...r, ctx } : r;
      }
      return onControl(ctx, input.rx, now, env);
    }
    case 'payload':
      return onContextMessage(ctx, undefined, now, env);
    case 'timeout':
      return onTimeout(ctx, now, env);
    case 'icmp-no-support':
      return receiveIcmpNoSupport(ctx, now, env);
    case 'error': {
      if (ctx.state !== ContextState.ESTABLISHED && ctx.state !== ContextState.I2BIS_SENT) {
        return { ctx, actions: [{ kind: 'notify', event: 'error-received', ctx, detail: `code ${input.error.errorCode} in ${ctx.state}` }] };
      }
      return receiveError(ctx, input.error.errorCode, input.inError?.kind, now, env);
    }
    case 'local-locators': {
      const est = ctx.state === ContextState.ESTABLISHED || ctx.state === ContextState.I2BIS_SENT;
      return localLocatorsChanged(ctx, input.locators, input.preferences, now, env, est);
    }
    case 'confused': {
      // §7.15: only a context in ESTABLISHED or I2BIS-SENT can hold the reused CT(peer);
      // elsewhere the input is stale, and acting on it would skip a hold-down or create state.
      if (ctx.state !== ContextState.ESTABLISHED && ctx.state !== ContextState.I2BIS_SENT) return dropped(ctx, DropReason.NotForState);
      if (env.policy.onConfusion === 'discard') return toIdle(ctx, 'context confusion: the peer reused CT(peer) (§7.15)');
      const r = startI1({ ...ctx, state: ContextState.I1_SENT, lsPeer: ulidOnly(ctx.ulidPeer), genPeer: undefined, lpLocal: ctx.ulidLocal, lpPeer: ctx.ulidPeer, ulidOption: false }, now, env);
      return { ctx: r.ctx, actions: [{ kind: 'notify', event: 'confusion', ctx: r.ctx, detail: 're-establishing with a new I1 (§7.15)' }, ...r.actions] };
    }
    case 'switch-pair': {
      if (ctx.state !== ContextState.ESTABLISHED && ctx.state !== ContextState.I2BIS_SENT) return dropped(ctx, DropReason.NotForState);
      const localOk = bytesEqual(input.lpLocal, ctx.ulidLocal) || hasAddress(ctx.lsLocal, input.lpLocal);
      const peerOk = bytesEqual(input.lpPeer, ctx.ulidPeer) || ctx.lsPeer.some((l) => l.verified && bytesEqual(l.address, input.lpPeer));
      if (!localOk || !peerOk) return dropped(ctx, DropReason.BadLocatorSet);
      if (bytesEqual(input.lpLocal, ctx.lpLocal) && bytesEqual(input.lpPeer, ctx.lpPeer)) return { ctx, actions: [] };
      return { ctx: { ...ctx, lpLocal: input.lpLocal, lpPeer: input.lpPeer }, actions: [] };
    }
    case 'teardown':
      return toIdle(ctx, input.reason);
    case 'payload-sent':
    case 'payload-received':
      // ULP traffic through the fast path: activity (§9); REAP's part is in withReap.
      return (ctx.state === ContextState.ESTABLISHED || ctx.state === ContextState.I2BIS_SENT) && ctx.lastActivity < now ? { ctx: { ...ctx, lastActivity: now }, actions: [] } : { ctx, actions: [] };
    case 'local-change':
    case 'ulp-retransmit':
    case 'explore':
      // REAP's alone (withReap); nothing for the RFC 5533 machine.
      return { ctx, actions: [] };
  }
}

/** Fast-path actions implied by going from `before` to `after`. */
function fastPathActions(before: ShimContext, after: ShimContext): ContextAction[] {
  const was = hasFastPath(before);
  const is = hasFastPath(after);
  if (!was && is) return [{ kind: 'fast-path', op: 'install', ctx: after }];
  if (was && !is) return [{ kind: 'fast-path', op: 'remove', ctx: before }];
  if (was && is && (before.ctPeer !== after.ctPeer || before.lsPeer !== after.lsPeer || before.lsLocal !== after.lsLocal || before.lpLocal !== after.lpLocal || before.lpPeer !== after.lpPeer ||
      before.flowLabelLocal !== after.flowLabelLocal || before.flowLabelPeer !== after.flowLabelPeer)) {
    return [{ kind: 'fast-path', op: 'update', ctx: after }];
  }
  return [];
}

/** One transition: the context's reaction to `input` at `now`. Never throws for any received message. */
export function step(ctx: ShimContext, input: ContextInput, now: number, env: ContextEnv): StepResult {
  const r = withFlowLabel(withReap(ctx, dispatch(ctx, input, now, env), input, now, env), input, now, env);
  const fp = fastPathActions(ctx, r.ctx);
  if (fp.length === 0) return r;
  return { ...r, actions: [...fp, ...r.actions] };
}
