// RetransmitDetector (src/dataplane/retransmit.ts): TCP retransmissions as REAP's
// upper-layer hint (RFC 5534 §3.3), sequence arithmetic per RFC 9293 §3.4.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_CAPACITY, RetransmitDetector, RetransmitVerdict, TCP_FIN, TCP_RST, TCP_SYN } from '../../src/dataplane/retransmit.js';
import { SeededRandom } from '../../src/sim/random.js';
import { insertPayloadHeader } from '../../src/wire/payload.js';
import { addr, ipv6, tcp, udp } from './packets.js';

const { NotTcp, New, Retransmit, Ignored } = RetransmitVerdict;
const ACK = 0x10;
const PSH = 0x08;

const A = addr('2001:db8:1::a');
const B = addr('2001:db8:2::b');

interface Seg {
  readonly src?: Uint8Array;
  readonly dst?: Uint8Array;
  readonly sport?: number;
  readonly dport?: number;
  readonly seq: number;
  /** Payload octets (their content does not matter). */
  readonly len?: number;
  readonly flags?: number;
  /** Options octets, a multiple of 4 (Data Offset grows with them). */
  readonly options?: number;
}

/** The TCP header and payload of a segment; the checksum is left 0 (the detector does not read it). */
function tcpBytes(s: Seg): Uint8Array {
  const opt = s.options ?? 0;
  const t = new Uint8Array(20 + opt + (s.len ?? 0));
  const v = new DataView(t.buffer);
  v.setUint16(0, s.sport ?? 40001);
  v.setUint16(2, s.dport ?? 80);
  v.setUint32(4, s.seq >>> 0);
  v.setUint32(8, 1);
  t[12] = ((20 + opt) / 4) << 4;
  t[13] = s.flags ?? (ACK | PSH);
  v.setUint16(14, 65535);
  for (let i = 20; i < 20 + opt; i++) t[i] = 1; // NOP options
  return t;
}

/** An IPv6 packet carrying segment `s`, no extension headers. */
function seg(s: Seg): Uint8Array {
  return ipv6(s.src ?? A, s.dst ?? B, 6, tcpBytes(s));
}

/** A generic extension header (Next Header, Hdr Ext Len, PadN) of `units` 8-octet units. */
function extHeader(nh: number, units = 1): Uint8Array {
  const h = new Uint8Array(units * 8);
  h[0] = nh;
  h[1] = units - 1;
  h[2] = 1; // PadN
  h[3] = units * 8 - 4;
  return h;
}

/** A Shim6 Payload Extension header (RFC 5533 §5.2): Next Header, 0, P = 1, 47-bit tag. */
function shim6Payload(nh: number, tag: number): Uint8Array {
  const h = new Uint8Array(8);
  h[0] = nh;
  h[1] = 0;
  const hi = Math.floor(tag / 2 ** 32);
  h[2] = 0x80 | (hi >>> 8);
  h[3] = hi & 0xff;
  new DataView(h.buffer).setUint32(4, tag >>> 0);
  return h;
}

/** An IPv6 packet with `chain` (protocol, header) in front of segment `s`; each header's own Next Header is set here. */
function withChain(chain: readonly (readonly [number, Uint8Array])[], s: Seg): Uint8Array {
  const upper = tcpBytes(s);
  const total = chain.reduce((n, [, h]) => n + h.length, 0) + upper.length;
  const payload = new Uint8Array(total);
  let o = 0;
  chain.forEach(([, h], i) => {
    payload.set(h, o);
    payload[o] = i + 1 < chain.length ? chain[i + 1]![0] : 6;
    o += h.length;
  });
  payload.set(upper, o);
  return ipv6(s.src ?? A, s.dst ?? B, chain.length > 0 ? chain[0]![0] : 6, payload);
}

function observe(d: RetransmitDetector, p: Uint8Array): RetransmitVerdict {
  return d.observeEgress(p, 0, p.length);
}

