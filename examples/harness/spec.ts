/**
 * The failover harness's topology, from a small description to a complete plan
 * (nodes, links, addresses, routes, rules, nftables rulesets). Pure: nothing here runs a
 * command; `topology.ts` applies the plan with `ip netns`, `ip` and `nft`.
 *
 *   site A                                                                 site B
 *            eth1   +-----+   +------+       +------+   +-----+   eth1
 *    +----+ ------- | p1a |---| c1_1 |- ... -| c1_m |---| p1b | ------- +----+
 *    | hA |         +-----+   +------+       +------+   +-----+         | hB |
 *    +----+ ------- | p2a |------------ ... ------------| p2b | ------- +----+
 *            eth2   +-----+                              +-----+   eth2
 *                       \________________ ix _______________/     (every edge router
 *                                                                 peers at the ix)
 *
 * - ISP k (1..N) owns 2001:db8:k::/48. Host hS (S = A, B) has one /64 per ISP on its
 *   interface ethk: 2001:db8:k:s::/64 (s = a, b), with the fixed address ::1 and the
 *   edge router pks at ::ff. The shim6 daemon adds its own addresses (HBAs) in the same
 *   /64s, so every route toward a host is a prefix route, never a /128.
 * - Each ISP is a chain pka - ck_1 .. ck_m - pkb (m = coreHops, default 0): a failure
 *   can happen in the core, away from the hosts. Chain link j of ISP k:
 *   2001:db8:k:f0j::/64 (left ::1, right ::2).
 * - ISPs exchange traffic at one IX router: link (k, s) is 2001:db8:ff:ks::/64 (ix ::1,
 *   edge ::2). An edge router sends whatever is not ISP k's to the ix, so a pair of
 *   locators from different ISPs (A1 -> B2) goes hA - p1a - ix - p2b - hB, and a whole
 *   ISP's failure kills every pair that uses one of its prefixes.
 * - Source-address routing at the hosts (each host is its site's exit): the rule
 *   `from 2001:db8:k::/48 lookup 10k` sends a packet with ISP k's prefix out of ethk;
 *   main's default goes to ISP1. Rule preferences below 1000 are left to shim6d (100)
 *   and to the tunnel mode (900). Hosts ignore routes through an interface without
 *   carrier (ignore_routes_with_linkdown=1); every node skips DAD and keeps its
 *   addresses on link-down.
 * - Ingress filtering (BCP 38) at every edge router, on its site link: a source outside
 *   that site's prefix of this ISP is dropped and counted (`ingress_drop`).
 * - Every node has the nftables table `inet s6x` with per-interface counters
 *   (`rx_IF`, `tx_IF`, `loss_IF`), forwarded TCP and UDP packets (`fwd_tcp`,
 *   `fwd_udp`), a `loss` chain that faults.ts rebuilds, and `isp_drop` for a whole-ISP
 *   failure.
 *
 * Link names: `a1`, `b2` (host link of site a/b to ISP k), `i1.0` (chain link j of ISP
 * k), `x1a` (ISP k's edge at site s to the ix). Every link is oriented from site A's
 * side (`aEnd`) toward site B's (`bEnd`): "a-to-b" is the direction of traffic from hA.
 */

export type Site = 'a' | 'b';
export type NodeKind = 'host' | 'edge' | 'core' | 'ix';

export interface TopologySpec {
  /** Number of ISPs, 2..8 (default 2). */
  readonly isps?: number;
  /** Core routers between each ISP's two edge routers: one count for all, or one per ISP (0..8, default 0). */
  readonly coreHops?: number | readonly number[];
  /** MTU of every link (default 1500). */
  readonly mtu?: number;
}

export interface NormalizedSpec {
  readonly isps: number;
  readonly coreHops: readonly number[];
  readonly mtu: number;
}

export interface LinkEnd {
  readonly node: string;
  readonly ifname: string;
  /** Address on the link, without prefix length. */
  readonly address: string;
}

export interface LinkPlan {
  readonly name: string;
  /** The ISP the link belongs to (an ix link belongs to the ISP of its edge router). */
  readonly isp: number;
  readonly kind: 'host' | 'chain' | 'ix';
  readonly prefix: string;
  readonly aEnd: LinkEnd;
  readonly bEnd: LinkEnd;
}

export interface NodePlan {
  readonly name: string;
  readonly kind: NodeKind;
  /** ISP of an edge or core router. */
  readonly isp?: number;
  readonly site?: Site;
  readonly forwarding: boolean;
  readonly ifnames: readonly string[];
  /** `ip -6 addr add` arguments (after `addr add`). */
  readonly addresses: readonly string[];
  /** `ip -6 route replace` arguments, re-applied after a link comes back. */
  readonly routes: readonly string[];
  /** `ip -6 rule add` arguments. */
  readonly rules: readonly string[];
  readonly nft: string;
}

