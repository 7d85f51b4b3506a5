// Sample Shim6 packets for the tshark interop check: one of every control message type
// (RFC 5533 §5.4-5.14, RFC 5534 §5.1-5.2) and payload packets (RFC 5533 §5.2) carrying a
// UDP datagram (RFC 768) and a TCP segment (RFC 9293) whose checksums are computed over
// the ULIDs with the IPv6 pseudo-header of RFC 8200 §8.1, as RFC 5533 §11.1 requires.
import type { ControlMessage, LocatorListOption } from '../../src/wire/index.js';
import { encodeControlPacket, encodePayloadPacket, internetChecksum, makeErrorMessage, parseIpv6 } from '../../src/wire/index.js';

function addr(text: string): Uint8Array {
  const a = parseIpv6(text);
  if (a === undefined) throw new Error(`bad address in test data: ${text}`);
  return a;
}

export const ULID_A = addr('2001:db8:a::1');
export const ULID_B = addr('2001:db8:b::2');
export const LOCATORS_A = [ULID_A, addr('2001:db8:a1::1'), addr('2001:db8:a2::1')];
export const ADDRESSING = { source: ULID_A, destination: ULID_B };

export const NO_NXT_HDR = 59;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** 47-bit context tags with the top bit set, so a 32-bit or byte-shifted reading shows. */
export const CT_A = 0x5a5a_0102_0304;
export const CT_B = 0x7edc_ba98_7654;
export const PAYLOAD_TAG = 0x4123_4567_89ab;

const locatorList: LocatorListOption = {
  kind: 'LocatorList',
  critical: false,
  generation: 0x0000_0007,
  // Verification method 1 = HBA under RFC 5533 Table 4 (src/wire/verification-method.ts).
  locators: LOCATORS_A.map((address) => ({ address, verificationMethod: 1 })),
};

/** A 32-octet stand-in for CGA Parameters (RFC 3972 §3): only the option framing matters here. */
const PDS = Uint8Array.from({ length: 32 }, (_, i) => 0xc0 + (i & 0x0f));

export interface ControlSample {
  readonly name: string;
  readonly type: number;
  readonly message: ControlMessage;
}

export const CONTROL_SAMPLES: readonly ControlSample[] = [
  { name: 'I1', type: 1, message: { kind: 'I1', nextHeader: NO_NXT_HDR, reserved1: 0, r: 0, initiatorContextTag: CT_A, initiatorNonce: 0x1111_2222, options: [] } },
  {
    name: 'R1',
    type: 2,
    message: {
      kind: 'R1',
      nextHeader: NO_NXT_HDR,
      reserved1: 0,
      reserved2: 0,
      initiatorNonce: 0x1111_2222,
      responderNonce: 0x3333_4444,
      options: [{ kind: 'ResponderValidator', critical: true, validator: Uint8Array.from({ length: 20 }, (_, i) => i + 1) }],
    },
  },
  {
    name: 'I2',
    type: 3,
    message: {
      kind: 'I2',
      nextHeader: NO_NXT_HDR,
      reserved1: 0,
      r: 0,
      initiatorContextTag: CT_A,
      initiatorNonce: 0x1111_2223,
      responderNonce: 0x3333_4444,
      reserved2: 0,
      options: [
        { kind: 'ResponderValidator', critical: true, validator: Uint8Array.from({ length: 20 }, (_, i) => i + 1) },
        locatorList,
        {
          kind: 'LocatorPreferences',
          critical: false,
          generation: 0x0000_0007,
          elementLength: 3,
          elements: [
            { flags: 0, priority: 10, weight: 50 },
            { flags: 0x02, priority: 20, weight: 30 },
            { flags: 0x01, priority: 30, weight: 20 },
          ],
        },
        { kind: 'CgaParameterDataStructure', critical: false, pds: PDS },
      ],
    },
  },
  { name: 'R2', type: 4, message: { kind: 'R2', nextHeader: NO_NXT_HDR, reserved1: 0, r: 0, responderContextTag: CT_B, initiatorNonce: 0x1111_2223, options: [] } },
  { name: 'R1bis', type: 5, message: { kind: 'R1bis', nextHeader: NO_NXT_HDR, reserved1: 0, r: 0, packetContextTag: CT_B, responderNonce: 0x5555_6666, options: [] } },
  {
    name: 'I2bis',
    type: 6,
    message: {
      kind: 'I2bis',
      nextHeader: NO_NXT_HDR,
      reserved1: 0,
      r: 0,
      initiatorContextTag: CT_A,
      initiatorNonce: 0x1111_2224,
      responderNonce: 0x5555_6666,
      reserved2: 0,
      packetContextTag: CT_B,
      options: [],
    },
  },
  { name: 'Update Request', type: 64, message: { kind: 'UpdateRequest', nextHeader: NO_NXT_HDR, reserved1: 0, r: 0, receiverContextTag: CT_B, requestNonce: 0x7777_8888, options: [{ ...locatorList, generation: 8 }] } },
  { name: 'Update Ack', type: 65, message: { kind: 'UpdateAck', nextHeader: NO_NXT_HDR, reserved1: 0, r: 0, receiverContextTag: CT_A, requestNonce: 0x7777_8888, options: [] } },
  { name: 'Keepalive', type: 66, message: { kind: 'Keepalive', nextHeader: NO_NXT_HDR, reserved1: 0, r: 0, receiverContextTag: CT_B, reserved2: 0, options: [] } },
  {
    name: 'Probe',
    type: 67,
    message: {
      kind: 'Probe',
      nextHeader: NO_NXT_HDR,
      reserved1: 0,
      r: 0,
      receiverContextTag: CT_B,
      state: 1,
      reserved2: 0,
      sent: [{ source: LOCATORS_A[1]!, destination: ULID_B, nonce: 0x9999_0001, data: 0xaaaa_0001 }],
      received: [{ source: ULID_B, destination: LOCATORS_A[2]!, nonce: 0xbbbb_0001, data: 0xcccc_0001 }],
      options: [],
    },
  },
];

