/**
 * Shim6 control messages: the common control header and checksum (RFC 5533 §5.3), the
 * receive checks of §12.3, and dispatch to the per-message codecs in `messages/`.
 *
 * Receive order (§12.3): the header must fit the packet, the checksum (over exactly
 * (Hdr Ext Len + 1) * 8 octets, no pseudo-header) must verify — both failures are silent
 * drops — then the type is dispatched; an unknown type yields Error code 0 with the
 * pointer at the Type octet. P=1 (a payload header) and S=1 (a HIP message, §5.3) are not
 * control messages and are rejected before the checksum.
 *
 * Emit computes Hdr Ext Len and the checksum and enforces the 1280-octet signalling limit
 * (§5.1) given the size of the headers in front.
 */
import { checkRange, internetChecksum, writeU16 } from './bytes.js';
import { ErrorCode, IPV6_HEADER_LEN, messageKindOf, MessageType, SIGNALLING_MAX_PACKET, type MessageKind } from './constants.js';
import { emitErrorFields, ERROR_MIN_LENGTH, errorMessageLength, parseErrorFields, validateErrorMessage, type ErrorMessage } from './messages/error.js';
import { I1_LAYOUT, type I1Message } from './messages/i1.js';
import { I2_LAYOUT, type I2Message } from './messages/i2.js';
import { I2BIS_LAYOUT, type I2bisMessage } from './messages/i2bis.js';
import { KEEPALIVE_LAYOUT, type KeepaliveMessage } from './messages/keepalive.js';
import { readFields, validateFields, writeFields, type FixedLayout } from './messages/layout.js';
import { emitProbeFixed, parseProbeFixed, PROBE_HEAD_LAYOUT, probeFixedLength, validateProbe, type ProbeMessage } from './messages/probe.js';
import { R1_LAYOUT, type R1Message } from './messages/r1.js';
import { R1BIS_LAYOUT, type R1bisMessage } from './messages/r1bis.js';
import { R2_LAYOUT, type R2Message } from './messages/r2.js';
import { UPDATE_ACK_LAYOUT, type UpdateAckMessage } from './messages/update-ack.js';
import { UPDATE_REQUEST_LAYOUT, type UpdateRequestMessage } from './messages/update-request.js';
import { emitOptions, optionsLength, parseOptions, validateOption } from './options/index.js';
import { fail, forward, ok, WireEmitError, type Parsed } from './result.js';

export type { ErrorMessage } from './messages/error.js';
export type { I1Message } from './messages/i1.js';
export type { I2Message } from './messages/i2.js';
export type { I2bisMessage } from './messages/i2bis.js';
export type { KeepaliveMessage } from './messages/keepalive.js';
export type { ProbeMessage, ProbeReport } from './messages/probe.js';
export type { R1Message } from './messages/r1.js';
export type { R1bisMessage } from './messages/r1bis.js';
export type { R2Message } from './messages/r2.js';
export type { UpdateAckMessage } from './messages/update-ack.js';
export type { UpdateRequestMessage } from './messages/update-request.js';

export type ControlMessage =
  | I1Message
  | R1Message
  | I2Message
  | R2Message
  | R1bisMessage
  | I2bisMessage
  | UpdateRequestMessage
  | UpdateAckMessage
  | KeepaliveMessage
  | ProbeMessage
  | ErrorMessage;

/** Message kinds whose fixed part is a declarative layout (all but Probe and Error). */
export type FixedKind = Exclude<MessageKind, 'Probe' | 'Error'>;
type FixedMessage = Extract<ControlMessage, { kind: FixedKind }>;

const LAYOUTS: { [K in FixedKind]: FixedLayout<Extract<ControlMessage, { kind: K }>> } = {
  I1: I1_LAYOUT,
  R1: R1_LAYOUT,
  I2: I2_LAYOUT,
  R2: R2_LAYOUT,
  R1bis: R1BIS_LAYOUT,
  I2bis: I2BIS_LAYOUT,
  UpdateRequest: UPDATE_REQUEST_LAYOUT,
  UpdateAck: UPDATE_ACK_LAYOUT,
  Keepalive: KEEPALIVE_LAYOUT,
};

/** The declarative layout of a message's fixed part (field names, kinds, offsets; allowed options). */
export function fixedLayoutOf(kind: FixedKind): FixedLayout<FixedMessage> {
  return layoutOf(kind);
}

