import { describe, expect, it } from 'vitest';
import { FastPathTable, hashTag, tagHi, tagLo } from '../../src/dataplane/fastpath.js';
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
