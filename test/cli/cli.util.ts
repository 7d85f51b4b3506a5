/**
 * Running the compiled `shim6` tool (dist/src/cli/shim6.js) as a child process, for the
 * CLI tests: its exit code, stdout and stderr, JSON Lines output, and the one-line usage
 * error contract (exit 2, nothing on stdout).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'dist/src/cli/shim6.js');

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(args: readonly string[], stdin = '', timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { cwd: ROOT, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(stdin);
  });
}

/** JSON Lines output as objects. */
export function records(stdout: string): Record<string, any>[] {
  return stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, any>);
}

export function expectUsage(r: Run, pattern: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

/**
 * Builds dist/ with the project compiler, unless this is `npm test`, whose pretest has
 * just built it (a lone `vitest run` after an edit would otherwise test a stale build).
 */
export async function buildCli(): Promise<void> {
  if (process.env['npm_lifecycle_event'] === 'test' && existsSync(CLI)) return;
  // Other modules' type errors must not stop the emit of this one, so the exit code is not checked.
  await new Promise<void>((resolve) => {
    execFile(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, timeout: 120_000 }, () => resolve());
  });
  if (!existsSync(CLI)) throw new Error(`${CLI} was not built`);
}
