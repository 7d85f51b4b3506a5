/**
 * `shim6 encode`: reads packets in `shim6 decode`'s JSON format — one object, an array,
 * JSON Lines, or several (pretty-printed) objects one after another — and encodes each
 * with `jsonToPacket` (an object with `ipv6`) or `jsonToShim6` (a bare Shim6 header, as
 * `decode --layer shim6` prints). Pure: the caller reads the input and prints the lines.
 */
import { toHex } from '../wire/index.js';
import { encodeJsonPacket, encodeJsonShim6, jsonToPacket, jsonToShim6 } from '../wire/json.js';

export interface JsonValueAt {
  readonly value: unknown;
  /** 1-based line where the value starts. */
  readonly line: number;
}

export type SplitJson = { readonly ok: true; readonly values: JsonValueAt[] } | { readonly ok: false; readonly line: number; readonly message: string };

/**
 * Splits text into its top-level JSON objects and arrays (whitespace between them is
 * free, so JSON Lines and concatenated pretty-printed objects both work).
 */
export function splitJsonValues(text: string): SplitJson {
  const values: JsonValueAt[] = [];
  let line = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') { line++; i++; continue; }
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c !== '{' && c !== '[') return { ok: false, line, message: `expected a JSON object or array, found '${c}'` };
    const startLine = line;
    const start = i;
    let depth = 0;
    let inString = false;
    for (; i < text.length; i++) {
      const ch = text[i]!;
      if (ch === '\n') line++;
      if (inString) {
        if (ch === '\\') i++;
        else if (ch === '"') inString = false;
      } else if (ch === '"') inString = true;
      else if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) break;
      }
    }
    if (i >= text.length) return { ok: false, line: startLine, message: 'unterminated JSON value' };
    i++;
    try {
      values.push({ value: JSON.parse(text.slice(start, i)) as unknown, line: startLine });
    } catch (e) {
      return { ok: false, line: startLine, message: `invalid JSON: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
  return { ok: true, values };
}

export interface EncodeResult {
  /** One hex line per packet that encoded. */
  readonly lines: string[];
  /** One message per record that did not encode, each naming the record. */
  readonly errors: string[];
}

/** Encodes every record in `text`; `source` names the input in messages. */
export function encodeText(text: string, source: string): EncodeResult {
  const lines: string[] = [];
  const errors: string[] = [];
  const split = splitJsonValues(text);
  if (!split.ok) return { lines, errors: [`${source} line ${split.line}: ${split.message}`] };
  const records: JsonValueAt[] = split.values.flatMap((v) => (Array.isArray(v.value) ? v.value.map((value) => ({ value, line: v.line })) : [v]));
  if (records.length === 0) return { lines, errors: [`${source}: no packets in the input`] };
  records.forEach((rec, i) => {
    const where = `${source} record ${i + 1} (line ${rec.line})`;
    const top = rec.value;
    const hasIpv6 = typeof top === 'object' && top !== null && !Array.isArray(top) && 'ipv6' in top;
    if (hasIpv6) {
      const r = jsonToPacket(top);
      if (!r.ok) { errors.push(`${where}: ${r.error.path || '(top level)'}: ${r.error.message}`); return; }
      lines.push(toHex(encodeJsonPacket(r.value)));
    } else {
      const r = jsonToShim6(top);
      if (!r.ok) { errors.push(`${where}: ${r.error.path || '(top level)'}: ${r.error.message}`); return; }
      lines.push(toHex(encodeJsonShim6(r.value)));
    }
  });
  return { lines, errors };
}
