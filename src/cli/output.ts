/**
 * What every `shim6` command shares: exit codes (0 ok, 1 invalid input, 2 usage error),
 * stdout/stderr writers, the one-line usage error, and reading a file or stdin.
 */
import { readFile } from 'node:fs/promises';

export const EXIT_OK = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;

export function out(text: string): void {
  process.stdout.write(text);
}

export function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Prints `value` as one JSON line, or indented with `pretty`. */
export function outJson(value: unknown, pretty: boolean): void {
  out(`${JSON.stringify(value, null, pretty ? 2 : undefined)}\n`);
}

/** One line on stderr naming the problem and where help is; returns the usage exit code. */
export function usage(message: string, command?: string): number {
  err(`shim6${command ? ` ${command}` : ''}: ${message} (see 'shim6${command ? ` ${command}` : ''} --help')`);
  return EXIT_USAGE;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The text of `path` ('-' for stdin), or a message saying why it could not be read. */
export async function readText(path: string): Promise<{ ok: true; text: string } | { ok: false; message: string }> {
  try {
    return { ok: true, text: path === '-' ? await readStdin() : await readFile(path, 'utf8') };
  } catch (e) {
    return { ok: false, message: `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}` };
  }
}
