/**
 * RSASSA-PKCS1-v1_5 with SHA-1 (RFC 8017 §8.2, EMSA-PKCS1-v1_5 §9.2), the signature
 * scheme of CGA (RFC 3972 §6) and hence of the Shim6 CGA Signature option (RFC 5533
 * §5.15.5), in pure TypeScript on BigInt. Used by the noble provider; node:crypto is the
 * fast default.
 *
 * Only SHA-1 is implemented and the hash is injected: callers pass the 20-octet digest,
 * so this module imports no hash library. Signing uses the CRT (RFC 8017 §5.1.2, case
 * b.ii for u = 2) and checks its result against the public exponent before releasing it
 * (a faulty CRT half would otherwise leak a factor). Verification re-encodes EM and
 * compares all k octets (§8.2.2 step 4), never parsing the padding.
 *
 * Not constant-time: BigInt arithmetic leaks timing, and there is no blinding (no
 * randomness is injected here). Prefer the node provider for signing with long-term keys.
 */
import { bigIntToBytes, bytesToBigInt, parseSpki, type Pkcs8Key } from './der.js';
import { CryptoError, CryptoErrorCode, KeyAlgorithm } from './provider.js';

/** DigestInfo DER prefix for SHA-1 (RFC 8017 §9.2 Note 1): T = prefix || H. */
export const SHA1_DIGEST_INFO_PREFIX: Uint8Array = Uint8Array.of(
  0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
);

const SHA1_LEN = 20;

/** An RSA public key: modulus n and public exponent e (RFC 8017 §3.1). */
export interface RsaPublicKey {
  readonly n: bigint;
  readonly e: bigint;
}

/** A two-prime RSA private key in CRT form (RFC 8017 §3.2, second representation, plus n and e). */
export type RsaPrivateKey = Pkcs8Key & { readonly algorithm: typeof KeyAlgorithm.Rsa };

/** k: the length in octets of the modulus n (RFC 8017 §8.2.1). */
export function modulusLength(n: bigint): number {
  return Math.ceil(n.toString(2).length / 8);
}

/**
 * EMSA-PKCS1-v1_5-ENCODE (RFC 8017 §9.2) for a SHA-1 digest: 0x00 || 0x01 || PS || 0x00
 * || DigestInfo, PS being 0xff octets, k octets in all. Throws when k < tLen + 11.
 */
export function emsaPkcs1v15EncodeSha1(sha1Digest: Uint8Array, k: number): Uint8Array {
  if (sha1Digest.length !== SHA1_LEN) throw new CryptoError(CryptoErrorCode.BadKey, 'EMSA-PKCS1-v1_5: a SHA-1 digest is 20 octets');
  const tLen = SHA1_DIGEST_INFO_PREFIX.length + SHA1_LEN;
  if (k < tLen + 11) throw new CryptoError(CryptoErrorCode.BadKey, 'EMSA-PKCS1-v1_5: intended encoded message length too short');
  const em = new Uint8Array(k);
  em[1] = 0x01;
  em.fill(0xff, 2, k - tLen - 1);
  em.set(SHA1_DIGEST_INFO_PREFIX, k - tLen);
  em.set(sha1Digest, k - SHA1_LEN);
  return em;
}

/** x^e mod m for x in [0, m), e ≥ 0, m > 1; left-to-right with a 4-bit fixed window. */
export function modPow(x: bigint, e: bigint, m: bigint): bigint {
  const table: bigint[] = [1n, x % m];
  for (let i = 2; i < 16; i++) table.push((table[i - 1]! * table[1]!) % m);
  const hex = e.toString(16);
  let r = 1n;
  for (let i = 0; i < hex.length; i++) {
    if (i > 0) {
      r = (r * r) % m;
      r = (r * r) % m;
      r = (r * r) % m;
      r = (r * r) % m;
    }
    const w = parseInt(hex[i]!, 16);
    if (w) r = (r * table[w]!) % m;
  }
  return r;
}

/** I2OSP (RFC 8017 §4.1): `x` as exactly `len` big-endian octets; throws if it does not fit. */
export function i2osp(x: bigint, len: number): Uint8Array {
  const mag = x === 0n ? new Uint8Array(0) : bigIntToBytes(x);
  if (mag.length > len) throw new CryptoError(CryptoErrorCode.BadKey, 'I2OSP: integer too large');
  const out = new Uint8Array(len);
  out.set(mag, len - mag.length);
  return out;
}

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;

/**
 * RSASSA-PKCS1-V1_5-SIGN (RFC 8017 §8.2.1) over a SHA-1 digest: a signature of exactly
 * k octets. Throws `CryptoError` (`bad-key`) for a key whose CRT values are inconsistent.
 */
export function rsaSignSha1(key: RsaPrivateKey, sha1Digest: Uint8Array): Uint8Array {
  const k = modulusLength(key.n);
  const m = bytesToBigInt(emsaPkcs1v15EncodeSha1(sha1Digest, k));
  // RSASP1 with the CRT (§5.2.1 step 2.b): s1 = m^dP mod p, s2 = m^dQ mod q,
  // h = (s1 - s2)·qInv mod p, s = s2 + q·h.
  const { p, q, dp, dq, qInv, n, e } = key;
  if (dp <= 0n || dq <= 0n || qInv <= 0n || dp >= p || dq >= q || qInv >= p) {
    throw new CryptoError(CryptoErrorCode.BadKey, 'RSA private key: CRT values out of range');
  }
  const s1 = modPow(m % p, dp, p);
  const s2 = modPow(m % q, dq, q);
  const h = mod((s1 - s2) * qInv, p);
  const s = s2 + q * h;
  // Check s^e = m (RSAVP1) so that a wrong CRT value never releases a bad signature.
  if (modPow(s, e, n) !== m) throw new CryptoError(CryptoErrorCode.BadKey, 'RSA private key: inconsistent CRT values');
  return i2osp(s, k);
}

/**
 * RSASSA-PKCS1-V1_5-VERIFY (RFC 8017 §8.2.2) over a SHA-1 digest. The signature must be
 * exactly k octets and less than n; EM is compared in full with the expected encoding.
 * Never throws.
 */
export function rsaVerifySha1(key: RsaPublicKey, sha1Digest: Uint8Array, signature: Uint8Array): boolean {
  if (sha1Digest.length !== SHA1_LEN || key.n <= 1n || key.e <= 0n) return false;
  const k = modulusLength(key.n);
  if (signature.length !== k || k < SHA1_DIGEST_INFO_PREFIX.length + SHA1_LEN + 11) return false;
  const s = bytesToBigInt(signature);
  if (s >= key.n) return false; // §5.2.2 step 1: "signature representative out of range"
  const em = i2osp(modPow(s, key.e, key.n), k);
  const expected = emsaPkcs1v15EncodeSha1(sha1Digest, k);
  let diff = 0;
  for (let i = 0; i < k; i++) diff |= em[i]! ^ expected[i]!;
  return diff === 0;
}

/** The RSA public key of a SubjectPublicKeyInfo, or undefined when it is not a valid RSA key. */
export function rsaPublicKeyFromSpki(spki: Uint8Array): RsaPublicKey | undefined {
  const r = parseSpki(spki);
  return r.ok && r.value.algorithm === KeyAlgorithm.Rsa ? { n: r.value.n, e: r.value.e } : undefined;
}
