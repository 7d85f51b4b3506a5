/**
 * IPv6 address text: RFC 5952 §4 canonical output (lower case, no leading zeros, the
 * longest run of two or more zero groups as "::", the first on a tie) and RFC 4291 §2.2
 * input (full form, "::" compression, dotted-quad tail). Bytes are written by hand.
 */
import { describe, expect, it } from 'vitest';
import { formatIpv6, isMulticast, isUnspecified, parseIpv6, readAddress } from '../../src/wire/index.js';
import { concat, hex } from './vectors.js';

describe('formatIpv6 (RFC 5952 §4)', () => {
  const cases: [string, string][] = [
    ['2001 0db8 0000 0000 0000 0000 0000 0001', '2001:db8::1'], // §4.1 leading zeros, §4.2 longest run
    ['2001 0db8 0000 0000 0001 0000 0000 0001', '2001:db8::1:0:0:1'], // §4.2.3 tie: first run
    ['2001 0000 0000 0001 0000 0000 0000 0001', '2001:0:0:1::1'], // §4.2.3 longest run wins
    ['2001 0db8 0000 0001 0001 0001 0001 0001', '2001:db8:0:1:1:1:1:1'], // §4.2.2 a single 0 group is not "::"
    ['2001 0db8 0000 0000 0000 0000 aaaa 0000', '2001:db8::aaaa:0'], // §4.3 lower case
    ['2001 0DB8 0000 0000 0000 0000 0000 ABCD', '2001:db8::abcd'], // upper-case input octets, lower-case text
    ['0000 0000 0000 0000 0000 0000 0000 0000', '::'],
    ['0000 0000 0000 0000 0000 0000 0000 0001', '::1'],
    ['0001 0000 0000 0000 0000 0000 0000 0000', '1::'],
    ['ff02 0000 0000 0000 0000 0000 0000 0001', 'ff02::1'],
    ['0000 0000 0000 0000 0000 ffff c000 0280', '::ffff:c000:280'], // mapped: hexadecimal by the module's stated choice
    ['0001 0002 0003 0004 0005 0006 0007 0008', '1:2:3:4:5:6:7:8'],
    ['fe80 0000 0000 0000 0200 5eff fe00 5301', 'fe80::200:5eff:fe00:5301'],
    ['0000 0001 0000 0000 0000 0000 0001 0000', '0:1::1:0'],
    ['0001 0000 0001 0000 0001 0000 0001 0000', '1:0:1:0:1:0:1:0'],
  ];
  for (const [bytes, text] of cases) {
    it(`${bytes} -> ${text}`, () => {
      expect(formatIpv6(hex(bytes))).toBe(text);
    });
  }

  it('reads the 16 octets at an offset', () => {
    const b = concat(hex('ffff ffff'), hex('2001 0db8 0000 0000 0000 0000 0000 0001'), hex('ffff'));
    expect(formatIpv6(b, 4)).toBe('2001:db8::1');
  });
});

describe('parseIpv6 (RFC 4291 §2.2)', () => {
  const valid: [string, string][] = [
    // Form 1: x:x:x:x:x:x:x:x
    ['ABCD:EF01:2345:6789:ABCD:EF01:2345:6789', 'abcd ef01 2345 6789 abcd ef01 2345 6789'],
    ['2001:DB8:0:0:8:800:200C:417A', '2001 0db8 0000 0000 0008 0800 200c 417a'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001 0db8 0000 0000 0000 0000 0000 0001'],
    // Form 2: "::"
    ['2001:DB8::8:800:200C:417A', '2001 0db8 0000 0000 0008 0800 200c 417a'],
    ['FF01::101', 'ff01 0000 0000 0000 0000 0000 0000 0101'],
    ['::1', '0000 0000 0000 0000 0000 0000 0000 0001'],
    ['::', '0000 0000 0000 0000 0000 0000 0000 0000'],
    ['1::', '0001 0000 0000 0000 0000 0000 0000 0000'],
    ['1:2:3:4:5:6:7::', '0001 0002 0003 0004 0005 0006 0007 0000'],
    ['::2:3:4:5:6:7:8', '0000 0002 0003 0004 0005 0006 0007 0008'],
    // Form 3: dotted-quad tail
    ['0:0:0:0:0:0:13.1.68.3', '0000 0000 0000 0000 0000 0000 0d01 4403'],
    ['0:0:0:0:0:FFFF:129.144.52.38', '0000 0000 0000 0000 0000 ffff 8190 3426'],
    ['::13.1.68.3', '0000 0000 0000 0000 0000 0000 0d01 4403'],
    ['::FFFF:129.144.52.38', '0000 0000 0000 0000 0000 ffff 8190 3426'],
    ['::ffff:0.0.0.0', '0000 0000 0000 0000 0000 ffff 0000 0000'],
    ['64:ff9b::255.255.255.255', '0064 ff9b 0000 0000 0000 0000 ffff ffff'],
  ];
  for (const [text, bytes] of valid) {
    it(`parses ${text}`, () => {
      expect(parseIpv6(text)).toEqual(hex(bytes));
    });
  }

  const invalid = [
    '', ':', ':::', '1::2::3', '12345::', 'g::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:',
    '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', '1:2:3:4:5:6::7:8', // "::" standing for zero groups
    '::1.2.3', '::1.2.3.4.5', '::256.0.0.1', '::01.2.3.4', '::1.2.3.', '1.2.3.4', '::1.2.3.4:1', '1:2:3:4:5:6:7:1.2.3.4',
    '1:2:3:4:5:6::1.2.3.4', 'fe80::1%eth0', ' ::1', '::1 ', '[::1]', '0x1::', '1:-2::', '::+1',
    '0000:0000:0000:0000:0000:0000:0000:0000:0', // 46 characters
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      expect(parseIpv6(text)).toBeUndefined();
    });
  }

  it('canonical text round-trips through parse and format', () => {
    for (const t of ['2001:db8::1', '::', '1::', 'fe80::200:5eff:fe00:5301', '2001:db8::1:0:0:1', '1:2:3:4:5:6:7:8']) {
      expect(formatIpv6(parseIpv6(t)!)).toBe(t);
    }
  });
});

describe('address helpers', () => {
  it('isUnspecified is true only for ::', () => {
    expect(isUnspecified(hex('0000 0000 0000 0000 0000 0000 0000 0000'))).toBe(true);
    expect(isUnspecified(hex('0000 0000 0000 0000 0000 0000 0000 0001'))).toBe(false);
    expect(isUnspecified(hex('8000 0000 0000 0000 0000 0000 0000 0000'))).toBe(false);
  });

  it('isMulticast is true for ff00::/8 only', () => {
    expect(isMulticast(hex('ff02 0000 0000 0000 0000 0000 0000 0001'))).toBe(true);
    expect(isMulticast(hex('fe80 0000 0000 0000 0000 0000 0000 0001'))).toBe(false);
  });

  it('both honour an offset', () => {
    const b = concat(hex('ffff'), hex('0000 0000 0000 0000 0000 0000 0000 0000'));
    expect(isUnspecified(b, 2)).toBe(true);
    expect(isMulticast(b, 0)).toBe(true);
    expect(isMulticast(b, 2)).toBe(false);
  });

  it('readAddress copies 16 octets', () => {
    const b = hex('aa 2001 0db8 0000 0000 0000 0000 0000 0001 bb');
    const a = readAddress(b, 1);
    b[1] = 0;
    expect(a).toEqual(hex('2001 0db8 0000 0000 0000 0000 0000 0001'));
  });
});
