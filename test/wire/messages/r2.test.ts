/**
 * R2, type 4 (RFC 5533 §5.7): 59, Hdr Ext Len, P=0 | Type 4, Reserved1 | S=0, Checksum,
 * R | 47-bit Responder Context Tag, Initiator Nonce, then options (Locator List, Locator
 * Preferences, CGA PDS, CGA Signature; Keepalive Timeout from RFC 5534 §5.3).
 */
import { describe, expect, it } from 'vitest';
import { type R2Message } from '../../../src/wire/index.js';
import { ADDR_B1, concat, emitMessage, expectErr, expectEveryPrefixRejected, expectOk, flipBit, hex, parseMessage, sealed, TAG_MAX } from '../vectors.js';

const R2 = sealed(concat(
  hex('3b'), // Next Header 59
  hex('06'), // Hdr Ext Len 6: 16 + 32 + 8 = 56 octets
  hex('04'), // P=0, Type 4
  hex('00'), // Reserved1 0, S=0
  hex('0000'), // Checksum
  hex('7fff ffff fffe'), // R=0, Responder Context Tag 2^47 - 2
  hex('0000 0011'), // Initiator Nonce (copied from I2)
  hex('0004 001c'), // Locator List option: Type 2, C=0, Length 28
  hex('0000 0005'), //   Locator List Generation 5
  hex('01'), //   Num Locators 1
  hex('02'), //   Verification Method: 2
  hex('0000 0000 0000'), //   Padding (6 octets)
  ADDR_B1, //   Locator 1
  hex('0014 0004 0000 0078'), // Keepalive Timeout option: 120 s
));
const R2_FIELDS: R2Message = {
  kind: 'R2', nextHeader: 59, reserved1: 0, r: 0, responderContextTag: TAG_MAX - 1, initiatorNonce: 0x11,
  options: [
    { kind: 'LocatorList', critical: false, generation: 5, locators: [{ address: ADDR_B1, verificationMethod: 2 }] },
    { kind: 'KeepaliveTimeout', critical: false, reserved: 0, keepaliveTimeoutSeconds: 120 },
  ],
};

describe('R2 message (RFC 5533 §5.7)', () => {
  it('parses the R2 with a Locator List and a Keepalive Timeout', () => {
    expect(expectOk(parseMessage(R2))).toEqual(R2_FIELDS);
  });

  it('emits the same 56 octets into a 0xa5-filled buffer', () => {
    expect(emitMessage(R2_FIELDS)).toEqual(R2);
  });

  it('parses and emits the 16-octet R2 with R=1 and no options', () => {
    const v = sealed(hex('3b 01 04 00 0000', '8000 0000 0001', 'ffff ffff'));
    const m = expectOk(parseMessage(v));
    expect(m).toEqual({ kind: 'R2', nextHeader: 59, reserved1: 0, r: 1, responderContextTag: 1, initiatorNonce: 0xffff_ffff, options: [] });
    expect(emitMessage(m)).toEqual(v);
  });

  it('every prefix is rejected with a typed reason', () => {
    expectEveryPrefixRejected(R2);
  });

  it('Hdr Ext Len 0 is header-too-short', () => {
    expect(expectErr(parseMessage(sealed(hex('3b 00 04 00 0000 0000'))))).toMatchObject({ reason: 'header-too-short' });
  });

  it('a bad checksum is rejected, and accepted with verifyChecksum:false', () => {
    const bad = flipBit(R2, 47);
    expect(expectErr(parseMessage(bad)).reason).toBe('bad-checksum');
    expect(parseMessage(bad, { verifyChecksum: false }).ok).toBe(true);
  });

  it('unknown options: C=0 kept, C=1 Error Code 1 at the Type octet', () => {
    const base = '3b 02 04 00 0000 0000 0000 0001 0000 0011';
    expect(expectOk(parseMessage(sealed(hex(base, '0190 0000 0000 0000'))))).toMatchObject({ options: [{ kind: 'Unknown', critical: false }] });
    expect(expectErr(parseMessage(sealed(hex(base, '0191 0000 0000 0000')))).reply).toEqual({ code: 1, pointer: 16 });
  });

  it('Responder Validator and ULID Pair are not R2 options: C=1 copies are rejected with Error Code 1', () => {
    const base = '3b 02 04 00 0000 0000 0000 0001 0000 0011';
    expect(expectErr(parseMessage(sealed(hex(base, '0003 0000 0000 0000')))).reply).toEqual({ code: 1, pointer: 16 });
    expect(expectOk(parseMessage(sealed(hex(base, '0002 0000 0000 0000'))))).toMatchObject({ options: [{ kind: 'Unknown', type: 1 }] });
  });

  it('refuses to emit a tag above 47 bits', () => {
    expect(() => emitMessage({ ...R2_FIELDS, responderContextTag: 2 ** 47 })).toThrow(expect.objectContaining({ code: 'field-range' }));
  });
});
