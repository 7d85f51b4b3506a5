/**
 * REAP on a Shim6 context: how the RFC 5533 machine (machine.ts) feeds REAP (src/reap/)
 * its events and turns REAP's actions into messages and a new current pair.
 *
 * - REAP runs in ESTABLISHED only (RFC 5534 §4.2: "the exploration process can typically
 *   be run only for a session that has already been established"). It starts Operational
 *   with no timer running when the context is established; in I2BIS-SENT it is kept but
 *   paused; in any other STATE it is dropped.
 * - Received Update Requests and Acknowledgements count as payload received, and sent
 *   ones as payload sent (§4.1 item 2: "payload packet" includes Shim6 messages other
 *   than REAP's). Keepalive and Probe go to their own cells (§6.6-6.9).
 * - The Keepalive Timeout option (§5.3) is read from accepted I2, I2bis, R2 and Update
 *   Requests, and ours is added to the same messages when our Send Timeout is not the
 *   default, with the experimental millisecond option beside it for sub-second values.
 * - A `switch-pair` from REAP is applied only if Lp(local) is in Ls(local) and Lp(peer) a
 *   verified member of Ls(peer) (the same check as the operator's `switch-pair`).
 */
import { bytesEqual, readU32, writeU32 } from '../wire/bytes.js';
import { LocatorFlag, NO_NXT_HDR, ProbeState } from '../wire/constants.js';
import type { KeepaliveMessage, ProbeMessage } from '../wire/control.js';
import type { Option } from '../wire/options/index.js';
import { hasAddress } from './locators.js';
import { CARRIES_ADVERTISEMENTS, carriesAdvertisements, withAdvertisements } from './messages.js';
import { ContextState, type ContextAction, type ContextEnv, type ContextInput, type ShimContext, type StepResult } from './types.js';
import { KEEPALIVE_TIMEOUT_MS_OPTION_TYPE, SEND_TIMEOUT_MS, type ReapConfig } from '../reap/constants.js';
import { advertisedSeconds, initialReap, reapDeadline, reapIgnores, reapStep } from '../reap/machine.js';
import { ReapState, type ReapAction, type ReapEnv, type ReapEvent } from '../reap/types.js';

type EnvWithReap = ContextEnv & { readonly reap: ReapConfig };

/** REAP runs (profile `rfc` or `fast`); with `off` contexts carry no REAP state at all. */
function active(env: ContextEnv): env is EnvWithReap {
  return env.reap !== undefined && env.reap.mode !== 'off';
}

const WIRE_STATE: Record<ReapState, ProbeState> = {
  [ReapState.OPERATIONAL]: ProbeState.Operational,
  [ReapState.EXPLORING]: ProbeState.Exploring,
  [ReapState.INBOUND_OK]: ProbeState.InboundOk,
};

/** The REAP deadline of a context (ESTABLISHED only), or undefined. */
export function contextReapDeadline(ctx: ShimContext, env: Pick<ContextEnv, 'reap'>): number | undefined {
  if (ctx.state !== ContextState.ESTABLISHED || ctx.reap === undefined || env.reap === undefined) return undefined;
  return reapDeadline(ctx.reap, env.reap);
}

/** Keepalive Timeout options for our I2, I2bis, R2 and Update Requests (§5.3), or none. */
export function keepaliveTimeoutOptions(cfg: ReapConfig): Option[] {
  if (cfg.mode === 'off' || cfg.sendTimeoutMs === SEND_TIMEOUT_MS) return [];
  const out: Option[] = [{ kind: 'KeepaliveTimeout', critical: false, reserved: 0, keepaliveTimeoutSeconds: advertisedSeconds(cfg) }];
  if (cfg.sendTimeoutMs % 1000 !== 0) {
    const contents = new Uint8Array(4);
    writeU32(contents, 0, cfg.sendTimeoutMs);
    out.push({ kind: 'Unknown', type: KEEPALIVE_TIMEOUT_MS_OPTION_TYPE, critical: false, contents });
  }
  return out;
}

