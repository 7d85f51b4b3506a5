/**
 * Error Message, type 68 (RFC 5533 §5.14): 59, Hdr Ext Len (at least 1), P=0 | Type 68,
 * Error Code | S=0, Checksum, Pointer (16 bits), then as much of the packet in error as
 * fits within 1280 octets, zero-padded to a multiple of 8.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, makeErrorMessage, PACKET_IN_ERROR_MAX, type ErrorMessage } from '../../../src/wire/index.js';
import { emitMessage, expectErr, expectEveryPrefixRejected, expectOk, flipBit, hex, parseMessage, sealed, zeros } from '../vectors.js';

const ERROR = sealed(hex(
  '3b', // Next Header 59
  '02', // Hdr Ext Len 2: 24 octets
  '44', // P=0, Type 68
  '02', // Error Code 1 (Critical option not recognized) | S=0
  '0000', // Checksum
  '0038', // Pointer 56
  '6000 0000 0028 8c40', // Packet in error: first 8 octets of an IPv6 header (Next Header 140)
  '2001 0db8 000a 0000', // Packet in error: next 8 octets
));
const ERROR_FIELDS: ErrorMessage = {
  kind: 'Error', nextHeader: 59, errorCode: ErrorCode.CriticalOptionNotRecognized, pointer: 56,
  packetInError: hex('6000 0000 0028 8c40 2001 0db8 000a 0000'),
};

describe('Error message (RFC 5533 §5.14)', () => {
  it('parses Error Code, Pointer and the packet in error', () => {
    expect(expectOk(parseMessage(ERROR))).toEqual(ERROR_FIELDS);
  });

  it('emits the same 24 octets into a 0xa5-filled buffer', () => {
    expect(emitMessage(ERROR_FIELDS)).toEqual(ERROR);
  });

  it('Error Code is the 7 bits above S in octet 3 (127 -> 0xfe)', () => {
    const v = sealed(hex('3b 01 44 fe 0000 ffff', '0102 0304 0506 0708'));
    const m = expectOk(parseMessage(v));
    expect(m).toMatchObject({ errorCode: 127, pointer: 0xffff });
    expect(emitMessage(m)).toEqual(v);
  });

  it('a packet in error that is not a multiple of 8 is zero-padded; the padding comes back on parse', () => {
    const m: ErrorMessage = { ...ERROR_FIELDS, errorCode: 0, pointer: 42, packetInError: hex('0102 0304 05') };
    const expected = sealed(hex('3b 01 44 00 0000 002a', '0102 0304 05', '00 0000'));
    expect(emitMessage(m)).toEqual(expected);
    expect(expectOk(parseMessage(expected))).toMatchObject({ packetInError: hex('0102030405000000') });
  });

  it('an empty packet in error still makes a 16-octet message (Hdr Ext Len at least 1)', () => {
    const out = emitMessage({ ...ERROR_FIELDS, packetInError: new Uint8Array(0) });
    expect(out).toEqual(sealed(hex('3b 01 44 02 0000 0038', '0000 0000 0000 0000')));
  });

  it('Error shorter than 16 octets (Hdr Ext Len 0) is header-too-short', () => {
    expect(expectErr(parseMessage(sealed(hex('3b 00 44 02 0000 0038'))))).toMatchObject({ reason: 'header-too-short', offset: 1 });
  });

  it('every prefix is rejected with a typed reason', () => {
    expectEveryPrefixRejected(ERROR);
  });

  it('a bad checksum is rejected, and accepted with verifyChecksum:false', () => {
    const bad = flipBit(ERROR, 7);
    expect(expectErr(parseMessage(bad)).reason).toBe('bad-checksum');
    expect(expectOk(parseMessage(bad, { verifyChecksum: false }))).toMatchObject({ pointer: 57 });
  });

  it('the packet in error is not parsed as options: an option-like C=1 TLV inside it is just data', () => {
    const v = sealed(hex('3b 01 44 02 0000 0000', '0191 0000 0000 0000'));
    expect(expectOk(parseMessage(v))).toMatchObject({ packetInError: hex('0191000000000000') });
  });

  it('makeErrorMessage keeps at most 1232 octets of the invoking packet, so the reply fits 1280 octets', () => {
    expect(PACKET_IN_ERROR_MAX).toBe(1280 - 40 - 8);
    const big = new Uint8Array(1500).map((_, i) => i & 0xff);
    const m = makeErrorMessage(ErrorCode.UnknownMessageType, 42, big);
    expect(m).toMatchObject({ kind: 'Error', nextHeader: 59, errorCode: 0, pointer: 42 });
    expect(m.packetInError).toEqual(big.subarray(0, 1232));
    const out = emitMessage(m);
    expect(out.length).toBe(1240);
    expect(out[1]).toBe(1240 / 8 - 1);
    const small = makeErrorMessage(ErrorCode.LocatorCountMismatch, 0, hex('60'));
    expect(small.packetInError).toEqual(hex('60'));
  });

  it('refuses to emit an Error Code above 127 or a Pointer above 65535', () => {
    expect(() => emitMessage({ ...ERROR_FIELDS, errorCode: 128 })).toThrow(expect.objectContaining({ code: 'field-range' }));
    expect(() => emitMessage({ ...ERROR_FIELDS, pointer: 0x10000 })).toThrow(expect.objectContaining({ code: 'field-range' }));
  });

  it('a packet in error that would pass 1280 octets is refused as too-large', () => {
    expect(() => emitMessage({ ...ERROR_FIELDS, packetInError: zeros(1233) })).toThrow(expect.objectContaining({ code: 'too-large' }));
  });
});
