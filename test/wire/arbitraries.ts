/**
 * fast-check arbitraries for the Shim6 wire codec: valid, canonical control messages of
 * every kind (RFC 5533 §5.4-5.14, RFC 5534 §5.1-5.2) with the options each may carry
 * plus unknown non-critical ones, sized within the 1280-octet signalling limit (§5.1);
 * and IPv6 packets (RFC 8200) with extension-header chains in front of a Shim6 Payload
 * Extension header, a control message or an upper-layer payload.
 *
 * "Canonical" means parse(encode(m)) deep-equals m: every field is in range, a Probe has
 * at least one sent report, an Error's packet in error is a whole number of 8-octet
 * units, and a Locator Preferences element carries exactly the parts its Element Len
 * implies. Reserved fields are usually zero but sometimes random (they must survive a
 * round trip). Lengths are computed here from the RFC formulas, not with `src/wire`.
 */
import fc from 'fast-check';
import type { ControlMessage, LocatorPreference, MessageKind, Option, ProbeReport } from '../../src/wire/index.js';
import { ALLOWED } from './reference-codec.js';

/** Octets a signalling packet may take (RFC 5533 §5.1), and what is left after the IPv6 header. */
export const SIGNALLING_LIMIT = 1280;
export const MESSAGE_BUDGET = SIGNALLING_LIMIT - 40;

export const ALL_KINDS: readonly MessageKind[] = ['I1', 'R1', 'I2', 'R2', 'R1bis', 'I2bis', 'UpdateRequest', 'UpdateAck', 'Keepalive', 'Probe', 'Error'];

/** Known option types each message may carry: the reference decoder's table, written from the RFC (Error: none). */
export function allowedOptions(kind: MessageKind): readonly number[] {
  return ALLOWED[kind] ?? [];
}
const KNOWN_OPTION_TYPES = [1, 2, 3, 4, 5, 6, 7, 10];

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
export const tag47 = fc.integer({ min: 0, max: 2 ** 47 - 1 });
export const bit = fc.integer({ min: 0, max: 1 });
export const address = fc.uint8Array({ minLength: 16, maxLength: 16 });
/** A unicast address: neither multicast (ff00::/8) nor unspecified (RFC 5533 §12.3). */
export const unicastAddress = address.map((a) => {
  const out = a.slice();
  out[0] = 1 + (out[0]! % 0xfe);
  return out;
});

/** A reserved field: zero on transmit, but any value must survive a round trip. */
function reserved(max: number): fc.Arbitrary<number> {
  return fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.integer({ min: 0, max }), weight: 1 });
}
const nextHeader = fc.oneof({ arbitrary: fc.constant(59), weight: 3 }, { arbitrary: u8, weight: 1 });
// Sizes: fast-check's default 'small' size caps generated lengths near 10, far below the
// limits that matter here (1280-octet packets, 15 probe reports), so lengths are widened.
const bytes = (maxLength: number) => fc.uint8Array({ minLength: 0, maxLength, size: 'medium' });

// ---- options (RFC 5533 §5.15) ----

/** Octets an option with `contents` octets of contents takes, padding included (RFC 5533 §5.15). */
export function optionTotal(contents: number): number {
  return 11 + contents - ((contents + 3) % 8);
}

/** Length of the contents of an option, from the RFC figures. */
export function optionContents(o: Option): number {
  switch (o.kind) {
    case 'ResponderValidator': return o.validator.length;
    case 'LocatorList': return 4 + Math.ceil((1 + o.locators.length) / 8) * 8 + 16 * o.locators.length;
    case 'LocatorPreferences': return 5 + o.elementLength * o.elements.length;
    case 'CgaParameterDataStructure': return o.pds.length;
    case 'CgaSignature': return o.signature.length;
    case 'UlidPair': return 36;
    case 'ForkedInstanceIdentifier': return 4;
    case 'KeepaliveTimeout': return 4;
    case 'Unknown': return o.contents.length;
  }
}

