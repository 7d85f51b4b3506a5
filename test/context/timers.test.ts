/**
 * Retransmission timers (RFC 5533 §7.8, §7.12, §7.19, §10.2, §14): binary exponential
 * backoff, then randomisation to [0.5, 1.5] × the backed-off nominal value ("The
 * randomization is applied after the binary exponential backoff"), the MAX_UPDATE_TIMEOUT
 * cap, and triggered resends that leave the timer alone.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { resolveConfig } from '../../src/context/constants.js';
import { timerMessageSent, timerResent, timerRetransmitted } from '../../src/context/timers.js';
import type { ContextEnv } from '../../src/context/types.js';
import { makeEnv } from './env.util.js';

/** An environment whose `randomUnit` always returns `unit`. */
function envWith(jitter: boolean, unit = 0.5): ContextEnv {
  return { ...makeEnv([]), config: resolveConfig({ jitter }), randomUnit: () => unit };
}

describe('timers', () => {
  test('jitter off: the deadline is exactly the nominal timeout, doubled per retransmission', () => {
    const env = envWith(false, 0.99);
    const t0 = timerMessageSent(1_000, 4_000, env);
    expect(t0).toEqual({ count: 0, timeoutMs: 4_000, sentAt: 1_000, deadline: 5_000 });
    const t1 = timerRetransmitted(t0, 5_000, env);
    expect(t1).toEqual({ count: 1, timeoutMs: 8_000, sentAt: 5_000, deadline: 13_000 });
    expect(timerRetransmitted(t1, 13_000, env)).toEqual({ count: 2, timeoutMs: 16_000, sentAt: 13_000, deadline: 29_000 });
  });

  test('jitter on: the random factor is 0.5 + randomUnit(), applied after the backoff (§14)', () => {
    expect(timerMessageSent(0, 4_000, envWith(true, 0)).deadline).toBe(2_000);
    expect(timerMessageSent(0, 4_000, envWith(true, 0.5)).deadline).toBe(4_000);
    expect(timerMessageSent(0, 4_000, envWith(true, 0.999_999_9)).deadline).toBe(6_000);
    const t1 = timerRetransmitted(timerMessageSent(0, 4_000, envWith(true, 0)), 2_000, envWith(true, 0));
    expect(t1).toEqual({ count: 1, timeoutMs: 8_000, sentAt: 2_000, deadline: 6_000 });
  });

  test('the backoff stops at the cap (MAX_UPDATE_TIMEOUT for updates, §10.2); jitter applies to the capped value', () => {
    const env = envWith(false);
    let t = timerMessageSent(0, 4_000, env);
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      t = timerRetransmitted(t, t.deadline, env, 120_000);
      seen.push(t.timeoutMs);
    }
    expect(seen).toEqual([8_000, 16_000, 32_000, 64_000, 120_000, 120_000, 120_000, 120_000]);
    expect(t.count).toBe(8);
    const j = timerRetransmitted(t, 0, envWith(true, 0), 120_000);
    expect(j.deadline).toBe(60_000);
  });

  test('a triggered resend records the send time but keeps the count and the deadline', () => {
    const t = timerMessageSent(100, 4_000, envWith(false));
    expect(timerResent(t, 1_500)).toEqual({ count: 0, timeoutMs: 4_000, sentAt: 1_500, deadline: 4_100 });
  });

  test('the largest draw below 1 stays within 1.5 × the nominal (0.5 + u rounds to 1.5 in floating point)', () => {
    const u = 1 - 2 ** -53;
    expect(0.5 + u).toBe(1.5);
    const t = timerMessageSent(0, 1, envWith(true, u));
    expect(t.deadline).toBe(1);
  });

  test('property: every deadline lies in [0.5, 1.5] × the nominal (backed-off, capped) timeout', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 1_000_000 }), fc.nat(10), fc.nat(1e9), (u, nominal, retries, now) => {
        const env = envWith(true, u);
        let t = timerMessageSent(now, nominal, env);
        for (let i = 0; i < retries; i++) t = timerRetransmitted(t, t.deadline, env, 4 * nominal);
        expect(t.timeoutMs).toBe(Math.min(nominal * 2 ** retries, retries === 0 ? nominal : 4 * nominal));
        expect(t.deadline - t.sentAt).toBeGreaterThanOrEqual(0.5 * t.timeoutMs);
        expect(t.deadline - t.sentAt).toBeLessThanOrEqual(1.5 * t.timeoutMs);
      }),
    );
  });
});
