/**
 * Ingress (RFC 5533 §12.2): datagrams of the demux protocol (140 for the Payload
 * Extension header) as a raw socket delivers them, i.e. without their IPv6 header, with
 * source and destination in `batch.addrs`. The context is found by CT(local); its
 * locator sets must hold the source and destination (a forged or misdirected packet
 * with a guessed tag is dropped and counted, not delivered); then a fresh IPv6 header
 * with the ULIDs replaces the Payload Extension header, in place, and the packet is
 * ready to be written to the TUN for the local stack.
 *
 * Shim6 control messages (P = 0) are copied out to the controller; unknown tags are
 * counted and reported (the context engine answers them with R1bis, §7.17), at most
 * `reportBudget` reports per batch so a flood cannot turn into a flood of callbacks.
 *
 * No allocation on the payload path.
 */
import { ADDRS_STRIDE, INFO_FLOW_LABEL, INFO_HOP_LIMIT, INFO_STRIDE, INFO_TCLASS, type PacketBatch } from '../io/batch.js';
import { C, inLocatorSet, type FastPathTable } from './fastpath.js';
import { CLASSIFY_CONTROL, CLASSIFY_MALFORMED, CLASSIFY_UNKNOWN, type Demux } from './demux.js';
import type { DataPlaneEvents } from './types.js';

export interface IngressReports {
  readonly events: DataPlaneEvents;
  /** How many unknown-tag and control reports one batch may still make. */
  budget: number;
}

/** Restores the ULIDs of `batch`'s datagrams in place; returns the number left to deliver. */
export function processIngress(batch: PacketBatch, table: FastPathTable, demux: Demux, g: Float64Array, reports: IngressReports): number {
  const b = batch.buffer;
  const a = batch.addrs;
  const overhead = demux.overhead;
  let out = 0;
  for (let i = 0; i < batch.count; i++) {
    const off = batch.offsets[i]!;
    const len = batch.lengths[i]!;
    const src = i * ADDRS_STRIDE;
    const dst = src + 16;
    if (len < 0) {
      g[C.dropMalformed]!++; // truncated by the socket: larger than a slot
      continue;
    }
    const index = demux.classify(table, b, off, len);
    if (index === CLASSIFY_CONTROL) {
      g[C.controlReceived]!++;
      if (reports.events.control !== undefined && reports.budget > 0) {
        reports.budget--;
        reports.events.control(a.slice(src, src + 16), a.slice(dst, dst + 16), b.slice(off, off + len));
      }
      continue;
    }
    if (index === CLASSIFY_MALFORMED) {
      g[C.dropMalformed]!++;
      continue;
    }
    if (index === CLASSIFY_UNKNOWN) {
      g[C.dropUnknownTag]!++;
      if (reports.events.unknownTag !== undefined && reports.budget > 0) {
        reports.budget--;
        reports.events.unknownTag(demux.lastTag, a.slice(src, src + 16), a.slice(dst, dst + 16));
      }
      continue;
    }
    const e = table.entry(index);
    if (!inLocatorSet(e.peerLocators, a, src) || !inLocatorSet(e.localLocators, a, dst)) {
      g[C.dropLocatorMismatch]!++;
      e.counters[C.dropLocatorMismatch]!++;
      continue;
    }
    // The packet the peer's application sent: a 40-octet header where the shim's
    // header ends, Next Header from the shim header, addresses back to the ULIDs.
    const payloadLength = len - overhead;
    const start = off + overhead - 40;
    if (start < i * batch.slotSize || payloadLength > 0xffff) {
      g[C.dropMalformed]!++;
      continue;
    }
    const nextHeader = b[off]!;
    const info = i * INFO_STRIDE;
    const tclass = batch.info[info + INFO_TCLASS]! & 0xff;
    const reported = batch.info[info + INFO_FLOW_LABEL]!;
    const flowLabel = reported < 0 ? 0 : reported & 0xfffff; // -1: the socket could not tell
    b[start] = 0x60 | (tclass >>> 4);
    b[start + 1] = ((tclass & 0x0f) << 4) | (flowLabel >>> 16);
    b[start + 2] = (flowLabel >>> 8) & 0xff;
    b[start + 3] = flowLabel & 0xff;
    b[start + 4] = payloadLength >>> 8;
    b[start + 5] = payloadLength & 0xff;
    b[start + 6] = nextHeader;
    b[start + 7] = batch.info[info + INFO_HOP_LIMIT]! & 0xff;
    b.set(e.peerUlid, start + 8);
    b.set(e.localUlid, start + 24);
    const total = payloadLength + 40;
    e.counters[C.ingressPackets]!++;
    e.counters[C.ingressBytes]! += total;
    g[C.ingressPackets]!++;
    g[C.ingressBytes]! += total;
    batch.offsets[out] = start;
    batch.lengths[out] = total;
    out++;
  }
  batch.count = out;
  return out;
}
