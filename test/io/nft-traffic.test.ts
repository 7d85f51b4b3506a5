/**
 * NftTraffic (src/io/nft-traffic.ts): the exact nft scripts (one `nft -f -` transaction
 * each), the delta arithmetic of `poll` (first sighting, growth, a lower counter after
 * an element expired and came back, vanished keys forgotten), memory bounded by
 * maxFlows, malformed listings as NftTrafficError('bad-output') and never anything else
 * (fast-check), option checks; then, as root, the real table in a network namespace
 * counting UDP between 2001:db8 addresses on lo.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileRunner, type CommandResult, type CommandRunner } from '../../src/daemon/system.js';
import { NftTraffic, NftTrafficError, type NftTrafficOptions, type TrafficSample } from '../../src/io/nft-traffic.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/address.js';
import { netnsUnavailable, REQUIRE_NETNS } from './fixtures/netns.js';

function ip6(text: string): Uint8Array {
  const a = parseIpv6(text);
  if (a === undefined) throw new Error(`bad test address ${text}`);
  return a;
}

interface Call { readonly line: string; readonly input: string | undefined }

/** A runner that records each call and answers from `answer` (default: success, no output). */
function fakeRunner() {
  const f = {
    calls: [] as Call[],
    answer: (_line: string): Partial<CommandResult> | undefined => undefined,
    runner: (async (file, args, input) => {
      const line = [file, ...args].join(' ');
      f.calls.push({ line, input });
      return { code: 0, stdout: '', stderr: '', ...f.answer(line) };
    }) as CommandRunner,
  };
  return f;
}

const OPTIONS: NftTrafficOptions = { table: 'shim6', fwmark: 0x5036 };
const LIST = 'nft -j list table inet shim6';

/**
 * `nft -j list table inet shim6` as nft 1.0.6 printed it on this kernel (Debian 12,
 * captured in a namespace after UDP ::1 → ::2 ×4, ::1 → ::3 ×2, ::2 → ::1 ×3, ULID ::1).
 */
const CAPTURED_LISTING = '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "shim6", "handle": 3}}, {"set": {"family": "inet", "name": "ulids", "table": "shim6", "type": "ipv6_addr", "handle": 3, "elem": ["2001:db8:1::1"]}}, {"set": {"family": "inet", "name": "out", "table": "shim6", "type": ["ipv6_addr", "ipv6_addr"], "handle": 4, "size": 4096, "flags": ["timeout"], "timeout": 60, "elem": [{"elem": {"val": {"concat": ["2001:db8:1::1", "2001:db8:1::2"]}, "expires": 59, "counter": {"packets": 4, "bytes": 196}}}, {"elem": {"val": {"concat": ["2001:db8:1::1", "2001:db8:1::3"]}, "expires": 59, "counter": {"packets": 2, "bytes": 98}}}], "stmt": [{"counter": null}]}}, {"set": {"family": "inet", "name": "in", "table": "shim6", "type": ["ipv6_addr", "ipv6_addr"], "handle": 5, "size": 4096, "flags": ["timeout"], "timeout": 60, "elem": [{"elem": {"val": {"concat": ["2001:db8:1::1", "2001:db8:1::2"]}, "expires": 59, "counter": {"packets": 3, "bytes": 147}}}], "stmt": [{"counter": null}]}}, {"chain": {"family": "inet", "table": "shim6", "name": "output", "handle": 1, "type": "filter", "hook": "output", "prio": -400, "policy": "accept"}}, {"chain": {"family": "inet", "table": "shim6", "name": "input", "handle": 2, "type": "filter", "hook": "input", "prio": -400, "policy": "accept"}}, {"rule": {"family": "inet", "table": "shim6", "chain": "output", "handle": 7, "expr": [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 20534]}, "right": 0}}, {"match": {"op": "!=", "left": {"payload": {"protocol": "ip6", "field": "nexthdr"}}, "right": "shim6"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": "@ulids"}}, {"match": {"op": "!=", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": {"set": ["::1", {"prefix": {"addr": "fe80::", "len": 10}}, {"prefix": {"addr": "ff00::", "len": 8}}]}}}, {"set": {"op": "update", "elem": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "set": "@out"}}]}}, {"rule": {"family": "inet", "table": "shim6", "chain": "input", "handle": 9, "expr": [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 20534]}, "right": 0}}, {"match": {"op": "!=", "left": {"payload": {"protocol": "ip6", "field": "nexthdr"}}, "right": "shim6"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "@ulids"}}, {"match": {"op": "!=", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": {"set": ["::1", {"prefix": {"addr": "fe80::", "len": 10}}, {"prefix": {"addr": "ff00::", "len": 8}}]}}}, {"set": {"op": "update", "elem": {"concat": [{"payload": {"protocol": "ip6", "field": "daddr"}}, {"payload": {"protocol": "ip6", "field": "saddr"}}]}, "set": "@in"}}]}}]}';

