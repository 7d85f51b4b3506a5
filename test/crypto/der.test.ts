/**
 * src/crypto/der.ts: strict DER (X.690 §10) primitives and the SPKI / PKCS#8 parsers.
 * Keys come from node:crypto (OpenSSL) and from the OpenSSL-CLI vector file; n and e are
 * cross-checked against node's JWK export, an independent decoder.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bigIntToBytes,
  bytesToBigInt,
  encodeBitString,
  encodeEcP256Spki,
  encodeEd25519Spki,
  encodeNull,
  encodeOid,
  encodeRsaSpki,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
  Oid,
  parsePkcs8,
  parseRsaPrivateKey,
  parseSpki,
  readBigInt,
  readBitString,
  readChildren,
  readDer,
  readNull,
  readOid,
  readSmallInt,
  readUnsignedInteger,
  wrapRsaPkcs1InPkcs8,
} from '../../src/crypto/der.js';
import { KeyAlgorithm } from '../../src/crypto/provider.js';
import { ALGORITHMS, flipBit, hex, keyPair, RSA_OPENSSL_VECTORS, toHex } from './signing.util.js';

const b64urlToBigInt = (s: string): bigint => bytesToBigInt(new Uint8Array(Buffer.from(s, 'base64url')));

describe('TLV framing', () => {
  it('reads short and long definite lengths', () => {
    expect(readDer(hex('0403aabbcc'))).toEqual({ tag: 4, content: hex('aabbcc') });
    const long = new Uint8Array(3 + 200);
    long.set([0x04, 0x81, 200]);
    expect(readDer(long)?.content.length).toBe(200);
    const longer = new Uint8Array(4 + 300);
    longer.set([0x04, 0x82, 0x01, 0x2c]);
    expect(readDer(longer)?.content.length).toBe(300);
  });

  it.each([
    ['indefinite length', '0480aabb0000'],
    ['long form for a short length', '048103aabbcc'],
    ['leading zero length octet', '04820003aabbcc'],
    ['length past the end', '0404aabbcc'],
    ['high tag number form', '1f0100'],
    ['trailing data', '0401aa00'],
    ['only a tag', '04'],
    ['empty', ''],
  ])('rejects %s', (_name, h) => {
    expect(readDer(hex(h))).toBeUndefined();
  });

  it('writes minimal lengths', () => {
    expect(toHex(encodeTlv(4, new Uint8Array(127))).slice(0, 4)).toBe('047f');
    expect(toHex(encodeTlv(4, new Uint8Array(128))).slice(0, 6)).toBe('048180');
    expect(toHex(encodeTlv(4, new Uint8Array(256))).slice(0, 8)).toBe('04820100');
  });

  it('round-trips arbitrary TLV sequences', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(2, 3, 4, 5, 6, 0x30, 0xa0, 0x81), fc.uint8Array({ maxLength: 300 }))), (items) => {
        const seq = readDer(encodeSequence(...items.map(([t, c]) => encodeTlv(t, c))));
        const children = seq && readChildren(seq.content);
        expect(children?.map((n) => [n.tag, n.content])).toEqual(items);
      }),
    );
  });
});

describe('INTEGER', () => {
  it.each([
    ['0', '020100', 0n],
    ['127', '02017f', 127n],
    ['128 needs a sign octet', '02020080', 128n],
    ['256', '02020100', 256n],
  ])('encodes %s', (_n, h, v) => {
    expect(toHex(encodeUnsignedInteger(v))).toBe(h);
    expect(readBigInt(readDer(hex(h)))).toBe(v);
  });

  it.each([
    ['empty', '0200'],
    ['negative', '0201ff'],
    ['non-minimal zero pad', '0202007f'],
    ['non-minimal sign extension', '0202ff80'],
    ['wrong tag', '0401 01'],
  ])('rejects %s', (_n, h) => {
    expect(readUnsignedInteger(readDer(hex(h)))).toBeUndefined();
  });

  it('refuses to encode negative values', () => {
    expect(() => encodeUnsignedInteger(-1n)).toThrow(/non-negative/);
    expect(() => encodeUnsignedInteger(1.5)).toThrow(/non-negative/);
  });

  it('round-trips arbitrary non-negative bigints', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 4100n) - 1n }), (v) => {
        expect(readBigInt(readDer(encodeUnsignedInteger(v)))).toBe(v);
        expect(bytesToBigInt(bigIntToBytes(v))).toBe(v);
      }),
    );
  });

  it('reads small integers', () => {
    expect(readSmallInt(readDer(hex('020101')))).toBe(1);
    expect(readSmallInt(readDer(hex('02050100000000')))).toBeUndefined();
  });
});

describe('OBJECT IDENTIFIER, BIT STRING, NULL', () => {
  // Encodings derived by hand from X.690 §8.19 (first two arcs 40·a+b, base-128 arcs).
  it.each([
    [Oid.RsaEncryption, '06092a864886f70d010101'],
    [Oid.EcPublicKey, '06072a8648ce3d0201'],
    [Oid.Prime256v1, '06082a8648ce3d030107'],
    [Oid.Ed25519, '06032b6570'],
    ['2.999.3', '0603883703'],
  ])('%s', (oid, h) => {
    expect(toHex(encodeOid(oid))).toBe(h);
    expect(readOid(readDer(hex(h)))).toBe(oid);
  });

  it('rejects non-minimal or truncated arcs', () => {
    expect(readOid(readDer(hex('06032b8065')))).toBeUndefined(); // an arc may not start with 0x80
    expect(readOid(readDer(hex('06022b86')))).toBeUndefined(); // continuation at the end
    expect(readOid(readDer(hex('0600')))).toBeUndefined();
  });

  it('refuses bad dotted OIDs', () => {
    for (const s of ['1', '3.1', '1.40', '1.2.x', '1..2', '01.2']) expect(() => encodeOid(s)).toThrow(/OBJECT IDENTIFIER/);
  });

  it('round-trips arbitrary OIDs', () => {
    const oid = fc
      .tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.integer({ min: 0, max: 2 ** 40 })))
      .map(([a, b, rest]) => [a, b, ...rest].join('.'));
    fc.assert(
      fc.property(oid, (s) => {
        expect(readOid(readDer(encodeOid(s)))).toBe(s);
      }),
    );
  });

  it('BIT STRING must have 0 unused bits', () => {
    expect(readBitString(readDer(hex('030200ff')))).toEqual(hex('ff'));
    expect(readBitString(readDer(hex('030201fe')))).toBeUndefined();
    expect(readBitString(readDer(hex('0300')))).toBeUndefined();
    expect(toHex(encodeBitString(hex('ab')))).toBe('030200ab');
  });

  it('NULL is empty', () => {
    expect(readNull(readDer(encodeNull()))).toBe(true);
    expect(readNull(readDer(hex('050100')))).toBe(false);
  });
});

describe('SubjectPublicKeyInfo', () => {
  it.each(ALGORITHMS)('parses a node:crypto %s key', (alg) => {
    const { spki } = keyPair(alg);
    const r = parseSpki(spki);
    expect(r.ok && r.value.algorithm).toBe(alg);
    const jwk = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({ format: 'jwk' });
    if (!r.ok) return;
    const v = r.value;
    if (v.algorithm === 'rsa') {
      expect(v.n).toBe(b64urlToBigInt(jwk.n!));
      expect(v.e).toBe(b64urlToBigInt(jwk.e!));
      expect(encodeRsaSpki(v.n, v.e)).toEqual(spki);
      expect(v.modulusBytes).toBe(128);
    } else if (v.algorithm === 'ecdsa-p256') {
      expect(v.point).toEqual(new Uint8Array([4, ...Buffer.from(jwk.x!, 'base64url'), ...Buffer.from(jwk.y!, 'base64url')]));
      expect(encodeEcP256Spki(v.point)).toEqual(spki);
    } else {
      expect(v.publicKey).toEqual(new Uint8Array(Buffer.from(jwk.x!, 'base64url')));
      expect(encodeEd25519Spki(v.publicKey)).toEqual(spki);
    }
  });

  it('encodeRsaSpki matches the OpenSSL CLI key byte for byte', () => {
    const spki = hex(RSA_OPENSSL_VECTORS.spki);
    const r = parseSpki(spki);
    if (!r.ok || r.value.algorithm !== 'rsa') throw new Error('vector key did not parse');
    expect(toHex(encodeRsaSpki(r.value.n, r.value.e))).toBe(RSA_OPENSSL_VECTORS.spki);
  });

  it('rejects keys of other algorithms and curves', () => {
    const pub = { type: 'spki', format: 'der' } as const;
    const priv = { type: 'pkcs8', format: 'der' } as const;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384', publicKeyEncoding: pub, privateKeyEncoding: priv });
    const ed448 = generateKeyPairSync('ed448', { publicKeyEncoding: pub, privateKeyEncoding: priv });
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 1024, publicKeyEncoding: pub, privateKeyEncoding: priv });
    for (const k of [p384, ed448, pss]) {
      expect(parseSpki(new Uint8Array(k.publicKey))).toEqual({ ok: false, reason: 'unsupported-algorithm' });
      expect(parsePkcs8(new Uint8Array(k.privateKey))).toEqual({ ok: false, reason: 'unsupported-algorithm' });
    }
  });

  it('is strict about parameters, point forms and RSA sizes', () => {
    const { n, e } = (() => {
      const r = parseSpki(keyPair(KeyAlgorithm.Rsa).spki);
      if (!r.ok || r.value.algorithm !== 'rsa') throw new Error('no rsa');
      return r.value;
    })();
    const rsaBody = encodeBitString(encodeSequence(encodeUnsignedInteger(n), encodeUnsignedInteger(e)));
    // RFC 3279 §2.3.1: parameters MUST be NULL (absent is refused).
    expect(parseSpki(encodeSequence(encodeSequence(encodeOid(Oid.RsaEncryption)), rsaBody)).ok).toBe(false);
    // Modulus too small, even modulus, even exponent.
    expect(parseSpki(encodeRsaSpki((1n << 300n) + 1n, 65537n))).toEqual({ ok: false, reason: 'bad-key' });
    expect(parseSpki(encodeRsaSpki(n + 1n, e))).toEqual({ ok: false, reason: 'bad-key' });
    expect(parseSpki(encodeRsaSpki(n, 65536n))).toEqual({ ok: false, reason: 'bad-key' });
    // Hybrid EC point form (0x06/0x07) and a wrong length.
    const { spki: ecSpki } = keyPair(KeyAlgorithm.EcdsaP256);
    const ec = parseSpki(ecSpki);
    if (!ec.ok || ec.value.algorithm !== 'ecdsa-p256') throw new Error('no ec');
    const hybrid = ec.value.point.slice();
    hybrid[0] = 6 | (hybrid[64]! & 1);
    const ecAlg = encodeSequence(encodeOid(Oid.EcPublicKey), encodeOid(Oid.Prime256v1));
    expect(parseSpki(encodeSequence(ecAlg, encodeBitString(hybrid)))).toEqual({ ok: false, reason: 'bad-key' });
    expect(parseSpki(encodeSequence(ecAlg, encodeBitString(ec.value.point.subarray(0, 64))))).toEqual({ ok: false, reason: 'bad-key' });
    // RFC 8410 §3: Ed25519 parameters MUST be absent.
    expect(parseSpki(encodeSequence(encodeSequence(encodeOid(Oid.Ed25519), encodeNull()), encodeBitString(new Uint8Array(32)))).ok).toBe(false);
  });

  it.each(ALGORITHMS)('every truncation of a %s SPKI is refused', (alg) => {
    const { spki } = keyPair(alg);
    for (let len = 0; len < spki.length; len++) expect(parseSpki(spki.subarray(0, len)).ok).toBe(false);
  });
});

describe('PKCS#8', () => {
  it.each(ALGORITHMS)('parses a node:crypto %s key', (alg) => {
    const { pkcs8 } = keyPair(alg);
    const r = parsePkcs8(pkcs8);
    expect(r.ok && r.value.algorithm).toBe(alg);
    if (r.ok && r.value.algorithm === 'rsa') {
      const { n, p, q, d, e, dp, dq, qInv } = r.value;
      expect(p * q).toBe(n);
      expect(dp).toBe(d % (p - 1n));
      expect(dq).toBe(d % (q - 1n));
      expect((qInv * q) % p).toBe(1n);
      expect(e).toBe(65537n);
    }
  });

  it('wraps the PKCS#1 key exactly as `openssl pkcs8 -topk8` does', () => {
    expect(toHex(wrapRsaPkcs1InPkcs8(hex(RSA_OPENSSL_VECTORS.pkcs1)))).toBe(RSA_OPENSSL_VECTORS.pkcs8);
    expect(parseRsaPrivateKey(hex(RSA_OPENSSL_VECTORS.pkcs1)).ok).toBe(true);
  });

  it('refuses an RSA key whose n is not p·q', () => {
    const r = parsePkcs8(keyPair(KeyAlgorithm.Rsa).pkcs8);
    if (!r.ok || r.value.algorithm !== 'rsa') throw new Error('no rsa');
    const k = r.value;
    const pkcs1 = encodeSequence(...[0n, k.n, k.e, k.d, k.p + 2n, k.q, k.dp, k.dq, k.qInv].map((v) => encodeUnsignedInteger(v)));
    expect(parsePkcs8(wrapRsaPkcs1InPkcs8(pkcs1))).toEqual({ ok: false, reason: 'bad-key' });
    const multiPrime = encodeSequence(...[1n, k.n, k.e, k.d, k.p, k.q, k.dp, k.dq, k.qInv].map((v) => encodeUnsignedInteger(v)));
    expect(parsePkcs8(wrapRsaPkcs1InPkcs8(multiPrime))).toEqual({ ok: false, reason: 'unsupported-algorithm' });
  });

  it.each(ALGORITHMS)('every truncation of a %s PKCS#8 key is refused', (alg) => {
    const { pkcs8 } = keyPair(alg);
    for (let len = 0; len < pkcs8.length; len++) expect(parsePkcs8(pkcs8.subarray(0, len)).ok).toBe(false);
  });
});

describe('never throws', () => {
  it('on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        readDer(b);
        readChildren(b);
        parseSpki(b);
        parsePkcs8(b);
        parseRsaPrivateKey(b);
      }),
      { numRuns: 2000 },
    );
  });

  it('on single-bit corruptions of valid keys', () => {
    for (const alg of ALGORITHMS) {
      const { spki, pkcs8 } = keyPair(alg);
      for (let i = 0; i < spki.length * 8; i++) parseSpki(flipBit(spki, i));
      for (let i = 0; i < pkcs8.length * 8; i += 3) parsePkcs8(flipBit(pkcs8, i));
    }
  });
});
