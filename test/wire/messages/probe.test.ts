/**
 * Probe, type 67 (RFC 5534 §5.2): the Keepalive's first 12 octets (R | Receiver Context
 * Tag), then octet 12 = Precvd (high nibble) | Psent (low nibble) as in the figure, a 2-bit
 * Sta and 22-bit Reserved2, then Psent sent-probe and Precvd received-probe reports of 40
 * octets each (source, destination, nonce, data), then options.
 */
import { describe, expect, it } from 'vitest';
import { PROBE_REPORTS_MAX, ProbeState, type ProbeMessage, type ProbeReport } from '../../../src/wire/index.js';
import {
  ADDR_A1, ADDR_A2, ADDR_B1, ADDR_B2, concat, emitMessage, expectErr, expectEveryPrefixRejected, expectOk, flipBit, hex, parseMessage, sealed, TAG,
} from '../vectors.js';

const SENT: ProbeReport = { source: ADDR_A1, destination: ADDR_B1, nonce: 0x1111_1111, data: 0x2222_2222 };
const RECEIVED: ProbeReport = { source: ADDR_B2, destination: ADDR_A2, nonce: 0x3333_3333, data: 0 };

const PROBE = sealed(concat(
  hex('3b'), // Next Header 59
  hex('0b'), // Hdr Ext Len 11: 16 + 2 * 40 = 96 octets
  hex('43'), // P=0, Type 67
  hex('00'), // Reserved 0, S=0
  hex('0000'), // Checksum
  hex('1234 5678 9abc'), // R=0, Receiver Context Tag
  hex('11'), // Precvd 1 | Psent 1
  hex('40'), // Sta 1 (Exploring) | Reserved2 bits 21-16 = 0
  hex('0000'), // Reserved2 bits 15-0
  ADDR_A1, // First probe sent: Source address
  ADDR_B1, // First probe sent: Destination address
  hex('1111 1111'), // First probe sent: Nonce
  hex('2222 2222'), // First probe sent: Data
  ADDR_B2, // First probe received: Source address
  ADDR_A2, // First probe received: Destination address
  hex('3333 3333'), // First probe received: Nonce
  hex('0000 0000'), // First probe received: Data
));
const PROBE_FIELDS: ProbeMessage = {
  kind: 'Probe', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: TAG, state: ProbeState.Exploring, reserved2: 0,
  sent: [SENT], received: [RECEIVED], options: [],
};

/** A Probe header with the given octets 12-15 and `reports` report slots of zeros. */
function probeWith(octets12to15: string, reports: number): Uint8Array {
  const hel = ((16 + 40 * reports) / 8 - 1).toString(16).padStart(2, '0');
  return sealed(concat(hex('3b', hel, '43 00 0000', '1234 5678 9abc', octets12to15), new Uint8Array(40 * reports)));
}

