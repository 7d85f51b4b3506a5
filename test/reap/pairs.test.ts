/**
 * The exploration order (RFC 5534 §4.3): the RFC 6724 §2.1 default policy table,
 * CommonPrefixLen (RFC 6724 §2.2), and `explorationOrder` (src/reap/pairs.ts): how much a
 * pair differs from the failed one, the usable peer and local locators, and the peer's
 * Locator Preferences (RFC 5533 §5.15.3).
 */
import { describe, expect, it } from 'vitest';
import { commonPrefixLength, explorationOrder, localCandidates, peerCandidates, policyOf } from '../../src/reap/pairs.js';
import { LocatorFlag } from '../../src/wire/constants.js';
import { A1, A2, B1, B2, PRIMARY, ip, makeView, nameOf, pairName, pairOf, peerLoc } from './reap.util.js';

function policy(text: string): [number, number] {
  const p = policyOf(ip(text));
  return [p.precedence, p.label];
}

describe('RFC 6724 §2.1 default policy table', () => {
  it('::1/128 → precedence 50, label 0', () => {
    expect(policy('::1')).toEqual([50, 0]);
  });

  it('::/0 → precedence 40, label 1 (2001:db8::1 is not in 2001::/32: its second group is 0db8)', () => {
    expect(policy('2001:db8::1')).toEqual([40, 1]);
    expect(policy('2001:db8:a:1::1')).toEqual([40, 1]);
    expect(policy('2a00::1')).toEqual([40, 1]);
  });

  it('2001::/32 (Teredo) → precedence 5, label 5', () => {
    expect(policy('2001::1')).toEqual([5, 5]);
    expect(policy('2001:0:ffff:ffff::1')).toEqual([5, 5]);
    expect(policy('2001:1::1')).toEqual([40, 1]);
  });

  it('2002::/16 → precedence 30, label 2', () => {
    expect(policy('2002::')).toEqual([30, 2]);
    expect(policy('2002:c000:204::1')).toEqual([30, 2]);
  });

  it('fc00::/7 → precedence 3, label 13', () => {
    expect(policy('fc00::')).toEqual([3, 13]);
    expect(policy('fd12:3456::1')).toEqual([3, 13]);
    expect(policy('fe00::1')).toEqual([40, 1]);
  });

  it('::ffff:0:0/96 → precedence 35, label 4', () => {
    expect(policy('::ffff:0:0')).toEqual([35, 4]);
    expect(policy('::ffff:192.0.2.1')).toEqual([35, 4]);
  });

  it('::/96 → precedence 1, label 3 (but ::1 is its own /128 row)', () => {
    expect(policy('::')).toEqual([1, 3]);
    expect(policy('::192.0.2.1')).toEqual([1, 3]);
    expect(policy('::2')).toEqual([1, 3]);
  });

  it('fec0::/10 → 1, 11; 3ffe::/16 → 1, 12', () => {
    expect(policy('fec0::1')).toEqual([1, 11]);
    expect(policy('feff::1')).toEqual([1, 11]);
    expect(policy('3ffe::1')).toEqual([1, 12]);
  });
});

describe('commonPrefixLength (RFC 6724 §2.2)', () => {
  it('128 for equal addresses, 0 when the first bit differs', () => {
    expect(commonPrefixLength(A1, ip('2001:db8:a:1::1'))).toBe(128);
    expect(commonPrefixLength(ip('::'), ip('::'))).toBe(128);
    expect(commonPrefixLength(ip('::'), ip('8000::'))).toBe(0);
    expect(commonPrefixLength(ip('ffff::'), ip('7fff::'))).toBe(0);
  });

  it('counts bits across octets', () => {
    expect(commonPrefixLength(ip('::'), ip('::1'))).toBe(127);
    expect(commonPrefixLength(ip('::'), ip('4000::'))).toBe(1);
    expect(commonPrefixLength(ip('2001:db8::'), ip('2001:db9::'))).toBe(31);
    // 2001:db8:a:… vs 2001:db8:b:…: octet 5 is 0x0a vs 0x0b.
    expect(commonPrefixLength(A1, B1)).toBe(47);
    // 2001:db8:a:1:: vs 2001:db8:a:2:: : octet 7 is 0x01 vs 0x02.
    expect(commonPrefixLength(A1, A2)).toBe(62);
  });
});

function names(list: readonly { local: Uint8Array; peer: Uint8Array }[]): string[] {
  return list.map(pairName);
}

