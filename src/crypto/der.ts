/**
 * A minimal, strict DER (ITU-T X.690 §10) reader and writer for the key structures the
 * crypto providers exchange: SubjectPublicKeyInfo (RFC 5280 §4.1.2.7, RFC 3279 §2.3.1
 * for RSA, RFC 5480 for EC, RFC 8410 for Ed25519) and PKCS#8 PrivateKeyInfo (RFC 5208,
 * RFC 5958) holding a PKCS#1 RSAPrivateKey (RFC 8017 Appendix A.1.2), an ECPrivateKey
 * (RFC 5915) or an Ed25519 CurvePrivateKey (RFC 8410 §7).
 *
 * Implements only what those need: single-octet tags (no high tag numbers), definite
 * lengths in minimal form up to 2^32-1, SEQUENCE, INTEGER (non-negative magnitudes,
 * minimal encoding enforced), BIT STRING (0 unused bits only), OCTET STRING, OBJECT
 * IDENTIFIER, NULL and context-specific tags. BER leniencies (indefinite lengths,
 * non-minimal lengths or integers, constructed strings) are rejected.
 *
 * Reading never throws: primitives return `undefined`, the key parsers a `DerResult`
 * with a reason. Writing throws `CryptoError` (`bad-key`) for values it cannot encode.
 * Key policy that both providers must agree on (RSA modulus bounds, the accepted EC
 * point forms) is enforced here, so both see the same set of valid keys.
 */
import { assertBytes, CryptoError, CryptoErrorCode, KeyAlgorithm } from './provider.js';

/** Universal and context tags used here (X.690 §8.1.2). */
export const DerTag = {
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Null: 0x05,
  ObjectIdentifier: 0x06,
  Sequence: 0x30,
  /** [0] EXPLICIT / constructed context tag 0. */
  Context0: 0xa0,
  /** [1] EXPLICIT / constructed context tag 1. */
  Context1: 0xa1,
} as const;

/** Object identifiers (dotted form) of the algorithms we accept. */
export const Oid = {
  /** rsaEncryption, RFC 3279 §2.3.1 / RFC 8017 Appendix C. */
  RsaEncryption: '1.2.840.113549.1.1.1',
  /** id-ecPublicKey, RFC 5480 §2.1.1. */
  EcPublicKey: '1.2.840.10045.2.1',
  /** prime256v1 / secp256r1, RFC 5480 §2.1.1.1. */
  Prime256v1: '1.2.840.10045.3.1.7',
  /** id-Ed25519, RFC 8410 §3. */
  Ed25519: '1.3.101.112',
} as const;

/** RSA modulus sizes accepted by both providers: RFC 3972 §4 asks for at least 384 bits; 8192 bounds the work. */
export const RSA_MIN_MODULUS_BITS = 384;
export const RSA_MAX_MODULUS_BITS = 8192;

// ---------------------------------------------------------------------------------------
// Reading primitives
// ---------------------------------------------------------------------------------------

/** One tag-length-value: `content` is a view into the input (no copy). */
export interface DerNode {
  readonly tag: number;
  readonly content: Uint8Array;
}

/**
 * Reads one TLV at `off`, returning it and the offset just after it, or undefined when
 * the encoding is not strict DER or runs past the end of `b`.
 */
export function readTlv(b: Uint8Array, off: number): { node: DerNode; next: number } | undefined {
  if (off + 2 > b.length) return undefined;
  const tag = b[off]!;
  if ((tag & 0x1f) === 0x1f) return undefined; // high tag number form
  let len = b[off + 1]!;
  let p = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > b.length) return undefined; // indefinite, or too long
    if (b[p] === 0) return undefined; // non-minimal: leading zero length octet
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i]!;
    if (len < 0x80) return undefined; // non-minimal: short form would do
    p += n;
  }
  if (len > b.length - p) return undefined;
  return { node: { tag, content: b.subarray(p, p + len) }, next: p + len };
}

/** Exactly one TLV filling all of `b`, or undefined. */
export function readDer(b: Uint8Array): DerNode | undefined {
  const r = readTlv(b, 0);
  return r && r.next === b.length ? r.node : undefined;
}

