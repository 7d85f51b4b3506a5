/**
 * Builds and tears down the harness topology of spec.ts in network namespaces named
 * `s6x-RUNID-NODE` (RUNID defaults to this process's PID and a counter). Every change is
 * made inside those namespaces; on any failure during `up` what was built is removed,
 * and netns.ts removes whatever is left on exit or on a signal.
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createNamespace, removeNamespace, run, runOk, SCRIPTS, sleep, spawnIn, stopChild, type ExecResult, type RunOptions } from './netns.js';
import { findLink, findNode, planTopology, type LinkPlan, type NodePlan, type Plan, type Site, type TopologySpec } from './spec.js';

export const NS_PREFIX = 's6x-';
let counter = 0;

export interface Counter {
  readonly packets: number;
  readonly bytes: number;
}

export interface ProbeResult {
  readonly reachable: boolean;
  /** `refused` or `connected` when reachable; `timeout` or an errno code when not. */
  readonly result: string;
  readonly ms: number;
}

export interface SpawnOptions {
  /** Append the child's stdout and stderr to this file. */
  readonly logFile?: string;
}

function sysctls(node: NodePlan): string[] {
  const keys: string[] = [];
  const set = (k: string, v: number | string): void => {
    keys.push(`${k}=${v}`);
  };
  for (const i of ['all', 'default', ...node.ifnames]) {
    set(`net.ipv6.conf.${i}.accept_dad`, 0);
    set(`net.ipv6.conf.${i}.keep_addr_on_down`, 1);
    set(`net.ipv6.conf.${i}.accept_ra`, 0);
    set(`net.ipv6.conf.${i}.autoconf`, 0);
  }
  if (node.kind === 'host') {
    // A host does not route into an interface without carrier: with the default (0),
    // packets for a dead link wait in its neighbour queue until neighbour discovery
    // gives up (~3 s), and TCP does not retransmit a segment still queued in the host.
    for (const i of ['all', 'default', ...node.ifnames]) set(`net.ipv6.conf.${i}.ignore_routes_with_linkdown`, 1);
  }
  set('net.ipv6.conf.all.forwarding', node.forwarding ? 1 : 0);
  return keys;
}

export class Topology {
  readonly runId: string;
  readonly plan: Plan;
  private readonly extraRoutes = new Map<string, string[]>();
  private readonly children = new Set<ChildProcess>();
  private isDown = false;

  private constructor(runId: string, plan: Plan) {
    this.runId = runId;
    this.plan = plan;
  }

  /** Builds the topology; on failure removes what was built and throws. */
  static async up(spec: TopologySpec = {}, runId = `${process.pid}-${++counter}`): Promise<Topology> {
    if (!/^[A-Za-z0-9_-]{1,24}$/.test(runId)) throw new Error(`bad run id '${runId}' (1-24 of [A-Za-z0-9_-])`);
    const topo = new Topology(runId, planTopology(spec));
    try {
      await topo.build();
    } catch (e) {
      await topo.down();
      throw e;
    }
    return topo;
  }

  /** The namespace of a node, e.g. `s6x-1234-1-hA`. */
  ns(node: string): string {
    return `${NS_PREFIX}${this.runId}-${node}`;
  }

  get nodeNames(): string[] {
    return this.plan.nodes.map((n) => n.name);
  }

  host(site: Site): string {
    return this.plan.hosts[site].node;
  }

  link(name: string): LinkPlan {
    return findLink(this.plan, name);
  }

  node(name: string): NodePlan {
    return findNode(this.plan, name);
  }

  private async build(): Promise<void> {
    await Promise.all(this.plan.nodes.map(async (n) => {
      await createNamespace(this.ns(n.name));
      await runOk('ip', ['netns', 'exec', this.ns(n.name), 'sysctl', '-q', '-w', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.keep_addr_on_down=1']);
    }));
    // veth pairs, created by the side A end directly into both namespaces.
    const byA = new Map<string, string[]>();
    for (const l of this.plan.links) {
      const lines = byA.get(l.aEnd.node) ?? [];
      lines.push(`link add dev ${l.aEnd.ifname} mtu ${this.plan.spec.mtu} type veth peer name ${l.bEnd.ifname} mtu ${this.plan.spec.mtu} netns ${this.ns(l.bEnd.node)}`);
      byA.set(l.aEnd.node, lines);
    }
    for (const [node, lines] of byA) await this.ipBatch(node, lines);
    await Promise.all(this.plan.nodes.map(async (n) => {
      await runOk('ip', ['netns', 'exec', this.ns(n.name), 'sysctl', '-q', '-w', ...sysctls(n)]);
      await this.ipBatch(n.name, [
        ...n.addresses.map((a) => `addr add ${a}`),
        ...n.ifnames.map((i) => `link set dev ${i} up`),
        ...n.routes.map((r) => `route replace ${r}`),
        ...n.rules.map((r) => `rule add ${r}`),
      ]);
      await this.nft(n.name, n.nft);
    }));
    await this.waitLinkLocal();
  }

  /**
   * Waits until every interface has a usable link-local address: a router sends no
   * Neighbor Solicitation for a next hop before it has one, so the first packets of a
   * fresh topology would be lost.
   */
  private async waitLinkLocal(timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    const pending = new Set(this.plan.nodes.map((n) => n.name));
    while (pending.size > 0) {
      await Promise.all([...pending].map(async (name) => {
        const out = (await this.exec(name, ['ip', '-6', '-o', 'addr', 'show', 'scope', 'link'])).stdout;
        const ready = this.node(name).ifnames.every((i) => out.split('\n').some((l) => l.includes(` ${i} `) && !l.includes('tentative')));
        if (ready) pending.delete(name);
      }));
      if (pending.size === 0) break;
      if (Date.now() > until) throw new Error(`no link-local address after ${timeoutMs} ms in: ${[...pending].join(', ')}`);
      await sleep(50);
    }
  }

  /** Kills every process started here and in the namespaces, and deletes them. Idempotent. */
  async down(): Promise<void> {
    this.isDown = true;
    await Promise.all([...this.children].map((c) => stopChild(c, 'SIGTERM', 1000)));
    await Promise.all(this.plan.nodes.map((n) => removeNamespace(this.ns(n.name))));
  }

  /** Runs a command in a node's namespace (never rejects). */
  exec(node: string, args: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.ns(node), ...args], opts);
  }

