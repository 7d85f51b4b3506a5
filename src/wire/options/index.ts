/**
 * Shim6 option TLVs (RFC 5533 §5.15): 15-bit Type, C (critical) bit, 16-bit Length of
 * the contents, contents, then 0-7 zero octets of padding so the option is a multiple of
 * 8 octets: Total Length = 11 + Length - (Length + 3) mod 8.
 *
 * An option that is unknown, or known but not listed for the message it arrives in, is
 * kept as `UnknownOption` with its raw contents and C bit so it re-emits losslessly. With
 * C=1 it makes the parse fail with Error code 1 pointing at its Type field (§5.15, §12.3),
 * unless the caller asks to keep such options (for tools like `shim6 decode`).
 *
 * Padding octets are not checked on receipt (§5.15: "SHOULD NOT be checked") and are
 * written as zeros, so a message with non-zero padding re-emits in canonical form.
 */
import { readU16, writeU16, checkRange } from '../bytes.js';
import { ErrorCode, optionKindOf, OptionType, type KnownOptionKind } from '../constants.js';
import { fail, forward, ok, WireEmitError, type Parsed } from '../result.js';
import { cgaParameterDataStructureLength, emitCgaParameterDataStructure, parseCgaParameterDataStructure, type CgaParameterDataStructureOption } from './cga-parameter-data-structure.js';
import { cgaSignatureLength, emitCgaSignature, parseCgaSignature, type CgaSignatureOption } from './cga-signature.js';
import { emitForkedInstanceIdentifier, forkedInstanceIdentifierLength, parseForkedInstanceIdentifier, type ForkedInstanceIdentifierOption } from './forked-instance-identifier.js';
import { emitKeepaliveTimeout, keepaliveTimeoutLength, parseKeepaliveTimeout, type KeepaliveTimeoutOption } from './keepalive-timeout.js';
import { emitLocatorList, LOCATOR_LIST_MAX, locatorListLength, parseLocatorList, type LocatorListOption } from './locator-list.js';
import { emitLocatorPreferences, locatorPreferencesLength, parseLocatorPreferences, type LocatorPreferencesOption } from './locator-preferences.js';
import { emitResponderValidator, parseResponderValidator, responderValidatorLength, type ResponderValidatorOption } from './responder-validator.js';
import { emitUlidPair, parseUlidPair, ulidPairLength, type UlidPairOption } from './ulid-pair.js';

export type { CgaParameterDataStructureOption } from './cga-parameter-data-structure.js';
export { cgaSignedData, SHIM6_CGA_MESSAGE_TYPE_TAG, type CgaSignatureOption } from './cga-signature.js';
export type { ForkedInstanceIdentifierOption } from './forked-instance-identifier.js';
export { FLOW_LABEL_DEMUX_OPTION_TYPE, FLOW_LABEL_DEMUX_VERSION, MAX_FLOW_LABEL, flowLabelDemuxOption, readFlowLabelDemux } from './flow-label-demux.js';
export type { KeepaliveTimeoutOption } from './keepalive-timeout.js';
export { LOCATOR_LIST_MAX, type Locator, type LocatorListOption } from './locator-list.js';
export type { LocatorPreference, LocatorPreferencesOption } from './locator-preferences.js';
export type { ResponderValidatorOption } from './responder-validator.js';
export { ULID_PAIR_LENGTH, type UlidPairOption } from './ulid-pair.js';

/** An option this implementation does not interpret here, kept byte for byte. */
export interface UnknownOption {
  readonly kind: 'Unknown';
  /** 15-bit option type. */
  readonly type: number;
  readonly critical: boolean;
  /** Contents without padding. */
  readonly contents: Uint8Array;
}

export type KnownOption =
  | ResponderValidatorOption
  | LocatorListOption
  | LocatorPreferencesOption
  | CgaParameterDataStructureOption
  | CgaSignatureOption
  | UlidPairOption
  | ForkedInstanceIdentifierOption
  | KeepaliveTimeoutOption;

export type Option = KnownOption | UnknownOption;

interface OptionCodec<O extends KnownOption> {
  length(o: O): number;
  parse(b: Uint8Array, start: number, length: number, critical: boolean): Parsed<O>;
  emit(o: O, b: Uint8Array, off: number): void;
}

type CodecTable = { [K in KnownOptionKind]: OptionCodec<Extract<KnownOption, { kind: K }>> };

const CODECS: CodecTable = {
  ResponderValidator: { length: responderValidatorLength, parse: parseResponderValidator, emit: emitResponderValidator },
  LocatorList: { length: locatorListLength, parse: parseLocatorList, emit: emitLocatorList },
  LocatorPreferences: { length: locatorPreferencesLength, parse: parseLocatorPreferences, emit: emitLocatorPreferences },
  CgaParameterDataStructure: { length: cgaParameterDataStructureLength, parse: parseCgaParameterDataStructure, emit: emitCgaParameterDataStructure },
  CgaSignature: { length: cgaSignatureLength, parse: parseCgaSignature, emit: emitCgaSignature },
  UlidPair: { length: ulidPairLength, parse: parseUlidPair, emit: emitUlidPair },
  ForkedInstanceIdentifier: { length: forkedInstanceIdentifierLength, parse: parseForkedInstanceIdentifier, emit: emitForkedInstanceIdentifier },
  KeepaliveTimeout: { length: keepaliveTimeoutLength, parse: parseKeepaliveTimeout, emit: emitKeepaliveTimeout },
};

function codecOf(kind: KnownOptionKind): OptionCodec<KnownOption> {
  return CODECS[kind] as OptionCodec<KnownOption>;
}

/** The 15-bit type code of an option. */
export function optionType(o: Option): number {
  return o.kind === 'Unknown' ? o.type : OptionType[o.kind];
}

