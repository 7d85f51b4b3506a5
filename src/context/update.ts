/**
 * Updating the peer (RFC 5533 §10): sending Update Requests when Ls(local) or its
 * preferences change, retransmitting them forever with backoff capped at
 * MAX_UPDATE_TIMEOUT, abandoning an outstanding request for a newer one (§10.3), and
 * receiving Update Requests and Acknowledgements (§10.4, §10.5) with the Error Message
 * codes 2, 3 and 4. Also the handling of received Error Messages (§5.14) about messages
 * this context sent.
 *
 * What Lp(peer) becomes when the peer withdraws or marks it BROKEN is REAP's decision
 * (§10.4 last paragraph, RFC 5534); until REAP runs, a withdrawn Lp(peer) or Lp(local)
 * falls back to the ULID, which always belongs to the context.
 */
import { ErrorCode } from '../wire/constants.js';
import type { UpdateAckMessage, UpdateRequestMessage } from '../wire/control.js';
import type { Locator, LocatorPreference, Option } from '../wire/options/index.js';
import { dropped, errorActions, sendAction, withLocalOptions } from './establishment.js';
import { acceptPeerLocators, applyPreferences, hasAddress, sameAddresses, optionOffset, preferencesOption, readOptions } from './locators.js';
import { updateAckMessage, updateRequestMessage } from './messages.js';
import { timerMessageSent, timerRetransmitted } from './timers.js';
import { DropReason, type ContextAction, type ContextEnv, type ReceivedControl, type ShimContext, type StepResult } from './types.js';

function sameLocators(a: readonly Locator[], b: readonly Locator[]): boolean {
  return sameAddresses(a, b) && a.every((l, i) => l.verificationMethod === b[i]!.verificationMethod);
}

