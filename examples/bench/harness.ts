/**
 * A small benchmark harness: calibrates a loop to ~150 ms per round, runs rounds, and
 * reports the median time per operation. Used only by `npm run bench`; tests never time
 * anything (DEVELOPERS.md).
 */
import { performance } from 'node:perf_hooks';

export interface BenchResult {
  readonly name: string;
  readonly nsPerOp: number;
  readonly opsPerSec: number;
  readonly rounds: number;
  /** Heap bytes allocated per operation, when measured (needs node --expose-gc). */
  readonly heapBytesPerOp?: number;
}

const ROUND_MS = 150;
const ROUNDS = 7;

/** Sink that keeps results alive so the optimiser cannot drop the work. */
export let sink = 0;
export function consume(v: number): void {
  sink = (sink + v) | 0;
}

function timeLoop(fn: () => void, iters: number): number {
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) fn();
  return performance.now() - t0;
}

export function bench(name: string, fn: () => void, opts: { measureHeap?: boolean } = {}): BenchResult {
  // Warm up and calibrate.
  let iters = 1000;
  for (;;) {
    const ms = timeLoop(fn, iters);
    if (ms >= ROUND_MS / 4) {
      iters = Math.max(1, Math.round((iters * ROUND_MS) / ms));
      break;
    }
    iters *= 4;
  }
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) samples.push((timeLoop(fn, iters) * 1e6) / iters);
  samples.sort((a, b) => a - b);
  const nsPerOp = samples[Math.floor(samples.length / 2)]!;
  let heapBytesPerOp: number | undefined;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (opts.measureHeap && gc) {
    // Heap growth over n and over 4n operations: a one-off cost (JIT, heap bookkeeping)
    // appears in both and cancels; a per-operation allocation shows in the slope.
    const growth = (n: number): number => {
      gc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < n; i++) fn();
      return process.memoryUsage().heapUsed - before;
    };
    const n = 500_000;
    growth(n);
    const small = growth(n);
    const large = growth(4 * n);
    heapBytesPerOp = Math.max(0, (large - small) / (3 * n));
  }
  return { name, nsPerOp, opsPerSec: 1e9 / nsPerOp, rounds: ROUNDS, ...(heapBytesPerOp === undefined ? {} : { heapBytesPerOp }) };
}

export function formatRate(r: BenchResult): string {
  const rate = r.opsPerSec >= 1e6 ? `${(r.opsPerSec / 1e6).toFixed(2)} M/s` : `${(r.opsPerSec / 1e3).toFixed(1)} k/s`;
  const heap = r.heapBytesPerOp === undefined ? '' : `, ${r.heapBytesPerOp.toFixed(1)} heap B/op`;
  return `${r.name}: ${r.nsPerOp.toFixed(1)} ns/op (${rate}${heap})`;
}
