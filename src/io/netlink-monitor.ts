/**
 * The host's link and IPv6 address changes, as the daemon needs them for RFC 5533 §10.1
 * (a locator appeared or went away: send an Update Request) and RFC 5534 §3.2 (an
 * address is locally operational while its link is up and it is assigned). Read from
 * `ip -o -6 monitor link address`, restarted with backoff if it exits, plus two helpers:
 * the current link states and adding an address.
 *
 * Why that command: iproute2 6.1's `ip monitor` ignores `-j` (it prints the same
 * multi-line text, measured), so `-o` folds each event onto one line, continuation lines
 * joined by a backslash; `-6` drops IPv4 address events but keeps link events.
 * The lines, as captured on this kernel (test/io/netlink-monitor.test.ts has more):
 *   3: va@vb: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP ... \    link/ether ...
 *   Deleted 3: va@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN ... \    link/ether ...
 *   3: va    inet6 2001:db8:6::1/64 scope global tentative \       valid_lft forever preferred_lft forever
 *   Deleted 3: va    inet6 2001:db8:6::1/64 scope global \       valid_lft forever preferred_lft forever
 *
 * Meaning given to them:
 * - A link is up when it is administratively UP, has LOWER_UP and iproute2 does not print
 *   NO-CARRIER (which it does for UP without RUNNING: a veth whose peer is down shows
 *   `NO-CARRIER,...,UP,LOWER_UP` for a moment). A deleted link is down.
 * - An address is added when a NEWADDR shows it neither tentative nor dadfailed; a
 *   tentative (also optimistic) or dadfailed one is reported as not added, and the
 *   NEWADDR that ends its DAD (same address, no flag) as added. "Deleted" is not added.
 *   Link-local addresses are reported like any other; the daemon filters.
 * Events between an exit of `ip monitor` and its restart are lost: onError says so, and
 * the daemon should re-read the host state (linkStates, LinuxNetwork.localAddresses).
 */
import { spawn } from 'node:child_process';
import type { CommandResult, CommandRunner } from '../daemon/system.js';
import { formatIpv6, parseIpv6 } from '../wire/address.js';

export type HostEvent =
  | { readonly kind: 'link'; readonly ifname: string; readonly up: boolean }
  | { readonly kind: 'address'; readonly ifname: string; readonly address: Uint8Array; readonly added: boolean };

/** A running monitor program: its stdout as lines, its end, and a way to end it. */
export interface MonitorProcess {
  onLine(cb: (line: string) => void): void;
  /** Called once; `code` is null when the program was killed or could not be started. */
  onExit(cb: (code: number | null, stderr?: string) => void): void;
  kill(): void;
  /** Called for each line dropped for being longer than the limit, when the process counts them. */
  onOverlong?(cb: () => void): void;
}

export type MonitorSpawner = (file: string, args: readonly string[]) => MonitorProcess;

export class HostError extends Error {
  readonly code: 'command-failed' | 'bad-output' | 'bad-argument';
  constructor(code: HostError['code'], message: string) {
    super(message);
    this.name = 'HostError';
    this.code = code;
  }
}

/** Longer lines are dropped: an `ip -o monitor` line is a few hundred characters. */
export const MAX_MONITOR_LINE = 4096;
/** What is kept of the monitor's stderr for the error message. */
const MAX_STDERR = 1024;
export const DEFAULT_RESTART_DELAY_MS = 500;
export const MAX_RESTART_DELAY_MS = 10_000;
/** Linux IFNAMSIZ - 1 characters; no slash, colon or white space (dev_valid_name). */
const IFNAME = /^[^\s/:]{1,15}$/;

/**
 * Splits text chunks into lines (LF, a trailing CR removed). A line longer than
 * `maxLength` is dropped whole, reported through `onOverlong` once. Buffers at most
 * `maxLength` characters.
 */
export function lineSplitter(maxLength: number, onLine: (line: string) => void, onOverlong: () => void): { push(chunk: string): void; end(): void } {
  let partial = '';
  let overlong = false;
  const emit = (line: string): void => {
    if (overlong || line.length > maxLength) onOverlong();
    else onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    overlong = false;
  };
  return {
    push(chunk: string): void {
      let start = 0;
      for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
        emit(partial + chunk.slice(start, nl));
        partial = '';
        start = nl + 1;
      }
      if (overlong) return;
      partial += chunk.slice(start);
      if (partial.length > maxLength) { partial = ''; overlong = true; }
    },
    end(): void {
      if (partial !== '' || overlong) emit(partial);
      partial = '';
    },
  };
}

