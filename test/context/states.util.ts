/**
 * Ways to bring a pair of hosts into each STATE of RFC 5533 §6.2 with real messages
 * (the figures of §7.3-7.5), plus builders for the control messages a test sends by
 * hand. Every builder starts at `T0` and returns the pair and the steps it took.
 */
import { expect } from 'vitest';
import type { ContextConfig } from '../../src/context/constants.js';
import type { ContextInput, ContextPolicy, ShimContext, StepResult } from '../../src/context/types.js';
import type { KeepaliveMessage, UpdateAckMessage, UpdateRequestMessage } from '../../src/wire/control.js';
import type { Option } from '../../src/wire/options/index.js';
import { engineR1bis, establish, hostA, hostB, pair, type EnvOptions, type Pair, type SendAction, type TestIdentity } from './env.util.js';

/** Start of every scenario, far enough from 0 that the validators' counter has a past. */
export const T0 = 1_000_000;

export interface ScenarioOptions {
  readonly x?: TestIdentity;
  readonly y?: TestIdentity;
  readonly config?: Partial<ContextConfig>;
  readonly policy?: Partial<ContextPolicy>;
}

function pairOf(o: ScenarioOptions): Pair {
  const env: EnvOptions = { ...(o.config ? { config: o.config } : {}), ...(o.policy ? { policy: o.policy } : {}) };
  return pair(o.x ?? hostA, o.y ?? hostB, { a: env, b: env });
}

/** `a` sent I1 at T0. */
export function inI1Sent(o: ScenarioOptions = {}): { readonly p: Pair; readonly i1: StepResult } {
  const p = pairOf(o);
  const i1 = p.a.drive({ kind: 'establish' }, T0);
  expect(p.a.ctx.state).toBe('I1-SENT');
  return { p, i1 };
}

/** `a` sent I1 at T0, `b` answered R1 at T0+10, `a` sent I2 at T0+20 (not yet delivered). */
export function inI2Sent(o: ScenarioOptions = {}): { readonly p: Pair; readonly i1: StepResult; readonly r1: StepResult; readonly i2: StepResult } {
  const { p, i1 } = inI1Sent(o);
  const [r1] = p.b.receive(i1, T0 + 10);
  const [i2] = p.a.receive(r1!, T0 + 20);
  expect(p.a.ctx.state).toBe('I2-SENT');
  return { p, i1, r1: r1!, i2: i2! };
}

/** The 4-way exchange from T0 (§7.3): both ESTABLISHED at T0+40. */
export function inEstablished(o: ScenarioOptions = {}): { readonly p: Pair } & ReturnType<typeof establish> {
  const p = pairOf(o);
  return { p, ...establish(p, T0) };
}

/**
 * Figure 6: both ESTABLISHED, then `b` loses its context; `a`'s next payload packet at
 * `t` makes `b`'s engine answer R1bis, and `a` moves to I2BIS-SENT at t+10.
 */
export function inI2bisSent(o: ScenarioOptions = {}): { readonly p: Pair; readonly oldCtPeer: number; readonly r1bis: SendAction; readonly i2bis: StepResult; readonly t: number } {
  const { p } = inEstablished(o);
  const t = T0 + 1_000;
  p.b.lose(p.a.identity, t - 500);
  const oldCtPeer = p.a.ctx.ctPeer!;
  const r1bis = engineR1bis(p.b.env, oldCtPeer, p.a.ctx.lpLocal, p.a.ctx.lpPeer, t);
  const [i2bis] = p.a.receive([r1bis], t + 10);
  expect(p.a.ctx.state).toBe('I2BIS-SENT');
  return { p, oldCtPeer, r1bis, i2bis: i2bis!, t: t + 10 };
}

/** `a` sent I1 at T0 and four retransmissions, all lost: E-FAILED at the returned time. */
export function inEFailed(o: ScenarioOptions = {}): { readonly p: Pair; readonly t: number } {
  const { p } = inI1Sent(o);
  let t = T0;
  for (let i = 0; i <= p.a.env.config.i1RetriesMax; i++) {
    t = p.a.ctx.retransmit!.deadline;
    p.a.drive({ kind: 'timeout' }, t);
  }
  expect(p.a.ctx.state).toBe('E-FAILED');
  return { p, t };
}

/** `a` sent I1 at T0; an ICMPv6 Unrecognized Next Header about it came back at T0+5. */
export function inNoSupport(o: ScenarioOptions = {}): { readonly p: Pair; readonly t: number } {
  const { p } = inI1Sent(o);
  p.a.drive({ kind: 'icmp-no-support' }, T0 + 5);
  expect(p.a.ctx.state).toBe('NO-SUPPORT');
  return { p, t: T0 + 5 };
}

// ---------------------------------------------------------------------------------------
// Messages by hand
// ---------------------------------------------------------------------------------------

const HEAD = { nextHeader: 59, reserved1: 0, r: 0 } as const;

export function keepalive(receiverContextTag: number): KeepaliveMessage {
  return { kind: 'Keepalive', ...HEAD, receiverContextTag, reserved2: 0, options: [] };
}

export function updateRequest(receiverContextTag: number, requestNonce: number, options: readonly Option[]): UpdateRequestMessage {
  return { kind: 'UpdateRequest', ...HEAD, receiverContextTag, requestNonce, options };
}

export function updateAck(receiverContextTag: number, requestNonce: number): UpdateAckMessage {
  return { kind: 'UpdateAck', ...HEAD, receiverContextTag, requestNonce, options: [] };
}

/** A payload packet from the peer's current locator to ours. */
export function payloadFor(ctx: ShimContext): ContextInput {
  return { kind: 'payload', src: ctx.lpPeer, dst: ctx.lpLocal };
}

/** Asserts a "discard and stay" cell: the very same context, nothing to do, and why. */
export function expectDiscarded(r: StepResult, before: ShimContext, reason: string): void {
  expect(r.ctx).toBe(before);
  expect(r.actions).toEqual([]);
  expect(r.drop).toBe(reason);
}
