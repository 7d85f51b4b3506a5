/**
 * Whole IPv6 packets that carry Shim6: parse the IPv6 header, walk the extension
 * headers, and decode the Shim6 part (a Payload Extension header, RFC 5533 §5.2, or a
 * control message, §5.3), applying the receive checks of §12.3 to control messages
 * (neither address may be multicast or unspecified). Emit builds signalling packets
 * within the 1280-octet limit (§5.1) and payload packets for tools and tests.
 */
import { isMulticast, isUnspecified } from './address.js';
import { IPPROTO_SHIM6, IPV6_HEADER_LEN, PAYLOAD_HEADER_LEN } from './constants.js';
import { controlMessageLength, emitValidatedControlMessage, parseControlMessage, validateControlMessage, verifyControlChecksum, type ControlMessage, type ControlParseConfig } from './control.js';
import { walkExtensionHeaders, type HeaderChain } from './exthdr.js';
import { emitIpv6Header, parseIpv6Header, validateIpv6Header, type Ipv6Header } from './ipv6.js';
import { emitPayloadHeader, parsePayloadHeader, type PayloadHeader } from './payload.js';
import { fail, forward, ok, type Parsed } from './result.js';

export type Shim6Part =
  | { readonly kind: 'payload'; readonly offset: number; readonly header: PayloadHeader }
  | { readonly kind: 'control'; readonly offset: number; readonly message: ControlMessage; readonly checksumValid: boolean };

export interface ParsedPacket {
  readonly ipv6: Ipv6Header;
  readonly chain: HeaderChain;
  /** Absent when the packet carries no Shim6 header. */
  readonly shim6?: Shim6Part;
  /** 40 + Payload Length: octets of the packet proper (link padding after it is ignored). */
  readonly length: number;
}

/**
 * Parses the IPv6 packet at [start, start+len). Error pointers count from `start`, the
 * first octet of the IPv6 header. Never throws.
 */
export interface PacketParseConfig extends Omit<ControlParseConfig, 'packetStart'> {
  /** Drop control messages from or to multicast or unspecified addresses (RFC 5533 §12.3; default true). Tools that show such packets turn this off. */
  readonly checkAddresses?: boolean;
}

export function parsePacket(b: Uint8Array, start = 0, len = b.length - start, cfg: PacketParseConfig = {}): Parsed<ParsedPacket> {
  const ip = parseIpv6Header(b, start, len);
  if (!ip.ok) return forward(ip);
  const length = IPV6_HEADER_LEN + ip.value.payloadLength;
  const chain = walkExtensionHeaders(b, start, length);
  if (!chain.ok) return forward(chain);
  const shimOff = chain.value.shim6Offset;
  if (shimOff < 0) return ok({ ipv6: ip.value, chain: chain.value, length });
  const avail = start + length - shimOff;
  if (b[shimOff + 2]! & 0x80) {
    const h = parsePayloadHeader(b, shimOff, avail);
    if (!h.ok) return forward(h);
    return ok({ ipv6: ip.value, chain: chain.value, shim6: { kind: 'payload', offset: shimOff, header: h.value }, length });
  }
  if (cfg.checkAddresses !== false && (isMulticast(b, start + 8) || isUnspecified(b, start + 8) || isMulticast(b, start + 24) || isUnspecified(b, start + 24))) {
    return fail('bad-address', start + 8, 'control message from or to a multicast or unspecified address');
  }
  const m = parseControlMessage(b, shimOff, avail, {
    ...(cfg.verifyChecksum === undefined ? {} : { verifyChecksum: cfg.verifyChecksum }),
    ...(cfg.unknownCritical === undefined ? {} : { unknownCritical: cfg.unknownCritical }),
    packetStart: start,
  });
  if (!m.ok) return forward(m);
  const checksumValid = cfg.verifyChecksum === false ? verifyControlChecksum(b, shimOff) : true;
  return ok({ ipv6: ip.value, chain: chain.value, shim6: { kind: 'control', offset: shimOff, message: m.value, checksumValid }, length });
}

/** Addressing of a packet to build; Payload Length and Next Header are computed. */
export interface Ipv6Addressing {
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  readonly hopLimit?: number;
  readonly flowLabel?: number;
  readonly trafficClass?: number;
}

/** Length of the signalling packet (IPv6 header + message). */
export function controlPacketLength(m: ControlMessage): number {
  return IPV6_HEADER_LEN + controlMessageLength(m);
}

/** Writes IPv6 header + control message at `off` (within 1280 octets); returns octets written. */
export function emitControlPacket(addr: Ipv6Addressing, m: ControlMessage, b: Uint8Array, off = 0): number {
  // Every check runs before the first octet is written, so a refused packet leaves `b` untouched.
  validateControlMessage(m);
  const ip = ipv6Of(addr, IPPROTO_SHIM6, controlMessageLength(m));
  validateIpv6Header(ip);
  const mlen = emitValidatedControlMessage(m, b, off + IPV6_HEADER_LEN);
  emitIpv6Header(ip, b, off);
  return IPV6_HEADER_LEN + mlen;
}

export function encodeControlPacket(addr: Ipv6Addressing, m: ControlMessage): Uint8Array {
  const out = new Uint8Array(controlPacketLength(m));
  emitControlPacket(addr, m, out, 0);
  return out;
}

/** A payload packet: IPv6 header, Payload Extension header, then `upperLayer` (protocol `nextHeader`). */
export function encodePayloadPacket(addr: Ipv6Addressing, receiverContextTag: number, nextHeader: number, upperLayer: Uint8Array): Uint8Array {
  const out = new Uint8Array(IPV6_HEADER_LEN + PAYLOAD_HEADER_LEN + upperLayer.length);
  emitIpv6Header(ipv6Of(addr, IPPROTO_SHIM6, PAYLOAD_HEADER_LEN + upperLayer.length), out, 0);
  emitPayloadHeader({ nextHeader, receiverContextTag }, out, IPV6_HEADER_LEN);
  out.set(upperLayer, IPV6_HEADER_LEN + PAYLOAD_HEADER_LEN);
  return out;
}

function ipv6Of(addr: Ipv6Addressing, nextHeader: number, payloadLength: number): Ipv6Header {
  return {
    trafficClass: addr.trafficClass ?? 0,
    flowLabel: addr.flowLabel ?? 0,
    payloadLength,
    nextHeader,
    hopLimit: addr.hopLimit ?? 64,
    source: addr.source,
    destination: addr.destination,
  };
}
