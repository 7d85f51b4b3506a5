/**
 * A seeded, deterministic Shim6 simulation: a virtual clock, an in-memory network with
 * fault injection, and hosts that run the engine. Everything random (tags, nonces,
 * validator secrets, HBA modifiers made with `random`, loss and delay draws) comes from
 * one seed, so a run is reproducible: the transcript and the capture are the same bytes
 * every time.
 *
 * Each host and the network draw from their own stream forked from the seed by name, so
 * adding a host or a fault does not change what the other hosts draw.
 */
import type { ReapConfig } from '../reap/constants.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { nodeCryptoProvider } from '../crypto/provider-node.js';
import type { ContextConfig } from '../context/constants.js';
import type { ContextPolicy, LocalIdentity } from '../context/types.js';
import type { EstablishPolicy } from '../engine/engine.js';
import { encodePcap, LinkType } from '../io/pcap.js';
import { formatIpv6 } from '../wire/address.js';
import type { VerificationMethodProfile } from '../wire/verification-method.js';
import { VirtualClock, type EventHandle } from './clock.js';
import { SimError } from './errors.js';
import { SimHost, type SimEnvironment } from './host.js';
import { LegacyHost, type LegacyBehaviour } from './legacy.js';
import { addressKey } from '../wire/address.js';
import { SimNetwork, type LinkProfile, type PacketFate, type SimPacket } from './network.js';
import { SeededRandom } from './random.js';
import { describePacket, Transcript } from './transcript.js';

export interface SimulationOptions {
  /** The seed of every random draw, 0..2^32-1. */
  readonly seed: number;
  /** Engine configuration for every host (a host may override fields). */
  readonly config?: Partial<ContextConfig>;
  readonly policy?: Partial<ContextPolicy>;
  /** REAP for every host (RFC 5534; default profile `fast`, src/reap/constants.ts). */
  readonly reap?: Partial<ReapConfig>;
  /** Default 'table4'. */
  readonly profile?: VerificationMethodProfile;
  /** Default node:crypto. */
  readonly provider?: CryptoProvider;
  /** The profile of links no rule names (default 10 ms, no loss). */
  readonly link?: LinkProfile;
  /** Record the transcript (default true). */
  readonly transcript?: boolean;
  /** Keep every packet for `pcap()` and `packets()` (default true). */
  readonly capture?: boolean;
}

/** Per-host settings on top of the simulation's. */
export interface AddHostOptions {
  readonly config?: Partial<ContextConfig>;
  readonly policy?: Partial<ContextPolicy>;
  readonly reap?: Partial<ReapConfig>;
  readonly establishPolicy?: EstablishPolicy;
  readonly mode?: 'initiate' | 'respond-only';
}

/** A simulation run. */
export class Simulation {
  readonly seed: number;
  readonly clock = new VirtualClock();
  readonly network: SimNetwork;
  /** The root stream; `random.fork(label)` gives independent streams (e.g. for HBA generation). */
  readonly random: SeededRandom;
  readonly provider: CryptoProvider;
  readonly #opts: SimulationOptions;
  readonly #transcript: Transcript;
  readonly #capture: boolean;
  readonly #packets: SimPacket[] = [];
  readonly #hosts = new Map<string, SimHost | LegacyHost>();
  readonly #labels = new Map<string, string>();
  readonly #env: SimEnvironment;

  constructor(opts: SimulationOptions) {
    this.#opts = opts;
    this.random = new SeededRandom(opts.seed);
    this.seed = opts.seed;
    this.provider = opts.provider ?? nodeCryptoProvider;
    this.network = new SimNetwork(this.clock, this.random.fork('network'), opts.link);
    this.#transcript = new Transcript(opts.transcript !== false);
    this.#capture = opts.capture !== false;
    this.network.onPacket((f) => this.#onPacket(f));
    this.#env = {
      clock: this.clock,
      network: this.network,
      transcript: this.#transcript,
      label: (a) => this.label(a),
      random: (label) => this.random.fork(label),
    };
  }

  /** The current virtual time in milliseconds. */
  get now(): number {
    return this.clock.now;
  }

  /** Adds a Shim6 host with one or more identities (ULIDs with their locators). */
  addHost(name: string, identity: LocalIdentity | readonly LocalIdentity[], opts: AddHostOptions = {}): SimHost {
    const identities = Array.isArray(identity) ? (identity as readonly LocalIdentity[]) : [identity as LocalIdentity];
    this.#checkName(name);
    const config = this.#opts.config === undefined && opts.config === undefined ? undefined : { ...this.#opts.config, ...opts.config };
    const policy = this.#opts.policy === undefined && opts.policy === undefined ? undefined : { ...this.#opts.policy, ...opts.policy };
    const reap = this.#opts.reap === undefined && opts.reap === undefined ? undefined : { ...this.#opts.reap, ...opts.reap };
    const host = new SimHost(name, this.#env, {
      identities,
      provider: this.provider,
      ...(config === undefined ? {} : { config }),
      ...(policy === undefined ? {} : { policy }),
      ...(reap === undefined ? {} : { reap }),
      ...(opts.establishPolicy === undefined ? {} : { establishPolicy: opts.establishPolicy }),
      ...(opts.mode === undefined ? {} : { mode: opts.mode }),
      ...(this.#opts.profile === undefined ? {} : { profile: this.#opts.profile }),
    });
    this.#register(name, host);
    return host;
  }

