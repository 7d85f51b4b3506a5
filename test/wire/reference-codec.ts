/**
 * A naive reference decoder for Shim6, written straight from the figures of RFC 5533 §5
 * (common header, messages, options), RFC 5534 §5 (Keepalive, Probe, Keepalive Timeout)
 * and RFC 8200 §3-4 (IPv6 header, extension headers), using `DataView` and nothing from
 * `src/wire` except types. It is meant to be obviously correct, not fast: the property
 * tests check the fast codec against it (STYLE.md, "a naive DataView reference codec").
 *
 * It returns plain objects with the same field names as the fast codec, or `undefined`
 * for input it rejects. Where the RFC leaves a choice, it follows the choices the
 * project documents (see the comments marked "Policy").
 */
import type { ControlMessage, Option } from '../../src/wire/index.js';

export interface RefControlOptions {
  /** Check the checksum (default true). */
  readonly verifyChecksum?: boolean;
  /** 'reject' (default): an unrecognized option with C=1 rejects the message; 'keep': keep it as Unknown. */
  readonly unknownCritical?: 'reject' | 'keep';
}

/** Per message type (RFC 5533 Table 1, RFC 5534 §5.1-5.2): name and length of the part before the options. */
const MESSAGES: Record<number, { name: ControlMessage['kind']; fixed: number }> = {
  1: { name: 'I1', fixed: 16 },
  2: { name: 'R1', fixed: 16 },
  3: { name: 'I2', fixed: 24 },
  4: { name: 'R2', fixed: 16 },
  5: { name: 'R1bis', fixed: 16 },
  6: { name: 'I2bis', fixed: 32 },
  64: { name: 'UpdateRequest', fixed: 16 },
  65: { name: 'UpdateAck', fixed: 16 },
  66: { name: 'Keepalive', fixed: 16 },
  67: { name: 'Probe', fixed: 16 },
  68: { name: 'Error', fixed: 16 },
};

/**
 * Options "defined for this message" in RFC 5533 §5.4-5.11 (option numbers from Table 3),
 * plus Keepalive Timeout (10) in I2, I2bis, R2 and Update Request (RFC 5534 §5.3).
 * Update Acknowledgement, Keepalive and Probe define none.
 */
export const ALLOWED: Readonly<Record<string, readonly number[]>> = {
  I1: [6, 7],
  R1: [1],
  I2: [1, 6, 7, 2, 3, 4, 5, 10],
  R2: [2, 3, 4, 5, 10],
  R1bis: [1],
  I2bis: [1, 6, 7, 2, 3, 4, 5, 10],
  UpdateRequest: [2, 3, 4, 5, 10],
  UpdateAck: [],
  Keepalive: [],
  Probe: [],
};

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** A 47-bit tag: the low 15 bits of the 16-bit word at `off` followed by the 32-bit word at `off + 2`. */
function tag47(dv: DataView, off: number): number {
  return (dv.getUint16(off) & 0x7fff) * 2 ** 32 + dv.getUint32(off + 2);
}

function copy(b: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  for (let i = 0; i < out.length; i++) out[i] = b[start + i]!;
  return out;
}

/** RFC 5533 §5.3: one's complement of the one's complement sum of 16-bit words. Returns the sum, 0xffff when it verifies. */
function onesComplementSum(dv: DataView, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) {
    sum += i + 1 < end ? dv.getUint16(i) : dv.getUint8(i) * 256;
    if (sum > 0xffff) sum -= 0xffff;
  }
  return sum;
}

/** Total option length (RFC 5533 §5.15): 11 + Length - (Length + 3) mod 8. */
function totalLength(length: number): number {
  return 11 + length - ((length + 3) % 8);
}

/**
 * Decodes the contents of a known option. Policy (the project's documented choices):
 * ULID Pair Length must be 36, FII and Keepalive Timeout 4; a Locator List Length must
 * be exactly what Num Locators implies; Locator Preferences Element Len 0 is rejected,
 * and the elements must fill Length - 5 exactly.
 */
