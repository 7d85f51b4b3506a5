/**
 * The fast-path table: the per-context state the packet path reads, and three lookups
 * that work straight off packet bytes without allocating:
 *
 * - egress, by ULID pair (source, destination of what the application sent; RFC 5533
 *   §11: "if there is a ULID-pair context for the ULID pair");
 * - ingress, by CT(local), the Receiver Context Tag of a Payload Extension header
 *   (§12.2, §12.4);
 * - ICMP errors, by CT(peer) with the locator pair, the tuple §8 says is unique;
 * - experimental flow-label mode (issue #8): intercepted packets by (destination
 *   locator, flow label), the label this host allocated (`localFlowLabel`), and ICMP
 *   errors about packets sent in that mode by (peer locator, `peerFlowLabel`) with the
 *   local locator. These two hold one slot per locator of each entry that has a label.
 *
 * Each lookup is an open-addressing hash table of entry indexes (Int32Array, linear
 * probing, at most half full), rebuilt whenever a context is added or removed; that is a
 * control-plane event, so the packet path never sees a resize. Hashes mix the 32-bit
 * words of the key with Math.imul; every hit is confirmed by comparing the key octets.
 */
import { formatIpv6 } from '../wire/address.js';
import { COUNTERS, DataPlaneError, type CounterName, type FastPathContext } from './types.js';

/** Index of each counter in a Float64Array of COUNTERS.length. */
export const C: Readonly<Record<CounterName, number>> = Object.fromEntries(COUNTERS.map((name, i) => [name, i])) as Record<CounterName, number>;

/** The most contexts one table holds (the daemon's config limit is lower). */
export const MAX_CONTEXTS = 1 << 20;

export interface FastPathEntry {
  readonly name: string;
  readonly localUlid: Uint8Array;
  readonly peerUlid: Uint8Array;
  /** Ls(local) and Ls(peer), 16 octets each, concatenated. */
  readonly localLocators: Uint8Array;
  readonly peerLocators: Uint8Array;
  readonly localContextTag: number;
  readonly peerContextTag: number;
  /** Lp(local), Lp(peer): written in place by setCurrentPair. */
  readonly currentLocal: Uint8Array;
  readonly currentPeer: Uint8Array;
  /** Experimental (issue #8): the label we allocated for receiving, and the peer's; 0 = none. */
  readonly localFlowLabel: number;
  readonly peerFlowLabel: number;
  /** True when Lp differs from the ULIDs: packets need the §11.1 transformation. */
  rewrite: boolean;
  readonly counters: Float64Array;
}

function word(b: Uint8Array, off: number): number {
  return (b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!;
}

function mix(h: number, w: number): number {
  h = Math.imul(h ^ w, 0x9e3779b1);
  return h ^ (h >>> 15);
}

/** Hash of the two 16-octet addresses at `a` and `b` of `buf`. */
export function hashUlidPair(buf: Uint8Array, a: number, bufB: Uint8Array, b: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i += 4) h = mix(h, word(buf, a + i));
  for (let i = 0; i < 16; i += 4) h = mix(h, word(bufB, b + i));
  return h >>> 0;
}

/** Hash of a 47-bit context tag split into its high 15 and low 32 bits. */
export function hashTag(hi: number, lo: number): number {
  return mix(mix(0x2545f491, hi), lo) >>> 0;
}

/** Hash of the 16-octet address at `buf[off]` with a 20-bit flow label. */
export function hashLabel(buf: Uint8Array, off: number, label: number): number {
  let h = 0x3c6ef372;
  for (let i = 0; i < 16; i += 4) h = mix(h, word(buf, off + i));
  return mix(h, label) >>> 0;
}

export function tagHi(tag: number): number {
  return Math.floor(tag / 0x100000000) & 0x7fff;
}

export function tagLo(tag: number): number {
  return tag >>> 0;
}

/** The high 15 bits of the context tag of the Shim6 header at `off` (its low 32: readU32 at off + 4). */
export function tagHiAt(b: Uint8Array, off: number): number {
  return ((b[off + 2]! & 0x7f) << 8) | b[off + 3]!;
}

