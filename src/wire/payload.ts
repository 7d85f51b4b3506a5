/**
 * Shim6 Payload Extension header (RFC 5533 §5.2): Next Header, Hdr Ext Len = 0, P = 1,
 * 47-bit Receiver Context Tag; 8 octets. Used after a locator switch so the receiver can
 * map the locators back to the ULIDs. It has no checksum (§5.3 covers control messages).
 *
 * The hot-path helpers work in place on a packet stored at [start, start+len) of a
 * larger buffer, with no allocation: `insertPayloadHeader` needs 8 octets of headroom in
 * front of `start` and moves the headers that precede the insertion point into it;
 * `stripPayloadHeader` moves them back. Both return the packet's new start offset, or
 * -1 when the packet cannot take the operation (malformed, no headroom, not a payload
 * header, Payload Length overflow). Upper-layer checksums are untouched: they stay
 * computed over the ULIDs (§11.1).
 *
 * Note on P: §5.2 and §5.3 say P=1 marks the payload header; §12 says the opposite in
 * passing. We follow §5.2/§5.3 (README, "Conformance notes").
 */
import { readTag47, readU16, writeTag47, writeU16, checkRange } from './bytes.js';
import { CONTEXT_TAG_MAX, IPPROTO_SHIM6, IPV6_HEADER_LEN, PAYLOAD_HEADER_LEN } from './constants.js';
import { locateResult, locateShim6, shim6InsertionPoint } from './exthdr.js';
import { fail, ok, WireEmitError, type Parsed } from './result.js';

export interface PayloadHeader {
  /** Protocol of what follows (the upper layer, or another extension header). */
  readonly nextHeader: number;
  /** Receiver Context Tag: allocated by the receiver to identify the context. */
  readonly receiverContextTag: number;
}

/** Parses a Payload Extension header at `off` (P must be 1, Hdr Ext Len 0). */
export function parsePayloadHeader(b: Uint8Array, off = 0, len = b.length - off): Parsed<PayloadHeader> {
  if (off < 0 || len < PAYLOAD_HEADER_LEN || off + len > b.length) return fail('truncated', off, `a Payload Extension header needs 8 octets, ${Math.max(0, len)} available`);
  if ((b[off + 2]! & 0x80) === 0) return fail('wrong-p-bit', off + 2, 'P bit is 0: a control message, not a Payload Extension header');
  if (b[off + 1] !== 0) return fail('bad-payload-hdr-ext-len', off + 1, `Payload Extension header Hdr Ext Len must be 0, got ${b[off + 1]}`);
  return ok({ nextHeader: b[off]!, receiverContextTag: readTag47(b, off + 2) });
}

export function emitPayloadHeader(h: PayloadHeader, b: Uint8Array, off = 0): void {
  checkRange('Next Header', h.nextHeader, 255);
  checkRange('Receiver Context Tag', h.receiverContextTag, CONTEXT_TAG_MAX);
  if (off < 0 || off + PAYLOAD_HEADER_LEN > b.length) throw new WireEmitError('buffer-too-small', 'no room for an 8-octet Payload Extension header');
  writePayloadHeader(b, off, h.nextHeader, h.receiverContextTag);
}

function writePayloadHeader(b: Uint8Array, off: number, nextHeader: number, tag: number): void {
  b[off] = nextHeader;
  b[off + 1] = 0;
  writeTag47(b, off + 2, tag, 1);
}

/** True when the Shim6 header at `off` is a Payload Extension header (P=1). No bounds check. */
export function isPayloadHeader(b: Uint8Array, off: number): boolean {
  return (b[off + 2]! & 0x80) !== 0;
}

/** The Receiver Context Tag of the Payload Extension header at `off`. No bounds check. */
export function readPayloadContextTag(b: Uint8Array, off: number): number {
  return readTag47(b, off + 2);
}

/**
 * Inserts a Payload Extension header carrying `receiverContextTag` into the IPv6 packet
 * at [start, start+len), in place, using the 8 octets of headroom before `start`.
 * Returns the new start (start - 8); the packet is then len + 8 octets long.
 */
export function insertPayloadHeader(b: Uint8Array, start: number, len: number, receiverContextTag: number): number {
  if (start < PAYLOAD_HEADER_LEN || start + len > b.length) return -1;
  if (len < IPV6_HEADER_LEN) return -1;
  const payloadLength = readU16(b, start + 4);
  if (IPV6_HEADER_LEN + payloadLength > len || payloadLength + PAYLOAD_HEADER_LEN > 0xffff) return -1;
  const ins = shim6InsertionPoint(b, start, len);
  if (ins < 0) return -1;
  const nhOff = locateResult[1]!;
  const nextHeader = b[nhOff]!;
  b[nhOff] = IPPROTO_SHIM6;
  const newStart = start - PAYLOAD_HEADER_LEN;
  b.copyWithin(newStart, start, ins);
  writePayloadHeader(b, ins - PAYLOAD_HEADER_LEN, nextHeader, receiverContextTag);
  writeU16(b, newStart + 4, payloadLength + PAYLOAD_HEADER_LEN);
  return newStart;
}

/**
 * Removes the Payload Extension header from the IPv6 packet at [start, start+len), in
 * place. Returns the new start (start + 8); the packet is then len - 8 octets long.
 * Read the tag first with `locateShim6` and `readPayloadContextTag`.
 */
export function stripPayloadHeader(b: Uint8Array, start: number, len: number): number {
  if (start < 0 || start + len > b.length) return -1;
  const off = locateShim6(b, start, len);
  if (off < 0 || !isPayloadHeader(b, off) || b[off + 1] !== 0) return -1;
  const nhOff = locateResult[1]!;
  const payloadLength = readU16(b, start + 4);
  if (payloadLength < PAYLOAD_HEADER_LEN) return -1;
  b[nhOff] = b[off]!;
  writeU16(b, start + 4, payloadLength - PAYLOAD_HEADER_LEN);
  b.copyWithin(start + PAYLOAD_HEADER_LEN, start, off);
  return start + PAYLOAD_HEADER_LEN;
}
