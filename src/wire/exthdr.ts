/**
 * IPv6 extension-header walking (RFC 8200 §4) to find the Shim6 header (protocol 140)
 * behind Hop-by-Hop, Routing, Destination Options, Fragment and AH headers (RFC 5533
 * §4.6), and to find where a sender inserts it.
 *
 * Two forms: `locateShim6` for the hot path (no allocation; results in a scratch
 * array), and `walkExtensionHeaders` for tools, which lists every header.
 *
 * The walk stops at a non-first fragment (the rest is fragment data), at ESP (encrypted)
 * and at any protocol that is not an extension header.
 */
import { readU16 } from './bytes.js';
import { IPPROTO_SHIM6, IPV6_HEADER_LEN, NO_NXT_HDR } from './constants.js';
import { fail, ok, type Parsed } from './result.js';

export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_MH = 135;

/** Headers that share the generic (Next Header, Hdr Ext Len in 8-octet units) layout. */
function isGenericExtHeader(nh: number): boolean {
  return nh === IPPROTO_HOPOPTS || nh === IPPROTO_ROUTING || nh === IPPROTO_DSTOPTS || nh === IPPROTO_MH;
}

/** Length of the extension header `nh` at `off`, or -1 when `nh` is not one the walker steps over. */
function extHeaderLength(b: Uint8Array, off: number, nh: number): number {
  if (isGenericExtHeader(nh)) return (b[off + 1]! + 1) * 8;
  if (nh === IPPROTO_FRAGMENT) return 8;
  if (nh === IPPROTO_AH) return (b[off + 1]! + 2) * 4;
  return -1;
}

/** Scratch results of `locateShim6`: [shim6 offset, offset of the Next Header octet that names it]. */
export const locateResult = new Int32Array(2);

/**
 * Finds the Shim6 header in the IPv6 packet at [start, start+len). Returns its absolute
 * offset, or -1 if there is none or the headers are malformed. On success
 * `locateResult[1]` holds the offset of the Next Header octet that says 140.
 */
export function locateShim6(b: Uint8Array, start: number, len: number): number {
  if (start < 0 || len < IPV6_HEADER_LEN || start + len > b.length) return -1;
  const end = start + len;
  let nhOff = start + 6;
  let nh = b[nhOff]!;
  let off = start + IPV6_HEADER_LEN;
  for (let guard = 0; guard < 64; guard++) {
    if (nh === IPPROTO_SHIM6) {
      if (off + 8 > end) return -1;
      locateResult[0] = off;
      locateResult[1] = nhOff;
      return off;
    }
    if (off + 2 > end) return -1;
    const hl = extHeaderLength(b, off, nh);
    if (hl < 0 || off + hl > end) return -1;
    if (nh === IPPROTO_FRAGMENT && (readU16(b, off + 2) & 0xfff8) !== 0) return -1;
    nhOff = off;
    nh = b[off]!;
    off += hl;
  }
  return -1;
}

/**
 * Where a sender inserts the Shim6 header (RFC 5533 §4.6): after Hop-by-Hop, Routing and
 * a Destination Options header that precedes a Routing header; before Fragment,
 * Destination Options, AH, ESP and the upper layer. Returns the insertion offset and
 * sets `locateResult[1]` to the Next Header octet to rewrite, or -1 when malformed.
 */
export function shim6InsertionPoint(b: Uint8Array, start: number, len: number): number {
  if (start < 0 || len < IPV6_HEADER_LEN || start + len > b.length) return -1;
  const end = start + len;
  let nhOff = start + 6;
  let nh = b[nhOff]!;
  let off = start + IPV6_HEADER_LEN;
  for (let guard = 0; guard < 64; guard++) {
    let routingBefore = nh === IPPROTO_HOPOPTS || nh === IPPROTO_ROUTING;
    if (nh === IPPROTO_DSTOPTS && off + 2 <= end) {
      const hl = (b[off + 1]! + 1) * 8;
      routingBefore = off + hl + 2 <= end && b[off]! === IPPROTO_ROUTING;
    }
    if (!routingBefore) {
      locateResult[1] = nhOff;
      return off;
    }
    if (off + 2 > end) return -1;
    const hl = (b[off + 1]! + 1) * 8;
    if (off + hl > end) return -1;
    nhOff = off;
    nh = b[off]!;
    off += hl;
  }
  return -1;
}

