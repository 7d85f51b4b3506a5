/**
 * The `shim6` commands that talk to shim6d's control socket (src/daemon/control-protocol.ts):
 * status, contexts, context, locators, establish, explore, pcap, metrics, reload and
 * set-pair. Thin clients: each builds one request, checks the reply's shape and prints
 * it for people, or with --json prints the daemon's result as one JSON document.
 *
 * The socket is --socket PATH, else $SHIM6_SOCKET, else /run/shim6/shim6d.sock.
 * Exit codes: 0 ok; 1 the daemon is not running or unreachable, or refused the request
 * (an error reply: its code and message on stderr, and with --json {"error": ...} on
 * stdout), or `establish` did not start (hold-down); 2 usage error.
 *
 * The formatters are pure (the current time is an argument) so tests can call them.
 */
import { resolve as resolvePath } from 'node:path';
import { COUNTERS, type Counters } from '../dataplane/types.js';
import { ControlClientError, controlRequest, DEFAULT_CONTROL_SOCKET } from '../daemon/control-client.js';
import {
  isContextView, isEstablishResult, isLocatorsResult, isMetricsResult, isPcapResult, isReloadResult, isStatusResult, MAX_ARG_STRING,
  type ContextView, type ControlOp, type EstablishResult, type LocatorsResult, type PcapResult, type ReloadResult, type StatusResult,
} from '../daemon/control-protocol.js';
import { formatIpv6, parseIpv6 } from '../wire/address.js';
import { parseFlags, type FlagSpecs } from './args.js';
import { err, EXIT_INVALID, EXIT_OK, out, outJson, usage } from './output.js';

export const CONTROL_COMMANDS = ['status', 'contexts', 'context', 'locators', 'establish', 'explore', 'pcap', 'metrics', 'reload', 'set-pair'] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];

export function isControlCommand(s: string): s is ControlCommand {
  return (CONTROL_COMMANDS as readonly string[]).includes(s);
}

const COMMON_FLAGS_HELP = `Flags:
      --socket PATH   the control socket (default $SHIM6_SOCKET, else ${DEFAULT_CONTROL_SOCKET})
      --json          print the daemon's result (or error) as one JSON document
  -h, --help          show this help
`;

const EXIT_HELP = 'Exit codes: 0 ok, 1 daemon not running or error reply, 2 usage error.\n';

function help(synopsis: string, text: string, extraFlags = '', exit = EXIT_HELP): string {
  const flags = extraFlags === '' ? COMMON_FLAGS_HELP : COMMON_FLAGS_HELP.replace('Flags:\n', `Flags:\n${extraFlags}`);
  return `Usage: shim6 ${synopsis} [--socket PATH] [--json]\n\n${text}\n${flags}\n${exit}`;
}

export const CONTROL_HELP: Readonly<Record<ControlCommand, string>> = {
  status: help('status', `Shows the running shim6d: version, pid, uptime, TUN, contexts (by RFC 5533 state
when the context engine runs), identities, REAP mode, capture and metrics endpoint,
and the data plane's packet counters.
`),
  contexts: help('contexts', `Lists shim6d's contexts: name, source (static or engine), RFC 5533 state, ULIDs,
current pair (marked * in the locator lists), context tags, REAP state and since when,
failovers and the last one (when, from -> to, duration, reason), and counters.
`),
  context: help('context <name>', 'Shows one context, as `shim6 contexts` does.\n'),
  locators: help('locators', `Lists the local identities (ULIDs) and their locators: interface, verification
method (HBA, CGA or none) and whether each is operational now.
`),
  establish: help('establish <peer-ulid> [--local ULID]', `Asks the context engine to establish a context with a peer (RFC 5533 §7.1: sends
I1). Without --local the daemon picks the local ULID.
`, '      --local ULID    the local ULID to use\n',
  `Exit codes: 0 started or a context already exists, 1 daemon not running, error reply
or not started (the peer is in hold-down), 2 usage error.
`),
  explore: help('explore <context>', `Makes REAP explore the context's locator pairs now (RFC 5534 §4), as if the current
pair had failed, and shows the context.
`),
  pcap: help('pcap (start [--file PATH] | stop)', `Starts or stops the daemon's capture of the Shim6 packets its data plane sends and
receives, as a pcap file (raw IPv6) that Wireshark and 'shim6 decode --pcap' read.
A relative PATH is taken from the current directory; without --file the daemon
picks the file. 'stop' shows the file, the packets and octets written, and whether
the size limit cut the capture short.
`, '      --file PATH     (start) where to write the capture\n'),
  metrics: help('metrics', 'Prints the daemon\'s metrics in the Prometheus text format (what its /metrics endpoint serves).\n'),
  reload: help('reload', `Makes the daemon re-read its configuration file and apply what can change while it
runs; lists what was applied and what needs a restart.
`),
  'set-pair': help('set-pair <context> <local-locator> <peer-locator>', `Switches a context's current locator pair. The locators must be among the context's
local and peer locators; the ULID pair itself turns rewriting off. The daemon updates
the rule into its TUN before it replies, then the context is shown.
`, '', `Exit codes: 0 switched, 1 daemon not running or refused (unknown-context, bad-locator,
system), 2 usage error.
`),
};