describe('RetransmitDetector: sequence space', () => {
  it('reports a new flow and in-order segments as New, a re-sent segment as Retransmit', () => {
    const d = new RetransmitDetector();
    expect(observe(d, seg({ seq: 1000, len: 100 }))).toBe(New);
    expect(d.size).toBe(1);
    expect(observe(d, seg({ seq: 1100, len: 100 }))).toBe(New);
    expect(observe(d, seg({ seq: 1200, len: 1 }))).toBe(New);
    expect(observe(d, seg({ seq: 1000, len: 100 }))).toBe(Retransmit);
    expect(observe(d, seg({ seq: 1100, len: 101 }))).toBe(Retransmit); // ends exactly at the highest end
    expect(observe(d, seg({ seq: 1150, len: 10 }))).toBe(Retransmit); // a piece from the middle
    expect(observe(d, seg({ seq: 1201, len: 10 }))).toBe(New);
    expect(d.size).toBe(1);
  });

  it('uses the repository packet builder too (PSH|ACK with data)', () => {
    const d = new RetransmitDetector();
    const data = new Uint8Array(64);
    expect(observe(d, tcp(A, B, 7, data))).toBe(New);
    expect(observe(d, tcp(A, B, 7, data))).toBe(Retransmit);
    expect(observe(d, tcp(A, B, 71, data))).toBe(New);
  });

  it('counts a segment that re-sends old octets and adds new ones as New', () => {
    const d = new RetransmitDetector();
    expect(observe(d, seg({ seq: 0, len: 500 }))).toBe(New);
    expect(observe(d, seg({ seq: 400, len: 200 }))).toBe(New); // 400..600 over a highest end of 500
    expect(observe(d, seg({ seq: 0, len: 600 }))).toBe(Retransmit);
    expect(observe(d, seg({ seq: 0, len: 601 }))).toBe(New);
  });

  it('ignores pure ACKs and RSTs and keeps no state for them', () => {
    const d = new RetransmitDetector();
    expect(observe(d, seg({ seq: 5, flags: ACK }))).toBe(Ignored);
    expect(observe(d, seg({ seq: 5, flags: ACK, options: 12 }))).toBe(Ignored); // timestamps, SACK: still no data
    expect(observe(d, seg({ seq: 5, flags: TCP_RST }))).toBe(Ignored);
    expect(observe(d, seg({ seq: 5, flags: TCP_RST | ACK, len: 10 }))).toBe(Ignored); // RST with data
    expect(d.size).toBe(0);
    expect(observe(d, seg({ seq: 5, len: 10 }))).toBe(New);
    expect(observe(d, seg({ seq: 15, flags: ACK }))).toBe(Ignored);
    expect(observe(d, seg({ seq: 5, flags: TCP_RST }))).toBe(Ignored); // an RST does not end the flow's record
    expect(observe(d, seg({ seq: 5, len: 10 }))).toBe(Retransmit);
  });

  it('counts SYN and FIN as one sequence number each (RFC 9293 §3.4)', () => {
    const d = new RetransmitDetector();
    expect(observe(d, seg({ seq: 999, flags: TCP_SYN }))).toBe(New); // ends at 1000
    expect(observe(d, seg({ seq: 1000, flags: ACK }))).toBe(Ignored);
    expect(observe(d, seg({ seq: 1000, len: 10 }))).toBe(New);
    expect(observe(d, seg({ seq: 1010, flags: TCP_FIN | ACK }))).toBe(New); // ends at 1011
    expect(observe(d, seg({ seq: 1010, flags: TCP_FIN | ACK }))).toBe(Retransmit);
    expect(observe(d, seg({ seq: 1010, len: 1 }))).toBe(Retransmit); // the octet the FIN took
    expect(observe(d, seg({ seq: 1011, flags: ACK }))).toBe(Ignored);

    const e = new RetransmitDetector();
    expect(observe(e, seg({ seq: 1000, len: 10, flags: TCP_FIN | ACK }))).toBe(New); // data + FIN: ends at 1011
    expect(observe(e, seg({ seq: 1000, len: 11 }))).toBe(Retransmit);
    expect(observe(e, seg({ seq: 1000, len: 12 }))).toBe(New);
  });

  it('reports a re-sent SYN (same ISN) as Retransmit, and resets the flow on a SYN with a new ISN', () => {
    const d = new RetransmitDetector();
    expect(observe(d, seg({ seq: 5000, flags: TCP_SYN }))).toBe(New);
    expect(observe(d, seg({ seq: 5000, flags: TCP_SYN }))).toBe(Retransmit); // the handshake is not getting through
    expect(observe(d, seg({ seq: 5001, len: 100 }))).toBe(New);
    expect(observe(d, seg({ seq: 5000, flags: TCP_SYN }))).toBe(Retransmit);
    // A new connection on the same ports starts below the old highest end: New, then tracked afresh.
    expect(observe(d, seg({ seq: 10, flags: TCP_SYN }))).toBe(New);
    expect(observe(d, seg({ seq: 11, len: 50 }))).toBe(New);
    expect(observe(d, seg({ seq: 11, len: 50 }))).toBe(Retransmit);
    expect(observe(d, seg({ seq: 5001, len: 100 }))).toBe(New); // far ahead of the new connection's end
    expect(d.size).toBe(1);

    // A SYN-ACK (the server's egress) and a SYN with data (TCP Fast Open).
    const s = new RetransmitDetector();
    expect(observe(s, seg({ seq: 77, flags: TCP_SYN | ACK }))).toBe(New);
    expect(observe(s, seg({ seq: 77, flags: TCP_SYN | ACK }))).toBe(Retransmit);
    const f = new RetransmitDetector();
    expect(observe(f, seg({ seq: 1, flags: TCP_SYN, len: 20 }))).toBe(New); // ends at 22
    expect(observe(f, seg({ seq: 2, len: 20 }))).toBe(Retransmit);
    expect(observe(f, seg({ seq: 1, flags: TCP_SYN }))).toBe(Retransmit);

    // A SYN on a flow first seen mid-stream resets it whatever its sequence number.
    const m = new RetransmitDetector();
    expect(observe(m, seg({ seq: 100, len: 100 }))).toBe(New);
    expect(observe(m, seg({ seq: 100, flags: TCP_SYN }))).toBe(New);
    expect(observe(m, seg({ seq: 100, flags: TCP_SYN }))).toBe(Retransmit);
  });

  it('compares modulo 2^32 across the wrap', () => {
    const d = new RetransmitDetector();
    expect(observe(d, seg({ seq: 0xffff_ff00, len: 0x80 }))).toBe(New); // ends at 2^32 - 0x80
    expect(observe(d, seg({ seq: 0xffff_ff80, len: 0x100 }))).toBe(New); // ends at 0x80, past the wrap
    expect(observe(d, seg({ seq: 0xffff_ff80, len: 0x100 }))).toBe(Retransmit);
    expect(observe(d, seg({ seq: 0xffff_fff0, len: 0x10 }))).toBe(Retransmit); // ends at 0, just below 0x80
    expect(observe(d, seg({ seq: 0xffff_ff00, len: 0x80 }))).toBe(Retransmit);
    expect(observe(d, seg({ seq: 0, len: 0x80 }))).toBe(Retransmit);
    expect(observe(d, seg({ seq: 0x7f, len: 2 }))).toBe(New); // ends at 0x81

    const e = new RetransmitDetector();
    expect(observe(e, seg({ seq: 0xffff_fffe, len: 2 }))).toBe(New); // ends exactly at 0
    expect(observe(e, seg({ seq: 0xffff_fffe, len: 2 }))).toBe(Retransmit);
    expect(observe(e, seg({ seq: 0xffff_ffff, flags: TCP_FIN | ACK }))).toBe(Retransmit); // also ends at 0
    expect(observe(e, seg({ seq: 0, flags: TCP_FIN | ACK }))).toBe(New);
  });

  it.each([4096, 8])('keeps flows apart by address and port in both directions (capacity %i)', (capacity) => {
    // With 8 slots every lookup probes past the other flows: only the full key tells them apart.
    const d = new RetransmitDetector(capacity);
    expect(observe(d, seg({ sport: 1000, seq: 100, len: 10 }))).toBe(New);
    expect(observe(d, seg({ sport: 1001, seq: 100, len: 10 }))).toBe(New);
    expect(observe(d, seg({ sport: 1000, dport: 81, seq: 100, len: 10 }))).toBe(New);
    expect(observe(d, seg({ sport: 80, dport: 1000, seq: 100, len: 10, src: B, dst: A }))).toBe(New); // the reverse direction
    expect(observe(d, seg({ sport: 1000, seq: 100, len: 10, src: addr('2001:db8:1::a:1') }))).toBe(New);
    expect(observe(d, seg({ sport: 1000, seq: 100, len: 10, dst: addr('2001:db8:2::b:1') }))).toBe(New);
    expect(d.size).toBe(6);
    expect(observe(d, seg({ sport: 1000, seq: 100, len: 10 }))).toBe(Retransmit);
    expect(observe(d, seg({ sport: 1001, seq: 110, len: 10 }))).toBe(New);
    expect(observe(d, seg({ sport: 1000, seq: 100, len: 10 }))).toBe(Retransmit);
    expect(observe(d, seg({ sport: 1000, dport: 81, seq: 100, len: 10 }))).toBe(Retransmit);
  });
});

