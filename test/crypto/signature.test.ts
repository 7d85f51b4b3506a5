/**
 * src/crypto/signature.ts: the Shim6 CGA Signature (RFC 5533 §5.15.5). The signed octets
 * are the Shim6 CGA Message Type tag, the 32-bit big-endian Locator List Generation, then
 * the CGA locators in list order (README "Conformance notes" item 4). The fixed RSA
 * signature comes from the OpenSSL CLI vector file (see its "source" field).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyAlgorithm, type CryptoProvider } from '../../src/crypto/provider.js';
import { locatorListSignedData, signLocatorList, verifyLocatorListSignature, type SignedLocator } from '../../src/crypto/signature.js';
import { verificationMethodCodes, type VerificationMethodProfile } from '../../src/wire/verification-method.js';
import { ALGORITHMS, hex, keyPair, PROVIDERS, RSA_OPENSSL_VECTORS, toHex } from './signing.util.js';

const TAG_HEX = '4a3056624858574b3655416f506a6d48'; // RFC 5533 §5.15.5 item 1
const A1 = hex('20010db8000000000000000000000001');
const A2 = hex('20010db8000000000000000000000099');
const A3 = hex('20010db8000100000000000000000002');

const PROFILES: readonly VerificationMethodProfile[] = ['table4', 'iana'];

/** [2001:db8::1 CGA, 2001:db8::99 HBA, 2001:db8:1::2 CGA] under `profile`. */
function sampleLocators(profile: VerificationMethodProfile): SignedLocator[] {
  const { CGA, HBA } = verificationMethodCodes(profile);
  return [
    { address: A1, verificationMethod: CGA },
    { address: A2, verificationMethod: HBA },
    { address: A3, verificationMethod: CGA },
  ];
}

describe.each(PROFILES)('profile %s', (profile) => {
  it('signs exactly tag || generation (32-bit BE) || CGA locators in list order', () => {
    const data = locatorListSignedData(7, sampleLocators(profile), profile);
    expect(toHex(data)).toBe(TAG_HEX + '00000007' + toHex(A1) + toHex(A3));
    expect(toHex(locatorListSignedData(0xdeadbeef, sampleLocators(profile), profile).subarray(16, 20))).toBe('deadbeef');
  });

  it('with no CGA locator, signs just tag || generation', () => {
    const { HBA } = verificationMethodCodes(profile);
    const data = locatorListSignedData(1, [{ address: A1, verificationMethod: HBA }, { address: A2, verificationMethod: 0 }], profile);
    expect(toHex(data)).toBe(TAG_HEX + '00000001');
  });

  it('reproduces the OpenSSL CLI signature over the same octets', () => {
    const v = RSA_OPENSSL_VECTORS.vectors.find((x) => x.name.startsWith('Shim6'))!;
    expect(toHex(locatorListSignedData(7, sampleLocators(profile), profile))).toBe(v.message);
    for (const provider of PROVIDERS) {
      expect(toHex(signLocatorList(provider, hex(RSA_OPENSSL_VECTORS.pkcs8), 7, sampleLocators(profile), profile))).toBe(v.signature);
      expect(verifyLocatorListSignature(provider, hex(RSA_OPENSSL_VECTORS.spki), 7, sampleLocators(profile), hex(v.signature), profile)).toBe(true);
    }
  });

  describe.each(PROVIDERS)('signed by $name', (signer: CryptoProvider) => {
    describe.each(PROVIDERS)('verified by $name', (verifier: CryptoProvider) => {
      it.each(ALGORITHMS)('%s', (alg) => {
        const { spki, pkcs8 } = keyPair(alg);
        const locs = sampleLocators(profile);
        const sig = signLocatorList(signer, pkcs8, 42, locs, profile);
        expect(verifyLocatorListSignature(verifier, spki, 42, locs, sig, profile)).toBe(true);
      });
    });
  });

  describe.each(PROVIDERS)('tampering is detected ($name)', (provider: CryptoProvider) => {
    const { spki, pkcs8 } = keyPair(KeyAlgorithm.Rsa);
    const locs = sampleLocators(profile);
    const sig = signLocatorList(provider, pkcs8, 42, locs, profile);
    const verify = (l: readonly SignedLocator[], gen = 42, p: VerificationMethodProfile = profile): boolean =>
      verifyLocatorListSignature(provider, spki, gen, l, sig, p);
    const { CGA, HBA } = verificationMethodCodes(profile);

    it('accepts the untouched list', () => {
      expect(verify(locs)).toBe(true);
    });

    it('a CGA locator changed in any bit', () => {
      for (let bit = 0; bit < 128; bit++) {
        const a = A3.slice();
        a[bit >>> 3]! ^= 0x80 >>> (bit & 7);
        expect(verify([locs[0]!, locs[1]!, { address: a, verificationMethod: CGA }])).toBe(false);
      }
    });

    it('CGA locators reordered', () => {
      expect(verify([locs[2]!, locs[1]!, locs[0]!])).toBe(false);
    });

    it('a method flipped CGA → HBA or HBA → CGA', () => {
      expect(verify([{ address: A1, verificationMethod: HBA }, locs[1]!, locs[2]!])).toBe(false);
      expect(verify([locs[0]!, { address: A2, verificationMethod: CGA }, locs[2]!])).toBe(false);
    });

    it('a CGA locator dropped or added', () => {
      expect(verify([locs[0]!, locs[1]!])).toBe(false);
      expect(verify([...locs, { address: A2, verificationMethod: CGA }])).toBe(false);
    });

    it('another generation number', () => {
      expect(verify(locs, 43)).toBe(false);
      expect(verify(locs, 42 + 2 ** 24)).toBe(false);
    });

    it('the peer using the other verification method profile', () => {
      expect(verify(locs, 42, profile === 'table4' ? 'iana' : 'table4')).toBe(false);
    });

    it('HBA locators are not covered (§5.15.5 signs only the CGA subset)', () => {
      expect(verify([locs[0]!, { address: A1, verificationMethod: HBA }, locs[2]!])).toBe(true);
      expect(verify([locs[1]!, locs[0]!, locs[2]!])).toBe(true);
    });
  });
});

