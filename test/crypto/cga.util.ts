/**
 * Shared fixtures for the CGA/HBA tests (test/crypto/cga*.test.ts, hba, locator
 * verification): both crypto providers, hex helpers, a seeded `RandomSource` and the
 * RSA key of RFC 3972 Appendix A.
 *
 * `seededRandom` is written here on node:crypto's SHA-256 (not through either provider),
 * so the vectors generated with it do not depend on the code under test: block i of the
 * stream is SHA-256(utf8(seed) || ":" || decimal i), and `bytes(n)` takes the next n
 * octets of the stream.
 */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { CryptoError, type CryptoProvider, type RandomSource } from '../../src/crypto/provider.js';
import { nobleCryptoProvider } from '../../src/crypto/provider-noble.js';
import { nodeCryptoProvider } from '../../src/crypto/provider-node.js';
import { fromHex, toHex } from '../../src/wire/bytes.js';

export { toHex };

/** Every vector runs through both providers. */
export const PROVIDERS: readonly CryptoProvider[] = [nodeCryptoProvider, nobleCryptoProvider];

/** Hex (whitespace ignored) to bytes; throws on bad hex (test data only). */
export function hex(...parts: string[]): Uint8Array {
  const b = fromHex(parts.join(''));
  if (b === undefined) throw new Error(`bad hex in test data: ${parts.join('').slice(0, 24)}...`);
  return b;
}

/** A deterministic RandomSource (see the module comment). */
export function seededRandom(seed: string): RandomSource {
  let buf = new Uint8Array(0);
  let block = 0;
  return {
    bytes(n: number): Uint8Array {
      while (buf.length < n) {
        const next = createHash('sha256').update(`${seed}:${block++}`).digest();
        const joined = new Uint8Array(buf.length + next.length);
        joined.set(buf, 0);
        joined.set(next, buf.length);
        buf = joined;
      }
      const out = buf.slice(0, n);
      buf = buf.slice(n);
      return out;
    },
  };
}

/** A RandomSource that must not be used. */
export const NO_RANDOM: RandomSource = {
  bytes(): Uint8Array {
    throw new Error('randomness was not expected here');
  },
};

/** The 384-bit RSA SubjectPublicKeyInfo of RFC 3972 Appendix A, copied from the RFC text. */
export const RFC3972_PUBLIC_KEY = hex(
  '305c 300d 0609 2a86 4886 f70d 0101 0105 0003 4b00 3048 0241',
  '00c2 c2f1 3730 5454 f10b d9ce a368 44b5 30e9 211a 4b26 2b16',
  '467c b7df ba1f 595c 0194 f275 be5a 4d38 6f2c 3c23 8250 8773',
  'c786 7f9b 3b9e 63a0 9c7b c48f 7a54 ebef af02 0301 0001',
);

/** A copy of `b` with bit `bit` (0 = most significant bit of octet 0) inverted. */
export function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const out = b.slice();
  out[bit >>> 3] ^= 0x80 >>> (bit & 7);
  return out;
}

/** A /64 prefix from its first four 16-bit groups written as hex. */
export function prefix64(text: string): Uint8Array {
  return hex(text.replace(/:/g, ''));
}

/**
 * An independent reference for RFC 3972 §5 on node:crypto (no code under test): true when
 * `address` is a CGA of `params` with the Sec in its address, assuming `params` parse.
 */
export function referenceCgaValid(address: Uint8Array, params: Uint8Array): boolean {
  if (params[24]! > 2) return false;
  for (let i = 0; i < 8; i++) if (params[16 + i] !== address[i]) return false;
  const h1 = createHash('sha1').update(params).digest();
  if ((h1[0]! & 0x1c) !== (address[8]! & 0x1c)) return false;
  for (let i = 1; i < 8; i++) if (h1[i] !== address[8 + i]) return false;
  const sec = address[8]! >>> 5;
  if (sec > 2) return false;
  const h2in = Uint8Array.from(params);
  h2in.fill(0, 16, 25);
  const h2 = createHash('sha1').update(h2in).digest();
  for (let i = 0; i < 2 * sec; i++) if (h2[i] !== 0) return false;
  return true;
}

/** Awaits `p` (or calls it) and checks that it fails with a `CryptoError` of `code`. */
export async function expectCryptoError(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(CryptoError);
    expect((e as CryptoError).code).toBe(code);
    return;
  }
  throw new Error(`expected CryptoError ${code}`);
}
