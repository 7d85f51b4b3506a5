/**
 * When to establish a context (RFC 5533 §4, §11, §12.2): ULP traffic between a ULID pair
 * without a context is counted, and a policy hook decides when the Shim6 overhead is
 * worth paying. The default follows §4's example: more than 50 packets, or traffic still
 * flowing 10 seconds after it started. Statistics are kept for at most `maxPairs` pairs;
 * the least recently seen pair is forgotten first, so the table is bounded.
 */
import { ESTABLISH_AFTER_ACTIVE_MS, ESTABLISH_AFTER_PACKETS } from '../context/constants.js';
import { toHex } from '../wire/bytes.js';

export interface TrafficStats {
  readonly ulidLocal: Uint8Array;
  readonly ulidPeer: Uint8Array;
  readonly packets: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
}

/** The policy hook: return true to start the four-way exchange for this pair now. */
export interface EstablishPolicy {
  shouldEstablish(stats: TrafficStats, now: number): boolean;
}

export function thresholdPolicy(packets = ESTABLISH_AFTER_PACKETS, activeMs = ESTABLISH_AFTER_ACTIVE_MS): EstablishPolicy {
  return { shouldEstablish: (s) => s.packets > packets || s.lastSeen - s.firstSeen >= activeMs };
}

export const DEFAULT_ESTABLISH_POLICY: EstablishPolicy = thresholdPolicy();

/** A pair idle this long starts counting afresh (traffic must be sustained to count, §4). */
export const TRAFFIC_FORGET_MS = 60_000;

export class TrafficTable {
  readonly #pairs = new Map<string, TrafficStats>();
  readonly #max: number;

  constructor(maxPairs: number) {
    this.#max = Math.max(1, maxPairs);
  }

  get size(): number {
    return this.#pairs.size;
  }

  /** Adds `packets` to the pair's count and returns the updated statistics. */
  note(ulidLocal: Uint8Array, ulidPeer: Uint8Array, packets: number, now: number): TrafficStats {
    const key = `${toHex(ulidLocal)}/${toHex(ulidPeer)}`;
    const old = this.#pairs.get(key);
    const fresh = old === undefined || now - old.lastSeen > TRAFFIC_FORGET_MS;
    const stats: TrafficStats = fresh
      ? { ulidLocal, ulidPeer, packets, firstSeen: now, lastSeen: now }
      : { ulidLocal, ulidPeer, packets: old.packets + packets, firstSeen: old.firstSeen, lastSeen: now };
    // Delete and re-insert: Map order is then least recently seen first.
    this.#pairs.delete(key);
    this.#pairs.set(key, stats);
    if (this.#pairs.size > this.#max) this.#pairs.delete(this.#pairs.keys().next().value!);
    return stats;
  }

  forget(ulidLocal: Uint8Array, ulidPeer: Uint8Array): void {
    this.#pairs.delete(`${toHex(ulidLocal)}/${toHex(ulidPeer)}`);
  }
}

/** A token bucket: at most `ratePerS` events per second, bursts up to `ratePerS`. Time is passed in. */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  #tokens: number;
  #last = Number.NEGATIVE_INFINITY;

  constructor(ratePerS: number) {
    this.#ratePerMs = ratePerS / 1000;
    this.#burst = Math.max(1, ratePerS);
    this.#tokens = this.#burst;
  }

  allow(now: number): boolean {
    if (this.#last !== Number.NEGATIVE_INFINITY) this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#ratePerMs);
    this.#last = now;
    if (this.#ratePerMs === 0 || this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
