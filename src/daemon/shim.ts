/**
 * The context engine (RFC 5533) and REAP (RFC 5534) on real I/O: the part of shim6d that
 * turns the sans-I/O `ShimEngine` into a running shim.
 *
 *   data plane  --control message / unknown tag-->  engine.receive        (§12.4)
 *   data plane  --ICMPv6 error about our I1-->       engine.receiveIcmp    (§7.8)
 *   kernel path --per-pair packet counters (nft)-->  engine.traffic        (§4, RFC 5534 §3)
 *   data plane  --TCP retransmissions (per context)--> engine.ulpRetransmit (RFC 5534 §3.3)
 *   netlink     --address/link events-->             setLocalLocators, localLocatorDown/Up
 *   engine actions: send -> raw socket; fast-path -> data plane (+ the policy rule);
 *                   notify -> log and the failover record
 *   one timer at engine.nextDeadline()
 *
 * Activity reaches REAP once per poll interval from counters, never per packet: a full
 * context step costs about 2.7 µs (BENCHMARKS.md, REAP), and the kernel carries the
 * packets of a context on its ULID pair without the daemon seeing them. The counters
 * come from nftables sets keyed by (local ULID, peer) that the kernel updates for every
 * packet (src/io/nft-traffic.ts), so the sent/received signals cover both paths.
 *
 * Everything outside (data plane, clock, traffic counters, timers) is injected; tests
 * drive this with fakes and a virtual clock.
 */
import type { CryptoProvider, RandomSource } from '../crypto/provider.js';
import type { LocalIdentity, ShimContext } from '../context/types.js';
import type { FastPathContext } from '../dataplane/types.js';
import type { FlowLabelConfig } from '../engine/flow-labels.js';
import { encodeAction, ShimEngine, type EngineAction, type SavedContext } from '../engine/engine.js';
import { thresholdPolicy, type EstablishPolicy } from '../engine/policy.js';
import type { ReapConfig } from '../reap/constants.js';
import type { LocatorPair } from '../reap/types.js';
import { addressKey, unicastProblem } from '../wire/address.js';
import { bytesEqual } from '../wire/bytes.js';
import { IPPROTO_SHIM6 } from '../wire/constants.js';
import type { Locator } from '../wire/options/index.js';
import type { TrafficSample } from '../io/nft-traffic.js';

export type { TrafficSample };
import { emitPayloadHeader } from '../wire/payload.js';

/** IPv6 No Next Header (RFC 8200 §4.7). */
const NO_NEXT_HEADER = 59;

/**
 * Whether the interval's last packet went out: then its sends are unanswered so far and
 * REAP must see them after the receipts (RFC 5534 §6: the Send Timer runs from a send
 * that no receipt followed). Without timestamps, receipts are taken as the later event.
 */
function sentLast(s: TrafficSample): boolean {
  return s.lastSentAgoMs !== undefined && s.lastReceivedAgoMs !== undefined && s.lastSentAgoMs < s.lastReceivedAgoMs;
}

/** What the shim needs from the data plane. */
export interface ShimDataPlane {
  addContext(ctx: FastPathContext): void;
  removeContext(name: string): void;
  setCurrentPair(name: string, local: Uint8Array, peer: Uint8Array): void;
  /** Per-context TCP retransmissions seen on egress (a counter that only grows), or undefined without the context. */
  retransmits(name: string): number | undefined;
  /** Sends complete IPv6 packets through the marked raw socket; returns how many the kernel took. */
  sendControl(packets: readonly Uint8Array[]): number;
}