/** The TLVs that exactly fill `content`, or undefined. */
export function readChildren(content: Uint8Array): DerNode[] | undefined {
  const out: DerNode[] = [];
  let off = 0;
  while (off < content.length) {
    const r = readTlv(content, off);
    if (!r) return undefined;
    out.push(r.node);
    off = r.next;
  }
  return out;
}

/** The children of a SEQUENCE node, or undefined when `node` is not one. */
export function readSequence(node: DerNode | undefined): DerNode[] | undefined {
  return node?.tag === DerTag.Sequence ? readChildren(node.content) : undefined;
}

/**
 * The magnitude of a non-negative INTEGER without its leading sign octet (zero is `[0]`),
 * or undefined for a negative or non-minimally encoded integer.
 */
export function readUnsignedInteger(node: DerNode | undefined): Uint8Array | undefined {
  if (node?.tag !== DerTag.Integer) return undefined;
  const c = node.content;
  if (c.length === 0) return undefined;
  if (c[0]! & 0x80) return undefined; // negative
  if (c.length > 1 && c[0] === 0 && !(c[1]! & 0x80)) return undefined; // non-minimal
  return c.length > 1 && c[0] === 0 ? c.subarray(1) : c;
}

/** A non-negative INTEGER as a bigint, or undefined. */
export function readBigInt(node: DerNode | undefined): bigint | undefined {
  const m = readUnsignedInteger(node);
  return m === undefined ? undefined : bytesToBigInt(m);
}

/** A small non-negative INTEGER (< 2^31) as a number, or undefined. */
export function readSmallInt(node: DerNode | undefined): number | undefined {
  const m = readUnsignedInteger(node);
  if (m === undefined || m.length > 4 || (m.length === 4 && m[0]! & 0x80)) return undefined;
  let v = 0;
  for (const x of m) v = v * 256 + x;
  return v;
}

/** The bits of a BIT STRING with 0 unused bits, or undefined. */
export function readBitString(node: DerNode | undefined): Uint8Array | undefined {
  if (node?.tag !== DerTag.BitString || node.content.length === 0 || node.content[0] !== 0) return undefined;
  return node.content.subarray(1);
}

/** The octets of an OCTET STRING, or undefined. */
export function readOctetString(node: DerNode | undefined): Uint8Array | undefined {
  return node?.tag === DerTag.OctetString ? node.content : undefined;
}

/** True for a NULL with empty content. */
export function readNull(node: DerNode | undefined): boolean {
  return node?.tag === DerTag.Null && node.content.length === 0;
}

/** An OBJECT IDENTIFIER in dotted form, or undefined (non-minimal arcs are rejected). */
export function readOid(node: DerNode | undefined): string | undefined {
  if (node?.tag !== DerTag.ObjectIdentifier) return undefined;
  const c = node.content;
  if (c.length === 0 || c[c.length - 1]! & 0x80) return undefined;
  const arcs: number[] = [];
  let v = 0;
  let start = true;
  for (const x of c) {
    if (start && x === 0x80) return undefined; // non-minimal arc
    if (v > 0x1_ffff_ffff_ffff / 128) return undefined; // arc too large for a number
    v = v * 128 + (x & 0x7f);
    start = !(x & 0x80);
    if (start) {
      if (arcs.length === 0) {
        const first = v < 40 ? 0 : v < 80 ? 1 : 2;
        arcs.push(first, v - 40 * first);
      } else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join('.');
}

// ---------------------------------------------------------------------------------------
// Writing primitives
// ---------------------------------------------------------------------------------------

/** tag || length || content, with a minimal definite length. */
export function encodeTlv(tag: number, content: Uint8Array): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) {
    throw new CryptoError(CryptoErrorCode.BadKey, `DER: unsupported tag ${tag}`);
  }
  const len = content.length;
  const lenOctets: number[] = [];
  if (len < 0x80) lenOctets.push(len);
  else {
    for (let v = len; v > 0; v = Math.floor(v / 256)) lenOctets.unshift(v & 0xff);
    lenOctets.unshift(0x80 | lenOctets.length);
  }
  const out = new Uint8Array(1 + lenOctets.length + len);
  out[0] = tag;
  out.set(lenOctets, 1);
  out.set(content, 1 + lenOctets.length);
  return out;
}

