/**
 * Commands and network namespaces for the failover harness: running `ip`, `nft` and
 * programs inside namespaces, and removing every namespace this process created — on
 * `down()`, and also on SIGINT, SIGTERM, SIGHUP and process exit (the handlers are
 * installed with the first namespace and run synchronously).
 *
 * Nothing here touches the root namespace: every command is `ip -n NS ...` or
 * `ip netns exec NS ...` for a namespace created here.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (works from examples/harness and from dist/examples/harness). */
export const ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'shim6') return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the shim6 repository root above examples/harness');
})();

export const SCRIPTS = {
  traffic: join(ROOT, 'netns-scripts/traffic.mjs'),
  tcpStream: join(ROOT, 'netns-scripts/tcp-stream.mjs'),
  mptcpExec: join(ROOT, 'netns-scripts/mptcp-exec.py'),
  linkMonitor: join(ROOT, 'netns-scripts/link-monitor.mjs'),
  shim6d: join(ROOT, 'dist/src/daemon/shim6d.js'),
  shim6: join(ROOT, 'dist/src/cli/shim6.js'),
} as const;

export interface ExecResult {
  /** Exit code; -1 when killed (timeout or signal) or not started. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** Runs a program to completion; never rejects. */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      const note = error !== null && error.killed ? `\n(killed after ${timeoutMs} ms)` : '';
      resolve({ code, stdout, stderr: stderr + note });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a program and throws (with its stderr) unless it exits 0. */
export async function runOk(file: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(file, args, opts);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Epoch milliseconds with sub-millisecond resolution: the clock every harness process shares. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

// ------------------------------------------------------------------ namespace registry

const owned = new Set<string>();
let handlersInstalled = false;

/** Kills what runs in a namespace and deletes it, synchronously (for exit handlers). */
export function removeNamespaceSync(ns: string): void {
  if (!existsSync(`/run/netns/${ns}`)) return;
  for (const signal of ['TERM', 'KILL']) {
    const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout?.trim().split(/\s+/).filter((p) => /^\d+$/.test(p)) ?? [];
    if (pids.length === 0) break;
    spawnSync('kill', [`-${signal}`, ...pids]);
    if (signal === 'TERM') spawnSync('sleep', ['0.2']);
  }
  spawnSync('ip', ['netns', 'del', ns]);
}

/** Kills what runs in a namespace and deletes it. Never fails when it is already gone. */
export async function removeNamespace(ns: string): Promise<void> {
  if (!existsSync(`/run/netns/${ns}`)) {
    owned.delete(ns);
    return;
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await run('ip', ['netns', 'pids', ns]);
    const pids = r.stdout.trim().split(/\s+/).filter((p) => /^\d+$/.test(p));
    if (pids.length === 0) break;
    await run('kill', [attempt === 0 ? '-TERM' : '-KILL', ...pids]);
    for (let i = 0; i < 20 && attempt === 0; i++) {
      await sleep(50);
      if ((await run('ip', ['netns', 'pids', ns])).stdout.trim() === '') break;
    }
  }
  await run('ip', ['netns', 'del', ns]);
  owned.delete(ns);
}

function cleanupAllSync(): void {
  for (const ns of owned) removeNamespaceSync(ns);
  owned.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', cleanupAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nharness: ${sig}: removing ${owned.size} namespace(s)\n`);
      cleanupAllSync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Creates a namespace (with lo up) owned by this process; it is removed on exit or a signal. */
export async function createNamespace(ns: string): Promise<void> {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(ns)) throw new Error(`bad namespace name '${ns}'`);
  installHandlers();
  owned.add(ns);
  await runOk('ip', ['netns', 'add', ns]);
  await runOk('ip', ['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
}

/** The namespaces whose names start with `prefix` (to sweep what a killed run left). */
export function listNamespaces(prefix: string): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '' && n.startsWith(prefix));
}

/** Kills a child and waits for it to exit (SIGKILL after graceMs). */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Starts a program in a namespace (`ip netns exec` execs it: the child's pid is the program's). */
export function spawnIn(ns: string, args: readonly string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}
