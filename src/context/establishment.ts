/**
 * Context establishment and recovery (RFC 5533 §7.3-7.20, Appendix B): the handlers for
 * I1, R1, I2, R2, R1bis and I2bis in every STATE, the retransmission timeouts of I1, I2
 * and I2bis, and the NO-SUPPORT hold-down. `machine.ts` dispatches to these; each returns
 * the new context, the actions, and a drop reason when the input changed nothing.
 *
 * Deliberate choices (README "Conformance notes"):
 * - I2 and I2bis keep the INIT Nonce of the I1 (§7.11 allows a new one; keeping it lets a
 *   late R2 to the I1 still match, §6.2 "INIT Nonce?(to receive late R2)").
 * - An I2 or I2bis from a locator that is neither ULID(peer), in Ls(peer), nor verified
 *   in its own Locator List is discarded in every STATE, including IDLE; in IDLE the RFC
 *   only implies it (the locator is recorded as Lp(peer)).
 */
import { bytesEqual } from '../wire/bytes.js';
import type { ControlMessage, I1Message, I2bisMessage, I2Message, R1bisMessage, R1Message, R2Message } from '../wire/control.js';
import { makeErrorMessage } from '../wire/messages/error.js';
import { acceptPeerLocators, hasAddress, sameAddresses, localLocatorOptions, readOptions, sourceAccepted, type MessageOptions } from './locators.js';
import { i1Message, i2bisMessage, i2Message, r1Message, r2Message } from './messages.js';
import { timerMessageSent, timerResent, timerRetransmitted, TRIGGERED_RESEND_MIN_MS } from './timers.js';
import { ContextState, DropReason, type ContextAction, type ContextEnv, type ReceivedControl, type ShimContext, type StepResult } from './types.js';

export function sendAction(src: Uint8Array, dst: Uint8Array, message: ControlMessage): ContextAction {
  return { kind: 'send', src, dst, message };
}

export function dropped(ctx: ShimContext, drop: DropReason, actions: readonly ContextAction[] = []): StepResult {
  return { ctx, actions, drop };
}

/** Builds (and signs, once per generation) the options that carry Ls(local). */
export function withLocalOptions(ctx: ShimContext, env: ContextEnv): ShimContext | undefined {
  if (ctx.localOptions !== undefined) return ctx;
  const identity = env.identity(ctx.ulidLocal);
  if (identity === undefined) return undefined;
  return { ...ctx, localOptions: localLocatorOptions(identity, ctx.lsLocal, ctx.prefsLocal, ctx.genLocal, env) };
}

/** A fresh INIT Nonce: unique among the host's pending nonces when the engine can tell (R1/R2 are matched by it, §12.4). */
function initNonceFor(env: ContextEnv): number {
  return env.allocateInitNonce?.() ?? env.randomU32();
}

/** IDLE + heuristic or API: allocate CT(local), send I1, move to I1-SENT (§7.7). */
export function startI1(ctx: ShimContext, now: number, env: ContextEnv): StepResult {
  const identity = env.identity(ctx.ulidLocal);
  if (identity === undefined) return dropped(ctx, DropReason.NoIdentity);
  const next: ShimContext = {
    ...ctx,
    state: ContextState.I1_SENT,
    ctLocal: ctx.state === ContextState.IDLE || ctx.ctLocal < 0 ? env.allocateTag() : ctx.ctLocal,
    ctPeer: undefined,
    ctR1bis: undefined,
    respNonce: undefined,
    validator: undefined,
    initNonce: initNonceFor(env),
    initiator: true,
    retransmit: timerMessageSent(now, env.config.i1TimeoutMs, env),
    update: undefined,
    holdUntil: undefined,
    lastActivity: now,
  };
  return { ctx: next, actions: [sendAction(next.lpLocal, next.lpPeer, i1Message(next))] };
}

