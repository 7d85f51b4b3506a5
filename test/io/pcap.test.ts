// Classic pcap writer/reader (src/io/pcap.ts). Expected header bytes follow the field
// layout of draft-ietf-opsawg-pcap ("PCAP Capture File Format") §4-§5; the big-endian and
// nanosecond files are assembled here field by field, independently of the encoder.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePcap, ipv6FromRecord, LinkType, parsePcap, PcapWriter, readPcapFile, writePcapFile, type PcapFile } from '../../src/io/pcap.js';

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function expectOk(r: ReturnType<typeof parsePcap>): PcapFile {
  if (!r.ok) throw new Error(`parse failed: ${r.error.reason} at ${r.error.offset}: ${r.error.message}`);
  return r.value;
}

/** A minimal IPv6 header (version 6, no payload) with a recognisable last octet. */
const IPV6_PACKET = hex('60000000 0000 3b 40' + '20010db8000000000000000000000001' + '20010db8000000000000000000000002');

describe('encodePcap', () => {
  it('writes the exact file and record headers (little-endian, microseconds)', () => {
    const data = hex('60 00 00 00 00 00 3b 40');
    const bytes = encodePcap([{ data, timestampSeconds: 0x01020304, timestampNanos: 5_000_999 }]);
    expect(Array.from(bytes)).toEqual(
      Array.from(
        hex(
          // magic a1b2c3d4 LE, version 2.4, thiszone 0, sigfigs 0, snaplen 65535, linktype 229
          'd4c3b2a1 0200 0400 00000000 00000000 ffff0000 e5000000' +
            // ts_sec 0x01020304, ts_usec 5000 (5_000_999 ns rounded down), incl 8, orig 8
            '04030201 88130000 08000000 08000000' +
            '6000000000003b40',
        ),
      ),
    );
  });

  it('writes the nanosecond magic, the link type and the snap length asked for', () => {
    const bytes = encodePcap([{ data: new Uint8Array(3), timestampNanos: 123_456_789 }], { nanosecond: true, linkType: LinkType.ETHERNET, snapLength: 1500 });
    expect(Array.from(bytes.subarray(0, 24))).toEqual(Array.from(hex('4d3cb2a1 0200 0400 00000000 00000000 dc050000 01000000')));
    expect(Array.from(bytes.subarray(24, 40))).toEqual(Array.from(hex('00000000 15cd5b07 03000000 03000000')));
  });

  it('truncates records longer than the snap length and keeps the original length', () => {
    const data = Uint8Array.from({ length: 100 }, (_, i) => i);
    const file = expectOk(parsePcap(encodePcap([{ data }], { snapLength: 40 })));
    expect(file.records[0]!.data).toEqual(data.subarray(0, 40));
    expect(file.records[0]!.originalLength).toBe(100);
    const explicit = expectOk(parsePcap(encodePcap([{ data: data.subarray(0, 10), originalLength: 1514 }])));
    expect(explicit.records[0]!.originalLength).toBe(1514);
  });

  it('rejects values the format cannot hold', () => {
    const data = new Uint8Array(4);
    expect(() => encodePcap([{ data, timestampSeconds: -1 }])).toThrow(RangeError);
    expect(() => encodePcap([{ data, timestampSeconds: 2 ** 32 }])).toThrow(RangeError);
    expect(() => encodePcap([{ data, timestampNanos: 1e9 }])).toThrow(RangeError);
    expect(() => encodePcap([{ data, originalLength: 3 }])).toThrow(RangeError);
    expect(() => encodePcap([], { snapLength: 0 })).toThrow(RangeError);
  });

  it('encodes an empty capture as a bare file header', () => {
    const file = expectOk(parsePcap(encodePcap([])));
    expect(file).toEqual({ linkType: 229, snapLength: 65535, nanosecond: false, bigEndian: false, records: [] });
  });
});

