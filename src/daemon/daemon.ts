/**
 * The shim6d core: sets the host up, runs the context engine and REAP (RFC 5533, RFC
 * 5534; src/daemon/shim.ts) over the data plane, installs configured static contexts,
 * answers the control socket, serves metrics, saves and restores its state, and reloads
 * its configuration.
 *
 * Data path (RFC 5533 §5.2): while a context's current locator pair equals its ULID pair,
 * its packets take the kernel's own path untouched. While it differs, a policy rule for
 * its ULID pair (`from <localUlid> to <peerUlid> fwmark 0/F lookup T`, table T routing
 * everything into the TUN) sends the applications' packets to the data plane, which
 * rewrites them and sends them with the daemon's mark F. See system.ts for why a rule
 * per context rather than a route per peer: rule changes re-route established sockets.
 *
 * Everything outside the process arrives injected — the data plane (DataPlaneFactory),
 * the host's network (Network), the log and the clock — so this file runs in unit tests
 * with fakes. shim6d.ts composes it with the real devices; main.ts with the process.
 *
 * With `identity` configured: the HBA set (RFC 5535) is loaded from the state file or
 * generated, its addresses are put on their interfaces, and the engine runs: contexts
 * are established by traffic (the §4 heuristic, fed by per-pair kernel counters), by
 * `establish.peers` and by `shim6 establish`; REAP detects failures from the same
 * counters, from link and address events (netlink) and from TCP retransmissions seen
 * in the data plane. On a clean stop the ESTABLISHED contexts are saved and a restarted
 * daemon adopts them with their tags, so the peer's contexts still match.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { generateHbaSet, verifyHba } from '../crypto/hba.js';
import type { CryptoProvider, RandomSource } from '../crypto/provider.js';
import { nodeCryptoProvider } from '../crypto/provider-node.js';
import type { LocalIdentity, ShimContext } from '../context/types.js';
import { DataPlaneError, type ContextSnapshot, type Counters, type DataPlaneControl, type DataPlaneEvents } from '../dataplane/types.js';
import { addressKey, formatIpv6, parseIpv6, unicastProblem } from '../wire/address.js';
import { bytesEqual } from '../wire/bytes.js';
import { verificationMethodCodes, verificationMethodName } from '../wire/verification-method.js';
import { quote, reapOverrides, type DaemonConfig } from './config.js';
import { ControlError, type ContextView, type ControlRequest, type CountersResult, type EstablishResult, type LocatorsResult, type PcapResult, type ReloadResult, type StatusResult } from './control-protocol.js';
import { claimSocketPath, ControlServer, type ControlHandler, type ControlServerOptions } from './control-server.js';
import { RateLimiter, type Log } from './log.js';
import { formatPrometheus, MetricsServer, type MetricsSnapshot } from './metrics.js';
import type { InterceptEntry } from '../io/flow-label-intercept.js';
import { PcapCapture } from '../io/pcap-capture.js';
import { contextName, Shim, type ShimEvent, type TrafficSample } from './shim.js';
import { loadState, saveState, StateError, STATE_VERSION, type DaemonState, type SavedIdentity } from './state.js';
import type { Network } from './system.js';

/** The data plane with its devices open, as the daemon drives it. */
export interface DataPlaneHandle {
  readonly control: DataPlaneControl;
  /** The TUN's name as the kernel knows it. */
  readonly tunName: string;
  /** Flow-label mode: the intercept TUN's name. */
  readonly interceptName?: string;
  /** Starts reading the devices. */
  start(): void;
  /** Stops packet processing and closes every device (closing the TUN removes its link). Idempotent. */
  close(): void;
  /** Sends complete IPv6 packets (Shim6 control messages) through the marked raw socket; returns how many the kernel took. */
  sendControl(packets: readonly Uint8Array[]): number;
  /** Every rewritten packet sent and Shim6 packet received, while set (pcap). */
  setTap(tap: ((packet: Uint8Array, direction: 'sent' | 'received') => void) | null): void;
}

/** Per-(local ULID, peer) packet counters of the kernel path (src/io/nft-traffic.ts). */
export interface TrafficCounters {
  install(ulids: readonly Uint8Array[]): Promise<void>;
  poll(): Promise<TrafficSample[]>;
  remove(): Promise<void>;
}

export type HostEvent =
  | { readonly kind: 'link'; readonly ifname: string; readonly up: boolean }
  | { readonly kind: 'address'; readonly ifname: string; readonly address: Uint8Array; readonly added: boolean };

/** Link and address events (src/io/netlink-monitor.ts). */
export interface HostMonitor {
  start(onEvent: (e: HostEvent) => void, onError: (message: string) => void): void;
  stop(): void;
}

/** Host configuration beyond routes and rules. */
export interface HostOps {
  addAddress(ifname: string, address: Uint8Array, prefixLen: number): Promise<void>;
  /**
   * Drops the neighbour entries of a link that is down. Sockets keep their cached route
   * through that link until a rule change makes them look up again, so between the
   * carrier loss (the kernel flushes the link's neighbours itself) and our rule into the
   * TUN, TCP sends there and a fresh, never-resolving entry holds its segments; the
   * kernel will not retransmit a segment still queued in the host, so TCP waited ~3 s
   * for neighbour discovery to give up. Flushing again once the rule is in frees them
   * (measured: stalls in 5 of 10 runs before, 0 of 6 after).
   */
  flushNeighbours?(ifname: string): Promise<void>;
  linkStates(): Promise<{ ifname: string; up: boolean }[]>;
}

export interface DataPlaneFactoryOptions {
  readonly tunName: string;
  readonly mtu: number;
  /** TUN offloads: virtio-net header, TSO, userspace segmentation and coalescing. */
  readonly offload: boolean;
  /** SO_MARK for the data plane's own output, so it bypasses the route table. */
  readonly fwmark: number;
  readonly events: DataPlaneEvents;
  /** Experimental flow-label mode (issue #8): the name of the intercept TUN to open as well. */
  readonly intercept?: string;
}

/** The nftables redirection of flow-labelled packets into the intercept TUN (src/io/flow-label-intercept.ts). */
export interface InterceptControl {
  install(): Promise<void>;
  add(entry: InterceptEntry): Promise<void>;
  remove(name: string): Promise<void>;
  uninstall(): Promise<void>;
}

/** Opens the devices and builds the data plane; throws when a device cannot be opened. */
export type DataPlaneFactory = (options: DataPlaneFactoryOptions) => DataPlaneHandle;