/** I1-SENT timeout: retransmit with backoff, or after I1_RETRIES_MAX go to E-FAILED (§7.8). */
function i1Timeout(ctx: ShimContext, now: number, env: ContextEnv): StepResult {
  const t = ctx.retransmit!;
  if (t.count >= env.config.i1RetriesMax) {
    const next: ShimContext = { ...ctx, state: ContextState.E_FAILED, retransmit: undefined, holdUntil: now + env.config.noR1HolddownMs };
    return { ctx: next, actions: [{ kind: 'notify', event: 'e-failed', ctx: next, detail: `no R1 after ${t.count} retransmissions` }] };
  }
  const next: ShimContext = { ...ctx, retransmit: timerRetransmitted(t, now, env) };
  return { ctx: next, actions: [sendAction(next.lpLocal, next.lpPeer, i1Message(next))] };
}

/** I2-SENT / I2BIS-SENT timeout: retransmit, or after the retry limit fall back to I1 (§7.12, §7.19). */
function i2Timeout(ctx: ShimContext, now: number, env: ContextEnv): StepResult {
  const t = ctx.retransmit!;
  const bis = ctx.state === ContextState.I2BIS_SENT;
  const max = bis ? env.config.i2bisRetriesMax : env.config.i2RetriesMax;
  if (t.count >= max) return startI1({ ...ctx, state: ContextState.I1_SENT }, now, env);
  const next: ShimContext = { ...ctx, retransmit: timerRetransmitted(t, now, env) };
  return { ctx: next, actions: [sendAction(next.lpLocal, next.lpPeer, bis ? i2bisMessage(next) : i2Message(next))] };
}

export function establishmentTimeout(ctx: ShimContext, now: number, env: ContextEnv): StepResult | undefined {
  if (ctx.retransmit === undefined || now < ctx.retransmit.deadline) return undefined;
  switch (ctx.state) {
    case ContextState.I1_SENT: return i1Timeout(ctx, now, env);
    case ContextState.I2_SENT:
    case ContextState.I2BIS_SENT: return i2Timeout(ctx, now, env);
    default: return undefined;
  }
}

/**
 * Appendix B: payload or a control message for CT(local) in I2-SENT / I2BIS-SENT means
 * the peer is ESTABLISHED and the R2 was lost: send the I2 (I2bis) again, at most once per
 * TRIGGERED_RESEND_MIN_MS. Returns undefined in other STATEs.
 */
export function triggeredResend(ctx: ShimContext, now: number): StepResult | undefined {
  if (ctx.state !== ContextState.I2_SENT && ctx.state !== ContextState.I2BIS_SENT) return undefined;
  const t = ctx.retransmit;
  if (t === undefined || now - t.sentAt < TRIGGERED_RESEND_MIN_MS) return { ctx, actions: [] };
  const next: ShimContext = { ...ctx, retransmit: timerResent(t, now), lastActivity: now };
  const message = ctx.state === ContextState.I2_SENT ? i2Message(next) : i2bisMessage(next);
  return { ctx: next, actions: [sendAction(next.lpLocal, next.lpPeer, message)] };
}

/** An R1 answering `i1` (§7.10): stateless, from the I1's destination to its source. */
function replyR1(ctx: ShimContext, rx: ReceivedControl, i1: I1Message, opts: MessageOptions, now: number, env: ContextEnv): ContextAction {
  const { responderNonce, validator } = env.validators.r1(now, {
    initiatorContextTag: i1.initiatorContextTag,
    ulidInitiator: ctx.ulidPeer,
    ulidResponder: ctx.ulidLocal,
    locInitiator: rx.src,
    locResponder: rx.dst,
    fii: opts.fii,
  });
  return sendAction(rx.dst, rx.src, r1Message(i1.initiatorNonce, responderNonce, validator));
}

/** An R2 (§7.14) with CT(local) and Ls(local), copying `initiatorNonce`, from the request's destination to its source. */
function replyR2(ctx: ShimContext, rx: ReceivedControl, initiatorNonce: number): ContextAction {
  return sendAction(rx.dst, rx.src, r2Message(ctx, initiatorNonce));
}

