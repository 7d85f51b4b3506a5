/**
 * CGA Parameters data structure (RFC 3972 §3) with the extension field format of
 * RFC 4581 §2: a strict parser and an emitter.
 *
 * Layout: Modifier (16 octets) || Subnet Prefix (8) || Collision Count (1) || Public Key
 * (one DER SubjectPublicKeyInfo, its length given by its own DER header) || zero or more
 * extension fields, each Extension Type (16 bits) || Extension Data Length (16 bits) ||
 * Extension Data.
 *
 * Strictness (deliberate): every octet must be accounted for. The Public Key must be one
 * definite-length, minimally encoded DER SEQUENCE holding exactly an AlgorithmIdentifier
 * SEQUENCE (an OBJECT IDENTIFIER and at most one parameters element) and a BIT STRING;
 * the octets after it must be whole extension fields. RFC 3972 §3 says the key length "is
 * determined by the ASN.1 encoding", and RFC 4581 §2 makes every extension a TLV, so
 * nothing else can legally follow. The key's algorithm is not checked here: that is the
 * signature code's business, and HBA-only sets (RFC 5535 §6) carry a nonce, not a key.
 *
 * Leaves out: the meaning of the Collision Count (verification step 1, RFC 3972 §5, is in
 * `cga.ts`, so a count of 3 parses and then fails verification with its own reason) and
 * the meaning of any extension (the Multi-Prefix extension is in `hba.ts`). Unknown
 * extensions are kept and re-emitted losslessly, as RFC 3972 §5 requires them to be
 * hashed.
 */
import { CryptoError } from './provider.js';

export interface CgaExtension {
  /** Extension Type (RFC 4581 §2, registry §3). */
  readonly type: number;
  /** Extension Data; its length is the Extension Data Length. */
  readonly data: Uint8Array;
}

export interface CgaParameters {
  /** 128-bit Modifier. */
  readonly modifier: Uint8Array;
  /** 64-bit Subnet Prefix. */
  readonly subnetPrefix: Uint8Array;
  /** 8-bit Collision Count (valid values 0, 1, 2 are checked by verification, not parsing). */
  readonly collisionCount: number;
  /** The Public Key field: a DER SubjectPublicKeyInfo. */
  readonly publicKey: Uint8Array;
  /** Extension Fields in order. */
  readonly extensions: readonly CgaExtension[];
}

export const CGA_MODIFIER_LEN = 16;
export const CGA_SUBNET_PREFIX_LEN = 8;
/** Octets before the Public Key: modifier, subnet prefix, collision count (RFC 3972 §5). */
export const CGA_FIXED_LEN = 25;
/** Offset of the Subnet Prefix in the structure. */
export const CGA_SUBNET_PREFIX_OFFSET = 16;
/** Offset of the Collision Count in the structure. */
export const CGA_COLLISION_COUNT_OFFSET = 24;

export const CgaParamsErrorReason = {
  /** Fewer than the 25 fixed octets. */
  Truncated: 'truncated',
  /** The Public Key's DER header or contents run past the end of the structure. */
  TruncatedPublicKey: 'truncated-public-key',
  /** The Public Key is not one definite, minimal DER SubjectPublicKeyInfo SEQUENCE. */
  BadPublicKeyDer: 'bad-public-key-der',
  /** An extension field's 4-octet header or its Extension Data runs past the end. */
  TruncatedExtension: 'truncated-extension',
  /** 1 to 3 octets after the last complete field: too short to be an extension. */
  TrailingBytes: 'trailing-bytes',
} as const;
export type CgaParamsErrorReason = (typeof CgaParamsErrorReason)[keyof typeof CgaParamsErrorReason];

export interface CgaParamsError {
  readonly reason: CgaParamsErrorReason;
  /** One sentence for people and logs. */
  readonly message: string;
  /** Octet offset in the structure where the problem was found. */
  readonly offset: number;
}

export type CgaParamsParsed = { readonly ok: true; readonly value: CgaParameters } | { readonly ok: false; readonly error: CgaParamsError };

function fail(reason: CgaParamsErrorReason, offset: number, message: string): CgaParamsParsed {
  return { ok: false, error: { reason, message, offset } };
}

/** One DER TLV header: where the contents start and end. */
interface Tlv {
  readonly tag: number;
  readonly contentStart: number;
  readonly end: number;
}

