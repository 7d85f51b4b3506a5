/**
 * The order in which REAP tries address pairs (RFC 5534 §4.3).
 *
 * Candidates are Ls(local) × Ls(peer) with the local address locally operational (§3.2)
 * and the peer's verified (RFC 5533 §7.2; the ULID needs no proof) and not marked BROKEN
 * (RFC 5533 §5.15.3). They are ranked by, in order:
 *
 * 1. How much a pair differs from the one that failed. Analyses of Shim6 failover (the
 *    design discussions behind RFC 5534, and RFC 6629 §4) recommend trying the pair most
 *    different from the failed one first; when the failure looks local (the local link or
 *    address went away) a pair that changes the local locator and keeps the peer's comes
 *    first, since the peer side is probably fine.
 * 2. RFC 6724 §6 destination rules that apply to a fixed source: prefer a matching label
 *    (Rule 5), then higher precedence (Rule 6), then the longest matching prefix between
 *    source and destination (Rule 9), with the default policy table of §2.1.
 * 3. The peer's Locator Preferences: lower Priority first, then higher Weight (RFC 5533
 *    §5.15.3: "the same semantics as ... DNS SRV records").
 * 4. Our own preferences, by the same rule.
 * 5. The order of the lists, so the result is deterministic.
 *
 * The failed pair itself comes last: it is retried too (§4.3 "retry the process as
 * necessary"), since it may come back.
 */
import { bytesEqual } from '../wire/bytes.js';
import { LocatorFlag } from '../wire/constants.js';
import type { LocatorPreference } from '../wire/options/index.js';
import type { LocatorPair } from './types.js';

/** One row of the RFC 6724 §2.1 policy table. */
export interface PolicyEntry {
  readonly prefix: Uint8Array;
  readonly length: number;
  readonly precedence: number;
  readonly label: number;
}

function row(hex: string, length: number, precedence: number, label: number): PolicyEntry {
  const prefix = new Uint8Array(16);
  for (let i = 0; i < hex.length / 2; i++) prefix[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return { prefix, length, precedence, label };
}

/** RFC 6724 §2.1, the default policy table. */
export const DEFAULT_POLICY_TABLE: readonly PolicyEntry[] = [
  row('00000000000000000000000000000001', 128, 50, 0),
  row('', 0, 40, 1),
  row('00000000000000000000ffff', 96, 35, 4),
  row('2002', 16, 30, 2),
  row('20010000', 32, 5, 5),
  row('fc', 7, 3, 13),
  row('', 96, 1, 3),
  row('fec0', 10, 1, 11),
  row('3ffe', 16, 1, 12),
];

/** Leading bits `a` and `b` share, 0..128 (RFC 6724 §2.2 CommonPrefixLen, over all 128 bits as §5 Rule 8 of RFC 3484 did). */
export function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 16; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return 128;
}

/** The longest-matching row of `table` for `a`. */
export function policyOf(a: Uint8Array, table: readonly PolicyEntry[] = DEFAULT_POLICY_TABLE): PolicyEntry {
  let best: PolicyEntry | undefined;
  for (const e of table) {
    if (commonPrefixLength(a, e.prefix) >= e.length && (best === undefined || e.length > best.length)) best = e;
  }
  return best ?? DEFAULT_POLICY_TABLE[1]!;
}

/** fe80::/10 (RFC 4291 §2.5.6). */
export function isLinkLocal(a: Uint8Array): boolean {
  return a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;
}

/** What the ranking reads from a context: ShimContext satisfies it. */
export interface PairSets {
  readonly ulidLocal: Uint8Array;
  readonly ulidPeer: Uint8Array;
  readonly lsLocal: readonly { readonly address: Uint8Array }[];
  readonly prefsLocal: readonly LocatorPreference[] | undefined;
  readonly lsPeer: readonly { readonly address: Uint8Array; readonly verified: boolean; readonly flags: number; readonly priority?: number; readonly weight?: number }[];
}

interface Candidate {
  readonly pair: LocatorPair;
  readonly klass: number;
  readonly labelMatch: number;
  readonly precedence: number;
  readonly prefix: number;
  readonly peerPriority: number;
  readonly peerWeight: number;
  readonly localPriority: number;
  readonly index: number;
}

function uniqueAddresses(first: Uint8Array, rest: readonly Uint8Array[]): Uint8Array[] {
  const out = [first];
  for (const a of rest) if (!out.some((x) => bytesEqual(x, a))) out.push(a);
  return out;
}

