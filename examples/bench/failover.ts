/**
 * Failover benchmark (issue #7): the matrix failure mode × {shim6-fast, shim6-rfc,
 * mptcp, plain, tunnel} in the harness topology (examples/harness), with a TCP flow
 * paced at 100 Mbit/s and a UDP flow at 10 Mbit/s between hA and hB. The failure hits
 * ISP1, which the flows use at first:
 *
 *   silent    100 % loss on hA's link to ISP1, both directions
 *   oneway    100 % loss on that link from hA toward ISP1 only
 *   linkdown  that link goes down (ISP1's end: hA sees its carrier go)
 *   isp       all of ISP1 fails silently
 *   partial   50 % loss on hA's link to ISP1, both directions
 *   flap      that link fails silently for 800 ms, works for 1200 ms, three times
 *   repair    ISP1 fails, and is back 2 s later
 *
 * One Markdown table per failure mode: medians over the repetitions (min–max when they
 * differ) of the TCP flow's first data after the failure and time back to 80 % of the
 * new path's rate (metrics.ts), the UDP bytes lost and duplicated, path flaps after the
 * first switch, and how many TCP transfers completed with every byte verified. "never"
 * is a flow that did not resume within the observation time (5 s; 30 s for shim6-rfc,
 * whose REAP timers are the RFC's). UDP's first data shows the switch itself; TCP's
 * comes at its next retransmission after it (exponential back-off: after a long outage
 * much later). MPTCP carries no UDP: in that mode UDP is plain.
 *
 * `node dist/examples/bench/failover.js` (root). Environment: FAILOVER_REPS (default 2),
 * FAILOVER_MODES and FAILOVER_FAILURES (comma-separated subsets), FAILOVER_KEEP=1 keeps
 * the run directories (result.json, report.md, throughput.svg per run).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeAction, type FaultEvent } from '../harness/faults.js';
import type { ModeName } from '../harness/modes.js';
import { runScenario, type ScenarioResult } from '../harness/scenario.js';
import { shim6Support } from '../harness/shim6.js';

export const FAILURES = {
  silent: [{ atMs: 0, action: { kind: 'loss', link: 'a1' } }],
  oneway: [{ atMs: 0, action: { kind: 'loss', link: 'a1', dir: 'a-to-b' } }],
  linkdown: [{ atMs: 0, action: { kind: 'link-down', link: 'a1' } }],
  isp: [{ atMs: 0, action: { kind: 'isp-down', isp: 1 } }],
  partial: [{ atMs: 0, action: { kind: 'loss', link: 'a1', percent: 50 } }],
  flap: [{ atMs: 0, action: { kind: 'flap', link: 'a1', downMs: 800, upMs: 1200, count: 3 } }],
  repair: [{ atMs: 0, action: { kind: 'isp-down', isp: 1 } }, { atMs: 2000, action: { kind: 'isp-up', isp: 1 } }],
} as const satisfies Record<string, readonly FaultEvent[]>;
type FailureName = keyof typeof FAILURES;
const BENCH_MODES: readonly ModeName[] = ['shim6-fast', 'shim6-fl', 'shim6-rfc', 'mptcp', 'plain', 'tunnel'];

export interface FailoverBench {
  readonly lines: string[];
  readonly results: readonly { readonly failure: string; readonly mode: ModeName; readonly rep: number; readonly result?: ScenarioResult; readonly error?: string }[];
}

function list<T extends string>(env: string | undefined, all: readonly T[], what: string): T[] {
  if (env === undefined || env.trim() === '') return [...all];
  const picked = env.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const p of picked) if (!all.includes(p as T)) throw new Error(`${what}: unknown '${p}' (one of ${all.join(', ')})`);
  return picked as T[];
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** "median" or "median (min–max)" of values that may be null (never). */
export function cell(values: readonly (number | null)[], digits = 0): string {
  if (values.length === 0) return '–';
  const nums = values.filter((v): v is number => v !== null);
  const never = values.length - nums.length;
  if (nums.length === 0) return 'never';
  const f = (x: number): string => x.toFixed(digits);
  const lo = Math.min(...nums);
  const hi = Math.max(...nums);
  const body = lo === hi ? f(lo) : `${f(median(nums))} (${f(lo)}–${f(hi)})`;
  return never === 0 ? body : `${body}; never ×${never}`;
}

