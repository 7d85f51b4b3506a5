/**
 * src/crypto/keys.ts: PEM (RFC 7468) ↔ DER, traditional PKCS#1 / SEC 1 PEM accepted by
 * wrapping into PKCS#8, key generation, and public-from-private. node:crypto's PEM
 * export and the OpenSSL CLI vector file are the references.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodePem,
  encodePem,
  generateKeyPair,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyFromPem,
  publicKeyFromPrivate,
  publicKeyToPem,
} from '../../src/crypto/keys.js';
import { CryptoError, KeyAlgorithm } from '../../src/crypto/provider.js';
import { nobleCryptoProvider } from '../../src/crypto/provider-noble.js';
import { ALGORITHMS, hex, keyPair, RSA_OPENSSL_VECTORS, utf8 } from './signing.util.js';

const nodePem = (der: Uint8Array, kind: 'spki' | 'pkcs8'): string =>
  kind === 'spki'
    ? (createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }) as string)
    : (createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string);

describe('PEM round trips', () => {
  it.each(ALGORITHMS)('%s keys: our PEM is byte-identical to node:crypto\'s and decodes back', (alg) => {
    const { spki, pkcs8 } = keyPair(alg);
    expect(publicKeyToPem(spki)).toBe(nodePem(spki, 'spki'));
    expect(privateKeyToPem(pkcs8)).toBe(nodePem(pkcs8, 'pkcs8'));
    expect(publicKeyFromPem(publicKeyToPem(spki))).toEqual(spki);
    expect(privateKeyFromPem(privateKeyToPem(pkcs8))).toEqual(pkcs8);
  });

  it('arbitrary DER survives encodePem/decodePem', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 500 }), (der) => {
        expect(decodePem(encodePem('TEST DATA', der))).toEqual({ label: 'TEST DATA', der });
      }),
    );
  });

  it('tolerates CRLF, indentation and text around the block', () => {
    const pem = publicKeyToPem(keyPair(KeyAlgorithm.Ed25519).spki);
    const messy = 'Subject: a key\r\n' + pem.replace(/\n/g, '\r\n  ') + '\r\ntrailer';
    expect(publicKeyFromPem(messy)).toEqual(keyPair(KeyAlgorithm.Ed25519).spki);
  });
});

describe('traditional PEM labels', () => {
  it("'RSA PRIVATE KEY' (PKCS#1) is wrapped into the PKCS#8 the OpenSSL CLI produces", () => {
    const pem = encodePem('RSA PRIVATE KEY', hex(RSA_OPENSSL_VECTORS.pkcs1));
    expect(privateKeyFromPem(pem)).toEqual(hex(RSA_OPENSSL_VECTORS.pkcs8));
  });

  it("'RSA PRIVATE KEY' from node:crypto signs like its PKCS#8 form", () => {
    const { pkcs8, spki } = keyPair(KeyAlgorithm.Rsa);
    const pkcs1Pem = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs1' }) as string;
    expect(pkcs1Pem).toMatch(/BEGIN RSA PRIVATE KEY/);
    const key = privateKeyFromPem(pkcs1Pem);
    expect(nobleCryptoProvider.verify(spki, utf8('x'), nobleCryptoProvider.sign(key, utf8('x')))).toBe(true);
  });

  it("'RSA PUBLIC KEY' and 'EC PRIVATE KEY' are accepted", () => {
    const rsa = keyPair(KeyAlgorithm.Rsa);
    const pkcs1Pub = createPublicKey({ key: Buffer.from(rsa.spki), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'pkcs1' }) as string;
    expect(publicKeyFromPem(pkcs1Pub)).toEqual(rsa.spki);
    const ec = keyPair(KeyAlgorithm.EcdsaP256);
    const sec1 = createPrivateKey({ key: Buffer.from(ec.pkcs8), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'sec1' }) as string;
    expect(sec1).toMatch(/BEGIN EC PRIVATE KEY/);
    const key = privateKeyFromPem(sec1);
    expect(nobleCryptoProvider.verify(ec.spki, utf8('x'), nobleCryptoProvider.sign(key, utf8('x')))).toBe(true);
  });
});

describe('bad PEM is rejected with a clear error', () => {
  const pub = publicKeyToPem(keyPair(KeyAlgorithm.Rsa).spki);
  const priv = privateKeyToPem(keyPair(KeyAlgorithm.Rsa).pkcs8);
  it.each([
    ['no block', 'hello', /no "-----BEGIN/],
    ['no END line', pub.replace(/-----END.*/, ''), /no "-----END PUBLIC KEY-----"/],
    ['mismatched END label', pub.replace('END PUBLIC', 'END PRIVATE'), /no "-----END PUBLIC KEY-----"/],
    ['bad base64 character', pub.replace(/\n[A-Za-z0-9]/, '\n*'), /invalid base64/],
    ['missing padding', '-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----', /invalid base64/],
    ['empty body', '-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----', /invalid base64/],
    ['two blocks', pub + pub, /more than one/],
    ['encrypted legacy headers', pub.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n'), /headers/],
    ['a private key where a public one is expected', priv, /expected a PUBLIC KEY block, got "PRIVATE KEY"/],
    ['not a key inside', encodePem('PUBLIC KEY', utf8('not DER')), /public key: malformed/],
  ])('%s', (_n, pem, message) => {
    expect(() => publicKeyFromPem(pem)).toThrow(message);
    expect(() => publicKeyFromPem(pem)).toThrow(CryptoError);
  });

  it.each([
    ['a public key where a private one is expected', pub, /expected a PRIVATE KEY block, got "PUBLIC KEY"/],
    ['an encrypted PKCS#8', encodePem('ENCRYPTED PRIVATE KEY', utf8('x')), /encrypted private keys are not supported/],
    ['garbage PKCS#1', encodePem('RSA PRIVATE KEY', utf8('nope')), /private key \(RSA PRIVATE KEY\): malformed/],
  ])('%s', (_n, pem, message) => {
    expect(() => privateKeyFromPem(pem)).toThrow(message);
  });

  it('invalid labels and inputs when encoding', () => {
    expect(() => encodePem('bad label', new Uint8Array(1))).toThrow(TypeError);
    expect(() => decodePem(42 as unknown as string)).toThrow(TypeError);
  });
});