describe('verifyLocatorListSignature never throws', () => {
  const { spki } = keyPair(KeyAlgorithm.Rsa);
  it('on bad generations and locators', () => {
    const sig = new Uint8Array(128);
    for (const provider of PROVIDERS) {
      expect(verifyLocatorListSignature(provider, spki, -1, [], sig, 'table4')).toBe(false);
      expect(verifyLocatorListSignature(provider, spki, 2 ** 32, [], sig, 'table4')).toBe(false);
      expect(verifyLocatorListSignature(provider, spki, 1.5, [], sig, 'table4')).toBe(false);
      expect(verifyLocatorListSignature(provider, spki, 1, [{ address: new Uint8Array(4), verificationMethod: 2 }], sig, 'table4')).toBe(false);
    }
  });

  it('on arbitrary input', () => {
    const locator = fc.record({ address: fc.uint8Array({ minLength: 15, maxLength: 17 }), verificationMethod: fc.integer({ min: 0, max: 255 }) });
    fc.assert(
      fc.property(
        fc.constantFrom(...PROVIDERS),
        fc.oneof(fc.constant(spki), fc.uint8Array({ maxLength: 200 })),
        fc.integer({ min: -5, max: 2 ** 33 }),
        fc.array(locator, { maxLength: 4 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom(...PROFILES),
        (provider, key, gen, locs, sig, profile) => {
          expect(verifyLocatorListSignature(provider, key, gen, locs, sig, profile)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('signLocatorList refuses a bad generation or locator by throwing', () => {
    const { pkcs8 } = keyPair(KeyAlgorithm.Ed25519);
    expect(() => signLocatorList(PROVIDERS[0]!, pkcs8, -1, [], 'table4')).toThrow();
    expect(() => signLocatorList(PROVIDERS[0]!, pkcs8, 1, [{ address: new Uint8Array(15), verificationMethod: 2 }], 'table4')).toThrow(/16 octets/);
  });
});
