/**
 * The IPv6 fixed header (RFC 8200 §3). Jumbograms (Payload Length 0 with a Jumbo
 * Payload option, RFC 2675) are not supported: Payload Length 0 means an empty payload.
 */
import { readAddress } from './address.js';
import { checkRange, readU16, writeU16 } from './bytes.js';
import { IPV6_HEADER_LEN } from './constants.js';
import { fail, ok, WireEmitError, type Parsed } from './result.js';

export interface Ipv6Header {
  readonly trafficClass: number;
  /** 20-bit flow label (RFC 6437). */
  readonly flowLabel: number;
  /** Octets after the fixed header. */
  readonly payloadLength: number;
  readonly nextHeader: number;
  readonly hopLimit: number;
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
}

/**
 * The length of the IPv6 packet at `off` (40 + Payload Length), or -1 when the `len`
 * octets there are not a whole one: shorter than the fixed header, not version 6, or
 * shorter than Payload Length says. Octets past that length are not the packet's. For
 * the packet path: no allocation (parseIpv6Header is the checked, allocating form).
 */
export function ipv6PacketLength(b: Uint8Array, off: number, len: number): number {
  if (len < IPV6_HEADER_LEN || (b[off]! >>> 4) !== 6) return -1;
  const total = IPV6_HEADER_LEN + ((b[off + 4]! << 8) | b[off + 5]!);
  return total > len ? -1 : total;
}

/** Parses the fixed header at `off`; checks version 6 and that Payload Length fits in `len`. */
export function parseIpv6Header(b: Uint8Array, off = 0, len = b.length - off): Parsed<Ipv6Header> {
  if (off < 0 || len < IPV6_HEADER_LEN || off + len > b.length) return fail('truncated', off, `an IPv6 header needs 40 octets, ${Math.max(0, len)} available`);
  const version = b[off]! >>> 4;
  if (version !== 6) return fail('bad-ip-version', off, `IP version ${version}, expected 6`);
  const payloadLength = readU16(b, off + 4);
  if (IPV6_HEADER_LEN + payloadLength > len) {
    return fail('bad-payload-length', off + 4, `Payload Length ${payloadLength} exceeds the ${len - IPV6_HEADER_LEN} octets received`);
  }
  return ok({
    trafficClass: ((b[off]! & 0x0f) << 4) | (b[off + 1]! >>> 4),
    flowLabel: ((b[off + 1]! & 0x0f) << 16) | readU16(b, off + 2),
    payloadLength,
    nextHeader: b[off + 6]!,
    hopLimit: b[off + 7]!,
    source: readAddress(b, off + 8),
    destination: readAddress(b, off + 24),
  });
}

/** Throws `WireEmitError` unless every field of `h` fits its wire width. */
export function validateIpv6Header(h: Ipv6Header): void {
  checkRange('Traffic Class', h.trafficClass, 255);
  checkRange('Flow Label', h.flowLabel, 0xfffff);
  checkRange('Payload Length', h.payloadLength, 0xffff);
  checkRange('Next Header', h.nextHeader, 255);
  checkRange('Hop Limit', h.hopLimit, 255);
  if (h.source.length !== 16 || h.destination.length !== 16) throw new WireEmitError('field-range', 'IPv6 addresses must be 16 octets');
}

export function emitIpv6Header(h: Ipv6Header, b: Uint8Array, off = 0): void {
  validateIpv6Header(h);
  if (off < 0 || off + IPV6_HEADER_LEN > b.length) throw new WireEmitError('buffer-too-small', 'no room for a 40-octet IPv6 header');
  b[off] = 0x60 | (h.trafficClass >>> 4);
  b[off + 1] = ((h.trafficClass & 0x0f) << 4) | (h.flowLabel >>> 16);
  writeU16(b, off + 2, h.flowLabel & 0xffff);
  writeU16(b, off + 4, h.payloadLength);
  b[off + 6] = h.nextHeader;
  b[off + 7] = h.hopLimit;
  b.set(h.source, off + 8);
  b.set(h.destination, off + 24);
}
