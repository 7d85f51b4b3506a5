/**
 * Classic pcap capture files (the libpcap format: draft-ietf-opsawg-pcap, "PCAP Capture
 * File Format"; link types from the tcpdump.org LINKTYPE registry) for writing Shim6
 * traffic that Wireshark/tshark can read, and reading captures back for tests and tools.
 *
 * Layout: a 24-octet file header (magic, version 2.4, two unused 32-bit fields, SnapLen,
 * LinkType), then records of a 16-octet header (seconds, sub-second fraction, captured
 * length, original length) followed by the captured octets. The magic 0xa1b2c3d4 means
 * microsecond fractions, 0xa1b23c4d nanosecond fractions; its byte order gives the byte
 * order of every other header field.
 *
 * Covered: writing (little-endian, micro- or nanosecond), reading both byte orders and
 * both resolutions, and finding the IPv6 packet inside a record for the link types
 * Ethernet (with at most one 802.1Q tag), raw IP, Linux cooked v1/v2 and raw IPv6.
 * Left out: pcapng (the block-based successor format) and the obsolete "modified pcap"
 * magics; the FCS-length bits in the top of the LinkType field are dropped on read.
 *
 * `encodePcap`, `parsePcap` and `ipv6FromRecord` are pure; `parsePcap` never throws and
 * returns a typed error naming the reason and the file offset. Encoding throws a
 * `RangeError` only for arguments that cannot be represented (a programming error).
 * File access (`readPcapFile`, `writePcapFile`, `PcapWriter`) uses node:fs/promises.
 */
import { open, readFile, writeFile, type FileHandle } from 'node:fs/promises';

/** LINKTYPE_* values of the tcpdump.org registry that this module understands. */
export const LinkType = { ETHERNET: 1, RAW: 101, LINUX_SLL: 113, IPV6: 229, LINUX_SLL2: 276 } as const;

export interface PcapRecord {
  readonly timestampSeconds: number;
  /** Sub-second part in nanoseconds (microsecond files give multiples of 1000). */
  readonly timestampNanos: number;
  /** Length of the packet on the wire; larger than `data.length` when it was truncated to SnapLen. */
  readonly originalLength: number;
  /** The captured octets (a copy, not a view of the file). */
  readonly data: Uint8Array;
}

export interface PcapFile {
  readonly linkType: number;
  readonly snapLength: number;
  /** True for the 0xa1b23c4d magic (nanosecond fractions). */
  readonly nanosecond: boolean;
  /** True when the header fields are big-endian. */
  readonly bigEndian: boolean;
  readonly records: readonly PcapRecord[];
}

export interface PcapRecordInput {
  readonly data: Uint8Array;
  /** Seconds since the epoch, 0..2^32-1 (default 0). */
  readonly timestampSeconds?: number;
  /** 0..999999999 (default 0); rounded down to microseconds in a microsecond file. */
  readonly timestampNanos?: number;
  /** Default `data.length`; must not be less than `data.length`. */
  readonly originalLength?: number;
}

export interface PcapEncodeOptions {
  /** Default `LinkType.IPV6` (229, raw IPv6). */
  readonly linkType?: number;
  /** Default false (microsecond fractions). */
  readonly nanosecond?: boolean;
  /** Default 65535; longer records are truncated to it. */
  readonly snapLength?: number;
}

export type PcapErrorReason = 'truncated-header' | 'bad-magic' | 'bad-version' | 'truncated-record' | 'record-too-long' | 'io';

export interface PcapError {
  readonly reason: PcapErrorReason;
  readonly message: string;
  /** File offset where the problem was found (0 for 'io'). */
  readonly offset: number;
}

export type PcapParsed = { readonly ok: true; readonly value: PcapFile } | { readonly ok: false; readonly error: PcapError };

export const PCAP_FILE_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;
const VERSION_MAJOR = 2;
const VERSION_MINOR = 4;
const DEFAULT_SNAPLEN = 65535;
/** libpcap's own ceiling on a record's captured length when the file's SnapLen is smaller. */
const MAX_RECORD_LEN = 262144;
/** The LinkType field's low bits; the top bits carry FCS information (draft-ietf-opsawg-pcap §4). */
const LINKTYPE_MASK = 0x03ff_ffff;
const U32_MAX = 0xffff_ffff;

const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;

function checkU32(name: string, v: number, min = 0, max = U32_MAX): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`pcap: ${name} must be an integer in ${min}..${max}, got ${v}`);
}

interface ResolvedOptions {
  readonly linkType: number;
  readonly nanosecond: boolean;
  readonly snapLength: number;
}

function resolveOptions(opts: PcapEncodeOptions): ResolvedOptions {
  const linkType = opts.linkType ?? LinkType.IPV6;
  const snapLength = opts.snapLength ?? DEFAULT_SNAPLEN;
  checkU32('linkType', linkType);
  checkU32('snapLength', snapLength, 1);
  return { linkType, nanosecond: opts.nanosecond ?? false, snapLength };
}