function decodeKnownOption(dv: DataView, b: Uint8Array, type: number, critical: boolean, at: number, length: number): Option | undefined {
  switch (type) {
    case 1:
      return { kind: 'ResponderValidator', critical, validator: copy(b, at, at + length) };
    case 2: {
      // Generation (4), Num Locators (1), N methods, pad to 8, N * 16 locators.
      if (length < 5) return undefined;
      const n = dv.getUint8(at + 4);
      let methodsAndPad = 1 + n;
      while (methodsAndPad % 8 !== 0) methodsAndPad++;
      if (length !== 4 + methodsAndPad + 16 * n) return undefined;
      const locators = [];
      for (let i = 0; i < n; i++) {
        const a = at + 4 + methodsAndPad + 16 * i;
        locators.push({ address: copy(b, a, a + 16), verificationMethod: dv.getUint8(at + 5 + i) });
      }
      return { kind: 'LocatorList', critical, generation: dv.getUint32(at), locators };
    }
    case 3: {
      if (length < 5) return undefined;
      const elementLength = dv.getUint8(at + 4);
      if (elementLength === 0) return undefined;
      if ((length - 5) % elementLength !== 0) return undefined;
      const elements = [];
      for (let e = at + 5; e < at + length; e += elementLength) {
        const flags = dv.getUint8(e);
        if (elementLength === 1) elements.push({ flags });
        else if (elementLength === 2) elements.push({ flags, priority: dv.getUint8(e + 1) });
        else if (elementLength === 3) elements.push({ flags, priority: dv.getUint8(e + 1), weight: dv.getUint8(e + 2) });
        else elements.push({ flags, priority: dv.getUint8(e + 1), weight: dv.getUint8(e + 2), extension: copy(b, e + 3, e + elementLength) });
      }
      return { kind: 'LocatorPreferences', critical, generation: dv.getUint32(at), elementLength, elements };
    }
    case 4:
      return { kind: 'CgaParameterDataStructure', critical, pds: copy(b, at, at + length) };
    case 5:
      return { kind: 'CgaSignature', critical, signature: copy(b, at, at + length) };
    case 6:
      if (length !== 36) return undefined;
      return { kind: 'UlidPair', critical, reserved2: dv.getUint32(at), senderUlid: copy(b, at + 4, at + 20), receiverUlid: copy(b, at + 20, at + 36) };
    case 7:
      if (length !== 4) return undefined;
      return { kind: 'ForkedInstanceIdentifier', critical, forkedInstanceId: dv.getUint32(at) };
    case 10:
      if (length !== 4) return undefined;
      return { kind: 'KeepaliveTimeout', critical, reserved: dv.getUint16(at), keepaliveTimeoutSeconds: dv.getUint16(at + 2) };
    default:
      return undefined;
  }
}

/**
 * Decodes the options in [start, end). `padding`, when given, receives the offsets of
 * every padding octet (the end padding of each option and the internal padding of a
 * Locator List), which a canonical encoder writes as zero.
 */
function decodeOptions(dv: DataView, b: Uint8Array, start: number, end: number, allowed: readonly number[], opts: RefControlOptions, padding?: number[]): Option[] | undefined {
  const options: Option[] = [];
  let at = start;
  while (at !== end) {
    if (at + 4 > end) return undefined;
    const type = dv.getUint16(at) >> 1;
    const critical = (dv.getUint16(at) & 1) === 1;
    const length = dv.getUint16(at + 2);
    const total = totalLength(length);
    if (at + total > end) return undefined;
    if (allowed.includes(type)) {
      const o = decodeKnownOption(dv, b, type, critical, at + 4, length);
      if (o === undefined) return undefined;
      options.push(o);
      if (padding !== undefined && o.kind === 'LocatorList') {
        for (let i = at + 4 + 5 + o.locators.length; i < at + 4 + length - 16 * o.locators.length; i++) padding.push(i);
      }
    } else {
      // RFC 5533 §5.15: unknown (or not valid for this message): C=0 ignored, C=1 fatal.
      if (critical && opts.unknownCritical !== 'keep') return undefined;
      options.push({ kind: 'Unknown', type, critical, contents: copy(b, at + 4, at + 4 + length) });
    }
    if (padding !== undefined) for (let i = at + 4 + length; i < at + total; i++) padding.push(i);
    at += total;
  }
  return options;
}

/**
 * Decodes the Shim6 control message that starts at octet 0 of `b` (the bytes after it, if
 * any, are the rest of the packet). Returns undefined when the message is rejected.
 */
