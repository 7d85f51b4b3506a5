/**
 * FlowLabelIntercept (src/io/flow-label-intercept.ts): with a fake command runner, the
 * exact nft scripts of install, add, remove and uninstall, reference counting of shared
 * labels and pairs, roll-back when nft fails, one command at a time under concurrent
 * calls, every typed error (and no command run for any of them), option checks, the
 * counter parser, and a seeded fast-check model of random add/remove sequences against a
 * simulated kernel set; then, as root, the real table in two namespaces:
 *
 *   namespace s6flA-<pid> (sender)                 namespace s6flB-<pid> (receiver)
 *   va   2001:db8:f::1/64, ::3  ──── veth ────  vb   2001:db8:f::2/64, ::4   hooked
 *   va2  2001:db8:e::1/64       ──── veth ────  vb2  2001:db8:e::2/64        hooked
 *                                               s6fl0 TUN  ─┐ a child node process reads
 *                                               UDP [::]:PORT┘ both, prints JSON lines
 *   python3 raw socket (IPPROTO_RAW): whole IPv6 + UDP packets with chosen flow labels
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileRunner, type CommandResult, type CommandRunner } from '../../src/daemon/system.js';
import {
  FlowLabelIntercept, FlowLabelInterceptError, MAX_PAIRS_PER_ENTRY, type FlowLabelInterceptOptions, type InterceptEntry,
} from '../../src/io/flow-label-intercept.js';
import { describeNetns, ROOT } from '../netns/topology.js';
import { fakeRunner, ip6 } from './runner.util.js';


const OPTIONS: FlowLabelInterceptOptions = { table: 'shim6fl', devices: ['eth1', 'eth2'], target: 'shim6fl0' };
const T = 'shim6fl';

/** The install script for OPTIONS with `elements` (the add element lines) after the table. */
function installScript(elements: readonly string[] = [], opts: { devices?: string; priority?: number; target?: string } = {}): string {
  const { devices = '"eth1", "eth2"', priority = -500, target = 'shim6fl0' } = opts;
  return `table netdev ${T}
delete table netdev ${T}
table netdev ${T} {
\tset labels {
\t\ttypeof ip6 flowlabel
\t}
\tset pairs {
\t\ttypeof ip6 saddr . ip6 daddr
\t}
\tchain in {
\t\ttype filter hook ingress devices = { ${devices} } priority ${priority}; policy accept;
\t\tip6 flowlabel @labels ip6 saddr . ip6 daddr @pairs counter fwd ip6 to fe80::1 device "${target}"
\t}
}
${elements.map((e) => `${e}\n`).join('')}`;
}

const P1: readonly [Uint8Array, Uint8Array] = [ip6('2001:db8:1:b::1'), ip6('2001:db8:1:a::1')];
const P2: readonly [Uint8Array, Uint8Array] = [ip6('2001:db8:2:b::1'), ip6('2001:db8:1:a::1')];
const P3: readonly [Uint8Array, Uint8Array] = [ip6('2001:db8:2:b::1'), ip6('2001:db8:2:a::1')];
const P1_TEXT = '2001:db8:1:b::1 . 2001:db8:1:a::1';
const P2_TEXT = '2001:db8:2:b::1 . 2001:db8:1:a::1';
const P3_TEXT = '2001:db8:2:b::1 . 2001:db8:2:a::1';

