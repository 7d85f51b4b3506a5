/**
 * RFC 3972 Appendix A, "Example of CGA Generation", reproduced step by step: Sec=1,
 * subnet prefix fe80::, the 384-bit RSA key printed there, start modifier
 * 89a8a8b2e858d8b8f2633f44d2d4ce9a. Every hex value below is copied from the RFC text
 * (/work/shared/rfc/rfc3972.txt, Appendix A, pages 20-21).
 */
import { describe, expect, it } from 'vitest';
import { cgaHash1, cgaHash2, generateCga, hash2HasZeroBits, hash2InputOf, jsModifierSearch, verifyCga } from '../../src/crypto/cga.js';
import { emitCgaParameters, parseCgaParameters } from '../../src/crypto/cga-params.js';
import { parseIpv6 } from '../../src/wire/address.js';
import { hex, NO_RANDOM, PROVIDERS, RFC3972_PUBLIC_KEY, toHex } from './cga.util.js';

const START_MODIFIER = hex('89a8 a8b2 e858 d8b8 f263 3f44 d2d4 ce9a');
const FINAL_MODIFIER = hex('89a8 a8b2 e858 d8b8 f263 3f44 d2d4 ce9b');
const SUBNET_PREFIX = hex('fe80 0000 0000 0000');

/** "The input to Hash2 is:" (first attempt). */
const HASH2_INPUT_1 = hex('89a8 a8b2 e858 d8b8 f263 3f44 d2d4 ce9a 0000 0000 0000 0000 00', toHex(RFC3972_PUBLIC_KEY));
/** "The new input to Hash2 is:" */
const HASH2_INPUT_2 = hex('89a8 a8b2 e858 d8b8 f263 3f44 d2d4 ce9b 0000 0000 0000 0000 00', toHex(RFC3972_PUBLIC_KEY));
/** "The input to Hash1 is:" — also the final CGA Parameters. */
const HASH1_INPUT = hex('89a8 a8b2 e858 d8b8 f263 3f44 d2d4 ce9b fe80 0000 0000 0000 00', toHex(RFC3972_PUBLIC_KEY));

const ADDRESS = parseIpv6('fe80::3c4a:5bf6:ffb4:ca6c')!;

describe.each(PROVIDERS)('RFC 3972 Appendix A ($name provider)', (provider) => {
  it('the first Hash2 is 436b 9a70 dbfd dbf1 926e 6e66 29c0 and fails Sec=1', () => {
    const draft = emitCgaParameters({ modifier: START_MODIFIER, subnetPrefix: SUBNET_PREFIX, collisionCount: 0, publicKey: RFC3972_PUBLIC_KEY, extensions: [] });
    expect(toHex(hash2InputOf(draft))).toBe(toHex(HASH2_INPUT_1));
    const h2 = cgaHash2(provider, draft);
    expect(toHex(h2)).toBe('436b9a70dbfddbf1926e6e6629c0');
    expect(hash2HasZeroBits(h2, 1)).toBe(false);
  });

  it('after one increment Hash2 is 0000 01ca 680b 8388 8d09 12df fcce and passes Sec=1', () => {
    const h2 = provider.sha1(HASH2_INPUT_2).slice(0, 14);
    expect(toHex(h2)).toBe('000001ca680b83888d0912dffcce');
    expect(hash2HasZeroBits(h2, 1)).toBe(true);
  });

  it('Hash1 is fd4a 5bf6 ffb4 ca6c', () => {
    expect(toHex(cgaHash1(provider, HASH1_INPUT))).toBe('fd4a5bf6ffb4ca6c');
  });

  it('generation from the same inputs yields fe80::3c4a:5bf6:ffb4:ca6c and the Hash1 input as parameters', async () => {
    const g = await generateCga({ provider, random: NO_RANDOM, subnetPrefix: SUBNET_PREFIX, publicKey: RFC3972_PUBLIC_KEY, sec: 1, modifier: START_MODIFIER });
    expect(toHex(g.params.modifier)).toBe(toHex(FINAL_MODIFIER));
    expect(toHex(g.paramsBytes)).toBe(toHex(HASH1_INPUT));
    expect(toHex(g.address)).toBe(toHex(ADDRESS));
    expect(g.collisionCount).toBe(0);
    expect(g.sec).toBe(1);
  });

  it('the JS modifier search finds the same modifier after two hashes', async () => {
    const progress: number[] = [];
    const found = await jsModifierSearch(provider).search({ hash2Input: HASH2_INPUT_1, sec: 1 }, { onProgress: (n) => progress.push(n) });
    expect(toHex(found)).toBe(toHex(FINAL_MODIFIER));
    expect(progress).toEqual([2]);
  });

  it('the address verifies against its parameters with Sec=1', () => {
    const r = verifyCga(provider, ADDRESS, HASH1_INPUT);
    expect(r).toMatchObject({ valid: true, sec: 1 });
    const parsed = parseCgaParameters(HASH1_INPUT);
    expect(parsed.ok && toHex(parsed.value.publicKey)).toBe(toHex(RFC3972_PUBLIC_KEY));
  });
});
