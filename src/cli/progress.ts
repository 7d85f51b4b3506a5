/**
 * A one-line progress bar for long searches (CGA Sec 2 generation, RFC 3972 §4): drawn
 * on stderr only when stderr is a terminal, and never on a pipe, so JSON on stdout stays
 * clean and logs stay quiet. Redraws at most every 200 ms.
 */
import { performance } from 'node:perf_hooks';

export interface Progress {
  /** Report that `done` units of work have been completed. */
  update(done: number): void;
  /** Erase the bar. */
  finish(): void;
}

const NO_PROGRESS: Progress = { update: () => undefined, finish: () => undefined };

function human(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}k`;
  return String(Math.round(n));
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 90) return `${Math.round(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

/**
 * A bar for a search whose expected amount of work is `expected` units (the search may
 * finish before or after it: the bar shows the share of the expected work done). The
 * first update always draws; `now` (milliseconds) is injectable for tests.
 */
export function progressBar(label: string, expected: number, stream: NodeJS.WriteStream = process.stderr,
  now: () => number = () => performance.now()): Progress {
  if (!stream.isTTY) return NO_PROGRESS;
  const t0 = now();
  let last = -Infinity;
  const width = 24;
  return {
    update(done: number): void {
      const t = now();
      if (t - last < 200) return;
      last = t;
      const share = Math.min(1, done / expected);
      const filled = Math.round(share * width);
      const rate = done / (Math.max(1, t - t0) / 1000);
      const left = done < expected ? (expected - done) / rate : 0;
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(0)}% of expected, ${human(done)} hashes, ${human(rate)}/s, ~${duration(left)} left `);
    },
    finish(): void {
      stream.write('\r\x1b[2K');
    },
  };
}
