/**
 * Simulated hosts. A `SimHost` runs a `ShimEngine` on the simulated network with a
 * seeded random stream, and plays the parts of a host around it:
 *
 * - the fast path: 'fast-path' actions fill a small table (by ULID pair and FII, and by
 *   CT(local)); an application `send` between ULIDs goes out plainly when there is no
 *   context or Lp equals the ULIDs, and otherwise with the Payload Extension header
 *   carrying CT(peer), from Lp(local) to Lp(peer) (RFC 5533 §11, §12.1);
 * - receiving (§12.2-12.4): a payload packet whose tag is in the table and whose source is
 *   in Ls(peer) is delivered with the ULIDs restored; any other Shim6 packet goes to
 *   `engine.receive`, ICMPv6 to `engine.receiveIcmp`; plain application data to a ULID is
 *   delivered and reported to `engine.traffic`;
 * - after each input, the actions are drained: 'send' goes to the network, 'notify' to the
 *   transcript, and one wakeup is armed at `engine.nextDeadline()` to call `tick`.
 *
 * A host can crash (losing all engine and fast-path state) and reboot with the same
 * identities and a new engine, for the recovery scenarios of §7.5.
 *
 * Application data is IPv6 Next Header 253 (experimental, RFC 3692) followed by bytes
 * (`packets.ts`); hosts without Shim6 are `LegacyHost` (`legacy.ts`).
 */
import { hasAddress } from '../context/locators.js';
import type { LocalIdentity, ShimContext } from '../context/types.js';
import { encodeAction, ShimEngine, type EngineAction, type EngineOptions, type EstablishOutcome } from '../engine/engine.js';
import { ulidKey } from '../engine/tables.js';
import { bytesEqual } from '../wire/bytes.js';
import type { Locator, LocatorPreference } from '../wire/options/index.js';
import { encodePayloadPacket } from '../wire/packet.js';
import type { EventHandle, VirtualClock } from './clock.js';
import type { SimNetwork, SimPacket } from './network.js';
import type { SeededRandom } from './random.js';
import { SimError } from './errors.js';
import { classify, plainPacket } from './packets.js';
import { formatTag, IPPROTO_EXPERIMENT, packetKind, type Transcript } from './transcript.js';

/** What a host needs from its simulation. */
export interface SimEnvironment {
  readonly clock: VirtualClock;
  readonly network: SimNetwork;
  readonly transcript: Transcript;
  label(address: Uint8Array): string;
  /** An independent seeded stream for `label`. */
  random(label: string): SeededRandom;
}

/** Engine settings of a host: `EngineOptions` without the random source, which the simulation seeds. */
export type SimHostOptions = Omit<EngineOptions, 'random' | 'verifySignature'>;

/** Application data handed to a host's application. */
export interface Delivery {
  readonly at: number;
  readonly ulidLocal: Uint8Array;
  readonly ulidPeer: Uint8Array;
  readonly data: Uint8Array;
  /** The CT(local) of the Payload Extension header it came with, or undefined when it came plainly. */
  readonly contextTag: number | undefined;
}

/** Ticks at one instant before the simulator decides a deadline never advances. */
const LIVELOCK_TICKS = 1000;

/** A host running the Shim6 engine. */
export class SimHost {
  readonly name: string;
  /** Application data delivered to this host, in order. */
  readonly inbox: Delivery[] = [];
  /** Called for each delivery (after it is added to `inbox`). */
  onDeliver: ((d: Delivery) => void) | undefined;
  /** Called for each 'notify' action of the engine (established, e-failed, ...), at the virtual time it happens. */
  onNotify: ((n: EngineAction & { kind: 'notify' }, now: number) => void) | undefined;
  readonly #env: SimEnvironment;
  readonly #opts: SimHostOptions;
  #identities: LocalIdentity[];
  #engine: ShimEngine | undefined;
  #boots = 0;
  readonly #fastPath = new Map<number, ShimContext>();
  readonly #byTag = new Map<number, number>();
  readonly #byPair = new Map<string, number>();
  #wakeup: EventHandle | undefined;
  #lastTickAt = -1;
  #ticksAtInstant = 0;
  readonly #dropped = { whileDown: 0, unknown: 0 };