describe('parsePcap', () => {
  it('round-trips what encodePcap writes', () => {
    const inputs = [
      { data: IPV6_PACKET, timestampSeconds: 1_700_000_000, timestampNanos: 250_000_000 },
      { data: hex('deadbeef'), timestampSeconds: 1, timestampNanos: 999_999_000, originalLength: 60 },
      { data: new Uint8Array(0) },
    ];
    for (const nanosecond of [false, true]) {
      const file = expectOk(parsePcap(encodePcap(inputs, { nanosecond, linkType: LinkType.RAW })));
      expect(file.linkType).toBe(LinkType.RAW);
      expect(file.nanosecond).toBe(nanosecond);
      expect(file.bigEndian).toBe(false);
      expect(file.records.map((r) => ({ ...r, data: Array.from(r.data) }))).toEqual([
        { timestampSeconds: 1_700_000_000, timestampNanos: 250_000_000, originalLength: 40, data: Array.from(IPV6_PACKET) },
        { timestampSeconds: 1, timestampNanos: 999_999_000, originalLength: 60, data: [0xde, 0xad, 0xbe, 0xef] },
        { timestampSeconds: 0, timestampNanos: 0, originalLength: 0, data: [] },
      ]);
    }
  });

  it('round-trips arbitrary records (property)', () => {
    const record = fc.record({
      data: fc.uint8Array({ maxLength: 200 }),
      timestampSeconds: fc.nat({ max: 0xffff_ffff }),
      micros: fc.nat({ max: 999_999 }),
      extra: fc.nat({ max: 1000 }),
    });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 8 }), fc.boolean(), (recs, nanosecond) => {
        const inputs = recs.map((r) => ({ data: r.data, timestampSeconds: r.timestampSeconds, timestampNanos: r.micros * 1000, originalLength: r.data.length + r.extra }));
        const file = expectOk(parsePcap(encodePcap(inputs, { nanosecond })));
        expect(file.records.length).toBe(inputs.length);
        file.records.forEach((r, i) => {
          expect(r.timestampSeconds).toBe(inputs[i]!.timestampSeconds);
          expect(r.timestampNanos).toBe(inputs[i]!.timestampNanos);
          expect(r.originalLength).toBe(inputs[i]!.originalLength);
          expect(Array.from(r.data)).toEqual(Array.from(inputs[i]!.data));
        });
      }),
    );
  });

  it('reads a big-endian microsecond file built by hand', () => {
    const bytes = hex(
      'a1b2c3d4 0002 0004 00000000 00000000 00040000 00000065' + // snaplen 262144, linktype 101 (RAW)
        '5f5e1000 000f4240 00000004 00000028' + // ts 1600000000 s, 1000000 us, incl 4, orig 40
        'cafebabe',
    );
    // A fraction of 1_000_000 us is out of range, but the reader reports it as is.
    const file = expectOk(parsePcap(bytes));
    expect(file).toMatchObject({ linkType: 101, snapLength: 262144, nanosecond: false, bigEndian: true });
    expect(file.records).toHaveLength(1);
    expect(file.records[0]).toMatchObject({ timestampSeconds: 1_600_000_000, timestampNanos: 1_000_000_000, originalLength: 40 });
    expect(Array.from(file.records[0]!.data)).toEqual([0xca, 0xfe, 0xba, 0xbe]);
  });

  it('reads a big-endian nanosecond file built by hand', () => {
    const bytes = hex(
      'a1b23c4d 0002 0004 00000000 00000000 0000ffff 000000e5' +
        '00000001 075bcd15 00000002 00000002 6000' +
        '00000002 00000007 00000001 00000005 60',
    );
    const file = expectOk(parsePcap(bytes));
    expect(file).toMatchObject({ linkType: 229, snapLength: 65535, nanosecond: true, bigEndian: true });
    expect(file.records.map((r) => [r.timestampSeconds, r.timestampNanos, r.originalLength, r.data.length])).toEqual([
      [1, 123_456_789, 2, 2],
      [2, 7, 5, 1],
    ]);
  });

  it('reads a little-endian nanosecond file built by hand', () => {
    const bytes = hex('4d3cb2a1 0200 0400 00000000 00000000 ffff0000 01000000' + '0a000000 ffc99a3b 01000000 01000000 ff');
    const file = expectOk(parsePcap(bytes));
    expect(file).toMatchObject({ linkType: 1, nanosecond: true, bigEndian: false });
    expect(file.records[0]).toMatchObject({ timestampSeconds: 10, timestampNanos: 999_999_999, originalLength: 1 });
  });

  it('drops the FCS bits from the top of the link type field', () => {
    const bytes = hex('d4c3b2a1 0200 0400 00000000 00000000 ffff0000 01000014');
    expect(expectOk(parsePcap(bytes)).linkType).toBe(1);
  });

  it('reports a bad magic, naming pcapng', () => {
    const pcapng = hex('0a0d0d0a 1c000000 4d3c2b1a 01000000 ffffffffffffffff 1c000000');
    const r = parsePcap(pcapng);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.reason).toBe('bad-magic');
      expect(r.error.offset).toBe(0);
      expect(r.error.message).toMatch(/pcapng/);
    }
  });

  it('reports a bad version', () => {
    const bytes = encodePcap([]);
    bytes[4] = 1;
    const r = parsePcap(bytes);
    expect(r).toMatchObject({ ok: false, error: { reason: 'bad-version', offset: 4 } });
  });

  it('reports a record longer than the limit', () => {
    const bytes = encodePcap([{ data: new Uint8Array(4) }], { snapLength: 100 });
    new DataView(bytes.buffer).setUint32(24 + 8, 262145, true);
    expect(parsePcap(bytes)).toMatchObject({ ok: false, error: { reason: 'record-too-long', offset: 32 } });
  });

  it('gives a typed error for every truncation of a valid file', () => {
    const full = encodePcap(
      [
        { data: IPV6_PACKET, timestampSeconds: 3 },
        { data: hex('0102030405'), timestampSeconds: 4 },
      ],
      { nanosecond: true },
    );
    const recordStarts = [24, 24 + 16 + IPV6_PACKET.length];
    for (let len = 0; len < full.length; len++) {
      const r = parsePcap(full.subarray(0, len));
      if (len === 24 || len === recordStarts[1]) {
        // A cut exactly at a record boundary is a valid, shorter file.
        expect(r.ok, `length ${len}`).toBe(true);
        continue;
      }
      expect(r.ok, `length ${len}`).toBe(false);
      if (r.ok) continue;
      if (len < 24) {
        expect(r.error).toMatchObject({ reason: 'truncated-header', offset: 0 });
      } else {
        expect(r.error.reason).toBe('truncated-record');
        expect(r.error.offset).toBe(len < recordStarts[1]! ? recordStarts[0] : recordStarts[1]);
      }
      expect(r.error.message.length).toBeGreaterThan(0);
    }
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const r = parsePcap(b);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on random bytes behind a valid magic and version, in both byte orders', () => {
    const heads = [hex('d4c3b2a1 0200 0400'), hex('a1b2c3d4 0002 0004'), hex('4d3cb2a1 0200 0400'), hex('a1b23c4d 0002 0004')];
    fc.assert(
      fc.property(fc.constantFrom(...heads), fc.uint8Array({ maxLength: 300 }), (head, rest) => {
        const b = new Uint8Array(head.length + rest.length);
        b.set(head);
        b.set(rest, head.length);
        const r = parsePcap(b);
        if (!r.ok) expect(['truncated-header', 'truncated-record', 'record-too-long']).toContain(r.error.reason);
      }),
      { numRuns: 2000 },
    );
  });

  it('works on a view into a larger buffer', () => {
    const inner = encodePcap([{ data: hex('60aa') }]);
    const outer = new Uint8Array(inner.length + 10);
    outer.set(inner, 5);
    const file = expectOk(parsePcap(outer.subarray(5, 5 + inner.length)));
    expect(Array.from(file.records[0]!.data)).toEqual([0x60, 0xaa]);
  });
});

