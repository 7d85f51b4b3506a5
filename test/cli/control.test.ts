/**
 * The `shim6` commands of the control socket (src/cli/control.ts, src/cli/shim6.ts): the
 * compiled tool run as a child process against a scripted control server in this process
 * (src/daemon/control-server.ts with a handler that answers like shim6d: static and
 * engine contexts, locators, establish outcomes, a capture, metrics, reload) on a socket
 * in a private temporary directory. Human and JSON output, the request each command
 * line sends, error replies (exit 1), usage errors (exit 2), replies of the wrong shape,
 * the socket from --socket and $SHIM6_SOCKET, a daemon that is not running, permission
 * denied for an unprivileged user; `shim6 daemon`'s own usage; and the pure formatters.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { formatContext, formatDuration, formatEstablish, formatLocators, formatPcap, formatReload, formatSince, formatStatus } from '../../src/cli/control.js';
import {
  ControlError, type ContextView, type ControlRequest, type EstablishResult, type LocatorsResult, type PcapResult, type StatusResult,
} from '../../src/daemon/control-protocol.js';
import { ControlServer } from '../../src/daemon/control-server.js';
import { COUNTERS, type Counters } from '../../src/dataplane/types.js';
import { buildCli, CLI, expectUsage, records, ROOT, run, type Run } from './cli.util.js';

const NOW = Date.parse('2024-05-01T10:05:00.000Z');

function counters(values: Partial<Counters> = {}): Counters {
  const c = Object.fromEntries(COUNTERS.map((n) => [n, 0])) as Counters;
  return { ...c, ...values };
}

const STATIC: ContextView = {
  name: 'hB', source: 'static', localUlid: '2001:db8:1:a::1', peerUlid: '2001:db8:1:b::1',
  localLocators: ['2001:db8:1:a::1', '2001:db8:2:a::1'], peerLocators: ['2001:db8:1:b::1', '2001:db8:2:b::1'],
  localContextTag: 0x1234, peerContextTag: 0x5678, currentPair: { local: '2001:db8:1:a::1', peer: '2001:db8:1:b::1' }, rewriting: false,
  counters: counters({ egressPackets: 12, egressBytes: 3400 }), state: null, reap: null, failovers: 0, lastFailover: null, establishedAt: null,
};

const ENGINE: ContextView = {
  name: 'ctx-2001:db8:1:c::1', source: 'engine', localUlid: '2001:db8:1:a::1', peerUlid: '2001:db8:1:c::1',
  localLocators: ['2001:db8:1:a::1', '2001:db8:2:a::1'], peerLocators: ['2001:db8:1:c::1', '2001:db8:2:c::1'],
  localContextTag: 0x0a0b0c0d0e0f, peerContextTag: 0x77, currentPair: { local: '2001:db8:2:a::1', peer: '2001:db8:2:c::1' }, rewriting: true,
  counters: counters({ egressRewritten: 5, dropUnknownTag: 2 }), state: 'ESTABLISHED',
  reap: { state: 'Operational', since: '2024-05-01T10:02:00.000Z' }, failovers: 2,
  lastFailover: {
    at: '2024-05-01T10:02:00.000Z', durationMs: 3120, reason: 'send-timeout',
    from: { local: '2001:db8:1:a::1', peer: '2001:db8:1:c::1' }, to: { local: '2001:db8:2:a::1', peer: '2001:db8:2:c::1' },
  },
  establishedAt: '2024-05-01T09:00:00.000Z',
};

const PENDING: ContextView = {
  ...ENGINE, name: 'ctx-2001:db8:1:d::1', peerUlid: '2001:db8:1:d::1', peerLocators: ['2001:db8:1:d::1'], peerContextTag: null, state: 'I1-SENT',
  currentPair: { local: '2001:db8:1:a::1', peer: '2001:db8:1:d::1' }, rewriting: false, reap: null, failovers: 0, lastFailover: null, establishedAt: null,
  counters: counters(),
};

const STATUS: StatusResult = {
  version: '0.1.0', pid: 31337, uptimeSec: 75, tun: { name: 'shim6tun0', mtu: 1492, offload: false }, contexts: 3,
  counters: counters({ egressPackets: 12, egressBytes: 3400, egressRewritten: 5, dropUnknownTag: 2 }),
  engine: { contexts: 2, byState: { ESTABLISHED: 1, 'I1-SENT': 1, IDLE: 0 }, counters: { 'rx.I1': 4, 'drop.nonce-mismatch': 1, 'drop.bad-checksum': 0 } },
  identities: 1, reapMode: 'full', capturing: false, metrics: '[::1]:9464',
};

const LOCATORS: LocatorsResult = {
  identities: [{
    ulid: '2001:db8:1:a::1',
    locators: [
      { address: '2001:db8:1:a::1', interface: 'eth1', method: 'HBA', operational: true },
      { address: '2001:db8:2:a::1', interface: null, method: 'HBA', operational: false },
    ],
  }],
};

/** A control server that answers like shim6d; `requests` records what arrived. */
class ScriptedDaemon {
  requests: ControlRequest[] = [];
  contexts: ContextView[] = [STATIC, ENGINE];
  capture: PcapResult = { capturing: false, path: null, packets: 0, bytes: 0, truncated: false };
  /** Replaces the next result (for replies of the wrong shape). */
  override: unknown = undefined;

