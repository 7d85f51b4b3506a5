// The experimental flow-label mode (issue #8): egress writes the peer's label instead of
// inserting the Payload Extension header (RFC 5533 §11.1 deviation; RFC 6437 §2 for the
// field), and processFlowLabelIngress restores the ULIDs of what the intercept TUN
// delivers, handing everything that is not a context's, unchanged, to the local stack.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataPlane } from '../../src/dataplane/dataplane.js';
import { C, FastPathTable } from '../../src/dataplane/fastpath.js';
import { processFlowLabelIngress } from '../../src/dataplane/flow-label.js';
import { COUNTERS, type FastPathContext } from '../../src/dataplane/types.js';
import { PacketBatch, VNET_HDR_LEN } from '../../src/io/batch.js';
import { MemoryRawReceiver, MemoryRawSender, MemoryTun } from '../../src/io/memory.js';
import { addr, tcp, udp, upperChecksum, upperChecksumValid } from './packets.js';

const A1 = addr('2001:db8:1:a::1');
const A2 = addr('2001:db8:2:a::1');
const B1 = addr('2001:db8:1:b::1');
const B2 = addr('2001:db8:2:b::1');
const TAG_A = 0x1234;
const TAG_B = 2 ** 47 - 2;
const LABEL_A = 0x5a5a5; // allocated by A: B writes it
const LABEL_B = 0xfffff; // allocated by B: A writes it

function flowLabel(p: Uint8Array): number {
  return ((p[1]! & 0x0f) << 16) | (p[2]! << 8) | p[3]!;
}

function withLabel(p: Uint8Array, label: number): Uint8Array {
  const q = p.slice();
  q[1] = (q[1]! & 0xf0) | (label >>> 16);
  q[2] = (label >>> 8) & 0xff;
  q[3] = label & 0xff;
  return q;
}

/** What the sender's egress makes of `p` in flow-label mode, and the receiver's `fwd` then (hop limit - 1). */
function onTheWire(p: Uint8Array, src: Uint8Array, dst: Uint8Array, label: number, fwd = true): Uint8Array {
  const q = withLabel(p, label);
  q.set(src, 8);
  q.set(dst, 24);
  if (fwd) q[7] = q[7]! - 1;
  return q;
}

/** What the receiver's nftables `fwd` hands its intercept TUN: the packet, hop limit - 1. */
function fwd(p: Uint8Array): Uint8Array {
  const q = p.slice();
  q[7] = q[7]! - 1;
  return q;
}

interface HostOptions {
  readonly localFlowLabel?: number;
  readonly peerFlowLabel?: number;
  readonly vnetHdr?: boolean;
  readonly intercept?: boolean;
}

function host(local: Uint8Array[], peer: Uint8Array[], localTag: number, peerTag: number, o: HostOptions = {}) {
  const tun = new MemoryTun({ vnetHdr: o.vnetHdr ?? false });
  const sender = new MemoryRawSender();
  const shim = new MemoryRawReceiver(140);
  const intercept = new MemoryTun({ name: 'shim6i0' });
  const dp = new DataPlane(o.intercept === false ? { tun, sender, shim } : { tun, sender, shim, intercept }, { batchSize: 8 });
  const ctx: FastPathContext = {
    name: 'peer', localUlid: local[0]!, peerUlid: peer[0]!, localLocators: local, peerLocators: peer,
    localContextTag: localTag, peerContextTag: peerTag, currentLocal: local[0]!, currentPeer: peer[0]!,
    ...(o.localFlowLabel === undefined ? {} : { localFlowLabel: o.localFlowLabel }),
    ...(o.peerFlowLabel === undefined ? {} : { peerFlowLabel: o.peerFlowLabel }),
  };
  dp.addContext(ctx);
  const seen: { packet: Uint8Array; direction: 'sent' | 'received' }[] = [];
  const tap = (packet: Uint8Array, direction: 'sent' | 'received'): void => { seen.push({ packet: packet.slice(), direction }); };
  return { tun, sender, shim, intercept, dp, seen, tap };
}

