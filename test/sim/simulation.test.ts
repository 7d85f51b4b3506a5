/**
 * The simulation as a whole: reproducibility (transcript and capture), the pcap export,
 * hosts (fast path, heuristic, crash, idle expiry, respond-only), and an establishment
 * storm over a network with loss, duplication and reordering.
 */
import { describe, expect, it } from 'vitest';
import { addHbaHost, createSimulation, SimError, type Simulation } from '../../src/api/index.js';
import { IDLE_TIMEOUT_MS } from '../../src/context/constants.js';
import { LinkType, parsePcap } from '../../src/io/pcap.js';
import { addresses, ctxOf, expectEstablished, isKind, kinds, pair } from './scenario.util.js';

async function lossyRun(seed: number): Promise<Simulation> {
  const sim = createSimulation({ seed, link: { delayMs: 20, jitterMs: 10, loss: 0.2 } });
  const a = await addHbaHost(sim, 'A', ['2001:db8:1::/64', '2001:db8:2::/64']);
  const b = await addHbaHost(sim, 'B', ['2001:db8:3::/64']);
  a.establish(b.ulid);
  for (let t = 1_000; t < 20_000; t += 1_000) sim.at(t, () => a.send(b.ulid, new Uint8Array(10)));
  sim.run(30_000);
  return sim;
}

describe('Simulation', () => {
  it('reproduces the same transcript and capture for a seed, and another for another seed', async () => {
    const one = await lossyRun(21);
    const two = await lossyRun(21);
    const other = await lossyRun(22);
    expect(two.transcript()).toEqual(one.transcript());
    expect(Buffer.from(two.pcap()).equals(Buffer.from(one.pcap()))).toBe(true);
    expect(other.transcript()).not.toEqual(one.transcript());
    expect(one.transcript().some((l) => l.endsWith(' lost'))).toBe(true);
  });

  it('captures every packet put on the network, lost ones too, with its virtual time', async () => {
    const sim = await lossyRun(21);
    const parsed = parsePcap(sim.pcap());
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.linkType).toBe(LinkType.IPV6);
    expect(parsed.value.records).toHaveLength(sim.packets().length);
    sim.packets().forEach((p, i) => {
      const r = parsed.value.records[i]!;
      expect(r.timestampSeconds * 1000 + r.timestampNanos / 1e6).toBe(p.sentAt);
      expect(Buffer.from(r.data).equals(Buffer.from(p.bytes))).toBe(true);
    });
    expect(sim.network.totals().sent).toBe(sim.packets().length);
    const raw = parsePcap(sim.pcap(LinkType.RAW));
    expect(raw.ok && raw.value.linkType).toBe(LinkType.RAW);
  });

  it('runUntil stops when the predicate holds, or at the limit', async () => {
    const { sim, a, b } = await pair();
    a.establish(b.ulid);
    expect(sim.runUntil(() => a.context(b.ulid)?.state === 'ESTABLISHED', 1_000)).toBe(true);
    expect(sim.now).toBe(40);
    expect(sim.runUntil(() => false, 500)).toBe(false);
    expect(sim.now).toBe(500);
  });

  it('refuses duplicate and malformed host names', async () => {
    const { sim, a } = await pair();
    expect(() => sim.addHost('A', a.identities[0]!)).toThrow(SimError);
    expect(() => sim.addHost('a b', a.identities[0]!)).toThrow(SimError);
    expect(() => sim.host('Z')).toThrow(SimError);
    expect(sim.host('A')).toBe(a);
  });

  it('labels a host\'s addresses by name, including locators added later', async () => {
    const { sim, a, locsA } = await pair();
    expect(sim.label(a.ulid)).toBe('A');
    expect(sim.label(locsA[1]!.address)).toBe('A.2');
    expect(sim.label(locsA[2]!.address)).toMatch(/^2001:db8:a3:/);
    a.setLocalLocators(a.ulid, [...locsA]);
    expect(sim.label(locsA[2]!.address)).toBe('A.3');
  });
});

