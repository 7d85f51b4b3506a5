/**
 * Option TLV framing (RFC 5533 §5.15): 15-bit Type, C bit, 16-bit Length of the contents,
 * contents, then zero padding to a multiple of 8 octets; unknown options (and known
 * options a message does not list) with C=0 are kept and re-emitted, with C=1 rejected
 * with Error Code 1 and the Pointer at the option's Type octet (§5.15, §12.3).
 */
import { describe, expect, it } from 'vitest';
import {
  emitOptions,
  optionContentsLength,
  optionsLength,
  optionTotalLength,
  optionType,
  optionTypeName,
  parseOptions,
  validateOption,
  type Option,
} from '../../../src/wire/index.js';
import { a5, ADDR_A1, ADDR_B1, ALL_OPTION_TYPES, concat, emitOptionArea, expectErr, expectOk, hex, parseOptionArea, zeros } from '../vectors.js';

/** Padding the RFC prose describes: the fewest octets that make 4 + Length a multiple of 8. */
function proseTotal(length: number): number {
  let total = 4 + length;
  while (total % 8 !== 0) total++;
  return total;
}

describe('option TLV framing (RFC 5533 §5.15)', () => {
  it('Total Length = 11 + Length - (Length + 3) mod 8 for every Length 0..40', () => {
    const seen: number[] = [];
    for (let length = 0; length <= 40; length++) {
      expect(optionTotalLength(length), `Length ${length}`).toBe(proseTotal(length));
      seen.push(optionTotalLength(length));
    }
    // Spot values: Length 0 and 4 take 8 octets, Length 5 and 12 take 16, Length 13 takes 24.
    expect([seen[0], seen[4], seen[5], seen[12], seen[13], seen[40]]).toEqual([8, 8, 16, 16, 24, 48]);
  });

  it('an unknown C=0 option of every Length 0..40 parses with its padding skipped and re-emits byte for byte', () => {
    for (let length = 0; length <= 40; length++) {
      const contents = new Uint8Array(length).map((_, i) => 0x10 + i);
      const padding = 7 - ((length + 3) % 8);
      const v = concat(hex('0190'), hex(length.toString(16).padStart(4, '0')), contents, zeros(padding)); // Type 200, C=0
      const follow = hex('0014 0004 0000 000f'); // a Keepalive Timeout option right after the padding
      const area = concat(v, follow);
      const opts = expectOk(parseOptionArea(area));
      expect(opts, `Length ${length}`).toEqual([
        { kind: 'Unknown', type: 200, critical: false, contents },
        { kind: 'KeepaliveTimeout', critical: false, reserved: 0, keepaliveTimeoutSeconds: 15 },
      ]);
      expect(emitOptionArea(opts)).toEqual(area);
    }
  });

  it('Type is the high 15 bits and C the low bit of the first 16-bit word', () => {
    const v = hex(
      'fffe', // Type 32767, C=0
      '0000', // Length 0
      '0000 0000', // Padding
      '8001', // Type 16384, C=1
      '0001', // Length 1
      'ab', // Contents
      '00 0000', // Padding
    );
    const opts = expectOk(parseOptions(v, 0, v.length, { allowed: ALL_OPTION_TYPES, packetStart: 0, unknownCritical: 'keep' }));
    expect(opts).toEqual([
      { kind: 'Unknown', type: 0x7fff, critical: false, contents: new Uint8Array(0) },
      { kind: 'Unknown', type: 0x4000, critical: true, contents: hex('ab') },
    ]);
    expect(optionTypeName(0x4000)).toBe('Experimental');
    expect(emitOptionArea(opts)).toEqual(v);
  });

  it('parses several options in sequence', () => {
    const v = concat(
      hex('000e 0004 0000 0005'), // Forked Instance Identifier 5
      hex('000c 0024 0000 0000'), ADDR_A1, ADDR_B1, // ULID Pair
      hex('0014 0004 0000 003c'), // Keepalive Timeout 60
    );
    const opts = expectOk(parseOptionArea(v));
    expect(opts.map((o) => o.kind)).toEqual(['ForkedInstanceIdentifier', 'UlidPair', 'KeepaliveTimeout']);
    expect(emitOptionArea(opts)).toEqual(v);
  });

  it('an empty area is an empty option list', () => {
    expect(expectOk(parseOptionArea(new Uint8Array(0)))).toEqual([]);
  });

  it('non-zero padding of an unknown option is ignored and re-emitted as zeros', () => {
    const v = hex('0190', '0001', '77', 'ffffff');
    const opts = expectOk(parseOptionArea(v));
    expect(opts).toEqual([{ kind: 'Unknown', type: 200, critical: false, contents: hex('77') }]);
    expect(emitOptionArea(opts)).toEqual(hex('0190 0001 77 000000'));
  });
});

