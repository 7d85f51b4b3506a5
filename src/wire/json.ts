/**
 * A JSON view of Shim6 packets for tools (`shim6 decode`, `shim6 encode`) and tests.
 *
 * `packetToJson` shows a parsed packet: the IPv6 header, the extension-header chain, and
 * the Shim6 header (RFC 5533 §5.2 payload header, or a §5.3 control message with its
 * fixed fields under their codec names and every option of §5.15 / RFC 5534 §5.3 decoded;
 * unknown options as hex). `jsonToPacket` reads that same shape back, validating every
 * field with a message naming its path (`shim6.options[2].locators[0].address`), so that
 * decode → encode round-trips byte for byte. Computed fields (checksum, checksumValid,
 * hdrExtLen, payloadLength, ipv6.nextHeader, registry names, upperLayer) are ignored on
 * input; reserved fields default to 0 and the C bit to false when absent.
 *
 * Leaves out: encoding extension headers other than Shim6 (they are listed for display
 * and ignored on input), and non-zero option/locator padding (written as zeros, §5.15).
 * Deliberate deviation: `encodeJsonPacket` does not enforce the 1280-octet signalling
 * limit of §5.1 (only the 2048 octets a Hdr Ext Len can describe), and addresses are not
 * checked against §12.3, so tools can also build packets a receiver must drop.
 *
 * Pure functions, no I/O; nothing here throws on bad input.
 */
import { formatIpv6, parseIpv6 } from './address.js';
import { fromHex, readU16, toHex } from './bytes.js';
import { errorCodeName, IPPROTO_SHIM6, IPV6_HEADER_LEN, MESSAGE_NAMES, MessageType, NO_NXT_HDR, optionKindOf, optionTypeName, PAYLOAD_HEADER_LEN, type MessageKind } from './constants.js';
import { controlMessageLength, emitControlMessage, fixedLayoutOf, validateControlMessage, type ControlMessage, type FixedKind } from './control.js';
import { fieldMax } from './messages/layout.js';
import { PROBE_REPORTS_MAX, type ProbeReport } from './messages/probe.js';
import { emitIpv6Header } from './ipv6.js';
import { LOCATOR_LIST_MAX, optionType, type LocatorPreference, type Option } from './options/index.js';
import type { Ipv6Addressing, ParsedPacket, Shim6Part } from './packet.js';
import { emitPayloadHeader } from './payload.js';
import { WireEmitError } from './result.js';
import { verificationMethodName, type VerificationMethodProfile } from './verification-method.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface JsonViewOptions {
  /** Which meaning to show for locator verification method numbers (`verification-method.ts`). */
  readonly profile: VerificationMethodProfile;
}

// ---------------------------------------------------------------------------------------
// Packet → JSON

/** Names of IP protocol numbers seen around Shim6 (IANA Protocol Numbers). */
const PROTOCOL_NAMES: Readonly<Record<number, string>> = {
  0: 'Hop-by-Hop Options', 4: 'IPv4', 6: 'TCP', 17: 'UDP', 41: 'IPv6', 43: 'Routing', 44: 'Fragment',
  50: 'ESP', 51: 'AH', 58: 'ICMPv6', 59: 'No Next Header', 60: 'Destination Options', 132: 'SCTP',
  135: 'Mobility', 136: 'UDP-Lite', 140: 'Shim6',
};

export function protocolName(protocol: number): string {
  return PROTOCOL_NAMES[protocol] ?? 'Unknown';
}

const PROBE_STATE_NAMES = ['Operational', 'Exploring', 'InboundOk'] as const;

/**
 * The JSON view of a packet parsed from `raw` (`parsePacket(raw, 0, ...)`: offsets in
 * `parsed` index `raw`). Tools parse with `{ verifyChecksum: false, unknownCritical: 'keep' }`.
 */
