/**
 * The Shim6 CGA Signature (RFC 5533 §5.15.5): the signature a host places after a Locator
 * List option whose locators include CGA-verified ones, made with the private key of
 * the CGA Parameter Data Structure's public key using RSASSA-PKCS1-v1_5/SHA-1 (RFC 3972
 * §6). The signed octets are the 128-bit Shim6 CGA Message Type tag, the Locator List
 * Generation number, then the CGA locators in list order (`cgaSignedData` in src/wire;
 * README "Conformance notes" item 4 fixes the generation's encoding as 32-bit
 * big-endian).
 *
 * Which octet means CGA depends on the verification method profile (RFC 5533 §5.15.2
 * Table 4 vs §17). ECDSA P-256 and Ed25519 keys are signed and verified through the same
 * path as an experimental extension; no RFC defines them for Shim6.
 */
import { cgaSignedData } from '../wire/options/cga-signature.js';
import { verificationMethodCodes, type VerificationMethodProfile } from '../wire/verification-method.js';
import type { CryptoProvider } from './provider.js';

/** A locator as the Locator List option carries it (a 16-octet address and its method octet). */
export interface SignedLocator {
  readonly address: Uint8Array;
  readonly verificationMethod: number;
}

/**
 * The exact octets the CGA Signature covers: tag || generation (32-bit, big-endian) ||
 * each locator whose method is CGA under `profile`. Throws `WireEmitError` for a
 * generation outside 0..2^32-1 or a locator that is not 16 octets.
 */
export function locatorListSignedData(
  generation: number,
  locators: readonly SignedLocator[],
  profile: VerificationMethodProfile,
): Uint8Array {
  const cga = verificationMethodCodes(profile).CGA;
  return cgaSignedData(generation, locators, (m) => m === cga);
}

/**
 * Signs a Locator List for the CGA Signature option (RFC 5533 §5.15.5) with a PKCS#8
 * private key. Throws `CryptoError` for an unusable key, `WireEmitError` for a bad
 * generation or locator.
 */
export function signLocatorList(
  provider: CryptoProvider,
  pkcs8: Uint8Array,
  generation: number,
  locators: readonly SignedLocator[],
  profile: VerificationMethodProfile,
): Uint8Array {
  return provider.sign(pkcs8, locatorListSignedData(generation, locators, profile));
}

/**
 * Verifies a CGA Signature option against the SubjectPublicKeyInfo from the peer's CGA
 * Parameter Data Structure. Never throws: any malformed input gives `false`.
 */
export function verifyLocatorListSignature(
  provider: CryptoProvider,
  spki: Uint8Array,
  generation: number,
  locators: readonly SignedLocator[],
  signature: Uint8Array,
  profile: VerificationMethodProfile,
): boolean {
  let data: Uint8Array;
  try {
    data = locatorListSignedData(generation, locators, profile);
  } catch {
    return false;
  }
  return provider.verify(spki, data, signature);
}