/** The test's own canonical text of an address (lower case, the one zero run of these addresses as ::). */
function formatText(a: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((a[i]! << 8) | a[i + 1]!).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** An installed intercept over a fresh fake runner, the install call already cleared. */
async function installed(options: FlowLabelInterceptOptions = OPTIONS) {
  const f = fakeRunner();
  const intercept = new FlowLabelIntercept(options, f.runner);
  await intercept.install();
  f.calls.length = 0;
  return { f, intercept };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (error) {
    if (error instanceof FlowLabelInterceptError) return error.code;
    throw error;
  }
}

describe('nft scripts', () => {
  it('install: a leftover table deleted and the table, both sets and the multi-device chain created in one nft -f - transaction', async () => {
    const f = fakeRunner();
    const intercept = new FlowLabelIntercept(OPTIONS, f.runner);
    await intercept.install();
    expect(f.calls).toEqual([{ line: 'nft -f -', input: installScript() }]);
    expect(intercept.entries).toBe(0);
  });

  it('install with one device and a priority of its own', async () => {
    const f = fakeRunner();
    await new FlowLabelIntercept({ table: T, devices: ['wlan0'], target: 'tun7', priority: 10 }, f.runner).install();
    expect(f.calls).toEqual([{ line: 'nft -f -', input: installScript([], { devices: '"wlan0"', priority: 10, target: 'tun7' }) }]);
  });

  it('add: the label and the pairs in one transaction, addresses in canonical text, peer first', async () => {
    const { f, intercept } = await installed();
    await intercept.add({ name: 'ctx1', label: 0x12345, pairs: [[ip6('2001:DB8:1:B:0:0:0:1'), ip6('2001:db8:1:a::1')], P2] });
    expect(f.calls).toEqual([{
      line: 'nft -f -',
      input: `add element netdev ${T} labels { 74565 }\nadd element netdev ${T} pairs { ${P1_TEXT}, ${P2_TEXT} }\n`,
    }]);
    expect(intercept.entries).toBe(1);
  });

  it('add: a pair repeated inside one entry is one element; an entry without pairs adds its label', async () => {
    const { f, intercept } = await installed();
    await intercept.add({ name: 'a', label: 1, pairs: [P1, [P1[0].slice(), P1[1].slice()], P1] });
    await intercept.add({ name: 'b', label: 2, pairs: [] });
    expect(f.calls.map((c) => c.input)).toEqual([
      `add element netdev ${T} labels { 1 }\nadd element netdev ${T} pairs { ${P1_TEXT} }\n`,
      `add element netdev ${T} labels { 2 }\n`,
    ]);
    await intercept.remove('a');
    expect(f.calls[2]?.input).toBe(`delete element netdev ${T} labels { 1 }\ndelete element netdev ${T} pairs { ${P1_TEXT} }\n`);
  });

  it('remove: deletes the label and pairs of the entry', async () => {
    const { f, intercept } = await installed();
    await intercept.add({ name: 'ctx1', label: 7, pairs: [P1, P3] });
    await intercept.remove('ctx1');
    expect(f.calls[1]).toEqual({ line: 'nft -f -', input: `delete element netdev ${T} labels { 7 }\ndelete element netdev ${T} pairs { ${P1_TEXT}, ${P3_TEXT} }\n` });
    expect(intercept.entries).toBe(0);
  });

  it('uninstall: the table deleted, tolerant of its absence (created first), idempotent, also before any install', async () => {
    const f = fakeRunner();
    const intercept = new FlowLabelIntercept(OPTIONS, f.runner);
    await intercept.uninstall();
    await intercept.install();
    await intercept.add({ name: 'x', label: 1, pairs: [P1] });
    await intercept.uninstall();
    await intercept.uninstall();
    const del = { line: 'nft -f -', input: `table netdev ${T}\ndelete table netdev ${T}\n` };
    expect(f.calls).toEqual([del, { line: 'nft -f -', input: installScript() }, expect.anything(), del, del]);
    expect(intercept.entries).toBe(0);
    await expect(intercept.add({ name: 'x', label: 1, pairs: [P1] })).rejects.toMatchObject({ code: 'not-installed' });
  });

  it('install again rebuilds the table with every installed element, 256 per add element line', async () => {
    const { f, intercept } = await installed();
    const pairs = Array.from({ length: 256 }, (_, i) => [ip6(`2001:db8:9::${(i + 1).toString(16)}`), ip6('2001:db8:1:a::1')] as const);
    await intercept.add({ name: 'big', label: 5, pairs });
    await intercept.add({ name: 'more', label: 6, pairs: [P1, P2] });
    await intercept.add({ name: 'shared', label: 5, pairs: [P1] });
    f.calls.length = 0;
    await intercept.install();
    const texts = [...pairs.map(([p, l]) => `${formatText(p)} . ${formatText(l)}`), P1_TEXT, P2_TEXT];
    expect(f.calls).toEqual([{
      line: 'nft -f -',
      input: installScript([
        `add element netdev ${T} labels { 5, 6 }`,
        `add element netdev ${T} pairs { ${texts.slice(0, 256).join(', ')} }`,
        `add element netdev ${T} pairs { ${texts.slice(256).join(', ')} }`,
      ]),
    }]);
    expect(intercept.entries).toBe(3);
  });
});

describe('reference counts', () => {
  it('a shared label or pair is added once and deleted with its last entry', async () => {
    const { f, intercept } = await installed();
    await intercept.add({ name: 'a', label: 100, pairs: [P1, P2] });
    await intercept.add({ name: 'b', label: 100, pairs: [P2, P3] }); // label and P2 shared
    await intercept.add({ name: 'c', label: 100, pairs: [P1] }); // nothing new: no command
    expect(f.calls.map((c) => c.input)).toEqual([
      `add element netdev ${T} labels { 100 }\nadd element netdev ${T} pairs { ${P1_TEXT}, ${P2_TEXT} }\n`,
      `add element netdev ${T} pairs { ${P3_TEXT} }\n`,
    ]);
    f.calls.length = 0;
    await intercept.remove('a'); // P1 still held by c, P2 by b, the label by both
    expect(f.calls).toEqual([]);
    await intercept.remove('b');
    expect(f.calls.map((c) => c.input)).toEqual([`delete element netdev ${T} pairs { ${P2_TEXT}, ${P3_TEXT} }\n`]);
    await intercept.remove('c');
    expect(f.calls.map((c) => c.input)).toEqual([
      `delete element netdev ${T} pairs { ${P2_TEXT}, ${P3_TEXT} }\n`,
      `delete element netdev ${T} labels { 100 }\ndelete element netdev ${T} pairs { ${P1_TEXT} }\n`,
    ]);
    expect(intercept.entries).toBe(0);
  });

  it('a name can be used again once removed', async () => {
    const { f, intercept } = await installed();
    await intercept.add({ name: 'a', label: 1, pairs: [P1] });
    await intercept.remove('a');
    await intercept.add({ name: 'a', label: 2, pairs: [P1] });
    expect(f.calls.at(-1)?.input).toBe(`add element netdev ${T} labels { 2 }\nadd element netdev ${T} pairs { ${P1_TEXT} }\n`);
  });

  it('maxElements bounds each set: full, and nothing run', async () => {
    const { f, intercept } = await installed({ ...OPTIONS, maxElements: 2 });
    await intercept.add({ name: 'a', label: 1, pairs: [P1, P2] });
    f.calls.length = 0;
    expect(await codeOf(intercept.add({ name: 'b', label: 2, pairs: [P3] }))).toBe('full'); // pairs would be 3
    await intercept.add({ name: 'c', label: 2, pairs: [P2] }); // labels 2, pairs still 2
    expect(await codeOf(intercept.add({ name: 'd', label: 3, pairs: [] }))).toBe('full'); // labels would be 3
    expect(f.calls.map((c) => c.input)).toEqual([`add element netdev ${T} labels { 2 }\n`]);
    expect(intercept.entries).toBe(2);
  });
});

describe('failures roll back', () => {
  const fail = { code: 1, stderr: 'Error: Could not process rule: No such file or directory\n' };

  it('a failed add leaves nothing behind: the same add later issues the same command', async () => {
    const { f, intercept } = await installed();
    await intercept.add({ name: 'a', label: 1, pairs: [P1] });
    f.answer = () => fail;
    const err = await intercept.add({ name: 'b', label: 2, pairs: [P1, P2] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlowLabelInterceptError);
    expect(err).toMatchObject({ code: 'command-failed', message: expect.stringContaining('nft -f -: Error: Could not process rule') });
    expect(intercept.entries).toBe(1);
    f.answer = () => undefined;
    await intercept.add({ name: 'b', label: 2, pairs: [P1, P2] });
    expect(f.calls.slice(1).map((c) => c.input)).toEqual([
      `add element netdev ${T} labels { 2 }\nadd element netdev ${T} pairs { ${P2_TEXT} }\n`,
      `add element netdev ${T} labels { 2 }\nadd element netdev ${T} pairs { ${P2_TEXT} }\n`,
    ]);
  });

  it('a failed remove keeps the entry and its counts: the retry deletes the same elements', async () => {
    const { f, intercept } = await installed();
    await intercept.add({ name: 'a', label: 1, pairs: [P1, P2] });
    await intercept.add({ name: 'b', label: 1, pairs: [P2] });
    f.calls.length = 0;
    f.answer = () => fail;
    expect(await codeOf(intercept.remove('a'))).toBe('command-failed');
    expect(intercept.entries).toBe(2);
    f.answer = () => undefined;
    await intercept.remove('a');
    await intercept.remove('b');
    const deleteA = `delete element netdev ${T} pairs { ${P1_TEXT} }\n`;
    expect(f.calls.map((c) => c.input)).toEqual([deleteA, deleteA, `delete element netdev ${T} labels { 1 }\ndelete element netdev ${T} pairs { ${P2_TEXT} }\n`]);
  });

  it('a failed first install leaves it not installed; a failed uninstall leaves it installed with its entries', async () => {
    const f = fakeRunner();
    const intercept = new FlowLabelIntercept(OPTIONS, f.runner);
    f.answer = () => fail;
    expect(await codeOf(intercept.install())).toBe('command-failed');
    expect(await codeOf(intercept.add({ name: 'a', label: 1, pairs: [] }))).toBe('not-installed');
    f.answer = () => undefined;
    await intercept.install();
    await intercept.add({ name: 'a', label: 1, pairs: [P1] });
    f.answer = () => fail;
    expect(await codeOf(intercept.uninstall())).toBe('command-failed');
    expect(await codeOf(intercept.install())).toBe('command-failed'); // the old table stays, entries too
    expect(intercept.entries).toBe(1);
    f.answer = () => undefined;
    await intercept.remove('a');
    expect(f.calls.at(-1)?.input).toBe(`delete element netdev ${T} labels { 1 }\ndelete element netdev ${T} pairs { ${P1_TEXT} }\n`);
  });

  it('a runner that rejects, against its contract, is command-failed too, and the queue goes on', async () => {
    let reject = true;
    const runner: CommandRunner = async () => {
      if (reject) throw new Error('spawn nft ENOENT');
      return { code: 0, stdout: '', stderr: '' };
    };
    const intercept = new FlowLabelIntercept(OPTIONS, runner);
    await expect(intercept.install()).rejects.toMatchObject({ code: 'command-failed', message: expect.stringContaining('ENOENT') });
    reject = false;
    await intercept.install();
  });
});

/** Resolves once `predicate()` holds, checking after each macrotask (bounded). */
async function untilTrue(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !predicate(); i++) await new Promise((r) => setImmediate(r));
  if (!predicate()) throw new Error('condition never held');
}

describe('one command at a time', () => {
  it('concurrent calls run in call order, each after the previous one finished', async () => {
    const pending: { line: string; input: string | undefined; resolve: (r: CommandResult) => void }[] = [];
    let inFlight = 0;
    let most = 0;
    const runner: CommandRunner = (file, args, input) => new Promise((resolve) => {
      inFlight++;
      most = Math.max(most, inFlight);
      pending.push({ line: [file, ...args].join(' '), input, resolve: (r) => { inFlight--; resolve(r); } });
    });
    const intercept = new FlowLabelIntercept(OPTIONS, runner);
    const listing = `table netdev ${T} {\n\tchain in {\n\t\tip6 flowlabel @labels ip6 saddr . ip6 daddr @pairs counter packets 2 bytes 3000 fwd ip6 to fe80::1 device "shim6fl0"\n\t}\n}\n`;
    const results: string[] = [];
    const track = (what: string, p: Promise<unknown>) => p.then(() => results.push(`${what} ok`), (e: FlowLabelInterceptError) => results.push(`${what} ${e.code}`));
    const all = [
      track('install', intercept.install()),
      track('add a', intercept.add({ name: 'a', label: 1, pairs: [P1] })),
      track('add b', intercept.add({ name: 'b', label: 1, pairs: [P1, P2] })),
      track('remove a', intercept.remove('a')),
      track('add a again', intercept.add({ name: 'a', label: 1, pairs: [P1] })),
      track('redirected', intercept.redirected()),
      track('remove c', intercept.remove('c')),
      track('uninstall', intercept.uninstall()),
    ];
    const expected = [
      ['nft -f -', installScript()],
      ['nft -f -', `add element netdev ${T} labels { 1 }\nadd element netdev ${T} pairs { ${P1_TEXT} }\n`],
      ['nft -f -', `add element netdev ${T} pairs { ${P2_TEXT} }\n`],
      // remove a: P1 and the label are still held by b, no command; add a again: none either.
      ['nft list chain netdev shim6fl in', undefined],
      ['nft -f -', `table netdev ${T}\ndelete table netdev ${T}\n`],
    ] as const;
    for (const [line, input] of expected) {
      await untilTrue(() => pending.length > 0);
      // Give the queue every chance to start another command too early.
      for (let i = 0; i < 10; i++) await Promise.resolve();
      expect(pending).toHaveLength(1);
      const call = pending.shift()!;
      expect([call.line, call.input]).toEqual([line, input]);
      call.resolve({ code: 0, stdout: line.startsWith('nft list') ? listing : '', stderr: '' });
    }
    await Promise.all(all);
    expect(most).toBe(1);
    expect(results).toEqual(['install ok', 'add a ok', 'add b ok', 'remove a ok', 'add a again ok', 'redirected ok', 'remove c unknown', 'uninstall ok']);
    expect(intercept.entries).toBe(0);
  });
});

describe('typed errors, and no command run for any of them', () => {
  const cases: [what: string, entry: unknown][] = [
    ['label 0', { name: 'x', label: 0, pairs: [] }],
    ['label 2^20', { name: 'x', label: 0x10_0000, pairs: [] }],
    ['label -1', { name: 'x', label: -1, pairs: [] }],
    ['label 1.5', { name: 'x', label: 1.5, pairs: [] }],
    ['label NaN', { name: 'x', label: Number.NaN, pairs: [] }],
    ['label as a string', { name: 'x', label: '5', pairs: [] }],
    ['a 15-octet address', { name: 'x', label: 1, pairs: [[new Uint8Array(15), P1[1]]] }],
    ['a 17-octet address', { name: 'x', label: 1, pairs: [[P1[0], new Uint8Array(17)]] }],
    ['an address as a number array', { name: 'x', label: 1, pairs: [[Array.from(P1[0]), P1[1]]] }],
    ['a pair of three', { name: 'x', label: 1, pairs: [[P1[0], P1[1], P1[1]]] }],
    ['a pair of one', { name: 'x', label: 1, pairs: [[P1[0]]] }],
    ['pairs not an array', { name: 'x', label: 1, pairs: 'P1' }],
    [`${MAX_PAIRS_PER_ENTRY + 1} pairs`, { name: 'x', label: 1, pairs: Array.from({ length: MAX_PAIRS_PER_ENTRY + 1 }, () => P1) }],
    ['an empty name', { name: '', label: 1, pairs: [] }],
    ['a name of 257 characters', { name: 'n'.repeat(257), label: 1, pairs: [] }],
    ['a name that is not a string', { name: 7, label: 1, pairs: [] }],
    ['no entry at all', null],
  ];

  it.each(cases)('add with %s: bad-entry', async (_what, entry) => {
    const { f, intercept } = await installed();
    const err = await intercept.add(entry as InterceptEntry).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlowLabelInterceptError);
    expect(err).toMatchObject({ name: 'FlowLabelInterceptError', code: 'bad-entry' });
    expect(f.calls).toEqual([]);
    expect(intercept.entries).toBe(0);
  });

  it('the limits themselves are accepted: label 1 and 2^20 − 1, 256 pairs, a 256-character name', async () => {
    const { intercept } = await installed();
    await intercept.add({ name: 'n'.repeat(256), label: 0xf_ffff, pairs: Array.from({ length: MAX_PAIRS_PER_ENTRY }, () => P1) });
    await intercept.add({ name: 'one', label: 1, pairs: [] });
    expect(intercept.entries).toBe(2);
  });

  it('remove of a name that is not a string: bad-entry', async () => {
    const { f, intercept } = await installed();
    expect(await codeOf(intercept.remove(3 as unknown as string))).toBe('bad-entry');
    expect(f.calls).toEqual([]);
  });

  it('duplicate, unknown, not-installed', async () => {
    const f = fakeRunner();
    const intercept = new FlowLabelIntercept(OPTIONS, f.runner);
    expect(await codeOf(intercept.add({ name: 'a', label: 1, pairs: [P1] }))).toBe('not-installed');
    expect(await codeOf(intercept.remove('a'))).toBe('not-installed');
    expect(await codeOf(intercept.redirected())).toBe('not-installed');
    expect(f.calls).toEqual([]);
    await intercept.install();
    await intercept.add({ name: 'a', label: 1, pairs: [P1] });
    f.calls.length = 0;
    expect(await codeOf(intercept.add({ name: 'a', label: 2, pairs: [P2] }))).toBe('duplicate');
    expect(await codeOf(intercept.remove('b'))).toBe('unknown');
    expect(f.calls).toEqual([]);
    expect(intercept.entries).toBe(1);
  });
});

