/**
 * Update Acknowledgement, type 65 (RFC 5533 §5.11): 59, Hdr Ext Len, P=0 | Type 65,
 * Reserved1 | S=0, Checksum, R | 47-bit Receiver Context Tag, Request Nonce. No options
 * are defined, so every option is unknown here.
 */
import { describe, expect, it } from 'vitest';
import { type UpdateAckMessage } from '../../../src/wire/index.js';
import { emitMessage, expectErr, expectEveryPrefixRejected, expectOk, flipBit, hex, parseMessage, sealed } from '../vectors.js';

const UPDATE_ACK = sealed(hex(
  '3b', // Next Header 59
  '01', // Hdr Ext Len 1: 16 octets
  '41', // P=0, Type 65
  '00', // Reserved1 0, S=0
  '0000', // Checksum
  '0000 0000 1000', // R=0, Receiver Context Tag 0x1000
  '0000 beef', // Request Nonce (copied from the Update Request)
));
const UPDATE_ACK_FIELDS: UpdateAckMessage = {
  kind: 'UpdateAck', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: 0x1000, requestNonce: 0xbeef, options: [],
};

describe('Update Acknowledgement message (RFC 5533 §5.11)', () => {
  it('parses the 16-octet Update Ack', () => {
    expect(expectOk(parseMessage(UPDATE_ACK))).toEqual(UPDATE_ACK_FIELDS);
  });

  it('emits the same 16 octets into a 0xa5-filled buffer', () => {
    expect(emitMessage(UPDATE_ACK_FIELDS)).toEqual(UPDATE_ACK);
  });

  it('every prefix is rejected with a typed reason', () => {
    expectEveryPrefixRejected(UPDATE_ACK);
  });

  it('Hdr Ext Len 0 is header-too-short', () => {
    expect(expectErr(parseMessage(sealed(hex('3b 00 41 00 0000 0000'))))).toMatchObject({ reason: 'header-too-short' });
  });

  it('a bad checksum is rejected, and accepted with verifyChecksum:false', () => {
    const bad = flipBit(UPDATE_ACK, 8);
    expect(expectErr(parseMessage(bad)).reason).toBe('bad-checksum');
    expect(expectOk(parseMessage(bad, { verifyChecksum: false }))).toMatchObject({ receiverContextTag: 0x0100_1000 });
  });

  it('a Keepalive Timeout is not an Update Ack option: kept as Unknown with C=0, Error Code 1 with C=1', () => {
    const base = '3b 02 41 00 0000 0000 0000 1000 0000 beef';
    expect(expectOk(parseMessage(sealed(hex(base, '0014 0004 0000 000f'))))).toMatchObject({
      options: [{ kind: 'Unknown', type: 10, critical: false, contents: hex('0000000f') }],
    });
    expect(expectErr(parseMessage(sealed(hex(base, '0015 0004 0000 000f')))).reply).toEqual({ code: 1, pointer: 16 });
  });

  it('an unknown C=0 option re-emits byte for byte', () => {
    const v = sealed(hex('3b 02 41 00 0000 0000 0000 1000 0000 beef', '0190 0003 0102 0300'));
    expect(emitMessage(expectOk(parseMessage(v)))).toEqual(v);
  });
});
