/**
 * shim6d's metrics: a snapshot of its counters rendered in the Prometheus text exposition
 * format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/), and a
 * small HTTP server that serves it at GET /metrics.
 *
 * Names: every metric is prefixed `shim6_`; a counter's source name ('rx.I1',
 * 'egressPackets', 'netlink.events') becomes snake case with every character outside
 * [a-zA-Z0-9_:] turned into '_' ('rx.I1' -> shim6_engine_rx_i1_total,
 * 'egressPackets' -> shim6_dataplane_egress_packets_total) and counters end in
 * `_total`; HELP keeps the source name. Two source names that come out the same get
 * `_2`, `_3`... in sorted order, so the output never repeats a family. Label values are
 * escaped (backslash, double quote, newline). Output order is fixed: sections in the
 * order below, names sorted by code unit, contexts by name.
 *
 *   shim6_uptime_seconds                         gauge
 *   shim6_engine_<counter>_total                 counter
 *   shim6_dataplane_<counter>_total              counter
 *   shim6_daemon_<counter>_total                 counter
 *   shim6_contexts{state}                        gauge: contexts per RFC 5533 state, every
 *                                                state listed (0 included); 'none' for static
 *   shim6_context_info{context,local_ulid,peer_ulid}   gauge, 1
 *   shim6_context_reap_state{context,state}      gauge: 1 for the context's REAP state, 0
 *                                                for the others (contexts without REAP: none)
 *   shim6_context_failovers_total{context}       counter
 *   shim6_context_<counter>_total{context}       counter
 *
 * The server refuses a non-loopback address unless `allowRemote` is set (the counters
 * tell anyone who can read them which peers this host talks to), bounds connections,
 * header size and time, and answers anything but GET /metrics with 405 or 404.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ContextState } from '../context/types.js';
import { parseIpv6 } from '../wire/address.js';
import { REAP_STATES } from './control-protocol.js';

export interface MetricsSnapshot {
  readonly uptimeSec: number;
  /** Engine counters: 'rx.I1', 'drop.nonce-mismatch', 'reap.local-down', ... */
  readonly engine: Readonly<Record<string, number>>;
  /** Global data-plane counters (camelCase names, src/dataplane/types.ts COUNTERS). */
  readonly dataPlane: Readonly<Record<string, number>>;
  /** The daemon's own counters: 'netlink.events', 'traffic.polls', 'control.refused', ... */
  readonly daemon: Readonly<Record<string, number>>;
  readonly contexts: readonly {
    readonly name: string;
    readonly localUlid: string;
    readonly peerUlid: string;
    /** RFC 5533 STATE; null for a static context. */
    readonly state: string | null;
    /** REAP state (RFC 5534 §6); null when REAP does not run on the context. */
    readonly reapState: string | null;
    readonly failovers: number;
    readonly counters: Readonly<Record<string, number>>;
  }[];
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The state label of contexts without an RFC 5533 state (static contexts). */
const NO_STATE = 'none';

function byKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** 'rx.I1' -> 'rx_i1', 'egressPackets' -> 'egress_packets', 'drop.nonce-mismatch' -> 'drop_nonce_mismatch'. */
export function metricName(source: string): string {
  const snake = source
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_:]/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  return snake === '' ? 'unnamed' : snake;
}

