/** Transcript formatting: one line per packet kind, labels, tags and nonces, malformed input. */
import { describe, expect, it } from 'vitest';
import { describePacket, formatNonce, formatTag, packetKind, Transcript } from '../../src/sim/transcript.js';
import { parameterProblem } from '../../src/sim/packets.js';
import { NO_NXT_HDR } from '../../src/wire/constants.js';
import type { ControlMessage } from '../../src/wire/control.js';
import { makeErrorMessage } from '../../src/wire/messages/error.js';
import { encodeControlPacket, encodePayloadPacket } from '../../src/wire/packet.js';
import { emitIpv6Header } from '../../src/wire/ipv6.js';
import { addr } from './scenario.util.js';

const A = addr('2001:db8:a::1');
const B = addr('2001:db8:b::1');
const labels = new Map([[A.join(), 'A'], [B.join(), 'B']]);
const label = (x: Uint8Array): string => labels.get(x.join()) ?? '?';
const H = { nextHeader: NO_NXT_HDR, reserved1: 0 } as const;
const V = { kind: 'ResponderValidator', critical: false, validator: Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]) } as const;

function line(m: ControlMessage): string {
  return describePacket(encodeControlPacket({ source: A, destination: B }, m), label);
}

describe('transcript lines', () => {
  it('formats tags as 12 hex digits and nonces as 8', () => {
    expect(formatTag(0x2a3b4c5d)).toBe('0x00002a3b4c5d');
    expect(formatTag(2 ** 47 - 1)).toBe('0x7fffffffffff');
    expect(formatTag(undefined)).toBe('-');
    expect(formatTag(-1)).toBe('-');
    expect(formatNonce(0x1234abcd)).toBe('0x1234abcd');
    expect(formatNonce(1)).toBe('0x00000001');
  });

  it('describes every control message kind', () => {
    const lines = [
      line({ kind: 'I1', ...H, r: 0, initiatorContextTag: 0x2a3b4c5d, initiatorNonce: 0x1234abcd, options: [{ kind: 'ForkedInstanceIdentifier', critical: false, forkedInstanceId: 3 }, { kind: 'UlidPair', critical: false, reserved2: 0, senderUlid: A, receiverUlid: B }] }),
      line({ kind: 'R1', ...H, reserved2: 0, initiatorNonce: 1, responderNonce: 2, options: [V] }),
      line({ kind: 'I2', ...H, r: 0, reserved2: 0, initiatorContextTag: 5, initiatorNonce: 1, responderNonce: 2, options: [V, { kind: 'LocatorList', critical: false, generation: 9, locators: [{ address: A, verificationMethod: 1 }] }, { kind: 'LocatorPreferences', critical: false, generation: 9, elementLength: 1, elements: [{ flags: 1 }] }] }),
      line({ kind: 'R2', ...H, r: 0, responderContextTag: 6, initiatorNonce: 1, options: [{ kind: 'CgaSignature', critical: false, signature: new Uint8Array(8) }] }),
      line({ kind: 'R1bis', ...H, r: 0, packetContextTag: 7, responderNonce: 3, options: [V] }),
      line({ kind: 'I2bis', ...H, r: 0, reserved2: 0, initiatorContextTag: 5, initiatorNonce: 4, responderNonce: 3, packetContextTag: 7, options: [V] }),
      line({ kind: 'UpdateRequest', ...H, r: 0, receiverContextTag: 6, requestNonce: 8, options: [{ kind: 'Unknown', type: 99, critical: false, contents: new Uint8Array(2) }] }),
      line({ kind: 'UpdateAck', ...H, r: 0, receiverContextTag: 5, requestNonce: 8, options: [] }),
      line({ kind: 'Keepalive', ...H, r: 0, receiverContextTag: 5, reserved2: 0, options: [] }),
    ];
    expect(lines).toEqual([
      'A→B I1 ct=0x00002a3b4c5d nonce=0x1234abcd fii=3 ulids=A~B',
      'A→B R1 nonce=0x00000001 resp=0x00000002 val=deadbeef',
      'A→B I2 ct=0x000000000005 nonce=0x00000001 resp=0x00000002 val=deadbeef gen=0x00000009 locs=[A] prefs(gen=0x00000009)=[1]',
      'A→B R2 ct=0x000000000006 nonce=0x00000001 sig',
      'A→B R1bis ct(pkt)=0x000000000007 resp=0x00000003 val=deadbeef',
      'A→B I2bis ct=0x000000000005 nonce=0x00000004 resp=0x00000003 ct(pkt)=0x000000000007 val=deadbeef',
      'A→B UpdateRequest ct=0x000000000006 req=0x00000008 opt99',
      'A→B UpdateAck ct=0x000000000005 req=0x00000008',
      'A→B Keepalive ct=0x000000000005',
    ]);
  });

  it('describes Error messages, payload, data, ICMPv6 and unknown addresses', () => {
    const i1 = encodeControlPacket({ source: A, destination: B }, { kind: 'I1', ...H, r: 0, initiatorContextTag: 1, initiatorNonce: 1, options: [] });
    expect(describePacket(encodeControlPacket({ source: B, destination: A }, makeErrorMessage(2, 66, i1)), label)).toBe('B→A Error code=2 ptr=66');
    expect(describePacket(encodePayloadPacket({ source: A, destination: B }, 0x42, 253, new Uint8Array(12)), label)).toBe('A→B payload ct=0x000000000042 len=12');
    const data = new Uint8Array(45);
    emitIpv6Header({ trafficClass: 0, flowLabel: 0, payloadLength: 5, nextHeader: 253, hopLimit: 64, source: A, destination: addr('2001:db8::9') }, data, 0);
    expect(describePacket(data, label)).toBe('A→? data len=5');
    expect(describePacket(data)).toBe('2001:db8:a::1→2001:db8::9 data len=5');
    expect(describePacket(parameterProblem(B, i1), label)).toBe('B→A ICMPv6 param-problem code=1 ptr=6');
    expect(packetKind(i1)).toBe('I1');
    expect(packetKind(data)).toBe('data');
    expect(packetKind(parameterProblem(B, i1))).toBe('icmp');
  });

  it('marks a bad checksum and malformed packets without throwing', () => {
    const i1 = encodeControlPacket({ source: A, destination: B }, { kind: 'I1', ...H, r: 0, initiatorContextTag: 1, initiatorNonce: 1, options: [] });
    const bad = i1.slice();
    bad[44] ^= 0xff;
    expect(describePacket(bad, label)).toMatch(/ bad-checksum$/);
    const truncated = i1.slice(0, 44);
    expect(describePacket(truncated, label)).toMatch(/^A→B malformed/);
    expect(packetKind(truncated)).toBe('malformed');
    expect(describePacket(new Uint8Array(3))).toBe('malformed len=3');
  });

  it('collects lines with their time, and records nothing when disabled', () => {
    const t = new Transcript();
    t.add(5, 'x');
    t.add(7, 'y');
    expect(t.lines()).toEqual(['t=5 x', 't=7 y']);
    const off = new Transcript(false);
    off.add(1, 'z');
    expect(off.length).toBe(0);
  });
});