export interface HostLocator {
  readonly isp: number;
  readonly prefix: string;
  /** The host's fixed address on the prefix (::1). */
  readonly address: string;
  readonly ifname: string;
  /** The ISP's edge router on that link (::ff). */
  readonly gateway: string;
}

export interface Plan {
  readonly spec: NormalizedSpec;
  readonly nodes: readonly NodePlan[];
  readonly links: readonly LinkPlan[];
  readonly hosts: { readonly [S in Site]: { readonly node: string; readonly locators: readonly HostLocator[] } };
}

export const SITES: readonly Site[] = ['a', 'b'];
export const MAX_ISPS = 8;
export const MAX_CORE_HOPS = 8;

/** Validates a description; every problem is named. */
export function normalizeSpec(spec: TopologySpec = {}): NormalizedSpec {
  const problems: string[] = [];
  const isps = spec.isps ?? 2;
  if (!Number.isInteger(isps) || isps < 2 || isps > MAX_ISPS) problems.push(`isps: ${String(isps)} is not a whole number in 2..${MAX_ISPS}`);
  const hops = spec.coreHops ?? 0;
  let coreHops: number[] = [];
  if (typeof hops === 'number') coreHops = Array.from({ length: Number.isInteger(isps) ? Math.max(0, Math.min(isps, MAX_ISPS)) : 0 }, () => hops);
  else if (Array.isArray(hops)) {
    if (hops.length !== isps) problems.push(`coreHops: has ${hops.length} entries for ${String(isps)} ISPs`);
    coreHops = [...hops];
  } else problems.push('coreHops: must be a number or an array of numbers');
  coreHops.forEach((h, i) => {
    if (!Number.isInteger(h) || h < 0 || h > MAX_CORE_HOPS) problems.push(`coreHops[${i}]: ${String(h)} is not a whole number in 0..${MAX_CORE_HOPS}`);
  });
  const mtu = spec.mtu ?? 1500;
  if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 9000) problems.push(`mtu: ${String(mtu)} is not a whole number in 1280..9000`);
  for (const k of Object.keys(spec)) if (!['isps', 'coreHops', 'mtu'].includes(k)) problems.push(`${k}: unknown key`);
  if (problems.length > 0) throw new Error(`bad topology description:\n  ${problems.join('\n  ')}`);
  return { isps, coreHops, mtu };
}

// ------------------------------------------------------------------ the address plan

export const addr = {
  hostPrefix: (k: number, s: Site): string => `2001:db8:${k}:${s}::/64`,
  host: (k: number, s: Site): string => `2001:db8:${k}:${s}::1`,
  edgeOnSite: (k: number, s: Site): string => `2001:db8:${k}:${s}::ff`,
  ispPrefix: (k: number): string => `2001:db8:${k}::/48`,
  chainPrefix: (k: number, j: number): string => `2001:db8:${k}:f${j.toString(16).padStart(2, '0')}::/64`,
  chain: (k: number, j: number, side: 1 | 2): string => `2001:db8:${k}:f${j.toString(16).padStart(2, '0')}::${side}`,
  ixPrefix: (k: number, s: Site): string => `2001:db8:ff:${k}${s}::/64`,
  ixSide: (k: number, s: Site): string => `2001:db8:ff:${k}${s}::1`,
  edgeOnIx: (k: number, s: Site): string => `2001:db8:ff:${k}${s}::2`,
  /** Block routed to edge pks for its tunnel endpoints (segment IDs). */
  edgeSidPrefix: (k: number, s: Site): string => `2001:db8:${k}:e${s}::/64`,
  edgeSid: (k: number, s: Site): string => `2001:db8:${k}:e${s}::d`,
  /** The tunnel endpoint of host hS on its ISP-k prefix. */
  hostSid: (k: number, s: Site): string => `2001:db8:${k}:${s}::d`,
} as const;

export const nodeName = {
  host: (s: Site): string => `h${s.toUpperCase()}`,
  edge: (k: number, s: Site): string => `p${k}${s}`,
  core: (k: number, j: number): string => `c${k}_${j}`,
  ix: 'ix',
} as const;

export const ISP_TABLE_BASE = 100;
export const ISP_RULE_PREF_BASE = 1000;

/** nft counter names allow [A-Za-z0-9_]. */
export function counterSafe(ifname: string): string {
  return ifname.replace(/[^A-Za-z0-9_]/g, '_');
}

