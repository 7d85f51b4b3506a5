/**
 * `npm run bench`: runs the benchmarks and prints a Markdown report with ratios against
 * baselines measured in the same run. BENCHMARKS.md records a run of this script.
 * The failover matrix (failover.ts, about 8 minutes as root) runs last;
 * SHIM6_BENCH_FAILOVER=0 leaves it out.
 */
import os from 'node:os';
import { formatRate } from './harness.js';
import { runCryptoBench } from './crypto.js';
import { runWireBench } from './wire.js';
import { runDataplaneBench } from './dataplane.js';
import { runNetnsBench } from './netns.js';
import { runContextBench } from './context.js';
import { runReapBench } from './reap.js';
import { runFailoverBench } from './failover.js';
import { runFlowLabelBench } from './flow-label.js';
import { runPollBench } from './poll.js';

function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

const w = runWireBench();
const r = w.results;
const lines: string[] = [];
lines.push(`# shim6 benchmark run — ${new Date().toISOString()}`);
lines.push('');
lines.push(`Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${os.platform()} ${os.release()}`);
lines.push('');
lines.push(`## Wire codec (I2 of ${w.i2Length} octets: Responder Validator, Locator List ×3, Locator Preferences, CGA PDS with RSA-1024 key)`);
lines.push('');
for (const k of Object.keys(r)) lines.push(`- ${formatRate(r[k]!)}`);
lines.push('');
lines.push('| measure | rate | ratio to same-run baseline |');
lines.push('|---|---|---|');
lines.push(`| parse I2 | ${(r['parseI2']!.opsPerSec / 1e3).toFixed(0)} k/s | ${ratio(r['parseI2']!.nsPerOp, r['checksumOnly']!.nsPerOp)} the time of the checksum alone |`);
lines.push(`| emit I2 | ${(r['emitI2']!.opsPerSec / 1e3).toFixed(0)} k/s | ${ratio(r['emitI2']!.nsPerOp, r['copyOnly']!.nsPerOp)} the time of a plain copy |`);
lines.push(`| insert+strip (1500 B) | ${(r['insertStrip']!.opsPerSec / 1e6).toFixed(2)} M/s | ${ratio(r['insertStrip']!.nsPerOp, r['memmove40']!.nsPerOp)} the unavoidable memmoves; ${ratio(r['copyingInsert']!.nsPerOp, r['insertStrip']!.nsPerOp)} faster than copying |`);
const heap = r['insertStrip']!.heapBytesPerOp;
const noiseHeap = r['noopHeap']!.heapBytesPerOp ?? 0;
lines.push('');
lines.push(heap === undefined ? 'Heap per insert+strip: not measured (run with node --expose-gc).' : `Heap allocated per insert+strip: ${heap.toFixed(3)} bytes/op (slope of heap growth between 0.5M and 2M operations); an empty loop body measured ${noiseHeap.toFixed(3)} bytes/op in the same run.`);
lines.push('');
const d = runDataplaneBench();
const dr = d.results;
const perPacket = (k: string, base: string): number => (dr[k]!.nsPerOp - dr[base]!.nsPerOp) / d.batch;
lines.push(`## Data plane, JavaScript per-packet work (batches of ${d.batch} TCP segments of ${d.segment} octets, ${d.contexts} contexts installed)`);
lines.push('');
for (const k of Object.keys(dr)) lines.push(`- ${formatRate(dr[k]!)}`);
lines.push('');
lines.push('| direction | ns per packet (less the loop baseline) | packets/s on one core | heap B per batch |');
lines.push('|---|---|---|---|');
lines.push(`| egress | ${perPacket('egress', 'restoreOnly').toFixed(1)} | ${(1e9 / perPacket('egress', 'restoreOnly') / 1e6).toFixed(1)} M | ${dr['egress']!.heapBytesPerOp?.toFixed(2) ?? 'n/a'} |`);
lines.push(`| egress with TCP retransmission hints (REAP) | ${perPacket('egressHints', 'restoreOnly').toFixed(1)} | ${(1e9 / perPacket('egressHints', 'restoreOnly') / 1e6).toFixed(1)} M | ${dr['egressHints']!.heapBytesPerOp?.toFixed(2) ?? 'n/a'} |`);
lines.push(`| ingress | ${perPacket('ingress', 'restoreIngressOnly').toFixed(1)} | ${(1e9 / perPacket('ingress', 'restoreIngressOnly') / 1e6).toFixed(1)} M | ${dr['ingress']!.heapBytesPerOp?.toFixed(2) ?? 'n/a'} |`);
lines.push('');
lines.push(...(await runNetnsBench()).lines);
lines.push(...(await runCryptoBench()).lines);
lines.push(...(await runContextBench()).lines);
lines.push(...(await runReapBench()).lines);
lines.push(...(await runPollBench()).lines);
if (process.env['SHIM6_BENCH_FAILOVER'] !== '0') lines.push(...(await runFlowLabelBench()).lines);
if (process.env['SHIM6_BENCH_FAILOVER'] !== '0') lines.push(...(await runFailoverBench()).lines);
console.log(lines.join('\n'));
