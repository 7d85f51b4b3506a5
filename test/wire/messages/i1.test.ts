/**
 * I1, type 1 (RFC 5533 §5.4): 59, Hdr Ext Len, P=0 | Type 1, Reserved1 | S=0, Checksum,
 * R | 47-bit Initiator Context Tag, Initiator Nonce, then options (ULID Pair, Forked
 * Instance Identifier). Vectors are written by hand; checksums come from `sealed`.
 */
import { describe, expect, it } from 'vitest';
import { emitControlMessage, encodeControlMessage, type I1Message } from '../../../src/wire/index.js';
import {
  a5, ADDR_A1, ADDR_B1, concat, emitMessage, expectErr, expectEveryPrefixRejected, expectOk, flipBit, hex, parseMessage, sealed, TAG, TAG_MAX,
} from '../vectors.js';

const I1_BARE = sealed(hex(
  '3b', // Next Header: NO_NXT_HDR (59)
  '01', // Hdr Ext Len 1: 16 octets
  '01', // P=0, Type 1
  '00', // Reserved1 0, S=0
  '0000', // Checksum (computed by sealed)
  '1234 5678 9abc', // R=0, Initiator Context Tag 0x123456789abc
  'a1b2 c3d4', // Initiator Nonce
));
const I1_BARE_FIELDS: I1Message = {
  kind: 'I1', nextHeader: 59, reserved1: 0, r: 0, initiatorContextTag: TAG, initiatorNonce: 0xa1b2_c3d4, options: [],
};

const I1_OPTIONS = sealed(concat(
  hex('3b'), // Next Header 59
  hex('07'), // Hdr Ext Len 7: 16 + 40 + 8 = 64 octets
  hex('01'), // P=0, Type 1
  hex('00'), // Reserved1 0, S=0
  hex('0000'), // Checksum
  hex('0000 0000 0001'), // R=0, Initiator Context Tag 1
  hex('0000 0002'), // Initiator Nonce 2
  hex('000c 0024'), // ULID Pair option: Type 6, C=0, Length 36
  hex('0000 0000'), //   Reserved2
  ADDR_A1, //   Sender ULID
  ADDR_B1, //   Receiver ULID
  hex('000e 0004'), // Forked Instance Identifier option: Type 7, C=0, Length 4
  hex('0000 0003'), //   Forked Instance Identifier 3
));
const I1_OPTIONS_FIELDS: I1Message = {
  kind: 'I1', nextHeader: 59, reserved1: 0, r: 0, initiatorContextTag: 1, initiatorNonce: 2,
  options: [
    { kind: 'UlidPair', critical: false, reserved2: 0, senderUlid: ADDR_A1, receiverUlid: ADDR_B1 },
    { kind: 'ForkedInstanceIdentifier', critical: false, forkedInstanceId: 3 },
  ],
};

