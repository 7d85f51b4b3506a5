/** The virtual clock: ordering by (time, insertion), cancellation, run limits, refusals. */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/sim/clock.js';
import { SeededRandom } from '../../src/sim/random.js';

describe('VirtualClock', () => {
  it('runs events in time order, and events at the same time in the order scheduled', () => {
    const c = new VirtualClock();
    const seen: string[] = [];
    c.schedule(20, () => seen.push('b20'));
    c.schedule(10, () => seen.push('a10'));
    c.schedule(20, () => seen.push('c20'));
    c.schedule(0, () => seen.push('z0'));
    expect(c.pending).toBe(4);
    expect(c.runUntil(100)).toBe(4);
    expect(seen).toEqual(['z0', 'a10', 'b20', 'c20']);
    expect(c.now).toBe(100);
  });

  it('is a stable priority queue under random load (checked against a sort)', () => {
    const c = new VirtualClock();
    const r = new SeededRandom(2);
    const want: [number, number][] = [];
    const got: [number, number][] = [];
    for (let i = 0; i < 2_000; i++) {
      const t = r.int(100);
      want.push([t, i]);
      c.schedule(t, () => got.push([t, i]));
    }
    c.runUntil(1_000);
    want.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    expect(got).toEqual(want);
  });

  it('runs events scheduled by events, including at the current time', () => {
    const c = new VirtualClock();
    const seen: number[] = [];
    c.schedule(5, () => {
      seen.push(c.now);
      c.after(0, () => seen.push(c.now));
      c.after(3, () => seen.push(c.now));
    });
    c.runUntil(10);
    expect(seen).toEqual([5, 5, 8]);
  });

  it('cancels pending events only once, and not events that ran', () => {
    const c = new VirtualClock();
    const seen: string[] = [];
    const h1 = c.schedule(1, () => seen.push('one'));
    const h2 = c.schedule(2, () => seen.push('two'));
    expect(c.cancel(h2)).toBe(true);
    expect(c.cancel(h2)).toBe(false);
    expect(c.pending).toBe(1);
    c.runUntil(5);
    expect(c.cancel(h1)).toBe(false);
    expect(seen).toEqual(['one']);
    expect(c.peek()).toBeUndefined();
  });

  it('step() stops at a limit; runUntil and schedule refuse to go back in time', () => {
    const c = new VirtualClock();
    c.schedule(10, () => {});
    expect(c.step(5)).toBe(false);
    expect(c.now).toBe(0);
    expect(c.step()).toBe(true);
    expect(c.now).toBe(10);
    expect(() => c.schedule(9, () => {})).toThrow(RangeError);
    expect(() => c.runUntil(9)).toThrow(RangeError);
    expect(() => c.schedule(Number.POSITIVE_INFINITY, () => {})).toThrow(RangeError);
  });
});
