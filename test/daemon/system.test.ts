/**
 * LinuxNetwork (src/daemon/system.ts) with a recording command runner: the exact `ip`
 * command lines for stale-state removal (rules looped until the delete fails, the table
 * flushed, a leftover TUN deleted but never a non-TUN interface of that name), TUN
 * preparation, the policy rule and routes; failures as SystemError with the command's
 * words; `ip -j -6 addr show` parsing. And the real execFile runner on harmless programs.
 */
import { describe, expect, it } from 'vitest';
import { execFileRunner, LinuxNetwork, SystemError } from '../../src/daemon/system.js';
import { formatIpv6 } from '../../src/wire/address.js';
import { ip6, recordingRunner } from './fakes.js';

const SETTINGS = { tunName: 'shim6tun0', mtu: 1492, fwmark: 20534, routeTable: 20534, rulePriority: 100 };

function setup(addresses: readonly (readonly [string, string])[] = []) {
  const r = recordingRunner(addresses);
  return { r, net: new LinuxNetwork(SETTINGS, r.runner) };
}

const TUN_LINK = JSON.stringify([{ ifname: 'shim6tun0', linkinfo: { info_kind: 'tun', info_data: { type: 'tun', persist: true } } }]);

describe('stale state from an earlier run', () => {
  it('nothing left: each rule delete fails at once, the table is flushed, no link', async () => {
    const { r, net } = setup();
    await net.removeStaleState();
    expect(r.log).toEqual([
      'ip -6 rule del pref 100',
      'ip -6 rule del table 20534',
      'ip -6 route flush table 20534',
      'ip -j -d link show dev shim6tun0',
    ]);
  });

  it('a crashed run: rules deleted until the delete fails, the leftover TUN deleted', async () => {
    const { r, net } = setup();
    r.script = (line, nth) => {
      if (line === 'ip -6 rule del pref 100' && nth <= 2) return {};
      if (line === 'ip -6 rule del table 20534' && nth <= 1) return {};
      if (line === 'ip -j -d link show dev shim6tun0') return { stdout: TUN_LINK };
      return undefined;
    };
    await net.removeStaleState();
    expect(r.log).toEqual([
      'ip -6 rule del pref 100',
      'ip -6 rule del pref 100',
      'ip -6 rule del pref 100',
      'ip -6 rule del table 20534',
      'ip -6 rule del table 20534',
      'ip -6 route flush table 20534',
      'ip -j -d link show dev shim6tun0',
      'ip link del dev shim6tun0',
    ]);
  });

  it('an interface of our TUN name that is not a TUN is never deleted', async () => {
    const { r, net } = setup();
    r.script = (line) => (line.startsWith('ip -j -d link show') ? { stdout: JSON.stringify([{ ifname: 'shim6tun0', linkinfo: { info_kind: 'veth' } }]) } : undefined);
    await expect(net.removeStaleState()).rejects.toMatchObject({ code: 'tun-name-taken', message: expect.stringMatching(/exists and is not a TUN \(veth\)/) });
    expect(r.log.some((l) => l.includes('link del'))).toBe(false);
    r.script = (line) => (line.startsWith('ip -j -d link show') ? { stdout: JSON.stringify([{ ifname: 'shim6tun0' }]) } : undefined);
    await expect(net.removeStaleState()).rejects.toMatchObject({ code: 'tun-name-taken' });
  });

  it('a rule delete that never fails is an error, not an endless loop', async () => {
    const { r, net } = setup();
    r.script = (line) => (line === 'ip -6 rule del pref 100' ? {} : undefined);
    await expect(net.removeStaleState()).rejects.toMatchObject({ code: 'stale-rules' });
    expect(r.log.filter((l) => l === 'ip -6 rule del pref 100')).toHaveLength(64);
  });

  it('a failed flush (no such table) is not an error', async () => {
    const { r, net } = setup();
    r.script = (line) => (line.includes('route flush') ? { code: 2, stderr: 'Error: ipv6: FIB table does not exist.' } : undefined);
    await net.removeStaleState();
    expect(r.log).toContain('ip -6 route flush table 20534');
  });
});

describe('setup commands', () => {
  it('TUN: no address generation, then MTU and up', async () => {
    const { r, net } = setup();
    await net.configureTun('shim6tun0');
    expect(r.log).toEqual(['ip link set dev shim6tun0 addrgenmode none', 'ip link set dev shim6tun0 mtu 1492 up']);
  });

  it('the table route into the TUN', async () => {
    const { r, net } = setup();
    await net.installTableRoute('shim6tun0');
    expect(r.log).toEqual(['ip -6 route replace default dev shim6tun0 table 20534']);
  });

  it('per-context rules for unmarked packets of the ULID pair, with canonical addresses', async () => {
    const { r, net } = setup();
    await net.installRule(ip6('2001:DB8:1:A:0:0:0:1'), ip6('2001:DB8:1:B:0:0:0:1'));
    await net.removeRule(ip6('2001:db8:1:a::1'), ip6('2001:db8:1:b::1'));
    expect(r.log).toEqual([
      'ip -6 rule add pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20534',
      'ip -6 rule del pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20534',
    ]);
  });

  it('teardown helpers tolerate there being nothing to remove', async () => {
    const { r, net } = setup();
    await net.flushRoutes();
    await net.removeRules();
    expect(r.log).toEqual(['ip -6 route flush table 20534', 'ip -6 rule del pref 100', 'ip -6 rule del table 20534']);
  });

  it('a failing command is a SystemError quoting the command and its stderr', async () => {
    const { r, net } = setup();
    r.script = () => ({ code: 2, stderr: 'RTNETLINK answers: Operation not permitted\n' });
    const e = await net.installTableRoute('shim6tun0').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SystemError);
    expect(e).toMatchObject({ code: 'command-failed', message: 'ip -6 route replace default dev shim6tun0 table 20534: RTNETLINK answers: Operation not permitted' });
  });
});

