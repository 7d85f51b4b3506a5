// shim6d end to end in network namespaces (issue 7), the daemon's own duties: the HBA
// addresses generated and put on the interfaces, a context established by traffic alone,
// a link going down on the host (netlink) moving the live TCP stream to the other ISP,
// the daemon restarted in the middle of that stream (state saved, context adopted with
// the same tags: the stream completes byte for byte), SIGHUP, Prometheus metrics over
// HTTP, and nothing left behind after a stop. The failure-mode matrix and the baselines
// are in test/harness/.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeNetns, ROOT, sleep, startStreamClient, startStreamServer, Topology, type TrackedChild } from './topology.js';

const SHIM6D = join(ROOT, 'dist/src/daemon/shim6d.js');
const SHIM6 = join(ROOT, 'dist/src/cli/shim6.js');
const METRICS_PORT = 19464;

type Side = 'a' | 'b';

function writeConfig(dir: string, side: Side, extra: Record<string, unknown> = {}): void {
  const cfg = {
    identity: { prefixes: [{ prefix: `2001:db8:1:${side}::/64`, interface: 'eth1' }, { prefix: `2001:db8:2:${side}::/64`, interface: 'eth2' }] },
    stateFile: join(dir, `${side}.state`),
    controlSocket: join(dir, `${side}.sock`),
    reap: { mode: 'fast' },
    establish: { afterPackets: 5 },
    ...(side === 'a' ? { metrics: { listen: `[::1]:${METRICS_PORT}` } } : {}),
    logLevel: 'info',
    ...extra,
  };
  writeFileSync(join(dir, `${side}.json`), JSON.stringify(cfg, null, 2));
}

