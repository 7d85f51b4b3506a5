/**
 * src/io/netlink-monitor.ts: `ip -o -6 monitor link address` lines captured on this
 * kernel (iproute2 6.1, Linux 6.1, veth pair in a namespace) parsed into events; the
 * parser never throws (fast-check); line splitting with the length limit; the monitor's
 * command, restart with doubling backoff, and stop, with a fake spawner and fake timers;
 * the real spawner on harmless programs; `ip -j link show` and `ip -6 addr replace`
 * through a recording runner. Then, as root, the real monitor in a namespace of its own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileRunner, type CommandResult, type CommandRunner } from '../../src/daemon/system.js';
import {
  addAddress, HostError, lineSplitter, linkStates, MAX_MONITOR_LINE, NetlinkMonitor, parseMonitorLine, spawnMonitor,
  type HostEvent, type MonitorProcess, type MonitorSpawner,
} from '../../src/io/netlink-monitor.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/address.js';
import { netnsUnavailable, REQUIRE_NETNS } from './fixtures/netns.js';

function ip6(text: string): Uint8Array {
  const a = parseIpv6(text);
  if (a === undefined) throw new Error(`bad test address ${text}`);
  return a;
}

/** An event as short text: "link va up", "addr va 2001:db8:6::1 +" (added) or "-" (not). */
function show(e: HostEvent | undefined): string | undefined {
  if (e === undefined) return undefined;
  return e.kind === 'link' ? `link ${e.ifname} ${e.up ? 'up' : 'down'}` : `addr ${e.ifname} ${formatIpv6(e.address)} ${e.added ? '+' : '-'}`;
}

/**
 * `ip -o -6 monitor link address`, iproute2 6.1 on Linux 6.1, in a fresh namespace, for:
 * veth va/vb created, va up, vb up; 2001:db8:6::1/64 on va (DAD runs); after 3 s the
 * same address on vb (its DAD fails), 2001:db8:7::1/64 nodad on va, 192.0.2.1/24 on va
 * (not shown: -6); va down, va up; ip link del va. Verbatim, one event per line.
 */
const CAPTURED = String.raw`3: va@vb: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default \    link/ether 5e:91:f6:2d:67:0e brd ff:ff:ff:ff:ff:ff
2: vb@va: <NO-CARRIER,BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default \    link/ether 5a:27:6f:3e:31:df brd ff:ff:ff:ff:ff:ff
2: vb@va: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \    link/ether 5a:27:6f:3e:31:df brd ff:ff:ff:ff:ff:ff
3: va@vb: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \    link/ether 5e:91:f6:2d:67:0e brd ff:ff:ff:ff:ff:ff
3: va    inet6 2001:db8:6::1/64 scope global tentative \       valid_lft forever preferred_lft forever
2: vb    inet6 fe80::5827:6fff:fe3e:31df/64 scope link \       valid_lft forever preferred_lft forever
3: va    inet6 fe80::5c91:f6ff:fe2d:670e/64 scope link \       valid_lft forever preferred_lft forever
3: va    inet6 2001:db8:6::1/64 scope global \       valid_lft forever preferred_lft forever
2: vb    inet6 2001:db8:6::1/64 scope global tentative \       valid_lft forever preferred_lft forever
3: va    inet6 2001:db8:7::1/64 scope global nodad \       valid_lft forever preferred_lft forever
2: vb    inet6 2001:db8:6::1/64 scope global dadfailed tentative \       valid_lft forever preferred_lft forever
3: va@vb: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN group default \    link/ether 5e:91:f6:2d:67:0e brd ff:ff:ff:ff:ff:ff
Deleted 3: va    inet6 2001:db8:7::1/64 scope global nodad \       valid_lft forever preferred_lft forever
Deleted 3: va    inet6 2001:db8:6::1/64 scope global \       valid_lft forever preferred_lft forever
Deleted 3: va    inet6 fe80::5c91:f6ff:fe2d:670e/64 scope link \       valid_lft forever preferred_lft forever
2: vb@va: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default \    link/ether 5a:27:6f:3e:31:df brd ff:ff:ff:ff:ff:ff
3: va@vb: <NO-CARRIER,BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default \    link/ether 5e:91:f6:2d:67:0e brd ff:ff:ff:ff:ff:ff
3: va@vb: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \    link/ether 5e:91:f6:2d:67:0e brd ff:ff:ff:ff:ff:ff
2: vb@va: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \    link/ether 5a:27:6f:3e:31:df brd ff:ff:ff:ff:ff:ff
3: va@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN group default \    link/ether 5e:91:f6:2d:67:0e brd ff:ff:ff:ff:ff:ff
Deleted 3: va    inet6 fe80::5c91:f6ff:fe2d:670e/64 scope link tentative \       valid_lft forever preferred_lft forever
2: vb@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN group default \    link/ether 5a:27:6f:3e:31:df brd ff:ff:ff:ff:ff:ff
Deleted 2: vb    inet6 2001:db8:6::1/64 scope global dadfailed tentative \       valid_lft forever preferred_lft forever
Deleted 2: vb    inet6 fe80::5827:6fff:fe3e:31df/64 scope link \       valid_lft forever preferred_lft forever
Deleted 3: va@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \    link/ether 5e:91:f6:2d:67:0e brd ff:ff:ff:ff:ff:ff
Deleted 2: vb@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \    link/ether 5a:27:6f:3e:31:df brd ff:ff:ff:ff:ff:ff`.split('\n');

