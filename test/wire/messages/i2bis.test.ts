/**
 * I2bis, type 6 (RFC 5533 §5.9): after the 24 octets shared with I2's layout comes a
 * 49-bit Reserved2 (octets 20-25 and the top bit of octet 26) and the 47-bit Packet
 * Context Tag (the low 7 bits of octet 26 and octets 27-31); options start at octet 32.
 */
import { describe, expect, it } from 'vitest';
import { type I2bisMessage } from '../../../src/wire/index.js';
import { ADDR_A1, ADDR_B1, concat, emitMessage, expectErr, expectEveryPrefixRejected, expectOk, flipBit, hex, parseMessage, sealed, TAG } from '../vectors.js';

const I2BIS = sealed(concat(
  hex('3b'), // Next Header 59
  hex('08'), // Hdr Ext Len 8: 32 + 40 = 72 octets
  hex('06'), // P=0, Type 6
  hex('00'), // Reserved1 0, S=0
  hex('0000'), // Checksum
  hex('1234 5678 9abc'), // R=0, Initiator Context Tag
  hex('0000 0011'), // Initiator Nonce
  hex('0bad f00d'), // Responder Nonce (copied from R1bis)
  hex('0000 0000 0000'), // Reserved2, high 48 of 49 bits
  hex('00'), // Reserved2 low bit (top bit) 0 | Packet Context Tag bits 46-40 = 0
  hex('00 0000 0042'), // Packet Context Tag bits 39-0: tag 0x42
  hex('000c 0024 0000 0000'), ADDR_A1, ADDR_B1, // ULID Pair option
));
const I2BIS_FIELDS: I2bisMessage = {
  kind: 'I2bis', nextHeader: 59, reserved1: 0, r: 0, initiatorContextTag: TAG, initiatorNonce: 0x11, responderNonce: 0x0bad_f00d,
  reserved2: 0, packetContextTag: 0x42,
  options: [{ kind: 'UlidPair', critical: false, reserved2: 0, senderUlid: ADDR_A1, receiverUlid: ADDR_B1 }],
};

describe('I2bis message (RFC 5533 §5.9)', () => {
  it('parses the I2bis with a ULID Pair', () => {
    expect(expectOk(parseMessage(I2BIS))).toEqual(I2BIS_FIELDS);
  });

  it('emits the same 72 octets into a 0xa5-filled buffer', () => {
    expect(emitMessage(I2BIS_FIELDS)).toEqual(I2BIS);
  });

  it('I2bis: 49-bit Reserved2 and Packet Context Tag share octet 26', () => {
    // Reserved2 = 1 (only its lowest bit, the top bit of octet 26), tag = all ones.
    const a = sealed(hex('3b 03 06 00 0000 0000 0000 0001 0000 0011 0000 0022', '0000 0000 0000', '80', '00 0000 0000'));
    expect(expectOk(parseMessage(a))).toMatchObject({ reserved2: 1, packetContextTag: 0 });
    const b = sealed(hex('3b 03 06 00 0000 0000 0000 0001 0000 0011 0000 0022', '0000 0000 0000', '7f', 'ff ffff ffff'));
    expect(expectOk(parseMessage(b))).toMatchObject({ reserved2: 0, packetContextTag: 2 ** 47 - 1 });
    for (const v of [a, b]) expect(emitMessage(expectOk(parseMessage(v)))).toEqual(v);
  });

  it('the largest Reserved2 (2^49 - 1) and a tag share octet 26 without clobbering each other', () => {
    const m: I2bisMessage = { ...I2BIS_FIELDS, reserved2: 2 ** 49 - 1, packetContextTag: 0x0102_0304_0506, options: [] };
    const v = sealed(hex(
      '3b 03 06 00 0000', // header, Hdr Ext Len 3 (32 octets)
      '1234 5678 9abc', // Initiator Context Tag
      '0000 0011 0bad f00d', // nonces
      'ffff ffff ffff', // Reserved2 high 48 bits
      '81', // Reserved2 low bit 1 | tag bits 46-40 = 0x01
      '02 0304 0506', // tag bits 39-0
    ));
    expect(emitMessage(m)).toEqual(v);
    expect(expectOk(parseMessage(v))).toEqual(m);
  });

  it('every prefix is rejected with a typed reason', () => {
    expectEveryPrefixRejected(I2BIS);
  });

  it('Hdr Ext Len 0, 1 and 2 are header-too-short: I2bis needs 32 octets', () => {
    for (const hel of [0, 1, 2]) {
      const v = sealed(concat(hex('3b', hel.toString(16).padStart(2, '0'), '06 00 0000'), new Uint8Array(hel * 8 + 2)));
      expect(expectErr(parseMessage(v)), `Hdr Ext Len ${hel}`).toMatchObject({ reason: 'header-too-short', offset: 1 });
    }
  });

  it('a bad checksum is rejected, and accepted with verifyChecksum:false', () => {
    const bad = flipBit(I2BIS, 26, 0x80);
    expect(expectErr(parseMessage(bad)).reason).toBe('bad-checksum');
    expect(expectOk(parseMessage(bad, { verifyChecksum: false }))).toMatchObject({ reserved2: 1, packetContextTag: 0x42 });
  });

  it('unknown options: C=0 kept, C=1 Error Code 1 at the Type octet (offset 32)', () => {
    const base = '3b 04 06 00 0000 1234 5678 9abc 0000 0011 0bad f00d 0000 0000 0000 0000 0000 0042';
    expect(expectOk(parseMessage(sealed(hex(base, '0190 0000 0000 0000'))))).toMatchObject({ options: [{ kind: 'Unknown' }] });
    expect(expectErr(parseMessage(sealed(hex(base, '0191 0000 0000 0000'))))).toMatchObject({ offset: 32, reply: { code: 1, pointer: 32 } });
  });

  it('refuses to emit a Reserved2 of 2^49 or a tag of 2^47', () => {
    expect(() => emitMessage({ ...I2BIS_FIELDS, reserved2: 2 ** 49 })).toThrow(expect.objectContaining({ code: 'field-range' }));
    expect(() => emitMessage({ ...I2BIS_FIELDS, packetContextTag: 2 ** 47 })).toThrow(expect.objectContaining({ code: 'field-range' }));
  });
});
