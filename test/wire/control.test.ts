/**
 * The common Shim6 control header and its receive checks (RFC 5533 §5.1, §5.3, §12.3):
 * P bit, S bit, Type dispatch, Hdr Ext Len against the packet and against each message's
 * fixed part, the checksum (no pseudo-header, exactly (Hdr Ext Len + 1) * 8 octets), and
 * the emit limits (1280-octet signalling packets, 2048 octets a Hdr Ext Len can describe).
 */
import { describe, expect, it } from 'vitest';
import {
  allowedOptionsOf,
  controlMessageLength,
  emitControlMessage,
  encodeControlMessage,
  fixedLengthOf,
  MessageType,
  parseControlMessage,
  shim6HeaderLength,
  verifyControlChecksum,
  WireEmitError,
  type I1Message,
  type MessageKind,
} from '../../src/wire/index.js';
import { a5, concat, emitMessage, expectErr, expectOk, hex, onesComplementChecksum, parseMessage, sealed, zeros } from './vectors.js';

const I1 = sealed(hex(
  '3b', // Next Header 59
  '01', // Hdr Ext Len 1
  '01', // P=0, Type 1
  '00', // Reserved1 0, S=0
  '0000', // Checksum
  '0000 0000 0001', // Initiator Context Tag 1
  '0000 0002', // Initiator Nonce 2
));
const I1_FIELDS: I1Message = { kind: 'I1', nextHeader: 59, reserved1: 0, r: 0, initiatorContextTag: 1, initiatorNonce: 2, options: [] };

/** An I1 carrying one unknown C=0 option with `contents` octets, for size limits. */
function i1WithPayload(contents: number): I1Message {
  return { ...I1_FIELDS, options: [{ kind: 'Unknown', type: 200, critical: false, contents: new Uint8Array(contents) }] };
}

describe('checksum helper used by the vectors', () => {
  it('matches the RFC 1071 §3 worked example (sum 0xddf2, checksum 0x220d)', () => {
    expect(onesComplementChecksum(hex('0001 f203 f4f5 f6f7'))).toBe(0x220d);
  });

  it('a sealed I1 sums to zero including its checksum', () => {
    expect(onesComplementChecksum(I1)).toBe(0);
    // By hand: 0x3b01 + 0x0100 + 0x0001 + 0x0002 = 0x3c04; its complement is 0xc3fb.
    expect(I1.subarray(4, 6)).toEqual(hex('c3 fb'));
  });
});

describe('common header (RFC 5533 §5.1, §5.3)', () => {
  it('P=1 is a Payload Extension header, not a control message: wrong-p-bit at octet 2', () => {
    const v = I1.slice();
    v[2] = 0x81;
    expect(expectErr(parseMessage(v))).toMatchObject({ reason: 'wrong-p-bit', offset: 2 });
  });

  it('S=1 is a HIP message: hip-message at octet 3', () => {
    const v = I1.slice();
    v[3] = 0x01;
    expect(expectErr(parseMessage(v))).toMatchObject({ reason: 'hip-message', offset: 3 });
    // Even with a matching checksum it stays a HIP message.
    expect(expectErr(parseMessage(sealed(v)))).toMatchObject({ reason: 'hip-message' });
  });

  it('an unknown message type gets reply Error Code 0 with the Pointer at the Type octet', () => {
    for (const type of [0, 7, 63, 69, 127]) {
      const v = sealed(hex('3b 01', type.toString(16).padStart(2, '0'), '00 0000 0000 0000 0001 0000 0002'));
      const err = expectErr(parseMessage(v));
      expect(err, `type ${type}`).toMatchObject({ reason: 'unknown-message-type', offset: 2, reply: { code: 0, pointer: 2 } });
    }
  });

  it('the unknown-type Pointer counts from packetStart (the IPv6 header)', () => {
    const b = concat(zeros(48), sealed(hex('3b 01 07 00 0000 0000 0000 0001 0000 0002')));
    const err = expectErr(parseControlMessage(b, 48, 16, { packetStart: 8 }));
    expect(err).toMatchObject({ offset: 50, reply: { code: 0, pointer: 42 } });
  });

  it('Hdr Ext Len claiming more octets than the packet holds is header-past-end at octet 1', () => {
    const v = I1.slice();
    v[1] = 2; // 24 octets claimed, 16 present
    expect(expectErr(parseMessage(v))).toMatchObject({ reason: 'header-past-end', offset: 1 });
    expect(expectErr(parseControlMessage(I1, 0, 15))).toMatchObject({ reason: 'header-past-end' });
  });

  it('fewer than 8 octets, or a window outside the buffer, is truncated', () => {
    expect(expectErr(parseMessage(I1.slice(0, 7)))).toMatchObject({ reason: 'truncated', offset: 0 });
    expect(expectErr(parseControlMessage(I1, 12, 8)).reason).toBe('truncated');
    expect(expectErr(parseControlMessage(I1, -1, 16)).reason).toBe('truncated');
  });

  it('octets after (Hdr Ext Len + 1) * 8 are not part of the message or its checksum', () => {
    const b = concat(I1, hex('dead beef dead beef'));
    expect(expectOk(parseMessage(b))).toEqual(I1_FIELDS);
    expect(shim6HeaderLength(b, 0)).toBe(16);
    expect(verifyControlChecksum(b, 0)).toBe(true);
  });

  it('parses at an offset inside a larger buffer', () => {
    const b = concat(a5(40), I1, a5(3));
    expect(expectOk(parseControlMessage(b, 40, 16))).toEqual(I1_FIELDS);
  });
});