const locatorPreferences: fc.Arbitrary<Option> = fc
  .record({
    critical: fc.boolean(),
    generation: u32,
    elementLength: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 3 }), weight: 4 }, { arbitrary: fc.integer({ min: 4, max: 12 }), weight: 1 }),
    raw: fc.array(fc.tuple(u8, u8, u8, fc.uint8Array({ minLength: 9, maxLength: 9 })), { maxLength: 12 }),
  })
  .map(({ critical, generation, elementLength, raw }) => {
    // Element Len 1: Flags; 2: + Priority; 3: + Weight; longer: the rest as extension octets.
    const elements: LocatorPreference[] = raw.map(([flags, priority, weight, ext]) => {
      if (elementLength === 1) return { flags };
      if (elementLength === 2) return { flags, priority };
      if (elementLength === 3) return { flags, priority, weight };
      return { flags, priority, weight, extension: ext.slice(0, elementLength - 3) };
    });
    return { kind: 'LocatorPreferences', critical, generation, elementLength, elements };
  });

/** A known option of type `type` with random valid contents. */
export function knownOption(type: number): fc.Arbitrary<Option> {
  const critical = fc.boolean();
  switch (type) {
    case 1: return fc.record({ critical, validator: bytes(48) }).map((o) => ({ kind: 'ResponderValidator', ...o }));
    case 2:
      return fc
        .record({ critical, generation: u32, locators: fc.array(fc.record({ address, verificationMethod: u8 }), { maxLength: 16, size: 'medium' }) })
        .map((o) => ({ kind: 'LocatorList', ...o }));
    case 3: return locatorPreferences;
    case 4: return fc.record({ critical, pds: bytes(120) }).map((o) => ({ kind: 'CgaParameterDataStructure', ...o }));
    case 5: return fc.record({ critical, signature: bytes(160) }).map((o) => ({ kind: 'CgaSignature', ...o }));
    case 6: return fc.record({ critical, reserved2: reserved(0xffff_ffff), senderUlid: address, receiverUlid: address }).map((o) => ({ kind: 'UlidPair', ...o }));
    case 7: return fc.record({ critical, forkedInstanceId: u32 }).map((o) => ({ kind: 'ForkedInstanceIdentifier', ...o }));
    case 10: return fc.record({ critical, reserved: reserved(0xffff), keepaliveTimeoutSeconds: u16 }).map((o) => ({ kind: 'KeepaliveTimeout', ...o }));
    default: throw new Error(`no arbitrary for option type ${type}`);
  }
}

/**
 * An option the receiver must ignore (C=0): a type this implementation does not know
 * (0, 8, 9, 11..32767), or a known type that is not listed for the message `kind`
 * (RFC 5533 §5.15: both are handled by the C bit).
 */
export function unknownOption(kind: MessageKind): fc.Arbitrary<Option> {
  const notAllowed = KNOWN_OPTION_TYPES.filter((t) => !allowedOptions(kind).includes(t));
  const types = [fc.integer({ min: 11, max: 0x7fff }), fc.constantFrom(0, 8, 9, 11, 0x3fff, 0x4000, 0x7fff)];
  if (notAllowed.length > 0) types.push(fc.constantFrom(...notAllowed));
  return fc.record({ type: fc.oneof(...types), contents: bytes(40) }).map(({ type, contents }) => ({ kind: 'Unknown', type, critical: false, contents }));
}

/** Options for a message of `kind`: allowed known options and ignorable unknown ones, in random order. */
export function optionsFor(kind: MessageKind): fc.Arbitrary<Option[]> {
  const allowed = allowedOptions(kind);
  const one = allowed.length > 0
    ? fc.oneof({ arbitrary: fc.oneof(...allowed.map(knownOption)), weight: 3 }, { arbitrary: unknownOption(kind), weight: 1 })
    : unknownOption(kind);
  return fc.array(one, { maxLength: 8, size: 'medium' });
}

// ---- messages ----

const probeReport: fc.Arbitrary<ProbeReport> = fc.record({ source: address, destination: address, nonce: u32, data: u32 });

/** Octets before the options, from the RFC figures. */
function fixedLength(m: ControlMessage): number {
  switch (m.kind) {
    case 'I2': return 24;
    case 'I2bis': return 32;
    case 'Probe': return 16 + 40 * (m.sent.length + m.received.length);
    default: return 16;
  }
}

