/**
 * The crypto provider interface: every hash, signature and random byte the CGA/HBA
 * code uses (RFC 3972, RFC 4581, RFC 4982, RFC 5535; RFC 5533 §5.15.5) goes through it,
 * so protocol code never imports a crypto library and tests can run every vector
 * through two independent implementations:
 *
 * - `nodeCryptoProvider` (`provider-node.ts`): node:crypto, the fast default;
 * - `nobleCryptoProvider` (`provider-noble.ts`): @noble/hashes and @noble/curves plus
 *   our own BigInt RSA, no Node APIs (portable, and an independent cross-check).
 *
 * Keys cross this interface as DER: public keys as SubjectPublicKeyInfo (the form CGA
 * Parameters carry, RFC 3972 §3, RFC 3279), private keys as PKCS#8 PrivateKeyInfo.
 * RSA signatures are RSASSA-PKCS1-v1_5 with SHA-1 (RFC 3972 §6, RFC 8017 §8.2). ECDSA
 * P-256 (SHA-256, DER-encoded signature) and Ed25519 are an experimental extension that
 * no RFC defines for CGA or Shim6.
 *
 * Randomness is not part of the provider: it is injected separately as `RandomSource`.
 */

export const KeyAlgorithm = { Rsa: 'rsa', EcdsaP256: 'ecdsa-p256', Ed25519: 'ed25519' } as const;
export type KeyAlgorithm = (typeof KeyAlgorithm)[keyof typeof KeyAlgorithm];

export interface CryptoProvider {
  /** Short name for logs and benchmark tables ('node', 'noble'). */
  readonly name: string;
  /** SHA-1 (FIPS 180-4) of `data`: 20 octets. The CGA hash for Sec 0-2 (RFC 4982 §6). */
  sha1(data: Uint8Array): Uint8Array;
  /** SHA-256 of `data`: 32 octets (ECDSA P-256 signatures, validators). */
  sha256(data: Uint8Array): Uint8Array;
  /** The algorithm of a SubjectPublicKeyInfo, or undefined when it is none of ours or malformed. */
  publicKeyAlgorithm(spki: Uint8Array): KeyAlgorithm | undefined;
  /**
   * Signs `message` with a PKCS#8 private key: RSASSA-PKCS1-v1_5/SHA-1 for RSA,
   * ECDSA/SHA-256 (DER signature) for P-256, pure Ed25519. Throws `CryptoError` for a
   * malformed key.
   */
  sign(pkcs8: Uint8Array, message: Uint8Array): Uint8Array;
  /** Verifies a signature made by `sign` against a SubjectPublicKeyInfo. Never throws: malformed input is `false`. */
  verify(spki: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** Injected randomness (STYLE.md: protocol code never calls a random source itself). */
export interface RandomSource {
  /** `n` uniformly random octets. */
  bytes(n: number): Uint8Array;
}

export const CryptoErrorCode = {
  /** A key, parameter structure or input that cannot be used. */
  BadKey: 'bad-key',
  /** A request outside what is supported (e.g. Sec 3-7 without opting in, RFC 4982 §6). */
  Unsupported: 'unsupported',
  /** A long operation was cancelled by its caller. */
  Cancelled: 'cancelled',
} as const;
export type CryptoErrorCode = (typeof CryptoErrorCode)[keyof typeof CryptoErrorCode];

/** Throws `TypeError` unless `v` is a Uint8Array: the uniform input check at provider boundaries. */
export function assertBytes(name: string, v: unknown): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
}

/** The one error class of src/crypto, with a `code`. */
export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, message: string) {
    super(message);
    this.name = 'CryptoError';
    this.code = code;
  }
}
