/**
 * The host's network configuration for shim6d, through iproute2 (`ip`), behind an
 * injectable command runner so the exact command sequences are tested without root.
 *
 * What shim6d changes, all tied to three configured numbers (fwmark F, table T, rule
 * priority P) and the TUN's name:
 *   ip link set dev <tun> addrgenmode none                   no link-local address, hence
 *                                                           no DAD, RS or MLD reports
 *   ip link set dev <tun> mtu <mtu> up
 *   ip -6 route replace default dev <tun> table T            installed at startup
 *   ip -6 rule add pref P from <localUlid>/128 to <peerUlid>/128 fwmark 0/F lookup T
 *                                                           while a context rewrites
 *   ip -6 route replace local <hba>/128 dev <tun> table local metric 1024
 *                                                           each HBA address stays
 *                                                           deliverable when its link is down
 * A context's rule sends exactly its ULID pair into the TUN, and only packets without
 * mark F: the daemon's own output carries F and falls through to the host's ordinary
 * rules (source-address routing, main). Rules rather than routes, because adding or
 * deleting a rule makes the kernel re-validate every cached route (the IPv6 FIB's
 * serial number is bumped for all tables), so established TCP sockets follow a switch
 * at once; a route added to another table leaves their cached route in place and
 * they keep sending into the dead path (measured: the stream stalled until a rule
 * change). Removing stale state from a crashed run deletes every rule with priority P
 * or table T, flushes table T and deletes a leftover TUN of our name — but refuses to
 * delete an interface of that name that is not a TUN.
 *
 * The experimental flow-label mode (issue #8) adds a second table T2 (`flowLabelTable`)
 * and a second TUN, the intercept device the hosts' ingress redirects flow-labelled
 * packets into (src/io/flow-label-intercept.ts):
 *   ip link set dev <tun> mtu <mtu + 8> up                  the links' MTU
 *   ip -6 route replace default dev <tun> table T mtu <mtu>  room for the 8-octet header
 *   ip -6 route replace default dev <tun> table T2 mtu <mtu + 8>
 *   ip -6 rule add ... lookup T2                             a context whose peer takes a label
 *   ip link set dev <intercept> addrgenmode none; mtu 65535 up
 * so a context that writes the peer's flow label keeps full-size packets, and one that
 * inserts the header loses 8 octets of MTU, as before.
 */
import { execFile } from 'node:child_process';
import { formatIpv6, parseIpv6 } from '../wire/address.js';