export function packetToJson(parsed: ParsedPacket, raw: Uint8Array, opts: JsonViewOptions): JsonObject {
  const ip = parsed.ipv6;
  const out: JsonObject = {
    ipv6: {
      source: formatIpv6(ip.source),
      destination: formatIpv6(ip.destination),
      hopLimit: ip.hopLimit,
      flowLabel: ip.flowLabel,
      trafficClass: ip.trafficClass,
      payloadLength: ip.payloadLength,
      nextHeader: ip.nextHeader,
    },
    // Headers in front of the Shim6 header carry their octets so `encode` can rebuild them;
    // the Shim6 header and what follows it are described by the `shim6` member.
    extensionHeaders: parsed.chain.headers.map((h) => ({
      protocol: h.protocol,
      name: protocolName(h.protocol),
      offset: h.offset,
      length: h.length,
      ...(parsed.chain.shim6Offset >= 0 && h.offset < parsed.chain.shim6Offset ? { hex: toHex(raw.subarray(h.offset, h.offset + h.length)) } : {}),
    })),
  };
  if (parsed.shim6 !== undefined) {
    out['shim6'] = shim6ToJson(parsed.shim6, raw, { ...opts, end: parsed.length, upperProtocol: parsed.chain.upperProtocol, upperOffset: parsed.chain.upperOffset });
  }
  return out;
}

export interface Shim6JsonOptions extends JsonViewOptions {
  /** Offset in `raw` where the packet ends (default `raw.length`). */
  readonly end?: number;
  /** Upper-layer protocol and offset behind a payload header (default: its Next Header, right after it). */
  readonly upperProtocol?: number;
  readonly upperOffset?: number;
}

/** The JSON view of the Shim6 header alone (`shim6 decode --layer shim6`, and the `shim6` member of `packetToJson`). */
export function shim6ToJson(part: Shim6Part, raw: Uint8Array, opts: Shim6JsonOptions): JsonObject {
  const end = opts.end ?? raw.length;
  const off = part.offset;
  if (part.kind === 'payload') {
    const upperProtocol = opts.upperProtocol ?? part.header.nextHeader;
    const upperOffset = opts.upperOffset ?? off + PAYLOAD_HEADER_LEN;
    return {
      P: 1,
      kind: 'Payload',
      message: 'Payload Extension',
      nextHeader: part.header.nextHeader,
      receiverContextTag: part.header.receiverContextTag,
      upperLayer: upperLayerJson(upperProtocol, raw, upperOffset, end),
      payloadHex: toHex(raw.subarray(off + PAYLOAD_HEADER_LEN, end)),
    };
  }
  const m = part.message;
  const out: JsonObject = {
    message: MESSAGE_NAMES[m.kind],
    kind: m.kind,
    type: MessageType[m.kind],
    P: 0,
    nextHeader: m.nextHeader,
    hdrExtLen: raw[off + 1]!,
    checksum: `0x${readU16(raw, off + 4).toString(16).padStart(4, '0')}`,
    checksumValid: part.checksumValid,
  };
  if (m.kind === 'Error') {
    return { ...out, errorCode: m.errorCode, errorName: errorCodeName(m.errorCode), pointer: m.pointer, packetInError: toHex(m.packetInError) };
  }
  out['reserved1'] = m.reserved1;
  if (m.kind === 'Probe') {
    out['r'] = m.r;
    out['receiverContextTag'] = m.receiverContextTag;
    out['state'] = m.state;
    out['stateName'] = PROBE_STATE_NAMES[m.state] ?? 'Invalid';
    out['reserved2'] = m.reserved2;
    out['sent'] = m.sent.map(reportJson);
    out['received'] = m.received.map(reportJson);
  } else {
    for (const f of fixedLayoutOf(m.kind).fields) out[f.name] = (m as unknown as Record<string, number>)[f.name]!;
  }
  out['options'] = m.options.map((o) => optionToJson(o, opts.profile));
  return out;
}

function upperLayerJson(protocol: number, raw: Uint8Array, off: number, end: number): JsonObject {
  const out: JsonObject = { protocol, name: protocolName(protocol), length: Math.max(0, end - off) };
  if ((protocol === 6 || protocol === 17) && end - off >= 4) {
    out['sourcePort'] = readU16(raw, off);
    out['destinationPort'] = readU16(raw, off + 2);
  } else if (protocol === 58 && end - off >= 2) {
    out['type'] = raw[off]!;
    out['code'] = raw[off + 1]!;
  }
  return out;
}

