/**
 * The sans-I/O Shim6 node (RFC 5533 §12): it owns a host's context tables, dispatches
 * every received control message, payload packet with an unknown tag, and ICMPv6 error
 * to the right context by the lookup rules of §12.4, runs the stateless responder (R1,
 * R1bis), detects context confusion (§7.15), bounds its state, and collects the actions
 * of every step. The daemon drives it with real sockets and timers; the simulator with a
 * virtual clock. Time comes in as `now` (milliseconds); nothing here reads a clock.
 *
 * The engine is a mutable object that routes events; the protocol logic per context is
 * the pure `step` of `src/context/machine.ts`.
 *
 * Bounds (a forged or malformed packet must never grow state): contexts are created only
 * by a valid I2/I2bis (validator checked first) or by our own decision; at most
 * `maxContexts` in total (and never more than the tag space allows) and
 * `maxContextsPerPeer` per ULID(peer); traffic statistics for the heuristic are an LRU of
 * `maxTrafficPairs`; R1bis and Error replies are rate-limited token buckets.
 *
 * REAP (RFC 5534) runs inside each context's step (src/context/reap.ts); the engine feeds
 * it the data plane's activity (`traffic` with a direction), local signals
 * (`localLocatorDown`/`Up`), upper-layer hints (`ulpRetransmit`) and operator requests
 * (`explore`), and caps the probes of all contexts together (`hostProbeRatePerS`).
 * ICMPv6 errors other than Parameter Problem code 1 about our I1 are counted and ignored:
 * REAP's own timers find the failures they signal.
 */
import type { SignatureVerifier } from '../crypto/locator-verification.js';
import type { CryptoProvider, RandomSource } from '../crypto/provider.js';
import { resolveConfig, type ContextConfig } from '../context/constants.js';
import { hasAddress, overlaps, readOptions } from '../context/locators.js';
import { r1bisMessage } from '../context/messages.js';
import { idleContext, nextDeadline, step } from '../context/machine.js';
import { ContextState, DEFAULT_POLICY, type PeerLocator, type ContextAction, type ContextEnv, type ContextInput, type ContextPolicy, type LocalIdentity, type ReceivedControl, type ShimContext, type StepResult } from '../context/types.js';
import { ResponderValidators } from '../context/validator.js';
import { addressKey, isMulticast, isUnspecified, readAddress } from '../wire/address.js';
import { bytesEqual } from '../wire/bytes.js';
import { IPV6_HEADER_LEN } from '../wire/constants.js';
import type { ControlMessage } from '../wire/control.js';
import { makeErrorMessage } from '../wire/messages/error.js';
import type { Locator, LocatorPreference } from '../wire/options/index.js';
import { encodeControlPacket, parsePacket } from '../wire/packet.js';
import type { VerificationMethodProfile } from '../wire/verification-method.js';
import { resolveReapConfig, type ReapConfig } from '../reap/constants.js';
import { initialReap, reapIgnores } from '../reap/machine.js';
import type { ReapEnv } from '../reap/types.js';
import { DeadlineHeap } from './deadlines.js';
import { DEFAULT_ESTABLISH_POLICY, TokenBucket, TrafficTable, type EstablishPolicy } from './policy.js';
import { ContextTable } from './tables.js';
import { FlowLabelAllocator, resolveFlowLabelConfig, type FlowLabelConfig, type FlowLabelStats } from './flow-labels.js';

export type { EstablishPolicy, TrafficStats } from './policy.js';

export interface EngineOptions {
  readonly identities: readonly LocalIdentity[];
  readonly provider: CryptoProvider;
  readonly random: RandomSource;
  readonly config?: Partial<ContextConfig>;
  readonly policy?: Partial<ContextPolicy>;
  /** When ULP traffic justifies a context (default: §4's "more than 50 packets" or 10 s of traffic). */
  readonly establishPolicy?: EstablishPolicy;
  /** 'respond-only' never initiates: for servers that let clients decide (default 'initiate'). */
  readonly mode?: 'initiate' | 'respond-only';
  /** Verification method numbering (default 'table4', see src/wire/verification-method.ts). */
  readonly profile?: VerificationMethodProfile;
  /** Signature check for CGA Signatures (default: the provider's `verify`). */
  readonly verifySignature?: SignatureVerifier;
  /** REAP (RFC 5534): profile `fast` (default), `rfc` or `off`, and any field over it (src/reap/constants.ts). */
  readonly reap?: Partial<ReapConfig>;
  /**
   * EXPERIMENTAL flow-label demultiplexing (issue #8): present turns the mode on
   * (src/context/flow-label.ts; labels from src/engine/flow-labels.ts). Absent: off.
   */
  readonly flowLabel?: Partial<FlowLabelConfig>;
}

export type EngineAction = ContextAction;

/**
 * What survives a restart of the host's shim (RFC 5533 §6.1's context state without
 * timers, nonces in flight or signed options): enough for `adopt` to resume an
 * ESTABLISHED context with the same tags, so the peer's context still matches it.
 */