const COMMON_FLAGS: FlagSpecs = {
  socket: { value: true },
  json: { value: false },
  help: { value: false, short: 'h' },
};

const EXTRA_FLAGS: Partial<Record<ControlCommand, FlagSpecs>> = {
  establish: { local: { value: true } },
  pcap: { file: { value: true } },
};

/** Separates positional arguments from flags (and their values), for parseFlags. */
function splitArgs(argv: readonly string[], specs: FlagSpecs): { positionals: string[]; flags: string[] } {
  const positionals: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('-') && a !== '-') {
      flags.push(a);
      const name = a.startsWith('--') ? a.slice(2) : undefined;
      if (name !== undefined && !name.includes('=') && specs[name]?.value === true && i + 1 < argv.length) flags.push(argv[++i]!);
    } else {
      positionals.push(a);
    }
  }
  return { positionals, flags };
}

function socketPath(flag: string | true | undefined): string {
  if (typeof flag === 'string') return flag;
  const env = process.env['SHIM6_SOCKET'];
  return env !== undefined && env !== '' ? env : DEFAULT_CONTROL_SOCKET;
}

// ---------------------------------------------------------------------------------------
// Formatting (pure)

/** "1d 2h 3m 4s", leading zero units left out. */
export function formatDuration(totalSec: number): string {
  const s = Math.max(0, Math.floor(totalSec));
  const parts: string[] = [];
  const units: [number, string][] = [[86400, 'd'], [3600, 'h'], [60, 'm']];
  let rest = s;
  for (const [size, unit] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  parts.push(`${rest}s`);
  return parts.join(' ');
}

/** An ISO time with how long ago it was ("2024-05-01T10:00:00.000Z (3m 2s ago)"), when it parses and is past. */
export function formatSince(iso: string, nowMs: number): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t) || t > nowMs) return iso;
  return `${iso} (${formatDuration((nowMs - t) / 1000)} ago)`;
}

const DROP_LABELS: Readonly<Record<string, string>> = {
  dropMalformed: 'malformed', dropNoContext: 'no context', dropUnknownTag: 'unknown tag', dropLocatorMismatch: 'locator mismatch',
  dropTooBig: 'too big', dropSendFailed: 'send failed', dropTunWriteFailed: 'TUN write failed', dropIcmpUnmatched: 'ICMP unmatched',
};

function counter(c: Counters | Readonly<Record<string, number>>, name: string): number {
  const v = (c as Record<string, number>)[name];
  return typeof v === 'number' ? v : 0;
}

function dropsText(c: Counters): string {
  const parts = COUNTERS.filter((n) => n.startsWith('drop') && counter(c, n) > 0).map((n) => `${DROP_LABELS[n] ?? n} ${counter(c, n)}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

function rows(pairs: readonly (readonly [string, string])[], indent: string): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}\n`).join('');
}

function tag(n: number | null): string {
  return n === null ? 'unknown' : `0x${n.toString(16)} (${n})`;
}

function byKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "ESTABLISHED 2, I1-SENT 1" in name order, or "none". */
function countsText(m: Readonly<Record<string, number>>): string {
  const parts = Object.keys(m).sort(byKey).filter((k) => m[k] !== 0).map((k) => `${k} ${m[k]}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

export function formatStatus(s: StatusResult): string {
  const c = s.counters;
  const engine = s.engine;
  const lines: [string, string][] = [
    ['TUN', `${s.tun.name}, MTU ${s.tun.mtu}${s.tun.offload === true ? ', offload' : ''}`],
    ['contexts', String(s.contexts)],
    ['engine', engine === null ? 'off (static contexts only)' : `${engine.contexts} context${engine.contexts === 1 ? '' : 's'} (${countsText(engine.byState)})`],
  ];
  if (engine !== null) {
    const drops = Object.fromEntries(Object.entries(engine.counters).filter(([k]) => k.startsWith('drop.')).map(([k, v]) => [k.slice(5), v]));
    lines.push(['engine drops', countsText(drops)]);
  }
  lines.push(
    ['REAP', s.reapMode ?? 'off'],
    ['identities', String(s.identities)],
    ['capture', s.capturing ? 'on' : 'off'],
    ['metrics', s.metrics ?? 'off'],
    ...(s.flowLabel === undefined || s.flowLabel === null ? [] : [['flow labels', `experimental mode on: ${s.flowLabel.inUse} in use, ${s.flowLabel.quarantined} in quarantine, ${s.flowLabel.exhausted} allocations found none; ${counter(c, 'egressFlowLabel')} sent labelled, ${counter(c, 'ingressFlowLabel')} restored, ${counter(c, 'interceptPassthrough')} redirected but not ours (${s.flowLabel.interceptDevice})`] as [string, string]]),
    ['egress', `${counter(c, 'egressPackets')} packets, ${counter(c, 'egressBytes')} octets (${counter(c, 'egressRewritten')} rewritten, ${counter(c, 'egressPassthrough')} passed through)`],
    ['ingress', `${counter(c, 'ingressPackets')} packets, ${counter(c, 'ingressBytes')} octets`],
    ['control', `${counter(c, 'controlReceived')} Shim6 control messages, ${counter(c, 'icmpTranslated')} ICMPv6 errors translated`],
    ['drops', dropsText(c)],
  );
  return `shim6d ${s.version} running, pid ${s.pid}, up ${formatDuration(s.uptimeSec)}\n${rows(lines, '')}`;
}

function locatorList(list: readonly string[], current: string): string {
  return list.map((a) => (a === current ? `${a} *` : a)).join(', ');
}

function pairText(p: { readonly local: string; readonly peer: string }): string {
  return `${p.local} <-> ${p.peer}`;
}

export function formatContext(v: ContextView, nowMs: number): string {
  const c = v.counters;
  const drops = COUNTERS.filter((n) => n.startsWith('drop')).reduce((sum, n) => sum + counter(c, n), 0);
  let state: string;
  if (v.state === null) state = v.source === 'static' ? 'static (configured)' : 'unknown';
  else state = v.establishedAt === null ? v.state : `${v.state}, established ${formatSince(v.establishedAt, nowMs)}`;
  const f = v.lastFailover;
  const last = f === null
    ? 'none'
    : `${formatSince(f.at, nowMs)}: ${pairText(f.from)} -> ${pairText(f.to)}, ${f.durationMs === null ? 'duration unknown' : `${f.durationMs} ms`}, ${f.reason}`;
  return `context ${v.name}\n` + rows([
    ['source', v.source],
    ['state', state],
    ['ULIDs', `${v.localUlid} <-> ${v.peerUlid}`],
    ['current pair', pairText(v.currentPair)],
    ['rewriting', v.rewriting ? 'yes' : 'no'],
    ['local locators', locatorList(v.localLocators, v.currentPair.local)],
    ['peer locators', locatorList(v.peerLocators, v.currentPair.peer)],
    ['context tags', `local ${tag(v.localContextTag)}, peer ${tag(v.peerContextTag)}`],
    ...(v.flowLabel === undefined || v.flowLabel === null ? [] : [['flow labels', `local ${v.flowLabel.local === 0 ? 'none' : v.flowLabel.local}, peer ${v.flowLabel.peer === 0 ? 'none (Payload Extension header)' : `${v.flowLabel.peer} (written instead of the header)`}`] as [string, string]]),
    ['REAP', v.reap === null ? 'off' : `${v.reap.state} since ${formatSince(v.reap.since, nowMs)}`],
    ['failovers', String(v.failovers)],
    ['last failover', last],
    ['egress', `${counter(c, 'egressPackets')} packets (${counter(c, 'egressRewritten')} rewritten)`],
    ['ingress', `${counter(c, 'ingressPackets')} packets`],
    ['drops', drops === 0 ? 'none' : `${drops} (${dropsText(c)})`],
  ], '  ');
}

export function formatContexts(list: readonly ContextView[], nowMs: number): string {
  if (list.length === 0) return 'no contexts\n';
  return `${list.map((v) => formatContext(v, nowMs)).join('\n')}\n(* marks the current locators)\n`;
}

export function formatLocators(r: LocatorsResult): string {
  if (r.identities.length === 0) return 'no identities\n';
  return r.identities.map((id) => {
    const head = `identity ${id.ulid}\n`;
    if (id.locators.length === 0) return `${head}  no locators\n`;
    const table = id.locators.map((l) => [l.address, l.interface ?? '-', l.method, l.operational ? 'operational' : 'not operational']);
    const widths = [0, 1, 2].map((i) => Math.max(...table.map((row) => row[i]!.length)));
    return head + table.map((row) => `  ${row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join('  ')}\n`).join('');
  }).join('\n');
}

/**
 * What `establish` did: a headline, the context (when the daemon gave one), and whether
 * that counts as success (started, or a context exists).
 */
export function formatEstablish(peer: string, r: EstablishResult, nowMs: number): { headline: string; detail: string; ok: boolean } {
  const ctx = r.context;
  const detail = ctx === null ? '' : formatContext(ctx, nowMs);
  const which = ctx === null ? '' : `: ${ctx.name}, ${ctx.state ?? 'state unknown'}`;
  switch (r.outcome) {
    case 'started': return { ok: true, headline: `establishing a context with ${peer}${which}`, detail };
    case 'exists': return { ok: true, headline: `a context with ${peer} exists${which}`, detail };
    case 'hold-down': return { ok: false, headline: `${peer} is in hold-down (establishing failed recently); not retried yet`, detail };
    default: return { ok: false, headline: `not started: ${r.outcome}`, detail };
  }
}

export function formatPcap(action: 'start' | 'stop', r: PcapResult): string {
  if (action === 'start' || r.capturing) {
    return `capturing to ${r.path ?? '(unknown file)'}: ${r.packets} packets, ${r.bytes} octets so far (stop with 'shim6 pcap stop')\n`;
  }
  return `capture stopped: ${r.path ?? '(no file)'}, ${r.packets} packets, ${r.bytes} octets${r.truncated ? ', cut short (size limit or disk too slow)' : ''}\n`;
}

export function formatReload(r: ReloadResult): string {
  const list = (l: readonly string[]): string => (l.length === 0 ? 'nothing' : l.join(', '));
  return `applied: ${list(r.applied)}\nneeds restart: ${list(r.needsRestart)}\n`;
}

// ---------------------------------------------------------------------------------------
// Commands

type Flags = Readonly<Record<string, string | true>>;
type Request = { readonly op: ControlOp; readonly args?: Record<string, string> };

function checkString(what: string, s: string): string | undefined {
  return s.length === 0 || s.length > MAX_ARG_STRING ? `${what} must be 1 to ${MAX_ARG_STRING} characters` : undefined;
}

function ulidArg(what: string, s: string): string | { error: string } {
  const a = parseIpv6(s);
  return a === undefined ? { error: `${what} '${s.length > 64 ? `${s.slice(0, 64)}…` : s}' is not an IPv6 address` } : formatIpv6(a);
}

/** The request for a command line, or a usage error message. */
function buildRequest(command: ControlCommand, positionals: readonly string[], f: Flags): Request | string {
  const none = (): string | undefined => (positionals.length > 0 ? `unexpected argument '${positionals[0]}'` : undefined);
  const exactly = (n: number, needs: string): string | undefined =>
    positionals.length < n ? `needs ${needs}` : positionals.length > n ? `unexpected argument '${positionals[n]}'` : undefined;
  switch (command) {
    case 'status': case 'contexts': case 'locators': case 'metrics': case 'reload':
      return none() ?? { op: command };
    case 'context': case 'explore': {
      const bad = exactly(1, '<context>') ?? checkString('<context>', positionals[0]!);
      return bad ?? { op: command, args: { context: positionals[0]! } };
    }
    case 'set-pair': {
      const bad = exactly(3, '<context> <local-locator> <peer-locator>');
      return bad ?? { op: 'set-pair', args: { context: positionals[0]!, local: positionals[1]!, peer: positionals[2]! } };
    }
    case 'establish': {
      const bad = exactly(1, '<peer-ulid>');
      if (bad !== undefined) return bad;
      const peer = ulidArg('<peer-ulid>', positionals[0]!);
      if (typeof peer !== 'string') return peer.error;
      const localFlag = f['local'];
      if (localFlag === undefined) return { op: 'establish', args: { peer } };
      const local = ulidArg('--local', localFlag as string);
      return typeof local === 'string' ? { op: 'establish', args: { peer, local } } : local.error;
    }
    case 'pcap': {
      const bad = exactly(1, 'start or stop');
      if (bad !== undefined) return bad;
      const action = positionals[0]!;
      if (action !== 'start' && action !== 'stop') return `unknown action '${action.length > 64 ? `${action.slice(0, 64)}…` : action}' (start or stop)`;
      const file = f['file'];
      if (file === undefined) return { op: 'pcap', args: { action } };
      if (action === 'stop') return '--file goes with start only';
      const path = resolvePath(file as string);
      return checkString('--file', path) ?? { op: 'pcap', args: { action, path } };
    }
  }
}

/** Prints a result; returns the exit code, or undefined when the result does not have the expected shape. */
function show(command: ControlCommand, request: Request, result: unknown, json: boolean, nowMs: number): number | undefined {
  const print = (text: string): number => {
    if (json) outJson(result, false); else out(text);
    return EXIT_OK;
  };
  switch (command) {
    case 'status':
      return isStatusResult(result) ? print(json ? '' : formatStatus(result)) : undefined;
    case 'contexts':
      return Array.isArray(result) && result.every(isContextView) ? print(json ? '' : formatContexts(result, nowMs)) : undefined;
    case 'context':
      return isContextView(result) ? print(json ? '' : formatContext(result, nowMs)) : undefined;
    case 'explore':
      if (!isContextView(result)) return undefined;
      return print(json ? '' : `${result.name}: ${result.reap === null ? 'REAP does not run on this context' : `REAP ${result.reap.state}`}\n${formatContext(result, nowMs)}`);
    case 'set-pair':
      if (!isContextView(result)) return undefined;
      return print(json ? '' : `${result.name}: current pair ${pairText(result.currentPair)} (${result.rewriting ? 'rewriting' : 'not rewriting: the ULID pair'})\n${formatContext(result, nowMs)}`);
    case 'locators':
      return isLocatorsResult(result) ? print(json ? '' : formatLocators(result)) : undefined;
    case 'metrics':
      if (!isMetricsResult(result)) return undefined;
      return print(json ? '' : result.text.endsWith('\n') || result.text === '' ? result.text : `${result.text}\n`);
    case 'reload':
      return isReloadResult(result) ? print(json ? '' : formatReload(result)) : undefined;
    case 'pcap':
      return isPcapResult(result) ? print(json ? '' : formatPcap(request.args?.['action'] === 'stop' ? 'stop' : 'start', result)) : undefined;
    case 'establish': {
      if (!isEstablishResult(result)) return undefined;
      const e = formatEstablish(request.args?.['peer'] ?? '?', result, nowMs);
      if (json) outJson(result, false);
      else out(e.ok ? `${e.headline}\n${e.detail}` : e.detail);
      if (!e.ok) err(`shim6 establish: ${e.headline}`);
      return e.ok ? EXIT_OK : EXIT_INVALID;
    }
  }
}

/** Runs `shim6 <command> ...` for a control-socket command. */
export async function controlCommand(command: ControlCommand, argv: readonly string[]): Promise<number> {
  const specs: FlagSpecs = { ...COMMON_FLAGS, ...EXTRA_FLAGS[command] };
  const { positionals, flags } = splitArgs(argv, specs);
  const parsed = parseFlags(flags, specs);
  if (!parsed.ok) return usage(parsed.message, command);
  const f = parsed.flags;
  if (f['help'] === true) {
    out(CONTROL_HELP[command]);
    return EXIT_OK;
  }
  const json = f['json'] === true;
  const request = buildRequest(command, positionals, f);
  if (typeof request === 'string') return usage(request, command);
  const path = socketPath(f['socket']);

  let response;
  try {
    response = await controlRequest(path, request.op, request.args);
  } catch (e) {
    if (e instanceof ControlClientError) {
      if (json) outJson({ error: { code: e.code, message: e.message } }, false);
      err(`shim6 ${command}: ${e.message}`);
      return EXIT_INVALID;
    }
    throw e;
  }
  if (!response.ok) {
    if (json) outJson({ error: response.error }, false);
    err(`shim6 ${command}: ${response.error.code}: ${response.error.message}`);
    return EXIT_INVALID;
  }
  const code = show(command, request, response.result, json, Date.now());
  if (code !== undefined) return code;
  err(`shim6 ${command}: unexpected reply from shim6d (a different version?)`);
  return EXIT_INVALID;
}
