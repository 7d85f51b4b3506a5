/**
 * Fixtures for simulation scenarios: two multihomed HBA hosts in 2001:db8::/32 (A in
 * a1, a2, a3; B in b1, b2, b3), each advertising its first two locators at first so an
 * update can add the third; a fixed 10 ms link without jitter so the timing of each
 * scenario is easy to follow; and small helpers to pick packets and read contexts.
 */
import { expect } from 'vitest';
import { createHbaIdentity, createSimulation, type LocalIdentity, type SimHost, type Simulation, type SimulationOptions, type SimPacket } from '../../src/api/index.js';
import type { ShimContext } from '../../src/context/types.js';
import { packetKind } from '../../src/sim/transcript.js';
import { parseIpv6 } from '../../src/wire/address.js';
import type { Locator } from '../../src/wire/options/index.js';

export const PREFIXES_A = ['2001:db8:a1::/64', '2001:db8:a2::/64', '2001:db8:a3::/64'] as const;
export const PREFIXES_B = ['2001:db8:b1::/64', '2001:db8:b2::/64', '2001:db8:b3::/64'] as const;

export function addr(text: string): Uint8Array {
  const a = parseIpv6(text);
  if (a === undefined) throw new Error(`bad address ${text}`);
  return a;
}

/** An HBA identity over `prefixes` from the simulation's seed, advertising only the first `advertised` locators; `all` is the whole set. */
export async function identity(sim: Simulation, label: string, prefixes: readonly string[], advertised = prefixes.length): Promise<{ readonly id: LocalIdentity; readonly all: readonly Locator[] }> {
  const id = await createHbaIdentity(prefixes, sim.random.fork(`hba:${label}`), sim.provider);
  return { id: { ...id, locators: id.locators.slice(0, advertised) }, all: id.locators };
}

export interface Pair {
  readonly sim: Simulation;
  readonly a: SimHost;
  readonly b: SimHost;
  /** All three HBA locators of each host (the first two are advertised at first). */
  readonly locsA: readonly Locator[];
  readonly locsB: readonly Locator[];
}

/**
 * Two hosts A and B on a 10 ms link. REAP is off unless a test asks for it: these
 * scenarios pin down RFC 5533 exchanges message by message, and REAP's Keepalives and
 * Probes (RFC 5534) have their own scenarios in reap.test.ts.
 */
export async function pair(opts: Partial<SimulationOptions> & { readonly hostB?: Parameters<Simulation['addHost']>[2]; readonly hostA?: Parameters<Simulation['addHost']>[2] } = {}): Promise<Pair> {
  const { hostA, hostB, ...simOpts } = opts;
  const sim = createSimulation({ seed: 1, link: { delayMs: 10 }, reap: { mode: 'off' }, ...simOpts });
  const ia = await identity(sim, 'A', PREFIXES_A, 2);
  const ib = await identity(sim, 'B', PREFIXES_B, 2);
  // The third address joins the network when a test advertises it (SimHost.setLocalLocators).
  const a = sim.addHost('A', ia.id, hostA);
  const b = sim.addHost('B', ib.id, hostB);
  return { sim, a, b, locsA: ia.all, locsB: ib.all };
}

/** The kinds of packets sent so far, e.g. ['I1', 'R1', 'I2', 'R2']. */
export function kinds(sim: Simulation, from?: string): string[] {
  return sim.packets().filter((p) => from === undefined || sim.network.owner(p.src) === from).map((p) => packetKind(p.bytes));
}

/** Packets of one kind. */
export function packetsOf(sim: Simulation, kind: string): SimPacket[] {
  return sim.packets().filter((p) => packetKind(p.bytes) === kind);
}

/** A predicate for `network.dropNext`: packets of this kind. */
export function isKind(kind: string): (p: SimPacket) => boolean {
  return (p) => packetKind(p.bytes) === kind;
}

/** The one context of `host` with `peer`, which must exist. */
export function ctxOf(host: SimHost, peer: SimHost, fii = 0): ShimContext {
  const c = host.context(peer.ulid, { fii });
  expect(c, `${host.name} has a context with ${peer.name}`).toBeDefined();
  return c!;
}

/** Both contexts ESTABLISHED and each side's CT(peer) is the other's CT(local). */
export function expectEstablished(a: SimHost, b: SimHost, fii = 0): { ca: ShimContext; cb: ShimContext } {
  const ca = ctxOf(a, b, fii);
  const cb = ctxOf(b, a, fii);
  expect(ca.state).toBe('ESTABLISHED');
  expect(cb.state).toBe('ESTABLISHED');
  expect(ca.ctPeer).toBe(cb.ctLocal);
  expect(cb.ctPeer).toBe(ca.ctLocal);
  return { ca, cb };
}

/** The addresses of a locator set, as strings comparable with toEqual. */
export function addresses(set: readonly { readonly address: Uint8Array }[]): string[] {
  return set.map((l) => Buffer.from(l.address).toString('hex'));
}

/** The transcript as a commit-ready file: one line per event, a final newline. */
export function transcriptText(sim: Simulation): string {
  return `${sim.transcript().join('\n')}\n`;
}
