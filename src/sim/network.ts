/**
 * An in-memory IPv6 network for the simulator: named hosts own addresses, and a packet
 * from source address S to destination address D reaches D's owner after a delay. It
 * routes on the IPv6 header alone (octets 8-39); it never inspects or changes the rest.
 *
 * Faults, all drawn from one seeded stream in event order, so a run is reproducible:
 * - link profiles per direction: loss probability, base delay plus uniform jitter,
 *   reordering (a fraction of packets gets an extra random delay), duplication, and
 *   `down` (a unidirectional failure: S→D down while D→S is up). A profile applies to an
 *   address pair, or to every address of a host, or to any endpoint (`'*'`); when several
 *   match, each field comes from the most specific one (address beats host beats any;
 *   the later rule wins a tie);
 * - partitions: groups of hosts that cannot reach hosts of other groups;
 * - address down: an ISP failure, every packet from or to the address is lost;
 * - drop filters: drop the next packets that match a predicate (e.g. "the next I2"),
 *   for scenario tests.
 * Faults can change at any virtual time; `at` schedules a change. Packets already in
 * flight are not affected by a later change.
 *
 * Counters per directed address pair: sent, delivered, lost (every drop reason) and
 * duplicated; totals by drop reason.
 */
import { addressKey, formatIpv6, parseIpv6 } from '../wire/address.js';
import type { EventHandle, VirtualClock } from './clock.js';
import type { SeededRandom } from './random.js';

/** How packets fare on a directed link. Omitted fields keep the value of a less specific profile. */
export interface LinkProfile {
  /** Probability that a packet is lost, 0..1. */
  readonly loss?: number;
  /** Base one-way delay in milliseconds. */
  readonly delayMs?: number;
  /** The delay is drawn uniformly from delayMs ± jitterMs (never below 0). */
  readonly jitterMs?: number;
  /** Fraction of packets, 0..1, that get an extra delay uniform in [0, reorderExtraMs]: they overtake or are overtaken. */
  readonly reorder?: number;
  readonly reorderExtraMs?: number;
  /** Probability, 0..1, that a delivered packet is delivered twice (each copy with its own delay). */
  readonly duplicate?: number;
  /** Every packet is lost (a failed link in this direction only). */
  readonly down?: boolean;
}

export type ResolvedLinkProfile = { readonly [K in keyof LinkProfile]-?: NonNullable<LinkProfile[K]> };

/** The profile of a link no rule names: 10 ms, no loss. */
export const DEFAULT_LINK: ResolvedLinkProfile = { loss: 0, delayMs: 10, jitterMs: 0, reorder: 0, reorderExtraMs: 0, duplicate: 0, down: false };

/**
 * One end of a link rule: a host name, an IPv6 address in text form (anything with a
 * ':'), or '*' (any). Host names never contain ':'.
 */
export type Endpoint = string;

export interface LinkSelector {
  /** Default '*'. */
  readonly from?: Endpoint;
  /** Default '*'. */
  readonly to?: Endpoint;
}

/** Why the network did not deliver a packet. */
export type NetworkDropReason = 'no-route' | 'address-down' | 'partition' | 'link-down' | 'filtered' | 'loss';

/** A packet put on the network. */
export interface SimPacket {
  /** Order in which packets were sent, from 0. */
  readonly seq: number;
  readonly sentAt: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** The whole IPv6 packet as sent. */
  readonly bytes: Uint8Array;
}

/** What happened to a packet, decided when it was sent. */
export interface PacketFate {
  readonly packet: SimPacket;
  /** Set when the packet was dropped. */
  readonly dropped?: NetworkDropReason;
  /** Arrival times of the copies that will be delivered (two when duplicated). */
  readonly arrivals: readonly number[];
}

export interface LinkCounters {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
}

/** Receives a packet addressed to one of the host's addresses. `bytes` is the receiver's own copy. */
export type PacketReceiver = (bytes: Uint8Array, packet: SimPacket) => void;

type EndpointMatch = { readonly kind: 'any' } | { readonly kind: 'host'; readonly host: string } | { readonly kind: 'address'; readonly key: string };

interface Rule {
  readonly from: EndpointMatch;
  readonly to: EndpointMatch;
  readonly id: string;
  readonly score: number;
  order: number;
  profile: LinkProfile;
}

interface Filter {
  readonly match: (p: SimPacket) => boolean;
  remaining: number;
}