/** A SEQUENCE of already-encoded elements. */
export function encodeSequence(...items: readonly Uint8Array[]): Uint8Array {
  return encodeTlv(DerTag.Sequence, concatBytes(...items));
}

/** An INTEGER from a non-negative bigint or number. */
export function encodeUnsignedInteger(v: bigint | number): Uint8Array {
  const x = typeof v === 'number' ? (Number.isSafeInteger(v) ? BigInt(v) : -1n) : v;
  if (x < 0n) throw new CryptoError(CryptoErrorCode.BadKey, 'DER: INTEGER must be a non-negative integer');
  const mag = bigIntToBytes(x);
  if (mag[0]! & 0x80) return encodeTlv(DerTag.Integer, concatBytes(Uint8Array.of(0), mag));
  return encodeTlv(DerTag.Integer, mag);
}

/** A BIT STRING with 0 unused bits. */
export function encodeBitString(bits: Uint8Array): Uint8Array {
  return encodeTlv(DerTag.BitString, concatBytes(Uint8Array.of(0), bits));
}

export function encodeOctetString(octets: Uint8Array): Uint8Array {
  return encodeTlv(DerTag.OctetString, octets);
}

export function encodeNull(): Uint8Array {
  return Uint8Array.of(DerTag.Null, 0);
}

/** An OBJECT IDENTIFIER from dotted form ("1.2.840.113549.1.1.1"). */
export function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : NaN));
  const [a0, a1] = arcs;
  if (
    arcs.length < 2 ||
    !arcs.every(Number.isSafeInteger) ||
    a0! > 2 ||
    (a0! < 2 && a1! >= 40)
  ) {
    throw new CryptoError(CryptoErrorCode.BadKey, `DER: bad OBJECT IDENTIFIER "${dotted}"`);
  }
  const out: number[] = [];
  const subs = [a0! * 40 + a1!, ...arcs.slice(2)];
  for (const s of subs) {
    const groups: number[] = [];
    for (let v = s; ; v = Math.floor(v / 128)) {
      groups.unshift((v % 128) | (groups.length ? 0x80 : 0));
      if (v < 128) break;
    }
    out.push(...groups);
  }
  return encodeTlv(DerTag.ObjectIdentifier, Uint8Array.from(out));
}

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

export const DerErrorReason = {
  /** Not strict DER, or not the ASN.1 structure expected. */
  Malformed: 'malformed',
  /** Well formed, but an algorithm (or curve) we do not implement. */
  UnsupportedAlgorithm: 'unsupported-algorithm',
  /** The key material is outside what we accept (RSA size, point form, lengths). */
  BadKey: 'bad-key',
} as const;
export type DerErrorReason = (typeof DerErrorReason)[keyof typeof DerErrorReason];

/** The algorithm of a SubjectPublicKeyInfo, or undefined when it is malformed or not one of ours. Never throws. */
export function spkiAlgorithm(spki: Uint8Array): KeyAlgorithm | undefined {
  if (!(spki instanceof Uint8Array)) return undefined;
  const r = parseSpki(spki);
  return r.ok ? r.value.algorithm : undefined;
}

export type DerResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: DerErrorReason };

const fail = (reason: DerErrorReason): { ok: false; reason: DerErrorReason } => ({ ok: false, reason });
const okv = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });

/** A parsed SubjectPublicKeyInfo of one of our three algorithms. */
export type SpkiKey =
  | { readonly algorithm: typeof KeyAlgorithm.Rsa; readonly n: bigint; readonly e: bigint; readonly modulusBytes: number }
  /** `point`: SEC 1 encoded, uncompressed (65 octets, 0x04) or compressed (33 octets, 0x02/0x03). */
  | { readonly algorithm: typeof KeyAlgorithm.EcdsaP256; readonly point: Uint8Array }
  /** `publicKey`: the 32-octet RFC 8032 encoding. */
  | { readonly algorithm: typeof KeyAlgorithm.Ed25519; readonly publicKey: Uint8Array };

