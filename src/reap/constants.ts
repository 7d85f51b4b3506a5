/**
 * REAP timers and knobs (RFC 5534 §7), with the RFC's values kept apart from this
 * implementation's own (as `src/context/constants.ts` does for RFC 5533 §14).
 *
 * Three profiles:
 * - `rfc`: RFC 5534 with its defaults and nothing else (Send Timeout 15 s, Initial Probe
 *   Timeout 0.5 s × 4, back-off to 60 s, no local signals, no upper-layer hints, no
 *   failback probing). For conformance and for comparison.
 * - `fast` (the default): the same state machine and messages with shorter timers, local
 *   signals (link down, address gone) and upper-layer hints (TCP retransmissions) that start
 *   exploration at once, and failback to the primary pair after a hold-down.
 * - `off`: no REAP at all; the current pair changes only by operator command.
 */

/** RFC 5534 §7, verbatim. */
export const INITIAL_PROBE_TIMEOUT_MS = 500;
export const NUMBER_OF_INITIAL_PROBES = 4;
export const SEND_TIMEOUT_MS = 15_000;
/** §7: "15 seconds if the peer didn't send a Keepalive Timeout option". */
export const KEEPALIVE_TIMEOUT_MS = 15_000;
/** §4.3: the probe interval may not grow beyond this. */
export const MAX_PROBE_TIMEOUT_MS = 60_000;
/** §7: Keepalive Interval is one third to one half of the Keepalive Timeout. */
export const KEEPALIVE_INTERVAL_MIN_FRACTION = 1 / 3;
export const KEEPALIVE_INTERVAL_MAX_FRACTION = 1 / 2;
/** §5.2: Psent and Precvd are 4-bit fields. */
export const PROBE_REPORTS_MAX = 15;

/**
 * The experimental option that carries a Keepalive Timeout in milliseconds, for Send
 * Timeouts under a second (the RFC's option carries whole seconds). From the experimental
 * range of RFC 5533 §17 (16384-32767), non-critical, so a peer without it ignores it and
 * uses the Keepalive Timeout option (type 10) sent beside it. README "REAP".
 */
export const KEEPALIVE_TIMEOUT_MS_OPTION_TYPE = 16_400;

/**
 * Probe Data (RFC 5534 §5.2: "no fixed meaning ... copied back with no changes"): this
 * implementation sets bit 0 on failback probes sent while Operational to ask a peer that
 * knows the convention for a Probe in return, so it can learn that the primary pair works
 * again. A peer without it ignores the bit (and we never fail back over it).
 */
export const PROBE_DATA_REPLY_REQUESTED = 0x1;

export type ReapMode = 'rfc' | 'fast' | 'off';

export interface ReapConfig {
  readonly mode: ReapMode;
  /** Send Timeout (§4.1 item 6): no return traffic this long after sending starts exploration. */
  readonly sendTimeoutMs: number;
  /** Randomisation of the Send Timeout (§4.1: "SHOULD be randomized"): × U[1, 1 + this). */
  readonly sendTimeoutJitter: number;
  /** Keepalive Timeout until the peer tells us its Send Timeout (§7). */
  readonly defaultKeepaliveTimeoutMs: number;
  readonly initialProbeTimeoutMs: number;
  readonly initialProbes: number;
  /**
   * Back-off cap. `rfc`: the interval between any two probes (§4.3). `fast`: the time
   * between two probes on the same pair, so that with every pair dead a pair that comes
   * back is found within this interval.
   */
  readonly maxProbeTimeoutMs: number;
  /** Randomisation of backed-off probe intervals: × U[1 - j, 1 + j). */
  readonly probeJitter: number;
  /**
   * Probe budget per context: a token bucket of `probeBurst` probes refilled one per
   * `minProbeGapMs`, so neither a forged trigger nor a flapping link can make a context
   * send probes faster than that.
   */
  readonly minProbeGapMs: number;
  readonly probeBurst: number;
  /** A new exploration restarts the back-off only if the previous one ended this long ago (flap damping). */
  readonly explorationQuietMs: number;
  /** Start exploring when the local locator of the current pair goes down (beyond the RFC). */
  readonly localSignals: boolean;
  /** ULP retransmissions with no inbound packet in between that start exploration; 0 disables (beyond the RFC). */
  readonly ulpRetransmitThreshold: number;
  /** Return to the primary pair after it has worked this long (0 disables failback). */
  readonly failbackHoldDownMs: number;
  /** While away from the primary pair, probe it this often. */
  readonly failbackProbeIntervalMs: number;
  /** Each failover away from the primary within `failbackHoldDownMs × 8` doubles the hold-down, up to this. */
  readonly failbackMaxHoldDownMs: number;
  /** Received probes remembered per context, and reported (§5.2 Precvd). */
  readonly reportsMax: number;
  /** Probes per second for all contexts of a host together (a site-wide outage must not become a storm, §4.3). */
  readonly hostProbeRatePerS: number;
}

