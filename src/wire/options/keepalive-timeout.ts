/** Keepalive Timeout option, type 10 (RFC 5534 §5.3): Length is always 4. */
import { readU16, writeU16 } from '../bytes.js';
import { fail, ok, type Parsed } from '../result.js';

export interface KeepaliveTimeoutOption {
  readonly kind: 'KeepaliveTimeout';
  readonly critical: boolean;
  /** 16-bit reserved field: zero on transmit, ignored on receipt (kept for lossless re-emit). */
  readonly reserved: number;
  /** The Keepalive Timeout the sender suggests to the peer, in seconds. */
  readonly keepaliveTimeoutSeconds: number;
}

export function keepaliveTimeoutLength(): number {
  return 4;
}

export function parseKeepaliveTimeout(b: Uint8Array, start: number, length: number, critical: boolean): Parsed<KeepaliveTimeoutOption> {
  if (length !== 4) return fail('bad-option-length', start - 2, `Keepalive Timeout option Length must be 4, got ${length}`);
  return ok({ kind: 'KeepaliveTimeout', critical, reserved: readU16(b, start), keepaliveTimeoutSeconds: readU16(b, start + 2) });
}

export function emitKeepaliveTimeout(o: KeepaliveTimeoutOption, b: Uint8Array, off: number): void {
  writeU16(b, off, o.reserved);
  writeU16(b, off + 2, o.keepaliveTimeoutSeconds);
}
