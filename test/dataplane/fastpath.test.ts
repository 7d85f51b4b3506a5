import { describe, expect, it } from 'vitest';
import { FastPathTable, hashLabel, hashTag, tagHi, tagLo } from '../../src/dataplane/fastpath.js';
import { DataPlaneError, type FastPathContext } from '../../src/dataplane/types.js';
import { addr } from './packets.js';

function ctx(i: number, over: Partial<FastPathContext> = {}): FastPathContext {
  const h = i.toString(16);
  const localUlid = addr(`2001:db8:1:a::${h}`);
  const peerUlid = addr(`2001:db8:1:b::${h}`);
  return {
    name: `c${i}`,
    localUlid,
    peerUlid,
    localLocators: [localUlid, addr(`2001:db8:2:a::${h}`)],
    peerLocators: [peerUlid, addr(`2001:db8:2:b::${h}`)],
    localContextTag: 1000 + i,
    peerContextTag: 2 ** 40 + i,
    currentLocal: localUlid,
    currentPeer: peerUlid,
    ...over,
  };
}

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof DataPlaneError) return e.code;
    throw e;
  }
  return undefined;
}

describe('FastPathTable', () => {
  it('finds every context by ULID pair, local tag and peer tag with locators, among many', () => {
    const t = new FastPathTable();
    for (let i = 1; i <= 1500; i++) t.add(ctx(i));
    expect(t.size).toBe(1500);
    for (let i = 1; i <= 1500; i += 7) {
      const c = ctx(i);
      const index = t.findUlidPair(c.localUlid, 0, c.peerUlid, 0);
      expect(t.entry(index).name).toBe(`c${i}`);
      expect(t.entry(t.findLocalTag(tagHi(c.localContextTag), tagLo(c.localContextTag))).name).toBe(`c${i}`);
      const pi = t.findPeerTag(tagHi(c.peerContextTag), tagLo(c.peerContextTag), c.localLocators[1]!, 0, c.peerLocators[1]!, 0);
      expect(t.entry(pi).name).toBe(`c${i}`);
    }
    // Swapped ULIDs, an unknown tag, a peer tag with foreign locators: not found.
    const c = ctx(5);
    expect(t.findUlidPair(c.peerUlid, 0, c.localUlid, 0)).toBe(-1);
    expect(t.findLocalTag(0, 999)).toBe(-1);
    expect(t.findPeerTag(tagHi(c.peerContextTag), tagLo(c.peerContextTag), addr('2001:db8:9::1'), 0, c.peerUlid, 0)).toBe(-1);
  });

  it('keeps the others findable after removals', () => {
    const t = new FastPathTable();
    for (let i = 1; i <= 100; i++) t.add(ctx(i));
    for (let i = 1; i <= 100; i += 2) t.remove(`c${i}`);
    expect(t.size).toBe(50);
    for (let i = 1; i <= 100; i++) {
      const c = ctx(i);
      const found = t.findUlidPair(c.localUlid, 0, c.peerUlid, 0);
      if (i % 2 === 1) expect(found).toBe(-1);
      else expect(t.entry(found).name).toBe(`c${i}`);
    }
    expect(code(() => t.remove('c1'))).toBe('unknown-context');
  });

  it('rejects duplicates and inconsistent contexts with typed errors', () => {
    const t = new FastPathTable();
    t.add(ctx(1));
    expect(code(() => t.add(ctx(1)))).toBe('duplicate-context');
    expect(code(() => t.add({ ...ctx(1), name: 'other' }))).toBe('duplicate-ulid-pair');
    expect(code(() => t.add({ ...ctx(2), localContextTag: 1001 }))).toBe('duplicate-tag');
    expect(code(() => t.add({ ...ctx(3), localLocators: [addr('2001:db8:2:a::3')] }))).toBe('bad-context');
    expect(code(() => t.add({ ...ctx(3), currentPeer: addr('2001:db8:9::1') }))).toBe('bad-locator');
    expect(code(() => t.add({ ...ctx(3), localContextTag: 2 ** 47 }))).toBe('bad-context');
    expect(code(() => t.add({ ...ctx(3), localUlid: new Uint8Array(4) }))).toBe('bad-context');
    expect(t.size).toBe(1);
  });

  it('switches the current pair in place and tracks whether to rewrite', () => {
    const t = new FastPathTable();
    const c = ctx(1);
    const e = t.add(c);
    expect(e.rewrite).toBe(false);
    t.setCurrentPair('c1', c.localLocators[1]!, c.peerLocators[1]!);
    expect(e.rewrite).toBe(true);
    expect(e.currentLocal).toEqual(c.localLocators[1]);
    t.setCurrentPair('c1', c.localUlid, c.peerLocators[1]!);
    expect(e.rewrite).toBe(true); // one side differs
    t.setCurrentPair('c1', c.localUlid, c.peerUlid);
    expect(e.rewrite).toBe(false);
    expect(code(() => t.setCurrentPair('c1', addr('2001:db8:9::1'), c.peerUlid))).toBe('bad-locator');
    expect(code(() => t.setCurrentPair('nope', c.localUlid, c.peerUlid))).toBe('unknown-context');
  });

  it('hashes tags by both halves', () => {
    expect(hashTag(0, 1)).not.toBe(hashTag(1, 0));
    expect(tagHi(2 ** 47 - 1)).toBe(0x7fff);
    expect(tagLo(2 ** 47 - 1)).toBe(0xffffffff);
  });
});