export interface ShimOptions {
  readonly identity: LocalIdentity;
  readonly provider: CryptoProvider;
  readonly random: RandomSource;
  readonly reap: Partial<ReapConfig>;
  readonly establish: { readonly auto: boolean; readonly afterPackets: number; readonly afterMs: number };
  /** EXPERIMENTAL flow-label demultiplexing (issue #8): present turns it on. */
  readonly flowLabel?: Partial<FlowLabelConfig>;
  readonly dataPlane: ShimDataPlane;
  /** Milliseconds, monotonic. */
  readonly now: () => number;
  /** Called after the data plane's pair of a context changed, so the daemon can bring its policy rule in line. */
  readonly onPairChange: (name: string) => void;
  /** Called for every notification and send failure (the daemon logs them). */
  readonly onEvent: (event: ShimEvent) => void;
  /** Every control packet sent or received (the pcap tap). */
  readonly onPacket?: (packet: Uint8Array, direction: 'sent' | 'received') => void;
  readonly setTimer?: (f: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
}

export type ShimEvent =
  | { readonly kind: 'notify'; readonly event: string; readonly name: string; readonly ctx: ShimContext; readonly detail: string | undefined }
  | { readonly kind: 'send-failed'; readonly src: string; readonly dst: string; readonly message: string }
  | { readonly kind: 'data-plane-refused'; readonly name: string; readonly error: string };

/** A failover as the operator sees it (`shim6 contexts`). */
export interface FailoverView {
  /** Wall-clock milliseconds. */
  readonly at: number;
  readonly durationMs: number | null;
  readonly from: LocatorPair;
  readonly to: LocatorPair;
  readonly reason: string;
}

/** The daemon's name for an engine context. */
export function contextName(id: number): string {
  return `ctx${id}`;
}

function fastPathOf(ctx: ShimContext): FastPathContext {
  const local = [ctx.ulidLocal];
  for (const l of ctx.lsLocal) if (!local.some((a) => bytesEqual(a, l.address))) local.push(l.address);
  const peer = [ctx.ulidPeer];
  for (const l of ctx.lsPeer) if (!peer.some((a) => bytesEqual(a, l.address))) peer.push(l.address);
  if (!local.some((a) => bytesEqual(a, ctx.lpLocal))) local.push(ctx.lpLocal);
  if (!peer.some((a) => bytesEqual(a, ctx.lpPeer))) peer.push(ctx.lpPeer);
  return {
    name: contextName(ctx.id),
    localUlid: ctx.ulidLocal,
    peerUlid: ctx.ulidPeer,
    localLocators: local,
    peerLocators: peer,
    localContextTag: ctx.ctLocal,
    peerContextTag: ctx.ctPeer!,
    currentLocal: ctx.lpLocal,
    currentPeer: ctx.lpPeer,
    localFlowLabel: ctx.flowLabelLocal ?? 0,
    peerFlowLabel: ctx.flowLabelPeer ?? 0,
  };
}

function sameSets(a: FastPathContext, b: FastPathContext): boolean {
  const same = (x: readonly Uint8Array[], y: readonly Uint8Array[]): boolean => x.length === y.length && x.every((v, i) => bytesEqual(v, y[i]!));
  return a.localContextTag === b.localContextTag && a.peerContextTag === b.peerContextTag && same(a.localLocators, b.localLocators) && same(a.peerLocators, b.peerLocators) &&
    a.localFlowLabel === b.localFlowLabel && a.peerFlowLabel === b.peerFlowLabel;
}

/** A 40-octet IPv6 header in front of `body` (what the raw socket took away). */
export function ipv6Packet(src: Uint8Array, dst: Uint8Array, nextHeader: number, body: Uint8Array): Uint8Array {
  const p = new Uint8Array(40 + body.length);
  p[0] = 0x60;
  p[4] = body.length >> 8;
  p[5] = body.length & 0xff;
  p[6] = nextHeader;
  p[7] = 64;
  p.set(src, 8);
  p.set(dst, 24);
  p.set(body, 40);
  return p;
}

const NEVER: EstablishPolicy = { shouldEstablish: () => false };

/** Per-context bookkeeping the engine does not keep. */
interface Tracked {
  installed: FastPathContext | undefined;
  retransmits: number;
  failovers: number;
  lastFailover: FailoverView | undefined;
  reapSince: number;
  reapState: string | undefined;
}

export class Shim {
  readonly engine: ShimEngine;
  #identity: LocalIdentity;
  /** The locators of the HBA set as generated: what may come back after a removal. */
  readonly #allLocators: readonly Locator[];
  readonly #o: ShimOptions;
  readonly #tracked = new Map<number, Tracked>();
  #establish: ShimOptions['establish'];
  #timer: unknown;
  #timerAt: number | undefined;
  #closed = false;
  readonly #counters = new Map<string, number>();
  readonly #wallOffset: number;
  /** Local addresses not locally operational (RFC 5534 §3.2). */
  readonly #down = new Set<string>();
  /** Every address of the HBA set (the ULID is one): traffic between them needs no shim. */
  readonly #own: ReadonlySet<string>;

