/**
 * A small seeded pseudo-random generator for the simulator: sfc32 (Chris Doty-Humphrey's
 * "Small Fast Counting" generator, from PractRand) with its 128-bit state filled by
 * splitmix32. Deterministic for a given seed on every platform (32-bit integer
 * arithmetic only), fast, and good enough for fault injection and for the protocol's
 * nonces and tags in simulation. Not cryptographically secure: never use it outside the
 * simulator.
 *
 * `fork(label)` derives an independent stream from the seed and a label, not from the
 * current state, so a host's stream does not change when another host draws more
 * numbers or when hosts are added in another order.
 */
import type { RandomSource } from '../crypto/provider.js';

/** One splitmix32 step: returns the next state and its output. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [next, z >>> 0];
}

/** FNV-1a over the UTF-16 code units of `s`: a stable 32-bit label hash. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Checks a seed: an integer in 0..2^32-1. */
export function checkSeed(seed: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new RangeError(`seed must be an integer in 0..4294967295, got ${String(seed)}`);
  return seed;
}

/** sfc32 seeded by splitmix32; also a `RandomSource` for the engine and the crypto code. */
export class SeededRandom implements RandomSource {
  /** The seed this stream was created from. */
  readonly seed: number;
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.seed = checkSeed(seed);
    let s = seed | 0;
    let out: number;
    [s, out] = splitmix32(s);
    this.#a = out | 0;
    [s, out] = splitmix32(s);
    this.#b = out | 0;
    [s, out] = splitmix32(s);
    this.#c = out | 0;
    [, out] = splitmix32(s);
    this.#d = out | 0;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniformly random 32-bit unsigned integer. */
  u32(): number {
    const a = this.#a;
    const b = this.#b;
    const c = this.#c;
    const t = (((a + b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    const r = (c << 21) | (c >>> 11);
    this.#c = (r + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1), with 32 bits of resolution. */
  unit(): number {
    return this.u32() / 4294967296;
  }

  /** A uniformly random integer in [0, n) for 1 <= n <= 2^32 (rejection sampling, no modulo bias). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new RangeError(`int(n) needs an integer n in 1..2^32, got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const v = this.u32();
      if (v < limit) return v % n;
    }
  }

  /** True with probability `p` (0 draws nothing and is false; 1 draws nothing and is true). */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.unit() < p;
  }

  /** `n` random octets (RandomSource). */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      out[i] = v >>> 24;
      if (i + 1 < n) out[i + 1] = (v >>> 16) & 0xff;
      if (i + 2 < n) out[i + 2] = (v >>> 8) & 0xff;
      if (i + 3 < n) out[i + 3] = v & 0xff;
    }
    return out;
  }

  /** An independent stream named `label`, derived from this stream's seed (not its state). */
  fork(label: string): SeededRandom {
    const [, mixed] = splitmix32((this.seed ^ fnv1a(label)) | 0);
    return new SeededRandom(mixed);
  }
}