describe('FastPathTable flow labels (issue #8)', () => {
  it('finds every context by (local locator, localFlowLabel) and (peer locator, peerFlowLabel), among many', () => {
    const t = new FastPathTable();
    for (let i = 1; i <= 1500; i++) t.add(ctx(i, { localFlowLabel: i, peerFlowLabel: 0xfffff - i }));
    for (let i = 1; i <= 1500; i += 7) {
      const c = ctx(i);
      for (const local of c.localLocators) expect(t.entry(t.findLabel(local, 0, i)).name).toBe(`c${i}`);
      for (const peer of c.peerLocators) expect(t.entry(t.findPeerLabel(c.localLocators[1]!, 0, peer, 0, 0xfffff - i)).name).toBe(`c${i}`);
      expect(t.findLabel(c.localLocators[1]!, 0, i + 1)).toBe(-1); // the next context's label, not on this locator
      expect(t.findPeerLabel(addr('2001:db8:9::1'), 0, c.peerUlid, 0, 0xfffff - i)).toBe(-1); // a local locator not its
    }
    expect(t.findLabel(ctx(1).localUlid, 0, 0)).toBe(-1);
  });

  it('reads the key at an offset inside a larger buffer', () => {
    const t = new FastPathTable();
    t.add(ctx(1, { localFlowLabel: 0xabcde }));
    const packet = new Uint8Array(64);
    packet.set(ctx(1).localLocators[1]!, 24);
    expect(t.entry(t.findLabel(packet, 24, 0xabcde)).name).toBe('c1');
    expect(hashLabel(packet, 24, 0xabcde)).toBe(hashLabel(ctx(1).localLocators[1]!, 0, 0xabcde));
  });

  it('refuses a label already allocated on one of the local locators; accepts it on disjoint locators', () => {
    const t = new FastPathTable();
    const shared = addr('2001:db8:7::1');
    t.add(ctx(1, { localLocators: [ctx(1).localUlid, shared], localFlowLabel: 0x100 }));
    expect(code(() => t.add(ctx(2, { localLocators: [ctx(2).localUlid, shared], localFlowLabel: 0x100 })))).toBe('duplicate-label');
    expect(t.size).toBe(1);
    t.add(ctx(2, { localLocators: [ctx(2).localUlid, shared], localFlowLabel: 0x101 })); // same locator, another label
    t.add(ctx(3, { localFlowLabel: 0x100 })); // same label, disjoint locators
    t.add(ctx(4, { localLocators: [ctx(4).localUlid, shared] })); // no label: nothing to collide
    expect(t.entry(t.findLabel(shared, 0, 0x100)).name).toBe('c1');
    expect(t.entry(t.findLabel(shared, 0, 0x101)).name).toBe('c2');
    expect(t.entry(t.findLabel(ctx(3).localLocators[1]!, 0, 0x100)).name).toBe('c3');
    expect(t.entry(t.findLabel(ctx(3).localUlid, 0, 0x100)).name).toBe('c3');
    expect(t.findLabel(ctx(4).localUlid, 0, 0x100)).toBe(-1);
    // The peer's label is the peer's business: the same peerFlowLabel twice is fine.
    t.add(ctx(5, { peerFlowLabel: 0x100 }));
    t.add(ctx(6, { peerFlowLabel: 0x100 }));
  });

  it('frees the key on removal, keeping the others', () => {
    const t = new FastPathTable();
    for (let i = 1; i <= 40; i++) t.add(ctx(i, { localFlowLabel: 0x500 + i }));
    t.remove('c7');
    expect(t.findLabel(ctx(7).localUlid, 0, 0x507)).toBe(-1);
    for (let i = 1; i <= 40; i++) if (i !== 7) expect(t.entry(t.findLabel(ctx(i).localLocators[1]!, 0, 0x500 + i)).name).toBe(`c${i}`);
    const shared = ctx(7).localLocators[1]!;
    t.add(ctx(41, { localLocators: [ctx(41).localUlid, shared], localFlowLabel: 0x507 }));
    expect(t.entry(t.findLabel(shared, 0, 0x507)).name).toBe('c41');
  });

  it('refuses labels that are not integers 0..0xFFFFF; entries carry 0 for none', () => {
    const t = new FastPathTable();
    for (const bad of [-1, 0x100000, 1.5, Number.NaN, Infinity]) {
      expect(code(() => t.add(ctx(1, { localFlowLabel: bad })))).toBe('bad-context');
      expect(code(() => t.add(ctx(1, { peerFlowLabel: bad })))).toBe('bad-context');
    }
    expect(t.size).toBe(0);
    const e = t.add(ctx(1));
    expect([e.localFlowLabel, e.peerFlowLabel]).toEqual([0, 0]);
    expect(t.add(ctx(2, { localFlowLabel: 0xfffff, peerFlowLabel: 1 }))).toMatchObject({ localFlowLabel: 0xfffff, peerFlowLabel: 1 });
  });
});
