/**
 * Egress (RFC 5533 §11, §11.1): packets the applications sent from ULID(local) to
 * ULID(peer), read from the TUN. For a context whose current locator pair differs from
 * its ULIDs, the demux header goes in (the Payload Extension header, placed per §4.6)
 * and the IPv6 Source and Destination become Lp(local), Lp(peer). Upper-layer checksums
 * are left alone: they are computed over the ULIDs, which the receiver restores (§11.1,
 * "this MUST NOT cause any recalculation of the ULP checksums").
 *
 * Flow-label mode (issue #8, experimental; RFC 6437 for the flow label): when the peer
 * allocated a flow label for the context (`peerFlowLabel`), no header goes in. The label
 * is written into the 20-bit Flow Label field (RFC 6437 §2; version and traffic class
 * are kept) and the addresses become Lp(local), Lp(peer), so the packet keeps its
 * length; the peer's kernel steers packets with that label into its intercept TUN, where
 * flow-label.ts restores the ULIDs. Deliberate deviations: from RFC 5533 §11.1, which
 * always inserts the Payload Extension header; and from RFC 6437 §3's "SHOULD assign
 * each unrelated transport connection ... to a new flow": all rewritten flows of a
 * context carry the one label the peer allocated (load balancers still hash it with the
 * 5-tuple, §2). The shim is part of the source node here, so this is not the en-route
 * change §2 forbids; the label the application's stack chose is not carried across (the
 * receiver delivers label 0). Flows on the ULID pair are untouched and keep their own
 * label.
 *
 * A packet with no context, or whose context uses the ULIDs as locators, leaves as it
 * came (§11: "there is no effect on how ULP packets are sent"); it only reaches the TUN
 * when a route sent it there, e.g. a second local ULID talking to a peer whose route
 * points into the TUN.
 *
 * Works in place on the batch and compacts it to the packets to send. No allocation.
 */
import type { PacketBatch } from '../io/batch.js';
import { ipv6PacketLength } from '../wire/ipv6.js';
import { C, type FastPathTable } from './fastpath.js';
import type { Demux } from './demux.js';
import { RetransmitVerdict, type RetransmitDetector } from './retransmit.js';

/**
 * Rewrites `batch` in place for sending; returns the number of packets left in it. With a
 * `detector`, TCP retransmissions on a context are counted in its `egressRetransmits`
 * (the daemon turns increases into REAP's upper-layer hint).
 */
export function processEgress(batch: PacketBatch, table: FastPathTable, demux: Demux, g: Float64Array, detector?: RetransmitDetector): number {
  const b = batch.buffer;
  let out = 0;
  for (let i = 0; i < batch.count; i++) {
    let start = batch.offsets[i]!;
    // Anything past Payload Length is not part of the packet.
    let len = ipv6PacketLength(b, start, batch.lengths[i]!);
    if (len < 0) {
      g[C.dropMalformed]!++;
      continue;
    }
    const index = table.findUlidPair(b, start + 8, b, start + 24);
    if (index < 0) {
      g[C.egressPassthrough]!++;
    } else {
      const e = table.entry(index);
      if (detector !== undefined && detector.observeEgress(b, start, len) === RetransmitVerdict.Retransmit) {
        g[C.egressRetransmits]!++;
        e.counters[C.egressRetransmits]!++;
      }
      if (e.rewrite) {
        if (e.peerFlowLabel !== 0) {
          // Flow-label mode: the peer's label in place of the application's, no header.
          const label = e.peerFlowLabel;
          b[start + 1] = (b[start + 1]! & 0xf0) | (label >>> 16);
          b[start + 2] = (label >>> 8) & 0xff;
          b[start + 3] = label & 0xff;
          g[C.egressFlowLabel]!++;
          e.counters[C.egressFlowLabel]!++;
        } else {
          const newStart = demux.encapsulate(b, start, len, e);
          if (newStart < 0) {
            g[C.dropMalformed]!++;
            e.counters[C.dropMalformed]!++;
            continue;
          }
          start = newStart;
          len += demux.overhead;
        }
        b.set(e.currentLocal, start + 8);
        b.set(e.currentPeer, start + 24);
        g[C.egressRewritten]!++;
        e.counters[C.egressRewritten]!++;
      }
      e.counters[C.egressPackets]!++;
      e.counters[C.egressBytes]! += len;
    }
    g[C.egressPackets]!++;
    g[C.egressBytes]! += len;
    batch.offsets[out] = start;
    batch.lengths[out] = len;
    out++;
  }
  batch.count = out;
  return out;
}
