/**
 * A live pcap capture for `shim6 pcap start|stop`: the daemon hands it every packet its
 * data plane sends and receives (src/dataplane/dataplane.ts `setTap`), and it writes
 * them to a classic pcap file (src/io/pcap.ts; link type 229, raw IPv6; microsecond
 * timestamps) that Wireshark, tshark and `shim6 decode --pcap` read.
 *
 * `write` is called on the packet path, so it only copies the packet into a chunk and
 * returns; a flush on a later turn of the event loop writes the chunks out in order. It
 * never throws. Bounds: the file stops growing at `maxBytes` (from then on nothing is
 * added and `truncated` is set, so the file holds the first part of the traffic), and at
 * most `maxPendingBytes` wait in memory for the disk (past that, packets are left out
 * and counted in `dropped`, and `truncated` is set too).
 *
 * The file is opened without following a symbolic link and must be a regular file
 * (a capture started as root must not be pointed at /etc/shadow through a link in
 * /tmp, nor block on a FIFO); it is created 0600, or truncated and set to 0600.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { encodePcap, LinkType, PCAP_FILE_HEADER_LEN, PCAP_RECORD_HEADER_LEN } from './pcap.js';

/** libpcap's largest SnapLen: no packet the data plane handles (at most 65583 octets) is cut. */
export const CAPTURE_SNAPLEN = 262144;
export const CAPTURE_DEFAULTS = {
  maxBytes: 64 * 1024 * 1024,
  maxPendingBytes: 8 * 1024 * 1024,
  chunkBytes: 256 * 1024,
} as const;

export interface PcapCaptureOptions {
  /** Largest file, in octets, headers included (default 64 MiB). */
  readonly maxBytes?: number;
  /** Octets waiting for the disk at most (default 8 MiB). */
  readonly maxPendingBytes?: number;
  /** Wall-clock milliseconds since the epoch, for record timestamps (default Date.now). */
  readonly now?: () => number;
  /** Called once per capture when writing the file fails (the capture then stops growing). */
  readonly onError?: (message: string) => void;
}

export interface PcapCaptureStatus {
  readonly capturing: boolean;
  /** The capture file; after `stop`, the last one; null before the first `start`. */
  readonly path: string | null;
  readonly packets: number;
  /** Octets of the file, headers included. */
  readonly bytes: number;
  /** Packets were left out: `maxBytes` was reached, the disk fell behind, or a write failed. */
  readonly truncated: boolean;
}

