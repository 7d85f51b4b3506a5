/**
 * NftTraffic (src/io/nft-traffic.ts): the exact nft scripts (one `nft -f -` transaction
 * each), the delta arithmetic of `poll` (first sighting, growth, a lower counter after
 * an element expired and came back, vanished keys forgotten), memory bounded by
 * maxFlows, lastSentAgoMs / lastReceivedAgoMs from each element's `expires`, nft's
 * durations, malformed and mutated listings as NftTrafficError('bad-output') or skipped
 * elements and never anything else (fast-check), option checks; then, as root, the real
 * table in a network namespace counting UDP between 2001:db8 addresses on lo, and nft's
 * own listings compared byte for byte with the fake ones used here.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileRunner, type CommandRunner } from '../../src/daemon/system.js';
import { NftTraffic, NftTrafficError, parseNftDuration, type NftTrafficOptions, type TrafficSample } from '../../src/io/nft-traffic.js';
import { formatIpv6 } from '../../src/wire/address.js';
import { netnsUnavailable, REQUIRE_NETNS } from './fixtures/netns.js';
import { fakeRunner, ip6 } from './runner.util.js';


const OPTIONS: NftTrafficOptions = { table: 'shim6', fwmark: 0x5036 };
const LIST = 'nft list table inet shim6';

/**
 * `nft list table inet shim6` as nft 1.0.6 printed it on this kernel (Debian 12, captured
 * in a namespace: NftTraffic OPTIONS with ULID ::1, UDP ::1 → ::2 ×4, ::1 → ::3 ×2,
 * ::2 → ::1 ×3, then 1.7 s later ::3 → ::1 ×1).
 */
const CAPTURED_LISTING = 'table inet shim6 {\n\tset ulids {\n\t\ttype ipv6_addr\n\t\telements = { 2001:db8:1::1 }\n\t}\n\n\tset out {\n\t\ttype ipv6_addr . ipv6_addr\n\t\tsize 4096\n\t\tflags dynamic,timeout\n\t\tcounter\n\t\ttimeout 1m\n\t\telements = { 2001:db8:1::1 . 2001:db8:1::2 counter packets 4 bytes 196 expires 58s232ms,\n\t\t\t     2001:db8:1::1 . 2001:db8:1::3 counter packets 2 bytes 98 expires 58s232ms }\n\t}\n\n\tset in {\n\t\ttype ipv6_addr . ipv6_addr\n\t\tsize 4096\n\t\tflags dynamic,timeout\n\t\tcounter\n\t\ttimeout 1m\n\t\telements = { 2001:db8:1::1 . 2001:db8:1::2 counter packets 3 bytes 147 expires 58s232ms,\n\t\t\t     2001:db8:1::1 . 2001:db8:1::3 counter packets 1 bytes 49 expires 59s936ms }\n\t}\n\n\tchain output {\n\t\ttype filter hook output priority -400; policy accept;\n\t\ticmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect } return\n\t\tmeta mark & 0x00005036 == 0x00000000 ip6 nexthdr != shim6 ip6 saddr @ulids ip6 daddr != { ::1, fe80::/10, ff00::/8 } update @out { ip6 saddr . ip6 daddr }\n\t}\n\n\tchain input {\n\t\ttype filter hook input priority -400; policy accept;\n\t\ticmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect } return\n\t\tmeta mark & 0x00005036 == 0x00000000 ip6 nexthdr != shim6 ip6 daddr @ulids ip6 saddr != { ::1, fe80::/10, ff00::/8 } update @in { ip6 daddr . ip6 saddr }\n\t}\n}\n';

/** The sets of a capture with flowTimeoutSec 3600 (UDP ::1 → ::2 ×2, 1.4 s later ::2 → ::1 ×1): `1h`, `59m58s544ms`. */
const CAPTURED_HOUR_SETS = '\tset out {\n\t\ttype ipv6_addr . ipv6_addr\n\t\tsize 4096\n\t\tflags dynamic,timeout\n\t\tcounter\n\t\ttimeout 1h\n\t\telements = { 2001:db8:1::1 . 2001:db8:1::2 counter packets 2 bytes 98 expires 59m58s544ms }\n\t}\n\n\tset in {\n\t\ttype ipv6_addr . ipv6_addr\n\t\tsize 4096\n\t\tflags dynamic,timeout\n\t\tcounter\n\t\ttimeout 1h\n\t\telements = { 2001:db8:1::1 . 2001:db8:1::2 counter packets 1 bytes 49 expires 59m59s940ms }\n\t}\n';

/** [local, peer, packets, expires as nft prints it (left out when nft prints none), bytes]. */
type Flow = readonly [local: string, peer: string, packets: number, expires?: string, bytes?: number];

interface Shape {
  readonly table?: string;
  readonly ulids?: readonly string[];
  readonly size?: number;
  /** The sets' timeout as nft prints it. */
  readonly timeout?: string;
  readonly fwmark?: number;
}

/** A duration the way nft's time_print writes it: `1d2h3m4s5ms`, nonzero components only. */
function nftDuration(ms: number): string {
  let rest = ms;
  let text = '';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) text += `${n}${unit}`;
  }
  return text;
}

/**
 * `nft list table` in nft 1.0.6's exact format (CAPTURED_LISTING is `listing` of its
 * flows; the namespace tests below compare it with nft's own output byte for byte).
 */
function listing(out: readonly Flow[], inbound: readonly Flow[], shape: Shape = {}): string {
  const { table = 'shim6', ulids = ['2001:db8:1::1'], size = 4096, timeout = '1m', fwmark = 0x5036 } = shape;
  const elements = (items: readonly string[]) => (items.length === 0 ? '' : `\t\telements = { ${items.join(',\n\t\t\t     ')} }\n`);
  const set = (name: string, flows: readonly Flow[]) =>
    `\tset ${name} {\n\t\ttype ipv6_addr . ipv6_addr\n\t\tsize ${size}\n\t\tflags dynamic,timeout\n\t\tcounter\n\t\ttimeout ${timeout}\n` +
    elements(flows.map(([l, p, n, expires = '59s640ms', bytes = n * 49]) => `${l} . ${p} counter packets ${n} bytes ${bytes}${expires === '' ? '' : ` expires ${expires}`}`)) +
    '\t}\n';
  const mark = `meta mark & 0x${fwmark.toString(16).padStart(8, '0')} == 0x00000000 ip6 nexthdr != shim6`;
  const nd = 'icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect } return';
  const chain = (name: string, rule: string) => `\tchain ${name} {\n\t\ttype filter hook ${name} priority -400; policy accept;\n\t\t${nd}\n\t\t${mark} ${rule}\n\t}\n`;
  return `table inet ${table} {\n\tset ulids {\n\t\ttype ipv6_addr\n${elements(ulids)}\t}\n\n${set('out', out)}\n${set('in', inbound)}\n` +
    chain('output', 'ip6 saddr @ulids ip6 daddr != { ::1, fe80::/10, ff00::/8 } update @out { ip6 saddr . ip6 daddr }') + '\n' +
    chain('input', 'ip6 daddr @ulids ip6 saddr != { ::1, fe80::/10, ff00::/8 } update @in { ip6 daddr . ip6 saddr }') + '}\n';
}

