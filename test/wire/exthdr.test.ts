/**
 * IPv6 extension-header walking (RFC 8200 §4; AH length per RFC 4302 §2.2) to find the
 * Shim6 header (protocol 140) and the sender's insertion point (RFC 5533 §4.6).
 */
import { describe, expect, it } from 'vitest';
import {
  IPPROTO_AH,
  IPPROTO_DSTOPTS,
  IPPROTO_ESP,
  IPPROTO_FRAGMENT,
  IPPROTO_HOPOPTS,
  IPPROTO_MH,
  IPPROTO_ROUTING,
  locateResult,
  locateShim6,
  shim6InsertionPoint,
  walkExtensionHeaders,
} from '../../src/wire/index.js';
import { a5, authHdr, concat, destOpts, expectErr, expectOk, fragment, hex, hopByHop, ipv6Hdr, routing, shim6Payload, UDP, zeros } from './vectors.js';

const I1 = hex('3b 01 01 00 0000 0000 0000 0001 0000 0002');

/** Every header type before a payload header: HBH@40, RH@48 (24), DO@72, Frag@80, AH@88 (24), Shim6@112, UDP@120. */
const FULL = concat(
  ipv6Hdr(0, 92),
  hopByHop(43),
  routing(60),
  destOpts(44),
  fragment(51),
  authHdr(140),
  shim6Payload(17),
  UDP,
);

describe('protocol numbers (IANA, RFC 8200 §4)', () => {
  it('are the assigned values', () => {
    expect([IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_ESP, IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_MH]).toEqual([0, 43, 44, 50, 51, 60, 135]);
  });
});

describe('locateShim6', () => {
  it('finds a Shim6 header right after the IPv6 header; the Next Header octet is octet 6', () => {
    const p = concat(ipv6Hdr(140, 16), I1);
    expect(locateShim6(p, 0, p.length)).toBe(40);
    expect(locateResult[1]).toBe(6);
  });

  it('steps over Hop-by-Hop, Routing, Destination Options, first Fragment and AH', () => {
    expect(FULL.length).toBe(132);
    expect(locateShim6(FULL, 0, FULL.length)).toBe(112);
    expect(locateResult[1]).toBe(88); // the AH's Next Header octet
  });

  it('returns absolute offsets for a packet stored at an offset', () => {
    const b = concat(a5(10), FULL);
    expect(locateShim6(b, 10, FULL.length)).toBe(122);
    expect(locateResult[1]).toBe(98);
  });

  it('steps over a Mobility header with the generic length rule', () => {
    const mh = hex('8c 01', '0000 0000 0000 0000 0000 0000 0000'); // NH 140, Hdr Ext Len 1: 16 octets
    const p = concat(ipv6Hdr(IPPROTO_MH, 24 + 8), mh, shim6Payload(17));
    expect(locateShim6(p, 0, p.length)).toBe(56);
  });

  it('returns -1 with no Shim6 header, behind a non-first fragment, behind ESP, or with under 40 octets', () => {
    const none = concat(ipv6Hdr(0, 20), hopByHop(17), UDP);
    expect(locateShim6(none, 0, none.length)).toBe(-1);
    const nonFirst = concat(ipv6Hdr(44, 16), fragment(140, 5), shim6Payload(17));
    expect(locateShim6(nonFirst, 0, nonFirst.length)).toBe(-1);
    const esp = concat(ipv6Hdr(50, 16), shim6Payload(17), zeros(8));
    expect(locateShim6(esp, 0, esp.length)).toBe(-1);
    expect(locateShim6(FULL, 0, 39)).toBe(-1);
  });

  it('returns -1 when an extension header or the Shim6 header runs past the packet', () => {
    expect(locateShim6(FULL, 0, 60)).toBe(-1); // inside the Routing header
    expect(locateShim6(FULL, 0, 118)).toBe(-1); // Shim6 header cut at 6 of 8 octets
    expect(locateShim6(FULL, 0, 41)).toBe(-1); // one octet of Hop-by-Hop
  });
});

describe('shim6InsertionPoint (RFC 5533 §4.6)', () => {
  it('is after Hop-by-Hop and Routing, before Destination Options, Fragment and AH', () => {
    expect(shim6InsertionPoint(FULL, 0, FULL.length)).toBe(72);
    expect(locateResult[1]).toBe(48); // Routing header's Next Header octet
  });

  it('is after a Destination Options header only when a Routing header follows it', () => {
    const withRh = concat(ipv6Hdr(60, 40), destOpts(43), routing(17), UDP);
    expect(shim6InsertionPoint(withRh, 0, withRh.length)).toBe(72);
    const withoutRh = concat(ipv6Hdr(60, 20), destOpts(17), UDP);
    expect(shim6InsertionPoint(withoutRh, 0, withoutRh.length)).toBe(40);
    expect(locateResult[1]).toBe(6);
  });

  it('is -1 for under 40 octets or a routing-related header that runs past the packet', () => {
    expect(shim6InsertionPoint(FULL, 0, 30)).toBe(-1);
    expect(shim6InsertionPoint(FULL, 0, 60)).toBe(-1);
  });
});