type TlvResult = { readonly ok: true; readonly tlv: Tlv } | { readonly ok: false; readonly truncated: boolean; readonly why: string };

/**
 * Reads a DER TLV header at `off`, bounded by `limit` (X.690 §8.1, §10.1 for DER: definite
 * form only, fewest length octets). Only low tag numbers (single identifier octet) occur
 * in a SubjectPublicKeyInfo.
 */
function readTlv(b: Uint8Array, off: number, limit: number): TlvResult {
  if (off + 2 > limit) return { ok: false, truncated: true, why: 'DER header runs past the end' };
  const tag = b[off]!;
  if ((tag & 0x1f) === 0x1f) return { ok: false, truncated: false, why: `high-tag-number identifier 0x${tag.toString(16)}` };
  const first = b[off + 1]!;
  let len: number;
  let contentStart: number;
  if (first < 0x80) {
    len = first;
    contentStart = off + 2;
  } else if (first === 0x80) {
    return { ok: false, truncated: false, why: 'indefinite length (not allowed in DER)' };
  } else {
    const n = first & 0x7f;
    if (n > 4) return { ok: false, truncated: false, why: `${n} length octets` };
    if (off + 2 + n > limit) return { ok: false, truncated: true, why: 'DER length octets run past the end' };
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[off + 2 + i]!;
    if (b[off + 2]! === 0 || len < 0x80) return { ok: false, truncated: false, why: 'length not in its shortest form' };
    contentStart = off + 2 + n;
  }
  const end = contentStart + len;
  if (end > limit) return { ok: false, truncated: true, why: `DER contents of ${len} octets run past the end` };
  return { ok: true, tlv: { tag, contentStart, end } };
}

/**
 * Checks that a SubjectPublicKeyInfo starts at `off` and returns its end. The outer
 * SEQUENCE may run past `limit` (truncated) or be malformed (bad DER); inside it, the
 * AlgorithmIdentifier and subjectPublicKey BIT STRING must fill it exactly.
 */
function readSpki(b: Uint8Array, off: number, limit: number): { ok: true; end: number } | { ok: false; error: CgaParamsError } {
  const bad = (at: number, why: string) => ({ ok: false as const, error: { reason: CgaParamsErrorReason.BadPublicKeyDer, message: `Public Key: ${why}`, offset: at } });
  const outer = readTlv(b, off, limit);
  if (!outer.ok) {
    return outer.truncated
      ? { ok: false, error: { reason: CgaParamsErrorReason.TruncatedPublicKey, message: `Public Key: ${outer.why}`, offset: off } }
      : bad(off, outer.why);
  }
  const seq = outer.tlv;
  if (seq.tag !== 0x30) return bad(off, `expected a SEQUENCE (0x30), got tag 0x${seq.tag.toString(16)}`);
  const alg = readTlv(b, seq.contentStart, seq.end);
  if (!alg.ok) return bad(seq.contentStart, `AlgorithmIdentifier: ${alg.why}`);
  if (alg.tlv.tag !== 0x30) return bad(seq.contentStart, 'AlgorithmIdentifier is not a SEQUENCE');
  const oid = readTlv(b, alg.tlv.contentStart, alg.tlv.end);
  if (!oid.ok || oid.tlv.tag !== 0x06 || oid.tlv.end === oid.tlv.contentStart) {
    return bad(alg.tlv.contentStart, 'AlgorithmIdentifier does not start with an OBJECT IDENTIFIER');
  }
  if (oid.tlv.end !== alg.tlv.end) {
    const params = readTlv(b, oid.tlv.end, alg.tlv.end);
    if (!params.ok || params.tlv.end !== alg.tlv.end) return bad(oid.tlv.end, 'AlgorithmIdentifier parameters do not fill the SEQUENCE');
  }
  const key = readTlv(b, alg.tlv.end, seq.end);
  if (!key.ok) return bad(alg.tlv.end, `subjectPublicKey: ${key.why}`);
  if (key.tlv.tag !== 0x03) return bad(alg.tlv.end, 'subjectPublicKey is not a BIT STRING');
  if (key.tlv.end === key.tlv.contentStart || b[key.tlv.contentStart]! > 7) {
    return bad(key.tlv.contentStart, 'BIT STRING has no valid unused-bits octet');
  }
  if (key.tlv.end !== seq.end) return bad(key.tlv.end, `${seq.end - key.tlv.end} octets after the BIT STRING inside the SEQUENCE`);
  return { ok: true, end: seq.end };
}

