/**
 * HBA sets (RFC 5535 §5-§7) on top of CGA.
 *
 * Both vectors use the prefixes 2001:db8:1:1::/64, 2001:db8:2:2::/64, 2001:db8:3:3::/64
 * and were produced once by `generateHbaSet` with `nodeCryptoProvider` and printed as hex:
 * - HBA-only, Sec 0, `seededRandom('shim6 hba-only vector')`: the first 16 random octets are
 *   the Modifier, the next 48 the Extended Modifier (§6 step 2 order);
 * - CGA-compatible, Sec 1, the RFC 3972 Appendix A RSA key,
 *   `seededRandom('shim6 hba cga-compatible vector')`.
 * The Multi-Prefix extension octets and the HBA-only key field below are written by hand
 * from RFC 5535 §5-§6 and RFC 3279 §2.3.1, so they check the encoder rather than echo it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyCga } from '../../src/crypto/cga.js';
import { emitCgaParameters, parseCgaParameters } from '../../src/crypto/cga-params.js';
import {
  emitMultiPrefixData,
  generateHbaSet,
  hbaExtendedModifierKey,
  MULTI_PREFIX_EXTENSION_TYPE,
  parseMultiPrefixData,
  verifyHba,
  verifyHbaBinding,
} from '../../src/crypto/hba.js';
import { CryptoError } from '../../src/crypto/provider.js';
import { expectCryptoError, flipBit, hex, prefix64, PROVIDERS, referenceCgaValid, RFC3972_PUBLIC_KEY, seededRandom, toHex } from './cga.util.js';

const PREFIXES = ['2001:0db8:0001:0001', '2001:0db8:0002:0002', '2001:0db8:0003:0003'].map(prefix64);

/** Multi-Prefix extension: Ext Type 0x0012, Ext Len 3*8+4 = 28, P flag, Reserved, Prefix[1..3]. */
const MP_HBA_ONLY = hex('0012 001c', '00000000', '20010db800010001 20010db800020002 20010db800030003');
const MP_WITH_KEY = hex('0012 001c', '80000000', '20010db800010001 20010db800020002 20010db800030003');

const EXTENDED_MODIFIER = hex('5c39e5e66db9aa76b817612f63d4cb9df65dbd16db7dc11d51551f11239638be2c3ea3dccef2d295722e9fd2a4034cf5');
/** SubjectPublicKeyInfo { rsaEncryption NULL, BIT STRING { RSAPublicKey { INTEGER em, INTEGER 65537 } } }. */
const HBA_ONLY_KEY = hex('304b', '300d 0609 2a864886f70d010101 0500', '033a 00', '3037', '0230', toHex(EXTENDED_MODIFIER), '0203 010001');

const HBA_ONLY = {
  seed: 'shim6 hba-only vector',
  sec: 0,
  addresses: ['20010db8000100010c5c53daafd3652c', '20010db80002000210972be4b43225b0', '20010db80003000318e8ad85fb8df9d0'].map((a) => hex(a)),
  params: PREFIXES.map((p) => hex('05de1be7177dfe03df8d0ecffd7f8a50', toHex(p), '00', toHex(HBA_ONLY_KEY), toHex(MP_HBA_ONLY))),
};
const CGA_COMPATIBLE = {
  seed: 'shim6 hba cga-compatible vector',
  sec: 1,
  addresses: ['20010db8000100013cde62976c3e28c4', '20010db8000200022ce02394ac44a9f9', '20010db8000300032ce9ec7a4ec71016'].map((a) => hex(a)),
  params: PREFIXES.map((p) => hex('de4b5cd51b60c02d8a927b07e50b5388', toHex(p), '00', toHex(RFC3972_PUBLIC_KEY), toHex(MP_WITH_KEY))),
};


/** `params` with its Multi-Prefix extension replaced by `ext` (whole extension field, hex). */
function withExtension(params: Uint8Array, ext: string): Uint8Array {
  return hex(toHex(params.subarray(0, params.length - MP_HBA_ONLY.length)), ext);
}