/** What each CAPTURED line means, in order. */
const MEANING = [
  'link va down', // UP but NO-CARRIER: vb is still down
  'link vb down', // UP, LOWER_UP, yet NO-CARRIER for a moment
  'link vb up',
  'link va up',
  'addr va 2001:db8:6::1 -', // tentative: DAD running
  'addr vb fe80::5827:6fff:fe3e:31df +',
  'addr va fe80::5c91:f6ff:fe2d:670e +',
  'addr va 2001:db8:6::1 +', // DAD done
  'addr vb 2001:db8:6::1 -',
  'addr va 2001:db8:7::1 +', // nodad: usable at once
  'addr vb 2001:db8:6::1 -', // dadfailed
  'link va down',
  'addr va 2001:db8:7::1 -',
  'addr va 2001:db8:6::1 -',
  'addr va fe80::5c91:f6ff:fe2d:670e -',
  'link vb down',
  'link va down',
  'link va up',
  'link vb up',
  'link va down',
  'addr va fe80::5c91:f6ff:fe2d:670e -',
  'link vb down',
  'addr vb 2001:db8:6::1 -',
  'addr vb fe80::5827:6fff:fe3e:31df -',
  'link va down', // deleted
  'link vb down',
];

describe('parseMonitorLine', () => {
  it('captured lines, one event each', () => {
    expect(CAPTURED).toHaveLength(MEANING.length);
    expect(CAPTURED.map((l) => show(parseMonitorLine(l)))).toEqual(MEANING);
  });

  it('more captured lines: loopback, a peer address, a CR; `-ts` and `label` prefixes tolerated', () => {
    const lines: [string, string][] = [
      [String.raw`1: lo    inet6 2001:db8:9::1/128 scope global nodad \       valid_lft forever preferred_lft forever`, 'addr lo 2001:db8:9::1 +'],
      [String.raw`1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default \    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00`, 'link lo up'],
      [String.raw`4: gre1    inet6 2001:db8:a::1 peer 2001:db8:a::2/128 scope global \       valid_lft forever preferred_lft forever`, 'addr gre1 2001:db8:a::1 +'],
      [String.raw`5: eth0    inet6 2001:db8:b::5/64 scope global deprecated dynamic mngtmpaddr \       valid_lft 86000sec preferred_lft 0sec`, 'addr eth0 2001:db8:b::5 +'],
      [String.raw`5: eth0    inet6 2001:db8:b::6/64 scope global optimistic tentative \       valid_lft forever preferred_lft forever`, 'addr eth0 2001:db8:b::6 -'],
      [String.raw`[2026-11-22T11:19:21.855629] Deleted 3: va    inet6 2001:db8:6::1/64 scope global tentative \       valid_lft forever preferred_lft forever`, 'addr va 2001:db8:6::1 -'],
      [String.raw`[LINK]3: va@vb: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \    link/ether 5e:91:f6:2d:67:0e brd ff:ff:ff:ff:ff:ff`, 'link va up'],
      ['3: va@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \\    link/ether 5e:91:f6:2d:67:0e brd ff:ff:ff:ff:ff:ff link-netnsid 0\r', 'link va up'],
    ];
    for (const [line, meaning] of lines) expect(show(parseMonitorLine(line)), line).toBe(meaning);
  });

  it('IPv4 addresses (captured without -6), other objects and garbage are no event', () => {
    for (const line of [
      String.raw`3: va    inet 192.0.2.1/24 scope global va\       valid_lft forever preferred_lft forever`,
      String.raw`Deleted 3: va    inet 192.0.2.1/24 scope global va\       valid_lft forever preferred_lft forever`,
      'Deleted 2001:db8::/64 dev va proto kernel metric 256 pref medium',
      '3: va    inet6 2001:db8::zz/64 scope global',
      '3: va    inet6 1:2:3:4:5:6:7:8:9/64 scope global',
      `3: ${'x'.repeat(16)}    inet6 2001:db8::1/64 scope global`,
      `3: ${'x'.repeat(16)}: <UP,LOWER_UP> mtu 1500`,
      '3: va: UP,LOWER_UP',
      '',
      'Deleted',
      'Error: Peer netns reference is invalid.',
    ]) {
      expect(parseMonitorLine(line), line).toBeUndefined();
    }
  });

  it('never throws, and whatever it returns is well formed (fast-check)', () => {
    const fragment = fc.constantFrom('Deleted ', '3: ', 'va', '@vb', ': <', 'UP', ',', 'LOWER_UP', 'NO-CARRIER', '>', ' inet6 ', '2001:db8::1', '/64', ' tentative', ' dadfailed', ' \\ ', '[x]', ' ', ':');
    const line = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.array(fragment, { maxLength: 14 }).map((a) => a.join('')));
    fc.assert(fc.property(line, (l) => {
      const e = parseMonitorLine(l);
      if (e === undefined) return true;
      if (e.ifname.length < 1 || e.ifname.length > 15) return false;
      return e.kind === 'link' ? typeof e.up === 'boolean' : e.address.length === 16 && typeof e.added === 'boolean';
    }), { numRuns: 2000 });
  });
});