/** Length of the contents (the Length field). */
export function optionContentsLength(o: Option): number {
  return o.kind === 'Unknown' ? o.contents.length : codecOf(o.kind).length(o);
}

/** Total octets on the wire, padding included (RFC 5533 §5.15). */
export function optionTotalLength(contentsLength: number): number {
  return 11 + contentsLength - ((contentsLength + 3) % 8);
}

export interface ParseOptionsConfig {
  /** Option types valid in this message (RFC 5533 §5.4-5.11, RFC 5534 §5.3). */
  readonly allowed: ReadonlySet<number>;
  /** 'reject' (default): C=1 unknown options fail the parse with Error code 1; 'keep': keep them. */
  readonly unknownCritical?: 'reject' | 'keep';
  /** Offset in `b` of the first octet of the invoking packet, for Error Message pointers. */
  readonly packetStart: number;
}

/** Parses the options filling [start, end) exactly. */
export function parseOptions(b: Uint8Array, start: number, end: number, cfg: ParseOptionsConfig): Parsed<Option[]> {
  const out: Option[] = [];
  let pos = start;
  while (pos < end) {
    if (end - pos < 4) return fail('option-truncated', pos, `${end - pos} octets left after the last option, too few for an option header`);
    const tc = readU16(b, pos);
    const type = tc >>> 1;
    const critical = (tc & 1) === 1;
    const length = readU16(b, pos + 2);
    const total = optionTotalLength(length);
    if (pos + total > end) {
      return fail('option-truncated', pos, `option type ${type} with Length ${length} needs ${total} octets, only ${end - pos} left in the message`);
    }
    const kind = optionKindOf(type);
    if (kind === undefined || !cfg.allowed.has(type)) {
      if (critical && cfg.unknownCritical !== 'keep') {
        return fail('unrecognized-critical-option', pos, `critical option type ${type} is not recognized in this message`, {
          code: ErrorCode.CriticalOptionNotRecognized,
          pointer: pos - cfg.packetStart,
        });
      }
      out.push({ kind: 'Unknown', type, critical, contents: b.slice(pos + 4, pos + 4 + length) });
    } else {
      const r = codecOf(kind).parse(b, pos + 4, length, critical);
      if (!r.ok) return forward(r);
      out.push(r.value);
    }
    pos += total;
  }
  return ok(out);
}

/** Octets the options take on the wire. */
export function optionsLength(options: readonly Option[]): number {
  let n = 0;
  for (const o of options) n += optionTotalLength(optionContentsLength(o));
  return n;
}

/** Throws `WireEmitError` if an option holds a value its wire format cannot carry. */
export function validateOption(o: Option): void {
  if (o.kind === 'Unknown') checkRange('option type', o.type, 0x7fff);
  const len = optionContentsLength(o);
  if (len > 0xffff) throw new WireEmitError('field-range', `option contents of ${len} octets exceed the 16-bit Length`);
  switch (o.kind) {
    case 'LocatorList':
      checkRange('Locator List Generation', o.generation, 0xffff_ffff);
      checkRange('Num Locators', o.locators.length, LOCATOR_LIST_MAX);
      for (const l of o.locators) {
        checkRange('verification method', l.verificationMethod, 255);
        if (l.address.length !== 16) throw new WireEmitError('field-range', 'a locator must be 16 octets');
      }
      break;
    case 'LocatorPreferences':
      checkRange('Locator List Generation', o.generation, 0xffff_ffff);
      checkRange('Element Len', o.elementLength, 255);
      if (o.elementLength === 0) throw new WireEmitError('field-range', 'Element Len must be at least 1');
      for (const e of o.elements) {
        checkRange('Flags', e.flags, 255);
        if (e.priority !== undefined) checkRange('Priority', e.priority, 255);
        if (e.weight !== undefined) checkRange('Weight', e.weight, 255);
        if (e.priority !== undefined && o.elementLength < 2) throw new WireEmitError('field-range', 'Priority needs Element Len >= 2');
        if (e.weight !== undefined && o.elementLength < 3) throw new WireEmitError('field-range', 'Weight needs Element Len >= 3');
        if (e.extension !== undefined && e.extension.length !== Math.max(0, o.elementLength - 3)) {
          throw new WireEmitError('field-range', `element extension must be Element Len - 3 = ${o.elementLength - 3} octets`);
        }
      }
      break;
    case 'UlidPair':
      checkRange('Reserved2', o.reserved2, 0xffff_ffff);
      if (o.senderUlid.length !== 16 || o.receiverUlid.length !== 16) throw new WireEmitError('field-range', 'ULIDs must be 16 octets');
      break;
    case 'ForkedInstanceIdentifier':
      checkRange('Forked Instance Identifier', o.forkedInstanceId, 0xffff_ffff);
      break;
    case 'KeepaliveTimeout':
      checkRange('Reserved', o.reserved, 0xffff);
      checkRange('Keepalive Timeout', o.keepaliveTimeoutSeconds, 0xffff);
      break;
    default:
      break;
  }
}

/** Writes the options at `off` (padding zeroed); returns the offset after the last one. */
export function emitOptions(options: readonly Option[], b: Uint8Array, off: number): number {
  let pos = off;
  for (const o of options) {
    const len = optionContentsLength(o);
    const total = optionTotalLength(len);
    writeU16(b, pos, (optionType(o) << 1) | (o.critical ? 1 : 0));
    writeU16(b, pos + 2, len);
    if (o.kind === 'Unknown') b.set(o.contents, pos + 4);
    else codecOf(o.kind).emit(o, b, pos + 4);
    b.fill(0, pos + 4 + len, pos + total);
    pos += total;
  }
  return pos;
}