  reset(): void {
    this.requests = [];
    this.contexts = [STATIC, ENGINE];
    this.capture = { capturing: false, path: null, packets: 0, bytes: 0, truncated: false };
    this.override = undefined;
  }

  async handle(r: ControlRequest): Promise<unknown> {
    this.requests.push(r);
    if (this.override !== undefined) return this.override;
    const find = (name: string): ContextView => {
      const c = this.contexts.find((x) => x.name === name);
      if (c === undefined) throw new ControlError('unknown-context', `no context named "${name}"`);
      return c;
    };
    switch (r.op) {
      case 'status': return STATUS;
      case 'contexts': return this.contexts;
      case 'context': return find(r.args.context);
      case 'counters': return {};
      case 'locators': return LOCATORS;
      case 'set-pair': {
        const c = find(r.args.context);
        if (!c.localLocators.includes(r.args.local)) throw new ControlError('bad-locator', `${r.args.local} is not a local locator of context "${c.name}"`);
        return { ...c, currentPair: { local: r.args.local, peer: r.args.peer }, rewriting: r.args.local !== c.localUlid || r.args.peer !== c.peerUlid };
      }
      case 'explore': {
        const c = find(r.args.context);
        if (c.reap === null) throw new ControlError('not-available', `context "${c.name}" is static: REAP does not run on it`);
        return { ...c, reap: { state: 'Exploring', since: '2024-05-01T10:04:59.000Z' } };
      }
      case 'establish': {
        const outcomes: Record<string, EstablishResult> = {
          '2001:db8:1:d::1': { outcome: 'started', context: PENDING },
          '2001:db8:1:c::1': { outcome: 'exists', context: ENGINE },
          '2001:db8:1:e::1': { outcome: 'hold-down', context: null },
        };
        const o = outcomes[r.args.peer];
        if (o === undefined) throw new ControlError('no-identity', 'no local identity for that peer');
        return o;
      }
      case 'pcap':
        if (r.args.action === 'start') {
          if (this.capture.capturing) throw new ControlError('capture', `already capturing to ${this.capture.path}`);
          this.capture = { capturing: true, path: r.args.path ?? '/var/lib/shim6/capture.pcap', packets: 0, bytes: 24, truncated: false };
        } else {
          if (!this.capture.capturing) throw new ControlError('capture', 'no capture is running');
          this.capture = { ...this.capture, capturing: false, packets: 7, bytes: 1024, truncated: true };
        }
        return this.capture;
      case 'metrics': return { text: '# HELP shim6_uptime_seconds Seconds since shim6d started.\n# TYPE shim6_uptime_seconds gauge\nshim6_uptime_seconds 75\n' };
      case 'reload': return { applied: ['log.level', 'reap.mode'], needsRestart: ['tun.mtu'] };
    }
  }
}

let tmp = '';
let socket = '';
let server: ControlServer;
const daemon = new ScriptedDaemon();