export class DaemonError extends Error {
  readonly code: 'locator-not-assigned' | 'bad-state' | 'identity';
  constructor(code: DaemonError['code'], message: string) {
    super(message);
    this.name = 'DaemonError';
    this.code = code;
  }
}

export interface DaemonOptions {
  readonly config: DaemonConfig;
  readonly network: Network;
  readonly createDataPlane: DataPlaneFactory;
  readonly log: Log;
  /** Milliseconds on a monotonic clock (default performance.now). */
  readonly now?: () => number;
  readonly pid?: number;
  readonly version?: string;
  /** Limits of the control server (tests shorten them). */
  readonly control?: Omit<ControlServerOptions, 'path' | 'onError'>;
  /** Needed with `config.identity` (the engine); absent, only static contexts run. */
  readonly traffic?: TrafficCounters;
  readonly monitor?: HostMonitor;
  readonly host?: HostOps;
  readonly provider?: CryptoProvider;
  readonly random?: RandomSource;
  /** Timers of the engine (tests use a virtual clock). */
  readonly setTimer?: (f: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
  /** Changes the log level on reload (the real logger's setter). */
  readonly setLogLevel?: (level: string) => void;
  /** Reads the configuration again (SIGHUP and the `reload` op); throws ConfigError. */
  readonly loadConfig?: () => Promise<DaemonConfig>;
  /** Flow-label mode: builds the redirection for the locator interfaces into the intercept TUN. */
  readonly createIntercept?: (devices: readonly string[], target: string) => InterceptControl;
}

const nodeRandom: RandomSource = { bytes: (n) => new Uint8Array(randomBytes(n)) };

/** Log lines per event kind per minute, for what peers and clients can trigger at will. */
const LOG_BURST = 10;
const LOG_WINDOW_MS = 60_000;

function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

function rewriting(s: ContextSnapshot): boolean {
  return !sameAddress(s.currentLocal, s.localUlid) || !sameAddress(s.currentPeer, s.peerUlid);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A context as the control protocol shows it. */
export function contextView(s: ContextSnapshot): ContextView {
  return {
    name: s.name,
    localUlid: formatIpv6(s.localUlid),
    peerUlid: formatIpv6(s.peerUlid),
    localLocators: s.localLocators.map((a) => formatIpv6(a)),
    peerLocators: s.peerLocators.map((a) => formatIpv6(a)),
    localContextTag: s.localContextTag,
    peerContextTag: s.peerContextTag,
    currentPair: { local: formatIpv6(s.currentLocal), peer: formatIpv6(s.currentPeer) },
    rewriting: rewriting(s),
    counters: { ...s.counters },
    source: 'static',
    state: null,
    reap: null,
    failovers: 0,
    lastFailover: null,
    establishedAt: null,
  };
}

function zeroCounters(like: Counters): Counters {
  const out = { ...like };
  for (const k of Object.keys(out) as (keyof Counters)[]) out[k] = 0;
  return out;
}

export class Daemon implements ControlHandler {
  private config: DaemonConfig;
  private readonly network: Network;
  private readonly createDataPlane: DataPlaneFactory;
  private readonly log: Log;
  private readonly now: () => number;
  private readonly pid: number;
  private readonly version: string;
  private readonly controlOptions: Omit<ControlServerOptions, 'path' | 'onError'>;
  private readonly limiter: RateLimiter;
  private readonly options: DaemonOptions;

  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private startedAt = 0;
  private dataPlane: DataPlaneHandle | undefined;
  private server: ControlServer | undefined;
  private metricsServer: MetricsServer | undefined;
  private shim: Shim | undefined;
  /** The HBA set as generated, with the interface of each locator. */
  private identity: { saved: SavedIdentity; interfaces: Map<string, string> } | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly capture = new PcapCapture();
  private readonly daemonCounters = new Map<string, number>();
  /** Set once stale state was removed: from then on the rule, table and TUN are ours to clean. */
  private ownsNetwork = false;
  private trafficInstalled = false;
  /** Interfaces of our locators whose link is down (netlink). */
  private readonly downLinks = new Set<string>();
  /** ULID pairs (canonical text) whose rule into the TUN is installed. */
  /** ULID pairs with a rule into the TUN, and whether it goes to the flow-label table. */
  private readonly routed = new Map<string, boolean>();
  /** Flow-label mode: the redirection, and each context's installed entry (label and pairs, as text). */
  private intercept: InterceptControl | undefined;
  private readonly intercepted = new Map<string, string>();
  /** Pair switches and teardown run one at a time, in order. */
  private serial: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;

  constructor(options: DaemonOptions) {
    this.options = options;
    this.config = options.config;
    this.network = options.network;
    this.createDataPlane = options.createDataPlane;
    this.log = options.log;
    this.now = options.now ?? (() => performance.now());
    this.pid = options.pid ?? process.pid;
    this.version = options.version ?? 'unknown';
    this.controlOptions = options.control ?? {};
    this.limiter = new RateLimiter(LOG_BURST, LOG_WINDOW_MS, this.now);
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** The engine side, when an identity is configured (tests and the harness read it). */
  get engineShim(): Shim | undefined {
    return this.shim;
  }

  private count(name: string, n = 1): void {
    this.daemonCounters.set(name, (this.daemonCounters.get(name) ?? 0) + n);
  }

  /**
   * Sets everything up; on failure undoes what it did and rethrows. A stop() that arrives
   * meanwhile waits for the start to finish, then tears down.
   */
  start(): Promise<void> {
    if (this.state !== 'new') return Promise.reject(new DaemonError('bad-state', `start() in state ${this.state}`));
    this.state = 'starting';
    return this.exclusive(async () => {
      try {
        await this.setUp();
      } catch (e) {
        this.log.error({ error: errorText(e) }, 'startup failed');
        await this.tearDown(false);
        throw e;
      }
    });
  }

  private async setUp(): Promise<void> {
    const cfg = this.config;
    const sock = await claimSocketPath(cfg.controlSocket);
    if (sock === 'stale') this.log.info({ path: cfg.controlSocket }, 'removed a stale control socket');

    let saved: DaemonState | undefined;
    if (cfg.identity !== undefined) {
      try {
        saved = await loadState(cfg.stateFile);
        if (saved !== undefined) this.log.info({ path: cfg.stateFile, contexts: saved.contexts.length, identity: saved.identity !== undefined }, 'state loaded');
      } catch (e) {
        this.count('state.unusable');
        this.log.warn({ path: cfg.stateFile, error: errorText(e), code: e instanceof StateError ? e.code : undefined }, 'state file unusable; starting without it');
      }
      await this.setUpIdentity(saved);
    }
    await this.checkLocators();

    this.log.info({ table: cfg.routeTable, rulePriority: cfg.rulePriority, tun: cfg.tun.name }, 'removing state left by an earlier run');
    this.ownsNetwork = true;
    await this.network.removeStaleState();

    const fl = cfg.flowLabel;
    const dp = this.createDataPlane({ tunName: cfg.tun.name, mtu: cfg.tun.mtu, offload: cfg.tun.offload, fwmark: cfg.fwmark, events: this.events(), ...(fl === undefined ? {} : { intercept: fl.interceptDevice }) });
    this.dataPlane = dp;
    this.log.info({ tun: dp.tunName }, 'TUN opened');
    await this.network.configureTun(dp.tunName);
    this.log.info({ tun: dp.tunName, mtu: cfg.tun.mtu }, 'TUN up');
    if (fl !== undefined) await this.startIntercept(dp);

    for (const ctx of cfg.contexts) dp.control.addContext(ctx);
    await this.network.installTableRoute(dp.tunName);
    this.log.info({ table: cfg.routeTable, tun: dp.tunName }, 'table route into the TUN installed');
    for (const s of dp.control.contexts()) await this.syncRule(s.name);

    if (this.identity !== undefined) {
      for (const l of this.identity.saved.locators) await this.network.keepLocal(dp.tunName, l.address);
      this.log.info({ tun: dp.tunName }, 'HBA addresses kept deliverable through the TUN (local routes)');
      await this.startEngine(dp, saved);
    }
    dp.start();

    const server = new ControlServer(this, {
      ...this.controlOptions,
      path: cfg.controlSocket,
      onError: (code, message) => {
        this.count('control.refused');
        this.rateLimited('warn', `control:${code}`, { code, detail: message }, 'control request refused');
      },
    });
    this.server = server;
    await server.listen();
    await this.startMetrics();
    this.startedAt = this.now();
    this.state = 'running';
    this.log.info({ contexts: cfg.contexts.length, socket: cfg.controlSocket, version: this.version, engine: this.shim !== undefined }, 'shim6d running');
    if (this.shim !== undefined) for (const peer of cfg.establish.peers) this.establishPeer(peer);
  }

  /** Loads the HBA set from the state file when it matches the configured prefixes, else generates one; puts its addresses on their interfaces. */
  private async setUpIdentity(saved: DaemonState | undefined): Promise<void> {
    const cfg = this.config.identity!;
    const provider = this.options.provider ?? nodeCryptoProvider;
    const want = cfg.prefixes.map((p) => p.prefix);
    let id = saved?.identity;
    if (id !== undefined) {
      const samePrefixes = id.prefixes.length === want.length && id.prefixes.every((p, i) => bytesEqual(p, want[i]!));
      const valid = id.locators.length === want.length && id.locators.every((l, i) => bytesEqual(l.address.subarray(0, 8), want[i]!) && verifyHba(provider, l.address, id!.pds).valid)
        && bytesEqual(id.ulid, id.locators[0]!.address);
      if (!samePrefixes || !valid) {
        this.log.warn({ samePrefixes, valid }, 'the saved HBA set does not match identity.prefixes; generating a new one (the ULID changes)');
        id = undefined;
      }
    }
    if (id === undefined) {
      const t0 = this.now();
      // Sec 0 (RFC 5535 §3): the HBA binding needs no hash extension, and generation is instant.
      const set = await generateHbaSet({ provider, random: this.options.random ?? nodeRandom, prefixes: want, sec: 0 });
      const method = verificationMethodCodes('table4').HBA;
      id = { prefixes: want, ulid: set.addresses[0]!, pds: set.paramsBytes[0]!, locators: set.addresses.map((address) => ({ address, verificationMethod: method })) };
      this.log.info({ ulid: formatIpv6(id.ulid), ms: Math.round(this.now() - t0) }, 'HBA set generated (RFC 5535)');
      // Kept at once: a crash before a clean stop must not renumber the host.
      await saveState(this.config.stateFile, { version: STATE_VERSION, savedAt: Date.now(), identity: id, contexts: [] });
    }
    const interfaces = new Map<string, string>();
    const host = this.options.host;
    if (host === undefined) throw new DaemonError('identity', 'an identity needs host operations (addresses, link states)');
    for (let i = 0; i < id.locators.length; i++) {
      const ifname = cfg.prefixes[i]!.interface;
      const address = id.locators[i]!.address;
      interfaces.set(addressKey(address), ifname);
      await host.addAddress(ifname, address, 64);
    }
    this.identity = { saved: id, interfaces };
    this.log.info({ ulid: formatIpv6(id.ulid), locators: id.locators.map((l, i) => `${formatIpv6(l.address)}%${cfg.prefixes[i]!.interface}`) }, 'HBA addresses configured');
  }

  private async startEngine(dp: DataPlaneHandle, saved: DaemonState | undefined): Promise<void> {
    const id = this.identity!.saved;
    const cfg = this.config;
    const identity: LocalIdentity = { ulid: id.ulid, pds: id.pds, locators: id.locators };
    const shim = new Shim({
      identity,
      provider: this.options.provider ?? nodeCryptoProvider,
      random: this.options.random ?? nodeRandom,
      reap: reapOverrides(cfg.reap),
      establish: cfg.establish,
      ...(cfg.flowLabel === undefined ? {} : { flowLabel: { first: cfg.flowLabel.first, last: cfg.flowLabel.last, quarantineMs: cfg.flowLabel.quarantineMs, maxLabels: cfg.flowLabel.maxLabels } }),
      now: this.now,
      dataPlane: {
        addContext: (c) => dp.control.addContext(c),
        removeContext: (n) => dp.control.removeContext(n),
        setCurrentPair: (n, l, p) => dp.control.setCurrentPair(n, l, p),
        retransmits: (n) => dp.control.context(n)?.counters.egressRetransmits,
        sendControl: (packets) => dp.sendControl(packets),
      },
      onPairChange: (name) => {
        void this.exclusive(() => this.syncRule(name)).catch((e: unknown) => this.log.error({ context: name, error: errorText(e) }, 'rule update failed'));
        if (this.intercept !== undefined) void this.exclusive(() => this.syncIntercept(name)).catch((e: unknown) => this.log.error({ context: name, error: errorText(e) }, 'flow-label redirection update failed'));
      },
      onEvent: (e) => this.shimEvent(e),
      onPacket: (p) => { if (this.capture.capturing) this.capture.write(p); },
      ...(this.options.setTimer === undefined ? {} : { setTimer: this.options.setTimer }),
      ...(this.options.clearTimer === undefined ? {} : { clearTimer: this.options.clearTimer }),
    });
    this.shim = shim;

    // Locally operational addresses (RFC 5534 §3.2) before anything is established.
    const host = this.options.host!;
    const links = new Map((await host.linkStates()).map((l) => [l.ifname, l.up]));
    for (const l of id.locators) {
      const ifname = this.identity!.interfaces.get(addressKey(l.address));
      if (ifname !== undefined && links.get(ifname) === false) {
        shim.linkChanged(l.address, false);
        this.downLinks.add(ifname);
      }
    }

    if (saved !== undefined && saved.contexts.length > 0) {
      const r = shim.adopt(saved.contexts);
      this.log.info({ adopted: r.adopted, refused: r.refused }, 'saved contexts resumed');
    }

    const traffic = this.options.traffic;
    if (traffic === undefined) throw new DaemonError('identity', 'an identity needs the traffic counters');
    await traffic.install([id.ulid]);
    this.trafficInstalled = true;
    this.schedulePoll();

    this.options.monitor?.start((e) => this.hostEvent(e), (m) => {
      this.count('netlink.errors');
      this.rateLimited('warn', 'netlink', { error: m }, 'netlink monitor');
    });
  }

  private schedulePoll(): void {
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.pollTimer = setInterval(() => { void this.poll(); }, this.config.pollIntervalMs);
  }

  /** One poll of the traffic counters into the engine; never overlaps itself, never rejects. */
  async poll(): Promise<void> {
    const traffic = this.options.traffic;
    if (this.polling || traffic === undefined || this.shim === undefined) return;
    this.polling = true;
    try {
      const samples = await traffic.poll();
      this.count('traffic.polls');
      if (this.shim !== undefined && (this.state === 'running' || this.state === 'starting')) this.shim.traffic(samples);
    } catch (e) {
      this.count('traffic.errors');
      this.rateLimited('warn', 'traffic', { error: errorText(e) }, 'traffic counters unreadable');
    } finally {
      this.polling = false;
    }
  }

  private hostEvent(e: HostEvent): void {
    const shim = this.shim;
    const ident = this.identity;
    if (shim === undefined || ident === undefined) return;
    this.count(`netlink.${e.kind}`);
    if (e.kind === 'link' && [...ident.interfaces.values()].includes(e.ifname)) {
      if (e.up) this.downLinks.delete(e.ifname);
      else this.downLinks.add(e.ifname);
    }
    if (e.kind === 'address') {
      if (!ident.saved.locators.some((l) => bytesEqual(l.address, e.address))) return;
      this.log.info({ address: formatIpv6(e.address), ifname: e.ifname, added: e.added }, e.added ? 'locator address appeared' : 'locator address disappeared');
      shim.addressChanged(e.address, e.added);
      return;
    }
    for (const l of ident.saved.locators) {
      if (ident.interfaces.get(addressKey(l.address)) !== e.ifname) continue;
      this.log.info({ ifname: e.ifname, up: e.up, locator: formatIpv6(l.address) }, e.up ? 'link up' : 'link down');
      shim.linkChanged(l.address, e.up);
      // Without keep_addr_on_down the kernel deletes global addresses with the link: put ours back.
      if (e.up) {
        this.options.host?.addAddress(e.ifname, l.address, 64).catch((err: unknown) => {
          this.count('address.readd-failed');
          this.rateLimited('warn', 'readd', { ifname: e.ifname, address: formatIpv6(l.address), error: errorText(err) }, 'cannot put the HBA address back');
        });
      }
    }
  }

  private shimEvent(e: ShimEvent): void {
    switch (e.kind) {
      case 'notify': {
        const c = e.ctx;
        const fields = {
          context: e.name, event: e.event, state: c.state, localUlid: formatIpv6(c.ulidLocal), peerUlid: formatIpv6(c.ulidPeer),
          pair: { local: formatIpv6(c.lpLocal), peer: formatIpv6(c.lpPeer) }, reap: c.reap?.state, detail: e.detail,
        };
        if (e.event === 'exploring' || e.event === 'inbound-ok' || e.event === 'operational') this.rateLimited('info', `reap:${e.event}`, fields, `context ${e.event}`);
        else this.log.info(fields, `context ${e.event}`);
        return;
      }
      case 'send-failed':
        this.rateLimited('warn', 'send-failed', { error: e.message }, 'cannot send a control message');
        return;
      case 'data-plane-refused':
        this.log.error({ context: e.name, error: e.error }, 'data plane refused a context');
        return;
    }
  }

  private establishPeer(peer: Uint8Array, local?: Uint8Array): EstablishResult {
    const shim = this.shim;
    if (shim === undefined) throw new ControlError('no-identity', 'no identity configured: the context engine is not running');
    const problem = unicastProblem(peer);
    if (problem !== undefined) throw new ControlError('bad-locator', `${formatIpv6(peer)} is ${problem}, not a peer ULID`);
    if (local !== undefined && !bytesEqual(local, shim.identity.ulid)) throw new ControlError('bad-locator', `${formatIpv6(local)} is not this host's ULID (${formatIpv6(shim.identity.ulid)})`);
    const r = shim.establish(peer, local);
    const ctx = r.ok ? r.ctx : 'ctx' in r ? r.ctx : undefined;
    const outcome = r.ok ? 'started' : r.code;
    this.log.info({ peer: formatIpv6(peer), outcome }, 'establish');
    return { outcome, context: ctx === undefined ? null : this.engineView(ctx) };
  }

  private async startMetrics(): Promise<void> {
    const m = this.config.metrics;
    if (m === undefined) return;
    const server = new MetricsServer({ host: m.host, port: m.port, snapshot: () => this.metricsSnapshot(), onError: (msg: string) => this.rateLimited('warn', 'metrics', { error: msg }, 'metrics server') });
    const at = await server.listen();
    this.metricsServer = server;
    this.log.info({ host: at.host, port: at.port }, 'metrics served');
  }

  /** Tears down (control socket, routes, rule, data plane and TUN); saves the engine's contexts. Idempotent; never rejects. */
  stop(): Promise<void> {
    this.stopping ??= this.exclusive(() => this.tearDown(true)).catch(() => {});
    return this.stopping;
  }

  private async tearDown(save: boolean): Promise<void> {
    if (this.state === 'stopped') return;
    if (this.state === 'new') { this.state = 'stopped'; return; }
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    const step = async (what: string, done: string, f: () => Promise<void> | void): Promise<void> => {
      try {
        await f();
        this.log.info({}, done);
      } catch (e) {
        this.log.warn({ error: errorText(e) }, `teardown: ${what} failed`);
      }
    };
    this.log.info({}, 'tearing down');
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.options.monitor?.stop();
    const server = this.server;
    const dp = this.dataPlane;
    const shim = this.shim;
    if (server !== undefined) await step('closing the control socket', 'control socket closed', () => server.close());
    const metrics = this.metricsServer;
    if (metrics !== undefined) await step('closing the metrics server', 'metrics server closed', () => metrics.close());
    if (this.capture.capturing) await step('closing the capture', 'capture closed', async () => { await this.capture.stop(); });
    if (shim !== undefined) {
      shim.close();
      if (save && wasRunning && this.identity !== undefined) {
        const contexts = shim.engine.exportContexts();
        await step('saving state', `state saved (${contexts.length} context${contexts.length === 1 ? '' : 's'})`, () =>
          saveState(this.config.stateFile, { version: STATE_VERSION, savedAt: Date.now(), identity: this.identity!.saved, contexts }));
      }
    }
    const traffic = this.options.traffic;
    if (this.trafficInstalled && traffic !== undefined) await step('removing the traffic counters', 'traffic counters removed', () => traffic.remove());
    const intercept = this.intercept;
    this.intercept = undefined;
    this.intercepted.clear();
    if (intercept !== undefined) await step('removing the flow-label redirection', 'flow-label redirection removed', () => intercept.uninstall());
    if (this.ownsNetwork) {
      await step('removing the policy rules', 'policy rules removed', () => this.network.removeRules());
      this.routed.clear();
      await step('removing routes', 'routes removed', () => this.network.flushRoutes());
    }
    if (dp !== undefined) await step('closing the data plane', 'data plane and TUN closed', () => dp.close());
    this.state = 'stopped';
    this.log.info({}, 'stopped');
  }

  /** ControlHandler: one validated request. */
  async handle(request: ControlRequest): Promise<unknown> {
    const dp = this.dataPlane;
    if (this.state !== 'running' || dp === undefined) throw new ControlError('internal', `shim6d is ${this.state}`);
    switch (request.op) {
      case 'status': return this.status(dp);
      case 'contexts': return this.contextViews(dp);
      case 'context': return this.view(dp, request.args.context);
      case 'counters': {
        const r: CountersResult = { dataPlane: dp.control.counters(), control: this.server!.stats() };
        return r;
      }
      case 'set-pair': {
        const { context, local, peer } = request.args;
        return this.exclusive(() => this.setPair(dp, context, local, peer));
      }
      case 'locators': return this.locators();
      case 'establish': {
        const peer = parseIpv6(request.args.peer);
        if (peer === undefined) throw new ControlError('bad-locator', `not an IPv6 address: ${quote(request.args.peer)}`);
        let local: Uint8Array | undefined;
        if (request.args.local !== undefined) {
          local = parseIpv6(request.args.local);
          if (local === undefined) throw new ControlError('bad-locator', `not an IPv6 address: ${quote(request.args.local)}`);
        }
        return this.establishPeer(peer, local);
      }
      case 'explore': {
        const shim = this.shim;
        const ctx = shim?.find(request.args.context);
        if (shim === undefined || ctx === undefined) throw new ControlError('unknown-context', `no engine context named ${quote(request.args.context)}`);
        if (ctx.reap === undefined) throw new ControlError('not-available', `context ${contextName(ctx.id)} is ${ctx.state} without REAP (mode ${this.config.reap.mode})`);
        shim.explore(ctx.id);
        this.log.info({ context: contextName(ctx.id) }, 'exploration requested');
        return this.engineView(shim.engine.context(ctx.id) ?? ctx);
      }
      case 'pcap': return this.pcap(dp, request.args.action, request.args.path);
      case 'metrics': return { text: formatPrometheus(this.metricsSnapshot()) };
      case 'reload': return this.reloadFromFile();
    }
  }

  private status(dp: DataPlaneHandle): StatusResult {
    const shim = this.shim;
    const m = this.config.metrics;
    return {
      version: this.version,
      pid: this.pid,
      uptimeSec: Math.max(0, Math.floor((this.now() - this.startedAt) / 1000)),
      tun: { name: dp.tunName, mtu: this.config.tun.mtu, offload: this.config.tun.offload },
      contexts: dp.control.contexts().length,
      counters: dp.control.counters(),
      engine: shim === undefined ? null : { contexts: shim.engine.size, byState: shim.byState(), counters: { ...shim.engine.counters() } },
      identities: shim === undefined ? 0 : 1,
      reapMode: shim === undefined ? null : this.config.reap.mode,
      capturing: this.capture.capturing,
      metrics: m === undefined ? null : `${m.host.includes(':') ? `[${m.host}]` : m.host}:${m.port}`,
      flowLabel: shim === undefined || this.config.flowLabel === undefined ? null : {
        interceptDevice: dp.interceptName ?? this.config.flowLabel.interceptDevice,
        redirections: this.intercepted.size,
        ...shim.engine.flowLabelStats(this.now())!,
      },
    };
  }

  private contextViews(dp: DataPlaneHandle): ContextView[] {
    const out: ContextView[] = [];
    const engineNames = new Set<string>();
    if (this.shim !== undefined) {
      for (const c of this.shim.engine.contexts()) {
        engineNames.add(contextName(c.id));
        out.push(this.engineView(c));
      }
    }
    for (const s of dp.control.contexts()) if (!engineNames.has(s.name)) out.push(contextView(s));
    return out;
  }

  private view(dp: DataPlaneHandle, name: string): ContextView {
    const ctx = this.shim?.find(name);
    if (ctx !== undefined) return this.engineView(ctx);
    return contextView(this.snapshot(dp, name));
  }

  /** An engine context as the control protocol shows it. */
  private engineView(c: ShimContext): ContextView {
    const shim = this.shim!;
    const dp = this.dataPlane!;
    const name = contextName(c.id);
    const snap = dp.control.context(name);
    const f = shim.failover(c.id);
    const iso = (t: number): string => new Date(t).toISOString();
    const pair = (p: { local: Uint8Array; peer: Uint8Array }): { local: string; peer: string } => ({ local: formatIpv6(p.local), peer: formatIpv6(p.peer) });
    const local = [c.ulidLocal, ...c.lsLocal.map((l) => l.address).filter((a) => !bytesEqual(a, c.ulidLocal))];
    const peer = [c.ulidPeer, ...c.lsPeer.map((l) => l.address).filter((a) => !bytesEqual(a, c.ulidPeer))];
    return {
      name,
      source: 'engine',
      localUlid: formatIpv6(c.ulidLocal),
      peerUlid: formatIpv6(c.ulidPeer),
      localLocators: local.map((a) => formatIpv6(a)),
      peerLocators: peer.map((a) => formatIpv6(a)),
      localContextTag: c.ctLocal,
      peerContextTag: c.ctPeer ?? null,
      currentPair: pair({ local: c.lpLocal, peer: c.lpPeer }),
      rewriting: !bytesEqual(c.lpLocal, c.ulidLocal) || !bytesEqual(c.lpPeer, c.ulidPeer),
      counters: snap?.counters ?? zeroCounters(dp.control.counters()),
      state: c.state,
      reap: c.reap === undefined ? null : { state: c.reap.state, since: iso(f.reapSince ?? shim.wall(c.establishedAt ?? c.createdAt)) },
      failovers: f.failovers,
      lastFailover: f.last === undefined ? null : { at: iso(f.last.at), durationMs: f.last.durationMs, from: pair(f.last.from), to: pair(f.last.to), reason: f.last.reason },
      establishedAt: c.establishedAt === undefined ? null : iso(shim.wall(c.establishedAt)),
      flowLabel: this.config.flowLabel === undefined ? null : { local: c.flowLabelLocal ?? 0, peer: c.flowLabelPeer ?? 0 },
    };
  }

  private locators(): LocatorsResult {
    const ident = this.identity;
    const shim = this.shim;
    if (ident === undefined || shim === undefined) {
      return { identities: this.config.locators.length === 0 ? [] : [{ ulid: formatIpv6(this.config.locators[0]!), locators: this.config.locators.map((a) => ({ address: formatIpv6(a), interface: null, method: 'none', operational: true })) }] };
    }
    const current = shim.identity.locators;
    return {
      identities: [{
        ulid: formatIpv6(ident.saved.ulid),
        locators: ident.saved.locators.map((l) => ({
          address: formatIpv6(l.address),
          interface: ident.interfaces.get(addressKey(l.address)) ?? null,
          method: verificationMethodName(l.verificationMethod, 'table4'),
          operational: current.some((x) => bytesEqual(x.address, l.address)) && !this.downLocal(l.address),
        })),
      }],
    };
  }

  private downLocal(address: Uint8Array): boolean {
    return this.shim?.isDown(address) ?? false;
  }

  private async pcap(dp: DataPlaneHandle, action: 'start' | 'stop', path: string | undefined): Promise<PcapResult> {
    if (action === 'start') {
      if (this.capture.capturing) throw new ControlError('capture', `already capturing to ${this.capture.status().path ?? '?'}`);
      const file = path ?? join(dirname(this.config.stateFile), `shim6d-${new Date().toISOString().replace(/[:.]/g, '-')}.pcap`);
      if (!file.startsWith('/')) throw new ControlError('bad-request', `the capture path must be absolute: ${quote(file)}`);
      try {
        await this.capture.start(file);
      } catch (e) {
        throw new ControlError('capture', `cannot capture to ${quote(file)}: ${errorText(e)}`);
      }
      dp.setTap((p) => this.capture.write(p));
      this.log.info({ path: file }, 'capture started');
      return this.capture.status();
    }
    if (!this.capture.capturing) throw new ControlError('capture', 'not capturing');
    dp.setTap(null);
    const r = await this.capture.stop();
    this.log.info({ ...r }, 'capture stopped');
    return { capturing: false, path: r.path, packets: r.packets, bytes: r.bytes, truncated: r.truncated };
  }

  private metricsSnapshot(): MetricsSnapshot {
    const dp = this.dataPlane;
    const shim = this.shim;
    const daemon: Record<string, number> = Object.fromEntries(this.daemonCounters);
    if (shim !== undefined) for (const [k, v] of Object.entries(shim.counters())) daemon[k] = v;
    const contexts: MetricsSnapshot['contexts'][number][] = [];
    if (dp !== undefined) {
      for (const v of this.contextViews(dp)) {
        contexts.push({ name: v.name, localUlid: v.localUlid, peerUlid: v.peerUlid, state: v.state, reapState: v.reap?.state ?? null, failovers: v.failovers, counters: v.counters });
      }
    }
    return {
      uptimeSec: Math.max(0, Math.floor((this.now() - this.startedAt) / 1000)),
      engine: shim === undefined ? {} : shim.engine.counters(),
      dataPlane: dp === undefined ? {} : dp.control.counters(),
      daemon,
      contexts,
    };
  }

  /** Reads the configuration file again and applies it (SIGHUP, `shim6 reload`); a bad file changes nothing. */
  async reloadFromFile(): Promise<ReloadResult> {
    const load = this.options.loadConfig;
    if (load === undefined) throw new ControlError('not-available', 'this daemon was started without a configuration file to reload');
    let next: DaemonConfig;
    try {
      next = await load();
    } catch (e) {
      this.count('reload.refused');
      this.log.error({ error: errorText(e) }, 'reload refused: the running configuration is kept');
      throw new ControlError('bad-config', errorText(e));
    }
    return this.reload(next);
  }

  /**
   * Applies a new configuration without dropping contexts: what can change at run time
   * changes now, the rest is reported as needing a restart (and the running value kept).
   */
  async reload(next: DaemonConfig): Promise<ReloadResult> {
    if (this.state !== 'running') throw new ControlError('internal', `shim6d is ${this.state}`);
    return this.exclusive(async () => {
      const cur = this.config;
      const applied: string[] = [];
      const needsRestart: string[] = [];
      const same = (a: unknown, b: unknown): boolean => JSON.stringify(a, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v)) === JSON.stringify(b, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v));
      for (const key of ['interfaces', 'locators', 'tun', 'fwmark', 'routeTable', 'rulePriority', 'controlSocket', 'contexts', 'identity', 'stateFile', 'reap', 'flowLabel'] as const) {
        if (!same(cur[key], next[key])) needsRestart.push(key);
      }
      let config: DaemonConfig = cur;
      if (next.logLevel !== cur.logLevel) {
        this.options.setLogLevel?.(next.logLevel);
        applied.push('logLevel');
        config = { ...config, logLevel: next.logLevel };
      }
      if (!same(cur.establish, next.establish)) {
        this.shim?.setEstablish(next.establish);
        applied.push('establish');
        config = { ...config, establish: next.establish };
      }
      if (next.pollIntervalMs !== cur.pollIntervalMs) {
        config = { ...config, pollIntervalMs: next.pollIntervalMs };
        applied.push('pollIntervalMs');
      }
      const metricsChanged = !same(cur.metrics, next.metrics);
      if (metricsChanged) {
        config = { ...config, metrics: next.metrics };
        applied.push('metrics');
      }
      this.config = config;
      if (next.pollIntervalMs !== cur.pollIntervalMs && this.pollTimer !== undefined) this.schedulePoll();
      if (metricsChanged) {
        const old = this.metricsServer;
        this.metricsServer = undefined;
        if (old !== undefined) await old.close();
        try {
          await this.startMetrics();
        } catch (e) {
          this.log.error({ error: errorText(e) }, 'metrics server not restarted');
        }
      }
      if (this.shim !== undefined && applied.includes('establish')) {
        for (const peer of next.establish.peers) {
          if (!cur.establish.peers.some((p) => bytesEqual(p, peer))) this.establishPeer(peer);
        }
      }
      this.count('reloads');
      this.log.info({ applied, needsRestart }, 'configuration reloaded');
      return { applied, needsRestart };
    });
  }

  private snapshot(dp: DataPlaneHandle, name: string): ContextSnapshot {
    const s = dp.control.context(name);
    if (s === undefined) throw new ControlError('unknown-context', `no context named ${quote(name)}`);
    return s;
  }

  /** Switches a context's pair, then brings the route in line; rolls the switch back if the route cannot be installed. */
  private async setPair(dp: DataPlaneHandle, name: string, localText: string, peerText: string): Promise<ContextView> {
    if (this.state !== 'running') throw new ControlError('internal', `shim6d is ${this.state}`);
    const local = parseIpv6(localText);
    if (local === undefined) throw new ControlError('bad-locator', `not an IPv6 address: ${quote(localText)}`);
    const peer = parseIpv6(peerText);
    if (peer === undefined) throw new ControlError('bad-locator', `not an IPv6 address: ${quote(peerText)}`);
    const engineCtx = this.shim?.find(name);
    if (engineCtx !== undefined) {
      // Through the engine (§11.1): it checks the sets and tells the data plane.
      if (!this.shim!.setCurrentPair(engineCtx.id, local, peer)) {
        throw new ControlError('bad-locator', `${formatIpv6(local)} -> ${formatIpv6(peer)} is not a usable pair of context ${contextName(engineCtx.id)} (local in Ls(local), peer a verified member of Ls(peer), context ESTABLISHED)`);
      }
      await this.syncRule(contextName(engineCtx.id));
      this.log.info({ context: contextName(engineCtx.id), to: { local: formatIpv6(local), peer: formatIpv6(peer) } }, 'locator pair switched by the operator');
      return this.engineView(this.shim!.engine.context(engineCtx.id) ?? engineCtx);
    }
    const before = this.snapshot(dp, name);
    if (!before.localLocators.some((a) => sameAddress(a, local))) {
      throw new ControlError('bad-locator', `${formatIpv6(local)} is not a local locator of context ${quote(name)} (${before.localLocators.map((a) => formatIpv6(a)).join(', ')})`);
    }
    if (!before.peerLocators.some((a) => sameAddress(a, peer))) {
      throw new ControlError('bad-locator', `${formatIpv6(peer)} is not a peer locator of context ${quote(name)} (${before.peerLocators.map((a) => formatIpv6(a)).join(', ')})`);
    }
    this.setCurrentPair(dp, name, local, peer);
    try {
      await this.syncRule(name);
    } catch (e) {
      try {
        this.setCurrentPair(dp, name, before.currentLocal, before.currentPeer);
      } catch (e2) {
        this.log.error({ context: name, error: errorText(e2) }, 'cannot roll the locator pair back');
      }
      this.log.error({ context: name, error: errorText(e) }, 'rule update failed; pair switch rolled back');
      throw new ControlError('system', `cannot route ${formatIpv6(before.localUlid)} -> ${formatIpv6(before.peerUlid)} into the TUN: ${errorText(e)}; the pair was not changed`);
    }
    const after = this.snapshot(dp, name);
    this.log.info({
      context: name,
      from: { local: formatIpv6(before.currentLocal), peer: formatIpv6(before.currentPeer) },
      to: { local: formatIpv6(after.currentLocal), peer: formatIpv6(after.currentPeer) },
      rewriting: rewriting(after),
    }, 'locator pair switched');
    return contextView(after);
  }

  private setCurrentPair(dp: DataPlaneHandle, name: string, local: Uint8Array, peer: Uint8Array): void {
    try {
      dp.control.setCurrentPair(name, local, peer);
    } catch (e) {
      if (e instanceof DataPlaneError) {
        throw new ControlError(e.code === 'unknown-context' || e.code === 'bad-locator' ? e.code : 'internal', e.message);
      }
      throw e;
    }
  }

  /**
   * Installs the context's rule when it rewrites and removes it when it does not (or is
   * gone). A failed removal is only logged: the data plane passes the packets through
   * unchanged (its fast path no longer rewrites them), so traffic still flows.
   */
  private async syncRule(name: string): Promise<void> {
    const dp = this.dataPlane;
    if (dp === undefined || this.state === 'stopping' || this.state === 'stopped') return;
    const s = dp.control.context(name);
    // A removed engine context: its rule (if any) goes too, unless another context of that pair rewrites.
    if (s === undefined) return this.pruneRules(dp);
    const pair = { l: s.localUlid, p: s.peerUlid };
    const key = `${formatIpv6(pair.l)} ${formatIpv6(pair.p)}`;
    const wanted = rewriting(s);
    // Flow-label mode: a context whose peer takes a label keeps the links' MTU (its own table).
    const flowLabel = this.config.flowLabel !== undefined && s.peerFlowLabel !== 0;
    const had = this.routed.get(key);
    if (wanted && had !== undefined && had !== flowLabel) {
      await this.network.installRule(pair.l, pair.p, flowLabel);
      this.routed.set(key, flowLabel);
      try {
        await this.network.removeRule(pair.l, pair.p, had);
      } catch (e) {
        this.log.warn({ context: name, error: errorText(e) }, 'cannot remove the rule into the other table');
      }
      this.log.info({ context: name, table: this.tableOf(flowLabel) }, 'rule into the TUN moved');
    } else if (wanted && had === undefined) {
      await this.network.installRule(pair.l, pair.p, flowLabel);
      this.routed.set(key, flowLabel);
      this.flushDownLinks();
      this.log.info({ context: name, localUlid: formatIpv6(pair.l), peerUlid: formatIpv6(pair.p), table: this.tableOf(flowLabel) }, 'rule into the TUN installed');
    } else if (!wanted && had !== undefined) {
      try {
        await this.network.removeRule(pair.l, pair.p, had);
        this.routed.delete(key);
        this.log.info({ context: name, table: this.tableOf(had) }, 'rule into the TUN removed');
      } catch (e) {
        this.log.warn({ context: name, error: errorText(e) }, 'cannot remove the rule into the TUN; packets pass through unchanged');
      }
    }
  }

  private tableOf(flowLabel: boolean): number {
    return flowLabel && this.config.flowLabel !== undefined ? this.config.flowLabel.routeTable : this.config.routeTable;
  }

  /** Flow-label mode: the intercept TUN up, and the redirection from the locator interfaces into it. */
  private async startIntercept(dp: DataPlaneHandle): Promise<void> {
    const create = this.options.createIntercept;
    const target = dp.interceptName;
    const ident = this.config.identity;
    if (create === undefined || target === undefined || ident === undefined) throw new DaemonError('identity', 'flowLabel needs the identity, an intercept TUN and the nftables redirection');
    await this.network.configureIntercept?.(target);
    const devices = [...new Set(ident.prefixes.map((p) => p.interface))];
    const intercept = create(devices, target);
    await intercept.install();
    this.intercept = intercept;
    this.log.info({ devices, target, table: this.config.flowLabel!.routeTable }, 'flow-label mode (experimental): redirection into the intercept TUN installed');
  }

  /**
   * Flow-label mode: the redirection entry of a context follows its label and locator
   * sets (every pair but the ULIDs'); a context without a label, or gone, has none.
   */
  private async syncIntercept(name: string): Promise<void> {
    const intercept = this.intercept;
    const dp = this.dataPlane;
    if (intercept === undefined || dp === undefined || this.state === 'stopping' || this.state === 'stopped') return;
    const s = dp.control.context(name);
    let entry: InterceptEntry | undefined;
    if (s !== undefined && s.localFlowLabel !== 0) {
      const pairs: [Uint8Array, Uint8Array][] = [];
      for (const p of s.peerLocators) {
        for (const l of s.localLocators) if (!(sameAddress(p, s.peerUlid) && sameAddress(l, s.localUlid))) pairs.push([p, l]);
      }
      entry = { name, label: s.localFlowLabel, pairs };
    }
    const want = entry === undefined ? undefined : `${entry.label} ${entry.pairs.map(([p, l]) => `${formatIpv6(p)}.${formatIpv6(l)}`).join(',')}`;
    const have = this.intercepted.get(name);
    if (want === have) return;
    if (have !== undefined) {
      await intercept.remove(name);
      this.intercepted.delete(name);
    }
    if (entry !== undefined) {
      await intercept.add(entry);
      this.intercepted.set(name, want!);
      this.count('flowlabel.redirections');
    }
  }

  /** After a rule change moved sockets off them: the neighbour entries of links that are down (see HostOps.flushNeighbours). */
  private flushDownLinks(): void {
    for (const ifname of this.downLinks) {
      this.options.host?.flushNeighbours?.(ifname).catch((err: unknown) => {
        this.rateLimited('warn', 'neigh-flush', { ifname, error: errorText(err) }, 'cannot flush the neighbour entries of a downed link');
      });
    }
  }

  /** Removes rules whose ULID pair no longer has a rewriting context. */
  private async pruneRules(dp: DataPlaneHandle): Promise<void> {
    const live = new Set(dp.control.contexts().filter(rewriting).map((s) => `${formatIpv6(s.localUlid)} ${formatIpv6(s.peerUlid)}`));
    for (const [key, flowLabel] of [...this.routed]) {
      if (live.has(key)) continue;
      const [l, p] = key.split(' ').map((t) => parseIpv6(t)!);
      try {
        await this.network.removeRule(l!, p!, flowLabel);
        this.routed.delete(key);
        this.log.info({ localUlid: formatIpv6(l!), peerUlid: formatIpv6(p!) }, 'rule into the TUN removed (context gone)');
      } catch (e) {
        this.log.warn({ error: errorText(e) }, 'cannot remove the rule of a removed context');
      }
    }
  }

  /** Local locators must be assigned on this host (and on a listed interface, when listed). */
  private async checkLocators(): Promise<void> {
    const have = await this.network.localAddresses();
    const { locators, interfaces } = this.config;
    const problems: string[] = [];
    for (const loc of locators) {
      const on = have.filter((a) => sameAddress(a.address, loc)).map((a) => a.ifname);
      if (on.length === 0) problems.push(`${formatIpv6(loc)} is not assigned on this host`);
      else if (interfaces.length > 0 && !on.some((i) => interfaces.includes(i))) {
        problems.push(`${formatIpv6(loc)} is on ${on.join(', ')}, not on ${interfaces.join(', ')}`);
      }
    }
    if (problems.length > 0) throw new DaemonError('locator-not-assigned', `local locators not usable: ${problems.join('; ')}`);
  }

  private events(): DataPlaneEvents {
    return {
      unknownTag: (tag, src, dst) => {
        this.count('dataplane.unknown-tag');
        if (this.shim !== undefined) this.shim.unknownTag(tag, src, dst);
        else this.rateLimited('warn', 'unknown-tag', { tag, src: formatIpv6(src), dst: formatIpv6(dst) }, 'payload packet with an unknown context tag');
      },
      icmpError: (packet) => {
        this.count('dataplane.icmp-error');
        this.shim?.icmpError(packet);
      },
      control: (src, dst, message) => {
        this.count('dataplane.control');
        if (this.shim !== undefined) this.shim.control(src, dst, message);
        else {
          this.rateLimited('info', 'control-message', { src: formatIpv6(src), dst: formatIpv6(dst), type: message.length > 2 ? message[2]! & 0x7f : -1 },
            'Shim6 control message received; without an identity shim6d does not answer it');
        }
      },
    };
  }

  private rateLimited(level: 'info' | 'warn', key: string, fields: Record<string, unknown>, message: string): void {
    const suppressed = this.limiter.allow(key);
    if (suppressed === undefined) return;
    this.log[level](suppressed > 0 ? { ...fields, suppressed } : fields, message);
  }

  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.serial.then(f);
    this.serial = run.then(() => {}, () => {});
    return run;
  }
}
