/**
 * TCP/IPv6 segmentation and coalescing in userspace (GSO and GRO) for a TUN opened with
 * `vnetHdr` and `TunOffload.CSUM | TunOffload.TSO6`, over the addon's pure-compute
 * kernels (native/src/offload.c, which documents the kernel semantics it follows).
 *
 * Why: the kernel neither segments nor merges packets that carry a Shim6 header (no
 * offload handler for next header 140), and a raw socket cannot send a GSO packet
 * (LINUX-FACTS.md). So egress cuts each TSO super-packet the TUN hands up into
 * wire-sized TCP segments (`segmentInto`) before the Shim6 header goes in, and ingress
 * merges the restored segments back into super-packets (`coalesce`) so the TUN takes one
 * write per ~64 KiB instead of one per segment. A small packet with only a partial
 * checksum (vnet NEEDS_CSUM, gso NONE) is finished in place with `completeChecksum`.
 *
 * The virtio-net header (struct virtio_net_hdr, linux/virtio_net.h) is the 10 octets per
 * slot in `PacketBatch.vnet`, little-endian: flags (octet 0), gso_type (1), hdr_len
 * (2-3), gso_size (4-5), csum_start (6-7), csum_offset (8-9).
 *
 * Scope: TCP over IPv6 only (gso_type TCPV6, with or without the ECN flag); no IPv4, no
 * UDP segmentation offload, no IPv6 jumbograms. Nothing here allocates; the in and out
 * batches must be different batches (the addon refuses overlapping buffers).
 */
import type { PacketBatch } from './batch.js';
import { VNET_HDR_LEN } from './batch.js';
import { loadNative } from './native.js';

/**
 * virtio-net header values (linux/virtio_net.h), the addon's `virtio`, written out so
 * callers need no addon to read a header.
 */
export const VIRTIO = {
  /** flags: the checksum at csum_start + csum_offset holds only the pseudo-header sum. */
  NEEDS_CSUM: 1,
  /** flags: the checksum is known good (the kernel reports it on read, ignores it on write). */
  DATA_VALID: 2,
  /** gso_type: a plain packet. */
  GSO_NONE: 0,
  /** gso_type: TCP/IPv4 super-packet. */
  GSO_TCPV4: 1,
  /** gso_type: UDP fragmentation offload. */
  GSO_UDP: 3,
  /** gso_type: TCP/IPv6 super-packet, cut into gso_size payloads. */
  GSO_TCPV6: 4,
  /** gso_type flag: the super-packet carries CWR (ECN); only the first segment keeps it. */
  GSO_ECN: 0x80,
  /** Octets of the header (no num_buffers field). */
  HDR_LEN: 10,
} as const;

// Offsets inside one 10-octet virtio-net header.
const VNET_FLAGS = 0;
const VNET_GSO_TYPE = 1;
const VNET_CSUM_START = 6;
const VNET_CSUM_OFFSET = 8;

/** See `NativeAddon.tcpSegment`. */
export function tcpSegment(inBuf: Uint8Array, inOff: number, inLen: number, vnet: Uint8Array, vnetOff: number,
  outBuf: Uint8Array, outSlotSize: number, outHeadroom: number, outFirstSlot: number, outCapacity: number,
  outOffsets: Int32Array, outLengths: Int32Array): number {
  return loadNative().tcpSegment(inBuf, inOff, inLen, vnet, vnetOff, outBuf, outSlotSize, outHeadroom,
    outFirstSlot, outCapacity, outOffsets, outLengths);
}

/** See `NativeAddon.checksumComplete`. */
export function checksumComplete(buf: Uint8Array, off: number, len: number, csumStart: number, csumOffset: number): boolean {
  return loadNative().checksumComplete(buf, off, len, csumStart, csumOffset);
}

/** See `NativeAddon.tcpCoalesce`. */
export function tcpCoalesce(inBuf: Uint8Array, inOffsets: Int32Array, inLengths: Int32Array, inCount: number,
  outBuf: Uint8Array, outSlotSize: number, outHeadroom: number, outCapacity: number,
  outOffsets: Int32Array, outLengths: Int32Array, outVnet: Uint8Array): number {
  return loadNative().tcpCoalesce(inBuf, inOffsets, inLengths, inCount, outBuf, outSlotSize, outHeadroom,
    outCapacity, outOffsets, outLengths, outVnet);
}

function assertSlot(batch: PacketBatch, i: number, what: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= batch.capacity) {
    throw new RangeError(`${what}: slot ${i} is not in 0..${batch.capacity - 1}`);
  }
}

/** gso_type of packet i's vnet header, without the ECN flag (`VIRTIO.GSO_*`). */
export function gsoType(batch: PacketBatch, i: number): number {
  return batch.vnet[i * VNET_HDR_LEN + VNET_GSO_TYPE] & ~VIRTIO.GSO_ECN;
}

