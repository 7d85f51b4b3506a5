/**
 * The Shim6 Payload Extension header (RFC 5533 §5.2) and its in-place insertion and
 * removal. Placement follows §4.6: after Hop-by-Hop, Routing and a Destination Options
 * header that precedes a Routing header; before Fragment, other Destination Options, AH,
 * ESP and the upper layer.
 */
import { describe, expect, it } from 'vitest';
import {
  emitPayloadHeader,
  insertPayloadHeader,
  isPayloadHeader,
  parsePayloadHeader,
  readPayloadContextTag,
  stripPayloadHeader,
  type PayloadHeader,
} from '../../src/wire/index.js';
import {
  a5, authHdr, concat, destOpts, expectErr, expectOk, fragment, hex, hopByHop, ipv6Hdr, prefixFailures, routing, shim6Payload, TAG, TAG_MAX, UDP, zeros,
} from './vectors.js';

const HEADER = hex(
  '11', // Next Header 17 (UDP)
  '00', // Hdr Ext Len 0
  '92', // P=1 | Receiver Context Tag bits 46-40 (0x12)
  '34 5678 9abc', // Receiver Context Tag bits 39-0
);
const HEADER_FIELDS: PayloadHeader = { nextHeader: 17, receiverContextTag: TAG };

describe('Payload Extension header codec (RFC 5533 §5.2)', () => {
  it('parses Next Header and the 47-bit Receiver Context Tag', () => {
    expect(expectOk(parsePayloadHeader(HEADER))).toEqual(HEADER_FIELDS);
  });

  it('emits the same 8 octets into a 0xa5-filled buffer', () => {
    const b = a5(8);
    emitPayloadHeader(HEADER_FIELDS, b);
    expect(b).toEqual(HEADER);
  });

  it('emits at an offset without touching neighbours', () => {
    const b = a5(24);
    emitPayloadHeader({ nextHeader: 6, receiverContextTag: TAG_MAX }, b, 8);
    expect(b).toEqual(concat(a5(8), hex('06 00 ffff ffff ffff'), a5(8)));
  });

  it('the P bit is not part of the tag: tag 0 is 0x80 followed by zeros', () => {
    expect(expectOk(parsePayloadHeader(hex('3b 00 8000 0000 0000')))).toEqual({ nextHeader: 59, receiverContextTag: 0 });
  });

  it('P=0 is wrong-p-bit at octet 2', () => {
    expect(expectErr(parsePayloadHeader(hex('11 00 1234 5678 9abc')))).toMatchObject({ reason: 'wrong-p-bit', offset: 2 });
  });

  it('Hdr Ext Len other than 0 is bad-payload-hdr-ext-len at octet 1', () => {
    expect(expectErr(parsePayloadHeader(hex('11 01 9234 5678 9abc 0000 0000 0000 0000')))).toMatchObject({
      reason: 'bad-payload-hdr-ext-len', offset: 1,
    });
  });

  it('every prefix is truncated', () => {
    for (const e of prefixFailures(HEADER, (b) => parsePayloadHeader(b))) expect(e.reason).toBe('truncated');
  });

  it('refuses to emit a tag of 2^47, a Next Header of 256, or into a short buffer', () => {
    expect(() => emitPayloadHeader({ nextHeader: 17, receiverContextTag: 2 ** 47 }, a5(8))).toThrow(expect.objectContaining({ code: 'field-range' }));
    expect(() => emitPayloadHeader({ nextHeader: 256, receiverContextTag: 0 }, a5(8))).toThrow(expect.objectContaining({ code: 'field-range' }));
    expect(() => emitPayloadHeader(HEADER_FIELDS, a5(7))).toThrow(expect.objectContaining({ code: 'buffer-too-small' }));
    expect(() => emitPayloadHeader(HEADER_FIELDS, a5(16), 9)).toThrow(expect.objectContaining({ code: 'buffer-too-small' }));
  });

  it('isPayloadHeader and readPayloadContextTag read the P bit and tag in place', () => {
    const b = concat(a5(3), HEADER);
    expect(isPayloadHeader(b, 3)).toBe(true);
    expect(readPayloadContextTag(b, 3)).toBe(TAG);
    expect(isPayloadHeader(hex('3b 01 01 00'), 0)).toBe(false);
  });
});

