/**
 * Failure injection for the harness topology, with nftables and link state (the kernel
 * here has no netem): silent loss on a link in one or both directions (100 % or a
 * percentage with `numgen random mod 100 < N drop`), administrative link-down, a whole
 * ISP failing silently, flapping on a schedule, and repair.
 *
 * Loss is applied where a packet enters a node: direction a-to-b of a link drops at the
 * ingress of its bEnd, b-to-a at its aEnd, before routing (prerouting, priority -300),
 * so it drops everything on the wire, neighbour discovery included, like a dead link.
 * Each drop is counted in the node's counter `loss_IF`; a whole-ISP failure drops
 * everything an ISP router receives or sends, counted in `isp_drop`.
 *
 * Every action sets a state (it does not add to it), so it is idempotent; `repair`
 * reverses it. After each change the `loss` chains of the nodes concerned are rewritten
 * from that state in one nft transaction.
 */
import { sleep, nowMs } from './netns.js';
import { counterSafe, ispNodes, type LinkPlan } from './spec.js';
import type { Counter, Topology } from './topology.js';

/** `a-to-b` is the direction of traffic from site A's side to site B's side. */
export type Direction = 'both' | 'a-to-b' | 'b-to-a';
export type LinkEndName = 'a' | 'b' | 'both';

export type FaultAction =
  | { readonly kind: 'loss'; readonly link: string; readonly dir?: Direction; readonly percent?: number }
  /** Administratively down at one end (default: see defaultDownEnd) or both. */
  | { readonly kind: 'link-down'; readonly link: string; readonly end?: LinkEndName }
  | { readonly kind: 'link-up'; readonly link: string }
  | { readonly kind: 'isp-down'; readonly isp: number }
  | { readonly kind: 'isp-up'; readonly isp: number }
  /** Fails the link (as `how`) for downMs, repairs it for upMs, `count` times. */
  | { readonly kind: 'flap'; readonly link: string; readonly downMs: number; readonly upMs: number; readonly count: number; readonly how?: 'loss' | 'down'; readonly dir?: Direction }
  /** Undoes every fault of one link, or every fault when `link` is omitted. */
  | { readonly kind: 'repair'; readonly link?: string };

export interface FaultEvent {
  readonly atMs: number;
  readonly action: FaultAction;
}

export function describeAction(a: FaultAction): string {
  switch (a.kind) {
    case 'loss': return `${a.percent ?? 100} % loss on ${a.link} (${a.dir ?? 'both'})`;
    case 'link-down': return `link ${a.link} down${a.end === undefined ? '' : ` (${a.end} end)`}`;
    case 'link-up': return `link ${a.link} up`;
    case 'isp-down': return `ISP${a.isp} fails`;
    case 'isp-up': return `ISP${a.isp} back`;
    case 'flap': return `${a.link} flaps (${a.how ?? 'loss'}, ${a.downMs} ms down / ${a.upMs} ms up, ×${a.count})`;
    case 'repair': return a.link === undefined ? 'repair all' : `repair ${a.link}`;
  }
}

/**
 * The end of a link that goes down by default: the router's end of a host link (the
 * host then sees its carrier go, as with a cut cable or a dead ISP port, and keeps its
 * addresses usable: an admin-down interface loses its local routes, so the host could
 * not even receive for that address over another interface), else the A side.
 */
export function defaultDownEnd(link: LinkPlan): 'a' | 'b' {
  return link.kind === 'host' && link.aEnd.node.startsWith('h') ? 'b' : 'a';
}

export class Faults {
  private readonly topo: Topology;
  /** node -> ifname -> loss percent at that interface's ingress. */
  private readonly loss = new Map<string, Map<string, number>>();
  private readonly downEnds = new Set<string>(); // `${link}:${a|b}`
  private readonly ispsDown = new Set<number>();
  private readonly flaps = new Set<Promise<void>>();
  private stopped = false;
  readonly events: FaultEvent[] = [];

  constructor(topo: Topology) {
    this.topo = topo;
  }

  /** Applies one action; a flap runs in the background (see `settled`). */
  async apply(action: FaultAction): Promise<void> {
    this.events.push({ atMs: nowMs(), action });
    switch (action.kind) {
      case 'loss': return this.setLoss(this.topo.link(action.link), action.dir ?? 'both', action.percent ?? 100);
      case 'link-down': {
        const link = this.topo.link(action.link);
        return this.linkDown(link, action.end ?? defaultDownEnd(link));
      }
      case 'link-up': return this.linkUp(this.topo.link(action.link));
      case 'isp-down': return this.setIsp(action.isp, true);
      case 'isp-up': return this.setIsp(action.isp, false);
      case 'repair': return this.repair(action.link);
      case 'flap': {
        const p = this.flap(action);
        this.flaps.add(p);
        void p.finally(() => this.flaps.delete(p));
        return;
      }
    }
  }

  /** Waits for running flaps to finish. */
  async settled(): Promise<void> {
    await Promise.all([...this.flaps]);
  }