function runWith(args: readonly string[], options: { env?: Record<string, string>; uid?: number; gid?: number; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: options.cwd ?? ROOT, timeout: 20_000, env: { ...process.env, ...options.env }, uid: options.uid, gid: options.gid }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  await buildCli();
  tmp = mkdtempSync(join(tmpdir(), 'shim6-cli-control-'));
  socket = join(tmp, 'shim6d.sock');
  server = new ControlServer(daemon, { path: socket });
  await server.listen();
}, 150_000);

afterAll(async () => {
  await server?.close();
  if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => daemon.reset());

/** Runs `shim6 ...args --socket <socket>`. */
const shim6 = (...args: string[]): Promise<Run> => run([...args, '--socket', socket]);

describe('shim6 status', () => {
  it('human output: engine contexts by state, REAP, identities, capture, metrics, counters', async () => {
    const r = await shim6('status');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe([
      'shim6d 0.1.0 running, pid 31337, up 1m 15s',
      'TUN           shim6tun0, MTU 1492',
      'contexts      3',
      'engine        2 contexts (ESTABLISHED 1, I1-SENT 1)',
      'engine drops  nonce-mismatch 1',
      'REAP          full',
      'identities    1',
      'capture       off',
      'metrics       [::1]:9464',
      'egress        12 packets, 3400 octets (5 rewritten, 0 passed through)',
      'ingress       0 packets, 0 octets',
      'control       0 Shim6 control messages, 0 ICMPv6 errors translated',
      'drops         unknown tag 2',
      '',
    ].join('\n'));
    expect(daemon.requests).toEqual([{ id: 1, op: 'status' }]);
  });

  it('--json: the daemon\'s result as one line', async () => {
    const r = await run(['status', '--json', `--socket=${socket}`]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toHaveLength(2);
    expect(records(r.stdout)).toEqual([STATUS]);
  });

  it('the socket from $SHIM6_SOCKET; --socket wins over it', async () => {
    expect((await runWith(['status'], { env: { SHIM6_SOCKET: socket } })).code).toBe(0);
    const r = await runWith(['status', '--socket', join(tmp, 'nope.sock')], { env: { SHIM6_SOCKET: socket } });
    expect(r.code).toBe(1);
  });
});

describe('shim6 contexts and shim6 context', () => {
  it('human output: state, ULIDs, current pair marked, REAP state and since, failovers, the last failover', async () => {
    const r = await shim6('contexts');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain([
      'context hB',
      '  source          static',
      '  state           static (configured)',
      '  ULIDs           2001:db8:1:a::1 <-> 2001:db8:1:b::1',
      '  current pair    2001:db8:1:a::1 <-> 2001:db8:1:b::1',
      '  rewriting       no',
      '  local locators  2001:db8:1:a::1 *, 2001:db8:2:a::1',
      '  peer locators   2001:db8:1:b::1 *, 2001:db8:2:b::1',
      '  context tags    local 0x1234 (4660), peer 0x5678 (22136)',
      '  REAP            off',
      '  failovers       0',
      '  last failover   none',
      '  egress          12 packets (0 rewritten)',
      '  ingress         0 packets',
      '  drops           none',
    ].join('\n'));
    expect(r.stdout).toContain('context ctx-2001:db8:1:c::1\n  source          engine\n  state           ESTABLISHED, established 2024-05-01T09:00:00.000Z (');
    expect(r.stdout).toContain('  local locators  2001:db8:1:a::1, 2001:db8:2:a::1 *\n  peer locators   2001:db8:1:c::1, 2001:db8:2:c::1 *\n');
    expect(r.stdout).toMatch(/\n {2}REAP {12}Operational since 2024-05-01T10:02:00\.000Z \(\d+[dhms].* ago\)\n/);
    expect(r.stdout).toContain('  failovers       2\n');
    expect(r.stdout).toMatch(/\n {2}last failover {3}2024-05-01T10:02:00\.000Z \([^)]+ ago\): 2001:db8:1:a::1 <-> 2001:db8:1:c::1 -> 2001:db8:2:a::1 <-> 2001:db8:2:c::1, 3120 ms, send-timeout\n/);
    expect(r.stdout).toContain('  drops           2 (unknown tag 2)\n');
    expect(r.stdout).toMatch(/\(\* marks the current locators\)\n$/);
  });

  it('--json: the list of contexts', async () => {
    const r = await shim6('contexts', '--json');
    expect(records(r.stdout)).toEqual([[STATIC, ENGINE]]);
  });

  it('an empty list', async () => {
    daemon.contexts = [];
    expect((await shim6('contexts')).stdout).toBe('no contexts\n');
  });

  it('context <name> shows one; an unknown name is the daemon\'s error, exit 1', async () => {
    const r = await shim6('context', 'hB');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^context hB\n {2}source {10}static\n/);
    expect(daemon.requests).toEqual([{ id: 1, op: 'context', args: { context: 'hB' } }]);
    expect(records((await shim6('context', '--json', 'ctx-2001:db8:1:c::1')).stdout)).toEqual([ENGINE]);
    expect(await shim6('context', 'hZ')).toMatchObject({ code: 1, stdout: '', stderr: 'shim6 context: unknown-context: no context named "hZ"\n' });
  });

  it('a peer context tag not known yet reads "unknown"', async () => {
    daemon.contexts = [PENDING];
    expect((await shim6('contexts')).stdout).toContain('  context tags    local 0xa0b0c0d0e0f (11042563100175), peer unknown\n  REAP            off\n');
  });
});

