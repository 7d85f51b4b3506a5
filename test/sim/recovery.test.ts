/**
 * Recovery and context identity in simulation: a responder that lost its state
 * (RFC 5533 §7.5 Figure 6: payload with an unknown tag → R1bis → I2bis → R2), an
 * initiator that lost its state (Figure 7: a new I1 to an ESTABLISHED peer → R1 → I2 →
 * R2), context confusion after tag reuse (§7.15, with the small tag space Appendix C
 * suggests for testing), and forked contexts (§4.2, FII).
 */
import { describe, expect, it } from 'vitest';
import { createSimulation, type SimHost } from '../../src/api/index.js';
import { addresses, ctxOf, expectEstablished, identity, kinds, pair, PREFIXES_A, PREFIXES_B, transcriptText } from './scenario.util.js';

/** Moves the context of `host` with `peer` to its second locators on both ends, so payload carries the Payload Extension header. */
function useSecondLocators(host: SimHost, peer: SimHost): void {
  const c = ctxOf(host, peer);
  expect(host.setCurrentPair(c.id, c.lsLocal[1]!.address, c.lsPeer[1]!.address)).toBe(true);
  const p = ctxOf(peer, host);
  expect(peer.setCurrentPair(p.id, p.lsLocal[1]!.address, p.lsPeer[1]!.address)).toBe(true);
}

describe('recovery (RFC 5533 §7.5)', () => {
  it('responder reboot: payload with an unknown tag → R1bis → I2bis → R2 (Figure 6)', async () => {
    const { sim, a, b, locsA } = await pair();
    a.establish(b.ulid);
    sim.run(1_000);
    useSecondLocators(a, b);
    a.send(b.ulid, new Uint8Array(20));
    sim.run(2_000);
    expect(b.inbox).toHaveLength(1);
    const before = expectEstablished(a, b);

    sim.note('B loses its state');
    b.reboot();
    expect(b.engine.size).toBe(0);
    a.send(b.ulid, new Uint8Array(20));
    sim.run(3_000);

    const after = expectEstablished(a, b);
    expect(after.ca.ctLocal).toBe(before.ca.ctLocal);
    expect(after.ca.ctPeer).not.toBe(before.ca.ctPeer);
    expect(after.cb.initiator).toBe(false);
    expect(addresses(after.cb.lsPeer)).toEqual(addresses(locsA.slice(0, 2)));
    expect(kinds(sim).slice(4)).toEqual(['payload', 'payload', 'R1bis', 'I2bis', 'R2']);
    // B's new context took the locator pair of the I2bis: payload flows again.
    a.send(b.ulid, new Uint8Array(20));
    sim.run(4_000);
    expect(b.inbox).toHaveLength(2);
    expect(b.inbox[1]!.contextTag).toBe(after.cb.ctLocal);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/recovery-responder-reboot.txt');
  });

  it('initiator reboot: a new I1 to the ESTABLISHED peer → R1 → I2 → R2 (Figure 7)', async () => {
    const { sim, a, b } = await pair();
    a.establish(b.ulid);
    sim.run(1_000);
    const before = expectEstablished(a, b);

    sim.note('A loses its state and starts again');
    a.reboot();
    expect(a.establish(b.ulid).ok).toBe(true);
    sim.run(2_000);

    const after = expectEstablished(a, b);
    expect(after.ca.ctLocal).not.toBe(before.ca.ctLocal);
    // B kept its context (same CT(local)) and took the new CT(peer).
    expect(after.cb.ctLocal).toBe(before.cb.ctLocal);
    expect(after.cb.id).toBe(before.cb.id);
    expect(b.engine.size).toBe(1);
    expect(kinds(sim).slice(4)).toEqual(['I1', 'R1', 'I2', 'R2']);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/recovery-initiator-reboot.txt');
  });
});