  /** Stops flapping (the current step completes) and repairs everything. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.settled();
    await this.repair();
  }

  private async flap(a: Extract<FaultAction, { kind: 'flap' }>): Promise<void> {
    const link = this.topo.link(a.link);
    for (let i = 0; i < a.count && !this.stopped; i++) {
      const fail: FaultAction = (a.how ?? 'loss') === 'loss' ? { kind: 'loss', link: a.link, dir: a.dir ?? 'both', percent: 100 } : { kind: 'link-down', link: a.link };
      if (fail.kind === 'loss') await this.setLoss(link, fail.dir ?? 'both', 100);
      else await this.linkDown(link, defaultDownEnd(link));
      this.events.push({ atMs: nowMs(), action: fail });
      await sleep(a.downMs);
      await this.repair(a.link);
      this.events.push({ atMs: nowMs(), action: { kind: 'repair', link: a.link } });
      if (i + 1 < a.count) await sleep(a.upMs);
    }
  }

  private async setLoss(link: LinkPlan, dir: Direction, percent: number): Promise<void> {
    if (!Number.isFinite(percent) || percent < 0 || percent > 100) throw new Error(`loss percent ${percent} is not in 0..100`);
    const targets = [];
    if (dir === 'both' || dir === 'a-to-b') targets.push(link.bEnd);
    if (dir === 'both' || dir === 'b-to-a') targets.push(link.aEnd);
    const nodes = new Set<string>();
    for (const end of targets) {
      const m = this.loss.get(end.node) ?? new Map<string, number>();
      if (percent === 0) m.delete(end.ifname);
      else m.set(end.ifname, Math.round(percent));
      this.loss.set(end.node, m);
      nodes.add(end.node);
    }
    await Promise.all([...nodes].map((n) => this.sync(n)));
  }

  private async linkDown(link: LinkPlan, end: LinkEndName): Promise<void> {
    const ends = end === 'both' ? [link.aEnd, link.bEnd] : [end === 'a' ? link.aEnd : link.bEnd];
    for (const e of ends) {
      this.downEnds.add(`${link.name}:${e === link.aEnd ? 'a' : 'b'}`);
      await this.topo.ipBatch(e.node, [`link set dev ${e.ifname} down`]);
    }
  }

  private async linkUp(link: LinkPlan): Promise<void> {
    for (const [key, e] of [[`${link.name}:a`, link.aEnd], [`${link.name}:b`, link.bEnd]] as const) {
      if (!this.downEnds.delete(key)) continue;
      await this.topo.ipBatch(e.node, [`link set dev ${e.ifname} up`]);
    }
    // The kernel deleted the routes through the interface; put them (and the peer's) back.
    await Promise.all([this.topo.reapplyRoutes(link.aEnd.node), this.topo.reapplyRoutes(link.bEnd.node)]);
    // A router does not resolve a next hop before its link-local address is back.
    for (let i = 0; i < 40; i++) {
      const ready = await Promise.all([link.aEnd, link.bEnd].map(async (e) => {
        const r = await this.topo.exec(e.node, ['ip', '-6', 'addr', 'show', 'dev', e.ifname, 'scope', 'link']);
        return r.stdout.includes('fe80::') && !r.stdout.includes('tentative') && !r.stdout.includes('NO-CARRIER');
      }));
      if (ready.every(Boolean)) break;
      await sleep(50);
    }
  }

  private async setIsp(isp: number, down: boolean): Promise<void> {
    const nodes = ispNodes(this.topo.plan, isp);
    if (nodes.length === 0) throw new Error(`no ISP ${isp}`);
    if (down) this.ispsDown.add(isp);
    else this.ispsDown.delete(isp);
    await Promise.all(nodes.map((n) => this.sync(n.name)));
  }

  private async repair(linkName?: string): Promise<void> {
    const links = linkName === undefined ? this.topo.plan.links : [this.topo.link(linkName)];
    const nodes = new Set<string>();
    for (const l of links) {
      for (const e of [l.aEnd, l.bEnd]) {
        if (this.loss.get(e.node)?.delete(e.ifname) === true) nodes.add(e.node);
      }
      if (this.downEnds.has(`${l.name}:a`) || this.downEnds.has(`${l.name}:b`)) await this.linkUp(l);
    }
    if (linkName === undefined) {
      for (const isp of this.ispsDown) for (const n of ispNodes(this.topo.plan, isp)) nodes.add(n.name);
      this.ispsDown.clear();
    }
    await Promise.all([...nodes].map((n) => this.sync(n)));
  }

  /** Rewrites a node's `loss` and `loss_out` chains from the state, atomically. */
  private async sync(node: string): Promise<void> {
    const lines = ['flush chain inet s6x loss', 'flush chain inet s6x loss_out'];
    const isp = this.topo.node(node).isp;
    if (isp !== undefined && this.ispsDown.has(isp)) {
      lines.push('add rule inet s6x loss counter name "isp_drop" drop', 'add rule inet s6x loss_out counter name "isp_drop" drop');
    }
    for (const [ifname, pct] of this.loss.get(node) ?? []) {
      const cond = pct >= 100 ? '' : `numgen random mod 100 < ${pct} `;
      lines.push(`add rule inet s6x loss iifname "${ifname}" ${cond}counter name "loss_${counterSafe(ifname)}" drop`);
    }
    await this.topo.nft(node, `${lines.join('\n')}\n`);
  }

  /** Drop counters (`loss_IF`, `isp_drop`) of every node, non-zero ones only. */
  async dropCounters(): Promise<Record<string, Record<string, Counter>>> {
    const all = await this.topo.allCounters();
    const out: Record<string, Record<string, Counter>> = {};
    for (const [node, cs] of Object.entries(all)) {
      for (const [name, c] of Object.entries(cs)) {
        if ((name.startsWith('loss_') || name === 'isp_drop') && c.packets > 0) (out[node] ??= {})[name] = c;
      }
    }
    return out;
  }
}