/** The peer's Keepalive Timeout from a message's options: milliseconds and whether it came in the fine option. */
export function readKeepaliveTimeout(options: readonly Option[]): { readonly ms: number; readonly fine: boolean } | undefined {
  let seconds: number | undefined;
  for (const o of options) {
    if (o.kind === 'Unknown' && o.type === KEEPALIVE_TIMEOUT_MS_OPTION_TYPE && o.contents.length === 4) {
      const ms = readU32(o.contents, 0);
      if (ms >= 1) return { ms, fine: true };
    }
    if (o.kind === 'KeepaliveTimeout') seconds = o.keepaliveTimeoutSeconds;
  }
  // A zero value would make us send Keepalives without pause: ignore it.
  return seconds === undefined || seconds === 0 ? undefined : { ms: seconds * 1000, fine: false };
}


function keepaliveMessage(ctx: ShimContext): KeepaliveMessage {
  return { kind: 'Keepalive', nextHeader: NO_NXT_HDR, reserved1: 0, r: 0, receiverContextTag: ctx.ctPeer ?? 0, reserved2: 0, options: [] };
}

function probeMessage(ctx: ShimContext, a: Extract<ReapAction, { kind: 'send-probe' }>): ProbeMessage {
  return { kind: 'Probe', nextHeader: NO_NXT_HDR, reserved1: 0, r: 0, receiverContextTag: ctx.ctPeer ?? 0, state: WIRE_STATE[a.state], reserved2: 0, sent: a.sent, received: a.received, options: [] };
}

/** Applies REAP's actions to the context: messages, the new current pair, notifications. */
function applyReap(ctx: ShimContext, reap: ShimContext['reap'], actions: readonly ReapAction[]): { ctx: ShimContext; actions: ContextAction[] } {
  let next = reap === ctx.reap ? ctx : { ...ctx, reap };
  for (const a of actions) {
    if (a.kind !== 'switch-pair') continue;
    const localOk = bytesEqual(a.pair.local, next.ulidLocal) || hasAddress(next.lsLocal, a.pair.local);
    const peerOk = bytesEqual(a.pair.peer, next.ulidPeer) || next.lsPeer.some((l) => l.verified && bytesEqual(l.address, a.pair.peer));
    if (localOk && peerOk) next = { ...next, lpLocal: a.pair.local, lpPeer: a.pair.peer };
  }
  const out: ContextAction[] = [];
  for (const a of actions) {
    switch (a.kind) {
      case 'send-keepalive':
        out.push({ kind: 'send', src: next.lpLocal, dst: next.lpPeer, message: keepaliveMessage(next) });
        break;
      case 'send-probe':
        out.push({ kind: 'send', src: a.src, dst: a.dst, message: probeMessage(next, a) });
        break;
      case 'notify':
        out.push({ kind: 'notify', event: a.event, ctx: next, detail: a.detail });
        break;
      case 'switch-pair':
        break;
    }
  }
  return { ctx: next, actions: out };
}

/** Runs one REAP event on an ESTABLISHED context; the same context and no actions when REAP ignores it. */
function run(ctx: ShimContext, event: ReapEvent, now: number, env: EnvWithReap, out: ContextAction[]): ShimContext {
  if (ctx.state !== ContextState.ESTABLISHED || ctx.reap === undefined || reapIgnores(ctx.reap, event)) return ctx;
  const r = reapStep(ctx.reap, ctx, event, now, env as ReapEnv);
  if (r.reap === ctx.reap && r.actions.length === 0) return ctx;
  const applied = applyReap(ctx, r.reap, r.actions);
  out.push(...applied.actions);
  return applied.ctx;
}