/** Parses CGA Parameters strictly (see the module comment). Never throws. */
export function parseCgaParameters(bytes: Uint8Array): CgaParamsParsed {
  if (bytes.length < CGA_FIXED_LEN) {
    return fail('truncated', bytes.length, `CGA Parameters need ${CGA_FIXED_LEN} fixed octets before the Public Key, got ${bytes.length}`);
  }
  const spki = readSpki(bytes, CGA_FIXED_LEN, bytes.length);
  if (!spki.ok) return { ok: false, error: spki.error };
  const extensions: CgaExtension[] = [];
  let off = spki.end;
  while (off < bytes.length) {
    const left = bytes.length - off;
    if (left < 4) return fail('trailing-bytes', off, `${left} octets after the last field, too few for an extension header`);
    const type = (bytes[off]! << 8) | bytes[off + 1]!;
    const len = (bytes[off + 2]! << 8) | bytes[off + 3]!;
    if (off + 4 + len > bytes.length) {
      return fail('truncated-extension', off + 2, `extension 0x${type.toString(16).padStart(4, '0')} claims ${len} data octets, ${left - 4} remain`);
    }
    extensions.push({ type, data: bytes.slice(off + 4, off + 4 + len) });
    off += 4 + len;
  }
  return {
    ok: true,
    value: {
      modifier: bytes.slice(0, 16),
      subnetPrefix: bytes.slice(16, 24),
      collisionCount: bytes[24]!,
      publicKey: bytes.slice(CGA_FIXED_LEN, spki.end),
      extensions,
    },
  };
}

/** Octets `emitCgaParameters` writes. */
export function cgaParametersLength(p: CgaParameters): number {
  let n = CGA_FIXED_LEN + p.publicKey.length;
  for (const e of p.extensions) n += 4 + e.data.length;
  return n;
}

/**
 * Emits CGA Parameters. Throws `CryptoError('bad-key')` when a field does not fit its
 * width; the Public Key is copied as given (not re-checked), so emitting a malformed key
 * produces bytes `parseCgaParameters` rejects.
 */
export function emitCgaParameters(p: CgaParameters): Uint8Array {
  if (p.modifier.length !== CGA_MODIFIER_LEN) throw new CryptoError('bad-key', `Modifier must be 16 octets, got ${p.modifier.length}`);
  if (p.subnetPrefix.length !== CGA_SUBNET_PREFIX_LEN) throw new CryptoError('bad-key', `Subnet Prefix must be 8 octets, got ${p.subnetPrefix.length}`);
  if (!Number.isInteger(p.collisionCount) || p.collisionCount < 0 || p.collisionCount > 255) {
    throw new CryptoError('bad-key', `Collision Count must be an integer in 0..255, got ${p.collisionCount}`);
  }
  for (const e of p.extensions) {
    if (!Number.isInteger(e.type) || e.type < 0 || e.type > 0xffff) throw new CryptoError('bad-key', `Extension Type must be 16 bits, got ${e.type}`);
    if (e.data.length > 0xffff) throw new CryptoError('bad-key', `Extension Data of ${e.data.length} octets exceeds 65535`);
  }
  const out = new Uint8Array(cgaParametersLength(p));
  out.set(p.modifier, 0);
  out.set(p.subnetPrefix, CGA_SUBNET_PREFIX_OFFSET);
  out[CGA_COLLISION_COUNT_OFFSET] = p.collisionCount;
  out.set(p.publicKey, CGA_FIXED_LEN);
  let off = CGA_FIXED_LEN + p.publicKey.length;
  for (const e of p.extensions) {
    out[off] = e.type >>> 8;
    out[off + 1] = e.type & 0xff;
    out[off + 2] = e.data.length >>> 8;
    out[off + 3] = e.data.length & 0xff;
    out.set(e.data, off + 4);
    off += 4 + e.data.length;
  }
  return out;
}

/**
 * Checks that `spki` is exactly one SubjectPublicKeyInfo as the parser accepts it; for
 * generation inputs. Returns a reason, or undefined when it is well formed.
 */
export function checkPublicKeyDer(spki: Uint8Array): string | undefined {
  const r = readSpki(spki, 0, spki.length);
  if (!r.ok) return r.error.message;
  if (r.end !== spki.length) return `${spki.length - r.end} octets after the SubjectPublicKeyInfo`;
  return undefined;
}