/** A parsed PKCS#8 private key of one of our three algorithms. */
export type Pkcs8Key =
  | {
      readonly algorithm: typeof KeyAlgorithm.Rsa;
      readonly n: bigint;
      readonly e: bigint;
      readonly d: bigint;
      readonly p: bigint;
      readonly q: bigint;
      readonly dp: bigint;
      readonly dq: bigint;
      readonly qInv: bigint;
      /** The PKCS#1 RSAPrivateKey DER the PKCS#8 wraps. */
      readonly pkcs1: Uint8Array;
    }
  /** `d`: the 32-octet scalar; `publicPoint`: the optional uncompressed point from the ECPrivateKey. */
  | { readonly algorithm: typeof KeyAlgorithm.EcdsaP256; readonly d: Uint8Array; readonly publicPoint: Uint8Array | undefined }
  /** `seed`: the 32-octet RFC 8032 private key. */
  | { readonly algorithm: typeof KeyAlgorithm.Ed25519; readonly seed: Uint8Array };

/** Parses an AlgorithmIdentifier into [oid, parameters node or undefined]. */
function readAlgorithmIdentifier(node: DerNode | undefined): [string, DerNode | undefined] | undefined {
  const seq = readSequence(node);
  if (!seq || seq.length < 1 || seq.length > 2) return undefined;
  const oid = readOid(seq[0]);
  return oid === undefined ? undefined : [oid, seq[1]];
}

/** Which of our algorithms an AlgorithmIdentifier names, checking its parameters. */
function algorithmOf(alg: [string, DerNode | undefined]): DerResult<KeyAlgorithm> {
  const [oid, params] = alg;
  switch (oid) {
    case Oid.RsaEncryption: // RFC 3279 §2.3.1: parameters MUST be NULL
      return readNull(params) ? okv(KeyAlgorithm.Rsa) : fail(DerErrorReason.Malformed);
    case Oid.EcPublicKey: {
      // RFC 5480 §2.1.1: namedCurve only
      const curve = readOid(params);
      if (curve === undefined) return fail(DerErrorReason.Malformed);
      return curve === Oid.Prime256v1 ? okv(KeyAlgorithm.EcdsaP256) : fail(DerErrorReason.UnsupportedAlgorithm);
    }
    case Oid.Ed25519: // RFC 8410 §3: parameters MUST be absent
      return params === undefined ? okv(KeyAlgorithm.Ed25519) : fail(DerErrorReason.Malformed);
    default:
      return fail(DerErrorReason.UnsupportedAlgorithm);
  }
}

function checkRsaPublic(n: bigint, e: bigint): boolean {
  const bits = n.toString(2).length;
  return bits >= RSA_MIN_MODULUS_BITS && bits <= RSA_MAX_MODULUS_BITS && (n & 1n) === 1n && e >= 3n && (e & 1n) === 1n && e < n;
}

function checkEcPoint(point: Uint8Array): boolean {
  return (point.length === 65 && point[0] === 0x04) || (point.length === 33 && (point[0] === 0x02 || point[0] === 0x03));
}

/**
 * Parses a SubjectPublicKeyInfo. RSA keys must use NULL parameters and a modulus of
 * 384..8192 bits with an odd exponent 3 ≤ e < n; P-256 points must be plain SEC 1
 * uncompressed or compressed (the hybrid 0x06/0x07 forms are refused); Ed25519 keys are
 * 32 octets. Point validity on the curve is left to the signature library.
 */
export function parseSpki(der: Uint8Array): DerResult<SpkiKey> {
  const seq = readSequence(readDer(der));
  if (!seq || seq.length !== 2) return fail(DerErrorReason.Malformed);
  const algId = readAlgorithmIdentifier(seq[0]);
  const bits = readBitString(seq[1]);
  if (!algId || !bits) return fail(DerErrorReason.Malformed);
  const alg = algorithmOf(algId);
  if (!alg.ok) return alg;
  switch (alg.value) {
    case KeyAlgorithm.Rsa: {
      // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 3279 §2.3.1)
      const rsa = readSequence(readDer(bits));
      if (!rsa || rsa.length !== 2) return fail(DerErrorReason.Malformed);
      const nMag = readUnsignedInteger(rsa[0]);
      const e = readBigInt(rsa[1]);
      if (!nMag || e === undefined) return fail(DerErrorReason.Malformed);
      const n = bytesToBigInt(nMag);
      if (!checkRsaPublic(n, e)) return fail(DerErrorReason.BadKey);
      return okv({ algorithm: KeyAlgorithm.Rsa, n, e, modulusBytes: nMag.length });
    }
    case KeyAlgorithm.EcdsaP256:
      return checkEcPoint(bits) ? okv({ algorithm: KeyAlgorithm.EcdsaP256, point: bits }) : fail(DerErrorReason.BadKey);
    case KeyAlgorithm.Ed25519:
      return bits.length === 32 ? okv({ algorithm: KeyAlgorithm.Ed25519, publicKey: bits }) : fail(DerErrorReason.BadKey);
  }
}

