// The data plane's proof, in network namespaces (issue 3): two shim6d daemons with
// matching static contexts; a checksummed TCP stream between the ULIDs A1 and B1; ISP1
// is cut silently; both daemons are switched to the locator pair (A2, B2) with
// `shim6 set-pair`; the connection carries on with every byte intact, and a capture on
// ISP2's router shows the Payload Extension header with each side's context tag.
// topology.test.ts has the control case: without the shim the same cut stalls the stream.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ipv6FromRecord, parsePcap } from '../../src/io/pcap.js';
import { formatIpv6 } from '../../src/wire/address.js';
import { isPayloadHeader, readPayloadContextTag } from '../../src/wire/payload.js';
import { ADDR, describeNetns, ROOT, sleep, startStreamClient, startStreamServer, Topology, type TrackedChild } from './topology.js';

const SHIM6D = join(ROOT, 'dist/src/daemon/shim6d.js');
const SHIM6 = join(ROOT, 'dist/src/cli/shim6.js');
const TAG_A = 0x0a0a0a0a0a; // A's CT(local): what B puts in the headers it sends
const TAG_B = 0x7b0b0b0b0b0b; // B's CT(local)
const FWMARK = 20534;
const TABLE = 20534;
const PRIORITY = 100;

function config(dir: string, side: 'a' | 'b'): string {
  const [l1, l2, p1, p2] = side === 'a' ? [ADDR.A1, ADDR.A2, ADDR.B1, ADDR.B2] : [ADDR.B1, ADDR.B2, ADDR.A1, ADDR.A2];
  const cfg = {
    interfaces: ['eth1', 'eth2'],
    locators: [l1, l2],
    tun: { name: 'shim6tun0', mtu: 1492 },
    fwmark: FWMARK,
    routeTable: TABLE,
    rulePriority: PRIORITY,
    controlSocket: join(dir, `${side}.sock`),
    logLevel: 'info',
    contexts: [{
      name: 'peer',
      localUlid: l1, peerUlid: p1,
      localLocators: [l1, l2], peerLocators: [p1, p2],
      localContextTag: side === 'a' ? TAG_A : TAG_B,
      peerContextTag: side === 'a' ? TAG_B : TAG_A,
    }],
  };
  const path = join(dir, `${side}.json`);
  writeFileSync(path, JSON.stringify(cfg, null, 2));
  return path;
}

interface Cli {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Cli> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SHIM6, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function waitForDaemon(socket: string, daemon: TrackedChild, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (daemon.exitCode !== null) throw new Error(`shim6d exited with ${daemon.exitCode}: ${log()}`);
    const r = await cli(['status', '--socket', socket, '--json']);
    if (r.code === 0) return;
    await sleep(100);
  }
  throw new Error(`shim6d did not answer on ${socket}: ${log()}`);
}

interface ContextJson {
  name: string;
  rewriting: boolean;
  currentPair: { local: string; peer: string };
  counters: Record<string, number>;
}

