// ICMPv6 errors about rewritten packets, translated back to the ULIDs (RFC 5533 §8).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataPlane } from '../../src/dataplane/dataplane.js';
import { MemoryRawReceiver, MemoryRawSender, MemoryTun } from '../../src/io/memory.js';
import { addr, tcp, udp, upperChecksum } from './packets.js';

const A1 = addr('2001:db8:1:a::1');
const A2 = addr('2001:db8:2:a::1');
const B1 = addr('2001:db8:1:b::1');
const B2 = addr('2001:db8:2:b::1');
const R = addr('2001:db8:2:a::ff');
const TAG_B = 0x5678;

/**
 * A data plane whose context 'b' has moved to A2>B2, and one TCP packet through it.
 * `peerFlowLabel`: the peer's label (flow-label mode); `flowLabel`: the packet's own.
 */
function setup(label: { peerFlowLabel?: number; flowLabel?: number } = {}) {
  const tun = new MemoryTun();
  const sender = new MemoryRawSender();
  const icmp = new MemoryRawReceiver(58);
  const dp = new DataPlane({ tun, sender, shim: new MemoryRawReceiver(140), icmp });
  dp.addContext({
    name: 'b', localUlid: A1, peerUlid: B1, localLocators: [A1, A2], peerLocators: [B1, B2],
    localContextTag: 0x1234, peerContextTag: TAG_B, currentLocal: A2, currentPeer: B2,
    ...(label.peerFlowLabel === undefined ? {} : { peerFlowLabel: label.peerFlowLabel }),
  });
  const original = tcp(A1, B1, 1000, new Uint8Array(1300).map((_, i) => i & 0xff), { hopLimit: 64, ...(label.flowLabel === undefined ? {} : { flowLabel: label.flowLabel }) });
  tun.inject(original);
  dp.pumpEgress();
  const wire = sender.sent[0]!;
  return { tun, icmp, dp, original, wire };
}

/** An ICMPv6 error from R carrying (the first 1232 octets of) `invoking`. */
function icmpError(type: number, code: number, field: number, invoking: Uint8Array): Uint8Array {
  const body = invoking.subarray(0, 1232);
  const m = new Uint8Array(8 + body.length);
  m[0] = type;
  m[1] = code;
  new DataView(m.buffer).setUint32(4, field);
  m.set(body, 8);
  return m;
}

function deliver(s: ReturnType<typeof setup>, message: Uint8Array): Uint8Array | undefined {
  s.icmp.inject({ data: message, src: R, dst: A2, hopLimit: 63 });
  s.dp.pumpIcmp();
  return s.tun.written.shift();
}