/** Samples as sortable text: "local peer sent/received". */
function text(samples: readonly TrafficSample[]): string[] {
  return samples.map((s) => `${formatIpv6(s.local)} ${formatIpv6(s.peer)} ${s.sent}/${s.received}`).sort();
}

/** Samples as sortable text with the ago fields: "local peer sent@lastSentAgoMs/received@lastReceivedAgoMs" (- when absent). */
function agoText(samples: readonly TrafficSample[]): string[] {
  return samples.map((s) => `${formatIpv6(s.local)} ${formatIpv6(s.peer)} ${s.sent}@${s.lastSentAgoMs ?? '-'}/${s.received}@${s.lastReceivedAgoMs ?? '-'}`).sort();
}

/** A poller whose listing is whatever `next` holds at the time of each poll. */
function poller(options: NftTrafficOptions = OPTIONS) {
  const f = fakeRunner();
  const state = { next: listing([], []) };
  f.answer = (line) => (line === LIST ? { stdout: state.next } : undefined);
  return { f, state, traffic: new NftTraffic(options, f.runner) };
}

describe('nft scripts', () => {
  it('install: a leftover table deleted and everything created in one nft -f - transaction', async () => {
    const f = fakeRunner();
    const traffic = new NftTraffic(OPTIONS, f.runner);
    await traffic.install([ip6('2001:DB8:1:0:0:0:0:1'), ip6('2001:db8:2::1'), ip6('2001:db8:1::1')]);
    expect(f.calls).toEqual([{
      line: 'nft -f -',
      input: `table inet shim6
delete table inet shim6
table inet shim6 {
\tset ulids {
\t\ttype ipv6_addr
\t\telements = { 2001:db8:1::1, 2001:db8:2::1 }
\t}
\tset out {
\t\ttype ipv6_addr . ipv6_addr
\t\tflags dynamic,timeout
\t\ttimeout 60s
\t\tsize 4096
\t\tcounter
\t}
\tset in {
\t\ttype ipv6_addr . ipv6_addr
\t\tflags dynamic,timeout
\t\ttimeout 60s
\t\tsize 4096
\t\tcounter
\t}
\tchain output {
\t\ttype filter hook output priority -400; policy accept;
\t\tmeta l4proto ipv6-icmp icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect } return
\t\tmeta mark & 0x5036 == 0 ip6 nexthdr != 140 ip6 saddr @ulids ip6 daddr != { ::1, fe80::/10, ff00::/8 } update @out { ip6 saddr . ip6 daddr }
\t}
\tchain input {
\t\ttype filter hook input priority -400; policy accept;
\t\tmeta l4proto ipv6-icmp icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect } return
\t\tmeta mark & 0x5036 == 0 ip6 nexthdr != 140 ip6 daddr @ulids ip6 saddr != { ::1, fe80::/10, ff00::/8 } update @in { ip6 daddr . ip6 saddr }
\t}
}
`,
    }]);
  });

  it('install without ULIDs leaves the set empty; maxFlows and flowTimeoutSec reach the sets', async () => {
    const f = fakeRunner();
    await new NftTraffic({ table: 'T_2', fwmark: 1, maxFlows: 16, flowTimeoutSec: 5 }, f.runner).install([]);
    const script = f.calls[0]!.input!;
    expect(script).toContain('\tset ulids {\n\t\ttype ipv6_addr\n\t}\n');
    expect(script).not.toContain('elements');
    expect(script.match(/\t\ttimeout 5s\n\t\tsize 16\n/g)).toHaveLength(2);
    expect(script).toContain('meta mark & 0x1 == 0 ');
    expect(script.startsWith('table inet T_2\ndelete table inet T_2\ntable inet T_2 {\n')).toBe(true);
  });

  it('setUlids: flush and add in one transaction; an empty list only flushes', async () => {
    const f = fakeRunner();
    const traffic = new NftTraffic(OPTIONS, f.runner);
    await traffic.setUlids([ip6('2001:db8:1::1'), ip6('2001:db8:3::1')]);
    await traffic.setUlids([]);
    expect(f.calls).toEqual([
      { line: 'nft -f -', input: 'flush set inet shim6 ulids\nadd element inet shim6 ulids { 2001:db8:1::1, 2001:db8:3::1 }\n' },
      { line: 'nft -f -', input: 'flush set inet shim6 ulids\n' },
    ]);
  });

  it('remove: the table is declared first, so deleting an absent one cannot fail', async () => {
    const f = fakeRunner();
    await new NftTraffic(OPTIONS, f.runner).remove();
    expect(f.calls).toEqual([{ line: 'nft -f -', input: 'table inet shim6\ndelete table inet shim6\n' }]);
  });

  it('a failing nft is command-failed quoting its stderr', async () => {
    const f = fakeRunner();
    f.answer = () => ({ code: 1, stderr: 'Error: Could not process rule: Operation not permitted\nline 2\nline 3\nline 4\n' });
    const traffic = new NftTraffic(OPTIONS, f.runner);
    await expect(traffic.install([])).rejects.toMatchObject({ name: 'NftTrafficError', code: 'command-failed', message: 'nft -f -: Error: Could not process rule: Operation not permitted; line 2; line 3' });
    await expect(traffic.setUlids([])).rejects.toMatchObject({ code: 'command-failed' });
    await expect(traffic.remove()).rejects.toMatchObject({ code: 'command-failed' });
    f.answer = () => ({ code: 1, stderr: 'Error: No such file or directory\nlist table inet shim6\n' });
    await expect(traffic.poll()).rejects.toMatchObject({ code: 'command-failed', message: `${LIST}: Error: No such file or directory; list table inet shim6` });
    f.answer = () => ({ code: 2 });
    await expect(traffic.poll()).rejects.toMatchObject({ code: 'command-failed', message: `${LIST}: exit status 2` });
    expect(traffic.stats).toEqual({ polls: 2, badOutput: 0, resets: 0, badElements: 0 });
  });
});

describe('execFileRunner input (what nft -f - reads)', () => {
  it('is written to the child\'s stdin; a child that does not read it is no failure', async () => {
    const run = execFileRunner();
    expect(await run('sh', ['-c', 'cat; echo " read"'], 'table inet x\n')).toEqual({ code: 0, stdout: 'table inet x\n read\n', stderr: '' });
    expect(await run('sh', ['-c', 'exit 4'], 'x'.repeat(1 << 20))).toMatchObject({ code: 4 });
    expect((await run('/nonexistent/shim6-no-such-program', [], 'x')).code).toBe(-1);
  });
});

