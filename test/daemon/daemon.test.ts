/**
 * The daemon core (src/daemon/daemon.ts) end to end over its real control socket, with a
 * fake data plane, the real LinuxNetwork over a recording command runner, and a
 * recording log: the startup command sequence (stale state first), status/contexts/
 * context/counters/set-pair, rule install and removal as pairs switch (one rule per
 * rewriting context), rollback when the rule cannot be installed, errors,
 * teardown (idempotent, also after a failed start), the second-daemon refusal, and the
 * rate-limited logs.
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig, type DaemonConfig } from '../../src/daemon/config.js';
import { controlRequest } from '../../src/daemon/control-client.js';
import type { ContextView, ControlResponse } from '../../src/daemon/control-protocol.js';
import { Daemon, DaemonError } from '../../src/daemon/daemon.js';
import { LinuxNetwork } from '../../src/daemon/system.js';
import { exampleConfigJson, fakeFactory, HOST_A_ADDRESSES, ip6, recordingLog, recordingRunner, tempDir, type FakeFactory, type RecordingRunner } from './fakes.js';

let tmp: { dir: string; remove: () => void };
let n = 0;
const daemons: Daemon[] = [];

beforeAll(() => { tmp = tempDir('shim6-daemon-'); });
afterEach(async () => { for (const d of daemons.splice(0)) await d.stop(); });
afterAll(() => tmp.remove());

interface Rig {
  daemon: Daemon;
  runner: RecordingRunner;
  f: FakeFactory;
  log: ReturnType<typeof recordingLog>;
  socket: string;
  config: DaemonConfig;
  clock: { t: number };
}

function rig(opts: { edit?: (d: Record<string, any>) => void; addresses?: readonly (readonly [string, string])[]; failOpen?: boolean; socket?: string } = {}): Rig {
  const socket = opts.socket ?? join(tmp.dir, `d${n++}.sock`);
  const doc = exampleConfigJson(socket);
  opts.edit?.(doc);
  const config = validateConfig(doc);
  const runner = recordingRunner(opts.addresses ?? HOST_A_ADDRESSES);
  const f = fakeFactory({ failOpen: opts.failOpen });
  const log = recordingLog();
  const clock = { t: 1_000_000 };
  const network = new LinuxNetwork({ tunName: config.tun.name, mtu: config.tun.mtu, fwmark: config.fwmark, routeTable: config.routeTable, rulePriority: config.rulePriority }, runner.runner);
  const daemon = new Daemon({ config, network, createDataPlane: f.factory, log, now: () => clock.t, pid: 4242, version: '9.9.9' });
  daemons.push(daemon);
  return { daemon, runner, f, log, socket, config, clock };
}

async function started(opts: Parameters<typeof rig>[0] = {}): Promise<Rig> {
  const r = rig(opts);
  await r.daemon.start();
  r.runner.log.length = 0;
  return r;
}

async function result(r: Rig, op: 'status' | 'contexts' | 'counters'): Promise<any>;
async function result(r: Rig, op: 'context', args: { context: string }): Promise<any>;
async function result(r: Rig, op: string, args?: Record<string, string>): Promise<any> {
  const resp = await controlRequest(r.socket, op as 'status', args);
  if (!resp.ok) throw new Error(`${resp.error.code}: ${resp.error.message}`);
  return resp.result;
}

function setPair(r: Rig, context: string, local: string, peer: string): Promise<ControlResponse> {
  return controlRequest(r.socket, 'set-pair', { context, local, peer });
}

describe('startup', () => {
  it('checks the locators, removes stale state first, then TUN, table route and the rules of rewriting contexts', async () => {
    const r = rig();
    await r.daemon.start();
    expect(r.runner.log).toEqual([
      'ip -j -6 addr show',
      'ip -6 rule del pref 100',
      'ip -6 rule del table 20534',
      'ip -6 route flush table 20534',
      'ip -j -d link show dev shim6tun0',
      'ip link set dev shim6tun0 addrgenmode none',
      'ip link set dev shim6tun0 mtu 1492 up',
      'ip -6 route replace default dev shim6tun0 table 20534',
      // hC's configured pair differs from its ULIDs
      'ip -6 rule add pref 100 from 2001:db8:2:a::1/128 to 2001:db8:1:c::1/128 fwmark 0/0x5036 lookup 20534',
    ]);
    expect(r.f.calls).toEqual(['open shim6tun0 mark 20534', 'start']);
    expect(r.f.options).toMatchObject({ tunName: 'shim6tun0', mtu: 1492, fwmark: 20534 });
    expect(r.f.dataPlane.contexts().map((c) => c.name)).toEqual(['hB', 'hC']);
    expect(lstatSync(r.socket).mode & 0o777).toBe(0o600);
    expect(r.daemon.running).toBe(true);
    expect(r.log.entries.map((e) => e.message)).toContain('shim6d running');
  });

  it('a locator not assigned on this host: refused before anything is touched', async () => {
    const r = rig({ addresses: [['eth1', '2001:db8:1:a::1']] });
    const e = await r.daemon.start().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DaemonError);
    expect(e).toMatchObject({ code: 'locator-not-assigned', message: expect.stringMatching(/2001:db8:2:a::1 is not assigned on this host/) });
    expect(r.runner.log).toEqual(['ip -j -6 addr show']);
    expect(r.f.calls).toEqual([]);
    expect(existsSync(r.socket)).toBe(false);
  });

  it('a locator on an interface outside `interfaces`', async () => {
    const r = rig({ addresses: [['eth1', '2001:db8:1:a::1'], ['wlan0', '2001:db8:2:a::1']] });
    await expect(r.daemon.start()).rejects.toThrow(/2001:db8:2:a::1 is on wlan0, not on eth1, eth2/);
  });

  it('without `interfaces`, any interface will do', async () => {
    const r = rig({ edit: (d) => { delete d['interfaces']; }, addresses: [['eth9', '2001:db8:1:a::1'], ['wlan0', '2001:db8:2:a::1']] });
    await r.daemon.start();
    expect(r.daemon.running).toBe(true);
  });

  it('the TUN cannot be opened: what was done is undone, and the error comes out', async () => {
    const r = rig({ failOpen: true });
    await expect(r.daemon.start()).rejects.toThrow(/Operation not permitted/);
    expect(r.runner.log.slice(-3)).toEqual(['ip -6 rule del pref 100', 'ip -6 rule del table 20534', 'ip -6 route flush table 20534']);
    expect(r.log.entries.some((e) => e.level === 'error' && e.message === 'startup failed')).toBe(true);
    await r.daemon.stop();
  });

  it('the TUN cannot be configured: the data plane is closed again', async () => {
    const r = rig();
    r.runner.script = (line) => (line.includes('addrgenmode') ? { code: 2, stderr: 'Error: argument is wrong' } : undefined);
    await expect(r.daemon.start()).rejects.toThrow(/ip link set dev shim6tun0 addrgenmode none: Error: argument is wrong/);
    expect(r.f.calls).toEqual(['open shim6tun0 mark 20534', 'close']);
  });

  it('a second daemon on the same control socket refuses to start and touches nothing', async () => {
    const a = await started();
    const b = rig({ socket: a.socket });
    await expect(b.daemon.start()).rejects.toMatchObject({ code: 'already-running' });
    expect(b.runner.log).toEqual([]);
    expect(b.f.calls).toEqual([]);
    expect((await controlRequest(a.socket, 'status')).ok).toBe(true);
  });

  it("a dead daemon's socket is removed and the new one starts", async () => {
    const socket = join(tmp.dir, `stale${n++}.sock`);
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    await new Promise((res) => child.once('exit', res));
    expect(existsSync(socket)).toBe(true);
    const r = await started({ socket });
    expect(r.log.entries.map((e) => e.message)).toContain('removed a stale control socket');
    expect((await controlRequest(socket, 'status')).ok).toBe(true);
  });
});

describe('control operations', () => {
  it('status', async () => {
    const r = await started();
    r.clock.t += 125_900;
    r.f.dataPlane.bump('hB', 'egressPackets', 3);
    expect(await result(r, 'status')).toEqual({
      version: '9.9.9', pid: 4242, uptimeSec: 125, tun: { name: 'shim6tun0', mtu: 1492, offload: true }, contexts: 2,
      counters: expect.objectContaining({ egressPackets: 3, ingressPackets: 0 }),
      engine: null, identities: 0, reapMode: null, capturing: false, metrics: null, flowLabel: null,
    });
  });

  it('contexts and context: addresses as text, tags as numbers, rewriting, counters', async () => {
    const r = await started();
    r.f.dataPlane.bump('hC', 'dropUnknownTag', 2);
    const list = (await result(r, 'contexts')) as ContextView[];
    expect(list).toHaveLength(2);
    expect(list[0]).toEqual({
      name: 'hB', localUlid: '2001:db8:1:a::1', peerUlid: '2001:db8:1:b::1',
      localLocators: ['2001:db8:1:a::1', '2001:db8:2:a::1'], peerLocators: ['2001:db8:1:b::1', '2001:db8:2:b::1'],
      localContextTag: 4660, peerContextTag: 22136,
      currentPair: { local: '2001:db8:1:a::1', peer: '2001:db8:1:b::1' }, rewriting: false,
      counters: expect.objectContaining({ egressPackets: 0 }),
      source: 'static', state: null, reap: null, failovers: 0, lastFailover: null, establishedAt: null,
    });
    expect(list[1]).toMatchObject({ name: 'hC', localContextTag: 0x0a0b0c0d0e0f, rewriting: true, currentPair: { local: '2001:db8:1:a::1', peer: '2001:db8:3:c::1' }, counters: { dropUnknownTag: 2 } });
    expect(await result(r, 'context', { context: 'hC' })).toEqual(list[1]);
    const missing = await controlRequest(r.socket, 'context', { context: 'nope' });
    expect(missing).toMatchObject({ ok: false, error: { code: 'unknown-context', message: 'no context named "nope"' } });
  });

  it('counters: the data plane and the control server', async () => {
    const r = await started();
    await controlRequest(r.socket, 'context', { context: 'nope' });
    const c = await result(r, 'counters');
    expect(c.dataPlane).toMatchObject({ egressPackets: 0 });
    expect(c.control).toMatchObject({ accepted: 2, requests: 2, errors: { 'unknown-context': 1 } });
  });
});

describe('set-pair', () => {
  it('away from the ULIDs installs the rule, back to them removes it; between two other pairs, no command', async () => {
    const r = await started();
    const away = await setPair(r, 'hB', '2001:db8:2:a::1', '2001:db8:2:b::1');
    expect(away).toMatchObject({ ok: true, result: { name: 'hB', rewriting: true, currentPair: { local: '2001:db8:2:a::1', peer: '2001:db8:2:b::1' } } });
    expect(r.runner.log).toEqual(['ip -6 rule add pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20534']);

    const other = await setPair(r, 'hB', '2001:db8:1:a::1', '2001:db8:2:b::1');
    expect(other).toMatchObject({ ok: true, result: { rewriting: true } });
    expect(r.runner.log).toHaveLength(1);

    const back = await setPair(r, 'hB', '2001:db8:1:a:0::1', '2001:DB8:1:B::1');
    expect(back).toMatchObject({ ok: true, result: { rewriting: false, currentPair: { local: '2001:db8:1:a::1', peer: '2001:db8:1:b::1' } } });
    expect(r.runner.log).toEqual([
      'ip -6 rule add pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20534',
      'ip -6 rule del pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20534',
    ]);
    expect(r.f.dataPlane.switches).toEqual([
      'hB 2001:db8:2:a::1 2001:db8:2:b::1', 'hB 2001:db8:1:a::1 2001:db8:2:b::1', 'hB 2001:db8:1:a::1 2001:db8:1:b::1',
    ]);
    const logged = r.log.entries.filter((e) => e.message === 'locator pair switched');
    expect(logged).toHaveLength(3);
    expect(logged[0]!.fields).toEqual({ context: 'hB', from: { local: '2001:db8:1:a::1', peer: '2001:db8:1:b::1' }, to: { local: '2001:db8:2:a::1', peer: '2001:db8:2:b::1' }, rewriting: true });
  });

  it('the ULID pair of a context configured away from it removes the startup rule', async () => {
    const r = await started();
    expect((await setPair(r, 'hC', '2001:db8:2:a::1', '2001:db8:1:c::1')).ok).toBe(true);
    expect(r.runner.log).toEqual(['ip -6 rule del pref 100 from 2001:db8:2:a::1/128 to 2001:db8:1:c::1/128 fwmark 0/0x5036 lookup 20534']);
  });

  it('contexts sharing a peer ULID each have their own rule, for their own ULID pair only', async () => {
    const r = await started({
      edit: (d) => {
        const hC = d['contexts'][1];
        Object.assign(hC, { peerUlid: '2001:db8:1:b::1', peerLocators: ['2001:db8:1:b::1', '2001:db8:2:b::1'], currentPair: undefined });
        delete hC.currentPair;
      },
    });
    const rc = (op: string) => `ip -6 rule ${op} pref 100 from 2001:db8:2:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20534`;
    expect((await setPair(r, 'hB', '2001:db8:2:a::1', '2001:db8:2:b::1')).ok).toBe(true);
    expect((await setPair(r, 'hC', '2001:db8:1:a::1', '2001:db8:2:b::1')).ok).toBe(true);
    expect((await setPair(r, 'hB', '2001:db8:1:a::1', '2001:db8:1:b::1')).ok).toBe(true);
    expect((await setPair(r, 'hC', '2001:db8:2:a::1', '2001:db8:1:b::1')).ok).toBe(true);
    expect(r.runner.log).toEqual(['ip -6 rule add pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20534', rc('add'), 'ip -6 rule del pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20534', rc('del')]);
  });

  it('bad requests change nothing: unknown context, not an address, not a locator of the context', async () => {
    const r = await started();
    const cases: [[string, string, string], string, RegExp][] = [
      [['hX', '2001:db8:2:a::1', '2001:db8:2:b::1'], 'unknown-context', /no context named "hX"/],
      [['hB', 'not-an-address', '2001:db8:2:b::1'], 'bad-locator', /not an IPv6 address: "not-an-address"/],
      [['hB', '2001:db8:2:a::1', '2001:db8:2:b::1%eth0'], 'bad-locator', /not an IPv6 address/],
      [['hB', '2001:db8:9::1', '2001:db8:2:b::1'], 'bad-locator', /2001:db8:9::1 is not a local locator of context "hB" \(2001:db8:1:a::1, 2001:db8:2:a::1\)/],
      [['hB', '2001:db8:2:a::1', '2001:db8:3:c::1'], 'bad-locator', /2001:db8:3:c::1 is not a peer locator of context "hB"/],
    ];
    for (const [[c, l, p], code, message] of cases) {
      const resp = await setPair(r, c, l, p);
      expect(resp, code).toMatchObject({ ok: false, error: { code, message: expect.stringMatching(message) } });
    }
    expect(r.runner.log).toEqual([]);
    expect(r.f.dataPlane.switches).toEqual([]);
  });

  it('a rule that cannot be installed rolls the pair back (system error); a retry then works', async () => {
    const r = await started();
    r.runner.script = (line) => (line.startsWith('ip -6 rule add') ? { code: 2, stderr: 'RTNETLINK answers: Operation not permitted' } : undefined);
    const resp = await setPair(r, 'hB', '2001:db8:2:a::1', '2001:db8:2:b::1');
    expect(resp).toMatchObject({ ok: false, error: { code: 'system', message: expect.stringMatching(/cannot route 2001:db8:1:a::1 -> 2001:db8:1:b::1 into the TUN: .*Operation not permitted; the pair was not changed/) } });
    expect(await result(r, 'context', { context: 'hB' })).toMatchObject({ rewriting: false, currentPair: { local: '2001:db8:1:a::1', peer: '2001:db8:1:b::1' } });
    expect(r.f.dataPlane.switches).toEqual(['hB 2001:db8:2:a::1 2001:db8:2:b::1', 'hB 2001:db8:1:a::1 2001:db8:1:b::1']);
    r.runner.script = () => undefined;
    expect((await setPair(r, 'hB', '2001:db8:2:a::1', '2001:db8:2:b::1')).ok).toBe(true);
  });

  it('a rule that cannot be removed is logged; the switch stands (packets pass through the TUN unchanged)', async () => {
    const r = await started();
    expect((await setPair(r, 'hB', '2001:db8:2:a::1', '2001:db8:2:b::1')).ok).toBe(true);
    r.runner.script = (line) => (line.startsWith('ip -6 rule del pref 100 from') ? { code: 2, stderr: 'RTNETLINK answers: No such process' } : undefined);
    expect(await setPair(r, 'hB', '2001:db8:1:a::1', '2001:db8:1:b::1')).toMatchObject({ ok: true, result: { rewriting: false } });
    expect(r.log.entries.some((e) => e.level === 'warn' && /cannot remove the rule/.test(e.message))).toBe(true);
    // The rule is still there, so switching away again needs no new one.
    r.runner.log.length = 0;
    expect((await setPair(r, 'hB', '2001:db8:2:a::1', '2001:db8:2:b::1')).ok).toBe(true);
    expect(r.runner.log).toEqual([]);
  });

  it('concurrent set-pairs run one at a time', async () => {
    const r = await started();
    const results = await Promise.all([
      setPair(r, 'hB', '2001:db8:2:a::1', '2001:db8:2:b::1'),
      setPair(r, 'hB', '2001:db8:1:a::1', '2001:db8:1:b::1'),
      setPair(r, 'hB', '2001:db8:2:a::1', '2001:db8:1:b::1'),
    ]);
    expect(results.every((x) => x.ok)).toBe(true);
    const replace = 'ip -6 rule add pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20534';
    const del = 'ip -6 rule del pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20534';
    // Whatever the order, installs and removals alternate and the final state matches the last switch.
    const final = (await result(r, 'context', { context: 'hB' })) as ContextView;
    const routes = r.runner.log;
    for (let i = 1; i < routes.length; i++) expect(routes[i]).not.toBe(routes[i - 1]);
    expect(routes.at(-1)).toBe(final.rewriting ? replace : del);
  });
});

describe('teardown', () => {
  it('closes the socket, removes the rules, flushes the routes, closes the data plane; idempotent', async () => {
    const r = await started();
    await r.daemon.stop();
    expect(r.runner.log).toEqual(['ip -6 rule del pref 100', 'ip -6 rule del table 20534', 'ip -6 route flush table 20534']);
    expect(r.f.calls).toEqual(['open shim6tun0 mark 20534', 'start', 'close']);
    expect(existsSync(r.socket)).toBe(false);
    expect(r.daemon.running).toBe(false);
    await r.daemon.stop();
    expect(r.runner.log).toHaveLength(3);
    await expect(controlRequest(r.socket, 'status')).rejects.toMatchObject({ code: 'not-running' });
  });

  it('a failing teardown step is logged and the rest still runs', async () => {
    const r = await started();
    r.runner.script = (line) => (line === 'ip -6 rule del pref 100' ? {} : undefined); // never runs out
    await r.daemon.stop();
    expect(r.log.entries.some((e) => e.level === 'warn' && e.message === 'teardown: removing the policy rules failed')).toBe(true);
    expect(r.f.calls.at(-1)).toBe('close');
    expect(r.daemon.running).toBe(false);
  });

  it('a stop during startup waits for the start, then tears down', async () => {
    const r = rig();
    const start = r.daemon.start();
    const stop = r.daemon.stop();
    await start;
    await stop;
    expect(r.daemon.running).toBe(false);
    expect(r.f.calls).toEqual(['open shim6tun0 mark 20534', 'start', 'close']);
    await expect(r.daemon.start()).rejects.toMatchObject({ code: 'bad-state' });
  });

  it('stop before start does nothing', async () => {
    const r = rig();
    await r.daemon.stop();
    expect(r.runner.log).toEqual([]);
  });
});

describe('logs', () => {
  it('unknown-tag and control-message events are rate-limited', async () => {
    const r = await started();
    const src = ip6('2001:db8:1:b::1');
    const dst = ip6('2001:db8:1:a::1');
    for (let i = 0; i < 100; i++) r.f.events!.unknownTag!(i, src, dst);
    const tagLogs = r.log.entries.filter((e) => /unknown context tag/.test(e.message));
    expect(tagLogs).toHaveLength(10);
    expect(tagLogs[0]!.fields).toEqual({ tag: 0, src: '2001:db8:1:b::1', dst: '2001:db8:1:a::1' });
    r.clock.t += 60_000;
    r.f.events!.unknownTag!(500, src, dst);
    expect(r.log.entries.at(-1)!.fields).toMatchObject({ tag: 500, suppressed: 90 });
    r.f.events!.control!(src, dst, Uint8Array.of(59, 1, 0x81, 0));
    expect(r.log.entries.at(-1)).toMatchObject({ level: 'info', fields: { type: 1 } });
  });

  it('control errors are logged, rate-limited', async () => {
    const r = await started();
    for (let i = 0; i < 15; i++) await controlRequest(r.socket, 'context', { context: `x${i}` });
    const logged = r.log.entries.filter((e) => e.message === 'control request refused');
    expect(logged).toHaveLength(10);
    expect(logged[0]!.fields).toEqual({ code: 'unknown-context', detail: 'no context named "x0"' });
  });
});
