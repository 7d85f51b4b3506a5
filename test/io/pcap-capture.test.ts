/**
 * The live capture (src/io/pcap-capture.ts): files read back with the pcap reader
 * (src/io/pcap.ts): the global header (raw IPv6), records with their timestamps and
 * lengths, packets copied at write time, the size limit, mode 0600, no symbolic links or
 * non-regular files, start/stop misuse, and write never throwing.
 */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcapCapture, PcapCaptureError } from '../../src/io/pcap-capture.js';
import { LinkType, PCAP_FILE_HEADER_LEN, PCAP_RECORD_HEADER_LEN, readPcapFile } from '../../src/io/pcap.js';

let dir = '';
let n = 0;
const file = (): string => join(dir, `c${n++}.pcap`);

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'shim6-capture-')); });
afterAll(() => { if (dir !== '') rmSync(dir, { recursive: true, force: true }); });

function packet(len: number, fill: number): Uint8Array {
  const p = new Uint8Array(len).fill(fill);
  p[0] = 0x60;
  return p;
}

describe('PcapCapture', () => {
  it('writes a raw-IPv6 pcap file whose records are the packets, with the clock\'s timestamps', async () => {
    let ms = 1_714_557_600_123.456;
    const c = new PcapCapture({ now: () => ms });
    const path = file();
    expect(c.status()).toEqual({ capturing: false, path: null, packets: 0, bytes: 0, truncated: false });
    await c.start(path);
    expect(c.capturing).toBe(true);
    const a = packet(48, 1);
    c.write(a);
    a.fill(0xee); // the capture copied it at write time
    ms += 1500;
    c.write(packet(100, 2));
    expect(c.status()).toEqual({ capturing: true, path, packets: 2, bytes: PCAP_FILE_HEADER_LEN + 2 * PCAP_RECORD_HEADER_LEN + 148, truncated: false });
    const done = await c.stop();
    expect(done).toEqual({ path, packets: 2, bytes: PCAP_FILE_HEADER_LEN + 2 * PCAP_RECORD_HEADER_LEN + 148, truncated: false });
    expect(c.capturing).toBe(false);
    expect(statSync(path).size).toBe(done.bytes);
    const f = await readPcapFile(path);
    if (!f.ok) throw new Error(f.error.message);
    expect(f.value.linkType).toBe(LinkType.IPV6);
    expect(f.value.nanosecond).toBe(false);
    expect(f.value.records.map((r) => [r.timestampSeconds, r.timestampNanos, r.originalLength])).toEqual([
      [1_714_557_600, 123_456_000, 48],
      [1_714_557_601, 623_456_000, 100],
    ]);
    expect(new Uint8Array(f.value.records[0]!.data)).toEqual(packet(48, 1));
    expect(new Uint8Array(f.value.records[1]!.data)).toEqual(packet(100, 2));
    // After stop the last capture's totals stay visible; writes are ignored.
    c.write(packet(48, 3));
    expect(c.status()).toMatchObject({ capturing: false, path, packets: 2 });
  });

  it('flushes on its own while capturing (the file grows before stop)', async () => {
    const c = new PcapCapture();
    const path = file();
    await c.start(path);
    for (let i = 0; i < 10; i++) c.write(packet(60, i));
    await expect.poll(() => statSync(path).size).toBe(PCAP_FILE_HEADER_LEN + 10 * (PCAP_RECORD_HEADER_LEN + 60));
    for (let i = 0; i < 10; i++) c.write(packet(60, i));
    const done = await c.stop();
    expect(done.packets).toBe(20);
    const f = await readPcapFile(path);
    expect(f.ok && f.value.records.map((r) => r.data[1])).toEqual([...Array(10).keys(), ...Array(10).keys()]);
  });

  it('many packets across several chunks keep their order', async () => {
    const c = new PcapCapture();
    const path = file();
    await c.start(path);
    for (let i = 0; i < 3000; i++) {
      const p = packet(200 + (i % 50), i & 0xff);
      p[2] = i >> 8;
      c.write(p);
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    const done = await c.stop();
    expect(done).toMatchObject({ packets: 3000, truncated: false });
    const f = await readPcapFile(path);
    if (!f.ok) throw new Error(f.error.message);
    expect(f.value.records.map((r) => r.data[2]! * 256 + r.data[1]!)).toEqual([...Array(3000).keys()]);
  });

  it('stops adding at maxBytes: truncated, and the file holds what came first', async () => {
    const max = PCAP_FILE_HEADER_LEN + 3 * (PCAP_RECORD_HEADER_LEN + 100) + 50;
    const c = new PcapCapture({ maxBytes: max });
    const path = file();
    await c.start(path);
    for (let i = 0; i < 5; i++) c.write(packet(100, i));
    c.write(packet(10, 9)); // would fit, but the capture has stopped growing
    expect(c.status()).toMatchObject({ packets: 3, truncated: true });
    const done = await c.stop();
    expect(done).toMatchObject({ packets: 3, truncated: true, bytes: max - 50 });
    const f = await readPcapFile(path);
    expect(f.ok && f.value.records.map((r) => r.data[1])).toEqual([0, 1, 2]);
  });

  it('leaves packets out when the disk falls behind (maxPendingBytes), and says so', async () => {
    const c = new PcapCapture({ maxPendingBytes: 2 * (PCAP_RECORD_HEADER_LEN + 100) });
    await c.start(file());
    for (let i = 0; i < 5; i++) c.write(packet(100, i)); // no event-loop turn in between: nothing flushed yet
    expect(c.status()).toMatchObject({ packets: 2, truncated: true });
    expect(c.dropped).toBe(3);
    expect(await c.stop()).toMatchObject({ packets: 2, truncated: true });
  });

  it('creates the file 0600; an existing file is truncated and set to 0600', async () => {
    const c = new PcapCapture();
    const fresh = file();
    const old = process.umask(0);
    try {
      await c.start(fresh);
    } finally {
      process.umask(old);
    }
    await c.stop();
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
    const existing = file();
    writeFileSync(existing, 'x'.repeat(10_000));
    chmodSync(existing, 0o644);
    await c.start(existing);
    const done = await c.stop();
    expect(statSync(existing).mode & 0o777).toBe(0o600);
    expect(statSync(existing).size).toBe(done.bytes);
    expect(done.bytes).toBe(PCAP_FILE_HEADER_LEN);
  });

  it('refuses a symbolic link (the target is left alone), a directory, a FIFO and a missing directory', async () => {
    const c = new PcapCapture();
    const target = file();
    writeFileSync(target, 'keep me');
    const link = join(dir, 'link.pcap');
    symlinkSync(target, link);
    await expect(c.start(link)).rejects.toMatchObject({ code: 'io', message: expect.stringMatching(/symbolic link/) });
    expect(readFileSync(target, 'utf8')).toBe('keep me');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    await expect(c.start(sub)).rejects.toBeInstanceOf(PcapCaptureError);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(c.start(fifo)).rejects.toMatchObject({ code: 'io' }); // neither blocks nor writes
    await expect(c.start(join(dir, 'no/such/dir.pcap'))).rejects.toMatchObject({ code: 'io' });
    expect(c.status()).toMatchObject({ capturing: false, path: null });
    // Still usable afterwards.
    await c.start(file());
    await c.stop();
  });

  it('start twice and stop without a capture are errors with codes', async () => {
    const c = new PcapCapture();
    await expect(c.stop()).rejects.toMatchObject({ code: 'not-capturing' });
    const path = file();
    await c.start(path);
    await expect(c.start(file())).rejects.toMatchObject({ code: 'already-capturing', message: `already capturing to ${path}` });
    await c.stop();
    await expect(c.stop()).rejects.toMatchObject({ code: 'not-capturing' });
  });

  it('a stop that arrives while the file is being opened waits for it', async () => {
    const c = new PcapCapture();
    const path = file();
    const started = c.start(path);
    c.write(packet(48, 1)); // not capturing yet: ignored
    const stopped = c.stop();
    await started;
    expect(await stopped).toMatchObject({ path, packets: 0, bytes: PCAP_FILE_HEADER_LEN });
  });

  it('write never throws, whatever it is given', async () => {
    const c = new PcapCapture();
    expect(() => c.write(new Uint8Array(0))).not.toThrow();
    await c.start(file());
    expect(() => c.write(new Uint8Array(0))).not.toThrow();
    expect(() => c.write(null as unknown as Uint8Array)).not.toThrow();
    expect(() => c.write(new Uint8Array(300_000))).not.toThrow(); // longer than the SnapLen: cut to it
    const done = await c.stop();
    expect(done.packets).toBe(2);
  });

  it('rejects a maxBytes smaller than the file header', () => {
    expect(() => new PcapCapture({ maxBytes: 10 })).toThrow(RangeError);
  });
});
