/**
 * Hash-Based Addresses (RFC 5535): the Multi-Prefix CGA extension (§5, Extension Type
 * 0x0012 per §10), HBA-set generation (§6) and HBA verification (§7.1 and §7.2), built
 * on `cga.ts` because an HBA is a CGA whose parameters carry the Multi-Prefix extension.
 *
 * Multi-Prefix extension, as RFC 4581 §2 extension field: Extension Type 0x0012,
 * Extension Data Length = n*8 + 4 (§6 step 1), then the Extension Data: one 32-bit word
 * whose top bit is the P flag (set when the Public Key field holds a real public key) and
 * whose other 31 bits are Reserved (sent as zero, ignored on receipt), then n 64-bit
 * prefixes.
 *
 * HBA-only sets (no public key). §6 step 2 draws a 384-bit random "Extended Modifier" and
 * encodes it "as an RSA key" in a DER SubjectPublicKeyInfo with algorithm rsaEncryption and
 * an RSAPublicKey (RFC 3279 §2.3.1), but does not say which RSAPublicKey field holds it.
 * Our Public Key field is EXACTLY this DER (`hbaExtendedModifierKey`):
 *
 *   SEQUENCE {                                   -- SubjectPublicKeyInfo
 *     SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }  -- rsaEncryption, NULL parameters (RFC 3279 §2.3.1)
 *     BIT STRING (0 unused bits) {
 *       SEQUENCE {                               -- RSAPublicKey
 *         INTEGER modulus = the 48 Extended Modifier octets read as an unsigned big-endian
 *                           integer, in minimal DER: leading zero octets dropped, one 0x00
 *                           octet prefixed when the top bit is set (49 octets with that
 *                           0x00, 48 without, fewer only if leading octets are zero)
 *         INTEGER publicExponent = 65537 (02 03 01 00 01)
 *       } } }
 *
 * All lengths are short-form, so the field is 77 octets (78 when the modifier's top bit
 * is set, one less per leading zero octet dropped). The exponent is our choice
 * (the RFC names none); verifiers never look inside the key, they only hash it. The random
 * source is read twice, in §6 order: 16 octets of Modifier, then 48 of Extended Modifier.
 *
 * Leaves out: duplicate address detection (§6 step 6.4; every address gets collision
 * count 0, and a caller that detects a collision recomputes that one address with
 * `cgaFromParameters`), Sec 3-7 (§6 and §7 are only valid for Sec 0, 1, 2), and the
 * dynamic address sets of §8.1 (a policy on top of this module).
 *
 * Verification (§7.2 step 1) overwrites the received Subnet Prefix field with the
 * address's prefix, so that field's value never matters to set membership; §7.1 (exact
 * binding) is `verifyHbaBinding`.
 *
 * Deviations: a Multi-Prefix extension with no prefixes, or a second Multi-Prefix
 * extension in one structure, is rejected as 'bad-multi-prefix' (the RFC defines neither
 * and both make set membership ambiguous or empty); generation rejects repeated prefixes.
 */
import { cgaFromParameters, generateCga, verifyCga, type CgaVerifyFailureReason, type ModifierSearch, type ModifierSearchOptions } from './cga.js';
import { CGA_SUBNET_PREFIX_OFFSET, parseCgaParameters, type CgaExtension, type CgaParameters, type CgaParamsError } from './cga-params.js';
import { bytesToBigInt, encodeBitString, encodeNull, encodeOid, encodeSequence, encodeUnsignedInteger, Oid } from './der.js';
import { CryptoError, type CryptoProvider, type RandomSource } from './provider.js';

/** CGA Extension Type of the Multi-Prefix extension (RFC 5535 §10). */
export const MULTI_PREFIX_EXTENSION_TYPE = 0x0012;
/** Length of the Extended Modifier in octets (384 bits, RFC 5535 §6 step 2). */
export const EXTENDED_MODIFIER_LEN = 48;
/** Most prefixes one Multi-Prefix extension can carry (Extension Data Length is 16 bits). */
export const MULTI_PREFIX_MAX = (0xffff - 4) >>> 3;

export interface MultiPrefixExtension {
  /** P flag: the Public Key field holds a real public key (CGA-compatible set). */
  readonly publicKeyIncluded: boolean;
  /** Prefix[1..n], 8 octets each. */
  readonly prefixes: readonly Uint8Array[];
}

/** Extension Data of a Multi-Prefix extension (RFC 5535 §5): flags word, then the prefixes. */
export function emitMultiPrefixData(m: MultiPrefixExtension): Uint8Array {
  if (m.prefixes.length === 0 || m.prefixes.length > MULTI_PREFIX_MAX) {
    throw new CryptoError('bad-key', `a Multi-Prefix extension holds 1..${MULTI_PREFIX_MAX} prefixes, got ${m.prefixes.length}`);
  }
  const out = new Uint8Array(4 + 8 * m.prefixes.length);
  out[0] = m.publicKeyIncluded ? 0x80 : 0;
  m.prefixes.forEach((p, i) => {
    if (p.length !== 8) throw new CryptoError('bad-key', `prefix ${i + 1} must be 8 octets, got ${p.length}`);
    out.set(p, 4 + 8 * i);
  });
  return out;
}