/** A label value with backslash, double quote and newline escaped. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text with backslash and newline escaped. */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function value(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function labels(pairs: readonly (readonly [string, string])[]): string {
  return pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

/** Collects families; a name already taken gets `_2`, `_3`... before its suffix. */
class Exposition {
  private readonly lines: string[] = [];
  private readonly taken = new Set<string>();

  /** A unique full name for `prefix + base + suffix`. */
  name(prefix: string, base: string, suffix: string): string {
    let full = `${prefix}${base}${suffix}`;
    for (let i = 2; this.taken.has(full); i++) full = `${prefix}${base}_${i}${suffix}`;
    this.taken.add(full);
    return full;
  }

  family(name: string, type: 'counter' | 'gauge', help: string, samples: readonly (readonly [readonly (readonly [string, string])[], number])[]): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) this.lines.push(`${name}${labels(l)} ${value(v)}`);
  }

  text(): string {
    return this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`;
  }
}

function counterSection(x: Exposition, prefix: string, what: string, counters: Readonly<Record<string, number>>): void {
  for (const key of Object.keys(counters).sort(byKey)) {
    const v = counters[key];
    if (typeof v !== 'number') continue;
    x.family(x.name(prefix, metricName(key), '_total'), 'counter', `${what} counter ${key}.`, [[[], v]]);
  }
}

/** The snapshot as Prometheus text format 0.0.4 (ends with a newline). */
export function formatPrometheus(s: MetricsSnapshot): string {
  const x = new Exposition();
  x.family(x.name('shim6_', 'uptime_seconds', ''), 'gauge', 'Seconds since shim6d started.', [[[], s.uptimeSec]]);
  counterSection(x, 'shim6_engine_', 'Context engine', s.engine);
  counterSection(x, 'shim6_dataplane_', 'Data plane', s.dataPlane);
  counterSection(x, 'shim6_daemon_', 'Daemon', s.daemon);

  const contexts = [...s.contexts].sort((a, b) => byKey(a.name, b.name));
  const byState = new Map<string, number>(Object.values(ContextState).map((st) => [st, 0]));
  for (const c of contexts) {
    const st = c.state ?? NO_STATE;
    byState.set(st, (byState.get(st) ?? 0) + 1);
  }
  if (!byState.has(NO_STATE)) byState.set(NO_STATE, 0);
  x.family(x.name('shim6_', 'contexts', ''), 'gauge', `Contexts per RFC 5533 state ('${NO_STATE}': static contexts).`,
    [...byState.keys()].sort(byKey).map((st) => [[['state', st]], byState.get(st)!]));
  if (contexts.length === 0) return x.text();

  x.family(x.name('shim6_', 'context_info', ''), 'gauge', 'A context and its ULID pair (always 1).',
    contexts.map((c) => [[['context', c.name], ['local_ulid', c.localUlid], ['peer_ulid', c.peerUlid]], 1]));
  const reapStates = (c: MetricsSnapshot['contexts'][number]): string[] =>
    c.reapState === null ? [] : [...new Set<string>([...REAP_STATES, c.reapState])].sort(byKey);
  x.family(x.name('shim6_', 'context_reap_state', ''), 'gauge', 'REAP state of each context (RFC 5534 §6): 1 for the current state.',
    contexts.flatMap((c) => reapStates(c).map((st) => [[['context', c.name], ['state', st]], st === c.reapState ? 1 : 0] as const)));
  x.family(x.name('shim6_', 'context_failovers', '_total'), 'counter', 'Locator pair changes REAP made on the context.',
    contexts.map((c) => [[['context', c.name]], c.failovers]));
  const keys = [...new Set(contexts.flatMap((c) => Object.keys(c.counters)))].sort(byKey);
  for (const key of keys) {
    const samples = contexts.filter((c) => typeof c.counters[key] === 'number').map((c) => [[['context', c.name]], c.counters[key]!] as const);
    x.family(x.name('shim6_context_', metricName(key), '_total'), 'counter', `Per-context data plane counter ${key}.`, samples);
  }
  return x.text();
}

// ---------------------------------------------------------------------------------------
// Listen addresses

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * A listen address: '[::1]:9464', '127.0.0.1:9464' or 'localhost:9464' (an IPv6 address
 * in brackets, an IPv4 address or a host name, then a port 0..65535). Undefined when
 * the text is none of those.
 */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  if (m[1] !== undefined) return parseIpv6(m[1]) === undefined || m[1].includes('%') ? undefined : { host: m[1], port };
  const host = m[2]!;
  // All digits and dots is an IPv4 address or nothing (a host name's last label is not numeric).
  if (/^[\d.]+$/.test(host)) return IPV4.test(host) ? { host, port } : undefined;
  return HOSTNAME.test(host) ? { host, port } : undefined;
}

/** True for ::1, 127.0.0.0/8 (also as ::ffff:127.x.y.z) and 'localhost'. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === 'localhost.') return true;
  if (IPV4.test(h)) return h.startsWith('127.');
  const a = parseIpv6(h);
  if (a === undefined) return false;
  if (a.subarray(0, 15).every((b) => b === 0) && a[15] === 1) return true;
  const mapped = a.subarray(0, 10).every((b) => b === 0) && a[10] === 0xff && a[11] === 0xff;
  return mapped && a[12] === 127;
}

// ---------------------------------------------------------------------------------------
// The HTTP server

export interface MetricsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly snapshot: () => MetricsSnapshot;
  /** Called when a snapshot or the server fails (the daemon logs it). */
  readonly onError?: (message: string) => void;
  /** Listen on a non-loopback address too (default false: refused). */
  readonly allowRemote?: boolean;
  /** Open connections at most (default 16); more are closed at once. */
  readonly maxConnections?: number;
  /** Time allowed for a request's headers (default 5000 ms) and for a whole request (default 10000 ms). */
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

export const METRICS_DEFAULTS = {
  maxConnections: 16,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderSize: 8_192,
} as const;

export class MetricsServer {
  private readonly host: string;
  private readonly port: number;
  private readonly snapshot: () => MetricsSnapshot;
  private readonly onError: (message: string) => void;
  private readonly maxConnections: number;
  private readonly headersTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  /** Throws RangeError for a port outside 0..65535 or a non-loopback host without `allowRemote`. */
  constructor(opts: MetricsServerOptions) {
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new RangeError(`metrics port must be 0..65535, got ${opts.port}`);
    if (opts.allowRemote !== true && !isLoopbackHost(opts.host)) {
      throw new RangeError(`metrics: ${opts.host} is not a loopback address (the counters name this host's peers); set allowRemote to listen there`);
    }
    this.host = opts.host;
    this.port = opts.port;
    this.snapshot = opts.snapshot;
    this.onError = opts.onError ?? (() => {});
    this.maxConnections = opts.maxConnections ?? METRICS_DEFAULTS.maxConnections;
    this.headersTimeoutMs = opts.headersTimeoutMs ?? METRICS_DEFAULTS.headersTimeoutMs;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? METRICS_DEFAULTS.requestTimeoutMs;
  }

  /** Starts listening; resolves to the address bound (the port chosen when 0 was asked). */
  async listen(): Promise<{ host: string; port: number }> {
    if (this.server !== undefined) throw new Error('MetricsServer.listen called twice');
    const server = createServer({ maxHeaderSize: METRICS_DEFAULTS.maxHeaderSize }, (req, res) => this.answer(req, res));
    server.maxConnections = this.maxConnections;
    server.headersTimeout = this.headersTimeoutMs;
    server.requestTimeout = this.requestTimeoutMs;
    server.keepAliveTimeout = METRICS_DEFAULTS.keepAliveTimeoutMs;
    server.maxHeadersCount = 64;
    server.maxRequestsPerSocket = 1000;
    server.setTimeout(this.requestTimeoutMs);
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    server.on('clientError', (_e, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.host, port: this.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.onError(`metrics server: ${e.message}`));
    const a = server.address();
    if (a === null || typeof a === 'string') return { host: this.host, port: this.port };
    return { host: a.address, port: a.port };
  }

  /** Stops listening and drops every connection. Idempotent. */
  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined || !server.listening) {
      for (const s of this.sockets) s.destroy();
      return;
    }
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    const path = url.split('?', 1)[0];
    if (path !== '/metrics') {
      this.plain(res, 404, 'not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET');
      this.plain(res, 405, 'method not allowed: GET only\n');
      return;
    }
    let body: string;
    try {
      body = formatPrometheus(this.snapshot());
    } catch (e) {
      this.onError(`metrics snapshot failed: ${e instanceof Error ? e.message : String(e)}`);
      this.plain(res, 500, 'internal error\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    res.end(body);
    req.resume();
  }

  private plain(res: ServerResponse, status: number, text: string): void {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
    res.req.resume();
  }
}