  constructor(name: string, env: SimEnvironment, opts: SimHostOptions) {
    if (opts.identities.length === 0) throw new SimError('bad-argument', `host "${name}" needs at least one identity`);
    this.name = name;
    this.#env = env;
    this.#opts = opts;
    this.#identities = [...opts.identities];
    const addresses: Uint8Array[] = [];
    for (const id of this.#identities) {
      for (const a of [id.ulid, ...id.locators.map((l) => l.address)]) if (!addresses.some((x) => bytesEqual(x, a))) addresses.push(a);
    }
    env.network.attach(name, addresses, (bytes, packet) => this.#receive(bytes, packet));
    this.#engine = this.#newEngine();
  }

  /** The running engine; throws while the host is down. */
  get engine(): ShimEngine {
    if (this.#engine === undefined) throw new SimError('host-down', `host ${this.name} is down`);
    return this.#engine;
  }

  /** False between `crash` and `reboot`. */
  get up(): boolean {
    return this.#engine !== undefined;
  }

  /** How many times the host has rebooted. */
  get boots(): number {
    return this.#boots;
  }

  /** The host's identities (ULIDs and their locator sets) as currently configured. */
  get identities(): readonly LocalIdentity[] {
    return this.#identities;
  }

  /** The first identity's ULID. */
  get ulid(): Uint8Array {
    return this.#identities[0]!.ulid;
  }

  /** Every address the host owns on the network. */
  get addresses(): readonly Uint8Array[] {
    return this.#env.network.addresses(this.name);
  }

  /** Packets that arrived while the host was down. */
  get droppedWhileDown(): number {
    return this.#dropped.whileDown;
  }

  /** The fast-path table: contexts the engine installed, by id. */
  fastPath(): ReadonlyMap<number, ShimContext> {
    return this.#fastPath;
  }

  /** The context for a ULID pair (first identity's ULID unless `ulidLocal` is given). */
  context(ulidPeer: Uint8Array, opts: { readonly ulidLocal?: Uint8Array; readonly fii?: number } = {}): ShimContext | undefined {
    return this.#engine?.findByUlids(opts.ulidLocal ?? this.ulid, ulidPeer, opts.fii ?? 0);
  }

  /** Asks the engine for a context with `ulidPeer` (RFC 5533 §7.7). */
  establish(ulidPeer: Uint8Array, opts: { readonly ulidLocal?: Uint8Array; readonly fii?: number; readonly lpLocal?: Uint8Array; readonly lpPeer?: Uint8Array } = {}): EstablishOutcome {
    const { ulidLocal, ...rest } = opts;
    const r = this.engine.establish(ulidLocal ?? this.ulid, ulidPeer, this.#env.clock.now, rest);
    this.#pump();
    return r;
  }

  /** Removes a context at once. */
  teardown(id: number, reason?: string): boolean {
    const r = this.engine.teardown(id, this.#env.clock.now, reason);
    this.#pump();
    return r;
  }

  /** Switches a context's current locator pair (what REAP will do). */
  setCurrentPair(id: number, lpLocal: Uint8Array, lpPeer: Uint8Array): boolean {
    const r = this.engine.setCurrentPair(id, lpLocal, lpPeer, this.#env.clock.now);
    this.#pump();
    return r;
  }

  /**
   * Changes Ls(local) of one ULID (§10.1): new addresses join the host on the network
   * (old ones stay reachable, as a host keeps an address it no longer advertises).
   */
  setLocalLocators(ulidLocal: Uint8Array, locators: readonly Locator[], preferences?: readonly LocatorPreference[]): void {
    const i = this.#identities.findIndex((id) => bytesEqual(id.ulid, ulidLocal));
    if (i < 0) throw new SimError('no-identity', `host ${this.name} has no ULID ${this.#env.label(ulidLocal)}`);
    for (const l of locators) this.#env.network.addAddress(this.name, l.address);
    const { preferences: _omitted, ...rest } = this.#identities[i]!;
    this.#identities[i] = { ...rest, locators, ...(preferences === undefined ? {} : { preferences }) };
    this.engine.setLocalLocators(ulidLocal, locators, preferences, this.#env.clock.now);
    this.#pump();
  }

  /**
   * Sends application data from ULID(local) to `ulidPeer` through the fast path, and
   * reports it to the engine as ULP traffic.
   */
  send(ulidPeer: Uint8Array, data: Uint8Array, opts: { readonly ulidLocal?: Uint8Array; readonly fii?: number } = {}): void {
    const engine = this.engine;
    const ulidLocal = opts.ulidLocal ?? this.ulid;
    const now = this.#env.clock.now;
    const id = this.#byPair.get(ulidKey(ulidLocal, ulidPeer, opts.fii ?? 0));
    const ctx = id === undefined ? undefined : this.#fastPath.get(id);
    const rewrite = ctx !== undefined && ctx.ctPeer !== undefined && (!bytesEqual(ctx.lpLocal, ulidLocal) || !bytesEqual(ctx.lpPeer, ulidPeer));
    const packet = rewrite
      ? encodePayloadPacket({ source: ctx.lpLocal, destination: ctx.lpPeer }, ctx.ctPeer!, IPPROTO_EXPERIMENT, data)
      : plainPacket(ulidLocal, ulidPeer, data);
    this.#env.network.send(packet);
    engine.traffic(ulidLocal, ulidPeer, 1, now, opts.fii ?? 0, 'sent');
    this.#pump();
  }

  /**
   * The link of a local address went down (`up` false) or came back: the network stops
   * (or resumes) carrying packets from and to it, and the engine hears the local signal
   * (RFC 5534 §3.2), as netlink tells the daemon.
   */
  setLinkState(address: Uint8Array, up: boolean): void {
    this.#env.network.setAddressDown(address, !up);
    this.#env.transcript.add(this.#env.clock.now, `${this.name} LINK ${this.#env.label(address)} ${up ? 'UP' : 'DOWN'}`);
    if (up) this.engine.localLocatorUp(address, this.#env.clock.now);
    else this.engine.localLocatorDown(address, this.#env.clock.now);
    this.#pump();
  }

  /** The application's transport retransmitted to `ulidPeer` (what the data plane's TCP detector reports). */
  ulpRetransmit(ulidPeer: Uint8Array, opts: { readonly ulidLocal?: Uint8Array; readonly fii?: number } = {}): void {
    this.engine.ulpRetransmit(opts.ulidLocal ?? this.ulid, ulidPeer, this.#env.clock.now, opts.fii ?? 0);
    this.#pump();
  }

  /** Starts a REAP exploration on a context now (the operator's `shim6 explore`). */
  explore(id: number): boolean {
    const r = this.engine.explore(id, this.#env.clock.now);
    this.#pump();
    return r;
  }

  /** Loses all state at once: the engine, the fast path, pending timers. Packets that arrive are dropped. */
  crash(): void {
    if (this.#engine === undefined) return;
    this.#engine = undefined;
    this.#fastPath.clear();
    this.#byTag.clear();
    this.#byPair.clear();
    if (this.#wakeup !== undefined) this.#env.clock.cancel(this.#wakeup);
    this.#wakeup = undefined;
    this.#env.transcript.add(this.#env.clock.now, `${this.name} CRASH`);
  }

  /** Starts a fresh engine with the same identities (and a new random stream). */
  reboot(): void {
    if (this.#engine !== undefined) this.crash();
    this.#boots++;
    this.#engine = this.#newEngine();
    this.#env.transcript.add(this.#env.clock.now, `${this.name} REBOOT`);
  }

  #newEngine(): ShimEngine {
    const o = this.#opts;
    return new ShimEngine({
      identities: this.#identities,
      provider: o.provider,
      random: this.#env.random(`host:${this.name}#${this.#boots}`),
      ...(o.config === undefined ? {} : { config: o.config }),
      ...(o.policy === undefined ? {} : { policy: o.policy }),
      ...(o.reap === undefined ? {} : { reap: o.reap }),
      ...(o.establishPolicy === undefined ? {} : { establishPolicy: o.establishPolicy }),
      ...(o.mode === undefined ? {} : { mode: o.mode }),
      ...(o.profile === undefined ? {} : { profile: o.profile }),
    });
  }

  #receive(bytes: Uint8Array, packet: SimPacket): void {
    const now = this.#env.clock.now;
    const engine = this.#engine;
    if (engine === undefined) {
      this.#dropped.whileDown++;
      this.#env.transcript.add(now, `${this.name} down: drops ${packetKind(bytes)} from ${this.#env.label(packet.src)}`);
      return;
    }
    const c = classify(bytes);
    switch (c.kind) {
      case 'payload': {
        const id = this.#byTag.get(c.tag);
        const ctx = id === undefined ? undefined : this.#fastPath.get(id);
        if (ctx !== undefined && (bytesEqual(packet.src, ctx.ulidPeer) || hasAddress(ctx.lsPeer, packet.src)) && (bytesEqual(packet.dst, ctx.ulidLocal) || hasAddress(ctx.lsLocal, packet.dst))) {
          // The data plane notes the packet before the application sees (and answers) it.
          engine.traffic(ctx.ulidLocal, ctx.ulidPeer, 1, now, ctx.fii, 'received');
          this.#deliver({ at: now, ulidLocal: ctx.ulidLocal, ulidPeer: ctx.ulidPeer, data: c.data.slice(), contextTag: c.tag });
        } else {
          engine.receive(bytes, now);
        }
        break;
      }
      case 'control':
        engine.receive(bytes, now);
        break;
      case 'icmp':
        engine.receiveIcmp(bytes, now);
        break;
      case 'data': {
        if (this.#identities.some((id) => bytesEqual(id.ulid, packet.dst))) engine.traffic(packet.dst, packet.src, 1, now, 0, 'received');
        this.#deliver({ at: now, ulidLocal: packet.dst, ulidPeer: packet.src, data: c.data.slice(), contextTag: undefined });
        break;
      }
      case 'other':
        this.#dropped.unknown++;
        break;
    }
    this.#pump();
  }

  #deliver(d: Delivery): void {
    this.inbox.push(d);
    const via = d.contextTag === undefined ? '' : ` via ct=${formatTag(d.contextTag)}`;
    this.#env.transcript.add(d.at, `${this.name} deliver ${this.#env.label(d.ulidPeer)}→${this.#env.label(d.ulidLocal)} len=${d.data.length}${via}`);
    this.onDeliver?.(d);
  }

  /** Drains the engine's actions and re-arms the wakeup. */
  #pump(): void {
    const engine = this.#engine;
    if (engine === undefined) return;
    for (const a of engine.takeActions()) this.#apply(a);
    this.#arm(engine.nextDeadline());
  }

  #apply(a: EngineAction): void {
    const now = this.#env.clock.now;
    switch (a.kind) {
      case 'send':
        this.#env.network.send(encodeAction(a));
        return;
      case 'fast-path':
        this.#applyFastPath(a.op, a.ctx);
        return;
      case 'notify':
        if (this.#env.transcript.enabled) this.#env.transcript.add(now, this.#describeNotify(a));
        this.onNotify?.(a, now);
        return;
    }
  }

  #applyFastPath(op: 'install' | 'update' | 'remove', ctx: ShimContext): void {
    const old = this.#fastPath.get(ctx.id);
    if (old !== undefined) {
      if (this.#byTag.get(old.ctLocal) === ctx.id) this.#byTag.delete(old.ctLocal);
      const k = ulidKey(old.ulidLocal, old.ulidPeer, old.fii);
      if (this.#byPair.get(k) === ctx.id) this.#byPair.delete(k);
      this.#fastPath.delete(ctx.id);
    }
    if (op === 'remove') return;
    this.#fastPath.set(ctx.id, ctx);
    this.#byTag.set(ctx.ctLocal, ctx.id);
    this.#byPair.set(ulidKey(ctx.ulidLocal, ctx.ulidPeer, ctx.fii), ctx.id);
  }

  #describeNotify(a: EngineAction & { kind: 'notify' }): string {
    const c = a.ctx;
    const l = this.#env.label;
    let s = `${this.name} ${a.event.toUpperCase()} ${l(c.ulidLocal)}~${l(c.ulidPeer)}`;
    if (c.fii !== 0) s += ` fii=${c.fii}`;
    s += ` ct(local)=${formatTag(c.ctLocal)} ct(peer)=${formatTag(c.ctPeer)}`;
    if (a.event === 'peer-locators-changed' || a.event === 'established' || a.event === 'recovered') s += ` ls(peer)=[${c.lsPeer.map((p) => l(p.address)).join(',')}]`;
    if (a.detail !== undefined) s += ` (${a.detail})`;
    return s;
  }

  #arm(deadline: number | undefined): void {
    const clock = this.#env.clock;
    if (deadline === undefined) {
      if (this.#wakeup !== undefined) clock.cancel(this.#wakeup);
      this.#wakeup = undefined;
      return;
    }
    const at = Math.max(deadline, clock.now);
    if (this.#wakeup !== undefined) {
      if (this.#wakeup.time === at) return;
      clock.cancel(this.#wakeup);
    }
    this.#wakeup = clock.schedule(at, () => {
      this.#wakeup = undefined;
      this.#tick();
    });
  }

  #tick(): void {
    const engine = this.#engine;
    if (engine === undefined) return;
    const now = this.#env.clock.now;
    if (now === this.#lastTickAt) {
      if (++this.#ticksAtInstant > LIVELOCK_TICKS) throw new SimError('timer-livelock', `host ${this.name}: nextDeadline() stays at t=${now} after ${LIVELOCK_TICKS} ticks`);
    } else {
      this.#lastTickAt = now;
      this.#ticksAtInstant = 0;
    }
    engine.tick(now);
    this.#pump();
  }
}