/** The 24-octet file header, little-endian. */
function fileHeader(o: ResolvedOptions): Uint8Array {
  const out = new Uint8Array(PCAP_FILE_HEADER_LEN);
  const v = new DataView(out.buffer);
  v.setUint32(0, o.nanosecond ? MAGIC_NANO : MAGIC_MICRO, true);
  v.setUint16(4, VERSION_MAJOR, true);
  v.setUint16(6, VERSION_MINOR, true);
  // Octets 8-15: the former thiszone and sigfigs fields, zero.
  v.setUint32(16, o.snapLength, true);
  v.setUint32(20, o.linkType, true);
  return out;
}

/** Octets a record takes in the file. */
function recordLength(rec: PcapRecordInput, o: ResolvedOptions): number {
  return PCAP_RECORD_HEADER_LEN + Math.min(rec.data.length, o.snapLength);
}

/** Writes one record (header + captured octets) at `off` in `out`; returns the end offset. */
function emitRecord(rec: PcapRecordInput, o: ResolvedOptions, out: Uint8Array, off: number): number {
  const seconds = rec.timestampSeconds ?? 0;
  const nanos = rec.timestampNanos ?? 0;
  const captured = Math.min(rec.data.length, o.snapLength);
  const original = rec.originalLength ?? rec.data.length;
  checkU32('timestampSeconds', seconds);
  checkU32('timestampNanos', nanos, 0, 999_999_999);
  checkU32('originalLength', original, rec.data.length);
  const v = new DataView(out.buffer, out.byteOffset + off, PCAP_RECORD_HEADER_LEN);
  v.setUint32(0, seconds, true);
  v.setUint32(4, o.nanosecond ? nanos : Math.floor(nanos / 1000), true);
  v.setUint32(8, captured, true);
  v.setUint32(12, original, true);
  out.set(rec.data.subarray(0, captured), off + PCAP_RECORD_HEADER_LEN);
  return off + PCAP_RECORD_HEADER_LEN + captured;
}

function encodeRecord(rec: PcapRecordInput, o: ResolvedOptions): Uint8Array {
  const out = new Uint8Array(recordLength(rec, o));
  emitRecord(rec, o, out, 0);
  return out;
}

/**
 * A whole pcap file: file header then one record per input, in order. Throws
 * `RangeError` for an option or timestamp that the format cannot hold.
 */
export function encodePcap(records: readonly PcapRecordInput[], opts: PcapEncodeOptions = {}): Uint8Array {
  const o = resolveOptions(opts);
  let total = PCAP_FILE_HEADER_LEN;
  for (const r of records) total += recordLength(r, o);
  const out = new Uint8Array(total);
  out.set(fileHeader(o), 0);
  let off = PCAP_FILE_HEADER_LEN;
  for (const r of records) off = emitRecord(r, o, out, off);
  return out;
}

function fail(reason: PcapErrorReason, offset: number, message: string): PcapParsed {
  return { ok: false, error: { reason, offset, message } };
}