async function contexts(socket: string): Promise<ContextJson[]> {
  const r = await cli(['contexts', '--socket', socket, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const parsed = JSON.parse(r.stdout) as ContextJson[] | { contexts: ContextJson[] };
  return Array.isArray(parsed) ? parsed : parsed.contexts;
}

/** Payload Extension headers in a capture of raw IPv6 or Ethernet frames: [src, dst, tag]. */
function payloadHeaders(pcap: Uint8Array): [string, string, number][] {
  const out: [string, string, number][] = [];
  const parsed = parsePcap(pcap);
  if (!parsed.ok) throw new Error(`capture: ${parsed.error.message}`);
  for (const record of parsed.value.records) {
    const p = ipv6FromRecord(parsed.value.linkType, record.data);
    if (p === undefined || p.length < 48 || p[6] !== 140 || !isPayloadHeader(p, 40)) continue;
    out.push([formatIpv6(p, 8), formatIpv6(p, 24), readPayloadContextTag(p, 40)]);
  }
  return out;
}

describeNetns('shim6d in network namespaces: a TCP session survives the loss of its ISP', () => {
  let topo: Topology | undefined;
  let dir = '';
  const daemons: { a?: TrackedChild; b?: TrackedChild } = {};
  const logs = { a: '', b: '' };

  function startDaemon(side: 'a' | 'b'): TrackedChild {
    const child = topo!.spawn(side === 'a' ? 'hA' : 'hB', [process.execPath, SHIM6D, '--config', join(dir, `${side}.json`)]);
    child.stdout.on('data', (d: Buffer) => (logs[side] += d.toString()));
    child.stderr.on('data', (d: Buffer) => (logs[side] += d.toString()));
    return child;
  }

  async function stopDaemon(side: 'a' | 'b'): Promise<number | null> {
    const child = daemons[side];
    if (child === undefined || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    return exited;
  }

  beforeAll(async () => {
    topo = await Topology.up();
    dir = mkdtempSync(join(tmpdir(), 'shim6-failover-'));
    config(dir, 'a');
    config(dir, 'b');
    daemons.a = startDaemon('a');
    daemons.b = startDaemon('b');
    await waitForDaemon(join(dir, 'a.sock'), daemons.a, () => logs.a);
    await waitForDaemon(join(dir, 'b.sock'), daemons.b, () => logs.b);
  }, 60_000);

  afterAll(async () => {
    await stopDaemon('a');
    await stopDaemon('b');
    await topo?.down();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('installs its rule and TUN, and leaves the kernel path alone before any switch', async () => {
    const rules = await topo!.exec('hA', ['ip', '-6', 'rule', 'show']);
    expect(rules.stdout).not.toMatch(new RegExp(`^${PRIORITY}:`, 'm')); // no rule until a context rewrites
    const link = await topo!.exec('hA', ['ip', 'link', 'show', 'shim6tun0']);
    expect(link.stdout).toContain('mtu 1492');
    const routes = await topo!.exec('hA', ['ip', '-6', 'route', 'show', 'table', String(TABLE)]);
    expect(routes.stdout.trim()).toBe('default dev shim6tun0 metric 1024 pref medium');
    const [ctx] = await contexts(join(dir, 'a.sock'));
    expect(ctx).toMatchObject({ name: 'peer', rewriting: false, currentPair: { local: ADDR.A1, peer: ADDR.B1 } });
  });

  it('keeps a TCP stream between the ULIDs going, byte for byte, across a cut and a switch of locators', async () => {
    const t = topo!;
    const capture = join(dir, 'isp2.pcap');
    // Capture ISP2's traffic on r2's host-A link (the path the stream will move to).
    const tshark = t.spawn('r2', ['tshark', '-q', '-i', 'a', '-s', '96', '-F', 'pcap', '-w', capture, '-f', 'ip6 proto 140']);
    await sleep(1500);
    const server = await startStreamServer(t, 'hB', ADDR.B1, 5101);
    const bytes = 48_000_000;
    const client = startStreamClient(t, 'hA', { connect: ADDR.B1, port: 5101, bind: ADDR.A1, bytes, rateMbit: 96, seed: 'failover' });
    await sleep(1200);
    await t.cut('isp1'); // silent: the ULIDs' path is gone
    const setA = await cli(['set-pair', 'peer', ADDR.A2, ADDR.B2, '--socket', join(dir, 'a.sock')]);
    const setB = await cli(['set-pair', 'peer', ADDR.B2, ADDR.A2, '--socket', join(dir, 'b.sock')]);
    expect(setA.code, setA.stderr).toBe(0);
    expect(setB.code, setB.stderr).toBe(0);
    const rules = await t.exec('hA', ['ip', '-6', 'rule', 'show']);
    expect(rules.stdout).toMatch(new RegExp(`^${PRIORITY}:\\s+from ${ADDR.A1} to ${ADDR.B1} fwmark 0/0x${FWMARK.toString(16)} lookup ${TABLE}`, 'm'));
    const timer = setTimeout(() => client.child.kill('SIGKILL'), 40_000);
    const sent = await client.result;
    clearTimeout(timer);
    const received = await server.report;
    await sleep(300);
    tshark.kill('SIGINT');
    await new Promise((r) => tshark.once('exit', r));

    expect(sent.bytes).toBe(bytes);
    expect(received.bytes).toBe(bytes);
    expect(received.eof).toBe(true);
    expect(received.sha256).toBe(sent.sha256);

    // Both daemons rewrote and restored packets; none was dropped for a bad tag or locator.
    const [a] = await contexts(join(dir, 'a.sock'));
    const [b] = await contexts(join(dir, 'b.sock'));
    expect(a!.rewriting).toBe(true);
    expect(a!.currentPair).toEqual({ local: ADDR.A2, peer: ADDR.B2 });
    expect(a!.counters['egressRewritten']).toBeGreaterThan(1000);
    expect(b!.counters['ingressPackets']).toBeGreaterThan(1000);
    expect(b!.counters['egressRewritten']).toBeGreaterThan(100); // the ACKs
    expect(a!.counters['ingressPackets']).toBeGreaterThan(100);
    for (const c of [a!, b!]) {
      expect(c.counters['dropUnknownTag'] ?? 0).toBe(0);
      expect(c.counters['dropLocatorMismatch'] ?? 0).toBe(0);
    }
    // The capture shows the Payload Extension header with the receiver's tag each way.
    const seen = payloadHeaders(new Uint8Array(readFileSync(capture)));
    const aToB = seen.filter(([s, d]) => s === ADDR.A2 && d === ADDR.B2);
    const bToA = seen.filter(([s, d]) => s === ADDR.B2 && d === ADDR.A2);
    expect(aToB.length).toBeGreaterThan(100);
    expect(bToA.length).toBeGreaterThan(10);
    expect(new Set(aToB.map(([, , tag]) => tag))).toEqual(new Set([TAG_B]));
    expect(new Set(bToA.map(([, , tag]) => tag))).toEqual(new Set([TAG_A]));
  }, 90_000);

  it('switching back to the ULIDs removes the rule and the header', async () => {
    await topo!.restore('isp1');
    const r = await cli(['set-pair', 'peer', ADDR.A1, ADDR.B1, '--socket', join(dir, 'a.sock')]);
    expect(r.code, r.stderr).toBe(0);
    const [ctx] = await contexts(join(dir, 'a.sock'));
    expect(ctx!.rewriting).toBe(false);
    const rules = await topo!.exec('hA', ['ip', '-6', 'rule', 'show']);
    expect(rules.stdout).not.toMatch(new RegExp(`^${PRIORITY}:`, 'm'));
  });

  it('tears down on SIGTERM, and a restart after a crash removes the stale rule', async () => {
    expect((await cli(['set-pair', 'peer', ADDR.A2, ADDR.B2, '--socket', join(dir, 'a.sock')])).code).toBe(0);
    expect(await stopDaemon('a')).toBe(0);
    const rules = await topo!.exec('hA', ['ip', '-6', 'rule', 'show']);
    expect(rules.stdout).not.toMatch(new RegExp(`^${PRIORITY}:`, 'm'));
    expect((await topo!.exec('hA', ['ip', '-6', 'route', 'show', 'table', String(TABLE)])).stdout.trim()).toBe('');
    const link = await topo!.exec('hA', ['ip', 'link', 'show', 'shim6tun0']);
    expect(link.code).not.toBe(0);

    // Crash: SIGKILL leaves the rule behind; the next start must clean it up.
    daemons.a = startDaemon('a');
    await waitForDaemon(join(dir, 'a.sock'), daemons.a, () => logs.a);
    expect((await cli(['set-pair', 'peer', ADDR.A2, ADDR.B2, '--socket', join(dir, 'a.sock')])).code).toBe(0);
    daemons.a.kill('SIGKILL');
    await new Promise((r) => daemons.a!.once('exit', r));
    const stale = await topo!.exec('hA', ['ip', '-6', 'rule', 'show']);
    expect(stale.stdout).toMatch(new RegExp(`^${PRIORITY}:`, 'm'));
    daemons.a = startDaemon('a');
    await waitForDaemon(join(dir, 'a.sock'), daemons.a, () => logs.a);
    const after = await topo!.exec('hA', ['ip', '-6', 'rule', 'show']);
    expect(after.stdout).not.toMatch(new RegExp(`^${PRIORITY}:`, 'm')); // the config's pair is the ULIDs again
    const [ctx] = await contexts(join(dir, 'a.sock'));
    expect(ctx!.rewriting).toBe(false);
  }, 30_000);
});