describe('options and arguments', () => {
  const bad: [string, NftTrafficOptions][] = [
    ['empty table', { table: '', fwmark: 1 }],
    ['table starting with a digit', { table: '1abc', fwmark: 1 }],
    ['table with a space', { table: 'a b', fwmark: 1 }],
    ['table with a quote', { table: 'a"', fwmark: 1 }],
    ['table of 33 characters', { table: 'a'.repeat(33), fwmark: 1 }],
    ['fwmark 0 (nothing would be skipped)', { table: 't', fwmark: 0 }],
    ['no fwmark', { table: 't' } as unknown as NftTrafficOptions],
    ['fwmark above 32 bits', { table: 't', fwmark: 2 ** 32 }],
    ['fractional fwmark', { table: 't', fwmark: 1.5 }],
    ['maxFlows 0', { table: 't', fwmark: 1, maxFlows: 0 }],
    ['maxFlows above the listing limit', { table: 't', fwmark: 1, maxFlows: 8193 }],
    ['flowTimeoutSec 0', { table: 't', fwmark: 1, flowTimeoutSec: 0 }],
    ['flowTimeoutSec NaN', { table: 't', fwmark: 1, flowTimeoutSec: Number.NaN }],
  ];
  it.each(bad)('%s is bad-option', (_name, options) => {
    expect(() => new NftTraffic(options, fakeRunner().runner)).toThrow(expect.objectContaining({ name: 'NftTrafficError', code: 'bad-option' }));
  });

  it('limits are accepted', () => {
    for (const options of [{ table: 'a'.repeat(32), fwmark: 0xffffffff, maxFlows: 8192, flowTimeoutSec: 86_400 }, { table: '_', fwmark: 1, maxFlows: 1, flowTimeoutSec: 1 }]) {
      expect(() => new NftTraffic(options, fakeRunner().runner)).not.toThrow();
    }
  });

  it('a ULID that is not 16 bytes is bad-option, and nothing runs', async () => {
    const f = fakeRunner();
    const traffic = new NftTraffic(OPTIONS, f.runner);
    await expect(traffic.install([new Uint8Array(4)])).rejects.toMatchObject({ code: 'bad-option' });
    await expect(traffic.setUlids([ip6('2001:db8::1'), new Uint8Array(17)])).rejects.toMatchObject({ code: 'bad-option' });
    expect(f.calls).toEqual([]);
  });
});

describe('nft durations (parseNftDuration)', () => {
  it.each([
    ['59s640ms', 59_640], ['1m59s', 119_000], ['1h2m3s4ms', 3_723_004], ['640ms', 640], ['0ms', 0], ['0s', 0], ['1m', 60_000], ['1h', 3_600_000],
    ['1d', 86_400_000], ['1d1h1m976ms', 90_060_976], ['59m58s544ms', 3_598_544], ['90s', 90_000], ['1000ms', 1000], ['9007199254740991ms', 2 ** 53 - 1],
  ])('%s is %d ms', (textual, ms) => {
    expect(parseNftDuration(textual)).toBe(ms);
  });

  it.each([
    '', 's', 'ms', '1', '10', 'm1s', '1x', '1S', '1 s', ' 1s', '1s ', '-1s', '+1s', '1.5s', '1e3ms', '01s', '00ms', '0x1s',
    '1s1m', '1ms1s', '1s1s', '1m1m', '1h1d', '1s2', '1sms', '1mss', '1m s', '9007199254740992ms', '104249991375d', `${'1'.repeat(101)}ms`,
  ])('%j is not a duration', (textual) => {
    expect(parseNftDuration(textual)).toBeUndefined();
  });

  it('every duration as nft prints it reads back (fast-check)', () => {
    fc.assert(fc.property(fc.nat({ max: 10 * 86_400_000 }), (ms) => parseNftDuration(nftDuration(ms) || '0ms') === ms), { numRuns: 1000 });
  });

  it('arbitrary text is undefined or a safe integer ≥ 0 (fast-check)', () => {
    const unit = fc.constantFrom('d', 'h', 'm', 's', 'ms', 'x', ' ', '');
    const near = fc.array(fc.tuple(fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 10n ** 20n })), unit), { maxLength: 7 }).map((parts) => parts.map(([n, u]) => `${n}${u}`).join(''));
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 40 }), near), (textual) => {
      const ms = parseNftDuration(textual);
      return ms === undefined || (Number.isSafeInteger(ms) && ms >= 0);
    }), { numRuns: 2000 });
  });
});

