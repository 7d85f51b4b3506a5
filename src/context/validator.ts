/**
 * Responder Validators (RFC 5533 §5.15.1, §7.10.1, §7.17.1): the responder keeps no
 * per-initiator state before a valid I2 or I2bis, so R1 and R1bis carry a validator the
 * responder can recompute, and the Responder Nonce is a counter C that ticks every
 * `validatorNoncePeriodMs`, which lets the responder check the nonce's age.
 *
 * Validator = HMAC-SHA-256(S_epoch, input) truncated to 128 bits, where S_epoch is the
 * secret of the period in which the nonce was issued. Secrets rotate every
 * `validatorSecretLifetimeMs` and come from the injected random source; the current and
 * previous secrets are kept, which covers every nonce younger than
 * VALIDATOR_MIN_LIFETIME (`resolveConfig` enforces that). A nonce is recent when it is at
 * most ceil(VALIDATOR_MIN_LIFETIME / period) ticks old (§7.13: "no older than
 * VALIDATOR_MIN_LIFETIME SHOULD be considered recent").
 *
 * Inputs (a one-octet domain label keeps the two kinds apart):
 * - R1 (§7.10.1): nonce, Initiator Context Tag, the ULIDs, the locators, the FII.
 *   The Initiator Nonce is left out: §7.11 lets the I2 carry a different one.
 * - R1bis (§7.17.1): nonce, the Receiver Context Tag of the triggering packet, its locators.
 *
 * State (the secrets) changes only with time and randomness passed in; there is no clock.
 */
import type { CryptoProvider, RandomSource } from '../crypto/provider.js';
import { writeU32 } from '../wire/bytes.js';
import { VALIDATOR_LEN, VALIDATOR_SECRET_LEN, type ContextConfig } from './constants.js';

const SHA256_BLOCK = 64;
const LABEL_R1 = 1;
const LABEL_R1BIS = 2;

