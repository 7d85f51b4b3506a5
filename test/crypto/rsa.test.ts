/**
 * src/crypto/rsa.ts: RSASSA-PKCS1-v1_5 with SHA-1 (RFC 8017 §8.2, §9.2).
 *
 * Sources of truth: the OpenSSL 3 CLI vector file (fixed key, deterministic signatures;
 * see its "source" field), and node:crypto (OpenSSL) for freshly generated 1024- and
 * 2048-bit keys. PKCS#1 v1.5 signing is deterministic, so our signatures must equal
 * OpenSSL's byte for byte.
 */
import { createHash, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToBigInt, parsePkcs8, type Pkcs8Key } from '../../src/crypto/der.js';
import { KeyAlgorithm } from '../../src/crypto/provider.js';
import {
  emsaPkcs1v15EncodeSha1,
  i2osp,
  modPow,
  modulusLength,
  rsaPublicKeyFromSpki,
  rsaSignSha1,
  rsaVerifySha1,
  SHA1_DIGEST_INFO_PREFIX,
  type RsaPrivateKey,
} from '../../src/crypto/rsa.js';
import { hex, keyPair, RSA_OPENSSL_VECTORS, toHex, utf8 } from './signing.util.js';

const sha1 = (m: Uint8Array): Uint8Array => new Uint8Array(createHash('sha1').update(m).digest());

function rsaKey(pkcs8: Uint8Array): RsaPrivateKey {
  const r = parsePkcs8(pkcs8);
  if (!r.ok || r.value.algorithm !== KeyAlgorithm.Rsa) throw new Error('not an RSA key');
  return r.value;
}

/** Raw RSA private operation on an arbitrary EM, to build forged-looking signatures. */
function rawSign(key: Pkcs8Key & { algorithm: 'rsa' }, em: Uint8Array): Uint8Array {
  return i2osp(modPow(bytesToBigInt(em), key.d, key.n), modulusLength(key.n));
}

describe('fixed-key vector (OpenSSL 3 CLI)', () => {
  const key = rsaKey(hex(RSA_OPENSSL_VECTORS.pkcs8));
  const pub = rsaPublicKeyFromSpki(hex(RSA_OPENSSL_VECTORS.spki))!;

  it.each(RSA_OPENSSL_VECTORS.vectors)('$name', ({ message, signature }) => {
    const digest = sha1(hex(message));
    expect(toHex(rsaSignSha1(key, digest))).toBe(signature);
    expect(rsaVerifySha1(pub, digest, hex(signature))).toBe(true);
  });
});

describe('EMSA-PKCS1-v1_5 (RFC 8017 §9.2)', () => {
  it('lays out 00 01 FF..FF 00 DigestInfo(SHA-1) H', () => {
    const h = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
    const em = emsaPkcs1v15EncodeSha1(h, 128);
    expect(em.length).toBe(128);
    expect(toHex(em.subarray(0, 2))).toBe('0001');
    expect(em.subarray(2, 128 - 36).every((x) => x === 0xff)).toBe(true);
    expect(em[128 - 36]).toBe(0);
    expect(toHex(em.subarray(128 - 35, 128 - 20))).toBe('3021300906052b0e03021a05000414');
    expect(em.subarray(108)).toEqual(h);
    expect(SHA1_DIGEST_INFO_PREFIX.length).toBe(15);
  });

  it('refuses k < tLen + 11 and a digest that is not 20 octets', () => {
    expect(() => emsaPkcs1v15EncodeSha1(new Uint8Array(20), 45)).toThrow(/too short/);
    expect(emsaPkcs1v15EncodeSha1(new Uint8Array(20), 46).length).toBe(46);
    expect(() => emsaPkcs1v15EncodeSha1(new Uint8Array(32), 128)).toThrow(/20 octets/);
  });
});

describe('modPow and I2OSP', () => {
  it('agrees with the naive square-and-multiply', () => {
    const naive = (x: bigint, e: bigint, m: bigint): bigint => {
      let r = 1n;
      for (let b = x % m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
      return r % m;
    };
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 200n }), fc.bigInt({ min: 0n, max: 1n << 70n }), fc.bigInt({ min: 2n, max: 1n << 130n }), (x, e, m) => {
        expect(modPow(x % m, e, m)).toBe(naive(x, e, m));
      }),
    );
  });

  it('I2OSP pads to the length and refuses overflow', () => {
    expect(toHex(i2osp(0x0102n, 4))).toBe('00000102');
    expect(toHex(i2osp(0n, 2))).toBe('0000');
    expect(() => i2osp(0x10000n, 2)).toThrow(/too large/);
  });
});

describe.each([1024, 2048] as const)('%i-bit keys against node:crypto', (bits) => {
  const { spki, pkcs8 } = keyPair(KeyAlgorithm.Rsa, bits);
  const key = rsaKey(pkcs8);
  const pub = rsaPublicKeyFromSpki(spki)!;
  const nodePriv = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  const nodePub = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  const messages = ['', 'abc', 'a'.repeat(1000), 'Shim6 locator list'].map(utf8);

  it('node signs, rsa.ts verifies; rsa.ts signs the same octets', () => {
    for (const m of messages) {
      const sig = new Uint8Array(nodeSign('sha1', m, nodePriv));
      expect(rsaVerifySha1(pub, sha1(m), sig)).toBe(true);
      expect(rsaSignSha1(key, sha1(m))).toEqual(sig);
    }
  });

  it('rsa.ts signs, node verifies', () => {
    for (const m of messages) {
      const sig = rsaSignSha1(key, sha1(m));
      expect(sig.length).toBe(bits / 8);
      expect(nodeVerify('sha1', m, nodePub, sig)).toBe(true);
    }
  });
});

