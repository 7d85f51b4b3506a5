/**
 * The simulated network's fault model: seeded determinism, loss within statistical
 * bounds (fixed seed, bounds of ±4 standard deviations), delay and jitter, reordering,
 * duplication, partitions, unidirectional failures, address down, rule specificity,
 * scheduled changes, drop filters and counters.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/sim/clock.js';
import { SimNetwork, type PacketFate } from '../../src/sim/network.js';
import { SeededRandom } from '../../src/sim/random.js';
import { emitIpv6Header } from '../../src/wire/ipv6.js';
import { addr } from './scenario.util.js';

const A1 = addr('2001:db8:a::1');
const A2 = addr('2001:db8:a::2');
const B1 = addr('2001:db8:b::1');
const B2 = addr('2001:db8:b::2');
const C1 = addr('2001:db8:c::1');

function packet(src: Uint8Array, dst: Uint8Array, marker = 0): Uint8Array {
  const out = new Uint8Array(44);
  emitIpv6Header({ trafficClass: 0, flowLabel: 0, payloadLength: 4, nextHeader: 253, hopLimit: 64, source: src, destination: dst }, out, 0);
  new DataView(out.buffer).setUint32(40, marker);
  return out;
}

interface Arrival {
  readonly host: string;
  readonly at: number;
  readonly marker: number;
}

function net(seed = 1, defaults = {}) {
  const clock = new VirtualClock();
  const network = new SimNetwork(clock, new SeededRandom(seed), defaults);
  const arrivals: Arrival[] = [];
  for (const [host, addrs] of [['A', [A1, A2]], ['B', [B1, B2]], ['C', [C1]]] as const) {
    network.attach(host, addrs, (bytes) => arrivals.push({ host, at: clock.now, marker: new DataView(bytes.buffer, bytes.byteOffset).getUint32(40) }));
  }
  return { clock, network, arrivals };
}

/** σ of a binomial count. */
function sigma(n: number, p: number): number {
  return Math.sqrt(n * p * (1 - p));
}

