/**
 * CGA Parameters codec (RFC 3972 §3, RFC 4581 §2). Fixed inputs are the RFC 3972
 * Appendix A parameters and hand-built variants of them; each malformed case names the
 * reason it must produce.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkPublicKeyDer, emitCgaParameters, parseCgaParameters, type CgaParameters } from '../../src/crypto/cga-params.js';
import { CryptoError } from '../../src/crypto/provider.js';
import { hex, RFC3972_PUBLIC_KEY, toHex } from './cga.util.js';

/** RFC 3972 Appendix A, "The input to Hash1 is:" (= the final CGA Parameters). */
const APPENDIX_A = hex('89a8a8b2e858d8b8f2633f44d2d4ce9b fe80000000000000 00', toHex(RFC3972_PUBLIC_KEY));
/** Two extension fields: type 0xfffd (Exp_FFFD, RFC 4581 §3) with 3 data octets, type 0x0012 with none. */
const WITH_EXTENSIONS = hex(toHex(APPENDIX_A), 'fffd 0003 aabbcc', '0012 0000');

function reasonOf(bytes: Uint8Array): string | undefined {
  const r = parseCgaParameters(bytes);
  return r.ok ? undefined : r.error.reason;
}

describe('parseCgaParameters', () => {
  it('reads the fields of the RFC 3972 Appendix A structure', () => {
    const r = parseCgaParameters(APPENDIX_A);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(toHex(r.value.modifier)).toBe('89a8a8b2e858d8b8f2633f44d2d4ce9b');
    expect(toHex(r.value.subnetPrefix)).toBe('fe80000000000000');
    expect(r.value.collisionCount).toBe(0);
    expect(toHex(r.value.publicKey)).toBe(toHex(RFC3972_PUBLIC_KEY));
    expect(r.value.extensions).toEqual([]);
  });

  it('reads extension fields in order and re-emits them losslessly', () => {
    const r = parseCgaParameters(WITH_EXTENSIONS);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.extensions.map((e) => [e.type, toHex(e.data)])).toEqual([
      [0xfffd, 'aabbcc'],
      [0x0012, ''],
    ]);
    expect(toHex(emitCgaParameters(r.value))).toBe(toHex(WITH_EXTENSIONS));
  });

  it('keeps a collision count above 2 (verification step 1 rejects it, not the parser)', () => {
    const b = APPENDIX_A.slice();
    b[24] = 3;
    const r = parseCgaParameters(b);
    expect(r.ok && r.value.collisionCount).toBe(3);
  });

  it('rejects every truncation with the reason for where it stops', () => {
    const keyEnd = 25 + RFC3972_PUBLIC_KEY.length;
    for (let len = 0; len < WITH_EXTENSIONS.length; len++) {
      const reason = reasonOf(WITH_EXTENSIONS.subarray(0, len));
      if (len < 25) expect(reason, `length ${len}`).toBe('truncated');
      else if (len < keyEnd) expect(reason, `length ${len}`).toBe('truncated-public-key');
      else if (len === keyEnd || len === keyEnd + 7) expect(reason, `length ${len}`).toBeUndefined();
      else if (len < keyEnd + 4 || (len > keyEnd + 7 && len < keyEnd + 11)) expect(reason, `length ${len}`).toBe('trailing-bytes');
      else expect(reason, `length ${len}`).toBe('truncated-extension');
    }
  });

  it('rejects 1 to 3 trailing octets as trailing-bytes, at their offset', () => {
    for (const tail of ['00', '0000', '000000']) {
      const r = parseCgaParameters(hex(toHex(APPENDIX_A), tail));
      expect(r.ok ? undefined : r.error).toMatchObject({ reason: 'trailing-bytes', offset: APPENDIX_A.length });
    }
  });

  it('rejects an extension whose Extension Data Length runs past the end', () => {
    const r = parseCgaParameters(hex(toHex(APPENDIX_A), 'fffd 0004 aabbcc'));
    expect(r.ok ? undefined : r.error).toMatchObject({ reason: 'truncated-extension', offset: APPENDIX_A.length + 2 });
  });

  it('accepts a 4-octet extension with no data', () => {
    expect(reasonOf(hex(toHex(APPENDIX_A), '0000 0000'))).toBeUndefined();
  });

  describe('Public Key DER', () => {
    const fixed = '89a8a8b2e858d8b8f2633f44d2d4ce9b fe80000000000000 00';
    const body = toHex(RFC3972_PUBLIC_KEY.subarray(2)); // the 0x5c octets inside the outer SEQUENCE
    const cases: [string, string, string][] = [
      ['not a SEQUENCE (SET tag 0x31)', `315c${body}`, 'bad-public-key-der'],
      ['indefinite length', `3080${body}0000`, 'bad-public-key-der'],
      ['non-minimal long-form length 0x81 0x5c', `30815c${body}`, 'bad-public-key-der'],
      ['length octet 0x00 first in long form', `3082005c${body}`, 'bad-public-key-der'],
      ['high tag number', `3f5c${body}`, 'bad-public-key-der'],
      ['garbage inside the SEQUENCE after the BIT STRING', `305e${body}0500`, 'bad-public-key-der'],
      ['SEQUENCE shorter than its BIT STRING', `305b${body.slice(0, -2)}`, 'bad-public-key-der'],
      ['AlgorithmIdentifier without an OID', `3051 3002 0500 034b${body.slice(34)}`, 'bad-public-key-der'],
      ['subjectPublicKey not a BIT STRING', `305c${body.slice(0, 30)}04${body.slice(32)}`, 'bad-public-key-der'],
      ['BIT STRING unused-bits octet 8', `305c${body.slice(0, 34)}08${body.slice(36)}`, 'bad-public-key-der'],
      ['outer length past the end', `305d${body}`, 'truncated-public-key'],
      ['only the tag octet', '30', 'truncated-public-key'],
      ['no key at all', '', 'truncated-public-key'],
    ];
    it.each(cases)('%s → %s', (_name, key, reason) => {
      expect(reasonOf(hex(fixed, key))).toBe(reason);
    });

    it('checkPublicKeyDer accepts the RFC key and rejects one with a trailing octet', () => {
      expect(checkPublicKeyDer(RFC3972_PUBLIC_KEY)).toBeUndefined();
      expect(checkPublicKeyDer(hex(toHex(RFC3972_PUBLIC_KEY), '00'))).toMatch(/after/);
    });
  });
});