/** Receiving I1 (§7.9, Appendix B). The engine delivers it by ULID pair and FII. */
export function receiveI1(ctx: ShimContext, rx: ReceivedControl, now: number, env: ContextEnv): StepResult {
  const i1 = rx.message as I1Message;
  const opts = readOptions(i1.options);
  switch (ctx.state) {
    case ContextState.IDLE:
    case ContextState.E_FAILED:
    case ContextState.NO_SUPPORT:
      return { ctx, actions: [replyR1(ctx, rx, i1, opts, now, env)] };
    case ContextState.ESTABLISHED: {
      const inSets = opts.ulidPair === undefined || hasAddress(ctx.lsPeer, rx.src) || bytesEqual(rx.src, ctx.ulidPeer);
      if (inSets && i1.initiatorContextTag === ctx.ctPeer) {
        // The R2 was lost and this I1 is a retransmission.
        const c = withLocalOptions(ctx, env);
        if (c === undefined) return dropped(ctx, DropReason.NoIdentity);
        return { ctx: { ...c, lastActivity: now }, actions: [replyR2(c, rx, i1.initiatorNonce)] };
      }
      // The peer lost the context and starts again (§7.5 Figure 7): R1, STATE unchanged.
      return { ctx, actions: [replyR1(ctx, rx, i1, opts, now, env)] };
    }
    default: {
      // Crossing I1s (§7.4): R2, CT(peer) unchanged.
      const c = withLocalOptions(ctx, env);
      if (c === undefined) return dropped(ctx, DropReason.NoIdentity);
      return { ctx: { ...c, lastActivity: now }, actions: [replyR2(c, rx, i1.initiatorNonce)] };
    }
  }
}

/** Receiving R1 (§7.11): the engine delivers it by INIT Nonce and locators; only I1-SENT answers with I2. */
export function receiveR1(ctx: ShimContext, rx: ReceivedControl, now: number, env: ContextEnv): StepResult {
  if (ctx.state !== ContextState.I1_SENT) return dropped(ctx, DropReason.NotForState);
  const r1 = rx.message as R1Message;
  if (r1.initiatorNonce !== ctx.initNonce) return dropped(ctx, DropReason.NonceMismatch);
  const opts = readOptions(r1.options);
  if (opts.validator === undefined) return dropped(ctx, DropReason.BadValidator);
  const c = withLocalOptions({ ...ctx, respNonce: r1.responderNonce, validator: opts.validator }, env);
  if (c === undefined) return dropped(ctx, DropReason.NoIdentity);
  const next: ShimContext = { ...c, state: ContextState.I2_SENT, retransmit: timerMessageSent(now, env.config.i2TimeoutMs, env), lastActivity: now };
  return { ctx: next, actions: [sendAction(next.lpLocal, next.lpPeer, i2Message(next))] };
}

function established(ctx: ShimContext, from: ShimContext['state']): ContextAction {
  return { kind: 'notify', event: from === ContextState.I2BIS_SENT ? 'recovered' : 'established', ctx, detail: `from ${from}` };
}