describe('RetransmitDetector: parsing', () => {
  it('walks Hop-by-Hop, Routing and Destination Options headers to TCP', () => {
    const d = new RetransmitDetector();
    const p = withChain([[0, extHeader(0)], [43, extHeader(0, 3)], [60, extHeader(0, 2)]], { seq: 1, len: 10 });
    expect(observe(d, p)).toBe(New);
    expect(observe(d, p)).toBe(Retransmit);
    expect(observe(d, seg({ seq: 1, len: 10 }))).toBe(Retransmit); // the same flow without the headers
    expect(observe(d, withChain([[60, extHeader(0)]], { seq: 11, flags: ACK }))).toBe(Ignored);
  });

  it('walks a Shim6 Payload Extension header (next header 140), alone and among other headers', () => {
    const d = new RetransmitDetector();
    expect(observe(d, withChain([[140, shim6Payload(0, 0x7abc_1234_5678)]], { seq: 1, len: 10 }))).toBe(New);
    expect(observe(d, withChain([[0, extHeader(0)], [140, shim6Payload(0, 1)], [60, extHeader(0)]], { seq: 1, len: 10 }))).toBe(Retransmit);

    // What the egress path builds: insertPayloadHeader (src/wire/payload.ts) into headroom.
    const plain = withChain([[0, extHeader(0)]], { seq: 11, len: 5 });
    const buf = new Uint8Array(8 + plain.length);
    buf.set(plain, 8);
    const start = insertPayloadHeader(buf, 8, plain.length, 2 ** 47 - 1);
    expect(start).toBe(0);
    expect(buf[40]).toBe(140); // the Hop-by-Hop header now names the Shim6 header
    expect(d.observeEgress(buf, start, buf.length)).toBe(New);
    expect(d.observeEgress(buf, start, buf.length)).toBe(Retransmit);

    // A Shim6 control message (P = 0) carries no TCP, even with Next Header 6.
    const control = shim6Payload(6, 5);
    control[2] = 0;
    expect(observe(d, withChain([[140, control]], { seq: 100, len: 10 }))).toBe(NotTcp);
  });

  it('reads TCP at a non-zero offset and ignores octets past Payload Length', () => {
    const d = new RetransmitDetector();
    const p = seg({ seq: 1, len: 10, options: 12 });
    const buf = new Uint8Array(p.length + 50).fill(0xa5);
    buf.set(p, 17);
    expect(d.observeEgress(buf, 17, p.length + 33)).toBe(New); // 33 trailing octets are not payload
    expect(observe(d, seg({ seq: 1, len: 10 }))).toBe(Retransmit); // same end: 11
  });

  it('reports fragments, other protocols and malformed headers as NotTcp', () => {
    const d = new RetransmitDetector();
    const frag = (offset: number, more: boolean): Uint8Array => {
      const h = new Uint8Array(8);
      h[2] = offset >>> 5;
      h[3] = ((offset & 0x1f) << 3) | (more ? 1 : 0);
      h[4] = 0x12;
      return h;
    };
    expect(observe(d, withChain([[44, frag(0, true)]], { seq: 1, len: 100 }))).toBe(NotTcp); // first fragment
    expect(observe(d, withChain([[44, frag(0, false)]], { seq: 1, len: 100 }))).toBe(NotTcp); // atomic fragment
    expect(observe(d, withChain([[44, frag(185, false)]], { seq: 1, len: 100 }))).toBe(NotTcp);
    expect(observe(d, udp(A, B, new Uint8Array(20)))).toBe(NotTcp);
    expect(observe(d, withChain([[51, extHeader(0)]], { seq: 1, len: 10 }))).toBe(NotTcp); // AH: not walked
    expect(observe(d, ipv6(A, B, 59, new Uint8Array(0)))).toBe(NotTcp);

    const v4 = seg({ seq: 1, len: 10 });
    v4[0] = 0x45;
    expect(observe(d, v4)).toBe(NotTcp);
    for (const doff of [0, 4]) {
      const p = seg({ seq: 1, len: 10 });
      p[40 + 12] = doff << 4;
      expect(observe(d, p)).toBe(NotTcp); // Data Offset below 5
    }
    const longOptions = seg({ seq: 1 });
    longOptions[40 + 12] = 6 << 4; // 24-octet header in a 20-octet segment
    expect(observe(d, longOptions)).toBe(NotTcp);
    const longExt = withChain([[60, extHeader(0)]], { seq: 1 });
    longExt[41] = 5; // 48 octets claimed
    expect(observe(d, longExt)).toBe(NotTcp);
    // A chain of 65 Destination Options headers is more than the walk follows.
    expect(observe(d, withChain(Array.from({ length: 65 }, () => [60, extHeader(0)] as const), { seq: 1, len: 1 }))).toBe(NotTcp);
    expect(observe(d, withChain(Array.from({ length: 64 }, () => [60, extHeader(0)] as const), { seq: 1, len: 1 }))).toBe(New);
    expect(d.size).toBe(1);
  });

  it('reports every truncation of a valid packet as NotTcp', () => {
    const packets = [
      seg({ seq: 1, len: 30, options: 8 }),
      withChain([[0, extHeader(0)], [140, shim6Payload(0, 9)], [60, extHeader(0, 2)]], { seq: 1, len: 30 }),
    ];
    for (const p of packets) {
      const d = new RetransmitDetector();
      const headers = p.length - 30;
      for (let n = 0; n < p.length; n++) {
        expect(d.observeEgress(p, 0, n)).toBe(NotTcp);
        // With Payload Length cut to match, only a cut inside the TCP payload leaves a segment
        // (a longer one each time, so New).
        const q = p.slice(0, n);
        if (n >= 40) {
          q[4] = (n - 40) >>> 8;
          q[5] = (n - 40) & 0xff;
        }
        expect(observe(d, q)).toBe(n < headers ? NotTcp : n === headers ? Ignored : New);
      }
      expect(d.size).toBe(1);
    }
  });

  it('rejects ranges outside the buffer and odd offsets without throwing', () => {
    const d = new RetransmitDetector();
    const p = seg({ seq: 1, len: 10 });
    for (const [off, len] of [[-1, p.length], [0, p.length + 1], [1, p.length], [0.5, 60], [0, NaN], [NaN, 60], [0, -5], [2 ** 32, 60], [0, Infinity]]) {
      expect(d.observeEgress(p, off!, len!)).toBe(NotTcp);
    }
    expect(d.observeEgress(new Uint8Array(0), 0, 0)).toBe(NotTcp);
    expect(d.size).toBe(0);
  });

  it('never throws on random bytes, random truncations and mutations (seeded fuzz)', () => {
    const rnd = new SeededRandom(5534);
    const d = new RetransmitDetector(64);
    const valid = [
      seg({ seq: 1, len: 40 }),
      seg({ seq: 0xffff_fff0, len: 40, flags: TCP_SYN, options: 20 }),
      withChain([[0, extHeader(0)], [43, extHeader(0, 2)], [140, shim6Payload(0, 3)], [60, extHeader(0)]], { seq: 9, len: 16 }),
    ];
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 6000; i++) {
      let b: Uint8Array;
      let off = 0;
      let len: number;
      const kind = i % 3;
      if (kind === 0) {
        b = rnd.bytes(rnd.int(140));
        b[0] = (b[0]! & 0x0f) | (rnd.chance(0.8) ? 0x60 : 0); // mostly version 6, so the walk is reached
        if (b.length > 6 && rnd.chance(0.5)) b[6] = [0, 6, 43, 44, 60, 140][rnd.int(6)]!;
        len = b.length;
      } else {
        const p = valid[rnd.int(valid.length)]!;
        off = rnd.int(8);
        b = new Uint8Array(off + p.length);
        b.set(p, off);
        len = kind === 1 ? rnd.int(p.length + 1) : p.length;
        if (kind === 2) for (let m = rnd.int(4) + 1; m > 0; m--) b[off + rnd.int(p.length)] = rnd.int(256);
      }
      const v = d.observeEgress(b, off, len);
      expect([NotTcp, New, Retransmit, Ignored]).toContain(v);
      counts[v]!++;
      expect(d.size).toBeLessThanOrEqual(d.capacity);
    }
    // The fuzz reached every outcome, so it exercised the table as well as the parser.
    expect(counts.every((c) => c > 0)).toBe(true);
  });
});