export async function runFailoverBench(): Promise<FailoverBench> {
  const lines: string[] = ['## Failover in network namespaces (root; issue #7 harness)', ''];
  const results: FailoverBench['results'][number][] = [];
  if (process.getuid?.() !== 0) return { lines: [...lines, 'Skipped: needs root (network namespaces).', ''], results };
  const reps = Number(process.env['FAILOVER_REPS'] ?? 2);
  if (!Number.isInteger(reps) || reps < 1) throw new Error('FAILOVER_REPS must be a whole number >= 1');
  const failures = list(process.env['FAILOVER_FAILURES'], Object.keys(FAILURES) as FailureName[], 'FAILOVER_FAILURES');
  let modes = list(process.env['FAILOVER_MODES'], BENCH_MODES, 'FAILOVER_MODES');
  const notes: string[] = [];
  if (modes.some((m) => m.startsWith('shim6'))) {
    const s = await shim6Support();
    if (!s.ok) {
      modes = modes.filter((m) => !m.startsWith('shim6'));
      notes.push(`shim6 modes skipped: ${s.reason}`);
    }
  }
  const out = mkdtempSync(join(tmpdir(), 'shim6-failover-bench-'));
  const t0 = Date.now();
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const failure of failures) {
        for (const mode of modes) {
          try {
            const result = await runScenario({
              name: `${failure}-${mode}-r${rep}`,
              mode,
              traffic: [{ kind: 'tcp', rateMbit: 100 }, { kind: 'udp', rateMbit: 10 }],
              warmupMs: 2000,
              afterMs: mode === 'shim6-rfc' ? 30_000 : 5000,
              drainMs: 2000,
              failures: FAILURES[failure],
              outDir: out,
              readyTimeoutMs: 20_000,
            });
            results.push({ failure, mode, rep, result });
          } catch (e) {
            results.push({ failure, mode, rep, error: (e as Error).message });
          }
          process.stderr.write(`failover bench: ${failure} × ${mode} (rep ${rep + 1}/${reps}) done at ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
        }
      }
    }
  } finally {
    if (process.env['FAILOVER_KEEP'] === '1') notes.push(`Run directories kept in ${out}.`);
    else rmSync(out, { recursive: true, force: true });
  }

  lines.push(`TCP paced at 100 Mbit/s and UDP at 10 Mbit/s from hA to hB, ISP1 failing 2 s after the flows are up (shim6: after the context is ESTABLISHED); ${reps} repetition(s); medians (min–max). Took ${((Date.now() - t0) / 60_000).toFixed(1)} min.`);
  lines.push('');
  for (const failure of failures) {
    lines.push(`### ${failure}: ${FAILURES[failure].map((e) => (e.atMs === 0 ? '' : `at +${e.atMs} ms `) + describeAction(e.action)).join(', ')}`, '');
    lines.push('| mode | TCP first data after failure (ms) | TCP back to 80 % (ms) | TCP rate after (Mbit/s) | TCP completed, verified | UDP first data after failure (ms) | UDP lost (bytes) | UDP duplicated (bytes) | flaps |');
    lines.push('|---|---|---|---|---|---|---|---|---|');
    for (const mode of modes) {
      const rs = results.filter((r) => r.failure === failure && r.mode === mode);
      const ok = rs.flatMap((r) => (r.result === undefined ? [] : [r.result]));
      const tcp = ok.map((r) => r.flows[0]!.metrics);
      const udp = ok.map((r) => r.flows[1]!.metrics);
      const errs = rs.filter((r) => r.error !== undefined);
      const completed = `${tcp.filter((m) => m.completed && m.verified).length}/${rs.length}`;
      lines.push(`| ${mode} | ${cell(tcp.map((m) => m.firstDataAfterFailureMs))} | ${cell(tcp.map((m) => m.backTo80Ms))} | ${cell(tcp.map((m) => m.newPathRateMbit), 1)} | ${completed}${errs.length > 0 ? ` (${errs.length} error${errs.length > 1 ? 's' : ''})` : ''} | ${cell(udp.map((m) => m.firstDataAfterFailureMs))} | ${cell(udp.map((m) => m.lostBytes))} | ${cell(udp.map((m) => m.duplicatedBytes))} | ${cell(ok.map((r) => r.path.flaps))} |`);
    }
    lines.push('');
  }
  const errors = results.filter((r) => r.error !== undefined);
  for (const e of errors.slice(0, 10)) notes.push(`${e.failure} × ${e.mode} rep ${e.rep + 1}: ${e.error}`);
  if (notes.length > 0) lines.push(...notes.map((n) => `- ${n}`), '');
  return { lines, results };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await runFailoverBench();
  console.log(r.lines.join('\n'));
}