  constructor(o: ShimOptions) {
    this.#o = o;
    this.#identity = o.identity;
    this.#allLocators = o.identity.locators;
    this.#own = new Set([o.identity.ulid, ...o.identity.locators.map((l) => l.address)].map((a) => addressKey(a)));
    this.#establish = o.establish;
    this.#wallOffset = Date.now() - o.now();
    const policy: EstablishPolicy = {
      shouldEstablish: (stats, now) => (this.#establish.auto ? thresholdPolicy(this.#establish.afterPackets, this.#establish.afterMs) : NEVER).shouldEstablish(stats, now),
    };
    this.engine = new ShimEngine({ identities: [o.identity], provider: o.provider, random: o.random, reap: o.reap, establishPolicy: policy, ...(o.flowLabel === undefined ? {} : { flowLabel: o.flowLabel }) });
  }

  get identity(): LocalIdentity {
    return this.#identity;
  }

  /** Daemon-level counters: `send.failed`, `poll.samples`, `netlink.*`, ... */
  counters(): Record<string, number> {
    return Object.fromEntries([...this.#counters].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  count(name: string, n = 1): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + n);
  }

  /** Establishment settings can change on reload. */
  setEstablish(e: ShimOptions['establish']): void {
    this.#establish = e;
  }

  /** Wall-clock milliseconds for a monotonic `now`. */
  wall(t: number): number {
    return Math.round(t + this.#wallOffset);
  }

  failover(id: number): { failovers: number; last: FailoverView | undefined; reapSince: number | undefined } {
    const t = this.#tracked.get(id);
    return { failovers: t?.failovers ?? 0, last: t?.lastFailover, reapSince: t === undefined ? undefined : this.wall(t.reapSince) };
  }

  // ---- inputs ----

  /** A Shim6 control message from the data plane (src, dst, Shim6 header onward). */
  control(src: Uint8Array, dst: Uint8Array, message: Uint8Array): void {
    const packet = ipv6Packet(src, dst, IPPROTO_SHIM6, message);
    this.#o.onPacket?.(packet, 'received');
    this.engine.receive(packet, this.#o.now());
    this.pump();
  }

  /** An ICMPv6 error about one of our control messages (a peer without Shim6 answers an I1 with Parameter Problem, RFC 5533 §7.8). */
  icmpError(packet: Uint8Array): void {
    this.engine.receiveIcmp(packet, this.#o.now());
    this.pump();
  }

  /** A payload packet with a tag no installed context has: the engine answers with R1bis (§7.17). */
  unknownTag(tag: number, src: Uint8Array, dst: Uint8Array): void {
    const ext = new Uint8Array(8);
    emitPayloadHeader({ nextHeader: NO_NEXT_HEADER, receiverContextTag: tag }, ext); // the engine needs only the tag
    this.engine.receive(ipv6Packet(src, dst, IPPROTO_SHIM6, ext), this.#o.now());
    this.pump();
  }

  /** Counter deltas from the kernel path and the data plane, once per poll interval. */
  traffic(samples: readonly TrafficSample[]): void {
    const now = this.#o.now();
    const own = this.#own;
    for (const s of samples) {
      if (s.local.length !== 16 || s.peer.length !== 16) { this.count('poll.bad-sample'); continue; }
      // Traffic to ourselves needs no shim; multicast, link-local and the like cannot have a context.
      if (own.has(addressKey(s.peer)) || unicastProblem(s.peer) !== undefined) continue;
      // Both in one interval: in the order of their last packets (RFC 5534 §6.1-6.2).
      if (s.sent > 0 && s.received > 0 && sentLast(s)) {
        this.engine.traffic(s.local, s.peer, s.received, now, 0, 'received');
        this.engine.traffic(s.local, s.peer, s.sent, now, 0, 'sent');
        continue;
      }
      if (s.sent > 0) this.engine.traffic(s.local, s.peer, s.sent, now, 0, 'sent');
      if (s.received > 0) this.engine.traffic(s.local, s.peer, s.received, now, 0, 'received');
    }
    this.count('poll.samples', samples.length);
    for (const [id, t] of this.#tracked) {
      if (t.installed === undefined) continue;
      const n = this.#o.dataPlane.retransmits(t.installed.name);
      if (n === undefined || n <= t.retransmits) continue;
      t.retransmits = n;
      const ctx = this.engine.context(id);
      if (ctx !== undefined) this.engine.ulpRetransmit(ctx.ulidLocal, ctx.ulidPeer, now, ctx.fii);
    }
    this.pump();
  }

  /** A local address went away or came back (netlink), or its link changed. */
  addressChanged(address: Uint8Array, present: boolean): void {
    const i = this.#allLocators.findIndex((l) => bytesEqual(l.address, address));
    if (i < 0) return;
    const now = this.#o.now();
    const has = this.#identity.locators.some((l) => bytesEqual(l.address, address));
    if (present && !has) {
      // Back in Ls(local), in the set's order (§10.1: an Update Request tells the peer).
      const locators = this.#allLocators.filter((l) => bytesEqual(l.address, address) || this.#identity.locators.some((x) => bytesEqual(x.address, l.address)));
      this.#identity = { ...this.#identity, locators };
      this.engine.setLocalLocators(this.#identity.ulid, locators, undefined, now);
      this.count('locators.added');
    } else if (!present && has && !bytesEqual(address, this.#identity.ulid)) {
      // The ULID stays in Ls(local) (it names the context); any other locator leaves it.
      const locators = this.#identity.locators.filter((l) => !bytesEqual(l.address, address));
      this.#identity = { ...this.#identity, locators };
      this.engine.setLocalLocators(this.#identity.ulid, locators, undefined, now);
      this.count('locators.removed');
    }
    this.linkChanged(address, present);
  }

  /** RFC 5534 §3.2: whether a local address is locally operational (link up and address present). */
  linkChanged(address: Uint8Array, up: boolean): void {
    if (!this.#allLocators.some((l) => bytesEqual(l.address, address))) return;
    const now = this.#o.now();
    if (up) this.#down.delete(addressKey(address));
    else this.#down.add(addressKey(address));
    if (up) this.engine.localLocatorUp(address, now);
    else this.engine.localLocatorDown(address, now);
    this.pump();
  }

  establish(peer: Uint8Array, local?: Uint8Array): ReturnType<ShimEngine['establish']> {
    const r = this.engine.establish(local ?? this.#identity.ulid, peer, this.#o.now());
    this.pump();
    return r;
  }

  explore(id: number): boolean {
    const r = this.engine.explore(id, this.#o.now());
    this.pump();
    return r;
  }

  setCurrentPair(id: number, local: Uint8Array, peer: Uint8Array): boolean {
    const r = this.engine.setCurrentPair(id, local, peer, this.#o.now());
    this.pump();
    return r;
  }

  adopt(saved: readonly SavedContext[]): { adopted: number; refused: Record<string, number> } {
    const refused: Record<string, number> = {};
    let adopted = 0;
    for (const s of saved) {
      const r = this.engine.adopt(s, this.#o.now());
      if (r.ok) adopted++;
      else refused[r.code] = (refused[r.code] ?? 0) + 1;
    }
    this.pump();
    return { adopted, refused };
  }

  /** Stops the timer; the engine keeps its state (for `exportContexts`). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) (this.#o.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout)))(this.#timer);
    this.#timer = undefined;
  }

  // ---- actions ----

  /** Applies the engine's actions and re-arms the timer. */
  pump(): void {
    if (this.#closed) return;
    try {
      this.#apply();
    } finally {
      this.#arm(); // whatever happened above, the next deadline is never lost
    }
  }

  #apply(): void {
    const actions = this.engine.takeActions();
    const sends: Uint8Array[] = [];
    for (const a of actions) {
      if (a.kind === 'send') {
        let p: Uint8Array;
        try {
          p = encodeAction(a);
        } catch {
          this.count('send.encode-failed');
          continue;
        }
        sends.push(p);
        this.#o.onPacket?.(p, 'sent');
      } else if (a.kind === 'fast-path') {
        this.#fastPath(a.op, a.ctx);
      } else {
        this.#notify(a);
      }
    }
    if (sends.length > 0) {
      let n = 0;
      try {
        n = this.#o.dataPlane.sendControl(sends);
      } catch (e) {
        this.#o.onEvent({ kind: 'send-failed', src: '', dst: '', message: e instanceof Error ? e.message : String(e) });
      }
      this.count('send.packets', n);
      if (n < sends.length) this.count('send.failed', sends.length - n);
    }
  }

  #arm(): void {
    const d = this.engine.nextDeadline();
    if (d === this.#timerAt && this.#timer !== undefined) return;
    const clear = this.#o.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
    if (this.#timer !== undefined) clear(this.#timer);
    this.#timer = undefined;
    this.#timerAt = d;
    if (d === undefined) return;
    const set = this.#o.setTimer ?? ((f, ms) => setTimeout(f, ms));
    this.#timer = set(() => {
      this.#timer = undefined;
      this.#timerAt = undefined;
      if (this.#closed) return;
      this.engine.tick(this.#o.now());
      this.pump();
    }, Math.max(0, Math.ceil(d - this.#o.now())));
  }

  #track(id: number): Tracked {
    let t = this.#tracked.get(id);
    if (t === undefined) {
      t = { installed: undefined, retransmits: 0, failovers: 0, lastFailover: undefined, reapSince: this.#o.now(), reapState: undefined };
      this.#tracked.set(id, t);
    }
    return t;
  }

  #fastPath(op: 'install' | 'update' | 'remove', ctx: ShimContext): void {
    const dp = this.#o.dataPlane;
    const t = this.#track(ctx.id);
    const name = contextName(ctx.id);
    try {
      if (op === 'remove' || ctx.ctPeer === undefined) {
        if (t.installed !== undefined) dp.removeContext(name);
        this.#tracked.delete(ctx.id);
        this.#o.onPairChange(name);
        return;
      }
      const want = fastPathOf(ctx);
      const had = t.installed;
      if (had !== undefined && sameSets(had, want)) {
        if (!bytesEqual(had.currentLocal, want.currentLocal) || !bytesEqual(had.currentPeer, want.currentPeer)) dp.setCurrentPair(name, want.currentLocal, want.currentPeer);
      } else {
        if (had !== undefined) dp.removeContext(name);
        t.installed = undefined;
        dp.addContext(want);
        t.retransmits = dp.retransmits(name) ?? 0;
      }
      t.installed = want;
      this.#o.onPairChange(name);
    } catch (e) {
      this.count('dataplane.refused');
      this.#o.onEvent({ kind: 'data-plane-refused', name, error: e instanceof Error ? e.message : String(e) });
    }
  }

  #notify(a: EngineAction & { kind: 'notify' }): void {
    const ctx = a.ctx;
    const t = this.#tracked.get(ctx.id);
    const now = this.#o.now();
    if (t !== undefined && ctx.reap !== undefined && ctx.reap.state !== t.reapState) {
      t.reapState = ctx.reap.state;
      t.reapSince = now;
    }
    if ((a.event === 'failover' || a.event === 'failback') && t !== undefined) {
      t.failovers++;
      const r = ctx.reap?.lastFailover;
      t.lastFailover = r === undefined
        ? { at: this.wall(now), durationMs: null, from: { local: ctx.lpLocal, peer: ctx.lpPeer }, to: { local: ctx.lpLocal, peer: ctx.lpPeer }, reason: a.event }
        : { at: this.wall(r.at), durationMs: r.durationMs, from: r.from, to: r.to, reason: r.reason };
    }
    if (a.event === 'removed') this.#tracked.delete(ctx.id);
    this.#o.onEvent({ kind: 'notify', event: a.event, name: contextName(ctx.id), ctx, detail: a.detail });
  }

  isDown(address: Uint8Array): boolean {
    return this.#down.has(addressKey(address));
  }

  /** A context by the daemon's name (`ctx7`) or number (`7`). */
  find(name: string): ShimContext | undefined {
    const m = /^(?:ctx)?([0-9]{1,9})$/.exec(name);
    return m === null ? undefined : this.engine.context(Number(m[1]));
  }

  /** Contexts in a STATE, for status. */
  byState(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.engine.contexts()) out[c.state] = (out[c.state] ?? 0) + 1;
    return out;
  }
}