describe('redirected: the rule counter from nft list chain', () => {
  /** `nft list chain netdev <t> in` as nft 1.0.6 printed it here (two hooked veths; the target later deleted: `device 7`). */
  const listing = (counter: string, device = '"s6fl0"') =>
    `table netdev ${T} {\n\tchain in {\n\t\ttype filter hook ingress devices = { vb, vb2 } priority -500; policy accept;\n` +
    `\t\tip6 flowlabel @labels ip6 saddr . ip6 daddr @pairs ${counter} fwd ip6 to fe80::1 device ${device}\n\t}\n}\n`;

  async function redirected(stdout: string, code = 0) {
    const { f, intercept } = await installed();
    f.answer = (line) => (line === `nft list chain netdev ${T} in` ? { stdout, code } : undefined);
    const result = await intercept.redirected().catch((e: unknown) => e);
    expect(f.calls.map((c) => c.line)).toEqual([`nft list chain netdev ${T} in`]);
    return result;
  }

  it('reads packets and bytes', async () => {
    expect(await redirected(listing('counter packets 3 bytes 4500'))).toEqual({ packets: 3, bytes: 4500 });
    expect(await redirected(listing('counter packets 0 bytes 0', '7'))).toEqual({ packets: 0, bytes: 0 });
    expect(await redirected(listing('counter packets 9007199254740991 bytes 9007199254740991'))).toEqual({ packets: 2 ** 53 - 1, bytes: 2 ** 53 - 1 });
  });

  it.each([
    ['no counter', listing('')],
    ['two counters', listing('counter packets 1 bytes 2 counter packets 1 bytes 2')],
    ['a counter beyond 2^53', listing('counter packets 9007199254740993 bytes 1')],
    ['a malformed counter', listing('counter packets x bytes 1')],
    ['a leading zero', listing('counter packets 01 bytes 1')],
    ['empty output', ''],
  ])('%s is command-failed', async (_what, stdout) => {
    expect(await redirected(stdout)).toMatchObject({ code: 'command-failed' });
  });

  it('a failed listing (the chain is gone) is command-failed with nft\'s message', async () => {
    expect(await redirected('', 1)).toMatchObject({ code: 'command-failed', message: expect.stringContaining(`nft list chain netdev ${T} in`) });
  });
});

