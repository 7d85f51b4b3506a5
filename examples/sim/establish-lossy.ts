/**
 * `node dist/examples/sim/establish-lossy.js [--seed N] [--contexts N]`: establish many
 * Shim6 contexts (RFC 5533 §7.3) over a lossy network and report how long the four-way
 * exchange takes and how often its messages were retransmitted.
 *
 * One server host (respond-only, two prefixes) and N client hosts (two prefixes each);
 * every link loses 10% of packets and delays them 20 ± 10 ms. Client i calls establish
 * at a random time in the first 10 s. The establishment time of a context is from that
 * call to the client's ESTABLISHED. Timers are the RFC's (I1_TIMEOUT 4 s, I2_TIMEOUT
 * 4 s, binary backoff, randomised 0.5-1.5), so a lost I1 or R1 costs about 4 s, and a
 * context fails (E-FAILED) only when all five I1 exchanges are lost.
 *
 * Everything is seeded: the same seed prints the same report.
 */
import { option, percentile } from './cli.js';
import { addHbaHost, createSimulation, type SimHost } from '../../src/api/index.js';
import { parsePacket } from '../../src/wire/packet.js';


const seed = option('seed', 1, 0, 0xffff_ffff);
const contexts = option('contexts', 1_000, 1, 65_536);
const START_SPREAD_MS = 10_000;
const RUN_MS = 400_000;


function ms(v: number): string {
  return v >= 1_000 ? `${(v / 1_000).toFixed(2)} s` : `${v} ms`;
}

const BUCKETS: readonly [number, string][] = [
  [50, '< 50 ms'], [100, '50-100 ms'], [200, '100-200 ms'], [500, '200-500 ms'], [1_000, '0.5-1 s'],
  [2_000, '1-2 s'], [5_000, '2-5 s'], [10_000, '5-10 s'], [20_000, '10-20 s'], [60_000, '20-60 s'], [Number.POSITIVE_INFINITY, '>= 60 s'],
];

async function main(): Promise<void> {
  const sim = createSimulation({ seed, transcript: false, link: { loss: 0.1, delayMs: 20, jitterMs: 10 } });
  const server = await addHbaHost(sim, 'server', ['2001:db8:5::/64', '2001:db8:6::/64'], { mode: 'respond-only' });
  const clients: SimHost[] = [];
  const startedAt = new Map<SimHost, number>();
  const establishedAt = new Map<SimHost, number>();
  const failed = new Set<SimHost>();
  const starts = sim.random.fork('starts');
  for (let i = 0; i < contexts; i++) {
    const hi = (i >> 8) & 0xff;
    const lo = i & 0xff;
    const c = await addHbaHost(sim, `c${i}`, [`2001:db8:1${hi.toString(16)}:${lo.toString(16)}::/64`, `2001:db8:2${hi.toString(16)}:${lo.toString(16)}::/64`]);
    c.onNotify = (n, now) => {
      if (n.event === 'established' && !establishedAt.has(c)) establishedAt.set(c, now);
      if (n.event === 'e-failed') failed.add(c);
    };
    clients.push(c);
    sim.at(starts.int(START_SPREAD_MS), () => {
      startedAt.set(c, sim.now);
      const r = c.establish(server.ulid);
      if (!r.ok) throw new Error(`establish refused: ${r.code}`);
    });
  }
  // Run until every client is ESTABLISHED or E-FAILED (well before the 5-minute idle timeout of §9).
  sim.runUntil(() => establishedAt.size + failed.size === contexts, RUN_MS);
  const endedAt = sim.now;

  const times = clients.filter((c) => establishedAt.has(c)).map((c) => establishedAt.get(c)! - startedAt.get(c)!).sort((a, b) => a - b);
  // Retransmissions, from the capture: an I1 (I2) that repeats its predecessor's nonces is a retransmission;
  // an I1 with a new nonce after an I2 means the I2 retries ran out (§7.12) and the client started over.
  let i1Retx = 0;
  let i2Retx = 0;
  let restarts = 0;
  const perContext = new Map<string, number>();
  const last = new Map<string, { i1?: number; i2?: string; sentI2: boolean }>();
  for (const p of sim.packets()) {
    const from = sim.network.owner(p.src);
    if (from === undefined || from === 'server') continue;
    const parsed = parsePacket(p.bytes);
    if (!parsed.ok || parsed.value.shim6?.kind !== 'control') continue;
    const m = parsed.value.shim6.message;
    const st = last.get(from) ?? { sentI2: false };
    if (m.kind === 'I1') {
      if (st.i1 === m.initiatorNonce) {
        i1Retx++;
        perContext.set(from, (perContext.get(from) ?? 0) + 1);
      } else if (st.sentI2) {
        restarts++;
        perContext.set(from, (perContext.get(from) ?? 0) + 1);
      }
      st.i1 = m.initiatorNonce;
    } else if (m.kind === 'I2') {
      const key = `${m.initiatorNonce}/${m.responderNonce}`;
      if (st.i2 === key) {
        i2Retx++;
        perContext.set(from, (perContext.get(from) ?? 0) + 1);
      }
      st.i2 = key;
      st.sentI2 = true;
    }
    last.set(from, st);
  }
  const net = sim.network.totals();
  const sk = server.engine.counters();

  const out: string[] = [];
  out.push(`Shim6 establishment over a lossy network (RFC 5533 §7.3), seed ${seed}`);
  out.push(`  ${contexts} clients -> 1 respond-only server; every link: 10% loss, 20 ± 10 ms; starts spread over ${START_SPREAD_MS / 1000} s; all done at t=${ms(endedAt)} of virtual time`);
  out.push('');
  out.push(`established  ${times.length} / ${contexts}   E-FAILED ${failed.size}   server contexts ${server.engine.size}`);
  out.push(`time to ESTABLISHED  min ${ms(times[0] ?? NaN)}  p50 ${ms(percentile(times, 50))}  p90 ${ms(percentile(times, 90))}  p99 ${ms(percentile(times, 99))}  max ${ms(times[times.length - 1] ?? NaN)}`);
  out.push('');
  const counts = BUCKETS.map(() => 0);
  for (const t of times) counts[BUCKETS.findIndex(([limit]) => t < limit)]!++;
  const top = Math.max(...counts, 1);
  BUCKETS.forEach(([, name], b) => {
    const n = counts[b]!;
    out.push(`  ${name.padStart(10)} | ${'#'.repeat(Math.round((n / top) * 50)).padEnd(50)} ${String(n).padStart(5)}`);
  });
  out.push('');
  out.push(`retransmissions  I1 ${i1Retx}   I2 ${i2Retx}   I2 retries exhausted, back to I1: ${restarts}`);
  const hist = new Map<number, number>();
  for (const c of clients) {
    const n = perContext.get(c.name) ?? 0;
    hist.set(n, (hist.get(n) ?? 0) + 1);
  }
  out.push(`retransmissions per context (I1, I2, restarts)  ${[...hist].sort(([a], [b]) => a - b).map(([n, k]) => `${n}: ${k}`).join('   ')}`);
  out.push(`server  I1 received ${sk['rx.I1'] ?? 0}   R1 sent ${sk['tx.R1'] ?? 0}   I2 received ${sk['rx.I2'] ?? 0}   R2 sent ${sk['tx.R2'] ?? 0}`);
  out.push(`network  packets ${net.sent}   lost ${net.lost}   delivered ${net.delivered}`);
  console.log(out.join('\n'));
}

await main();
