/**
 * Whole packets (RFC 8200 §3-4 around RFC 5533 §5): parsePacket finds and decodes the Shim6
 * part, applies the §12.3 address checks to control messages, and counts Error pointers
 * from the first octet of the IPv6 header; the emitters build the same packets.
 */
import { describe, expect, it } from 'vitest';
import {
  controlPacketLength,
  emitControlPacket,
  encodeControlPacket,
  encodePayloadPacket,
  parsePacket,
  WireEmitError,
  type I1Message,
} from '../../src/wire/index.js';
import {
  a5, ADDR_A1, ADDR_B1, concat, destOpts, expectErr, expectOk, fragment, hex, hopByHop, ipv6Hdr, prefixFailures, sealed, shim6Payload, TAG, UDP, zeros,
} from './vectors.js';

const I1 = sealed(hex('3b 01 01 00 0000', '0000 0000 0001', '0000 0002'));
const I1_FIELDS: I1Message = { kind: 'I1', nextHeader: 59, reserved1: 0, r: 0, initiatorContextTag: 1, initiatorNonce: 2, options: [] };
const CONTROL_PACKET = concat(ipv6Hdr(140, 16), I1);
const PAYLOAD_PACKET = concat(ipv6Hdr(140, 20), shim6Payload(17), UDP);

const MULTICAST = hex('ff02 0000 0000 0000 0000 0000 0000 0001');
const UNSPECIFIED = zeros(16);

describe('parsePacket', () => {
  it('decodes a payload packet: the Payload Extension header at 40 and UDP behind it', () => {
    const p = expectOk(parsePacket(PAYLOAD_PACKET));
    expect(p.shim6).toEqual({ kind: 'payload', offset: 40, header: { nextHeader: 17, receiverContextTag: TAG } });
    expect(p.length).toBe(60);
    expect(p.chain).toMatchObject({ upperProtocol: 17, upperOffset: 48 });
    expect(p.ipv6).toMatchObject({ nextHeader: 140, payloadLength: 20, source: ADDR_A1, destination: ADDR_B1 });
  });

  it('decodes a control packet', () => {
    const p = expectOk(parsePacket(CONTROL_PACKET));
    expect(p.shim6).toEqual({ kind: 'control', offset: 40, message: I1_FIELDS, checksumValid: true });
  });

  it('finds a control message behind Hop-by-Hop and Destination Options headers', () => {
    const pkt = concat(ipv6Hdr(0, 32), hopByHop(60), destOpts(140), I1);
    expect(expectOk(parsePacket(pkt)).shim6).toMatchObject({ kind: 'control', offset: 56, message: I1_FIELDS });
  });

  it('a packet without a Shim6 header has no shim6 part', () => {
    const p = expectOk(parsePacket(concat(ipv6Hdr(17, 12), UDP)));
    expect(p.shim6).toBeUndefined();
  });

  it('a packet stored at an offset reports absolute offsets', () => {
    const b = concat(a5(6), CONTROL_PACKET);
    expect(expectOk(parsePacket(b, 6)).shim6).toMatchObject({ kind: 'control', offset: 46 });
  });

  it('octets after 40 + Payload Length are link padding and ignored', () => {
    const p = expectOk(parsePacket(concat(CONTROL_PACKET, hex('ffff ffff'))));
    expect(p.length).toBe(56);
    expect(p.shim6).toMatchObject({ message: I1_FIELDS });
  });

  it('a Shim6 header behind a non-first fragment is not decoded', () => {
    const pkt = concat(ipv6Hdr(44, 24), fragment(140, 1), I1);
    expect(expectOk(parsePacket(pkt)).shim6).toBeUndefined();
  });

  it('every prefix of a control packet fails (truncated, then bad-payload-length)', () => {
    const errors = prefixFailures(CONTROL_PACKET, (b) => parsePacket(b));
    errors.forEach((e, n) => expect(e.reason, `${n} octets`).toBe(n < 40 ? 'truncated' : 'bad-payload-length'));
  });

  it('an IPv4 packet is bad-ip-version', () => {
    const v = CONTROL_PACKET.slice();
    v[0] = 0x45;
    expect(expectErr(parsePacket(v)).reason).toBe('bad-ip-version');
  });
});

describe('parsePacket: §12.3 checks on control messages', () => {
  const cases: [string, Uint8Array, Uint8Array][] = [
    ['multicast source', MULTICAST, ADDR_B1],
    ['multicast destination', ADDR_A1, MULTICAST],
    ['unspecified source', UNSPECIFIED, ADDR_B1],
    ['unspecified destination', ADDR_A1, UNSPECIFIED],
  ];
  for (const [name, src, dst] of cases) {
    it(`a control message with a ${name} is bad-address, with no reply`, () => {
      const err = expectErr(parsePacket(concat(ipv6Hdr(140, 16, src, dst), I1)));
      expect(err).toMatchObject({ reason: 'bad-address', offset: 8 });
      expect(err.reply).toBeUndefined();
    });
  }

  it('payload packets are not subject to the control-message address check', () => {
    const pkt = concat(ipv6Hdr(140, 20, ADDR_A1, MULTICAST), shim6Payload(17), UDP);
    expect(expectOk(parsePacket(pkt)).shim6).toMatchObject({ kind: 'payload' });
  });

  it('a bad checksum is rejected; with verifyChecksum:false it is decoded and flagged', () => {
    const v = CONTROL_PACKET.slice();
    v[55] ^= 1;
    expect(expectErr(parsePacket(v))).toMatchObject({ reason: 'bad-checksum', offset: 44 });
    const p = expectOk(parsePacket(v, 0, v.length, { verifyChecksum: false }));
    expect(p.shim6).toMatchObject({ kind: 'control', checksumValid: false, message: { initiatorNonce: 3 } });
    expect(expectOk(parsePacket(CONTROL_PACKET, 0, CONTROL_PACKET.length, { verifyChecksum: false })).shim6).toMatchObject({ checksumValid: true });
  });

  it('a Shim6 header claiming to run past the packet is rejected', () => {
    const pkt = concat(ipv6Hdr(140, 16), I1);
    pkt[41] = 3;
    const err = expectErr(parsePacket(pkt));
    expect(err.reply).toBeUndefined(); // silent drop
    expect(err.reason).toBe('header-past-end');
    expect(err.offset).toBe(41); // the Hdr Ext Len octet
  });
});

