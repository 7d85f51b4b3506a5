/**
 * The daemon's activity feed (src/io/nft-traffic.ts): what one poll of the per-pair
 * nftables counters costs, with 1, 256 and 4096 live flows, against the bare cost of
 * starting `nft` in the same run (`nft --version`: the process spawn alone). shim6d polls
 * every `pollIntervalMs` (50 ms): the wall time per poll times 20 is the share of one
 * core it spends there. Root only (a private network namespace); skipped otherwise.
 */
import { spawnSync } from 'node:child_process';
import type { CommandRunner } from '../../src/daemon/system.js';
import { execFileRunner } from '../../src/daemon/system.js';
import { NftTraffic } from '../../src/io/nft-traffic.js';

const POLLS = 40;

function nsRunner(ns: string): CommandRunner {
  const inner = execFileRunner();
  return (file, args, input) => inner('ip', ['netns', 'exec', ns, file, ...args], input);
}

async function timeIt(n: number, f: () => Promise<unknown>): Promise<number> {
  await f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  return (performance.now() - t0) / n;
}

export async function runPollBench(): Promise<{ lines: string[] }> {
  const lines = ['## Activity feed: one poll of the per-pair counters (src/io/nft-traffic.ts)', ''];
  if (process.getuid?.() !== 0) return { lines: [...lines, 'Skipped: needs root (a network namespace).', ''] };
  const ns = `s6poll-${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) return { lines: [...lines, `Skipped: cannot create namespace ${ns}.`, ''] };
  try {
    const run = nsRunner(ns);
    const traffic = new NftTraffic({ table: 'shim6bench', fwmark: 0x5036, maxFlows: 8192 }, run);
    const ulid = new Uint8Array(16);
    ulid.set([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0xa], 0);
    ulid[15] = 1;
    await traffic.install([ulid]);
    const spawnMs = await timeIt(POLLS, () => run('nft', ['--version']));
    lines.push('| live flows | ms per poll (wall) | share of one core at a 50 ms interval | ratio to spawning nft alone |');
    lines.push('|---|---|---|---|');
    let have = 0;
    for (const flows of [1, 256, 4096]) {
      const add: string[] = [];
      for (let i = have; i < flows; i++) add.push(`2001:db8:1:a::1 . 2001:db8:${(i >> 8) + 10}:b::${(i & 0xff) + 1}`);
      for (let i = 0; i < add.length; i += 512) {
        const chunk = add.slice(i, i + 512);
        for (const set of ['out', 'in']) {
          const r = await run('nft', ['-f', '-'], `add element inet shim6bench ${set} { ${chunk.join(', ')} }\n`);
          if (r.code !== 0) throw new Error(`nft add element: ${r.stderr}`);
        }
      }
      have = flows;
      const ms = await timeIt(flows > 1000 ? 10 : POLLS, () => traffic.poll());
      lines.push(`| ${flows} | ${ms.toFixed(2)} | ${((ms / 50) * 100).toFixed(1)} % | ${(ms / spawnMs).toFixed(2)}× |`);
    }
    lines.push('');
    lines.push(`Spawning \`nft --version\` alone: ${spawnMs.toFixed(2)} ms in the same run. Each poll is one \`nft list table\` (text: its element expiry has milliseconds, which dates the last packet each way) and a linear parse; with thousands of flows the listing dominates.`);
    lines.push('');
    await traffic.remove();
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
  return { lines };
}

const self = process.argv[1] ?? '';
if (self.endsWith('/poll.js')) {
  runPollBench().then((r) => console.log(r.lines.join('\n')), (e: unknown) => { console.error(e); process.exit(1); });
}