interface PlacementCase {
  readonly name: string;
  readonly before: Uint8Array;
  readonly after: Uint8Array;
}

/** Each case: the packet without a Shim6 header, and by hand the packet with it where §4.6 puts it. */
const CASES: PlacementCase[] = [
  {
    name: 'no extension headers: right after the IPv6 header',
    before: concat(ipv6Hdr(17, 12), UDP),
    after: concat(ipv6Hdr(140, 20), shim6Payload(17), UDP),
  },
  {
    name: 'Hop-by-Hop: after it',
    before: concat(ipv6Hdr(0, 20), hopByHop(17), UDP),
    after: concat(ipv6Hdr(0, 28), hopByHop(140), shim6Payload(17), UDP),
  },
  {
    name: 'Routing: after it',
    before: concat(ipv6Hdr(43, 36), routing(17), UDP),
    after: concat(ipv6Hdr(43, 44), routing(140), shim6Payload(17), UDP),
  },
  {
    name: 'Hop-by-Hop, Destination Options before Routing, Routing: after the Routing header',
    before: concat(ipv6Hdr(0, 52), hopByHop(60), destOpts(43), routing(17), UDP),
    after: concat(ipv6Hdr(0, 60), hopByHop(60), destOpts(43), routing(140), shim6Payload(17), UDP),
  },
  {
    name: 'Hop-by-Hop then Fragment: before the Fragment header',
    before: concat(ipv6Hdr(0, 28), hopByHop(44), fragment(17), UDP),
    after: concat(ipv6Hdr(0, 36), hopByHop(140), shim6Payload(44), fragment(17), UDP),
  },
  {
    name: 'Destination Options not followed by Routing: before it',
    before: concat(ipv6Hdr(60, 20), destOpts(17), UDP),
    after: concat(ipv6Hdr(140, 28), shim6Payload(60), destOpts(17), UDP),
  },
  {
    name: 'Destination Options before Routing and after it: between Routing and the second one',
    before: concat(ipv6Hdr(60, 52), destOpts(43), routing(60), destOpts(17), UDP),
    after: concat(ipv6Hdr(60, 60), destOpts(43), routing(140), shim6Payload(60), destOpts(17), UDP),
  },
  {
    name: 'Routing then AH: before AH',
    before: concat(ipv6Hdr(43, 60), routing(51), authHdr(17), UDP),
    after: concat(ipv6Hdr(43, 68), routing(140), shim6Payload(51), authHdr(17), UDP),
  },
];

