/**
 * Both `CryptoProvider`s (src/crypto/provider-node.ts, provider-noble.ts) against the
 * same checks: FIPS 180-4 hash vectors, signatures that cross between providers for
 * RSA, P-256 and Ed25519, every single-bit corruption rejected, and `verify` total on
 * arbitrary input.
 *
 * Hash vectors: FIPS 180-2 Appendix A/B ("abc", the 448-bit "abcdbcde...nopq" message,
 * one million 'a'), as restated in the NIST CSRC example documents for FIPS 180-4.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeSequence, encodeUnsignedInteger, readBigInt, readDer, readSequence } from '../../src/crypto/der.js';
import { CryptoError, KeyAlgorithm, type CryptoProvider } from '../../src/crypto/provider.js';
import { ALGORITHMS, flipBit, hex, keyPair, PROVIDERS, RSA_OPENSSL_VECTORS, toHex, utf8 } from './signing.util.js';

const MSG_448 = 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq';

const HASH_VECTORS = [
  {
    name: '"abc"',
    input: utf8('abc'),
    sha1: 'a9993e364706816aba3e25717850c26c9cd0d89d',
    sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  },
  {
    name: 'the 448-bit message',
    input: utf8(MSG_448),
    sha1: '84983e441c3bd26ebaae4aa1f95129e5e54670f1',
    sha256: '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  },
  {
    name: 'one million "a"',
    input: new Uint8Array(1_000_000).fill(0x61),
    sha1: '34aa973cd4c4daa4f61eeb2bdbad27316534016f',
    sha256: 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
  },
];

/** P-256 group order n (SEC 2 §2.4.2 / FIPS 186-4 D.1.2.3). */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

