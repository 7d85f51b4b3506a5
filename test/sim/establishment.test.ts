/**
 * RFC 5533 §7.3-7.16 in simulation: the four-way exchange, the loss of each of its
 * messages (retransmission, §7.8, §7.12), and the crossing cases of §7.4 (Figures 4
 * and 5). Each scenario checks its transcript in and asserts the outcome.
 */
import { describe, expect, it } from 'vitest';
import { addresses, ctxOf, expectEstablished, isKind, kinds, pair, transcriptText } from './scenario.util.js';

describe('establishment (RFC 5533 §7.3)', () => {
  it('completes I1, R1, I2, R2 and installs Ls(peer) on both sides', async () => {
    const { sim, a, b, locsA, locsB } = await pair();
    expect(a.establish(b.ulid).ok).toBe(true);
    sim.run(1_000);
    const { ca, cb } = expectEstablished(a, b);
    expect(kinds(sim)).toEqual(['I1', 'R1', 'I2', 'R2']);
    expect(addresses(ca.lsPeer)).toEqual(addresses(locsB.slice(0, 2)));
    expect(addresses(cb.lsPeer)).toEqual(addresses(locsA.slice(0, 2)));
    expect(ca.initiator).toBe(true);
    expect(cb.initiator).toBe(false);
    // Both fast paths hold the context; data flows plainly while Lp is the ULID pair.
    expect(a.fastPath().size).toBe(1);
    expect(b.fastPath().size).toBe(1);
    a.send(b.ulid, new Uint8Array(32));
    sim.run(2_000);
    expect(b.inbox).toHaveLength(1);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/establish-normal.txt');
  });

  for (const lost of ['I1', 'R1', 'I2', 'R2'] as const) {
    it(`recovers from the loss of the first ${lost}`, async () => {
      const { sim, a, b } = await pair();
      sim.network.dropNext(isKind(lost));
      a.establish(b.ulid);
      sim.run(60_000);
      expectEstablished(a, b);
      const sent = kinds(sim);
      // The lost message's exchange is repeated once: I1/R1 loss costs one I1 retransmission, I2/R2 loss one I2.
      const again = lost === 'I1' || lost === 'R1' ? 'I1' : 'I2';
      expect(sent.filter((k) => k === again)).toHaveLength(2);
      expect(sent.filter((k) => k === 'R2')).toHaveLength(lost === 'R2' ? 2 : 1);
      expect(b.engine.size).toBe(1);
      await expect(transcriptText(sim)).toMatchFileSnapshot(`./transcripts/establish-lost-${lost}.txt`);
    });
  }

  it('lost R2, then payload from the ESTABLISHED responder: the initiator resends I2 at once (Appendix B, I2-SENT)', async () => {
    // The exchange runs on a locator pair other than the ULIDs (I1 to B.2 with the ULID Pair
    // option), so B's payload carries the Payload Extension header from B.2 = Lp(peer) of A.
    const { sim, a, b, locsA, locsB } = await pair();
    sim.network.dropNext(isKind('R2'));
    a.establish(b.ulid, { lpLocal: locsA[1]!.address, lpPeer: locsB[1]!.address });
    sim.run(1_500);
    expect(ctxOf(a, b).state).toBe('I2-SENT');
    b.send(a.ulid, new Uint8Array(5));
    sim.run(2_000);
    // Appendix B, I2-SENT, "Receive Payload Extension header or other control packet":
    // "Accept and send I2 (probably R2 was sent by peer and lost)". No R1bis: B keeps its context.
    expect(kinds(sim).slice(4)).toEqual(['payload', 'I2', 'R2']);
    expect(ctxOf(a, b).state).toBe('ESTABLISHED');
    expect(ctxOf(b, a).state).toBe('ESTABLISHED');
    expect(b.engine.counters()['rx.R1bis']).toBeUndefined();
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/establish-lost-R2-payload.txt');
  });

  it('crossing I1s (§7.4 Figure 4): both answer with R2 and both reach ESTABLISHED', async () => {
    const { sim, a, b } = await pair();
    a.establish(b.ulid);
    b.establish(a.ulid);
    sim.run(1_000);
    const { ca, cb } = expectEstablished(a, b);
    expect(kinds(sim)).toEqual(['I1', 'I1', 'R2', 'R2']);
    expect(ca.initiator && cb.initiator).toBe(true);
    expect(a.engine.size + b.engine.size).toBe(2);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/establish-crossing-i1.txt');
  });

  it('crossing I2 and I1 (§7.4 Figure 5): the I2 establishes B, the I1 gets an R2', async () => {
    const { sim, a, b } = await pair();
    a.establish(b.ulid);
    // A's I2 leaves at t=20 and reaches B at t=30; B starts its own I1 at t=25.
    sim.at(25, () => {
      expect(b.establish(a.ulid).ok).toBe(true);
    });
    sim.run(1_000);
    expectEstablished(a, b);
    expect(kinds(sim)).toEqual(['I1', 'R1', 'I2', 'I1', 'R2', 'R2']);
    expect(ctxOf(b, a).ctLocal).toBeGreaterThanOrEqual(0);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/establish-crossing-i2-i1.txt');
  });
});