/** REAP events implied by a context input that the RFC 5533 machine has just processed. */
function eventsOf(before: ShimContext, after: ShimContext, input: ContextInput, result: StepResult): ReapEvent[] {
  const events: ReapEvent[] = [];
  switch (input.kind) {
    case 'payload':
    case 'payload-received':
      events.push({ kind: 'payload-received' });
      break;
    case 'payload-sent':
      events.push({ kind: 'payload-sent' });
      break;
    case 'local-change':
      events.push({ kind: 'local-change' });
      break;
    case 'ulp-retransmit':
      events.push({ kind: 'ulp-retransmit' });
      break;
    case 'explore':
      events.push({ kind: 'explore' });
      break;
    case 'timeout':
      events.push({ kind: 'timeout' });
      break;
    case 'control': {
      const m = input.rx.message;
      if (m.kind === 'Keepalive') events.push({ kind: 'keepalive-received' });
      else if (m.kind === 'Probe') events.push({ kind: 'probe-received', src: input.rx.src, dst: input.rx.dst, probe: m });
      else if ((m.kind === 'UpdateRequest' || m.kind === 'UpdateAck') && result.drop === undefined) events.push({ kind: 'payload-received' });
      break;
    }
    default:
      break;
  }
  for (const a of result.actions) {
    if (a.kind === 'send' && (a.message.kind === 'UpdateRequest' || a.message.kind === 'UpdateAck')) {
      events.push({ kind: 'payload-sent' });
      break;
    }
  }
  // Ls(peer) changed and Lp(peer) was withdrawn or is now BROKEN (RFC 5533 §10.4 leaves the new pair to REAP).
  if (after.lsPeer !== before.lsPeer) {
    const broken = after.lsPeer.some((l) => bytesEqual(l.address, after.lpPeer) && (l.flags & LocatorFlag.BROKEN) !== 0);
    if (broken || !bytesEqual(before.lpPeer, after.lpPeer)) events.push({ kind: 'peer-locators', failed: { local: before.lpLocal, peer: before.lpPeer } });
  }
  return events;
}

/**
 * REAP's part of one context step: called by `step` (src/context/machine.ts) with the
 * context before and the RFC 5533 result after. Returns the result with REAP's state,
 * messages and pair change added.
 */
export function withReap(before: ShimContext, result: StepResult, input: ContextInput, now: number, env: ContextEnv): StepResult {
  if (!active(env)) return result;
  // Our Keepalive Timeout goes into every I2, I2bis, R2 and Update Request we send (§5.3), in any STATE.
  const kto = keepaliveTimeoutOptions(env.reap);
  const needsOption = kto.length > 0 && result.actions.some(carriesAdvertisements);
  const withOption = (list: readonly ContextAction[]): readonly ContextAction[] => (needsOption ? withAdvertisements(list, kto) : list);
  let ctx = result.ctx;
  if (ctx.state !== ContextState.ESTABLISHED) {
    const drop = ctx.reap !== undefined && ctx.state !== ContextState.I2BIS_SENT;
    if (!drop && !needsOption) return result;
    return { ...result, ctx: drop ? { ...ctx, reap: undefined } : ctx, actions: withOption(result.actions) };
  }
  const out: ContextAction[] = [];
  const fresh = ctx.reap === undefined;
  if (fresh) ctx = { ...ctx, reap: initialReap(ctx, now, env as ReapEnv) };
  const m = input.kind === 'control' ? input.rx.message : undefined;
  if (m !== undefined && m.kind !== 'Error' && result.drop === undefined && CARRIES_ADVERTISEMENTS.has(m.kind)) {
    const kt = readKeepaliveTimeout(m.options);
    if (kt !== undefined) ctx = run(ctx, { kind: 'keepalive-timeout', ms: kt.ms, fine: kt.fine }, now, env, out);
  }
  // A context established by this very input starts with no timer running.
  if (!fresh) {
    for (const e of eventsOf(before, ctx, input, result)) ctx = run(ctx, e, now, env, out);
  }
  if (ctx === result.ctx && out.length === 0 && !needsOption) return result;
  return { ...result, ctx, actions: out.length === 0 ? withOption(result.actions) : [...withOption(result.actions), ...out] };
}
