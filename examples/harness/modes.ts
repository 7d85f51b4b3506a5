/**
 * The ways of surviving (or not) an ISP failure that the harness compares. Each mode
 * sets up its machinery in a built topology and says which addresses the traffic uses:
 *
 * - `plain`: nothing; TCP/UDP between the hosts' ISP1 addresses (A1 -> B1). The
 *   baseline that dies with ISP1.
 * - `mptcp`: Linux Multipath TCP (RFC 8684). Limits on both hosts; hB announces B2
 *   (`signal`), hA has a `subflow fullmesh` endpoint on A2, so besides the initial
 *   subflow A1-B1 the kernel opens subflows from A2 to B1 and, once B2 is announced,
 *   from A1 and A2 to B2. Sockets come from netns-scripts/mptcp-exec.py. UDP is not
 *   carried by MPTCP (a UDP flow in this mode is plain).
 * - `tunnel`: RFC 3178-style protection of ISP1's prefix at each site: an IPv6-in-IPv6
 *   tunnel (SRv6 H.Encaps.Red with one segment: an outer IPv6 header and a one-segment
 *   routing header; the kernel here has no ip6tnl) between ISP1's edge router pks and
 *   the site's other exit,
 *   the host's ISP2 address. A BFD-like monitor (netns-scripts/link-monitor.mjs, hellos
 *   every 50 ms, down after 150 ms) on the direct link pks-hS moves ISP1's traffic into
 *   the tunnel both ways when the link fails and back when it returns (a policy rule at
 *   preference 900 on each end). What it protects: ISP1's traffic against the failure
 *   of the direct link between the site and ISP1 (silent loss in either or both
 *   directions, link down). What it does not: a failure inside ISP1 (core, edge router,
 *   the whole ISP), ISP1 failing at the other site's link when that site has no tunnel
 *   (both sites have one here), or ISP2's own traffic. The tunnel adds 64 octets: full
 *   size packets rely on Path MTU Discovery once it is in use.
 * - `shim6-fast`, `shim6-rfc`: shim6d on both hosts (shim6.ts), traffic between ULIDs.
 * - `shim6-fl`: `shim6-fast` with the experimental flow-label mode (issue #8): after a
 *   switch, packets carry the peer's flow label instead of the 8-octet header.
 */
import { join } from 'node:path';
import { SCRIPTS } from './netns.js';
import { addr, ISP_TABLE_BASE, type Site } from './spec.js';
import type { Topology } from './topology.js';
import type { SocketWrap } from './traffic.js';
import { startShim6, type Shim6Options } from './shim6.js';

export const MODES = ['plain', 'mptcp', 'tunnel', 'shim6-fast', 'shim6-rfc', 'shim6-fl'] as const;
export type ModeName = (typeof MODES)[number];

export function isModeName(s: string): s is ModeName {
  return (MODES as readonly string[]).includes(s);
}

export interface ModeInstance {
  readonly name: ModeName;
  /** Where the traffic goes from (in hA) and to (in hB). */
  readonly src: string;
  readonly dst: string;
  /** Socket wrapping for TCP flows (MPTCP). */
  readonly tcpWrap?: SocketWrap;
  /** Resolves when the failure may be injected (shim6: contexts established). */
  ready(timeoutMs: number): Promise<void>;
  /** Mode-specific state after the run (for the result JSON). */
  status(): Promise<Record<string, unknown>>;
  /** Stops the mode's processes (the topology's teardown removes the rest). */
  stop(): Promise<void>;
}

export interface ModeOptions {
  readonly runDir: string;
  /** shim6 only. */
  readonly shim6?: Omit<Shim6Options, 'reap' | 'runDir'>;
}

export async function startMode(topo: Topology, name: ModeName, opts: ModeOptions): Promise<ModeInstance> {
  switch (name) {
    case 'plain': return plainMode(name);
    case 'mptcp': return mptcpMode(topo);
    case 'tunnel': return tunnelMode(topo, opts.runDir);
    case 'shim6-fast':
    case 'shim6-rfc':
      return startShim6(topo, { ...opts.shim6, runDir: opts.runDir, reap: name === 'shim6-fast' ? 'fast' : 'rfc' }, name);
    case 'shim6-fl':
      return startShim6(topo, { ...opts.shim6, runDir: opts.runDir, reap: 'fast', flowLabel: true }, name);
  }
}

