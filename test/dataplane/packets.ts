// Test packets for the data plane: IPv6 + UDP/TCP with correct upper-layer checksums, and
// the raw-socket view of a packet (what an IPv6 raw socket delivers: no IPv6 header).
import { parseIpv6 } from '../../src/wire/address.js';

export function addr(text: string): Uint8Array {
  const a = parseIpv6(text);
  if (a === undefined) throw new Error(`bad address ${text}`);
  return a;
}

/** Independent checksum: sums with a DataView, not the code under test. */
export function upperChecksum(src: Uint8Array, dst: Uint8Array, nh: number, upper: Uint8Array): number {
  const parts = [src, dst, new Uint8Array([0, 0, upper.length >> 8, upper.length & 0xff, 0, 0, 0, nh]), upper];
  let sum = 0;
  for (const p of parts) {
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    for (let i = 0; i + 1 < p.length; i += 2) sum += v.getUint16(i);
    if (p.length % 2 === 1) sum += p[p.length - 1]! << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface PacketOptions {
  readonly trafficClass?: number;
  readonly flowLabel?: number;
  readonly hopLimit?: number;
}

export function ipv6(src: Uint8Array, dst: Uint8Array, nh: number, payload: Uint8Array, o: PacketOptions = {}): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  const tc = o.trafficClass ?? 0;
  const fl = o.flowLabel ?? 0;
  p[0] = 0x60 | (tc >> 4);
  p[1] = ((tc & 15) << 4) | (fl >> 16);
  p[2] = (fl >> 8) & 0xff;
  p[3] = fl & 0xff;
  p[4] = payload.length >> 8;
  p[5] = payload.length & 0xff;
  p[6] = nh;
  p[7] = o.hopLimit ?? 64;
  p.set(src, 8);
  p.set(dst, 24);
  p.set(payload, 40);
  return p;
}

export function udp(src: Uint8Array, dst: Uint8Array, data: Uint8Array, o: PacketOptions = {}): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  const v = new DataView(u.buffer);
  v.setUint16(0, 40000);
  v.setUint16(2, 5001);
  v.setUint16(4, u.length);
  u.set(data, 8);
  v.setUint16(6, upperChecksum(src, dst, 17, u) || 0xffff);
  return ipv6(src, dst, 17, u, o);
}

export function tcp(src: Uint8Array, dst: Uint8Array, seq: number, data: Uint8Array, o: PacketOptions = {}): Uint8Array {
  const t = new Uint8Array(20 + data.length);
  const v = new DataView(t.buffer);
  v.setUint16(0, 40001);
  v.setUint16(2, 80);
  v.setUint32(4, seq >>> 0);
  v.setUint32(8, 1);
  t[12] = 5 << 4;
  t[13] = 0x18; // PSH, ACK
  v.setUint16(14, 65535);
  t.set(data, 20);
  v.setUint16(16, upperChecksum(src, dst, 6, t));
  return ipv6(src, dst, 6, t, o);
}

/** True when the TCP/UDP checksum of an IPv6 packet (no extension headers) verifies. */
export function upperChecksumValid(p: Uint8Array): boolean {
  const upper = p.slice(40, 40 + ((p[4]! << 8) | p[5]!));
  return upperChecksum(p.subarray(8, 24), p.subarray(24, 40), p[6]!, upper) === 0;
}

/** What an IPv6 raw socket delivers for packet `p` (no extension headers before the protocol). */
export function rawView(p: Uint8Array): { data: Uint8Array; src: Uint8Array; dst: Uint8Array; hopLimit: number; trafficClass: number; flowLabel: number } {
  return {
    data: p.slice(40),
    src: p.slice(8, 24),
    dst: p.slice(24, 40),
    hopLimit: p[7]!,
    trafficClass: ((p[0]! & 15) << 4) | (p[1]! >> 4),
    flowLabel: ((p[1]! & 15) << 16) | (p[2]! << 8) | p[3]!,
  };
}
