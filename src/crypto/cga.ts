/**
 * Cryptographically Generated Addresses: Hash1 and Hash2 (RFC 3972 §3), generation
 * (RFC 3972 §4, steps 1-9) and verification (RFC 3972 §5, steps 1-7), with the Sec
 * registry of RFC 4982 §6 (Sec 0, 1, 2, all SHA-1).
 *
 * Generation is `async` because the modifier search (steps 2-3) costs about 2^(16*Sec)
 * hashes: Sec 0 skips it; Sec 1 runs it here synchronously (about 65,536 hashes) unless a
 * `ModifierSearch` is injected; Sec 2 and above need an injected one (the native search,
 * or `jsModifierSearch`).
 *
 * Verification runs every step of §5 in order and stops at the first failure, naming it.
 * Step 4 ignores the three Sec bits and the u/g bits (bits 6 and 7) of the interface
 * identifier. Sec 3-7 have no registered generation procedure (RFC 4982 §6) and fail at
 * step 5 with 'unregistered-sec' unless the caller opts in; then RFC 3972's SHA-1 rule
 * applies to them unchanged.
 *
 * Leaves out: duplicate address detection (step 8 is the caller's: on a collision it calls
 * `cgaFromParameters` with the same modifier and the collision count plus one, up to 2),
 * and CGA signatures (RFC 3972 §6, in `signature.ts`).
 *
 * Deviation: generation re-checks a modifier returned by an injected search (one SHA-1)
 * and throws `CryptoError('bad-key')` if it does not satisfy Hash2, so a faulty native
 * search cannot yield an address that fails verification.
 */
import { checkPublicKeyDer, CGA_FIXED_LEN, CGA_SUBNET_PREFIX_OFFSET, emitCgaParameters, parseCgaParameters, type CgaExtension, type CgaParameters, type CgaParamsError } from './cga-params.js';
import { CryptoError, type CryptoProvider, type RandomSource } from './provider.js';

/** What a modifier search needs (RFC 3972 §4 steps 2-3). */
export interface ModifierSearchRequest {
  /** modifier(16) || 9 zero octets || public key || extension fields; the modifier at offset 0 is the start value. */
  readonly hash2Input: Uint8Array;
  /** Hash2 must start with 16*sec zero bits. */
  readonly sec: number;
}

export interface ModifierSearchOptions {
  /** Aborting it rejects the search with `CryptoError('cancelled')`. */
  readonly signal?: AbortSignal;
  /** Called between chunks with the number of hashes tried so far. */
  readonly onProgress?: (hashesTried: number) => void;
}

export interface ModifierSearch {
  /** Resolves to the 16-octet modifier found. */
  search(req: ModifierSearchRequest, opts?: ModifierSearchOptions): Promise<Uint8Array>;
}

/** Length of Hash1 (64 bits) and Hash2 (112 bits) in octets (RFC 3972 §3). */
export const HASH1_LEN = 8;
export const HASH2_LEN = 14;

/** Hashes per chunk of `jsModifierSearch` between a progress report, a signal check and a yield. */
export const JS_SEARCH_CHUNK = 65536;

/** The Sec values with a registered generation procedure (RFC 4982 §6). */
export function isRegisteredSec(sec: number): boolean {
  return sec === 0 || sec === 1 || sec === 2;
}

function checkSec(sec: number): void {
  if (!Number.isInteger(sec) || sec < 0 || sec > 7) throw new CryptoError('unsupported', `Sec is a 3-bit value (0..7), got ${sec}`);
}

/**
 * True when the 16*sec leftmost bits of `hash` are zero (RFC 3972 §4 step 3, §5 step 7).
 * `hash` may be Hash2 (14 octets) or the full SHA-1 value; Sec 0 is always true.
 */
export function hash2HasZeroBits(hash: Uint8Array, sec: number): boolean {
  checkSec(sec);
  const n = 2 * sec;
  if (hash.length < n) throw new CryptoError('bad-key', `a hash of ${hash.length} octets cannot hold ${16 * sec} bits`);
  for (let i = 0; i < n; i++) if (hash[i] !== 0) return false;
  return true;
}