/** Octets the message takes on the wire. */
export function messageLength(m: ControlMessage): number {
  if (m.kind === 'Error') return Math.max(16, 8 + Math.ceil(m.packetInError.length / 8) * 8);
  let n = fixedLength(m);
  for (const o of m.options) n += optionTotal(optionContents(o));
  return n;
}

/** Drops trailing options until the message fits in `budget` octets. */
function fit(m: ControlMessage, budget: number): ControlMessage {
  if (m.kind === 'Error' || messageLength(m) <= budget) return m;
  const options = [...m.options];
  let n = fixedLength(m);
  let keep = 0;
  while (keep < options.length && n + optionTotal(optionContents(options[keep]!)) <= budget) {
    n += optionTotal(optionContents(options[keep]!));
    keep++;
  }
  return { ...m, options: options.slice(0, keep) } as ControlMessage;
}

/** A canonical control message of `kind` that takes at most `budget` octets (default: the signalling limit). */
export function controlMessageOf(kind: MessageKind, budget = MESSAGE_BUDGET): fc.Arbitrary<ControlMessage> {
  const common = { nextHeader, reserved1: reserved(0x7f), options: optionsFor(kind) };
  const r = reserved(1);
  let arb: fc.Arbitrary<ControlMessage>;
  switch (kind) {
    case 'I1':
      arb = fc.record({ ...common, r, initiatorContextTag: tag47, initiatorNonce: u32 }).map((m) => ({ kind, ...m }));
      break;
    case 'R1':
      arb = fc.record({ ...common, reserved2: reserved(0xffff), initiatorNonce: u32, responderNonce: u32 }).map((m) => ({ kind, ...m }));
      break;
    case 'I2':
      arb = fc
        .record({ ...common, r, initiatorContextTag: tag47, initiatorNonce: u32, responderNonce: u32, reserved2: reserved(0xffff_ffff) })
        .map((m) => ({ kind, ...m }));
      break;
    case 'R2':
      arb = fc.record({ ...common, r, responderContextTag: tag47, initiatorNonce: u32 }).map((m) => ({ kind, ...m }));
      break;
    case 'R1bis':
      arb = fc.record({ ...common, r, packetContextTag: tag47, responderNonce: u32 }).map((m) => ({ kind, ...m }));
      break;
    case 'I2bis':
      arb = fc
        .record({ ...common, r, initiatorContextTag: tag47, initiatorNonce: u32, responderNonce: u32, reserved2: reserved(2 ** 49 - 1), packetContextTag: tag47 })
        .map((m) => ({ kind, ...m }));
      break;
    case 'UpdateRequest':
      arb = fc.record({ ...common, r, receiverContextTag: tag47, requestNonce: u32 }).map((m) => ({ kind, ...m }));
      break;
    case 'UpdateAck':
      arb = fc.record({ ...common, r, receiverContextTag: tag47, requestNonce: u32 }).map((m) => ({ kind, ...m }));
      break;
    case 'Keepalive':
      arb = fc.record({ ...common, r, receiverContextTag: tag47, reserved2: reserved(0xffff_ffff) }).map((m) => ({ kind, ...m }));
      break;
    case 'Probe':
      arb = fc
        .record({
          ...common,
          r,
          receiverContextTag: tag47,
          state: fc.constantFrom(0 as const, 1 as const, 2 as const),
          reserved2: reserved(0x3f_ffff),
          sent: fc.array(probeReport, { minLength: 1, maxLength: 15, size: 'max' }),
          received: fc.array(probeReport, { maxLength: 15, size: 'max' }),
        })
        .map((m) => ({ kind, ...m }));
      break;
    case 'Error':
      arb = fc
        .record({
          nextHeader,
          errorCode: fc.integer({ min: 0, max: 127 }),
          pointer: u16,
          // Parsed back as whole 8-octet units (the padding is part of it), at least 8.
          packetInError: fc.uint8Array({ minLength: 1, maxLength: MESSAGE_BUDGET - 8, size: 'max' }).map((p) => {
            const out = new Uint8Array(Math.ceil(p.length / 8) * 8);
            out.set(p);
            return out;
          }),
        })
        .map((m) => ({ kind, ...m }));
      break;
  }
  return arb.map((m) => fit(m, budget)).filter((m) => messageLength(m) <= budget);
}