export interface CommandResult {
  /** Exit status; -1 when the command could not be run or was killed. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a program with arguments (no shell), writing `input` to its standard input when
 * given (`nft -f -` reads its script there). Never rejects: failures are results.
 */
export type CommandRunner = (file: string, args: readonly string[], input?: string) => Promise<CommandResult>;

/** The real runner: execFile, bounded in time and output. */
export function execFileRunner(timeoutMs = 10_000): CommandRunner {
  return (file, args, input) => new Promise((resolve) => {
    const child = execFile(file, [...args], { timeout: timeoutMs, maxBuffer: 4 << 20, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) { resolve({ code: 0, stdout, stderr }); return; }
      const code = typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout: stdout ?? '', stderr: stderr !== '' ? stderr : error.message });
    });
    if (input === undefined || child.stdin === null) return;
    // A child that exits without reading its input makes the write fail with EPIPE; the
    // exit status reports what went wrong, so the stream error is only swallowed here.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

export class SystemError extends Error {
  readonly code: 'command-failed' | 'bad-output' | 'tun-name-taken' | 'stale-rules';
  constructor(code: SystemError['code'], message: string) {
    super(message);
    this.name = 'SystemError';
    this.code = code;
  }
}

export interface LocalAddress {
  readonly ifname: string;
  readonly address: Uint8Array;
}

/** What the daemon needs from the host; LinuxNetwork is the real one. */
export interface Network {
  /** The IPv6 addresses assigned on this host (excluding those whose DAD failed). */
  localAddresses(): Promise<LocalAddress[]>;
  /** Deletes rules, routes and a TUN left behind by an earlier run. */
  removeStaleState(): Promise<void>;
  /** Prepares the opened TUN: no address generation, the MTU, link up. */
  configureTun(tun: string): Promise<void>;
  /** The default route of our table, into the TUN. */
  installTableRoute(tun: string): Promise<void>;
  /** Deletes every rule with our priority or table; tolerant of there being none. */
  removeRules(): Promise<void>;
  /** Sends the ULID pair's unmarked packets into our table (so into the TUN); `flowLabel`: into the flow-label table. */
  installRule(localUlid: Uint8Array, peerUlid: Uint8Array, flowLabel?: boolean): Promise<void>;
  removeRule(localUlid: Uint8Array, peerUlid: Uint8Array, flowLabel?: boolean): Promise<void>;
  /** Flow-label mode: prepares the intercept TUN (no address generation, the largest MTU, up). */
  configureIntercept?(tun: string): Promise<void>;
  /** Deletes every route in our table; tolerant of an empty or absent table. */
  flushRoutes(): Promise<void>;
  /**
   * Keeps `address` locally deliverable while the daemon runs, whatever its own link does:
   * a `local` route through the TUN in table local, at a metric below the kernel's own.
   * Linux deletes an address's local route when its link goes down (keep_addr_on_down
   * keeps only the address), and then the packets the data plane restores to that ULID
   * would be dropped. The route goes with the TUN.
   */
  keepLocal(tun: string, address: Uint8Array): Promise<void>;
}

export interface NetworkSettings {
  readonly tunName: string;
  readonly mtu: number;
  readonly fwmark: number;
  readonly routeTable: number;
  readonly rulePriority: number;
  /** Experimental flow-label mode (issue #8): its route table (T2); absent when the mode is off. */
  readonly flowLabelTable?: number;
  /** Flow-label mode: the intercept TUN's name (a leftover one is removed like the TUN). */
  readonly interceptName?: string;
}

/** More deletions than this of one rule selector means something re-adds them. */
const MAX_RULE_DELETIONS = 64;

function describeFailure(args: readonly string[], r: CommandResult): string {
  const why = r.stderr.trim().split('\n').slice(0, 3).join('; ') || `exit status ${r.code}`;
  return `ip ${args.join(' ')}: ${why}`;
}

export class LinuxNetwork implements Network {
  private readonly s: NetworkSettings;
  private readonly run: CommandRunner;

  constructor(settings: NetworkSettings, runner: CommandRunner) {
    this.s = settings;
    this.run = runner;
  }

  private async ip(args: readonly string[]): Promise<CommandResult> {
    return this.run('ip', args);
  }

  /** Runs `ip args`; throws SystemError when it fails. */
  private async must(args: readonly string[]): Promise<CommandResult> {
    const r = await this.ip(args);
    if (r.code !== 0) throw new SystemError('command-failed', describeFailure(args, r));
    return r;
  }

  async localAddresses(): Promise<LocalAddress[]> {
    const r = await this.must(['-j', '-6', 'addr', 'show']);
    let doc: unknown;
    try {
      doc = JSON.parse(r.stdout);
    } catch {
      throw new SystemError('bad-output', 'ip -j -6 addr show: output is not JSON');
    }
    if (!Array.isArray(doc)) throw new SystemError('bad-output', 'ip -j -6 addr show: output is not a JSON array');
    const out: LocalAddress[] = [];
    for (const link of doc as unknown[]) {
      if (typeof link !== 'object' || link === null) continue;
      const { ifname, addr_info: info } = link as { ifname?: unknown; addr_info?: unknown };
      if (typeof ifname !== 'string' || !Array.isArray(info)) continue;
      for (const a of info as unknown[]) {
        if (typeof a !== 'object' || a === null) continue;
        const { family, local, dadfailed } = a as { family?: unknown; local?: unknown; dadfailed?: unknown };
        if (family !== 'inet6' || typeof local !== 'string' || dadfailed === true) continue;
        const address = parseIpv6(local);
        if (address !== undefined) out.push({ ifname, address });
      }
    }
    return out;
  }

  async removeStaleState(): Promise<void> {
    await this.removeRules();
    await this.flushRoutes();
    await this.removeStaleTun(this.s.tunName, 'tun.name');
    if (this.s.interceptName !== undefined) await this.removeStaleTun(this.s.interceptName, 'flowLabel.interceptDevice');
  }