describe('explorationOrder (§4.3)', () => {
  it('remote failure: the pair differing in both locators first, then other local, then other peer, the failed pair last', () => {
    expect(names(explorationOrder(makeView(), PRIMARY, false))).toEqual(['A2>B2', 'A2>B1', 'A1>B2', 'A1>B1']);
  });

  it('local failure: another local locator with the same peer locator first; the failed pair last', () => {
    expect(names(explorationOrder(makeView(), PRIMARY, true))).toEqual(['A2>B1', 'A2>B2', 'A1>B2', 'A1>B1']);
  });

  it('failed pair A2>B2: the mirror image', () => {
    expect(names(explorationOrder(makeView(), pairOf(A2, B2), false))).toEqual(['A1>B1', 'A1>B2', 'A2>B1', 'A2>B2']);
  });

  it('no failed pair: by preference, ties in list order (the ULID first)', () => {
    expect(names(explorationOrder(makeView(), undefined, false))).toEqual(['A1>B1', 'A1>B2', 'A2>B1', 'A2>B2']);
  });

  it('an unverified peer locator is excluded', () => {
    const v = makeView({ lsPeer: [peerLoc(B1), peerLoc(B2, { verified: false })] });
    expect(names(explorationOrder(v, PRIMARY, false))).toEqual(['A2>B1', 'A1>B1']);
  });

  it('a BROKEN peer locator is excluded', () => {
    const v = makeView({ lsPeer: [peerLoc(B1), peerLoc(B2, { flags: LocatorFlag.BROKEN })] });
    expect(names(explorationOrder(v, PRIMARY, false))).toEqual(['A2>B1', 'A1>B1']);
    // TRANSIENT is not BROKEN.
    const t = makeView({ lsPeer: [peerLoc(B1), peerLoc(B2, { flags: LocatorFlag.TRANSIENT })] });
    expect(names(explorationOrder(t, PRIMARY, false))).toHaveLength(4);
  });

  it('the peer ULID is kept even when unverified or withdrawn from Ls(peer)', () => {
    const unverified = makeView({ lsPeer: [peerLoc(B1, { verified: false }), peerLoc(B2)] });
    expect(peerCandidates(unverified).map(nameOf)).toEqual(['B1', 'B2']);
    const withdrawn = makeView({ lsPeer: [peerLoc(B2)] });
    expect(peerCandidates(withdrawn).map(nameOf)).toEqual(['B1', 'B2']);
    expect(names(explorationOrder(withdrawn, PRIMARY, false))).toEqual(['A2>B2', 'A2>B1', 'A1>B2', 'A1>B1']);
  });

  it('the peer ULID is excluded when it is BROKEN', () => {
    const v = makeView({ lsPeer: [peerLoc(B1, { flags: LocatorFlag.BROKEN }), peerLoc(B2)] });
    expect(peerCandidates(v).map(nameOf)).toEqual(['B2']);
    expect(names(explorationOrder(v, PRIMARY, false))).toEqual(['A2>B2', 'A1>B2']);
  });

  it('locally non-operational local addresses are excluded', () => {
    const up = (a: Uint8Array): boolean => nameOf(a) !== 'A1';
    expect(localCandidates(makeView(), up).map(nameOf)).toEqual(['A2']);
    expect(names(explorationOrder(makeView(), PRIMARY, true, up))).toEqual(['A2>B1', 'A2>B2']);
  });

  it('all local addresses are candidates when none is locally operational', () => {
    const none = (): boolean => false;
    expect(localCandidates(makeView(), none).map(nameOf)).toEqual(['A1', 'A2']);
    expect(names(explorationOrder(makeView(), PRIMARY, false, none))).toEqual(['A2>B2', 'A2>B1', 'A1>B2', 'A1>B1']);
  });

  it("the peer's Locator Preferences: lower Priority first", () => {
    const v = makeView({ lsLocal: [A1], lsPeer: [peerLoc(B1, { priority: 2 }), peerLoc(B2, { priority: 1 })] });
    expect(names(explorationOrder(v, undefined, false))).toEqual(['A1>B2', 'A1>B1']);
  });

  it("the peer's Locator Preferences: same Priority, higher Weight first", () => {
    const v = makeView({ lsLocal: [A1], lsPeer: [peerLoc(B1, { priority: 1, weight: 10 }), peerLoc(B2, { priority: 1, weight: 20 })] });
    expect(names(explorationOrder(v, undefined, false))).toEqual(['A1>B2', 'A1>B1']);
    // Priority before Weight.
    const w = makeView({ lsLocal: [A1], lsPeer: [peerLoc(B1, { priority: 1, weight: 10 }), peerLoc(B2, { priority: 2, weight: 99 })] });
    expect(names(explorationOrder(w, undefined, false))).toEqual(['A1>B1', 'A1>B2']);
  });

  it('the difference from the failed pair ranks before the preferences', () => {
    const v = makeView({ lsPeer: [peerLoc(B1, { priority: 0 }), peerLoc(B2, { priority: 9 })] });
    expect(names(explorationOrder(v, PRIMARY, false))).toEqual(['A2>B2', 'A2>B1', 'A1>B2', 'A1>B1']);
  });

  it('RFC 6724 Rules 5 and 6: a peer locator of another label and lower precedence (2002::/16) comes after', () => {
    const six = ip('2002:c000:201::1');
    const v = makeView({ lsLocal: [A1], lsPeer: [peerLoc(B1), peerLoc(six)] });
    const order = explorationOrder(v, undefined, false);
    expect(order.map((p) => p.peer)).toEqual([B1, six]);
    const w = makeView({ lsLocal: [A1], lsPeer: [peerLoc(six), peerLoc(B1)] });
    expect(explorationOrder(w, undefined, false).map((p) => p.peer)).toEqual([B1, six]);
  });

  it('RFC 6724 Rule 9: the longer common prefix first, before the peer preferences', () => {
    const near = ip('2001:db8:a:1::2');
    const v = makeView({ lsLocal: [A1], lsPeer: [peerLoc(B1, { priority: 0 }), peerLoc(near, { priority: 5 })] });
    expect(explorationOrder(v, undefined, false).map((p) => p.peer)).toEqual([near, B1]);
  });

  it('§4.3: a link-local local address is not paired with global peer locators', () => {
    const linkLocal = ip('fe80::1');
    const v = makeView({ lsLocal: [A1, linkLocal] });
    const order = explorationOrder(v, PRIMARY, false);
    expect(order.filter((p) => p.local[0] === 0xfe)).toEqual([]);
    expect(names(order)).toEqual(['A1>B2', 'A1>B1']);
  });
});
