/**
 * CGA Parameter Data Structure option, type 4 (RFC 5533 §5.15.4). The contents are the
 * CGA Parameters of RFC 3972 §3 (with RFC 4581 extension fields, e.g. the HBA
 * Multi-Prefix extension of RFC 5535 §5); the codec carries them as bytes, and
 * `src/crypto/` interprets them.
 */
import { ok, type Parsed } from '../result.js';

export interface CgaParameterDataStructureOption {
  readonly kind: 'CgaParameterDataStructure';
  readonly critical: boolean;
  /** The CGA Parameters (RFC 3972 §3), unpadded. */
  readonly pds: Uint8Array;
}

export function cgaParameterDataStructureLength(o: CgaParameterDataStructureOption): number {
  return o.pds.length;
}

export function parseCgaParameterDataStructure(b: Uint8Array, start: number, length: number, critical: boolean): Parsed<CgaParameterDataStructureOption> {
  return ok({ kind: 'CgaParameterDataStructure', critical, pds: b.slice(start, start + length) });
}

export function emitCgaParameterDataStructure(o: CgaParameterDataStructureOption, b: Uint8Array, off: number): void {
  b.set(o.pds, off);
}
