/**
 * The context state machine in E-FAILED and NO-SUPPORT: one test per trigger cell of RFC 5533
 * Appendix B, with §7 (and §10.4-10.5, §12.2) where the text is more specific. See
 * machine.util.ts for the helpers and env.util.ts for the two-party wire.
 */
import { describe, expect, test } from 'vitest';
import { nextDeadline, step } from '../../src/context/machine.js';
import {
  control,
  engineR1bis,
  hostA,
  hostB,
  kinds,
  onlySend,
  received,
  sends,
} from './env.util.js';
import { expectDiscarded, inEFailed, inEstablished, inI2bisSent, inNoSupport, keepalive, payloadFor } from './states.util.js';
import { badValidator, NOT_FOR_STATE } from './machine.util.js';

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