describe('context confusion (RFC 5533 §7.15, Appendix C)', () => {
  /**
   * A has two ULIDs from one HBA set (A and A.2), so its two contexts with B have the same
   * Ls(peer) at B. With a 1-bit tag space, A reuses a tag after a reboot.
   */
  async function confusion(onConfusion: 'discard' | 'reestablish') {
    const sim = createSimulation({ seed: 7, link: { delayMs: 10 }, policy: { onConfusion } , reap: { mode: 'off' } });
    const { id: a1 } = await identity(sim, 'A', PREFIXES_A, 2);
    const { id: b1 } = await identity(sim, 'B', PREFIXES_B, 2);
    const a2 = { ...a1, ulid: a1.locators[1]!.address };
    const a = sim.addHost('A', [a1, a2], { config: { contextTagBits: 1 } });
    const b = sim.addHost('B', b1);
    a.establish(b.ulid, { ulidLocal: a1.ulid });
    sim.run(1_000);
    const first = ctxOf(b, a);
    expect(first.state).toBe('ESTABLISHED');

    sim.note('A reboots and opens a context for its other ULID; the tag space has one bit');
    a.reboot();
    const r = a.establish(b.ulid, { ulidLocal: a2.ulid });
    expect(r.ok && r.ctx.ctLocal).toBe(first.ctPeer); // the precondition: the tag is reused
    sim.run(2_000);
    const second = b.context(a2.ulid)!;
    expect(second.state).toBe('ESTABLISHED');
    expect(second.ctPeer).toBe(first.ctPeer);
    expect(b.engine.counters()['confusion.detected']).toBe(1);
    return { sim, a, b, a1, a2, first };
  }

  it("policy 'discard': the old context is removed", async () => {
    const { sim, b, a1 } = await confusion('discard');
    expect(b.context(a1.ulid)).toBeUndefined();
    expect(b.engine.size).toBe(1);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/confusion-discard.txt');
  });

  it("policy 'reestablish': the old context starts again with an I1 and gets a fresh CT(peer)", async () => {
    const { sim, a, b, a1, a2 } = await confusion('reestablish');
    const old = b.context(a1.ulid)!;
    expect(old.state).toBe('ESTABLISHED');
    const atA1 = a.context(b.ulid, { ulidLocal: a1.ulid })!;
    const atA2 = a.context(b.ulid, { ulidLocal: a2.ulid })!;
    expect(old.ctPeer).toBe(atA1.ctLocal);
    expect(b.context(a2.ulid)!.ctPeer).toBe(atA2.ctLocal);
    expect(atA1.ctLocal).not.toBe(atA2.ctLocal);
    expect(b.engine.size).toBe(2);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/confusion-reestablish.txt');
  });
});

describe('forking (RFC 5533 §4.2)', () => {
  it('a context with FII 1 lives beside the default one for the same ULID pair', async () => {
    const { sim, a, b } = await pair();
    expect(a.establish(b.ulid).ok).toBe(true);
    expect(a.establish(b.ulid, { fii: 1 }).ok).toBe(true);
    expect(a.establish(b.ulid, { fii: 1 }).ok).toBe(false);
    sim.run(1_000);
    const d = expectEstablished(a, b, 0);
    const f = expectEstablished(a, b, 1);
    expect(f.ca.fii).toBe(1);
    expect(f.cb.fii).toBe(1);
    expect(new Set([d.ca.ctLocal, f.ca.ctLocal]).size).toBe(2);
    expect(new Set([d.cb.ctLocal, f.cb.ctLocal]).size).toBe(2);
    expect(b.engine.size).toBe(2);
    // Payload of the forked context carries its own tag.
    expect(a.setCurrentPair(f.ca.id, f.ca.lsLocal[1]!.address, f.ca.lsPeer[1]!.address)).toBe(true);
    a.send(b.ulid, new Uint8Array(8), { fii: 1 });
    a.send(b.ulid, new Uint8Array(8));
    sim.run(2_000);
    expect(b.inbox.map((x) => x.contextTag)).toEqual([f.cb.ctLocal, undefined]);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/forking.txt');
  });

  it('payload over the forked context keeps that context alive (§9: idle is per context)', async () => {
    const { sim, a, b } = await pair();
    a.establish(b.ulid);
    a.establish(b.ulid, { fii: 1 });
    sim.run(1_000);
    const f = expectEstablished(a, b, 1);
    expect(a.setCurrentPair(f.ca.id, f.ca.lsLocal[1]!.address, f.ca.lsPeer[1]!.address)).toBe(true);
    // One packet a minute over FII 1 for ten minutes; nothing over FII 0.
    for (let t = 60_000; t <= 600_000; t += 60_000) sim.at(t, () => a.send(b.ulid, new Uint8Array(1), { fii: 1 }));
    sim.run(600_500);
    expect(a.context(b.ulid, { fii: 1 })?.state).toBe('ESTABLISHED');
    expectEstablished(a, b, 1);
    expect(b.inbox.map((d) => d.contextTag)).toEqual(Array(10).fill(f.cb.ctLocal));
    // The unused default context expired after IDLE_TIMEOUT.
    expect(a.context(b.ulid)).toBeUndefined();
  });
});
