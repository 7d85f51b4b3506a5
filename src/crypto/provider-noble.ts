/**
 * `CryptoProvider` without Node APIs: @noble/hashes for SHA-1/SHA-256 (FIPS 180-4),
 * @noble/curves for ECDSA P-256 (SHA-256, DER signatures) and Ed25519 (RFC 8032), and
 * our BigInt `rsa.ts` for RSASSA-PKCS1-v1_5/SHA-1 (RFC 8017 §8.2, RFC 3972 §6). Portable,
 * and an independent cross-check of `nodeCryptoProvider`. It signs and verifies only;
 * key generation lives in `keys.ts` and needs node:crypto.
 *
 * Verification policy matches OpenSSL so both providers agree: ECDSA accepts high-S
 * signatures (`lowS: false`; we still produce low-S ones), Ed25519 uses the strict
 * RFC 8032 rules (`zip215: false`). `verify` never throws. RSA signing here is not
 * constant-time (see `rsa.ts`).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { privateKeyForSigning, publicKeyForVerifying, spkiAlgorithm } from './der.js';
import { assertBytes, CryptoError, CryptoErrorCode, KeyAlgorithm, type CryptoProvider } from './provider.js';
import { rsaSignSha1, rsaVerifySha1 } from './rsa.js';

export const nobleCryptoProvider: CryptoProvider = {
  name: 'noble',

  sha1(data: Uint8Array): Uint8Array {
    assertBytes('data', data);
    return sha1(data);
  },

  sha256(data: Uint8Array): Uint8Array {
    assertBytes('data', data);
    return sha256(data);
  },

  publicKeyAlgorithm: spkiAlgorithm,

  sign(pkcs8: Uint8Array, message: Uint8Array): Uint8Array {
    const key = privateKeyForSigning(pkcs8, message);
    if (key.algorithm === KeyAlgorithm.Rsa) return rsaSignSha1(key, sha1(message));
    try {
      if (key.algorithm === KeyAlgorithm.EcdsaP256) return p256.sign(message, key.d, { format: 'der', prehash: true });
      return ed25519.sign(message, key.seed);
    } catch (err) {
      throw new CryptoError(CryptoErrorCode.BadKey, `private key rejected: ${(err as Error).message}`);
    }
  },

  verify(spki: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    try {
      const pk = publicKeyForVerifying(spki, message, signature);
      if (pk === undefined) return false;
      switch (pk.algorithm) {
        case KeyAlgorithm.Rsa:
          return rsaVerifySha1(pk, sha1(message), signature);
        case KeyAlgorithm.EcdsaP256:
          return p256.verify(signature, message, pk.point, { format: 'der', prehash: true, lowS: false });
        case KeyAlgorithm.Ed25519:
          return signature.length === 64 && ed25519.verify(signature, message, pk.publicKey, { zip215: false });
      }
    } catch {
      return false;
    }
  },
};
