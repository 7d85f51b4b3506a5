// Userspace TCP/IPv6 segmentation and coalescing (src/io/offload.ts over
// native/src/offload.c). Pure compute: no privileges needed, except the last suite,
// which shows the kernel what we produce, in a network namespace (root; skipped
// otherwise unless SHIM6_REQUIRE_NETNS=1, see test/io/fixtures/netns.ts):
//
//   coalesce() ──write──> s6of1 (vnet) ──forward──> s6of2 (plain TUN: the kernel must
//                                       │            segment and checksum in software)
//                                       └─forward──> s6of3 (vnet, CSUM|TSO6: the kernel
//                                                    hands the super-packet up) ──> segmentInto()
//
// Packets are built here field by field (RFC 8200 §3 IPv6 header, RFC 9293 §3.1 TCP
// header) and checked with an independent DataView checksum (RFC 1071, with the RFC 8200
// §8.1 pseudo-header), never with the addon's. The virtio-net header expectations follow
// the kernel: virtio_net_hdr_to_skb / tcp_gso_segment want, for a TCPV6 super-packet
// with NEEDS_CSUM, csum_start at the TCP header, csum_offset 16, and in the checksum
// field the folded, NOT complemented pseudo-header sum over the super-packet's TCP
// length (what __tcp_v6_send_check leaves for CHECKSUM_PARTIAL).
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { PacketBatch, VNET_HDR_LEN } from '../../src/io/batch.js';
import { loadNative, nativeAddonPath } from '../../src/io/native.js';
import {
  checksumComplete, coalesce, completeChecksum, gsoType, needsChecksum, segmentInto, tcpCoalesce, tcpSegment, VIRTIO,
} from '../../src/io/offload.js';
import { Namespaces, netnsUnavailable, REQUIRE_NETNS } from './fixtures/netns.js';

const TCP = 6;
const UDP = 17;
const FIN = 0x01;
const SYN = 0x02;
const PSH = 0x08;
const ACK = 0x10;
const ECE = 0x40;
const CWR = 0x80;

// ---- independent reference: checksums and packet building -------------------------

/** Sum of 16-bit big-endian words of bytes[start, end) (odd tail padded), not folded. */
function sum16(bytes: Uint8Array, start: number, end: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let acc = 0;
  let i = start;
  for (; i + 1 < end; i += 2) acc += view.getUint16(i);
  if (i < end) acc += view.getUint8(i) * 256;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc % 0x10000) + Math.floor(acc / 0x10000);
  return acc;
}

/** Pseudo-header sum (RFC 8200 §8.1) of the IPv6 packet pkt for an upper-layer length. */
function pseudoSum(pkt: Uint8Array, upperLength: number, nextHeader: number): number {
  return sum16(pkt, 8, 40) + Math.floor(upperLength / 0x10000) + (upperLength % 0x10000) + nextHeader;
}

/** Whether the upper-layer checksum of the segment at pkt[thoff..] verifies. */
function checksumOk(pkt: Uint8Array, thoff: number, nextHeader = TCP): boolean {
  return fold(pseudoSum(pkt, pkt.length - thoff, nextHeader) + sum16(pkt, thoff, pkt.length)) === 0xffff;
}

function be16(p: Uint8Array, at: number): number {
  return (p[at]! << 8) | p[at + 1]!;
}

function be32(p: Uint8Array, at: number): number {
  return new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(at);
}

/** Offset of the TCP header after Hop-by-Hop, Routing, Destination Options and AH headers, or -1. */
function tcpOffset(p: Uint8Array): number {
  let next = p[6]!;
  let at = 40;
  for (let i = 0; i < 16; i++) {
    if (next === TCP) return at;
    if (at + 8 > p.length) return -1;
    if (next === 0 || next === 43 || next === 60) {
      next = p[at]!;
      at += (p[at + 1]! + 1) * 8;
    } else if (next === 51) {
      next = p[at]!;
      at += (p[at + 1]! + 2) * 4;
    } else {
      return -1;
    }
  }
  return -1;
}

function hex(p: Uint8Array): string {
  return Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('hex');
}

/** Byte equality, fast on success (vitest's toEqual walks typed arrays element by element). */
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (Buffer.compare(actual, expected) !== 0) expect(hex(actual)).toBe(hex(expected));
}

function expectPackets(actual: readonly Uint8Array[], expected: readonly Uint8Array[]): void {
  const same = actual.length === expected.length && actual.every((p, i) => Buffer.compare(p, expected[i]!) === 0);
  if (!same) expect(actual.map(hex)).toEqual(expected.map(hex));
}

function le16(p: Uint8Array, at: number): number {
  return p[at]! | (p[at + 1]! << 8);
}

function address(last: number): Uint8Array {
  const a = new Uint8Array(16);
  a.set([0x20, 0x01, 0x0d, 0xb8]);
  a[15] = last;
  return a;
}

interface TcpSpec {
  readonly src?: Uint8Array;
  readonly dst?: Uint8Array;
  readonly sport?: number;
  readonly dport?: number;
  readonly seq?: number;
  readonly ack?: number;
  readonly flags?: number;
  readonly window?: number;
  readonly urgent?: number;
  /** TCP options, a multiple of 4 octets. */
  readonly options?: Uint8Array;
  readonly payload?: Uint8Array;
  readonly tclass?: number;
  readonly flowLabel?: number;
  readonly hopLimit?: number;
  /** Extension headers between IPv6 and TCP; each one's next-header octet is set here. */
  readonly ext?: readonly { readonly type: number; readonly bytes: Uint8Array }[];
  /** 'full' (default): valid checksum; 'partial': only the pseudo-header sum (CHECKSUM_PARTIAL). */
  readonly checksum?: 'full' | 'partial';
}

/** Timestamps (RFC 7323 §3): NOP, NOP, kind 8 length 10, TSval, TSecr. */
const TIMESTAMPS = Uint8Array.of(1, 1, 8, 10, 0, 1, 0xe2, 0x40, 0x12, 0x34, 0x56, 0x78);