/** HMAC-SHA-256 (RFC 2104) over the injected provider's SHA-256. */
export function hmacSha256(provider: CryptoProvider, key: Uint8Array, data: Uint8Array): Uint8Array {
  const k = key.length > SHA256_BLOCK ? provider.sha256(key) : key;
  const inner = new Uint8Array(SHA256_BLOCK + data.length);
  const outer = new Uint8Array(SHA256_BLOCK + 32);
  for (let i = 0; i < SHA256_BLOCK; i++) {
    const b = k[i] ?? 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
  inner.set(data, SHA256_BLOCK);
  outer.set(provider.sha256(inner), SHA256_BLOCK);
  return provider.sha256(outer);
}

export interface R1ValidatorInput {
  readonly initiatorContextTag: number;
  readonly ulidInitiator: Uint8Array;
  readonly ulidResponder: Uint8Array;
  /** Source and destination of the I1 (and later of the I2). */
  readonly locInitiator: Uint8Array;
  readonly locResponder: Uint8Array;
  readonly fii: number;
}

export interface R1bisValidatorInput {
  /** The Receiver Context Tag of the triggering packet (the Packet Context Tag of the R1bis). */
  readonly packetContextTag: number;
  /** Source and destination of the triggering packet (and later of the I2bis). */
  readonly locInitiator: Uint8Array;
  readonly locResponder: Uint8Array;
}

export type ValidatorCheck = 'ok' | 'stale' | 'mismatch';

function writeTag(b: Uint8Array, off: number, tag: number): void {
  const hi = Math.floor(tag / 2 ** 32);
  b[off] = (hi >>> 8) & 0xff;
  b[off + 1] = hi & 0xff;
  writeU32(b, off + 2, tag >>> 0);
}

function r1Input(nonce: number, v: R1ValidatorInput): Uint8Array {
  const b = new Uint8Array(1 + 4 + 6 + 64 + 4);
  b[0] = LABEL_R1;
  writeU32(b, 1, nonce);
  writeTag(b, 5, v.initiatorContextTag);
  b.set(v.ulidInitiator, 11);
  b.set(v.ulidResponder, 27);
  b.set(v.locInitiator, 43);
  b.set(v.locResponder, 59);
  writeU32(b, 75, v.fii);
  return b;
}

function r1bisInput(nonce: number, v: R1bisValidatorInput): Uint8Array {
  const b = new Uint8Array(1 + 4 + 6 + 32);
  b[0] = LABEL_R1BIS;
  writeU32(b, 1, nonce);
  writeTag(b, 5, v.packetContextTag);
  b.set(v.locInitiator, 11);
  b.set(v.locResponder, 27);
  return b;
}

/** Constant-time comparison of two validators. */
function sameValidator(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** The responder's validator secrets and nonce counter (one per host, not per context). */
export class ResponderValidators {
  readonly #provider: CryptoProvider;
  readonly #random: RandomSource;
  readonly #periodMs: number;
  readonly #secretLifetimeMs: number;
  readonly #maxAgeTicks: number;
  /** Random offset of the counter, so nonces do not reveal the clock. */
  readonly #base: number;
  #epoch = -1;
  #current: Uint8Array | undefined;
  #previous: Uint8Array | undefined;

  constructor(provider: CryptoProvider, random: RandomSource, config: Pick<ContextConfig, 'validatorNoncePeriodMs' | 'validatorSecretLifetimeMs' | 'validatorMinLifetimeMs'>) {
    this.#provider = provider;
    this.#random = random;
    this.#periodMs = config.validatorNoncePeriodMs;
    this.#secretLifetimeMs = config.validatorSecretLifetimeMs;
    this.#maxAgeTicks = Math.ceil(config.validatorMinLifetimeMs / config.validatorNoncePeriodMs);
    const r = random.bytes(4);
    this.#base = ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0;
  }

  /** The counter C at `now`: the Responder Nonce to hand out (§7.10.1). */
  nonce(now: number): number {
    return (this.#base + this.#tick(now)) >>> 0;
  }

  r1(now: number, input: R1ValidatorInput): { readonly responderNonce: number; readonly validator: Uint8Array } {
    const responderNonce = this.nonce(now);
    return { responderNonce, validator: this.#mac(this.#secretFor(this.#tick(now), now)!, r1Input(responderNonce, input)) };
  }

  r1bis(now: number, input: R1bisValidatorInput): { readonly responderNonce: number; readonly validator: Uint8Array } {
    const responderNonce = this.nonce(now);
    return { responderNonce, validator: this.#mac(this.#secretFor(this.#tick(now), now)!, r1bisInput(responderNonce, input)) };
  }

  /** Checks an I2's Responder Nonce and Validator (§7.13). */
  checkI2(now: number, responderNonce: number, validator: Uint8Array, input: R1ValidatorInput): ValidatorCheck {
    return this.#check(now, responderNonce, validator, (n) => r1Input(n, input));
  }

  /** Checks an I2bis's Responder Nonce and Validator (§7.20). */
  checkI2bis(now: number, responderNonce: number, validator: Uint8Array, input: R1bisValidatorInput): ValidatorCheck {
    return this.#check(now, responderNonce, validator, (n) => r1bisInput(n, input));
  }

  #check(now: number, nonce: number, validator: Uint8Array, input: (n: number) => Uint8Array): ValidatorCheck {
    const nowTick = this.#tick(now);
    const age = (this.nonce(now) - nonce) >>> 0;
    if (age > this.#maxAgeTicks || age > nowTick) return 'stale';
    const secret = this.#secretFor(nowTick - age, now);
    if (secret === undefined) return 'mismatch';
    return sameValidator(this.#mac(secret, input(nonce)), validator) ? 'ok' : 'mismatch';
  }

  #tick(now: number): number {
    return Math.floor(now / this.#periodMs);
  }

  /** The secret of the epoch containing `tick`, rotating first if `now` entered a new epoch. */
  #secretFor(tick: number, now: number): Uint8Array | undefined {
    const nowEpoch = Math.floor(now / this.#secretLifetimeMs);
    if (nowEpoch !== this.#epoch) {
      this.#previous = nowEpoch === this.#epoch + 1 ? this.#current : undefined;
      this.#current = this.#random.bytes(VALIDATOR_SECRET_LEN);
      this.#epoch = nowEpoch;
    }
    const epoch = Math.floor((tick * this.#periodMs) / this.#secretLifetimeMs);
    if (epoch === this.#epoch) return this.#current;
    if (epoch === this.#epoch - 1) return this.#previous;
    return undefined;
  }

  #mac(secret: Uint8Array, data: Uint8Array): Uint8Array {
    return hmacSha256(this.#provider, secret, data).subarray(0, VALIDATOR_LEN);
  }
}
