/**
 * shim6d's configuration file: JSON, validated once here, at the boundary. Everything the
 * rest of the daemon reads is a `DaemonConfig` whose addresses are already bytes, whose
 * cross-references (ULIDs in their locator lists, context locators among the host's
 * locators, the current pair in the lists) already hold, and whose sizes are bounded.
 *
 * A bad file gives one `ConfigError` that lists every problem found, each with its JSON
 * path (`contexts[1].peerLocators[0]: not an IPv6 address`). Unknown keys are errors, so
 * a misspelt option is never silently ignored. Counts and string lengths are capped so a
 * hostile file cannot make the validator or the daemon allocate without bound.
 *
 * The contexts are static (RFC 5533 §6.2's state set by hand, as if the I1/R1/I2/R2
 * exchange had already happened); the context engine replaces them later. What the
 * validator cannot know — whether the local locators are assigned on this host — is
 * checked by the daemon at startup (daemon.ts).
 */
import type { FastPathContext } from '../dataplane/types.js';
import { formatIpv6, parseIpv6, unicastProblem } from '../wire/address.js';

export { unicastProblem };
import { CONTEXT_TAG_MAX } from '../wire/constants.js';
import type { ReapConfig, ReapMode } from '../reap/constants.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Bounds on what a configuration may hold. */
export const CONFIG_LIMITS = {
  /** Size of the configuration file, checked before it is parsed. */
  fileBytes: 1 << 20,
  interfaces: 32,
  /** The host's locators (top-level `locators`). */
  locators: 32,
  contexts: 256,
  /** Each of a context's `localLocators` and `peerLocators`. */
  contextLocators: 16,
  /** Problems listed in one ConfigError; the rest are counted. */
  issues: 100,
  /** sun_path is 108 octets including the terminating NUL. */
  socketPathBytes: 107,
  /** Characters of a key or value quoted in a message. */
  quoted: 64,
} as const;

export const CONFIG_DEFAULTS = {
  tunName: 'shim6tun0',
  /** A 1500-octet path minus the 8-octet Payload Extension header (RFC 5533 §5.2). */
  tunMtu: 1492,
  fwmark: 20534,
  routeTable: 20534,
  rulePriority: 100,
  controlSocket: '/run/shim6/shim6d.sock',
  logLevel: 'info' as LogLevel,
  stateFile: '/var/lib/shim6/state.cbor',
  /** How often the data plane's and the kernel path's per-pair counters feed REAP (RFC 5534 §3). */
  pollIntervalMs: 50,
  reapMode: 'fast' as ReapMode,
  /** RFC 5533 §4's example heuristic: more than 50 packets, or 10 s of traffic. */
  establishAfterPackets: 50,
  establishAfterMs: 10_000,
} as const;

/** Reserved routing tables (rtnetlink RT_TABLE_UNSPEC, DEFAULT, MAIN, LOCAL). */
const RESERVED_TABLES: ReadonlyMap<number, string> = new Map([[0, 'unspec'], [253, 'default'], [254, 'main'], [255, 'local']]);
/** Rule priorities 0 (local), 32766 (main) and 32767 (default) belong to the kernel's rules. */
const PRIORITY_MIN = 1;
const PRIORITY_MAX = 32765;
const UINT32_MAX = 0xffff_ffff;
const MTU_MIN = 1280;
const MTU_MAX = 65535;

const CONTEXT_NAME = /^[A-Za-z0-9._-]{1,64}$/;
/** IFNAMSIZ is 16 including the NUL. */
const INTERFACE_NAME = /^[A-Za-z0-9._-]{1,15}$/;
/** No dots: the TUN's name also appears in /proc/sys paths and `ip` arguments. */
const TUN_NAME = /^[A-Za-z0-9_-]{1,15}$/;
const HEX_NUMBER = /^0[xX][0-9a-fA-F]{1,12}$/;

export interface TunConfig {
  readonly name: string;
  readonly mtu: number;
  /**
   * Open the TUN with a virtio-net header and TSO, segmenting and coalescing TCP in the
   * data plane (default true); false moves one packet per TUN read or write.
   */
  readonly offload: boolean;
}