  /** Adds a host without Shim6 that answers Shim6 packets with ICMPv6 Parameter Problem ('icmp') or not at all ('silent'). */
  addLegacyHost(name: string, addresses: readonly Uint8Array[], behaviour: LegacyBehaviour = 'icmp'): LegacyHost {
    this.#checkName(name);
    const host = new LegacyHost(name, this.#env, addresses, behaviour);
    this.#register(name, host);
    return host;
  }

  /** The host named `name`. */
  host(name: string): SimHost {
    const h = this.#hosts.get(name);
    if (!(h instanceof SimHost)) throw new SimError('bad-argument', `no Shim6 host "${name}"`);
    return h;
  }

  /** Every host, in the order added. */
  hosts(): (SimHost | LegacyHost)[] {
    return [...this.#hosts.values()];
  }

  /** The transcript label of an address: `A` for host A's first address, `A.2`, `A.3`... for the others; RFC 5952 text otherwise. */
  label(address: Uint8Array): string {
    const k = addressKey(address);
    const l = this.#labels.get(k);
    if (l !== undefined) return l;
    const owner = this.network.owner(address);
    if (owner === undefined) return formatIpv6(address);
    this.#relabel(owner);
    return this.#labels.get(k) ?? formatIpv6(address);
  }

  /** Runs `fn` at virtual time `at` (a fault change, an application send, a crash...). */
  at(at: number, fn: () => void): EventHandle {
    return this.clock.schedule(at, fn);
  }

  /** Runs `fn` `delayMs` from now. */
  after(delayMs: number, fn: () => void): EventHandle {
    return this.clock.after(delayMs, fn);
  }

  /** Runs every event up to virtual time `untilMs`, then sets the clock there. */
  run(untilMs: number): void {
    this.clock.runUntil(untilMs);
  }

  /** Runs for `ms` more milliseconds. */
  runFor(ms: number): void {
    this.clock.runUntil(this.clock.now + ms);
  }

  /**
   * Runs event by event until `pred()` holds (checked before the first event and after
   * each) or the clock would pass `limitMs`. Returns whether `pred` held; the clock stays
   * at the last event run (or moves to `limitMs` when the predicate never held).
   */
  runUntil(pred: () => boolean, limitMs: number): boolean {
    if (pred()) return true;
    while (this.clock.step(limitMs)) {
      if (pred()) return true;
    }
    if (this.clock.now < limitMs) this.clock.runUntil(limitMs);
    return false;
  }

  /** Adds a free-form line to the transcript (a scenario's own milestones). */
  note(text: string): void {
    this.#transcript.add(this.clock.now, `# ${text}`);
  }

  /** Puts a packet on the network now as if its source had sent it (forged or replayed packets). */
  inject(bytes: Uint8Array): PacketFate {
    return this.network.send(bytes.slice());
  }

  /** The transcript lines so far. */
  transcript(): string[] {
    return this.#transcript.lines();
  }

  /** Every packet put on the network so far (when capture is on). */
  packets(): readonly SimPacket[] {
    return this.#packets;
  }

  /**
   * Every packet put on the network (lost ones too) with its virtual send time, as a
   * classic pcap file of raw IPv6 (LINKTYPE_IPV6 by default; LINKTYPE_RAW on request).
   * Time 0 of the run is the Unix epoch.
   */
  pcap(linkType: typeof LinkType.IPV6 | typeof LinkType.RAW = LinkType.IPV6): Uint8Array {
    return encodePcap(
      this.#packets.map((p) => ({ data: p.bytes, timestampSeconds: Math.floor(p.sentAt / 1000), timestampNanos: Math.round((p.sentAt % 1000) * 1e6) })),
      { linkType, nanosecond: true },
    );
  }

  #onPacket(f: PacketFate): void {
    if (this.#capture) this.#packets.push(f.packet);
    if (!this.#transcript.enabled) return;
    let s = describePacket(f.packet.bytes, (a) => this.label(a));
    if (f.dropped === 'loss') s += ' lost';
    else if (f.dropped !== undefined) s += ` lost (${f.dropped})`;
    else if (f.arrivals.length > 1) s += ' dup';
    this.#transcript.add(f.packet.sentAt, s);
  }

  #checkName(name: string): void {
    if (this.#hosts.has(name)) throw new SimError('bad-argument', `host "${name}" already exists`);
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new SimError('bad-argument', `host name "${name}" must be letters, digits, '_' or '-'`);
  }

  #register(name: string, host: SimHost | LegacyHost): void {
    this.#hosts.set(name, host);
    this.#relabel(name);
  }

  #relabel(host: string): void {
    this.network.addresses(host).forEach((a, i) => {
      const k = addressKey(a);
      if (!this.#labels.has(k)) this.#labels.set(k, i === 0 ? host : `${host}.${i + 1}`);
    });
  }
}
