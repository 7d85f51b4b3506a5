/**
 * Locator List option, type 2 (RFC 5533 §5.15.2).
 *
 * Contents: Locator List Generation (32 bits), Num Locators N (8 bits), N octets of
 * verification method, zero padding so that the locators start on an 8-octet boundary of
 * the option (the padding is counted in Length), then N 128-bit locators. So
 * Length = 4 + roundUp8(1 + N) + 16N exactly, and the option never needs end padding.
 *
 * Verification method values are kept as numbers; their meaning (1 = HBA per §5.15.2
 * Table 4, or 1 = CGA per §17) is chosen by `verification-method.ts`.
 */
import { readAddress } from '../address.js';
import { readU32, writeU32 } from '../bytes.js';
import { fail, ok, type Parsed } from '../result.js';

export interface Locator {
  readonly address: Uint8Array;
  /** Verification method octet as on the wire. */
  readonly verificationMethod: number;
}

export interface LocatorListOption {
  readonly kind: 'LocatorList';
  readonly critical: boolean;
  /** Locator List Generation: increased by one for each new list. */
  readonly generation: number;
  readonly locators: readonly Locator[];
}

/** Most locators one option can carry (Num Locators is 8 bits). */
export const LOCATOR_LIST_MAX = 255;

function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

export function locatorListLength(o: LocatorListOption): number {
  const n = o.locators.length;
  return 4 + roundUp8(1 + n) + 16 * n;
}

export function parseLocatorList(b: Uint8Array, start: number, length: number, critical: boolean): Parsed<LocatorListOption> {
  if (length < 5) return fail('bad-locator-list', start - 2, `Locator List option Length ${length} is shorter than its 5 fixed octets`);
  const n = b[start + 4]!;
  const expected = 4 + roundUp8(1 + n) + 16 * n;
  if (length !== expected) {
    return fail('bad-locator-list', start - 2, `Locator List with ${n} locators must have Length ${expected}, got ${length}`);
  }
  const generation = readU32(b, start);
  const locBase = start + 4 + roundUp8(1 + n);
  const locators: Locator[] = [];
  for (let i = 0; i < n; i++) {
    locators.push({ address: readAddress(b, locBase + 16 * i), verificationMethod: b[start + 5 + i]! });
  }
  return ok({ kind: 'LocatorList', critical, generation, locators });
}

export function emitLocatorList(o: LocatorListOption, b: Uint8Array, off: number): void {
  const n = o.locators.length;
  writeU32(b, off, o.generation);
  b[off + 4] = n;
  const locBase = off + 4 + roundUp8(1 + n);
  b.fill(0, off + 5, locBase);
  for (let i = 0; i < n; i++) {
    const l = o.locators[i]!;
    b[off + 5 + i] = l.verificationMethod;
    b.set(l.address, locBase + 16 * i);
  }
}
