/**
 * Ingress of the experimental flow-label mode (issue #8): the receiving half of
 * egress.ts's flow-label rewrite. A peer that learnt our label for a context
 * (`localFlowLabel`) sends the context's packets on a non-ULID locator pair with that
 * label in the IPv6 Flow Label field (RFC 6437 §2) instead of a Payload Extension header
 * (RFC 5533 §5.2). The host's ingress path (an nftables netdev `fwd`, set up elsewhere)
 * redirects packets whose (destination, flow label) is one we allocated into a second
 * TUN, the intercept TUN; this module gets what that TUN reads: whole IPv6 packets.
 *
 * The context is the one whose localFlowLabel is the packet's label and whose local
 * locators hold its destination; its peer locators must hold the source. Then, as RFC
 * 5533 §12.2 does for the explicit tag, the ULIDs go back in place: Source ← ULID(peer),
 * Destination ← ULID(local). The Flow Label becomes 0: the label the peer's application
 * stack chose was overwritten by its shim and is not carried across a rewrite. The Hop
 * Limit goes up by one (below 255), undoing the decrement of the nftables `fwd`, so the
 * upper layer sees what it would have without the detour.
 *
 * The nft match is a superset of what is ours (a flow between the same locators that
 * happens to use an allocated label, a packet from a source outside the context's peer
 * locators, a packet already on the ULID pair): such packets are left exactly as they
 * are and handed to the local stack, counted in interceptPassthrough; dropping them
 * would black-hole an unrelated flow. Truncated or inconsistent packets (shorter than 40
 * octets, version other than 6, Payload Length past the end) are counted in
 * dropMalformed and dropped; octets past Payload Length are trimmed.
 *
 * No extension-header walk: only the fixed header is read or written, so the position
 * of any extension header does not matter. Upper-layer checksums are computed over the
 * ULIDs (RFC 5533 §11.1) and hold once they are restored.
 *
 * In place, no allocation; the batch is compacted to the packets to deliver.
 */
import type { PacketBatch } from '../io/batch.js';
import { ipv6PacketLength } from '../wire/ipv6.js';
import { C, equal16, inLocatorSet, type FastPathTable } from './fastpath.js';

/** Restores the ULIDs of `batch`'s intercepted packets in place; returns the number left to deliver. */
export function processFlowLabelIngress(batch: PacketBatch, table: FastPathTable, g: Float64Array): number {
  const b = batch.buffer;
  let out = 0;
  for (let i = 0; i < batch.count; i++) {
    const start = batch.offsets[i]!;
    // Anything past Payload Length is not part of the packet; a length of -1 (larger than a slot) is malformed too.
    const len = ipv6PacketLength(b, start, batch.lengths[i]!);
    if (len < 0) {
      g[C.dropMalformed]!++;
      continue;
    }
    const label = ((b[start + 1]! & 0x0f) << 16) | (b[start + 2]! << 8) | b[start + 3]!;
    const index = label === 0 ? -1 : table.findLabel(b, start + 24, label);
    const e = index < 0 ? undefined : table.entry(index);
    if (e !== undefined && inLocatorSet(e.peerLocators, b, start + 8) &&
        !(equal16(e.peerUlid, 0, b, start + 8) && equal16(e.localUlid, 0, b, start + 24))) {
      b[start + 1] = b[start + 1]! & 0xf0;
      b[start + 2] = 0;
      b[start + 3] = 0;
      const hopLimit = b[start + 7]!;
      if (hopLimit < 255) b[start + 7] = hopLimit + 1;
      b.set(e.peerUlid, start + 8);
      b.set(e.localUlid, start + 24);
      e.counters[C.ingressPackets]!++;
      e.counters[C.ingressBytes]! += len;
      e.counters[C.ingressFlowLabel]!++;
      g[C.ingressPackets]!++;
      g[C.ingressBytes]! += len;
      g[C.ingressFlowLabel]!++;
    } else {
      g[C.interceptPassthrough]!++;
    }
    batch.offsets[out] = start;
    batch.lengths[out] = len;
    out++;
  }
  batch.count = out;
  return out;
}