describe('header-too-short for each message (RFC 5533 §5.4-5.14, RFC 5534 §5.1-5.2)', () => {
  const fixed: [MessageKind, number][] = [
    ['I1', 16], ['R1', 16], ['I2', 24], ['R2', 16], ['R1bis', 16], ['I2bis', 32],
    ['UpdateRequest', 16], ['UpdateAck', 16], ['Keepalive', 16], ['Probe', 16], ['Error', 16],
  ];

  it('fixedLengthOf matches the RFC figures', () => {
    for (const [kind, len] of fixed) expect(fixedLengthOf(kind), kind).toBe(len);
  });

  for (const [kind, len] of fixed) {
    it(`${kind}: every Hdr Ext Len below ${len / 8 - 1} is header-too-short`, () => {
      for (let hel = 0; (hel + 1) * 8 < len; hel++) {
        const v = sealed(concat(hex('3b', hel.toString(16).padStart(2, '0'), MessageType[kind].toString(16).padStart(2, '0'), '00'), zeros(hel * 8 + 4)));
        expect(expectErr(parseMessage(v)), `Hdr Ext Len ${hel}`).toMatchObject({ reason: 'header-too-short', offset: 1 });
      }
    });
  }

  it('allowedOptionsOf follows the per-message option lists', () => {
    const sorted = (k: MessageKind): number[] => [...allowedOptionsOf(k)].sort((a, b) => a - b);
    expect(sorted('I1')).toEqual([6, 7]);
    expect(sorted('R1')).toEqual([1]);
    expect(sorted('I2')).toEqual([1, 2, 3, 4, 5, 6, 7, 10]);
    expect(sorted('R2')).toEqual([2, 3, 4, 5, 10]);
    expect(sorted('R1bis')).toEqual([1]);
    expect(sorted('I2bis')).toEqual([1, 2, 3, 4, 5, 6, 7, 10]);
    expect(sorted('UpdateRequest')).toEqual([2, 3, 4, 5, 10]);
    expect(sorted('UpdateAck')).toEqual([]);
    expect(sorted('Keepalive')).toEqual([]);
    expect(sorted('Probe')).toEqual([]);
    expect(sorted('Error')).toEqual([]);
  });
});

describe('checksum (RFC 5533 §5.3)', () => {
  it('a wrong checksum is bad-checksum at octet 4 with no reply (silent drop, §12.3)', () => {
    const v = I1.slice();
    v[5] ^= 0xff;
    const err = expectErr(parseMessage(v));
    expect(err).toMatchObject({ reason: 'bad-checksum', offset: 4 });
    expect(err.reply).toBeUndefined();
    expect(verifyControlChecksum(v, 0)).toBe(false);
  });

  it('verifyChecksum:false accepts the message with the wrong checksum', () => {
    const v = I1.slice();
    v[4] = 0;
    v[5] = 0;
    expect(expectOk(parseMessage(v, { verifyChecksum: false }))).toEqual(I1_FIELDS);
  });

  it('header-past-end is reported before the checksum is looked at', () => {
    const v = I1.slice();
    v[1] = 5;
    expect(expectErr(parseMessage(v)).reason).toBe('header-past-end');
  });

  it('the emitted checksum is the one-complement sum of exactly the message octets', () => {
    const b = a5(24);
    emitControlMessage(I1_FIELDS, b, 4);
    expect(onesComplementChecksum(b, 4, 20)).toBe(0);
    expect(b.subarray(4, 20)).toEqual(I1);
  });
});