function pair(bOptions: HostOptions = {}) {
  return {
    a: host([A1, A2], [B1, B2], TAG_A, TAG_B, { localFlowLabel: LABEL_A, peerFlowLabel: LABEL_B }),
    b: host([B1, B2], [A1, A2], TAG_B, TAG_A, { localFlowLabel: LABEL_B, peerFlowLabel: LABEL_A, ...bOptions }),
  };
}

describe('egress in flow-label mode', () => {
  it('writes the peer\'s label and the current pair, keeps traffic class, hop limit and length, inserts no header', () => {
    const { a } = pair();
    a.dp.setCurrentPair('peer', A2, B2);
    const p = tcp(A1, B1, 7, new Uint8Array(100).fill(9), { trafficClass: 0xb8, flowLabel: 0x12345, hopLimit: 33 });
    a.tun.inject(p);
    a.dp.pumpEgress();
    const [s] = a.sender.sent;
    expect(s!.length).toBe(p.length);
    expect(s![0]).toBe(p[0]); // version 6, traffic class high nibble
    expect(s![1]! >> 4).toBe(p[1]! >> 4); // traffic class low nibble
    expect(flowLabel(s!)).toBe(LABEL_B);
    expect([...s!.subarray(4, 8)]).toEqual([...p.subarray(4, 8)]); // Payload Length, Next Header = TCP, Hop Limit
    expect(s!.subarray(8, 24)).toEqual(A2);
    expect(s!.subarray(24, 40)).toEqual(B2);
    expect(s!.subarray(40)).toEqual(p.subarray(40));
    expect(a.dp.counters()).toMatchObject({ egressPackets: 1, egressRewritten: 1, egressFlowLabel: 1, egressBytes: p.length });
    expect(a.dp.context('peer')!.counters).toMatchObject({ egressRewritten: 1, egressFlowLabel: 1 });
  });

  it('rewrites one side only as well (local locator = ULID)', () => {
    const { a } = pair();
    a.dp.setCurrentPair('peer', A1, B2);
    const p = udp(A1, B1, new Uint8Array(5));
    a.tun.inject(p);
    a.dp.pumpEgress();
    expect(a.sender.sent[0]).toEqual(onTheWire(p, A1, B2, LABEL_B, false));
  });

  it('with peerFlowLabel 0 (or absent) still inserts the Payload Extension header', () => {
    for (const peerFlowLabel of [0, undefined]) {
      const a = host([A1, A2], [B1, B2], TAG_A, TAG_B, { localFlowLabel: LABEL_A, ...(peerFlowLabel === undefined ? {} : { peerFlowLabel }) });
      a.dp.setCurrentPair('peer', A2, B2);
      const p = udp(A1, B1, new Uint8Array(5), { flowLabel: 0x777 });
      a.tun.inject(p);
      a.dp.pumpEgress();
      const [s] = a.sender.sent;
      expect(s!.length).toBe(p.length + 8);
      expect(s![6]).toBe(140);
      expect(flowLabel(s!)).toBe(0x777);
      expect(a.dp.counters()).toMatchObject({ egressRewritten: 1, egressFlowLabel: 0 });
    }
  });

  it('leaves packets on the ULID pair untouched, with their own flow label', () => {
    const { a } = pair();
    const p = udp(A1, B1, new Uint8Array(5), { flowLabel: 0xabcde });
    a.tun.inject(p);
    a.dp.pumpEgress();
    expect(a.sender.sent).toEqual([p]);
    expect(a.dp.counters()).toMatchObject({ egressRewritten: 0, egressFlowLabel: 0 });
  });

  it('the tap sees packets sent in flow-label mode as sent', () => {
    const { a } = pair();
    a.dp.setCurrentPair('peer', A2, B2);
    a.dp.setTap(a.tap);
    a.tun.inject(udp(A1, B1, new Uint8Array(5)));
    a.dp.pumpEgress();
    expect(a.seen).toEqual([{ packet: a.sender.sent[0], direction: 'sent' }]);
  });
});

/** Three contexts on one host: c1 and c2 share local locator L2 (different labels), c3 reuses c1's label on disjoint locators. */
const L1 = addr('2001:db8:1:a::1');
const L2 = addr('2001:db8:2:a::1');
const L3 = addr('2001:db8:1:a::3');
const L4 = addr('2001:db8:3:a::3');
const L5 = addr('2001:db8:1:a::5');
const P1 = addr('2001:db8:1:b::1');
const P2 = addr('2001:db8:2:b::1');
const Q1 = addr('2001:db8:1:c::1');
const Q2 = addr('2001:db8:2:c::1');
const STRANGER = addr('2001:db8:66::1');
const LABEL_1 = 0x12345;
const LABEL_2 = 0x00001;