function layoutOf(kind: FixedKind): FixedLayout<FixedMessage> {
  return LAYOUTS[kind] as unknown as FixedLayout<FixedMessage>;
}

/** Octets of a message before its options (its minimum length). */
export function fixedLengthOf(kind: MessageKind): number {
  if (kind === 'Probe') return PROBE_HEAD_LAYOUT.fixedLength;
  if (kind === 'Error') return ERROR_MIN_LENGTH;
  return layoutOf(kind).fixedLength;
}

/** Option types a message may carry (RFC 5533 §5.4-5.11, RFC 5534 §5.1-5.3). */
export function allowedOptionsOf(kind: MessageKind): ReadonlySet<number> {
  if (kind === 'Probe') return PROBE_HEAD_LAYOUT.allowedOptions;
  if (kind === 'Error') return new Set<number>();
  return layoutOf(kind).allowedOptions;
}

export interface ControlParseConfig {
  /** Verify the checksum (default true). Tools that show a bad checksum turn this off. */
  readonly verifyChecksum?: boolean;
  /** 'reject' (default) or 'keep' unknown options with C=1; see `options/index.ts`. */
  readonly unknownCritical?: 'reject' | 'keep';
  /** Offset in `b` of the invoking packet's first octet (its IPv6 header), for Error pointers. Default: `off`. */
  readonly packetStart?: number;
}

/** Total length of the Shim6 header at `off` as given by Hdr Ext Len: (Hdr Ext Len + 1) * 8. */
export function shim6HeaderLength(b: Uint8Array, off: number): number {
  return (b[off + 1]! + 1) * 8;
}

/** True when the control message at `off` has a correct checksum (the header must fit in `b`). */
export function verifyControlChecksum(b: Uint8Array, off: number): boolean {
  return internetChecksum(b, off, off + shim6HeaderLength(b, off)) === 0;
}

/**
 * Parses the control message whose Shim6 header starts at `off`; `len` octets are
 * available (the rest of the packet). Never throws.
 */
export function parseControlMessage(b: Uint8Array, off = 0, len = b.length - off, cfg: ControlParseConfig = {}): Parsed<ControlMessage> {
  if (off < 0 || len < 8 || off + len > b.length) return fail('truncated', off, `a Shim6 header needs 8 octets, ${Math.max(0, Math.min(len, b.length - off))} available`);
  const hdrLen = shim6HeaderLength(b, off);
  if (hdrLen > len) return fail('header-past-end', off + 1, `Hdr Ext Len says ${hdrLen} octets, only ${len} in the packet`);
  if (b[off + 2]! & 0x80) return fail('wrong-p-bit', off + 2, 'P bit is 1: a Payload Extension header, not a control message');
  if (b[off + 3]! & 0x01) return fail('hip-message', off + 3, 'S bit is 1: a HIP message, not Shim6');
  if (cfg.verifyChecksum !== false && internetChecksum(b, off, off + hdrLen) !== 0) {
    return fail('bad-checksum', off + 4, 'checksum does not verify');
  }
  const packetStart = cfg.packetStart ?? off;
  const type = b[off + 2]! & 0x7f;
  const kind = messageKindOf(type);
  if (kind === undefined) {
    return fail('unknown-message-type', off + 2, `message type ${type} is not known`, {
      code: ErrorCode.UnknownMessageType,
      pointer: off + 2 - packetStart,
    });
  }
  const minLen = fixedLengthOf(kind);
  if (hdrLen < minLen) return fail('header-too-short', off + 1, `${kind} needs at least ${minLen} octets, Hdr Ext Len gives ${hdrLen}`);
  const nextHeader = b[off]!;
  if (kind === 'Error') return ok({ kind, nextHeader, ...parseErrorFields(b, off, hdrLen) });

  const optCfg = { allowed: allowedOptionsOf(kind), packetStart, ...(cfg.unknownCritical ? { unknownCritical: cfg.unknownCritical } : {}) };
  const reserved1 = b[off + 3]! >>> 1;
  if (kind === 'Probe') {
    const fixed = parseProbeFixed(b, off, hdrLen);
    if (!fixed.ok) return forward(fixed);
    const options = parseOptions(b, fixed.value.optionsStart, off + hdrLen, optCfg);
    if (!options.ok) return forward(options);
    return ok({ kind, nextHeader, reserved1, ...readFields(PROBE_HEAD_LAYOUT, b, off), ...fixed.value.fields, options: options.value } as unknown as ProbeMessage);
  }
  const layout = layoutOf(kind);
  const options = parseOptions(b, off + layout.fixedLength, off + hdrLen, optCfg);
  if (!options.ok) return forward(options);
  return ok({ kind, nextHeader, reserved1, ...readFields(layout, b, off), options: options.value } as unknown as ControlMessage);
}