describe('shim6 locators', () => {
  it('human output and --json', async () => {
    const r = await shim6('locators');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('identity 2001:db8:1:a::1\n  2001:db8:1:a::1  eth1  HBA  operational\n  2001:db8:2:a::1  -     HBA  not operational\n');
    expect(records((await shim6('locators', '--json')).stdout)).toEqual([LOCATORS]);
  });
});

describe('shim6 establish', () => {
  it('started: exit 0, the new context shown; the peer travels in canonical form', async () => {
    const r = await shim6('establish', '2001:DB8:1:D:0::1');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^establishing a context with 2001:db8:1:d::1: ctx-2001:db8:1:d::1, I1-SENT\ncontext ctx-2001:db8:1:d::1\n/);
    expect(daemon.requests).toEqual([{ id: 1, op: 'establish', args: { peer: '2001:db8:1:d::1' } }]);
  });

  it('--local goes along; exists is exit 0 too', async () => {
    const r = await shim6('establish', '--local', '2001:db8:1:a:0:0:0:1', '2001:db8:1:c::1');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^a context with 2001:db8:1:c::1 exists: ctx-2001:db8:1:c::1, ESTABLISHED\n/);
    expect(daemon.requests).toEqual([{ id: 1, op: 'establish', args: { peer: '2001:db8:1:c::1', local: '2001:db8:1:a::1' } }]);
  });

  it('hold-down: exit 1 with the reason on stderr; --json still prints the result', async () => {
    expect(await shim6('establish', '2001:db8:1:e::1')).toMatchObject({
      code: 1, stdout: '', stderr: 'shim6 establish: 2001:db8:1:e::1 is in hold-down (establishing failed recently); not retried yet\n',
    });
    const j = await shim6('establish', '2001:db8:1:e::1', '--json');
    expect(j.code).toBe(1);
    expect(records(j.stdout)).toEqual([{ outcome: 'hold-down', context: null }]);
  });

  it('an error reply is exit 1 with its code', async () => {
    expect(await shim6('establish', '2001:db8:9::1')).toMatchObject({ code: 1, stderr: 'shim6 establish: no-identity: no local identity for that peer\n' });
  });

  it('usage errors: no peer, not an address, a bad --local', async () => {
    expectUsage(await shim6('establish'), /^shim6 establish: needs <peer-ulid> \(see 'shim6 establish --help'\)$/);
    expectUsage(await shim6('establish', 'peer-b'), /<peer-ulid> 'peer-b' is not an IPv6 address/);
    expectUsage(await shim6('establish', '2001:db8::2', '--local', '10.0.0.1'), /--local '10\.0\.0\.1' is not an IPv6 address/);
    expectUsage(await shim6('establish', '2001:db8::2', '2001:db8::3'), /unexpected argument '2001:db8::3'/);
    expect(daemon.requests).toEqual([]);
  });
});