describe('RetransmitDetector: the table', () => {
  it('rounds the capacity up to a power of two and checks it once', () => {
    expect(new RetransmitDetector().capacity).toBe(4096);
    expect(new RetransmitDetector(1).capacity).toBe(1);
    expect(new RetransmitDetector(5).capacity).toBe(8);
    expect(new RetransmitDetector(4097).capacity).toBe(8192);
    for (const bad of [0, -1, 1.5, NaN, MAX_CAPACITY + 1]) expect(() => new RetransmitDetector(bad)).toThrow(RangeError);
  });

  it('evicts the least recently used flow of the probe window when full', () => {
    const d = new RetransmitDetector(8); // the window covers the whole table
    for (let port = 1; port <= 8; port++) expect(observe(d, seg({ sport: port, seq: 0, len: 10 }))).toBe(New);
    expect(d.size).toBe(8);
    expect(observe(d, seg({ sport: 1, seq: 0, len: 10 }))).toBe(Retransmit); // port 1 is now the most recent
    expect(observe(d, seg({ sport: 9, seq: 0, len: 10 }))).toBe(New); // replaces port 2
    expect(d.size).toBe(8);
    expect(observe(d, seg({ sport: 1, seq: 0, len: 10 }))).toBe(Retransmit);
    expect(observe(d, seg({ sport: 9, seq: 0, len: 10 }))).toBe(Retransmit);
    for (let port = 3; port <= 8; port++) expect(observe(d, seg({ sport: port, seq: 0, len: 10 }))).toBe(Retransmit);
    expect(observe(d, seg({ sport: 2, seq: 0, len: 10 }))).toBe(New); // forgotten: seen as a new flow
    expect(d.size).toBe(8);
  });

  it('keeps working with many more flows than slots, and a single slot', () => {
    const d = new RetransmitDetector(64);
    for (let i = 0; i < 5000; i++) {
      const src = addr(`2001:db8:1::${(i % 997).toString(16)}`);
      expect(observe(d, seg({ src, sport: 1024 + i, seq: i, len: 10 }))).toBe(New);
      // The flow just added is always tracked: it is the most recent in its window.
      expect(observe(d, seg({ src, sport: 1024 + i, seq: i, len: 5 }))).toBe(Retransmit);
      expect(d.size).toBeLessThanOrEqual(64);
    }
    expect(d.size).toBe(64);

    const one = new RetransmitDetector(1);
    expect(observe(one, seg({ sport: 1, seq: 0, len: 10 }))).toBe(New);
    expect(observe(one, seg({ sport: 2, seq: 0, len: 10 }))).toBe(New);
    expect(observe(one, seg({ sport: 2, seq: 0, len: 10 }))).toBe(Retransmit);
    expect(observe(one, seg({ sport: 1, seq: 0, len: 10 }))).toBe(New); // evicted by port 2
    expect(one.size).toBe(1);
  });

  it('forgets every flow on clear()', () => {
    const d = new RetransmitDetector(16);
    for (let port = 1; port <= 10; port++) observe(d, seg({ sport: port, seq: 0, len: 10 }));
    expect(d.size).toBe(10);
    d.clear();
    expect(d.size).toBe(0);
    for (let port = 1; port <= 10; port++) expect(observe(d, seg({ sport: port, seq: 0, len: 10 }))).toBe(New);
    expect(d.size).toBe(10);
    for (let port = 1; port <= 10; port++) expect(observe(d, seg({ sport: port, seq: 0, len: 10 }))).toBe(Retransmit);
  });
});