describe('Multi-Prefix extension (RFC 5535 §5)', () => {
  it('emits the P flag, 31 reserved zero bits and the prefixes; Ext Len is n*8+4', () => {
    expect(toHex(emitMultiPrefixData({ publicKeyIncluded: false, prefixes: PREFIXES }))).toBe(toHex(MP_HBA_ONLY.subarray(4)));
    expect(toHex(emitMultiPrefixData({ publicKeyIncluded: true, prefixes: PREFIXES }))).toBe(toHex(MP_WITH_KEY.subarray(4)));
    expect(MULTI_PREFIX_EXTENSION_TYPE).toBe(0x0012);
  });

  it('parses, ignoring the reserved bits', () => {
    const r = parseMultiPrefixData(hex('ffffffff', '20010db800010001'));
    expect(r.ok && r.value.publicKeyIncluded).toBe(true);
    expect(r.ok && r.value.prefixes.map(toHex)).toEqual(['20010db800010001']);
    const r0 = parseMultiPrefixData(hex('7fffffff', '20010db800010001'));
    expect(r0.ok && r0.value.publicKeyIncluded).toBe(false);
  });

  it.each([0, 4, 11, 13, 21])('rejects Extension Data of %i octets', (n) => {
    expect(parseMultiPrefixData(new Uint8Array(n)).ok).toBe(false);
  });

  it('refuses to emit an empty set or a short prefix', () => {
    expect(() => emitMultiPrefixData({ publicKeyIncluded: false, prefixes: [] })).toThrow(CryptoError);
    expect(() => emitMultiPrefixData({ publicKeyIncluded: false, prefixes: [new Uint8Array(7)] })).toThrow(CryptoError);
  });
});

describe('HBA-only key field (RFC 5535 §6 step 2)', () => {
  it('encodes the Extended Modifier as the modulus of an rsaEncryption key with exponent 65537', () => {
    expect(toHex(hbaExtendedModifierKey(EXTENDED_MODIFIER))).toBe(toHex(HBA_ONLY_KEY));
    expect(HBA_ONLY_KEY.length).toBe(77);
  });

  it('prefixes 0x00 when the top bit is set and drops leading zero octets (minimal DER INTEGER)', () => {
    const top = new Uint8Array(48).fill(0x80);
    expect(toHex(hbaExtendedModifierKey(top))).toBe(toHex(hex('304c 300d06092a864886f70d0101010500 033b00 3038 023100', '80'.repeat(48), '0203010001')));
    const lead = new Uint8Array(48).fill(0x11);
    lead[0] = 0;
    expect(toHex(hbaExtendedModifierKey(lead))).toBe(toHex(hex('304a 300d06092a864886f70d0101010500 033900 3036 022f', '11'.repeat(47), '0203010001')));
    expect(toHex(hbaExtendedModifierKey(new Uint8Array(48)))).toBe('301c300d06092a864886f70d0101010500030b003008020100020301000' + '1');
  });

  it('is accepted by the CGA Parameters parser', () => {
    const p = parseCgaParameters(HBA_ONLY.params[0]!);
    expect(p.ok && toHex(p.value.publicKey)).toBe(toHex(HBA_ONLY_KEY));
  });

  it('rejects an Extended Modifier that is not 48 octets', () => {
    expect(() => hbaExtendedModifierKey(new Uint8Array(47))).toThrow(CryptoError);
  });
});

