/** The simulator's seeded generator: determinism, independence of forks, ranges and rough uniformity. */
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/sim/random.js';

describe('SeededRandom', () => {
  it('gives the same sequence for the same seed and another for another seed', () => {
    const a = new SeededRandom(123);
    const b = new SeededRandom(123);
    const c = new SeededRandom(124);
    const sa = Array.from({ length: 100 }, () => a.u32());
    expect(Array.from({ length: 100 }, () => b.u32())).toEqual(sa);
    expect(Array.from({ length: 100 }, () => c.u32())).not.toEqual(sa);
    expect(sa.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff)).toBe(true);
  });

  it('pins the first outputs of seed 0 (a change of algorithm would change every transcript)', () => {
    const r = new SeededRandom(0);
    expect(Array.from({ length: 4 }, () => r.u32())).toMatchInlineSnapshot(`
      [
        4205396811,
        3543653536,
        1222415357,
        3047368389,
      ]
    `);
  });

  it('forks by label, independently of how much the parent has drawn', () => {
    const a = new SeededRandom(9);
    const f1 = a.fork('host:A').u32();
    for (let i = 0; i < 50; i++) a.u32();
    expect(a.fork('host:A').u32()).toBe(f1);
    expect(a.fork('host:B').u32()).not.toBe(f1);
    expect(a.fork('host:A').seed).not.toBe(a.seed);
  });

  it('unit() is in [0, 1) with mean about 1/2; int(n) is in [0, n) and roughly uniform', () => {
    const r = new SeededRandom(77);
    let sum = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const u = r.unit();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
    }
    // σ of the mean of n uniforms: 1/√(12n) ≈ 0.002.
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
    const buckets = new Array<number>(6).fill(0);
    for (let i = 0; i < 6_000; i++) buckets[r.int(6)]!++;
    // Each bucket ~ Binomial(6000, 1/6): σ ≈ 28.9.
    for (const b of buckets) expect(Math.abs(b - 1_000)).toBeLessThan(4 * 28.9);
    expect(() => r.int(0)).toThrow(RangeError);
  });

  it('chance(p) draws nothing for p <= 0 or p >= 1', () => {
    const a = new SeededRandom(5);
    const b = new SeededRandom(5);
    expect(a.chance(0)).toBe(false);
    expect(a.chance(1)).toBe(true);
    expect(a.u32()).toBe(b.u32());
  });

  it('bytes(n) fills exactly n octets from the stream', () => {
    const r = new SeededRandom(1);
    const x = r.bytes(7);
    expect(x).toHaveLength(7);
    const s = new SeededRandom(1);
    const v = s.u32();
    expect([...x.subarray(0, 4)]).toEqual([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
    expect(new SeededRandom(1).bytes(0)).toHaveLength(0);
  });

  it('refuses seeds that are not 32-bit unsigned integers', () => {
    expect(() => new SeededRandom(-1)).toThrow(RangeError);
    expect(() => new SeededRandom(1.5)).toThrow(RangeError);
    expect(() => new SeededRandom(2 ** 32)).toThrow(RangeError);
  });
});