/** Hash1: the 64 leftmost bits of SHA-1 over the whole CGA Parameters (RFC 3972 §3). */
export function cgaHash1(provider: CryptoProvider, paramsBytes: Uint8Array): Uint8Array {
  return provider.sha1(paramsBytes).slice(0, HASH1_LEN);
}

/**
 * The Hash2 input: the CGA Parameters with the subnet prefix and collision count set to
 * zero, i.e. modifier || 9 zero octets || public key || extension fields (RFC 3972 §3).
 */
export function hash2InputOf(paramsBytes: Uint8Array): Uint8Array {
  const input = paramsBytes.slice();
  input.fill(0, CGA_SUBNET_PREFIX_OFFSET, CGA_FIXED_LEN);
  return input;
}

/** Hash2: the 112 leftmost bits of SHA-1 over `hash2InputOf(paramsBytes)` (RFC 3972 §3). */
export function cgaHash2(provider: CryptoProvider, paramsBytes: Uint8Array): Uint8Array {
  return provider.sha1(hash2InputOf(paramsBytes)).slice(0, HASH2_LEN);
}

/** Adds one to the 128-bit big-endian modifier in `b[0..16)`, wrapping at 2^128. */
function incrementModifier(b: Uint8Array): void {
  for (let i = 15; i >= 0; i--) {
    b[i] = (b[i]! + 1) & 0xff;
    if (b[i] !== 0) return;
  }
}

/**
 * Steps 2-3 for at most `count` modifiers, in place on `input` (a Hash2 input). Returns
 * how many hashes were tried before success, or -1 when none of `count` succeeded; the
 * modifier left in `input` is then the next one to try.
 */
function searchSteps(provider: CryptoProvider, input: Uint8Array, sec: number, count: number): number {
  for (let i = 0; i < count; i++) {
    if (hash2HasZeroBits(provider.sha1(input), sec)) return i + 1;
    incrementModifier(input);
  }
  return -1;
}

function checkSearchRequest(req: ModifierSearchRequest): void {
  checkSec(req.sec);
  const input = req.hash2Input;
  if (input.length < CGA_FIXED_LEN) throw new CryptoError('bad-key', `a Hash2 input has at least ${CGA_FIXED_LEN} octets, got ${input.length}`);
  for (let i = CGA_SUBNET_PREFIX_OFFSET; i < CGA_FIXED_LEN; i++) {
    if (input[i] !== 0) throw new CryptoError('bad-key', 'a Hash2 input has 9 zero octets after the modifier');
  }
}

/**
 * The modifier search in plain single-threaded JavaScript: increments the modifier as a
 * 128-bit big-endian integer from the start value until Hash2 has 16*Sec leading zero
 * bits. Between chunks of `JS_SEARCH_CHUNK` hashes it reports progress, checks the signal
 * and yields with `await Promise.resolve()`. That yield lets other promise callbacks run
 * but not timers or I/O (src/crypto may not schedule macrotasks), so an abort from a
 * timer is seen only by a search running in a worker; Sec 2 takes about 2^32 hashes and
 * belongs in the native search.
 */
export function jsModifierSearch(provider: CryptoProvider): ModifierSearch {
  return {
    async search(req: ModifierSearchRequest, opts?: ModifierSearchOptions): Promise<Uint8Array> {
      checkSearchRequest(req);
      const input = req.hash2Input.slice();
      let tried = 0;
      for (;;) {
        if (opts?.signal?.aborted === true) throw new CryptoError('cancelled', 'modifier search cancelled');
        const found = searchSteps(provider, input, req.sec, JS_SEARCH_CHUNK);
        if (found >= 0) {
          opts?.onProgress?.(tried + found);
          return input.slice(0, 16);
        }
        tried += JS_SEARCH_CHUNK;
        opts?.onProgress?.(tried);
        await Promise.resolve();
      }
    },
  };
}

