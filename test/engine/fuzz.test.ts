/**
 * Robustness of the engine against malformed and forged packets (DEVELOPERS.md: the
 * daemon never crashes, never grows state without bound, never loses an established
 * session because of a malformed or forged packet).
 *
 * Two established engines see mutations of every message they exchanged (establishment,
 * update, keepalive), with the checksum left broken and with it repaired so the mutants
 * reach the protocol logic, plus random garbage from random sources. Afterwards no step
 * threw, the tables hold exactly the one context each, the fast path was never removed,
 * and after the honest exchange resumes both ends agree on the context again.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalIdentity, ShimContext } from '../../src/context/types.js';
import type { EngineAction, ShimEngine } from '../../src/engine/engine.js';
import { SeededRandom } from '../../src/sim/random.js';
import { internetChecksum } from '../../src/wire/bytes.js';
import { encodeControlPacket } from '../../src/wire/packet.js';
import { engine, hbaIdentity, pump, type Delivered } from './engine.util.js';

let A: LocalIdentity;
let B: LocalIdentity;
beforeAll(async () => {
  A = await hbaIdentity(['2001:db8:1:a::', '2001:db8:2:a::'], 1);
  B = await hbaIdentity(['2001:db8:1:b::', '2001:db8:2:b::'], 2);
});

function repairChecksum(p: Uint8Array): void {
  if (p.length < 48 || p[6] !== 140) return;
  const len = Math.min((p[41]! + 1) * 8, p.length - 40);
  p[44] = 0;
  p[45] = 0;
  const c = internetChecksum(p, 40, 40 + len);
  p[44] = c >>> 8;
  p[45] = c & 0xff;
}

function mutate(p: Uint8Array, rnd: SeededRandom): Uint8Array {
  const kind = rnd.u32() % 4;
  if (kind === 0) return p.subarray(0, rnd.u32() % p.length);
  const q = p.slice();
  const flips = 1 + (rnd.u32() % 4);
  for (let i = 0; i < flips; i++) {
    // Mostly the Shim6 part: the IPv6 header is the network's business.
    const at = 40 + (rnd.u32() % Math.max(1, q.length - 40));
    if (at < q.length) q[at] = q[at]! ^ (1 << (rnd.u32() % 8));
  }
  if (kind === 2) {
    const extra = new Uint8Array(q.length + 1 + (rnd.u32() % 64));
    extra.set(q);
    for (let i = q.length; i < extra.length; i++) extra[i] = rnd.u32() & 0xff;
    return extra;
  }
  return q;
}

function snapshot(ctx: ShimContext | undefined): unknown {
  return ctx === undefined ? undefined : { ctLocal: ctx.ctLocal, ulids: [ctx.ulidLocal, ctx.ulidPeer] };
}

function fastPathRemovals(actions: EngineAction[]): number {
  return actions.filter((x) => x.kind === 'fast-path' && x.op === 'remove').length;
}

describe('engine robustness', () => {
  it('malformed and checksum-repaired mutants of every exchanged message: no throw, no growth, no lost session', () => {
    const a = engine(A, 10);
    const b = engine(B, 20);
    a.establish(A.ulid, B.ulid, 0);
    const seen: Delivered[] = [...pump({ a, b }, 0).delivered];
    a.setLocalLocators(A.ulid, [A.locators[0]!], undefined, 10);
    seen.push(...pump({ a, b }, 10).delivered);
    const ca = a.findByUlids(A.ulid, B.ulid)!;
    seen.push({ from: 'a', action: { kind: 'send', src: ca.lpLocal, dst: ca.lpPeer, message: { kind: 'Keepalive', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: ca.ctPeer!, reserved2: 0, options: [] } }, packet: encodeControlPacket({ source: ca.lpLocal, destination: ca.lpPeer }, { kind: 'Keepalive', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: ca.ctPeer!, reserved2: 0, options: [] }) });
    const before = { a: snapshot(a.findByUlids(A.ulid, B.ulid)), b: snapshot(b.findByUlids(B.ulid, A.ulid)) };
    const rnd = new SeededRandom(7);
    let removals = 0;
    let now = 20;
    for (let round = 0; round < 6000; round++) {
      const d = seen[rnd.u32() % seen.length]!;
      const m = mutate(d.packet, rnd);
      if (round % 2 === 1) repairChecksum(m);
      const target: ShimEngine = d.from === 'a' ? b : a;
      now += 1;
      target.receive(m, now);
      // Whatever the mutant made the target send goes nowhere (the attacker's packets are one-way).
      removals += fastPathRemovals(a.takeActions()) + fastPathRemovals(b.takeActions());
    }
    for (const e of [a, b]) {
      const c = e.counters();
      expect(Object.keys(c).filter((k) => k.startsWith('bug.'))).toEqual([]);
      expect(e.size).toBe(1);
    }
    // The repaired mutants reached the protocol logic, not only the checksum check.
    const cb = b.counters();
    for (const k of ['drop.bad-validator', 'drop.bad-pds', 'drop.locators-rejected', 'tx.R2', 'tx.R1bis', 'tx.UpdateAck']) expect(cb[k] ?? 0, k).toBeGreaterThan(0);
    expect(removals).toBe(0);
    expect(snapshot(a.findByUlids(A.ulid, B.ulid))).toEqual(before.a);
    expect(snapshot(b.findByUlids(B.ulid, A.ulid))).toEqual(before.b);
    // Honest traffic resumes (timers included): both ends agree on the context.
    for (let t = now; t < now + 60_000; t += 500) {
      a.tick(t);
      b.tick(t);
      pump({ a, b }, t);
    }
    const fa = a.findByUlids(A.ulid, B.ulid)!;
    const fb = b.findByUlids(B.ulid, A.ulid)!;
    expect(fa.state).toBe('ESTABLISHED');
    expect(fb.state).toBe('ESTABLISHED');
    expect(fa.ctPeer).toBe(fb.ctLocal);
    expect(fb.ctPeer).toBe(fa.ctLocal);
  });

  it('random garbage from random sources: never throws, creates no state', () => {
    const b = engine(B, 20);
    const rnd = new SeededRandom(8);
    for (let i = 0; i < 20_000; i++) {
      const len = rnd.u32() % 200;
      const p = rnd.bytes(len);
      if (len >= 40 && i % 2 === 0) {
        p[0] = 0x60;
        p[4] = ((len - 40) >> 8) & 0xff;
        p[5] = (len - 40) & 0xff;
        p[6] = 140;
        p.set(B.locators[i % 2]!.address, 24);
        if (i % 4 === 0) repairChecksum(p);
      }
      b.receive(p, i);
      b.receiveIcmp(p, i);
    }
    expect(b.size).toBe(0);
    expect(Object.keys(b.counters()).filter((k) => k.startsWith('bug.'))).toEqual([]);
    expect(b.nextDeadline()).toBeUndefined();
  });
});