describe('unknown and disallowed options (RFC 5533 §5.15, §12.3)', () => {
  it('an unknown C=1 option fails with Error Code 1 and the Pointer at its Type octet', () => {
    const v = concat(
      hex('0014 0004 0000 000f'), // Keepalive Timeout (known, allowed)
      hex('0191 0002 abcd 0000'), // Type 200, C=1, Length 2
    );
    const err = expectErr(parseOptionArea(v));
    expect(err.reason).toBe('unrecognized-critical-option');
    expect(err.offset).toBe(8);
    expect(err.reply).toEqual({ code: 1, pointer: 8 });
  });

  it('the Pointer counts from packetStart, not from the option area', () => {
    const b = concat(zeros(56), hex('0191 0002 abcd 0000'));
    const err = expectErr(parseOptions(b, 56, 64, { allowed: ALL_OPTION_TYPES, packetStart: 16 }));
    expect(err.offset).toBe(56);
    expect(err.reply).toEqual({ code: 1, pointer: 40 });
  });

  it("with unknownCritical 'keep' an unknown C=1 option is kept", () => {
    const v = hex('0191 0002 abcd 0000');
    const opts = expectOk(parseOptions(v, 0, 8, { allowed: ALL_OPTION_TYPES, packetStart: 0, unknownCritical: 'keep' }));
    expect(opts).toEqual([{ kind: 'Unknown', type: 200, critical: true, contents: hex('abcd') }]);
  });

  it('a known option not allowed in the message is kept as Unknown when C=0', () => {
    const v = concat(hex('000c 0024 0000 0000'), ADDR_A1, ADDR_B1); // ULID Pair, not allowed here
    const opts = expectOk(parseOptionArea(v, new Set([1])));
    expect(opts).toEqual([{ kind: 'Unknown', type: 6, critical: false, contents: v.slice(4) }]);
    expect(emitOptionArea(opts)).toEqual(v);
  });

  it('a known option not allowed in the message is rejected with Error Code 1 when C=1', () => {
    const v = hex('000f 0004 0000 0001'); // Forked Instance Identifier, C=1
    const err = expectErr(parseOptionArea(v, new Set([1, 2])));
    expect(err.reason).toBe('unrecognized-critical-option');
    expect(err.reply).toEqual({ code: 1, pointer: 0 });
  });

  it('a disallowed known option is not validated: a bad-length ULID Pair with C=0 is just skipped', () => {
    const v = hex('000c 0004 0000 0000'); // ULID Pair with Length 4
    expect(expectOk(parseOptionArea(v, new Set<number>()))).toEqual([{ kind: 'Unknown', type: 6, critical: false, contents: zeros(4) }]);
    expect(expectErr(parseOptionArea(v)).reason).toBe('bad-option-length');
  });

  it('an option running past the message end fails as option-truncated at the option start', () => {
    const v = concat(hex('0014 0004 0000 000f'), hex('0190 0008 0102 0304')); // second option needs 16 octets, 8 left
    const err = expectErr(parseOptionArea(v));
    expect(err).toMatchObject({ reason: 'option-truncated', offset: 8 });
    expect(err.reply).toBeUndefined();
  });

  it('fewer than 4 octets after the last option fail as option-truncated', () => {
    const b = hex('0014 0004 0000 000f 0000');
    const err = expectErr(parseOptions(b, 0, 10, { allowed: ALL_OPTION_TYPES, packetStart: 0 }));
    expect(err).toMatchObject({ reason: 'option-truncated', offset: 8 });
  });
});

describe('option helpers and emit validation', () => {
  const unknown: Option = { kind: 'Unknown', type: 300, critical: true, contents: hex('010203') };

  it('optionType, optionContentsLength and optionsLength', () => {
    expect(optionType(unknown)).toBe(300);
    expect(optionType({ kind: 'KeepaliveTimeout', critical: false, reserved: 0, keepaliveTimeoutSeconds: 1 })).toBe(10);
    expect(optionContentsLength(unknown)).toBe(3);
    expect(optionsLength([unknown, unknown])).toBe(16);
  });

  it('emitOptions writes at an offset and returns the end, leaving octets around it alone', () => {
    const b = a5(24);
    expect(emitOptions([unknown], b, 8)).toBe(16);
    expect(b).toEqual(concat(a5(8), hex('0259 0003 010203 00'), a5(8))); // Type 300 C=1 = 0x0259
  });

  it('refuses an option type above 15 bits and contents above 65535 octets', () => {
    expect(() => validateOption({ ...unknown, type: 0x8000 })).toThrow(expect.objectContaining({ code: 'field-range' }));
    expect(() => validateOption({ ...unknown, contents: new Uint8Array(0x10000) })).toThrow(expect.objectContaining({ code: 'field-range' }));
    expect(() => validateOption({ ...unknown, contents: new Uint8Array(0xffff) })).not.toThrow();
  });
});