describe('options', () => {
  const bad: [what: string, options: Record<string, unknown>][] = [
    ['a table name starting with a digit', { table: '1fl' }],
    ['a table name with a dash', { table: 'fl-x' }],
    ['a table name of 33 characters', { table: 't'.repeat(33) }],
    ['an empty table name', { table: '' }],
    ['no devices', { devices: [] }],
    ['17 devices', { devices: Array.from({ length: 17 }, (_, i) => `eth${i}`) }],
    ['devices not an array', { devices: 'eth1' }],
    ['a device repeated', { devices: ['eth1', 'eth1'] }],
    ['an empty device name', { devices: [''] }],
    ['a device name of 16 octets', { devices: ['d'.repeat(16)] }],
    ['a device name of 8 two-octet characters', { devices: ['é'.repeat(8)] }],
    ['a device name with /', { devices: ['a/b'] }],
    ['a device name with :', { devices: ['eth0:1'] }],
    ['a device name with a space', { devices: ['a b'] }],
    ['a device name with a tab', { devices: ['a\tb'] }],
    ['a device name with a double quote', { devices: ['a"b'] }],
    ['a device name with a single quote', { devices: ["a'b"] }],
    ['a device name with a backslash', { devices: ['a\\b'] }],
    ['a device name with a newline', { devices: ['a\nb'] }],
    ['the device name .', { devices: ['.'] }],
    ['the device name ..', { devices: ['..'] }],
    ['a device that is not a string', { devices: [7] }],
    ['a bad target', { target: 'tun "x"' }],
    ['no target', { target: undefined }],
    ['the target among the devices', { target: 'eth2' }],
    ['a fractional priority', { priority: 1.5 }],
    ['a priority below -2^31', { priority: -(2 ** 31) - 1 }],
    ['a priority of 2^31', { priority: 2 ** 31 }],
    ['a priority as a string', { priority: '-500' }],
    ['maxElements 0', { maxElements: 0 }],
    ['maxElements beyond 2^20', { maxElements: 2 ** 20 + 1 }],
    ['maxElements NaN', { maxElements: Number.NaN }],
  ];

  it.each(bad)('%s: bad-option, thrown by the constructor, nothing run', (_what, change) => {
    const f = fakeRunner();
    let err: unknown;
    try {
      new FlowLabelIntercept({ ...OPTIONS, ...change } as unknown as FlowLabelInterceptOptions, f.runner);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FlowLabelInterceptError);
    expect(err).toMatchObject({ code: 'bad-option' });
    expect(f.calls).toEqual([]);
  });

  it('the limits themselves are accepted', () => {
    const run = fakeRunner().runner;
    for (const options of [
      { table: '_', devices: ['a'], target: 'b' },
      { table: `T${'t'.repeat(31)}`, devices: Array.from({ length: 16 }, (_, i) => `eth${i}`), target: 't'.repeat(15) },
      { table: 't', devices: ['é'.repeat(7), 'x.y-z_@1'], target: 'tun0', priority: -(2 ** 31), maxElements: 1 },
      { table: 't', devices: ['a'], target: 'b', priority: 2 ** 31 - 1, maxElements: 2 ** 20 },
    ]) expect(() => new FlowLabelIntercept(options, run)).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------
// A seeded model: random add/remove sequences (some nft calls failing) against a
// simulated kernel that applies each successful script to two sets and refuses to add an
// element twice or delete an absent one. After every step the simulated sets must equal
// the union of the live entries' labels and pairs, computed naively.
// ---------------------------------------------------------------------------------------

describe('model (fast-check, seeded)', () => {
  const PAIRS = [P1, P2, P3, [ip6('2001:db8:3::1'), ip6('2001:db8:3::2')] as const];
  const PAIR_TEXTS = [P1_TEXT, P2_TEXT, P3_TEXT, '2001:db8:3::1 . 2001:db8:3::2'];
  const NAMES = ['a', 'b', 'c', 'd', 'e'];

  type Op =
    | { readonly kind: 'add'; readonly name: number; readonly label: number; readonly pairs: readonly number[]; readonly fail: boolean }
    | { readonly kind: 'remove'; readonly name: number; readonly fail: boolean };

  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      kind: fc.constant('add' as const),
      name: fc.nat({ max: NAMES.length - 1 }),
      label: fc.integer({ min: 1, max: 4 }),
      pairs: fc.array(fc.nat({ max: PAIRS.length - 1 }), { maxLength: 4 }),
      fail: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('remove' as const), name: fc.nat({ max: NAMES.length - 1 }), fail: fc.boolean() }),
  );

  /** Applies one `nft -f -` script to the simulated sets; a string says why the kernel would refuse it. */
  function applyScript(sets: Record<string, Set<string>>, script: string): string | undefined {
    const next = { labels: new Set(sets['labels']), pairs: new Set(sets['pairs']) };
    for (const line of script.split('\n')) {
      if (line === '') continue;
      const m = /^(add|delete) element netdev shim6fl (labels|pairs) \{ (.+) \}$/.exec(line);
      if (m === null) return `unexpected line ${line}`;
      const set = next[m[2] as 'labels' | 'pairs'];
      for (const e of m[3]!.split(', ')) {
        if (m[1] === 'add') {
          if (set.has(e)) return `${e} added twice`;
          set.add(e);
        } else {
          if (!set.delete(e)) return `${e} deleted while absent`;
        }
      }
    }
    sets['labels'] = next.labels;
    sets['pairs'] = next.pairs;
    return undefined;
  }

  it('the simulated kernel sets always equal the union of the live entries', async () => {
    await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.integer({ min: 1, max: 4 }), async (ops, maxElements) => {
      const sets: Record<string, Set<string>> = { labels: new Set(), pairs: new Set() };
      let failNext = false;
      let refused: string | undefined;
      const runner: CommandRunner = async (_file, args, input) => {
        if (failNext) return { code: 1, stdout: '', stderr: 'Error: injected' };
        if (args.join(' ') === '-f -' && input !== undefined && !input.startsWith('table')) refused ??= applyScript(sets, input);
        return { code: 0, stdout: '', stderr: '' };
      };
      const intercept = new FlowLabelIntercept({ ...OPTIONS, maxElements }, runner);
      await intercept.install();
      const live = new Map<string, { label: number; pairs: Set<string> }>();
      for (const o of ops) {
        const name = NAMES[o.name]!;
        const union = (map: typeof live) => ({
          labels: new Set([...map.values()].map((e) => String(e.label))),
          pairs: new Set([...map.values()].flatMap((e) => [...e.pairs])),
        });
        let expected: string;
        const after = new Map(live);
        if (o.kind === 'add') {
          after.set(name, { label: o.label, pairs: new Set(o.pairs.map((i) => PAIR_TEXTS[i]!)) });
          const before = union(live);
          const then = union(after);
          const needsCommand = then.labels.size > before.labels.size || then.pairs.size > before.pairs.size;
          expected = live.has(name) ? 'duplicate'
            : then.labels.size > maxElements || then.pairs.size > maxElements ? 'full'
            : needsCommand && o.fail ? 'command-failed' : 'ok';
        } else {
          after.delete(name);
          const needsCommand = live.has(name) && (union(after).labels.size < union(live).labels.size || union(after).pairs.size < union(live).pairs.size);
          expected = !live.has(name) ? 'unknown' : needsCommand && o.fail ? 'command-failed' : 'ok';
        }
        failNext = o.fail;
        const entry: InterceptEntry = { name, label: o.kind === 'add' ? o.label : 1, pairs: o.kind === 'add' ? o.pairs.map((i) => PAIRS[i]!) : [] };
        const got = await codeOf(o.kind === 'add' ? intercept.add(entry) : intercept.remove(name));
        failNext = false;
        expect(got).toBe(expected);
        if (got === 'ok') {
          live.clear();
          for (const [k, v] of after) live.set(k, v);
        }
        expect(refused).toBeUndefined();
        const want = union(live);
        expect([...sets['labels']!].sort()).toEqual([...want.labels].sort());
        expect([...sets['pairs']!].sort()).toEqual([...want.pairs].sort());
        expect(intercept.entries).toBe(live.size);
      }
      return true;
    }), { seed: 0x5_1f_6c, numRuns: 300 });
  });
});

