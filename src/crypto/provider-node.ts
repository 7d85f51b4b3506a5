/**
 * `CryptoProvider` on node:crypto (OpenSSL): the fast default. SHA-1/SHA-256 are FIPS
 * 180-4; RSA is RSASSA-PKCS1-v1_5 with SHA-1 (RFC 8017 §8.2, as RFC 3972 §6 requires);
 * ECDSA P-256 uses SHA-256 and DER signatures; Ed25519 is pure RFC 8032 (experimental
 * options, no RFC defines them for CGA or Shim6).
 *
 * Keys are first checked by our own strict DER parser (`der.ts`) so that this provider
 * and the noble one accept exactly the same keys (OpenSSL alone would also take, e.g.,
 * P-384, RSA-PSS keys or hybrid EC point encodings). `verify` never throws.
 */
import { createPrivateKey, createPublicKey, hash, sign, verify, type KeyObject } from 'node:crypto';
import { privateKeyForSigning, publicKeyForVerifying, spkiAlgorithm } from './der.js';
import { assertBytes, CryptoError, CryptoErrorCode, KeyAlgorithm, type CryptoProvider } from './provider.js';

/** A Buffer view of `b` without copying (node:crypto's key inputs are typed as Buffer). */
function view(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * One-shot `crypto.hash` (Node >= 20.12): 1.6-1.8x faster than a createHash object per
 * call, which matters because the JavaScript modifier search hashes once per candidate.
 * The digest owns its ArrayBuffer, so a plain view needs no copy.
 */
function digest(algorithm: 'sha1' | 'sha256', data: Uint8Array): Uint8Array {
  const d = hash(algorithm, data, 'buffer');
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/**
 * Parsed private keys, by the identity of the caller's PKCS#8 array: a host signs every
 * locator list with the same key, and parsing it (our DER check plus OpenSSL's) costs more
 * than an RSA-1024 signature. The entry keeps a copy of the bytes and is used only while
 * they still match, so a caller that reuses an array for another key gets that key.
 */
const privateKeys = new WeakMap<Uint8Array, { readonly der: Uint8Array; readonly key: KeyObject; readonly alg: KeyAlgorithm }>();

function parsedPrivateKey(pkcs8: Uint8Array, message: Uint8Array): { readonly key: KeyObject; readonly alg: KeyAlgorithm } {
  const hit = privateKeys.get(pkcs8);
  if (hit !== undefined && hit.der.length === pkcs8.length && hit.der.every((b, i) => b === pkcs8[i])) return hit;
  const alg = privateKeyForSigning(pkcs8, message).algorithm;
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: view(pkcs8), format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new CryptoError(CryptoErrorCode.BadKey, `private key rejected by node:crypto: ${(err as Error).message}`);
  }
  const entry = { der: pkcs8.slice(), key, alg };
  privateKeys.set(pkcs8, entry);
  return entry;
}

/** node:crypto's digest name for each algorithm (null: Ed25519 hashes internally). */
const DIGEST = { rsa: 'sha1', 'ecdsa-p256': 'sha256', ed25519: null } as const satisfies Record<KeyAlgorithm, string | null>;

export const nodeCryptoProvider: CryptoProvider = {
  name: 'node',

  sha1(data: Uint8Array): Uint8Array {
    assertBytes('data', data);
    return digest('sha1', data);
  },

  sha256(data: Uint8Array): Uint8Array {
    assertBytes('data', data);
    return digest('sha256', data);
  },

  publicKeyAlgorithm: spkiAlgorithm,

  sign(pkcs8: Uint8Array, message: Uint8Array): Uint8Array {
    assertBytes('message', message);
    const { key, alg } = parsedPrivateKey(pkcs8, message);
    let sig: Buffer;
    try {
      sig = sign(DIGEST[alg], message, alg === KeyAlgorithm.EcdsaP256 ? { key, dsaEncoding: 'der' } : key);
    } catch (err) {
      throw new CryptoError(CryptoErrorCode.BadKey, `signing failed in node:crypto: ${(err as Error).message}`);
    }
    return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
  },

  verify(spki: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    try {
      const pk = publicKeyForVerifying(spki, message, signature);
      if (pk === undefined) return false;
      // RFC 8017 §8.2.2 step 1: the signature is exactly k octets.
      if (pk.algorithm === KeyAlgorithm.Rsa && signature.length !== pk.modulusBytes) return false;
      const key = createPublicKey({ key: view(spki), format: 'der', type: 'spki' });
      return verify(
        DIGEST[pk.algorithm],
        message,
        pk.algorithm === KeyAlgorithm.EcdsaP256 ? { key, dsaEncoding: 'der' } : key,
        signature,
      );
    } catch {
      return false;
    }
  },
};