describe.each(PROVIDERS)('$name provider', (provider: CryptoProvider) => {
  describe('hashes (FIPS 180-4)', () => {
    it.each(HASH_VECTORS)('$name', ({ input, sha1, sha256 }) => {
      expect(toHex(provider.sha1(input))).toBe(sha1);
      expect(toHex(provider.sha256(input))).toBe(sha256);
    });

    it('empty input', () => {
      expect(toHex(provider.sha1(new Uint8Array(0)))).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
      expect(toHex(provider.sha256(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    });

    it('returns plain Uint8Arrays of the right length', () => {
      const d = provider.sha1(utf8('x'));
      expect(d.constructor).toBe(Uint8Array);
      expect(d.length).toBe(20);
      expect(provider.sha256(utf8('x')).length).toBe(32);
    });
  });

  it.each(ALGORITHMS)('publicKeyAlgorithm recognises %s', (alg) => {
    expect(provider.publicKeyAlgorithm(keyPair(alg).spki)).toBe(alg);
    expect(provider.publicKeyAlgorithm(keyPair(alg).pkcs8)).toBeUndefined();
    expect(provider.publicKeyAlgorithm(new Uint8Array(0))).toBeUndefined();
  });

  it('signs the OpenSSL CLI RSA vector byte for byte', () => {
    for (const v of RSA_OPENSSL_VECTORS.vectors) {
      expect(toHex(provider.sign(hex(RSA_OPENSSL_VECTORS.pkcs8), hex(v.message)))).toBe(v.signature);
      expect(provider.verify(hex(RSA_OPENSSL_VECTORS.spki), hex(v.message), hex(v.signature))).toBe(true);
    }
  });

  describe.each(PROVIDERS)('signatures verified by $name', (verifier: CryptoProvider) => {
    it.each(ALGORITHMS)('%s', (alg) => {
      const { spki, pkcs8 } = keyPair(alg);
      for (const m of [new Uint8Array(0), utf8('abc'), new Uint8Array(3000).fill(7)]) {
        const sig = provider.sign(pkcs8, m);
        expect(verifier.verify(spki, m, sig)).toBe(true);
        expect(verifier.verify(spki, utf8('other'), sig)).toBe(false);
        // A signature does not verify under another key of the same algorithm.
        expect(verifier.verify(keyPair(alg, 2048).spki, m, sig)).toBe(false);
      }
    });
  });

  it('RSA 2048 signatures are 256 octets; ECDSA signatures are DER; Ed25519 are 64 octets', () => {
    const m = utf8('len');
    expect(provider.sign(keyPair(KeyAlgorithm.Rsa, 2048).pkcs8, m).length).toBe(256);
    expect(provider.sign(keyPair(KeyAlgorithm.Rsa).pkcs8, m).length).toBe(128);
    const ec = provider.sign(keyPair(KeyAlgorithm.EcdsaP256).pkcs8, m);
    expect(readSequence(readDer(ec))?.length).toBe(2);
    expect(provider.sign(keyPair(KeyAlgorithm.Ed25519).pkcs8, m).length).toBe(64);
  });

  it('accepts high-S ECDSA signatures (as OpenSSL does)', () => {
    const { spki, pkcs8 } = keyPair(KeyAlgorithm.EcdsaP256);
    const m = utf8('malleable');
    const seq = readSequence(readDer(provider.sign(pkcs8, m)))!;
    const r = readBigInt(seq[0])!;
    const s = readBigInt(seq[1])!;
    const flipped = encodeSequence(encodeUnsignedInteger(r), encodeUnsignedInteger(P256_N - s));
    for (const v of PROVIDERS) expect(v.verify(spki, m, flipped)).toBe(true);
  });

  describe.each(ALGORITHMS)('every single-bit flip fails verification (%s)', (alg) => {
    const { spki, pkcs8 } = keyPair(alg);
    const m = utf8('Shim6 bit flips!');
    const sig = provider.sign(pkcs8, m);

    it('in the message', () => {
      for (let i = 0; i < m.length * 8; i++) expect(provider.verify(spki, flipBit(m, i), sig)).toBe(false);
    });
    it('in the signature', () => {
      for (let i = 0; i < sig.length * 8; i++) expect(provider.verify(spki, m, flipBit(sig, i))).toBe(false);
    });
    it('in the public key', () => {
      for (let i = 0; i < spki.length * 8; i++) expect(provider.verify(flipBit(spki, i), m, sig)).toBe(false);
    });
  });

  describe('verify never throws', () => {
    it('on random key, message and signature', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 300 }), (k, m, s) => {
          expect(provider.verify(k, m, s)).toBe(false);
        }),
        { numRuns: 500 },
      );
    });

    it.each(ALGORITHMS)('on random signatures under a valid %s key', (alg) => {
      const { spki } = keyPair(alg);
      const lengths = { rsa: 128, 'ecdsa-p256': 72, ed25519: 64 } as const;
      fc.assert(
        fc.property(
          fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: lengths[alg], maxLength: lengths[alg] })),
          fc.uint8Array({ maxLength: 64 }),
          (s, m) => {
            expect(provider.verify(spki, m, s)).toBe(false);
          },
        ),
        { numRuns: 200 },
      );
    });

    it('on non-Uint8Array arguments', () => {
      const bad = [undefined, null, 'abc', 42, [1, 2, 3], {}] as unknown as Uint8Array[];
      const { spki } = keyPair(KeyAlgorithm.Ed25519);
      for (const x of bad) {
        expect(provider.verify(x, utf8('m'), new Uint8Array(64))).toBe(false);
        expect(provider.verify(spki, x, new Uint8Array(64))).toBe(false);
        expect(provider.verify(spki, utf8('m'), x)).toBe(false);
        expect(provider.publicKeyAlgorithm(x)).toBeUndefined();
      }
    });
  });

  describe('sign rejects unusable keys with CryptoError', () => {
    it.each([
      ['empty', new Uint8Array(0)],
      ['an SPKI', keyPair(KeyAlgorithm.Rsa).spki],
      ['random bytes', Uint8Array.from({ length: 100 }, (_, i) => (i * 37) & 0xff)],
      ['a truncated PKCS#8', keyPair(KeyAlgorithm.EcdsaP256).pkcs8.subarray(0, 40)],
    ])('%s', (_n, k) => {
      expect(() => provider.sign(k, utf8('m'))).toThrow(CryptoError);
    });

    it('non-Uint8Array input is a TypeError', () => {
      expect(() => provider.sign('key' as unknown as Uint8Array, utf8('m'))).toThrow(TypeError);
      expect(() => provider.sha1('abc' as unknown as Uint8Array)).toThrow(TypeError);
    });
  });
});

describe('the two providers agree', () => {
  it('deterministic schemes (RSA PKCS#1 v1.5, Ed25519) give identical signatures', () => {
    for (const alg of [KeyAlgorithm.Rsa, KeyAlgorithm.Ed25519]) {
      const { pkcs8 } = keyPair(alg);
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 100 }), (m) => {
          expect(PROVIDERS[1]!.sign(pkcs8, m)).toEqual(PROVIDERS[0]!.sign(pkcs8, m));
        }),
        { numRuns: 30 },
      );
    }
  });

  it('hashes agree on arbitrary input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (m) => {
        expect(PROVIDERS[1]!.sha1(m)).toEqual(PROVIDERS[0]!.sha1(m));
        expect(PROVIDERS[1]!.sha256(m)).toEqual(PROVIDERS[0]!.sha256(m));
      }),
    );
  });
});