describe('SimNetwork', () => {
  it('delivers after the default delay, to the owner of the destination', () => {
    const { clock, network, arrivals } = net();
    network.send(packet(A1, B2, 7));
    network.send(packet(B1, C1, 8));
    clock.runUntil(100);
    expect(arrivals).toEqual([{ host: 'B', at: 10, marker: 7 }, { host: 'C', at: 10, marker: 8 }]);
    expect(network.owner(B2)).toBe('B');
    expect(network.linkCounters(A1, B2)).toEqual({ sent: 1, delivered: 1, lost: 0, duplicated: 0 });
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const run = (seed: number): string => {
      const { clock, network, arrivals } = net(seed, { loss: 0.3, delayMs: 20, jitterMs: 10, duplicate: 0.1, reorder: 0.2, reorderExtraMs: 40 });
      for (let i = 0; i < 500; i++) clock.schedule(i, () => network.send(packet(A1, B1, i)));
      clock.runUntil(10_000);
      return JSON.stringify(arrivals);
    };
    expect(run(42)).toBe(run(42));
    expect(run(42)).not.toBe(run(43));
  });

  it('loses packets at the configured rate (10,000 packets, 10% loss, seed 5: within ±4σ)', () => {
    const { clock, network } = net(5);
    network.setLink({ from: 'A', to: 'B' }, { loss: 0.1 });
    const n = 10_000;
    for (let i = 0; i < n; i++) network.send(packet(A1, B1, i));
    clock.runUntil(1_000);
    const c = network.linkCounters(A1, B1);
    expect(c.sent).toBe(n);
    expect(Math.abs(c.lost - n * 0.1)).toBeLessThan(4 * sigma(n, 0.1));
    expect(c.delivered).toBe(n - c.lost);
    expect(network.totals().dropped.loss).toBe(c.lost);
    // The reverse direction has no rule: no loss.
    for (let i = 0; i < 1_000; i++) network.send(packet(B1, A1, i));
    clock.runUntil(2_000);
    expect(network.linkCounters(B1, A1).lost).toBe(0);
  });

  it('draws delays uniformly from delay ± jitter', () => {
    const { clock, network, arrivals } = net(9);
    network.setLink({}, { delayMs: 20, jitterMs: 10 });
    const n = 5_000;
    for (let i = 0; i < n; i++) network.send(packet(A1, B1, i));
    clock.runUntil(1_000);
    const delays = arrivals.map((a) => a.at);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...delays)).toBeLessThanOrEqual(30);
    const mean = delays.reduce((s, d) => s + d, 0) / n;
    // Uniform on [10, 30]: σ = 20/√12 ≈ 5.8, so the mean's σ is about 0.08.
    expect(Math.abs(mean - 20)).toBeLessThan(0.5);
    expect(new Set(delays).size).toBe(21);
  });

  it('reorders the configured fraction of packets', () => {
    const { clock, network, arrivals } = net(3);
    network.setLink({ from: '2001:db8:a::1', to: 'B' }, { delayMs: 10, reorder: 0.25, reorderExtraMs: 100 });
    const n = 4_000;
    for (let i = 0; i < n; i++) clock.schedule(i * 10, () => network.send(packet(A1, B1, i)));
    clock.runUntil(n * 10 + 1_000);
    expect(arrivals).toHaveLength(n);
    const late = arrivals.filter((a) => a.at - a.marker * 10 > 10).length;
    // A delayed packet gets uniform extra delay in [0, 100]: almost all of it is > 0.5 ms after rounding.
    expect(Math.abs(late - n * 0.25)).toBeLessThan(4 * sigma(n, 0.25) + n * 0.01);
    // Packets overtook each other.
    let inversions = 0;
    for (let i = 1; i < arrivals.length; i++) if (arrivals[i]!.marker < arrivals[i - 1]!.marker) inversions++;
    expect(inversions).toBeGreaterThan(n * 0.1);
  });

  it('duplicates the configured fraction of packets', () => {
    const { clock, network, arrivals } = net(4);
    network.setLink({ from: 'A' }, { duplicate: 0.2 });
    const n = 5_000;
    for (let i = 0; i < n; i++) network.send(packet(A1, B1, i));
    clock.runUntil(1_000);
    const c = network.linkCounters(A1, B1);
    expect(Math.abs(c.duplicated - n * 0.2)).toBeLessThan(4 * sigma(n, 0.2));
    expect(arrivals).toHaveLength(n + c.duplicated);
    expect(c.delivered).toBe(n + c.duplicated);
  });

  it('partitions host groups, and heals', () => {
    const { clock, network, arrivals } = net();
    network.partition(['A'], ['B']);
    const fates: PacketFate[] = [];
    network.onPacket((f) => fates.push(f));
    network.send(packet(A1, B1, 1));
    network.send(packet(B2, A2, 2));
    network.send(packet(A1, C1, 3)); // C is in no group
    clock.runUntil(100);
    expect(fates.map((f) => f.dropped)).toEqual(['partition', 'partition', undefined]);
    expect(arrivals.map((a) => a.marker)).toEqual([3]);
    network.heal();
    network.send(packet(A1, B1, 4));
    clock.runUntil(200);
    expect(arrivals.map((a) => a.marker)).toEqual([3, 4]);
    expect(() => network.partition(['A'], ['A', 'B'])).toThrow(RangeError);
  });

  it('fails one direction only (S→D down, D→S up)', () => {
    const { clock, network, arrivals } = net();
    network.setLinkDown('2001:db8:a::1', '2001:db8:b::1');
    network.send(packet(A1, B1, 1));
    network.send(packet(B1, A1, 2));
    network.send(packet(A2, B1, 3));
    clock.runUntil(100);
    expect(arrivals.map((a) => a.marker)).toEqual([2, 3]);
    expect(network.linkCounters(A1, B1).lost).toBe(1);
    network.setLinkDown('2001:db8:a::1', '2001:db8:b::1', false);
    network.send(packet(A1, B1, 4));
    clock.runUntil(200);
    expect(arrivals.map((a) => a.marker)).toEqual([2, 3, 4]);
  });

  it('takes an address down in both directions (an ISP failure) and brings it back', () => {
    const { clock, network, arrivals } = net();
    network.setAddressDown('2001:db8:b::1');
    network.send(packet(A1, B1, 1));
    network.send(packet(B1, A1, 2));
    network.send(packet(A1, B2, 3));
    clock.runUntil(100);
    expect(arrivals.map((a) => a.marker)).toEqual([3]);
    expect(network.totals().dropped['address-down']).toBe(2);
    network.setAddressDown(B1, false);
    network.send(packet(A1, B1, 4));
    clock.runUntil(200);
    expect(arrivals.map((a) => a.marker)).toEqual([3, 4]);
  });

  it('takes each field from the most specific matching rule', () => {
    const { network } = net();
    network.setLink({}, { delayMs: 50, loss: 0.5 });
    network.setLink({ to: 'B' }, { delayMs: 30 });
    network.setLink({ from: 'A', to: '2001:db8:b::1' }, { jitterMs: 5 });
    expect(network.profile(A1, B1)).toMatchObject({ delayMs: 30, loss: 0.5, jitterMs: 5 });
    expect(network.profile(A1, B2)).toMatchObject({ delayMs: 30, loss: 0.5, jitterMs: 0 });
    expect(network.profile(B1, C1)).toMatchObject({ delayMs: 50, loss: 0.5 });
    // The same selector replaces its rule; clearLink removes it.
    network.setLink({ to: 'B' }, { delayMs: 31 });
    expect(network.profile(A1, B2).delayMs).toBe(31);
    expect(network.clearLink({ to: 'B' })).toBe(true);
    expect(network.profile(A1, B2).delayMs).toBe(50);
  });

  it('applies scheduled fault changes at their virtual time; packets in flight are unaffected', () => {
    const { clock, network, arrivals } = net();
    network.at(100, () => network.setLinkDown('A', 'B'));
    network.at(200, () => network.setLinkDown('A', 'B', false));
    for (const t of [0, 95, 100, 150, 200]) clock.schedule(t, () => network.send(packet(A1, B1, t)));
    clock.runUntil(1_000);
    expect(arrivals.map((a) => a.marker)).toEqual([0, 95, 200]);
    expect(arrivals.map((a) => a.at)).toEqual([10, 105, 210]);
  });

  it('drops the next packets a filter matches, then stops', () => {
    const { clock, network, arrivals } = net();
    network.dropNext((p) => p.dst[15] === 1 && p.dst[5] === 0x0b, 2);
    for (let i = 0; i < 4; i++) network.send(packet(A1, B1, i));
    const remove = network.dropNext(() => true, 10);
    remove();
    network.send(packet(A1, B1, 9));
    clock.runUntil(100);
    expect(arrivals.map((a) => a.marker)).toEqual([2, 3, 9]);
    expect(network.totals().dropped.filtered).toBe(2);
  });

  it('drops packets for addresses nobody owns, and refuses bad configuration', () => {
    const { network } = net();
    expect(network.send(packet(A1, addr('2001:db8:f::1'))).dropped).toBe('no-route');
    expect(() => network.setLink({}, { loss: 1.5 })).toThrow(RangeError);
    expect(() => network.setLink({}, { delayMs: -1 })).toThrow(RangeError);
    expect(() => network.setLink({ from: '2001:db8::zz' }, {})).toThrow(RangeError);
    expect(() => network.attach('A', [], () => {})).toThrow(RangeError);
    expect(() => network.attach('x:y', [], () => {})).toThrow(RangeError);
    expect(() => network.attach('D', [A1], () => {})).toThrow(RangeError);
    expect(() => network.send(new Uint8Array(20))).toThrow(RangeError);
    expect(network.links()).toHaveLength(1);
  });
});
