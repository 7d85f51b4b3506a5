/**
 * ICMPv6 errors (RFC 4443) about packets the shim rewrote, translated back for the
 * upper layers (RFC 5533 §8, Figure 9). The "packet in error" such an error carries is
 * the rewritten packet: locators in its address fields and a Payload Extension header
 * with CT(peer). The context is the one with <Source Locator, Destination Locator,
 * CT(peer)> (§8); its ULIDs go back into the address fields, the Payload Extension
 * header comes out, a Packet Too Big's MTU drops by the 8 octets the shim adds (§8), an
 * RFC 4884 length attribute shrinks by the one 64-bit word removed, and a Parameter
 * Problem pointer past the shim header moves back by 8. The result goes to the TUN
 * addressed to ULID(local), with the ICMPv6 checksum recomputed over the new
 * pseudo-header, so TCP and UDP see errors for their own flows.
 *
 * All four error types are delivered: the shim does not act on any of them yet (REAP
 * will), and §8 says errors MUST reach the ULP unless the shim acted on them. Errors
 * about packets the shim did not rewrite are not ours: the kernel already delivered
 * them, and they are skipped without counting. A Parameter Problem pointing into the
 * shim header itself concerns the shim only and is dropped (§8: not passed to the ULP).
 *
 * Packets sent in the experimental flow-label mode (issue #8) carry no Payload Extension
 * header: their packet in error is matched by <Source Locator, Destination Locator, Flow
 * Label = the peer's allocated label> instead (FastPathTable.findPeerLabel), and only its
 * addresses go back to the ULIDs (its Flow Label is left as sent: the application's own
 * label was not kept); the MTU, length attribute and pointer stay, since nothing was
 * inserted. A flow of our own between the same locators whose stack happened to pick
 * that label (1 in 2^20) gets, besides the kernel's copy, one re-addressed to the ULIDs,
 * which only a socket on the ULID pair with the same ports could take for its own. An
 * error about an unlabelled packet, or one no context's label matches, is not ours and
 * is skipped without counting.
 *
 * In place, no allocation. Needs 40 octets of headroom (a 40-octet IPv6 header goes in
 * front: in place of the 8 removed from the packet in error, or of nothing).
 */
import { ADDRS_STRIDE, INFO_HOP_LIMIT, INFO_STRIDE, INFO_TCLASS, type PacketBatch } from '../io/batch.js';
import { foldChecksum, readU32, sumWords, writeU32 } from '../wire/bytes.js';
import { locateResult, locateShim6 } from '../wire/exthdr.js';
import { C, equal16, tagHiAt, type FastPathEntry, type FastPathTable } from './fastpath.js';

export const ICMP6_DST_UNREACH = 1;
export const ICMP6_PACKET_TOO_BIG = 2;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_PARAM_PROB = 4;
export const IPPROTO_ICMPV6 = 58;
/** RFC 8200 §5: the minimum link MTU, the floor of a translated Packet Too Big. */
export const IPV6_MIN_MTU = 1280;

/**
 * The ICMPv6 checksum (RFC 4443 §2.3) of the message at b[start, start+len), with the
 * pseudo-header of source `src[srcOff..]` and destination `dst[dstOff..]`.
 */
export function icmpv6Checksum(b: Uint8Array, start: number, len: number, src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): number {
  let sum = sumWords(src, srcOff, srcOff + 16, 0);
  sum = sumWords(dst, dstOff, dstOff + 16, sum);
  sum += Math.floor(len / 0x10000) + (len & 0xffff) + IPPROTO_ICMPV6;
  return foldChecksum(sumWords(b, start, start + len, sum));
}

/**
 * Translates `batch`'s ICMPv6 errors in place; returns how many to deliver to the TUN.
 * Errors about a Shim6 control message (P = 0) are not for the ULP: their slot index goes
 * to `onControlError` (the context engine wants a Parameter Problem about its I1, RFC 5533
 * §7.8) before the batch is compacted.
 */
