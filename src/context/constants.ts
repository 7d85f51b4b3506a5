/**
 * Protocol constants of RFC 5533 §14 kept apart from this implementation's own choices
 * (wireguard-go's split between `device/constants.go` and policy). Both are plain
 * numbers in milliseconds; `ContextConfig` lets an experiment or a test override any of
 * them, and `resolveConfig` fills the rest with these defaults.
 */

/** RFC 5533 §14, verbatim. */
export const I1_RETRIES_MAX = 4;
export const I1_TIMEOUT_MS = 4_000;
export const NO_R1_HOLDDOWN_TIME_MS = 60_000;
export const ICMP_HOLDDOWN_TIME_MS = 600_000;
export const I2_TIMEOUT_MS = 4_000;
export const I2_RETRIES_MAX = 2;
export const I2BIS_TIMEOUT_MS = 4_000;
export const I2BIS_RETRIES_MAX = 2;
export const VALIDATOR_MIN_LIFETIME_MS = 30_000;
export const UPDATE_TIMEOUT_MS = 4_000;
export const MAX_UPDATE_TIMEOUT_MS = 120_000;

/**
 * Implementation constants (not from the RFC).
 * - The Responder Nonce is a counter that ticks every `VALIDATOR_NONCE_PERIOD_MS`
 *   (§7.10.1); a nonce is "recent" while its age is at most VALIDATOR_MIN_LIFETIME plus
 *   one period, so a nonce handed out just before a tick still lives its full 30 s.
 * - The validator secret S rotates every `VALIDATOR_SECRET_LIFETIME_MS`; the previous
 *   secret is kept, which covers every recent nonce because the lifetime exceeds the
 *   acceptance window.
 * - `IDLE_TIMEOUT_MS`: §9 suggests not tearing down a context until at least 5 minutes
 *   after the last packet sent or received with it.
 * - Establishment heuristic: §4 suggests "more than 50 packets" or "a timer expiration
 *   while active packet exchange was in place".
 */
export const VALIDATOR_NONCE_PERIOD_MS = 5_000;
export const VALIDATOR_SECRET_LIFETIME_MS = 60_000;
export const VALIDATOR_SECRET_LEN = 32;
/** Validator length on the wire: HMAC-SHA-256 truncated to 128 bits. */
export const VALIDATOR_LEN = 16;
export const IDLE_TIMEOUT_MS = 300_000;
export const MAX_CONTEXTS = 1 << 17;
export const MAX_CONTEXTS_PER_PEER = 64;
export const ESTABLISH_AFTER_PACKETS = 50;
export const ESTABLISH_AFTER_ACTIVE_MS = 10_000;
/** Traffic statistics kept for ULID pairs without a context (for the heuristic); oldest dropped first. */
export const MAX_TRAFFIC_PAIRS = 65_536;
/** R1bis replies per second at most (the trigger is unauthenticated, so we must not be a reflector). */
export const R1BIS_RATE_PER_S = 100;
/** Error messages per second at most (RFC 5533 §5.14 asks for rate limiting like ICMP). */
export const ERROR_RATE_PER_S = 100;
/** Context Tag bits in use: 47 normally; Appendix C suggests fewer while testing recovery. */
export const CONTEXT_TAG_BITS = 47;

export interface ContextConfig {
  readonly i1RetriesMax: number;
  readonly i1TimeoutMs: number;
  readonly noR1HolddownMs: number;
  readonly icmpHolddownMs: number;
  readonly i2TimeoutMs: number;
  readonly i2RetriesMax: number;
  readonly i2bisTimeoutMs: number;
  readonly i2bisRetriesMax: number;
  readonly validatorMinLifetimeMs: number;
  readonly updateTimeoutMs: number;
  readonly maxUpdateTimeoutMs: number;
  readonly validatorNoncePeriodMs: number;
  readonly validatorSecretLifetimeMs: number;
  readonly idleTimeoutMs: number;
  readonly maxContexts: number;
  readonly maxContextsPerPeer: number;
  readonly maxTrafficPairs: number;
  readonly r1bisRatePerS: number;
  readonly errorRatePerS: number;
  readonly contextTagBits: number;
  /** Randomise retransmission timers by 0.5-1.5 (§14). Off only for exact-timing experiments. */
  readonly jitter: boolean;
}

export const DEFAULT_CONFIG: ContextConfig = {
  i1RetriesMax: I1_RETRIES_MAX,
  i1TimeoutMs: I1_TIMEOUT_MS,
  noR1HolddownMs: NO_R1_HOLDDOWN_TIME_MS,
  icmpHolddownMs: ICMP_HOLDDOWN_TIME_MS,
  i2TimeoutMs: I2_TIMEOUT_MS,
  i2RetriesMax: I2_RETRIES_MAX,
  i2bisTimeoutMs: I2BIS_TIMEOUT_MS,
  i2bisRetriesMax: I2BIS_RETRIES_MAX,
  validatorMinLifetimeMs: VALIDATOR_MIN_LIFETIME_MS,
  updateTimeoutMs: UPDATE_TIMEOUT_MS,
  maxUpdateTimeoutMs: MAX_UPDATE_TIMEOUT_MS,
  validatorNoncePeriodMs: VALIDATOR_NONCE_PERIOD_MS,
  validatorSecretLifetimeMs: VALIDATOR_SECRET_LIFETIME_MS,
  idleTimeoutMs: IDLE_TIMEOUT_MS,
  maxContexts: MAX_CONTEXTS,
  maxContextsPerPeer: MAX_CONTEXTS_PER_PEER,
  maxTrafficPairs: MAX_TRAFFIC_PAIRS,
  r1bisRatePerS: R1BIS_RATE_PER_S,
  errorRatePerS: ERROR_RATE_PER_S,
  contextTagBits: CONTEXT_TAG_BITS,
  jitter: true,
};

/** Fills unset fields with defaults and checks every bound; throws RangeError naming the field. */
export function resolveConfig(partial: Partial<ContextConfig> = {}): ContextConfig {
  const c = { ...DEFAULT_CONFIG, ...partial };
  for (const [k, v] of Object.entries(c)) {
    if (k === 'jitter') {
      if (typeof v !== 'boolean') throw new RangeError(`config.${k} must be a boolean`);
      continue;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RangeError(`config.${k} must be a non-negative integer, got ${String(v)}`);
  }
  if (c.contextTagBits < 1 || c.contextTagBits > 47) throw new RangeError(`config.contextTagBits must be 1..47, got ${c.contextTagBits}`);
  if (c.maxContexts < 1) throw new RangeError('config.maxContexts must be at least 1');
  if (c.validatorNoncePeriodMs < 1) throw new RangeError('config.validatorNoncePeriodMs must be at least 1');
  if (c.validatorSecretLifetimeMs <= c.validatorMinLifetimeMs + c.validatorNoncePeriodMs) {
    throw new RangeError('config.validatorSecretLifetimeMs must exceed validatorMinLifetimeMs + validatorNoncePeriodMs, or recent nonces would lose their secret');
  }
  return c;
}
