/**
 * IPv6 addresses as 16-byte arrays, and their text form (RFC 4291 §2.2 for input,
 * RFC 5952 §4 canonical form for output). Used by the JSON views and the CLI, never on
 * the packet hot path.
 *
 * Leaves out: the RFC 5952 §5 dotted-quad output for IPv4-mapped addresses (input
 * accepts a dotted-quad tail; output is always hexadecimal).
 */

export const IPV6_ADDRESS_LEN = 16;

/** Canonical text of the 16 bytes at `off` (RFC 5952 §4: lower case, no leading zeros, longest zero run as ::). */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  // RFC 5952 §4.2.2-4.2.3: compress the longest run of two or more zero groups, the first on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (g: number): string => g.toString(16);
  if (bestStart < 0) return groups.map(hex).join(':');
  const head = groups.slice(0, bestStart).map(hex).join(':');
  const tail = groups.slice(bestStart + bestLen).map(hex).join(':');
  return `${head}::${tail}`;
}

/** Parses IPv6 text; undefined when it is not a valid address. Zone indices are not accepted. */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  let s = text.toLowerCase();
  const out = new Uint8Array(16);
  // A dotted-quad tail (RFC 4291 §2.2 form 3) becomes the last two groups.
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) >= 0) {
    const v4 = s.slice(lastColon + 1).split('.');
    if (v4.length !== 4) return undefined;
    const octets: number[] = [];
    for (const part of v4) {
      if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
      const n = Number(part);
      if (n > 255) return undefined;
      octets.push(n);
    }
    s = `${s.slice(0, lastColon + 1)}${((octets[0]! << 8) | octets[1]!).toString(16)}:${((octets[2]! << 8) | octets[3]!).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const gs: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
      gs.push(parseInt(g, 16));
    }
    return gs;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >>> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  return out;
}

/** A copy of the 16 bytes at `off`. */
export function readAddress(b: Uint8Array, off: number): Uint8Array {
  return b.slice(off, off + IPV6_ADDRESS_LEN);
}

export function isUnspecified(a: Uint8Array, off = 0): boolean {
  for (let i = 0; i < 16; i++) if (a[off + i] !== 0) return false;
  return true;
}

export function isMulticast(a: Uint8Array, off = 0): boolean {
  return a[off] === 0xff;
}

/**
 * A map key for the 16-octet address at `off`: its octets as a 16-character string,
 * cheaper to build and hash than hex (for tables keyed by address, not for display).
 */
export function addressKey(a: Uint8Array, off = 0): string {
  return String.fromCharCode(a[off]!, a[off + 1]!, a[off + 2]!, a[off + 3]!, a[off + 4]!, a[off + 5]!, a[off + 6]!, a[off + 7]!, a[off + 8]!, a[off + 9]!, a[off + 10]!, a[off + 11]!, a[off + 12]!, a[off + 13]!, a[off + 14]!, a[off + 15]!);
}

/** Why `a` cannot be a unicast locator or ULID, or undefined when it can. */
export function unicastProblem(a: Uint8Array): string | undefined {
  if (isUnspecified(a)) return 'the unspecified address';
  if (isMulticast(a)) return 'a multicast address';
  let loopback = a[15] === 1;
  for (let i = 0; i < 15 && loopback; i++) if (a[i] !== 0) loopback = false;
  if (loopback) return 'the loopback address';
  if (a[0] === 0xfe && (a[1]! & 0xc0) === 0x80) return 'a link-local address';
  let mapped = a[10] === 0xff && a[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (a[i] !== 0) mapped = false;
  if (mapped) return 'an IPv4-mapped address';
  return undefined;
}