type Flow = readonly [local: string, peer: string, packets: number];

/** A listing in the shape of CAPTURED_LISTING with the given elements. */
function listing(out: readonly Flow[], inbound: readonly Flow[], table = 'shim6'): string {
  const set = (name: string, flows: readonly Flow[]) => ({
    set: {
      family: 'inet', name, table, type: ['ipv6_addr', 'ipv6_addr'], handle: 4, size: 4096, flags: ['timeout'], timeout: 60,
      ...(flows.length > 0 ? { elem: flows.map(([l, p, n]) => ({ elem: { val: { concat: [l, p] }, expires: 59, counter: { packets: n, bytes: n * 49 } } })) } : {}),
      stmt: [{ counter: null }],
    },
  });
  return JSON.stringify({ nftables: [{ metainfo: { version: '1.0.6', json_schema_version: 1 } }, { table: { family: 'inet', name: table, handle: 3 } }, set('out', out), set('in', inbound)] });
}

/** Samples as sortable text: "local peer sent/received". */
function text(samples: readonly TrafficSample[]): string[] {
  return samples.map((s) => `${formatIpv6(s.local)} ${formatIpv6(s.peer)} ${s.sent}/${s.received}`).sort();
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

describe('poll deltas', () => {
  const A = '2001:db8:1::1';
  const B = '2001:db8:2::1';
  const C = '2001:db8:3::1';

  it('the captured listing: one exec, totals on first sight, out as sent and in as received', async () => {
    const { f, state, traffic } = poller();
    state.next = CAPTURED_LISTING;
    expect(text(await traffic.poll())).toEqual(['2001:db8:1::1 2001:db8:1::2 4/3', '2001:db8:1::1 2001:db8:1::3 2/0']);
    expect(f.calls).toEqual([{ line: LIST, input: undefined }]);
    expect(await traffic.poll()).toEqual([]); // unchanged counters: nothing to report
    expect(traffic.stats).toEqual({ polls: 2, badOutput: 0, resets: 0, badElements: 0 });
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

  it('elements that do not parse are skipped and counted; the others still count', async () => {
    const { state, traffic } = poller();
    const good = { elem: { val: { concat: [A, B] }, counter: { packets: 2, bytes: 1 } } };
    const broken: unknown[] = [
      good,
      'text',
      null,
      [A, B],
      { elem: null },
      { concat: [A, B] },
      { elem: { val: { concat: [A, B] } } },
      { elem: { val: { concat: [A, B] }, counter: { packets: -1 } } },
      { elem: { val: { concat: [A, B] }, counter: { packets: 1.5 } } },
      { elem: { val: { concat: [A, B] }, counter: { packets: '3' } } },
      { elem: { val: { concat: [A, B] }, counter: { packets: 2 ** 53 } } },
      { elem: { val: { concat: [A] }, counter: { packets: 1 } } },
      { elem: { val: { concat: [A, B, C] }, counter: { packets: 1 } } },
      { elem: { val: { concat: [A, 'not-an-address'] }, counter: { packets: 1 } } },
      { elem: { val: { concat: [A, 7] }, counter: { packets: 1 } } },
      { elem: { val: { concat: [A, { prefix: { addr: B, len: 64 } }] }, counter: { packets: 1 } } },
    ];
    const doc = JSON.parse(listing([], [])) as { nftables: { set?: { name: string; elem?: unknown[] } }[] };
    for (const item of doc.nftables) if (item.set?.name === 'out') item.set.elem = broken;
    state.next = JSON.stringify(doc);
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 2/0`]);
    expect(traffic.stats.badElements).toBe(broken.length - 1);
  });

  it('output that is not the expected listing is bad-output, counted, and leaves the state as it was', async () => {
    const { state, traffic } = poller();
    state.next = listing([[A, B, 5]], []);
    await traffic.poll();
    const outputs = [
      '',
      'not json',
      '[]',
      '{}',
      '{"nftables": {}}',
      '{"nftables": []}',
      listing([], [], 'other'), // sets of another table
      JSON.stringify({ nftables: [{ set: { family: 'inet', table: 'shim6', name: 'out' } }] }), // no set in
      JSON.stringify({ nftables: [{ set: { family: 'ip6', table: 'shim6', name: 'out' } }, { set: { family: 'ip6', table: 'shim6', name: 'in' } }] }),
      JSON.stringify({ nftables: [{ set: { family: 'inet', table: 'shim6', name: 'out', elem: {} } }, { set: { family: 'inet', table: 'shim6', name: 'in' } }] }),
      JSON.stringify({ nftables: [{ set: { family: 'inet', table: 'shim6', name: 'out' } }, { set: { family: 'inet', table: 'shim6', name: 'out' } }, { set: { family: 'inet', table: 'shim6', name: 'in' } }] }),
    ];
    for (const output of outputs) {
      state.next = output;
      const e = await traffic.poll().catch((x: unknown) => x);
      expect(e, output).toBeInstanceOf(NftTrafficError);
      expect(e, output).toMatchObject({ code: 'bad-output', message: expect.stringMatching(/^nft -j list table inet shim6: /) });
    }
    expect(traffic.stats.badOutput).toBe(outputs.length);
    state.next = listing([[A, B, 7]], []);
    expect(text(await traffic.poll())).toEqual([`${A} ${B} 2/0`]);
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
  async function outcome(stdout: string): Promise<TrafficSample[] | NftTrafficError> {
    const f = fakeRunner();
    f.answer = () => ({ stdout });
    const traffic = new NftTraffic(OPTIONS, f.runner);
    try {
      return await traffic.poll();
    } catch (e) {
      if (e instanceof NftTrafficError && e.code === 'bad-output') return e;
      throw e;
    }
  }

  function wellFormed(samples: TrafficSample[] | NftTrafficError): boolean {
    if (samples instanceof NftTrafficError) return true;
    return samples.every((s) => s.local.length === 16 && s.peer.length === 16 && Number.isSafeInteger(s.sent) && Number.isSafeInteger(s.received) && s.sent >= 0 && s.received >= 0 && s.sent + s.received > 0);
  }

  it('arbitrary strings', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 300 }), async (s) => wellFormed(await outcome(s))), { numRuns: 300 });
  });

  it('arbitrary JSON values', async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue(), async (v) => wellFormed(await outcome(JSON.stringify(v)))), { numRuns: 300 });
  });

  it('listings whose sets hold arbitrary JSON in place of elements', async () => {
    const address = fc.oneof(fc.constantFrom('2001:db8::1', '2001:db8::2', '::', 'ffff::'), fc.string());
    const element = fc.oneof(
      fc.jsonValue(),
      fc.record({ elem: fc.record({ val: fc.record({ concat: fc.array(fc.oneof(address, fc.jsonValue()), { maxLength: 3 }) }), counter: fc.record({ packets: fc.oneof(fc.nat(), fc.double(), fc.jsonValue()) }) }, { requiredKeys: [] }) }),
    );
    const set = (name: string) => fc.record({ set: fc.record({ family: fc.constant('inet'), table: fc.constant('shim6'), name: fc.constant(name), elem: fc.oneof(fc.array(element, { maxLength: 8 }), fc.jsonValue()) }, { requiredKeys: ['family', 'table', 'name'] }) });
    const doc = fc.record({ nftables: fc.array(fc.oneof(set('out'), set('in'), fc.jsonValue()), { maxLength: 5 }) });
    await fc.assert(fc.asyncProperty(doc, async (d) => wellFormed(await outcome(JSON.stringify(d)))), { numRuns: 300 });
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
});
