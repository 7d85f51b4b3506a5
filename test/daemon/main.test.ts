/**
 * shim6d as a process (src/daemon/main.ts), in-process with an event emitter standing in
 * for `process`: flags and exit codes, --check (which never loads the data plane), a
 * bad or unreadable configuration, a full run stopped by SIGTERM (teardown done, hooks
 * removed), a fatal error (teardown, exit 1), a failed startup, and the log rate limiter.
 */
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../src/daemon/control-client.js';
import type { DataPlaneFactory } from '../../src/daemon/daemon.js';
import { RateLimiter } from '../../src/daemon/log.js';
import { daemonMain, type DaemonMainIo } from '../../src/daemon/main.js';
import { packageVersion } from '../../src/version.js';
import { exampleConfigJson, fakeFactory, HOST_A_ADDRESSES, recordingLog, recordingRunner, tempDir } from './fakes.js';

let tmp: { dir: string; remove: () => void };
let n = 0;
beforeAll(() => { tmp = tempDir('shim6-main-'); });
afterAll(() => tmp.remove());

interface Run {
  code: number;
  out: string;
  err: string[];
}

function writeConfig(edit?: (d: Record<string, any>) => void): { path: string; socket: string } {
  const socket = join(tmp.dir, `m${n}.sock`);
  const doc = exampleConfigJson(socket);
  edit?.(doc);
  const path = join(tmp.dir, `c${n++}.json`);
  writeFileSync(path, JSON.stringify(doc));
  return { path, socket };
}

async function main(argv: string[], io: Partial<DaemonMainIo> = {}, loadFactory: () => Promise<DataPlaneFactory> = () => Promise.reject(new Error('must not load the data plane'))): Promise<Run> {
  const r: Run = { code: -1, out: '', err: [] };
  r.code = await daemonMain(argv, 'shim6d', loadFactory, {
    out: (t) => { r.out += t; },
    err: (l) => { r.err.push(l); },
    process: new EventEmitter(),
    runner: recordingRunner(HOST_A_ADDRESSES).runner,
    createLog: () => recordingLog(),
    version: '1.2.3',
    ...io,
  });
  return r;
}

describe('flags', () => {
  it('--help and --version', async () => {
    const h = await main(['--help']);
    expect(h).toMatchObject({ code: 0, err: [] });
    expect(h.out).toMatch(/^Usage: shim6d --config FILE/);
    expect((await main(['-V'])).out).toBe('shim6d 1.2.3\n');
  });

  it('usage errors exit 2 with one line', async () => {
    for (const [argv, message] of [
      [[], /--config FILE is required/],
      [['--config'], /--config/],
      [['--colour'], /Unknown option '--colour'/],
      [['--config', 'x', 'extra'], /extra/],
      [['--config', 'x', '--log-level', 'loud'], /--log-level must be one of fatal, error, warn, info, debug, trace, silent, got 'loud'/],
    ] as [string[], RegExp][]) {
      const r = await main(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(message);
      expect(r.err[0]).toMatch(/\(see 'shim6d --help'\)$/);
    }
  });

  it('the package version is found from the source tree', () => {
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('configuration', () => {
  it('--check validates and summarises without loading the data plane', async () => {
    const { path } = writeConfig();
    const r = await main(['--config', path, '--check']);
    expect(r).toEqual({ code: 0, out: `${path}: ok (2 locators, 2 contexts)\n`, err: [] });
  });

  it('an invalid file exits 1 and lists every problem by path', async () => {
    const { path } = writeConfig((d) => { d['fwmark'] = 0; d['contexts'][1].peerLocators[0] = 'x'; });
    const r = await main(['--config', path, '--check']);
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/invalid configuration \(2 problems\)/);
    expect(r.err[0]).toContain('  fwmark: must be in 1..4294967295, not 0');
    expect(r.err[0]).toContain('  contexts[1].peerLocators[0]: not an IPv6 address: "x"');
  });

  it('a missing file and a file that is not JSON exit 1', async () => {
    const missing = await main(['--config', join(tmp.dir, 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.err[0]).toMatch(/\(top level\): cannot read: ENOENT/);
    const bad = join(tmp.dir, 'bad.json');
    writeFileSync(bad, '{"locators": ');
    expect((await main(['--config', bad])).err[0]).toMatch(/not valid JSON/);
  });
});

describe('running', () => {
  it('runs until SIGTERM, then tears down and unhooks; exit 0', async () => {
    const { path, socket } = writeConfig();
    const proc = new EventEmitter();
    const runner = recordingRunner(HOST_A_ADDRESSES);
    const f = fakeFactory();
    const log = recordingLog();
    let status: unknown;
    const r = await main(['--config', path, '--log-level', 'debug'], {
      process: proc,
      runner: runner.runner,
      createLog: (level) => { log.info({ level }, 'logger created'); return log; },
      onRunning: () => {
        void controlRequest(socket, 'status').then((s) => {
          status = s;
          proc.emit('SIGTERM');
        });
      },
    }, async () => f.factory);
    expect(r).toEqual({ code: 0, out: '', err: [] });
    expect(status).toMatchObject({ ok: true, result: { version: '1.2.3', contexts: 2 } });
    expect(log.entries[0]!.fields).toEqual({ level: 'debug' });
    expect(log.entries.map((e) => e.message)).toEqual(expect.arrayContaining(['shim6d running', 'signal received', 'tearing down', 'stopped']));
    expect(runner.log.slice(-3)).toEqual(['ip -6 rule del pref 100', 'ip -6 rule del table 20534', 'ip -6 route flush table 20534']);
    expect(f.calls.at(-1)).toBe('close');
    for (const ev of ['SIGINT', 'SIGTERM', 'uncaughtException', 'unhandledRejection']) expect(proc.listenerCount(ev)).toBe(0);
  });

  it('a fatal error is logged, torn down, exit 1', async () => {
    const { path } = writeConfig();
    const proc = new EventEmitter();
    const f = fakeFactory();
    const log = recordingLog();
    const r = await main(['--config', path], {
      process: proc,
      createLog: () => log,
      onRunning: () => { setImmediate(() => proc.emit('uncaughtException', new Error('kaboom'))); },
    }, async () => f.factory);
    expect(r.code).toBe(1);
    expect(log.entries.find((e) => e.message === 'fatal error')?.fields).toMatchObject({ error: 'kaboom' });
    expect(f.calls.at(-1)).toBe('close');
  });

  it('a failed startup exits 1 with the reason on stderr and nothing left hooked', async () => {
    const { path } = writeConfig();
    const proc = new EventEmitter();
    const r = await main(['--config', path], { process: proc, runner: recordingRunner([]).runner }, async () => fakeFactory().factory);
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/^shim6d: local locators not usable: 2001:db8:1:a::1 is not assigned on this host/);
    expect(proc.listenerCount('SIGTERM')).toBe(0);
  });

  it('a data plane that cannot be loaded exits 1', async () => {
    const { path } = writeConfig();
    const r = await main(['--config', path], {}, () => Promise.reject(new Error('addon missing')));
    expect(r).toMatchObject({ code: 1, err: ['shim6d: cannot load the data plane: addon missing'] });
  });
});

describe('RateLimiter', () => {
  it('allows a burst per window and per key, then reports what it suppressed', () => {
    let t = 0;
    const rl = new RateLimiter(2, 1000, () => t);
    expect([rl.allow('a'), rl.allow('a'), rl.allow('a'), rl.allow('b'), rl.allow('a')]).toEqual([0, 0, undefined, 0, undefined]);
    t = 1000;
    expect(rl.allow('a')).toBe(2);
    expect(rl.allow('a')).toBe(0);
  });
});
