/**
 * Responder Validators (RFC 5533 §5.15.1, §7.10.1, §7.17.1; checks of §7.13 and §7.20)
 * and the HMAC-SHA-256 they are built on (RFC 2104), checked against RFC 4231:
 * §4.2 (Test Case 1), §4.3 (Test Case 2) and §4.7 (Test Case 6, a key longer than the
 * 64-octet block), and against node:crypto's HMAC for random keys and data.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { resolveConfig } from '../../src/context/constants.js';
import { hmacSha256, ResponderValidators, type R1bisValidatorInput, type R1ValidatorInput } from '../../src/context/validator.js';
import type { RandomSource } from '../../src/crypto/provider.js';
import { fromHex } from '../../src/wire/bytes.js';
import { hostA, hostB, provider, seededRandom, STRANGER } from './env.util.js';

const CONFIG = resolveConfig();
const PERIOD = CONFIG.validatorNoncePeriodMs;
const MIN_LIFETIME = CONFIG.validatorMinLifetimeMs;
const SECRET_LIFETIME = CONFIG.validatorSecretLifetimeMs;

/** A RandomSource that counts the 32-octet secrets drawn from it. */
function counting(seed: string): RandomSource & { secrets: number } {
  const inner = seededRandom(seed);
  const r = {
    secrets: 0,
    bytes(n: number): Uint8Array {
      if (n === 32) r.secrets++;
      return inner.bytes(n);
    },
  };
  return r;
}

const R1_INPUT: R1ValidatorInput = {
  initiatorContextTag: 0x1234_5678_9abc,
  ulidInitiator: hostA.ulid,
  ulidResponder: hostB.ulid,
  locInitiator: hostA.alt,
  locResponder: hostB.alt,
  fii: 0,
};

const R1BIS_INPUT: R1bisValidatorInput = { packetContextTag: 0x0b00_0000_0001, locInitiator: hostA.alt, locResponder: hostB.alt };

/** Issue times at several phases of a nonce period. */
const ISSUED = [0, 1, 2_500, PERIOD - 1].map((d) => 1_000_000 + d);