describe('SimHost', () => {
  it('establishes by the heuristic after more than 50 packets of ULP traffic (RFC 5533 §4)', async () => {
    const { sim, a, b } = await pair();
    for (let i = 0; i < 51; i++) sim.at(i * 10, () => a.send(b.ulid, new Uint8Array(4)));
    sim.run(400);
    expect(a.context(b.ulid)).toBeUndefined();
    sim.run(2_000);
    expectEstablished(a, b);
    expect(b.inbox).toHaveLength(51);
    expect(a.engine.counters()['heuristic.established']).toBe(1);
  });

  it('a respond-only host never initiates, but answers', async () => {
    const { sim, a, b } = await pair({ hostB: { mode: 'respond-only' } });
    const r = b.establish(a.ulid);
    expect(r.ok === false && r.code).toBe('respond-only');
    a.establish(b.ulid);
    sim.run(1_000);
    expectEstablished(a, b);
  });

  it('a crashed host drops what arrives and runs no timers until it reboots', async () => {
    const { sim, a, b } = await pair();
    a.establish(b.ulid);
    sim.network.setLinkDown('B', 'A');
    sim.run(5);
    a.crash();
    expect(a.up).toBe(false);
    expect(() => a.engine).toThrow(SimError);
    sim.network.setLinkDown('B', 'A', false);
    sim.run(60_000);
    // B's R1 arrived while A was down; A retransmitted nothing.
    expect(kinds(sim)).toEqual(['I1', 'R1']);
    expect(a.droppedWhileDown).toBe(1);
    a.reboot();
    expect(a.boots).toBe(1);
    expect(a.engine.size).toBe(0);
    expect(sim.transcript().filter((l) => / (CRASH|REBOOT)$/.test(l))).toEqual(['t=5 A CRASH', 't=60000 A REBOOT']);
  });

  it('contexts expire after IDLE_TIMEOUT without traffic and live on with it (§9)', async () => {
    const { sim, a, b } = await pair();
    a.establish(b.ulid);
    sim.run(1_000);
    // Traffic every minute for ten minutes keeps both ends alive.
    for (let t = 60_000; t <= 600_000; t += 60_000) sim.at(t, () => a.send(b.ulid, new Uint8Array(1)));
    sim.run(600_000 + IDLE_TIMEOUT_MS - 1);
    expectEstablished(a, b);
    sim.run(600_000 + IDLE_TIMEOUT_MS + 100);
    expect(a.context(b.ulid)).toBeUndefined();
    expect(b.context(a.ulid)).toBeUndefined();
    expect(a.fastPath().size).toBe(0);
    expect(b.fastPath().size).toBe(0);
  });

  it('takes payload from a locator outside Ls(peer) as unknown: R1bis, I2bis, then it flows (§7.17, §12.4)', async () => {
    const { sim, a, b, locsA } = await pair();
    a.establish(b.ulid);
    sim.run(1_000);
    const { ca, cb } = expectEstablished(a, b);
    // A adds its third locator, but the Update Request is lost: B does not know A.3 yet.
    sim.network.dropNext(isKind('UpdateRequest'));
    a.setLocalLocators(a.ulid, [...locsA]);
    expect(a.setCurrentPair(ca.id, locsA[2]!.address, cb.lsLocal[1]!.address)).toBe(true);
    a.send(b.ulid, new Uint8Array(3));
    sim.run(1_100);
    expect(b.inbox).toHaveLength(0);
    expect(kinds(sim).slice(4)).toEqual(['UpdateRequest', 'payload', 'R1bis', 'I2bis', 'R2']);
    expect(addresses(ctxOf(b, a).lsPeer)).toEqual(addresses(locsA));
    expect(ctxOf(a, b).state).toBe('ESTABLISHED');
    a.send(b.ulid, new Uint8Array(3));
    sim.run(1_200);
    expect(b.inbox.map((d) => d.contextTag)).toEqual([cb.ctLocal]);
  });
});

describe('an establishment storm over a bad network', () => {
  it('40 clients, 15% loss, 10% duplication, 20% reordering: every context ends consistent on both sides', async () => {
    const sim = createSimulation({ seed: 31, transcript: false, link: { delayMs: 20, jitterMs: 10, loss: 0.15, duplicate: 0.1, reorder: 0.2, reorderExtraMs: 200 } });
    const server = await addHbaHost(sim, 'S', ['2001:db8:5::/64', '2001:db8:6::/64'], { mode: 'respond-only' });
    const clients = [];
    for (let i = 0; i < 40; i++) clients.push(await addHbaHost(sim, `C${i}`, [`2001:db8:100:${i.toString(16)}::/64`, `2001:db8:200:${i.toString(16)}::/64`]));
    clients.forEach((c, i) => sim.at(i * 50, () => c.establish(server.ulid)));
    sim.run(300_000);
    let established = 0;
    for (const c of clients) {
      const cc = c.context(server.ulid);
      if (cc?.state !== 'ESTABLISHED') {
        expect(cc?.state).toBe('E-FAILED');
        continue;
      }
      established++;
      const sc = server.context(c.ulid)!;
      expect(sc.state).toBe('ESTABLISHED');
      expect(sc.ctPeer).toBe(cc.ctLocal);
      expect(cc.ctPeer).toBe(sc.ctLocal);
      expect(addresses(sc.lsPeer)).toEqual(addresses(c.identities[0]!.locators));
    }
    expect(established).toBeGreaterThanOrEqual(39);
    expect(server.engine.size).toBe(established);
    expect(sim.network.totals().duplicated).toBeGreaterThan(0);
  });
});
