/**
 * The netns topology (netns-scripts/topology.sh) and the checksummed stream
 * (netns-scripts/tcp-stream.mjs) on the real kernel, without any shim: the four locator
 * pairs and the paths they take, ingress filtering, silent cuts in one or both
 * directions, link-down with kept addresses, a 20 MB checksummed transfer, and the
 * control case the shim must beat: a plain TCP stream stalls for good once its path is
 * cut. Needs root, `ip netns` and nft (see describeNetns). About 14 s.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  ADDR,
  describeNetns,
  runStreamClient,
  sleep,
  startStreamClient,
  startStreamServer,
  Topology,
  TOPOLOGY_SH,
  type Counters,
  type NetnsNode,
  type RouterCounters,
} from './topology.js';

type Path = { readonly [R in 'r1' | 'r2']: { readonly aToB: number; readonly bToA: number } };

/** Packets each router forwarded per direction between two counter readings. */
function forwarded(before: Counters, after: Counters): Path {
  const d = (r: 'r1' | 'r2', k: keyof RouterCounters) => after[r][k].packets - before[r][k].packets;
  return {
    r1: { aToB: d('r1', 'fwd_a_to_b'), bToA: d('r1', 'fwd_b_to_a') },
    r2: { aToB: d('r2', 'fwd_a_to_b'), bToA: d('r2', 'fwd_b_to_a') },
  };
}

function netnsList(): string {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
}