  private async removeStaleTun(name: string, key: string): Promise<void> {
    const show = await this.ip(['-j', '-d', 'link', 'show', 'dev', name]);
    if (show.code !== 0) return; // no such link
    let kind: unknown;
    try {
      const doc = JSON.parse(show.stdout) as { linkinfo?: { info_kind?: unknown } }[];
      kind = doc[0]?.linkinfo?.info_kind;
    } catch {
      throw new SystemError('bad-output', `ip -j -d link show dev ${name}: output is not JSON`);
    }
    if (kind !== 'tun') {
      throw new SystemError('tun-name-taken', `interface ${name} exists and is not a TUN (${typeof kind === 'string' ? kind : 'no link kind'}); choose another ${key}`);
    }
    await this.must(['link', 'del', 'dev', name]);
  }

  async configureTun(tun: string): Promise<void> {
    await this.must(['link', 'set', 'dev', tun, 'addrgenmode', 'none']);
    const mtu = this.s.flowLabelTable === undefined ? this.s.mtu : this.s.mtu + 8;
    await this.must(['link', 'set', 'dev', tun, 'mtu', String(mtu), 'up']);
  }

  async configureIntercept(tun: string): Promise<void> {
    await this.must(['link', 'set', 'dev', tun, 'addrgenmode', 'none']);
    await this.must(['link', 'set', 'dev', tun, 'mtu', '65535', 'up']);
  }

  async installTableRoute(tun: string): Promise<void> {
    if (this.s.flowLabelTable === undefined) {
      await this.must(['-6', 'route', 'replace', 'default', 'dev', tun, 'table', String(this.s.routeTable)]);
      return;
    }
    await this.must(['-6', 'route', 'replace', 'default', 'dev', tun, 'table', String(this.s.routeTable), 'mtu', String(this.s.mtu)]);
    await this.must(['-6', 'route', 'replace', 'default', 'dev', tun, 'table', String(this.s.flowLabelTable), 'mtu', String(this.s.mtu + 8)]);
  }

  private ruleSelector(localUlid: Uint8Array, peerUlid: Uint8Array, flowLabel: boolean): string[] {
    const table = flowLabel && this.s.flowLabelTable !== undefined ? this.s.flowLabelTable : this.s.routeTable;
    return ['pref', String(this.s.rulePriority), 'from', `${formatIpv6(localUlid)}/128`, 'to', `${formatIpv6(peerUlid)}/128`,
      'fwmark', `0/0x${this.s.fwmark.toString(16)}`, 'lookup', String(table)];
  }

  private tables(): number[] {
    return this.s.flowLabelTable === undefined ? [this.s.routeTable] : [this.s.routeTable, this.s.flowLabelTable];
  }

  async removeRules(): Promise<void> {
    for (const selector of [['pref', String(this.s.rulePriority)], ...this.tables().map((t) => ['table', String(t)])]) {
      let n = 0;
      while ((await this.ip(['-6', 'rule', 'del', ...selector])).code === 0) {
        if (++n >= MAX_RULE_DELETIONS) throw new SystemError('stale-rules', `ip -6 rule del ${selector.join(' ')} still succeeds after ${n} deletions`);
      }
    }
  }

  async installRule(localUlid: Uint8Array, peerUlid: Uint8Array, flowLabel = false): Promise<void> {
    await this.must(['-6', 'rule', 'add', ...this.ruleSelector(localUlid, peerUlid, flowLabel)]);
  }

  async removeRule(localUlid: Uint8Array, peerUlid: Uint8Array, flowLabel = false): Promise<void> {
    await this.must(['-6', 'rule', 'del', ...this.ruleSelector(localUlid, peerUlid, flowLabel)]);
  }

  async keepLocal(tun: string, address: Uint8Array): Promise<void> {
    await this.must(['-6', 'route', 'replace', 'local', `${formatIpv6(address)}/128`, 'dev', tun, 'table', 'local', 'metric', '1024', 'proto', 'static']);
  }

  async flushRoutes(): Promise<void> {
    // Fails ("FIB table does not exist") when the table is empty: nothing to do then.
    for (const t of this.tables()) await this.ip(['-6', 'route', 'flush', 'table', String(t)]);
  }
}
