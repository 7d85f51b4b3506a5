/**
 * `shim6 status`, `shim6 contexts`, `shim6 set-pair` and `shim6 daemon` (src/cli/control.ts,
 * src/cli/shim6.ts), the compiled tool run as a child process against a daemon running in
 * this process (fake data plane, recording `ip` runner) on a socket in a private
 * temporary directory: human and JSON output, error replies (exit 1), usage errors
 * (exit 2), the socket from --socket and $SHIM6_SOCKET, a daemon that is not running,
 * and permission denied for an unprivileged user.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration } from '../../src/cli/control.js';
import { validateConfig } from '../../src/daemon/config.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { LinuxNetwork } from '../../src/daemon/system.js';
import { exampleConfigJson, fakeFactory, HOST_A_ADDRESSES, recordingLog, recordingRunner, tempDir, type FakeFactory, type RecordingRunner } from '../daemon/fakes.js';
import { buildCli, CLI, expectUsage, records, ROOT, run, type Run } from './cli.util.js';

let tmp: { dir: string; remove: () => void };
let socket = '';
let daemon: Daemon;
let f: FakeFactory;
let runner: RecordingRunner;

function runWith(args: readonly string[], options: { env?: Record<string, string>; uid?: number; gid?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, timeout: 20_000, env: { ...process.env, ...options.env }, uid: options.uid, gid: options.gid }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  await buildCli();
  tmp = tempDir('shim6-cli-control-');
  socket = join(tmp.dir, 'shim6d.sock');
  const config = validateConfig(exampleConfigJson(socket));
  runner = recordingRunner(HOST_A_ADDRESSES);
  f = fakeFactory();
  daemon = new Daemon({
    config,
    network: new LinuxNetwork({ tunName: config.tun.name, mtu: config.tun.mtu, fwmark: config.fwmark, routeTable: config.routeTable, rulePriority: config.rulePriority }, runner.runner),
    createDataPlane: f.factory,
    log: recordingLog(),
    pid: 31337,
    version: '0.1.0',
  });
  await daemon.start();
  f.dataPlane.bump('hB', 'egressPackets', 12);
  f.dataPlane.bump('hB', 'egressBytes', 3400);
  f.dataPlane.bump('hC', 'egressRewritten', 5);
  f.dataPlane.bump('hC', 'dropUnknownTag', 2);
}, 150_000);

afterAll(async () => {
  await daemon?.stop();
  tmp?.remove();
});

describe('shim6 status', () => {
  it('human output', async () => {
    const r = await run(['status', '--socket', socket]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^shim6d 0\.1\.0 running, pid 31337, up \d+s\n/);
    expect(r.stdout).toContain('TUN       shim6tun0, MTU 1492\n');
    expect(r.stdout).toContain('contexts  2\n');
    expect(r.stdout).toContain('egress    12 packets, 3400 octets (5 rewritten, 0 passed through)\n');
    expect(r.stdout).toContain('drops     unknown tag 2\n');
  });

  it('--json: the daemon\'s result as one line', async () => {
    const r = await run(['status', '--json', `--socket=${socket}`]);
    expect(r.code).toBe(0);
    const [s] = records(r.stdout);
    expect(s).toMatchObject({ version: '0.1.0', pid: 31337, tun: { name: 'shim6tun0', mtu: 1492 }, contexts: 2, counters: { egressPackets: 12, dropUnknownTag: 2 } });
    expect(r.stdout.split('\n')).toHaveLength(2);
  });

  it('the socket from $SHIM6_SOCKET; --socket wins over it', async () => {
    expect((await runWith(['status'], { env: { SHIM6_SOCKET: socket } })).code).toBe(0);
    const r = await runWith(['status', '--socket', join(tmp.dir, 'nope.sock')], { env: { SHIM6_SOCKET: socket } });
    expect(r.code).toBe(1);
  });
});

describe('shim6 contexts', () => {
  it('human output: ULIDs, locators with the current ones marked, tags, rewriting, counters', async () => {
    const r = await run(['contexts', '--socket', socket]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain([
      'context hB',
      '  ULIDs           2001:db8:1:a::1 <-> 2001:db8:1:b::1',
      '  current pair    2001:db8:1:a::1 <-> 2001:db8:1:b::1',
      '  rewriting       no',
      '  local locators  2001:db8:1:a::1 *, 2001:db8:2:a::1',
      '  peer locators   2001:db8:1:b::1 *, 2001:db8:2:b::1',
      '  context tags    local 0x1234 (4660), peer 0x5678 (22136)',
      '  egress          12 packets (0 rewritten)',
      '  ingress         0 packets',
      '  drops           none',
    ].join('\n'));
    expect(r.stdout).toContain('  rewriting       yes\n  local locators  2001:db8:2:a::1, 2001:db8:1:a::1 *\n');
    expect(r.stdout).toContain('  drops           2 (unknown tag 2)\n');
    expect(r.stdout).toMatch(/\(\* marks the current locators\)\n$/);
  });

  it('--json: the list of contexts', async () => {
    const r = await run(['contexts', '--json', '--socket', socket]);
    const [list] = records(r.stdout);
    expect(list).toHaveLength(2);
    expect((list as unknown as Record<string, unknown>[])[1]).toMatchObject({ name: 'hC', localContextTag: 0x0a0b0c0d0e0f, rewriting: true });
  });
});

describe('shim6 set-pair', () => {
  it('switches, shows the context, and the daemon sends the ULID pair into the TUN', async () => {
    runner.log.length = 0;
    const r = await run(['set-pair', 'hB', '2001:db8:2:a::1', '2001:db8:2:b::1', '--socket', socket]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^hB: current pair 2001:db8:2:a::1 <-> 2001:db8:2:b::1 \(rewriting\)\ncontext hB\n/);
    expect(runner.log).toEqual(['ip -6 rule add pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20534']);
    const back = await run(['set-pair', '--socket', socket, '--json', 'hB', '2001:db8:1:a::1', '2001:db8:1:b::1']);
    expect(back.code).toBe(0);
    expect(records(back.stdout)[0]).toMatchObject({ name: 'hB', rewriting: false });
    expect(runner.log.at(-1)).toBe('ip -6 rule del pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20534');
  });

  it('error replies exit 1 with the code and message; --json prints the error object', async () => {
    const unknown = await run(['set-pair', 'hZ', '2001:db8:2:a::1', '2001:db8:2:b::1', '--socket', socket]);
    expect(unknown).toMatchObject({ code: 1, stdout: '', stderr: 'shim6 set-pair: unknown-context: no context named "hZ"\n' });
    const bad = await run(['set-pair', 'hB', '2001:db8:9::1', '2001:db8:2:b::1', '--socket', socket, '--json']);
    expect(bad.code).toBe(1);
    expect(records(bad.stdout)).toEqual([{ error: { code: 'bad-locator', message: expect.stringMatching(/is not a local locator of context "hB"/) } }]);
    expect(bad.stderr).toMatch(/^shim6 set-pair: bad-locator: /);
  });

  it('usage errors exit 2', async () => {
    expectUsage(await run(['set-pair', 'hB', '2001:db8:2:a::1']), /shim6 set-pair: needs <context> <local-locator> <peer-locator>/);
    expectUsage(await run(['set-pair', 'a', 'b', 'c', 'd']), /unexpected argument 'd'/);
    expectUsage(await run(['status', 'now']), /shim6 status: unexpected argument 'now'/);
    expectUsage(await run(['contexts', '--colour']), /unknown flag '--colour'/);
    expectUsage(await run(['status', '--socket']), /--socket needs a value/);
    expectUsage(await run(['status', '--socket', '--json']), /--socket needs a value/);
  });
});

describe('when the daemon cannot be reached', () => {
  it('not running: no socket there', async () => {
    for (const cmd of [['status'], ['contexts'], ['set-pair', 'a', 'b', 'c']]) {
      const r = await run([...cmd, '--socket', join(tmp.dir, 'absent.sock')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^shim6 [a-z-]+: shim6d is not running \(nothing listens on .*absent\.sock\)\n$/);
    }
    const j = await run(['status', '--json', '--socket', join(tmp.dir, 'absent.sock')]);
    expect(records(j.stdout)[0]).toMatchObject({ error: { code: 'not-running' } });
  });

  it('not running: a stale socket file (nothing listening)', async () => {
    const stale = join(tmp.dir, 'stale.sock');
    await new Promise<void>((resolve) => {
      execFile(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`], () => resolve());
    });
    const r = await run(['status', '--socket', stale]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/shim6d is not running/);
  });

  it('permission denied for an unprivileged user', async () => {
    if (process.getuid?.() !== 0) return; // needs root to run the child as nobody
    const r = await runWith(['status', '--socket', socket], { uid: 65534, gid: 65534 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^shim6 status: permission denied on .*shim6d\.sock \(the control socket is root's; try sudo\)\n$/);
  });
});

describe('help and shim6 daemon', () => {
  it('the main help lists the new commands; each has its own help', async () => {
    const h = await run(['--help']);
    for (const c of ['daemon', 'status', 'contexts', 'set-pair']) expect(h.stdout).toMatch(new RegExp(`\\n  ${c} `));
    expect((await run(['status', '--help'])).stdout).toMatch(/^Usage: shim6 status \[--socket PATH\] \[--json\]/);
    expect((await run(['help', 'contexts'])).stdout).toMatch(/^Usage: shim6 contexts/);
    expect((await run(['set-pair', '-h'])).stdout).toMatch(/^Usage: shim6 set-pair <context> <local-locator> <peer-locator>/);
    expect((await run(['help', 'daemon'])).stdout).toMatch(/^Usage: shim6 daemon --config FILE/);
    expect((await run(['daemon', '--help'])).stdout).toMatch(/^Usage: shim6 daemon --config FILE/);
  });

  it('shim6 daemon --check validates the example configurations', async () => {
    for (const file of ['examples/config/host-a.json', 'examples/config/host-b.json']) {
      const r = await run(['daemon', '--config', file, '--check']);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/: ok \(2 locators, 1 context\)\n$/);
    }
  });

  it('shim6 daemon: usage error 2, invalid configuration 1', async () => {
    const u = await run(['daemon']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/^shim6 daemon: --config FILE is required \(see 'shim6 daemon --help'\)\n$/);
    const bad = join(tmp.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ locators: ['ff02::1'], contexts: [], tun: { mtu: 100 } }));
    const r = await run(['daemon', '--config', bad, '--check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('locators[0]: ff02::1 is a multicast address, not usable as a locator');
    expect(r.stderr).toContain('tun.mtu: must be in 1280..65535, not 100');
  });
});

describe('formatDuration', () => {
  it('leaves out leading zero units', () => {
    expect([0, 59, 60, 3661, 90061].map(formatDuration)).toEqual(['0s', '59s', '1m 0s', '1h 1m 1s', '1d 1h 1m 1s']);
  });
});