export interface CgaGenerateOptions {
  readonly provider: CryptoProvider;
  /** Source of the initial modifier (step 1) unless `modifier` is given. */
  readonly random: RandomSource;
  /** The 64-bit subnet prefix. */
  readonly subnetPrefix: Uint8Array;
  /** DER SubjectPublicKeyInfo. */
  readonly publicKey: Uint8Array;
  readonly sec: number;
  /** Extension fields (RFC 4581), hashed and carried after the public key. */
  readonly extensions?: readonly CgaExtension[];
  /** Step 4 starts from this count (0, 1 or 2) instead of 0: for a retry after a collision. */
  readonly collisionCount?: number;
  /** The search for Sec >= 1; required for Sec >= 2. Without it Sec 1 searches synchronously here. */
  readonly search?: ModifierSearch;
  readonly searchOptions?: ModifierSearchOptions;
  /** Start value of the modifier instead of 16 random octets (RFC 3972 §4: an old modifier MAY be reused). */
  readonly modifier?: Uint8Array;
  /** Accept Sec 3-7 (no registered procedure, RFC 4982 §6); they then use RFC 3972's SHA-1 rule. */
  readonly allowUnregisteredSec?: boolean;
}

export interface CgaGenerated {
  readonly address: Uint8Array;
  readonly params: CgaParameters;
  readonly paramsBytes: Uint8Array;
  readonly sec: number;
  readonly collisionCount: number;
}

/**
 * Steps 5-7 and 9 from final parameters: Hash1 over the structure, Sec into the three
 * leftmost bits, u/g bits cleared, prefixed by the subnet prefix. Used after a collision
 * (step 8) and by HBA-set generation (RFC 5535 §6 step 6).
 */
export function cgaFromParameters(provider: CryptoProvider, params: CgaParameters, sec: number): CgaGenerated {
  checkSec(sec);
  if (params.collisionCount > 2) throw new CryptoError('bad-key', `Collision Count must be 0, 1 or 2 (RFC 3972 §4 step 8), got ${params.collisionCount}`);
  const paramsBytes = emitCgaParameters(params);
  const hash1 = cgaHash1(provider, paramsBytes);
  const address = new Uint8Array(16);
  address.set(params.subnetPrefix, 0);
  address.set(hash1, 8);
  address[8] = (sec << 5) | (hash1[0]! & 0x1c);
  return { address, params, paramsBytes, sec, collisionCount: params.collisionCount };
}

/** Generates a CGA (RFC 3972 §4). Throws `CryptoError` for unusable inputs or a cancelled search. */
export async function generateCga(opts: CgaGenerateOptions): Promise<CgaGenerated> {
  const { provider, sec } = opts;
  checkSec(sec);
  if (!isRegisteredSec(sec) && opts.allowUnregisteredSec !== true) {
    throw new CryptoError('unsupported', `Sec ${sec} has no registered generation procedure (RFC 4982 §6: only 0, 1, 2)`);
  }
  if (opts.subnetPrefix.length !== 8) throw new CryptoError('bad-key', `the subnet prefix must be 8 octets, got ${opts.subnetPrefix.length}`);
  const keyProblem = checkPublicKeyDer(opts.publicKey);
  if (keyProblem !== undefined) throw new CryptoError('bad-key', `the public key is not a DER SubjectPublicKeyInfo: ${keyProblem}`);
  const collisionCount = opts.collisionCount ?? 0;
  if (!Number.isInteger(collisionCount) || collisionCount < 0 || collisionCount > 2) {
    throw new CryptoError('bad-key', `Collision Count must be 0, 1 or 2, got ${collisionCount}`);
  }
  if (sec >= 2 && opts.search === undefined) {
    throw new CryptoError('unsupported', `Sec ${sec} needs an injected ModifierSearch (about 2^${16 * sec} hashes)`);
  }
  // Step 1.
  const start = opts.modifier ?? opts.random.bytes(16);
  if (start.length !== 16) throw new CryptoError('bad-key', `the modifier must be 16 octets, got ${start.length}`);
  const draft: CgaParameters = {
    modifier: start,
    subnetPrefix: opts.subnetPrefix,
    collisionCount: 0,
    publicKey: opts.publicKey,
    extensions: opts.extensions ?? [],
  };
  // Steps 2-3.
  let modifier: Uint8Array = start.slice();
  if (sec > 0) {
    const input = hash2InputOf(emitCgaParameters(draft));
    if (opts.search !== undefined) {
      modifier = await opts.search.search({ hash2Input: input, sec }, opts.searchOptions);
      if (modifier.length !== 16) throw new CryptoError('bad-key', `the injected modifier search returned ${modifier.length} octets, not 16`);
      input.set(modifier, 0);
      if (!hash2HasZeroBits(provider.sha1(input), sec)) {
        throw new CryptoError('bad-key', 'the injected modifier search returned a modifier that does not satisfy Hash2');
      }
    } else {
      searchSteps(provider, input, sec, Infinity);
      modifier = input.slice(0, 16);
    }
  }
  // Steps 4-7 and 9.
  return cgaFromParameters(provider, { ...draft, modifier, collisionCount }, sec);
}

