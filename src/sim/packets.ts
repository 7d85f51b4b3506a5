/**
 * Packets a simulated host builds or inspects besides Shim6 messages: application data
 * (IPv6 Next Header 253, experimental, RFC 3692), ICMPv6 Parameter Problem (RFC 4443
 * §3.4) for hosts without Shim6, and the classification a host's stack makes of a
 * received packet (RFC 5533 §12: payload with the Payload Extension header, control
 * message, ICMPv6, plain data).
 */
import { icmpv6Checksum } from '../dataplane/icmp.js';
import { writeU16, writeU32 } from '../wire/bytes.js';
import { IPPROTO_SHIM6, IPV6_HEADER_LEN, SIGNALLING_MAX_PACKET } from '../wire/constants.js';
import { walkExtensionHeaders } from '../wire/exthdr.js';
import { emitIpv6Header } from '../wire/ipv6.js';
import { readPayloadContextTag } from '../wire/payload.js';
import { IPPROTO_EXPERIMENT, IPPROTO_ICMPV6 } from './transcript.js';

/** An IPv6 packet carrying application data. */
export function plainPacket(src: Uint8Array, dst: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(IPV6_HEADER_LEN + data.length);
  emitIpv6Header({ trafficClass: 0, flowLabel: 0, payloadLength: data.length, nextHeader: IPPROTO_EXPERIMENT, hopLimit: 64, source: src, destination: dst }, out, 0);
  out.set(data, IPV6_HEADER_LEN);
  return out;
}

/** What a host's stack sees in a packet. */
export type Classified =
  | { readonly kind: 'payload'; readonly tag: number; readonly data: Uint8Array }
  | { readonly kind: 'control' | 'icmp' | 'other' }
  | { readonly kind: 'data'; readonly data: Uint8Array };

/** Classifies a received packet by its header chain; malformed Shim6 packets count as control (the engine counts why). */
export function classify(bytes: Uint8Array): Classified {
  const len = bytes.length >= IPV6_HEADER_LEN ? Math.min(bytes.length, IPV6_HEADER_LEN + ((bytes[4]! << 8) | bytes[5]!)) : bytes.length;
  const chain = walkExtensionHeaders(bytes, 0, len);
  if (!chain.ok) return { kind: bytes.length >= IPV6_HEADER_LEN && bytes[6] === IPPROTO_SHIM6 ? 'control' : 'other' };
  const c = chain.value;
  if (c.shim6Offset >= 0) {
    if ((bytes[c.shim6Offset + 2]! & 0x80) === 0) return { kind: 'control' };
    const data = bytes.subarray(c.upperOffset, len);
    return { kind: 'payload', tag: readPayloadContextTag(bytes, c.shim6Offset), data };
  }
  if (c.upperProtocol === IPPROTO_ICMPV6) return { kind: 'icmp' };
  if (c.upperProtocol === IPPROTO_EXPERIMENT) return { kind: 'data', data: bytes.subarray(c.upperOffset, len) };
  return { kind: 'other' };
}

/**
 * ICMPv6 Parameter Problem, code 1 (unrecognized Next Header type encountered), about
 * `invoking`, whose IPv6 Next Header field (octet 6) named the unknown protocol
 * (RFC 4443 §3.4): as much of the invoking packet as fits in the minimum MTU.
 */
export function parameterProblem(from: Uint8Array, invoking: Uint8Array, pointer = 6): Uint8Array {
  const body = invoking.subarray(0, Math.min(invoking.length, SIGNALLING_MAX_PACKET - IPV6_HEADER_LEN - 8));
  const icmpLen = 8 + body.length;
  const out = new Uint8Array(IPV6_HEADER_LEN + icmpLen);
  const to = invoking.subarray(8, 24);
  emitIpv6Header({ trafficClass: 0, flowLabel: 0, payloadLength: icmpLen, nextHeader: IPPROTO_ICMPV6, hopLimit: 64, source: from, destination: to }, out, 0);
  out[40] = 4;
  out[41] = 1;
  writeU32(out, 44, pointer);
  out.set(body, 48);
  writeU16(out, 42, icmpv6Checksum(out, 40, icmpLen, out, 8, out, 24));
  return out;
}