/** An Error message (code 0, unknown type) quoting a packet of unassigned type 99. */
export function errorSample(): ControlSample {
  const bogus = encodeControlPacket(ADDRESSING, CONTROL_SAMPLES[0]!.message);
  bogus[40 + 2] = 99;
  return { name: 'Error', type: 68, message: makeErrorMessage(0, 42, bogus) };
}

export function allControlSamples(): ControlSample[] {
  return [...CONTROL_SAMPLES, errorSample()];
}

export function controlPacket(s: ControlSample): Uint8Array {
  return encodeControlPacket(ADDRESSING, s.message);
}

/** Upper-layer checksum with the RFC 8200 §8.1 pseudo-header over the ULIDs. */
export function upperLayerChecksum(src: Uint8Array, dst: Uint8Array, proto: number, segment: Uint8Array): number {
  const buf = new Uint8Array(40 + segment.length);
  buf.set(src, 0);
  buf.set(dst, 16);
  new DataView(buf.buffer).setUint32(32, segment.length);
  buf[39] = proto;
  buf.set(segment, 40);
  const c = internetChecksum(buf, 0, buf.length);
  return c;
}

export const UDP_SRC_PORT = 40001;
export const UDP_DST_PORT = 5353 + 1000;
export const TCP_SRC_PORT = 49152;
export const TCP_DST_PORT = 8080;

export function udpDatagram(payload: Uint8Array): Uint8Array {
  const d = new Uint8Array(8 + payload.length);
  const v = new DataView(d.buffer);
  v.setUint16(0, UDP_SRC_PORT);
  v.setUint16(2, UDP_DST_PORT);
  v.setUint16(4, d.length);
  d.set(payload, 8);
  const c = upperLayerChecksum(ULID_A, ULID_B, IPPROTO_UDP, d);
  v.setUint16(6, c === 0 ? 0xffff : c); // RFC 768: a computed zero is sent as all ones.
  return d;
}

export function tcpSegment(payload: Uint8Array): Uint8Array {
  const s = new Uint8Array(20 + payload.length);
  const v = new DataView(s.buffer);
  v.setUint16(0, TCP_SRC_PORT);
  v.setUint16(2, TCP_DST_PORT);
  v.setUint32(4, 0x0102_0304); // sequence number
  v.setUint32(8, 0x0a0b_0c0d); // acknowledgement number
  s[12] = 5 << 4; // data offset: 5 words, no options
  s[13] = 0x18; // PSH, ACK
  v.setUint16(14, 65535); // window
  s.set(payload, 20);
  v.setUint16(16, upperLayerChecksum(ULID_A, ULID_B, IPPROTO_TCP, s));
  return s;
}

const TEXT = new TextEncoder();

export function udpPayloadPacket(): Uint8Array {
  return encodePayloadPacket(ADDRESSING, PAYLOAD_TAG, IPPROTO_UDP, udpDatagram(TEXT.encode('shim6 over udp')));
}

export function tcpPayloadPacket(): Uint8Array {
  return encodePayloadPacket(ADDRESSING, PAYLOAD_TAG, IPPROTO_TCP, tcpSegment(TEXT.encode('shim6 over tcp!')));
}