function buildTcp(s: TcpSpec): Uint8Array {
  const options = s.options ?? TIMESTAMPS;
  const payload = s.payload ?? new Uint8Array(0);
  const ext = s.ext ?? [];
  const extLength = ext.reduce((n, e) => n + e.bytes.length, 0);
  const thoff = 40 + extLength;
  const thlen = 20 + options.length;
  const pkt = new Uint8Array(thoff + thlen + payload.length);
  const view = new DataView(pkt.buffer);
  view.setUint32(0, (6 << 28 | (s.tclass ?? 0) << 20 | (s.flowLabel ?? 0x12345)) >>> 0);
  view.setUint16(4, pkt.length - 40);
  pkt[6] = ext.length > 0 ? ext[0]!.type : TCP;
  pkt[7] = s.hopLimit ?? 64;
  pkt.set(s.src ?? address(1), 8);
  pkt.set(s.dst ?? address(2), 24);
  let at = 40;
  ext.forEach((e, i) => {
    pkt.set(e.bytes, at);
    pkt[at] = i + 1 < ext.length ? ext[i + 1]!.type : TCP;
    at += e.bytes.length;
  });
  view.setUint16(thoff, s.sport ?? 40000);
  view.setUint16(thoff + 2, s.dport ?? 443);
  view.setUint32(thoff + 4, (s.seq ?? 1000) >>> 0);
  view.setUint32(thoff + 8, (s.ack ?? 5000) >>> 0);
  pkt[thoff + 12] = (thlen / 4) << 4;
  pkt[thoff + 13] = s.flags ?? ACK;
  view.setUint16(thoff + 14, s.window ?? 512);
  view.setUint16(thoff + 18, s.urgent ?? 0);
  pkt.set(options, thoff + 20);
  pkt.set(payload, thoff + thlen);
  const tcpLength = pkt.length - thoff;
  const check = s.checksum === 'partial'
    ? fold(pseudoSum(pkt, tcpLength, TCP))
    : 0xffff - fold(pseudoSum(pkt, tcpLength, TCP) + sum16(pkt, thoff, pkt.length));
  view.setUint16(thoff + 16, check);
  return pkt;
}

