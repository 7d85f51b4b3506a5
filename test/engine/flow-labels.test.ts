/**
 * The flow-label allocator (src/engine/flow-labels.ts, issue #8): unique per pool, no
 * reuse during the quarantine, bounded, 0 when exhausted, and a model check over random
 * sequences.
 */
import { describe, expect, it } from 'vitest';
import { FlowLabelAllocator, FlowLabelConfigError, resolveFlowLabelConfig } from '../../src/engine/flow-labels.js';
import { SeededRandom } from '../../src/sim/random.js';

function allocator(cfg: Parameters<typeof resolveFlowLabelConfig>[0], seed = 1): FlowLabelAllocator {
  const r = new SeededRandom(seed);
  return new FlowLabelAllocator(resolveFlowLabelConfig(cfg), () => r.u32());
}

describe('flow-label allocator', () => {
  it('hands out distinct labels in range, per pool; other pools may reuse them', () => {
    const a = allocator({ first: 10, last: 19 });
    const got = Array.from({ length: 10 }, (_, i) => a.allocate('p', i, 0));
    expect(new Set(got).size).toBe(10);
    for (const l of got) expect(l >= 10 && l <= 19).toBe(true);
    expect(a.allocate('p', 99, 0)).toBe(0); // exhausted: the context uses the explicit tag
    expect(a.stats(0)).toEqual({ inUse: 10, quarantined: 0, exhausted: 1 });
    expect(a.allocate('q', 1, 0)).toBeGreaterThanOrEqual(10); // another local locator set
  });

  it('a released label is not reused before its quarantine ends, then is', () => {
    const a = allocator({ first: 5, last: 5, quarantineMs: 1000 });
    expect(a.allocate('p', 1, 0)).toBe(5);
    a.release('p', 5, 1, 100);
    expect(a.allocate('p', 2, 500)).toBe(0);
    expect(a.allocate('p', 2, 1099)).toBe(0);
    expect(a.allocate('p', 2, 1100)).toBe(5);
  });

  it('release by a context that does not hold the label changes nothing', () => {
    const a = allocator({ first: 5, last: 6 });
    const l = a.allocate('p', 1, 0);
    a.release('p', l, 2, 0);
    a.release('q', l, 1, 0);
    expect(a.stats(0).inUse).toBe(1);
  });

  it('maxLabels bounds labels in use plus in quarantine', () => {
    const a = allocator({ maxLabels: 3, quarantineMs: 10_000 });
    const ls = [1, 2, 3].map((o) => a.allocate('p', o, 0));
    expect(ls.every((l) => l > 0)).toBe(true);
    expect(a.allocate('p', 4, 0)).toBe(0);
    a.release('p', ls[0]!, 1, 0);
    expect(a.allocate('p', 4, 1)).toBe(0); // still quarantined: counts against the bound
    expect(a.allocate('p', 4, 10_000)).toBeGreaterThan(0);
  });

  it('reserve takes a given label back (adopt after a restart) unless it is taken', () => {
    const a = allocator({});
    expect(a.reserve('p', 77, 1, 0)).toBe(true);
    expect(a.reserve('p', 77, 1, 0)).toBe(true); // idempotent for its owner
    expect(a.reserve('p', 77, 2, 0)).toBe(false);
    expect(a.reserve('p', 0, 3, 0)).toBe(false);
    expect(a.reserve('p', 0x100000, 3, 0)).toBe(false);
  });

  it('rejects bad configuration with a typed error', () => {
    for (const bad of [{ first: 0 }, { last: 0x100000 }, { first: 9, last: 8 }, { quarantineMs: -1 }, { maxLabels: 0 }, { first: 1.5 }]) {
      expect(() => resolveFlowLabelConfig(bad)).toThrow(FlowLabelConfigError);
    }
  });

  it('property: over random allocate/release sequences no label is held twice or reused inside its quarantine (seeded)', () => {
    const r = new SeededRandom(42);
    const a = new FlowLabelAllocator(resolveFlowLabelConfig({ first: 1, last: 40, quarantineMs: 50, maxLabels: 30 }), () => r.u32());
    const held = new Map<number, number>(); // owner -> label
    const releasedAt = new Map<number, number>(); // label -> time
    let now = 0;
    for (let i = 0; i < 20_000; i++) {
      now += r.int(3);
      if (r.int(2) === 0 || held.size === 0) {
        const owner = i;
        const l = a.allocate('p', owner, now);
        if (l === 0) continue;
        expect([...held.values()]).not.toContain(l);
        const rel = releasedAt.get(l);
        if (rel !== undefined) expect(now - rel).toBeGreaterThanOrEqual(50);
        held.set(owner, l);
      } else {
        const owners = [...held.keys()];
        const owner = owners[r.int(owners.length)]!;
        a.release('p', held.get(owner)!, owner, now);
        releasedAt.set(held.get(owner)!, now);
        held.delete(owner);
      }
      const s = a.stats(now);
      expect(s.inUse).toBe(held.size);
      expect(s.inUse + s.quarantined).toBeLessThanOrEqual(30);
    }
  });
});
