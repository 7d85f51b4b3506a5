/**
 * R1bis, type 5 (RFC 5533 §5.8): 59, Hdr Ext Len, P=0 | Type 5, Reserved1 | S=0, Checksum,
 * R | 47-bit Packet Context Tag, Responder Nonce, then options (Responder Validator).
 */
import { describe, expect, it } from 'vitest';
import { type R1bisMessage } from '../../../src/wire/index.js';
import { emitMessage, expectErr, expectEveryPrefixRejected, expectOk, flipBit, hex, parseMessage, sealed, TAG } from '../vectors.js';

const R1BIS = sealed(hex(
  '3b', // Next Header 59
  '03', // Hdr Ext Len 3: 32 octets
  '05', // P=0, Type 5
  '00', // Reserved1 0, S=0
  '0000', // Checksum
  '1234 5678 9abc', // R=0, Packet Context Tag
  '0bad f00d', // Responder Nonce
  '0002 0008', // Responder Validator option: Type 1, C=0, Length 8
  '0001 0203 0405 0607', //   Validator (4 + 8 = 12, so 4 octets of padding)
  '0000 0000', //   Padding
));
const R1BIS_FIELDS: R1bisMessage = {
  kind: 'R1bis', nextHeader: 59, reserved1: 0, r: 0, packetContextTag: TAG, responderNonce: 0x0bad_f00d,
  options: [{ kind: 'ResponderValidator', critical: false, validator: hex('0001020304050607') }],
};

describe('R1bis message (RFC 5533 §5.8)', () => {
  it('parses the R1bis with its Responder Validator', () => {
    expect(expectOk(parseMessage(R1BIS))).toEqual(R1BIS_FIELDS);
  });

  it('emits the same 32 octets into a 0xa5-filled buffer', () => {
    expect(emitMessage(R1BIS_FIELDS)).toEqual(R1BIS);
  });

  it('R=1 and Reserved1 are carried separately from the Packet Context Tag', () => {
    const v = sealed(hex('3b 01 05 aa 0000', 'ffff ffff ffff', '0000 0000')); // Reserved1 0x55
    const m = expectOk(parseMessage(v));
    expect(m).toMatchObject({ reserved1: 0x55, r: 1, packetContextTag: 2 ** 47 - 1, responderNonce: 0 });
    expect(emitMessage(m)).toEqual(v);
  });

  it('every prefix is rejected with a typed reason', () => {
    expectEveryPrefixRejected(R1BIS);
  });

  it('Hdr Ext Len 0 is header-too-short', () => {
    expect(expectErr(parseMessage(sealed(hex('3b 00 05 00 0000 1234'))))).toMatchObject({ reason: 'header-too-short' });
  });

  it('a bad checksum is rejected, and accepted with verifyChecksum:false', () => {
    const bad = flipBit(R1BIS, 9, 0x80);
    expect(expectErr(parseMessage(bad)).reason).toBe('bad-checksum');
    expect(expectOk(parseMessage(bad, { verifyChecksum: false }))).toMatchObject({ packetContextTag: 0x1234_56f8_9abc });
  });

  it('unknown options: C=0 kept, C=1 Error Code 1 at the Type octet', () => {
    const base = '3b 02 05 00 0000 1234 5678 9abc 0bad f00d';
    expect(expectOk(parseMessage(sealed(hex(base, '0190 0000 0000 0000'))))).toMatchObject({ options: [{ kind: 'Unknown' }] });
    expect(expectErr(parseMessage(sealed(hex(base, '0191 0000 0000 0000')))).reply).toEqual({ code: 1, pointer: 16 });
  });

  it('refuses to emit a nonce above 32 bits', () => {
    expect(() => emitMessage({ ...R1BIS_FIELDS, responderNonce: 2 ** 32 })).toThrow(expect.objectContaining({ code: 'field-range' }));
  });
});
