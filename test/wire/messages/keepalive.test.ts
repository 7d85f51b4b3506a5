/**
 * Keepalive, type 66 (RFC 5534 §5.1): Next Header, Hdr Ext Len, P=0 | Type 66, Reserved1 |
 * S=0, Checksum, R | 47-bit Receiver Context Tag, Reserved2 (32 bits), then options (none
 * defined yet).
 */
import { describe, expect, it } from 'vitest';
import { type KeepaliveMessage } from '../../../src/wire/index.js';
import { emitMessage, expectErr, expectEveryPrefixRejected, expectOk, flipBit, hex, parseMessage, sealed, TAG } from '../vectors.js';

const KEEPALIVE = sealed(hex(
  '3b', // Next Header 59
  '01', // Hdr Ext Len 1: 16 octets
  '42', // P=0, Type 66
  '00', // Reserved1 0, S=0
  '0000', // Checksum
  '1234 5678 9abc', // R=0, Receiver Context Tag
  '0000 0000', // Reserved2
));
const KEEPALIVE_FIELDS: KeepaliveMessage = {
  kind: 'Keepalive', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: TAG, reserved2: 0, options: [],
};

describe('Keepalive message (RFC 5534 §5.1)', () => {
  it('parses the 16-octet Keepalive', () => {
    expect(expectOk(parseMessage(KEEPALIVE))).toEqual(KEEPALIVE_FIELDS);
  });

  it('emits the same 16 octets into a 0xa5-filled buffer', () => {
    expect(emitMessage(KEEPALIVE_FIELDS)).toEqual(KEEPALIVE);
  });

  it('Reserved2 and R are kept for lossless re-emit', () => {
    const v = sealed(hex('3b 01 42 00 0000', '8000 0000 0007', 'ffff ffff'));
    const m = expectOk(parseMessage(v));
    expect(m).toMatchObject({ r: 1, receiverContextTag: 7, reserved2: 0xffff_ffff });
    expect(emitMessage(m)).toEqual(v);
  });

  it('every prefix is rejected with a typed reason', () => {
    expectEveryPrefixRejected(KEEPALIVE);
  });

  it('Hdr Ext Len 0 is header-too-short', () => {
    expect(expectErr(parseMessage(sealed(hex('3b 00 42 00 0000 1234'))))).toMatchObject({ reason: 'header-too-short' });
  });

  it('a bad checksum is rejected, and accepted with verifyChecksum:false', () => {
    const bad = flipBit(KEEPALIVE, 12);
    expect(expectErr(parseMessage(bad)).reason).toBe('bad-checksum');
    expect(expectOk(parseMessage(bad, { verifyChecksum: false }))).toMatchObject({ reserved2: 0x0100_0000 });
  });

  it('any option is unknown in a Keepalive: C=0 kept, C=1 Error Code 1 at the Type octet', () => {
    const base = '3b 02 42 00 0000 1234 5678 9abc 0000 0000';
    expect(expectOk(parseMessage(sealed(hex(base, '0014 0004 0000 000f'))))).toMatchObject({ options: [{ kind: 'Unknown', type: 10 }] });
    expect(expectErr(parseMessage(sealed(hex(base, '0191 0000 0000 0000')))).reply).toEqual({ code: 1, pointer: 16 });
  });
});