export function refDecodeControl(b: Uint8Array, opts: RefControlOptions = {}, padding?: number[]): ControlMessage | undefined {
  if (b.length < 8) return undefined;
  const dv = view(b);
  const nextHeader = dv.getUint8(0);
  const hdrLen = (dv.getUint8(1) + 1) * 8; // Hdr Ext Len counts 8-octet units after the first 8.
  if (hdrLen > b.length) return undefined;
  const p = dv.getUint8(2) >> 7;
  const type = dv.getUint8(2) & 0x7f;
  const typeSpecific = dv.getUint8(3) >> 1;
  const s = dv.getUint8(3) & 1;
  if (p !== 0 || s !== 0) return undefined;
  if (opts.verifyChecksum !== false && onesComplementSum(dv, 0, hdrLen) !== 0xffff) return undefined;
  const msg = MESSAGES[type];
  if (msg === undefined) return undefined;
  if (hdrLen < msg.fixed) return undefined;

  // RFC 5533 §5.14: Error Code in the type-specific bits, Pointer at 6, packet in error after.
  if (msg.name === 'Error') {
    return { kind: 'Error', nextHeader, errorCode: typeSpecific, pointer: dv.getUint16(6), packetInError: copy(b, 8, hdrLen) };
  }
  const reserved1 = typeSpecific;
  const r = dv.getUint8(6) >> 7;
  let fixed = msg.fixed;
  let m: Record<string, unknown>;
  switch (msg.name) {
    case 'I1':
      m = { r, initiatorContextTag: tag47(dv, 6), initiatorNonce: dv.getUint32(12) };
      break;
    case 'R1':
      m = { reserved2: dv.getUint16(6), initiatorNonce: dv.getUint32(8), responderNonce: dv.getUint32(12) };
      break;
    case 'I2':
      m = { r, initiatorContextTag: tag47(dv, 6), initiatorNonce: dv.getUint32(12), responderNonce: dv.getUint32(16), reserved2: dv.getUint32(20) };
      break;
    case 'R2':
      m = { r, responderContextTag: tag47(dv, 6), initiatorNonce: dv.getUint32(12) };
      break;
    case 'R1bis':
      m = { r, packetContextTag: tag47(dv, 6), responderNonce: dv.getUint32(12) };
      break;
    case 'I2bis':
      // Reserved2 is 49 bits: octets 20..25 and the top bit of octet 26; the tag is the other 47.
      m = {
        r,
        initiatorContextTag: tag47(dv, 6),
        initiatorNonce: dv.getUint32(12),
        responderNonce: dv.getUint32(16),
        reserved2: (dv.getUint16(20) * 2 ** 32 + dv.getUint32(22)) * 2 + (dv.getUint8(26) >> 7),
        packetContextTag: tag47(dv, 26),
      };
      break;
    case 'UpdateRequest':
    case 'UpdateAck':
      m = { r, receiverContextTag: tag47(dv, 6), requestNonce: dv.getUint32(12) };
      break;
    case 'Keepalive':
      m = { r, receiverContextTag: tag47(dv, 6), reserved2: dv.getUint32(12) };
      break;
    case 'Probe': {
      // Octet 12: Precvd (high nibble), Psent (low nibble), as drawn in RFC 5534 §5.2.
      const precvd = dv.getUint8(12) >> 4;
      const psent = dv.getUint8(12) & 0x0f;
      const state = dv.getUint8(13) >> 6;
      if (psent < 1) return undefined; // "the minimum value for this field is 1"
      if (state > 2) return undefined; // "three legal values"
      fixed = 16 + 40 * (psent + precvd);
      if (fixed > hdrLen) return undefined;
      const report = (i: number) => {
        const at = 16 + 40 * i;
        return { source: copy(b, at, at + 16), destination: copy(b, at + 16, at + 32), nonce: dv.getUint32(at + 32), data: dv.getUint32(at + 36) };
      };
      const sent = [];
      for (let i = 0; i < psent; i++) sent.push(report(i));
      const received = [];
      for (let i = 0; i < precvd; i++) received.push(report(psent + i));
      m = { r, receiverContextTag: tag47(dv, 6), state, reserved2: dv.getUint32(12) & 0x3fffff, sent, received };
      break;
    }
  }
  const options = decodeOptions(dv, b, fixed, hdrLen, ALLOWED[msg.name]!, opts, padding);
  if (options === undefined) return undefined;
  return { kind: msg.name, nextHeader, reserved1, ...m, options } as unknown as ControlMessage;
}

/** The Shim6 Payload Extension header (RFC 5533 §5.2) at octet 0 of `b`, or undefined. */
export function refDecodePayloadHeader(b: Uint8Array): { nextHeader: number; receiverContextTag: number } | undefined {
  if (b.length < 8) return undefined;
  const dv = view(b);
  if (dv.getUint8(1) !== 0) return undefined; // Hdr Ext Len is 0
  if (dv.getUint8(2) >> 7 !== 1) return undefined; // P is 1
  return { nextHeader: dv.getUint8(0), receiverContextTag: tag47(dv, 2) };
}

