/**
 * The shim6 modes of the harness: shim6d on the hosts, configured by identity (an HBA
 * set over the host's prefixes, RFC 5535), with REAP's `fast` or `rfc` profile (RFC
 * 5534), contexts established by the daemon (RFC 5533) after a few packets or on
 * request. Applications use the ULIDs: the daemon's address on the first prefix.
 *
 * The daemon's configuration and control interface used here (the contract of issue
 * #7): `shim6d --config FILE [--check]`; `shim6 locators --json`, `shim6 establish
 * PEER_ULID`, `shim6 contexts --json`, each with `--socket PATH`. Until the daemon
 * accepts that configuration, `startShim6` throws `Shim6Unsupported` (see
 * `shim6Support`).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { run, SCRIPTS, sleep, stopChild } from './netns.js';
import type { ModeInstance, ModeName } from './modes.js';
import type { Site } from './spec.js';
import type { Topology } from './topology.js';

export type ReapProfile = 'fast' | 'rfc';

export interface Shim6Options {
  readonly runDir: string;
  readonly reap: ReapProfile;
  /** Sites that run shim6d (default both). hB without it is "a peer without Shim6". */
  readonly sites?: readonly Site[];
  /** Contexts are established after this many packets (default 5). */
  readonly afterPackets?: number;
  readonly logLevel?: string;
  /** The experimental flow-label mode (issue #8) on every shim6d. */
  readonly flowLabel?: boolean;
  /** `reap` keys of the daemon's configuration over the profile (e.g. a short failback hold-down). */
  readonly reapSettings?: { readonly failbackHoldDownMs?: number; readonly failbackProbeIntervalMs?: number; readonly sendTimeoutMs?: number };
}

export class Shim6Unsupported extends Error {
  override readonly name = 'Shim6Unsupported';
}

export interface Shim6Locator {
  readonly address: string;
  readonly interface: string;
  readonly method?: string;
  readonly operational?: boolean;
}

export interface Shim6Identity {
  readonly ulid: string;
  readonly locators: readonly Shim6Locator[];
}

export interface Shim6Failover {
  readonly at: number | string;
  readonly durationMs: number;
  readonly from: unknown;
  readonly to: unknown;
  readonly reason: string;
}

export interface Shim6Context {
  readonly name?: string;
  readonly state: string;
  readonly localUlid: string;
  readonly peerUlid: string;
  readonly currentPair?: { readonly local: string; readonly peer: string };
  readonly reap?: { readonly state: string; readonly since: unknown } | null;
  readonly failovers?: number;
  readonly lastFailover?: Shim6Failover | null;
  readonly [k: string]: unknown;
}

/** The daemon configuration of the contract, for one host. */
export function shim6Config(topo: Topology, site: Site, sockDir: string, reap: ReapProfile, afterPackets = 5, logLevel = 'info', flowLabel = false, reapSettings: Shim6Options['reapSettings'] = {}): Record<string, unknown> {
  const host = topo.host(site);
  return {
    identity: { prefixes: topo.plan.hosts[site].locators.map((l) => ({ prefix: l.prefix, interface: l.ifname })) },
    stateFile: join(sockDir, `${host}.state`),
    controlSocket: shim6Socket(topo, site),
    tun: { name: 'shim6tun0' },
    reap: { mode: reap, ...reapSettings },
    establish: { afterPackets },
    logLevel,
    ...(flowLabel ? { flowLabel: { enabled: true } } : {}),
  };
}

/** Where the harness puts a host's control socket (unix socket paths are limited to 108 octets). */
export function shim6SocketDir(topo: Topology): string {
  return join(tmpdir(), `s6x-${topo.runId}`);
}

export function shim6Socket(topo: Topology, site: Site): string {
  return join(shim6SocketDir(topo), `${topo.host(site)}.sock`);
}

