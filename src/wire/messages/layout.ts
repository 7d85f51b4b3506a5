/**
 * Declarative layouts for the fixed part of Shim6 control messages (RFC 5533 §5.4-5.11,
 * RFC 5534 §5.1). Each message file states its fields with the RFC's names and offsets;
 * this module reads and writes them. Offsets count from the first octet of the Shim6
 * header; octets 0-5 (Next Header, Hdr Ext Len, P, Type, Reserved1, S, Checksum) belong
 * to the common header (`../control.ts`).
 *
 * Field kinds:
 * - `rbit`: the reserved R bit, the top bit of the octet at `offset`;
 * - `tag47`: a 47-bit context tag in the low bits of the 6 octets at `offset`;
 * - `u16`, `u32`: big-endian unsigned integers;
 * - `u49`: I2bis Reserved2 (RFC 5533 §5.9): the 6 octets at `offset` and the top bit of the next.
 */
import { checkRange, readTag47, readU16, readU32, readU48, writeU16, writeU32, writeU48 } from '../bytes.js';
import { CONTEXT_TAG_MAX, OptionType, type MessageKind } from '../constants.js';
import type { Option } from '../options/index.js';

export type FieldKind = 'rbit' | 'tag47' | 'u16' | 'u32' | 'u49';

/** Keys of T whose values are numbers. */
export type NumericKeys<T> = { [K in keyof T]-?: T[K] extends number ? K : never }[keyof T] & string;

export interface FieldSpec<N extends string> {
  readonly name: N;
  readonly kind: FieldKind;
  readonly offset: number;
}

/** Fields every control message except Error has after the common 17 bits. */
export interface ControlHeaderFields {
  /** Next Header: NO_NXT_HDR (59) for control messages (RFC 5533 §5.3). */
  readonly nextHeader: number;
  /** Reserved1: 7 bits, zero on transmit, ignored on receipt; kept for lossless re-emit. */
  readonly reserved1: number;
  readonly options: readonly Option[];
}

export interface FixedLayout<M extends { readonly kind: MessageKind }> {
  readonly kind: M['kind'];
  /** Octets before the options: the minimum message length. */
  readonly fixedLength: number;
  readonly fields: readonly FieldSpec<NumericKeys<M>>[];
  /** Option types this message may carry; others are treated as unknown (RFC 5533 §5.15). */
  readonly allowedOptions: ReadonlySet<number>;
}

/**
 * The options that carry and secure a locator set, valid in I2, R2, I2bis and Update
 * Request (RFC 5533 §5.6, §5.7, §5.9, §5.10), with the Keepalive Timeout option that RFC
 * 5534 §5.3 allows in the same messages.
 */
export const LOCATOR_SET_OPTIONS: readonly number[] = [
  OptionType.LocatorList,
  OptionType.LocatorPreferences,
  OptionType.CgaParameterDataStructure,
  OptionType.CgaSignature,
  OptionType.KeepaliveTimeout,
];

const U49_MAX = 2 ** 49 - 1;

export function fieldMax(kind: FieldKind): number {
  switch (kind) {
    case 'rbit': return 1;
    case 'tag47': return CONTEXT_TAG_MAX;
    case 'u16': return 0xffff;
    case 'u32': return 0xffff_ffff;
    case 'u49': return U49_MAX;
  }
}

export function readField(b: Uint8Array, off: number, kind: FieldKind): number {
  switch (kind) {
    case 'rbit': return b[off]! >>> 7;
    case 'tag47': return readTag47(b, off);
    case 'u16': return readU16(b, off);
    case 'u32': return readU32(b, off);
    case 'u49': return readU48(b, off) * 2 + (b[off + 6]! >>> 7);
  }
}

/** Writes one field; bits of shared octets that belong to other fields are preserved. */
export function writeField(b: Uint8Array, off: number, kind: FieldKind, v: number): void {
  switch (kind) {
    case 'rbit':
      b[off] = (b[off]! & 0x7f) | (v << 7);
      return;
    case 'tag47': {
      const top = b[off]! & 0x80;
      writeU48(b, off, v);
      b[off] = top | (b[off]! & 0x7f);
      return;
    }
    case 'u16':
      writeU16(b, off, v);
      return;
    case 'u32':
      writeU32(b, off, v);
      return;
    case 'u49':
      writeU48(b, off, Math.floor(v / 2));
      b[off + 6] = (b[off + 6]! & 0x7f) | ((v % 2) << 7);
      return;
  }
}

export function readFields<M extends { readonly kind: MessageKind }>(layout: FixedLayout<M>, b: Uint8Array, off: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of layout.fields) out[f.name] = readField(b, off + f.offset, f.kind);
  return out;
}

export function writeFields<M extends { readonly kind: MessageKind }>(layout: FixedLayout<M>, m: M, b: Uint8Array, off: number): void {
  for (const f of layout.fields) writeField(b, off + f.offset, f.kind, m[f.name] as number);
}

export function validateFields<M extends { readonly kind: MessageKind }>(layout: FixedLayout<M>, m: M): void {
  for (const f of layout.fields) {
    const v = m[f.name] as number;
    // Check first and build the field name only on failure: emit runs this for every message.
    if (!Number.isInteger(v) || v < 0 || v > fieldMax(f.kind)) checkRange(`${layout.kind} ${f.name}`, v, fieldMax(f.kind));
  }
}