function reportJson(r: ProbeReport): JsonObject {
  return { source: formatIpv6(r.source), destination: formatIpv6(r.destination), nonce: r.nonce, data: r.data };
}

const FLAG_NAMES: readonly (readonly [number, string])[] = [[0x01, 'BROKEN'], [0x02, 'TRANSIENT']];

function preferenceJson(e: LocatorPreference): JsonObject {
  const out: JsonObject = { flags: e.flags, flagNames: FLAG_NAMES.filter(([bit]) => (e.flags & bit) !== 0).map(([, name]) => name) };
  if (e.priority !== undefined) out['priority'] = e.priority;
  if (e.weight !== undefined) out['weight'] = e.weight;
  if (e.extension !== undefined) out['extension'] = toHex(e.extension);
  return out;
}

function optionToJson(o: Option, profile: VerificationMethodProfile): JsonObject {
  const type = optionType(o);
  const head: JsonObject = { type, name: optionTypeName(type), critical: o.critical };
  switch (o.kind) {
    case 'Unknown': return { ...head, contentsHex: toHex(o.contents) };
    case 'ResponderValidator': return { ...head, validator: toHex(o.validator) };
    case 'LocatorList':
      return {
        ...head,
        generation: o.generation,
        locators: o.locators.map((l) => ({ address: formatIpv6(l.address), verificationMethod: l.verificationMethod, verificationMethodName: verificationMethodName(l.verificationMethod, profile) })),
      };
    case 'LocatorPreferences': return { ...head, generation: o.generation, elementLength: o.elementLength, elements: o.elements.map(preferenceJson) };
    case 'CgaParameterDataStructure': return { ...head, pds: toHex(o.pds) };
    case 'CgaSignature': return { ...head, signature: toHex(o.signature) };
    case 'UlidPair': return { ...head, reserved2: o.reserved2, senderUlid: formatIpv6(o.senderUlid), receiverUlid: formatIpv6(o.receiverUlid) };
    case 'ForkedInstanceIdentifier': return { ...head, forkedInstanceId: o.forkedInstanceId };
    case 'KeepaliveTimeout': return { ...head, reserved: o.reserved, keepaliveTimeoutSeconds: o.keepaliveTimeoutSeconds };
  }
}

// ---------------------------------------------------------------------------------------
// JSON → packet


/** Fixed fields that are reserved (zero on transmit) and so default to 0 when absent. */
const RESERVED_FIELDS: ReadonlySet<string> = new Set(['r', 'reserved1', 'reserved2']);

export type Shim6FromJson =
  | { readonly kind: 'control'; readonly message: ControlMessage }
  | { readonly kind: 'payload'; readonly receiverContextTag: number; readonly nextHeader: number; readonly upperLayer: Uint8Array };

/** An extension header in front of the Shim6 header, as octets (its Next Header octet is rewritten on encode). */
export interface ExtHeaderFromJson {
  readonly protocol: number;
  readonly bytes: Uint8Array;
}

export type PacketFromJson = (
  | { readonly kind: 'control'; readonly addressing: Ipv6Addressing; readonly message: ControlMessage }
  | { readonly kind: 'payload'; readonly addressing: Ipv6Addressing; readonly receiverContextTag: number; readonly nextHeader: number; readonly upperLayer: Uint8Array }
) & { readonly headersBefore: readonly ExtHeaderFromJson[] };

export interface JsonInputError {
  /** Where in the input the bad value is, e.g. `shim6.options[2].locators[0].address` ('' for the whole value). */
  readonly path: string;
  readonly message: string;
}

export type FromJson<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: JsonInputError };

/** Thrown only inside this module and caught by the entry points. */
class Invalid {
  readonly path: string;
  readonly message: string;
  constructor(path: string, message: string) {
    this.path = path;
    this.message = message;
  }
}

function run<T>(f: () => T): FromJson<T> {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, error: { path: e.path, message: e.message } };
    throw e;
  }
}

/**
 * Reads a packet in the shape `packetToJson` produces (top-level members other than
 * `ipv6` and `shim6`, such as `frame` or `verdict`, are ignored). Never throws.
 */