describe('insertPayloadHeader / stripPayloadHeader in place (RFC 5533 §4.6)', () => {
  for (const c of CASES) {
    it(`insert with ${c.name}`, () => {
      expect(c.after.length).toBe(c.before.length + 8);
      const b = concat(a5(8), c.before, a5(4));
      const start = insertPayloadHeader(b, 8, c.before.length, TAG);
      expect(start).toBe(0);
      expect(b).toEqual(concat(c.after, a5(4)));
    });

    it(`strip with ${c.name}`, () => {
      const b = concat(c.after, a5(4));
      const start = stripPayloadHeader(b, 0, c.after.length);
      expect(start).toBe(8);
      expect(b.subarray(8, 8 + c.before.length)).toEqual(c.before);
      expect(b.subarray(8 + c.before.length)).toEqual(a5(4));
    });
  }

  it('insert works with more headroom than needed and leaves the rest of the headroom alone', () => {
    const before = concat(ipv6Hdr(17, 12), UDP);
    const b = concat(a5(20), before);
    expect(insertPayloadHeader(b, 20, before.length, 1)).toBe(12);
    expect(b.subarray(0, 12)).toEqual(a5(12));
    expect(b.subarray(52, 60)).toEqual(hex('11 00 8000 0000 0001'));
  });

  it('insert fails with -1 and writes nothing without 8 octets of headroom', () => {
    const before = concat(ipv6Hdr(17, 12), UDP);
    const b = concat(a5(7), before);
    const copy = b.slice();
    expect(insertPayloadHeader(b, 7, before.length, TAG)).toBe(-1);
    expect(b).toEqual(copy);
  });

  it('insert fails with -1 when Payload Length + 8 would pass 65535', () => {
    const before = concat(ipv6Hdr(17, 0xfff8), UDP);
    const b = concat(a5(8), before);
    const copy = b.slice();
    expect(insertPayloadHeader(b, 8, before.length, TAG)).toBe(-1);
    expect(b).toEqual(copy);
  });

  it('insert fails with -1 on a packet shorter than 40 octets or a window past the buffer', () => {
    const before = concat(ipv6Hdr(17, 12), UDP);
    expect(insertPayloadHeader(concat(a5(8), before), 8, 39, TAG)).toBe(-1);
    expect(insertPayloadHeader(concat(a5(8), before), 8, before.length + 1, TAG)).toBe(-1);
  });

  it('insert fails with -1 when a Routing header runs past the packet', () => {
    const before = concat(ipv6Hdr(43, 36), routing(17), UDP).subarray(0, 60); // routing header cut at 20 of 24 octets
    const b = concat(a5(8), before);
    const copy = b.slice();
    expect(insertPayloadHeader(b, 8, before.length, TAG)).toBe(-1);
    expect(b).toEqual(copy);
  });

  it('strip fails with -1 on a packet without a Shim6 header', () => {
    const p = concat(ipv6Hdr(0, 20), hopByHop(17), UDP);
    expect(stripPayloadHeader(p, 0, p.length)).toBe(-1);
  });

  it('strip fails with -1 on a control message (P=0)', () => {
    const p = concat(ipv6Hdr(140, 16), hex('3b 01 01 00 0000 0000 0000 0001 0000 0002'));
    const copy = p.slice();
    expect(stripPayloadHeader(p, 0, p.length)).toBe(-1);
    expect(p).toEqual(copy);
  });

  it('strip fails with -1 on a payload header whose Hdr Ext Len is not 0', () => {
    const p = concat(ipv6Hdr(140, 16), hex('11 01 9234 5678 9abc', '0000 0000 0000 0000'));
    expect(stripPayloadHeader(p, 0, p.length)).toBe(-1);
  });

  it('strip fails with -1 when Payload Length is smaller than the 8-octet header', () => {
    const p = concat(ipv6Hdr(140, 4), shim6Payload(17), UDP);
    expect(stripPayloadHeader(p, 0, p.length)).toBe(-1);
  });

  it('strip fails with -1 when the Shim6 header is behind a non-first fragment', () => {
    const p = concat(ipv6Hdr(44, 28), fragment(140, 1), shim6Payload(17), UDP);
    expect(stripPayloadHeader(p, 0, p.length)).toBe(-1);
  });

  it('strip then insert restores the original packet', () => {
    const c = CASES[3]!;
    const b = c.after.slice();
    const s = stripPayloadHeader(b, 0, b.length);
    expect(insertPayloadHeader(b, s, c.before.length, TAG)).toBe(0);
    expect(b).toEqual(c.after);
  });
});

describe('insertPayloadHeader: the packet must hold what its Payload Length says', () => {
  it('refuses a packet shorter than 40 + Payload Length, and one shorter than an IPv6 header', () => {
    const pkt = concat(ipv6Hdr(17, UDP.length), UDP);
    const buf = concat(zeros(8), pkt);
    expect(insertPayloadHeader(buf, 8, pkt.length - 1, TAG)).toBe(-1);
    expect(insertPayloadHeader(buf, 8, 39, TAG)).toBe(-1);
    expect(buf.subarray(8)).toEqual(pkt); // untouched
    expect(insertPayloadHeader(buf, 8, pkt.length, TAG)).toBe(0);
  });
});
