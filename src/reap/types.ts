/**
 * REAP (RFC 5534) per-context state, the events it reacts to, the actions it asks for, and
 * what it needs injected. Like the context (src/context/types.ts) the state is an
 * immutable record; `reapStep` (machine.ts) returns a new one, or the same object when
 * nothing changed, so the per-packet events of the data plane cost no allocation in the
 * common case.
 *
 * The RFC's two conceptual timers are deadlines here (§6): the Send Timer is running when
 * `sendTimerAt` is set, the Keepalive Timer when `keepaliveTimerAt` is set; they are never
 * both set (§4.1 item 3: "mutually exclusive").
 */
import type { ProbeMessage, ProbeReport } from '../wire/control.js';
import type { ReapConfig } from './constants.js';

/** RFC 5534 §6 states, spelled as the RFC spells them. */
export const ReapState = {
  OPERATIONAL: 'Operational',
  EXPLORING: 'Exploring',
  INBOUND_OK: 'InboundOk',
} as const;
export type ReapState = (typeof ReapState)[keyof typeof ReapState];

/** A locator pair for one direction: our source and the peer's destination. */
export interface LocatorPair {
  readonly local: Uint8Array;
  readonly peer: Uint8Array;
}

/** Why an exploration started (what the notification and `shim6 contexts` show). */
export type ExploreReason = 'send-timeout' | 'peer-exploring' | 'local-signal' | 'ulp-hint' | 'peer-locators' | 'operator';

/** A probe this host sent (§5.2 "Psent" reports are copies of these). */
export interface SentProbe extends ProbeReport {
  readonly at: number;
  /** The peer reported it back (§6.1: only probes "not yet reported as seen" are repeated). */
  readonly reported: boolean;
  /** Sent while exploring (its confirmation can move the current pair), or to test the primary pair for failback. */
  readonly purpose: 'explore' | 'failback';
}

/** Failback to the primary pair (beyond the RFC; `failbackHoldDownMs` > 0). */
export interface FailbackState {
  /** When the next failback probe is due. */
  readonly nextProbeAt: number;
  /** Nonce of the failback probe waiting for its reply, if any. */
  readonly pendingNonce: number | undefined;
  /** The primary pair has answered every failback probe since this time. */
  readonly okSince: number | undefined;
}

/** The last completed failover (for operators and measurements). */
export interface FailoverRecord {
  readonly at: number;
  readonly from: LocatorPair;
  readonly to: LocatorPair;
  /** From the start of the exploration (or of the failure signal) to the switch. */
  readonly durationMs: number;
  readonly reason: ExploreReason | 'failback';
}

export interface ReapStats {
  readonly explorations: number;
  readonly probesSent: number;
  readonly probesReceived: number;
  readonly keepalivesSent: number;
  readonly failovers: number;
  readonly failbacks: number;
  /** Probes held back by the probe budget (exploration probes are deferred, replies dropped). */
  readonly probesDeferred: number;
}

