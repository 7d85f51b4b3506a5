/**
 * Update Request, type 64 (RFC 5533 §5.10): 59, Hdr Ext Len, P=0 | Type 64, Reserved1 |
 * S=0, Checksum, R | 47-bit Receiver Context Tag, Request Nonce, then options (Locator
 * List, Locator Preferences, CGA PDS, CGA Signature; Keepalive Timeout per RFC 5534 §5.3).
 */
import { describe, expect, it } from 'vitest';
import { triggersR1bis, type UpdateRequestMessage } from '../../../src/wire/index.js';
import { ADDR_A1, ADDR_A2, concat, emitMessage, expectErr, expectEveryPrefixRejected, expectOk, flipBit, hex, parseMessage, sealed, TAG } from '../vectors.js';

const UPDATE_REQUEST = sealed(concat(
  hex('3b'), // Next Header 59
  hex('0c'), // Hdr Ext Len 12: 16 + 48 + 16 + 8 + 16 = 104 octets
  hex('40'), // P=0, Type 64
  hex('00'), // Reserved1 0, S=0
  hex('0000'), // Checksum
  hex('1234 5678 9abc'), // R=0, Receiver Context Tag
  hex('0000 beef'), // Request Nonce
  hex('0004 002c'), // Locator List option: Type 2, C=0, Length 44
  hex('0000 0002'), //   Locator List Generation 2
  hex('02 01 01'), //   Num Locators 2, methods 1 and 1
  hex('00 0000 0000'), //   Padding (5 octets)
  ADDR_A1, ADDR_A2, //   Locators
  hex('0006 0009'), // Locator Preferences option: Type 3, C=0, Length 9
  hex('0000 0002 02'), //   Generation 2, Element Len 2
  hex('00 0a 01 14'), //   Elements: (flags 0, prio 10), (BROKEN, prio 20)
  hex('00 0000'), //   Padding (3 octets)
  hex('0014 0004 0000 0005'), // Keepalive Timeout option: 5 s
  hex('0008 0006 0102 0304 0506 0000 0000 0000'), // CGA PDS option: 6 octets, 6 padding
));
const UPDATE_REQUEST_FIELDS: UpdateRequestMessage = {
  kind: 'UpdateRequest', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: TAG, requestNonce: 0xbeef,
  options: [
    { kind: 'LocatorList', critical: false, generation: 2, locators: [{ address: ADDR_A1, verificationMethod: 1 }, { address: ADDR_A2, verificationMethod: 1 }] },
    { kind: 'LocatorPreferences', critical: false, generation: 2, elementLength: 2, elements: [{ flags: 0, priority: 10 }, { flags: 1, priority: 20 }] },
    { kind: 'KeepaliveTimeout', critical: false, reserved: 0, keepaliveTimeoutSeconds: 5 },
    { kind: 'CgaParameterDataStructure', critical: false, pds: hex('010203040506') },
  ],
};

describe('Update Request message (RFC 5533 §5.10)', () => {
  it('parses the Update Request with Locator List, Locator Preferences, Keepalive Timeout and PDS', () => {
    expect(UPDATE_REQUEST.length).toBe(104);
    expect(expectOk(parseMessage(UPDATE_REQUEST))).toEqual(UPDATE_REQUEST_FIELDS);
  });

  it('emits the same 104 octets into a 0xa5-filled buffer', () => {
    expect(emitMessage(UPDATE_REQUEST_FIELDS)).toEqual(UPDATE_REQUEST);
  });

  it('type 64 is in the range that triggers R1bis', () => {
    expect(triggersR1bis(UPDATE_REQUEST[2]! & 0x7f)).toBe(true);
  });

  it('every prefix is rejected with a typed reason', () => {
    expectEveryPrefixRejected(UPDATE_REQUEST);
  });

  it('Hdr Ext Len 0 is header-too-short', () => {
    expect(expectErr(parseMessage(sealed(hex('3b 00 40 00 0000 0000'))))).toMatchObject({ reason: 'header-too-short' });
  });

  it('a bad checksum is rejected, and accepted with verifyChecksum:false', () => {
    const bad = flipBit(UPDATE_REQUEST, 103);
    expect(expectErr(parseMessage(bad)).reason).toBe('bad-checksum');
    expect(parseMessage(bad, { verifyChecksum: false }).ok).toBe(true);
  });

  it('a Locator List whose count disagrees with its Length fails the whole message as bad-locator-list', () => {
    const v = UPDATE_REQUEST.slice();
    v[24] = 1; // Num Locators 1 in a Length-44 option
    expect(expectErr(parseMessage(sealed(v)))).toMatchObject({ reason: 'bad-locator-list', offset: 18 });
  });

  it('unknown options: C=0 kept, C=1 Error Code 1 at the Type octet', () => {
    const base = '3b 02 40 00 0000 1234 5678 9abc 0000 beef';
    expect(expectOk(parseMessage(sealed(hex(base, '0190 0000 0000 0000'))))).toMatchObject({ options: [{ kind: 'Unknown' }] });
    expect(expectErr(parseMessage(sealed(hex(base, '0191 0000 0000 0000')))).reply).toEqual({ code: 1, pointer: 16 });
  });

  it('a ULID Pair is not an Update Request option: C=1 copy rejected with Error Code 1', () => {
    const v = sealed(concat(hex('3b 06 40 00 0000 1234 5678 9abc 0000 beef', '000d 0024 0000 0000'), ADDR_A1, ADDR_A2));
    expect(expectErr(parseMessage(v)).reply).toEqual({ code: 1, pointer: 16 });
  });
});