export interface ExtHeader {
  /** Protocol number of this header (0, 43, 44, 51, 60, 135, 140). */
  readonly protocol: number;
  /** Absolute offset of the header. */
  readonly offset: number;
  readonly length: number;
}

export interface HeaderChain {
  readonly headers: readonly ExtHeader[];
  /** Offset of the Shim6 header, or -1. */
  readonly shim6Offset: number;
  /** Protocol after the last extension header walked (the upper layer, or 44 for fragment data, 50 for ESP). */
  readonly upperProtocol: number;
  readonly upperOffset: number;
}

/**
 * Lists the extension headers of the IPv6 packet at [start, start+len), stepping over a
 * Shim6 Payload Extension header (P=1) to the upper layer but stopping at a Shim6 control
 * message (its Next Header is always 59).
 */
export function walkExtensionHeaders(b: Uint8Array, start: number, len: number): Parsed<HeaderChain> {
  if (start < 0 || start + len > b.length) return fail('truncated', Math.max(0, start), `range ${start}..${start + len} lies outside the ${b.length}-octet buffer`);
  if (len < IPV6_HEADER_LEN) return fail('truncated', start, 'an IPv6 header needs 40 octets');
  const end = start + len;
  const headers: ExtHeader[] = [];
  let nh = b[start + 6]!;
  let off = start + IPV6_HEADER_LEN;
  let shim6Offset = -1;
  for (;;) {
    if (nh === IPPROTO_SHIM6) {
      if (headers.length >= 64) return fail('ext-header-truncated', off, 'more than 64 extension headers');
      if (off + 8 > end) return fail('ext-header-truncated', off, 'Shim6 header runs past the packet');
      const hl = (b[off + 1]! + 1) * 8;
      if (off + hl > end) {
        // The first Shim6 header is handed to the Shim6 parsers, which name the problem
        // (header-past-end, a silent drop per RFC 5533 §12.3) so drops are counted by reason.
        if (shim6Offset < 0) return ok({ headers, shim6Offset: off, upperProtocol: NO_NXT_HDR, upperOffset: end });
        return fail('ext-header-truncated', off, 'Shim6 header runs past the packet');
      }
      headers.push({ protocol: nh, offset: off, length: hl });
      if (shim6Offset < 0) shim6Offset = off;
      if ((b[off + 2]! & 0x80) === 0) return ok({ headers, shim6Offset, upperProtocol: NO_NXT_HDR, upperOffset: off + hl });
      nh = b[off]!;
      off += hl;
      continue;
    }
    const hl = off + 2 <= end ? extHeaderLength(b, off, nh) : -1;
    if (hl < 0) {
      if (off + 2 > end && (isGenericExtHeader(nh) || nh === IPPROTO_FRAGMENT || nh === IPPROTO_AH)) {
        return fail('ext-header-truncated', off, `extension header ${nh} runs past the packet`);
      }
      return ok({ headers, shim6Offset, upperProtocol: nh, upperOffset: off });
    }
    if (off + hl > end) return fail('ext-header-truncated', off, `extension header ${nh} of ${hl} octets runs past the packet`);
    if (headers.length >= 64) return fail('ext-header-truncated', off, 'more than 64 extension headers');
    headers.push({ protocol: nh, offset: off, length: hl });
    if (nh === IPPROTO_FRAGMENT && (readU16(b, off + 2) & 0xfff8) !== 0) {
      return ok({ headers, shim6Offset, upperProtocol: IPPROTO_FRAGMENT, upperOffset: off + hl });
    }
    nh = b[off]!;
    off += hl;
  }
}
