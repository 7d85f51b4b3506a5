/**
 * Key handling for CGA/Shim6 keys: PEM (RFC 7468) ↔ DER, key pair generation, and the
 * public key of a private key. Keys are DER SubjectPublicKeyInfo (RFC 5280, RFC 3279)
 * and PKCS#8 PrivateKeyInfo (RFC 5208), as the `CryptoProvider` interface takes them.
 *
 * RSA (1024 or 2048 bits) is the standard CGA key (RFC 3972 §4 and §6). ECDSA P-256 and
 * Ed25519 are an experimental option that no RFC defines for CGA or Shim6; peers must
 * both opt in.
 *
 * The PEM functions and `publicKeyFromPrivate` are pure (no Node APIs). Only
 * `generateKeyPair` needs node:crypto: the noble provider signs and verifies but does not
 * generate keys (RSA prime generation is out of scope for this package).
 */
import { generateKeyPairSync } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import {
  encodeEcP256Spki,
  encodeEd25519Spki,
  encodeOctetString,
  encodeOid,
  encodeRsaSpki,
  encodeSequence,
  encodeUnsignedInteger,
  Oid,
  parsePkcs8,
  parseSpki,
  readBigInt,
  readDer,
  readSequence,
  wrapRsaPkcs1InPkcs8,
} from './der.js';
import { CryptoError, CryptoErrorCode, KeyAlgorithm } from './provider.js';

/** PEM labels (RFC 7468 §4, §10, §13; PKCS#1 and SEC 1 "traditional" labels from OpenSSL). */
export const PemLabel = {
  PublicKey: 'PUBLIC KEY',
  PrivateKey: 'PRIVATE KEY',
  RsaPrivateKey: 'RSA PRIVATE KEY',
  RsaPublicKey: 'RSA PUBLIC KEY',
  EcPrivateKey: 'EC PRIVATE KEY',
} as const;

/** A DER SubjectPublicKeyInfo and the matching DER PKCS#8 private key. */
export interface KeyPair {
  readonly spki: Uint8Array;
  readonly pkcs8: Uint8Array;
}

const bad = (message: string): CryptoError => new CryptoError(CryptoErrorCode.BadKey, message);

// ---------------------------------------------------------------------------------------
// Base64 (RFC 4648 §4), strict: padding required, no characters outside the alphabet.
// ---------------------------------------------------------------------------------------

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX: ReadonlyMap<string, number> = new Map([...B64].map((c, i) => [c, i]));

function base64Encode(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += B64[n >>> 18]! + B64[(n >>> 12) & 63]!;
    s += i + 1 < b.length ? B64[(n >>> 6) & 63]! : '=';
    s += i + 2 < b.length ? B64[n & 63]! : '=';
  }
  return s;
}

/** Decodes strict base64, or undefined. */
function base64Decode(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0) return undefined;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = s[i + j]!;
      const v = c === '=' && i + 4 === s.length && j >= 4 - pad ? 0 : B64_INDEX.get(c);
      if (v === undefined) return undefined;
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = n >>> 16;
    if (o < out.length) out[o++] = (n >>> 8) & 0xff;
    else if (pad === 2 && (n & 0xffff) !== 0) return undefined; // non-canonical trailing bits
    if (o < out.length) out[o++] = n & 0xff;
    else if (pad === 1 && (n & 0xff) !== 0) return undefined;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// PEM
// ---------------------------------------------------------------------------------------

/** One PEM block's label and DER contents. */
export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

/**
 * Decodes the single PEM block in `pem` (RFC 7468 §2-3; whitespace between base64 lines
 * allowed; text before the BEGIN line or after the END line is ignored). Throws
 * `CryptoError` (`bad-key`) with the reason when there is no well-formed block, more than
 * one, or an encrypted one.
 */
export function decodePem(pem: string): PemBlock {
  if (typeof pem !== 'string') throw new TypeError('PEM input must be a string');
  const begins = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]*)-----/g)];
  if (begins.length === 0) throw bad('PEM: no "-----BEGIN ...-----" line');
  if (begins.length > 1) throw bad('PEM: more than one block');
  const label = begins[0]![1]!;
  const bodyStart = begins[0]!.index! + begins[0]![0].length;
  const endLine = `-----END ${label}-----`;
  const end = pem.indexOf(endLine, bodyStart);
  if (end < 0) throw bad(`PEM: no "${endLine}" line`);
  const body = pem.slice(bodyStart, end);
  if (body.includes(':')) throw bad('PEM: headers (encrypted or legacy PEM) are not supported');
  const der = base64Decode(body.replace(/\s+/g, ''));
  if (!der || der.length === 0) throw bad(`PEM: invalid base64 in the ${label} block`);
  return { label, der };
}