/** Local candidates: Ls(local) (the ULID first), locally operational only unless none is. */
export function localCandidates(sets: PairSets, operational: (a: Uint8Array) => boolean): Uint8Array[] {
  const all = uniqueAddresses(sets.ulidLocal, sets.lsLocal.map((l) => l.address));
  const up = all.filter(operational);
  return up.length > 0 ? up : all;
}

/** Peer candidates: the ULID and the verified members of Ls(peer) not marked BROKEN. */
export function peerCandidates(sets: PairSets): Uint8Array[] {
  const usable = sets.lsPeer.filter((l) => (l.verified || bytesEqual(l.address, sets.ulidPeer)) && (l.flags & LocatorFlag.BROKEN) === 0).map((l) => l.address);
  const brokenUlid = sets.lsPeer.some((l) => bytesEqual(l.address, sets.ulidPeer) && (l.flags & LocatorFlag.BROKEN) !== 0);
  if (usable.length === 0) return [sets.ulidPeer];
  return brokenUlid ? usable : uniqueAddresses(sets.ulidPeer, usable);
}

function differenceClass(pair: LocatorPair, failed: LocatorPair | undefined, localFailure: boolean): number {
  if (failed === undefined) return 0;
  const sameLocal = bytesEqual(pair.local, failed.local);
  const samePeer = bytesEqual(pair.peer, failed.peer);
  if (sameLocal && samePeer) return 3;
  if (!sameLocal && !samePeer) return localFailure ? 1 : 0;
  if (!sameLocal) return localFailure ? 0 : 1;
  return 2;
}

function peerPreference(sets: PairSets, peer: Uint8Array): { priority: number; weight: number } {
  const l = sets.lsPeer.find((x) => bytesEqual(x.address, peer));
  return { priority: l?.priority ?? 0, weight: l?.weight ?? 0 };
}

function localPriority(sets: PairSets, local: Uint8Array): number {
  if (sets.prefsLocal === undefined) return 0;
  const i = sets.lsLocal.findIndex((l) => bytesEqual(l.address, local));
  return i < 0 ? 0 : sets.prefsLocal[i]?.priority ?? 0;
}

/**
 * Every candidate pair, best first. `failed` is the pair that stopped working (undefined:
 * rank by preference alone); `localFailure` says the failure looks local.
 */
export function explorationOrder(
  sets: PairSets,
  failed: LocatorPair | undefined,
  localFailure: boolean,
  operational: (a: Uint8Array) => boolean = () => true,
  table: readonly PolicyEntry[] = DEFAULT_POLICY_TABLE,
): LocatorPair[] {
  const locals = localCandidates(sets, operational);
  const peers = peerCandidates(sets);
  const cands: Candidate[] = [];
  let index = 0;
  for (const local of locals) {
    const src = policyOf(local, table);
    for (const peer of peers) {
      // §4.3: prune inappropriate combinations, "such as ... a link-local address when
      // contacting a peer that uses a global unicast address" (RFC 6724 §5 Rule 2, scope).
      if (isLinkLocal(local) !== isLinkLocal(peer)) continue;
      const dst = policyOf(peer, table);
      const pref = peerPreference(sets, peer);
      cands.push({
        pair: { local, peer },
        klass: differenceClass({ local, peer }, failed, localFailure),
        labelMatch: src.label === dst.label ? 0 : 1,
        precedence: dst.precedence,
        prefix: commonPrefixLength(local, peer),
        peerPriority: pref.priority,
        peerWeight: pref.weight,
        localPriority: localPriority(sets, local),
        index: index++,
      });
    }
  }
  // Nothing left after pruning (only mismatched scopes): keep the ULID pair, so there is always one.
  if (cands.length === 0) return [{ local: sets.ulidLocal, peer: sets.ulidPeer }];
  cands.sort((a, b) =>
    a.klass - b.klass
    || a.labelMatch - b.labelMatch
    || b.precedence - a.precedence
    || b.prefix - a.prefix
    || a.peerPriority - b.peerPriority
    || b.peerWeight - a.peerWeight
    || a.localPriority - b.localPriority
    || a.index - b.index);
  return cands.map((c) => c.pair);
}

export function samePair(a: LocatorPair, b: LocatorPair): boolean {
  return bytesEqual(a.local, b.local) && bytesEqual(a.peer, b.peer);
}
