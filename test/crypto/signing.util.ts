/**
 * Shared fixtures for the signature tests: key pairs made once per test file with
 * node:crypto (`generateKeyPair` in src/crypto/keys.ts), the two providers, and the
 * fixed RSA vector from test/crypto/vectors (its source is stated in the file).
 */
import { readFileSync } from 'node:fs';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.js';
import { KeyAlgorithm, type CryptoProvider } from '../../src/crypto/provider.js';
import { nobleCryptoProvider } from '../../src/crypto/provider-noble.js';
import { nodeCryptoProvider } from '../../src/crypto/provider-node.js';
import { fromHex as wireFromHex, toHex } from '../../src/wire/bytes.js';

export { toHex };

export const PROVIDERS: readonly CryptoProvider[] = [nodeCryptoProvider, nobleCryptoProvider];

/** Hex to bytes; throws on bad hex (test data only). */
export function hex(s: string): Uint8Array {
  const b = wireFromHex(s);
  if (!b) throw new Error(`bad hex in test data: ${s.slice(0, 20)}...`);
  return b;
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** One key pair per algorithm (RSA at 1024 bits to keep the suites fast), created lazily. */
const cache = new Map<string, KeyPair>();
export function keyPair(algorithm: KeyAlgorithm, rsaBits: 1024 | 2048 = 1024): KeyPair {
  const id = `${algorithm}/${rsaBits}`;
  let kp = cache.get(id);
  if (!kp) {
    kp = generateKeyPair(algorithm, rsaBits);
    cache.set(id, kp);
  }
  return kp;
}

export const ALGORITHMS: readonly KeyAlgorithm[] = [KeyAlgorithm.Rsa, KeyAlgorithm.EcdsaP256, KeyAlgorithm.Ed25519];

export interface RsaVectorFile {
  readonly source: string;
  readonly pkcs8: string;
  readonly pkcs1: string;
  readonly spki: string;
  readonly vectors: readonly { readonly name: string; readonly message: string; readonly signature: string }[];
}

/** The fixed 1024-bit RSA key and its RSASSA-PKCS1-v1_5/SHA-1 signatures made by the OpenSSL CLI. */
export const RSA_OPENSSL_VECTORS: RsaVectorFile = JSON.parse(
  readFileSync(new URL('./vectors/rsa-pkcs1v15-sha1-openssl.json', import.meta.url), 'utf8'),
) as RsaVectorFile;

/** `b` with bit `i` (0 = MSB of octet 0) flipped, as a new array. */
export function flipBit(b: Uint8Array, i: number): Uint8Array {
  const out = b.slice();
  out[i >>> 3]! ^= 0x80 >>> (i & 7);
  return out;
}