  /** Runs a command in a node's namespace; throws unless it exits 0. */
  execOk(node: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
    return runOk('ip', ['netns', 'exec', this.ns(node), ...args], opts);
  }

  /** `ip -6 -batch` in a node's namespace; with `force`, errors of single lines are ignored. */
  async ipBatch(node: string, lines: readonly string[], force = false): Promise<void> {
    if (lines.length === 0) return;
    const args = ['-6', '-n', this.ns(node), ...(force ? ['-force'] : []), '-batch', '-'];
    const r = await run('ip', args, { input: `${lines.join('\n')}\n` });
    if (r.code !== 0 && !force) throw new Error(`ip -n ${this.ns(node)} -batch failed: ${r.stderr.trim()}\n${lines.join('\n')}`);
  }

  /** Applies an nft script in a node's namespace (atomically). */
  async nft(node: string, script: string): Promise<void> {
    await this.execOk(node, ['nft', '-f', '-'], { input: script });
  }

  /** Routes a mode adds to a node, re-applied with the node's own after a link-up. */
  async addRoutes(node: string, routes: readonly string[]): Promise<void> {
    this.extraRoutes.set(node, [...(this.extraRoutes.get(node) ?? []), ...routes]);
    await this.ipBatch(node, routes.map((r) => `route replace ${r}`));
  }

  /** Re-applies a node's routes (the kernel deletes routes through an interface that goes down). */
  async reapplyRoutes(node: string): Promise<void> {
    const routes = [...this.node(node).routes, ...(this.extraRoutes.get(node) ?? [])];
    await this.ipBatch(node, routes.map((r) => `route replace ${r}`), true);
  }

  /** Starts a program in a node's namespace; `down()` stops it. */
  spawn(node: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    if (this.isDown) throw new Error(`topology ${this.runId} is down`);
    const child = spawnIn(this.ns(node), args);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    if (opts.logFile !== undefined) {
      const log = createWriteStream(opts.logFile, { flags: 'a' });
      child.stdout?.pipe(log, { end: false });
      child.stderr?.pipe(log, { end: false });
      child.once('close', () => log.end());
    }
    return child;
  }

  /** A TCP SYN from `src` to `dst` (port 9: a RST proves the round trip), from `node`. */
  async probe(node: string, src: string, dst: string, timeoutMs = 1000): Promise<ProbeResult> {
    const r = await this.exec(node, [process.execPath, SCRIPTS.tcpStream, 'probe', '--connect', dst, '--bind', src, '--timeout-ms', String(timeoutMs)], { timeoutMs: timeoutMs + 10_000 });
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    try {
      return JSON.parse(line) as ProbeResult;
    } catch {
      throw new Error(`probe ${src} -> ${dst} in ${node} failed (exit ${r.code}): ${r.stderr.trim()}`);
    }
  }

  /** A node's named nft counters (table inet s6x). */
  async counters(node: string): Promise<Record<string, Counter>> {
    const out = await this.execOk(node, ['nft', '-j', 'list', 'counters', 'table', 'inet', 's6x']);
    const parsed = JSON.parse(out) as { nftables: { counter?: { name: string; packets: number; bytes: number } }[] };
    const result: Record<string, Counter> = {};
    for (const item of parsed.nftables) if (item.counter !== undefined) result[item.counter.name] = { packets: item.counter.packets, bytes: item.counter.bytes };
    return result;
  }

  /** Every node's counters. */
  async allCounters(): Promise<Record<string, Record<string, Counter>>> {
    const entries = await Promise.all(this.nodeNames.map(async (n) => [n, await this.counters(n)] as const));
    return Object.fromEntries(entries);
  }
}