describe('shim6 explore', () => {
  it('shows the context exploring', async () => {
    const r = await shim6('explore', 'ctx-2001:db8:1:c::1');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^ctx-2001:db8:1:c::1: REAP Exploring\ncontext ctx-2001:db8:1:c::1\n/);
    expect(r.stdout).toMatch(/\n {2}REAP {12}Exploring since 2024-05-01T10:04:59\.000Z/);
    expect(daemon.requests).toEqual([{ id: 1, op: 'explore', args: { context: 'ctx-2001:db8:1:c::1' } }]);
  });

  it('a static context: the daemon\'s not-available, exit 1; no context: usage', async () => {
    expect(await shim6('explore', 'hB')).toMatchObject({ code: 1, stderr: 'shim6 explore: not-available: context "hB" is static: REAP does not run on it\n' });
    expectUsage(await shim6('explore'), /shim6 explore: needs <context>/);
    expectUsage(await shim6('explore', 'x'.repeat(257)), /<context> must be 1 to 256 characters/);
  });
});

describe('shim6 pcap', () => {
  it('start with a relative --file sends an absolute path; stop reports the file and totals', async () => {
    const start = await runWith(['pcap', 'start', '--file', 'cap.pcap', '--socket', socket], { cwd: tmp });
    expect(start).toMatchObject({ code: 0, stderr: '' });
    expect(start.stdout).toBe(`capturing to ${join(tmp, 'cap.pcap')}: 0 packets, 24 octets so far (stop with 'shim6 pcap stop')\n`);
    expect(daemon.requests).toEqual([{ id: 1, op: 'pcap', args: { action: 'start', path: join(tmp, 'cap.pcap') } }]);
    const again = await shim6('pcap', 'start');
    expect(again).toMatchObject({ code: 1, stderr: `shim6 pcap: capture: already capturing to ${join(tmp, 'cap.pcap')}\n` });
    const stop = await shim6('pcap', 'stop');
    expect(stop).toMatchObject({ code: 0, stderr: '' });
    expect(stop.stdout).toBe(`capture stopped: ${join(tmp, 'cap.pcap')}, 7 packets, 1024 octets, cut short (size limit or disk too slow)\n`);
  });

  it('start without --file lets the daemon choose; --json prints the result', async () => {
    const r = await shim6('pcap', 'start', '--json');
    expect(records(r.stdout)).toEqual([{ capturing: true, path: '/var/lib/shim6/capture.pcap', packets: 0, bytes: 24, truncated: false }]);
    expect(daemon.requests).toEqual([{ id: 1, op: 'pcap', args: { action: 'start' } }]);
  });

  it('usage errors: no action, another action, --file with stop, an empty --file', async () => {
    expectUsage(await shim6('pcap'), /shim6 pcap: needs start or stop/);
    expectUsage(await shim6('pcap', 'pause'), /unknown action 'pause' \(start or stop\)/);
    expectUsage(await shim6('pcap', 'stop', '--file', 'x.pcap'), /--file goes with start only/);
    expectUsage(await shim6('pcap', 'start', 'stop'), /unexpected argument 'stop'/);
    expectUsage(await shim6('pcap', 'start', '--file'), /--file needs a value/);
    expect(daemon.requests).toEqual([]);
  });
});

describe('shim6 metrics and shim6 reload', () => {
  it('metrics prints the exposition text as it is; --json the result', async () => {
    const r = await shim6('metrics');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('# HELP shim6_uptime_seconds Seconds since shim6d started.\n# TYPE shim6_uptime_seconds gauge\nshim6_uptime_seconds 75\n');
    expect(records((await shim6('metrics', '--json')).stdout)[0]).toMatchObject({ text: expect.stringContaining('shim6_uptime_seconds 75') });
  });

  it('reload lists what was applied and what needs a restart', async () => {
    expect(await shim6('reload')).toMatchObject({ code: 0, stderr: '', stdout: 'applied: log.level, reap.mode\nneeds restart: tun.mtu\n' });
    expect(records((await shim6('reload', '--json')).stdout)).toEqual([{ applied: ['log.level', 'reap.mode'], needsRestart: ['tun.mtu'] }]);
  });
});

