/**
 * Flow-label mode against the explicit tag (issue #8), in the same run and topology:
 * shim6d on both hosts, one bulk TCP transfer (unpaced) from hA's ULID to hB's, ISP1
 * failing silently 2 s after the context is ESTABLISHED, a capture of hA's interfaces.
 * Per mode: the TCP rate before the failure (the ULID pair: the kernel path, no shim on
 * the packets) and after it (every packet through both data planes, rewritten), the
 * first data after the failure, and the largest application packet on the rewritten
 * path: the labelled packets as they are, the header's packets less its 8 octets.
 *
 * `node dist/examples/bench/flow-label.js` (root). FLOWLABEL_REPS (default 3).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModeName } from '../harness/modes.js';
import { runScenario, type ScenarioResult } from '../harness/scenario.js';
import { shim6Support } from '../harness/shim6.js';
import { cell } from './failover.js';

const MODES: readonly ModeName[] = ['shim6-fast', 'shim6-fl'];

export async function runFlowLabelBench(): Promise<{ lines: string[] }> {
  const lines: string[] = ['## Flow-label mode against the explicit tag (root; issue #8)', ''];
  if (process.getuid?.() !== 0) return { lines: [...lines, 'Skipped: needs root (network namespaces).', ''] };
  const s = await shim6Support();
  if (!s.ok) return { lines: [...lines, `Skipped: ${s.reason}`, ''] };
  const reps = Number(process.env['FLOWLABEL_REPS'] ?? 3);
  if (!Number.isInteger(reps) || reps < 1) throw new Error('FLOWLABEL_REPS must be a whole number >= 1');
  const out = mkdtempSync(join(tmpdir(), 'shim6-flowlabel-bench-'));
  const results = new Map<ModeName, ScenarioResult[]>(MODES.map((m) => [m, []]));
  const errors: string[] = [];
  const t0 = Date.now();
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const mode of MODES) {
        try {
          results.get(mode)!.push(await runScenario({
            name: `fl-${mode}-r${rep}`, mode, traffic: [{ kind: 'tcp' }], pcap: true,
            warmupMs: 2000, afterMs: 5000, drainMs: 2000, outDir: out, readyTimeoutMs: 20_000,
            failures: [{ atMs: 0, action: { kind: 'loss', link: 'a1' } }],
          }));
        } catch (e) {
          errors.push(`${mode} rep ${rep + 1}: ${(e as Error).message}`);
        }
        process.stderr.write(`flow-label bench: ${mode} (rep ${rep + 1}/${reps}) done at ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  lines.push(`One bulk TCP transfer hA → hB between the ULIDs; ISP1 fails silently (both directions) 2 s after the context is ESTABLISHED; ${reps} repetition(s) per mode, alternating; medians (min–max). Took ${((Date.now() - t0) / 60_000).toFixed(1)} min.`, '');
  lines.push('| mode | TCP before the failure, kernel path (Mbit/s) | TCP after the switch, through the shim (Mbit/s) | ratio after / before | TCP first data after failure (ms) | completed, verified | largest application packet on the new path (octets) | on the wire (octets) |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const mode of MODES) {
    const rs = results.get(mode)!;
    const m = rs.map((r) => r.flows[0]!.metrics);
    const before = m.map((x) => x.rateBeforeMbit);
    const after = m.map((x) => x.newPathRateMbit);
    const ratio = m.map((x) => (x.rateBeforeMbit === null || x.newPathRateMbit === null || x.rateBeforeMbit === 0 ? null : x.newPathRateMbit / x.rateBeforeMbit));
    const wire = rs.map((r) => (mode === 'shim6-fl' ? r.capture!.maxLabelledOctets : r.capture!.maxPayloadOctets));
    const app = wire.map((w) => (mode === 'shim6-fl' ? w : w - 8));
    const label = mode === 'shim6-fl' ? 'shim6-fl (flow label, no header)' : 'shim6-fast (Payload Extension header)';
    lines.push(`| ${label} | ${cell(before, 0)} | ${cell(after, 0)} | ${cell(ratio, 2)} | ${cell(m.map((x) => x.firstDataAfterFailureMs))} | ${m.filter((x) => x.completed && x.verified).length}/${rs.length} | ${cell(app)} | ${cell(wire)} |`);
  }
  lines.push('');
  for (const e of errors) lines.push(`- ${e}`);
  if (errors.length > 0) lines.push('');
  return { lines };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log((await runFlowLabelBench()).lines.join('\n'));
}