function pattern(length: number, seed: number): Uint8Array {
  const p = new Uint8Array(length);
  for (let i = 0; i < length; i++) p[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return p;
}

interface Vnet {
  readonly flags: number;
  readonly gsoType: number;
  readonly hdrLen: number;
  readonly gsoSize: number;
  readonly csumStart: number;
  readonly csumOffset: number;
}

function writeVnet(batch: PacketBatch, i: number, v: Vnet): void {
  const h = batch.vnet.subarray(i * VNET_HDR_LEN, (i + 1) * VNET_HDR_LEN);
  const view = new DataView(h.buffer, h.byteOffset, h.byteLength);
  h[0] = v.flags;
  h[1] = v.gsoType;
  view.setUint16(2, v.hdrLen, true);
  view.setUint16(4, v.gsoSize, true);
  view.setUint16(6, v.csumStart, true);
  view.setUint16(8, v.csumOffset, true);
}

function readVnet(batch: PacketBatch, i: number): Vnet {
  const h = batch.vnet.subarray(i * VNET_HDR_LEN, (i + 1) * VNET_HDR_LEN);
  return { flags: h[0]!, gsoType: h[1]!, hdrLen: le16(h, 2), gsoSize: le16(h, 4), csumStart: le16(h, 6), csumOffset: le16(h, 8) };
}

/** Puts packets into slots 0.. of batch (reset first) and sets count. */
function fill(batch: PacketBatch, packets: readonly Uint8Array[]): void {
  batch.reset();
  packets.forEach((p, i) => {
    batch.buffer.set(p, batch.offsets[i]!);
    batch.lengths[i] = p.length;
  });
  batch.count = packets.length;
}

function packetAt(batch: PacketBatch, i: number): Uint8Array {
  return batch.buffer.slice(batch.offsets[i]!, batch.offsets[i]! + batch.lengths[i]!);
}

/** A TSO super-packet as the TUN hands it up: partial checksum and a TCPV6 vnet header. */
function superPacket(batch: PacketBatch, spec: TcpSpec, gsoSize: number, ecn = false): Uint8Array {
  const pkt = buildTcp({ ...spec, checksum: 'partial' });
  fill(batch, [pkt]);
  const thoff = pkt.length - (spec.payload?.length ?? 0) - 20 - (spec.options ?? TIMESTAMPS).length;
  // hdr_len as the kernel reports it is only skb_headlen(): deliberately not the header length.
  writeVnet(batch, 0, {
    flags: VIRTIO.NEEDS_CSUM, gsoType: VIRTIO.GSO_TCPV6 | (ecn ? VIRTIO.GSO_ECN : 0), hdrLen: 1234, gsoSize,
    csumStart: thoff, csumOffset: 16,
  });
  return pkt;
}

// ---- tests ----------------------------------------------------------------------------

describe('virtio constants', () => {
  it('VIRTIO equals the addon\'s frozen virtio object (linux/virtio_net.h values)', () => {
    const addon = loadNative();
    expect({ ...addon.virtio }).toEqual({ ...VIRTIO });
    expect(Object.isFrozen(addon.virtio)).toBe(true);
    expect(VIRTIO).toEqual({
      NEEDS_CSUM: 1, DATA_VALID: 2, GSO_NONE: 0, GSO_TCPV4: 1, GSO_UDP: 3, GSO_TCPV6: 4, GSO_ECN: 0x80, HDR_LEN: 10,
    });
  });
});

describe('segmentInto (userspace TSO)', () => {
  const inBatch = new PacketBatch(2, 70_000, 8);
  const out = new PacketBatch(64, 2048, 16);

  it('cuts a 64000-octet super-packet with gso_size 1432 into ceil(64000/1432) valid segments', () => {
    const payload = pattern(64_000, 1);
    const seq = 0xffff_f000; // wraps during the run
    const original = superPacket(inBatch, { seq, flags: ACK | PSH | FIN | CWR, payload }, 1432, true);
    out.reset();
    out.buffer.fill(0xa5);
    const first = 3;
    const n = segmentInto(inBatch, 0, out, first);
    const expected = Math.ceil(64_000 / 1432);
    expect(n).toBe(expected);
    expect(out.count).toBe(first + expected);
    // Slots before firstSlot are untouched.
    expect(out.buffer.subarray(0, first * out.slotSize).every((b) => b === 0xa5)).toBe(true);
    const received: Uint8Array[] = [];
    for (let k = 0; k < n; k++) {
      const slot = first + k;
      expect(out.offsets[slot]).toBe(slot * out.slotSize + out.headroom);
      const seg = packetAt(out, slot);
      const size = k + 1 < n ? 1432 : 64_000 - 1432 * (n - 1);
      expect(seg.length).toBe(40 + 32 + size);
      expect(be16(seg, 4)).toBe(seg.length - 40);
      // IPv6 header but Payload Length, and TCP ports/ack/offset/window/urgent/options unchanged.
      expectBytes(seg.subarray(0, 4), original.subarray(0, 4));
      expectBytes(seg.subarray(6, 44), original.subarray(6, 44));
      expectBytes(seg.subarray(48, 53), original.subarray(48, 53));
      expectBytes(seg.subarray(54, 56), original.subarray(54, 56));
      expectBytes(seg.subarray(58, 72), original.subarray(58, 72));
      expect(be32(seg, 44)).toBe((seq + k * 1432) >>> 0);
      const flags = seg[53]!;
      expect(flags & ACK).toBe(ACK);
      expect((flags & (PSH | FIN)) !== 0).toBe(k === n - 1);
      expect((flags & PSH) !== 0).toBe(k === n - 1);
      expect((flags & FIN) !== 0).toBe(k === n - 1);
      expect((flags & CWR) !== 0).toBe(k === 0);
      expect(checksumOk(seg, 40)).toBe(true);
      received.push(seg.subarray(72));
    }
    expectBytes(Buffer.concat(received), Buffer.from(payload));
  });

  it('copies extension headers into every segment and counts them in Payload Length', () => {
    const dstOpts = Uint8Array.of(0, 0, 1, 4, 0, 0, 0, 0); // Destination Options, PadN
    const hopByHop = Uint8Array.of(0, 0, 1, 4, 0, 0, 0, 0);
    const payload = pattern(5000, 2);
    const original = superPacket(inBatch, {
      ext: [{ type: 0, bytes: hopByHop }, { type: 60, bytes: dstOpts }], payload, options: new Uint8Array(0),
    }, 1200);
    expect(readVnet(inBatch, 0).csumStart).toBe(56);
    out.reset();
    const n = segmentInto(inBatch, 0, out, 0);
    expect(n).toBe(5);
    for (let k = 0; k < n; k++) {
      const seg = packetAt(out, k);
      expectBytes(seg.subarray(0, 4), original.subarray(0, 4));
      expectBytes(seg.subarray(6, 56), original.subarray(6, 56)); // addresses, both extension headers
      expectBytes(seg.subarray(56, 60), original.subarray(56, 60)); // ports
      expect(be32(seg, 60)).toBe((be32(original, 60) + k * 1200) >>> 0);
      expect(be16(seg, 4)).toBe(seg.length - 40);
      expect(seg.length).toBe(56 + 20 + (k < 4 ? 1200 : 200));
      expect(checksumOk(seg, 56)).toBe(true);
    }
  });

  it('gives one segment when the payload fits in gso_size, and handles an empty payload', () => {
    superPacket(inBatch, { payload: pattern(100, 3), flags: ACK | PSH }, 1432);
    out.reset();
    expect(segmentInto(inBatch, 0, out, 0)).toBe(1);
    expect(checksumOk(packetAt(out, 0), 40)).toBe(true);
    expect(out.lengths[0]).toBe(40 + 32 + 100);
    superPacket(inBatch, { flags: ACK }, 1432);
    expect(segmentInto(inBatch, 0, out, 0)).toBe(1);
    expect(out.lengths[0]).toBe(72);
    expect(checksumOk(packetAt(out, 0), 40)).toBe(true);
  });

  it('completes the checksum of a gso NONE packet with NEEDS_CSUM, and copies a plain one as is', () => {
    const partial = buildTcp({ payload: pattern(333, 4), checksum: 'partial' });
    fill(inBatch, [partial]);
    writeVnet(inBatch, 0, { flags: VIRTIO.NEEDS_CSUM, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 40, csumOffset: 16 });
    out.reset();
    expect(segmentInto(inBatch, 0, out, 5)).toBe(1);
    expect(out.count).toBe(6);
    const done = packetAt(out, 5);
    expect(checksumOk(done, 40)).toBe(true);
    expectBytes(done, buildTcp({ payload: pattern(333, 4) }));

    const plain = buildTcp({ payload: pattern(10, 5) });
    fill(inBatch, [plain]);
    writeVnet(inBatch, 0, { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 });
    expect(segmentInto(inBatch, 0, out, 0)).toBe(1);
    expectBytes(packetAt(out, 0), plain);
  });

  it.each<[string, (pkt: Uint8Array) => void, Partial<Vnet>, number?]>([
    ['IPv4 (version 4)', (p) => { p[0] = 0x45; }, {}],
    ['Payload Length not matching the packet', (p) => { p[5]! += 1; }, {}],
    ['gso_type UDP', () => {}, { gsoType: VIRTIO.GSO_UDP }],
    ['gso_type TCPV4', () => {}, { gsoType: VIRTIO.GSO_TCPV4 }],
    ['gso_type UDP_L4 (5)', () => {}, { gsoType: 5 }],
    ['gso_type ECN alone', () => {}, { gsoType: VIRTIO.GSO_ECN }],
    ['gso_size 0', () => {}, { gsoSize: 0 }],
    ['csum_start not at the TCP header', () => {}, { csumStart: 44 }],
    ['csum_offset not 16', () => {}, { csumOffset: 6 }],
    ['next header UDP', (p) => { p[6] = UDP; }, {}],
    ['a Fragment header', (p) => { p[6] = 44; }, {}],
    ['TCP data offset under 5', (p) => { p[52] = 4 << 4; }, {}],
    ['TCP data offset beyond the packet', (p) => { p[52] = 15 << 4; }, {}, 40 + 40],
    ['more segments than slots', () => {}, { gsoSize: 100 }],
    ['a segment larger than a slot', () => {}, { gsoSize: 3000 }],
    ['a gso NONE checksum beyond the packet', () => {}, { gsoType: 0, csumStart: 40, csumOffset: 60_000 }],
    ['a gso NONE checksum inside the IPv6 header', () => {}, { gsoType: 0, csumStart: 8, csumOffset: 16 }],
  ])('returns -1 for %s', (_what, mutate, vnet, length) => {
    const pkt = buildTcp({ payload: pattern(length === undefined ? 8000 : length - 72, 6), checksum: 'partial' })
      .subarray(0, length);
    if (length !== undefined) new DataView(pkt.buffer).setUint16(4, length - 40);
    mutate(pkt);
    fill(inBatch, [pkt]);
    writeVnet(inBatch, 0, {
      flags: VIRTIO.NEEDS_CSUM, gsoType: VIRTIO.GSO_TCPV6, hdrLen: 72, gsoSize: 1400, csumStart: 40, csumOffset: 16, ...vnet,
    });
    out.reset();
    expect(segmentInto(inBatch, 0, out, 0)).toBe(-1);
    expect(out.count).toBe(0);
  });

  it('returns -1 for a packet read with length -1 and when firstSlot is the capacity', () => {
    superPacket(inBatch, { payload: pattern(2000, 7) }, 1000);
    expect(segmentInto(inBatch, 0, out, out.capacity)).toBe(-1);
    expect(segmentInto(inBatch, 0, out, out.capacity - 1)).toBe(-1); // needs two slots
    inBatch.lengths[0] = -1;
    expect(segmentInto(inBatch, 0, out, 0)).toBe(-1);
  });

  it('throws for bad arguments: TypeError from the addon, RangeError for a slot outside the batch', () => {
    superPacket(inBatch, { payload: pattern(2000, 7) }, 1000);
    expect(() => segmentInto(inBatch, 0, inBatch, 1)).toThrow(TypeError); // overlapping
    expect(() => segmentInto(inBatch, 2, out, 0)).toThrow(RangeError);
    expect(() => segmentInto(inBatch, 0, out, out.capacity + 1)).toThrow(TypeError);
    const buf = new Uint8Array(100);
    const outArgs = [out.buffer, out.slotSize, out.headroom, 0, out.capacity, out.offsets, out.lengths] as const;
    expect(() => tcpSegment(buf, 0, 101, new Uint8Array(10), 0, ...outArgs)).toThrow(TypeError);
    expect(() => tcpSegment(buf, 0, 100, new Uint8Array(9), 0, ...outArgs)).toThrow(TypeError);
    expect(() => tcpSegment(buf, 0, 100, new Uint8Array(20), 11, ...outArgs)).toThrow(TypeError);
    expect(() => tcpSegment(buf, 0, 100, new Uint8Array(10), 0, out.buffer, out.slotSize, out.headroom, 0, out.capacity,
      new Int32Array(1), out.lengths)).toThrow(TypeError);
    expect(() => (tcpSegment as unknown as (b: Uint8Array) => number)(buf)).toThrow(TypeError);
  });

  it('never throws on arbitrary bytes and vnet headers, and whatever it writes is well formed', () => {
    const fuzzIn = new PacketBatch(1, 4096, 8);
    const fuzzOut = new PacketBatch(8, 1600, 8);
    const valid = buildTcp({ payload: pattern(3000, 8), checksum: 'partial' });
    const packet = fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 3500 }),
      fc.record({
        cut: fc.integer({ min: 0, max: valid.length }),
        flips: fc.array(fc.tuple(fc.integer({ min: 0, max: 120 }), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fixLength: fc.boolean(),
      }).map(({ cut, flips, fixLength }) => {
        const p = valid.slice(0, cut);
        for (const [at, value] of flips) if (at < p.length) p[at] = value;
        if (fixLength && p.length >= 40) new DataView(p.buffer).setUint16(4, p.length - 40);
        return p;
      }),
    );
    const vnet = fc.record({
      flags: fc.integer({ min: 0, max: 3 }),
      gsoType: fc.constantFrom(0, 1, 3, 4, 5, 0x84, 0x80, 0xff),
      hdrLen: fc.integer({ min: 0, max: 0xffff }),
      gsoSize: fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.constant(0xffff)),
      csumStart: fc.oneof(fc.constant(40), fc.integer({ min: 0, max: 0xffff })),
      csumOffset: fc.oneof(fc.constant(16), fc.integer({ min: 0, max: 0xffff })),
    });
    fc.assert(fc.property(packet, vnet, (pkt, v) => {
      fill(fuzzIn, [pkt]);
      writeVnet(fuzzIn, 0, v);
      fuzzOut.reset();
      const n = segmentInto(fuzzIn, 0, fuzzOut, 0);
      if (n === -1) return;
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThanOrEqual(fuzzOut.capacity);
      for (let k = 0; k < n; k++) {
        const seg = packetAt(fuzzOut, k);
        expect(seg.length).toBeGreaterThanOrEqual(40);
        expect(seg.length).toBeLessThanOrEqual(fuzzOut.maxPacket);
        expect(seg[0]! >> 4).toBe(6);
        expect(be16(seg, 4)).toBe(seg.length - 40);
        if (v.gsoType === 0) {
          // Copied; a completed partial checksum is what the kernel's skb_checksum_help
          // writes: the folded, complemented sum from csum_start over the packet as it came
          // (partial value in the field), 0 sent as 0xffff. (A sum over the result
          // verifies only when the field is word-aligned from csum_start, so an odd
          // csum_offset is checked by this definition, not by verifying.)
          if ((v.flags & VIRTIO.NEEDS_CSUM) !== 0) {
            const expected = ~fold(sum16(pkt, v.csumStart, pkt.length)) & 0xffff;
            expect(be16(seg, v.csumStart + v.csumOffset)).toBe(expected === 0 ? 0xffff : expected);
            expect(seg.filter((_, j) => j !== v.csumStart + v.csumOffset && j !== v.csumStart + v.csumOffset + 1))
              .toEqual(pkt.filter((_, j) => j !== v.csumStart + v.csumOffset && j !== v.csumStart + v.csumOffset + 1));
          } else {
            expectBytes(seg, pkt);
          }
        } else {
          const thoff = tcpOffset(pkt);
          expect(thoff).toBeGreaterThanOrEqual(40);
          if ((v.flags & VIRTIO.NEEDS_CSUM) !== 0) expect(v.csumStart).toBe(thoff);
          expectBytes(seg.subarray(0, thoff).filter((_, j) => j !== 4 && j !== 5), pkt.subarray(0, thoff).filter((_, j) => j !== 4 && j !== 5));
          expect(checksumOk(seg, thoff)).toBe(true);
        }
      }
    }), { numRuns: 2000 });
  });
});

