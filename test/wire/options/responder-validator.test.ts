/**
 * Responder Validator option, type 1 (RFC 5533 §5.15.1): Type 1 with C=0 is 0x0002; the
 * contents are opaque, and padding brings the option to a multiple of 8 octets.
 */
import { describe, expect, it } from 'vitest';
import { type ResponderValidatorOption } from '../../../src/wire/index.js';
import { concat, describeNotListed, emitOptionArea, expectErr, expectOk, hex, parseOptionArea } from '../vectors.js';

// A 20-octet validator (the size of a SHA-1 hash): 4 + 20 = 24, no padding.
const VECTOR_20 = hex(
  '0002', // Type 1, C=0
  '0014', // Length 20
  '0011 2233 4455 6677 8899 aabb ccdd eeff 0102 0304', // Validator
);
// A 5-octet validator: 4 + 5 = 9, padded with 7 zero octets to 16.
const VECTOR_5 = hex(
  '0002', // Type 1, C=0
  '0005', // Length 5
  'a1a2 a3a4 a5', // Validator
  '00 0000 0000 0000', // Padding (7 octets)
);

describe('Responder Validator option (RFC 5533 §5.15.1)', () => {
  it('parses a 20-octet validator that needs no padding', () => {
    expect(expectOk(parseOptionArea(VECTOR_20))).toEqual([
      { kind: 'ResponderValidator', critical: false, validator: VECTOR_20.slice(4) },
    ]);
  });

  it('parses a 5-octet validator and leaves the 7 padding octets out of it', () => {
    const opts = expectOk(parseOptionArea(VECTOR_5));
    expect(opts).toEqual([{ kind: 'ResponderValidator', critical: false, validator: hex('a1a2a3a4a5') }]);
  });

  it('emits both vectors into 0xa5-filled buffers, padding zeroed', () => {
    const o20: ResponderValidatorOption = { kind: 'ResponderValidator', critical: false, validator: VECTOR_20.slice(4) };
    const o5: ResponderValidatorOption = { kind: 'ResponderValidator', critical: false, validator: hex('a1a2a3a4a5') };
    expect(emitOptionArea([o20])).toEqual(VECTOR_20);
    expect(emitOptionArea([o5])).toEqual(VECTOR_5);
  });

  it('an empty validator is a valid 8-octet option (Length 0, 4 octets of padding)', () => {
    const v = hex('0002', '0000', '0000 0000');
    const opts = expectOk(parseOptionArea(v));
    expect(opts).toEqual([{ kind: 'ResponderValidator', critical: false, validator: new Uint8Array(0) }]);
    expect(emitOptionArea(opts)).toEqual(v);
  });

  it('the parsed validator is a copy, not a view of the packet', () => {
    const v = VECTOR_5.slice();
    const [o] = expectOk(parseOptionArea(v));
    v[4] = 0;
    expect(o).toMatchObject({ validator: hex('a1a2a3a4a5') });
  });

  it('every truncation fails as option-truncated, including one that only cuts the padding', () => {
    for (const vec of [VECTOR_20, VECTOR_5]) {
      for (let n = 1; n < vec.length; n++) expect(expectErr(parseOptionArea(vec.slice(0, n))).reason).toBe('option-truncated');
    }
  });

  it('a Length larger than the option area fails as option-truncated at the option start', () => {
    const v = concat(hex('0002', '0100'), VECTOR_20.subarray(4)); // Length 256 in 24 octets
    const err = expectErr(parseOptionArea(v));
    expect(err).toMatchObject({ reason: 'option-truncated', offset: 0 });
  });
});

describeNotListed('Responder Validator', 1, VECTOR_20);
