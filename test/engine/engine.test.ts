import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalIdentity } from '../../src/context/types.js';
import { encodeControlPacket, encodePayloadPacket, parsePacket } from '../../src/wire/packet.js';
import { encodeAction, ShimEngine } from '../../src/engine/engine.js';
import { addr, engine, hbaIdentity, pump, seededRandom } from './engine.util.js';

let A: LocalIdentity;
let B: LocalIdentity;
beforeAll(async () => {
  A = await hbaIdentity(['2001:db8:1:a::', '2001:db8:2:a::'], 1);
  B = await hbaIdentity(['2001:db8:1:b::', '2001:db8:2:b::'], 2);
});

describe('ShimEngine: establishment between two engines', () => {
  it('I1/R1/I2/R2 establishes both sides with each other\'s tags and locator sets', () => {
    const a = engine(A, 10);
    const b = engine(B, 20);
    const r = a.establish(A.ulid, B.ulid, 0);
    expect(r.ok).toBe(true);
    const { delivered, others } = pump({ a, b }, 5);
    expect(delivered.map((d) => `${d.from}:${d.action.message.kind}`)).toEqual(['a:I1', 'b:R1', 'a:I2', 'b:R2']);
    const ca = a.findByUlids(A.ulid, B.ulid)!;
    const cb = b.findByUlids(B.ulid, A.ulid)!;
    expect(ca.state).toBe('ESTABLISHED');
    expect(cb.state).toBe('ESTABLISHED');
    expect(ca.ctPeer).toBe(cb.ctLocal);
    expect(cb.ctPeer).toBe(ca.ctLocal);
    expect(ca.lsPeer.map((l) => l.address)).toEqual(B.locators.map((l) => l.address));
    expect(cb.lsPeer.map((l) => l.address)).toEqual(A.locators.map((l) => l.address));
    expect(others.a!.filter((x) => x.kind === 'fast-path').map((x) => x.kind === 'fast-path' && x.op)).toEqual(['install']);
    expect(others.b!.filter((x) => x.kind === 'fast-path').map((x) => x.kind === 'fast-path' && x.op)).toEqual(['install']);
    expect(b.size).toBe(1);
    expect(a.size).toBe(1);
  });
});

function established(a: ShimEngine, b: ShimEngine, now = 0): void {
  expect(a.establish(A.ulid, B.ulid, now).ok).toBe(true);
  pump({ a, b }, now);
}