export class PcapCaptureError extends Error {
  readonly code: 'already-capturing' | 'not-capturing' | 'io';
  constructor(code: PcapCaptureError['code'], message: string) {
    super(message);
    this.name = 'PcapCaptureError';
    this.code = code;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class PcapCapture {
  readonly #maxBytes: number;
  readonly #maxPendingBytes: number;
  readonly #now: () => number;
  readonly #onError: (message: string) => void;

  #state: 'idle' | 'starting' | 'capturing' | 'stopping' = 'idle';
  #starting: Promise<void> | undefined;
  #handle: FileHandle | undefined;
  #path: string | null = null;
  #packets = 0;
  #bytes = 0;
  #truncated = false;
  #full = false;
  #failed = false;
  #dropped = 0;

  /** Filled chunks waiting for the disk, in order, and the one being filled. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #chunk: Uint8Array | undefined;
  #view: DataView | undefined;
  #fill = 0;
  #scheduled = false;
  #draining: Promise<void> | undefined;
  readonly #onImmediate = (): void => {
    this.#scheduled = false;
    this.#kick();
  };

  constructor(opts: PcapCaptureOptions = {}) {
    const maxBytes = opts.maxBytes ?? CAPTURE_DEFAULTS.maxBytes;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < PCAP_FILE_HEADER_LEN) throw new RangeError(`maxBytes must be an integer of at least ${PCAP_FILE_HEADER_LEN}, got ${maxBytes}`);
    const maxPending = opts.maxPendingBytes ?? CAPTURE_DEFAULTS.maxPendingBytes;
    if (!Number.isSafeInteger(maxPending) || maxPending < 1) throw new RangeError(`maxPendingBytes must be a positive integer, got ${maxPending}`);
    this.#maxBytes = maxBytes;
    this.#maxPendingBytes = maxPending;
    this.#now = opts.now ?? Date.now;
    this.#onError = opts.onError ?? (() => {});
  }

  get capturing(): boolean {
    return this.#state === 'capturing';
  }

  /** Packets left out because the disk fell behind (or a write failed), this capture. */
  get dropped(): number {
    return this.#dropped;
  }

  status(): PcapCaptureStatus {
    return { capturing: this.capturing, path: this.#path, packets: this.#packets, bytes: this.#bytes, truncated: this.#truncated };
  }

  /**
   * Opens `path` (created 0600, or truncated and set to 0600; not through a symbolic
   * link; a regular file only) and writes the pcap file header. Rejects with
   * PcapCaptureError: 'already-capturing', or 'io' when the file cannot be used.
   */
  start(path: string): Promise<void> {
    if (this.#state !== 'idle') return Promise.reject(new PcapCaptureError('already-capturing', `already capturing to ${this.#path ?? '?'}`));
    this.#state = 'starting';
    this.#starting = this.#open(path).finally(() => { this.#starting = undefined; });
    return this.#starting;
  }

  async #open(path: string): Promise<void> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
      if (!(await handle.stat()).isFile()) throw new Error('not a regular file');
      await handle.truncate(0);
      await handle.chmod(0o600);
      await this.#writeAll(handle, encodePcap([], { linkType: LinkType.IPV6, snapLength: CAPTURE_SNAPLEN }));
    } catch (e) {
      await handle?.close().catch(() => {});
      this.#state = 'idle';
      const code = (e as { code?: unknown }).code;
      const why = code === 'ELOOP' ? 'it is a symbolic link' : errorText(e);
      throw new PcapCaptureError('io', `cannot capture to ${path}: ${why}`);
    }
    this.#handle = handle;
    this.#path = path;
    this.#packets = 0;
    this.#bytes = PCAP_FILE_HEADER_LEN;
    this.#truncated = false;
    this.#full = false;
    this.#failed = false;
    this.#dropped = 0;
    this.#state = 'capturing';
  }

  /**
   * Adds one full IPv6 packet (copied; the caller may reuse `packet` at once). Does
   * nothing when not capturing. Never throws.
   */
  write(packet: Uint8Array): void {
    if (this.#state !== 'capturing' || this.#full) return;
    try {
      if (this.#failed) {
        this.#dropped++;
        return;
      }
      const captured = Math.min(packet.length, CAPTURE_SNAPLEN);
      const record = PCAP_RECORD_HEADER_LEN + captured;
      if (this.#bytes + record > this.#maxBytes) {
        this.#full = true;
        this.#truncated = true;
        return;
      }
      if (this.#pendingBytes + record > this.#maxPendingBytes) {
        this.#dropped++;
        this.#truncated = true;
        return;
      }
      if (this.#chunk === undefined || this.#fill + record > this.#chunk.length) {
        this.#seal();
        this.#chunk = new Uint8Array(Math.max(CAPTURE_DEFAULTS.chunkBytes, record));
        this.#view = new DataView(this.#chunk.buffer);
      }
      const ms = this.#now();
      const seconds = Math.min(0xffff_ffff, Math.max(0, Math.floor(ms / 1000)));
      const micros = Math.min(999_999, Math.max(0, Math.floor((ms - Math.floor(ms / 1000) * 1000) * 1000)));
      const v = this.#view!;
      const off = this.#fill;
      v.setUint32(off, seconds, true);
      v.setUint32(off + 4, micros, true);
      v.setUint32(off + 8, captured, true);
      v.setUint32(off + 12, packet.length, true);
      this.#chunk.set(captured === packet.length ? packet : packet.subarray(0, captured), off + PCAP_RECORD_HEADER_LEN);
      this.#fill += record;
      this.#pendingBytes += record;
      this.#bytes += record;
      this.#packets++;
      if (!this.#scheduled && this.#draining === undefined) {
        this.#scheduled = true;
        setImmediate(this.#onImmediate);
      }
    } catch {
      this.#dropped++;
      this.#truncated = true;
    }
  }

  /**
   * Writes what is pending, closes the file and resolves to the capture's totals.
   * Rejects with PcapCaptureError 'not-capturing' when no capture runs, or 'io' when the
   * file cannot be closed (the capture is over either way).
   */
  async stop(): Promise<{ path: string; packets: number; bytes: number; truncated: boolean }> {
    if (this.#state === 'starting') await this.#starting?.catch(() => {});
    if (this.#state !== 'capturing') throw new PcapCaptureError('not-capturing', 'no capture is running');
    this.#state = 'stopping';
    this.#kick();
    await this.#draining;
    const handle = this.#handle!;
    this.#handle = undefined;
    this.#chunk = undefined;
    this.#view = undefined;
    this.#state = 'idle';
    const result = { path: this.#path!, packets: this.#packets, bytes: this.#bytes, truncated: this.#truncated };
    try {
      await handle.close();
    } catch (e) {
      throw new PcapCaptureError('io', `closing ${result.path}: ${errorText(e)}`);
    }
    return result;
  }

  /** Moves the chunk being filled to the pending list. */
  #seal(): void {
    if (this.#chunk !== undefined && this.#fill > 0) {
      this.#pending.push(this.#chunk.subarray(0, this.#fill));
      this.#chunk = undefined;
      this.#view = undefined;
    }
    this.#fill = 0;
  }

  #kick(): void {
    if (this.#draining !== undefined) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      // A packet written between the drain's last look and now must not wait for the next one.
      if (this.#state === 'capturing' && (this.#fill > 0 || this.#pending.length > 0) && !this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#onImmediate);
      }
    });
  }

  /** Writes pending chunks until none is left (packets written meanwhile included). */
  async #drain(): Promise<void> {
    for (;;) {
      this.#seal();
      const handle = this.#handle;
      if (this.#pending.length === 0 || handle === undefined) return;
      const chunks = this.#pending;
      this.#pending = [];
      try {
        for (const c of chunks) {
          await this.#writeAll(handle, c);
          this.#pendingBytes -= c.length;
        }
      } catch (e) {
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#failed = true;
        this.#truncated = true;
        this.#onError(`pcap capture to ${this.#path ?? '?'}: ${errorText(e)}; the capture stops growing`);
        return;
      }
    }
  }

  async #writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, off, bytes.length - off);
      if (bytesWritten <= 0) throw new Error('write made no progress');
      off += bytesWritten;
    }
  }
}