export interface DaemonConfig {
  /** Interfaces the local locators must be on; empty means any. */
  readonly interfaces: readonly string[];
  /** The host's locators. */
  readonly locators: readonly Uint8Array[];
  readonly tun: TunConfig;
  readonly fwmark: number;
  readonly routeTable: number;
  readonly rulePriority: number;
  readonly controlSocket: string;
  readonly logLevel: LogLevel;
  /** The static contexts, in file order; `currentLocal`/`currentPeer` default to the ULIDs. */
  readonly contexts: readonly FastPathContext[];
  /**
   * The host's Shim6 identity: an HBA set (RFC 5535) over these /64 prefixes, generated
   * at the first start (then kept in `stateFile`) and configured on the interfaces. With
   * it the daemon runs the context engine and REAP; without it, only static contexts.
   */
  readonly identity: IdentityConfig | undefined;
  readonly stateFile: string;
  readonly pollIntervalMs: number;
  /** REAP's profile, and the values that override it (undefined: the profile's). */
  readonly reap: {
    readonly mode: ReapMode;
    readonly sendTimeoutMs: number | undefined;
    /** How long the primary pair must work again before a context returns to it; 0: never (RFC 5534 has no failback). */
    readonly failbackHoldDownMs: number | undefined;
    /** How often the primary pair is probed while a context is away from it. */
    readonly failbackProbeIntervalMs: number | undefined;
  };
  readonly establish: EstablishConfig;
  /** Prometheus metrics over HTTP on a loopback address (the control socket's `metrics` op works regardless). */
  readonly metrics: { readonly host: string; readonly port: number } | undefined;
  /** EXPERIMENTAL flow-label demultiplexing (issue #8); undefined when off (the default). Needs `identity`. */
  readonly flowLabel: FlowLabelModeConfig | undefined;
}

export interface FlowLabelModeConfig {
  /** Labels handed out to peers: first..last (1..0xFFFFF). */
  readonly first: number;
  readonly last: number;
  readonly quarantineMs: number;
  readonly maxLabels: number;
  /** The TUN the hosts' ingress redirects flow-labelled packets into. */
  readonly interceptDevice: string;
  /** Route table for contexts whose peer takes a flow label (the TUN's full MTU). */
  readonly routeTable: number;
}

export interface IdentityPrefix {
  /** The 8 octets of the /64. */
  readonly prefix: Uint8Array;
  readonly interface: string;
}

export interface IdentityConfig {
  readonly prefixes: readonly IdentityPrefix[];
}

export interface EstablishConfig {
  /** Peers (ULIDs) to establish a context with at start and after a reload. */
  readonly peers: readonly Uint8Array[];
  /** Establish contexts by themselves for ULID pairs with traffic (RFC 5533 §4); false: only `peers` and `shim6 establish`. */
  readonly auto: boolean;
  readonly afterPackets: number;
  readonly afterMs: number;
}