export type MultiPrefixParsed = { readonly ok: true; readonly value: MultiPrefixExtension } | { readonly ok: false; readonly message: string };

/** Parses Multi-Prefix Extension Data; Reserved bits are ignored (RFC 5535 §5). */
export function parseMultiPrefixData(data: Uint8Array): MultiPrefixParsed {
  if (data.length < 12 || (data.length - 4) % 8 !== 0) {
    return { ok: false, message: `Multi-Prefix Ext Len must be n*8+4 with n >= 1, got ${data.length}` };
  }
  const prefixes: Uint8Array[] = [];
  for (let off = 4; off < data.length; off += 8) prefixes.push(data.slice(off, off + 8));
  return { ok: true, value: { publicKeyIncluded: (data[0]! & 0x80) !== 0, prefixes } };
}

/**
 * The single Multi-Prefix extension among `extensions`: undefined when there is none, an
 * error when there are two or its length is wrong.
 */
export function findMultiPrefix(extensions: readonly CgaExtension[]): MultiPrefixParsed | undefined {
  const found = extensions.filter((e) => e.type === MULTI_PREFIX_EXTENSION_TYPE);
  if (found.length === 0) return undefined;
  if (found.length > 1) return { ok: false, message: `${found.length} Multi-Prefix extensions in one CGA Parameters structure` };
  return parseMultiPrefixData(found[0]!.data);
}

/** The Public Key field of an HBA-only set for a 384-bit Extended Modifier (see the module comment). */
export function hbaExtendedModifierKey(extendedModifier: Uint8Array): Uint8Array {
  if (extendedModifier.length !== EXTENDED_MODIFIER_LEN) {
    throw new CryptoError('bad-key', `the Extended Modifier is ${EXTENDED_MODIFIER_LEN} octets, got ${extendedModifier.length}`);
  }
  return encodeSequence(
    encodeSequence(encodeOid(Oid.RsaEncryption), encodeNull()),
    encodeBitString(encodeSequence(encodeUnsignedInteger(bytesToBigInt(extendedModifier)), encodeUnsignedInteger(65537))),
  );
}

export interface HbaGenerateOptions {
  readonly provider: CryptoProvider;
  readonly random: RandomSource;
  /** The n /64 prefixes, 8 octets each, in the order of Prefix[1..n]. */
  readonly prefixes: readonly Uint8Array[];
  /** 0, 1 or 2 (RFC 5535 §6). */
  readonly sec: number;
  /** DER SubjectPublicKeyInfo for a CGA-compatible set; absent for an HBA-only set. */
  readonly publicKey?: Uint8Array;
  /** Needed for Sec 2 (see `generateCga`). */
  readonly search?: ModifierSearch;
  readonly searchOptions?: ModifierSearchOptions;
}

export interface HbaSet {
  /** HBA[i] for Prefix[i]. */
  readonly addresses: readonly Uint8Array[];
  /** The CGA Parameters of HBA[i]: same modifier, key and extension, Subnet Prefix = Prefix[i]. */
  readonly params: readonly CgaParameters[];
  readonly paramsBytes: readonly Uint8Array[];
  readonly sec: number;
  readonly multiPrefix: MultiPrefixExtension;
  /** The 48 random octets behind the Public Key field of an HBA-only set. */
  readonly extendedModifier?: Uint8Array;
}

/** Generates an HBA set (RFC 5535 §6 steps 1-6). Throws `CryptoError` for unusable inputs. */
export async function generateHbaSet(opts: HbaGenerateOptions): Promise<HbaSet> {
  const { provider, random, prefixes, sec } = opts;
  if (sec !== 0 && sec !== 1 && sec !== 2) throw new CryptoError('unsupported', `HBA generation is defined for Sec 0, 1, 2 only (RFC 5535 §6), got ${sec}`);
  const seen = new Set<string>();
  for (const p of prefixes) {
    const k = Array.from(p).join(',');
    if (seen.has(k)) throw new CryptoError('bad-key', 'the prefix set repeats a prefix');
    seen.add(k);
  }
  // Step 1.
  const multiPrefix: MultiPrefixExtension = { publicKeyIncluded: opts.publicKey !== undefined, prefixes: prefixes.map((p) => p.slice()) };
  const extension: CgaExtension = { type: MULTI_PREFIX_EXTENSION_TYPE, data: emitMultiPrefixData(multiPrefix) };
  // Step 2.
  const modifier = random.bytes(16);
  const extendedModifier = opts.publicKey === undefined ? random.bytes(EXTENDED_MODIFIER_LEN) : undefined;
  const publicKey = opts.publicKey ?? hbaExtendedModifierKey(extendedModifier!);
  // Steps 3-5 and 6 for Prefix[1].
  const first = await generateCga({
    provider,
    random,
    subnetPrefix: multiPrefix.prefixes[0]!,
    publicKey,
    sec,
    extensions: [extension],
    modifier,
    ...(opts.search === undefined ? {} : { search: opts.search }),
    ...(opts.searchOptions === undefined ? {} : { searchOptions: opts.searchOptions }),
  });
  // Step 6 for Prefix[2..n]: the same final modifier, key and extension.
  const all = [first];
  for (const p of multiPrefix.prefixes.slice(1)) all.push(cgaFromParameters(provider, { ...first.params, subnetPrefix: p }, sec));
  return {
    addresses: all.map((g) => g.address),
    params: all.map((g) => g.params),
    paramsBytes: all.map((g) => g.paramsBytes),
    sec,
    multiPrefix,
    ...(extendedModifier === undefined ? {} : { extendedModifier }),
  };
}