export function processIcmpErrors(batch: PacketBatch, table: FastPathTable, g: Float64Array, onControlError?: (slot: number) => void): number {
  const b = batch.buffer;
  const a = batch.addrs;
  let out = 0;
  for (let i = 0; i < batch.count; i++) {
    const off = batch.offsets[i]!;
    const len = batch.lengths[i]!;
    const type = b[off]!;
    if (len < 8 + 40 + 8 || type < ICMP6_DST_UNREACH || type > ICMP6_PARAM_PROB) continue;
    const inner = off + 8;
    const innerLen = len - 8;
    if ((b[inner]! >>> 4) !== 6) continue;
    const shim = locateShim6(b, inner, innerLen);
    let e: FastPathEntry;
    let icmp: number; // where the ICMPv6 header ends up
    if (shim >= 0) {
      if ((b[shim + 2]! & 0x80) === 0) { // a control message of ours in error, not a rewritten payload packet
        onControlError?.(i);
        continue;
      }
      const nhOff = locateResult[1]!;
      const index = table.findPeerTag(tagHiAt(b, shim), readU32(b, shim + 4), b, inner + 8, b, inner + 24);
      if (index < 0) {
        g[C.dropIcmpUnmatched]!++;
        continue;
      }
      e = table.entry(index);
      const shimRel = shim - inner;
      if (type === ICMP6_PARAM_PROB) {
        const pointer = readU32(b, off + 4);
        if (pointer >= shimRel && pointer < shimRel + 8) {
          g[C.dropIcmpUnmatched]!++; // about the shim header itself: not for the ULP (§8)
          e.counters[C.dropIcmpUnmatched]!++;
          continue;
        }
        if (pointer >= shimRel + 8) writeU32(b, off + 4, pointer - 8);
      } else if (type === ICMP6_PACKET_TOO_BIG) {
        writeU32(b, off + 4, Math.max(IPV6_MIN_MTU, readU32(b, off + 4) - 8));
      } else if (b[off + 4] !== 0) {
        b[off + 4] = b[off + 4]! - 1; // RFC 4884 length, in 64-bit words, of the packet in error
      }
      // Remove the Payload Extension header from the packet in error (as §12.2 does for
      // payloads): restore Next Header, shrink Payload Length, slide the front forward.
      b[nhOff] = b[shim]!;
      const innerPayload = (b[inner + 4]! << 8) | b[inner + 5]!;
      const shrunk = innerPayload >= 8 ? innerPayload - 8 : 0;
      b[inner + 4] = shrunk >>> 8;
      b[inner + 5] = shrunk & 0xff;
      b.copyWithin(inner + 8, inner, shim);
      const newInner = inner + 8;
      b.set(e.localUlid, newInner + 8);
      b.set(e.peerUlid, newInner + 24);
      b.copyWithin(off + 8, off, off + 8); // the ICMPv6 header follows
      icmp = off + 8;
    } else {
      // Perhaps sent in flow-label mode (issue #8): no header to find the context by, but
      // the peer's label with the locator pair. Nothing was inserted, so nothing comes
      // out and no MTU, length or pointer changes; only the ULIDs go back.
      const label = ((b[inner + 1]! & 0x0f) << 16) | (b[inner + 2]! << 8) | b[inner + 3]!;
      const index = label === 0 ? -1 : table.findPeerLabel(b, inner + 8, b, inner + 24, label);
      if (index < 0) continue; // not a packet the shim rewrote
      e = table.entry(index);
      if (equal16(e.localUlid, 0, b, inner + 8) && equal16(e.peerUlid, 0, b, inner + 24)) continue; // on the ULID pair: not rewritten
      b.set(e.localUlid, inner + 8);
      b.set(e.peerUlid, inner + 24);
      icmp = off;
    }
    const icmpLen = off + len - icmp;
    const start = icmp - 40;
    if (start < i * batch.slotSize) {
      g[C.dropMalformed]!++;
      continue;
    }
    const src = i * ADDRS_STRIDE;
    const info = i * INFO_STRIDE;
    const tclass = batch.info[info + INFO_TCLASS]! & 0xff;
    b[start] = 0x60 | (tclass >>> 4);
    b[start + 1] = (tclass & 0x0f) << 4;
    b[start + 2] = 0;
    b[start + 3] = 0;
    b[start + 4] = icmpLen >>> 8;
    b[start + 5] = icmpLen & 0xff;
    b[start + 6] = IPPROTO_ICMPV6;
    b[start + 7] = batch.info[info + INFO_HOP_LIMIT]! & 0xff;
    for (let k = 0; k < 16; k++) b[start + 8 + k] = a[src + k]!; // the error's sender
    b.set(e.localUlid, start + 24);
    b[icmp + 2] = 0;
    b[icmp + 3] = 0;
    const sum = icmpv6Checksum(b, icmp, icmpLen, b, start + 8, e.localUlid, 0);
    b[icmp + 2] = sum >>> 8;
    b[icmp + 3] = sum & 0xff;
    g[C.icmpTranslated]!++;
    e.counters[C.icmpTranslated]!++;
    batch.offsets[out] = start;
    batch.lengths[out] = icmpLen + 40;
    out++;
  }
  batch.count = out;
  return out;
}