describe('constant-length output', () => {
  it('a signature whose integer has leading zero octets is still k octets and verifies', () => {
    const key = rsaKey(hex(RSA_OPENSSL_VECTORS.pkcs8));
    const pub = rsaPublicKeyFromSpki(hex(RSA_OPENSSL_VECTORS.spki))!;
    const nodePub = createPublicKey({ key: Buffer.from(hex(RSA_OPENSSL_VECTORS.spki)), format: 'der', type: 'spki' });
    // The key is fixed, so this search is deterministic; about 1 in 150 signatures starts with 0x00.
    let found = 0;
    for (let i = 0; i < 3000 && found < 2; i++) {
      const m = utf8(`leading zero ${i}`);
      const sig = rsaSignSha1(key, sha1(m));
      expect(sig.length).toBe(128);
      if (sig[0] === 0) {
        found++;
        expect(rsaVerifySha1(pub, sha1(m), sig)).toBe(true);
        expect(nodeVerify('sha1', m, nodePub, sig)).toBe(true);
        expect(rsaVerifySha1(pub, sha1(m), sig.subarray(1))).toBe(false); // stripped: wrong length
      }
    }
    expect(found).toBeGreaterThan(0);
  });
});

describe('verification checks the whole encoded message', () => {
  const key = rsaKey(hex(RSA_OPENSSL_VECTORS.pkcs8));
  const pub = { n: key.n, e: key.e };
  const m = utf8('abc');
  const h = sha1(m);
  const good = emsaPkcs1v15EncodeSha1(h, 128);

  it('accepts the exact encoding (sanity)', () => {
    expect(rsaVerifySha1(pub, h, rawSign(key, good))).toBe(true);
  });

  it.each([
    ['block type 2', (em: Uint8Array) => (em[1] = 2)],
    ['a padding octet not FF', (em: Uint8Array) => (em[50] = 0xfe)],
    ['no zero separator', (em: Uint8Array) => (em[128 - 36] = 0xff)],
    ['non-zero first octet', (em: Uint8Array) => (em[0] = 1)],
    ['wrong hash OID (MD5 arc)', (em: Uint8Array) => (em[128 - 35 + 10] = 0x05)],
    ['wrong hash', (em: Uint8Array) => (em[127]! ^= 1)],
  ])('refuses %s', (_n, mutate) => {
    const em = good.slice();
    mutate(em);
    expect(rsaVerifySha1(pub, h, rawSign(key, em))).toBe(false);
  });

  it('refuses a DigestInfo without the NULL parameters (RFC 8017 Appendix A.2.4: NULL)', () => {
    const t = hex('301f300706052b0e03021a0414');
    const em = new Uint8Array(128).fill(0xff);
    em[0] = 0;
    em[1] = 1;
    em[128 - 20 - t.length - 1] = 0;
    em.set(t, 128 - 20 - t.length);
    em.set(h, 108);
    expect(rsaVerifySha1(pub, h, rawSign(key, em))).toBe(false);
  });

  it('refuses a short-padding "garbage after the hash" encoding (Bleichenbacher 2006 style)', () => {
    // 00 01 FF*8 00 DigestInfo H garbage: right prefix, hash not at the end.
    const em = new Uint8Array(128);
    em.set([0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0], 0);
    em.set(SHA1_DIGEST_INFO_PREFIX, 11);
    em.set(h, 26);
    em.fill(0x42, 46);
    expect(rsaVerifySha1(pub, h, rawSign(key, em))).toBe(false);
  });
});

describe('malformed input is rejected without throwing', () => {
  const key = rsaKey(hex(RSA_OPENSSL_VECTORS.pkcs8));
  const pub = { n: key.n, e: key.e };
  const h = sha1(utf8('abc'));
  const sig = hex(RSA_OPENSSL_VECTORS.vectors[0]!.signature);

  it.each([
    ['one octet short', sig.subarray(1)],
    ['one octet long', new Uint8Array([0, ...sig])],
    ['empty', new Uint8Array(0)],
    ['all zero', new Uint8Array(128)],
    ['equal to n', i2osp(key.n, 128)],
    ['all FF (> n)', new Uint8Array(128).fill(0xff)],
  ])('signature %s', (_n, s) => {
    expect(rsaVerifySha1(pub, h, s)).toBe(false);
  });

  it('digest of the wrong length, degenerate keys', () => {
    expect(rsaVerifySha1(pub, h.subarray(1), sig)).toBe(false);
    expect(rsaVerifySha1({ n: 1n, e: 3n }, h, sig)).toBe(false);
    expect(rsaVerifySha1({ n: key.n, e: 0n }, h, sig)).toBe(false);
    expect(rsaVerifySha1({ n: 0xffffn, e: 3n }, h, new Uint8Array(2))).toBe(false);
  });

  it('random signatures', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 260 }), (s) => {
        expect(rsaVerifySha1(pub, h, s)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('rsaPublicKeyFromSpki on non-RSA or broken keys', () => {
    expect(rsaPublicKeyFromSpki(keyPair(KeyAlgorithm.Ed25519).spki)).toBeUndefined();
    expect(rsaPublicKeyFromSpki(hex(RSA_OPENSSL_VECTORS.spki).subarray(1))).toBeUndefined();
  });

  it('signing with inconsistent CRT values throws a CryptoError instead of releasing a bad signature', () => {
    expect(() => rsaSignSha1({ ...key, dp: key.dp ^ 2n }, h)).toThrow(expect.objectContaining({ name: 'CryptoError', code: 'bad-key' }));
    expect(() => rsaSignSha1({ ...key, qInv: 0n }, h)).toThrow(/CRT/);
  });
});