describe('ICMPv6 error translation', () => {
  it('turns a Packet Too Big about a rewritten packet into one about the application\'s packet', () => {
    const s = setup();
    const out = deliver(s, icmpError(2, 0, 1400, s.wire))!;
    expect(out).toBeDefined();
    // Outer header: from the router to ULID(local), ICMPv6, hop limit kept.
    expect(out[0]! >> 4).toBe(6);
    expect(out[6]).toBe(58);
    expect(out[7]).toBe(63);
    expect(out.subarray(8, 24)).toEqual(R);
    expect(out.subarray(24, 40)).toEqual(A1);
    const icmp = out.subarray(40);
    expect((out[4]! << 8) | out[5]!).toBe(icmp.length);
    expect(icmp[0]).toBe(2);
    expect(new DataView(icmp.buffer, icmp.byteOffset).getUint32(4)).toBe(1392); // §8: 8 octets less
    expect(upperChecksum(R, A1, 58, icmp)).toBe(0);
    // The packet in error is what the application sent (as far as it was quoted).
    const inner = icmp.subarray(8);
    expect(inner.length).toBe(1232 - 8);
    expect(inner).toEqual(s.original.subarray(0, 1224));
    expect(s.dp.counters().icmpTranslated).toBe(1);
  });

  it('never reports a Packet Too Big below the IPv6 minimum MTU', () => {
    const s = setup();
    const out = deliver(s, icmpError(2, 0, 1280, s.wire))!;
    expect(new DataView(out.buffer, out.byteOffset + 40).getUint32(4)).toBe(1280);
  });

  it('shrinks an RFC 4884 length attribute by the word it removed', () => {
    const s = setup();
    const m = icmpError(1, 3, 0, s.wire);
    m[4] = 20; // the packet in error is 20 words long, extensions follow
    const out = deliver(s, m)!;
    expect(out[40]).toBe(1);
    expect(out[41]).toBe(3);
    expect(out[44]).toBe(19);
    expect(upperChecksum(R, A1, 58, out.subarray(40))).toBe(0);
  });

  it('moves a Parameter Problem pointer past the shim header back, and drops one about the shim header', () => {
    const s = setup();
    const past = deliver(s, icmpError(4, 0, 48, s.wire))!; // the TCP header in the wire packet
    expect(new DataView(past.buffer, past.byteOffset + 40).getUint32(4)).toBe(40);
    const before = deliver(s, icmpError(4, 0, 6, s.wire))!; // Next Header of the IPv6 header
    expect(new DataView(before.buffer, before.byteOffset + 40).getUint32(4)).toBe(6);
    expect(deliver(s, icmpError(4, 0, 42, s.wire))).toBeUndefined(); // inside the shim header
    expect(s.dp.counters()).toMatchObject({ icmpTranslated: 2, dropIcmpUnmatched: 1 });
  });

  it('counts errors with a payload header of no context, and ignores errors about packets it did not rewrite', () => {
    const s = setup();
    const forged = s.wire.slice();
    forged[47] ^= 0xff;
    expect(deliver(s, icmpError(1, 0, 0, forged))).toBeUndefined();
    expect(s.dp.counters().dropIcmpUnmatched).toBe(1);
    expect(deliver(s, icmpError(1, 0, 0, udp(A1, B1, new Uint8Array(20))))).toBeUndefined();
    expect(deliver(s, icmpError(128, 0, 0, s.wire))).toBeUndefined(); // an echo request is not an error
    expect(s.dp.counters()).toMatchObject({ icmpTranslated: 0, dropIcmpUnmatched: 1 });
  });

  it('never throws on arbitrary messages, including mutated real ones (property)', () => {
    const s = setup();
    const real = icmpError(2, 0, 1400, s.wire).subarray(0, 200);
    fc.assert(fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.array(fc.tuple(fc.nat(199), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }).map((edits) => {
        const m = real.slice();
        for (const [i, v] of edits) m[i] = v;
        return m;
      })),
      (m) => {
        s.icmp.inject({ data: m, src: R, dst: A2 });
        s.dp.pumpIcmp();
        s.tun.written.splice(0);
      }), { numRuns: 500 });
  });
});

describe('errors about our control messages', () => {
  it('a Parameter Problem about a Shim6 control message goes to the controller as a whole IPv6 packet, never to the ULP; bounded per batch', () => {
    const tun = new MemoryTun();
    const icmp = new MemoryRawReceiver(58);
    const reported: Uint8Array[] = [];
    const dp = new DataPlane({ tun, sender: new MemoryRawSender(), shim: new MemoryRawReceiver(140), icmp }, { events: { icmpError: (p) => reported.push(p) }, reportsPerBatch: 3 });
    // An I1-like control message (P = 0, type 1) from A1 to B1 inside the error.
    const invoking = new Uint8Array(40 + 16);
    invoking[0] = 0x60; invoking[5] = 16; invoking[6] = 140; invoking[7] = 64;
    invoking.set(A1, 8); invoking.set(B1, 24);
    invoking[40] = 59; invoking[41] = 1; invoking[42] = 1;
    for (let i = 0; i < 5; i++) icmp.inject({ data: icmpError(4, 1, 6, invoking), src: B1, dst: A1, hopLimit: 61 });
    dp.pumpIcmp();
    expect(tun.written).toHaveLength(0);
    expect(reported).toHaveLength(3);
    const p = reported[0]!;
    expect(p[6]).toBe(58);
    expect([...p.subarray(8, 24)]).toEqual([...B1]);
    expect([...p.subarray(24, 40)]).toEqual([...A1]);
    expect(p[40]).toBe(4);
    expect([...p.subarray(48)]).toEqual([...invoking]);
  });
});

