// The data plane's packet tap (DataPlane.setTap, for `shim6 pcap`) on in-memory devices:
// egress shows exactly the packets sent rewritten, as sent; ingress shows every datagram
// the Shim6 socket delivers with its IPv6 header rebuilt from the socket's addresses and
// ancillary data (RFC 8200 §3 fields), taken before the in-place restore; no tap, no
// change; a throwing tap does not stop traffic; and a capture of both ends read back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataPlane } from '../../src/dataplane/dataplane.js';
import type { FastPathContext } from '../../src/dataplane/types.js';
import { MemoryRawReceiver, MemoryRawSender, MemoryTun } from '../../src/io/memory.js';
import { PcapCapture } from '../../src/io/pcap-capture.js';
import { readPcapFile } from '../../src/io/pcap.js';
import { addr, rawView, tcp, udp } from './packets.js';

const A1 = addr('2001:db8:1:a::1');
const A2 = addr('2001:db8:2:a::1');
const B1 = addr('2001:db8:1:b::1');
const B2 = addr('2001:db8:2:b::1');
const TAG_A = 0x1234;
const TAG_B = 2 ** 47 - 2;

type Seen = { packet: Uint8Array; direction: 'sent' | 'received' };

function host(local: Uint8Array[], peer: Uint8Array[], localTag: number, peerTag: number, vnetHdr = false) {
  const tun = new MemoryTun({ vnetHdr });
  const sender = new MemoryRawSender();
  const shim = new MemoryRawReceiver(140);
  const dp = new DataPlane({ tun, sender, shim }, { batchSize: 8 });
  const ctx: FastPathContext = {
    name: 'peer', localUlid: local[0]!, peerUlid: peer[0]!, localLocators: local, peerLocators: peer,
    localContextTag: localTag, peerContextTag: peerTag, currentLocal: local[0]!, currentPeer: peer[0]!,
  };
  dp.addContext(ctx);
  const seen: Seen[] = [];
  // The view is reused after the call: keep a copy.
  const tap = (packet: Uint8Array, direction: 'sent' | 'received'): void => { seen.push({ packet: packet.slice(), direction }); };
  return { tun, sender, shim, dp, seen, tap };
}

function pair(vnetHdr = false) {
  return { a: host([A1, A2], [B1, B2], TAG_A, TAG_B, vnetHdr), b: host([B1, B2], [A1, A2], TAG_B, TAG_A) };
}

describe('DataPlane tap, egress', () => {
  it('shows the packets sent rewritten, as sent; not those that pass through or use the ULID pair', () => {
    const { a } = pair();
    a.dp.setTap(a.tap);
    const plain = udp(A1, B1, new Uint8Array(4)); // ULID pair as locators: sent unchanged
    a.tun.inject(plain);
    a.dp.pumpEgress();
    a.dp.setCurrentPair('peer', A2, B2);
    const other = udp(addr('2001:db8:1:a::99'), B1, new Uint8Array(4)); // no context: passed through
    const short = new Uint8Array(39).fill(0x60); // malformed: dropped
    const packets = [tcp(A1, B1, 1, new Uint8Array(100)), other, short, udp(A1, B1, new Uint8Array(7)), tcp(A1, B1, 101, new Uint8Array(10))];
    for (const p of packets) a.tun.inject(p);
    a.dp.pumpEgress();
    expect(a.sender.sent).toHaveLength(5); // plain, then 3 rewritten + other
    const rewritten = a.sender.sent.filter((s) => s[6] === 140);
    expect(rewritten).toHaveLength(3);
    expect(a.seen).toEqual(rewritten.map((packet) => ({ packet, direction: 'sent' })));
  });

  it('more packets than one batch: every rewritten one, in order', () => {
    const { a } = pair();
    a.dp.setCurrentPair('peer', A2, B2);
    a.dp.setTap(a.tap);
    for (let i = 0; i < 30; i++) a.tun.inject(i % 3 === 0 ? udp(addr('2001:db8::5'), B1, new Uint8Array([i])) : udp(A1, B1, new Uint8Array([i])));
    while (a.dp.pumpEgress() > 0);
    expect(a.seen.map((s) => s.packet)).toEqual(a.sender.sent.filter((s) => s[6] === 140));
    expect(a.seen).toHaveLength(20);
  });

  it('with offload (segmenting TUN path), the segments sent rewritten', () => {
    const { a } = pair(true);
    a.dp.setCurrentPair('peer', A2, B2);
    a.dp.setTap(a.tap);
    for (let i = 0; i < 3; i++) a.tun.inject(tcp(A1, B1, i * 50, new Uint8Array(50).fill(i)), new Uint8Array(10));
    a.dp.pumpEgress();
    expect(a.sender.sent).toHaveLength(3);
    expect(a.seen.map((s) => s.packet)).toEqual(a.sender.sent);
  });

  it('setTap(null) stops it; no tap changes nothing that is sent', () => {
    const { a } = pair();
    a.dp.setCurrentPair('peer', A2, B2);
    a.dp.setTap(a.tap);
    a.tun.inject(udp(A1, B1, new Uint8Array(1)));
    a.dp.pumpEgress();
    a.dp.setTap(null);
    a.tun.inject(udp(A1, B1, new Uint8Array(2)));
    a.dp.pumpEgress();
    expect(a.seen).toHaveLength(1);
    expect(a.sender.sent).toHaveLength(2);
  });

  it('a tap that throws: the packets still go out', () => {
    const { a } = pair();
    a.dp.setCurrentPair('peer', A2, B2);
    a.dp.setTap(() => { throw new Error('boom'); });
    for (let i = 0; i < 3; i++) a.tun.inject(udp(A1, B1, new Uint8Array([i])));
    expect(() => a.dp.pumpEgress()).not.toThrow();
    expect(a.sender.sent).toHaveLength(3);
  });
});