describe('completeChecksum and checksumComplete', () => {
  it('finishes a partial TCP checksum in place and clears NEEDS_CSUM (a second call is a no-op)', () => {
    const batch = new PacketBatch(2, 2048, 8);
    fill(batch, [buildTcp({ payload: pattern(777, 9), checksum: 'partial' })]);
    writeVnet(batch, 0, { flags: VIRTIO.NEEDS_CSUM, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 40, csumOffset: 16 });
    expect(needsChecksum(batch, 0)).toBe(true);
    expect(gsoType(batch, 0)).toBe(VIRTIO.GSO_NONE);
    expect(completeChecksum(batch, 0)).toBe(true);
    expect(needsChecksum(batch, 0)).toBe(false);
    expectBytes(packetAt(batch, 0), buildTcp({ payload: pattern(777, 9) }));
    expect(completeChecksum(batch, 0)).toBe(true);
    expectBytes(packetAt(batch, 0), buildTcp({ payload: pattern(777, 9) }));
  });

  it('finishes a partial UDP checksum (csum_offset 6), odd length included', () => {
    const pkt = new Uint8Array(40 + 8 + 13);
    const view = new DataView(pkt.buffer);
    view.setUint32(0, 0x6000_0000);
    view.setUint16(4, 21);
    pkt[6] = UDP;
    pkt[7] = 64;
    pkt.set(address(7), 8);
    pkt.set(address(9), 24);
    view.setUint16(40, 5353);
    view.setUint16(42, 53);
    view.setUint16(44, 21);
    pkt.set(pattern(13, 10), 48);
    view.setUint16(46, fold(pseudoSum(pkt, 21, UDP)));
    const buf = new Uint8Array(100);
    buf.set(pkt, 7);
    expect(checksumComplete(buf, 7, pkt.length, 40, 6)).toBe(true);
    expect(checksumOk(buf.subarray(7, 7 + pkt.length), 40, UDP)).toBe(true);
  });

  it('returns false when the checksum field lies outside the packet; TypeError outside the buffer', () => {
    const buf = new Uint8Array(100);
    expect(checksumComplete(buf, 0, 60, 40, 19)).toBe(false);
    expect(checksumComplete(buf, 0, 60, 59, 0)).toBe(false);
    expect(buf.every((b) => b === 0)).toBe(true);
    expect(checksumComplete(buf, 0, 60, 40, 18)).toBe(true);
    expect(() => checksumComplete(buf, 50, 51, 0, 0)).toThrow(TypeError);
    expect(() => checksumComplete(buf, -1, 10, 0, 0)).toThrow(TypeError);
    const batch = new PacketBatch(1, 256, 8);
    fill(batch, [new Uint8Array(60)]);
    writeVnet(batch, 0, { flags: VIRTIO.NEEDS_CSUM, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 40, csumOffset: 100 });
    expect(completeChecksum(batch, 0)).toBe(false);
    expect(needsChecksum(batch, 0)).toBe(true);
  });
});