describe('errors about packets sent in flow-label mode (issue #8)', () => {
  const LABEL = 0x9abcd; // the peer's: what A writes instead of the Payload Extension header

  const setupLabel = () => setup({ peerFlowLabel: LABEL, flowLabel: 0x11111 });

  /** `original` as quoted after translation: the ULIDs back, the label as it was sent. */
  function quoted(original: Uint8Array, n: number): Uint8Array {
    const q = original.slice(0, n);
    q[1] = (q[1]! & 0xf0) | (LABEL >>> 16);
    q[2] = (LABEL >>> 8) & 0xff;
    q[3] = LABEL & 0xff;
    return q;
  }

  it('finds the context by locators and label, puts the ULIDs back, and changes nothing else', () => {
    const s = setupLabel();
    expect(s.wire.length).toBe(s.original.length); // no header to take out
    const out = deliver(s, icmpError(2, 0, 1400, s.wire))!;
    expect(out).toBeDefined();
    expect(out.subarray(8, 24)).toEqual(R);
    expect(out.subarray(24, 40)).toEqual(A1);
    expect(out[7]).toBe(63);
    const icmp = out.subarray(40);
    expect((out[4]! << 8) | out[5]!).toBe(icmp.length);
    expect(icmp.length).toBe(8 + 1232);
    expect(new DataView(icmp.buffer, icmp.byteOffset).getUint32(4)).toBe(1400); // nothing was added: MTU as reported
    expect(upperChecksum(R, A1, 58, icmp)).toBe(0);
    expect(icmp.subarray(8)).toEqual(quoted(s.original, 1232));
    expect(s.dp.counters().icmpTranslated).toBe(1);
    expect(s.dp.context('b')!.counters.icmpTranslated).toBe(1);
  });

  it('keeps an RFC 4884 length and a Parameter Problem pointer as they are', () => {
    const s = setupLabel();
    const m = icmpError(1, 3, 0, s.wire);
    m[4] = 20;
    const unreach = deliver(s, m)!;
    expect(unreach[44]).toBe(20);
    const param = deliver(s, icmpError(4, 0, 40, s.wire))!;
    expect(new DataView(param.buffer, param.byteOffset + 40).getUint32(4)).toBe(40);
    expect(upperChecksum(R, A1, 58, param.subarray(40))).toBe(0);
    expect(s.dp.counters()).toMatchObject({ icmpTranslated: 2, dropIcmpUnmatched: 0 });
  });

  it('skips, without counting, errors about packets it did not rewrite', () => {
    const s = setupLabel();
    const otherLabel = s.wire.slice();
    otherLabel[3] ^= 1;
    const unlabelled = s.wire.slice();
    unlabelled[1] &= 0xf0;
    unlabelled[2] = 0;
    unlabelled[3] = 0;
    const onUlids = s.wire.slice();
    onUlids.set(A1, 8);
    onUlids.set(B1, 24);
    const foreignLocal = s.wire.slice();
    foreignLocal.set(addr('2001:db8:66::1'), 8);
    const swapped = s.wire.slice();
    swapped.set(B2, 8);
    swapped.set(A2, 24);
    for (const p of [otherLabel, unlabelled, onUlids, foreignLocal, swapped]) expect(deliver(s, icmpError(1, 0, 0, p))).toBeUndefined();
    expect(s.dp.counters()).toMatchObject({ icmpTranslated: 0, dropIcmpUnmatched: 0 });
  });

  it('never throws on mutated real ones (property)', () => {
    const s = setupLabel();
    const real = icmpError(2, 0, 1400, s.wire).subarray(0, 120);
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.nat(119), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.integer({ min: 0, max: 120 }),
      (edits, cut) => {
        const m = real.slice(0, cut);
        for (const [i, v] of edits) if (i < m.length) m[i] = v;
        s.icmp.inject({ data: m, src: R, dst: A2 });
        s.dp.pumpIcmp();
        for (const out of s.tun.written.splice(0)) expect(upperChecksum(out.subarray(8, 24), out.subarray(24, 40), 58, out.subarray(40))).toBe(0);
      }), { numRuns: 500 });
  });
});
