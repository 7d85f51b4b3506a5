/**
 * Forked Instance Identifier option, type 7 (RFC 5533 §5.15.7): Type 7 with C=0 is
 * 0x000e, Length is always 4, then the 32-bit identifier; 8 octets, no padding.
 */
import { describe, expect, it } from 'vitest';
import { validateOption, type ForkedInstanceIdentifierOption } from '../../../src/wire/index.js';
import { concat, describeNotListed, emitOptionArea, expectErr, expectOk, hex, parseOptionArea, zeros } from '../vectors.js';

const VECTOR = hex(
  '000e', // Type 7, C=0
  '0004', // Length 4
  'dead beef', // Forked Instance Identifier
);
const OPTION: ForkedInstanceIdentifierOption = { kind: 'ForkedInstanceIdentifier', critical: false, forkedInstanceId: 0xdead_beef };

describe('Forked Instance Identifier option (RFC 5533 §5.15.7)', () => {
  it('parses the hand-written vector; the identifier is an unsigned 32-bit number', () => {
    expect(expectOk(parseOptionArea(VECTOR))).toEqual([OPTION]);
  });

  it('emits the same 8 octets into a 0xa5-filled buffer', () => {
    expect(emitOptionArea([OPTION])).toEqual(VECTOR);
  });

  it('carries the C bit', () => {
    const v = hex('000f', '0004', '0000 0001'); // Type 7, C=1; FII 1
    const opts = expectOk(parseOptionArea(v));
    expect(opts).toEqual([{ kind: 'ForkedInstanceIdentifier', critical: true, forkedInstanceId: 1 }]);
    expect(emitOptionArea(opts)).toEqual(v);
  });

  it('rejects Length 3 and Length 5 as bad-option-length at the Length field', () => {
    const l3 = hex('000e', '0003', 'dead be', '00');
    const l5 = concat(hex('000e', '0005', 'dead beef 01'), zeros(7));
    for (const v of [l3, l5]) {
      const err = expectErr(parseOptionArea(v));
      expect(err.reason).toBe('bad-option-length');
      expect(err.offset).toBe(2);
    }
  });

  it('every truncation fails as option-truncated', () => {
    for (let n = 1; n < VECTOR.length; n++) expect(expectErr(parseOptionArea(VECTOR.slice(0, n))).reason).toBe('option-truncated');
  });

  it('refuses to emit an identifier outside 0..2^32-1', () => {
    for (const bad of [2 ** 32, -1, 0.5]) {
      expect(() => validateOption({ ...OPTION, forkedInstanceId: bad })).toThrow(expect.objectContaining({ code: 'field-range' }));
    }
  });
});

describeNotListed('Forked Instance Identifier', 7, VECTOR);