function contexts(): FastPathContext[] {
  const base = { localContextTag: 0, peerContextTag: 0 };
  return [
    { ...base, name: 'c1', localUlid: L1, peerUlid: P1, localLocators: [L1, L2], peerLocators: [P1, P2], currentLocal: L1, currentPeer: P1, localContextTag: 1, localFlowLabel: LABEL_1 },
    { ...base, name: 'c2', localUlid: L5, peerUlid: Q1, localLocators: [L5, L2], peerLocators: [Q1, Q2], currentLocal: L5, currentPeer: Q1, localContextTag: 2, localFlowLabel: LABEL_2 },
    { ...base, name: 'c3', localUlid: L3, peerUlid: Q1, localLocators: [L3, L4], peerLocators: [Q1, Q2], currentLocal: L3, currentPeer: Q1, localContextTag: 3, localFlowLabel: LABEL_1 },
    { ...base, name: 'c4', localUlid: L1, peerUlid: Q1, localLocators: [L1, L4], peerLocators: [Q1, Q2], currentLocal: L1, currentPeer: Q1, localContextTag: 4 },
  ];
}

function table(): FastPathTable {
  const t = new FastPathTable();
  for (const c of contexts()) t.add(c);
  return t;
}

function batchOf(packets: readonly Uint8Array[], slotSize = 2048): PacketBatch {
  const batch = new PacketBatch(Math.max(1, packets.length), slotSize, 64);
  packets.forEach((p, i) => {
    if (p.length > batch.maxPacket) {
      batch.lengths[i] = -1;
    } else {
      batch.buffer.set(p, batch.offsets[i]!);
      batch.lengths[i] = p.length;
    }
  });
  batch.count = packets.length;
  return batch;
}

function outputs(batch: PacketBatch): Uint8Array[] {
  return Array.from({ length: batch.count }, (_, i) => batch.buffer.slice(batch.offsets[i]!, batch.offsets[i]! + batch.lengths[i]!));
}

function run(packets: readonly Uint8Array[], t = table()) {
  const g = new Float64Array(COUNTERS.length);
  const batch = batchOf(packets);
  const n = processFlowLabelIngress(batch, t, g);
  expect(n).toBe(batch.count);
  const counters = Object.fromEntries(COUNTERS.map((name, i) => [name, g[i]!]));
  return { out: outputs(batch), g: counters, t };
}

/** The packet an application on P1 sent to L1, as the intercept TUN delivers it. */
function intercepted(o: { src?: Uint8Array; dst?: Uint8Array; label?: number; hopLimit?: number; trafficClass?: number } = {}): { original: Uint8Array; wire: Uint8Array } {
  const original = tcp(P1, L1, 99, new Uint8Array(200).map((_, i) => i), { trafficClass: o.trafficClass ?? 0x2e, hopLimit: (o.hopLimit ?? 63) + 1 });
  const wire = onTheWire(original, o.src ?? P2, o.dst ?? L2, o.label ?? LABEL_1, false);
  wire[7] = o.hopLimit ?? 63;
  return { original, wire };
}