function parseEndpoint(e: Endpoint | undefined): EndpointMatch {
  if (e === undefined || e === '*') return { kind: 'any' };
  if (e.includes(':')) {
    const a = parseIpv6(e);
    if (a === undefined) throw new RangeError(`"${e}" is not an IPv6 address`);
    return { kind: 'address', key: addressKey(a) };
  }
  if (e.length === 0) throw new RangeError('an endpoint is a host name, an IPv6 address or "*"');
  return { kind: 'host', host: e };
}

function endpointScore(m: EndpointMatch): number {
  return m.kind === 'address' ? 2 : m.kind === 'host' ? 1 : 0;
}

function endpointId(m: EndpointMatch): string {
  return m.kind === 'any' ? '*' : m.kind === 'host' ? `h:${m.host}` : `a:${m.key}`;
}

function checkProfile(p: LinkProfile): void {
  for (const k of ['loss', 'reorder', 'duplicate'] as const) {
    const v = p[k];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`link ${k} must be a probability in 0..1, got ${v}`);
  }
  for (const k of ['delayMs', 'jitterMs', 'reorderExtraMs'] as const) {
    const v = p[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`link ${k} must be a finite number >= 0, got ${v}`);
  }
}

function emptyCounters(): LinkCounters {
  return { sent: 0, delivered: 0, lost: 0, duplicated: 0 };
}

/** The simulated network. Time comes from the clock; randomness from the seeded stream. */
export class SimNetwork {
  readonly #clock: VirtualClock;
  readonly #random: SeededRandom;
  #defaults: ResolvedLinkProfile;
  readonly #owners = new Map<string, string>();
  readonly #receivers = new Map<string, PacketReceiver>();
  readonly #addresses = new Map<string, Uint8Array[]>();
  readonly #rules = new Map<string, Rule>();
  #ruleOrder = 0;
  readonly #addressDown = new Set<string>();
  #partition = new Map<string, number>();
  #filters: Filter[] = [];
  readonly #links = new Map<string, LinkCounters>();
  readonly #totals = { ...emptyCounters(), dropped: {} as Record<NetworkDropReason, number> };
  readonly #listeners: ((f: PacketFate) => void)[] = [];
  #seq = 0;

  constructor(clock: VirtualClock, random: SeededRandom, defaults: LinkProfile = {}) {
    checkProfile(defaults);
    this.#clock = clock;
    this.#random = random;
    this.#defaults = { ...DEFAULT_LINK, ...defaults };
  }