describe('RetransmitDetector: against an unbounded reference model', () => {
  interface ModelSeg {
    readonly offset: number;
    readonly len: number;
    readonly fin: boolean;
    readonly rst: boolean;
  }
  const segment = fc.record({
    offset: fc.integer({ min: 0, max: 1 << 20 }),
    len: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1500 })),
    fin: fc.boolean(),
    rst: fc.integer({ min: 0, max: 9 }).map((r) => r === 0),
  });

  /** The verdicts with BigInt sequence numbers that never wrap. */
  function model(base: bigint, segs: readonly ModelSeg[]): number[] {
    let high: bigint | undefined;
    return segs.map((s) => {
      const segLen = BigInt(s.len + (s.fin ? 1 : 0));
      if (s.rst || segLen === 0n) return Ignored;
      const end = base + BigInt(s.offset) + segLen;
      if (high !== undefined && end <= high) return Retransmit;
      high = end;
      return New;
    });
  }

  function run(base: number, segs: readonly ModelSeg[]): number[] {
    const d = new RetransmitDetector(16);
    return segs.map((s) => observe(d, seg({
      seq: (base + s.offset) >>> 0,
      len: s.len,
      flags: ACK | (s.fin ? TCP_FIN : 0) | (s.rst ? TCP_RST : 0),
    })));
  }

  it('agrees far from the wrap', () => {
    fc.assert(fc.property(fc.integer({ min: 1 << 24, max: 2 ** 31 }), fc.array(segment, { maxLength: 60 }), (base, segs) => {
      expect(run(base, segs)).toEqual(model(BigInt(base), segs));
    }), { seed: 9293, numRuns: 500 });
  });

  it('agrees across the wrap, where the model keeps counting past 2^32', () => {
    fc.assert(fc.property(fc.integer({ min: 2 ** 32 - (1 << 21), max: 2 ** 32 - 1 }), fc.array(segment, { maxLength: 60 }), (base, segs) => {
      expect(run(base, segs)).toEqual(model(BigInt(base), segs));
    }), { seed: 1982, numRuns: 500 });
  });
});
