/**
 * `shim6 status`, `shim6 contexts` and `shim6 set-pair`: thin clients of shim6d's control
 * socket (src/daemon/control-protocol.ts). Human-readable output by default, the
 * daemon's result as one JSON line with --json.
 *
 * The socket is --socket PATH, else $SHIM6_SOCKET, else /run/shim6/shim6d.sock.
 * Exit codes: 0 ok; 1 the daemon is not running or unreachable, or refused the request
 * (an error reply: its code and message on stderr, and with --json {"error": ...} on
 * stdout); 2 usage error.
 */
import { COUNTERS, type Counters } from '../dataplane/types.js';
import { ControlClientError, controlRequest, DEFAULT_CONTROL_SOCKET } from '../daemon/control-client.js';
import { isContextView, isStatusResult, type ContextView, type ControlOp, type StatusResult } from '../daemon/control-protocol.js';
import { parseFlags, type FlagSpecs } from './args.js';
import { err, EXIT_INVALID, EXIT_OK, out, outJson, usage } from './output.js';

const COMMON_FLAGS_HELP = `Flags:
      --socket PATH   the control socket (default $SHIM6_SOCKET, else ${DEFAULT_CONTROL_SOCKET})
      --json          print the daemon's reply as one JSON line
  -h, --help          show this help
`;

export const STATUS_HELP = `Usage: shim6 status [--socket PATH] [--json]

Shows the running shim6d: version, pid, uptime, TUN, number of contexts and the data
plane's packet counters.

${COMMON_FLAGS_HELP}
Exit codes: 0 ok, 1 daemon not running or error reply, 2 usage error.
`;

export const CONTEXTS_HELP = `Usage: shim6 contexts [--socket PATH] [--json]

Lists shim6d's contexts: ULIDs, local and peer locators (the current pair marked *),
context tags, whether packets are rewritten (current pair != ULID pair), and counters.

${COMMON_FLAGS_HELP}
Exit codes: 0 ok, 1 daemon not running or error reply, 2 usage error.
`;

export const SET_PAIR_HELP = `Usage: shim6 set-pair <context> <local-locator> <peer-locator> [--socket PATH] [--json]

Switches a context's current locator pair. The locators must be among the context's
local and peer locators; the ULID pair itself turns rewriting off. The daemon updates
the rule into its TUN before it replies, then the context is shown.

${COMMON_FLAGS_HELP}
Exit codes: 0 switched, 1 daemon not running or refused (unknown-context, bad-locator,
system), 2 usage error.
`;

const FLAGS: FlagSpecs = {
  socket: { value: true },
  json: { value: false },
  help: { value: false, short: 'h' },
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

const DROP_LABELS: Readonly<Record<string, string>> = {
  dropMalformed: 'malformed', dropNoContext: 'no context', dropUnknownTag: 'unknown tag', dropLocatorMismatch: 'locator mismatch',
  dropTooBig: 'too big', dropSendFailed: 'send failed', dropTunWriteFailed: 'TUN write failed', dropIcmpUnmatched: 'ICMP unmatched',
};

function counter(c: Counters, name: string): number {
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

function tag(n: number): string {
  return `0x${n.toString(16)} (${n})`;
}

export function formatStatus(s: StatusResult): string {
  const c = s.counters;
  return `shim6d ${s.version} running, pid ${s.pid}, up ${formatDuration(s.uptimeSec)}\n` + rows([
    ['TUN', `${s.tun.name}, MTU ${s.tun.mtu}`],
    ['contexts', String(s.contexts)],
    ['egress', `${counter(c, 'egressPackets')} packets, ${counter(c, 'egressBytes')} octets (${counter(c, 'egressRewritten')} rewritten, ${counter(c, 'egressPassthrough')} passed through)`],
    ['ingress', `${counter(c, 'ingressPackets')} packets, ${counter(c, 'ingressBytes')} octets`],
    ['control', `${counter(c, 'controlReceived')} Shim6 control messages, ${counter(c, 'icmpTranslated')} ICMPv6 errors translated`],
    ['drops', dropsText(c)],
  ], '');
}

function locatorList(list: readonly string[], current: string): string {
  return list.map((a) => (a === current ? `${a} *` : a)).join(', ');
}

export function formatContext(v: ContextView): string {
  const c = v.counters;
  const drops = COUNTERS.filter((n) => n.startsWith('drop')).reduce((sum, n) => sum + counter(c, n), 0);
  return `context ${v.name}\n` + rows([
    ['ULIDs', `${v.localUlid} <-> ${v.peerUlid}`],
    ['current pair', `${v.currentPair.local} <-> ${v.currentPair.peer}`],
    ['rewriting', v.rewriting ? 'yes' : 'no'],
    ['local locators', locatorList(v.localLocators, v.currentPair.local)],
    ['peer locators', locatorList(v.peerLocators, v.currentPair.peer)],
    ['context tags', `local ${tag(v.localContextTag)}, peer ${tag(v.peerContextTag)}`],
    ['egress', `${counter(c, 'egressPackets')} packets (${counter(c, 'egressRewritten')} rewritten)`],
    ['ingress', `${counter(c, 'ingressPackets')} packets`],
    ['drops', drops === 0 ? 'none' : `${drops} (${dropsText(c)})`],
  ], '  ');
}

export function formatContexts(list: readonly ContextView[]): string {
  if (list.length === 0) return 'no contexts\n';
  return `${list.map(formatContext).join('\n')}\n(* marks the current locators)\n`;
}

/** Runs `shim6 status | contexts | set-pair ...`. */
export async function controlCommand(command: 'status' | 'contexts' | 'set-pair', argv: readonly string[]): Promise<number> {
  const { positionals, flags } = splitArgs(argv, FLAGS);
  const parsed = parseFlags(flags, FLAGS);
  if (!parsed.ok) return usage(parsed.message, command);
  const f = parsed.flags;
  if (f['help'] === true) {
    out(command === 'status' ? STATUS_HELP : command === 'contexts' ? CONTEXTS_HELP : SET_PAIR_HELP);
    return EXIT_OK;
  }
  const json = f['json'] === true;
  const op: ControlOp = command;
  let args: Record<string, string> | undefined;
  if (command === 'set-pair') {
    if (positionals.length !== 3) {
      return usage(positionals.length < 3 ? 'needs <context> <local-locator> <peer-locator>' : `unexpected argument '${positionals[3]}'`, command);
    }
    args = { context: positionals[0]!, local: positionals[1]!, peer: positionals[2]! };
  } else if (positionals.length > 0) {
    return usage(`unexpected argument '${positionals[0]}'`, command);
  }
  const path = socketPath(f['socket']);

  let response;
  try {
    response = await controlRequest(path, op, args);
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
  const result = response.result;
  const unexpected = (): number => {
    err(`shim6 ${command}: unexpected reply from shim6d (a different version?)`);
    return EXIT_INVALID;
  };
  switch (command) {
    case 'status':
      if (!isStatusResult(result)) return unexpected();
      if (json) outJson(result, false); else out(formatStatus(result));
      return EXIT_OK;
    case 'contexts':
      if (!Array.isArray(result) || !result.every(isContextView)) return unexpected();
      if (json) outJson(result, false); else out(formatContexts(result));
      return EXIT_OK;
    case 'set-pair':
      if (!isContextView(result)) return unexpected();
      if (json) outJson(result, false);
      else out(`${result.name}: current pair ${result.currentPair.local} <-> ${result.currentPair.peer} (${result.rewriting ? 'rewriting' : 'not rewriting: the ULID pair'})\n${formatContext(result)}`);
      return EXIT_OK;
  }
}
