/** The simulator's non-Shim6 packets: application data, ICMPv6 Parameter Problem (RFC 4443 §3.4), and classification. */
import { describe, expect, it } from 'vitest';
import { icmpv6Checksum } from '../../src/dataplane/icmp.js';
import { classify, parameterProblem, plainPacket } from '../../src/sim/packets.js';
import { readU32 } from '../../src/wire/bytes.js';
import { NO_NXT_HDR } from '../../src/wire/constants.js';
import { encodeControlPacket, encodePayloadPacket } from '../../src/wire/packet.js';
import { addr } from './scenario.util.js';

const A = addr('2001:db8:a::1');
const B = addr('2001:db8:b::1');
const i1 = encodeControlPacket({ source: A, destination: B }, { kind: 'I1', nextHeader: NO_NXT_HDR, reserved1: 0, r: 0, initiatorContextTag: 1, initiatorNonce: 2, options: [] });

describe('parameterProblem', () => {
  it('answers from the invoking destination to its source, type 4 code 1, pointer 6, with a valid checksum', () => {
    const p = parameterProblem(B, i1);
    expect(p.subarray(8, 24)).toEqual(B);
    expect(p.subarray(24, 40)).toEqual(A);
    expect([p[6], p[40], p[41], readU32(p, 44)]).toEqual([58, 4, 1, 6]);
    expect(p.subarray(48)).toEqual(i1);
    expect(icmpv6Checksum(p, 40, p.length - 40, p, 8, p, 24)).toBe(0);
  });

  it('keeps the error within the IPv6 minimum MTU', () => {
    const big = new Uint8Array(3000);
    big.set(i1.subarray(0, 40));
    expect(parameterProblem(B, big).length).toBe(1280);
  });
});

describe('classify', () => {
  it('tells payload, control, ICMPv6, data and other packets apart', () => {
    expect(classify(i1).kind).toBe('control');
    const pl = classify(encodePayloadPacket({ source: A, destination: B }, 0x1234, 253, Uint8Array.of(9, 8)));
    expect(pl).toEqual({ kind: 'payload', tag: 0x1234, data: Uint8Array.of(9, 8) });
    expect(classify(parameterProblem(B, i1)).kind).toBe('icmp');
    expect(classify(plainPacket(A, B, Uint8Array.of(1, 2, 3)))).toEqual({ kind: 'data', data: Uint8Array.of(1, 2, 3) });
    const udp = plainPacket(A, B, new Uint8Array(8));
    udp[6] = 17;
    expect(classify(udp).kind).toBe('other');
    // A truncated Shim6 header still goes to the engine, which counts it.
    expect(classify(i1.subarray(0, 44)).kind).toBe('control');
  });
});