/** Octets the message takes on the wire (a multiple of 8). */
export function controlMessageLength(m: ControlMessage): number {
  switch (m.kind) {
    case 'Error': return errorMessageLength(m);
    case 'Probe': return probeFixedLength(m) + optionsLength(m.options);
    default: return layoutOf(m.kind).fixedLength + optionsLength(m.options);
  }
}

/** Throws `WireEmitError` if a field does not fit its wire width. */
export function validateControlMessage(m: ControlMessage): void {
  checkRange('Next Header', m.nextHeader, 255);
  if (m.kind === 'Error') {
    validateErrorMessage(m);
  } else {
    checkRange('Reserved1', m.reserved1, 127);
    if (m.kind === 'Probe') {
      validateProbe(m);
      validateFields(PROBE_HEAD_LAYOUT, m);
    } else {
      validateFields(layoutOf(m.kind), m);
    }
    for (const o of m.options) validateOption(o);
  }
}

export interface ControlEmitConfig {
  /** Octets of IPv6 and extension headers in front of the Shim6 header (default 40), for the 1280 limit. */
  readonly headersBefore?: number;
  /** Enforce the 1280-octet signalling limit of RFC 5533 §5.1 (default true). */
  readonly enforceSignallingLimit?: boolean;
}

/**
 * Writes the message at `off`, computing Hdr Ext Len and the checksum; returns the
 * number of octets written. Throws `WireEmitError` for values that cannot be encoded, a
 * buffer that is too small, or a packet over the signalling limit.
 */
export function emitControlMessage(m: ControlMessage, b: Uint8Array, off = 0, cfg: ControlEmitConfig = {}): number {
  validateControlMessage(m);
  return emitValidatedControlMessage(m, b, off, cfg);
}

/** `emitControlMessage` for a message the caller has already passed through `validateControlMessage`. */
export function emitValidatedControlMessage(m: ControlMessage, b: Uint8Array, off: number, cfg: ControlEmitConfig = {}): number {
  const len = controlMessageLength(m);
  if (len > 2048) throw new WireEmitError('too-large', `message of ${len} octets exceeds the 2048 a Hdr Ext Len can describe`);
  const before = cfg.headersBefore ?? IPV6_HEADER_LEN;
  if (cfg.enforceSignallingLimit !== false && before + len > SIGNALLING_MAX_PACKET) {
    throw new WireEmitError('too-large', `signalling packet of ${before + len} octets exceeds ${SIGNALLING_MAX_PACKET} (RFC 5533 §5.1)`);
  }
  if (off < 0 || off + len > b.length) throw new WireEmitError('buffer-too-small', `need ${len} octets at offset ${off}, buffer has ${b.length}`);
  b.fill(0, off, off + len);
  b[off] = m.nextHeader;
  b[off + 1] = len / 8 - 1;
  b[off + 2] = MessageType[m.kind];
  if (m.kind === 'Error') {
    emitErrorFields(m, b, off);
  } else {
    b[off + 3] = m.reserved1 << 1;
    let optionsStart: number;
    if (m.kind === 'Probe') {
      writeFields(PROBE_HEAD_LAYOUT, m, b, off);
      optionsStart = emitProbeFixed(m, b, off);
    } else {
      const layout = layoutOf(m.kind);
      writeFields(layout, m, b, off);
      optionsStart = off + layout.fixedLength;
    }
    emitOptions(m.options, b, optionsStart);
  }
  writeU16(b, off + 4, internetChecksum(b, off, off + len));
  return len;
}

/** Allocating convenience: the message as a new byte array. */
export function encodeControlMessage(m: ControlMessage, cfg: ControlEmitConfig = {}): Uint8Array {
  validateControlMessage(m);
  const out = new Uint8Array(controlMessageLength(m));
  emitValidatedControlMessage(m, out, 0, cfg);
  return out;
}