describe('ipv6FromRecord', () => {
  const mac = '020000000001 020000000002';

  it('strips an Ethernet header', () => {
    const frame = hex(mac + '86dd' + '60000000');
    expect(Array.from(ipv6FromRecord(LinkType.ETHERNET, frame)!)).toEqual([0x60, 0, 0, 0]);
    expect(ipv6FromRecord(LinkType.ETHERNET, hex(mac + '0800' + '45000000'))).toBeUndefined();
    expect(ipv6FromRecord(LinkType.ETHERNET, hex('0200'))).toBeUndefined();
  });

  it('strips an Ethernet header with one 802.1Q tag', () => {
    const frame = hex(mac + '8100 0064' + '86dd' + '60000000');
    expect(Array.from(ipv6FromRecord(LinkType.ETHERNET, frame)!)).toEqual([0x60, 0, 0, 0]);
    expect(ipv6FromRecord(LinkType.ETHERNET, hex(mac + '8100 0064' + '0800' + '45'))).toBeUndefined();
    expect(ipv6FromRecord(LinkType.ETHERNET, hex(mac + '8100 0064'))).toBeUndefined();
  });

  it('accepts RAW only when the version nibble is 6', () => {
    expect(ipv6FromRecord(LinkType.RAW, IPV6_PACKET)).toBe(IPV6_PACKET);
    expect(ipv6FromRecord(LinkType.RAW, hex('45000014'))).toBeUndefined();
    expect(ipv6FromRecord(LinkType.RAW, new Uint8Array(0))).toBeUndefined();
  });

  it('strips a Linux cooked (SLL) header', () => {
    // packet type 0 (to us), ARPHRD_ETHER 1, address length 6, address padded to 8, protocol.
    const frame = hex('0000 0001 0006 020000000001 0000 86dd' + '60000000');
    expect(Array.from(ipv6FromRecord(LinkType.LINUX_SLL, frame)!)).toEqual([0x60, 0, 0, 0]);
    expect(ipv6FromRecord(LinkType.LINUX_SLL, hex('0000 0001 0006 020000000001 0000 0800 45'))).toBeUndefined();
    expect(ipv6FromRecord(LinkType.LINUX_SLL, hex('0000 0001 0006'))).toBeUndefined();
  });

  it('strips a Linux cooked v2 (SLL2) header', () => {
    // protocol, reserved, interface index 2, ARPHRD_ETHER, packet type 4 (outgoing), address length 6, address.
    const frame = hex('86dd 0000 00000002 0001 04 06 020000000001 0000' + '60000000');
    expect(Array.from(ipv6FromRecord(LinkType.LINUX_SLL2, frame)!)).toEqual([0x60, 0, 0, 0]);
    expect(ipv6FromRecord(LinkType.LINUX_SLL2, hex('0800 0000 00000002 0001 04 06 020000000001 0000 45'))).toBeUndefined();
    expect(ipv6FromRecord(LinkType.LINUX_SLL2, hex('86dd 0000'))).toBeUndefined();
  });

  it('returns IPV6 records as they are, and nothing for unknown link types', () => {
    expect(ipv6FromRecord(LinkType.IPV6, IPV6_PACKET)).toBe(IPV6_PACKET);
    expect(ipv6FromRecord(147, IPV6_PACKET)).toBeUndefined();
  });
});