describe('DataPlane tap, ingress', () => {
  it('shows each datagram as the IPv6 packet that carried it, before the ULIDs are restored (property)', () => {
    fc.assert(fc.property(
      fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xfffff }), fc.integer({ min: 1, max: 255 }),
      (data, trafficClass, flowLabel, hopLimit) => {
        const { a, b } = pair();
        a.dp.setCurrentPair('peer', A2, B2);
        b.dp.setTap(b.tap);
        a.tun.inject(udp(A1, B1, data, { trafficClass, flowLabel, hopLimit }));
        a.dp.pumpEgress();
        const wire = a.sender.sent[0]!;
        b.shim.inject(rawView(wire));
        b.dp.pumpIngress();
        expect(b.seen).toEqual([{ packet: wire, direction: 'received' }]);
        expect(b.tun.written).toHaveLength(1); // and it was still delivered
      }), { numRuns: 200 });
  });

  it('shows control messages, unknown tags and malformed datagrams too; a truncated one (no data) is left out', () => {
    const { b } = pair();
    b.dp.setTap(b.tap);
    const control = new Uint8Array([59, 1, 0x04, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const unknown = new Uint8Array([17, 0, 0x80, 0, 0, 0, 0, 9, 1, 2]);
    const short = new Uint8Array(5);
    b.shim.inject({ data: control, src: A2, dst: B2, hopLimit: 255 });
    b.shim.inject({ data: unknown, src: A1, dst: B1, trafficClass: 0xb8, flowLabel: -1 });
    b.shim.inject({ data: short, src: A1, dst: B1 });
    b.shim.inject({ data: new Uint8Array(20000), src: A1, dst: B1 });
    b.dp.pumpIngress();
    expect(b.seen.map((s) => s.direction)).toEqual(['received', 'received', 'received']);
    const [c, u, s] = b.seen.map((x) => x.packet);
    expect([...c!.subarray(0, 8)]).toEqual([0x60, 0, 0, 0, 0, control.length, 140, 255]);
    expect(c!.subarray(8, 24)).toEqual(A2);
    expect(c!.subarray(24, 40)).toEqual(B2);
    expect(c!.subarray(40)).toEqual(control);
    // Traffic class 0xb8 across octets 0-1; a flow label the socket could not report is 0.
    expect([...u!.subarray(0, 8)]).toEqual([0x6b, 0x80, 0, 0, 0, unknown.length, 140, 64]);
    expect(u!.subarray(40)).toEqual(unknown);
    expect(s!.length).toBe(45);
  });

  it('a tap that throws: the datagrams are still processed', () => {
    const { a, b } = pair();
    a.dp.setCurrentPair('peer', A2, B2);
    b.dp.setTap(() => { throw new Error('boom'); });
    a.tun.inject(udp(A1, B1, new Uint8Array(3)));
    a.dp.pumpEgress();
    b.shim.inject(rawView(a.sender.sent[0]!));
    expect(() => b.dp.pumpIngress()).not.toThrow();
    expect(b.tun.written).toHaveLength(1);
  });
});

describe('DataPlane tap into a PcapCapture', () => {
  it('both directions, read back from the file, are the packets on the wire', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shim6-tap-'));
    try {
      const { a, b } = pair();
      a.dp.setCurrentPair('peer', A2, B2);
      const capture = new PcapCapture({ now: () => 1_700_000_000_000 });
      const path = join(dir, 'tap.pcap');
      await capture.start(path);
      const tap = (p: Uint8Array): void => capture.write(p);
      a.dp.setTap(tap);
      b.dp.setTap(tap);
      const packets = Array.from({ length: 5 }, (_, i) => tcp(A1, B1, i * 10, new Uint8Array(10).fill(i)));
      for (const p of packets) a.tun.inject(p);
      a.dp.pumpEgress();
      const wire = a.sender.sent.splice(0);
      for (const w of wire) b.shim.inject(rawView(w));
      b.dp.pumpIngress();
      expect(b.tun.written).toEqual(packets);
      expect(await capture.stop()).toMatchObject({ packets: 10, truncated: false });
      const f = await readPcapFile(path);
      if (!f.ok) throw new Error(f.error.message);
      expect(f.value.records.map((r) => new Uint8Array(r.data))).toEqual([...wire, ...wire]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