function nftTable(ifnames: readonly string[], extraCounters: readonly string[], filterRules: readonly string[]): string {
  const counters = [...extraCounters, 'isp_drop', 'fwd_tcp', 'fwd_udp', ...ifnames.flatMap((i) => [`rx_${counterSafe(i)}`, `tx_${counterSafe(i)}`, `loss_${counterSafe(i)}`])];
  const lines: string[] = ['table inet s6x {'];
  for (const c of counters) lines.push(`\tcounter ${c} {`, '\t}');
  lines.push('\tchain rx {', '\t\ttype filter hook prerouting priority -310; policy accept;');
  for (const i of ifnames) lines.push(`\t\tiifname "${i}" counter name "rx_${counterSafe(i)}"`);
  lines.push('\t}');
  lines.push('\tchain loss {', '\t\ttype filter hook prerouting priority -300; policy accept;', '\t}');
  lines.push('\tchain loss_out {', '\t\ttype filter hook output priority -300; policy accept;', '\t}');
  lines.push('\tchain filter {', '\t\ttype filter hook prerouting priority filter; policy accept;');
  for (const r of filterRules) lines.push(`\t\t${r}`);
  lines.push('\t}');
  lines.push('\tchain forwarded {', '\t\ttype filter hook forward priority 300; policy accept;');
  lines.push('\t\tmeta l4proto tcp counter name "fwd_tcp"', '\t\tmeta l4proto udp counter name "fwd_udp"', '\t}');
  lines.push('\tchain tx {', '\t\ttype filter hook postrouting priority 300; policy accept;');
  for (const i of ifnames) lines.push(`\t\toifname "${i}" counter name "tx_${counterSafe(i)}"`);
  lines.push('\t}', '}');
  return `${lines.join('\n')}\n`;
}