describe('emit limits and errors', () => {
  it('a 1240-octet message fits a 1280-octet packet behind a 40-octet IPv6 header; 1248 does not', () => {
    // I1 is 16 octets; an option with 1220 octets of contents takes 1224.
    const fits = i1WithPayload(1220);
    expect(controlMessageLength(fits)).toBe(1240);
    expect(encodeControlMessage(fits).length).toBe(1240);
    const over = i1WithPayload(1228);
    expect(controlMessageLength(over)).toBe(1248);
    expect(() => encodeControlMessage(over)).toThrow(expect.objectContaining({ name: 'WireEmitError', code: 'too-large' }));
  });

  it('headersBefore counts extension headers in front toward the 1280 octets', () => {
    const m = i1WithPayload(1220);
    expect(() => emitControlMessage(m, new Uint8Array(1240), 0, { headersBefore: 48 })).toThrow(expect.objectContaining({ code: 'too-large' }));
    expect(emitControlMessage(m, new Uint8Array(1240), 0, { headersBefore: 40 })).toBe(1240);
  });

  it('with the signalling limit off, 2048 octets (Hdr Ext Len 255) is the most a message can be', () => {
    const max = i1WithPayload(2028); // 16 + 2032 = 2048
    const out = encodeControlMessage(max, { enforceSignallingLimit: false });
    expect(out.length).toBe(2048);
    expect(out[1]).toBe(255);
    expect(expectOk(parseMessage(out))).toEqual(max);
    expect(() => encodeControlMessage(i1WithPayload(2036), { enforceSignallingLimit: false })).toThrow(expect.objectContaining({ code: 'too-large' }));
  });

  it('a buffer too small, or a negative offset, is buffer-too-small', () => {
    expect(() => emitControlMessage(I1_FIELDS, new Uint8Array(15))).toThrow(expect.objectContaining({ code: 'buffer-too-small' }));
    expect(() => emitControlMessage(I1_FIELDS, new Uint8Array(32), 17)).toThrow(expect.objectContaining({ code: 'buffer-too-small' }));
    expect(() => emitControlMessage(I1_FIELDS, new Uint8Array(32), -1)).toThrow(expect.objectContaining({ code: 'buffer-too-small' }));
  });

  it('field range errors throw WireEmitError with code field-range and leave the buffer untouched', () => {
    const cases: Partial<I1Message>[] = [
      { nextHeader: 256 }, { nextHeader: -1 }, { reserved1: 128 }, { r: 2 }, { initiatorContextTag: 2 ** 47 },
      { initiatorNonce: 2 ** 32 }, { initiatorNonce: 1.5 }, { initiatorNonce: Number.NaN },
    ];
    for (const c of cases) {
      const b = a5(16);
      let thrown: unknown;
      try {
        emitControlMessage({ ...I1_FIELDS, ...c }, b);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, JSON.stringify(c)).toBeInstanceOf(WireEmitError);
      expect((thrown as WireEmitError).code).toBe('field-range');
      expect(b).toEqual(a5(16));
    }
  });

  it('Next Header other than 59 is carried as given', () => {
    const out = emitMessage({ ...I1_FIELDS, nextHeader: 6 });
    expect(out[0]).toBe(6);
    expect(expectOk(parseMessage(out))).toMatchObject({ nextHeader: 6 });
  });

  it("unknownCritical 'keep' keeps a C=1 unknown option instead of failing", () => {
    const v = sealed(hex('3b 02 01 00 0000 0000 0000 0001 0000 0002', '0191 0000 0000 0000'));
    expect(expectErr(parseMessage(v)).reason).toBe('unrecognized-critical-option');
    expect(expectOk(parseMessage(v, { unknownCritical: 'keep' }))).toMatchObject({ options: [{ kind: 'Unknown', critical: true }] });
  });
});
