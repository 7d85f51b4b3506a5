/** ULID Pair option, type 6 (RFC 5533 §5.15.6): Length is always 36. */
import { readAddress } from '../address.js';
import { readU32, writeU32 } from '../bytes.js';
import { fail, ok, type Parsed } from '../result.js';

export interface UlidPairOption {
  readonly kind: 'UlidPair';
  readonly critical: boolean;
  /** 32-bit reserved field: zero on transmit, ignored on receipt (kept for lossless re-emit). */
  readonly reserved2: number;
  readonly senderUlid: Uint8Array;
  readonly receiverUlid: Uint8Array;
}

export const ULID_PAIR_LENGTH = 36;

export function ulidPairLength(): number {
  return ULID_PAIR_LENGTH;
}

export function parseUlidPair(b: Uint8Array, start: number, length: number, critical: boolean): Parsed<UlidPairOption> {
  if (length !== ULID_PAIR_LENGTH) return fail('bad-option-length', start - 2, `ULID Pair option Length must be 36, got ${length}`);
  return ok({
    kind: 'UlidPair',
    critical,
    reserved2: readU32(b, start),
    senderUlid: readAddress(b, start + 4),
    receiverUlid: readAddress(b, start + 20),
  });
}

export function emitUlidPair(o: UlidPairOption, b: Uint8Array, off: number): void {
  writeU32(b, off, o.reserved2);
  b.set(o.senderUlid, off + 4);
  b.set(o.receiverUlid, off + 20);
}