/** Receiving R2 (§7.16): the engine delivers it by INIT Nonce and Lp(peer), Lp(local). */
export function receiveR2(ctx: ShimContext, rx: ReceivedControl, now: number, env: ContextEnv): StepResult {
  if (ctx.state !== ContextState.I1_SENT && ctx.state !== ContextState.I2_SENT && ctx.state !== ContextState.I2BIS_SENT) return dropped(ctx, DropReason.NotForState);
  const r2 = rx.message as R2Message;
  if (r2.initiatorNonce !== ctx.initNonce) return dropped(ctx, DropReason.NonceMismatch);
  const opts = readOptions(r2.options);
  const acc = acceptPeerLocators(r2, opts, rx.shimOffset, ctx.ulidPeer, ctx.pdsPeer, env);
  if (!acc.ok) return dropped(ctx, acc.drop, errorActions(rx, acc.error, env));
  const lsPeer = acc.lsPeer ?? ctx.lsPeer;
  const next: ShimContext = {
    ...ctx,
    state: ContextState.ESTABLISHED,
    ctPeer: r2.responderContextTag,
    lsPeer,
    lpPeer: keptLpPeer(ctx, acc.lsPeer),
    genPeer: acc.generation ?? ctx.genPeer,
    pdsPeer: acc.pds,
    retransmit: undefined,
    respNonce: undefined,
    validator: undefined,
    ctR1bis: undefined,
    establishedAt: ctx.establishedAt ?? now,
    lastActivity: now,
  };
  return { ctx: next, actions: [established(next, ctx.state)] };
}

/**
 * Lp(peer) once an R2, I2 or I2bis brings a new Ls(peer) (§7.13, §7.16, §7.20): kept
 * while the new list still holds it, else back to ULID(peer) until REAP picks a pair,
 * as for an Update Request (update.ts, §10.4): a withdrawn locator is no destination.
 * Without a list in the message, Lp(peer) stays.
 */
function keptLpPeer(ctx: ShimContext, newList: ShimContext['lsPeer'] | undefined): Uint8Array {
  return newList === undefined || hasAddress(newList, ctx.lpPeer) ? ctx.lpPeer : ctx.ulidPeer;
}

/** Error Message actions for a locator verification failure, when the policy sends them (§7.2 SHOULD). */
export function errorActions(rx: ReceivedControl, error: { readonly code: number; readonly pointer: number } | undefined, env: ContextEnv): ContextAction[] {
  if (error === undefined || !env.policy.sendErrors) return [];
  return [sendAction(rx.dst, rx.src, makeErrorMessage(error.code, error.pointer, rx.packet))];
}

/**
 * Receiving I2 (§7.13) or I2bis (§7.20): validator first (silent discard), then the
 * structure and the locator list, then by STATE. IDLE, E-FAILED and NO-SUPPORT create the
 * context in ESTABLISHED with a fresh CT(local); I1-SENT moves to ESTABLISHED; the other
 * STATEs update CT(peer) and Ls(peer) and stay. Every case sends R2.
 */
