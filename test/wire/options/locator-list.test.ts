/**
 * Locator List option, type 2 (RFC 5533 §5.15.2): Locator List Generation (32 bits), Num
 * Locators N (8 bits), N verification-method octets, internal zero padding so the
 * locators start on an 8-octet boundary (counted in Length), then N 128-bit locators.
 * Type 2 with C=0 is 0x0004.
 */
import { describe, expect, it } from 'vitest';
import { LOCATOR_LIST_MAX, validateOption, type LocatorListOption } from '../../../src/wire/index.js';
import { ADDR_A1, ADDR_A2, ADDR_B1, concat, describeNotListed, emitOptionArea, expectErr, expectOk, hex, parseOptionArea, zeros } from '../vectors.js';

// Two locators: 4 + roundUp8(1 + 2) + 32 = 44 = Length; 4 + 44 = 48, no end padding.
const VECTOR_2 = concat(
  hex('0004'), // Type 2, C=0
  hex('002c'), // Length 44
  hex('0000 0007'), // Locator List Generation 7
  hex('02'), // Num Locators 2
  hex('01 02'), // Verification Method: locator 1 = 1 (HBA in Table 4), locator 2 = 2 (CGA)
  hex('00 0000 0000'), // Padding: 5 octets so the locators start at offset 8 of the contents
  ADDR_A1, // Locator 1
  ADDR_A2, // Locator 2
);
const OPTION_2: LocatorListOption = {
  kind: 'LocatorList',
  critical: false,
  generation: 7,
  locators: [
    { address: ADDR_A1, verificationMethod: 1 },
    { address: ADDR_A2, verificationMethod: 2 },
  ],
};

// Zero locators: Length 4 + 8 = 12; 4 + 12 = 16.
const VECTOR_0 = hex(
  '0004', // Type 2, C=0
  '000c', // Length 12
  'ffff ffff', // Locator List Generation 2^32 - 1
  '00', // Num Locators 0
  '00 0000 0000 0000', // Padding: 7 octets
);

describe('Locator List option (RFC 5533 §5.15.2)', () => {
  it('parses two locators with their verification methods in order', () => {
    expect(VECTOR_2.length).toBe(48);
    expect(expectOk(parseOptionArea(VECTOR_2))).toEqual([OPTION_2]);
  });

  it('emits the two-locator vector into a 0xa5-filled buffer, internal padding zeroed', () => {
    expect(emitOptionArea([OPTION_2])).toEqual(VECTOR_2);
  });

  it('parses and emits an empty list (Num Locators 0, Length 12)', () => {
    const o: LocatorListOption = { kind: 'LocatorList', critical: false, generation: 0xffff_ffff, locators: [] };
    expect(expectOk(parseOptionArea(VECTOR_0))).toEqual([o]);
    expect(emitOptionArea([o])).toEqual(VECTOR_0);
  });

  it('seven locators need no internal padding (1 + 7 = 8): Length 124', () => {
    const addrs = [ADDR_A1, ADDR_A2, ADDR_B1, ADDR_A1, ADDR_A2, ADDR_B1, ADDR_A1];
    const v = concat(
      hex('0005'), // Type 2, C=1
      hex('007c'), // Length 124
      hex('0000 0001'), // Generation 1
      hex('07'), // Num Locators 7
      hex('01 02 03 c8 c9 fe ff'), // Verification methods, no padding after them
      ...addrs, // Locators 1..7; 4 + 124 = 128, a multiple of 8, so no end padding
    );
    expect(v.length).toBe(128);
    const opts = expectOk(parseOptionArea(v));
    expect(opts).toEqual([{
      kind: 'LocatorList',
      critical: true,
      generation: 1,
      locators: addrs.map((address, i) => ({ address, verificationMethod: [1, 2, 3, 200, 201, 254, 255][i]! })),
    }]);
    expect(emitOptionArea(opts)).toEqual(v);
  });

  it('eight locators need 7 octets of internal padding (1 + 8 = 9 -> 16): Length 148', () => {
    const o: LocatorListOption = {
      kind: 'LocatorList',
      critical: false,
      generation: 2,
      locators: Array.from({ length: 8 }, (_, i) => ({ address: ADDR_B1, verificationMethod: i })),
    };
    const v = concat(
      hex('0004', '0094'), // Type 2, Length 148
      hex('0000 0002'), // Generation 2
      hex('08'), // Num Locators 8
      hex('00 0102 0304 0506 07'), // Verification methods 0..7
      hex('00 0000 0000 0000'), // Internal padding: 7 octets
      ...Array.from({ length: 8 }, () => ADDR_B1),
    );
    expect(v.length).toBe(152);
    expect(expectOk(parseOptionArea(v))).toEqual([o]);
    expect(emitOptionArea([o])).toEqual(v);
  });

  it('rejects a Num Locators that does not match Length (count 3 in a two-locator option)', () => {
    const v = VECTOR_2.slice();
    v[8] = 3;
    const err = expectErr(parseOptionArea(v));
    expect(err.reason).toBe('bad-locator-list');
    expect(err.offset).toBe(2);
  });

  it('rejects a Length that does not match Num Locators (Length 28, one locator’s worth, with count 2)', () => {
    const v = concat(hex('0004', '001c'), VECTOR_2.subarray(4, 32));
    expect(expectErr(parseOptionArea(v)).reason).toBe('bad-locator-list');
  });

  it('rejects a Length shorter than the 5 fixed octets', () => {
    const v = hex('0004', '0004', '0000 0007');
    expect(expectErr(parseOptionArea(v)).reason).toBe('bad-locator-list');
  });

  it('every truncation fails as option-truncated', () => {
    for (let n = 1; n < VECTOR_2.length; n++) expect(expectErr(parseOptionArea(VECTOR_2.slice(0, n))).reason).toBe('option-truncated');
  });

  it('refuses to emit more than 255 locators, a 15-octet locator, or a method above 255', () => {
    expect(LOCATOR_LIST_MAX).toBe(255);
    const many = { ...OPTION_2, locators: Array.from({ length: 256 }, () => ({ address: ADDR_A1, verificationMethod: 1 })) };
    expect(() => validateOption(many)).toThrow(expect.objectContaining({ code: 'field-range' }));
    const short = { ...OPTION_2, locators: [{ address: zeros(15), verificationMethod: 1 }] };
    expect(() => validateOption(short)).toThrow(expect.objectContaining({ code: 'field-range' }));
    const method = { ...OPTION_2, locators: [{ address: ADDR_A1, verificationMethod: 256 }] };
    expect(() => validateOption(method)).toThrow(expect.objectContaining({ code: 'field-range' }));
    expect(() => validateOption({ ...OPTION_2, generation: 2 ** 32 })).toThrow(expect.objectContaining({ code: 'field-range' }));
  });
});

describeNotListed('Locator List', 2, VECTOR_2);