describe('shim6 set-pair', () => {
  it('switches and shows the context', async () => {
    const r = await shim6('set-pair', 'hB', '2001:db8:2:a::1', '2001:db8:2:b::1');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^hB: current pair 2001:db8:2:a::1 <-> 2001:db8:2:b::1 \(rewriting\)\ncontext hB\n/);
    expect(daemon.requests).toEqual([{ id: 1, op: 'set-pair', args: { context: 'hB', local: '2001:db8:2:a::1', peer: '2001:db8:2:b::1' } }]);
    const back = await run(['set-pair', '--socket', socket, '--json', 'hB', '2001:db8:1:a::1', '2001:db8:1:b::1']);
    expect(back.code).toBe(0);
    expect(records(back.stdout)[0]).toMatchObject({ name: 'hB', rewriting: false });
  });

  it('error replies exit 1 with the code and message; --json prints the error object', async () => {
    const unknown = await shim6('set-pair', 'hZ', '2001:db8:2:a::1', '2001:db8:2:b::1');
    expect(unknown).toMatchObject({ code: 1, stdout: '', stderr: 'shim6 set-pair: unknown-context: no context named "hZ"\n' });
    const bad = await shim6('set-pair', 'hB', '2001:db8:9::1', '2001:db8:2:b::1', '--json');
    expect(bad.code).toBe(1);
    expect(records(bad.stdout)).toEqual([{ error: { code: 'bad-locator', message: expect.stringMatching(/is not a local locator of context "hB"/) } }]);
    expect(bad.stderr).toMatch(/^shim6 set-pair: bad-locator: /);
  });
});

describe('usage errors and odd replies', () => {
  it('usage errors exit 2 and send nothing', async () => {
    expectUsage(await run(['set-pair', 'hB', '2001:db8:2:a::1']), /shim6 set-pair: needs <context> <local-locator> <peer-locator>/);
    expectUsage(await run(['set-pair', 'a', 'b', 'c', 'd']), /unexpected argument 'd'/);
    expectUsage(await run(['status', 'now']), /shim6 status: unexpected argument 'now'/);
    expectUsage(await run(['locators', 'all']), /shim6 locators: unexpected argument 'all'/);
    expectUsage(await run(['contexts', '--colour']), /unknown flag '--colour'/);
    expectUsage(await run(['metrics', '--local', 'x']), /unknown flag '--local'/);
    expectUsage(await run(['context']), /shim6 context: needs <context>/);
    expectUsage(await run(['status', '--socket']), /--socket needs a value/);
    expectUsage(await run(['status', '--socket', '--json']), /--socket needs a value/);
  });

  it('a reply of the wrong shape is exit 1 (a different daemon version)', async () => {
    for (const cmd of ['status', 'contexts', 'locators', 'metrics', 'reload']) {
      daemon.override = { something: 'else' };
      const r = await shim6(cmd);
      expect(r, cmd).toMatchObject({ code: 1, stdout: '', stderr: `shim6 ${cmd}: unexpected reply from shim6d (a different version?)\n` });
    }
    daemon.override = { ...STATIC, reap: { state: 'Sleeping', since: 'x' } };
    expect((await shim6('context', 'hB')).code).toBe(1);
  });
});