/**
 * Parses a PKCS#1 RSAPrivateKey (RFC 8017 Appendix A.1.2): two-prime (version 0) only.
 * Checks the structure and that n = p·q; the CRT values are checked when signing.
 */
export function parseRsaPrivateKey(der: Uint8Array): DerResult<Pkcs8Key & { algorithm: 'rsa' }> {
  const seq = readSequence(readDer(der));
  if (!seq) return fail(DerErrorReason.Malformed);
  const version = readSmallInt(seq[0]);
  if (version === 1) return fail(DerErrorReason.UnsupportedAlgorithm); // multi-prime
  if (version !== 0 || seq.length !== 9) return fail(DerErrorReason.Malformed);
  const v = seq.slice(1).map(readBigInt);
  if (v.some((x) => x === undefined)) return fail(DerErrorReason.Malformed);
  const [n, e, d, p, q, dp, dq, qInv] = v as bigint[] as [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];
  if (!checkRsaPublic(n, e) || p < 3n || q < 3n || p * q !== n || d === 0n) return fail(DerErrorReason.BadKey);
  return okv({ algorithm: KeyAlgorithm.Rsa, n, e, d, p, q, dp, dq, qInv, pkcs1: der });
}

/** Parses a PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5208, RFC 5958) of one of our algorithms. */
/**
 * The checks every provider's `sign` starts with: both arguments are bytes and the
 * PKCS#8 key parses. Throws `TypeError` or `CryptoError('bad-key')` with the reason.
 */
export function privateKeyForSigning(pkcs8: Uint8Array, message: Uint8Array): Pkcs8Key {
  assertBytes('pkcs8', pkcs8);
  assertBytes('message', message);
  const parsed = parsePkcs8(pkcs8);
  if (!parsed.ok) throw new CryptoError(CryptoErrorCode.BadKey, `private key: ${parsed.reason}`);
  return parsed.value;
}