export function jsonToPacket(obj: unknown): FromJson<PacketFromJson> {
  return run(() => {
    const top = record(obj, '', 'a packet');
    if (top['shim6'] === undefined && top['error'] !== undefined) throw new Invalid('error', 'this is a decode error record, not a packet');
    if (top['ipv6'] === undefined) throw new Invalid('ipv6', 'missing: a packet needs its IPv6 header (or encode the bare Shim6 header with jsonToShim6)');
    const addressing = readAddressing(top['ipv6']);
    const headersBefore = readHeadersBefore(top['extensionHeaders']);
    const s = readShim6(top);
    return s.kind === 'control'
      ? { kind: 'control', addressing, message: s.message, headersBefore }
      : { kind: 'payload', addressing, receiverContextTag: s.receiverContextTag, nextHeader: s.nextHeader, upperLayer: s.upperLayer, headersBefore };
  });
}

/** Reads the `shim6` member of a packet or bare-header view (`ipv6` is not needed). Never throws. */
export function jsonToShim6(obj: unknown): FromJson<Shim6FromJson> {
  return run(() => readShim6(record(obj, '', 'a packet')));
}

/** The packet's octets. Does not throw for a value `jsonToPacket` returned. */
export function encodeJsonPacket(p: PacketFromJson): Uint8Array {
  const shim = p.kind === 'payload'
    ? encodeJsonShim6({ kind: 'payload', receiverContextTag: p.receiverContextTag, nextHeader: p.nextHeader, upperLayer: p.upperLayer })
    : encodeJsonShim6({ kind: 'control', message: p.message });
  let before = 0;
  for (const h of p.headersBefore) before += h.bytes.length;
  const out = new Uint8Array(IPV6_HEADER_LEN + before + shim.length);
  const first = p.headersBefore[0];
  emitIpv6Header({ ...ipv6Of(p.addressing, before + shim.length), nextHeader: first === undefined ? IPPROTO_SHIM6 : first.protocol }, out, 0);
  let off = IPV6_HEADER_LEN;
  p.headersBefore.forEach((h, i) => {
    out.set(h.bytes, off);
    out[off] = p.headersBefore[i + 1]?.protocol ?? IPPROTO_SHIM6; // each header's Next Header names the one after it
    off += h.bytes.length;
  });
  out.set(shim, off);
  return out;
}

/** The bare Shim6 header's octets. Does not throw for a value `jsonToShim6` returned. */
export function encodeJsonShim6(s: Shim6FromJson): Uint8Array {
  if (s.kind === 'control') {
    const out = new Uint8Array(controlMessageLength(s.message));
    emitControlMessage(s.message, out, 0, { enforceSignallingLimit: false });
    return out;
  }
  const out = new Uint8Array(PAYLOAD_HEADER_LEN + s.upperLayer.length);
  emitPayloadHeader({ nextHeader: s.nextHeader, receiverContextTag: s.receiverContextTag }, out, 0);
  out.set(s.upperLayer, PAYLOAD_HEADER_LEN);
  return out;
}

function ipv6Of(a: Ipv6Addressing, payloadLength: number) {
  return { trafficClass: a.trafficClass ?? 0, flowLabel: a.flowLabel ?? 0, payloadLength, nextHeader: IPPROTO_SHIM6, hopLimit: a.hopLimit ?? 64, source: a.source, destination: a.destination };
}

// --- field readers -----------------------------------------------------------------------

type Rec = Readonly<Record<string, unknown>>;