describe('R1 validators (§7.10.1, §7.13)', () => {
  test('ok within VALIDATOR_MIN_LIFETIME, whatever the phase of the nonce counter', () => {
    const v = new ResponderValidators(provider, seededRandom('r1-ok'), CONFIG);
    for (const t of ISSUED) {
      const { responderNonce, validator } = v.r1(t, R1_INPUT);
      expect(validator).toHaveLength(16);
      for (const age of [0, 1, PERIOD, MIN_LIFETIME - 1, MIN_LIFETIME]) {
        expect(v.checkI2(t + age, responderNonce, validator, R1_INPUT)).toBe('ok');
      }
    }
  });

  test('stale after VALIDATOR_MIN_LIFETIME (at the latest one nonce period later)', () => {
    const v = new ResponderValidators(provider, seededRandom('r1-stale'), CONFIG);
    for (const t of ISSUED) {
      const { responderNonce, validator } = v.r1(t, R1_INPUT);
      for (const age of [MIN_LIFETIME + PERIOD, MIN_LIFETIME + 2 * PERIOD, 10 * MIN_LIFETIME]) {
        expect(v.checkI2(t + age, responderNonce, validator, R1_INPUT)).toBe('stale');
      }
    }
  });

  test('a Responder Nonce not yet issued is stale, not a match', () => {
    const v = new ResponderValidators(provider, seededRandom('r1-future'), CONFIG);
    const t = 1_000_000;
    const { responderNonce, validator } = v.r1(t, R1_INPUT);
    expect(v.checkI2(t, (responderNonce + 1) >>> 0, validator, R1_INPUT)).toBe('stale');
  });

  test('the Responder Nonce is the counter C: one tick per VALIDATOR_NONCE_PERIOD', () => {
    const v = new ResponderValidators(provider, seededRandom('r1-counter'), CONFIG);
    const t = 1_000_000;
    expect(v.nonce(t + PERIOD - 1)).toBe(v.nonce(t));
    expect(v.nonce(t + PERIOD)).toBe((v.nonce(t) + 1) >>> 0);
    expect(v.r1(t + 7 * PERIOD, R1_INPUT).responderNonce).toBe((v.nonce(t) + 7) >>> 0);
  });

  test.each([
    ['Initiator Context Tag', { initiatorContextTag: R1_INPUT.initiatorContextTag + 1 }],
    ['ULID of the initiator', { ulidInitiator: STRANGER }],
    ['ULID of the responder', { ulidResponder: STRANGER }],
    ['locator of the initiator', { locInitiator: hostA.ulid }],
    ['locator of the responder', { locResponder: hostB.ulid }],
    ['Forked Instance Identifier', { fii: 1 }],
  ] as const)("'mismatch' when the %s differs", (_, change) => {
    const v = new ResponderValidators(provider, seededRandom('r1-fields'), CONFIG);
    const t = 1_000_000;
    const { responderNonce, validator } = v.r1(t, R1_INPUT);
    expect(v.checkI2(t + 10, responderNonce, validator, { ...R1_INPUT, ...change })).toBe('mismatch');
  });

  test("'mismatch' for any changed validator octet, a shorter validator, or another recent nonce", () => {
    const v = new ResponderValidators(provider, seededRandom('r1-bytes'), CONFIG);
    const t = 1_000_000;
    const { responderNonce, validator } = v.r1(t, R1_INPUT);
    for (let i = 0; i < validator.length; i++) {
      const w = validator.slice();
      w[i]! ^= 0x80;
      expect(v.checkI2(t, responderNonce, w, R1_INPUT)).toBe('mismatch');
    }
    expect(v.checkI2(t, responderNonce, validator.subarray(0, 15), R1_INPUT)).toBe('mismatch');
    // A recent nonce other than the one the validator was made with: the previous and the next tick.
    expect(v.checkI2(t, (responderNonce - 1) >>> 0, validator, R1_INPUT)).toBe('mismatch');
    expect(v.checkI2(t + PERIOD, (responderNonce + 1) >>> 0, validator, R1_INPUT)).toBe('mismatch');
  });

  test('another host (another secret) does not accept the validator', () => {
    const t = 1_000_000;
    const v1 = new ResponderValidators(provider, seededRandom('host-1'), CONFIG);
    const v2 = new ResponderValidators(provider, seededRandom('host-2'), CONFIG);
    const { responderNonce, validator } = v1.r1(t, R1_INPUT);
    expect(v2.checkI2(t, responderNonce, validator, R1_INPUT)).not.toBe('ok');
  });
});

describe('R1bis validators (§7.17.1, §7.20)', () => {
  test('ok within VALIDATOR_MIN_LIFETIME, stale after', () => {
    const v = new ResponderValidators(provider, seededRandom('r1bis'), CONFIG);
    for (const t of ISSUED) {
      const { responderNonce, validator } = v.r1bis(t, R1BIS_INPUT);
      expect(v.checkI2bis(t + MIN_LIFETIME, responderNonce, validator, R1BIS_INPUT)).toBe('ok');
      expect(v.checkI2bis(t + MIN_LIFETIME + PERIOD, responderNonce, validator, R1BIS_INPUT)).toBe('stale');
    }
  });

  test.each([
    ['Packet Context Tag', { packetContextTag: R1BIS_INPUT.packetContextTag + 1 }],
    ['locator of the initiator', { locInitiator: STRANGER }],
    ['locator of the responder', { locResponder: STRANGER }],
  ] as const)("'mismatch' when the %s differs", (_, change) => {
    const v = new ResponderValidators(provider, seededRandom('r1bis-fields'), CONFIG);
    const t = 1_000_000;
    const { responderNonce, validator } = v.r1bis(t, R1BIS_INPUT);
    expect(v.checkI2bis(t, responderNonce, validator, { ...R1BIS_INPUT, ...change })).toBe('mismatch');
  });

  test('an R1 validator is not an R1bis validator for the same locators (domain separation)', () => {
    const v = new ResponderValidators(provider, seededRandom('domains'), CONFIG);
    const t = 1_000_000;
    const { responderNonce, validator } = v.r1(t, { ...R1_INPUT, initiatorContextTag: R1BIS_INPUT.packetContextTag });
    expect(v.checkI2bis(t, responderNonce, validator, R1BIS_INPUT)).toBe('mismatch');
  });
});

