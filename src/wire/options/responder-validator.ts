/**
 * Responder Validator option, type 1 (RFC 5533 §5.15.1). The contents are opaque to
 * everyone but the responder that made them (§7.10.1, §7.17.1).
 */
import { ok, type Parsed } from '../result.js';

export interface ResponderValidatorOption {
  readonly kind: 'ResponderValidator';
  readonly critical: boolean;
  /** Variable-length content whose interpretation is local to the responder. */
  readonly validator: Uint8Array;
}

export function responderValidatorLength(o: ResponderValidatorOption): number {
  return o.validator.length;
}

export function parseResponderValidator(b: Uint8Array, start: number, length: number, critical: boolean): Parsed<ResponderValidatorOption> {
  return ok({ kind: 'ResponderValidator', critical, validator: b.slice(start, start + length) });
}

export function emitResponderValidator(o: ResponderValidatorOption, b: Uint8Array, off: number): void {
  b.set(o.validator, off);
}