/** A canonical control message of any kind within the signalling limit. */
export function controlMessage(budget = MESSAGE_BUDGET): fc.Arbitrary<ControlMessage> {
  return fc.oneof(...ALL_KINDS.map((k) => controlMessageOf(k, budget)));
}

// ---- IPv6 packets with extension-header chains (RFC 8200 §4) ----

export interface ExtHeaderSpec {
  /** 0 Hop-by-Hop, 43 Routing, 60 Destination Options, 44 Fragment. */
  readonly protocol: 0 | 43 | 44 | 60;
  /** Hdr Ext Len (in 8-octet units after the first 8) for the generic headers; 0 for Fragment. */
  readonly units: number;
  /** Seed for the contents (routing type and data, fragment M bit and identification). */
  readonly seed: Uint8Array;
}

export type PacketTail =
  | { readonly kind: 'upper'; readonly protocol: number; readonly data: Uint8Array }
  | { readonly kind: 'payload'; readonly receiverContextTag: number; readonly protocol: number; readonly data: Uint8Array }
  | { readonly kind: 'control'; readonly message: ControlMessage };

export interface PacketSpec {
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  readonly trafficClass: number;
  readonly flowLabel: number;
  readonly hopLimit: number;
  readonly chain: readonly ExtHeaderSpec[];
  readonly tail: PacketTail;
}

export const extHeader: fc.Arbitrary<ExtHeaderSpec> = fc.record({
  protocol: fc.constantFrom(0 as const, 43 as const, 44 as const, 60 as const),
  units: fc.integer({ min: 0, max: 3 }),
  seed: fc.uint8Array({ minLength: 8, maxLength: 8 }),
});

/** A chain of up to 5 extension headers; Hop-by-Hop, when present, is first (RFC 8200 §4.3). */
export const extChain: fc.Arbitrary<ExtHeaderSpec[]> = fc
  .tuple(fc.option(extHeader.map((h) => ({ ...h, protocol: 0 as const })), { nil: undefined }), fc.array(extHeader.filter((h) => h.protocol !== 0), { maxLength: 4 }))
  .map(([hbh, rest]) => (hbh === undefined ? rest : [hbh, ...rest]));

/** Upper-layer protocols: TCP, UDP, ICMPv6, No Next Header, ESP (where the walk stops). */
export const upperProtocol = fc.constantFrom(6, 17, 58, 59, 50);

export function extHeaderLength(h: ExtHeaderSpec): number {
  return h.protocol === 44 ? 8 : (h.units + 1) * 8;
}

export function chainLength(chain: readonly ExtHeaderSpec[]): number {
  return chain.reduce((n, h) => n + extHeaderLength(h), 0);
}

/** Writes header `h` with Next Header `next` at `off` of `b`. */
function writeExtHeader(h: ExtHeaderSpec, next: number, b: Uint8Array, off: number): void {
  const len = extHeaderLength(h);
  b[off] = next;
  if (h.protocol === 44) {
    // Fragment (RFC 8200 §4.5): Reserved, Fragment Offset 0, Res, M; Identification.
    b[off + 1] = 0;
    b[off + 2] = 0;
    b[off + 3] = h.seed[0]! & 1;
    b.set(h.seed.subarray(4, 8), off + 4);
    return;
  }
  b[off + 1] = h.units;
  if (h.protocol === 43) {
    // Routing (RFC 8200 §4.4): Routing Type, Segments Left 0, type-specific data.
    b[off + 2] = h.seed[0]!;
    b[off + 3] = 0;
    for (let i = 4; i < len; i++) b[off + i] = h.seed[i % 8]! ^ i;
    return;
  }
  // Hop-by-Hop / Destination Options (RFC 8200 §4.2): one PadN option filling the header.
  b[off + 2] = 1;
  b[off + 3] = len - 4;
  b.fill(0, off + 4, off + len);
}