export interface ConfigIssue {
  /** JSON path of the offending value, '' for the document itself. */
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  /** Problems found beyond CONFIG_LIMITS.issues, not listed. */
  readonly omitted: number;
  constructor(issues: readonly ConfigIssue[], omitted = 0) {
    const lines = issues.map((i) => `  ${i.path === '' ? '(top level)' : i.path}: ${i.message}`);
    if (omitted > 0) lines.push(`  ... and ${omitted} more`);
    const n = issues.length + omitted;
    super(`invalid configuration (${n} problem${n === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
    this.omitted = omitted;
  }
}

/** A string for a message: JSON-quoted and cut to CONFIG_LIMITS.quoted characters. */
export function quote(s: string): string {
  return JSON.stringify(s.length > CONFIG_LIMITS.quoted ? `${s.slice(0, CONFIG_LIMITS.quoted)}…` : s);
}

function childPath(path: string, key: string): string {
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) && key.length <= CONFIG_LIMITS.quoted) return path === '' ? key : `${path}.${key}`;
  return `${path}[${quote(key)}]`;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

class Checker {
  readonly issues: ConfigIssue[] = [];
  omitted = 0;

  add(path: string, message: string): void {
    if (this.issues.length < CONFIG_LIMITS.issues) this.issues.push({ path, message });
    else this.omitted++;
  }

  /** The object's own entries, with every key outside `allowed` reported. */
  object(v: unknown, path: string, allowed: readonly string[]): Json | undefined {
    if (!isObject(v)) {
      this.add(path, `must be an object, not ${describe(v)}`);
      return undefined;
    }
    for (const key of Object.keys(v)) if (!allowed.includes(key)) this.add(childPath(path, key), 'unknown key');
    return v;
  }

  /** The value of `key` in `o` (own properties only; undefined counts as absent), reporting it when required and absent. */
  field(o: Json, path: string, key: string, required: boolean): unknown {
    if (!Object.hasOwn(o, key) || o[key] === undefined) {
      if (required) this.add(childPath(path, key), 'is required');
      return undefined;
    }
    return o[key];
  }

  array(v: unknown, path: string, min: number, max: number): readonly unknown[] | undefined {
    if (!Array.isArray(v)) {
      this.add(path, `must be an array, not ${describe(v)}`);
      return undefined;
    }
    if (v.length < min || v.length > max) {
      this.add(path, min === max ? `must have ${min} entries` : `must have ${min} to ${max} entries, not ${v.length}`);
      return undefined;
    }
    return v;
  }

  /** An integer in [min, max], or with `hex` also a "0x..." string. */
  uint(v: unknown, path: string, min: number, max: number, hex: boolean): number | undefined {
    let n: number | undefined;
    if (typeof v === 'number' && Number.isInteger(v)) n = v;
    else if (hex && typeof v === 'string' && HEX_NUMBER.test(v)) n = parseInt(v.slice(2), 16);
    const range = `${min}..${max}`;
    if (n === undefined) {
      this.add(path, `must be an integer ${range}${hex ? ' or a "0x..." hex string' : ''}`);
      return undefined;
    }
    if (n < min || n > max) {
      this.add(path, `must be in ${range}, not ${n}`);
      return undefined;
    }
    return n;
  }

  string(v: unknown, path: string, pattern: RegExp, what: string): string | undefined {
    if (typeof v !== 'string') {
      this.add(path, `must be a string (${what}), not ${describe(v)}`);
      return undefined;
    }
    if (!pattern.test(v) || v === '.' || v === '..') {
      this.add(path, `not ${what}: ${quote(v)}`);
      return undefined;
    }
    return v;
  }

  /** A unicast IPv6 address usable as a locator. */
  address(v: unknown, path: string): Uint8Array | undefined {
    if (typeof v !== 'string') {
      this.add(path, `must be a string (an IPv6 address), not ${describe(v)}`);
      return undefined;
    }
    const a = parseIpv6(v);
    if (a === undefined) {
      this.add(path, `not an IPv6 address: ${quote(v)}`);
      return undefined;
    }
    const problem = unicastProblem(a);
    if (problem !== undefined) {
      this.add(path, `${formatIpv6(a)} is ${problem}, not usable as a locator`);
      return undefined;
    }
    return a;
  }

  /**
   * A list of distinct addresses; undefined when any entry is bad (the entries' problems
   * are reported). `index` maps each canonical address to its position.
   */
  addressList(v: unknown, path: string, max: number): { list: Uint8Array[]; index: Map<string, number> } | undefined {
    const arr = this.array(v, path, 1, max);
    if (arr === undefined) return undefined;
    const list: Uint8Array[] = [];
    const index = new Map<string, number>();
    let bad = false;
    arr.forEach((item, i) => {
      const p = `${path}[${i}]`;
      const a = this.address(item, p);
      if (a === undefined) { bad = true; return; }
      const key = formatIpv6(a);
      const first = index.get(key);
      if (first !== undefined) { this.add(p, `${key} repeats ${path}[${first}]`); bad = true; return; }
      index.set(key, i);
      list.push(a);
    });
    return bad ? undefined : { list, index };
  }
}

const TOP_KEYS = ['interfaces', 'locators', 'tun', 'fwmark', 'routeTable', 'rulePriority', 'controlSocket', 'logLevel', 'contexts',
  'identity', 'stateFile', 'pollIntervalMs', 'reap', 'establish', 'metrics', 'flowLabel'] as const;
const FLOW_LABEL_KEYS = ['enabled', 'first', 'last', 'quarantineMs', 'maxLabels', 'interceptDevice', 'routeTable'] as const;
const IDENTITY_KEYS = ['prefixes'] as const;
const PREFIX_KEYS = ['prefix', 'interface'] as const;
const REAP_KEYS = ['mode', 'sendTimeoutMs', 'failbackHoldDownMs', 'failbackProbeIntervalMs'] as const;
const ESTABLISH_KEYS = ['peers', 'auto', 'afterPackets', 'afterMs'] as const;
const METRICS_KEYS = ['listen'] as const;
const REAP_MODES: readonly ReapMode[] = ['fast', 'rfc', 'off'];
const PREFIX_TEXT = /^([0-9A-Fa-f:.]{2,45})\/64$/;
/** `[::1]:9464`, `127.0.0.1:9464` or `localhost:9464`: loopback only, the daemon has no authentication on it. */
const LISTEN = /^(?:\[(::1)\]|(127\.0\.0\.1)|(localhost)):([0-9]{1,5})$/;
const TUN_KEYS = ['name', 'mtu', 'offload'] as const;
const CONTEXT_KEYS = ['name', 'localUlid', 'peerUlid', 'localLocators', 'peerLocators', 'localContextTag', 'peerContextTag', 'currentPair'] as const;
const PAIR_KEYS = ['local', 'peer'] as const;

/** Validates a parsed configuration document; throws ConfigError listing every problem. Never throws anything else. */
export function validateConfig(doc: unknown): DaemonConfig {
  const c = new Checker();
  const top = c.object(doc, '', TOP_KEYS);
  if (top === undefined) throw new ConfigError(c.issues, c.omitted);

  const interfaces: string[] = [];
  const ifv = c.field(top, '', 'interfaces', false);
  if (ifv !== undefined) {
    const arr = c.array(ifv, 'interfaces', 0, CONFIG_LIMITS.interfaces);
    if (arr !== undefined) {
      const seen = new Map<string, number>();
      arr.forEach((item, i) => {
        const name = c.string(item, `interfaces[${i}]`, INTERFACE_NAME, 'an interface name ([A-Za-z0-9._-], at most 15 characters)');
        if (name === undefined) return;
        const first = seen.get(name);
        if (first !== undefined) c.add(`interfaces[${i}]`, `${quote(name)} repeats interfaces[${first}]`);
        else { seen.set(name, i); interfaces.push(name); }
      });
    }
  }

  const lv0 = c.field(top, '', 'locators', !Object.hasOwn(top, 'identity'));
  const locators = lv0 === undefined ? undefined : c.addressList(lv0, 'locators', CONFIG_LIMITS.locators);

  let tun: TunConfig = { name: CONFIG_DEFAULTS.tunName, mtu: CONFIG_DEFAULTS.tunMtu, offload: true };
  const tv = c.field(top, '', 'tun', false);
  if (tv !== undefined) {
    const t = c.object(tv, 'tun', TUN_KEYS);
    if (t !== undefined) {
      const nv = c.field(t, 'tun', 'name', false);
      const mv = c.field(t, 'tun', 'mtu', false);
      const ov = c.field(t, 'tun', 'offload', false);
      if (ov !== undefined && typeof ov !== 'boolean') c.add('tun.offload', 'must be true or false');
      tun = {
        offload: typeof ov === 'boolean' ? ov : tun.offload,
        name: nv === undefined ? tun.name : c.string(nv, 'tun.name', TUN_NAME, 'a TUN name ([A-Za-z0-9_-], at most 15 characters)') ?? tun.name,
        mtu: mv === undefined ? tun.mtu : c.uint(mv, 'tun.mtu', MTU_MIN, MTU_MAX, false) ?? tun.mtu,
      };
    }
  }

  const opt = (key: string, min: number, max: number, hex: boolean, dflt: number): number => {
    const v = c.field(top, '', key, false);
    return v === undefined ? dflt : c.uint(v, key, min, max, hex) ?? dflt;
  };
  const fwmark = opt('fwmark', 1, UINT32_MAX, true, CONFIG_DEFAULTS.fwmark);
  let routeTable = opt('routeTable', 1, UINT32_MAX, true, CONFIG_DEFAULTS.routeTable);
  const reserved = RESERVED_TABLES.get(routeTable);
  if (reserved !== undefined) {
    c.add('routeTable', `${routeTable} is the kernel's '${reserved}' table; choose another`);
    routeTable = CONFIG_DEFAULTS.routeTable;
  }
  const rulePriority = opt('rulePriority', PRIORITY_MIN, PRIORITY_MAX, false, CONFIG_DEFAULTS.rulePriority);

  let controlSocket: string = CONFIG_DEFAULTS.controlSocket;
  const sv = c.field(top, '', 'controlSocket', false);
  if (sv !== undefined) {
    if (typeof sv !== 'string') c.add('controlSocket', `must be a string (an absolute path), not ${describe(sv)}`);
    else if (!sv.startsWith('/') || sv.endsWith('/') || sv.includes('\0')) c.add('controlSocket', `must be an absolute file path: ${quote(sv)}`);
    else if (Buffer.byteLength(sv) > CONFIG_LIMITS.socketPathBytes) c.add('controlSocket', `longer than ${CONFIG_LIMITS.socketPathBytes} octets (the limit of a unix socket path)`);
    else controlSocket = sv;
  }

  let logLevel: LogLevel = CONFIG_DEFAULTS.logLevel;
  const lv = c.field(top, '', 'logLevel', false);
  if (lv !== undefined) {
    if (typeof lv === 'string' && (LOG_LEVELS as readonly string[]).includes(lv)) logLevel = lv as LogLevel;
    else c.add('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`);
  }

  const contexts: FastPathContext[] = [];
  const cv = c.field(top, '', 'contexts', !Object.hasOwn(top, 'identity'));
  if (cv !== undefined) {
    const arr = c.array(cv, 'contexts', 0, CONFIG_LIMITS.contexts);
    if (arr !== undefined) {
      const names = new Map<string, number>();
      const tags = new Map<number, number>();
      const pairs = new Map<string, number>();
      arr.forEach((item, i) => {
        const ctx = validateContext(c, item, `contexts[${i}]`, locators?.index);
        if (ctx === undefined) return;
        const p = `contexts[${i}]`;
        const n = names.get(ctx.name);
        const t = tags.get(ctx.localContextTag);
        const pairKey = `${formatIpv6(ctx.localUlid)} ${formatIpv6(ctx.peerUlid)}`;
        const u = pairs.get(pairKey);
        if (n !== undefined) c.add(`${p}.name`, `${quote(ctx.name)} repeats contexts[${n}].name`);
        if (t !== undefined) c.add(`${p}.localContextTag`, `${ctx.localContextTag} repeats contexts[${t}].localContextTag`);
        if (u !== undefined) c.add(`${p}.peerUlid`, `the ULID pair repeats contexts[${u}]'s`);
        if (n !== undefined || t !== undefined || u !== undefined) return;
        names.set(ctx.name, i);
        tags.set(ctx.localContextTag, i);
        pairs.set(pairKey, i);
        contexts.push(ctx);
      });
    }
  }

  const identity = validateIdentity(c, c.field(top, '', 'identity', false));
  const stateFile = absolutePath(c, c.field(top, '', 'stateFile', false), 'stateFile', 4096) ?? CONFIG_DEFAULTS.stateFile;
  const pollIntervalMs = opt('pollIntervalMs', 10, 10_000, false, CONFIG_DEFAULTS.pollIntervalMs);
  const reap = validateReap(c, c.field(top, '', 'reap', false));
  const establish = validateEstablish(c, c.field(top, '', 'establish', false));
  const metrics = validateMetrics(c, c.field(top, '', 'metrics', false));
  const flowLabel = validateFlowLabel(c, c.field(top, '', 'flowLabel', false), tun.name, routeTable);
  if (flowLabel !== undefined && top['identity'] === undefined) c.add('flowLabel', 'needs identity: flow labels are negotiated by the context engine (static contexts use the Payload Extension header)');

  if (c.issues.length > 0 || c.omitted > 0) throw new ConfigError(c.issues, c.omitted);
  return {
    interfaces,
    locators: locators?.list ?? [],
    identity,
    stateFile,
    pollIntervalMs,
    reap,
    establish,
    metrics,
    flowLabel,
    tun,
    fwmark,
    routeTable,
    rulePriority,
    controlSocket,
    logLevel,
    contexts,
  };
}

function absolutePath(c: Checker, v: unknown, path: string, maxBytes: number): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') { c.add(path, `must be a string (an absolute path), not ${describe(v)}`); return undefined; }
  if (!v.startsWith('/') || v.endsWith('/') || v.includes('\0')) { c.add(path, `must be an absolute file path: ${quote(v)}`); return undefined; }
  if (Buffer.byteLength(v) > maxBytes) { c.add(path, `longer than ${maxBytes} octets`); return undefined; }
  return v;
}

function validateIdentity(c: Checker, v: unknown): IdentityConfig | undefined {
  if (v === undefined) return undefined;
  const o = c.object(v, 'identity', IDENTITY_KEYS);
  if (o === undefined) return undefined;
  const pv = c.field(o, 'identity', 'prefixes', true);
  if (pv === undefined) return undefined;
  // RFC 5535 §3: an HBA set is over a handful of prefixes; 8 covers any real multihoming.
  const arr = c.array(pv, 'identity.prefixes', 1, 8);
  if (arr === undefined) return undefined;
  const prefixes: IdentityPrefix[] = [];
  const seen = new Map<string, number>();
  arr.forEach((item, i) => {
    const p = `identity.prefixes[${i}]`;
    const e = c.object(item, p, PREFIX_KEYS);
    if (e === undefined) return;
    const tv = c.field(e, p, 'prefix', true);
    const iv = c.field(e, p, 'interface', true);
    const ifname = iv === undefined ? undefined : c.string(iv, `${p}.interface`, INTERFACE_NAME, 'an interface name ([A-Za-z0-9._-], at most 15 characters)');
    if (tv === undefined) return;
    const m = typeof tv === 'string' ? PREFIX_TEXT.exec(tv) : null;
    const a = m === null ? undefined : parseIpv6(m[1]!);
    if (a === undefined) { c.add(`${p}.prefix`, `not a /64 prefix like "2001:db8:1:a::/64": ${typeof tv === 'string' ? quote(tv) : describe(tv)}`); return; }
    if (a.subarray(8).some((b) => b !== 0)) { c.add(`${p}.prefix`, `${quote(tv as string)} has bits set past /64`); return; }
    if (a.subarray(0, 8).every((b) => b === 0)) { c.add(`${p}.prefix`, `${quote(tv as string)} is ::/64 (the unspecified, loopback and IPv4-mapped addresses)`); return; }
    const probe = new Uint8Array(16);
    probe.set(a.subarray(0, 8));
    probe[15] = 2; // any interface ID: what matters is the prefix's kind
    const problem = unicastProblem(probe);
    if (problem !== undefined) { c.add(`${p}.prefix`, `${quote(tv as string)} is ${problem}`); return; }
    const key = formatIpv6(a);
    const first = seen.get(key);
    if (first !== undefined) { c.add(`${p}.prefix`, `repeats identity.prefixes[${first}].prefix`); return; }
    seen.set(key, i);
    if (ifname !== undefined) prefixes.push({ prefix: a.slice(0, 8), interface: ifname });
  });
  return prefixes.length === arr.length ? { prefixes } : undefined;
}

function validateReap(c: Checker, v: unknown): DaemonConfig['reap'] {
  const dflt = { mode: CONFIG_DEFAULTS.reapMode, sendTimeoutMs: undefined, failbackHoldDownMs: undefined, failbackProbeIntervalMs: undefined };
  if (v === undefined) return dflt;
  const o = c.object(v, 'reap', REAP_KEYS);
  if (o === undefined) return dflt;
  const mv = c.field(o, 'reap', 'mode', false);
  let mode = dflt.mode;
  if (mv !== undefined) {
    if (typeof mv === 'string' && (REAP_MODES as readonly string[]).includes(mv)) mode = mv as ReapMode;
    else c.add('reap.mode', `must be one of ${REAP_MODES.join(', ')}`);
  }
  const ms = (key: typeof REAP_KEYS[number], min: number, max: number): number | undefined => {
    const x = c.field(o, 'reap', key, false);
    return x === undefined ? undefined : c.uint(x, `reap.${key}`, min, max, false);
  };
  // RFC 5534 §5.3 carries the Keepalive Timeout in seconds up to 2^16-1.
  const sendTimeoutMs = ms('sendTimeoutMs', 100, 65_535_000);
  // 0 turns failback off; otherwise at least 100 ms, at most a day.
  const failbackHoldDownMs = ms('failbackHoldDownMs', 0, 86_400_000);
  if (failbackHoldDownMs !== undefined && failbackHoldDownMs > 0 && failbackHoldDownMs < 100) c.add('reap.failbackHoldDownMs', 'must be 0 (no failback) or at least 100');
  const failbackProbeIntervalMs = ms('failbackProbeIntervalMs', 100, 3_600_000);
  return { mode, sendTimeoutMs, failbackHoldDownMs, failbackProbeIntervalMs };
}

/** The profile and the fields the file sets, for resolveReapConfig (src/reap/constants.ts). */
export function reapOverrides(r: DaemonConfig['reap']): Partial<ReapConfig> {
  const out: { -readonly [K in keyof ReapConfig]?: ReapConfig[K] } = { mode: r.mode };
  if (r.sendTimeoutMs !== undefined) out.sendTimeoutMs = r.sendTimeoutMs;
  if (r.failbackHoldDownMs !== undefined) out.failbackHoldDownMs = r.failbackHoldDownMs;
  if (r.failbackProbeIntervalMs !== undefined) out.failbackProbeIntervalMs = r.failbackProbeIntervalMs;
  return out;
}

function validateEstablish(c: Checker, v: unknown): EstablishConfig {
  const dflt: EstablishConfig = { peers: [], auto: true, afterPackets: CONFIG_DEFAULTS.establishAfterPackets, afterMs: CONFIG_DEFAULTS.establishAfterMs };
  if (v === undefined) return dflt;
  const o = c.object(v, 'establish', ESTABLISH_KEYS);
  if (o === undefined) return dflt;
  const pv = c.field(o, 'establish', 'peers', false);
  const peers = pv === undefined ? [] : (Array.isArray(pv) && pv.length === 0 ? [] : c.addressList(pv, 'establish.peers', CONFIG_LIMITS.contexts)?.list ?? []);
  const av = c.field(o, 'establish', 'auto', false);
  if (av !== undefined && typeof av !== 'boolean') c.add('establish.auto', 'must be true or false');
  const np = c.field(o, 'establish', 'afterPackets', false);
  const nm = c.field(o, 'establish', 'afterMs', false);
  return {
    peers,
    auto: typeof av === 'boolean' ? av : dflt.auto,
    afterPackets: np === undefined ? dflt.afterPackets : c.uint(np, 'establish.afterPackets', 0, 1_000_000, false) ?? dflt.afterPackets,
    afterMs: nm === undefined ? dflt.afterMs : c.uint(nm, 'establish.afterMs', 0, 3_600_000, false) ?? dflt.afterMs,
  };
}

function validateFlowLabel(c: Checker, v: unknown, tunName: string, routeTable: number): FlowLabelModeConfig | undefined {
  if (v === undefined) return undefined;
  const o = c.object(v, 'flowLabel', FLOW_LABEL_KEYS);
  if (o === undefined) return undefined;
  const ev = c.field(o, 'flowLabel', 'enabled', false);
  if (ev !== undefined && typeof ev !== 'boolean') c.add('flowLabel.enabled', 'must be true or false');
  const num = (key: (typeof FLOW_LABEL_KEYS)[number], min: number, max: number, dflt: number): number => {
    const x = c.field(o, 'flowLabel', key, false);
    return x === undefined ? dflt : c.uint(x, `flowLabel.${key}`, min, max, false) ?? dflt;
  };
  const first = num('first', 1, 0xfffff, 1);
  const last = num('last', 1, 0xfffff, 0xfffff);
  if (last < first) c.add('flowLabel.last', `must not be below flowLabel.first (${first})`);
  const quarantineMs = num('quarantineMs', 0, 86_400_000, 600_000);
  const maxLabels = num('maxLabels', 1, 0xfffff, 65_536);
  const table = num('routeTable', 1, 0xfffffffe, routeTable === 0xfffffffe ? routeTable - 1 : routeTable + 1);
  if (table === routeTable) c.add('flowLabel.routeTable', `must differ from routeTable (${routeTable})`);
  const dv = c.field(o, 'flowLabel', 'interceptDevice', false);
  const fallback = `${tunName.slice(0, 13)}fl`;
  const interceptDevice = dv === undefined ? fallback : c.string(dv, 'flowLabel.interceptDevice', TUN_NAME, 'a TUN name ([A-Za-z0-9_-], at most 15 characters)') ?? fallback;
  if (interceptDevice === tunName) c.add('flowLabel.interceptDevice', `must differ from tun.name (${tunName})`);
  if (ev !== true) return undefined;
  return { first, last, quarantineMs, maxLabels, interceptDevice, routeTable: table };
}

function validateMetrics(c: Checker, v: unknown): DaemonConfig['metrics'] {
  if (v === undefined) return undefined;
  const o = c.object(v, 'metrics', METRICS_KEYS);
  if (o === undefined) return undefined;
  const lv = c.field(o, 'metrics', 'listen', true);
  if (lv === undefined) return undefined;
  const m = typeof lv === 'string' ? LISTEN.exec(lv) : null;
  const port = m === null ? NaN : Number(m[4]);
  if (m === null || !(port >= 1 && port <= 65535)) {
    c.add('metrics.listen', `must be a loopback address and port like "[::1]:9464" or "127.0.0.1:9464", not ${typeof lv === 'string' ? quote(lv) : describe(lv)}`);
    return undefined;
  }
  return { host: m[1] ?? m[2] ?? m[3]!, port };
}

function validateContext(c: Checker, v: unknown, path: string, hostLocators: ReadonlyMap<string, number> | undefined): FastPathContext | undefined {
  const o = c.object(v, path, CONTEXT_KEYS);
  if (o === undefined) return undefined;
  const at = (k: string): string => `${path}.${k}`;
  const before = c.issues.length + c.omitted;
  const nv = c.field(o, path, 'name', true);
  const name = nv === undefined ? undefined : c.string(nv, at('name'), CONTEXT_NAME, 'a context name ([A-Za-z0-9._-], 1 to 64 characters)');
  const lu = c.field(o, path, 'localUlid', true);
  const pu = c.field(o, path, 'peerUlid', true);
  const localUlid = lu === undefined ? undefined : c.address(lu, at('localUlid'));
  const peerUlid = pu === undefined ? undefined : c.address(pu, at('peerUlid'));
  const ll = c.field(o, path, 'localLocators', true);
  const pl = c.field(o, path, 'peerLocators', true);
  const local = ll === undefined ? undefined : c.addressList(ll, at('localLocators'), CONFIG_LIMITS.contextLocators);
  const peer = pl === undefined ? undefined : c.addressList(pl, at('peerLocators'), CONFIG_LIMITS.contextLocators);
  const tag = (k: string): number | undefined => {
    const tv = c.field(o, path, k, true);
    return tv === undefined ? undefined : c.uint(tv, at(k), 0, CONTEXT_TAG_MAX, true);
  };
  const localContextTag = tag('localContextTag');
  const peerContextTag = tag('peerContextTag');

  let currentLocal = localUlid;
  let currentPeer = peerUlid;
  const cp = c.field(o, path, 'currentPair', false);
  if (cp !== undefined) {
    const pair = c.object(cp, at('currentPair'), PAIR_KEYS);
    if (pair !== undefined) {
      const l = c.field(pair, at('currentPair'), 'local', true);
      const p = c.field(pair, at('currentPair'), 'peer', true);
      currentLocal = l === undefined ? undefined : c.address(l, at('currentPair.local'));
      currentPeer = p === undefined ? undefined : c.address(p, at('currentPair.peer'));
    }
  }

  // Cross-references, each checked once both sides are valid.
  if (local !== undefined) {
    if (hostLocators !== undefined) {
      local.list.forEach((a, i) => {
        if (!hostLocators.has(formatIpv6(a))) c.add(`${at('localLocators')}[${i}]`, `${formatIpv6(a)} is not one of the top-level locators`);
      });
    }
    if (localUlid !== undefined && !local.index.has(formatIpv6(localUlid))) c.add(at('localUlid'), `${formatIpv6(localUlid)} is not in ${at('localLocators')}`);
    if (currentLocal !== undefined && cp !== undefined && !local.index.has(formatIpv6(currentLocal))) c.add(at('currentPair.local'), `${formatIpv6(currentLocal)} is not in ${at('localLocators')}`);
  }
  if (peer !== undefined) {
    if (peerUlid !== undefined && !peer.index.has(formatIpv6(peerUlid))) c.add(at('peerUlid'), `${formatIpv6(peerUlid)} is not in ${at('peerLocators')}`);
    if (currentPeer !== undefined && cp !== undefined && !peer.index.has(formatIpv6(currentPeer))) c.add(at('currentPair.peer'), `${formatIpv6(currentPeer)} is not in ${at('peerLocators')}`);
    if (hostLocators !== undefined) {
      peer.list.forEach((a, i) => {
        if (hostLocators.has(formatIpv6(a))) c.add(`${at('peerLocators')}[${i}]`, `${formatIpv6(a)} is one of this host's own locators`);
      });
    }
  }

  if (c.issues.length + c.omitted > before) return undefined;
  if (name === undefined || localUlid === undefined || peerUlid === undefined || local === undefined || peer === undefined
    || localContextTag === undefined || peerContextTag === undefined || currentLocal === undefined || currentPeer === undefined) return undefined;
  return { name, localUlid, peerUlid, localLocators: local.list, peerLocators: peer.list, localContextTag, peerContextTag, currentLocal, currentPeer };
}

/** Parses and validates the text of a configuration file. */
export function parseConfig(text: string): DaemonConfig {
  if (Buffer.byteLength(text) > CONFIG_LIMITS.fileBytes) throw new ConfigError([{ path: '', message: `larger than ${CONFIG_LIMITS.fileBytes} octets` }]);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([{ path: '', message: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` }]);
  }
  return validateConfig(doc);
}