function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const text = JSON.stringify(v) ?? String(v);
  return `${typeof v} ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

function record(v: unknown, path: string, what: string): Rec {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid(path, `must be an object (${what}), got ${describe(v)}`);
  return v as Rec;
}

function onlyKeys(o: Rec, path: string, allowed: ReadonlySet<string>, what: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.has(k)) throw new Invalid(at(path, k), `unknown field for ${what} (expected one of: ${[...allowed].join(', ')})`);
  }
}

function int(o: Rec, key: string, path: string, max: number, dflt?: number): number {
  const v = o[key];
  if (v === undefined) {
    if (dflt !== undefined) return dflt;
    throw new Invalid(at(path, key), `missing: an integer in 0..${max} is required`);
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new Invalid(at(path, key), `must be an integer in 0..${max}, got ${describe(v)}`);
  return v;
}

function bool(o: Rec, key: string, path: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new Invalid(at(path, key), `must be true or false, got ${describe(v)}`);
  return v;
}

function hex(o: Rec, key: string, path: string, maxOctets: number): Uint8Array {
  const v = o[key];
  if (v === undefined) throw new Invalid(at(path, key), 'missing: a hex string is required');
  if (typeof v !== 'string') throw new Invalid(at(path, key), `must be a hex string, got ${describe(v)}`);
  const b = fromHex(v);
  if (b === undefined) throw new Invalid(at(path, key), 'must be a hex string (an even number of digits 0-9a-f)');
  if (b.length > maxOctets) throw new Invalid(at(path, key), `holds ${b.length} octets, at most ${maxOctets} fit`);
  return b;
}

function address(o: Rec, key: string, path: string): Uint8Array {
  const v = o[key];
  if (v === undefined) throw new Invalid(at(path, key), 'missing: an IPv6 address is required');
  if (typeof v !== 'string') throw new Invalid(at(path, key), `must be an IPv6 address string, got ${describe(v)}`);
  const a = parseIpv6(v);
  if (a === undefined) throw new Invalid(at(path, key), `is not an IPv6 address: ${JSON.stringify(v)}`);
  return a;
}

function list(o: Rec, key: string, path: string, min: number, max: number, required: boolean): readonly unknown[] {
  const v = o[key];
  if (v === undefined && !required) return [];
  if (!Array.isArray(v)) throw new Invalid(at(path, key), v === undefined ? 'missing: an array is required' : `must be an array, got ${describe(v)}`);
  if (v.length < min || v.length > max) throw new Invalid(at(path, key), `must have ${min}..${max} entries, got ${v.length}`);
  return v;
}

// --- IPv6 --------------------------------------------------------------------------------

const IPV6_KEYS: ReadonlySet<string> = new Set(['source', 'destination', 'hopLimit', 'flowLabel', 'trafficClass', 'payloadLength', 'nextHeader']);

function readAddressing(v: unknown): Ipv6Addressing {
  const o = record(v, 'ipv6', 'the IPv6 header');
  onlyKeys(o, 'ipv6', IPV6_KEYS, 'the IPv6 header');
  return {
    source: address(o, 'source', 'ipv6'),
    destination: address(o, 'destination', 'ipv6'),
    hopLimit: int(o, 'hopLimit', 'ipv6', 255, 64),
    flowLabel: int(o, 'flowLabel', 'ipv6', 0xfffff, 0),
    trafficClass: int(o, 'trafficClass', 'ipv6', 255, 0),
  };
}

// --- Extension headers in front of the Shim6 header -----------------------------------

/** Protocols that may stand in front of the Shim6 header, and the length each header's own octets give (RFC 8200 §4). */
function ownLength(protocol: number, b: Uint8Array): number | undefined {
  if (b.length < 2) return undefined;
  if (protocol === 0 || protocol === 43 || protocol === 60 || protocol === 135) return (b[1]! + 1) * 8;
  if (protocol === 44) return 8;
  if (protocol === 51) return (b[1]! + 2) * 4;
  return undefined;
}

function readHeadersBefore(v: unknown): ExtHeaderFromJson[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new Invalid('extensionHeaders', `must be an array, got ${describe(v)}`);
  const out: ExtHeaderFromJson[] = [];
  for (let i = 0; i < v.length; i++) {
    const path = `extensionHeaders[${i}]`;
    const o = record(v[i], path, 'an extension header');
    const protocol = int(o, 'protocol', path, 255);
    if (protocol === IPPROTO_SHIM6) break; // the Shim6 header itself comes from the shim6 member
    const bytes = hex(o, 'hex', path, 2048);
    const own = ownLength(protocol, bytes);
    if (own === undefined) throw new Invalid(at(path, 'protocol'), `${protocol} is not an extension header that can precede Shim6 (0, 43, 44, 51, 60, 135)`);
    if (own !== bytes.length) throw new Invalid(at(path, 'hex'), `holds ${bytes.length} octets but the header's length field says ${own}`);
    out.push({ protocol, bytes });
  }
  return out;
}