/** The checks every provider's `verify` starts with; undefined (verify is false) for any malformed input. */
export function publicKeyForVerifying(spki: unknown, message: unknown, signature: unknown): SpkiKey | undefined {
  if (!(spki instanceof Uint8Array) || !(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) return undefined;
  const parsed = parseSpki(spki);
  return parsed.ok ? parsed.value : undefined;
}

export function parsePkcs8(der: Uint8Array): DerResult<Pkcs8Key> {
  const seq = readSequence(readDer(der));
  if (!seq || seq.length < 3) return fail(DerErrorReason.Malformed);
  const version = readSmallInt(seq[0]);
  const algId = readAlgorithmIdentifier(seq[1]);
  const inner = readOctetString(seq[2]);
  if ((version !== 0 && version !== 1) || !algId || !inner) return fail(DerErrorReason.Malformed);
  // Optional [0] attributes, then (version 1 only) [1] publicKey; nothing else.
  let i = 3;
  if (seq[i]?.tag === DerTag.Context0) i++;
  if (version === 1 && seq[i]?.tag === 0x81) i++; // [1] IMPLICIT BIT STRING
  if (i !== seq.length) return fail(DerErrorReason.Malformed);
  const alg = algorithmOf(algId);
  if (!alg.ok) return alg;
  switch (alg.value) {
    case KeyAlgorithm.Rsa:
      return parseRsaPrivateKey(inner);
    case KeyAlgorithm.EcdsaP256: {
      // ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING,
      //   parameters [0] ECParameters OPTIONAL, publicKey [1] BIT STRING OPTIONAL } (RFC 5915 §3)
      const ec = readSequence(readDer(inner));
      if (!ec || ec.length < 2 || ec.length > 4 || readSmallInt(ec[0]) !== 1) return fail(DerErrorReason.Malformed);
      const d = readOctetString(ec[1]);
      if (!d) return fail(DerErrorReason.Malformed);
      let publicPoint: Uint8Array | undefined;
      let j = 2;
      if (ec[j]?.tag === DerTag.Context0) {
        if (readOid(readDer(ec[j]!.content)) !== Oid.Prime256v1) return fail(DerErrorReason.Malformed);
        j++;
      }
      if (ec[j]?.tag === DerTag.Context1) {
        publicPoint = readBitString(readDer(ec[j]!.content));
        if (!publicPoint) return fail(DerErrorReason.Malformed);
        if (!checkEcPoint(publicPoint)) return fail(DerErrorReason.BadKey);
        j++;
      }
      if (j !== ec.length) return fail(DerErrorReason.Malformed);
      if (d.length !== 32) return fail(DerErrorReason.BadKey);
      return okv({ algorithm: KeyAlgorithm.EcdsaP256, d, publicPoint });
    }
    case KeyAlgorithm.Ed25519: {
      // CurvePrivateKey ::= OCTET STRING (RFC 8410 §7)
      const seed = readOctetString(readDer(inner));
      if (!seed) return fail(DerErrorReason.Malformed);
      return seed.length === 32 ? okv({ algorithm: KeyAlgorithm.Ed25519, seed }) : fail(DerErrorReason.BadKey);
    }
  }
}

/** The SubjectPublicKeyInfo of an RSA public key (RFC 3279 §2.3.1). */
export function encodeRsaSpki(n: bigint, e: bigint): Uint8Array {
  if (n <= 0n || e <= 0n) throw new CryptoError(CryptoErrorCode.BadKey, 'RSA modulus and exponent must be positive');
  return encodeSequence(
    encodeSequence(encodeOid(Oid.RsaEncryption), encodeNull()),
    encodeBitString(encodeSequence(encodeUnsignedInteger(n), encodeUnsignedInteger(e))),
  );
}

/** The SubjectPublicKeyInfo of a P-256 public key (RFC 5480), from a SEC 1 point. */
export function encodeEcP256Spki(point: Uint8Array): Uint8Array {
  if (!checkEcPoint(point)) throw new CryptoError(CryptoErrorCode.BadKey, 'P-256 point must be 65 octets (0x04) or 33 (0x02/0x03)');
  return encodeSequence(encodeSequence(encodeOid(Oid.EcPublicKey), encodeOid(Oid.Prime256v1)), encodeBitString(point));
}

/** The SubjectPublicKeyInfo of an Ed25519 public key (RFC 8410 §4). */
export function encodeEd25519Spki(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 32) throw new CryptoError(CryptoErrorCode.BadKey, 'Ed25519 public key must be 32 octets');
  return encodeSequence(encodeSequence(encodeOid(Oid.Ed25519)), encodeBitString(publicKey));
}

/** Wraps a PKCS#1 RSAPrivateKey into a version 0 PKCS#8 PrivateKeyInfo (RFC 5208 §5). */
export function wrapRsaPkcs1InPkcs8(pkcs1: Uint8Array): Uint8Array {
  return encodeSequence(
    encodeUnsignedInteger(0),
    encodeSequence(encodeOid(Oid.RsaEncryption), encodeNull()),
    encodeOctetString(pkcs1),
  );
}

// ---------------------------------------------------------------------------------------
// Byte helpers
// ---------------------------------------------------------------------------------------

/** Big-endian unsigned bytes to bigint (OS2IP, RFC 8017 §4.2). Empty input is 0. */
export function bytesToBigInt(b: Uint8Array): bigint {
  let hex = '';
  for (const x of b) hex += HEX[x];
  return hex === '' ? 0n : BigInt('0x' + hex);
}

/** A non-negative bigint as minimal big-endian bytes (at least one octet). */
export function bigIntToBytes(v: bigint): Uint8Array {
  let hex = v.toString(16);
  if (hex.length & 1) hex = '0' + hex;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