function plainMode(name: ModeName): ModeInstance {
  return {
    name,
    src: addr.host(1, 'a'),
    dst: addr.host(1, 'b'),
    ready: async () => {},
    status: async () => ({}),
    stop: async () => {},
  };
}

// ------------------------------------------------------------------ mptcp

async function mptcpMode(topo: Topology): Promise<ModeInstance> {
  const hA = topo.host('a');
  const hB = topo.host('b');
  const isps = topo.plan.spec.isps;
  for (const h of [hA, hB]) {
    await topo.execOk(h, ['sysctl', '-q', '-w', 'net.mptcp.enabled=1']);
    await topo.execOk(h, ['ip', 'mptcp', 'endpoint', 'flush']);
    await topo.execOk(h, ['ip', 'mptcp', 'limits', 'set', 'subflows', String(Math.min(8, isps * isps)), 'add_addr_accepted', String(Math.min(8, isps))]);
  }
  for (let k = 2; k <= isps; k++) {
    await topo.execOk(hA, ['ip', 'mptcp', 'endpoint', 'add', addr.host(k, 'a'), 'dev', `eth${k}`, 'subflow', 'fullmesh']);
    await topo.execOk(hB, ['ip', 'mptcp', 'endpoint', 'add', addr.host(k, 'b'), 'dev', `eth${k}`, 'signal']);
  }
  // The initial subflow's address takes part in the full mesh too.
  await topo.execOk(hA, ['ip', 'mptcp', 'endpoint', 'add', addr.host(1, 'a'), 'dev', 'eth1', 'fullmesh']);
  const python = process.env['PYTHON'] ?? 'python3';
  const wrap: SocketWrap = {
    // On every address: the subflows joining on B2 need a listener there too.
    listen: (_a, port) => [python, SCRIPTS.mptcpExec, 'listen', '::', String(port), '--'],
    connect: (a, port, bind) => [python, SCRIPTS.mptcpExec, 'connect', a, String(port), '--bind', bind, '--'],
  };
  const nstat = async (h: string): Promise<Record<string, number>> => {
    const r = await topo.exec(h, ['nstat', '-a', '-z', '-j']);
    try {
      const j = JSON.parse(r.stdout) as { kernel?: Record<string, number> };
      return Object.fromEntries(Object.entries(j.kernel ?? {}).filter(([k, v]) => k.startsWith('MPTcp') && v !== 0));
    } catch {
      return {};
    }
  };
  return {
    name: 'mptcp',
    src: addr.host(1, 'a'),
    dst: addr.host(1, 'b'),
    tcpWrap: wrap,
    // Ready once a second subflow has joined (the counter is per namespace and the
    // namespace is new): failing ISP1 before that would test the single-path case.
    ready: async (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (((await nstat(hA))['MPTcpExtMPJoinSynAckRx'] ?? 0) > 0) return;
        if (Date.now() > deadline) throw new Error(`mptcp: no subflow joined within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    status: async () => ({
      endpoints: { hA: (await topo.exec(hA, ['ip', 'mptcp', 'endpoint', 'show'])).stdout.trim().split('\n'), hB: (await topo.exec(hB, ['ip', 'mptcp', 'endpoint', 'show'])).stdout.trim().split('\n') },
      counters: { hA: await nstat(hA), hB: await nstat(hB) },
    }),
    stop: async () => {},
  };
}

// ------------------------------------------------------------------ tunnel

export const TUNNEL = { table: 201, rulePref: 900, monitorPref: 899, monitorPort: 3784, intervalMs: 50, detectMult: 3 } as const;

async function tunnelMode(topo: Topology, runDir: string): Promise<ModeInstance> {
  const protectedIsp = 1;
  const viaIsp = 2;
  const monitors: { node: string; events: Record<string, unknown>[] }[] = [];
  for (const s of ['a', 'b'] as const satisfies readonly Site[]) {
    const host = topo.host(s);
    const edge = `p${protectedIsp}${s}`;
    const otherEdge = `p${viaIsp}${s}`;
    const hostSid = addr.hostSid(viaIsp, s);
    const edgeSid = addr.edgeSid(protectedIsp, s);
    const hostLink = addr.host(protectedIsp, s);
    const edgeLink = addr.edgeOnSite(protectedIsp, s);
    const T = TUNNEL.table;
    // The host: outer source = its ISP2 address (passes ISP2's ingress filter);
    // decapsulation of what the edge router sends it; the tunnel route for ISP1 sources.
    await topo.execOk(host, ['ip', 'sr', 'tunsrc', 'set', addr.host(viaIsp, s)]);
    await topo.addRoutes(host, [
      `${hostSid}/128 encap seg6local action End.DT6 table 255 dev eth${viaIsp}`,
      `default encap seg6 mode encap.red segs ${edgeSid} dev eth${viaIsp} table ${T}`,
    ]);
    await topo.ipBatch(host, [`rule add to ${edgeLink}/128 lookup ${ISP_TABLE_BASE + protectedIsp} pref ${TUNNEL.monitorPref}`]);
    // ISP2 routes the host's tunnel endpoint to the site (like a customer's loopback).
    await topo.addRoutes(otherEdge, [`${hostSid}/128 via ${addr.host(viaIsp, s)} dev site`]);
    // ISP1's edge: its tunnel endpoint, and the tunnel route toward the site's prefix.
    await topo.execOk(edge, ['ip', 'sr', 'tunsrc', 'set', addr.edgeOnIx(protectedIsp, s)]);
    await topo.addRoutes(edge, [
      `${edgeSid}/128 encap seg6local action End.DT6 table 254 dev ix`,
      `${addr.hostPrefix(protectedIsp, s)} encap seg6 mode encap.red segs ${hostSid} dev ix table ${T}`,
    ]);
    await topo.ipBatch(edge, [`rule add from ${edgeLink}/128 lookup main pref ${TUNNEL.monitorPref}`]);
    // The monitors switch the policy rule.
    const hostRule = `from ${addr.ispPrefix(protectedIsp)} lookup ${T} pref ${TUNNEL.rulePref}`;
    const edgeRule = `to ${addr.hostPrefix(protectedIsp, s)} lookup ${T} pref ${TUNNEL.rulePref}`;
    // On the way down each end also flushes its neighbour entries on the link: packets
    // queued behind an unresolved neighbour stay there until discovery gives up (~3 s),
    // and the host's TCP does not retransmit a segment that is still queued.
    for (const [node, local, peer, rule, ifname] of [[host, hostLink, edgeLink, hostRule, `eth${protectedIsp}`], [edge, edgeLink, hostLink, edgeRule, 'site']] as const) {
      const entry = { node, events: [] as Record<string, unknown>[] };
      monitors.push(entry);
      const child = topo.spawn(node, [
        process.execPath, SCRIPTS.linkMonitor, '--local', local, '--peer', peer, '--port', String(TUNNEL.monitorPort),
        '--interval-ms', String(TUNNEL.intervalMs), '--detect-mult', String(TUNNEL.detectMult),
        '--down', `ip -6 rule add ${rule}; ip -6 neigh flush dev ${ifname}`, '--up', `ip -6 rule del pref ${TUNNEL.rulePref}`,
      ], { logFile: join(runDir, `monitor-${node}.log`) });
      let buf = '';
      child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          try {
            entry.events.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
          } catch {
            // ignore
          }
          buf = buf.slice(nl + 1);
        }
      });
    }
  }
  return {
    name: 'tunnel',
    src: addr.host(protectedIsp, 'a'),
    dst: addr.host(protectedIsp, 'b'),
    ready: async (timeoutMs) => {
      // Every monitor must have its session up (they print nothing until a change, so
      // wait for their first hellos: a few intervals).
      const until = Date.now() + Math.min(timeoutMs, 2000);
      while (Date.now() < until && monitors.some((m) => !m.events.some((e) => e['event'] === 'started'))) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, TUNNEL.intervalMs * (TUNNEL.detectMult + 2)));
    },
    status: async () => ({ monitors: monitors.map((m) => ({ node: m.node, events: m.events.filter((e) => e['event'] !== 'started') })) }),
    stop: async () => {},
  };
}
