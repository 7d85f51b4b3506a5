/** Command-line and statistics helpers shared by the simulator examples. */

/** `--name N` as an integer in [min, max], or `fallback` when absent; RangeError otherwise. */
export function option(name: string, fallback: number, min: number, max: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`--${name} needs an integer in ${min}..${max}`);
  return v;
}

/** The nearest-rank percentile `p` (0-100) of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
