/**
 * The shim6d core with static contexts: sets the host up, installs the configured
 * contexts in the data plane, answers the control socket, and switches locator pairs
 * on request (what REAP will do on its own later, RFC 5534 §4).
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
 * Leaves out: the context engine (I1/R1/I2/R2, RFC 5533 §7) and REAP; Shim6 control
 * messages and unknown context tags are only logged.
 */
import { DataPlaneError, type ContextSnapshot, type DataPlaneControl, type DataPlaneEvents } from '../dataplane/types.js';
import { formatIpv6, parseIpv6 } from '../wire/address.js';
import { quote, type DaemonConfig } from './config.js';
import { ControlError, type ContextView, type ControlRequest, type CountersResult, type StatusResult } from './control-protocol.js';
import { claimSocketPath, ControlServer, type ControlHandler, type ControlServerOptions } from './control-server.js';
import { RateLimiter, type Log } from './log.js';
import type { Network } from './system.js';

/** The data plane with its devices open, as the daemon drives it. */
export interface DataPlaneHandle {
  readonly control: DataPlaneControl;
  /** The TUN's name as the kernel knows it. */
  readonly tunName: string;
  /** Starts reading the devices. */
  start(): void;
  /** Stops packet processing and closes every device (closing the TUN removes its link). Idempotent. */
  close(): void;
}

export interface DataPlaneFactoryOptions {
  readonly tunName: string;
  readonly mtu: number;
  /** TUN offloads: virtio-net header, TSO, userspace segmentation and coalescing. */
  readonly offload: boolean;
  /** SO_MARK for the data plane's own output, so it bypasses the route table. */
  readonly fwmark: number;
  readonly events: DataPlaneEvents;
}

/** Opens the devices and builds the data plane; throws when a device cannot be opened. */
export type DataPlaneFactory = (options: DataPlaneFactoryOptions) => DataPlaneHandle;

export class DaemonError extends Error {
  readonly code: 'locator-not-assigned' | 'bad-state';
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
}

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
  };
}

export class Daemon implements ControlHandler {
  private readonly config: DaemonConfig;
  private readonly network: Network;
  private readonly createDataPlane: DataPlaneFactory;
  private readonly log: Log;
  private readonly now: () => number;
  private readonly pid: number;
  private readonly version: string;
  private readonly controlOptions: Omit<ControlServerOptions, 'path' | 'onError'>;
  private readonly limiter: RateLimiter;

  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private startedAt = 0;
  private dataPlane: DataPlaneHandle | undefined;
  private server: ControlServer | undefined;
  /** Set once stale state was removed: from then on the rule, table and TUN are ours to clean. */
  private ownsNetwork = false;
  /** Peer ULIDs (canonical text) whose route into the TUN is installed. */
  private readonly routed = new Set<string>();
  /** Pair switches and teardown run one at a time, in order. */
  private serial: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;