describe('ShimEngine: stateless responder and bounds', () => {
  it('a flood of I1s from random sources creates no state and answers each with R1', () => {
    const b = engine(B, 20);
    const rnd = seededRandom(99);
    for (let i = 0; i < 2000; i++) {
      const src = rnd.bytes(16);
      src[0] = 0x20; src[1] = 0x01; src[2] = 0x0d; src[3] = 0xb8;
      const i1 = encodeControlPacket({ source: src, destination: B.ulid }, { kind: 'I1', nextHeader: 59, reserved1: 0, r: 0, initiatorContextTag: rnd.u32(), initiatorNonce: rnd.u32(), options: [] });
      b.receive(i1, i);
    }
    expect(b.size).toBe(0);
    const sent = b.takeActions();
    expect(sent).toHaveLength(2000);
    expect(sent.every((x) => x.kind === 'send' && x.message.kind === 'R1')).toBe(true);
    expect(b.nextDeadline()).toBeUndefined();
  });

  it('an I2 with a forged validator or stale nonce changes nothing', () => {
    const a = engine(A, 10);
    const b = engine(B, 20);
    a.establish(A.ulid, B.ulid, 0);
    // I1 → R1, R1 → I2; capture the I2 instead of delivering it.
    const { delivered } = pump({ a, b }, 0, (d) => d.action.message.kind === 'I2');
    const i2 = delivered.find((d) => d.action.message.kind === 'I2')!;
    // Forge: flip a validator octet (the option starts after the 24-octet fixed part + 4-octet option header).
    const forged = i2.packet.slice();
    forged[40 + 24 + 4] ^= 0xff;
    // Fix the checksum so only the validator is wrong.
    const parsed = parsePacket(forged, 0, forged.length, { verifyChecksum: false });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok || parsed.value.shim6?.kind !== 'control') throw new Error('the forged I2 must still parse');
    const reencoded = encodeControlPacket({ source: i2.action.src, destination: i2.action.dst }, parsed.value.shim6.message);
    b.receive(reencoded, 1);
    expect(b.size).toBe(0);
    expect(b.counters()['drop.bad-validator']).toBe(1);
    // The genuine I2, 40 s later (beyond VALIDATOR_MIN_LIFETIME + one nonce period): stale.
    b.receive(i2.packet, 40_000);
    expect(b.size).toBe(0);
    expect(b.counters()['drop.stale-validator']).toBe(1);
    // The genuine I2 in time: a context.
    b.receive(i2.packet, 2);
    expect(b.size).toBe(1);
  });

  it('refuses contexts beyond maxContexts and maxContextsPerPeer', () => {
    const a = engine(A, 10, { config: { maxContexts: 3, maxContextsPerPeer: 2 } });
    expect(a.establish(A.ulid, B.ulid, 0, { fii: 0 }).ok).toBe(true);
    expect(a.establish(A.ulid, B.ulid, 0, { fii: 1 }).ok).toBe(true);
    expect(a.establish(A.ulid, B.ulid, 0, { fii: 2 })).toMatchObject({ ok: false, code: 'peer-limit' });
    expect(a.establish(A.ulid, addr('2001:db8:9::1'), 0)).toMatchObject({ ok: true });
    expect(a.establish(A.ulid, addr('2001:db8:9::2'), 0)).toMatchObject({ ok: false, code: 'table-full' });
    expect(a.establish(A.ulid, B.ulid, 0, { fii: 0 })).toMatchObject({ ok: false, code: 'exists' });
    expect(a.establish(B.ulid, A.ulid, 0)).toMatchObject({ ok: false, code: 'no-identity' });
  });

  it('respond-only mode never initiates, even when the heuristic fires', () => {
    const a = engine(A, 10, { mode: 'respond-only' });
    expect(a.establish(A.ulid, B.ulid, 0)).toMatchObject({ ok: false, code: 'respond-only' });
    a.traffic(A.ulid, B.ulid, 1000, 0);
    expect(a.size).toBe(0);
  });

  it('the heuristic starts a context after more than 50 packets, not before', () => {
    const a = engine(A, 10);
    a.traffic(A.ulid, B.ulid, 50, 0);
    expect(a.size).toBe(0);
    a.traffic(A.ulid, B.ulid, 1, 1);
    expect(a.findByUlids(A.ulid, B.ulid)?.state).toBe('I1-SENT');
  });
});