describe('when the daemon cannot be reached', () => {
  it('not running: no socket there', async () => {
    const cmds = [['status'], ['contexts'], ['context', 'a'], ['locators'], ['establish', '2001:db8::2'], ['explore', 'a'], ['pcap', 'stop'], ['metrics'], ['reload'], ['set-pair', 'a', 'b', 'c']];
    for (const cmd of cmds) {
      const r = await run([...cmd, '--socket', join(tmp, 'absent.sock')]);
      expect(r.code, cmd.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/^shim6 [a-z-]+: shim6d is not running \(nothing listens on .*absent\.sock\)\n$/);
    }
    const j = await run(['status', '--json', '--socket', join(tmp, 'absent.sock')]);
    expect(records(j.stdout)[0]).toMatchObject({ error: { code: 'not-running' } });
  });

  it('not running: a stale socket file (nothing listening)', async () => {
    const stale = join(tmp, 'stale.sock');
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
  it('the main help lists every command; each has its own help', async () => {
    const h = await run(['--help']);
    for (const c of ['daemon', 'status', 'contexts', 'context', 'locators', 'establish', 'explore', 'pcap', 'metrics', 'reload', 'set-pair']) {
      expect(h.stdout).toMatch(new RegExp(`\\n  ${c} `));
    }
    expect((await run(['status', '--help'])).stdout).toMatch(/^Usage: shim6 status \[--socket PATH\] \[--json\]/);
    expect((await run(['help', 'contexts'])).stdout).toMatch(/^Usage: shim6 contexts/);
    expect((await run(['establish', '-h'])).stdout).toMatch(/^Usage: shim6 establish <peer-ulid> \[--local ULID\]/);
    expect((await run(['help', 'pcap'])).stdout).toMatch(/^Usage: shim6 pcap \(start \[--file PATH\] \| stop\)/);
    expect((await run(['set-pair', '-h'])).stdout).toMatch(/^Usage: shim6 set-pair <context> <local-locator> <peer-locator>/);
    expect((await run(['help', 'daemon'])).stdout).toMatch(/^Usage: shim6 daemon --config FILE/);
    expect((await run(['daemon', '--help'])).stdout).toMatch(/^Usage: shim6 daemon --config FILE/);
  });

  it('shim6 daemon: usage error 2, invalid configuration 1', async () => {
    const u = await run(['daemon']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/^shim6 daemon: --config FILE is required \(see 'shim6 daemon --help'\)\n$/);
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, JSON.stringify({ locators: ['ff02::1'], contexts: [], tun: { mtu: 100 } }));
    const r = await run(['daemon', '--config', bad, '--check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('locators[0]: ff02::1 is a multicast address, not usable as a locator');
    expect(r.stderr).toContain('tun.mtu: must be in 1280..65535, not 100');
  });
});

describe('formatters', () => {
  it('formatDuration leaves out leading zero units', () => {
    expect([0, 59, 60, 3661, 90061].map(formatDuration)).toEqual(['0s', '59s', '1m 0s', '1h 1m 1s', '1d 1h 1m 1s']);
  });

  it('formatSince: how long ago, unless unparsable or in the future', () => {
    expect(formatSince('2024-05-01T10:02:00.000Z', NOW)).toBe('2024-05-01T10:02:00.000Z (3m 0s ago)');
    expect(formatSince('2024-05-01T10:06:00.000Z', NOW)).toBe('2024-05-01T10:06:00.000Z');
    expect(formatSince('yesterday', NOW)).toBe('yesterday');
  });

  it('formatContext: an engine context with a failover of unknown duration', () => {
    const text = formatContext({ ...ENGINE, lastFailover: { ...ENGINE.lastFailover!, durationMs: null, reason: 'operator' } }, NOW);
    expect(text).toContain('  state           ESTABLISHED, established 2024-05-01T09:00:00.000Z (1h 5m 0s ago)\n');
    expect(text).toContain('  REAP            Operational since 2024-05-01T10:02:00.000Z (3m 0s ago)\n');
    expect(text).toContain('  last failover   2024-05-01T10:02:00.000Z (3m 0s ago): 2001:db8:1:a::1 <-> 2001:db8:1:c::1 -> 2001:db8:2:a::1 <-> 2001:db8:2:c::1, duration unknown, operator\n');
  });

  it('formatStatus without the engine', () => {
    const text = formatStatus({ ...STATUS, engine: null, reapMode: null, metrics: null, capturing: true, tun: { name: 't0', mtu: 1280, offload: true } });
    expect(text).toContain('TUN         t0, MTU 1280, offload\n');
    expect(text).toContain('engine      off (static contexts only)\nREAP        off\n');
    expect(text).toContain('capture     on\nmetrics     off\n');
    expect(text).not.toContain('engine drops');
  });

  it('formatLocators, formatPcap, formatReload, formatEstablish edge cases', () => {
    expect(formatLocators({ identities: [] })).toBe('no identities\n');
    expect(formatLocators({ identities: [{ ulid: '2001:db8::1', locators: [] }] })).toBe('identity 2001:db8::1\n  no locators\n');
    expect(formatPcap('stop', { capturing: false, path: '/tmp/a.pcap', packets: 1, bytes: 100, truncated: false })).toBe('capture stopped: /tmp/a.pcap, 1 packets, 100 octets\n');
    expect(formatReload({ applied: [], needsRestart: [] })).toBe('applied: nothing\nneeds restart: nothing\n');
    expect(formatEstablish('2001:db8::2', { outcome: 'table-full', context: null }, NOW)).toEqual({ ok: false, headline: 'not started: table-full', detail: '' });
  });
});