/** Encodes DER as a PEM block with 64-character lines (RFC 7468 §2). */
export function encodePem(label: string, der: Uint8Array): string {
  if (!/^[A-Z0-9]+( [A-Z0-9]+)*$/.test(label)) throw new TypeError(`PEM label "${label}" is not valid`);
  if (!(der instanceof Uint8Array)) throw new TypeError('der must be a Uint8Array');
  const lines = base64Encode(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}${lines.length ? '\n' : ''}-----END ${label}-----\n`;
}

/**
 * A DER SubjectPublicKeyInfo from PEM: 'PUBLIC KEY', or 'RSA PUBLIC KEY' (PKCS#1
 * RSAPublicKey, re-encoded as an SPKI). Throws `CryptoError` unless it is a key of ours.
 */
export function publicKeyFromPem(pem: string): Uint8Array {
  const { label, der } = decodePem(pem);
  let spki: Uint8Array;
  if (label === PemLabel.PublicKey) spki = der;
  else if (label === PemLabel.RsaPublicKey) {
    const seq = readSequence(readDer(der));
    const n = readBigInt(seq?.[0]);
    const e = readBigInt(seq?.[1]);
    if (seq?.length !== 2 || n === undefined || e === undefined || n === 0n || e === 0n) throw bad('PEM: malformed RSA PUBLIC KEY');
    spki = encodeRsaSpki(n, e);
  } else throw bad(`PEM: expected a PUBLIC KEY block, got "${label}"`);
  const r = parseSpki(spki);
  if (!r.ok) throw bad(`public key: ${r.reason}`);
  return spki;
}

/**
 * A DER PKCS#8 private key from PEM: 'PRIVATE KEY' (PKCS#8), or the traditional
 * 'RSA PRIVATE KEY' (PKCS#1) and 'EC PRIVATE KEY' (SEC 1, P-256 only), which are wrapped
 * into PKCS#8. 'ENCRYPTED PRIVATE KEY' is refused. Throws `CryptoError` unless the result
 * is a key of ours.
 */
export function privateKeyFromPem(pem: string): Uint8Array {
  const { label, der } = decodePem(pem);
  let pkcs8: Uint8Array;
  switch (label) {
    case PemLabel.PrivateKey:
      pkcs8 = der;
      break;
    case PemLabel.RsaPrivateKey:
      pkcs8 = wrapRsaPkcs1InPkcs8(der);
      break;
    case PemLabel.EcPrivateKey:
      pkcs8 = encodeSequence(
        encodeUnsignedInteger(0),
        encodeSequence(encodeOid(Oid.EcPublicKey), encodeOid(Oid.Prime256v1)),
        encodeOctetString(der),
      );
      break;
    case 'ENCRYPTED PRIVATE KEY':
      throw bad('PEM: encrypted private keys are not supported; decrypt it first');
    default:
      throw bad(`PEM: expected a PRIVATE KEY block, got "${label}"`);
  }
  const r = parsePkcs8(pkcs8);
  if (!r.ok) throw bad(`private key (${label}): ${r.reason}`);
  return pkcs8;
}

/** A DER SubjectPublicKeyInfo as a 'PUBLIC KEY' PEM block. */
export function publicKeyToPem(spki: Uint8Array): string {
  return encodePem(PemLabel.PublicKey, spki);
}

/** A DER PKCS#8 private key as a 'PRIVATE KEY' PEM block. */
export function privateKeyToPem(pkcs8: Uint8Array): string {
  return encodePem(PemLabel.PrivateKey, pkcs8);
}

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

/**
 * The SubjectPublicKeyInfo of a PKCS#8 private key, computed from the private key itself
 * (RSA: n and e; P-256: d·G; Ed25519: RFC 8032 §5.1.5), so an embedded but wrong public
 * key is never trusted. Pure. Throws `CryptoError` for a key that is not ours or malformed.
 */
export function publicKeyFromPrivate(pkcs8: Uint8Array): Uint8Array {
  if (!(pkcs8 instanceof Uint8Array)) throw new TypeError('pkcs8 must be a Uint8Array');
  const r = parsePkcs8(pkcs8);
  if (!r.ok) throw bad(`private key: ${r.reason}`);
  const key = r.value;
  try {
    switch (key.algorithm) {
      case KeyAlgorithm.Rsa:
        return encodeRsaSpki(key.n, key.e);
      case KeyAlgorithm.EcdsaP256:
        return encodeEcP256Spki(p256.getPublicKey(key.d, false));
      case KeyAlgorithm.Ed25519:
        return encodeEd25519Spki(ed25519.getPublicKey(key.seed));
    }
  } catch (err) {
    if (err instanceof CryptoError) throw err;
    throw bad(`private key: ${(err as Error).message}`);
  }
}

/**
 * Generates a key pair with node:crypto (needs Node; the noble provider cannot generate
 * keys). RSA uses e = 65537 and `rsaBits` of 1024 or 2048 (default 2048); ECDSA P-256 and
 * Ed25519 are the experimental, non-RFC option.
 */
export function generateKeyPair(algorithm: KeyAlgorithm, rsaBits: 1024 | 2048 = 2048): KeyPair {
  const pub = { type: 'spki', format: 'der' } as const;
  const priv = { type: 'pkcs8', format: 'der' } as const;
  let kp: { publicKey: Buffer; privateKey: Buffer };
  switch (algorithm) {
    case KeyAlgorithm.Rsa:
      if (rsaBits !== 1024 && rsaBits !== 2048) throw new CryptoError(CryptoErrorCode.Unsupported, 'RSA keys are 1024 or 2048 bits');
      kp = generateKeyPairSync('rsa', { modulusLength: rsaBits, publicExponent: 65537, publicKeyEncoding: pub, privateKeyEncoding: priv });
      break;
    case KeyAlgorithm.EcdsaP256:
      kp = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: pub, privateKeyEncoding: priv });
      break;
    case KeyAlgorithm.Ed25519:
      kp = generateKeyPairSync('ed25519', { publicKeyEncoding: pub, privateKeyEncoding: priv });
      break;
    default:
      throw new CryptoError(CryptoErrorCode.Unsupported, `unknown key algorithm "${String(algorithm)}"`);
  }
  return { spki: new Uint8Array(kp.publicKey), pkcs8: new Uint8Array(kp.privateKey) };
}

