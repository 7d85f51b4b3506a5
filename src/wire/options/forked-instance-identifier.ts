/** Forked Instance Identifier option, type 7 (RFC 5533 §5.15.7): Length is always 4. */
import { readU32, writeU32 } from '../bytes.js';
import { fail, ok, type Parsed } from '../result.js';

export interface ForkedInstanceIdentifierOption {
  readonly kind: 'ForkedInstanceIdentifier';
  readonly critical: boolean;
  /** 32-bit identifier of the forked instance (RFC 5533 §4.2). */
  readonly forkedInstanceId: number;
}

export function forkedInstanceIdentifierLength(): number {
  return 4;
}

export function parseForkedInstanceIdentifier(b: Uint8Array, start: number, length: number, critical: boolean): Parsed<ForkedInstanceIdentifierOption> {
  if (length !== 4) return fail('bad-option-length', start - 2, `Forked Instance Identifier option Length must be 4, got ${length}`);
  return ok({ kind: 'ForkedInstanceIdentifier', critical, forkedInstanceId: readU32(b, start) });
}

export function emitForkedInstanceIdentifier(o: ForkedInstanceIdentifierOption, b: Uint8Array, off: number): void {
  writeU32(b, off, o.forkedInstanceId);
}