export function receiveI2(ctx: ShimContext, rx: ReceivedControl, now: number, env: ContextEnv): StepResult {
  const m = rx.message as I2Message | I2bisMessage;
  const opts = readOptions(m.options);
  if (opts.validator === undefined) return dropped(ctx, DropReason.BadValidator);
  const check = m.kind === 'I2'
    ? env.validators.checkI2(now, m.responderNonce, opts.validator, {
        initiatorContextTag: m.initiatorContextTag,
        ulidInitiator: ctx.ulidPeer,
        ulidResponder: ctx.ulidLocal,
        locInitiator: rx.src,
        locResponder: rx.dst,
        fii: opts.fii,
      })
    : env.validators.checkI2bis(now, m.responderNonce, opts.validator, { packetContextTag: m.packetContextTag, locInitiator: rx.src, locResponder: rx.dst });
  if (check === 'stale') return dropped(ctx, DropReason.StaleValidator);
  if (check === 'mismatch') return dropped(ctx, DropReason.BadValidator);
  const acc = acceptPeerLocators(m, opts, rx.shimOffset, ctx.ulidPeer, ctx.pdsPeer, env);
  if (!acc.ok) return dropped(ctx, acc.drop, errorActions(rx, acc.error, env));

  const fresh = ctx.state === ContextState.IDLE || ctx.state === ContextState.E_FAILED || ctx.state === ContextState.NO_SUPPORT;
  const lsPeer = acc.lsPeer ?? ctx.lsPeer;
  if (!sourceAccepted(rx.src, ctx.ulidPeer, fresh ? [] : ctx.lsPeer, acc.lsPeer)) return dropped(ctx, DropReason.SourceNotVerified);

  const identity = env.identity(ctx.ulidLocal);
  if (identity === undefined) return dropped(ctx, DropReason.NoIdentity);
  let next: ShimContext = {
    ...ctx,
    ctPeer: m.initiatorContextTag,
    lsPeer,
    lpPeer: keptLpPeer(ctx, acc.lsPeer),
    genPeer: acc.generation ?? ctx.genPeer,
    pdsPeer: acc.pds,
    lastActivity: now,
  };
  if (fresh) {
    next = {
      ...next,
      state: ContextState.ESTABLISHED,
      ctLocal: env.allocateTag(),
      initiator: false,
      lpLocal: hasAddress(identity.locators, rx.dst) ? rx.dst : ctx.ulidLocal,
      lpPeer: rx.src,
      retransmit: undefined,
      holdUntil: undefined,
      establishedAt: now,
      createdAt: now,
    };
  } else if (ctx.state === ContextState.I1_SENT) {
    next = { ...next, state: ContextState.ESTABLISHED, retransmit: undefined, establishedAt: ctx.establishedAt ?? now };
  }
  const c = withLocalOptions(next, env)!;
  const actions: ContextAction[] = [replyR2(c, rx, m.initiatorNonce)];
  if (c.state === ContextState.ESTABLISHED && ctx.state !== ContextState.ESTABLISHED) actions.push(established(c, ctx.state));
  else if (c.ctPeer !== ctx.ctPeer || acc.lsPeer !== undefined && !sameAddresses(acc.lsPeer, ctx.lsPeer)) {
    actions.push({ kind: 'notify', event: 'peer-locators-changed', ctx: c, detail: `${m.kind} in ${ctx.state}` });
  }
  return { ctx: c, actions };
}

/** Receiving R1bis (§7.18): delivered by CT(peer) and Lp; only ESTABLISHED answers, with I2bis. */
export function receiveR1bis(ctx: ShimContext, rx: ReceivedControl, now: number, env: ContextEnv): StepResult {
  if (ctx.state !== ContextState.ESTABLISHED) return dropped(ctx, DropReason.NotForState);
  const m = rx.message as R1bisMessage;
  if (m.packetContextTag !== ctx.ctPeer) return dropped(ctx, DropReason.LocatorMismatch);
  const opts = readOptions(m.options);
  if (opts.validator === undefined) return dropped(ctx, DropReason.BadValidator);
  const c = withLocalOptions(ctx, env);
  if (c === undefined) return dropped(ctx, DropReason.NoIdentity);
  // The I2bis goes to the locator pair of the R1bis, which the engine matched to Lp.
  const next: ShimContext = {
    ...c,
    state: ContextState.I2BIS_SENT,
    respNonce: m.responderNonce,
    validator: opts.validator,
    ctR1bis: m.packetContextTag,
    initNonce: initNonceFor(env),
    retransmit: timerMessageSent(now, env.config.i2bisTimeoutMs, env),
    lastActivity: now,
  };
  return { ctx: next, actions: [sendAction(next.lpLocal, next.lpPeer, i2bisMessage(next))] };
}

/** ICMPv6 Unrecognized Next Header about our I1 (§7.8): NO-SUPPORT for ICMP_HOLDDOWN_TIME. */
export function receiveIcmpNoSupport(ctx: ShimContext, now: number, env: ContextEnv): StepResult {
  if (ctx.state !== ContextState.I1_SENT) return dropped(ctx, DropReason.NotForState);
  const next: ShimContext = { ...ctx, state: ContextState.NO_SUPPORT, retransmit: undefined, holdUntil: now + env.config.icmpHolddownMs };
  return { ctx: next, actions: [{ kind: 'notify', event: 'no-support', ctx: next, detail: 'ICMPv6 Unrecognized Next Header for our I1' }] };
}