describe('I1 message (RFC 5533 §5.4)', () => {
  it('parses the 16-octet I1 without options', () => {
    expect(expectOk(parseMessage(I1_BARE))).toEqual(I1_BARE_FIELDS);
  });

  it('emits the 16-octet I1 into a 0xa5-filled buffer, checksum included', () => {
    expect(emitMessage(I1_BARE_FIELDS)).toEqual(I1_BARE);
  });

  it('parses and emits an I1 with ULID Pair and Forked Instance Identifier options', () => {
    expect(expectOk(parseMessage(I1_OPTIONS))).toEqual(I1_OPTIONS_FIELDS);
    expect(emitMessage(I1_OPTIONS_FIELDS)).toEqual(I1_OPTIONS);
  });

  it('emits at an offset without touching octets outside the message', () => {
    const b = a5(32);
    expect(emitControlMessage(I1_BARE_FIELDS, b, 8)).toBe(16);
    expect(b).toEqual(concat(a5(8), I1_BARE, a5(8)));
    expect(encodeControlMessage(I1_BARE_FIELDS)).toEqual(I1_BARE);
  });

  it('the R bit is the top bit of octet 6 and is not part of the 47-bit tag', () => {
    const v = sealed(hex('3b 01 01 00 0000', 'ffff ffff ffff', '0000 0000')); // R=1, tag all ones
    const m = expectOk(parseMessage(v));
    expect(m).toMatchObject({ kind: 'I1', r: 1, initiatorContextTag: TAG_MAX });
    expect(emitMessage(m)).toEqual(v);
    const r1Only = sealed(hex('3b 01 01 00 0000', '8000 0000 0000', '0000 0000'));
    expect(expectOk(parseMessage(r1Only))).toMatchObject({ r: 1, initiatorContextTag: 0 });
  });

  it('Reserved1 is the 7 bits above S in octet 3 and survives re-emit', () => {
    const v = sealed(hex('3b 01 01 fe 0000', '1234 5678 9abc', 'a1b2 c3d4')); // Reserved1 0x7f, S=0
    const m = expectOk(parseMessage(v));
    expect(m).toMatchObject({ reserved1: 0x7f });
    expect(emitMessage(m)).toEqual(v);
  });

  it('every prefix is rejected with a typed reason', () => {
    expectEveryPrefixRejected(I1_BARE);
    expectEveryPrefixRejected(I1_OPTIONS);
  });

  it('Hdr Ext Len 0 (8 octets) is header-too-short', () => {
    const err = expectErr(parseMessage(sealed(hex('3b 00 01 00 0000 1234')))); // only 8 octets
    expect(err).toMatchObject({ reason: 'header-too-short', offset: 1 });
  });

  it('a flipped bit anywhere is bad-checksum; verifyChecksum:false accepts it', () => {
    for (let i = 0; i < I1_BARE.length; i++) {
      if (i === 1 || i === 2 || i === 3) continue; // length, type and S are checked before the checksum
      const bad = flipBit(I1_BARE, i, 0x02);
      expect(expectErr(parseMessage(bad)), `octet ${i}`).toMatchObject({ reason: 'bad-checksum', offset: 4 });
    }
    const bad = flipBit(I1_BARE, 15);
    expect(expectOk(parseMessage(bad, { verifyChecksum: false }))).toMatchObject({ initiatorNonce: 0xa1b2_c3d5 });
  });

  it('an unknown C=0 option is kept; an unknown C=1 option yields Error Code 1 at its Type octet', () => {
    const kept = sealed(hex('3b 02 01 00 0000 1234 5678 9abc a1b2 c3d4', '0190 0002 abcd 0000')); // Type 200, C=0
    expect(expectOk(parseMessage(kept))).toMatchObject({ options: [{ kind: 'Unknown', type: 200, critical: false, contents: hex('abcd') }] });
    expect(emitMessage(expectOk(parseMessage(kept)))).toEqual(kept);
    const critical = sealed(hex('3b 02 01 00 0000 1234 5678 9abc a1b2 c3d4', '0191 0002 abcd 0000')); // Type 200, C=1
    expect(expectErr(parseMessage(critical))).toMatchObject({ reason: 'unrecognized-critical-option', offset: 16, reply: { code: 1, pointer: 16 } });
  });

  it('options I1 does not list (Responder Validator, Keepalive Timeout) are treated as unknown', () => {
    const rv = sealed(hex('3b 02 01 00 0000 1234 5678 9abc a1b2 c3d4', '0002 0004 0102 0304')); // Responder Validator, C=0
    expect(expectOk(parseMessage(rv))).toMatchObject({ options: [{ kind: 'Unknown', type: 1 }] });
    const kt = sealed(hex('3b 02 01 00 0000 1234 5678 9abc a1b2 c3d4', '0015 0004 0000 000f')); // Keepalive Timeout, C=1
    expect(expectErr(parseMessage(kt)).reply).toEqual({ code: 1, pointer: 16 });
  });

  it('refuses to emit a tag above 47 bits, a nonce above 32 bits, or an R above 1', () => {
    for (const bad of [{ initiatorContextTag: TAG_MAX + 1 }, { initiatorNonce: 2 ** 32 }, { r: 2 }, { reserved1: 128 }, { nextHeader: 256 }]) {
      expect(() => emitMessage({ ...I1_BARE_FIELDS, ...bad })).toThrow(expect.objectContaining({ name: 'WireEmitError', code: 'field-range' }));
    }
  });
});