/** Parses a classic pcap file in either byte order and either time resolution. Never throws. */
export function parsePcap(bytes: Uint8Array): PcapParsed {
  if (bytes.length < PCAP_FILE_HEADER_LEN) {
    return fail('truncated-header', 0, `a pcap file header needs ${PCAP_FILE_HEADER_LEN} octets, ${bytes.length} available`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicBE = v.getUint32(0, false);
  const magicLE = v.getUint32(0, true);
  let littleEndian: boolean;
  let nanosecond: boolean;
  if (magicLE === MAGIC_MICRO || magicLE === MAGIC_NANO) {
    littleEndian = true;
    nanosecond = magicLE === MAGIC_NANO;
  } else if (magicBE === MAGIC_MICRO || magicBE === MAGIC_NANO) {
    littleEndian = false;
    nanosecond = magicBE === MAGIC_NANO;
  } else {
    const hint = magicBE === 0x0a0d0d0a ? ' (this is a pcapng file, which is not supported)' : '';
    return fail('bad-magic', 0, `magic 0x${magicBE.toString(16).padStart(8, '0')} is not a pcap magic${hint}`);
  }
  const major = v.getUint16(4, littleEndian);
  const minor = v.getUint16(6, littleEndian);
  if (major !== VERSION_MAJOR) return fail('bad-version', 4, `pcap version ${major}.${minor} is not supported (need ${VERSION_MAJOR}.x)`);
  const snapLength = v.getUint32(16, littleEndian);
  const linkType = v.getUint32(20, littleEndian) & LINKTYPE_MASK;
  const maxCaptured = Math.max(snapLength, MAX_RECORD_LEN);

  const records: PcapRecord[] = [];
  let off = PCAP_FILE_HEADER_LEN;
  while (off < bytes.length) {
    if (bytes.length - off < PCAP_RECORD_HEADER_LEN) {
      return fail('truncated-record', off, `record ${records.length} header needs ${PCAP_RECORD_HEADER_LEN} octets, ${bytes.length - off} available`);
    }
    const timestampSeconds = v.getUint32(off, littleEndian);
    const fraction = v.getUint32(off + 4, littleEndian);
    const captured = v.getUint32(off + 8, littleEndian);
    const originalLength = v.getUint32(off + 12, littleEndian);
    if (captured > maxCaptured) {
      return fail('record-too-long', off + 8, `record ${records.length} claims ${captured} captured octets, more than the limit of ${maxCaptured}`);
    }
    const dataStart = off + PCAP_RECORD_HEADER_LEN;
    if (bytes.length - dataStart < captured) {
      return fail('truncated-record', off, `record ${records.length} needs ${captured} octets of data, ${bytes.length - dataStart} available`);
    }
    records.push({
      timestampSeconds,
      timestampNanos: nanosecond ? fraction : fraction * 1000,
      originalLength,
      data: bytes.slice(dataStart, dataStart + captured),
    });
    off = dataStart + captured;
  }
  return { ok: true, value: { linkType, snapLength, nanosecond, bigEndian: !littleEndian, records } };
}

function u16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

/** The IPv6 packet after an EtherType at `typeOff`, or undefined when the type is not IPv6. */
function afterEtherType(data: Uint8Array, typeOff: number): Uint8Array | undefined {
  if (data.length < typeOff + 2 || u16(data, typeOff) !== ETHERTYPE_IPV6) return undefined;
  return data.subarray(typeOff + 2);
}

/**
 * The IPv6 packet inside a record's data, with the link-layer header removed (a view of
 * `data`, not a copy), or undefined when the record does not carry IPv6 or the link type
 * is not one of `LinkType`.
 *
 * - ETHERNET: 14-octet header; EtherType 0x86dd, or 0x8100 (one 802.1Q tag) then 0x86dd.
 * - RAW: the packet itself when its version nibble is 6.
 * - LINUX_SLL: 16-octet header, protocol type at octet 14.
 * - LINUX_SLL2: 20-octet header, protocol type at octet 0.
 * - IPV6: the data as is.
 */
export function ipv6FromRecord(linkType: number, data: Uint8Array): Uint8Array | undefined {
  switch (linkType) {
    case LinkType.ETHERNET: {
      if (data.length >= 14 && u16(data, 12) === ETHERTYPE_VLAN) return afterEtherType(data, 16);
      return afterEtherType(data, 12);
    }
    case LinkType.RAW:
      return data.length > 0 && data[0]! >>> 4 === 6 ? data : undefined;
    case LinkType.LINUX_SLL: {
      const ip = afterEtherType(data, 14);
      return ip !== undefined && data.length >= 16 ? ip : undefined;
    }
    case LinkType.LINUX_SLL2:
      return data.length >= 20 && u16(data, 0) === ETHERTYPE_IPV6 ? data.subarray(20) : undefined;
    case LinkType.IPV6:
      return data;
    default:
      return undefined;
  }
}

/** Reads and parses a pcap file; a file that cannot be read is an error result with reason 'io'. */
export async function readPcapFile(path: string): Promise<PcapParsed> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    return fail('io', 0, `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parsePcap(bytes);
}

/** Writes a whole pcap file (replacing any existing file). Rejects on I/O errors. */
export async function writePcapFile(path: string, records: readonly PcapRecordInput[], opts: PcapEncodeOptions = {}): Promise<void> {
  await writeFile(path, encodePcap(records, opts));
}

/**
 * Streaming writer for long captures: `open` writes the file header, each `write`
 * appends one record, `close` releases the file. Writes are applied in call order even
 * when not awaited one by one. Writing after `close` rejects.
 */
export class PcapWriter {
  readonly #handle: FileHandle;
  readonly #opts: ResolvedOptions;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(handle: FileHandle, opts: ResolvedOptions) {
    this.#handle = handle;
    this.#opts = opts;
  }

  /** Creates (or truncates) `path` and writes the file header. */
  static async open(path: string, opts: PcapEncodeOptions = {}): Promise<PcapWriter> {
    const o = resolveOptions(opts);
    const handle = await open(path, 'w');
    try {
      await handle.write(fileHeader(o));
    } catch (e) {
      await handle.close();
      throw e;
    }
    return new PcapWriter(handle, o);
  }

  /** Appends one record (truncated to SnapLen). */
  write(rec: PcapRecordInput): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('pcap: write after close'));
    let bytes: Uint8Array;
    try {
      bytes = encodeRecord(rec, this.#opts);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#enqueue(async () => {
      await this.#handle.write(bytes);
    });
  }

  /** Waits for pending writes and closes the file. Closing twice is harmless. */
  close(): Promise<void> {
    if (this.#closed) return this.#queue;
    this.#closed = true;
    return this.#enqueue(() => this.#handle.close());
  }

  #enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(step);
    // A failed write must not block the ones after it; each caller still sees its own failure.
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
