/**
 * Big-endian field access over `Uint8Array` for the wire codecs. Callers check lengths
 * first; after that no accessor can fail (smoltcp's checked-view idea). The 47-bit
 * context tag (RFC 5533 §5.2) is a plain `number`: 2^47 is well inside 2^53.
 */
import { CONTEXT_TAG_MAX } from './constants.js';
import { WireEmitError } from './result.js';

export function readU16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

export function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 8;
  b[off + 1] = v;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = v >>> 16;
  b[off + 2] = v >>> 8;
  b[off + 3] = v;
}

/** Unsigned 48-bit big-endian integer at `off`. */
export function readU48(b: Uint8Array, off: number): number {
  return readU16(b, off) * 0x1_0000_0000 + readU32(b, off + 2);
}

/** Writes a 48-bit big-endian integer; `v` must be in [0, 2^48). */
export function writeU48(b: Uint8Array, off: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  writeU16(b, off, hi);
  writeU32(b, off + 2, v - hi * 0x1_0000_0000);
}

/** The 47-bit context tag in the low bits of the 6 octets at `off` (the top bit is a reserved R bit). */
export function readTag47(b: Uint8Array, off: number): number {
  return (b[off]! & 0x7f) * 0x100_0000_0000 + b[off + 1]! * 0x1_0000_0000 + readU32(b, off + 2);
}

/** Writes a 47-bit tag into the 6 octets at `off`, keeping the top (R) bit as `rBit`. */
export function writeTag47(b: Uint8Array, off: number, tag: number, rBit: number): void {
  const hi = Math.floor(tag / 0x1_0000_0000);
  b[off] = (rBit << 7) | (hi >>> 8);
  b[off + 1] = hi;
  writeU32(b, off + 2, tag - hi * 0x1_0000_0000);
}

export function isContextTag(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= CONTEXT_TAG_MAX;
}

/** Throws `WireEmitError` unless `v` is an integer in [0, max]. */
export function checkRange(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new WireEmitError('field-range', `${name} must be an integer in 0..${max}, got ${v}`);
  }
}

/** Adds the 16-bit big-endian words of b[start, end) to a running, unfolded one's complement sum. */
export function sumWords(b: Uint8Array, start: number, end: number, sum: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < end) sum += b[i]! << 8;
  return sum;
}

/** Folds a sum from `sumWords` to 16 bits and complements it: the Internet checksum. */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** One's complement of the one's complement sum of 16-bit words (RFC 5533 §5.3: no pseudo-header). */
export function internetChecksum(b: Uint8Array, start: number, end: number): number {
  return foldChecksum(sumWords(b, start, end, 0));
}

/** True when every byte in [start, end) is zero. */
export function allZero(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

const HEX = '0123456789abcdef';

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]! >>> 4]! + HEX[b[i]! & 15]!;
  return s;
}

/** Parses hex (whitespace, colons and a leading 0x ignored); undefined when not valid hex. */
export function fromHex(text: string): Uint8Array | undefined {
  const s = text.replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return undefined;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