// ---------------------------------------------------------------------------------------
// The real table, as root (see the diagram at the top).
// ---------------------------------------------------------------------------------------

const PORT = 9461;
const NS_A = `s6flA-${process.pid}`;
const NS_B = `s6flB-${process.pid}`;
const TUN = 's6fl0';

/** Reads the TUN and a UDP socket on [::]:PORT in the receiving namespace; one JSON line per UDP packet or datagram. */
const READER = `
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
const [dist, name, port] = process.argv.slice(1);
const { openTun } = await import(dist + 'src/io/tun.js');
const { PacketBatch } = await import(dist + 'src/io/batch.js');
const { formatIpv6 } = await import(dist + 'src/wire/address.js');
const print = (v) => process.stdout.write(JSON.stringify(v) + '\\n');
const tagOf = (b) => { const nl = b.indexOf(10); return Buffer.from(b.subarray(0, nl < 0 ? 0 : nl)).toString(); };
const tun = openTun({ name });
execFileSync('ip', ['link', 'set', name, 'up']);
const socket = dgram.createSocket('udp6');
socket.on('message', (msg, rinfo) => print({ via: 'socket', tag: tagOf(msg), from: rinfo.address, length: msg.length }));
await new Promise((resolve) => socket.bind(Number(port), '::', resolve));
const batch = new PacketBatch(64, 4096, 0);
tun.onReadable(() => {
  while (tun.readBatch(batch) > 0) {
    for (let i = 0; i < batch.count; i++) {
      const p = batch.buffer.subarray(batch.offsets[i], batch.offsets[i] + batch.lengths[i]);
      if (p.length < 48 || p[0] >> 4 !== 6 || p[6] !== 17 || ((p[42] << 8) | p[43]) !== Number(port)) continue;
      print({
        via: 'tun', tag: tagOf(p.subarray(48)), length: p.length, label: ((p[1] & 0x0f) << 16) | (p[2] << 8) | p[3],
        hopLimit: p[7], src: formatIpv6(p, 8), dst: formatIpv6(p, 24),
        sha256: createHash('sha256').update(p.subarray(40)).digest('hex'),
      });
    }
  }
});
process.stdin.on('end', () => { tun.onReadable(null); tun.close(); socket.close(); });
process.stdin.resume();
print({ ready: true });
`;

