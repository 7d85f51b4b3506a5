/**
 * CGA Parameter Data Structure option, type 4 (RFC 5533 §5.15.4): Type 4 with C=0 is
 * 0x0008; the contents are the CGA Parameters of RFC 3972 §3, carried as bytes.
 */
import { describe, expect, it } from 'vitest';
import { type CgaParameterDataStructureOption } from '../../../src/wire/index.js';
import { describeNotListed, emitOptionArea, expectErr, expectOk, hex, parseOptionArea } from '../vectors.js';

// 29 octets shaped like the start of RFC 3972 §3 CGA Parameters: 16-octet Modifier,
// 8-octet Subnet Prefix, Collision Count, then the first 4 octets of a DER public key.
const PDS = hex(
  '0011 2233 4455 6677 8899 aabb ccdd eeff', // Modifier
  '2001 0db8 000a 0000', // Subnet Prefix 2001:db8:a::/64
  '00', // Collision Count
  '3081 9f30', // Public Key (start of a DER SEQUENCE)
);
const VECTOR = hex(
  '0008', // Type 4, C=0
  '001d', // Length 29
  '0011 2233 4455 6677 8899 aabb ccdd eeff 2001 0db8 000a 0000 00 3081 9f30', // CGA Parameter Data Structure
  '0000 0000 0000 00', // Padding: 7 - (29 + 3) mod 8 = 7 octets
);
const OPTION: CgaParameterDataStructureOption = { kind: 'CgaParameterDataStructure', critical: false, pds: PDS };

describe('CGA Parameter Data Structure option (RFC 5533 §5.15.4)', () => {
  it('parses the hand-written vector; the 7 padding octets are not part of the PDS', () => {
    expect(VECTOR.length).toBe(40);
    expect(expectOk(parseOptionArea(VECTOR))).toEqual([OPTION]);
  });

  it('emits the same 40 octets into a 0xa5-filled buffer, padding zeroed', () => {
    expect(emitOptionArea([OPTION])).toEqual(VECTOR);
  });

  it('non-zero padding is accepted on receipt (SHOULD NOT be checked) and re-emitted as zeros', () => {
    const dirty = VECTOR.slice();
    dirty.fill(0xff, 33);
    const opts = expectOk(parseOptionArea(dirty));
    expect(opts).toEqual([OPTION]);
    expect(emitOptionArea(opts)).toEqual(VECTOR);
  });

  it('every truncation fails as option-truncated', () => {
    for (let n = 1; n < VECTOR.length; n++) expect(expectErr(parseOptionArea(VECTOR.slice(0, n))).reason).toBe('option-truncated');
  });
});

describeNotListed('CGA Parameter Data Structure', 4, VECTOR);