describe('emitCgaParameters', () => {
  const base: CgaParameters = { modifier: new Uint8Array(16), subnetPrefix: new Uint8Array(8), collisionCount: 0, publicKey: RFC3972_PUBLIC_KEY, extensions: [] };
  it.each([
    ['a 15-octet modifier', { ...base, modifier: new Uint8Array(15) }],
    ['a 9-octet subnet prefix', { ...base, subnetPrefix: new Uint8Array(9) }],
    ['collision count 256', { ...base, collisionCount: 256 }],
    ['extension type 0x10000', { ...base, extensions: [{ type: 0x10000, data: new Uint8Array(0) }] }],
    ['65536 octets of extension data', { ...base, extensions: [{ type: 1, data: new Uint8Array(65536) }] }],
  ])('throws CryptoError bad-key for %s', (_name, p) => {
    expect(() => emitCgaParameters(p)).toThrow(CryptoError);
    try {
      emitCgaParameters(p);
    } catch (e) {
      expect((e as CryptoError).code).toBe('bad-key');
    }
  });
});

describe('properties', () => {
  const arbParams: fc.Arbitrary<CgaParameters> = fc.record({
    modifier: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    subnetPrefix: fc.uint8Array({ minLength: 8, maxLength: 8 }),
    collisionCount: fc.integer({ min: 0, max: 255 }),
    publicKey: fc.constant(RFC3972_PUBLIC_KEY),
    extensions: fc.array(fc.record({ type: fc.integer({ min: 0, max: 0xffff }), data: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 4 }),
  });

  it('parse(emit(p)) equals p', () => {
    fc.assert(
      fc.property(arbParams, (p) => {
        const r = parseCgaParameters(emitCgaParameters(p));
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.value).toEqual(p);
      }),
    );
  });

  it('never throws on arbitrary bytes, and whatever parses re-emits to the same bytes', () => {
    const arbBytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      arbParams.map((p) => emitCgaParameters(p)).chain((b) => fc.tuple(fc.constant(b), fc.nat(b.length), fc.uint8Array({ maxLength: 6 })).map(([x, cut, tail]) => hex(toHex(x.subarray(0, cut)), toHex(tail)))),
    );
    fc.assert(
      fc.property(arbBytes, (b) => {
        const r = parseCgaParameters(b);
        if (r.ok) expect(toHex(emitCgaParameters(r.value))).toBe(toHex(b));
        else expect(r.error.offset).toBeLessThanOrEqual(b.length);
      }),
    );
  });
});