/** Sends whole IPv6 + UDP packets through an IPPROTO_RAW socket; prints the SHA-256 of each UDP segment. */
const SENDER = `
import hashlib, json, socket, struct, sys
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
out = []
for p in json.loads(sys.argv[1]):
    src, dst = socket.inet_pton(socket.AF_INET6, p['src']), socket.inet_pton(socket.AF_INET6, p['dst'])
    plen = p['length'] - 40
    data = (p['tag'] + '\\n').encode()
    data += bytes((i * 7) & 0xff for i in range(plen - 8 - len(data)))
    udp = struct.pack('!HHHH', 40000, p['port'], plen, 0) + data
    c = csum(src + dst + struct.pack('!I3xB', plen, 17) + udp) or 0xffff
    udp = udp[:6] + struct.pack('!H', c) + udp[8:]
    head = struct.pack('!IHBB', (6 << 28) | p['label'], plen, 17, p['hopLimit']) + src + dst
    sock.sendto(head + udp, (p['dst'], 0))
    out.append(hashlib.sha256(udp).hexdigest())
print(json.dumps(out))
`;

interface Seen {
  readonly via: 'tun' | 'socket';
  readonly tag: string;
  readonly length: number;
  readonly label?: number;
  readonly hopLimit?: number;
  readonly src?: string;
  readonly dst?: string;
  readonly sha256?: string;
  readonly from?: string;
}