describe.each(PROVIDERS)('HBA sets ($name provider)', (provider) => {
  describe.each([
    ['HBA-only Sec 0', HBA_ONLY, undefined],
    ['CGA-compatible Sec 1', CGA_COMPATIBLE, RFC3972_PUBLIC_KEY],
  ] as const)('%s vector', (_name, v, publicKey) => {
    it('generation reproduces it', async () => {
      const set = await generateHbaSet({ provider, random: seededRandom(v.seed), prefixes: PREFIXES, sec: v.sec, ...(publicKey ? { publicKey } : {}) });
      expect(set.addresses.map(toHex)).toEqual(v.addresses.map(toHex));
      expect(set.paramsBytes.map(toHex)).toEqual(v.params.map(toHex));
      expect(set.sec).toBe(v.sec);
      expect(set.multiPrefix.publicKeyIncluded).toBe(publicKey !== undefined);
      if (publicKey === undefined) expect(toHex(set.extendedModifier!)).toBe(toHex(EXTENDED_MODIFIER));
      else expect(set.extendedModifier).toBeUndefined();
      set.params.forEach((p, i) => expect(toHex(emitCgaParameters(p))).toBe(toHex(v.params[i]!)));
    });

    it('§7.1: each address is the CGA of its own parameters', () => {
      v.addresses.forEach((a, i) => {
        expect(referenceCgaValid(a, v.params[i]!)).toBe(true);
        expect(verifyCga(provider, a, v.params[i]!)).toMatchObject({ valid: true, sec: v.sec });
        expect(verifyHbaBinding(provider, a, v.params[i]!)).toMatchObject({ valid: true, sec: v.sec, prefixIndex: i });
      });
    });

    it('§7.2: every address belongs to the set of every member’s parameters', () => {
      v.addresses.forEach((a, i) => {
        v.params.forEach((p, j) => {
          expect(verifyHba(provider, a, p), `address ${i}, params ${j}`).toMatchObject({ valid: true, sec: v.sec, prefixIndex: i });
          if (i !== j) {
            expect(verifyCga(provider, a, p)).toMatchObject({ valid: false, reason: 'prefix-mismatch' });
            expect(verifyHbaBinding(provider, a, p)).toMatchObject({ valid: false, reason: 'prefix-mismatch' });
          }
        });
      });
    });

    it('keeps u/g variations valid', () => {
      for (const ug of [1, 2, 3]) {
        const a = v.addresses[1]!.slice();
        a[8]! |= ug;
        expect(verifyHba(provider, a, v.params[0]!)).toMatchObject({ valid: true });
      }
    });

    const a0 = v.addresses[0]!;
    const p0 = v.params[0]!;
    const cases: [string, () => [Uint8Array, Uint8Array], string][] = [
      ['a prefix outside the set', () => [hex('20010db800040004', toHex(a0.subarray(8))), p0], 'prefix-not-in-set'],
      ['a flipped modifier bit', () => [a0, flipBit(p0, 3)], 'hash1-mismatch'],
      ['a flipped interface identifier bit', () => [flipBit(a0, 90), p0], 'hash1-mismatch'],
      ['a flipped bit in the prefix set', () => [a0, flipBit(p0, (p0.length - 1) * 8)], 'hash1-mismatch'],
      ['the P flag flipped', () => [a0, flipBit(p0, (p0.length - 28) * 8)], 'hash1-mismatch'],
      ['collision count 3', () => [a0, (() => { const p = p0.slice(); p[24] = 3; return p; })()], 'collision-count'],
      ['a swapped key', () => [a0, hex(toHex(p0.subarray(0, 25)), toHex(publicKey ? HBA_ONLY_KEY : RFC3972_PUBLIC_KEY), toHex(p0.subarray(p0.length - 32)))], 'hash1-mismatch'],
      ['Sec 3 in the address', () => [(() => { const a = a0.slice(); a[8] = (a[8]! & 0x1f) | 0x60; return a; })(), p0], 'unregistered-sec'],
      ['truncated parameters', () => [a0, p0.subarray(0, p0.length - 3)], 'bad-params'],
      ['trailing bytes', () => [a0, hex(toHex(p0), '00')], 'bad-params'],
      ['a bad Multi-Prefix length (Ext Len 27)', () => [a0, withExtension(p0, '0012 001b 00000000 20010db800010001 20010db800020002 20010db8000300')], 'bad-multi-prefix'],
      ['an empty Multi-Prefix extension', () => [a0, withExtension(p0, '0012 0004 00000000')], 'bad-multi-prefix'],
      ['two Multi-Prefix extensions', () => [a0, hex(toHex(p0), toHex(MP_HBA_ONLY))], 'bad-multi-prefix'],
      ['no Multi-Prefix extension', () => [a0, p0.subarray(0, p0.length - 32)], 'no-multi-prefix'],
    ];
    it.each(cases)('rejects %s → %s', (_n, make, reason) => {
      const [a, p] = make();
      expect(verifyHba(provider, a, p)).toMatchObject({ valid: false, reason });
    });

    it('reports the RFC 3972 step inside step 2', () => {
      expect(verifyHba(provider, flipBit(a0, 90), p0)).toMatchObject({ step: 2, cgaStep: 4 });
      expect(verifyHba(provider, hex('20010db800040004', toHex(a0.subarray(8))), p0)).toMatchObject({ step: 1 });
    });
  });

  it('rejects Sec 3 and other unusable inputs', async () => {
    const base = { provider, random: seededRandom('x'), prefixes: PREFIXES };
    await expectCryptoError(generateHbaSet({ ...base, sec: 3 }), 'unsupported');
    await expectCryptoError(generateHbaSet({ ...base, sec: 2 }), 'unsupported'); // no search injected
    await expectCryptoError(generateHbaSet({ ...base, sec: 0, prefixes: [] }), 'bad-key');
    await expectCryptoError(generateHbaSet({ ...base, sec: 0, prefixes: [PREFIXES[0]!, PREFIXES[0]!] }), 'bad-key');
    await expectCryptoError(generateHbaSet({ ...base, sec: 0, prefixes: [new Uint8Array(16)] }), 'bad-key');
  });

  it('property: every generated set verifies pairwise (Sec 0, 1-4 prefixes, both kinds)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.uint8Array({ minLength: 8, maxLength: 8 }), { minLength: 1, maxLength: 4, selector: (p) => toHex(p) }),
        fc.string(),
        fc.boolean(),
        async (prefixes, seed, withKey) => {
          const set = await generateHbaSet({ provider, random: seededRandom(seed), prefixes, sec: 0, ...(withKey ? { publicKey: RFC3972_PUBLIC_KEY } : {}) });
          set.addresses.forEach((a, i) => {
            expect(referenceCgaValid(a, set.paramsBytes[i]!)).toBe(true);
            set.paramsBytes.forEach((p) => expect(verifyHba(provider, a, p)).toMatchObject({ valid: true, prefixIndex: i }));
          });
        },
      ),
      { numRuns: 30 },
    );
  });

  it('property: any single-bit change to the parameters or the address fails, except u/g and the replaced Subnet Prefix', () => {
    const v = CGA_COMPATIBLE;
    const p = v.params[2]!;
    const a = v.addresses[0]!;
    fc.assert(
      fc.property(fc.nat(p.length * 8 - 1), (bit) => {
        // §7.2 step 1 overwrites the Subnet Prefix field (bits 128-191) with the address's
        // prefix, so a change there cannot matter; everything else is hashed.
        const inSubnetPrefix = bit >= 128 && bit < 192;
        expect(verifyHba(provider, a, flipBit(p, bit)).valid).toBe(inSubnetPrefix);
      }),
      { numRuns: 200 },
    );
    for (let bit = 0; bit < 128; bit++) {
      const flipped = flipBit(a, bit);
      const r = verifyHba(provider, flipped, p);
      if (bit === 70 || bit === 71) expect(r.valid, `bit ${bit}`).toBe(true);
      else if (bit >= 64 && bit <= 66) {
        // A changed Sec either still satisfies Hash2 (e.g. Sec 0) or fails at step 2.5/2.7.
        const own = p.slice();
        own.set(flipped.subarray(0, 8), 16);
        expect(r.valid, `Sec bit ${bit}`).toBe(referenceCgaValid(flipped, own));
      } else expect(r.valid, `bit ${bit}`).toBe(false);
    }
  });
});