describe('generateKeyPair and publicKeyFromPrivate', () => {
  it.each([
    [KeyAlgorithm.Rsa, 1024],
    [KeyAlgorithm.Rsa, 2048],
    [KeyAlgorithm.EcdsaP256, undefined],
    [KeyAlgorithm.Ed25519, undefined],
  ] as const)('%s %s', (alg, bits) => {
    const kp = generateKeyPair(alg, bits);
    expect(nobleCryptoProvider.publicKeyAlgorithm(kp.spki)).toBe(alg);
    expect(publicKeyFromPrivate(kp.pkcs8)).toEqual(kp.spki);
    if (alg === KeyAlgorithm.Rsa) expect(createPublicKey({ key: Buffer.from(kp.spki), format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength).toBe(bits);
  });

  it('refuses other sizes and algorithms', () => {
    expect(() => generateKeyPair(KeyAlgorithm.Rsa, 4096 as 2048)).toThrow(/1024 or 2048/);
    expect(() => generateKeyPair('dsa' as KeyAlgorithm)).toThrow(/unknown key algorithm/);
  });

  it('publicKeyFromPrivate matches the OpenSSL CLI key and rejects junk', () => {
    expect(publicKeyFromPrivate(hex(RSA_OPENSSL_VECTORS.pkcs8))).toEqual(hex(RSA_OPENSSL_VECTORS.spki));
    expect(() => publicKeyFromPrivate(hex(RSA_OPENSSL_VECTORS.spki))).toThrow(/private key: malformed/);
  });
});