describe('coalesce (userspace GRO)', () => {
  interface Flow {
    readonly sport: number;
    readonly seq: number;
    readonly mss: number;
  }
  const A: Flow = { sport: 1000, seq: 0xffff_0000, mss: 1432 };
  const B: Flow = { sport: 1001, seq: 7, mss: 1000 };
  const C: Flow = { sport: 1002, seq: 100_000, mss: 800 };
  const D: Flow = { sport: 1003, seq: 200_000, mss: 600 };
  const E: Flow = { sport: 1004, seq: 300_000, mss: 700 };
  const F: Flow = { sport: 1005, seq: 400_000, mss: 0 };

  /** Segment k of a flow: payload mss (or size), seq advanced by k*mss. */
  function seg(flow: Flow, k: number, extra: Partial<TcpSpec> = {}, size = flow.mss): Uint8Array {
    return buildTcp({ sport: flow.sport, seq: flow.seq + k * flow.mss, payload: pattern(size, flow.sport + k), ...extra });
  }

  function corrupt(pkt: Uint8Array): Uint8Array {
    const copy = pkt.slice();
    copy[copy.length - 1]! ^= 0x01;
    return copy;
  }

  const udp = (() => {
    const p = new Uint8Array(40 + 8 + 4);
    new DataView(p.buffer).setUint32(0, 0x6000_0000);
    p[5] = 12;
    p[6] = UDP;
    p[7] = 64;
    p.set(address(1), 8);
    p.set(address(2), 24);
    return p;
  })();

  /** Checks output k is the merge of `parts` (in order), as the kernel wants it. */
  function expectMerged(out: PacketBatch, k: number, parts: readonly Uint8Array[]): void {
    const merged = packetAt(out, k);
    const first = parts[0]!;
    const last = parts[parts.length - 1]!;
    const thlen = (first[52]! >> 4) * 4;
    const payloads = parts.map((p) => p.subarray(40 + thlen));
    expect(merged.length).toBe(40 + thlen + payloads.reduce((n, p) => n + p.length, 0));
    expect(be16(merged, 4)).toBe(merged.length - 40);
    expectBytes(merged.subarray(0, 4), first.subarray(0, 4));
    expectBytes(merged.subarray(6, 53), first.subarray(6, 53));
    expect(merged[53]).toBe(first[53]! | (last[53]! & PSH));
    expectBytes(merged.subarray(54, 56), first.subarray(54, 56));
    expectBytes(merged.subarray(58, 40 + thlen), first.subarray(58, 40 + thlen));
    expectBytes(Buffer.from(merged.subarray(40 + thlen)), Buffer.concat(payloads));
    // The checksum field: the folded, uncomplemented pseudo-header sum for the merged
    // TCP length, i.e. ~tcp_v6_check(len, saddr, daddr, 0) as for CHECKSUM_PARTIAL.
    expect(be16(merged, 56)).toBe(fold(pseudoSum(merged, merged.length - 40, TCP)));
    expect(readVnet(out, k)).toEqual({
      flags: VIRTIO.NEEDS_CSUM, gsoType: VIRTIO.GSO_TCPV6, hdrLen: 40 + thlen, gsoSize: payloads[0]!.length,
      csumStart: 40, csumOffset: 16,
    });
    // Completing it as the kernel would gives a valid checksum.
    const done = merged.slice();
    expect(checksumComplete(done, 0, done.length, 40, 16)).toBe(true);
    expect(checksumOk(done, 40)).toBe(true);
    // And segmenting it gives back the original segments, byte for byte.
    const segments = new PacketBatch(parts.length, 2048, 8);
    expect(segmentInto(out, k, segments, 0)).toBe(parts.length);
    parts.forEach((p, j) => expectBytes(packetAt(segments, j), p));
  }

  function expectSingle(out: PacketBatch, k: number, pkt: Uint8Array): void {
    expectBytes(packetAt(out, k), pkt);
    expect(Array.from(out.vnet.subarray(k * VNET_HDR_LEN, (k + 1) * VNET_HDR_LEN))).toEqual(new Array(10).fill(0));
  }

  it('merges in-order runs per flow and passes the rest through in order', () => {
    const input: Uint8Array[] = [];
    const a = Array.from({ length: 40 }, (_, k) => seg(A, k, k === 39 ? { flags: ACK | PSH } : {}));
    const b = Array.from({ length: 10 }, (_, k) => seg(B, k, {}, k === 9 ? 500 : B.mss));
    for (let k = 0; k < 40; k++) {
      input.push(a[k]!);
      if (k % 4 === 3) input.push(b[(k - 3) / 4]!);
    }
    input.push(udp);
    const c = [seg(C, 0), seg(C, 1), corrupt(seg(C, 2)), seg(C, 3), seg(C, 4)];
    input.push(...c);
    const d = [seg(D, 0), seg(D, 1), seg(D, 3), seg(D, 2), seg(D, 4)];
    input.push(...d);
    const e = [seg(E, 0), seg(E, 1), seg(E, 2, { flags: ACK | FIN })];
    input.push(...e);
    const pureAck = buildTcp({ sport: F.sport, seq: F.seq });
    input.push(pureAck);

    const inBatch = new PacketBatch(input.length, 2048, 8);
    fill(inBatch, input);
    const out = new PacketBatch(input.length, 65_536 + 16, 16);
    out.vnet.fill(0xa5);
    const n = coalesce(inBatch, out);
    expect(n).toBe(13);
    expect(out.count).toBe(13);
    expectMerged(out, 0, a);
    expectMerged(out, 1, b);
    expectSingle(out, 2, udp);
    expectMerged(out, 3, c.slice(0, 2));
    expectSingle(out, 4, c[2]!); // bad checksum: unmerged, for the kernel to drop
    expectMerged(out, 5, c.slice(3, 5)); // a new run after the bad one
    expectMerged(out, 6, d.slice(0, 2));
    expectSingle(out, 7, d[2]!); // D3 out of order
    expectSingle(out, 8, d[3]!); // D2 late
    expectSingle(out, 9, d[4]!); // D4 does not continue D2 (D3 is before it)
    expectMerged(out, 10, e.slice(0, 2));
    expectSingle(out, 11, e[2]!); // FIN is never merged
    expectSingle(out, 12, pureAck);
    for (let k = 0; k < n; k++) expect(out.offsets[k]).toBe(k * out.slotSize + out.headroom);
  });

  it('never merges across a packet of the same flow that it cannot merge (no reordering)', () => {
    const inBatch = new PacketBatch(3, 2048, 8);
    const out = new PacketBatch(3, 4096, 8);
    // A window update (pure ACK) between two data segments of the flow.
    const update = buildTcp({ sport: A.sport, seq: A.seq + A.mss, window: 1024 });
    fill(inBatch, [seg(A, 0), update, seg(A, 1)]);
    expect(coalesce(inBatch, out)).toBe(3);
    expectSingle(out, 0, seg(A, 0));
    expectSingle(out, 1, update);
    expectSingle(out, 2, seg(A, 1));
    // Something between the same two hosts that is not TCP right after the IPv6 header
    // (here ICMPv6; it could be this flow with an extension header) ends every run.
    const icmp = udp.slice();
    icmp[6] = 58;
    fill(inBatch, [seg(A, 0), icmp, seg(A, 1)]);
    expect(coalesce(inBatch, out)).toBe(3);
    expectSingle(out, 2, seg(A, 1));
    // Between other hosts it does not.
    const elsewhere = icmp.slice();
    elsewhere[39] = 99;
    fill(inBatch, [seg(A, 0), elsewhere, seg(A, 1)]);
    expect(coalesce(inBatch, out)).toBe(2);
    expectMerged(out, 0, [seg(A, 0), seg(A, 1)]);
    expectSingle(out, 1, elsewhere);
  });

  it('keeps a merged packet within 65535 octets, and within the output slot', () => {
    const a = Array.from({ length: 50 }, (_, k) => seg(A, k));
    const inBatch = new PacketBatch(50, 2048, 8);
    fill(inBatch, a);
    const out = new PacketBatch(50, 70_000, 8);
    expect(coalesce(inBatch, out)).toBe(2);
    const fit = Math.floor((65_535 - 72) / 1432);
    expectMerged(out, 0, a.slice(0, fit));
    expectMerged(out, 1, a.slice(fit));
    const small = new PacketBatch(50, 10_008, 8);
    expect(coalesce(inBatch, small)).toBe(9);
    expectMerged(small, 0, a.slice(0, 6)); // 72 + 6 * 1432 = 8664 <= 10000 < 72 + 7 * 1432
  });

  it('does not merge segments that differ in headers, flags or size', () => {
    const base = seg(A, 0);
    const variants: [string, Uint8Array][] = [
      ['traffic class', seg(A, 1, { tclass: 2 })],
      ['flow label', seg(A, 1, { flowLabel: 7 })],
      ['hop limit', seg(A, 1, { hopLimit: 63 })],
      ['ack', seg(A, 1, { ack: 5001 })],
      ['window', seg(A, 1, { window: 513 })],
      ['urgent pointer', seg(A, 1, { urgent: 1 })],
      ['options', seg(A, 1, { options: Uint8Array.of(1, 1, 8, 10, 0, 1, 0xe2, 0x41, 0x12, 0x34, 0x56, 0x78) })],
      ['ECE', seg(A, 1, { flags: ACK | ECE })],
      ['CWR', seg(A, 1, { flags: ACK | CWR })],
      ['SYN', seg(A, 1, { flags: ACK | SYN })],
      ['no ACK', seg(A, 1, { flags: PSH })],
      ['a larger payload', seg(A, 1, {}, A.mss + 4)],
      ['a sequence gap', seg(A, 2)],
      ['a retransmission', seg(A, 0)],
    ];
    const inBatch = new PacketBatch(2, 4096, 8);
    const out = new PacketBatch(2, 4096, 8);
    for (const [what, other] of variants) {
      fill(inBatch, [base, other]);
      expect(coalesce(inBatch, out), what).toBe(2);
      expectSingle(out, 0, base);
      expectSingle(out, 1, other);
    }
    // After PSH or a short segment the run is closed.
    const three = new PacketBatch(3, 4096, 8);
    const outThree = new PacketBatch(3, 4096, 8);
    const after = (p: Uint8Array): Uint8Array =>
      buildTcp({ sport: A.sport, seq: be32(p, 44) + p.length - 72, payload: pattern(1000, 1) });
    const pushed = seg(A, 0, { flags: ACK | PSH });
    fill(three, [pushed, after(pushed)]);
    expect(coalesce(three, outThree)).toBe(2);
    expectSingle(outThree, 0, pushed);
    const full = seg(A, 0);
    const short = buildTcp({ sport: A.sport, seq: A.seq + A.mss, payload: pattern(1000, 2) });
    fill(three, [full, short, after(short)]);
    expect(coalesce(three, outThree)).toBe(2);
    expectMerged(outThree, 0, [full, short]);
    expectSingle(outThree, 1, after(short));
  });

  it('returns -1 when the output is too small, throws TypeError for overlapping or negative lengths', () => {
    const a = Array.from({ length: 3 }, (_, k) => seg(A, k, {}, 100 + k)); // sizes grow: nothing merges
    const inBatch = new PacketBatch(3, 2048, 8);
    fill(inBatch, a);
    expect(coalesce(inBatch, new PacketBatch(2, 2048, 8))).toBe(-1);
    expect(coalesce(inBatch, new PacketBatch(3, 180, 8))).toBe(-1); // 172 + 2 octets do not fit
    expect(() => coalesce(inBatch, inBatch)).toThrow(TypeError);
    inBatch.lengths[1] = -1;
    expect(() => coalesce(inBatch, new PacketBatch(3, 2048, 8))).toThrow(TypeError);
    const out = new PacketBatch(3, 2048, 8);
    expect(() => tcpCoalesce(inBatch.buffer, inBatch.offsets, inBatch.lengths, 1, out.buffer, out.slotSize, out.headroom,
      out.capacity, out.offsets, out.lengths, new Uint8Array(29))).toThrow(TypeError);
  });

  it('round trip: segmenting each coalesced output gives back every flow\'s segments, in order, byte for byte', () => {
    const MAX_IN = 160;
    const inBatch = new PacketBatch(MAX_IN, 2048, 8);
    const out = new PacketBatch(MAX_IN, 65_536 + 8, 8);
    const segments = new PacketBatch(64, 2048, 8);
    const flowSpec = fc.record({
      mss: fc.integer({ min: 1, max: 1440 }),
      count: fc.integer({ min: 1, max: 60 }),
      lastSize: fc.integer({ min: 1, max: 1440 }),
      lastPsh: fc.boolean(),
      seq: fc.integer({ min: 0, max: 0xffff_ffff }),
      ack: fc.integer({ min: 0, max: 0xffff_ffff }),
      window: fc.integer({ min: 0, max: 0xffff }),
      tclass: fc.integer({ min: 0, max: 255 }),
      optionWords: fc.integer({ min: 0, max: 10 }),
      optionSeed: fc.integer({ min: 0, max: 255 }),
      corruptAt: fc.option(fc.integer({ min: 0, max: 80 }), { nil: undefined }),
      dropAt: fc.option(fc.integer({ min: 0, max: 80 }), { nil: undefined }),
      pureAckAt: fc.option(fc.integer({ min: 0, max: 80 }), { nil: undefined }),
    });
    const scenario = fc.record({
      flows: fc.array(flowSpec, { minLength: 1, maxLength: 12 }),
      order: fc.array(fc.nat(), { maxLength: 200 }),
      udpEvery: fc.integer({ min: 0, max: 40 }),
    });
    fc.assert(fc.property(scenario, ({ flows, order, udpEvery }) => {
      // Each flow's packets, in sequence.
      const perFlow = flows.map((f, i) => {
        const options = pattern(f.optionWords * 4, f.optionSeed);
        const packets: Uint8Array[] = [];
        let seq = f.seq;
        for (let k = 0; k < f.count; k++) {
          if (k === f.pureAckAt) {
            packets.push(buildTcp({ sport: 2000 + i, seq, ack: f.ack, window: f.window ^ 1, tclass: f.tclass, options }));
          }
          if (k === f.dropAt) continue;
          const last = k === f.count - 1;
          const size = last ? f.lastSize : f.mss;
          let p = buildTcp({
            sport: 2000 + i, seq, ack: f.ack, window: f.window, tclass: f.tclass, options,
            payload: pattern(size, i * 64 + k), flags: last && f.lastPsh ? ACK | PSH : ACK,
          });
          if (k === f.corruptAt) p = corrupt(p);
          packets.push(p);
          seq = (seq + size) >>> 0;
        }
        return packets;
      });
      // Interleave them: order picks which flow sends next; the rest follow in flow order.
      const next = perFlow.map(() => 0);
      const input: { pkt: Uint8Array; flow: number }[] = [];
      const take = (i: number): void => {
        input.push({ pkt: perFlow[i]![next[i]!]!, flow: i });
        next[i]!++;
        if (udpEvery > 0 && input.length % udpEvery === 0 && input.length < MAX_IN) input.push({ pkt: udp, flow: -1 });
      };
      for (const pick of order) {
        const i = pick % flows.length;
        if (next[i]! < perFlow[i]!.length && input.length < MAX_IN) take(i);
      }
      perFlow.forEach((packets, i) => {
        while (next[i]! < packets.length && input.length < MAX_IN) take(i);
      });
      fill(inBatch, input.map((x) => x.pkt));
      const n = coalesce(inBatch, out);
      // (A flow of one packet that the scenario drops leaves no input at all.)
      expect(n).toBe(input.length === 0 ? 0 : n);
      if (input.length > 0) expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThanOrEqual(input.length);
      // Expand the outputs and regroup by flow (source port; UDP apart).
      const restored = new Map<number, Uint8Array[]>();
      let total = 0;
      for (let k = 0; k < n; k++) {
        const pkt = packetAt(out, k);
        const key = pkt[6] === TCP ? be16(pkt, 40) : -1;
        const list = restored.get(key) ?? [];
        restored.set(key, list);
        if (gsoType(out, k) === VIRTIO.GSO_TCPV6) {
          const m = segmentInto(out, k, segments, 0);
          expect(m).toBeGreaterThan(1);
          for (let j = 0; j < m; j++) list.push(packetAt(segments, j));
          total += m;
        } else {
          expect(readVnet(out, k).flags).toBe(0);
          list.push(pkt);
          total += 1;
        }
      }
      expect(total).toBe(input.length);
      for (const i of perFlow.keys()) {
        const sent = input.filter((x) => x.flow === i).map((x) => Buffer.from(x.pkt));
        expectPackets(restored.get(2000 + i) ?? [], sent);
      }
      expect(restored.get(-1)?.length ?? 0).toBe(input.filter((x) => x.flow === -1).length);
    }), { numRuns: 300 });
  });
});

