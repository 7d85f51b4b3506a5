/**
 * Locator Preferences option, type 3 (RFC 5533 §5.15.3): Locator List Generation (32
 * bits), Element Len (8 bits), then one element per locator: Flags (BROKEN 0x01,
 * TRANSIENT 0x02), then Priority and Weight when Element Len is 2 or 3. Longer elements
 * start with the same three octets. Type 3 with C=0 is 0x0006.
 */
import { describe, expect, it } from 'vitest';
import { LocatorFlag, validateOption, type LocatorPreferencesOption } from '../../../src/wire/index.js';
import { describeNotListed, emitOptionArea, expectErr, expectOk, hex, parseOptionArea } from '../vectors.js';

// Element Len 3, two elements: Length 5 + 6 = 11; 4 + 11 = 15, one octet of padding.
const VECTOR_3 = hex(
  '0006', // Type 3, C=0
  '000b', // Length 11
  '0000 0007', // Locator List Generation 7
  '03', // Element Len 3
  '01 0a 14', // Element[1]: Flags BROKEN, Priority 10, Weight 20
  '02 05 64', // Element[2]: Flags TRANSIENT, Priority 5, Weight 100
  '00', // Padding: 7 - (14 mod 8) = 1
);
const OPTION_3: LocatorPreferencesOption = {
  kind: 'LocatorPreferences',
  critical: false,
  generation: 7,
  elementLength: 3,
  elements: [
    { flags: LocatorFlag.BROKEN, priority: 10, weight: 20 },
    { flags: LocatorFlag.TRANSIENT, priority: 5, weight: 100 },
  ],
};

// Element Len 1 (the case the figure draws), three elements: Length 8, 4 octets of padding.
const VECTOR_1 = hex(
  '0006', // Type 3, C=0
  '0008', // Length 8
  '0000 0009', // Locator List Generation 9
  '01', // Element Len 1
  '00 01 03', // Element[1..3]: Flags 0, BROKEN, BROKEN|TRANSIENT
  '0000 0000', // Padding: 7 - (11 mod 8) = 4
);

// Element Len 2, two elements: Length 9, 3 octets of padding.
const VECTOR_2 = hex(
  '0006', // Type 3, C=0
  '0009', // Length 9
  '8000 0000', // Locator List Generation 2^31
  '02', // Element Len 2
  '00 ff', // Element[1]: Flags 0, Priority 255
  '01 00', // Element[2]: Flags BROKEN, Priority 0
  '00 0000', // Padding: 7 - (12 mod 8) = 3
);

// Element Len 5 (format beyond the RFC's three octets), one element: Length 10, 2 padding.
const VECTOR_5 = hex(
  '0007', // Type 3, C=1
  '000a', // Length 10
  '0000 0001', // Locator List Generation 1
  '05', // Element Len 5
  '02 03 04', // Element[1]: Flags, Priority, Weight
  'aa bb', // Element[1]: two further octets
  '0000', // Padding: 7 - (13 mod 8) = 2
);