describeNetns('shim6d with an identity: establishment, local signals, restart, reload, metrics', () => {
  let topo: Topology | undefined;
  let dir = '';
  const daemons: Partial<Record<Side, TrackedChild>> = {};
  const logs: Record<Side, string> = { a: '', b: '' };
  const ulid: Record<Side, string> = { a: '', b: '' };
  const locators: Record<Side, string[]> = { a: [], b: [] };

  function node(side: Side): 'hA' | 'hB' {
    return side === 'a' ? 'hA' : 'hB';
  }

  function start(side: Side): TrackedChild {
    const child = topo!.spawn(node(side), [process.execPath, SHIM6D, '--config', join(dir, `${side}.json`)]);
    child.stdout.on('data', (d: Buffer) => (logs[side] += d.toString()));
    child.stderr.on('data', (d: Buffer) => (logs[side] += d.toString()));
    daemons[side] = child;
    return child;
  }

  async function stop(side: Side): Promise<number | null> {
    const child = daemons[side];
    if (child === undefined || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    return exited;
  }

  async function cli(side: Side, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const r = await topo!.exec(node(side), [process.execPath, SHIM6, ...args, '--socket', join(dir, `${side}.sock`)], { timeoutMs: 15_000 });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  async function json(side: Side, args: string[]): Promise<any> {
    const r = await cli(side, [...args, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  }

  async function waitFor<T>(what: string, f: () => Promise<T | undefined>, withinMs = 15_000): Promise<T> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const v = await f().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nA: ${logs.a.slice(-3000)}\nB: ${logs.b.slice(-3000)}`);
      await sleep(100);
    }
  }

  beforeAll(async () => {
    topo = await Topology.up();
    dir = mkdtempSync(join(tmpdir(), 'shim6d-netns-'));
    for (const side of ['a', 'b'] as const) {
      writeConfig(dir, side);
      start(side);
    }
    for (const side of ['a', 'b'] as const) {
      const loc = await waitFor(`shim6d ${side}`, async () => {
        const r = await cli(side, ['locators', '--json']);
        return r.code === 0 ? JSON.parse(r.stdout) : undefined;
      });
      ulid[side] = loc.identities[0].ulid;
      locators[side] = loc.identities[0].locators.map((l: { address: string }) => l.address);
    }
  }, 90_000);

  afterAll(async () => {
    if (process.env['SHIM6D_NETNS_LOGS'] !== undefined) for (const side of ['a', 'b'] as const) writeFileSync(`${process.env['SHIM6D_NETNS_LOGS']}-${side}.log`, logs[side]);
    await stop('a');
    await stop('b');
    await topo?.down();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  }, 90_000);

  it('generates an HBA set and configures it: the ULID is on eth1, the second locator on eth2', async () => {
    expect(ulid.a.startsWith('2001:db8:1:a:')).toBe(true);
    expect(locators.a[1]!.startsWith('2001:db8:2:a:')).toBe(true);
    const eth1 = await topo!.exec('hA', ['ip', '-6', 'addr', 'show', 'dev', 'eth1']);
    const eth2 = await topo!.exec('hA', ['ip', '-6', 'addr', 'show', 'dev', 'eth2']);
    expect(eth1.stdout).toContain(`${ulid.a}/64`);
    expect(eth2.stdout).toContain(`${locators.a[1]}/64`);
    const tables = await topo!.exec('hA', ['nft', 'list', 'tables']);
    expect(tables.stdout).toContain('inet shim6d_shim6tun0');
  });

  it('a TCP stream between the ULIDs: a context by traffic, a link-down moves it, a restart of the daemon keeps it, every byte arrives', async () => {
    const t = topo!;
    const server = await startStreamServer(t, 'hB', ulid.b, 5201);
    const client = startStreamClient(t, 'hA', { connect: ulid.b, port: 5201, bind: ulid.a, seconds: 9, rateMbit: 20, seed: 'shim6d' });
    // Established by the §4 heuristic (afterPackets 5) from the kernel counters: no establish command.
    const ctx = await waitFor('a context', async () => {
      const list = await json('a', ['contexts']);
      return list.find((c: any) => c.source === 'engine' && c.state === 'ESTABLISHED');
    });
    expect(ctx.peerUlid).toBe(ulid.b);
    expect(ctx.currentPair).toEqual({ local: ulid.a, peer: ulid.b });
    expect(ctx.reap.state).toBe('Operational');

    // The host's ISP1 link goes down: netlink tells the daemon, REAP explores at once.
    await sleep(1000);
    await t.linkDown('a', 'isp1');
    const moved = await waitFor('the switch', async () => {
      const [c] = (await json('a', ['contexts'])).filter((x: any) => x.source === 'engine');
      return c.currentPair.local !== ulid.a && c.failovers >= 1 ? c : undefined;
    }, 10_000);
    expect(moved.currentPair.local).toBe(locators.a[1]);
    expect(moved.rewriting).toBe(true);
    expect(moved.lastFailover.reason).toBe('local-signal');
    const rules = await t.exec('hA', ['ip', '-6', 'rule', 'show']);
    expect(rules.stdout).toContain(`from ${ulid.a} to ${ulid.b}`);

    // Restart A's daemon in the middle of the stream.
    await sleep(800);
    expect(await stop('a')).toBe(0);
    expect(logs.a).toContain('state saved (1 context)');
    start('a');
    const adopted = await waitFor('the adopted context', async () => {
      const list = await json('a', ['contexts']);
      return list.find((c: any) => c.source === 'engine' && c.state === 'ESTABLISHED');
    });
    expect(logs.a).toContain('saved contexts resumed');
    expect(adopted.localContextTag).toBe(ctx.localContextTag);
    expect(adopted.peerContextTag).toBe(ctx.peerContextTag);

    const timer = setTimeout(() => client.child.kill('SIGKILL'), 40_000);
    const sent = await client.result;
    clearTimeout(timer);
    const received = await server.report;
    expect(received.eof).toBe(true);
    expect(received.bytes).toBe(sent.bytes);
    expect(received.sha256).toBe(sent.sha256);
    await t.linkUp('a', 'isp1');
  }, 90_000);

  it('SIGHUP reloads the file and keeps the contexts; a bad file changes nothing', async () => {
    writeConfig(dir, 'a', { logLevel: 'debug', establish: { afterPackets: 7 } });
    daemons.a!.kill('SIGHUP');
    await waitFor('the reload', async () => (logs.a.includes('configuration reloaded') ? true : undefined));
    writeFileSync(join(dir, 'a.json'), '{ "identity": 1 }');
    const r = await cli('a', ['reload']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('identity');
    const list = await json('a', ['contexts']);
    expect(list.some((c: any) => c.source === 'engine' && c.state === 'ESTABLISHED')).toBe(true);
    writeConfig(dir, 'a');
  });

  it('serves Prometheus metrics on the loopback port and over the control socket', async () => {
    const fetched = await topo!.exec('hA', [process.execPath, '-e', `fetch('http://[::1]:${METRICS_PORT}/metrics').then(async (r) => { process.stdout.write(String(r.status) + '\\n' + await r.text()); })`]);
    expect(fetched.stdout.split('\n')[0]).toBe('200');
    expect(fetched.stdout).toMatch(/^shim6_contexts\{state="ESTABLISHED"\} 1$/m);
    expect(fetched.stdout).toMatch(/^shim6_engine_contexts_adopted_total 1$/m); // the restart above
    const r = await cli('a', ['metrics']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('# TYPE');
  });

  it('a stop leaves no rule, route, nft table or TUN behind; the HBA addresses stay (they are the ULIDs)', async () => {
    expect(await stop('a')).toBe(0);
    const rules = await topo!.exec('hA', ['ip', '-6', 'rule', 'show']);
    expect(rules.stdout).not.toMatch(/^100:/m);
    const tables = await topo!.exec('hA', ['nft', 'list', 'tables']);
    expect(tables.stdout).not.toContain('shim6d');
    const tun = await topo!.exec('hA', ['ip', 'link', 'show', 'shim6tun0']);
    expect(tun.code).not.toBe(0);
    const eth1 = await topo!.exec('hA', ['ip', '-6', 'addr', 'show', 'dev', 'eth1']);
    expect(eth1.stdout).toContain(ulid.a);
  });
});

