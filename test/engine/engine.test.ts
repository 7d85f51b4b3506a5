import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalIdentity } from '../../src/context/types.js';
import { engine, hbaIdentity, pump } from './engine.util.js';

let A: LocalIdentity;
let B: LocalIdentity;
beforeAll(async () => {
  A = await hbaIdentity(['2001:db8:1:a::', '2001:db8:2:a::'], 1);
  B = await hbaIdentity(['2001:db8:1:b::', '2001:db8:2:b::'], 2);
});

describe('ShimEngine: establishment between two engines', () => {
  it('I1/R1/I2/R2 establishes both sides with each other\'s tags and locator sets', () => {
    const a = engine(A, 10);
    const b = engine(B, 20);
    const r = a.establish(A.ulid, B.ulid, 0);
    expect(r.ok).toBe(true);
    const { delivered, others } = pump({ a, b }, 5);
    expect(delivered.map((d) => `${d.from}:${d.action.message.kind}`)).toEqual(['a:I1', 'b:R1', 'a:I2', 'b:R2']);
    const ca = a.findByUlids(A.ulid, B.ulid)!;
    const cb = b.findByUlids(B.ulid, A.ulid)!;
    expect(ca.state).toBe('ESTABLISHED');
    expect(cb.state).toBe('ESTABLISHED');
    expect(ca.ctPeer).toBe(cb.ctLocal);
    expect(cb.ctPeer).toBe(ca.ctLocal);
    expect(ca.lsPeer.map((l) => l.address)).toEqual(B.locators.map((l) => l.address));
    expect(cb.lsPeer.map((l) => l.address)).toEqual(A.locators.map((l) => l.address));
    expect(others.a!.filter((x) => x.kind === 'fast-path').map((x) => x.kind === 'fast-path' && x.op)).toEqual(['install']);
    expect(others.b!.filter((x) => x.kind === 'fast-path').map((x) => x.kind === 'fast-path' && x.op)).toEqual(['install']);
    expect(b.size).toBe(1);
    expect(a.size).toBe(1);
  });
});