  /** Connects a host: packets to any of `addresses` go to `receive`. */
  attach(host: string, addresses: readonly Uint8Array[], receive: PacketReceiver): void {
    if (host.length === 0 || host.includes(':') || /\s/.test(host) || host === '*') throw new RangeError(`bad host name "${host}": no ':', no spaces, not '*'`);
    if (this.#receivers.has(host)) throw new RangeError(`host "${host}" is already attached`);
    for (const a of addresses) {
      const owner = a.length === 16 ? this.#owners.get(addressKey(a)) : undefined;
      if (owner !== undefined) throw new RangeError(`${formatIpv6(a)} already belongs to "${owner}"`);
    }
    this.#receivers.set(host, receive);
    this.#addresses.set(host, []);
    for (const a of addresses) this.addAddress(host, a);
  }

  /** Gives `host` another address (a new locator). */
  addAddress(host: string, address: Uint8Array): void {
    const list = this.#addresses.get(host);
    if (list === undefined) throw new RangeError(`no host "${host}"`);
    if (address.length !== 16) throw new RangeError('an IPv6 address is 16 octets');
    const k = addressKey(address);
    const owner = this.#owners.get(k);
    if (owner !== undefined && owner !== host) throw new RangeError(`${formatIpv6(address)} already belongs to "${owner}"`);
    if (owner === host) return;
    this.#owners.set(k, host);
    list.push(address.slice());
  }

  /** The host that owns `address`, if any. */
  owner(address: Uint8Array): string | undefined {
    return this.#owners.get(addressKey(address));
  }

  /** A host's addresses in the order they were added. */
  addresses(host: string): readonly Uint8Array[] {
    return this.#addresses.get(host) ?? [];
  }

  /** Sets the profile of the links `sel` names (replacing an earlier rule for the same selector). */
  setLink(sel: LinkSelector, profile: LinkProfile): void {
    checkProfile(profile);
    const from = parseEndpoint(sel.from);
    const to = parseEndpoint(sel.to);
    const id = `${endpointId(from)}>${endpointId(to)}`;
    this.#rules.set(id, { from, to, id, score: endpointScore(from) + endpointScore(to), order: this.#ruleOrder++, profile: { ...profile } });
  }

  /** Removes the rule set for exactly this selector; true if there was one. */
  clearLink(sel: LinkSelector): boolean {
    return this.#rules.delete(`${endpointId(parseEndpoint(sel.from))}>${endpointId(parseEndpoint(sel.to))}`);
  }

  /** Changes the profile of links no rule names. */
  setDefaults(profile: LinkProfile): void {
    checkProfile(profile);
    this.#defaults = { ...this.#defaults, ...profile };
  }

  /** A unidirectional failure: packets from `from` to `to` are lost (or, with `down` false, flow again). */
  setLinkDown(from: Endpoint, to: Endpoint, down = true): void {
    const id = `${endpointId(parseEndpoint(from))}>${endpointId(parseEndpoint(to))}`;
    const rule = this.#rules.get(id);
    this.setLink({ from, to }, { ...(rule?.profile ?? {}), down });
  }

  /** An ISP failure: every packet from or to `address` (IPv6 text or octets) is lost while down. */
  setAddressDown(address: string | Uint8Array, down = true): void {
    const a = typeof address === 'string' ? parseIpv6(address) : address;
    if (a === undefined || a.length !== 16) throw new RangeError(`"${String(address)}" is not an IPv6 address`);
    if (down) this.#addressDown.add(addressKey(a));
    else this.#addressDown.delete(addressKey(a));
  }

  /** Splits the hosts into groups that cannot reach each other; hosts in no group are unaffected. Replaces any earlier partition. */
  partition(...groups: readonly (readonly string[])[]): void {
    const m = new Map<string, number>();
    groups.forEach((g, i) => {
      for (const h of g) {
        if (m.has(h)) throw new RangeError(`host "${h}" is in two partition groups`);
        m.set(h, i);
      }
    });
    this.#partition = m;
  }

  /** Ends the partition. */
  heal(): void {
    this.#partition = new Map();
  }

  /** Drops the next `count` packets for which `match` is true; returns a function that removes the filter. */
  dropNext(match: (p: SimPacket) => boolean, count = 1): () => void {
    const f: Filter = { match, remaining: count };
    this.#filters.push(f);
    return () => {
      this.#filters = this.#filters.filter((x) => x !== f);
    };
  }

  /** Runs a fault change at virtual time `at`. */
  at(at: number, change: () => void): EventHandle {
    return this.#clock.schedule(at, change);
  }

  /** Calls `listener` for every packet sent, with its fate. */
  onPacket(listener: (f: PacketFate) => void): void {
    this.#listeners.push(listener);
  }

  /** The effective profile from `src` to `dst`. */
  profile(src: Uint8Array, dst: Uint8Array): ResolvedLinkProfile {
    const sk = addressKey(src);
    const dk = addressKey(dst);
    const so = this.#owners.get(sk);
    const dOwner = this.#owners.get(dk);
    const matches = (m: EndpointMatch, key: string, owner: string | undefined): boolean =>
      m.kind === 'any' || (m.kind === 'host' ? m.host === owner : m.key === key);
    const hits: Rule[] = [];
    for (const r of this.#rules.values()) if (matches(r.from, sk, so) && matches(r.to, dk, dOwner)) hits.push(r);
    if (hits.length === 0) return this.#defaults;
    hits.sort((a, b) => a.score - b.score || a.order - b.order);
    let p: ResolvedLinkProfile = this.#defaults;
    for (const r of hits) p = { ...p, ...Object.fromEntries(Object.entries(r.profile).filter(([, v]) => v !== undefined)) };
    return p;
  }

  /**
   * Puts a whole IPv6 packet on the network (source and destination from its header).
   * The network keeps `bytes`; callers must not change them afterwards.
   */
  send(bytes: Uint8Array): PacketFate {
    if (bytes.length < 40 || bytes[0]! >>> 4 !== 6) throw new RangeError('the network carries whole IPv6 packets (40-octet header first)');
    const now = this.#clock.now;
    const packet: SimPacket = { seq: this.#seq++, sentAt: now, src: bytes.slice(8, 24), dst: bytes.slice(24, 40), bytes };
    const fate = this.#decide(packet, now);
    const c = this.#counters(packet);
    c.sent++;
    this.#totals.sent++;
    if (fate.dropped !== undefined) {
      c.lost++;
      this.#totals.lost++;
      this.#totals.dropped[fate.dropped] = (this.#totals.dropped[fate.dropped] ?? 0) + 1;
    } else if (fate.arrivals.length > 1) {
      c.duplicated++;
      this.#totals.duplicated++;
    }
    for (const l of this.#listeners) l(fate);
    if (fate.dropped === undefined) {
      const host = this.#owners.get(addressKey(packet.dst))!;
      const receive = this.#receivers.get(host)!;
      for (const t of fate.arrivals) {
        this.#clock.schedule(t, () => {
          // A packet in flight to an address whose link went down meanwhile is lost there.
          if (this.#addressDown.has(addressKey(packet.dst))) {
            c.lost++;
            this.#totals.lost++;
            this.#totals.dropped['address-down'] = (this.#totals.dropped['address-down'] ?? 0) + 1;
            return;
          }
          c.delivered++;
          this.#totals.delivered++;
          receive(bytes.slice(), packet);
        });
      }
    }
    return fate;
  }

  #decide(packet: SimPacket, now: number): PacketFate {
    const dstOwner = this.#owners.get(addressKey(packet.dst));
    if (dstOwner === undefined) return { packet, dropped: 'no-route', arrivals: [] };
    if (this.#addressDown.has(addressKey(packet.src)) || this.#addressDown.has(addressKey(packet.dst))) return { packet, dropped: 'address-down', arrivals: [] };
    const srcOwner = this.#owners.get(addressKey(packet.src));
    if (srcOwner !== undefined) {
      const gs = this.#partition.get(srcOwner);
      const gd = this.#partition.get(dstOwner);
      if (gs !== undefined && gd !== undefined && gs !== gd) return { packet, dropped: 'partition', arrivals: [] };
    }
    const p = this.profile(packet.src, packet.dst);
    if (p.down) return { packet, dropped: 'link-down', arrivals: [] };
    for (const f of this.#filters) {
      if (f.remaining > 0 && f.match(packet)) {
        f.remaining--;
        if (f.remaining === 0) this.#filters = this.#filters.filter((x) => x !== f);
        return { packet, dropped: 'filtered', arrivals: [] };
      }
    }
    if (this.#random.chance(p.loss)) return { packet, dropped: 'loss', arrivals: [] };
    const arrivals = [now + this.#delay(p)];
    if (this.#random.chance(p.duplicate)) arrivals.push(now + this.#delay(p));
    return { packet, arrivals };
  }

  /** One delay sample in whole milliseconds. */
  #delay(p: ResolvedLinkProfile): number {
    let d = p.delayMs;
    if (p.jitterMs > 0) d += (this.#random.unit() * 2 - 1) * p.jitterMs;
    if (this.#random.chance(p.reorder) && p.reorderExtraMs > 0) d += this.#random.unit() * p.reorderExtraMs;
    return Math.max(0, Math.round(d));
  }

  #counters(p: SimPacket): LinkCounters {
    const k = `${addressKey(p.src)}${addressKey(p.dst)}`;
    let c = this.#links.get(k);
    if (c === undefined) {
      c = emptyCounters();
      this.#links.set(k, c);
    }
    return c;
  }

  /** Counters of the directed link from `src` to `dst` (zeros if it never carried a packet). */
  linkCounters(src: Uint8Array | string, dst: Uint8Array | string): Readonly<LinkCounters> {
    const a = typeof src === 'string' ? parseIpv6(src) : src;
    const b = typeof dst === 'string' ? parseIpv6(dst) : dst;
    if (a === undefined || b === undefined) throw new RangeError('linkCounters takes two IPv6 addresses');
    return { ...(this.#links.get(`${addressKey(a)}${addressKey(b)}`) ?? emptyCounters()) };
  }

  /** Every directed link that carried a packet, with its counters. */
  links(): { readonly src: Uint8Array; readonly dst: Uint8Array; readonly counters: Readonly<LinkCounters> }[] {
    const out: { src: Uint8Array; dst: Uint8Array; counters: LinkCounters }[] = [];
    const bytesOf = (s: string, off: number): Uint8Array => Uint8Array.from({ length: 16 }, (_, i) => s.charCodeAt(off + i));
    for (const [k, c] of this.#links) out.push({ src: bytesOf(k, 0), dst: bytesOf(k, 16), counters: { ...c } });
    return out;
  }

  /** Totals over all links, with drops by reason. */
  totals(): Readonly<LinkCounters & { dropped: Readonly<Partial<Record<NetworkDropReason, number>>> }> {
    return { ...this.#totals, dropped: { ...this.#totals.dropped } };
  }
}
