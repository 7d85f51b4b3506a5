/**
 * I2, type 3 (RFC 5533 §5.6): 59, Hdr Ext Len, P=0 | Type 3, Reserved1 | S=0, Checksum,
 * R | Initiator Context Tag, Initiator Nonce, Responder Nonce, Reserved2 (32 bits, so the
 * options start on an 8-octet boundary), then options. The fixed part is 24 octets.
 */
import { describe, expect, it } from 'vitest';
import { type I2Message } from '../../../src/wire/index.js';
import {
  ADDR_A1, ADDR_A2, ADDR_B1, concat, emitMessage, expectErr, expectEveryPrefixRejected, expectOk, flipBit, hex, parseMessage, sealed, TAG, TAG_MAX,
} from '../vectors.js';

const I2_BARE = sealed(hex(
  '3b', // Next Header 59
  '02', // Hdr Ext Len 2: 24 octets
  '03', // P=0, Type 3
  '00', // Reserved1 0, S=0
  '0000', // Checksum
  '1234 5678 9abc', // R=0, Initiator Context Tag
  '0000 0011', // Initiator Nonce
  '0000 0022', // Responder Nonce (copied from R1)
  '0000 0000', // Reserved2
));
const I2_BARE_FIELDS: I2Message = {
  kind: 'I2', nextHeader: 59, reserved1: 0, r: 0, initiatorContextTag: TAG, initiatorNonce: 0x11, responderNonce: 0x22, reserved2: 0, options: [],
};

const I2_FULL = sealed(concat(
  hex('3b'), // Next Header 59
  hex('14'), // Hdr Ext Len 20: 24 + 8 + 40 + 48 + 16 + 8 + 8 + 8 + 8 = 168 octets
  hex('03 00 0000'), // Type 3, Reserved1 0, Checksum
  hex('0000 0000 0001'), // Initiator Context Tag 1
  hex('0000 0011'), // Initiator Nonce
  hex('0000 0022'), // Responder Nonce
  hex('0000 0000'), // Reserved2
  hex('0002 0004 cafe f00d'), // Responder Validator: Type 1, Length 4, validator
  hex('000c 0024 0000 0000'), ADDR_A1, ADDR_B1, // ULID Pair: Type 6, Length 36, Reserved2, ULIDs
  hex('0004 002c 0000 0001 02 01 02 00 0000 0000'), ADDR_A1, ADDR_A2, // Locator List: gen 1, 2 locators (HBA, CGA)
  hex('0006 0007 0000 0001 01 00 01 00 0000 0000'), // Locator Preferences: gen 1, Element Len 1, flags 0 and BROKEN, 5 octets padding
  hex('0008 0004 1122 3344'), // CGA Parameter Data Structure: 4 octets
  hex('000a 0004 5566 7788'), // CGA Signature: 4 octets
  hex('0014 0004 0000 0014'), // Keepalive Timeout: 20 s
  hex('000e 0004 0000 0009'), // Forked Instance Identifier 9
));

describe('I2 message (RFC 5533 §5.6)', () => {
  it('parses the 24-octet I2 without options', () => {
    expect(expectOk(parseMessage(I2_BARE))).toEqual(I2_BARE_FIELDS);
  });

  it('emits the 24-octet I2 into a 0xa5-filled buffer', () => {
    expect(emitMessage(I2_BARE_FIELDS)).toEqual(I2_BARE);
  });

  it('accepts every option §5.6 and RFC 5534 §5.3 list for I2, in order', () => {
    expect(I2_FULL.length).toBe((0x14 + 1) * 8);
    const m = expectOk(parseMessage(I2_FULL));
    expect(m.kind).toBe('I2');
    if (m.kind !== 'I2') return;
    expect(m.options.map((o) => o.kind)).toEqual([
      'ResponderValidator', 'UlidPair', 'LocatorList', 'LocatorPreferences', 'CgaParameterDataStructure', 'CgaSignature', 'KeepaliveTimeout', 'ForkedInstanceIdentifier',
    ]);
    expect(m.options[2]).toEqual({
      kind: 'LocatorList', critical: false, generation: 1,
      locators: [{ address: ADDR_A1, verificationMethod: 1 }, { address: ADDR_A2, verificationMethod: 2 }],
    });
    expect(emitMessage(m)).toEqual(I2_FULL);
  });

  it('Reserved2 is the 32 bits at octets 20-23 and survives re-emit', () => {
    const v = sealed(hex('3b 02 03 00 0000', '9234 5678 9abc', '0000 0011 0000 0022', 'dead beef'));
    const m = expectOk(parseMessage(v));
    expect(m).toMatchObject({ r: 1, initiatorContextTag: TAG, reserved2: 0xdead_beef });
    expect(emitMessage(m)).toEqual(v);
  });

  it('every prefix is rejected with a typed reason', () => {
    expectEveryPrefixRejected(I2_BARE);
    expectEveryPrefixRejected(I2_FULL);
  });

  it('Hdr Ext Len 0 and 1 are header-too-short: I2 needs 24 octets', () => {
    expect(expectErr(parseMessage(sealed(hex('3b 00 03 00 0000 1234'))))).toMatchObject({ reason: 'header-too-short' });
    expect(expectErr(parseMessage(sealed(hex('3b 01 03 00 0000 1234 5678 9abc 0000 0011'))))).toMatchObject({ reason: 'header-too-short', offset: 1 });
  });

  it('a bad checksum is rejected, and accepted with verifyChecksum:false', () => {
    const bad = flipBit(I2_FULL, 100);
    expect(expectErr(parseMessage(bad)).reason).toBe('bad-checksum');
    expect(parseMessage(bad, { verifyChecksum: false }).ok).toBe(true);
  });

  it('unknown options: C=0 kept, C=1 Error Code 1 at the Type octet (offset 24)', () => {
    const base = '3b 03 03 00 0000 1234 5678 9abc 0000 0011 0000 0022 0000 0000';
    expect(expectOk(parseMessage(sealed(hex(base, '0190 0000 0000 0000'))))).toMatchObject({ options: [{ kind: 'Unknown', type: 200 }] });
    expect(expectErr(parseMessage(sealed(hex(base, '0191 0000 0000 0000'))))).toMatchObject({ offset: 24, reply: { code: 1, pointer: 24 } });
  });

  it('refuses to emit out-of-range fields', () => {
    for (const bad of [{ initiatorContextTag: TAG_MAX + 1 }, { responderNonce: -1 }, { reserved2: 2 ** 32 }]) {
      expect(() => emitMessage({ ...I2_BARE_FIELDS, ...bad })).toThrow(expect.objectContaining({ code: 'field-range' }));
    }
  });
});