describe('parsePacket: Error pointers count from the IPv6 header', () => {
  it('unknown message type: Pointer 42 with no extension headers', () => {
    const pkt = concat(ipv6Hdr(140, 16), sealed(hex('3b 01 07 00 0000 0000 0000 0001 0000 0002')));
    expect(expectErr(parsePacket(pkt))).toMatchObject({ reason: 'unknown-message-type', reply: { code: 0, pointer: 42 } });
  });

  it('unknown message type behind a Hop-by-Hop header: Pointer 50', () => {
    const pkt = concat(ipv6Hdr(0, 24), hopByHop(140), sealed(hex('3b 01 07 00 0000 0000 0000 0001 0000 0002')));
    expect(expectErr(parsePacket(pkt)).reply).toEqual({ code: 0, pointer: 50 });
  });

  it('unknown critical option behind a Hop-by-Hop header: Pointer 64 (40 + 8 + 16)', () => {
    const msg = sealed(hex('3b 02 01 00 0000 0000 0000 0001 0000 0002', '0191 0000 0000 0000'));
    const pkt = concat(ipv6Hdr(0, 32), hopByHop(140), msg);
    expect(expectErr(parsePacket(pkt))).toMatchObject({ reason: 'unrecognized-critical-option', reply: { code: 1, pointer: 64 } });
  });

  it('pointers stay relative to the IPv6 header when the packet sits at an offset in the buffer', () => {
    const msg = sealed(hex('3b 02 01 00 0000 0000 0000 0001 0000 0002', '0191 0000 0000 0000'));
    const b = concat(a5(100), ipv6Hdr(140, 24), msg);
    const err = expectErr(parsePacket(b, 100));
    expect(err.offset).toBe(156);
    expect(err.reply).toEqual({ code: 1, pointer: 56 });
  });
});

describe('packet emitters', () => {
  it('encodeControlPacket builds IPv6 header + message', () => {
    const out = encodeControlPacket({ source: ADDR_A1, destination: ADDR_B1 }, I1_FIELDS);
    expect(out).toEqual(CONTROL_PACKET);
    expect(controlPacketLength(I1_FIELDS)).toBe(56);
  });

  it('emitControlPacket writes at an offset and returns the octet count', () => {
    const b = a5(64);
    expect(emitControlPacket({ source: ADDR_A1, destination: ADDR_B1 }, I1_FIELDS, b, 4)).toBe(56);
    expect(b).toEqual(concat(a5(4), CONTROL_PACKET, a5(4)));
  });

  it('encodePayloadPacket builds IPv6 header + Payload Extension header + upper layer', () => {
    expect(encodePayloadPacket({ source: ADDR_A1, destination: ADDR_B1 }, TAG, 17, UDP)).toEqual(PAYLOAD_PACKET);
  });

  it('addressing options reach the IPv6 header', () => {
    const out = encodeControlPacket({ source: ADDR_A1, destination: ADDR_B1, hopLimit: 1, flowLabel: 0x12345, trafficClass: 0xe0 }, I1_FIELDS);
    expect(out.subarray(0, 8)).toEqual(hex('6e 01 2345 0010 8c 01'));
  });
});

describe('parsePacket: checkAddresses and emitControlPacket atomicity', () => {
  const ka = { kind: 'Keepalive', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: 9, reserved2: 0, options: [] } as const;
  const multicast = hex('ff02 0000 0000 0000 0000 0000 0000 0001');

  it('checkAddresses: false decodes a control message to a multicast address that the strict parse drops', () => {
    const pkt = encodeControlPacket({ source: ADDR_A1, destination: multicast }, ka);
    expect(expectErr(parsePacket(pkt)).reason).toBe('bad-address');
    const lenient = expectOk(parsePacket(pkt, 0, pkt.length, { checkAddresses: false }));
    expect(lenient.shim6?.kind).toBe('control');
  });

  it('a refused packet leaves the caller buffer untouched', () => {
    const buf = a5(2048);
    const tooBig = { ...ka, options: [{ kind: 'Unknown', type: 300, critical: false, contents: new Uint8Array(1300) }] } as const;
    expect(() => emitControlPacket({ source: ADDR_A1, destination: ADDR_B1 }, tooBig, buf, 0)).toThrow(WireEmitError);
    expect(() => emitControlPacket({ source: ADDR_A1, destination: ADDR_B1, hopLimit: 256 }, ka, buf, 0)).toThrow(WireEmitError);
    expect(() => emitControlPacket({ source: ADDR_A1, destination: ADDR_B1 }, ka, buf, 2000)).toThrow(WireEmitError);
    expect(buf.every((x) => x === 0xa5)).toBe(true);
  });
});