// --- Shim6 header ------------------------------------------------------------------------

const KINDS: readonly string[] = [...Object.keys(MessageType), 'Payload'];
/** Members every control message view has that are computed, so ignored on input. */
const CONTROL_COMPUTED = ['message', 'kind', 'type', 'P', 'hdrExtLen', 'checksum', 'checksumValid'];
const ERROR_KEYS: ReadonlySet<string> = new Set([...CONTROL_COMPUTED, 'nextHeader', 'errorCode', 'errorName', 'pointer', 'packetInError']);
const PROBE_KEYS: ReadonlySet<string> = new Set([...CONTROL_COMPUTED, 'nextHeader', 'reserved1', 'r', 'receiverContextTag', 'state', 'stateName', 'reserved2', 'sent', 'received', 'options']);
const PAYLOAD_KEYS: ReadonlySet<string> = new Set(['P', 'kind', 'message', 'nextHeader', 'receiverContextTag', 'upperLayer', 'payloadHex']);
const REPORT_KEYS: ReadonlySet<string> = new Set(['source', 'destination', 'nonce', 'data']);
/** Largest control message a Hdr Ext Len can describe, and the octets that leaves for the packet in error. */
const CONTROL_MAX = 2048;

function readShim6(top: Rec): Shim6FromJson {
  if (top['shim6'] === undefined) {
    if (top['error'] !== undefined) throw new Invalid('error', 'this is a decode error record, not a packet');
    throw new Invalid('shim6', 'missing: the packet has no Shim6 header to encode');
  }
  const p = 'shim6';
  const s = record(top['shim6'], p, 'the Shim6 header');
  const kind = s['kind'];
  if (typeof kind !== 'string' || !KINDS.includes(kind)) {
    throw new Invalid(at(p, 'kind'), `${kind === undefined ? 'missing' : `unknown kind ${describe(kind)}`}: expected one of ${KINDS.join(', ')}`);
  }
  const pBit = s['P'];
  const wantP = kind === 'Payload' ? 1 : 0;
  if (pBit !== undefined && pBit !== wantP) throw new Invalid(at(p, 'P'), `must be ${wantP} for kind ${kind}, got ${describe(pBit)}`);
  if (kind === 'Payload') {
    onlyKeys(s, p, PAYLOAD_KEYS, 'a Payload Extension header');
    return {
      kind: 'payload',
      nextHeader: int(s, 'nextHeader', p, 255),
      receiverContextTag: int(s, 'receiverContextTag', p, 2 ** 47 - 1),
      upperLayer: hex(s, 'payloadHex', p, 0xffff - PAYLOAD_HEADER_LEN),
    };
  }
  const mk = kind as MessageKind;
  const type = s['type'];
  if (type !== undefined && type !== MessageType[mk]) throw new Invalid(at(p, 'type'), `must be ${MessageType[mk]} for kind ${mk} (kind selects the message), got ${describe(type)}`);
  const message = mk === 'Error' ? readError(s, p) : mk === 'Probe' ? readProbe(s, p) : readFixed(s, p, mk);
  const len = controlMessageLength(message);
  if (len > CONTROL_MAX) throw new Invalid(p, `the message takes ${len} octets, more than the ${CONTROL_MAX} a Hdr Ext Len can describe`);
  try {
    validateControlMessage(message);
  } catch (e) {
    if (e instanceof WireEmitError) throw new Invalid(p, e.message);
    throw e;
  }
  return { kind: 'control', message };
}

function readFixed(s: Rec, p: string, kind: FixedKind): ControlMessage {
  const layout = fixedLayoutOf(kind);
  const keys = new Set([...CONTROL_COMPUTED, 'nextHeader', 'reserved1', 'options', ...layout.fields.map((f) => f.name)]);
  onlyKeys(s, p, keys, `${/^[IRU]/.test(kind) ? 'an' : 'a'} ${kind} message`);
  const m: Record<string, unknown> = { kind, nextHeader: int(s, 'nextHeader', p, 255, NO_NXT_HDR), reserved1: int(s, 'reserved1', p, 127, 0) };
  for (const f of layout.fields) m[f.name] = int(s, f.name, p, fieldMax(f.kind), RESERVED_FIELDS.has(f.name) ? 0 : undefined);
  m['options'] = readOptions(s, p);
  return m as unknown as ControlMessage;
}

