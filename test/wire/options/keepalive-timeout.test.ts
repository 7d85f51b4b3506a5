/**
 * Keepalive Timeout option, type 10 (RFC 5534 §5.3): Type 10 with C=0 is 0x0014, Length
 * is always 4, then a 16-bit Reserved field and the 16-bit Keepalive Timeout in seconds.
 */
import { describe, expect, it } from 'vitest';
import { validateOption, type KeepaliveTimeoutOption } from '../../../src/wire/index.js';
import { concat, describeNotListed, emitOptionArea, expectErr, expectOk, hex, parseOptionArea, zeros } from '../vectors.js';

const VECTOR = hex(
  '0014', // Type 10, C=0
  '0004', // Length 4
  '0000', // Reserved
  '001e', // Keepalive Timeout: 30 seconds
);
const OPTION: KeepaliveTimeoutOption = { kind: 'KeepaliveTimeout', critical: false, reserved: 0, keepaliveTimeoutSeconds: 30 };

describe('Keepalive Timeout option (RFC 5534 §5.3)', () => {
  it('parses the hand-written vector into a timeout in seconds', () => {
    expect(expectOk(parseOptionArea(VECTOR))).toEqual([OPTION]);
  });

  it('emits the same 8 octets into a 0xa5-filled buffer', () => {
    expect(emitOptionArea([OPTION])).toEqual(VECTOR);
  });

  it('Reserved and Keepalive Timeout are separate 16-bit fields; a non-zero Reserved survives re-emit', () => {
    const v = hex('0015', '0004', 'ffff', '0001'); // C=1, Reserved 0xffff, timeout 1 s
    const opts = expectOk(parseOptionArea(v));
    expect(opts).toEqual([{ kind: 'KeepaliveTimeout', critical: true, reserved: 0xffff, keepaliveTimeoutSeconds: 1 }]);
    expect(emitOptionArea(opts)).toEqual(v);
  });

  it('the largest timeout is 65535 seconds', () => {
    const v = hex('0014', '0004', '0000', 'ffff');
    expect(expectOk(parseOptionArea(v))).toEqual([{ ...OPTION, keepaliveTimeoutSeconds: 65535 }]);
  });

  it('rejects Length 2 and Length 8 as bad-option-length', () => {
    const l2 = hex('0014', '0002', '001e', '0000');
    const l8 = concat(hex('0014', '0008', '0000 001e 0000 0000'), zeros(4));
    for (const v of [l2, l8]) {
      const err = expectErr(parseOptionArea(v));
      expect(err.reason).toBe('bad-option-length');
      expect(err.offset).toBe(2);
    }
  });

  it('every truncation fails as option-truncated', () => {
    for (let n = 1; n < VECTOR.length; n++) expect(expectErr(parseOptionArea(VECTOR.slice(0, n))).reason).toBe('option-truncated');
  });

  it('refuses to emit a timeout or Reserved wider than 16 bits', () => {
    expect(() => validateOption({ ...OPTION, keepaliveTimeoutSeconds: 65536 })).toThrow(expect.objectContaining({ code: 'field-range' }));
    expect(() => validateOption({ ...OPTION, reserved: 65536 })).toThrow(expect.objectContaining({ code: 'field-range' }));
  });
});

describeNotListed('Keepalive Timeout', 10, VECTOR);
