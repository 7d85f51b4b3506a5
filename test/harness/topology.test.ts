/**
 * The harness topology (examples/harness/topology.ts) and its failure injection
 * (faults.ts) on the real kernel: all four locator pairs answer over the paths the plan
 * says, ingress filtering drops spoofed sources, every fault does what it says (seen
 * in the nft counters and with TCP probes), is idempotent and is repaired, and the
 * namespaces go away with `down()`, with `cli.js down`, and when the CLI is
 * interrupted. Needs root, `ip netns` and nft (describeNetns). About 20 s.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Faults } from '../../examples/harness/faults.js';
import { listNamespaces, ROOT, sleep } from '../../examples/harness/netns.js';
import { NS_PREFIX, Topology, type Counter } from '../../examples/harness/topology.js';
import { describeNetns } from '../netns/topology.js';

const A1 = '2001:db8:1:a::1';
const A2 = '2001:db8:2:a::1';
const B1 = '2001:db8:1:b::1';
const B2 = '2001:db8:2:b::1';

type Counters = Record<string, Record<string, Counter>>;
const delta = (before: Counters, after: Counters, node: string, name: string): number => (after[node]?.[name]?.packets ?? 0) - (before[node]?.[name]?.packets ?? 0);

describeNetns('harness topology and faults', () => {
  let topo: Topology;
  let faults: Faults;

  beforeAll(async () => {
    topo = await Topology.up({ coreHops: 1 });
    faults = new Faults(topo);
  }, 60_000);

  afterAll(async () => {
    await topo?.down();
  }, 60_000);

  it('builds one namespace per node, named after the run', () => {
    expect(topo.nodeNames.sort()).toEqual(['c1_1', 'c2_1', 'hA', 'hB', 'ix', 'p1a', 'p1b', 'p2a', 'p2b']);
    const names = listNamespaces(`${NS_PREFIX}${topo.runId}-`);
    expect(names.sort()).toEqual(topo.nodeNames.map((n) => topo.ns(n)).sort());
  });

  it('answers on all four locator pairs, each over the ISPs its addresses name', async () => {
    const cases = [
      { src: A1, dst: B1, via: ['p1a', 'c1_1', 'p1b'], not: ['ix'] },
      { src: A2, dst: B2, via: ['p2a', 'c2_1', 'p2b'], not: ['ix'] },
      { src: A1, dst: B2, via: ['p1a', 'ix', 'p2b'], not: ['c1_1', 'c2_1'] },
      { src: A2, dst: B1, via: ['p2a', 'ix', 'p1b'], not: ['c1_1', 'c2_1'] },
    ];
    // A probe is a SYN and a RST: TCP packets forwarded by the routers on the path.
    for (const c of cases) {
      const before = await topo.allCounters();
      expect(await topo.probe('hA', c.src, c.dst), `${c.src} -> ${c.dst}`).toMatchObject({ reachable: true, result: 'refused' });
      const after = await topo.allCounters();
      for (const n of c.via) expect(delta(before, after, n, 'fwd_tcp'), `${c.src} -> ${c.dst} through ${n}`).toBeGreaterThan(0);
      for (const n of c.not) expect(delta(before, after, n, 'fwd_tcp'), `${c.src} -> ${c.dst} not through ${n}`).toBe(0);
    }
  });

  it('drops a spoofed source at the ISP edge (BCP 38) and counts it', async () => {
    // Force A1's packets out of eth2 (ISP2): p2a must drop them.
    const before = await topo.counters('p2a');
    await topo.ipBatch('hA', [`route add ${B1}/128 via 2001:db8:2:a::ff dev eth2 table 101`]);
    try {
      expect(await topo.probe('hA', A1, B1, 500)).toMatchObject({ reachable: false, result: 'timeout' });
    } finally {
      await topo.ipBatch('hA', [`route del ${B1}/128 table 101`]);
    }
    const after = await topo.counters('p2a');
    expect(after['ingress_drop']!.packets).toBeGreaterThan(before['ingress_drop']!.packets);
    expect((await topo.probe('hA', A1, B1)).reachable).toBe(true);
  });

  it('silent loss on a link, both ways, is idempotent, counted, and repaired', async () => {
    await faults.apply({ kind: 'loss', link: 'a1' });
    await faults.apply({ kind: 'loss', link: 'a1' });
    const rules = await topo.execOk('p1a', ['nft', 'list', 'chain', 'inet', 's6x', 'loss']);
    expect(rules.match(/counter name "loss_site"/g)).toHaveLength(1);
    const before = await topo.allCounters();
    const [p11, p12, p21, p22] = await Promise.all([topo.probe('hA', A1, B1, 500), topo.probe('hA', A1, B2, 500), topo.probe('hA', A2, B1, 500), topo.probe('hA', A2, B2, 500)]);
    expect([p11.reachable, p12.reachable, p21.reachable, p22.reachable]).toEqual([false, false, true, true]);
    const after = await topo.allCounters();
    expect(delta(before, after, 'p1a', 'loss_site')).toBeGreaterThan(0);
    await faults.apply({ kind: 'repair', link: 'a1' });
    expect((await topo.probe('hA', A1, B1)).reachable).toBe(true);
  });

  it('one-way loss drops only that direction', async () => {
    // A1 -> B2 goes hA-p1a-ix-p2b-hB and comes back hB-p2b-ix-p1a-hA: a1 both ways.
    // A2 -> B1 goes out over ISP2 and comes back p1b-ix-p2a: it never crosses a1.
    await faults.apply({ kind: 'loss', link: 'a1', dir: 'b-to-a' });
    const before = await topo.allCounters();
    expect((await topo.probe('hA', A1, B1, 500)).reachable).toBe(false);
    const after = await topo.allCounters();
    expect(delta(before, after, 'hA', 'loss_eth1')).toBeGreaterThan(0); // the answers die at hA
    expect(delta(before, after, 'p1a', 'loss_site')).toBe(0); // the requests got through
    expect(delta(before, after, 'p1b', 'rx_core')).toBeGreaterThan(0);
    await faults.apply({ kind: 'repair', link: 'a1' });
    await faults.apply({ kind: 'loss', link: 'a1', dir: 'a-to-b' });
    const b2 = await topo.allCounters();
    expect((await topo.probe('hA', A1, B1, 500)).reachable).toBe(false);
    const a2 = await topo.allCounters();
    expect(delta(b2, a2, 'p1a', 'loss_site')).toBeGreaterThan(0);
    expect(delta(b2, a2, 'p1b', 'rx_core')).toBe(0);
    await faults.apply({ kind: 'repair' });
    expect((await topo.probe('hA', A1, B1)).reachable).toBe(true);
  });

  it('percentage loss drops about that share (numgen random)', async () => {
    await faults.apply({ kind: 'loss', link: 'i1.0', dir: 'a-to-b', percent: 50 });
    const before = await topo.counters('c1_1');
    const probes = await Promise.all(Array.from({ length: 40 }, () => topo.probe('hA', A1, B1, 400)));
    const after = await topo.counters('c1_1');
    await faults.apply({ kind: 'repair', link: 'i1.0' });
    const dropped = after['loss_left']!.packets - before['loss_left']!.packets;
    const arrived = after['rx_left']!.packets - before['rx_left']!.packets;
    // Every SYN reaches c1_1's interface; about half of them are dropped there.
    expect(arrived).toBeGreaterThanOrEqual(40);
    expect(dropped / arrived).toBeGreaterThan(0.2);
    expect(dropped / arrived).toBeLessThan(0.8);
    const ok = probes.filter((p) => p.reachable).length;
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThan(40);
  });

  it('link down at the router end takes the path away and link up brings it back', async () => {
    await faults.apply({ kind: 'link-down', link: 'a1' });
    const link = await topo.execOk('hA', ['ip', '-6', 'addr', 'show', 'dev', 'eth1']);
    expect(link).toContain('NO-CARRIER');
    expect(link).toContain(`${A1}/64`); // the host keeps its address
    expect((await topo.probe('hA', A1, B1, 500)).reachable).toBe(false);
    expect((await topo.probe('hA', A2, B2)).reachable).toBe(true);
    await faults.apply({ kind: 'link-up', link: 'a1' });
    await faults.apply({ kind: 'link-up', link: 'a1' }); // idempotent
    expect((await topo.probe('hA', A1, B1)).reachable).toBe(true);
    // Admin-down at the host end too; repair restores the routes the kernel removed.
    await faults.apply({ kind: 'link-down', link: 'a1', end: 'both' });
    expect((await topo.execOk('hA', ['ip', '-6', 'route', 'show', 'table', '101'])).trim()).toBe('');
    await faults.apply({ kind: 'repair', link: 'a1' });
    expect(await topo.execOk('hA', ['ip', '-6', 'route', 'show', 'table', '101'])).toContain('default via 2001:db8:1:a::ff dev eth1');
    expect((await topo.probe('hA', A1, B1)).reachable).toBe(true);
  });

  it('a failure inside an ISP core kills only the pair that crosses it', async () => {
    await faults.apply({ kind: 'loss', link: 'i1.1' });
    const [p11, p12, p21] = await Promise.all([topo.probe('hA', A1, B1, 500), topo.probe('hA', A1, B2, 500), topo.probe('hA', A2, B1, 500)]);
    expect([p11.reachable, p12.reachable, p21.reachable]).toEqual([false, true, true]);
    await faults.apply({ kind: 'repair', link: 'i1.1' });
  });

  it('a whole ISP fails silently and comes back', async () => {
    await faults.apply({ kind: 'isp-down', isp: 1 });
    const before = await topo.allCounters();
    const [p11, p12, p21, p22] = await Promise.all([topo.probe('hA', A1, B1, 500), topo.probe('hA', A1, B2, 500), topo.probe('hA', A2, B1, 500), topo.probe('hA', A2, B2, 500)]);
    expect([p11.reachable, p12.reachable, p21.reachable, p22.reachable]).toEqual([false, false, false, true]);
    const after = await topo.allCounters();
    expect(delta(before, after, 'p1a', 'isp_drop') + delta(before, after, 'p1b', 'isp_drop')).toBeGreaterThan(0);
    await faults.apply({ kind: 'isp-up', isp: 1 });
    expect((await topo.probe('hA', A1, B1)).reachable).toBe(true);
  });

  it('flaps on a schedule and ends repaired', async () => {
    const t0 = Date.now();
    await faults.apply({ kind: 'flap', link: 'a1', downMs: 300, upMs: 300, count: 3 });
    await sleep(100);
    expect((await topo.probe('hA', A1, B1, 150)).reachable).toBe(false); // in the first down phase
    await faults.settled();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    const kinds = faults.events.filter((e) => e.atMs >= t0).map((e) => e.action.kind);
    expect(kinds).toEqual(['flap', 'loss', 'repair', 'loss', 'repair', 'loss', 'repair']);
    expect((await topo.probe('hA', A1, B1)).reachable).toBe(true);
  });
});

describeNetns('harness topology lifecycle', () => {
  it('down() removes every namespace, and is idempotent', async () => {
    const t = await Topology.up({ isps: 3 });
    expect(listNamespaces(`${NS_PREFIX}${t.runId}-`)).toHaveLength(9);
    expect((await t.probe('hA', '2001:db8:3:a::1', '2001:db8:3:b::1')).reachable).toBe(true);
    t.spawn('hA', ['sleep', '60']); // a process inside does not keep it alive
    await t.down();
    await t.down();
    expect(listNamespaces(`${NS_PREFIX}${t.runId}-`)).toEqual([]);
  });

  it('the CLI removes its topology on SIGINT, and `down` sweeps a run id', async () => {
    const cli = join(ROOT, 'dist/examples/harness/cli.js');
    const id = `sig${process.pid}`;
    const child = spawn(process.execPath, [cli, 'up', '--run-id', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 100 && !out.includes('Ctrl-C'); i++) await sleep(100);
    expect(out).toContain(`${NS_PREFIX}${id}-hA`);
    expect(listNamespaces(`${NS_PREFIX}${id}-`)).toHaveLength(7);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    await exited;
    expect(listNamespaces(`${NS_PREFIX}${id}-`)).toEqual([]);

    // A run killed with SIGKILL leaves its namespaces; `down --run-id` removes them.
    const killed = spawn(process.execPath, [cli, 'up', '--run-id', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out2 = '';
    killed.stdout.on('data', (d: Buffer) => (out2 += d.toString()));
    for (let i = 0; i < 100 && !out2.includes('Ctrl-C'); i++) await sleep(100);
    killed.kill('SIGKILL');
    await new Promise((r) => killed.once('exit', r));
    expect(listNamespaces(`${NS_PREFIX}${id}-`)).toHaveLength(7);
    const r = spawnSync(process.execPath, [cli, 'down', '--run-id', id], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(listNamespaces(`${NS_PREFIX}${id}-`)).toEqual([]);
  }, 30_000);
});