export interface BuiltPacket {
  readonly bytes: Uint8Array;
  /** Offset of the Shim6 header or upper layer (after the chain). */
  readonly tailOffset: number;
  /** Offsets of the extension headers, in order. */
  readonly headerOffsets: readonly number[];
}

/**
 * Serializes a packet spec, computing Payload Length and Next Header fields. Control
 * messages come from `encode`, told how many octets of headers precede them.
 */
export function buildPacket(spec: PacketSpec, encode: (m: ControlMessage, headersBefore: number) => Uint8Array): BuiltPacket {
  const chainLen = chainLength(spec.chain);
  const tail =
    spec.tail.kind === 'control' ? encode(spec.tail.message, 40 + chainLen)
    : spec.tail.kind === 'payload' ? new Uint8Array(8 + spec.tail.data.length)
    : spec.tail.data;
  if (spec.tail.kind === 'payload') {
    // RFC 5533 §5.2: Next Header, Hdr Ext Len 0, P=1, 47-bit Receiver Context Tag.
    const dv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    dv.setUint8(0, spec.tail.protocol);
    dv.setUint8(1, 0);
    dv.setUint16(2, 0x8000 | Math.floor(spec.tail.receiverContextTag / 2 ** 32));
    dv.setUint32(4, spec.tail.receiverContextTag % 2 ** 32);
    tail.set(spec.tail.data, 8);
  }
  const tailProtocol = spec.tail.kind === 'upper' ? spec.tail.protocol : 140;
  const b = new Uint8Array(40 + chainLen + tail.length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, (6 << 28) | (spec.trafficClass << 20) | spec.flowLabel);
  dv.setUint16(4, chainLen + tail.length);
  dv.setUint8(6, spec.chain.length > 0 ? spec.chain[0]!.protocol : tailProtocol);
  dv.setUint8(7, spec.hopLimit);
  b.set(spec.source, 8);
  b.set(spec.destination, 24);
  const headerOffsets: number[] = [];
  let off = 40;
  spec.chain.forEach((h, i) => {
    headerOffsets.push(off);
    writeExtHeader(h, i + 1 < spec.chain.length ? spec.chain[i + 1]!.protocol : tailProtocol, b, off);
    off += extHeaderLength(h);
  });
  b.set(tail, off);
  return { bytes: b, tailOffset: off, headerOffsets };
}

const addressing = {
  source: unicastAddress,
  destination: unicastAddress,
  trafficClass: u8,
  flowLabel: fc.integer({ min: 0, max: 0xfffff }),
  hopLimit: u8,
};

/** A packet with an extension-header chain in front of an upper-layer payload (no Shim6 header). */
export const upperPacket: fc.Arbitrary<PacketSpec> = fc.record({
  ...addressing,
  chain: extChain,
  tail: fc.record({ kind: fc.constant('upper' as const), protocol: upperProtocol, data: bytes(64) }),
});

/** A packet with an extension-header chain in front of a Shim6 Payload Extension header. */
export const payloadPacket: fc.Arbitrary<PacketSpec> = fc.record({
  ...addressing,
  chain: extChain,
  tail: fc.record({ kind: fc.constant('payload' as const), receiverContextTag: tag47, protocol: upperProtocol, data: bytes(64) }),
});

/** A signalling packet: extension headers (possibly none) then a control message, within 1280 octets. */
export const controlPacket: fc.Arbitrary<PacketSpec> = fc
  .record({ ...addressing, chain: extChain, message: controlMessage() })
  .map(({ chain, message, ...addr }) => {
    // Keep only as many extension headers as fit in front of the message (RFC 5533 §5.1).
    const kept: ExtHeaderSpec[] = [];
    let n = 40 + messageLength(message);
    for (const h of chain) {
      if (n + extHeaderLength(h) > SIGNALLING_LIMIT) break;
      kept.push(h);
      n += extHeaderLength(h);
    }
    return { ...addr, chain: kept, tail: { kind: 'control' as const, message } };
  });

/** Any of the three packet shapes. */
export const anyPacket: fc.Arbitrary<PacketSpec> = fc.oneof(upperPacket, payloadPacket, controlPacket);