export interface SavedContext {
  readonly ulidLocal: Uint8Array;
  readonly ulidPeer: Uint8Array;
  readonly fii: number;
  readonly ctLocal: number;
  readonly ctPeer: number;
  /** Ls(local) as last sent to the peer. */
  readonly lsLocal: readonly Locator[];
  readonly genLocal: number;
  readonly lsPeer: readonly PeerLocator[];
  readonly genPeer: number | undefined;
  readonly pdsPeer: Uint8Array | undefined;
  readonly lpLocal: Uint8Array;
  readonly lpPeer: Uint8Array;
  readonly initNonce: number;
  readonly initiator: boolean;
  /** The pair REAP fails back to (RFC 5534 §4.4's "original" pair; the ULIDs at establishment). */
  readonly primaryLocal: Uint8Array;
  readonly primaryPeer: Uint8Array;
  /** The peer's Keepalive Timeout as learnt (RFC 5534 §5.3), and whether it came in milliseconds. */
  readonly peerKeepaliveTimeoutMs: number | undefined;
  readonly peerFine: boolean;
  /** Experimental flow-label mode (issue #8): our advertised label and the peer's; absent when the mode was off. */
  readonly flowLabelLocal?: number;
  readonly flowLabelPeer?: number;
}

export type AdoptOutcome = { readonly ok: true; readonly ctx: ShimContext } | { readonly ok: false; readonly code: 'no-identity' | 'exists' | 'tag-taken' | 'label-taken' | 'bad-context' | 'table-full' | 'peer-limit' };

export type EstablishOutcome =
  | { readonly ok: true; readonly ctx: ShimContext }
  | { readonly ok: false; readonly code: 'no-identity' | 'hold-down' | 'table-full' | 'peer-limit' | 'respond-only' | 'exists'; readonly ctx?: ShimContext };

/** The whole IPv6 packet for a 'send' action. */
export function encodeAction(a: EngineAction & { kind: 'send' }): Uint8Array {
  return encodeControlPacket({ source: a.src, destination: a.dst }, a.message);
}

/** Shared inputs for the per-packet path (no allocation when REAP ignores them). */
const PAYLOAD_SENT = { kind: 'payload-sent' } as const;
const PAYLOAD_RECEIVED = { kind: 'payload-received' } as const;
const REAP_EVENTS: ReadonlySet<string> = new Set(['exploring', 'inbound-ok', 'operational', 'failover', 'failback']);
const ICMPV6 = 58;
const ICMP_PARAMETER_PROBLEM = 4;
const ICMP_UNRECOGNIZED_NEXT_HEADER = 1;
const ICMP_HEADER_LEN = 8;

export class ShimEngine {
  readonly #config: ContextConfig;
  readonly #env: ContextEnv;
  readonly #identities = new Map<string, LocalIdentity>();
  readonly #table = new ContextTable();
  readonly #deadlines = new DeadlineHeap();
  readonly #traffic: TrafficTable;
  readonly #establishPolicy: EstablishPolicy;
  readonly #mode: 'initiate' | 'respond-only';
  readonly #r1bisLimit: TokenBucket;
  readonly #errorLimit: TokenBucket;
  readonly #probeLimit: TokenBucket;
  /** Local addresses that are not locally operational (RFC 5534 §3.2): link down or gone. */
  readonly #downLocal = new Set<string>();
  readonly #counters = new Map<string, number>();
  readonly #maxContexts: number;
  /** Flow-label mode (issue #8): the allocator, and each identity's label pool (identities with overlapping locator sets share one). */
  readonly #labels: FlowLabelAllocator | undefined;
  readonly #labelPool = new Map<string, string>();
  #actions: EngineAction[] = [];
  #nextId = 1;

