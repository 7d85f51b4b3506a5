/**
 * Shared helpers for the example-based wire tests (test/wire/**). Vectors in the test
 * files are written by hand from the RFC figures (RFC 5533 §5, RFC 5534 §5, RFC 8200 §3-4);
 * these helpers only turn hex text into bytes, fill in checksums with a one's-complement
 * sum written here (independent of `src/wire/bytes.ts`), and unwrap parse results.
 *
 * Nothing here uses the codec's own emitters or checksum, so a vector cannot agree with
 * the codec merely because both were produced by it.
 */
import { describe, expect, it } from 'vitest';
import {
  controlMessageLength,
  emitControlMessage,
  emitOptions,
  optionsLength,
  parseControlMessage,
  parseOptions,
  type ControlMessage,
  type ControlParseConfig,
  type Option,
  type Parsed,
  type WireError,
} from '../../src/wire/index.js';

/**
 * Bytes from hex fragments; spaces inside a fragment are ignored. Each fragment is one
 * field in the vectors, with a comment naming it.
 */
export function hex(...parts: string[]): Uint8Array {
  const s = parts.join('').replace(/\s+/g, '');
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error(`bad hex in test vector: ${s}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Concatenation of byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `n` zero octets. */
export function zeros(n: number): Uint8Array {
  return new Uint8Array(n);
}

/**
 * RFC 1071-style sum written independently of the codec: add the 16-bit big-endian
 * words of [start, end) (an odd final octet is the high half of a word), fold the carries
 * back in, and return the one's complement.
 */
export function onesComplementChecksum(b: Uint8Array, start = 0, end = b.length): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) {
    const hi = b[i] ?? 0;
    const lo = i + 1 < end ? (b[i + 1] ?? 0) : 0;
    sum += hi * 256 + lo;
  }
  while (sum >= 0x10000) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return 0xffff - sum;
}

/**
 * A copy of a control message vector whose Shim6 header starts at `off`, with its
 * Checksum field (octets 4-5) set over (Hdr Ext Len + 1) * 8 octets, no pseudo-header
 * (RFC 5533 §5.3). The vector's own checksum octets are ignored.
 */
export function sealed(vector: Uint8Array, off = 0): Uint8Array {
  const b = vector.slice();
  const len = (b[off + 1]! + 1) * 8;
  b[off + 4] = 0;
  b[off + 5] = 0;
  const c = onesComplementChecksum(b, off, off + len);
  b[off + 4] = c >> 8;
  b[off + 5] = c & 0xff;
  return b;
}

/** A buffer of `n` octets pre-filled with 0xa5, so an octet the emitter forgot shows. */
export function a5(n: number): Uint8Array {
  return new Uint8Array(n).fill(0xa5);
}

/** The value of a successful parse; fails the test with the reason otherwise. */
export function expectOk<T>(r: Parsed<T>): T {
  if (!r.ok) expect.fail(`expected a successful parse, got ${r.error.reason} at ${r.error.offset}: ${r.error.message}`);
  return r.value;
}

/** The error of a failed parse; fails the test if the parse succeeded. */
export function expectErr<T>(r: Parsed<T>): WireError {
  if (r.ok) expect.fail('expected the parse to fail, it succeeded');
  expect(typeof r.error.message).toBe('string');
  expect(r.error.message.length).toBeGreaterThan(0);
  return r.error;
}

/**
 * Runs `parse` on every proper prefix of `bytes` (lengths 0 .. length-1), each in a fresh
 * exact-size buffer, and returns the failures in order. Throws (fails the test) if any
 * prefix parses or the parser throws.
 */
export function prefixFailures<T>(bytes: Uint8Array, parse: (b: Uint8Array) => Parsed<T>): WireError[] {
  const out: WireError[] = [];
  for (let n = 0; n < bytes.length; n++) {
    const prefix = bytes.slice(0, n);
    let r: Parsed<T>;
    try {
      r = parse(prefix);
    } catch (e) {
      expect.fail(`parse threw on the ${n}-octet prefix: ${String(e)}`);
    }
    if (r.ok) expect.fail(`the ${n}-octet prefix parsed successfully`);
    out.push(r.error);
  }
  return out;
}

/** Every option type RFC 5533 §5.15 / RFC 5534 §5.3 defines. */
export const ALL_OPTION_TYPES: ReadonlySet<number> = new Set([1, 2, 3, 4, 5, 6, 7, 10]);

// Addresses used across the vectors, as the 16 octets of the RFC 3849 documentation prefix.
/** 2001:db8:a::1 */
export const ADDR_A1 = hex('2001 0db8 000a 0000 0000 0000 0000 0001');
/** 2001:db8:a::2 */
export const ADDR_A2 = hex('2001 0db8 000a 0000 0000 0000 0000 0002');
/** 2001:db8:b::1 */
export const ADDR_B1 = hex('2001 0db8 000b 0000 0000 0000 0000 0001');
/** 2001:db8:b::2 */
export const ADDR_B2 = hex('2001 0db8 000b 0000 0000 0000 0000 0002');

/** The 47-bit tag 0x1234_5678_9abc used in many vectors, as it appears in its 6 octets with R = 0. */
export const TAG = 0x1234_5678_9abc;
/** The largest 47-bit tag. */
export const TAG_MAX = 2 ** 47 - 1;

/** Parses an options area that fills `b` exactly, with every defined option allowed unless told. */
export function parseOptionArea(b: Uint8Array, allowed: ReadonlySet<number> = ALL_OPTION_TYPES): Parsed<Option[]> {
  return parseOptions(b, 0, b.length, { allowed, packetStart: 0 });
}

/** Emits `options` into a 0xa5-filled buffer of exactly their wire length and returns it. */
export function emitOptionArea(options: readonly Option[]): Uint8Array {
  const out = a5(optionsLength(options));
  const end = emitOptions(options, out, 0);
  expect(end).toBe(out.length);
  return out;
}

/** parseControlMessage over all of `b`. */
export function parseMessage(b: Uint8Array, cfg: ControlParseConfig = {}): Parsed<ControlMessage> {
  return parseControlMessage(b, 0, b.length, cfg);
}

/** Emits `m` into a 0xa5-filled buffer of exactly its length and returns the buffer. */
export function emitMessage(m: ControlMessage): Uint8Array {
  const out = a5(controlMessageLength(m));
  expect(emitControlMessage(m, out, 0)).toBe(out.length);
  return out;
}

/**
 * Checks that every proper prefix of a control message fails with a typed reason: under
 * 8 octets `truncated`, from 8 on `header-past-end` (Hdr Ext Len claims the whole message).
 */
export function expectEveryPrefixRejected(message: Uint8Array): void {
  const errors = prefixFailures(message, (b) => parseMessage(b));
  errors.forEach((e, n) => expect(e.reason, `${n}-octet prefix`).toBe(n < 8 ? 'truncated' : 'header-past-end'));
}

/** A copy of `b` with one bit of octet `i` flipped. */
export function flipBit(b: Uint8Array, i: number, mask = 0x01): Uint8Array {
  const c = b.slice();
  c[i] ^= mask;
  return c;
}

// Hand-built IPv6 headers and extension headers (RFC 8200 §3-4, RFC 4302 §2 for AH,
// RFC 5533 §5.2 for the Shim6 Payload Extension header). `nh` is the Next Header field.

function octet(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** 40-octet IPv6 header: version 6, Traffic Class 0, Flow Label 0, Hop Limit 64. */
export function ipv6Hdr(nh: number, payloadLength: number, src: Uint8Array = ADDR_A1, dst: Uint8Array = ADDR_B1): Uint8Array {
  return concat(
    hex('6000 0000'), // Version 6, Traffic Class 0, Flow Label 0
    hex(payloadLength.toString(16).padStart(4, '0')), // Payload Length
    hex(octet(nh)), // Next Header
    hex('40'), // Hop Limit 64
    src, // Source Address
    dst, // Destination Address
  );
}

/** 8-octet Hop-by-Hop Options header holding one PadN option. */
export function hopByHop(nh: number): Uint8Array {
  return hex(octet(nh), '00', '01 04 0000 0000'); // Next Header, Hdr Ext Len 0, PadN (type 1, length 4)
}

/** 8-octet Destination Options header holding one PadN option. */
export function destOpts(nh: number): Uint8Array {
  return hex(octet(nh), '00', '01 04 0000 0000');
}

/** 24-octet type 2 Routing header carrying 2001:db8:a::2 (Hdr Ext Len 2). */
export function routing(nh: number): Uint8Array {
  return concat(hex(octet(nh), '02', '02', '01', '0000 0000'), ADDR_A2); // NH, Hdr Ext Len 2, Routing Type 2, Segments Left 1, Reserved
}

/** 8-octet Fragment header; `fragmentOffset` in 8-octet units, M flag set. */
export function fragment(nh: number, fragmentOffset = 0): Uint8Array {
  return concat(hex(octet(nh), '00'), hex(((fragmentOffset << 3) | 1).toString(16).padStart(4, '0')), hex('1234 5678'));
}

/** 24-octet Authentication Header: Payload Len 4 means (4 + 2) * 4 octets. */
export function authHdr(nh: number): Uint8Array {
  return hex(octet(nh), '04', '0000', '0000 0100', '0000 0001', '0102 0304 0506 0708 090a 0b0c'); // NH, Payload Len, Reserved, SPI, Seq, ICV
}

/** 8-octet Shim6 Payload Extension header: Hdr Ext Len 0, P=1, Receiver Context Tag 0x123456789abc. */
export function shim6Payload(nh: number): Uint8Array {
  return hex(octet(nh), '00', '9234 5678 9abc'); // Next Header, Hdr Ext Len 0, P=1 | Receiver Context Tag
}

/** 12-octet UDP datagram (8-octet header, 4 octets of data). */
export const UDP = hex('1234 5678 000c 0000', 'dead beef');

/**
 * The RFC 5533 §5.15 rule for a known option in a message that does not list it: with
 * C=0 it is kept as an Unknown option and re-emitted byte for byte; with C=1 the parse
 * fails with Error Code 1 pointing at its Type octet. `vector` is one option TLV with C=0.
 */
export function describeNotListed(name: string, type: number, vector: Uint8Array): void {
  describe(`${name} where the message does not list it (RFC 5533 §5.15)`, () => {
    it('with C=0 it is kept as an Unknown option and re-emitted byte for byte', () => {
      const opts = expectOk(parseOptionArea(vector, new Set<number>()));
      expect(opts).toEqual([{ kind: 'Unknown', type, critical: false, contents: vector.slice(4, 4 + ((vector[2]! << 8) | vector[3]!)) }]);
      expect(emitOptionArea(opts)).toEqual(vector);
    });

    it('with C=1 it is rejected with Error Code 1 pointing at its Type octet', () => {
      const v = vector.slice();
      v[1] |= 1; // set C
      const err = expectErr(parseOptionArea(v, new Set<number>()));
      expect(err).toMatchObject({ reason: 'unrecognized-critical-option', offset: 0, reply: { code: 1, pointer: 0 } });
    });
  });
}
