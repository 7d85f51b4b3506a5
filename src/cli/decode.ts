/**
 * `shim6 decode`: one JSON record per packet. Each packet is parsed leniently
 * (checksum not verified, unknown critical options kept) to show its contents with
 * `packetToJson`, and strictly (as a Shim6 receiver would, RFC 5533 §12.3) for the
 * `verdict`. A packet the lenient parse rejects becomes an `{ error }` record.
 *
 * Pure: the caller reads files and writes the records.
 */
import type { PcapFile } from '../io/pcap.js';
import { ipv6FromRecord } from '../io/pcap.js';
import { fromHex, parseControlMessage, parsePacket, parsePayloadHeader, verifyControlChecksum, type Parsed, type WireError } from '../wire/index.js';
import { packetToJson, shim6ToJson, type JsonObject } from '../wire/json.js';
import type { VerificationMethodProfile } from '../wire/verification-method.js';

export type DecodeLayer = 'ipv6' | 'shim6';

export interface DecodeOptions {
  readonly profile: VerificationMethodProfile;
  /** 'ipv6' (default): a whole IPv6 packet; 'shim6': a bare Shim6 header. */
  readonly layer: DecodeLayer;
}

export interface DecodedRecord {
  readonly json: JsonObject;
  /** False when the packet does not pass the strict parse (exit code 1). */
  readonly valid: boolean;
}

const LENIENT = { verifyChecksum: false, unknownCritical: 'keep', checkAddresses: false } as const;

function errorJson(e: WireError): JsonObject {
  const out: JsonObject = { reason: e.reason, message: e.message, offset: e.offset };
  if (e.reply !== undefined) out['reply'] = { code: e.reply.code, pointer: e.reply.pointer };
  return out;
}

function verdictJson(strict: Parsed<unknown>): JsonObject {
  return strict.ok ? { ok: true } : { ok: false, ...errorJson(strict.error) };
}

/** Decodes one packet (or bare Shim6 header). */
export function decodePacket(raw: Uint8Array, opts: DecodeOptions): DecodedRecord {
  if (opts.layer === 'shim6') return decodeShim6(raw, opts);
  const lenient = parsePacket(raw, 0, raw.length, LENIENT);
  if (!lenient.ok) return { json: { error: errorJson(lenient.error) }, valid: false };
  const strict = parsePacket(raw);
  return { json: { ...packetToJson(lenient.value, raw, opts), verdict: verdictJson(strict) }, valid: strict.ok };
}

function decodeShim6(raw: Uint8Array, opts: DecodeOptions): DecodedRecord {
  if (raw.length >= 8 && (raw[2]! & 0x80) !== 0) {
    const h = parsePayloadHeader(raw);
    if (!h.ok) return { json: { error: errorJson(h.error) }, valid: false };
    return { json: { shim6: shim6ToJson({ kind: 'payload', offset: 0, header: h.value }, raw, opts), verdict: { ok: true } }, valid: true };
  }
  const lenient = parseControlMessage(raw, 0, raw.length, LENIENT);
  if (!lenient.ok) return { json: { error: errorJson(lenient.error) }, valid: false };
  const strict = parseControlMessage(raw);
  const part = { kind: 'control', offset: 0, message: lenient.value, checksumValid: verifyControlChecksum(raw, 0) } as const;
  return { json: { shim6: shim6ToJson(part, raw, opts), verdict: verdictJson(strict) }, valid: strict.ok };
}

/** Decodes hex text: one packet per non-empty line. */
export function decodeHexText(text: string, opts: DecodeOptions): DecodedRecord[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) return [{ json: { error: { reason: 'bad-hex', message: 'no hex packet given', offset: 0 } }, valid: false }];
  return lines.map((line) => {
    const raw = fromHex(line.trim());
    if (raw === undefined) return { json: { error: { reason: 'bad-hex', message: 'not a hex string (an even number of digits 0-9a-f; spaces and colons are ignored)', offset: 0 } }, valid: false };
    return decodePacket(raw, opts);
  });
}

/** Record timestamp as decimal seconds, nanosecond precision. */
export function pcapTime(seconds: number, nanos: number): string {
  return `${seconds}.${String(nanos).padStart(9, '0')}`;
}

/** Decodes every record of a capture; `frame` numbers count from 1 as in Wireshark. */
export function decodePcap(file: PcapFile, opts: Omit<DecodeOptions, 'layer'>): DecodedRecord[] {
  return file.records.map((rec, i) => {
    const head: JsonObject = { frame: i + 1, time: pcapTime(rec.timestampSeconds, rec.timestampNanos) };
    const ip = ipv6FromRecord(file.linkType, rec.data);
    if (ip === undefined) {
      return { json: { ...head, error: { reason: 'not-ipv6', message: `frame does not carry IPv6 (link type ${file.linkType})`, offset: 0 } }, valid: false };
    }
    const d = decodePacket(ip, { ...opts, layer: 'ipv6' });
    return { json: { ...head, ...d.json }, valid: d.valid };
  });
}