/** The complete plan of a description. */
export function planTopology(input: TopologySpec = {}): Plan {
  const spec = normalizeSpec(input);
  const isps = Array.from({ length: spec.isps }, (_, i) => i + 1);
  const links: LinkPlan[] = [];
  const nodes: NodePlan[] = [];

  // Links.
  for (const k of isps) {
    const m = spec.coreHops[k - 1]!;
    links.push({
      name: `a${k}`, isp: k, kind: 'host', prefix: addr.hostPrefix(k, 'a'),
      aEnd: { node: nodeName.host('a'), ifname: `eth${k}`, address: addr.host(k, 'a') },
      bEnd: { node: nodeName.edge(k, 'a'), ifname: 'site', address: addr.edgeOnSite(k, 'a') },
    });
    for (let j = 0; j <= m; j++) {
      const left = j === 0 ? nodeName.edge(k, 'a') : nodeName.core(k, j);
      const right = j === m ? nodeName.edge(k, 'b') : nodeName.core(k, j + 1);
      links.push({
        name: `i${k}.${j}`, isp: k, kind: 'chain', prefix: addr.chainPrefix(k, j),
        aEnd: { node: left, ifname: j === 0 ? 'core' : 'right', address: addr.chain(k, j, 1) },
        bEnd: { node: right, ifname: j === m ? 'core' : 'left', address: addr.chain(k, j, 2) },
      });
    }
    links.push({
      name: `b${k}`, isp: k, kind: 'host', prefix: addr.hostPrefix(k, 'b'),
      aEnd: { node: nodeName.edge(k, 'b'), ifname: 'site', address: addr.edgeOnSite(k, 'b') },
      bEnd: { node: nodeName.host('b'), ifname: `eth${k}`, address: addr.host(k, 'b') },
    });
    links.push({
      name: `x${k}a`, isp: k, kind: 'ix', prefix: addr.ixPrefix(k, 'a'),
      aEnd: { node: nodeName.edge(k, 'a'), ifname: 'ix', address: addr.edgeOnIx(k, 'a') },
      bEnd: { node: nodeName.ix, ifname: `p${k}a`, address: addr.ixSide(k, 'a') },
    });
    links.push({
      name: `x${k}b`, isp: k, kind: 'ix', prefix: addr.ixPrefix(k, 'b'),
      aEnd: { node: nodeName.ix, ifname: `p${k}b`, address: addr.ixSide(k, 'b') },
      bEnd: { node: nodeName.edge(k, 'b'), ifname: 'ix', address: addr.edgeOnIx(k, 'b') },
    });
  }
  const ends = (node: string): { end: LinkEnd; link: LinkPlan }[] =>
    links.flatMap((l) => [l.aEnd, l.bEnd].filter((e) => e.node === node).map((end) => ({ end, link: l })));
  const addresses = (node: string): string[] => ends(node).map(({ end }) => `${end.address}/64 dev ${end.ifname} nodad`);

  // Hosts.
  for (const s of SITES) {
    const name = nodeName.host(s);
    const routes: string[] = [];
    const rules: string[] = [];
    for (const k of isps) {
      routes.push(`${addr.hostPrefix(k, s)} dev eth${k} table ${ISP_TABLE_BASE + k}`);
      routes.push(`default via ${addr.edgeOnSite(k, s)} dev eth${k} table ${ISP_TABLE_BASE + k}`);
      rules.push(`from ${addr.ispPrefix(k)} lookup ${ISP_TABLE_BASE + k} pref ${ISP_RULE_PREF_BASE + k - 1}`);
    }
    routes.push(`default via ${addr.edgeOnSite(1, s)} dev eth1`);
    const ifnames = isps.map((k) => `eth${k}`);
    nodes.push({ name, kind: 'host', site: s, forwarding: false, ifnames, addresses: addresses(name), routes, rules, nft: nftTable(ifnames, [], []) });
  }

  // Edge routers.
  for (const k of isps) {
    const m = spec.coreHops[k - 1]!;
    for (const s of SITES) {
      const name = nodeName.edge(k, s);
      const coreNext = s === 'a' ? addr.chain(k, 0, 2) : addr.chain(k, m, 1);
      const routes = [
        `2001:db8::/32 via ${addr.ixSide(k, s)} dev ix`,
        `${addr.ispPrefix(k)} via ${coreNext} dev core`,
      ];
      const filter = [`iifname "site" ip6 saddr != { ${addr.hostPrefix(k, s)}, fe80::/10, :: } counter name "ingress_drop" drop`];
      const ifnames = ['site', 'core', 'ix'];
      nodes.push({ name, kind: 'edge', isp: k, site: s, forwarding: true, ifnames, addresses: addresses(name), routes, rules: [], nft: nftTable(ifnames, ['ingress_drop'], filter) });
    }
    // Core routers.
    for (let j = 1; j <= m; j++) {
      const name = nodeName.core(k, j);
      const routes = [
        `default via ${addr.chain(k, j - 1, 1)} dev left`,
        `${addr.hostPrefix(k, 'b')} via ${addr.chain(k, j, 2)} dev right`,
        `${addr.edgeSidPrefix(k, 'b')} via ${addr.chain(k, j, 2)} dev right`,
      ];
      for (let i = j + 1; i <= m; i++) routes.push(`${addr.chainPrefix(k, i)} via ${addr.chain(k, j, 2)} dev right`);
      const ifnames = ['left', 'right'];
      nodes.push({ name, kind: 'core', isp: k, forwarding: true, ifnames, addresses: addresses(name), routes, rules: [], nft: nftTable(ifnames, [], []) });
    }
  }

  // The IX.
  {
    const routes: string[] = [];
    const ifnames: string[] = [];
    for (const k of isps) {
      for (const s of SITES) {
        ifnames.push(`p${k}${s}`);
        routes.push(`${addr.hostPrefix(k, s)} via ${addr.edgeOnIx(k, s)} dev p${k}${s}`);
        routes.push(`${addr.edgeSidPrefix(k, s)} via ${addr.edgeOnIx(k, s)} dev p${k}${s}`);
      }
      routes.push(`${addr.ispPrefix(k)} via ${addr.edgeOnIx(k, 'a')} dev p${k}a`);
    }
    nodes.push({ name: nodeName.ix, kind: 'ix', forwarding: true, ifnames, addresses: addresses(nodeName.ix), routes, rules: [], nft: nftTable(ifnames, [], []) });
  }

  const locators = (s: Site): HostLocator[] =>
    isps.map((k) => ({ isp: k, prefix: addr.hostPrefix(k, s), address: addr.host(k, s), ifname: `eth${k}`, gateway: addr.edgeOnSite(k, s) }));
  return { spec, nodes, links, hosts: { a: { node: nodeName.host('a'), locators: locators('a') }, b: { node: nodeName.host('b'), locators: locators('b') } } };
}

/** The nodes of one ISP (its edge and core routers). */
export function ispNodes(plan: Plan, isp: number): NodePlan[] {
  return plan.nodes.filter((n) => n.isp === isp);
}

export function findLink(plan: Plan, name: string): LinkPlan {
  const l = plan.links.find((x) => x.name === name);
  if (l === undefined) throw new Error(`no link '${name}' (links: ${plan.links.map((x) => x.name).join(', ')})`);
  return l;
}

export function findNode(plan: Plan, name: string): NodePlan {
  const n = plan.nodes.find((x) => x.name === name);
  if (n === undefined) throw new Error(`no node '${name}' (nodes: ${plan.nodes.map((x) => x.name).join(', ')})`);
  return n;
}