function script(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', [TOPOLOGY_SH, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describeNetns('netns topology', () => {
  let topo: Topology | undefined;
  const t = (): Topology => {
    if (topo === undefined) throw new Error('topology not up');
    return topo;
  };

  beforeAll(async () => {
    topo = await Topology.up();
  }, 60_000);

  afterAll(async () => {
    await topo?.down();
  }, 60_000);

  it('builds the namespaces and names them after the id', () => {
    const names = (['hA', 'hB', 'r1', 'r2'] as const).map((n: NetnsNode) => t().ns(n));
    expect(names).toEqual([`s6-hA-${t().id}`, `s6-hB-${t().id}`, `s6-r1-${t().id}`, `s6-r2-${t().id}`]);
    const list = netnsList();
    for (const n of names) expect(list).toContain(n);
    expect(script('ns', t().id, 'hB').stdout).toBe(`s6-hB-${t().id}\n`);
  });

  it('rejects bad arguments with a usage message and exit 2', () => {
    for (const args of [[], ['up'], ['up', 'bad id!'], ['cut', t().id, 'isp3'], ['cut', t().id, 'isp1', 'sideways'], ['linkdown', t().id, 'c', 'isp1'], ['exec', t().id, 'r3', 'true'], ['frobnicate', t().id]]) {
      const r = script(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/usage:/);
    }
  });

  it('answers on all four locator pairs, each over the path its source selects', async () => {
    // Request over the source's ISP, reply over the destination's ISP (source routing).
    const cases = [
      { src: ADDR.A1, dst: ADDR.B1, path: { r1: { aToB: true, bToA: true }, r2: { aToB: false, bToA: false } } },
      { src: ADDR.A2, dst: ADDR.B2, path: { r1: { aToB: false, bToA: false }, r2: { aToB: true, bToA: true } } },
      { src: ADDR.A1, dst: ADDR.B2, path: { r1: { aToB: true, bToA: false }, r2: { aToB: false, bToA: true } } },
      { src: ADDR.A2, dst: ADDR.B1, path: { r1: { aToB: false, bToA: true }, r2: { aToB: true, bToA: false } } },
    ];
    for (const c of cases) {
      const before = await t().counters();
      const probe = await t().probe('hA', c.src, c.dst);
      const path = forwarded(before, await t().counters());
      expect(probe, `${c.src} -> ${c.dst}`).toMatchObject({ reachable: true, result: 'refused' });
      const used = {
        r1: { aToB: path.r1.aToB > 0, bToA: path.r1.bToA > 0 },
        r2: { aToB: path.r2.aToB > 0, bToA: path.r2.bToA > 0 },
      };
      expect(used, `${c.src} -> ${c.dst}`).toEqual(c.path);
    }
    // And from hB's side.
    expect((await t().probe('hB', ADDR.B2, ADDR.A1)).reachable).toBe(true);
  });

  it('drops at r2 a packet from A1 forced out of hA over ISP2 (ingress filtering)', async () => {
    const route = ['ip', '-6', 'route', 'add', `${ADDR.B1}/128`, 'via', ADDR.R2A, 'dev', 'eth2', 'table', '101'];
    const before = await t().counters();
    expect((await t().exec('hA', route)).code).toBe(0);
    try {
      const probe = await t().probe('hA', ADDR.A1, ADDR.B1);
      expect(probe).toMatchObject({ reachable: false, result: 'timeout' });
    } finally {
      await t().exec('hA', ['ip', '-6', 'route', 'del', `${ADDR.B1}/128`, 'table', '101']);
    }
    const after = await t().counters();
    expect(after.r2.ingress_drop.packets).toBeGreaterThan(before.r2.ingress_drop.packets);
    expect(after.r2.fwd_a_to_b.packets).toBe(before.r2.fwd_a_to_b.packets);
    expect(after.r1.ingress_drop.packets).toBe(before.r1.ingress_drop.packets);
    expect((await t().probe('hA', ADDR.A1, ADDR.B1)).reachable).toBe(true);
  });

  it('cuts ISP1 silently in both directions, and restores it', async () => {
    await t().cut('isp1');
    await t().cut('isp1'); // idempotent
    const before = await t().counters();
    const [p11, p22] = await Promise.all([t().probe('hA', ADDR.A1, ADDR.B1), t().probe('hA', ADDR.A2, ADDR.B2)]);
    expect(p11).toMatchObject({ reachable: false, result: 'timeout' });
    expect(p22.reachable).toBe(true);
    const after = await t().counters();
    expect(after.r1.cut_drop.packets).toBeGreaterThan(before.r1.cut_drop.packets);
    expect(after.r1.fwd_a_to_b.packets).toBe(before.r1.fwd_a_to_b.packets);

    await t().restore('isp1');
    expect((await t().probe('hA', ADDR.A1, ADDR.B1)).reachable).toBe(true);
  });

  it('cuts ISP1 in one direction only', async () => {
    // A2 -> B1 uses r1 only from b to a (its request goes over r2), A1 -> B2 only from a to b.
    await t().cut('isp1', 'a-to-b');
    try {
      const [p11, p21, p12] = await Promise.all([
        t().probe('hA', ADDR.A1, ADDR.B1),
        t().probe('hA', ADDR.A2, ADDR.B1),
        t().probe('hA', ADDR.A1, ADDR.B2),
      ]);
      expect([p11.reachable, p21.reachable, p12.reachable]).toEqual([false, true, false]);
    } finally {
      await t().restore('isp1');
    }
    await t().cut('isp1', 'b-to-a');
    try {
      const [p11, p21, p12] = await Promise.all([
        t().probe('hA', ADDR.A1, ADDR.B1),
        t().probe('hA', ADDR.A2, ADDR.B1),
        t().probe('hA', ADDR.A1, ADDR.B2),
      ]);
      expect([p11.reachable, p21.reachable, p12.reachable]).toEqual([false, false, true]);
    } finally {
      await t().restore('isp1');
    }
    expect((await t().probe('hA', ADDR.A1, ADDR.B1)).reachable).toBe(true);
  });

  it('keeps the addresses across a link-down, and link-up restores reachability', async () => {
    await t().linkDown('a', 'isp1');
    try {
      const addr = await t().exec('hA', ['ip', '-6', 'addr', 'show', 'dev', 'eth1']);
      expect(addr.stdout).toContain('state DOWN');
      expect(addr.stdout).toContain(`${ADDR.A1}/64`);
      const [p11, p22] = await Promise.all([t().probe('hA', ADDR.A1, ADDR.B1), t().probe('hA', ADDR.A2, ADDR.B2)]);
      expect(p11.reachable).toBe(false);
      expect(p22.reachable).toBe(true);
    } finally {
      await t().linkUp('a', 'isp1');
    }
    expect((await t().exec('hA', ['ip', '-6', 'addr', 'show', 'dev', 'eth1'])).stdout).toContain(`${ADDR.A1}/64`);
    expect((await t().probe('hA', ADDR.A1, ADDR.B1)).reachable).toBe(true); // at once: no DAD (accept_dad=0)
    expect((await t().probe('hB', ADDR.B1, ADDR.A1)).reachable).toBe(true);
  });

  it('carries a 20 MB checksummed stream from A1 to B1 over ISP1', async () => {
    const bytes = 20_000_000;
    const before = await t().counters();
    const server = await startStreamServer(t(), 'hB', ADDR.B1, 5001);
    const client = await runStreamClient(t(), 'hA', { connect: ADDR.B1, port: 5001, bind: ADDR.A1, bytes, seed: 'netns-20MB' });
    const report = await server.report;
    expect(client.bytes).toBe(bytes);
    expect(report).toMatchObject({ bytes, eof: true, sha256: client.sha256 });
    expect(report.sha256).toMatch(/^[0-9a-f]{64}$/);
    const after = await t().counters();
    expect(after.r1.fwd_a_to_b.bytes - before.r1.fwd_a_to_b.bytes).toBeGreaterThan(bytes);
    expect(after.r2.fwd_a_to_b.packets).toBe(before.r2.fwd_a_to_b.packets);
  });

  it('control case, no shim: a TCP stream stalls for good once ISP1 is cut', async () => {
    const server = await startStreamServer(t(), 'hB', ADDR.B1, 5002);
    const client = startStreamClient(t(), 'hA', { connect: ADDR.B1, port: 5002, bind: ADDR.A1, seconds: 6, rateMbit: 50, seed: 'netns-stall' });
    try {
      await sleep(1500);
      const before = await t().counters();
      await t().cut('isp1');
      const cutAt = performance.now();
      await sleep(4500);
      expect(client.child.exitCode, 'the client is still stuck sending').toBeNull();
      const stopAt = performance.now(); // the server reports after this
      const report = await server.stop();
      const after = await t().counters();

      expect(report.eof).toBe(false);
      expect(report.bytes).toBeGreaterThan(1_000_000); // it was flowing before the cut
      // No byte after the cut: the final silence runs from at most 500 ms after the cut
      // (packets already past r1 when the drop rule went in, a busy machine) to the report.
      const silence = report.gaps.at(-1);
      expect(silence?.open).toBe(true);
      expect(silence?.ms ?? 0).toBeGreaterThanOrEqual(stopAt - cutAt - 500);
      expect(silence?.ms ?? 0).toBeGreaterThanOrEqual(3000);
      const tail = report.progress.filter(([ms]) => ms >= (silence?.atMs ?? 0));
      expect(tail.length).toBeGreaterThan(20);
      expect(new Set(tail.map(([, b]) => b))).toEqual(new Set([report.bytes]));
      // The sender kept trying into the cut.
      expect(after.r1.cut_drop.packets).toBeGreaterThan(before.r1.cut_drop.packets);
    } finally {
      client.child.kill('SIGKILL');
      await t().restore('isp1');
    }
  });
});

describeNetns('netns topology lifecycle', () => {
  const ids: string[] = [];

  afterAll(() => {
    for (const id of ids) script('down', id);
  });

  it('up is idempotent and down removes every namespace', async () => {
    const first = await Topology.up();
    ids.push(first.id);
    const again = await Topology.up(first.id); // tears down the leftovers of the same id first
    expect(netnsList().split('\n').filter((l) => l.split(' ')[0]?.endsWith(`-${first.id}`))).toHaveLength(4);
    expect((await again.probe('hA', ADDR.A2, ADDR.B2)).reachable).toBe(true);
    await again.down();
    await again.down(); // idempotent
    expect(script('down', first.id).code).toBe(0); // so is the script's
    const left = netnsList();
    for (const node of ['hA', 'hB', 'r1', 'r2'] as const) expect(left).not.toContain(again.ns(node));
  });
});
