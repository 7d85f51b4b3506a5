/**
 * Locator Preferences option, type 3 (RFC 5533 §5.15.3).
 *
 * Contents: Locator List Generation (32 bits), Element Len (8 bits), then one element
 * per locator of the list with that generation. Element Len 1 is Flags; 2 adds Priority;
 * 3 adds Weight (DNS SRV semantics). Longer elements start with those three octets; the
 * rest is carried as `extension` bytes. Element Len 0 is rejected (it cannot describe a
 * locator), as is a Length that is not 5 plus a whole number of elements.
 *
 * Whether the element count matches the Locator List (Error code 4) is checked by the
 * context engine, which knows the list in use.
 */
import { readU32, writeU32 } from '../bytes.js';
import { fail, ok, type Parsed } from '../result.js';

export interface LocatorPreference {
  /** BROKEN 0x01, TRANSIENT 0x02 (`LocatorFlag`). */
  readonly flags: number;
  /** Present when Element Len >= 2. */
  readonly priority?: number;
  /** Present when Element Len >= 3. */
  readonly weight?: number;
  /** Octets 4.. of elements longer than 3 (format not defined by RFC 5533). */
  readonly extension?: Uint8Array;
}

export interface LocatorPreferencesOption {
  readonly kind: 'LocatorPreferences';
  readonly critical: boolean;
  readonly generation: number;
  /** Element Len: octets per element, 1..255. */
  readonly elementLength: number;
  readonly elements: readonly LocatorPreference[];
}

export function locatorPreferencesLength(o: LocatorPreferencesOption): number {
  return 5 + o.elementLength * o.elements.length;
}

export function parseLocatorPreferences(b: Uint8Array, start: number, length: number, critical: boolean): Parsed<LocatorPreferencesOption> {
  if (length < 5) return fail('bad-locator-preferences', start - 2, `Locator Preferences option Length ${length} is shorter than its 5 fixed octets`);
  const elementLength = b[start + 4]!;
  if (elementLength === 0) return fail('bad-locator-preferences', start + 4, 'Locator Preferences Element Len is 0');
  if ((length - 5) % elementLength !== 0) {
    return fail('bad-locator-preferences', start - 2, `Locator Preferences Length ${length} is not 5 plus a multiple of Element Len ${elementLength}`);
  }
  const count = (length - 5) / elementLength;
  const elements: LocatorPreference[] = [];
  for (let i = 0; i < count; i++) {
    const e = start + 5 + i * elementLength;
    elements.push(
      elementLength === 1 ? { flags: b[e]! }
      : elementLength === 2 ? { flags: b[e]!, priority: b[e + 1]! }
      : elementLength === 3 ? { flags: b[e]!, priority: b[e + 1]!, weight: b[e + 2]! }
      : { flags: b[e]!, priority: b[e + 1]!, weight: b[e + 2]!, extension: b.slice(e + 3, e + elementLength) },
    );
  }
  return ok({ kind: 'LocatorPreferences', critical, generation: readU32(b, start), elementLength, elements });
}

export function emitLocatorPreferences(o: LocatorPreferencesOption, b: Uint8Array, off: number): void {
  writeU32(b, off, o.generation);
  b[off + 4] = o.elementLength;
  const len = o.elementLength;
  for (let i = 0; i < o.elements.length; i++) {
    const el = o.elements[i]!;
    const e = off + 5 + i * len;
    b.fill(0, e, e + len);
    b[e] = el.flags;
    if (len >= 2) b[e + 1] = el.priority ?? 0;
    if (len >= 3) b[e + 2] = el.weight ?? 0;
    if (len > 3 && el.extension !== undefined) b.set(el.extension.subarray(0, len - 3), e + 3);
  }
}