/** Runs the shim6 CLI in a node's namespace and parses its JSON output. */
export async function shim6Cli(topo: Topology, node: string, args: readonly string[], timeoutMs = 10_000): Promise<unknown> {
  const r = await topo.exec(node, [process.execPath, SCRIPTS.shim6, ...args], { timeoutMs });
  if (r.code !== 0) throw new Error(`shim6 ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as unknown;
}

/** Whether shim6d accepts the contract's configuration (`--check`); the reason when not. */
export async function shim6Support(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const dir = join(tmpdir(), `s6x-check-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const cfg = {
      identity: { prefixes: [{ prefix: '2001:db8:1:a::/64', interface: 'eth1' }, { prefix: '2001:db8:2:a::/64', interface: 'eth2' }] },
      stateFile: join(dir, 'h.state'), controlSocket: join(dir, 'h.sock'), tun: { name: 'shim6tun0' },
      reap: { mode: 'fast' }, establish: { afterPackets: 5 }, logLevel: 'info',
    };
    writeFileSync(join(dir, 'check.json'), JSON.stringify(cfg));
    const r = await run(process.execPath, [SCRIPTS.shim6d, '--config', join(dir, 'check.json'), '--check']);
    if (r.code === 0) return { ok: true };
    return { ok: false, reason: `shim6d --check refuses the identity-based configuration (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(0, 8).join(' | ')}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseIdentities(v: unknown): Shim6Identity[] {
  const ids = (v as { identities?: unknown }).identities;
  if (!Array.isArray(ids) || ids.length === 0) throw new Error(`shim6 locators: no identities in ${JSON.stringify(v).slice(0, 200)}`);
  return ids as Shim6Identity[];
}

export function parseContexts(v: unknown): Shim6Context[] {
  if (Array.isArray(v)) return v as Shim6Context[];
  const c = (v as { contexts?: unknown }).contexts;
  if (Array.isArray(c)) return c as Shim6Context[];
  throw new Error(`shim6 contexts: not an array: ${JSON.stringify(v).slice(0, 200)}`);
}

/** A failover time of the daemon as epoch ms (it may report epoch ms or an ISO date). */
export function failoverEpochMs(f: Shim6Failover | null | undefined): number | null {
  if (f === null || f === undefined) return null;
  if (typeof f.at === 'number') return f.at > 1e12 ? f.at : null;
  const t = Date.parse(f.at);
  return Number.isNaN(t) ? null : t;
}

export async function startShim6(topo: Topology, o: Shim6Options, name: ModeName): Promise<ModeInstance> {
  const support = await shim6Support();
  if (!support.ok) throw new Shim6Unsupported(support.reason);
  const sites = o.sites ?? ['a', 'b'];
  // Sockets and state live in a short directory (socket path length).
  const sockDir = shim6SocketDir(topo);
  mkdirSync(sockDir, { recursive: true });
  const daemons = new Map<Site, ChildProcess>();
  const sock = (s: Site): string => shim6Socket(topo, s);
  const identities = new Map<Site, Shim6Identity>();
  try {
    for (const s of sites) {
      const file = join(o.runDir, `${topo.host(s)}.shim6d.json`);
      writeFileSync(file, `${JSON.stringify(shim6Config(topo, s, sockDir, o.reap, o.afterPackets, o.logLevel, o.flowLabel, o.reapSettings), null, 2)}\n`);
      daemons.set(s, topo.spawn(topo.host(s), [process.execPath, SCRIPTS.shim6d, '--config', file], { logFile: join(o.runDir, `${topo.host(s)}.shim6d.log`) }));
    }
    for (const s of sites) {
      const d = daemons.get(s)!;
      let last = '';
      for (let i = 0; ; i++) {
        if (d.exitCode !== null || d.signalCode !== null) throw new Error(`shim6d in ${topo.host(s)} exited (${d.signalCode ?? d.exitCode}); see ${o.runDir}/${topo.host(s)}.shim6d.log`);
        try {
          const ids = parseIdentities(await shim6Cli(topo, topo.host(s), ['locators', '--json', '--socket', sock(s)]));
          identities.set(s, ids[0]!);
          break;
        } catch (e) {
          last = (e as Error).message;
        }
        if (i >= 300) throw new Error(`shim6d in ${topo.host(s)} did not answer within 30 s: ${last}`);
        await sleep(100);
      }
    }
  } catch (e) {
    for (const d of daemons.values()) await stopChild(d);
    throw e;
  }
  const src = identities.get('a')?.ulid;
  if (src === undefined) throw new Error('shim6 mode needs shim6d on site a');
  const dst = identities.get('b')?.ulid ?? topo.plan.hosts.b.locators[0]!.address;
  const contexts = async (s: Site): Promise<Shim6Context[]> => parseContexts(await shim6Cli(topo, topo.host(s), ['contexts', '--json', '--socket', sock(s)]));

  return {
    name,
    src,
    dst,
    async ready(timeoutMs) {
      if (!identities.has('b')) return; // a peer without Shim6: nothing to wait for
      // Ask for the context at once (the daemon would also start it after a few packets).
      await shim6Cli(topo, topo.host('a'), ['establish', dst, '--socket', sock('a')]).catch(() => undefined);
      const until = Date.now() + timeoutMs;
      let seen = '';
      while (Date.now() < until) {
        const [a, b] = await Promise.all([contexts('a').catch(() => []), contexts('b').catch(() => [])]);
        const ca = a.find((c) => c.peerUlid === dst);
        const cb = b.find((c) => c.peerUlid === src);
        seen = `A: ${ca?.state ?? 'none'}, B: ${cb?.state ?? 'none'}`;
        if (ca?.state === 'ESTABLISHED' && cb?.state === 'ESTABLISHED') return;
        await sleep(100);
      }
      throw new Error(`shim6 contexts not ESTABLISHED within ${timeoutMs} ms (${seen})`);
    },
    async status() {
      const out: Record<string, unknown> = { identities: Object.fromEntries(identities) };
      for (const s of sites) out[`contexts_${topo.host(s)}`] = await contexts(s).catch((e: Error) => ({ error: e.message }));
      return out;
    },
    async stop() {
      await Promise.all([...daemons.values()].map((d) => stopChild(d, 'SIGTERM', 5000)));
      rmSync(sockDir, { recursive: true, force: true });
    },
  };
}