/** The real spawner: child_process.spawn, stdout split into lines of at most MAX_MONITOR_LINE. */
export const spawnMonitor: MonitorSpawner = (file, args) => {
  const child = spawn(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let lineCb: (line: string) => void = () => {};
  let overlongCb: () => void = () => {};
  let exitCb: (code: number | null, stderr?: string) => void = () => {};
  let stderr = '';
  let exited = false;
  const lines = lineSplitter(MAX_MONITOR_LINE, (l) => lineCb(l), () => overlongCb());
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => lines.push(chunk));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => { if (stderr.length < MAX_STDERR) stderr = (stderr + chunk).slice(0, MAX_STDERR); });
  const finish = (code: number | null, why?: string): void => {
    if (exited) return;
    exited = true;
    lines.end();
    const text = (why ?? stderr).trim().split('\n').slice(0, 3).join('; ');
    exitCb(code, text === '' ? undefined : text);
  };
  child.on('error', (e) => finish(null, e.message)); // could not be started (ENOENT, EACCES)
  child.on('close', (code) => finish(code));
  return {
    onLine: (cb) => { lineCb = cb; },
    onExit: (cb) => { exitCb = cb; },
    onOverlong: (cb) => { overlongCb = cb; },
    kill: () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); },
  };
};

const TAGS = /^(?:\[[^\]]*\]\s*)*/; // `-ts` timestamps and `label` banners, never passed by us
const LINK_LINE = /^(Deleted )?\d+: ([^\s:@]+)(?:@[^\s:]*)?: <([A-Z0-9_,-]*)>/;
const ADDRESS_LINE = /^(Deleted )?\d+: (\S+)\s+inet6 ([0-9A-Fa-f:.]+)(?:\/\d{1,3})?(?= |$)(?: peer \S+)?((?: [^\\ ]+)*)/;

/** One `ip -o -6 monitor link address` line as an event; undefined for anything else. Pure. */
export function parseMonitorLine(line: string): HostEvent | undefined {
  const text = line.replace(TAGS, '');
  const link = LINK_LINE.exec(text);
  if (link !== null) {
    const [, deleted, ifname, flagText] = link as unknown as [string, string | undefined, string, string];
    if (!IFNAME.test(ifname)) return undefined;
    const flags = flagText.split(',');
    const up = deleted === undefined && flags.includes('UP') && flags.includes('LOWER_UP') && !flags.includes('NO-CARRIER');
    return { kind: 'link', ifname, up };
  }
  const addr = ADDRESS_LINE.exec(text);
  if (addr === null) return undefined;
  const [, deleted, ifname, addressText, flagText] = addr as unknown as [string, string | undefined, string, string, string];
  if (!IFNAME.test(ifname)) return undefined;
  const address = parseIpv6(addressText);
  if (address === undefined) return undefined;
  const flags = flagText.trim().split(/\s+/);
  const added = deleted === undefined && !flags.includes('tentative') && !flags.includes('dadfailed');
  return { kind: 'address', ifname, address, added };
}

export interface NetlinkMonitorOptions {
  readonly spawner?: MonitorSpawner;
  /** First restart delay; doubles after each exit up to 10 s and resets when a line arrives. Default 500. */
  readonly restartDelayMs?: number;
  /** The `ip` program and arguments before the monitor's, e.g. ['ip', 'netns', 'exec', ns, 'ip']. Default ['ip']. */
  readonly command?: readonly string[];
}

export interface NetlinkMonitorStats {
  readonly lines: number;
  readonly events: number;
  readonly unparsed: number;
  readonly restarts: number;
  /** Lines dropped by the spawner for their length. */
  readonly overlong: number;
}

export const MONITOR_ARGS = ['-o', '-6', 'monitor', 'link', 'address'] as const;

export class NetlinkMonitor {
  readonly #spawner: MonitorSpawner;
  readonly #initialDelayMs: number;
  readonly #file: string;
  readonly #args: readonly string[];
  #delayMs: number;
  #child: MonitorProcess | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #onEvent: (e: HostEvent) => void = () => {};
  #onError: (message: string) => void = () => {};
  readonly #stats = { lines: 0, events: 0, unparsed: 0, restarts: 0, overlong: 0 };

  constructor(opts: NetlinkMonitorOptions = {}) {
    const delay = opts.restartDelayMs ?? DEFAULT_RESTART_DELAY_MS;
    if (!Number.isSafeInteger(delay) || delay < 1 || delay > MAX_RESTART_DELAY_MS) {
      throw new HostError('bad-argument', `restartDelayMs must be an integer from 1 to ${MAX_RESTART_DELAY_MS}, not ${String(delay)}`);
    }
    const command = opts.command ?? ['ip'];
    if (command.length === 0 || command.some((c) => typeof c !== 'string' || c === '')) {
      throw new HostError('bad-argument', 'command must be a program and its arguments, none empty');
    }
    this.#spawner = opts.spawner ?? spawnMonitor;
    this.#initialDelayMs = delay;
    this.#delayMs = delay;
    this.#file = command[0]!;
    this.#args = [...command.slice(1), ...MONITOR_ARGS];
  }

