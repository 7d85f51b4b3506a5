/** The IPv6 fixed header (RFC 8200 §3), written by hand field by field. */
import { describe, expect, it } from 'vitest';
import { emitIpv6Header, ipv6PacketLength, parseIpv6Header, type Ipv6Header } from '../../src/wire/index.js';
import { a5, ADDR_A1, ADDR_B1, concat, expectErr, expectOk, hex, prefixFailures, zeros } from './vectors.js';

const HEADER = concat(
  hex('6a'), // Version 6 | Traffic Class bits 7-4 (0xa)
  hex('bc'), // Traffic Class bits 3-0 (0xb) | Flow Label bits 19-16 (0xc)
  hex('def1'), // Flow Label bits 15-0
  hex('0008'), // Payload Length 8
  hex('8c'), // Next Header 140 (Shim6)
  hex('ff'), // Hop Limit 255
  ADDR_A1, // Source Address
  ADDR_B1, // Destination Address
);
const FIELDS: Ipv6Header = {
  trafficClass: 0xab, flowLabel: 0xcdef1, payloadLength: 8, nextHeader: 140, hopLimit: 255, source: ADDR_A1, destination: ADDR_B1,
};

describe('IPv6 header (RFC 8200 §3)', () => {
  it('parses version, Traffic Class, Flow Label and the rest', () => {
    expect(expectOk(parseIpv6Header(concat(HEADER, zeros(8))))).toEqual(FIELDS);
  });

  it('emits the same 40 octets into a 0xa5-filled buffer', () => {
    const b = a5(40);
    emitIpv6Header(FIELDS, b);
    expect(b).toEqual(HEADER);
  });

  it('emits at an offset without touching neighbours', () => {
    const b = a5(48);
    emitIpv6Header(FIELDS, b, 4);
    expect(b).toEqual(concat(a5(4), HEADER, a5(4)));
  });

  it('octets after the payload (link padding) are allowed', () => {
    expect(expectOk(parseIpv6Header(concat(HEADER, zeros(20))))).toMatchObject({ payloadLength: 8 });
  });

  it('a version other than 6 is bad-ip-version at octet 0', () => {
    const v = concat(HEADER, zeros(8));
    v[0] = 0x4a;
    expect(expectErr(parseIpv6Header(v))).toMatchObject({ reason: 'bad-ip-version', offset: 0 });
  });

  it('a Payload Length beyond the octets received is bad-payload-length at octet 4', () => {
    expect(expectErr(parseIpv6Header(concat(HEADER, zeros(7))))).toMatchObject({ reason: 'bad-payload-length', offset: 4 });
  });

  it('every prefix shorter than 40 octets is truncated', () => {
    for (const e of prefixFailures(HEADER, (b) => parseIpv6Header(b))) expect(e.reason).toBe('truncated');
  });

  it('parses at an offset and honours len', () => {
    const b = concat(zeros(3), HEADER, zeros(8));
    expect(expectOk(parseIpv6Header(b, 3, 48))).toEqual(FIELDS);
    expect(expectErr(parseIpv6Header(b, 3, 47)).reason).toBe('bad-payload-length');
    expect(expectErr(parseIpv6Header(b, 3, 49)).reason).toBe('truncated');
  });

  it('refuses out-of-range fields and short buffers', () => {
    const bad: Partial<Ipv6Header>[] = [
      { trafficClass: 256 }, { flowLabel: 0x10_0000 }, { payloadLength: 0x1_0000 }, { nextHeader: 256 }, { hopLimit: -1 }, { source: zeros(4) },
    ];
    for (const b of bad) expect(() => emitIpv6Header({ ...FIELDS, ...b }, a5(40))).toThrow(expect.objectContaining({ code: 'field-range' }));
    expect(() => emitIpv6Header(FIELDS, a5(39))).toThrow(expect.objectContaining({ code: 'buffer-too-small' }));
  });

  it('ipv6PacketLength (the packet path\'s check) agrees with parseIpv6Header for every len, and wants version 6', () => {
    const b = concat(zeros(3), HEADER, zeros(8));
    for (let len = -1; len <= 48; len++) {
      const r = parseIpv6Header(b, 3, len < 0 ? 0 : len);
      expect(ipv6PacketLength(b, 3, len), `len ${len}`).toBe(len >= 0 && r.ok ? 40 + r.value.payloadLength : -1);
    }
    expect(ipv6PacketLength(b, 3, 48)).toBe(48); // 8 octets of payload; what follows is not the packet's
    const v4 = b.slice();
    v4[3] = (4 << 4) | (v4[3]! & 0x0f);
    expect(ipv6PacketLength(v4, 3, 48)).toBe(-1);
  });
});