describe('processFlowLabelIngress', () => {
  it('restores the ULIDs, zeroes the label, adds one to the hop limit, keeps traffic class, payload and checksum', () => {
    const { original, wire } = intercepted();
    const { out, g, t } = run([wire]);
    expect(out).toEqual([original]);
    expect(upperChecksumValid(out[0]!)).toBe(true);
    expect(flowLabel(out[0]!)).toBe(0);
    expect(out[0]![7]).toBe(64);
    expect(g).toMatchObject({ ingressPackets: 1, ingressBytes: wire.length, ingressFlowLabel: 1, interceptPassthrough: 0, dropMalformed: 0 });
    const e = t.entry(t.indexOf('c1'));
    expect(e.counters[C.ingressFlowLabel]).toBe(1);
    expect(e.counters[C.ingressPackets]).toBe(1);
    expect(e.counters[C.ingressBytes]).toBe(wire.length);
  });

  it('restores for the context that owns the label on the destination locator', () => {
    // L2 carries two labels: LABEL_1 is c1's, LABEL_2 is c2's; on L4, LABEL_1 is c3's.
    const fromQ = (dst: Uint8Array, label: number) => onTheWire(udp(Q1, L5, new Uint8Array(3)), Q2, dst, label, false);
    const { out, t } = run([fromQ(L2, LABEL_2), fromQ(L4, LABEL_1), fromQ(L2, LABEL_1)]);
    expect(out[0]!.subarray(8, 24)).toEqual(Q1);
    expect(out[0]!.subarray(24, 40)).toEqual(L5); // c2's ULIDs
    expect(out[1]!.subarray(24, 40)).toEqual(L3); // c3's
    expect(out[2]).toEqual(fromQ(L2, LABEL_1)); // c1's label, but Q2 is not one of c1's peers
    expect(t.entry(t.indexOf('c2')).counters[C.ingressFlowLabel]).toBe(1);
    expect(t.entry(t.indexOf('c3')).counters[C.ingressFlowLabel]).toBe(1);
  });

  it('a hop limit of 255 stays 255', () => {
    const { wire } = intercepted({ hopLimit: 255 });
    const { out } = run([wire]);
    expect(out[0]![7]).toBe(255);
    expect(out[0]!.subarray(8, 24)).toEqual(P1);
  });

  it('hands over unchanged, counted as passthrough: foreign source, unknown label, label 0, label on another locator, the ULID pair', () => {
    const foreign = intercepted({ src: STRANGER }).wire;
    const unknown = intercepted({ label: 0x54321 }).wire;
    const zero = intercepted({ label: 0 }).wire;
    const otherLocator = intercepted({ dst: L4 }).wire; // LABEL_1 on L4 is c3's, and P2 is not c3's peer
    const noLabelContext = onTheWire(udp(Q1, L1, new Uint8Array(3)), Q2, L4, 0x00002, false); // c4 allocated none
    const ulids = intercepted({ src: P1, dst: L1 }).wire; // c1's own ULID pair with c1's label: a native flow
    const packets = [foreign, unknown, zero, otherLocator, noLabelContext, ulids];
    const { out, g, t } = run(packets);
    expect(out).toEqual(packets);
    expect(g).toMatchObject({ interceptPassthrough: 6, ingressPackets: 0, ingressFlowLabel: 0, dropMalformed: 0 });
    for (const e of t.all()) expect(e.counters[C.interceptPassthrough]).toBe(0);
  });

  it('drops malformed packets, trims octets past Payload Length, and keeps order', () => {
    const good = intercepted();
    const pass = intercepted({ label: 0 }).wire;
    const short = good.wire.subarray(0, 39);
    const v4 = good.wire.slice();
    v4[0] = 0x45;
    const lying = good.wire.slice();
    lying[5] = lying[5]! + 1; // Payload Length one past the end
    const padded = new Uint8Array(good.wire.length + 5);
    padded.set(good.wire);
    const paddedPass = new Uint8Array(pass.length + 3).fill(0xee);
    paddedPass.set(pass);
    const { out, g } = run([short, good.wire, v4, new Uint8Array(0), lying, padded, paddedPass, new Uint8Array(4000)]);
    expect(out).toEqual([good.original, good.original, pass]);
    expect(g).toMatchObject({ dropMalformed: 5, ingressFlowLabel: 2, interceptPassthrough: 1 });
  });

  it('never throws; every packet is dropped as malformed, restored for the right context or handed over byte for byte (seeded property)', () => {
    const t = table();
    const ctxs = contexts();
    const addrs = [L1, L2, L3, L4, L5, P1, P2, Q1, Q2, STRANGER];
    const labels = [0, LABEL_1, LABEL_2, 0x00002, 0xfffff];
    /** Reference model: a linear search, written independently of the index. */
    const expected = (p: Uint8Array): { dropped: true } | { dropped: false; packet: Uint8Array; context: string | undefined } => {
      if (p.length < 40 || p[0]! >> 4 !== 6) return { dropped: true };
      const pl = (p[4]! << 8) | p[5]!;
      if (40 + pl > p.length) return { dropped: true };
      const q = p.slice(0, 40 + pl);
      const label = flowLabel(q);
      const has = (set: readonly Uint8Array[], at: number) => set.some((x) => x.every((v, k) => v === q[at + k]));
      const c = ctxs.find((x) => label !== 0 && x.localFlowLabel === label && has(x.localLocators, 24) && has(x.peerLocators, 8) &&
        !(has([x.peerUlid], 8) && has([x.localUlid], 24)));
      if (c === undefined) return { dropped: false, packet: q, context: undefined };
      q.set(c.peerUlid, 8);
      q.set(c.localUlid, 24);
      q[1] = q[1]! & 0xf0;
      q[2] = 0;
      q[3] = 0;
      if (q[7]! < 255) q[7] = q[7]! + 1;
      return { dropped: false, packet: q, context: c.name };
    };
    const valid = fc.record({
      src: fc.constantFrom(...addrs), dst: fc.constantFrom(...addrs), label: fc.oneof(fc.constantFrom(...labels), fc.integer({ min: 0, max: 0xfffff })),
      hopLimit: fc.integer({ min: 0, max: 255 }), trafficClass: fc.integer({ min: 0, max: 255 }), data: fc.uint8Array({ maxLength: 300 }), isTcp: fc.boolean(),
    }).map((r) => {
      const o = { hopLimit: r.hopLimit, trafficClass: r.trafficClass, flowLabel: r.label };
      return r.isTcp ? tcp(r.src, r.dst, 1, r.data, o) : udp(r.src, r.dst, r.data, o);
    });
    const mutated = fc.tuple(valid, fc.array(fc.tuple(fc.nat(60), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.integer({ min: -50, max: 50 }))
      .map(([p, edits, resize]) => {
        const q = new Uint8Array(Math.max(0, p.length + resize));
        q.set(p.subarray(0, q.length));
        for (const [i, v] of edits) if (i < q.length) q[i] = v;
        return q;
      });
    const packet = fc.oneof(valid, mutated, fc.uint8Array({ maxLength: 120 }), fc.uint8Array({ minLength: 40, maxLength: 80 }).map((p) => { p[0] = 0x60 | (p[0]! & 0x0f); return p; }));
    let seen = 0;
    fc.assert(fc.property(fc.array(packet, { maxLength: 16 }), (packets) => {
      const before = t.all().map((e) => e.counters[C.ingressFlowLabel]!);
      const g = new Float64Array(COUNTERS.length);
      const batch = batchOf(packets);
      expect(() => processFlowLabelIngress(batch, t, g)).not.toThrow();
      const out = outputs(batch);
      const want = packets.map(expected).filter((x) => !x.dropped);
      expect(out.length).toBe(want.length);
      const perContext = new Map<string, number>();
      let restoredBytes = 0;
      out.forEach((o, k) => {
        const w = want[k]!;
        if (w.dropped) throw new Error('unreachable');
        expect(o).toEqual(w.packet);
        if (w.context !== undefined) {
          perContext.set(w.context, (perContext.get(w.context) ?? 0) + 1);
          restoredBytes += o.length;
        }
      });
      const restored = [...perContext.values()].reduce((a, b) => a + b, 0);
      expect(g[C.dropMalformed]! + g[C.ingressFlowLabel]! + g[C.interceptPassthrough]!).toBe(packets.length);
      expect(g[C.dropMalformed]).toBe(packets.length - out.length);
      expect(g[C.ingressFlowLabel]).toBe(restored);
      expect(g[C.ingressPackets]).toBe(restored);
      expect(g[C.ingressBytes]).toBe(restoredBytes);
      t.all().forEach((e, k) => expect(e.counters[C.ingressFlowLabel]! - before[k]!).toBe(perContext.get(e.name) ?? 0));
      seen += packets.length;
    }), { seed: 0x5eed6, numRuns: 3000 });
    expect(seen).toBeGreaterThan(10000);
  });
});

describe('DataPlane with an intercept TUN', () => {
  it('a rewritten packet from one side\'s egress, fed to the other side\'s intercept TUN, comes out of its TUN restored', () => {
    const { a, b } = pair();
    a.dp.setCurrentPair('peer', A2, B2);
    const p = tcp(A1, B1, 1000, new Uint8Array(1500 - 60).map((_, i) => (i * 7) & 0xff));
    expect(p.length).toBe(1500);
    a.tun.inject(p);
    a.dp.pumpEgress();
    const [wire] = a.sender.sent;
    expect(wire!.length).toBe(1500); // no octet added on the wire
    b.intercept.inject(fwd(wire!));
    expect(b.dp.pumpIntercept()).toBe(1);
    expect(b.tun.written).toEqual([p]);
    expect(upperChecksumValid(b.tun.written[0]!)).toBe(true);
    expect(b.dp.counters()).toMatchObject({ ingressPackets: 1, ingressBytes: 1500, ingressFlowLabel: 1, interceptPassthrough: 0 });
    expect(b.dp.context('peer')!.counters).toMatchObject({ ingressPackets: 1, ingressFlowLabel: 1 });
  });

  it('the application\'s own flow label is not carried across: delivered with label 0 (property)', () => {
    fc.assert(fc.property(
      fc.uint8Array({ maxLength: 1400 }), fc.boolean(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xfffff }),
      fc.integer({ min: 1, max: 255 }), fc.constantFrom([A1, B2], [A2, B1], [A2, B2]),
      (data, isTcp, trafficClass, label, hopLimit, [la, pb]) => {
        const { a, b } = pair();
        a.dp.setCurrentPair('peer', la!, pb!);
        const o = { trafficClass, flowLabel: label, hopLimit };
        const p = isTcp ? tcp(A1, B1, 1, data, o) : udp(A1, B1, data, o);
        a.tun.inject(p);
        a.dp.pumpEgress();
        b.intercept.inject(fwd(a.sender.sent[0]!));
        b.dp.pumpIntercept();
        expect(b.tun.written).toEqual([withLabel(p, 0)]);
      }), { numRuns: 200 });
  });

  it('hands intercepted packets of no context to the local stack unchanged, in order with the restored ones', () => {
    const { a, b } = pair();
    a.dp.setCurrentPair('peer', A2, B2);
    const p = udp(A1, B1, new Uint8Array(20));
    a.tun.inject(p);
    a.dp.pumpEgress();
    const wire = a.sender.sent[0]!;
    const native = udp(A1, B1, new Uint8Array(9), { flowLabel: LABEL_B }); // on the ULID pair, the label by chance
    const foreign = onTheWire(p, addr('2001:db8:66::1'), B2, LABEL_B, false); // not a peer locator
    const otherLabel = udp(A2, B2, new Uint8Array(9), { flowLabel: 0x10101 });
    for (const x of [native, fwd(wire), foreign, otherLabel]) b.intercept.inject(x);
    b.dp.pumpIntercept();
    expect(b.tun.written).toEqual([native, withLabel(p, 0), foreign, otherLabel]);
    expect(b.dp.counters()).toMatchObject({ ingressFlowLabel: 1, interceptPassthrough: 3, ingressPackets: 1 });
  });

  it('a packet between the context\'s locators with the allocated label is taken for the context\'s (the label is the only mark)', () => {
    const { b } = pair();
    const lookalike = udp(A2, B2, new Uint8Array(9), { flowLabel: LABEL_B });
    b.intercept.inject(lookalike);
    b.dp.pumpIntercept();
    const [out] = b.tun.written;
    expect(out!.subarray(8, 24)).toEqual(A1);
    expect(out!.subarray(24, 40)).toEqual(B1);
    expect(b.dp.counters().ingressFlowLabel).toBe(1);
  });

  it('reads at most maxBatchesPerWake batches per call, and everything over several calls', () => {
    const { a, b } = pair();
    a.dp.setCurrentPair('peer', A2, B2);
    const packets = Array.from({ length: 100 }, (_, i) => udp(A1, B1, new Uint8Array([i])));
    for (const p of packets) a.tun.inject(p);
    while (a.dp.pumpEgress() > 0);
    for (const w of a.sender.sent) b.intercept.inject(fwd(w));
    expect(b.dp.pumpIntercept()).toBe(64); // 8 batches of 8
    while (b.dp.pumpIntercept() > 0);
    expect(b.tun.written).toEqual(packets);
  });

  it('shows intercepted packets to the tap as received, before the restore', () => {
    const { a, b } = pair();
    a.dp.setCurrentPair('peer', A2, B2);
    b.dp.setTap(b.tap);
    for (let i = 0; i < 3; i++) a.tun.inject(udp(A1, B1, new Uint8Array([i])));
    a.dp.pumpEgress();
    const junk = new Uint8Array(10).fill(0x60);
    for (const w of a.sender.sent) b.intercept.inject(w);
    b.intercept.inject(junk);
    b.dp.pumpIntercept();
    expect(b.seen).toEqual([...a.sender.sent, junk].map((packet) => ({ packet, direction: 'received' })));
    expect(b.tun.written).toHaveLength(3);
    b.dp.setTap(() => { throw new Error('boom'); });
    b.intercept.inject(a.sender.sent[0]!);
    expect(() => b.dp.pumpIntercept()).not.toThrow();
    expect(b.tun.written).toHaveLength(4);
  });

  it('with offload, merges restored TCP segments of a flow into one super-packet for the TUN', () => {
    const { a, b } = pair({ vnetHdr: true });
    a.dp.setCurrentPair('peer', A2, B2);
    const ack = (seq: number, data: Uint8Array): Uint8Array => {
      const p = tcp(A1, B1, seq, data);
      p[53] = 0x10; // ACK only: PSH ends a run
      p[56] = 0;
      p[57] = 0;
      const sum = upperChecksum(A1, B1, 6, p.subarray(40));
      p[56] = sum >> 8;
      p[57] = sum & 0xff;
      return p;
    };
    const segments = [0, 1, 2].map((k) => ack(1000 + k * 100, new Uint8Array(100).fill(k)));
    for (const s of segments) a.tun.inject(s);
    a.dp.pumpEgress();
    for (const w of a.sender.sent) b.intercept.inject(fwd(w));
    b.dp.pumpIntercept();
    expect(b.tun.written).toHaveLength(1);
    const merged = b.tun.written[0]!;
    expect(merged.length).toBe(40 + 20 + 300);
    expect(merged.subarray(8, 24)).toEqual(A1);
    expect(merged.subarray(24, 40)).toEqual(B1);
    expect(merged.subarray(60)).toEqual(new Uint8Array([...segments[0]!.subarray(60), ...segments[1]!.subarray(60), ...segments[2]!.subarray(60)]));
    expect(b.tun.writtenVnet[0]!.length).toBe(VNET_HDR_LEN);
    expect(b.dp.counters().ingressFlowLabel).toBe(3);
  });

  it('moves packets when the intercept TUN becomes readable, and stops', async () => {
    const { a, b } = pair();
    a.dp.setCurrentPair('peer', A2, B2);
    const p = udp(A1, B1, new Uint8Array(8));
    a.tun.inject(p);
    a.dp.pumpEgress();
    b.dp.start();
    b.intercept.inject(fwd(a.sender.sent[0]!));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(b.tun.written).toEqual([p]);
    b.dp.stop();
    b.intercept.inject(a.sender.sent[0]!);
    await new Promise((r) => setImmediate(r));
    expect(b.tun.written).toHaveLength(1);
    expect(b.intercept.pending).toBe(1);
  });

  it('without an intercept TUN, pumpIntercept reads nothing; an intercept TUN with a vnet header is refused', () => {
    const a = host([A1, A2], [B1, B2], TAG_A, TAG_B, { intercept: false });
    expect(a.dp.pumpIntercept()).toBe(0);
    expect(() => new DataPlane({ tun: new MemoryTun(), sender: new MemoryRawSender(), shim: new MemoryRawReceiver(140), intercept: new MemoryTun({ vnetHdr: true }) }))
      .toThrow(RangeError);
  });

  it('snapshots carry both labels, 0 when none', () => {
    const { a } = pair();
    expect(a.dp.context('peer')).toMatchObject({ localFlowLabel: LABEL_A, peerFlowLabel: LABEL_B });
    const plain = host([A1, A2], [B1, B2], TAG_A, TAG_B);
    expect(plain.dp.contexts()[0]).toMatchObject({ localFlowLabel: 0, peerFlowLabel: 0 });
  });
});
