/**
 * Locator updates in simulation (RFC 5533 §10): both ends updating at once, a second
 * update while the first is unacknowledged (§10.3: the newer request replaces the older),
 * and the loss of an Update Acknowledgement (§10.2: retransmission with the same nonce).
 */
import { describe, expect, it } from 'vitest';
import { addresses, expectEstablished, isKind, kinds, pair, transcriptText } from './scenario.util.js';

async function established() {
  const p = await pair();
  p.a.establish(p.b.ulid);
  p.sim.run(1_000);
  expectEstablished(p.a, p.b);
  return p;
}

describe('locator updates (RFC 5533 §10)', () => {
  it('both ends send Update Requests at once; each acknowledges the other', async () => {
    const { sim, a, b, locsA, locsB } = await established();
    const newA = [locsA[0]!, locsA[2]!];
    const newB = [locsB[0]!, locsB[2]!];
    a.setLocalLocators(a.ulid, newA);
    b.setLocalLocators(b.ulid, newB);
    sim.run(2_000);
    const { ca, cb } = expectEstablished(a, b);
    expect(addresses(ca.lsPeer)).toEqual(addresses(newB));
    expect(addresses(cb.lsPeer)).toEqual(addresses(newA));
    expect(addresses(ca.lsLocal)).toEqual(addresses(newA));
    expect(ca.update).toBeUndefined();
    expect(cb.update).toBeUndefined();
    expect(kinds(sim).slice(4)).toEqual(['UpdateRequest', 'UpdateRequest', 'UpdateAck', 'UpdateAck']);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/update-both-at-once.txt');
  });

  it('a second update while the first is unacknowledged replaces it (§10.3)', async () => {
    const { sim, a, b, locsA } = await established();
    const all = [...locsA];
    const last = [locsA[0]!, locsA[2]!];
    a.setLocalLocators(a.ulid, all);
    const firstNonce = a.context(b.ulid)!.update!.requestNonce;
    sim.runFor(5);
    a.setLocalLocators(a.ulid, last);
    const secondNonce = a.context(b.ulid)!.update!.requestNonce;
    expect(secondNonce).not.toBe(firstNonce);
    sim.run(2_000);
    const { ca, cb } = expectEstablished(a, b);
    expect(addresses(cb.lsPeer)).toEqual(addresses(last));
    expect(ca.update).toBeUndefined();
    // The acknowledgement of the abandoned request is stale and ignored.
    expect(a.engine.counters()['drop.stale-update-ack']).toBe(1);
    expect(kinds(sim).slice(4)).toEqual(['UpdateRequest', 'UpdateRequest', 'UpdateAck', 'UpdateAck']);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/update-replaced.txt');
  });

  it('a lost Update Acknowledgement: the request is retransmitted with the same nonce (§10.2)', async () => {
    const { sim, a, b, locsA } = await established();
    sim.network.dropNext(isKind('UpdateAck'));
    const next = [...locsA];
    a.setLocalLocators(a.ulid, next);
    const nonce = a.context(b.ulid)!.update!.requestNonce;
    sim.run(1_100);
    expect(a.context(b.ulid)!.update?.requestNonce).toBe(nonce);
    sim.run(20_000);
    const { ca, cb } = expectEstablished(a, b);
    expect(ca.update).toBeUndefined();
    expect(addresses(cb.lsPeer)).toEqual(addresses(next));
    expect(kinds(sim).slice(4)).toEqual(['UpdateRequest', 'UpdateAck', 'UpdateRequest', 'UpdateAck']);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/update-ack-lost.txt');
  });
});
