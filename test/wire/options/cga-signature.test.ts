/**
 * CGA Signature option, type 5 (RFC 5533 §5.15.5), and the octets it signs: the Shim6
 * CGA Message Type tag 0x4A30 5662 4858 574B 3655 416F 506A 6D48 (§5.15.5, §17), the
 * Locator List Generation number (32-bit big-endian, as in the Locator List option), then
 * the locators whose verification method is CGA, in list order.
 */
import { describe, expect, it } from 'vitest';
import { cgaSignedData, SHIM6_CGA_MESSAGE_TYPE_TAG, verificationMethodCodes, type CgaSignatureOption } from '../../../src/wire/index.js';
import { ADDR_A1, ADDR_A2, ADDR_B1, ADDR_B2, concat, describeNotListed, emitOptionArea, expectErr, expectOk, hex, parseOptionArea } from '../vectors.js';

/** The Shim6 tag as printed in RFC 5533 §17. */
const TAG_FROM_RFC = hex('4A30 5662 4858 574B 3655 416F 506A 6D48');

const SIG_12 = hex('0102 0304 0506 0708 090a 0b0c');
const VECTOR_12 = hex(
  '000a', // Type 5, C=0
  '000c', // Length 12
  '0102 0304 0506 0708 090a 0b0c', // CGA Signature; 4 + 12 = 16, so no padding
);

describe('CGA Signature option (RFC 5533 §5.15.5)', () => {
  it('a 12-octet signature takes exactly 16 octets (no padding)', () => {
    const o: CgaSignatureOption = { kind: 'CgaSignature', critical: false, signature: SIG_12 };
    expect(expectOk(parseOptionArea(VECTOR_12))).toEqual([o]);
    expect(emitOptionArea([o])).toEqual(VECTOR_12);
  });

  it('a 10-octet signature is padded with 2 zero octets', () => {
    const v = hex(
      '000b', // Type 5, C=1
      '000a', // Length 10
      'ffee ddcc bbaa 9988 7766', // CGA Signature
      '0000', // Padding: 7 - (13 mod 8) = 2
    );
    const o: CgaSignatureOption = { kind: 'CgaSignature', critical: true, signature: hex('ffeeddccbbaa99887766') };
    expect(expectOk(parseOptionArea(v))).toEqual([o]);
    expect(emitOptionArea([o])).toEqual(v);
  });

  it('a 128-octet (RSA-1024) signature is padded with 4 zero octets to 136', () => {
    const sig = new Uint8Array(128).map((_, i) => (i * 7 + 3) & 0xff);
    const v = concat(
      hex('000a'), // Type 5, C=0
      hex('0080'), // Length 128
      sig, // CGA Signature
      hex('0000 0000'), // Padding: 7 - (131 mod 8) = 4
    );
    const o: CgaSignatureOption = { kind: 'CgaSignature', critical: false, signature: sig };
    expect(expectOk(parseOptionArea(v))).toEqual([o]);
    expect(emitOptionArea([o])).toEqual(v);
  });

  it('every truncation fails as option-truncated', () => {
    const v = VECTOR_12;
    for (let n = 1; n < v.length; n++) expect(expectErr(parseOptionArea(v.slice(0, n))).reason).toBe('option-truncated');
  });

  it('SHIM6_CGA_MESSAGE_TYPE_TAG is the tag of RFC 5533 §17', () => {
    expect(SHIM6_CGA_MESSAGE_TYPE_TAG).toEqual(TAG_FROM_RFC);
  });
});

describe('cgaSignedData (RFC 5533 §5.15.5)', () => {
  const { HBA, CGA } = verificationMethodCodes('table4');
  const locators = [
    { address: ADDR_A1, verificationMethod: HBA },
    { address: ADDR_A2, verificationMethod: CGA },
    { address: ADDR_B1, verificationMethod: HBA },
    { address: ADDR_B2, verificationMethod: CGA },
  ];

  it('is tag || generation (32-bit big-endian) || the CGA locators in list order', () => {
    const out = cgaSignedData(0x0102_0304, locators, (m) => m === CGA);
    expect(out).toEqual(concat(
      TAG_FROM_RFC, // CGA Message Type tag
      hex('0102 0304'), // Locator List Generation
      ADDR_A2, // second locator (CGA)
      ADDR_B2, // fourth locator (CGA)
    ));
  });

  it('keeps list order, not address order', () => {
    const reversed = [locators[3]!, locators[1]!];
    const out = cgaSignedData(1, reversed, (m) => m === CGA);
    expect(out.subarray(20)).toEqual(concat(ADDR_B2, ADDR_A2));
  });

  it('with no CGA locators it is just the tag and the generation', () => {
    const out = cgaSignedData(0xffff_fffe, locators, () => false);
    expect(out).toEqual(concat(TAG_FROM_RFC, hex('ffff fffe')));
  });

  it('uses the caller’s notion of CGA, so the IANA profile (1 = CGA) selects the other locators', () => {
    const iana = verificationMethodCodes('iana');
    expect(iana.CGA).toBe(1);
    const out = cgaSignedData(7, locators, (m) => m === iana.CGA);
    expect(out).toEqual(concat(TAG_FROM_RFC, hex('0000 0007'), ADDR_A1, ADDR_B1));
  });
});

describeNotListed('CGA Signature', 5, VECTOR_12);

describe('cgaSignedData: input checks', () => {
  it('refuses a generation number that does not fit 32 bits, and a locator that is not 16 octets', () => {
    const isCga = (m: number): boolean => m === 2;
    expect(() => cgaSignedData(2 ** 32, [], isCga)).toThrow(/Generation/);
    expect(() => cgaSignedData(-1, [], isCga)).toThrow(/Generation/);
    expect(() => cgaSignedData(1, [{ address: new Uint8Array(15), verificationMethod: 2 }], isCga)).toThrow(/16 octets/);
    expect(cgaSignedData(0xffff_ffff, [], isCga).subarray(16)).toEqual(hex('ffff ffff'));
  });
});