describe('ShimEngine: failures and recovery', () => {
  it('a silent peer: I1 retransmitted I1_RETRIES_MAX times, then E-FAILED, then removed after NO_R1_HOLDDOWN_TIME', () => {
    const a = engine(A, 10, { config: { jitter: false } });
    a.establish(A.ulid, B.ulid, 0);
    const times: number[] = [0];
    a.takeActions();
    let t = 0;
    for (;;) {
      const d = a.nextDeadline();
      if (d === undefined) break;
      t = d;
      a.tick(t);
      for (const x of a.takeActions()) if (x.kind === 'send') times.push(t);
      if (a.findByUlids(A.ulid, B.ulid)?.state !== 'I1-SENT') break;
    }
    expect(times).toEqual([0, 4000, 12000, 28000, 60000]);
    expect(a.findByUlids(A.ulid, B.ulid)?.state).toBe('E-FAILED');
    expect(t).toBe(124_000);
    expect(a.establish(A.ulid, B.ulid, t)).toMatchObject({ ok: false, code: 'hold-down' });
    a.tick(t + 60_000);
    expect(a.size).toBe(0);
    expect(a.establish(A.ulid, B.ulid, t + 60_000).ok).toBe(true);
  });

  it('ICMPv6 Unrecognized Next Header about our I1 → NO-SUPPORT; a forged one (wrong nonce) is ignored', () => {
    const a = engine(A, 10);
    a.establish(A.ulid, B.ulid, 0);
    const i1 = a.takeActions().find((x) => x.kind === 'send')!;
    const i1Packet = encodeAction(i1 as never);
    const icmp = (inner: Uint8Array): Uint8Array => {
      const p = new Uint8Array(48 + inner.length);
      p[0] = 0x60; p[6] = 58; p[7] = 64;
      p.set(B.ulid, 8); p.set(A.ulid, 24);
      p[40] = 4; p[41] = 1; p[47] = 6;
      p.set(inner, 48);
      p[4] = ((p.length - 40) >> 8) & 0xff; p[5] = (p.length - 40) & 0xff;
      return p;
    };
    const forgedInner = i1Packet.slice();
    forgedInner[40 + 12] ^= 1; // initiator nonce
    a.receiveIcmp(icmp(forgedInner), 1);
    expect(a.findByUlids(A.ulid, B.ulid)?.state).toBe('I1-SENT');
    a.receiveIcmp(icmp(i1Packet), 2);
    expect(a.findByUlids(A.ulid, B.ulid)?.state).toBe('NO-SUPPORT');
  });

  it('responder reboot: payload with the lost tag → R1bis → I2bis → R2, both ESTABLISHED again with a new CT', () => {
    const a = engine(A, 10);
    let b = engine(B, 20);
    established(a, b);
    const before = a.findByUlids(A.ulid, B.ulid)!;
    expect(a.setCurrentPair(before.id, A.locators[1]!.address, B.locators[1]!.address, 500)).toBe(true);
    expect(a.takeActions().map((x) => x.kind === 'fast-path' && x.op)).toEqual(['update']);
    b = engine(B, 21); // reboot: all state lost
    const payload = encodePayloadPacket({ source: A.locators[1]!.address, destination: B.locators[1]!.address }, before.ctPeer!, 59, new Uint8Array(8));
    b.receive(payload, 1000);
    const { delivered } = pump({ a, b }, 1000);
    expect(delivered.map((d) => `${d.from}:${d.action.message.kind}`)).toEqual(['b:R1bis', 'a:I2bis', 'b:R2']);
    const after = a.findByUlids(A.ulid, B.ulid)!;
    const cb = b.findByUlids(B.ulid, A.ulid)!;
    expect(after.state).toBe('ESTABLISHED');
    expect(cb.state).toBe('ESTABLISHED');
    expect(after.ctPeer).toBe(cb.ctLocal);
    expect(cb.ctPeer).toBe(after.ctLocal);
  });

  it('an Update Request or payload for an unknown tag gets R1bis at most r1bisRatePerS per second', () => {
    const b = engine(B, 20, { config: { r1bisRatePerS: 5 } });
    for (let i = 0; i < 50; i++) b.receive(encodePayloadPacket({ source: A.ulid, destination: B.ulid }, 1234 + i, 59, new Uint8Array(8)), 0);
    expect(b.takeActions()).toHaveLength(5);
    expect(b.counters()['r1bis.rate-limited']).toBe(45);
    expect(b.size).toBe(0);
  });

  it('an idle context is removed after the idle timeout; traffic keeps it', () => {
    const a = engine(A, 10, { config: { idleTimeoutMs: 10_000 } });
    const b = engine(B, 20, { config: { idleTimeoutMs: 10_000 } });
    established(a, b);
    a.traffic(A.ulid, B.ulid, 1, 8_000);
    a.tick(10_000);
    b.tick(10_000);
    expect(a.size).toBe(1);
    expect(b.size).toBe(0);
    a.tick(18_000);
    expect(a.size).toBe(0);
    const removed = a.takeActions().filter((x) => x.kind === 'fast-path');
    expect(removed.map((x) => x.kind === 'fast-path' && x.op)).toEqual(['remove']);
  });

  it('Update Request after a locator change: acknowledged, peer Ls(peer) replaced, retransmission stops', () => {
    const a = engine(A, 10);
    const b = engine(B, 20);
    established(a, b);
    a.setLocalLocators(A.ulid, [A.locators[0]!], undefined, 100);
    const { delivered } = pump({ a, b }, 100);
    expect(delivered.map((d) => `${d.from}:${d.action.message.kind}`)).toEqual(['a:UpdateRequest', 'b:UpdateAck']);
    expect(b.findByUlids(B.ulid, A.ulid)!.lsPeer.map((l) => l.address)).toEqual([A.locators[0]!.address]);
    expect(a.findByUlids(A.ulid, B.ulid)!.update).toBeUndefined();
  });
});