/** Whether packet i's vnet header says its checksum is partial (NEEDS_CSUM). */
export function needsChecksum(batch: PacketBatch, i: number): boolean {
  return (batch.vnet[i * VNET_HDR_LEN + VNET_FLAGS] & VIRTIO.NEEDS_CSUM) !== 0;
}

/**
 * Cuts packet i of `inBatch` (as read from a vnet-header TUN, its header in
 * `inBatch.vnet`) into wire-sized packets in `out`'s slots firstSlot, firstSlot+1, ...
 * (each at its slot's headroom, so the Shim6 header can go in front in place), and on
 * success sets `out.count = firstSlot + n`. Returns n, or -1 when the packet is malformed
 * or does not fit (see `NativeAddon.tcpSegment`; a packet read with length -1 counts as
 * malformed). A TCPV6 super-packet gives ceil(payload / gso_size) segments with full
 * checksums; a gso NONE packet is copied, its checksum completed when NEEDS_CSUM (for a
 * plain packet `completeChecksum` in place is cheaper). Throws RangeError for a slot
 * outside `inBatch`, TypeError when `out` is `inBatch`.
 */
export function segmentInto(inBatch: PacketBatch, i: number, out: PacketBatch, firstSlot: number): number {
  assertSlot(inBatch, i, 'segmentInto');
  const length = inBatch.lengths[i];
  if (length < 0) return -1;
  const n = loadNative().tcpSegment(inBatch.buffer, inBatch.offsets[i], length, inBatch.vnet,
    i * VNET_HDR_LEN, out.buffer, out.slotSize, out.headroom, firstSlot, out.capacity, out.offsets, out.lengths);
  if (n > 0) out.count = firstSlot + n;
  return n;
}

/**
 * Finishes packet i's partial checksum in place when its vnet header says NEEDS_CSUM,
 * then clears that flag (so a second call changes nothing). Returns true when the
 * checksum is now complete (or was not partial), false when the header's csum_start /
 * csum_offset lie outside the packet (malformed: drop it). Does not segment: call it only
 * for gso NONE packets (`gsoType(batch, i) === VIRTIO.GSO_NONE`).
 */
export function completeChecksum(batch: PacketBatch, i: number): boolean {
  assertSlot(batch, i, 'completeChecksum');
  if (!needsChecksum(batch, i)) return true;
  const length = batch.lengths[i];
  if (length < 0) return false;
  const h = i * VNET_HDR_LEN;
  const v = batch.vnet;
  const start = v[h + VNET_CSUM_START] | (v[h + VNET_CSUM_START + 1] << 8);
  const offset = v[h + VNET_CSUM_OFFSET] | (v[h + VNET_CSUM_OFFSET + 1] << 8);
  if (!loadNative().checksumComplete(batch.buffer, batch.offsets[i], length, start, offset)) return false;
  v[h + VNET_FLAGS] = v[h + VNET_FLAGS] & ~VIRTIO.NEEDS_CSUM;
  return true;
}

/**
 * Userspace GRO: copies packets 0..inBatch.count-1 (complete IPv6 packets, e.g. restored
 * from Shim6) into `out` in order, merging runs of in-order TCP segments of one flow into
 * super-packets, and sets `out.count` and each output's header in `out.vnet` (ready for
 * a vnet-header TUN's writeBatch). Merged packets carry {NEEDS_CSUM, GSO_TCPV6, gso_size
 * = first segment's payload, csum_start 40, csum_offset 16} and the pseudo-header partial
 * sum; everything else is copied unchanged with an all-zero header. Segments merge when
 * they have identical IPv6 headers (but Payload Length), TCP right after the IPv6 header,
 * identical ports, ACK number, window, urgent pointer and options, flags ACK (PSH allowed
 * on the last), consecutive sequence numbers, equal payload sizes (the last may be
 * shorter, and ends the run), a valid checksum (a bad one is passed through for the
 * kernel to drop), and the result stays within 65535 octets and the slot. A flow is never
 * reordered; different flows may be (each flow's super-packet sits where its first
 * segment was).
 *
 * Returns the output count, or -1 (and out.count = 0) when `out` is too small: it needs
 * at least `inBatch.count` slots, each as large as the largest input packet. Throws
 * TypeError when a packet length is negative (drop packets read with length -1 first) or
 * when `out` is `inBatch`.
 */
export function coalesce(inBatch: PacketBatch, out: PacketBatch): number {
  const n = loadNative().tcpCoalesce(inBatch.buffer, inBatch.offsets, inBatch.lengths, inBatch.count,
    out.buffer, out.slotSize, out.headroom, out.capacity, out.offsets, out.lengths, out.vnet);
  out.count = n < 0 ? 0 : n;
  return n;
}