describe('secret rotation', () => {
  test('secret rotation keeps recent nonces valid across one rotation', () => {
    const random = counting('rotation');
    const v = new ResponderValidators(provider, random, CONFIG);
    const epochEnd = 20 * SECRET_LIFETIME;
    const t = epochEnd - 1_000;
    const { responderNonce, validator } = v.r1(t, R1_INPUT);
    expect(random.secrets).toBe(1);
    expect(v.checkI2(epochEnd + 1_000, responderNonce, validator, R1_INPUT)).toBe('ok');
    // The secret did rotate: a second one was drawn.
    expect(random.secrets).toBe(2);
    expect(v.checkI2(t + MIN_LIFETIME, responderNonce, validator, R1_INPUT)).toBe('ok');
    // New validators use the new secret and are accepted too.
    const fresh = v.r1(epochEnd + 2_000, R1_INPUT);
    expect(v.checkI2(epochEnd + 3_000, fresh.responderNonce, fresh.validator, R1_INPUT)).toBe('ok');
    expect(random.secrets).toBe(2);
  });

  test('a secret older than the previous one is forgotten: why resolveConfig bounds the secret lifetime', () => {
    // An unchecked configuration whose secrets live shorter than a nonce is recent.
    const short = { validatorNoncePeriodMs: 5_000, validatorSecretLifetimeMs: 10_000, validatorMinLifetimeMs: 30_000 };
    const v = new ResponderValidators(provider, seededRandom('short'), short);
    const t = 1_000_000;
    const { responderNonce, validator } = v.r1(t, R1_INPUT);
    expect(v.checkI2(t + 25_000, responderNonce, validator, R1_INPUT)).toBe('mismatch');
    expect(() => resolveConfig({ validatorSecretLifetimeMs: 10_000 })).toThrow(RangeError);
    expect(() => resolveConfig({ validatorSecretLifetimeMs: MIN_LIFETIME + PERIOD })).toThrow(/validatorSecretLifetimeMs/);
    expect(resolveConfig({ validatorSecretLifetimeMs: MIN_LIFETIME + PERIOD + 1 }).validatorSecretLifetimeMs).toBe(MIN_LIFETIME + PERIOD + 1);
  });

  test('the same seed gives the same validators (no hidden clock or randomness)', () => {
    const t = 1_000_000;
    const a = new ResponderValidators(provider, seededRandom('same'), CONFIG).r1(t, R1_INPUT);
    const b = new ResponderValidators(provider, seededRandom('same'), CONFIG).r1(t, R1_INPUT);
    expect(b).toEqual(a);
  });
});

describe('HMAC-SHA-256 (RFC 2104) over the provider', () => {
  const hex = (s: string): Uint8Array => fromHex(s.replace(/\s+/g, ''))!;
  const text = (s: string): Uint8Array => new TextEncoder().encode(s);

  test('RFC 4231 §4.2, Test Case 1', () => {
    const mac = hmacSha256(provider, new Uint8Array(20).fill(0x0b), text('Hi There'));
    expect(mac).toEqual(hex('b0344c61d8db38535ca8afceaf0bf12b 881dc200c9833da726e9376c2e32cff7'));
  });

  test('RFC 4231 §4.3, Test Case 2 (a key shorter than the output)', () => {
    const mac = hmacSha256(provider, text('Jefe'), text('what do ya want for nothing?'));
    expect(mac).toEqual(hex('5bdcc146bf60754e6a042426089575c7 5a003f089d2739839dec58b964ec3843'));
  });

  test('RFC 4231 §4.7, Test Case 6 (a 131-octet key, hashed first)', () => {
    const mac = hmacSha256(provider, new Uint8Array(131).fill(0xaa), text('Test Using Larger Than Block-Size Key - Hash Key First'));
    expect(mac).toEqual(hex('60e431591ee0b67f0d8a26aacbf5b77f 8e0bc6213728c5140546040f0ee37f54'));
  });

  test('agrees with node:crypto for random keys (0-200 octets) and data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 300 }), (key, data) => {
        const expected = createHmac('sha256', key).update(data).digest();
        expect(Buffer.from(hmacSha256(provider, key, data)).equals(expected)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