describe('Locator Preferences option (RFC 5533 §5.15.3)', () => {
  it('parses 3-octet elements as Flags, Priority, Weight', () => {
    expect(expectOk(parseOptionArea(VECTOR_3))).toEqual([OPTION_3]);
  });

  it('emits 3-octet elements into a 0xa5-filled buffer, padding zeroed', () => {
    expect(emitOptionArea([OPTION_3])).toEqual(VECTOR_3);
  });

  it('parses and emits 1-octet elements (Flags only)', () => {
    const o: LocatorPreferencesOption = {
      kind: 'LocatorPreferences', critical: false, generation: 9, elementLength: 1,
      elements: [{ flags: 0 }, { flags: 1 }, { flags: 3 }],
    };
    expect(expectOk(parseOptionArea(VECTOR_1))).toEqual([o]);
    expect(emitOptionArea([o])).toEqual(VECTOR_1);
  });

  it('parses and emits 2-octet elements (Flags, Priority)', () => {
    const o: LocatorPreferencesOption = {
      kind: 'LocatorPreferences', critical: false, generation: 0x8000_0000, elementLength: 2,
      elements: [{ flags: 0, priority: 255 }, { flags: 1, priority: 0 }],
    };
    expect(expectOk(parseOptionArea(VECTOR_2))).toEqual([o]);
    expect(emitOptionArea([o])).toEqual(VECTOR_2);
  });

  it('keeps octets past the third of a longer element as extension bytes', () => {
    const o: LocatorPreferencesOption = {
      kind: 'LocatorPreferences', critical: true, generation: 1, elementLength: 5,
      elements: [{ flags: 2, priority: 3, weight: 4, extension: hex('aabb') }],
    };
    expect(expectOk(parseOptionArea(VECTOR_5))).toEqual([o]);
    expect(emitOptionArea([o])).toEqual(VECTOR_5);
  });

  it('emits zeros for Priority, Weight and extension octets an element leaves out', () => {
    const o: LocatorPreferencesOption = {
      kind: 'LocatorPreferences', critical: false, generation: 1, elementLength: 5, elements: [{ flags: 1 }],
    };
    expect(emitOptionArea([o])).toEqual(hex('0006', '000a', '0000 0001', '05', '01 00 00 0000', '0000'));
  });

  it('an empty element list is Length 5', () => {
    const v = hex('0006', '0005', '0000 0003', '03', '00 0000 0000 0000'); // Length 5, 7 octets of padding
    const o: LocatorPreferencesOption = { kind: 'LocatorPreferences', critical: false, generation: 3, elementLength: 3, elements: [] };
    expect(expectOk(parseOptionArea(v))).toEqual([o]);
    expect(emitOptionArea([o])).toEqual(v);
  });

  it('rejects Element Len 0, pointing at the Element Len octet', () => {
    const v = hex('0006', '0008', '0000 0007', '00', '01 01 01', '0000 0000');
    const err = expectErr(parseOptionArea(v));
    expect(err.reason).toBe('bad-locator-preferences');
    expect(err.offset).toBe(8);
  });

  it('rejects element octets that are not a multiple of Element Len (3 octets with Element Len 2)', () => {
    const v = hex('0006', '0008', '0000 0007', '02', '01 01 01', '0000 0000');
    const err = expectErr(parseOptionArea(v));
    expect(err.reason).toBe('bad-locator-preferences');
    expect(err.offset).toBe(2);
  });

  it('rejects a Length shorter than the 5 fixed octets', () => {
    const v = hex('0006', '0004', '0000 0007');
    expect(expectErr(parseOptionArea(v)).reason).toBe('bad-locator-preferences');
  });

  it('every truncation fails as option-truncated', () => {
    for (let n = 1; n < VECTOR_3.length; n++) expect(expectErr(parseOptionArea(VECTOR_3.slice(0, n))).reason).toBe('option-truncated');
  });

  it('refuses to emit Element Len 0, Element Len 256, a Flags octet above 255, or a mis-sized extension', () => {
    expect(() => validateOption({ ...OPTION_3, elementLength: 0 })).toThrow(expect.objectContaining({ code: 'field-range' }));
    expect(() => validateOption({ ...OPTION_3, elementLength: 256 })).toThrow(expect.objectContaining({ code: 'field-range' }));
    expect(() => validateOption({ ...OPTION_3, elements: [{ flags: 256 }] })).toThrow(expect.objectContaining({ code: 'field-range' }));
    expect(() => validateOption({ ...OPTION_3, elements: [{ flags: 0, priority: 256 }] })).toThrow(expect.objectContaining({ code: 'field-range' }));
    expect(() => validateOption({ ...OPTION_3, elementLength: 5, elements: [{ flags: 0, extension: hex('aa') }] })).toThrow(
      expect.objectContaining({ code: 'field-range' }),
    );
  });
});

describeNotListed('Locator Preferences', 3, VECTOR_3);

describe('Locator Preferences: emit refuses fields the Element Len cannot carry', () => {
  const base = { kind: 'LocatorPreferences', critical: false, generation: 1 } as const;
  it('Priority with Element Len 1, Weight with Element Len 2', () => {
    expect(() => validateOption({ ...base, elementLength: 1, elements: [{ flags: 0, priority: 3 }] })).toThrow(/Priority needs Element Len >= 2/);
    expect(() => validateOption({ ...base, elementLength: 2, elements: [{ flags: 0, priority: 3, weight: 1 }] })).toThrow(/Weight needs Element Len >= 3/);
    expect(() => validateOption({ ...base, elementLength: 3, elements: [{ flags: 0, priority: 3, weight: 1 }] })).not.toThrow();
  });
});