describe('walkExtensionHeaders', () => {
  it('lists every header with offset and length and steps over a Payload Extension header', () => {
    const chain = expectOk(walkExtensionHeaders(FULL, 0, FULL.length));
    expect(chain).toEqual({
      headers: [
        { protocol: 0, offset: 40, length: 8 },
        { protocol: 43, offset: 48, length: 24 },
        { protocol: 60, offset: 72, length: 8 },
        { protocol: 44, offset: 80, length: 8 },
        { protocol: 51, offset: 88, length: 24 },
        { protocol: 140, offset: 112, length: 8 },
      ],
      shim6Offset: 112,
      upperProtocol: 17,
      upperOffset: 120,
    });
  });

  it('stops at a Shim6 control message with upper protocol 59', () => {
    const p = concat(ipv6Hdr(140, 16), I1);
    expect(expectOk(walkExtensionHeaders(p, 0, p.length))).toEqual({
      headers: [{ protocol: 140, offset: 40, length: 16 }], shim6Offset: 40, upperProtocol: 59, upperOffset: 56,
    });
  });

  it('stops after a non-first fragment with upper protocol 44', () => {
    const p = concat(ipv6Hdr(44, 16), fragment(140, 1), shim6Payload(17));
    expect(expectOk(walkExtensionHeaders(p, 0, p.length))).toEqual({
      headers: [{ protocol: 44, offset: 40, length: 8 }], shim6Offset: -1, upperProtocol: 44, upperOffset: 48,
    });
  });

  it('stops at ESP and at an upper layer', () => {
    const esp = concat(ipv6Hdr(50, 8), zeros(8));
    expect(expectOk(walkExtensionHeaders(esp, 0, esp.length))).toMatchObject({ headers: [], upperProtocol: 50, upperOffset: 40 });
    const bare = ipv6Hdr(17, 0);
    expect(expectOk(walkExtensionHeaders(bare, 0, 40))).toMatchObject({ headers: [], shim6Offset: -1, upperProtocol: 17, upperOffset: 40 });
  });

  it('an extension header past the packet is ext-header-truncated at its offset', () => {
    expect(expectErr(walkExtensionHeaders(FULL, 0, 60))).toMatchObject({ reason: 'ext-header-truncated', offset: 48 });
    expect(expectErr(walkExtensionHeaders(FULL, 0, 41))).toMatchObject({ reason: 'ext-header-truncated', offset: 40 });
    expect(expectErr(walkExtensionHeaders(ipv6Hdr(0, 0), 0, 40))).toMatchObject({ reason: 'ext-header-truncated', offset: 40 });
  });

  it('a Shim6 header shorter than 8 octets is ext-header-truncated', () => {
    const p = concat(ipv6Hdr(140, 16), I1);
    expect(expectErr(walkExtensionHeaders(p, 0, 46)).reason).toBe('ext-header-truncated');
  });

  it('a Shim6 header whose Hdr Ext Len runs past the packet is handed on, not walked', () => {
    // The Shim6 parsers then report header-past-end (RFC 5533 §12.3), so drops are counted by that reason.
    const p = concat(ipv6Hdr(140, 16), I1);
    const chain = expectOk(walkExtensionHeaders(p, 0, 50));
    expect(chain.shim6Offset).toBe(40);
    expect(chain.headers).toHaveLength(0);
  });

  it('more than 64 extension headers is refused', () => {
    const many = Array.from({ length: 65 }, () => hopByHop(0));
    const p = concat(ipv6Hdr(0, 65 * 8 + 12), ...many, UDP);
    expect(expectErr(walkExtensionHeaders(p, 0, p.length)).reason).toBe('ext-header-truncated');
    const ok = concat(ipv6Hdr(0, 64 * 8 + 12), ...many.slice(0, 63), hopByHop(17), UDP);
    expect(expectOk(walkExtensionHeaders(ok, 0, ok.length)).headers).toHaveLength(64);
  });

  it('under 40 octets is truncated', () => {
    expect(expectErr(walkExtensionHeaders(FULL, 0, 39)).reason).toBe('truncated');
  });
});