interface Send {
  readonly src: string;
  readonly dst: string;
  readonly label: number;
  readonly tag: string;
  readonly length?: number;
  readonly hopLimit?: number;
}

describeNetns('FlowLabelIntercept on the real kernel: netdev ingress fwd into a TUN', () => {
  const base = execFileRunner();
  const inB: CommandRunner = (file, args, input) => base('ip', ['netns', 'exec', NS_B, file, ...args], input);
  const intercept = new FlowLabelIntercept({ table: 's6fl', devices: ['vb', 'vb2'], target: TUN }, inB);
  const seen: Seen[] = [];
  let reader: ChildProcessByStdio<Writable, Readable, Readable> | undefined;
  let readerReady = false;
  let readerErr = '';

  function ns(name: string, ...args: string[]): string {
    const r = spawnSync('ip', ['netns', 'exec', name, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`in ${name}: ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
    return r.stdout;
  }

  function cleanup(): void {
    if (reader !== undefined && reader.exitCode === null && reader.signalCode === null) reader.kill('SIGKILL');
    for (const name of [NS_A, NS_B]) spawnSync('ip', ['netns', 'del', name]);
  }

  async function waitFor(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; seen ${JSON.stringify(seen)}; reader stderr: ${readerErr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Sends the packets from namespace A (UDP to PORT, 1500 octets and hop limit 64 unless given); returns the SHA-256 of each UDP segment. */
  function send(...packets: Send[]): string[] {
    const list = packets.map((p) => ({ length: 1500, hopLimit: 64, port: PORT, ...p }));
    return JSON.parse(ns(NS_A, 'python3', '-c', SENDER, JSON.stringify(list))) as string[];
  }

  const arrived = (tag: string) => seen.find((s) => s.tag === tag);

  beforeAll(async () => {
    try {
      for (const path of ['dist/src/io/tun.js', 'dist/src/io/batch.js', 'dist/src/wire/address.js', 'native/build/Release/shim6_native.node']) {
        if (!existsSync(`${ROOT}${path}`)) throw new Error(`${path} is missing: run npm run build:native && npm run build`);
      }
      if (spawnSync('python3', ['--version']).status !== 0) throw new Error('python3 is missing (the raw-socket sender)');
      for (const name of [NS_A, NS_B]) {
        spawnSync('ip', ['netns', 'del', name]);
        const r = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
        ns(name, 'ip', 'link', 'set', 'lo', 'up');
      }
      for (const [a, b] of [['va', 'vb'], ['va2', 'vb2']] as const) {
        ns(NS_A, 'ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', NS_B);
        ns(NS_A, 'ip', 'link', 'set', a, 'up');
        ns(NS_B, 'ip', 'link', 'set', b, 'up');
      }
      for (const [name, dev, addrs] of [
        [NS_A, 'va', ['2001:db8:f::1', '2001:db8:f::3']], [NS_B, 'vb', ['2001:db8:f::2', '2001:db8:f::4']],
        [NS_A, 'va2', ['2001:db8:e::1']], [NS_B, 'vb2', ['2001:db8:e::2']],
      ] as const) {
        for (const a of addrs) ns(name, 'ip', '-6', 'addr', 'add', `${a}/64`, 'dev', dev, 'nodad');
      }
      const child = spawn('ip', ['netns', 'exec', NS_B, process.execPath, '--input-type=module', '-e', READER, `${ROOT}dist/`, TUN, String(PORT)], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      reader = child;
      let buffered = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => {
        buffered += s;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const v = JSON.parse(line) as Seen | { ready: true };
          if ('via' in v) seen.push(v);
          else readerReady = true;
        }
      });
      child.stderr.setEncoding('utf8').on('data', (s: string) => { readerErr += s; });
      await waitFor('the reader', () => readerReady || child.exitCode !== null);
      if (child.exitCode !== null) throw new Error(`the TUN reader exited: ${readerErr}`);
    } catch (error) {
      cleanup();
      throw error;
    }
  }, 60_000);

  afterAll(async () => {
    if (reader !== undefined && reader.exitCode === null) {
      const r = reader;
      const exited = new Promise((resolve) => r.once('exit', resolve));
      r.stdin.end();
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    cleanup();
  });

  it('a matching 1500-octet packet arrives whole in the TUN with its flow label, hop limit one lower; redirected counts it', async () => {
    await intercept.uninstall(); // nothing there: still fine
    await intercept.install();
    await intercept.add({ name: 'ctx1', label: 12345, pairs: [[ip6('2001:db8:f::1'), ip6('2001:db8:f::2')]] });
    expect(await intercept.redirected()).toEqual({ packets: 0, bytes: 0 });
    const [sha] = send({ src: '2001:db8:f::1', dst: '2001:db8:f::2', label: 12345, tag: 'match-1' });
    await waitFor('match-1', () => arrived('match-1') !== undefined);
    expect(arrived('match-1')).toEqual({
      via: 'tun', tag: 'match-1', length: 1500, label: 12345, hopLimit: 63, src: '2001:db8:f::1', dst: '2001:db8:f::2', sha256: sha,
    });
    expect(await intercept.redirected()).toEqual({ packets: 1, bytes: 1500 });
  });

  it('another label, another source, another destination: delivered by the kernel, not redirected', async () => {
    send(
      { src: '2001:db8:f::1', dst: '2001:db8:f::2', label: 54321, tag: 'other-label' },
      { src: '2001:db8:f::3', dst: '2001:db8:f::2', label: 12345, tag: 'other-source' },
      { src: '2001:db8:f::1', dst: '2001:db8:f::4', label: 12345, tag: 'other-destination' },
      { src: '2001:db8:f::1', dst: '2001:db8:f::2', label: 0, tag: 'no-label', length: 100 },
      { src: '2001:db8:f::1', dst: '2001:db8:f::2', label: 12345, tag: 'match-2', length: 200 },
    );
    for (const tag of ['other-label', 'other-source', 'other-destination', 'no-label']) {
      await waitFor(tag, () => arrived(tag) !== undefined);
      expect(arrived(tag)).toMatchObject({ via: 'socket' });
    }
    await waitFor('match-2', () => arrived('match-2') !== undefined);
    expect(arrived('match-2')).toMatchObject({ via: 'tun', length: 200, label: 12345 });
    expect(await intercept.redirected()).toEqual({ packets: 2, bytes: 1700 });
  });

  it('fwd drops a matching packet that arrives with hop limit 1 (neither the TUN nor the socket sees it)', async () => {
    send(
      { src: '2001:db8:f::1', dst: '2001:db8:f::2', label: 12345, tag: 'hop-1', hopLimit: 1 },
      { src: '2001:db8:f::1', dst: '2001:db8:f::2', label: 12345, tag: 'hop-2', hopLimit: 2 },
      { src: '2001:db8:f::1', dst: '2001:db8:f::2', label: 54321, tag: 'after-hop', hopLimit: 1 },
    );
    await waitFor('hop-2 and after-hop', () => arrived('hop-2') !== undefined && arrived('after-hop') !== undefined);
    expect(arrived('hop-2')).toMatchObject({ via: 'tun', hopLimit: 1 });
    expect(arrived('after-hop')).toMatchObject({ via: 'socket' });
    expect(arrived('hop-1')).toBeUndefined();
  });

  it('both devices are hooked; the match is labels × pairs, a superset of the entries', async () => {
    await intercept.add({ name: 'ctx2', label: 777, pairs: [[ip6('2001:db8:e::1'), ip6('2001:db8:e::2')]] });
    send(
      { src: '2001:db8:e::1', dst: '2001:db8:e::2', label: 777, tag: 'second-device' },
      // ctx2's label with ctx1's pair: matched too, for the daemon to check and hand back.
      { src: '2001:db8:f::1', dst: '2001:db8:f::2', label: 777, tag: 'crossed' },
      { src: '2001:db8:e::1', dst: '2001:db8:e::2', label: 54321, tag: 'second-device-other-label' },
    );
    for (const tag of ['second-device', 'crossed']) await waitFor(tag, () => arrived(tag) !== undefined);
    expect(arrived('second-device')).toMatchObject({ via: 'tun', label: 777, src: '2001:db8:e::1', dst: '2001:db8:e::2' });
    expect(arrived('crossed')).toMatchObject({ via: 'tun', label: 777, src: '2001:db8:f::1' });
    await waitFor('second-device-other-label', () => arrived('second-device-other-label') !== undefined);
    expect(arrived('second-device-other-label')).toMatchObject({ via: 'socket' });
    expect(intercept.entries).toBe(2);
  });

  it('after remove, the same packet is delivered by the kernel', async () => {
    await intercept.remove('ctx1');
    send({ src: '2001:db8:f::1', dst: '2001:db8:f::2', label: 12345, tag: 'after-remove' });
    await waitFor('after-remove', () => arrived('after-remove') !== undefined);
    expect(arrived('after-remove')).toMatchObject({ via: 'socket', length: 1500 - 48 });
    await expect(intercept.remove('ctx1')).rejects.toMatchObject({ code: 'unknown' });
  });

  it('install again keeps the entries (counter from zero); uninstall removes the table and the kernel delivers again', async () => {
    await intercept.install();
    expect(intercept.entries).toBe(1);
    expect(await intercept.redirected()).toEqual({ packets: 0, bytes: 0 });
    send({ src: '2001:db8:e::1', dst: '2001:db8:e::2', label: 777, tag: 'reinstalled' });
    await waitFor('reinstalled', () => arrived('reinstalled') !== undefined);
    expect(arrived('reinstalled')).toMatchObject({ via: 'tun' });
    expect(await intercept.redirected()).toEqual({ packets: 1, bytes: 1500 });

    await intercept.uninstall();
    expect(ns(NS_B, 'nft', 'list', 'tables')).not.toContain('s6fl');
    await intercept.uninstall();
    expect(intercept.entries).toBe(0);
    send({ src: '2001:db8:e::1', dst: '2001:db8:e::2', label: 777, tag: 'uninstalled' });
    await waitFor('uninstalled', () => arrived('uninstalled') !== undefined);
    expect(arrived('uninstalled')).toMatchObject({ via: 'socket' });
    await expect(intercept.redirected()).rejects.toMatchObject({ code: 'not-installed' });
  });

  it('nft refuses a target that does not exist: command-failed, nothing installed', async () => {
    const missing = new FlowLabelIntercept({ table: 's6fl_missing', devices: ['vb'], target: 'nosuch0' }, inB);
    await expect(missing.install()).rejects.toMatchObject({ code: 'command-failed', message: expect.stringContaining('Interface does not exist') });
    expect(ns(NS_B, 'nft', 'list', 'tables')).not.toContain('s6fl_missing');
  });
});