describe('Probe message (RFC 5534 §5.2)', () => {
  it('parses one sent and one received report', () => {
    expect(expectOk(parseMessage(PROBE))).toEqual(PROBE_FIELDS);
  });

  it('emits the same 96 octets into a 0xa5-filled buffer', () => {
    expect(emitMessage(PROBE_FIELDS)).toEqual(PROBE);
  });

  it('Precvd is the high nibble of octet 12 and Psent the low nibble', () => {
    const m = expectOk(parseMessage(probeWith('21 00 0000', 3))); // Precvd 2, Psent 1
    expect(m).toMatchObject({ sent: [expect.anything()], received: [expect.anything(), expect.anything()] });
    const n = expectOk(parseMessage(probeWith('02 00 0000', 2))); // Precvd 0, Psent 2
    expect(n).toMatchObject({ received: [] });
    if (n.kind === 'Probe') expect(n.sent).toHaveLength(2);
  });

  it('sent reports come before received reports', () => {
    const m = expectOk(parseMessage(PROBE));
    if (m.kind !== 'Probe') expect.fail('not a Probe');
    expect(m.sent[0]!.source).toEqual(ADDR_A1);
    expect(m.received[0]!.source).toEqual(ADDR_B2);
  });

  it('Sta is the top 2 bits of octet 13; the other 22 bits are Reserved2 and survive re-emit', () => {
    const v = probeWith('01 bf ffff', 1); // Sta 2 (InboundOk), Reserved2 0x3fffff
    const m = expectOk(parseMessage(v));
    expect(m).toMatchObject({ state: ProbeState.InboundOk, reserved2: 0x3f_ffff });
    expect(emitMessage(m)).toEqual(v);
    expect(expectOk(parseMessage(probeWith('01 00 0000', 1)))).toMatchObject({ state: ProbeState.Operational });
  });

  it('fifteen sent and fifteen received reports fit (the nibble maximum)', () => {
    const report = { source: ADDR_A1, destination: ADDR_B1, nonce: 1, data: 2 };
    const m: ProbeMessage = {
      ...PROBE_FIELDS,
      sent: Array.from({ length: PROBE_REPORTS_MAX }, () => report),
      received: Array.from({ length: PROBE_REPORTS_MAX }, () => report),
    };
    const out = emitMessage(m);
    expect(out.length).toBe(16 + 30 * 40);
    expect(out[12]).toBe(0xff);
    expect(expectOk(parseMessage(out))).toEqual(m);
  });

  it('Psent 0 is bad-probe at octet 12', () => {
    expect(expectErr(parseMessage(probeWith('10 00 0000', 1)))).toMatchObject({ reason: 'bad-probe', offset: 12 });
  });

  it('Sta 3 is bad-probe at octet 13', () => {
    expect(expectErr(parseMessage(probeWith('01 c0 0000', 1)))).toMatchObject({ reason: 'bad-probe', offset: 13 });
  });

  it('more reports than the header holds is bad-probe (Psent 2 in room for 1)', () => {
    expect(expectErr(parseMessage(probeWith('02 00 0000', 1)))).toMatchObject({ reason: 'bad-probe', offset: 12 });
    expect(expectErr(parseMessage(probeWith('11 00 0000', 1)))).toMatchObject({ reason: 'bad-probe' });
  });

  it('a Probe of only 16 octets has no room for the first report: bad-probe', () => {
    expect(expectErr(parseMessage(probeWith('01 00 0000', 0)))).toMatchObject({ reason: 'bad-probe' });
  });

  it('every prefix is rejected with a typed reason', () => {
    expectEveryPrefixRejected(PROBE);
  });

  it('Hdr Ext Len 0 is header-too-short', () => {
    expect(expectErr(parseMessage(sealed(hex('3b 00 43 00 0000 1234'))))).toMatchObject({ reason: 'header-too-short' });
  });

  it('a bad checksum is rejected, and accepted with verifyChecksum:false', () => {
    const bad = flipBit(PROBE, 95);
    expect(expectErr(parseMessage(bad)).reason).toBe('bad-checksum');
    expect(expectOk(parseMessage(bad, { verifyChecksum: false }))).toMatchObject({ received: [{ data: 1 }] });
  });

  it('options after the reports: unknown C=0 kept, C=1 Error Code 1 at its Type octet (offset 56)', () => {
    const base = concat(hex('3b 07 43 00 0000 1234 5678 9abc 01 00 0000'), new Uint8Array(40));
    const kept = sealed(concat(base, hex('0190 0000 0000 0000')));
    expect(expectOk(parseMessage(kept))).toMatchObject({ options: [{ kind: 'Unknown', type: 200 }] });
    expect(emitMessage(expectOk(parseMessage(kept)))).toEqual(kept);
    const critical = sealed(concat(base, hex('0191 0000 0000 0000')));
    expect(expectErr(parseMessage(critical))).toMatchObject({ offset: 56, reply: { code: 1, pointer: 56 } });
  });

  it('refuses to emit Psent 0, Psent 16, Precvd 16, Sta 3, a 23-bit Reserved2 or a short address', () => {
    const bad: Partial<ProbeMessage>[] = [
      { sent: [] },
      { sent: Array.from({ length: 16 }, () => SENT) },
      { received: Array.from({ length: 16 }, () => RECEIVED) },
      { state: 3 as ProbeState },
      { reserved2: 0x40_0000 },
      { sent: [{ ...SENT, source: ADDR_A1.subarray(0, 8) }] },
      { received: [{ ...RECEIVED, nonce: 2 ** 32 }] },
    ];
    for (const b of bad) expect(() => emitMessage({ ...PROBE_FIELDS, ...b })).toThrow(expect.objectContaining({ code: 'field-range' }));
  });
});
