/**
 * CGA Signature option, type 5 (RFC 5533 §5.15.5), and the exact octets it signs.
 *
 * The signed octets are: the 128-bit Shim6 CGA Message Type tag, the Locator List
 * Generation number, then the locators whose verification method is CGA, in list order.
 * The RFC does not state the generation number's width or byte order; we use the same
 * 32-bit big-endian encoding the Locator List option carries it in (README,
 * "Conformance notes").
 */
import { checkRange, writeU32 } from '../bytes.js';
import { ok, WireEmitError, type Parsed } from '../result.js';

export interface CgaSignatureOption {
  readonly kind: 'CgaSignature';
  readonly critical: boolean;
  /** RSASSA-PKCS1-v1_5 signature (RFC 3972 §6 via RFC 5533 §5.15.5). */
  readonly signature: Uint8Array;
}

/** The Shim6 CGA Message Type tag, 0x4A30 5662 4858 574B 3655 416F 506A 6D48 (RFC 5533 §17). */
export const SHIM6_CGA_MESSAGE_TYPE_TAG: Uint8Array = Uint8Array.of(
  0x4a, 0x30, 0x56, 0x62, 0x48, 0x58, 0x57, 0x4b, 0x36, 0x55, 0x41, 0x6f, 0x50, 0x6a, 0x6d, 0x48,
);

export function cgaSignatureLength(o: CgaSignatureOption): number {
  return o.signature.length;
}

export function parseCgaSignature(b: Uint8Array, start: number, length: number, critical: boolean): Parsed<CgaSignatureOption> {
  return ok({ kind: 'CgaSignature', critical, signature: b.slice(start, start + length) });
}

export function emitCgaSignature(o: CgaSignatureOption, b: Uint8Array, off: number): void {
  b.set(o.signature, off);
}

/**
 * The octets covered by the CGA Signature (RFC 5533 §5.15.5): tag || generation (32-bit,
 * big-endian) || every locator whose method `isCga` accepts, in list order.
 */
export function cgaSignedData(
  generation: number,
  locators: readonly { readonly address: Uint8Array; readonly verificationMethod: number }[],
  isCga: (verificationMethod: number) => boolean,
): Uint8Array {
  checkRange('Locator List Generation', generation, 0xffff_ffff);
  const cga = locators.filter((l) => isCga(l.verificationMethod));
  const out = new Uint8Array(16 + 4 + 16 * cga.length);
  out.set(SHIM6_CGA_MESSAGE_TYPE_TAG, 0);
  writeU32(out, 16, generation);
  cga.forEach((l, i) => {
    if (l.address.length !== 16) throw new WireEmitError('field-range', 'a locator must be 16 octets');
    out.set(l.address, 20 + 16 * i);
  });
  return out;
}
