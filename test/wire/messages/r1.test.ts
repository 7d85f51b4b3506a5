/**
 * R1, type 2 (RFC 5533 §5.5): 59, Hdr Ext Len, P=0 | Type 2, Reserved1 | S=0, Checksum,
 * Reserved2 (16 bits), Initiator Nonce, Responder Nonce, then options (Responder
 * Validator). R1 has no context tag and no R bit.
 */
import { describe, expect, it } from 'vitest';
import { type R1Message } from '../../../src/wire/index.js';
import { emitMessage, expectErr, expectEveryPrefixRejected, expectOk, flipBit, hex, parseMessage, sealed } from '../vectors.js';

const R1 = sealed(hex(
  '3b', // Next Header 59
  '03', // Hdr Ext Len 3: 16 + 16 = 32 octets
  '02', // P=0, Type 2
  '00', // Reserved1 0, S=0
  '0000', // Checksum
  '0000', // Reserved2
  'a1b2 c3d4', // Initiator Nonce (copied from I1)
  '5566 7788', // Responder Nonce
  '0002 000a', // Responder Validator option: Type 1, C=0, Length 10
  '0102 0304 0506 0708 090a', //   Validator
  '0000', //   Padding (2 octets)
));
const R1_FIELDS: R1Message = {
  kind: 'R1', nextHeader: 59, reserved1: 0, reserved2: 0, initiatorNonce: 0xa1b2_c3d4, responderNonce: 0x5566_7788,
  options: [{ kind: 'ResponderValidator', critical: false, validator: hex('0102030405060708090a') }],
};

describe('R1 message (RFC 5533 §5.5)', () => {
  it('parses the R1 with its Responder Validator', () => {
    expect(expectOk(parseMessage(R1))).toEqual(R1_FIELDS);
  });

  it('emits the same 32 octets into a 0xa5-filled buffer', () => {
    expect(emitMessage(R1_FIELDS)).toEqual(R1);
  });

  it('Reserved2 is the 16 bits after the checksum; the nonces are not shifted by it', () => {
    const v = sealed(hex('3b 01 02 00 0000', 'ffff', '0000 0001', '0000 0002'));
    const m = expectOk(parseMessage(v));
    expect(m).toEqual({ kind: 'R1', nextHeader: 59, reserved1: 0, reserved2: 0xffff, initiatorNonce: 1, responderNonce: 2, options: [] });
    expect(emitMessage(m)).toEqual(v);
  });

  it('every prefix is rejected with a typed reason', () => {
    expectEveryPrefixRejected(R1);
  });

  it('Hdr Ext Len 0 is header-too-short', () => {
    expect(expectErr(parseMessage(sealed(hex('3b 00 02 00 0000 0000 a1b2'))))).toMatchObject({ reason: 'header-too-short' });
  });

  it('a bad checksum is rejected, and accepted with verifyChecksum:false', () => {
    const bad = flipBit(R1, 20);
    expect(expectErr(parseMessage(bad))).toMatchObject({ reason: 'bad-checksum', offset: 4 });
    expect(expectOk(parseMessage(bad, { verifyChecksum: false }))).toMatchObject({ options: [{ validator: hex('0002030405060708090a') }] });
  });

  it('unknown options: C=0 kept, C=1 Error Code 1 at the Type octet', () => {
    const base = '3b 02 02 00 0000 0000 a1b2 c3d4 5566 7788';
    expect(expectOk(parseMessage(sealed(hex(base, '4000 0000 0000 0000'))))).toMatchObject({
      options: [{ kind: 'Unknown', type: 0x2000, critical: false, contents: new Uint8Array(0) }],
    });
    expect(expectErr(parseMessage(sealed(hex(base, '4001 0000 0000 0000')))).reply).toEqual({ code: 1, pointer: 16 });
  });

  it('a ULID Pair is not an R1 option: kept as Unknown with C=0', () => {
    const v = sealed(hex('3b 06 02 00 0000 0000 a1b2 c3d4 5566 7788', '000c 0024', '00'.repeat(36), '0000 0000'));
    expect(expectOk(parseMessage(v))).toMatchObject({ options: [{ kind: 'Unknown', type: 6 }] });
  });

  it('refuses to emit a Reserved2 above 16 bits', () => {
    expect(() => emitMessage({ ...R1_FIELDS, reserved2: 0x10000 })).toThrow(expect.objectContaining({ code: 'field-range' }));
  });
});