export const HbaVerifyFailureReason = {
  /** The CGA Parameters carry no Multi-Prefix extension. */
  NoMultiPrefix: 'no-multi-prefix',
  /** The Multi-Prefix extension is malformed or repeated. */
  BadMultiPrefix: 'bad-multi-prefix',
  /** §7.2 step 1: the address's prefix is not in the set. */
  PrefixNotInSet: 'prefix-not-in-set',
} as const;
export type HbaVerifyFailureReason = (typeof HbaVerifyFailureReason)[keyof typeof HbaVerifyFailureReason] | CgaVerifyFailureReason;

export type HbaVerifyResult =
  | {
      readonly valid: true;
      readonly sec: number;
      /** The parameters as received (their Subnet Prefix may be another member's). */
      readonly params: CgaParameters;
      readonly multiPrefix: MultiPrefixExtension;
      /** Zero-based index of the address's prefix in Prefix[1..n]. */
      readonly prefixIndex: number;
    }
  | {
      readonly valid: false;
      readonly reason: HbaVerifyFailureReason;
      /** RFC 5535 §7.2 step: 0 before the procedure (parsing), 1 (set membership), 2 (CGA verification). */
      readonly step: number;
      /** For step 2: the RFC 3972 §5 step that failed (RFC 5535 §7.2 steps 2.1-2.7). */
      readonly cgaStep?: number;
      readonly paramsError?: CgaParamsError;
      readonly message?: string;
    };

/**
 * Verifies that `address` belongs to the HBA set of `paramsBytes` (RFC 5535 §7.2): its
 * prefix is in the Multi-Prefix extension and, with the Subnet Prefix replaced by it, the
 * CGA verification of RFC 3972 §5 succeeds (Sec 0-2 only, per §7). Never throws.
 */
export function verifyHba(provider: CryptoProvider, address: Uint8Array, paramsBytes: Uint8Array): HbaVerifyResult {
  if (address.length !== 16) return { valid: false, reason: 'bad-address', step: 0 };
  const parsed = parseCgaParameters(paramsBytes);
  if (!parsed.ok) return { valid: false, reason: 'bad-params', step: 0, paramsError: parsed.error };
  const mp = findMultiPrefix(parsed.value.extensions);
  if (mp === undefined) return { valid: false, reason: 'no-multi-prefix', step: 0 };
  if (!mp.ok) return { valid: false, reason: 'bad-multi-prefix', step: 0, message: mp.message };
  // Step 1.
  const prefixIndex = mp.value.prefixes.findIndex((p) => p.every((b, i) => b === address[i]));
  if (prefixIndex < 0) return { valid: false, reason: 'prefix-not-in-set', step: 1 };
  const substituted = paramsBytes.slice();
  substituted.set(address.subarray(0, 8), CGA_SUBNET_PREFIX_OFFSET);
  // Step 2 (2.1-2.7 are RFC 3972 §5 steps 1-7).
  const r = verifyCga(provider, address, substituted);
  if (!r.valid) return { valid: false, reason: r.reason, step: 2, cgaStep: r.step };
  return { valid: true, sec: r.sec, params: parsed.value, multiPrefix: mp.value, prefixIndex };
}

/**
 * RFC 5535 §7.1: `address` is exactly the HBA of `paramsBytes` (plain CGA verification,
 * which also binds a CGA-compatible set's public key to it), and the structure is an HBA
 * one (it has a well-formed Multi-Prefix extension listing the address's prefix).
 */
export function verifyHbaBinding(provider: CryptoProvider, address: Uint8Array, paramsBytes: Uint8Array): HbaVerifyResult {
  const r = verifyCga(provider, address, paramsBytes);
  if (!r.valid) {
    return r.paramsError === undefined
      ? { valid: false, reason: r.reason, step: 2, cgaStep: r.step }
      : { valid: false, reason: r.reason, step: 0, paramsError: r.paramsError };
  }
  const mp = findMultiPrefix(r.params.extensions);
  if (mp === undefined) return { valid: false, reason: 'no-multi-prefix', step: 0 };
  if (!mp.ok) return { valid: false, reason: 'bad-multi-prefix', step: 0, message: mp.message };
  const prefixIndex = mp.value.prefixes.findIndex((p) => p.every((b, i) => b === address[i]));
  if (prefixIndex < 0) return { valid: false, reason: 'prefix-not-in-set', step: 1 };
  return { valid: true, sec: r.sec, params: r.params, multiPrefix: mp.value, prefixIndex };
}
