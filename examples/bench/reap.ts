/**
 * REAP's cost on the packet path (RFC 5534 §6.1-6.2): every payload packet a context sends
 * or receives is an event for its timers. Measured through `ShimEngine.traffic` with a
 * direction, against the same call without one (the pre-REAP path: activity only), on
 * one established context, in the two patterns that matter:
 *
 * - one-way (only sends): the Send Timer is already running, so REAP ignores the event
 *   without a step (`reapIgnores`);
 * - alternating (send, receive, send, ...): every event flips the timers, the worst case,
 *   each a full context step.
 */
import { createHbaIdentity } from '../../src/api/identity.js';
import { nodeCryptoProvider } from '../../src/crypto/provider-node.js';
import type { LocalIdentity } from '../../src/context/types.js';
import { encodeAction, ShimEngine } from '../../src/engine/engine.js';
import { SeededRandom } from '../../src/sim/random.js';
import { bytesEqual } from '../../src/wire/bytes.js';

async function identity(prefixes: readonly string[], seed: number): Promise<LocalIdentity> {
  return createHbaIdentity(prefixes.map((p) => `${p}/64`), new SeededRandom(seed), nodeCryptoProvider);
}

function median(xs: number[]): number {
  return xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** ns per traffic() call, median of 7 rounds. */
function time(fn: (i: number, now: number) => void, iters: number): number {
  const samples: number[] = [];
  let now = 10_000;
  for (let round = 0; round < 7; round++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) fn(i, now + (i >> 4));
    samples.push(((performance.now() - t0) * 1e6) / iters);
    now += iters;
  }
  return median(samples);
}

export async function runReapBench(): Promise<{ lines: string[] }> {
  const A = await identity(['2001:db8:1:a::', '2001:db8:2:a::'], 1);
  const B = await identity(['2001:db8:1:b::', '2001:db8:2:b::'], 2);
  const lines: string[] = [];
  const rows: string[] = [];
  for (const mode of ['off', 'rfc', 'fast'] as const) {
    const a = new ShimEngine({ identities: [A], provider: nodeCryptoProvider, random: new SeededRandom(3), reap: { mode } });
    const b = new ShimEngine({ identities: [B], provider: nodeCryptoProvider, random: new SeededRandom(4), reap: { mode } });
    a.establish(A.ulid, B.ulid, 0);
    for (let round = 0; round < 10; round++) {
      for (const [from, to] of [[a, b], [b, a]] as const) {
        for (const act of from.takeActions()) if (act.kind === 'send' && to.identities().some((id) => id.locators.some((l) => bytesEqual(l.address, act.dst)))) to.receive(encodeAction(act), 0);
      }
    }
    if (a.findByUlids(A.ulid, B.ulid)?.state !== 'ESTABLISHED') throw new Error('bench setup: not established');
    const iters = 200_000;
    const none = time((_i, now) => a.traffic(A.ulid, B.ulid, 1, now), iters);
    const oneWay = time((_i, now) => a.traffic(A.ulid, B.ulid, 1, now, 0, 'sent'), iters);
    const alternating = time((i, now) => a.traffic(A.ulid, B.ulid, 1, now, 0, (i & 1) === 0 ? 'sent' : 'received'), iters);
    a.takeActions();
    rows.push(`| ${mode} | ${none.toFixed(0)} | ${oneWay.toFixed(0)} (${(oneWay / none).toFixed(2)}×) | ${alternating.toFixed(0)} (${(alternating / none).toFixed(2)}×) |`);
  }
  lines.push('## REAP on the packet path (RFC 5534 §6.1-6.2)');
  lines.push('');
  lines.push('ns per `ShimEngine.traffic()` call on one established context; the baseline is the same call without a direction (activity only, what the engine did before REAP), in the same run.');
  lines.push('');
  lines.push('| profile | no direction (baseline) | one-way sends (timer already running) | alternating send/receive (every event flips a timer) |');
  lines.push('|---|---|---|---|');
  lines.push(...rows);
  lines.push('');
  return { lines };
}