export const CgaVerifyFailureReason = {
  /** The address is not 16 octets. */
  BadAddress: 'bad-address',
  /** The CGA Parameters do not parse (see `paramsError`). */
  BadParams: 'bad-params',
  /** Step 1: Collision Count not 0, 1 or 2. */
  CollisionCount: 'collision-count',
  /** Step 2: subnet prefix differs from the address's leftmost 64 bits. */
  PrefixMismatch: 'prefix-mismatch',
  /** Steps 3-4: Hash1 differs from the interface identifier outside the five ignored bits. */
  Hash1Mismatch: 'hash1-mismatch',
  /** Step 5: Sec 3-7, not in the RFC 4982 §6 registry, and the caller did not opt in. */
  UnregisteredSec: 'unregistered-sec',
  /** Steps 6-7: the 16*Sec leftmost bits of Hash2 are not all zero. */
  Hash2ZeroBits: 'hash2-zero-bits',
} as const;
export type CgaVerifyFailureReason = (typeof CgaVerifyFailureReason)[keyof typeof CgaVerifyFailureReason];

export type CgaVerifyResult =
  | { readonly valid: true; readonly sec: number; readonly params: CgaParameters }
  | {
      readonly valid: false;
      readonly reason: CgaVerifyFailureReason;
      /** The RFC 3972 §5 step that failed; 0 for input that never reaches step 1. */
      readonly step: number;
      /** Set when `reason` is 'bad-params'. */
      readonly paramsError?: CgaParamsError;
    };

export interface CgaVerifyOptions {
  /** Verify Sec 3-7 with RFC 3972's SHA-1 rule instead of failing at step 5. */
  readonly allowUnregisteredSec?: boolean;
}

/** Verifies that `address` is the CGA of `paramsBytes` (RFC 3972 §5). Never throws. */
export function verifyCga(provider: CryptoProvider, address: Uint8Array, paramsBytes: Uint8Array, opts?: CgaVerifyOptions): CgaVerifyResult {
  if (address.length !== 16) return { valid: false, reason: 'bad-address', step: 0 };
  const parsed = parseCgaParameters(paramsBytes);
  if (!parsed.ok) return { valid: false, reason: 'bad-params', step: 0, paramsError: parsed.error };
  const params = parsed.value;
  // Step 1.
  if (params.collisionCount > 2) return { valid: false, reason: 'collision-count', step: 1 };
  // Step 2.
  for (let i = 0; i < 8; i++) {
    if (paramsBytes[CGA_SUBNET_PREFIX_OFFSET + i] !== address[i]) return { valid: false, reason: 'prefix-mismatch', step: 2 };
  }
  // Steps 3-4: ignore the Sec bits (0xe0) and the u/g bits (0x03) of the first IID octet.
  const hash1 = cgaHash1(provider, paramsBytes);
  if ((hash1[0]! & 0x1c) !== (address[8]! & 0x1c)) return { valid: false, reason: 'hash1-mismatch', step: 4 };
  for (let i = 1; i < 8; i++) {
    if (hash1[i] !== address[8 + i]) return { valid: false, reason: 'hash1-mismatch', step: 4 };
  }
  // Step 5.
  const sec = address[8]! >>> 5;
  if (!isRegisteredSec(sec) && opts?.allowUnregisteredSec !== true) return { valid: false, reason: 'unregistered-sec', step: 5 };
  // Steps 6-7 (skipped for Sec 0, where they cannot fail).
  if (sec > 0 && !hash2HasZeroBits(cgaHash2(provider, paramsBytes), sec)) return { valid: false, reason: 'hash2-zero-bits', step: 7 };
  return { valid: true, sec, params };
}
