/**
 * Retransmission timers (RFC 5533 §7.8, §7.12, §7.19, §10.2, §14): binary exponential
 * backoff of a nominal timeout, then randomisation to 0.5-1.5 times the backed-off value
 * ("The randomization is applied after the binary exponential backoff"). Timers are data;
 * the functions are named after the protocol events that arm them (wireguard-go's
 * `timers.go`).
 */
import type { ContextEnv, Retransmit } from './types.js';

function jittered(nominalMs: number, env: ContextEnv): number {
  if (!env.config.jitter) return nominalMs;
  // Clamped to whole milliseconds inside [0.5, 1.5] × nominal: 0.5 + u rounds to exactly
  // 1.5 in floating point for u just under 1, and Math.round would then step past 1.5.
  const ms = Math.round(nominalMs * (0.5 + env.randomUnit()));
  return Math.min(Math.floor(1.5 * nominalMs), Math.max(Math.ceil(0.5 * nominalMs), ms));
}

/** A message was sent for the first time: wait one nominal timeout. */
export function timerMessageSent(now: number, nominalMs: number, env: ContextEnv): Retransmit {
  return { count: 0, timeoutMs: nominalMs, sentAt: now, deadline: now + jittered(nominalMs, env) };
}

/** The message was retransmitted after a timeout: double the nominal timeout, capped at `maxMs`. */
export function timerRetransmitted(t: Retransmit, now: number, env: ContextEnv, maxMs = Number.POSITIVE_INFINITY): Retransmit {
  const timeoutMs = Math.min(t.timeoutMs * 2, maxMs);
  return { count: t.count + 1, timeoutMs, sentAt: now, deadline: now + jittered(timeoutMs, env) };
}

/**
 * Appendix B: a payload packet or control message in I2-SENT (I2BIS-SENT) means the peer
 * is established and our R2 was lost, so the I2 (I2bis) is sent again. A burst of payload
 * must not become a burst of I2s: we resend at most once per this many milliseconds
 * (implementation constant).
 */
export const TRIGGERED_RESEND_MIN_MS = 1_000;

/** The same message was sent again outside the timer (a triggered resend): the timer keeps running. */
export function timerResent(t: Retransmit, now: number): Retransmit {
  return { ...t, sentAt: now };
}