export interface ReapContext {
  readonly state: ReapState;
  /** Send Timer deadline (§6: Operational and InboundOk only). */
  readonly sendTimerAt: number | undefined;
  /** Keepalive Timer deadline (§6: Operational only). */
  readonly keepaliveTimerAt: number | undefined;
  /** Next Keepalive while the Keepalive Timer runs (§4.1 item 5, Keepalive Interval). */
  readonly nextKeepaliveAt: number | undefined;
  /** The peer's Send Timeout as its Keepalive Timeout option told us (§5.3), or the default. */
  readonly keepaliveTimeoutMs: number;
  /** The peer sent the millisecond Keepalive Timeout option, so it understood ours. */
  readonly peerFine: boolean;
  /** Recent probes sent, newest first (at most `reportsMax`). */
  readonly sent: readonly SentProbe[];
  /** Probes received since the last transition to Exploring, newest first (§5.2 Precvd). */
  readonly received: readonly ProbeReport[];
  /** Probes sent in the current exploration; drives the back-off (§4.3). */
  readonly probeCount: number;
  /** When the next probe is due while Exploring or InboundOk. */
  readonly nextProbeAt: number | undefined;
  /** Position in the exploration order (§4.3) of the next probe. */
  readonly cursor: number;
  readonly lastProbeAt: number | undefined;
  /** Probe budget: a token bucket of `probeBurst` refilled one token per `minProbeGapMs`. */
  readonly probeTokens: number;
  readonly probeTokensAt: number;
  /** When a report last confirmed the current pair (or REAP moved to it). */
  readonly pairConfirmedAt: number | undefined;
  /** The current exploration: when and why it started, and the pair that was current. */
  readonly exploring: { readonly since: number; readonly reason: ExploreReason; readonly failed: LocatorPair; readonly local: boolean } | undefined;
  /** When the last exploration ended (flap damping). */
  readonly exploredUntil: number | undefined;
  /** Upper-layer retransmissions seen since the last packet received (hint). */
  readonly retransmits: number;
  /** The pair in use when the context was established: failback returns to it. */
  readonly primary: LocatorPair;
  readonly failback: FailbackState | undefined;
  /** Times of recent failovers away from the primary pair (failback damping). */
  readonly failoversAway: readonly number[];
  readonly lastFailover: FailoverRecord | undefined;
  readonly stats: ReapStats;
}

/** What REAP reacts to (RFC 5534 §6.1-6.9, plus this implementation's signals). */
export type ReapEvent =
  /** §6.2: a payload packet (or a Shim6 message other than REAP's) was sent. */
  | { readonly kind: 'payload-sent' }
  /** §6.1: a payload packet (or a Shim6 message other than REAP's) was received. */
  | { readonly kind: 'payload-received' }
  /** §6.6 */
  | { readonly kind: 'keepalive-received' }
  /** §6.7-6.9: a Probe with our CT(local), from `src` to `dst`. */
  | { readonly kind: 'probe-received'; readonly src: Uint8Array; readonly dst: Uint8Array; readonly probe: ProbeMessage }
  /** A deadline from `reapDeadline` has passed. */
  | { readonly kind: 'timeout' }
  /** The set of locally operational addresses changed (§3.2; `env.localOperational`). */
  | { readonly kind: 'local-change' }
  /** The upper layer retransmitted (e.g. a TCP segment re-sent with an old sequence number). */
  | { readonly kind: 'ulp-retransmit' }
  /** The operator asked for an exploration (`shim6 explore`). */
  | { readonly kind: 'explore' }
  /** The peer withdrew Lp(peer) or marked it BROKEN (RFC 5533 §10.4): `failed` was the current pair. */
  | { readonly kind: 'peer-locators'; readonly failed: LocatorPair }
  /** A Keepalive Timeout option arrived in an I2, I2bis, R2 or Update Request (§5.3). */
  | { readonly kind: 'keepalive-timeout'; readonly ms: number; readonly fine: boolean };

export type ReapNotify = 'exploring' | 'inbound-ok' | 'operational' | 'failover' | 'failback';

export type ReapAction =
  /** §5.1, on the current pair. */
  | { readonly kind: 'send-keepalive' }
  /** §5.2: the Probe's fields; the context adds CT(peer). */
  | { readonly kind: 'send-probe'; readonly src: Uint8Array; readonly dst: Uint8Array; readonly state: ReapState; readonly sent: readonly ProbeReport[]; readonly received: readonly ProbeReport[] }
  /** A new current pair was confirmed (§6.8): the data plane switches at once. */
  | { readonly kind: 'switch-pair'; readonly pair: LocatorPair }
  | { readonly kind: 'notify'; readonly event: ReapNotify; readonly detail: string };

export interface ReapResult {
  readonly reap: ReapContext;
  readonly actions: readonly ReapAction[];
}

/** What a REAP step needs besides its state (STYLE.md: injected). */
export interface ReapEnv {
  readonly reap: ReapConfig;
  randomU32(): number;
  /** Uniform in [0, 1). */
  randomUnit(): number;
  /** §3.2 "locally operational": false for an address whose link is down or that disappeared. Absent: all are. */
  localOperational?(address: Uint8Array): boolean;
}