function readError(s: Rec, p: string): ControlMessage {
  onlyKeys(s, p, ERROR_KEYS, 'an Error message');
  return {
    kind: 'Error',
    nextHeader: int(s, 'nextHeader', p, 255, NO_NXT_HDR),
    errorCode: int(s, 'errorCode', p, 127),
    pointer: int(s, 'pointer', p, 0xffff),
    packetInError: hex(s, 'packetInError', p, CONTROL_MAX - 8),
  };
}

function readProbe(s: Rec, p: string): ControlMessage {
  onlyKeys(s, p, PROBE_KEYS, 'a Probe message');
  const report = (v: unknown, rp: string): ProbeReport => {
    const r = record(v, rp, 'a probe report');
    onlyKeys(r, rp, REPORT_KEYS, 'a probe report');
    return { source: address(r, 'source', rp), destination: address(r, 'destination', rp), nonce: int(r, 'nonce', rp, 0xffff_ffff), data: int(r, 'data', rp, 0xffff_ffff) };
  };
  return {
    kind: 'Probe',
    nextHeader: int(s, 'nextHeader', p, 255, NO_NXT_HDR),
    reserved1: int(s, 'reserved1', p, 127, 0),
    r: int(s, 'r', p, 1, 0),
    receiverContextTag: int(s, 'receiverContextTag', p, 2 ** 47 - 1),
    state: int(s, 'state', p, 2) as 0 | 1 | 2,
    reserved2: int(s, 'reserved2', p, 0x3f_ffff, 0),
    sent: list(s, 'sent', p, 1, PROBE_REPORTS_MAX, true).map((v, i) => report(v, at(at(p, 'sent'), i))),
    received: list(s, 'received', p, 0, PROBE_REPORTS_MAX, false).map((v, i) => report(v, at(at(p, 'received'), i))),
    options: readOptions(s, p),
  };
}

// --- options -----------------------------------------------------------------------------

const OPTION_HEAD = ['type', 'name', 'critical'];
const OPTION_KEYS: Readonly<Record<string, ReadonlySet<string>>> = {
  Unknown: new Set([...OPTION_HEAD, 'contentsHex']),
  ResponderValidator: new Set([...OPTION_HEAD, 'validator']),
  LocatorList: new Set([...OPTION_HEAD, 'generation', 'locators']),
  LocatorPreferences: new Set([...OPTION_HEAD, 'generation', 'elementLength', 'elements']),
  CgaParameterDataStructure: new Set([...OPTION_HEAD, 'pds']),
  CgaSignature: new Set([...OPTION_HEAD, 'signature']),
  UlidPair: new Set([...OPTION_HEAD, 'reserved2', 'senderUlid', 'receiverUlid']),
  ForkedInstanceIdentifier: new Set([...OPTION_HEAD, 'forkedInstanceId']),
  KeepaliveTimeout: new Set([...OPTION_HEAD, 'reserved', 'keepaliveTimeoutSeconds']),
};
const LOCATOR_KEYS: ReadonlySet<string> = new Set(['address', 'verificationMethod', 'verificationMethodName']);
const ELEMENT_KEYS: ReadonlySet<string> = new Set(['flags', 'flagNames', 'priority', 'weight', 'extension']);
const CONTENTS_MAX = 0xffff;

function readOptions(s: Rec, p: string): Option[] {
  return list(s, 'options', p, 0, Number.MAX_SAFE_INTEGER, false).map((v, i) => readOption(v, at(at(p, 'options'), i)));
}