  constructor(opts: EngineOptions) {
    this.#config = resolveConfig(opts.config);
    const reap = resolveReapConfig(opts.reap);
    for (const id of opts.identities) this.#identities.set(addressKey(id.ulid), id);
    const random = opts.random;
    const randomU32 = (): number => {
      const b = random.bytes(4);
      return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    };
    this.#env = {
      config: this.#config,
      policy: { ...DEFAULT_POLICY, ...opts.policy },
      provider: opts.provider,
      profile: opts.profile ?? 'table4',
      verifySignature: opts.verifySignature ?? ((spki, message, signature) => opts.provider.verify(spki, message, signature)),
      validators: new ResponderValidators(opts.provider, random, this.#config),
      randomU32,
      randomUnit: () => randomU32() / 2 ** 32,
      allocateTag: () => this.#allocateTag(),
      allocateInitNonce: () => {
        for (;;) {
          const n = randomU32();
          if (!this.#table.hasInitNonce(n)) return n;
        }
      },
      identity: (ulid) => this.#identities.get(addressKey(ulid)),
      reap,
      localOperational: (a) => this.#downLocal.size === 0 || !this.#downLocal.has(addressKey(a)),
      ...(opts.flowLabel === undefined ? {} : { flowLabel: { allocate: (ctx: ShimContext, now: number) => this.#allocateLabel(ctx, now) } }),
    };
    this.#labels = opts.flowLabel === undefined ? undefined : new FlowLabelAllocator(resolveFlowLabelConfig(opts.flowLabel), randomU32);
    if (this.#labels !== undefined) this.#buildLabelPools(opts.identities);
    this.#traffic = new TrafficTable(this.#config.maxTrafficPairs);
    this.#establishPolicy = opts.establishPolicy ?? DEFAULT_ESTABLISH_POLICY;
    this.#mode = opts.mode ?? 'initiate';
    this.#r1bisLimit = new TokenBucket(this.#config.r1bisRatePerS);
    this.#errorLimit = new TokenBucket(this.#config.errorRatePerS);
    this.#probeLimit = new TokenBucket(reap.hostProbeRatePerS);
    this.#maxContexts = Math.min(this.#config.maxContexts, 2 ** this.#config.contextTagBits);
  }

  // ---- queries ----

  get size(): number {
    return this.#table.size;
  }

  contexts(): IterableIterator<ShimContext> {
    return this.#table.values();
  }

  context(id: number): ShimContext | undefined {
    return this.#table.get(id);
  }

  findByUlids(ulidLocal: Uint8Array, ulidPeer: Uint8Array, fii = 0): ShimContext | undefined {
    return this.#table.byUlids(ulidLocal, ulidPeer, fii);
  }

  findByLocalTag(tag: number): ShimContext | undefined {
    return this.#table.byCtLocal(tag);
  }

  identities(): LocalIdentity[] {
    return [...this.#identities.values()];
  }

  /** Counters: `rx.<kind>`, `tx.<kind>`, `drop.<reason>`, and the named events below. Values only increase. */
  counters(): Readonly<Record<string, number>> {
    return Object.fromEntries([...this.#counters].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  /** The actions produced since the last call, in order. */
  takeActions(): EngineAction[] {
    const a = this.#actions;
    this.#actions = [];
    return a;
  }

  nextDeadline(): number | undefined {
    return this.#deadlines.peek();
  }

  // ---- inputs ----

  /**
   * A whole IPv6 packet (header first) that carries a Shim6 header: a control message, or
   * a payload packet no fast-path entry accepted. Never throws; bad input is counted.
   */
  receive(packet: Uint8Array, now: number): void {
    const parsed = parsePacket(packet);
    if (!parsed.ok) {
      this.#count(`malformed.${parsed.error.reason}`);
      const reply = parsed.error.reply;
      if (reply !== undefined && packet.length >= IPV6_HEADER_LEN) {
        const src = readAddress(packet, 8);
        const dst = readAddress(packet, 24);
        if (this.#identityOwning(dst) && !isMulticast(src) && !isUnspecified(src)) {
          this.#emitError(dst, src, reply.code, reply.pointer, packet, now);
        }
      }
      return;
    }
    const p = parsed.value;
    const src = p.ipv6.source;
    const dst = p.ipv6.destination;
    const shim = p.shim6;
    if (shim === undefined) {
      this.#count('rx.not-shim6');
      return;
    }
    if (shim.kind === 'payload') {
      this.#count('rx.payload');
      this.#onTagged(shim.header.receiverContextTag, src, dst, undefined, now);
      return;
    }
    const m = shim.message;
    this.#count(`rx.${m.kind}`);
    const rx: ReceivedControl = { src, dst, message: m, packet: packet.subarray(0, p.length), shimOffset: shim.offset };
    switch (m.kind) {
      case 'I1':
      case 'I2':
      case 'I2bis':
        this.#onUlidMessage(rx, now);
        return;
      case 'R1':
      case 'R2':
        this.#onNonceMessage(rx, m.initiatorNonce, now);
        return;
      case 'R1bis': {
        const ctx = this.#findByCtPeer(m.packetContextTag, dst, src);
        if (ctx === undefined) this.#count('drop.no-context');
        else this.#step(ctx, { kind: 'control', rx }, now);
        return;
      }
      case 'UpdateRequest':
      case 'UpdateAck':
      case 'Keepalive':
      case 'Probe':
        this.#onTagged(m.receiverContextTag, src, dst, rx, now);
        return;
      case 'Error':
        this.#onError(rx, now);
        return;
    }
  }

  /**
   * A whole ICMPv6 error packet (IPv6 header first). Parameter Problem code 1 (Unrecognized
   * Next Header) about an I1 we sent moves that context to NO-SUPPORT (§7.8); the I1's
   * nonce must match, so an off-path forger cannot do it. Others are counted.
   */
  receiveIcmp(packet: Uint8Array, now: number): void {
    if (packet.length < IPV6_HEADER_LEN + ICMP_HEADER_LEN + IPV6_HEADER_LEN || packet[6] !== ICMPV6) {
      this.#count('icmp.malformed');
      return;
    }
    const type = packet[IPV6_HEADER_LEN]!;
    const code = packet[IPV6_HEADER_LEN + 1]!;
    if (type !== ICMP_PARAMETER_PROBLEM || code !== ICMP_UNRECOGNIZED_NEXT_HEADER) {
      this.#count('icmp.ignored');
      return;
    }
    const inner = packet.subarray(IPV6_HEADER_LEN + ICMP_HEADER_LEN);
    const parsed = parsePacket(inner, 0, inner.length, { verifyChecksum: false, checkAddresses: false });
    const m = parsed.ok && parsed.value.shim6?.kind === 'control' ? parsed.value.shim6.message : undefined;
    if (!parsed.ok || m === undefined || m.kind !== 'I1') {
      this.#count('icmp.unmatched');
      return;
    }
    const ctx = this.#table.byCtLocal(m.initiatorContextTag);
    if (ctx === undefined || ctx.state !== ContextState.I1_SENT || ctx.initNonce !== m.initiatorNonce || !bytesEqual(parsed.value.ipv6.destination, ctx.lpPeer)) {
      this.#count('icmp.unmatched');
      return;
    }
    this.#count('icmp.no-support');
    this.#step(ctx, { kind: 'icmp-no-support' }, now);
  }

  /** Starts the four-way exchange for a ULID pair (the explicit API; the heuristic uses it too). */
  establish(ulidLocal: Uint8Array, ulidPeer: Uint8Array, now: number, opts: { readonly fii?: number; readonly lpLocal?: Uint8Array; readonly lpPeer?: Uint8Array } = {}): EstablishOutcome {
    if (this.#mode === 'respond-only') return { ok: false, code: 'respond-only' };
    const identity = this.#env.identity(ulidLocal);
    if (identity === undefined) return { ok: false, code: 'no-identity' };
    const fii = opts.fii ?? 0;
    const existing = this.#table.byUlids(ulidLocal, ulidPeer, fii);
    if (existing !== undefined) {
      const holdDown = existing.state === ContextState.E_FAILED || existing.state === ContextState.NO_SUPPORT;
      return { ok: false, code: holdDown ? 'hold-down' : 'exists', ctx: existing };
    }
    const full = this.#admit(ulidPeer);
    if (full !== undefined) return { ok: false, code: full };
    const idle = idleContext({ id: this.#nextId++, ulidLocal, ulidPeer, fii, ...(opts.lpLocal ? { lpLocal: opts.lpLocal } : {}), ...(opts.lpPeer ? { lpPeer: opts.lpPeer } : {}) }, identity, now, this.#env.randomU32());
    const ctx = this.#step(idle, { kind: 'establish' }, now);
    return ctx.state === ContextState.IDLE ? { ok: false, code: 'no-identity' } : { ok: true, ctx };
  }

  /**
   * Switches a context's current locator pair (§11.1); REAP (RFC 5534) or an operator
   * decides. Lp(local) must be in Ls(local) and Lp(peer) a verified member of Ls(peer).
   * Returns false, and changes nothing, otherwise.
   */
  setCurrentPair(id: number, lpLocal: Uint8Array, lpPeer: Uint8Array, now: number): boolean {
    const ctx = this.#table.get(id);
    if (ctx === undefined) return false;
    const next = this.#step(ctx, { kind: 'switch-pair', lpLocal, lpPeer }, now);
    return bytesEqual(next.lpLocal, lpLocal) && bytesEqual(next.lpPeer, lpPeer);
  }

  /** The ESTABLISHED contexts as `adopt` takes them back (a daemon saves them on a clean shutdown). */
  exportContexts(): SavedContext[] {
    const out: SavedContext[] = [];
    for (const c of this.#table.values()) {
      if (c.state !== ContextState.ESTABLISHED || c.ctPeer === undefined) continue;
      const r = c.reap;
      out.push({
        ulidLocal: c.ulidLocal, ulidPeer: c.ulidPeer, fii: c.fii, ctLocal: c.ctLocal, ctPeer: c.ctPeer,
        lsLocal: c.lsLocal, genLocal: c.genLocal, lsPeer: c.lsPeer, genPeer: c.genPeer, pdsPeer: c.pdsPeer,
        lpLocal: c.lpLocal, lpPeer: c.lpPeer, initNonce: c.initNonce, initiator: c.initiator,
        primaryLocal: r?.primary.local ?? c.ulidLocal, primaryPeer: r?.primary.peer ?? c.ulidPeer,
        peerKeepaliveTimeoutMs: r === undefined || r.keepaliveTimeoutMs === this.#env.reap?.defaultKeepaliveTimeoutMs ? undefined : r.keepaliveTimeoutMs,
        peerFine: r?.peerFine ?? false,
        ...(c.flowLabelLocal === undefined ? {} : { flowLabelLocal: c.flowLabelLocal }),
        ...(c.flowLabelPeer === undefined ? {} : { flowLabelPeer: c.flowLabelPeer }),
      });
    }
    return out;
  }

  /**
   * Resumes a context saved by `exportContexts` (a restarted daemon): ESTABLISHED with
   * its tags, Ls(peer) and current pair, REAP Operational with fresh timers. Refused
   * when this host no longer has the ULID, the tag or ULID pair is taken, or the saved
   * pair is not in the sets. When Ls(local) changed while the daemon was down, the
   * context sends an Update Request at once (§10.1). The fast path is installed through
   * the usual 'fast-path' action.
   */
  adopt(saved: SavedContext, now: number): AdoptOutcome {
    const identity = this.#env.identity(saved.ulidLocal);
    if (identity === undefined) return { ok: false, code: 'no-identity' };
    if (this.#table.byUlids(saved.ulidLocal, saved.ulidPeer, saved.fii) !== undefined) return { ok: false, code: 'exists' };
    const tagMax = 2 ** this.#config.contextTagBits;
    if (!Number.isInteger(saved.ctLocal) || saved.ctLocal < 0 || saved.ctLocal >= tagMax || !Number.isInteger(saved.ctPeer) || saved.ctPeer < 0 || saved.ctPeer >= 2 ** 47) return { ok: false, code: 'bad-context' };
    if (this.#table.hasCtLocal(saved.ctLocal)) return { ok: false, code: 'tag-taken' };
    const full = this.#admit(saved.ulidPeer);
    if (full !== undefined) return { ok: false, code: full };
    const labelOk = (l: number | undefined): boolean => l === undefined || (Number.isInteger(l) && l >= 0 && l <= 0xfffff);
    if (!labelOk(saved.flowLabelLocal) || !labelOk(saved.flowLabelPeer)) return { ok: false, code: 'bad-context' };
    // Flow-label mode: our label goes back to this context (a peer may be writing it).
    // With the mode now off, both labels are dropped: we send the Payload Extension header.
    const id = this.#nextId++;
    const labels = this.#labels === undefined ? {} : {
      ...(saved.flowLabelLocal === undefined ? {} : { flowLabelLocal: saved.flowLabelLocal }),
      ...(saved.flowLabelPeer === undefined ? {} : { flowLabelPeer: saved.flowLabelPeer }),
    };
    if (this.#labels !== undefined && (saved.flowLabelLocal ?? 0) !== 0 && !this.#labels.reserve(this.#poolOf(saved.ulidLocal), saved.flowLabelLocal!, id, now)) return { ok: false, code: 'label-taken' };
    const peerOk = (a: Uint8Array): boolean => bytesEqual(a, saved.ulidPeer) || saved.lsPeer.some((l) => l.verified && bytesEqual(l.address, a));
    const localOk = (a: Uint8Array): boolean => bytesEqual(a, saved.ulidLocal) || hasAddress(identity.locators, a);
    const lpLocal = localOk(saved.lpLocal) ? saved.lpLocal : saved.ulidLocal;
    const lpPeer = peerOk(saved.lpPeer) ? saved.lpPeer : saved.ulidPeer;
    const base = idleContext({ id, ulidLocal: saved.ulidLocal, ulidPeer: saved.ulidPeer, fii: saved.fii, lpLocal, lpPeer }, identity, now, saved.genLocal);
    let ctx: ShimContext = {
      ...base,
      lsLocal: saved.lsLocal,
      state: ContextState.ESTABLISHED,
      ctLocal: saved.ctLocal,
      ctPeer: saved.ctPeer,
      lsPeer: saved.lsPeer,
      genPeer: saved.genPeer,
      pdsPeer: saved.pdsPeer,
      initNonce: saved.initNonce,
      initiator: saved.initiator,
      establishedAt: now,
      ...labels,
    };
    if (this.#env.reap !== undefined && this.#env.reap.mode !== 'off') {
      const primary = localOk(saved.primaryLocal) && peerOk(saved.primaryPeer) ? { local: saved.primaryLocal, peer: saved.primaryPeer } : { local: saved.ulidLocal, peer: saved.ulidPeer };
      const reap = initialReap(ctx, now, this.#env as ReapEnv);
      ctx = { ...ctx, reap: { ...reap, primary, ...(saved.peerKeepaliveTimeoutMs === undefined ? {} : { keepaliveTimeoutMs: saved.peerKeepaliveTimeoutMs, peerFine: saved.peerFine }) } };
    }
    this.#table.put(ctx.id, ctx);
    this.#deadlines.schedule(ctx.id, nextDeadline(ctx, this.#env));
    this.#count('contexts.adopted');
    this.#push({ kind: 'fast-path', op: 'install', ctx });
    // Ls(local) may have changed while the host's shim was down: tell the peer (§10.1).
    const same = saved.lsLocal.length === identity.locators.length && saved.lsLocal.every((l, i) => bytesEqual(l.address, identity.locators[i]!.address) && l.verificationMethod === identity.locators[i]!.verificationMethod);
    if (!same) ctx = this.#step(ctx, { kind: 'local-locators', locators: identity.locators, preferences: identity.preferences }, now);
    return { ok: true, ctx };
  }

  /** Removes a context at once (§9: each host may tear down unilaterally). */
  teardown(id: number, now: number, reason = 'teardown requested'): boolean {
    const ctx = this.#table.get(id);
    if (ctx === undefined) return false;
    this.#step(ctx, { kind: 'teardown', reason }, now);
    return true;
  }

  /**
   * ULP packets seen between a ULID pair (either direction, with or without rewriting)
   * on the context with Forked Instance Identifier `fii`: refreshes its activity (§9,
   * §12.1) and, with a `direction`, drives REAP's timers (RFC 5534 §6.1-6.2); for FII 0
   * without a context, feeds the establishment heuristic.
   */
  traffic(ulidLocal: Uint8Array, ulidPeer: Uint8Array, packets: number, now: number, fii = 0, direction?: 'sent' | 'received'): void {
    const ctx = this.#table.byUlids(ulidLocal, ulidPeer, fii);
    if (ctx !== undefined) {
      const input = direction === 'sent' ? PAYLOAD_SENT : direction === 'received' ? PAYLOAD_RECEIVED : undefined;
      if (input !== undefined && ctx.reap !== undefined && !reapIgnores(ctx.reap, input)) {
        this.#step(ctx, input, now);
      } else if (ctx.lastActivity < now) {
        this.#table.touch({ ...ctx, lastActivity: now });
      }
      return;
    }
    // The heuristic sets up default contexts only; forks are the ULP's explicit request (§4.2).
    if (fii !== 0 || this.#mode === 'respond-only' || !this.#identities.has(addressKey(ulidLocal))) return;
    const stats = this.#traffic.note(ulidLocal, ulidPeer, packets, now);
    if (this.#establishPolicy.shouldEstablish(stats, now)) {
      this.#traffic.forget(ulidLocal, ulidPeer);
      const r = this.establish(ulidLocal, ulidPeer, now);
      this.#count(r.ok ? 'heuristic.established' : `heuristic.${r.code}`);
    }
  }

  /**
   * A local address stopped being locally operational (link down, address removed; RFC
   * 5534 §3.2): REAP leaves it out of exploration, and contexts using it explore at once
   * (profile `fast`). Idempotent.
   */
  localLocatorDown(address: Uint8Array, now: number): void {
    const key = addressKey(address);
    if (this.#downLocal.has(key)) return;
    this.#downLocal.add(key);
    this.#count('reap.local-down');
    this.#localChange(address, now);
  }

  /** The address is locally operational again. Idempotent. */
  localLocatorUp(address: Uint8Array, now: number): void {
    if (!this.#downLocal.delete(addressKey(address))) return;
    this.#count('reap.local-up');
    this.#localChange(address, now);
  }

  #localChange(address: Uint8Array, now: number): void {
    for (const ctx of [...this.#table.values()]) {
      if (bytesEqual(ctx.lpLocal, address) || hasAddress(ctx.lsLocal, address)) this.#step(ctx, { kind: 'local-change' }, now);
    }
  }

  /** The upper layer retransmitted on this ULID pair (e.g. a TCP segment re-sent): a REAP hint. */
  ulpRetransmit(ulidLocal: Uint8Array, ulidPeer: Uint8Array, now: number, fii = 0): void {
    const ctx = this.#table.byUlids(ulidLocal, ulidPeer, fii);
    if (ctx === undefined) return;
    this.#count('reap.ulp-retransmit');
    this.#step(ctx, { kind: 'ulp-retransmit' }, now);
  }

  /** Starts a REAP exploration on a context now (operator). False if there is no such context. */
  explore(id: number, now: number): boolean {
    const ctx = this.#table.get(id);
    if (ctx === undefined) return false;
    this.#step(ctx, { kind: 'explore' }, now);
    return true;
  }

  /** Ls(local) of one ULID changed (§10.1): every context of that ULID sends an Update Request. */
  setLocalLocators(ulidLocal: Uint8Array, locators: readonly Locator[], preferences: readonly LocatorPreference[] | undefined, now: number): void {
    const key = addressKey(ulidLocal);
    const identity = this.#identities.get(key);
    if (identity === undefined) return;
    this.#identities.set(key, { ...identity, locators, ...(preferences === undefined ? { preferences: undefined } : { preferences }) });
    for (const ctx of [...this.#table.values()]) {
      if (bytesEqual(ctx.ulidLocal, ulidLocal)) this.#step(ctx, { kind: 'local-locators', locators, preferences }, now);
    }
  }

  /** Runs every timer due at `now`. */
  tick(now: number): void {
    for (const id of this.#deadlines.popDue(now)) {
      const ctx = this.#table.get(id);
      if (ctx === undefined) continue;
      const d = nextDeadline(ctx, this.#env);
      if (d === undefined) continue;
      if (d > now) {
        this.#deadlines.schedule(id, d);
        continue;
      }
      this.#step(ctx, { kind: 'timeout' }, now);
    }
  }

  // ---- dispatch (§12.4) ----

  /** I1, I2, I2bis: by ULID pair and FII; an unknown pair is IDLE. */
  #onUlidMessage(rx: ReceivedControl, now: number): void {
    const m = rx.message as Extract<ControlMessage, { kind: 'I1' | 'I2' | 'I2bis' }>;
    const opts = readOptions(m.options);
    const ulidPeer = opts.ulidPair?.sender ?? rx.src;
    const ulidLocal = opts.ulidPair?.receiver ?? rx.dst;
    const identity = this.#env.identity(ulidLocal);
    if (identity === undefined || !hasAddress(identity.locators, rx.dst)) {
      this.#count('drop.not-our-ulid');
      return;
    }
    const existing = this.#table.byUlids(ulidLocal, ulidPeer, opts.fii);
    if (existing !== undefined) {
      this.#step(existing, { kind: 'control', rx }, now);
      return;
    }
    if (m.kind !== 'I1') {
      const full = this.#admit(ulidPeer);
      if (full !== undefined) {
        this.#count(`drop.${full}`);
        return;
      }
    }
    // IDLE: a context record that exists only for this step; it is stored if it leaves IDLE.
    const idle = idleContext({ id: m.kind === 'I1' ? 0 : this.#nextId++, ulidLocal, ulidPeer, fii: opts.fii }, identity, now, this.#env.randomU32());
    this.#step(idle, { kind: 'control', rx }, now);
  }

  /** R1, R2: by INIT Nonce, then the locators (R1: in the sets, §7.11; R2: equal to Lp, §7.16). */
  #onNonceMessage(rx: ReceivedControl, nonce: number, now: number): void {
    for (const ctx of this.#table.byInitNonce(nonce)) {
      const match = rx.message.kind === 'R1'
        ? (bytesEqual(rx.src, ctx.lpPeer) || hasAddress(ctx.lsPeer, rx.src)) && hasAddress(ctx.lsLocal, rx.dst)
        : bytesEqual(rx.src, ctx.lpPeer) && bytesEqual(rx.dst, ctx.lpLocal);
      if (match) {
        this.#step(ctx, { kind: 'control', rx }, now);
        return;
      }
    }
    this.#count('drop.no-context');
  }

  #findByCtPeer(ctPeer: number, lpLocal: Uint8Array, lpPeer: Uint8Array): ShimContext | undefined {
    for (const ctx of this.#table.byCtPeer(ctPeer)) {
      if (bytesEqual(ctx.lpLocal, lpLocal) && bytesEqual(ctx.lpPeer, lpPeer)) return ctx;
    }
    return undefined;
  }

  /**
   * Payload and control messages of types 64-127: by CT(local), with the source in
   * Ls(peer) and the destination in Ls(local) (§12.4); otherwise R1bis (§7.17, §10.4).
   */
  #onTagged(tag: number, src: Uint8Array, dst: Uint8Array, rx: ReceivedControl | undefined, now: number): void {
    const ctx = this.#table.byCtLocal(tag);
    // Lp counts as part of the sets: in I2-SENT, Ls(peer) is not known yet but the peer
    // already sends from Lp(peer) (Appendix B: "Accept and send I2").
    const matches = ctx !== undefined
      && (bytesEqual(src, ctx.ulidPeer) || bytesEqual(src, ctx.lpPeer) || hasAddress(ctx.lsPeer, src))
      && (bytesEqual(dst, ctx.ulidLocal) || bytesEqual(dst, ctx.lpLocal) || hasAddress(ctx.lsLocal, dst));
    if (ctx === undefined || !matches) {
      this.#sendR1bis(tag, src, dst, now);
      return;
    }
    this.#step(ctx, rx === undefined ? { kind: 'payload', src, dst } : { kind: 'control', rx }, now);
  }

  #sendR1bis(tag: number, src: Uint8Array, dst: Uint8Array, now: number): void {
    if (!this.#identityOwning(dst) || isMulticast(src) || isUnspecified(src)) {
      this.#count('drop.not-our-locator');
      return;
    }
    if (!this.#r1bisLimit.allow(now)) {
      this.#count('r1bis.rate-limited');
      return;
    }
    const { responderNonce, validator } = this.#env.validators.r1bis(now, { packetContextTag: tag, locInitiator: src, locResponder: dst });
    this.#push({ kind: 'send', src: dst, dst: src, message: r1bisMessage(tag, responderNonce, validator) });
  }

  /**
   * Error messages (§5.14): dispatched by the packet in error (§12.4). For our I1/I2/I2bis
   * it is CT(local) = the Initiator Context Tag; otherwise CT(peer) = the Receiver Context
   * Tag, with Lp(local) its source and Lp(peer) its destination.
   */
  #onError(rx: ReceivedControl, now: number): void {
    const e = rx.message as Extract<ControlMessage, { kind: 'Error' }>;
    const inner = e.packetInError;
    const parsed = parsePacket(inner, 0, inner.length, { verifyChecksum: false, checkAddresses: false, unknownCritical: 'keep' });
    if (!parsed.ok || parsed.value.shim6 === undefined) {
      this.#count('drop.error-unmatched');
      return;
    }
    const p = parsed.value;
    const shim = p.shim6!;
    let ctx: ShimContext | undefined;
    let inError: ControlMessage | undefined;
    if (shim.kind === 'control') {
      inError = shim.message;
      const m = shim.message;
      if (m.kind === 'I1' || m.kind === 'I2' || m.kind === 'I2bis') {
        const c = this.#table.byCtLocal(m.initiatorContextTag);
        if (c !== undefined && c.initNonce === m.initiatorNonce) ctx = c;
      } else if (m.kind === 'UpdateRequest' || m.kind === 'UpdateAck' || m.kind === 'Keepalive' || m.kind === 'Probe') {
        ctx = this.#findByCtPeer(m.receiverContextTag, p.ipv6.source, p.ipv6.destination);
        // An Update Request in error must be ours and current: its nonce proves it.
        if (ctx !== undefined && m.kind === 'UpdateRequest' && ctx.update?.requestNonce !== m.requestNonce) ctx = undefined;
      }
    } else {
      ctx = this.#findByCtPeer(shim.header.receiverContextTag, p.ipv6.source, p.ipv6.destination);
    }
    // The Error must come from the peer's side of that packet.
    if (ctx === undefined || !(bytesEqual(rx.src, ctx.ulidPeer) || hasAddress(ctx.lsPeer, rx.src))) {
      this.#count('drop.error-unmatched');
      return;
    }
    this.#step(ctx, { kind: 'error', error: e, inError }, now);
  }

  // ---- applying steps ----

  /** Runs one step and applies it: tables, timers, actions, confusion check, counters. Returns the new context. */
  #step(ctx: ShimContext, input: ContextInput, now: number): ShimContext {
    let r: StepResult;
    try {
      r = step(ctx, input, now, this.#env);
    } catch (err) {
      // A step must not throw for any input; if it does, the input is dropped and counted, never the daemon.
      this.#count('bug.step-threw');
      this.#count(`bug.step-threw.${input.kind}`);
      void err;
      return ctx;
    }
    if (r.drop !== undefined) this.#count(`drop.${r.drop}`);
    const next = r.ctx;
    const stored = this.#table.get(ctx.id) !== undefined;
    if (next.state === ContextState.IDLE) {
      if (stored) {
        const held = this.#table.get(ctx.id)!.flowLabelLocal;
        if (held !== undefined && held !== 0 && this.#labels !== undefined) this.#labels.release(this.#poolOf(ctx.ulidLocal), held, ctx.id, now);
        this.#table.put(ctx.id, undefined);
        this.#deadlines.schedule(ctx.id, undefined);
        this.#count('contexts.removed');
      }
    } else {
      if (!stored) this.#count('contexts.created');
      this.#table.put(next.id, next);
      this.#deadlines.schedule(next.id, nextDeadline(next, this.#env));
    }
    for (const a of r.actions) this.#push(a, now);
    if (next.state !== ContextState.IDLE && next.ctPeer !== undefined && (next.ctPeer !== ctx.ctPeer || next.lsPeer !== ctx.lsPeer)) this.#checkConfusion(next, now);
    return next;
  }

  /**
   * §7.15: after CT(peer) or Ls(peer) of `ctx` changed, any other ESTABLISHED or
   * I2BIS-SENT context with the same CT(peer), an overlapping Ls(peer) and a different ULID
   * pair or FII belongs to a peer that lost it: it must not be used again.
   */
  #checkConfusion(ctx: ShimContext, now: number): void {
    for (const other of this.#table.byCtPeer(ctx.ctPeer!)) {
      if (other.id === ctx.id) continue;
      if (other.state !== ContextState.ESTABLISHED && other.state !== ContextState.I2BIS_SENT) continue;
      if (!overlaps(other.lsPeer, ctx.lsPeer)) continue;
      const same = bytesEqual(other.ulidLocal, ctx.ulidLocal) && bytesEqual(other.ulidPeer, ctx.ulidPeer) && other.fii === ctx.fii;
      if (same) continue;
      this.#count('confusion.detected');
      this.#step(other, { kind: 'confused' }, now);
    }
  }

  #push(a: EngineAction, now?: number): void {
    if (a.kind === 'send') {
      if (a.message.kind === 'Error' && now !== undefined && !this.#errorLimit.allow(now)) {
        this.#count('error.rate-limited');
        return;
      }
      if (a.message.kind === 'Probe' && now !== undefined && !this.#probeLimit.allow(now)) {
        this.#count('reap.probe-rate-limited');
        return;
      }
      this.#count(`tx.${a.message.kind}`);
    } else if (a.kind === 'notify' && REAP_EVENTS.has(a.event)) {
      this.#count(`reap.${a.event}`);
    }
    this.#actions.push(a);
  }

  #emitError(src: Uint8Array, dst: Uint8Array, code: number, pointer: number, packet: Uint8Array, now: number): void {
    this.#push({ kind: 'send', src, dst, message: makeErrorMessage(code, pointer, packet) }, now);
  }

  /** Room for one more context with this peer? Undefined when yes, else the refusal code. */
  #admit(ulidPeer: Uint8Array): 'table-full' | 'peer-limit' | undefined {
    if (this.#table.size >= this.#maxContexts) return 'table-full';
    if (this.#table.peerCount(ulidPeer) >= this.#config.maxContextsPerPeer) return 'peer-limit';
    return undefined;
  }

  #identityOwning(address: Uint8Array): boolean {
    for (const id of this.#identities.values()) if (hasAddress(id.locators, address)) return true;
    return false;
  }

  /**
   * A random CT(local) not used by any context (§7.1: at least 30 random bits when
   * `contextTagBits` is 47; fewer only when a test asks for it, Appendix C).
   */
  #allocateTag(): number {
    const bits = this.#config.contextTagBits;
    for (let attempt = 0; attempt < 64; attempt++) {
      const hi = bits > 32 ? this.#env.randomU32() % 2 ** (bits - 32) : 0;
      const lo = bits >= 32 ? this.#env.randomU32() : this.#env.randomU32() % 2 ** bits;
      const tag = hi * 2 ** 32 + lo;
      if (!this.#table.hasCtLocal(tag)) return tag;
    }
    // A nearly full small tag space (tests only): scan from a random point.
    const space = 2 ** bits;
    const start = this.#env.randomU32() % space;
    for (let i = 0; i < space; i++) {
      const tag = (start + i) % space;
      if (!this.#table.hasCtLocal(tag)) return tag;
    }
    throw new RangeError('context tag space exhausted (maxContexts is bounded by it, so this is a bug)');
  }

  /** Flow-label mode: a label for `ctx` from its identity's pool (0 when exhausted). */
  #allocateLabel(ctx: ShimContext, now: number): number {
    const label = this.#labels!.allocate(this.#poolOf(ctx.ulidLocal), ctx.id, now);
    this.#count(label === 0 ? 'flowlabel.exhausted' : 'flowlabel.allocated');
    return label;
  }

  /** One pool per local locator set: identities that share a locator share a pool (labels must be unique per destination locator). */
  #buildLabelPools(identities: readonly LocalIdentity[]): void {
    const owner = new Map<string, string>(); // locator -> pool key
    const parent = new Map<string, string>();
    const find = (k: string): string => {
      let r = k;
      while (parent.get(r) !== r) r = parent.get(r)!;
      return r;
    };
    for (const id of identities) {
      const key = addressKey(id.ulid);
      parent.set(key, key);
      for (const a of [id.ulid, ...id.locators.map((l) => l.address)]) {
        const ak = addressKey(a);
        const other = owner.get(ak);
        if (other === undefined) owner.set(ak, key);
        else parent.set(find(key), find(other));
      }
    }
    for (const id of identities) this.#labelPool.set(addressKey(id.ulid), find(addressKey(id.ulid)));
  }

  #poolOf(ulidLocal: Uint8Array): string {
    const k = addressKey(ulidLocal);
    return this.#labelPool.get(k) ?? k;
  }

  /** Flow-label mode (issue #8): labels in use and in quarantine; undefined when the mode is off. */
  flowLabelStats(now: number): FlowLabelStats | undefined {
    return this.#labels?.stats(now);
  }

  #count(name: string, n = 1): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + n);
  }
}