  /** A snapshot of the counters. */
  get stats(): NetlinkMonitorStats {
    return { ...this.#stats };
  }

  /**
   * Starts the monitor: `onEvent` for each event, `onError` when the program exits (a
   * restart follows). Throws 'bad-argument' when it is running already.
   */
  start(onEvent: (e: HostEvent) => void, onError: (message: string) => void): void {
    if (this.#running) throw new HostError('bad-argument', 'the monitor is running already');
    this.#running = true;
    this.#onEvent = onEvent;
    this.#onError = onError;
    this.#delayMs = this.#initialDelayMs;
    this.#spawn();
  }

  /** Ends the monitor for good: the child is killed and no restart follows. Idempotent. */
  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const child = this.#child;
    this.#child = undefined;
    child?.kill();
  }

  #spawn(): void {
    let proc: MonitorProcess;
    try {
      proc = this.#spawner(this.#file, this.#args);
    } catch (e) {
      this.#exited(undefined, null, e instanceof Error ? e.message : String(e));
      return;
    }
    this.#child = proc;
    proc.onLine((line) => {
      if (this.#child !== proc) return;
      this.#stats.lines++;
      this.#delayMs = this.#initialDelayMs; // it works: the next failure starts the backoff afresh
      const event = parseMonitorLine(line);
      if (event === undefined) { this.#stats.unparsed++; return; }
      this.#stats.events++;
      this.#onEvent(event);
    });
    proc.onOverlong?.(() => { if (this.#child === proc) this.#stats.overlong++; });
    proc.onExit((code, stderr) => this.#exited(proc, code, stderr));
  }

  #exited(proc: MonitorProcess | undefined, code: number | null, stderr: string | undefined): void {
    if (proc !== undefined && this.#child !== proc) return; // stopped, or an old child
    this.#child = undefined;
    if (!this.#running) return;
    const delayMs = this.#delayMs;
    this.#delayMs = Math.min(delayMs * 2, MAX_RESTART_DELAY_MS);
    // Armed before onError runs, so a stop() from inside onError cancels it.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#stats.restarts++;
      this.#spawn();
    }, delayMs);
    const how = code === null ? 'was killed or could not be started' : `exited with status ${code}`;
    this.#onError(`${[this.#file, ...this.#args].join(' ')} ${how}${stderr !== undefined ? ` (${stderr})` : ''}; restarting in ${delayMs} ms, events until then are lost`);
  }
}

function describeFailure(args: readonly string[], r: CommandResult): string {
  const why = r.stderr.trim().split('\n').slice(0, 3).join('; ') || `exit status ${r.code}`;
  return `ip ${args.join(' ')}: ${why}`;
}

/** Every link and whether it is up (UP, LOWER_UP and not NO-CARRIER), from `ip -j link show`. */
export async function linkStates(runner: CommandRunner): Promise<{ ifname: string; up: boolean }[]> {
  const args = ['-j', 'link', 'show'];
  const r = await runner('ip', args);
  if (r.code !== 0) throw new HostError('command-failed', describeFailure(args, r));
  let doc: unknown;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw new HostError('bad-output', 'ip -j link show: output is not JSON');
  }
  if (!Array.isArray(doc)) throw new HostError('bad-output', 'ip -j link show: output is not a JSON array');
  const out: { ifname: string; up: boolean }[] = [];
  for (const link of doc as unknown[]) {
    if (typeof link !== 'object' || link === null) continue;
    const { ifname, flags } = link as { ifname?: unknown; flags?: unknown };
    if (typeof ifname !== 'string' || !Array.isArray(flags)) continue;
    const f = flags as unknown[];
    out.push({ ifname, up: f.includes('UP') && f.includes('LOWER_UP') && !f.includes('NO-CARRIER') });
  }
  return out;
}

/** `ip -6 addr replace <address>/<prefixLen> dev <ifname> nodad`: the address is usable at once. */
export async function addAddress(runner: CommandRunner, ifname: string, address: Uint8Array, prefixLen: number): Promise<void> {
  if (typeof ifname !== 'string' || !IFNAME.test(ifname) || ifname === '.' || ifname === '..') {
    throw new HostError('bad-argument', `not an interface name: ${JSON.stringify(ifname)}`);
  }
  if (!(address instanceof Uint8Array) || address.length !== 16) throw new HostError('bad-argument', 'an IPv6 address is 16 bytes');
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 128) {
    throw new HostError('bad-argument', `prefix length must be an integer from 0 to 128, not ${String(prefixLen)}`);
  }
  const args = ['-6', 'addr', 'replace', `${formatIpv6(address)}/${prefixLen}`, 'dev', ifname, 'nodad'];
  const r = await runner('ip', args);
  if (r.code !== 0) throw new HostError('command-failed', describeFailure(args, r));
}