/** Compares 16 octets of `a` at `ao` with 16 of `b` at `bo`. */
export function equal16(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < 16; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/** True when the 16 octets at `b[off]` are one of the concatenated addresses in `set`. */
export function inLocatorSet(set: Uint8Array, b: Uint8Array, off: number): boolean {
  for (let s = 0; s < set.length; s += 16) if (equal16(set, s, b, off)) return true;
  return false;
}

function concat(addrs: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(addrs.length * 16);
  addrs.forEach((a, i) => out.set(a, i * 16));
  return out;
}

function checkAddress(what: string, a: Uint8Array): void {
  if (!(a instanceof Uint8Array) || a.length !== 16) throw new DataPlaneError('bad-context', `${what} must be a 16-octet IPv6 address`);
}

function checkTag(what: string, t: number): void {
  if (!Number.isInteger(t) || t < 0 || t > 2 ** 47 - 1) throw new DataPlaneError('bad-context', `${what} must be an integer 0..2^47-1, got ${t}`);
}

function checkLabel(what: string, l: number): void {
  if (!Number.isInteger(l) || l < 0 || l > 0xfffff) throw new DataPlaneError('bad-context', `${what} must be an integer 0..0xFFFFF, got ${l}`);
}

/** The size of an open-addressing table that stays at most half full with `count` keys. */
function tableSize(count: number): number {
  let size = 16;
  while (size < count * 2) size *= 2;
  return size;
}

export class FastPathTable {
  private entries: FastPathEntry[] = [];
  private readonly byName = new Map<string, number>();
  private byUlids = new Int32Array(16).fill(-1);
  private byLocalTag = new Int32Array(16).fill(-1);
  private byPeerTag = new Int32Array(16).fill(-1);
  /** (local locator, localFlowLabel): entry index, and the locator's offset in its localLocators. */
  private byLocalLabel = new Int32Array(16).fill(-1);
  private byLocalLabelAt = new Int32Array(16);
  /** (peer locator, peerFlowLabel): entry index, and the locator's offset in its peerLocators. */
  private byPeerLabel = new Int32Array(16).fill(-1);
  private byPeerLabelAt = new Int32Array(16);

  get size(): number {
    return this.entries.length;
  }

  entry(index: number): FastPathEntry {
    return this.entries[index]!;
  }

  indexOf(name: string): number {
    return this.byName.get(name) ?? -1;
  }

  all(): readonly FastPathEntry[] {
    return this.entries;
  }

  add(ctx: FastPathContext): FastPathEntry {
    if (this.byName.has(ctx.name)) throw new DataPlaneError('duplicate-context', `a context named ${ctx.name} exists`);
    if (this.entries.length >= MAX_CONTEXTS) throw new DataPlaneError('table-full', `the fast path holds at most ${MAX_CONTEXTS} contexts`);
    checkAddress('localUlid', ctx.localUlid);
    checkAddress('peerUlid', ctx.peerUlid);
    checkAddress('currentLocal', ctx.currentLocal);
    checkAddress('currentPeer', ctx.currentPeer);
    ctx.localLocators.forEach((a, i) => checkAddress(`localLocators[${i}]`, a));
    ctx.peerLocators.forEach((a, i) => checkAddress(`peerLocators[${i}]`, a));
    checkTag('localContextTag', ctx.localContextTag);
    checkTag('peerContextTag', ctx.peerContextTag);
    const localFlowLabel = ctx.localFlowLabel ?? 0;
    const peerFlowLabel = ctx.peerFlowLabel ?? 0;
    checkLabel('localFlowLabel', localFlowLabel);
    checkLabel('peerFlowLabel', peerFlowLabel);
    const localLocators = concat(ctx.localLocators);
    const peerLocators = concat(ctx.peerLocators);
    if (!inLocatorSet(localLocators, ctx.localUlid, 0)) throw new DataPlaneError('bad-context', 'localLocators must include the local ULID');
    if (!inLocatorSet(peerLocators, ctx.peerUlid, 0)) throw new DataPlaneError('bad-context', 'peerLocators must include the peer ULID');
    if (!inLocatorSet(localLocators, ctx.currentLocal, 0)) throw new DataPlaneError('bad-locator', 'currentLocal is not one of the local locators');
    if (!inLocatorSet(peerLocators, ctx.currentPeer, 0)) throw new DataPlaneError('bad-locator', 'currentPeer is not one of the peer locators');
    if (this.findUlidPair(ctx.localUlid, 0, ctx.peerUlid, 0) >= 0) throw new DataPlaneError('duplicate-ulid-pair', 'a context for this ULID pair exists');
    if (this.findLocalTag(tagHi(ctx.localContextTag), tagLo(ctx.localContextTag)) >= 0) {
      throw new DataPlaneError('duplicate-tag', `local context tag ${ctx.localContextTag} is in use`);
    }
    if (localFlowLabel !== 0) {
      for (let s = 0; s < localLocators.length; s += 16) {
        if (this.findLabel(localLocators, s, localFlowLabel) >= 0) {
          throw new DataPlaneError('duplicate-label', `flow label ${localFlowLabel} is in use on local locator ${formatIpv6(localLocators.subarray(s, s + 16))}`);
        }
      }
    }
    const entry: FastPathEntry = {
      name: ctx.name,
      localUlid: ctx.localUlid.slice(),
      peerUlid: ctx.peerUlid.slice(),
      localLocators,
      peerLocators,
      localContextTag: ctx.localContextTag,
      peerContextTag: ctx.peerContextTag,
      localFlowLabel,
      peerFlowLabel,
      currentLocal: ctx.currentLocal.slice(),
      currentPeer: ctx.currentPeer.slice(),
      rewrite: false,
      counters: new Float64Array(COUNTERS.length),
    };
    entry.rewrite = !equal16(entry.currentLocal, 0, entry.localUlid, 0) || !equal16(entry.currentPeer, 0, entry.peerUlid, 0);
    this.entries.push(entry);
    this.byName.set(entry.name, this.entries.length - 1);
    this.rebuild();
    return entry;
  }

  remove(name: string): FastPathEntry {
    const index = this.indexOf(name);
    if (index < 0) throw new DataPlaneError('unknown-context', `no context named ${name}`);
    const [entry] = this.entries.splice(index, 1);
    this.byName.clear();
    this.entries.forEach((e, i) => this.byName.set(e.name, i));
    this.rebuild();
    return entry!;
  }

  /** Switches Lp(local), Lp(peer) in place; the next packet uses them. */
  setCurrentPair(name: string, local: Uint8Array, peer: Uint8Array): FastPathEntry {
    const index = this.indexOf(name);
    if (index < 0) throw new DataPlaneError('unknown-context', `no context named ${name}`);
    const e = this.entries[index]!;
    checkAddress('local', local);
    checkAddress('peer', peer);
    if (!inLocatorSet(e.localLocators, local, 0)) throw new DataPlaneError('bad-locator', 'not one of the context\'s local locators');
    if (!inLocatorSet(e.peerLocators, peer, 0)) throw new DataPlaneError('bad-locator', 'not one of the context\'s peer locators');
    e.currentLocal.set(local);
    e.currentPeer.set(peer);
    e.rewrite = !equal16(local, 0, e.localUlid, 0) || !equal16(peer, 0, e.peerUlid, 0);
    return e;
  }

  /** The entry whose ULIDs are (src at b[srcOff], dst at b[dstOff]), or -1. */
  findUlidPair(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): number {
    const t = this.byUlids;
    const mask = t.length - 1;
    for (let slot = hashUlidPair(src, srcOff, dst, dstOff) & mask; ; slot = (slot + 1) & mask) {
      const i = t[slot]!;
      if (i < 0) return -1;
      const e = this.entries[i]!;
      if (equal16(e.localUlid, 0, src, srcOff) && equal16(e.peerUlid, 0, dst, dstOff)) return i;
    }
  }

  /** The entry whose CT(local) is the tag (hi 15 bits, lo 32 bits), or -1. */
  findLocalTag(hi: number, lo: number): number {
    const t = this.byLocalTag;
    const mask = t.length - 1;
    for (let slot = hashTag(hi, lo) & mask; ; slot = (slot + 1) & mask) {
      const i = t[slot]!;
      if (i < 0) return -1;
      const e = this.entries[i]!;
      if (tagLo(e.localContextTag) === lo >>> 0 && tagHi(e.localContextTag) === hi) return i;
    }
  }

  /**
   * The entry with CT(peer) = tag whose locator sets hold `local` (one of ours) and
   * `peer`, or -1 (RFC 5533 §8: <Source Locator, Destination Locator, CT(peer)>).
   */
  findPeerTag(hi: number, lo: number, local: Uint8Array, localOff: number, peer: Uint8Array, peerOff: number): number {
    const t = this.byPeerTag;
    const mask = t.length - 1;
    for (let slot = hashTag(hi, lo) & mask; ; slot = (slot + 1) & mask) {
      const i = t[slot]!;
      if (i < 0) return -1;
      const e = this.entries[i]!;
      if (tagLo(e.peerContextTag) === lo >>> 0 && tagHi(e.peerContextTag) === hi &&
          inLocatorSet(e.localLocators, local, localOff) && inLocatorSet(e.peerLocators, peer, peerOff)) return i;
    }
  }

  /**
   * The entry whose localFlowLabel is `label` (nonzero) and whose local locators hold the
   * 16 octets at `dst[dstOff]`, or -1: the context of an intercepted packet (issue #8).
   */
  findLabel(dst: Uint8Array, dstOff: number, label: number): number {
    const t = this.byLocalLabel;
    const mask = t.length - 1;
    for (let slot = hashLabel(dst, dstOff, label) & mask; ; slot = (slot + 1) & mask) {
      const i = t[slot]!;
      if (i < 0) return -1;
      const e = this.entries[i]!;
      if (e.localFlowLabel === label && equal16(e.localLocators, this.byLocalLabelAt[slot]!, dst, dstOff)) return i;
    }
  }

  /**
   * The entry whose peerFlowLabel is `label` (nonzero) with `peer` among its peer
   * locators and `local` among its local ones, or -1: the context of a packet sent in
   * flow-label mode, quoted in an ICMPv6 error (the analogue of findPeerTag).
   */
  findPeerLabel(local: Uint8Array, localOff: number, peer: Uint8Array, peerOff: number, label: number): number {
    const t = this.byPeerLabel;
    const mask = t.length - 1;
    for (let slot = hashLabel(peer, peerOff, label) & mask; ; slot = (slot + 1) & mask) {
      const i = t[slot]!;
      if (i < 0) return -1;
      const e = this.entries[i]!;
      if (e.peerFlowLabel === label && equal16(e.peerLocators, this.byPeerLabelAt[slot]!, peer, peerOff) &&
          inLocatorSet(e.localLocators, local, localOff)) return i;
    }
  }

  private rebuild(): void {
    const size = tableSize(this.entries.length);
    this.byUlids = new Int32Array(size).fill(-1);
    this.byLocalTag = new Int32Array(size).fill(-1);
    this.byPeerTag = new Int32Array(size).fill(-1);
    const mask = size - 1;
    const place = (t: Int32Array, h: number, i: number): void => {
      let slot = h & mask;
      while (t[slot]! >= 0) slot = (slot + 1) & mask;
      t[slot] = i;
    };
    this.entries.forEach((e, i) => {
      place(this.byUlids, hashUlidPair(e.localUlid, 0, e.peerUlid, 0), i);
      place(this.byLocalTag, hashTag(tagHi(e.localContextTag), tagLo(e.localContextTag)), i);
      place(this.byPeerTag, hashTag(tagHi(e.peerContextTag), tagLo(e.peerContextTag)), i);
    });
    let localSlots = 0;
    let peerSlots = 0;
    for (const e of this.entries) {
      if (e.localFlowLabel !== 0) localSlots += e.localLocators.length / 16;
      if (e.peerFlowLabel !== 0) peerSlots += e.peerLocators.length / 16;
    }
    const local = tableSize(localSlots);
    const peer = tableSize(peerSlots);
    this.byLocalLabel = new Int32Array(local).fill(-1);
    this.byLocalLabelAt = new Int32Array(local);
    this.byPeerLabel = new Int32Array(peer).fill(-1);
    this.byPeerLabelAt = new Int32Array(peer);
    const placeAt = (t: Int32Array, at: Int32Array, h: number, i: number, off: number): void => {
      const m = t.length - 1;
      let slot = h & m;
      while (t[slot]! >= 0) slot = (slot + 1) & m;
      t[slot] = i;
      at[slot] = off;
    };
    this.entries.forEach((e, i) => {
      if (e.localFlowLabel !== 0) {
        for (let s = 0; s < e.localLocators.length; s += 16) placeAt(this.byLocalLabel, this.byLocalLabelAt, hashLabel(e.localLocators, s, e.localFlowLabel), i, s);
      }
      if (e.peerFlowLabel !== 0) {
        for (let s = 0; s < e.peerLocators.length; s += 16) placeAt(this.byPeerLabel, this.byPeerLabelAt, hashLabel(e.peerLocators, s, e.peerFlowLabel), i, s);
      }
    });
  }
}