function samePreferences(a: readonly LocatorPreference[] | undefined, b: readonly LocatorPreference[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((p, i) => p.flags === b[i]!.flags && p.priority === b[i]!.priority && p.weight === b[i]!.weight);
}

/**
 * Ls(local) or its preferences changed (§10.1). A new list gets a new random generation
 * and is sent with its structure and signature; a preference change alone is sent with
 * the current generation. An outstanding request is abandoned and its unacknowledged
 * content folded into the new one (§10.3), which here means: send the full list.
 */
export function localLocatorsChanged(ctx: ShimContext, locators: readonly Locator[], preferences: readonly LocatorPreference[] | undefined, now: number, env: ContextEnv, established: boolean): StepResult {
  const listChanged = !sameLocators(ctx.lsLocal, locators);
  const prefsChanged = !samePreferences(ctx.prefsLocal, preferences);
  if (!listChanged && !prefsChanged) return { ctx, actions: [] };
  const fullList = listChanged || ctx.update !== undefined;
  let next: ShimContext = {
    ...ctx,
    lsLocal: locators,
    prefsLocal: preferences,
    genLocal: fullList ? env.randomU32() : ctx.genLocal,
    localOptions: fullList ? undefined : ctx.localOptions,
    lpLocal: hasAddress(locators, ctx.lpLocal) ? ctx.lpLocal : ctx.ulidLocal,
  };
  if (!established) {
    // I2-SENT (or I1-SENT after it): I2 retransmissions and triggered resends (§7.12,
    // Appendix B) reuse `localOptions`, so options already built must carry the new
    // Ls(local) and preferences (§7.11), not the old ones or none.
    if (ctx.localOptions === undefined) return { ctx: next, actions: [] };
    return { ctx: withLocalOptions({ ...next, localOptions: undefined }, env) ?? next, actions: [] };
  }
  let options: readonly Option[];
  if (fullList) {
    const c = withLocalOptions(next, env);
    if (c === undefined) return dropped(ctx, DropReason.NoIdentity);
    next = c;
    options = c.localOptions!;
  } else {
    options = preferences === undefined ? [] : [preferencesOption(preferences, next.genLocal)];
    // Rebuilt, not just cleared: I2bis retransmissions and triggered resends in I2BIS-SENT
    // reuse `localOptions` (§7.18: the I2bis carries the locator list).
    next = withLocalOptions({ ...next, localOptions: undefined }, env) ?? { ...next, localOptions: undefined };
  }
  const requestNonce = env.randomU32();
  next = { ...next, update: { requestNonce, options, timer: timerMessageSent(now, env.config.updateTimeoutMs, env) } };
  return { ctx: next, actions: [sendAction(next.lpLocal, next.lpPeer, updateRequestMessage(next, requestNonce, options))] };
}

/** Update retransmission timeout (§10.2): same nonce and options, backoff up to MAX_UPDATE_TIMEOUT, forever. */
export function updateTimeout(ctx: ShimContext, now: number, env: ContextEnv): StepResult | undefined {
  const u = ctx.update;
  if (u === undefined || now < u.timer.deadline) return undefined;
  const next: ShimContext = { ...ctx, update: { ...u, timer: timerRetransmitted(u.timer, now, env, env.config.maxUpdateTimeoutMs) } };
  return { ctx: next, actions: [sendAction(next.lpLocal, next.lpPeer, updateRequestMessage(next, u.requestNonce, u.options))] };
}

/**
 * Receiving an Update Request in ESTABLISHED or I2BIS-SENT (§10.4); the engine has
 * already checked CT(local) and that the addresses are in Ls(peer) and Ls(local).
 */
export function receiveUpdateRequest(ctx: ShimContext, rx: ReceivedControl, now: number, env: ContextEnv, prefix: readonly ContextAction[] = []): StepResult {
  const m = rx.message as UpdateRequestMessage;
  const opts = readOptions(m.options);
  const acc = acceptPeerLocators(m, opts, rx.shimOffset, ctx.ulidPeer, ctx.pdsPeer, env);
  if (!acc.ok) return dropped(ctx, acc.drop, [...prefix, ...errorActions(rx, acc.error, env)]);
  let lsPeer = acc.lsPeer ?? ctx.lsPeer;
  const genPeer = acc.generation ?? ctx.genPeer;
  const prefs = opts.preferences;
  if (prefs !== undefined) {
    const at = optionOffset(m, rx.shimOffset, opts.preferencesIndex);
    if (prefs.generation !== genPeer) {
      return dropped(ctx, DropReason.UpdateGeneration, [...prefix, ...errorActions(rx, { code: ErrorCode.LocatorListGenerationOutOfSync, pointer: at + 4 }, env)]);
    }
    if (prefs.elements.length !== lsPeer.length) {
      return dropped(ctx, DropReason.UpdateCount, [...prefix, ...errorActions(rx, { code: ErrorCode.LocatorCountMismatch, pointer: at + 2 }, env)]);
    }
    // A list in the same message already took these preferences (acceptPeerLocators).
    if (acc.lsPeer === undefined) lsPeer = applyPreferences(lsPeer, prefs.elements);
  }
  const lpPeer = hasAddress(lsPeer, ctx.lpPeer) ? ctx.lpPeer : ctx.ulidPeer;
  const next: ShimContext = { ...ctx, lsPeer, genPeer, pdsPeer: acc.pds, lpPeer, lastActivity: now };
  return {
    ctx: next,
    actions: [
      ...prefix,
      sendAction(rx.dst, rx.src, updateAckMessage(next, m.requestNonce)),
      { kind: 'notify', event: 'peer-locators-changed', ctx: next, detail: `Update Request ${opts.locatorList ? `generation ${opts.locatorList.generation}, ${lsPeer.length} locators` : 'preferences'}` },
    ],
  };
}

/** Receiving an Update Acknowledgement (§10.5): completes the request whose nonce it carries. */
export function receiveUpdateAck(ctx: ShimContext, rx: ReceivedControl, now: number, prefix: readonly ContextAction[] = []): StepResult {
  const m = rx.message as UpdateAckMessage;
  if (ctx.update === undefined || ctx.update.requestNonce !== m.requestNonce) return dropped(ctx, DropReason.StaleUpdateAck, prefix);
  const next: ShimContext = { ...ctx, update: undefined, lastActivity: now };
  return { ctx: next, actions: [...prefix, { kind: 'notify', event: 'update-acknowledged', ctx: next, detail: `nonce ${m.requestNonce}` }] };
}

/**
 * A Shim6 Error Message about a message this context sent (§5.14). Codes 3 and 4 mean the
 * peer's view of our list is out of sync: we resend the whole list in a new Update
 * Request. Code 2 (our list failed verification) and codes 0/1 about an Update Request
 * end that request: retransmitting it could never succeed.
 */
export function receiveError(ctx: ShimContext, errorCode: number, inErrorKind: string | undefined, now: number, env: ContextEnv): StepResult {
  const notify: ContextAction = { kind: 'notify', event: 'error-received', ctx, detail: `code ${errorCode} about ${inErrorKind ?? 'a payload packet'}` };
  if (errorCode === ErrorCode.LocatorListGenerationOutOfSync || errorCode === ErrorCode.LocatorCountMismatch) {
    const c = withLocalOptions({ ...ctx, genLocal: env.randomU32(), localOptions: undefined }, env);
    if (c === undefined) return dropped(ctx, DropReason.NoIdentity, [notify]);
    const requestNonce = env.randomU32();
    const next: ShimContext = { ...c, update: { requestNonce, options: c.localOptions!, timer: timerMessageSent(now, env.config.updateTimeoutMs, env) } };
    return { ctx: next, actions: [notify, sendAction(next.lpLocal, next.lpPeer, updateRequestMessage(next, requestNonce, c.localOptions!))] };
  }
  if (inErrorKind === 'UpdateRequest') return { ctx: { ...ctx, update: undefined }, actions: [notify] };
  return { ctx, actions: [notify] };
}
