/**
 * ULID Pair option, type 6 (RFC 5533 §5.15.6). Vectors written by hand from the figure:
 * Type 6 with C=0 is 0x000c, Length is always 36, Reserved2 (32 bits), Sender ULID,
 * Receiver ULID; 4 + 36 = 40 octets, so no padding.
 */
import { describe, expect, it } from 'vitest';
import { ULID_PAIR_LENGTH, validateOption, WireEmitError, type UlidPairOption } from '../../../src/wire/index.js';
import { parseUlidPair } from '../../../src/wire/options/ulid-pair.js';
import { ADDR_A1, ADDR_B1, concat, describeNotListed, emitOptionArea, expectErr, expectOk, hex, parseOptionArea, zeros } from '../vectors.js';

const VECTOR = concat(
  hex('000c'), // Type 6, C=0
  hex('0024'), // Length 36
  hex('0000 0000'), // Reserved2
  ADDR_A1, // Sender ULID 2001:db8:a::1
  ADDR_B1, // Receiver ULID 2001:db8:b::1
);

const OPTION: UlidPairOption = { kind: 'UlidPair', critical: false, reserved2: 0, senderUlid: ADDR_A1, receiverUlid: ADDR_B1 };

describe('ULID Pair option (RFC 5533 §5.15.6)', () => {
  it('parses the hand-written 40-octet vector into sender and receiver ULIDs', () => {
    expect(VECTOR.length).toBe(40);
    expect(expectOk(parseOptionArea(VECTOR))).toEqual([OPTION]);
  });

  it('emits the same 40 octets into a 0xa5-filled buffer', () => {
    expect(emitOptionArea([OPTION])).toEqual(VECTOR);
  });

  it('keeps a non-zero Reserved2 and the C bit for lossless re-emit', () => {
    const v = concat(hex('000d'), hex('0024'), hex('8000 0001'), ADDR_B1, ADDR_A1); // Type 6, C=1; Reserved2 0x80000001
    const opts = expectOk(parseOptionArea(v));
    expect(opts).toEqual([{ kind: 'UlidPair', critical: true, reserved2: 0x8000_0001, senderUlid: ADDR_B1, receiverUlid: ADDR_A1 }]);
    expect(emitOptionArea(opts)).toEqual(v);
  });

  it('ULID_PAIR_LENGTH is the 36 the figure fixes', () => {
    expect(ULID_PAIR_LENGTH).toBe(36);
  });

  it('rejects Length 35 as bad-option-length pointing at the Length field', () => {
    // Length 35 still occupies 40 octets on the wire (11 + 35 - 38 mod 8 = 40).
    const v = concat(hex('000c'), hex('0023'), VECTOR.subarray(4, 39), zeros(1));
    const err = expectErr(parseOptionArea(v));
    expect(err.reason).toBe('bad-option-length');
    expect(err.offset).toBe(2);
  });

  it('rejects Length 37 as bad-option-length', () => {
    // Length 37 occupies 48 octets (11 + 37 - 40 mod 8).
    const v = concat(hex('000c'), hex('0025'), VECTOR.subarray(4), hex('ee'), zeros(7));
    expect(v.length).toBe(48);
    expect(expectErr(parseOptionArea(v)).reason).toBe('bad-option-length');
  });

  it('rejects Length 0 as bad-option-length', () => {
    const v = concat(hex('000c'), hex('0000'), zeros(4));
    expect(expectErr(parseOptionArea(v)).reason).toBe('bad-option-length');
  });

  it('parseUlidPair reports the Length field two octets before the contents', () => {
    const err = expectErr(parseUlidPair(VECTOR, 4, 32, false));
    expect(err.offset).toBe(2);
  });

  it('every truncation of the option fails as option-truncated', () => {
    for (let n = 1; n < VECTOR.length; n++) {
      const err = expectErr(parseOptionArea(VECTOR.slice(0, n)));
      expect(err.reason).toBe('option-truncated');
      expect(err.offset).toBe(0);
    }
  });

  it('refuses to emit ULIDs that are not 16 octets', () => {
    const short = { ...OPTION, senderUlid: ADDR_A1.subarray(0, 15) };
    expect(() => validateOption(short)).toThrow(WireEmitError);
    const long = { ...OPTION, receiverUlid: concat(ADDR_B1, zeros(1)) };
    expect(() => validateOption(long)).toThrow(expect.objectContaining({ code: 'field-range' }));
  });

  it('refuses to emit a Reserved2 wider than 32 bits', () => {
    expect(() => validateOption({ ...OPTION, reserved2: 2 ** 32 })).toThrow(expect.objectContaining({ code: 'field-range' }));
  });
});

describeNotListed('ULID Pair', 6, VECTOR);