describe('lineSplitter', () => {
  function split(chunks: readonly string[], max = 8) {
    const lines: string[] = [];
    let overlong = 0;
    const s = lineSplitter(max, (l) => lines.push(l), () => overlong++);
    for (const c of chunks) s.push(c);
    s.end();
    return { lines, overlong };
  }

  it('lines across chunk boundaries, CRLF, a last line without LF', () => {
    expect(split(['ab', 'c\nd', 'e\r\n\nf'])).toEqual({ lines: ['abc', 'de', '', 'f'], overlong: 0 });
    expect(split(['12345678\n'])).toEqual({ lines: ['12345678'], overlong: 0 });
  });

  it('a line longer than the limit is dropped whole and counted once, however it is chunked', () => {
    expect(split(['ok\n123456789\nok2\n'])).toEqual({ lines: ['ok', 'ok2'], overlong: 1 });
    expect(split(['1234', '5678', '9abc', 'def', '\nnext'])).toEqual({ lines: ['next'], overlong: 1 });
    expect(split(['1234567890123'])).toEqual({ lines: [], overlong: 1 });
    expect(split(['123456789\n', '123456789'])).toEqual({ lines: [], overlong: 2 });
  });
});

class FakeProcess implements MonitorProcess {
  #line: (line: string) => void = () => {};
  #exit: (code: number | null, stderr?: string) => void = () => {};
  killed = 0;
  onLine(cb: (line: string) => void): void { this.#line = cb; }
  onExit(cb: (code: number | null, stderr?: string) => void): void { this.#exit = cb; }
  kill(): void { this.killed++; }
  line(l: string): void { this.#line(l); }
  exit(code: number | null, stderr?: string): void { this.#exit(code, stderr); }
}

function fakeSpawner() {
  const spawned: { file: string; args: readonly string[]; proc: FakeProcess }[] = [];
  const spawner: MonitorSpawner = (file, args) => {
    const proc = new FakeProcess();
    spawned.push({ file, args, proc });
    return proc;
  };
  return { spawned, spawner, last: () => spawned[spawned.length - 1]!.proc };
}

function collector() {
  const c = { events: [] as string[], errors: [] as string[], onEvent: (e: HostEvent) => { c.events.push(show(e)!); }, onError: (m: string) => { c.errors.push(m); } };
  return c;
}

describe('NetlinkMonitor with a fake spawner', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('runs ip -o -6 monitor link address, or the given command prefix, and reports parsed lines', () => {
    const f = fakeSpawner();
    const c = collector();
    const m = new NetlinkMonitor({ spawner: f.spawner });
    m.start(c.onEvent, c.onError);
    expect(f.spawned.map((s) => [s.file, ...s.args].join(' '))).toEqual(['ip -o -6 monitor link address']);
    for (const l of CAPTURED.slice(0, 5)) f.last().line(l);
    f.last().line('garbage');
    expect(c.events).toEqual(MEANING.slice(0, 5));
    expect(m.stats).toEqual({ lines: 6, events: 5, unparsed: 1, restarts: 0, overlong: 0 });
    m.stop();
    expect(f.last().killed).toBe(1);

    const g = fakeSpawner();
    new NetlinkMonitor({ spawner: g.spawner, command: ['ip', 'netns', 'exec', 's6x', 'ip'] }).start(c.onEvent, c.onError);
    expect(g.spawned.map((s) => [s.file, ...s.args].join(' '))).toEqual(['ip netns exec s6x ip -o -6 monitor link address']);
  });

  it('an exit is reported and followed by a restart; the delay doubles up to 10 s and resets once a line arrives', () => {
    vi.useFakeTimers();
    const f = fakeSpawner();
    const c = collector();
    const m = new NetlinkMonitor({ spawner: f.spawner });
    m.start(c.onEvent, c.onError);
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      f.last().exit(1, 'Cannot open netlink socket');
      const n = f.spawned.length;
      const message = c.errors[c.errors.length - 1]!;
      const delay = Number(/restarting in (\d+) ms/.exec(message)?.[1]);
      delays.push(delay);
      vi.advanceTimersByTime(delay - 1);
      expect(f.spawned).toHaveLength(n);
      vi.advanceTimersByTime(1);
      expect(f.spawned).toHaveLength(n + 1);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(c.errors[0]).toBe('ip -o -6 monitor link address exited with status 1 (Cannot open netlink socket); restarting in 500 ms, events until then are lost');
    expect(m.stats.restarts).toBe(7);

    f.last().line(CAPTURED[3]!);
    f.last().exit(null);
    expect(c.errors[c.errors.length - 1]).toBe('ip -o -6 monitor link address was killed or could not be started; restarting in 500 ms, events until then are lost');
    m.stop();
  });

  it('the configured first delay', () => {
    vi.useFakeTimers();
    const f = fakeSpawner();
    const c = collector();
    new NetlinkMonitor({ spawner: f.spawner, restartDelayMs: 30 }).start(c.onEvent, c.onError);
    f.last().exit(0);
    f.spawned.length = 0;
    vi.advanceTimersByTime(30);
    f.last().exit(0);
    expect(c.errors.map((e) => /in (\d+) ms/.exec(e)?.[1])).toEqual(['30', '60']);
  });

  it('stop: the child is killed, no restart follows, late events of the old child are ignored; idempotent', () => {
    vi.useFakeTimers();
    const f = fakeSpawner();
    const c = collector();
    const m = new NetlinkMonitor({ spawner: f.spawner });
    m.start(c.onEvent, c.onError);
    const first = f.last();
    m.stop();
    m.stop();
    expect(first.killed).toBe(1);
    first.line(CAPTURED[3]!);
    first.exit(null);
    vi.advanceTimersByTime(60_000);
    expect(f.spawned).toHaveLength(1);
    expect(c).toMatchObject({ events: [], errors: [] });

    // stop while a restart is pending
    m.start(c.onEvent, c.onError);
    f.last().exit(2);
    expect(c.errors).toHaveLength(1);
    m.stop();
    vi.advanceTimersByTime(60_000);
    expect(f.spawned).toHaveLength(2);
    expect(m.stats.restarts).toBe(0);
  });

  it('stop from inside onError: no restart, and a new start runs one child only', () => {
    vi.useFakeTimers();
    const f = fakeSpawner();
    const m = new NetlinkMonitor({ spawner: f.spawner });
    m.start(() => {}, () => {
      m.stop();
      m.start(() => {}, () => {});
    });
    f.last().exit(1);
    expect(f.spawned).toHaveLength(2);
    vi.advanceTimersByTime(60_000);
    expect(f.spawned).toHaveLength(2);
    m.stop();
  });

  it('a spawner that throws counts as an exit: reported, then retried', () => {
    vi.useFakeTimers();
    let calls = 0;
    const f = fakeSpawner();
    const spawner: MonitorSpawner = (file, args) => {
      if (calls++ === 0) throw new Error('spawn E2BIG');
      return f.spawner(file, args);
    };
    const c = collector();
    const m = new NetlinkMonitor({ spawner });
    m.start(c.onEvent, c.onError);
    expect(c.errors).toEqual(['ip -o -6 monitor link address was killed or could not be started (spawn E2BIG); restarting in 500 ms, events until then are lost']);
    vi.advanceTimersByTime(500);
    expect(f.spawned).toHaveLength(1);
    m.stop();
  });

  it('overlong lines reported by the process are counted', () => {
    let overlong: () => void = () => {};
    const proc: MonitorProcess = { onLine: () => {}, onExit: () => {}, kill: () => {}, onOverlong: (cb) => { overlong = cb; } };
    const m = new NetlinkMonitor({ spawner: () => proc });
    m.start(() => {}, () => {});
    overlong();
    overlong();
    expect(m.stats.overlong).toBe(2);
    m.stop();
  });

  it('bad options and a second start are bad-argument', () => {
    for (const opts of [{ restartDelayMs: 0 }, { restartDelayMs: 10_001 }, { restartDelayMs: 1.5 }, { command: [] }, { command: ['ip', ''] }]) {
      expect(() => new NetlinkMonitor(opts), JSON.stringify(opts)).toThrow(expect.objectContaining({ name: 'HostError', code: 'bad-argument' }));
    }
    const m = new NetlinkMonitor({ spawner: fakeSpawner().spawner });
    m.start(() => {}, () => {});
    expect(() => m.start(() => {}, () => {})).toThrow(expect.objectContaining({ code: 'bad-argument' }));
    m.stop();
  });
});

describe('spawnMonitor on harmless programs', () => {
  function run(file: string, args: readonly string[], after?: (p: MonitorProcess) => void) {
    return new Promise<{ lines: string[]; overlong: number; code: number | null; stderr: string | undefined }>((resolve) => {
      const p = spawnMonitor(file, args);
      const r = { lines: [] as string[], overlong: 0 };
      p.onLine((l) => r.lines.push(l));
      p.onOverlong?.(() => r.overlong++);
      p.onExit((code, stderr) => resolve({ ...r, code, stderr }));
      after?.(p);
    });
  }

  it('stdout as lines, the exit status and the start of stderr', async () => {
    expect(await run('sh', ['-c', 'printf "a\\nb\\r\\nc"; echo oops >&2; exit 3'])).toEqual({ lines: ['a', 'b', 'c'], overlong: 0, code: 3, stderr: 'oops' });
  });

  it('an overlong line is dropped and counted', async () => {
    const r = await run('sh', ['-c', `head -c ${MAX_MONITOR_LINE + 1} /dev/zero | tr '\\0' x; echo; echo ok`]);
    expect(r).toEqual({ lines: ['ok'], overlong: 1, code: 0, stderr: undefined });
  });

  it('a missing program and a killed one end with code null', async () => {
    const missing = await run('/nonexistent/shim6-no-such-program', []);
    expect(missing).toMatchObject({ lines: [], code: null, stderr: expect.stringMatching(/ENOENT/) });
    expect(await run('sleep', ['30'], (p) => p.kill())).toMatchObject({ code: null });
  });
});

/** A runner that records each `file args` line and answers from `answer`. */
function fakeRunner(answer: (line: string) => Partial<CommandResult> | undefined) {
  const log: string[] = [];
  const runner: CommandRunner = async (file, args) => {
    const line = [file, ...args].join(' ');
    log.push(line);
    return { code: 0, stdout: '', stderr: '', ...answer(line) };
  };
  return { log, runner };
}

describe('linkStates and addAddress', () => {
  /** `ip -j link show` from the namespace above (iproute2 6.1), va's entry taken while vb was down. */
  const LINKS = '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00"},{"ifindex":2,"link":"va","ifname":"vb","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"72:f9:6d:98:9d:3b","broadcast":"ff:ff:ff:ff:ff:ff"},{"ifindex":3,"link":"vb","ifname":"va","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP","M-DOWN"],"mtu":1500,"qdisc":"noqueue","operstate":"LOWERLAYERDOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"4a:66:20:df:74:15","broadcast":"ff:ff:ff:ff:ff:ff"}]';

  it('linkStates: UP, LOWER_UP and not NO-CARRIER; entries without a name or flags skipped', async () => {
    const r = fakeRunner(() => ({ stdout: LINKS }));
    expect(await linkStates(r.runner)).toEqual([{ ifname: 'lo', up: true }, { ifname: 'vb', up: true }, { ifname: 'va', up: false }]);
    expect(r.log).toEqual(['ip -j link show']);
    const odd = fakeRunner(() => ({ stdout: JSON.stringify([{ ifname: 'x', flags: ['UP'] }, { ifname: 'y' }, { flags: ['UP', 'LOWER_UP'] }, null, 3]) }));
    expect(await linkStates(odd.runner)).toEqual([{ ifname: 'x', up: false }]);
  });

  it('linkStates: failures and bad output are typed', async () => {
    await expect(linkStates(fakeRunner(() => ({ code: 1, stderr: 'Cannot open netlink socket\n' })).runner)).rejects.toMatchObject({ name: 'HostError', code: 'command-failed', message: 'ip -j link show: Cannot open netlink socket' });
    await expect(linkStates(fakeRunner(() => ({ stdout: 'nope' })).runner)).rejects.toMatchObject({ code: 'bad-output' });
    await expect(linkStates(fakeRunner(() => ({ stdout: '{}' })).runner)).rejects.toMatchObject({ code: 'bad-output' });
  });

  it('addAddress: ip -6 addr replace, canonical address, nodad', async () => {
    const r = fakeRunner(() => undefined);
    await addAddress(r.runner, 'va', ip6('2001:DB8:6:0::1'), 64);
    await addAddress(r.runner, 'lo', ip6('2001:db8:9::1'), 128);
    expect(r.log).toEqual(['ip -6 addr replace 2001:db8:6::1/64 dev va nodad', 'ip -6 addr replace 2001:db8:9::1/128 dev lo nodad']);
  });

  it('addAddress: failures are command-failed, bad arguments are bad-argument and run nothing', async () => {
    const failing = fakeRunner(() => ({ code: 2, stderr: 'Cannot find device "vz"\n' }));
    const e = await addAddress(failing.runner, 'vz', ip6('2001:db8::1'), 64).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HostError);
    expect(e).toMatchObject({ code: 'command-failed', message: 'ip -6 addr replace 2001:db8::1/64 dev vz nodad: Cannot find device "vz"' });
    const r = fakeRunner(() => undefined);
    for (const [ifname, address, len] of [['', ip6('2001:db8::1'), 64], ['a b', ip6('2001:db8::1'), 64], ['x'.repeat(16), ip6('2001:db8::1'), 64], ['a/b', ip6('2001:db8::1'), 64], ['..', ip6('2001:db8::1'), 64],
      ['va', new Uint8Array(4), 64], ['va', ip6('2001:db8::1'), 129], ['va', ip6('2001:db8::1'), -1], ['va', ip6('2001:db8::1'), 1.5]] as const) {
      await expect(addAddress(r.runner, ifname, address, len)).rejects.toMatchObject({ code: 'bad-argument' });
    }
    expect(r.log).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// The real monitor, as root, in a namespace of its own:
//
//   namespace s6nlm-<pid>:  lo up;  va <==veth==> vb, both up
//   NetlinkMonitor({ command: ['ip', 'netns', 'exec', ns, 'ip'] })
// ---------------------------------------------------------------------------------------

const unavailable = netnsUnavailable();
const skip = unavailable !== undefined && !REQUIRE_NETNS;

describe.skipIf(skip)(`NetlinkMonitor on the real kernel${skip ? ` (skipped: ${unavailable})` : ''}`, () => {
  const ns = `s6nlm-${process.pid}`;
  const base = execFileRunner();
  const inNs: CommandRunner = (file, args, input) => base('ip', ['netns', 'exec', ns, file, ...args], input);
  const exec = (...args: string[]): string => execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' });
  const monitor = new NetlinkMonitor({ command: ['ip', 'netns', 'exec', ns, 'ip'] });
  const events: string[] = [];
  const errors: string[] = [];
  const waiters = new Set<() => void>();

  /** Resolves once an event equal to `wanted` has arrived since index `from`; returns the index after it. */
  async function seen(wanted: string, from: number): Promise<number> {
    for (;;) {
      const i = events.indexOf(wanted, from);
      if (i >= 0) return i + 1;
      await new Promise<void>((resolve) => { waiters.add(resolve); });
    }
  }

  beforeAll(() => {
    if (unavailable !== undefined) throw new Error(`SHIM6_REQUIRE_NETNS=1 but ${unavailable}`);
    execFileSync('ip', ['netns', 'add', ns]);
    exec('ip', 'link', 'set', 'lo', 'up');
    exec('ip', 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
    exec('ip', 'link', 'set', 'va', 'up');
    exec('ip', 'link', 'set', 'vb', 'up');
    monitor.start((e) => {
      events.push(show(e)!);
      for (const w of waiters) w();
      waiters.clear();
    }, (m) => { errors.push(m); });
  });
  afterAll(() => {
    monitor.stop();
    spawnSync('ip', ['netns', 'del', ns]);
  });

  it('reports address add and delete, DAD completion, and link down and up', async () => {
    // The monitor is listening once it reports a change: add probe addresses until one shows.
    let ready = false;
    for (let n = 1; !ready; n++) {
      await addAddress(inNs, 'lo', ip6(`2001:db8:ff::${n}`), 128);
      const shown = seen(`addr lo 2001:db8:ff::${n} +`, 0).then(() => { ready = true; });
      await Promise.race([shown, new Promise((r) => setTimeout(r, 200))]);
    }

    let at = events.length;
    await addAddress(inNs, 'va', ip6('2001:db8:6::1'), 64);
    at = await seen('addr va 2001:db8:6::1 +', at);
    exec('ip', '-6', 'addr', 'del', '2001:db8:6::1/64', 'dev', 'va');
    at = await seen('addr va 2001:db8:6::1 -', at);

    exec('ip', '-6', 'addr', 'add', '2001:db8:7::1/64', 'dev', 'va'); // with DAD
    const tentative = await seen('addr va 2001:db8:7::1 -', at);
    at = await seen('addr va 2001:db8:7::1 +', tentative);

    exec('ip', 'link', 'set', 'vb', 'down');
    await seen('link vb down', at);
    at = await seen('link va down', at); // carrier lost
    expect(await linkStates(inNs)).toEqual(expect.arrayContaining([{ ifname: 'va', up: false }, { ifname: 'vb', up: false }]));
    exec('ip', 'link', 'set', 'vb', 'up');
    await seen('link vb up', at);
    await seen('link va up', at);
    expect(await linkStates(inNs)).toEqual(expect.arrayContaining([{ ifname: 'lo', up: true }, { ifname: 'va', up: true }, { ifname: 'vb', up: true }]));

    expect(errors).toEqual([]);
    expect(monitor.stats).toMatchObject({ unparsed: 0, restarts: 0, overlong: 0 });
  });
});