describe('pcap files', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shim6-pcap-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips through writePcapFile and readPcapFile', async () => {
    const path = join(dir, 'roundtrip.pcap');
    await writePcapFile(path, [{ data: IPV6_PACKET, timestampSeconds: 42, timestampNanos: 1000 }], { linkType: LinkType.RAW });
    const file = expectOk(await readPcapFile(path));
    expect(file.linkType).toBe(LinkType.RAW);
    expect(file.records).toHaveLength(1);
    expect(file.records[0]).toMatchObject({ timestampSeconds: 42, timestampNanos: 1000, originalLength: 40 });
    expect(Array.from(file.records[0]!.data)).toEqual(Array.from(IPV6_PACKET));
  });

  it('streams records with PcapWriter, byte-identical to encodePcap', async () => {
    const path = join(dir, 'stream.pcap');
    const recs = [
      { data: IPV6_PACKET, timestampSeconds: 1 },
      { data: new Uint8Array(2000).fill(0x60), timestampSeconds: 2 },
      { data: hex('60'), timestampSeconds: 3, timestampNanos: 5 },
    ];
    const w = await PcapWriter.open(path, { nanosecond: true, snapLength: 1500 });
    // Not awaited one by one: order must still be kept.
    await Promise.all(recs.map((r) => w.write(r)));
    await w.close();
    await w.close();
    await expect(w.write(recs[0]!)).rejects.toThrow(/after close/);
    const onDisk = new Uint8Array(await readFile(path));
    expect(Array.from(onDisk)).toEqual(Array.from(encodePcap(recs, { nanosecond: true, snapLength: 1500 })));
  });

  it('reports a missing file as an io error', async () => {
    const r = await readPcapFile(join(dir, 'does-not-exist.pcap'));
    expect(r).toMatchObject({ ok: false, error: { reason: 'io', offset: 0 } });
  });

  it('reports a malformed file as a parse error', async () => {
    const path = join(dir, 'garbage.pcap');
    await writeFile(path, hex('00112233'));
    expect(await readPcapFile(path)).toMatchObject({ ok: false, error: { reason: 'truncated-header' } });
  });
});
