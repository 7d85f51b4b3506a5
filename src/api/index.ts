/**
 * The library API for experiments with Shim6 (RFC 5533): build hosts from prefixes,
 * connect them through a seeded simulated network, inject faults, and read transcripts
 * and packet captures. Also re-exports the engine and the context types for tools that
 * drive the engine themselves.
 *
 * ```ts
 * const sim = createSimulation({ seed: 1 });
 * const a = await addHbaHost(sim, 'A', ['2001:db8:1::/64', '2001:db8:2::/64']);
 * const b = await addHbaHost(sim, 'B', ['2001:db8:3::/64']);
 * sim.network.setLink({ from: 'A', to: 'B' }, { loss: 0.1, delayMs: 20, jitterMs: 10 });
 * a.establish(b.ulid);
 * sim.run(10_000);
 * console.log(sim.transcript().join('\n'));
 * ```
 */
import { generateKeyPair } from '../crypto/keys.js';
import type { AddHostOptions, SimulationOptions } from '../sim/simulation.js';
import { Simulation } from '../sim/simulation.js';
import type { SimHost } from '../sim/host.js';
import { createCgaIdentity, createHbaIdentity, parsePrefix, type Prefix } from './identity.js';

/** A new seeded simulation (see `SimulationOptions`: seed, engine config and policy, default link, transcript and capture switches). */
export function createSimulation(opts: SimulationOptions): Simulation {
  return new Simulation(opts);
}

/** Adds a host whose one ULID is an HBA set (Sec 0) over `prefixes`, generated from the simulation's seed. */
export async function addHbaHost(sim: Simulation, name: string, prefixes: readonly Prefix[], opts: AddHostOptions = {}): Promise<SimHost> {
  const identity = await createHbaIdentity(prefixes, sim.random.fork(`hba:${name}`), sim.provider);
  return sim.addHost(name, identity, opts);
}

/**
 * Adds a host whose ULID is a CGA for a fresh 1024-bit RSA key under `prefix`, with the
 * other prefixes' addresses (interface identifier ::1) as CGA-signed locators. The key
 * comes from node:crypto, so it differs between runs: the transcript of such a host is
 * reproducible only in its structure, not in its bytes.
 */
export async function addCgaHost(sim: Simulation, name: string, prefix: Prefix, otherPrefixes: readonly Prefix[] = [], opts: AddHostOptions = {}): Promise<SimHost> {
  const extra = otherPrefixes.map((p) => {
    const a = new Uint8Array(16);
    a.set(parsePrefix(p), 0);
    a[15] = 1;
    return a;
  });
  const identity = await createCgaIdentity(prefix, generateKeyPair('rsa', 1024), extra, sim.random.fork(`cga:${name}`), sim.provider);
  return sim.addHost(name, identity, opts);
}

/** Identity builders: HBA sets and CGAs from /64 prefixes (RFC 5535, RFC 3972). */
export { createCgaIdentity, createHbaIdentity, parsePrefix, type CgaIdentityOptions, type IdentityOptions, type Prefix } from './identity.js';
/** The one error class of the simulator and this API, with a `code`. */
export { SimError } from '../sim/errors.js';
/** The simulator: simulation, hosts, network with faults, clock, seeded random, transcript helpers. */
export { Simulation, type AddHostOptions, type SimulationOptions } from '../sim/simulation.js';
/** Simulated hosts running the engine. */
export { SimHost, type Delivery, type SimHostOptions } from '../sim/host.js';
/** A host without Shim6, and the ICMPv6 error its stack sends. */
export { LegacyHost, type LegacyBehaviour } from '../sim/legacy.js';
export { parameterProblem } from '../sim/packets.js';
/** The simulated network and its fault model. */
export { DEFAULT_LINK, SimNetwork, type Endpoint, type LinkCounters, type LinkProfile, type LinkSelector, type NetworkDropReason, type PacketFate, type SimPacket } from '../sim/network.js';
/** Virtual time. */
export { VirtualClock, type EventHandle } from '../sim/clock.js';
/** The seeded generator (also a RandomSource for crypto). */
export { SeededRandom } from '../sim/random.js';
/** Transcript formatting, reusable on captured packets. */
export { describeMessage, describePacket, formatNonce, formatTag, packetKind, Transcript } from '../sim/transcript.js';
/** The sans-I/O engine (RFC 5533 §12). */
export { encodeAction, ShimEngine, type EngineAction, type EngineOptions, type EstablishOutcome, type EstablishPolicy, type TrafficStats } from '../engine/engine.js';
/** The context model (RFC 5533 §6): STATES, the context record, identities, policy hooks. */
export { ContextState, DEFAULT_POLICY, type ContextAction, type ContextPolicy, type LocalIdentity, type NotifyEvent, type PeerLocator, type ShimContext } from '../context/types.js';
/** Protocol and implementation constants (RFC 5533 §14) and the configuration they fill. */
export { DEFAULT_CONFIG, resolveConfig, type ContextConfig } from '../context/constants.js';
/** Key generation for CGA identities. */
export { generateKeyPair, type KeyPair } from '../crypto/keys.js';
