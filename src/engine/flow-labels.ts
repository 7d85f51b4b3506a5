/**
 * Flow-label allocation for the experimental flow-label demultiplexing mode (issue #8;
 * the option is src/wire/options/flow-label-demux.ts). The receiver allocates the label
 * its peer writes on non-ULID pairs, so packets are demultiplexed by
 * (source locator, destination locator, flow label); that is unambiguous when a label is
 * unique among the contexts whose local locator sets share a locator. Labels are kept in
 * pools, one per local locator set (the engine maps each identity to a pool, merging
 * identities whose locator sets overlap), and a label is unique within its pool.
 *
 * - No reuse while a context that used the label may still send: a released label is
 *   quarantined for `quarantineMs` (the peer may keep its context, and keep writing the
 *   label, after ours is gone).
 * - Bounded: at most `maxLabels` labels per pool are in use or in quarantine together.
 *   When the space or that bound is exhausted, `allocate` returns 0 and the context falls
 *   back to the explicit Context Tag (the option then advertises label 0).
 *
 * Randomness is injected; nothing here reads a clock.
 */
import { MAX_FLOW_LABEL } from '../wire/options/flow-label-demux.js';

export interface FlowLabelConfig {
  /** The first and last label handed out (default 1 and 0xFFFFF; 0 is never handed out). */
  readonly first: number;
  readonly last: number;
  /** How long a released label stays reserved (default 600,000 ms: twice the §9 idle time). */
  readonly quarantineMs: number;
  /** Labels in use plus in quarantine, per pool (default 65,536). */
  readonly maxLabels: number;
}

export const DEFAULT_FLOW_LABEL_CONFIG: FlowLabelConfig = { first: 1, last: MAX_FLOW_LABEL, quarantineMs: 600_000, maxLabels: 65_536 };

export class FlowLabelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlowLabelConfigError';
  }
}

/** Fills in defaults and checks ranges (throws FlowLabelConfigError). */
export function resolveFlowLabelConfig(partial: Partial<FlowLabelConfig> = {}): FlowLabelConfig {
  const c = { ...DEFAULT_FLOW_LABEL_CONFIG, ...partial };
  const int = (name: string, v: number, lo: number, hi: number): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new FlowLabelConfigError(`flowLabel.${name} must be an integer ${lo}..${hi}, got ${String(v)}`);
  };
  int('first', c.first, 1, MAX_FLOW_LABEL);
  int('last', c.last, c.first, MAX_FLOW_LABEL);
  int('quarantineMs', c.quarantineMs, 0, 86_400_000);
  int('maxLabels', c.maxLabels, 1, MAX_FLOW_LABEL);
  return c;
}

interface Pool {
  /** Label -> the context id using it. */
  readonly used: Map<number, number>;
  /** Label -> when its quarantine ends; insertion order is release order (one quarantine length for all). */
  readonly quarantine: Map<number, number>;
}

export interface FlowLabelStats {
  readonly inUse: number;
  readonly quarantined: number;
  /** Allocations that found no label (the context used the explicit tag). */
  readonly exhausted: number;
}

export class FlowLabelAllocator {
  readonly config: FlowLabelConfig;
  readonly #random: () => number;
  readonly #pools = new Map<string, Pool>();
  readonly #space: number;
  #exhausted = 0;

  /** `randomU32`: a uniformly random unsigned 32-bit integer. */
  constructor(config: FlowLabelConfig, randomU32: () => number) {
    this.config = config;
    this.#random = randomU32;
    this.#space = config.last - config.first + 1;
  }

  /** A label for context `owner` in `pool`, unique there and not in quarantine; 0 when none is free. */
  allocate(pool: string, owner: number, now: number): number {
    const p = this.#pool(pool);
    this.#expire(p, now);
    const taken = p.used.size + p.quarantine.size;
    if (taken >= this.#space || taken >= this.config.maxLabels) {
      this.#exhausted++;
      return 0;
    }
    const free = (l: number): boolean => !p.used.has(l) && !p.quarantine.has(l);
    let label = 0;
    // Random probes first (labels are then hard to predict); a scan when the space is nearly full.
    for (let i = 0; i < 32 && label === 0; i++) {
      const l = this.config.first + (this.#random() % this.#space);
      if (free(l)) label = l;
    }
    if (label === 0) {
      const start = this.#random() % this.#space;
      for (let i = 0; i < this.#space; i++) {
        const l = this.config.first + ((start + i) % this.#space);
        if (free(l)) {
          label = l;
          break;
        }
      }
    }
    if (label === 0) {
      this.#exhausted++;
      return 0;
    }
    p.used.set(label, owner);
    return label;
  }

  /** Takes `label` for `owner` (a context adopted after a restart); false when it is taken or out of range. */
  reserve(pool: string, label: number, owner: number, now: number): boolean {
    if (!Number.isInteger(label) || label < 1 || label > MAX_FLOW_LABEL) return false;
    const p = this.#pool(pool);
    this.#expire(p, now);
    if (p.used.has(label) || p.quarantine.has(label)) return p.used.get(label) === owner;
    if (p.used.size + p.quarantine.size >= this.config.maxLabels) return false;
    p.used.set(label, owner);
    return true;
  }

  /** `owner` stopped using `label`: it is quarantined. A label `owner` does not hold is left alone. */
  release(pool: string, label: number, owner: number, now: number): void {
    const p = this.#pools.get(pool);
    if (p === undefined || p.used.get(label) !== owner) return;
    p.used.delete(label);
    if (this.config.quarantineMs > 0) p.quarantine.set(label, now + this.config.quarantineMs);
    this.#expire(p, now);
    if (p.used.size === 0 && p.quarantine.size === 0) this.#pools.delete(pool);
  }

  stats(now: number): FlowLabelStats {
    let inUse = 0;
    let quarantined = 0;
    for (const p of this.#pools.values()) {
      this.#expire(p, now);
      inUse += p.used.size;
      quarantined += p.quarantine.size;
    }
    return { inUse, quarantined, exhausted: this.#exhausted };
  }

  #pool(key: string): Pool {
    let p = this.#pools.get(key);
    if (p === undefined) {
      p = { used: new Map(), quarantine: new Map() };
      this.#pools.set(key, p);
    }
    return p;
  }

  #expire(p: Pool, now: number): void {
    for (const [label, until] of p.quarantine) {
      if (until > now) break;
      p.quarantine.delete(label);
    }
  }
}