describe('poll deltas', () => {
  const A = '2001:db8:1::1';
  const B = '2001:db8:2::1';
  const C = '2001:db8:3::1';

  it('the fake listings are in the captured format', () => {
    const D = '2001:db8:1::2';
    const E = '2001:db8:1::3';
    expect(listing([[A, D, 4, '58s232ms'], [A, E, 2, '58s232ms']], [[A, D, 3, '58s232ms'], [A, E, 1, '59s936ms']])).toBe(CAPTURED_LISTING);
    expect(listing([[A, D, 2, '59m58s544ms']], [[A, D, 1, '59m59s940ms']], { timeout: '1h' })).toContain(CAPTURED_HOUR_SETS);
  });

  it('the captured listing: one text exec, totals on first sight, out as sent and in as received, with how long ago', async () => {
    const { f, state, traffic } = poller();
    state.next = CAPTURED_LISTING;
    // ago = timeout 1m − expires: 60000 − 58232 = 1768; 60000 − 59936 = 64 (the later ::3 → ::1).
    expect(agoText(await traffic.poll())).toEqual(['2001:db8:1::1 2001:db8:1::2 4@1768/3@1768', '2001:db8:1::1 2001:db8:1::3 2@1768/1@64']);
    expect(f.calls).toEqual([{ line: LIST, input: undefined }]);
    expect(await traffic.poll()).toEqual([]); // unchanged counters: nothing to report
    expect(traffic.stats).toEqual({ polls: 2, badOutput: 0, resets: 0, badElements: 0 });
  });

  it('the captured listing with a timeout of 1h', async () => {
    const { state, traffic } = poller({ ...OPTIONS, flowTimeoutSec: 3600 });
    state.next = listing([], [], { timeout: '1h' }).replace(/\tset out \{[^]*?\n\t\}\n\n\tset in \{[^]*?\n\t\}\n/, CAPTURED_HOUR_SETS);
    expect(state.next).toContain(CAPTURED_HOUR_SETS);
    expect(agoText(await traffic.poll())).toEqual(['2001:db8:1::1 2001:db8:1::2 2@1456/1@60']);
  });

  it('lastSentAgoMs / lastReceivedAgoMs: timeout − expires, only for a direction with new packets', async () => {
    const { state, traffic } = poller();
    state.next = listing([[A, B, 10, '59s640ms'], [A, C, 5, '1s']], [[A, B, 7, '1m']]);
    expect(agoText(await traffic.poll())).toEqual([`${A} ${B} 10@360/7@0`, `${A} ${C} 5@59000/0@-`]);
    // B: only received grew; C: only sent. The other direction's field is absent, not 0 or stale.
    state.next = listing([[A, B, 10, '50s'], [A, C, 6, '640ms']], [[A, B, 8, '59s999ms']]);
    const samples = await traffic.poll();
    expect(agoText(samples)).toEqual([`${A} ${B} 0@-/1@1`, `${A} ${C} 1@59360/0@-`]);
    for (const s of samples) {
      expect('lastSentAgoMs' in s).toBe(s.sent > 0);
      expect('lastReceivedAgoMs' in s).toBe(s.received > 0);
    }
  });

  it('ago: an element timeout of its own counts; no expires is 0 left; expires beyond the timeout is clamped to 0', async () => {
    const { state, traffic } = poller();
    state.next = listing([], []).replace(
      '\t\ttimeout 1m\n\t}\n\n\tset in',
      `\t\ttimeout 1m\n\t\telements = { ${A} . ${B} counter packets 1 bytes 49 timeout 5s expires 4s750ms,\n\t\t\t     ${A} . ${C} counter packets 1 bytes 49 }\n\t}\n\n\tset in`,
    ).replace(
      '\t\ttimeout 1m\n\t}\n\n\tchain',
      `\t\ttimeout 1m\n\t\telements = { ${A} . ${B} counter packets 1 bytes 49 expires 1h,\n\t\t\t     ${A} . ${C} counter packets 2 bytes 98 timeout 2d expires 1d23h59m59s999ms }\n\t}\n\n\tchain`,
    );
    expect(agoText(await traffic.poll())).toEqual([`${A} ${B} 1@250/1@0`, `${A} ${C} 1@60000/2@1`]);
    expect(traffic.stats.badElements).toBe(0);
  });

  it('the set timeout is read from the listing, not assumed from the options', async () => {
    const { state, traffic } = poller({ ...OPTIONS, flowTimeoutSec: 3600 });
    state.next = listing([[A, B, 1, '29s900ms']], [], { timeout: '30s' });
    expect(agoText(await traffic.poll())).toEqual([`${A} ${B} 1@100/0@-`]);
  });

  it('growth is reported as the difference; pairs without change are left out', async () => {
    const { state, traffic } = poller();
    state.next = listing([[A, B, 10], [A, C, 5]], [[A, B, 7]]);
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 10/7`, `${A} ${C} 5/0`]);
    state.next = listing([[A, B, 12], [A, C, 5]], [[A, B, 7], [A, C, 1]]);
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 2/0`, `${A} ${C} 0/1`]);
    state.next = listing([[A, B, 12], [A, C, 5]], [[A, B, 7], [A, C, 1]]);
    expect(await traffic.poll()).toEqual([]);
  });

  it('a lower counter is an expired element added again: the delta is its new value, counted as a reset', async () => {
    const { state, traffic } = poller();
    state.next = listing([[A, B, 100]], [[A, B, 50]]);
    await traffic.poll();
    state.next = listing([[A, B, 3]], [[A, B, 50]]);
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 3/0`]);
    expect(traffic.stats.resets).toBe(1);
    state.next = listing([[A, B, 4]], [[A, B, 51]]);
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 1/1`]);
    expect(traffic.stats.resets).toBe(1);
  });

  it('a key that vanished is forgotten: when it comes back its whole counter is new', async () => {
    const { state, traffic } = poller();
    state.next = listing([[A, B, 100]], []);
    await traffic.poll();
    state.next = listing([], []);
    expect(await traffic.poll()).toEqual([]);
    state.next = listing([[A, B, 100]], []);
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 100/0`]);
    expect(traffic.stats.resets).toBe(0);
  });

  it('keys are canonical addresses: another spelling of the same pair is the same key', async () => {
    const { state, traffic } = poller();
    state.next = listing([['2001:DB8:1:0::1', '2001:db8:2:0:0:0:0:1', 5]], []);
    await traffic.poll();
    state.next = listing([[A, B, 6]], []);
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 1/0`]);
    state.next = listing([[A, B, 6], ['2001:db8:1:0:0:0:0:1', B, 9]], []); // the same pair twice: the second is skipped
    expect(await traffic.poll()).toEqual([]);
    expect(traffic.stats.badElements).toBe(1);
  });

  it('samples are copies: writing to one changes nothing in the next poll', async () => {
    const { state, traffic } = poller();
    state.next = listing([[A, B, 1]], []);
    const [first] = await traffic.poll();
    first!.local.fill(0xff);
    first!.peer.fill(0xee);
    state.next = listing([[A, B, 2]], []);
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 1/0`]);
  });

  it('install and remove start counting afresh', async () => {
    const { state, traffic } = poller();
    state.next = listing([[A, B, 5]], []);
    await traffic.poll();
    await traffic.install([ip6(A)]);
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 5/0`]);
    await traffic.remove();
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 5/0`]);
  });

  it('memory is bounded by maxFlows per set; extra and duplicate elements are skipped and counted', async () => {
    const { state, traffic } = poller({ ...OPTIONS, maxFlows: 2 });
    const many: Flow[] = [0, 1, 2, 3, 4].map((i) => [A, `2001:db8:9::${i}`, 1]);
    state.next = listing(many, [[A, B, 1], [A, B, 9]]);
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 0/1`, `${A} 2001:db8:9:: 1/0`, `${A} 2001:db8:9::1 1/0`]);
    expect(traffic.stats.badElements).toBe(3 + 1);
  });

  it('thousands of elements wrapped over thousands of lines (the 3000-element shape checked against nft below)', async () => {
    const { state, traffic } = poller({ ...OPTIONS, maxFlows: 8192 });
    const flows: Flow[] = Array.from({ length: 3000 }, (_, i) => [A, `2001:db8:${(i >> 8) + 10}:b::${((i & 0xff) + 1).toString(16)}`, i, nftDuration(60_000 - i)]);
    state.next = listing(flows, flows.slice(0, 10));
    const samples = await traffic.poll();
    expect(samples).toHaveLength(2999); // packets 0 is no delta
    const byPeer = new Map(samples.map((s) => [formatIpv6(s.peer), s]));
    expect(byPeer.get('2001:db8:10:b::2')).toMatchObject({ sent: 1, received: 1, lastSentAgoMs: 1, lastReceivedAgoMs: 1 });
    expect(byPeer.get('2001:db8:21:b::b8')).toMatchObject({ sent: 2999, received: 0, lastSentAgoMs: 2999 });
    expect(traffic.stats).toMatchObject({ badOutput: 0, badElements: 0 });
  });

  it('elements that do not parse are skipped and counted; the others still count', async () => {
    const { state, traffic } = poller();
    // Each broken element has a peer of its own: one read by mistake would show as a sample.
    const broken: ((peer: string) => string)[] = [
      () => 'text',
      () => '',
      (P) => `${A} . ${P}`,
      (P) => `${A} ${P} counter packets 1 bytes 49 expires 1s`,
      (P) => `${A} . ${P} counter packets -1 bytes 0 expires 1s`,
      (P) => `${A} . ${P} counter packets 1.5 bytes 0 expires 1s`,
      (P) => `${A} . ${P} counter packets 3x bytes 0 expires 1s`,
      (P) => `${A} . ${P} counter packets 01 bytes 0 expires 1s`,
      (P) => `${A} . ${P} counter packets 9007199254740992 bytes 0 expires 1s`,
      (P) => `${A} . ${P} counter packets 1 bytes 99999999999999999999 expires 1s`,
      (P) => `${A} . ${P} counter packets 1 bytes`,
      (P) => `${A} . ${P} counter packets 1 expires 1s`,
      (P) => `${A} . ${P} counter bytes 1 packets 1 expires 1s`,
      (P) => `${A} . ${P} packets 1 bytes 1 expires 1s`,
      (P) => `${A} . ${P} counter packets 1 bytes 1 expires`,
      (P) => `${A} . ${P} counter packets 1 bytes 1 expires 1x`,
      (P) => `${A} . ${P} counter packets 1 bytes 1 expires 1s expires 1s`,
      (P) => `${A} . ${P} counter packets 1 bytes 1 expires 1s timeout 1m`,
      (P) => `${A} . ${P} counter packets 1 bytes 1 timeout 1m timeout 1m`,
      (P) => `${A} . ${P} counter packets 1 bytes 1 timeout 1m`.replace('timeout 1m', 'timeout'),
      (P) => `${A} . ${P} counter packets 1 bytes 1 comment "x"`,
      (P) => `${A} . ${P} counter packets 1 bytes 1 expires 1s extra`,
      (P) => `${A} . ${P} counter packets 1 bytes 1 last used 1s`,
      (P) => `${A}  . ${P} counter packets 1 bytes 1 expires 1s`,
      (P) => `${A} . ${P} counter  packets 1 bytes 1 expires 1s`,
      (P) => `${A} . ${P}\tcounter packets 1 bytes 1 expires 1s`,
      () => `${A} . not-an-address counter packets 1 bytes 1 expires 1s`,
      () => `${A} . 2001:db8::/64 counter packets 1 bytes 1 expires 1s`,
      (P) => `${A} . ${P} . ${C} counter packets 1 bytes 1 expires 1s`,
      (P) => `${A} . ${P} : accept counter packets 1 bytes 1`,
      (P) => `${A} . ${P} counter packets 1 bytes 1 expires 1s}`,
    ];
    const good = `${A} . ${B} counter packets 2 bytes 98 expires 59s`;
    const elements = [...broken.map((f, i) => f(`2001:db8:e::${i + 1}`)), good];
    state.next = listing([], []).replace('\t\ttimeout 1m\n\t}\n\n\tset in', `\t\ttimeout 1m\n\t\telements = { ${elements.join(',\n\t\t\t     ')} }\n\t}\n\n\tset in`);
    expect(agoText(await traffic.poll())).toEqual([`${A} ${B} 2@1000/0@-`]);
    expect(traffic.stats).toMatchObject({ badOutput: 0, badElements: broken.length });
  });

  it('output that is not the expected listing is bad-output, counted, and leaves the state as it was', async () => {
    const { state, traffic } = poller();
    state.next = listing([[A, B, 5]], []);
    await traffic.poll();
    const good = listing([[A, B, 6]], [[A, C, 1], [A, B, 1]]);
    const outputs = [
      '',
      '\n\n',
      'not a listing',
      '{"nftables": []}', // nft -j
      'table inet shim6 {',
      'table inet shim6 {\n',
      good.replace('table inet shim6 {', 'table inet other {'),
      good.replace('table inet shim6 {', 'table ip shim6 {'),
      good.replace('table inet shim6 {', 'table inet shim6'),
      `# comment\n${good}`,
      good.replace('\tset in {', '\tset in2 {'), // no set in
      good.replace('\tset out {', '\tset in {'), // set in twice, no set out
      good.replace('\tchain output {', '\tset out {\n\t\ttype ipv6_addr . ipv6_addr\n\t\ttimeout 1m\n\t}\n\tchain output {'), // set out twice
      good.replace('\tset out {', '\tset out{'),
      good.replace('\t\ttimeout 1m\n', ''), // set out without a timeout
      good.replace('\t\ttimeout 1m\n', '\t\ttimeout 1x\n'),
      good.replace('\t\ttimeout 1m\n', '\t\ttimeout 1m\n\t\ttimeout 1m\n'),
      good.replace('\t\ttimeout 1m\n', '\t\ttimeout\n'),
      good.replace('\t\ttype ipv6_addr . ipv6_addr\n', ''),
      good.replace('\t\ttype ipv6_addr . ipv6_addr\n', '\t\ttype ipv4_addr . ipv4_addr\n'),
      good.replace('\t\ttype ipv6_addr . ipv6_addr\n', '\t\ttypeof ip6 saddr . ip6 daddr\n'),
      good.replace('\t\ttype ipv6_addr . ipv6_addr\n', '\t\ttype ipv6_addr . ipv6_addr\n\t\ttype ipv6_addr . ipv6_addr\n'),
      good.replace('2001:db8:3::1 counter packets 1 bytes 49 expires 59s640ms,', '2001:db8:3::1 counter packets 1 bytes 49 expires 59s640ms'), // a line ending in neither , nor }
      good.replace(/ \}\n\t\}\n\n\tchain output/, ',\n\t}\n\t}\n\n\tchain output'), // `}` after `,` closes the set, not the list
      good.replace(/ \}\n\t\}\n\n\tchain output/, ',\n\t}\n\n\tchain output'),
      good.slice(0, good.indexOf('\t\t\t     2001:db8:1::1 . 2001:db8:2::1 counter packets 1')), // cut inside a list
      good.slice(0, good.indexOf('\tchain output')), // cut after the sets
      good.slice(0, good.lastIndexOf('}')),
      good.replace('\t\tsize 4096\n', '\t\telements = { 2001:db8:1::1 . 2001:db8:2::1 counter packets 1 bytes 49 }\n'), // two element lists
      `${good}table inet shim6 {\n}\n`,
      `${good}x\n`,
      good.replace('\tchain output {\n', '\tchain output {\n\t\tchain nested {\n\t\t}\n'), // the chain closes early: text after the table
      listing([[A, B, 6]], [], { table: 'shim6x' }),
      good + '\n'.repeat(8 << 20), // beyond 8 MiB
    ];
    for (const output of outputs) {
      state.next = output;
      const e = await traffic.poll().catch((x: unknown) => x);
      expect(e, output.slice(0, 300)).toBeInstanceOf(NftTrafficError);
      expect(e, output.slice(0, 300)).toMatchObject({ code: 'bad-output', message: expect.stringMatching(/^nft list table inet shim6: /) });
      expect((e as Error).message.length).toBeLessThan(200);
    }
    expect(traffic.stats).toMatchObject({ badOutput: outputs.length, badElements: 0 });
    state.next = listing([[A, B, 7]], []);
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 2/0`]);
  });

  it('blocks and table lines other than sets out and in are skipped: other sets, maps, chains, flags, comments', async () => {
    const { state, traffic } = poller();
    state.next = listing([[A, B, 6]], [], { ulids: [A, B, C] })
      .replace('table inet shim6 {\n', 'table inet shim6 {\n\tflags dormant\n\tcomment "a } b {"\n\tset other {\n\t\ttype ipv6_addr . ipv6_addr\n\t\ttimeout 1m\n\t\telements = { ::1 . ::2 counter packets 99 bytes 1 expires 1s,\n\t\t\t     ::1 . ::3 }\n\t}\n\tmap m {\n\t\ttype ipv6_addr : verdict\n\t\telements = { ::1 : accept, ::2 : drop }\n\t}\n')
      .replace('\t\tcounter\n\t\ttimeout 1m\n\t\telements', '\t\tcounter\n\t\tgc-interval 5s\n\t\tcomment "x"\n\t\ttimeout 1m\n\t\telements');
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 6/0`]);
    expect(traffic.stats).toMatchObject({ badOutput: 0, badElements: 0 });
  });

  it('a set without elements prints no elements line; a ULID set of many wraps like the counted sets', async () => {
    const { state, traffic } = poller();
    state.next = listing([], [], { ulids: [] });
    expect(state.next).not.toContain('elements');
    expect(await traffic.poll()).toEqual([]);
    state.next = listing([], [[A, B, 1]], { ulids: [A, B, C, '2001:db8:4::1'] });
    expect(state.next).toContain('\t\telements = { 2001:db8:1::1,\n\t\t\t     2001:db8:2::1,\n');
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 0/1`]);
    expect(traffic.stats).toMatchObject({ badOutput: 0, badElements: 0 });
  });

  it('concurrent polls run one after the other, each with its own exec', async () => {
    const f = fakeRunner();
    const counts = [3, 5];
    let running = 0;
    let overlapped = false;
    f.runner = async (file, args) => {
      f.calls.push({ line: [file, ...args].join(' '), input: undefined });
      running++;
      if (running > 1) overlapped = true;
      await new Promise((r) => setImmediate(r));
      running--;
      return { code: 0, stdout: listing([[A, B, counts.shift()!]], []), stderr: '' };
    };
    const traffic = new NftTraffic(OPTIONS, f.runner);
    const [first, second] = await Promise.all([traffic.poll(), traffic.poll()]);
    expect(overlapped).toBe(false);
    expect(text(first)).toEqual([`${A} ${B} 3/0`]);
    expect(text(second)).toEqual([`${A} ${B} 2/0`]);
    expect(f.calls).toHaveLength(2);
  });
});

describe('poll never throws anything but NftTrafficError bad-output (fast-check)', () => {
  async function outcome(stdout: string, traffic = new NftTraffic(OPTIONS, (async () => ({ code: 0, stdout, stderr: '' })) as CommandRunner)): Promise<TrafficSample[] | NftTrafficError> {
    try {
      return await traffic.poll();
    } catch (e) {
      if (e instanceof NftTrafficError && e.code === 'bad-output') return e;
      throw e;
    }
  }

  const ago = (v: number | undefined, present: boolean) => (present ? v !== undefined && Number.isSafeInteger(v) && v >= 0 : v === undefined);

  function wellFormed(samples: TrafficSample[] | NftTrafficError): boolean {
    if (samples instanceof NftTrafficError) return true;
    return samples.every((s) => s.local.length === 16 && s.peer.length === 16 && Number.isSafeInteger(s.sent) && Number.isSafeInteger(s.received) && s.sent >= 0 && s.received >= 0 && s.sent + s.received > 0 &&
      ago(s.lastSentAgoMs, s.sent > 0) && ago(s.lastReceivedAgoMs, s.received > 0));
  }

  const address = fc.oneof(fc.constantFrom('2001:db8::1', '2001:db8::2', '2001:db8:1::1', '::', 'ffff::', '::ffff:192.0.2.1'), fc.ipV6());
  const flow: fc.Arbitrary<Flow> = fc.tuple(address, address, fc.nat(), fc.option(fc.nat({ max: 120_000 }).map((ms) => nftDuration(ms) || '0ms'), { nil: undefined }));

  it('arbitrary strings', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 300 }), async (s) => wellFormed(await outcome(s))), { numRuns: 300 });
  });

  it('arbitrary strings inside a listing, in place of the elements of set out', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 300 }), async (s) => {
      const stdout = listing([], []).replace('\t\ttimeout 1m\n\t}\n\n\tset in', `\t\ttimeout 1m\n\t\telements = { ${s} }\n\t}\n\n\tset in`);
      return wellFormed(await outcome(stdout));
    }), { numRuns: 500 });
  });

  it('listings made of the listing\'s own words and lines in any order', async () => {
    const word = fc.constantFrom('table inet shim6 {', 'set out {', 'set in {', 'chain output {', '{', '}', ' }', ',', 'elements = {', 'type ipv6_addr . ipv6_addr', 'timeout', '1m', '59s640ms', 'expires', 'counter',
      'packets', 'bytes', '1', '0', '.', '2001:db8::1', '2001:db8::2', '\n', '\n\t\t\t     ', '\t', ' ');
    await fc.assert(fc.asyncProperty(fc.array(word, { maxLength: 80 }), fc.constantFrom('', ' ', '\n'), async (words, sep) => wellFormed(await outcome(words.join(sep)))), { numRuns: 1000 });
  });

  it('mutated listings: characters and lines deleted, inserted, replaced, repeated', async () => {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.nat({ max: 40 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(',', '}', '{', '\n', ' ', '\t', ', ', ' }', '\n}\n', 'ms', '.')) }),
      fc.record({ kind: fc.constant('line' as const), at: fc.nat(), how: fc.constantFrom('drop', 'repeat', 'swap', 'trim') }),
    );
    await fc.assert(fc.asyncProperty(fc.array(flow, { maxLength: 5 }), fc.array(flow, { maxLength: 5 }), fc.array(edit, { minLength: 1, maxLength: 4 }), async (out, inbound, edits) => {
      let stdout = listing(out, inbound);
      for (const e of edits) {
        if (e.kind === 'delete') { const at = e.at % (stdout.length + 1); stdout = stdout.slice(0, at) + stdout.slice(at + e.length); }
        else if (e.kind === 'insert') { const at = e.at % (stdout.length + 1); stdout = stdout.slice(0, at) + e.text + stdout.slice(at); }
        else {
          const lines = stdout.split('\n');
          const at = e.at % lines.length;
          if (e.how === 'drop') lines.splice(at, 1);
          else if (e.how === 'repeat') lines.splice(at, 0, lines[at]!);
          else if (e.how === 'trim') lines[at] = lines[at]!.trim();
          else if (at + 1 < lines.length) [lines[at], lines[at + 1]] = [lines[at + 1]!, lines[at]!];
          stdout = lines.join('\n');
        }
      }
      const traffic = new NftTraffic(OPTIONS, (async () => ({ code: 0, stdout, stderr: '' })) as CommandRunner);
      const result = await outcome(stdout, traffic);
      const { polls, badOutput } = traffic.stats;
      return wellFormed(result) && polls === 1 && badOutput === (result instanceof NftTrafficError ? 1 : 0);
    }), { numRuns: 1000 });
  });

  it('well-formed listings read back exactly: every pair, its delta and how long ago', async () => {
    const pairs = fc.uniqueArray(fc.tuple(address, address, fc.nat(), fc.option(fc.nat({ max: 59_999 }), { nil: undefined })), { maxLength: 20, selector: ([l, p]) => `${formatIpv6(ip6(l))} ${formatIpv6(ip6(p))}` });
    await fc.assert(fc.asyncProperty(pairs, pairs, async (out, inbound) => {
      const flows = (list: typeof out): Flow[] => list.map(([l, p, n, expires]) => [l, p, n, expires === undefined ? '' : nftDuration(expires) || '0ms']);
      const result = await outcome(listing(flows(out), flows(inbound)));
      if (result instanceof NftTrafficError) return false;
      const expected = new Map<string, { sent: number; received: number; s?: number; r?: number }>();
      for (const [set, list] of [['out', out], ['in', inbound]] as const) {
        for (const [l, p, n, expires] of list) {
          if (n === 0) continue;
          const key = `${formatIpv6(ip6(l))} ${formatIpv6(ip6(p))}`;
          const e = expected.get(key) ?? { sent: 0, received: 0 };
          if (set === 'out') { e.sent = n; e.s = 60_000 - (expires ?? 0); } else { e.received = n; e.r = 60_000 - (expires ?? 0); }
          expected.set(key, e);
        }
      }
      expect(agoText(result)).toEqual([...expected].map(([key, e]) => `${key} ${e.sent}@${e.s ?? '-'}/${e.received}@${e.r ?? '-'}`).sort());
      return true;
    }), { numRuns: 300 });
  });

  it('parsing is linear: pathological output of 4 MiB is answered within a generous bound', async () => {
    const head = listing([], []).split('\t\ttimeout 1m\n')[0]!;
    const big = 4 << 20;
    const outputs = [
      `${head}\t\ttimeout 1m\n\t\telements = { ${'1'.repeat(big)} }\n\t}\n`,
      `${head}\t\ttimeout 1m\n\t\telements = { ${', '.repeat(big / 2)}}\n\t}\n`,
      `${head}\t\ttimeout 1m\n\t\telements = { ${',\n'.repeat(big / 2)}}\n\t}\n`,
      `${head}\t\ttimeout ${'1'.repeat(big)}ms\n`,
      `table inet shim6 {\n${'\tset x {\n'.repeat(big / 8)}`,
      `table inet shim6 {\n${'{'.repeat(big)}\n`,
      '\n'.repeat(big),
      `${head}\t\ttimeout 1m\n\t\telements = { ${'2001:db8::1 . 2001:db8::2 counter packets 1 bytes 1 expires 1s '.repeat(big / 64)}}\n\t}\n`,
    ];
    for (const stdout of outputs) {
      const t0 = performance.now();
      expect(wellFormed(await outcome(stdout))).toBe(true);
      expect(performance.now() - t0).toBeLessThan(10_000);
    }
  });
});

// ---------------------------------------------------------------------------------------
// The real table, as root, in a namespace of its own:
//
//   namespace s6nft-<pid>, lo up with 2001:db8:1::1, ::2, ::3, ::4 (/128, nodad)
//   table inet s6traffic   (NftTraffic, ULIDs ::1 and ::4)
//   table inet s6mark      output priority -450: packets from ::4 get the daemon's mark
//   UDP from node dgram sockets bound to those addresses, in a child node process
// ---------------------------------------------------------------------------------------

const unavailable = netnsUnavailable();
const skip = unavailable !== undefined && !REQUIRE_NETNS;

describe.skipIf(skip)(`NftTraffic on the real kernel${skip ? ` (skipped: ${unavailable})` : ''}`, () => {
  const ns = `s6nft-${process.pid}`;
  const FWMARK = 0x5036;
  const base = execFileRunner();
  /** Runs every command inside the namespace. */
  const inNs: CommandRunner = (file, args, input) => base('ip', ['netns', 'exec', ns, file, ...args], input);
  const traffic = new NftTraffic({ table: 's6traffic', fwmark: FWMARK }, inNs);

  /** Sends UDP datagrams [from, to, count] (last octet of 2001:db8:1::N) inside the namespace and waits for all of them to arrive. */
  function udp(...flows: [from: number, to: number, count: number][]): void {
    const script = `
      import dgram from 'node:dgram';
      const flows = ${JSON.stringify(flows)};
      let expected = flows.reduce((n, f) => n + f[2], 0);
      let finish;
      const all = new Promise((resolve) => { finish = resolve; });
      const sockets = new Map();
      for (const id of new Set(flows.flatMap(([a, b]) => [a, b]))) {
        const s = dgram.createSocket('udp6');
        await new Promise((r) => s.bind(7000 + id, '2001:db8:1::' + id, r));
        s.on('message', () => { if (--expected === 0) finish(); });
        sockets.set(id, s);
      }
      for (const [a, b, n] of flows) for (let i = 0; i < n; i++) await new Promise((r) => sockets.get(a).send('x', 7000 + b, '2001:db8:1::' + b, r));
      await all;
      for (const s of sockets.values()) s.close();
    `;
    execFileSync('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 15_000 });
  }

  beforeAll(() => {
    if (unavailable !== undefined) throw new Error(`SHIM6_REQUIRE_NETNS=1 but ${unavailable}`);
    execFileSync('ip', ['netns', 'add', ns]);
    const exec = (...args: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' });
    exec('ip', 'link', 'set', 'lo', 'up');
    for (const i of [1, 2, 3, 4]) exec('ip', '-6', 'addr', 'add', `2001:db8:1::${i}/128`, 'dev', 'lo', 'nodad');
    execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], {
      input: `table inet s6mark {\n\tchain output {\n\t\ttype filter hook output priority -450; policy accept;\n\t\tip6 saddr 2001:db8:1::4 meta mark set 0x${FWMARK.toString(16)}\n\t}\n}\n`,
    });
  });
  afterAll(() => { spawnSync('ip', ['netns', 'del', ns]); });

  it('counts sent and received packets per ULID pair, skipping other sources and marked packets', async () => {
    await traffic.install([ip6('2001:db8:1::1'), ip6('2001:db8:1::4')]);
    await traffic.install([ip6('2001:db8:1::1'), ip6('2001:db8:1::4')]); // a leftover table is replaced
    expect(await traffic.poll()).toEqual([]);

    // ::1 → ::2 ×5, ::2 → ::1 ×3 (the ULID pair); ::3 → ::2 ×4 (not a ULID); ::4 → ::2 ×2 (marked).
    udp([1, 2, 5], [2, 1, 3], [3, 2, 4], [4, 2, 2]);
    expect(text(await traffic.poll())).toEqual(['2001:db8:1::1 2001:db8:1::2 5/3']);
    expect(await traffic.poll()).toEqual([]);

    udp([1, 2, 2], [1, 3, 1]);
    expect(text(await traffic.poll())).toEqual(['2001:db8:1::1 2001:db8:1::2 2/0', '2001:db8:1::1 2001:db8:1::3 1/0']);

    await traffic.setUlids([ip6('2001:db8:1::3')]);
    udp([3, 2, 1], [1, 2, 1], [2, 3, 2]);
    expect(text(await traffic.poll())).toEqual(['2001:db8:1::3 2001:db8:1::2 1/2']);
    expect(traffic.stats).toMatchObject({ badOutput: 0, badElements: 0 });

    await traffic.remove();
    await traffic.remove(); // absent: still fine
    await expect(traffic.poll()).rejects.toMatchObject({ code: 'command-failed' });
  });

  it('lastSentAgoMs and lastReceivedAgoMs: present for the directions that had packets, the later one smaller', async () => {
    const ago = (s: TrafficSample | undefined, field: 'lastSentAgoMs' | 'lastReceivedAgoMs'): number => {
      const v = s?.[field];
      expect(v, field).toBeTypeOf('number');
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(5000); // sanity only: the order below is the real check
      return v!;
    };
    const byPeer = (samples: TrafficSample[]) => new Map(samples.map((s) => [formatIpv6(s.peer), s]));
    await traffic.install([ip6('2001:db8:1::1')]);

    // A → B and A → C, 300 ms later B → A: B's received is more recent than its sent.
    udp([1, 2, 3], [1, 3, 1]);
    await new Promise((r) => setTimeout(r, 300));
    udp([2, 1, 2]);
    let samples = await traffic.poll();
    expect(text(samples)).toEqual(['2001:db8:1::1 2001:db8:1::2 3/2', '2001:db8:1::1 2001:db8:1::3 1/0']);
    const b = byPeer(samples).get('2001:db8:1::2');
    expect(ago(b, 'lastReceivedAgoMs')).toBeLessThan(ago(b, 'lastSentAgoMs'));
    const c = byPeer(samples).get('2001:db8:1::3');
    ago(c, 'lastSentAgoMs');
    expect(c).not.toHaveProperty('lastReceivedAgoMs');

    // The other way round: B → A, 300 ms later A → B.
    udp([2, 1, 1]);
    await new Promise((r) => setTimeout(r, 300));
    udp([1, 2, 1]);
    samples = await traffic.poll();
    expect(text(samples)).toEqual(['2001:db8:1::1 2001:db8:1::2 1/1']);
    expect(ago(samples[0], 'lastSentAgoMs')).toBeLessThan(ago(samples[0], 'lastReceivedAgoMs'));

    // Only received: no lastSentAgoMs, even though the pair sent before.
    udp([3, 1, 1]);
    samples = await traffic.poll();
    expect(text(samples)).toEqual(['2001:db8:1::1 2001:db8:1::3 0/1']);
    ago(samples[0], 'lastReceivedAgoMs');
    expect(samples[0]).not.toHaveProperty('lastSentAgoMs');
    expect(traffic.stats).toMatchObject({ badOutput: 0, badElements: 0 });
    await traffic.remove();
  });

  /** The elements of set `name` in a real listing, read with regular expressions of this test, not the module's parser. */
  function flowsIn(output: string, name: string): Flow[] {
    const block = output.split(`\tset ${name} {\n`)[1]?.split('\n\t}\n')[0] ?? '';
    const list = /\t\telements = \{ ([^]*) \}$/.exec(block)?.[1];
    if (list === undefined) return [];
    return list.split(',\n\t\t\t     ').map((e): Flow => {
      const m = /^(\S+) \. (\S+) counter packets (\d+) bytes (\d+)(?: expires (\S+))?$/.exec(e);
      if (m === null) throw new Error(`unexpected element ${JSON.stringify(e)}`);
      return [m[1]!, m[2]!, Number(m[3]), m[5] ?? '', Number(m[4])];
    });
  }

  it('nft prints listings exactly like the fake ones of these tests: 0, 1, 3 and 3000 elements, timeouts 1m and 1h', async () => {
    for (const [table, flowTimeoutSec, timeout] of [['s6fmt', 60, '1m'], ['s6fmth', 3600, '1h']] as const) {
      const t = new NftTraffic({ table, fwmark: FWMARK, flowTimeoutSec }, inNs);
      await t.install([ip6('2001:db8:1::1')]);
      const sizes: number[] = [];
      const check = async () => {
        const r = await inNs('nft', ['list', 'table', 'inet', table]);
        expect(r.code).toBe(0);
        const out = flowsIn(r.stdout, 'out');
        const inbound = flowsIn(r.stdout, 'in');
        sizes.push(out.length);
        expect(listing(out, inbound, { table, timeout })).toBe(r.stdout);
        for (const [, , , expires] of [...out, ...inbound]) {
          expect(parseNftDuration(expires!)).toBeGreaterThan(0);
          expect(parseNftDuration(expires!)).toBeLessThanOrEqual(flowTimeoutSec * 1000);
        }
        await t.poll();
        expect(t.stats).toMatchObject({ badOutput: 0, badElements: 0 });
      };
      await check();
      udp([1, 2, 1]);
      await check();
      udp([1, 3, 1], [1, 4, 2], [2, 1, 1]);
      await check();
      const add = Array.from({ length: 2997 }, (_, i) => `2001:db8:1::1 . 2001:db8:${(i >> 8) + 10}:b::${((i & 0xff) + 1).toString(16)}`);
      for (let i = 0; i < add.length; i += 500) {
        expect((await inNs('nft', ['-f', '-'], `add element inet ${table} out { ${add.slice(i, i + 500).join(', ')} }\n`)).code).toBe(0);
      }
      await check();
      expect(sizes).toEqual([0, 1, 3, 3000]);
      await t.remove();
    }
  });
});