/**
 * The child run in the namespace (`node --input-type=module -e`, addon path as argument):
 * I/O only. Reads {packets, vnet} (hex) on stdin, writes them into s6of1, and prints the
 * TCP packets s6of2 and s6of3 then hold (hex, with s6of3's virtio-net headers).
 */
const KERNEL_CHILD = `
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
const addon = createRequire(process.argv[1])(process.argv[1]);
const input = JSON.parse(readFileSync(0, 'utf8'));
const sh = (...a) => execFileSync(a[0], a.slice(1));
const t1 = addon.tunOpen('s6of1', true, false, addon.tunOffloads.CSUM | addon.tunOffloads.TSO6);
const t2 = addon.tunOpen('s6of2', false, false, 0);
const t3 = addon.tunOpen('s6of3', true, false, addon.tunOffloads.CSUM | addon.tunOffloads.TSO6);
sh('sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
for (const name of ['s6of1', 's6of2', 's6of3']) sh('ip', 'link', 'set', name, 'up');
sh('ip', '-6', 'addr', 'add', '2001:db8:1::1/64', 'dev', 's6of1', 'nodad');
sh('ip', '-6', 'route', 'add', '2001:db8:2::/64', 'dev', 's6of2');
sh('ip', '-6', 'route', 'add', '2001:db8:3::/64', 'dev', 's6of3');
await new Promise((r) => setTimeout(r, 100));
const SLOT = 1 << 17, CAP = 64;
const buf = new Uint8Array(SLOT * CAP), offs = new Int32Array(CAP), lens = new Int32Array(CAP), vnet = new Uint8Array(CAP * 10);
input.packets.forEach((hex, i) => {
  buf.set(Buffer.from(hex, 'hex'), i * SLOT);
  offs[i] = i * SLOT;
  lens[i] = hex.length / 2;
  vnet.set(Buffer.from(input.vnet[i], 'hex'), i * 10);
});
const accepted = addon.tunWrite(t1.fd, buf, offs, lens, input.packets.length, vnet);
await new Promise((r) => setTimeout(r, 300));
function read(fd, withVnet) {
  const n = addon.tunRead(fd, buf, SLOT, 0, CAP, offs, lens, withVnet ? vnet : null);
  const out = [];
  for (let i = 0; i < n; i++) {
    const p = Buffer.from(buf.subarray(offs[i], offs[i] + lens[i]));
    if (p[6] === 6) out.push({ packet: p.toString('hex'), vnet: Buffer.from(vnet.subarray(i * 10, i * 10 + 10)).toString('hex') });
  }
  return out;
}
process.stdout.write(JSON.stringify({ accepted, plain: read(t2.fd, false), vnet: read(t3.fd, true) }));
`;