describe('experimental flow-label mode (issue #8): a second table with the links\' MTU, and the intercept TUN', () => {
  const FL = { ...SETTINGS, flowLabelTable: 20535, interceptName: 'shim6tun0fl' };

  it('the TUN gets the links\' MTU; table T keeps room for the header, table T2 does not; rules pick the table', async () => {
    const r = recordingRunner();
    const net = new LinuxNetwork(FL, r.runner);
    await net.configureTun('shim6tun0');
    await net.installTableRoute('shim6tun0');
    await net.configureIntercept('shim6tun0fl');
    await net.installRule(ip6('2001:db8:1:a::1'), ip6('2001:db8:1:b::1'), true);
    await net.removeRule(ip6('2001:db8:1:a::1'), ip6('2001:db8:1:b::1'), true);
    await net.installRule(ip6('2001:db8:1:a::1'), ip6('2001:db8:1:b::1'));
    expect(r.log).toEqual([
      'ip link set dev shim6tun0 addrgenmode none',
      'ip link set dev shim6tun0 mtu 1500 up',
      'ip -6 route replace default dev shim6tun0 table 20534 mtu 1492',
      'ip -6 route replace default dev shim6tun0 table 20535 mtu 1500',
      'ip link set dev shim6tun0fl addrgenmode none',
      'ip link set dev shim6tun0fl mtu 65535 up',
      'ip -6 rule add pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20535',
      'ip -6 rule del pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20535',
      'ip -6 rule add pref 100 from 2001:db8:1:a::1/128 to 2001:db8:1:b::1/128 fwmark 0/0x5036 lookup 20534',
    ]);
  });

  it('stale state: rules of both tables, both tables flushed, both leftover TUNs deleted', async () => {
    const r = recordingRunner();
    r.script = (line) => (line.startsWith('ip -j -d link show dev ') ? { stdout: TUN_LINK } : undefined);
    await new LinuxNetwork(FL, r.runner).removeStaleState();
    expect(r.log).toEqual([
      'ip -6 rule del pref 100',
      'ip -6 rule del table 20534',
      'ip -6 rule del table 20535',
      'ip -6 route flush table 20534',
      'ip -6 route flush table 20535',
      'ip -j -d link show dev shim6tun0',
      'ip link del dev shim6tun0',
      'ip -j -d link show dev shim6tun0fl',
      'ip link del dev shim6tun0fl',
    ]);
  });
});

describe('local addresses', () => {
  it('parses ip -j -6 addr show, skipping non-IPv6 entries and failed DAD', async () => {
    const { r, net } = setup();
    r.script = () => ({
      stdout: JSON.stringify([
        { ifname: 'lo', addr_info: [{ family: 'inet6', local: '::1' }] },
        { ifname: 'eth1', addr_info: [{ family: 'inet6', local: '2001:db8:1:a::1' }, { family: 'inet', local: '192.0.2.1' }, { family: 'inet6', local: '2001:db8:1:a::9', dadfailed: true }] },
        { ifname: 'eth2', addr_info: [{ family: 'inet6', local: '2001:db8:2:a:0::1' }, { family: 'inet6', local: 'garbage' }] },
        { noname: true },
        5,
      ]),
    });
    const got = (await net.localAddresses()).map((a) => `${a.ifname} ${formatIpv6(a.address)}`);
    expect(got).toEqual(['lo ::1', 'eth1 2001:db8:1:a::1', 'eth2 2001:db8:2:a::1']);
    expect(r.log).toEqual(['ip -j -6 addr show']);
  });

  it('output that is not a JSON array is bad-output', async () => {
    const { r, net } = setup();
    r.script = () => ({ stdout: 'not json' });
    await expect(net.localAddresses()).rejects.toMatchObject({ code: 'bad-output' });
    r.script = () => ({ stdout: '{}' });
    await expect(net.localAddresses()).rejects.toMatchObject({ code: 'bad-output' });
  });
});

describe('execFileRunner', () => {
  it('exit status, stdout and stderr; a missing program is code -1, never a rejection', async () => {
    const run = execFileRunner();
    expect(await run('sh', ['-c', 'echo out; echo err >&2; exit 3'])).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    expect(await run('sh', ['-c', 'printf ok'])).toEqual({ code: 0, stdout: 'ok', stderr: '' });
    const missing = await run('/nonexistent/shim6-no-such-program', []);
    expect(missing.code).toBe(-1);
    expect(missing.stderr).toMatch(/ENOENT/);
  });
});