export const RFC_REAP_CONFIG: ReapConfig = {
  mode: 'rfc',
  sendTimeoutMs: SEND_TIMEOUT_MS,
  sendTimeoutJitter: 0.1,
  defaultKeepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
  initialProbeTimeoutMs: INITIAL_PROBE_TIMEOUT_MS,
  initialProbes: NUMBER_OF_INITIAL_PROBES,
  maxProbeTimeoutMs: MAX_PROBE_TIMEOUT_MS,
  probeJitter: 0.1,
  minProbeGapMs: 100,
  probeBurst: 4,
  explorationQuietMs: 60_000,
  localSignals: false,
  ulpRetransmitThreshold: 0,
  failbackHoldDownMs: 0,
  failbackProbeIntervalMs: 10_000,
  failbackMaxHoldDownMs: 600_000,
  reportsMax: 4,
  hostProbeRatePerS: 1000,
};

/**
 * Sub-second detection. Send Timeout 400 ms: the peer's keepalives come every 1/3-1/2 of
 * it, so a path stays "alive" with one-way traffic while its RTT is under 200 ms.
 */
export const FAST_REAP_CONFIG: ReapConfig = {
  mode: 'fast',
  sendTimeoutMs: 400,
  sendTimeoutJitter: 0.1,
  defaultKeepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
  initialProbeTimeoutMs: 200,
  initialProbes: NUMBER_OF_INITIAL_PROBES,
  maxProbeTimeoutMs: 8_000,
  probeJitter: 0.1,
  minProbeGapMs: 50,
  probeBurst: 4,
  explorationQuietMs: 30_000,
  localSignals: true,
  ulpRetransmitThreshold: 2,
  failbackHoldDownMs: 30_000,
  failbackProbeIntervalMs: 5_000,
  failbackMaxHoldDownMs: 600_000,
  reportsMax: 4,
  hostProbeRatePerS: 1000,
};

export const OFF_REAP_CONFIG: ReapConfig = { ...RFC_REAP_CONFIG, mode: 'off' };

const FRACTIONS = new Set(['sendTimeoutJitter', 'probeJitter']);
const BOOLEANS = new Set(['localSignals']);

/**
 * The profile named by `partial.mode` (default `fast`) with `partial`'s other fields over
 * it. Throws RangeError naming the field for any value out of bounds.
 */
export function resolveReapConfig(partial: Partial<ReapConfig> = {}): ReapConfig {
  const mode = partial.mode ?? 'fast';
  if (mode !== 'rfc' && mode !== 'fast' && mode !== 'off') throw new RangeError(`reap.mode must be rfc, fast or off, got ${String(mode)}`);
  const base = mode === 'rfc' ? RFC_REAP_CONFIG : mode === 'fast' ? FAST_REAP_CONFIG : OFF_REAP_CONFIG;
  const c: ReapConfig = { ...base, ...partial, mode };
  for (const [k, v] of Object.entries(c)) {
    if (k === 'mode') continue;
    if (BOOLEANS.has(k)) {
      if (typeof v !== 'boolean') throw new RangeError(`reap.${k} must be a boolean`);
    } else if (FRACTIONS.has(k)) {
      if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new RangeError(`reap.${k} must be in [0, 1), got ${String(v)}`);
    } else if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new RangeError(`reap.${k} must be a non-negative integer, got ${String(v)}`);
    }
  }
  if (c.sendTimeoutMs < 1 || c.sendTimeoutMs > 0xffff * 1000) throw new RangeError(`reap.sendTimeoutMs must be 1..${0xffff * 1000}, got ${c.sendTimeoutMs}`);
  if (c.defaultKeepaliveTimeoutMs < 1) throw new RangeError('reap.defaultKeepaliveTimeoutMs must be at least 1');
  if (c.probeBurst < 1) throw new RangeError('reap.probeBurst must be at least 1');
  if (c.initialProbeTimeoutMs < 1) throw new RangeError('reap.initialProbeTimeoutMs must be at least 1');
  if (c.maxProbeTimeoutMs < c.initialProbeTimeoutMs) throw new RangeError('reap.maxProbeTimeoutMs must be at least initialProbeTimeoutMs');
  if (c.reportsMax < 1 || c.reportsMax > PROBE_REPORTS_MAX - 1) throw new RangeError(`reap.reportsMax must be 1..${PROBE_REPORTS_MAX - 1}`);
  if (c.failbackHoldDownMs > 0 && c.failbackProbeIntervalMs < 1) throw new RangeError('reap.failbackProbeIntervalMs must be at least 1 when failback is on');
  return c;
}