/** An option selected by its `type`; one given as `contentsHex` is kept raw whatever its type. */
function readOption(v: unknown, p: string): Option {
  const o = record(v, p, 'an option');
  const type = int(o, 'type', p, 0x7fff);
  const critical = bool(o, 'critical', p, false);
  const known = optionKindOf(type);
  if (o['contentsHex'] !== undefined || known === undefined) {
    onlyKeys(o, p, OPTION_KEYS['Unknown']!, `option type ${type} given as raw contents`);
    if (o['contentsHex'] === undefined) throw new Invalid(at(p, 'contentsHex'), `missing: option type ${type} (${optionTypeName(type)}) has no decoded form, give its contents as hex`);
    return { kind: 'Unknown', type, critical, contents: hex(o, 'contentsHex', p, CONTENTS_MAX) };
  }
  onlyKeys(o, p, OPTION_KEYS[known]!, `a ${optionTypeName(type)} option`);
  switch (known) {
    case 'ResponderValidator': return { kind: known, critical, validator: hex(o, 'validator', p, CONTENTS_MAX) };
    case 'CgaParameterDataStructure': return { kind: known, critical, pds: hex(o, 'pds', p, CONTENTS_MAX) };
    case 'CgaSignature': return { kind: known, critical, signature: hex(o, 'signature', p, CONTENTS_MAX) };
    case 'LocatorList': {
      const locators = list(o, 'locators', p, 0, LOCATOR_LIST_MAX, true).map((lv, i) => {
        const lp = at(at(p, 'locators'), i);
        const l = record(lv, lp, 'a locator');
        onlyKeys(l, lp, LOCATOR_KEYS, 'a locator');
        return { address: address(l, 'address', lp), verificationMethod: int(l, 'verificationMethod', lp, 255) };
      });
      return { kind: known, critical, generation: int(o, 'generation', p, 0xffff_ffff), locators };
    }
    case 'LocatorPreferences': return readPreferences(o, p, critical);
    case 'UlidPair':
      return { kind: known, critical, reserved2: int(o, 'reserved2', p, 0xffff_ffff, 0), senderUlid: address(o, 'senderUlid', p), receiverUlid: address(o, 'receiverUlid', p) };
    case 'ForkedInstanceIdentifier': return { kind: known, critical, forkedInstanceId: int(o, 'forkedInstanceId', p, 0xffff_ffff) };
    case 'KeepaliveTimeout': return { kind: known, critical, reserved: int(o, 'reserved', p, 0xffff, 0), keepaliveTimeoutSeconds: int(o, 'keepaliveTimeoutSeconds', p, 0xffff) };
  }
}

function readPreferences(o: Rec, p: string, critical: boolean): Option {
  const elementLength = int(o, 'elementLength', p, 255);
  if (elementLength === 0) throw new Invalid(at(p, 'elementLength'), 'must be at least 1 (RFC 5533 §5.15.3)');
  const maxElements = Math.floor((CONTENTS_MAX - 5) / elementLength);
  const elements = list(o, 'elements', p, 0, maxElements, true).map((ev, i): LocatorPreference => {
    const ep = at(at(p, 'elements'), i);
    const e = record(ev, ep, 'a locator preference');
    onlyKeys(e, ep, ELEMENT_KEYS, 'a locator preference');
    const field = (key: string, minLen: number): number | undefined => {
      if (elementLength < minLen) {
        if (e[key] !== undefined) throw new Invalid(at(ep, key), `not carried when elementLength is ${elementLength} (needs ${minLen} or more)`);
        return undefined;
      }
      return int(e, key, ep, 255, 0);
    };
    const flags = int(e, 'flags', ep, 255);
    const priority = field('priority', 2);
    const weight = field('weight', 3);
    let extension: Uint8Array | undefined;
    if (elementLength > 3) {
      extension = e['extension'] === undefined ? new Uint8Array(elementLength - 3) : hex(e, 'extension', ep, elementLength - 3);
      if (extension.length !== elementLength - 3) throw new Invalid(at(ep, 'extension'), `must be elementLength - 3 = ${elementLength - 3} octets, got ${extension.length}`);
    } else if (e['extension'] !== undefined) {
      throw new Invalid(at(ep, 'extension'), `not carried when elementLength is ${elementLength} (needs 4 or more)`);
    }
    return { flags, ...(priority !== undefined ? { priority } : {}), ...(weight !== undefined ? { weight } : {}), ...(extension !== undefined ? { extension } : {}) };
  });
  return { kind: 'LocatorPreferences', critical, generation: int(o, 'generation', p, 0xffff_ffff), elementLength, elements };
}