export interface RefPacket {
  readonly ipv6: {
    trafficClass: number;
    flowLabel: number;
    payloadLength: number;
    nextHeader: number;
    hopLimit: number;
    source: Uint8Array;
    destination: Uint8Array;
  };
  /** Protocol and offset of each extension header in front of the Shim6 header or upper layer. */
  readonly headers: { protocol: number; offset: number; length: number }[];
  readonly shim6?:
    | { kind: 'payload'; offset: number; header: { nextHeader: number; receiverContextTag: number } }
    | { kind: 'control'; offset: number; message: ControlMessage };
  /** Protocol and offset of what follows the last header walked. */
  readonly upperProtocol: number;
  readonly upperOffset: number;
}

/**
 * Decodes an IPv6 packet (RFC 8200 §3) and walks Hop-by-Hop (0), Routing (43), Destination
 * Options (60) and first Fragment (44) headers to a Shim6 header (140) or an upper layer.
 * A later fragment (offset ≠ 0) ends the walk. A Payload Extension header is stepped
 * over to the upper layer; a control message ends the walk. Control messages must come
 * from and go to unicast addresses (RFC 5533 §12.3). AH (51, RFC 4302) and Mobility (135,
 * RFC 6275) headers are stepped over too.
 */
export function refDecodePacket(b: Uint8Array): RefPacket | undefined {
  if (b.length < 40) return undefined;
  const dv = view(b);
  if (dv.getUint8(0) >> 4 !== 6) return undefined;
  const payloadLength = dv.getUint16(4);
  const end = 40 + payloadLength;
  if (end > b.length) return undefined;
  const ipv6 = {
    trafficClass: (dv.getUint16(0) >> 4) & 0xff,
    flowLabel: dv.getUint32(0) & 0xfffff,
    payloadLength,
    nextHeader: dv.getUint8(6),
    hopLimit: dv.getUint8(7),
    source: copy(b, 8, 24),
    destination: copy(b, 24, 40),
  };
  const headers: { protocol: number; offset: number; length: number }[] = [];
  let nh = ipv6.nextHeader;
  let at = 40;
  let shim6: RefPacket['shim6'];
  for (;;) {
    if (headers.length >= 64) return undefined; // Policy: at most 64 headers are walked.
    if (nh === 0 || nh === 43 || nh === 60 || nh === 135) {
      if (at + 2 > end) return undefined;
      const len = (dv.getUint8(at + 1) + 1) * 8;
      if (at + len > end) return undefined;
      headers.push({ protocol: nh, offset: at, length: len });
      nh = dv.getUint8(at);
      at += len;
    } else if (nh === 51) {
      // RFC 4302 §2.2: AH Payload Len is in 4-octet units, minus 2.
      if (at + 2 > end) return undefined;
      const len = (dv.getUint8(at + 1) + 2) * 4;
      if (at + len > end) return undefined;
      headers.push({ protocol: nh, offset: at, length: len });
      nh = dv.getUint8(at);
      at += len;
    } else if (nh === 44) {
      if (at + 8 > end) return undefined;
      headers.push({ protocol: nh, offset: at, length: 8 });
      if (dv.getUint16(at + 2) >> 3 !== 0) return { ipv6, headers, upperProtocol: 44, upperOffset: at + 8, ...(shim6 ? { shim6 } : {}) };
      nh = dv.getUint8(at);
      at += 8;
    } else if (nh === 140) {
      if (at + 8 > end) return undefined;
      const len = (dv.getUint8(at + 1) + 1) * 8;
      if (at + len > end) return undefined;
      headers.push({ protocol: nh, offset: at, length: len });
      const bytes = copy(b, at, end);
      if (dv.getUint8(at + 2) >> 7 === 1) {
        if (shim6 === undefined) {
          const header = refDecodePayloadHeader(bytes);
          if (header === undefined) return undefined;
          shim6 = { kind: 'payload', offset: at, header };
        }
        nh = dv.getUint8(at);
        at += len;
      } else {
        // A control message ends the walk (its Next Header is 59); only the first Shim6 header is decoded.
        if (shim6 !== undefined) return { ipv6, headers, shim6, upperProtocol: 59, upperOffset: at + len };
        const unicast = (a: Uint8Array) => a[0] !== 0xff && a.some((x) => x !== 0);
        if (!unicast(ipv6.source) || !unicast(ipv6.destination)) return undefined;
        const message = refDecodeControl(bytes);
        if (message === undefined) return undefined;
        return { ipv6, headers, shim6: { kind: 'control', offset: at, message }, upperProtocol: 59, upperOffset: at + len };
      }
    } else {
      return { ipv6, headers, upperProtocol: nh, upperOffset: at, ...(shim6 ? { shim6 } : {}) };
    }
  }
}