interface KernelResult {
  readonly accepted: number;
  readonly plain: readonly { packet: string }[];
  readonly vnet: readonly { packet: string; vnet: string }[];
}

const unavailable = netnsUnavailable();
const skip = unavailable !== undefined && !REQUIRE_NETNS;

describe.skipIf(skip)(`the kernel and our super-packets, in a network namespace${skip ? ` (skipped: ${unavailable})` : ''}`, () => {
  const namespaces = new Namespaces();
  afterAll(() => namespaces.deleteAll());

  it('forwards a coalesced super-packet as the original segments, and hands it up whole for segmentInto', () => {
    if (unavailable !== undefined) throw new Error(`SHIM6_REQUIRE_NETNS=1 but ${unavailable}`);
    const ns = namespaces.create();
    // MSS 1400: segments of 1472 octets fit the plain TUN's 1500-octet MTU.
    const MSS = 1400;
    const N = 40;
    const originals = new Map<number, Uint8Array[]>();
    for (const net of [2, 3]) {
      const dst = address(2);
      dst[5] = net;
      originals.set(net, Array.from({ length: N }, (_, k) => buildTcp({
        src: address(9), dst, seq: 0xffff_f000 + k * MSS, flags: k === N - 1 ? ACK | PSH : ACK,
        payload: pattern(k === N - 1 ? 321 : MSS, net * 100 + k),
      })));
    }
    const inBatch = new PacketBatch(2 * N, 2048, 8);
    fill(inBatch, [...originals.get(2)!, ...originals.get(3)!]);
    const out = new PacketBatch(2 * N, 65_536 + 8, 8);
    expect(coalesce(inBatch, out)).toBe(2);
    const packets: string[] = [];
    const vnets: string[] = [];
    for (let k = 0; k < out.count; k++) {
      packets.push(hex(packetAt(out, k)));
      vnets.push(hex(out.vnet.subarray(k * VNET_HDR_LEN, (k + 1) * VNET_HDR_LEN)));
    }
    const stdout = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', KERNEL_CHILD,
      nativeAddonPath()], { input: JSON.stringify({ packets, vnet: vnets }), encoding: 'utf8', timeout: 15_000 });
    const result = JSON.parse(stdout) as KernelResult;
    expect(result.accepted).toBe(2);
    /** What a router makes of an original: hop limit one less, checksum unchanged. */
    const forwarded = (p: Uint8Array): Uint8Array => {
      const copy = p.slice();
      copy[7]! -= 1;
      return copy;
    };
    // The plain TUN: the kernel segmented (tcp_gso_segment from our partial sum) and
    // completed the checksums in software; every segment is the original.
    const plain = result.plain.map((x) => Uint8Array.from(Buffer.from(x.packet, 'hex')));
    for (const p of plain) expect(checksumOk(p, 40)).toBe(true);
    expectPackets(plain, originals.get(2)!.map(forwarded));
    // The vnet TUN: one super-packet with the kernel's own header; segmentInto restores the originals.
    expect(result.vnet.length).toBe(1);
    const superBatch = new PacketBatch(1, 65_536 + 8, 8);
    fill(superBatch, [Uint8Array.from(Buffer.from(result.vnet[0]!.packet, 'hex'))]);
    superBatch.vnet.set(Buffer.from(result.vnet[0]!.vnet, 'hex'));
    expect(gsoType(superBatch, 0)).toBe(VIRTIO.GSO_TCPV6);
    expect(readVnet(superBatch, 0).gsoSize).toBe(MSS);
    const segments = new PacketBatch(64, 2048, 8);
    expect(segmentInto(superBatch, 0, segments, 0)).toBe(N);
    const restored = Array.from({ length: N }, (_, k) => packetAt(segments, k));
    for (const p of restored) expect(checksumOk(p, 40)).toBe(true);
    expectPackets(restored, originals.get(3)!.map(forwarded));
  });
});