  constructor(options: DaemonOptions) {
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
        await this.tearDown();
        throw e;
      }
    });
  }

  private async setUp(): Promise<void> {
    const cfg = this.config;
    const sock = await claimSocketPath(cfg.controlSocket);
    if (sock === 'stale') this.log.info({ path: cfg.controlSocket }, 'removed a stale control socket');
    await this.checkLocators();

    this.log.info({ table: cfg.routeTable, rulePriority: cfg.rulePriority, tun: cfg.tun.name }, 'removing state left by an earlier run');
    this.ownsNetwork = true;
    await this.network.removeStaleState();

    const dp = this.createDataPlane({ tunName: cfg.tun.name, mtu: cfg.tun.mtu, offload: cfg.tun.offload, fwmark: cfg.fwmark, events: this.events() });
    this.dataPlane = dp;
    this.log.info({ tun: dp.tunName }, 'TUN opened');
    await this.network.configureTun(dp.tunName);
    this.log.info({ tun: dp.tunName, mtu: cfg.tun.mtu }, 'TUN up');

    for (const ctx of cfg.contexts) dp.control.addContext(ctx);
    await this.network.installTableRoute(dp.tunName);
    this.log.info({ table: cfg.routeTable, tun: dp.tunName }, 'table route into the TUN installed');
    for (const s of dp.control.contexts()) await this.syncRule(s.name);
    dp.start();

    const server = new ControlServer(this, {
      ...this.controlOptions,
      path: cfg.controlSocket,
      onError: (code, message) => this.rateLimited('warn', `control:${code}`, { code, detail: message }, 'control request refused'),
    });
    this.server = server;
    await server.listen();
    this.startedAt = this.now();
    this.state = 'running';
    this.log.info({ contexts: cfg.contexts.length, socket: cfg.controlSocket, version: this.version }, 'shim6d running');
  }

  /** Tears down (control socket, routes, rule, data plane and TUN). Idempotent; never rejects. */
  stop(): Promise<void> {
    this.stopping ??= this.exclusive(() => this.tearDown()).catch(() => {});
    return this.stopping;
  }

  private async tearDown(): Promise<void> {
    if (this.state === 'stopped') return;
    if (this.state === 'new') { this.state = 'stopped'; return; }
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
    const server = this.server;
    const dp = this.dataPlane;
    if (server !== undefined) await step('closing the control socket', 'control socket closed', () => server.close());
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
      case 'contexts': return dp.control.contexts().map(contextView);
      case 'context': return contextView(this.snapshot(dp, request.args.context));
      case 'counters': {
        const r: CountersResult = { dataPlane: dp.control.counters(), control: this.server!.stats() };
        return r;
      }
      case 'set-pair': {
        const { context, local, peer } = request.args;
        return this.exclusive(() => this.setPair(dp, context, local, peer));
      }
    }
  }

  private status(dp: DataPlaneHandle): StatusResult {
    return {
      version: this.version,
      pid: this.pid,
      uptimeSec: Math.max(0, Math.floor((this.now() - this.startedAt) / 1000)),
      tun: { name: dp.tunName, mtu: this.config.tun.mtu, offload: this.config.tun.offload },
      contexts: dp.control.contexts().length,
      counters: dp.control.counters(),
    };
  }

  private snapshot(dp: DataPlaneHandle, name: string): ContextSnapshot {
    const s = dp.control.context(name);
    if (s === undefined) throw new ControlError('unknown-context', `no context named ${quote(name)}`);
    return s;
  }

  /** Switches a context's pair, then brings the route in line; rolls the switch back if the route cannot be installed. */
  private async setPair(dp: DataPlaneHandle, name: string, localText: string, peerText: string): Promise<ContextView> {
    if (this.state !== 'running') throw new ControlError('internal', `shim6d is ${this.state}`);
    const before = this.snapshot(dp, name);
    const local = parseIpv6(localText);
    if (local === undefined) throw new ControlError('bad-locator', `not an IPv6 address: ${quote(localText)}`);
    const peer = parseIpv6(peerText);
    if (peer === undefined) throw new ControlError('bad-locator', `not an IPv6 address: ${quote(peerText)}`);
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
   * Installs the context's rule when it rewrites and removes it when it does not. A
   * failed removal is only logged: the data plane passes the packets through unchanged
   * (its fast path no longer rewrites them), so traffic still flows.
   */
  private async syncRule(name: string): Promise<void> {
    const s = this.dataPlane!.control.context(name);
    if (s === undefined) return;
    const key = `${formatIpv6(s.localUlid)} ${formatIpv6(s.peerUlid)}`;
    const wanted = rewriting(s);
    if (wanted && !this.routed.has(key)) {
      await this.network.installRule(s.localUlid, s.peerUlid);
      this.routed.add(key);
      this.log.info({ context: name, localUlid: formatIpv6(s.localUlid), peerUlid: formatIpv6(s.peerUlid), table: this.config.routeTable }, 'rule into the TUN installed');
    } else if (!wanted && this.routed.has(key)) {
      try {
        await this.network.removeRule(s.localUlid, s.peerUlid);
        this.routed.delete(key);
        this.log.info({ context: name, table: this.config.routeTable }, 'rule into the TUN removed');
      } catch (e) {
        this.log.warn({ context: name, error: errorText(e) }, 'cannot remove the rule into the TUN; packets pass through unchanged');
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
      unknownTag: (tag, src, dst) => this.rateLimited('warn', 'unknown-tag', { tag, src: formatIpv6(src), dst: formatIpv6(dst) }, 'payload packet with an unknown context tag'),
      control: (src, dst, message) => this.rateLimited('info', 'control-message', { src: formatIpv6(src), dst: formatIpv6(dst), type: message.length > 2 ? message[2]! & 0x7f : -1 },
        'Shim6 control message received; static contexts do not answer it'),
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
