/**
 * CGA/HBA benchmarks (issue 4), each against a baseline measured in the same run:
 * - Sec 1 generation in JavaScript (RFC 3972 §4, ~2^16 SHA-1), median and worst of 30;
 * - the native multi-threaded modifier search rate, and the Sec 2 expected time it
 *   implies (2^32 hashes), against the single-threaded native SHA-1 loop (the ceiling)
 *   divided by the core count; a real Sec 2 generation when SHIM6_BENCH_SEC2=1;
 * - CGA Signature sign/verify rates for both providers (RSA-1024/2048);
 * - HBA-set generation for 2, 4 and 8 prefixes (RFC 5535 §6).
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { generateCga, jsModifierSearch } from '../../src/crypto/cga.js';
import { generateHbaSet } from '../../src/crypto/hba.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import type { CryptoProvider, RandomSource } from '../../src/crypto/provider.js';
import { nobleCryptoProvider } from '../../src/crypto/provider-noble.js';
import { nodeCryptoProvider } from '../../src/crypto/provider-node.js';
import { signLocatorList, verifyLocatorListSignature } from '../../src/crypto/signature.js';
import { nativeModifierSearch } from '../../src/io/cga-search.js';
import { cgaSearchChunk } from '../../src/io/native.js';
import { parseIpv6 } from '../../src/wire/address.js';

const random: RandomSource = { bytes: (n) => new Uint8Array(randomBytes(n)) };

export interface CryptoBench {
  readonly lines: string[];
}

function stats(ms: number[]): { median: number; worst: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, worst: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function timeIt(f: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

function rate(n: number, ms: number): string {
  const perSec = (n / ms) * 1000;
  return perSec >= 1e6 ? `${(perSec / 1e6).toFixed(2)} M/s` : perSec >= 1e3 ? `${(perSec / 1e3).toFixed(1)} k/s` : `${perSec.toFixed(0)}/s`;
}

export async function runCryptoBench(): Promise<CryptoBench> {
  const lines: string[] = [];
  const cores = availableParallelism();
  const rsa1024 = generateKeyPair('rsa', 1024);
  const rsa2048 = generateKeyPair('rsa', 2048);
  const prefix = parseIpv6('2001:db8:1:2::')!.slice(0, 8);

  // Single-threaded native SHA-1 ceiling: Sec 7 is never satisfied in 2^24 tries, so every hash is done.
  const input = new Uint8Array(25 + rsa1024.spki.length);
  input.set(rsa1024.spki, 25);
  input.set(randomBytes(16), 0);
  const n1 = 2 ** 24;
  const tNative = await timeIt(() => cgaSearchChunk(input, 7, input.slice(0, 16), n1));
  const nativeRate = (n1 / tNative) * 1000;

  // Multi-threaded search rate: an unfindable Sec 7 search aborted after 8 s.
  let tried = 0;
  const ac = new AbortController();
  const t0 = performance.now();
  const timer = setTimeout(() => ac.abort(), 8000);
  await nativeModifierSearch({ threads: cores }).search({ hash2Input: input, sec: 7 }, { signal: ac.signal, onProgress: (n) => { tried = n; } }).catch(() => undefined);
  clearTimeout(timer);
  const parallelRate = (tried / (performance.now() - t0)) * 1000;
  const sec2Expected = 2 ** 32 / parallelRate;
  const ceiling = 2 ** 32 / nativeRate / cores;

  // Sec 1 in JavaScript, 30 runs.
  const sec1: number[] = [];
  for (let i = 0; i < 30; i++) {
    sec1.push(await timeIt(() => generateCga({ provider: nodeCryptoProvider, random, subnetPrefix: prefix, publicKey: rsa1024.spki, sec: 1, search: jsModifierSearch(nodeCryptoProvider) })));
  }
  const s1 = stats(sec1);

  lines.push(`## CGA generation (RSA-1024 key, ${cores} cores)`);
  lines.push('');
  lines.push('| measure | result | same-run baseline | ratio |');
  lines.push('|---|---|---|---|');
  lines.push(`| Sec 1 generation, JS (30 runs) | median ${s1.median.toFixed(1)} ms, worst ${s1.worst.toFixed(1)} ms | goal: median < 100 ms | ${(s1.median / 100).toFixed(2)}× the goal |`);
  lines.push(`| native search, ${cores} worker threads | ${(parallelRate / 1e6).toFixed(2)} M hashes/s | single-thread native SHA-1 loop ${(nativeRate / 1e6).toFixed(2)} M/s | ${(parallelRate / nativeRate).toFixed(2)}× one thread |`);
  lines.push(`| Sec 2 expected time (2^32 / search rate) | ${sec2Expected.toFixed(0)} s | ceiling / cores = ${ceiling.toFixed(0)} s | ${(sec2Expected / ceiling).toFixed(2)}× (goal ≤ 1.3×) |`);

  if (process.env['SHIM6_BENCH_SEC2'] === '1') {
    let hashes = 0;
    const t = await timeIt(() => generateCga({ provider: nodeCryptoProvider, random, subnetPrefix: prefix, publicKey: rsa1024.spki, sec: 2, search: nativeModifierSearch({ threads: cores }), searchOptions: { onProgress: (n) => { hashes = n; } } }));
    lines.push(`| Sec 2 generation, one run | ${(t / 1000).toFixed(0)} s, ${(hashes / 2 ** 32).toFixed(2)} × 2^32 hashes | expected ${sec2Expected.toFixed(0)} s | ${(t / 1000 / sec2Expected).toFixed(2)}× expected |`);
  } else {
    lines.push('| Sec 2 generation, one run | not run (set SHIM6_BENCH_SEC2=1; takes minutes) | | |');
  }
  lines.push('');

  // Signatures.
  const locators = [1, 2, 3].map((i) => ({ address: parseIpv6(`2001:db8:${i}::10`)!, verificationMethod: 2 }));
  lines.push('## CGA Signature (RFC 5533 §5.15.5) over 3 locators');
  lines.push('');
  lines.push('| key | provider | sign | verify |');
  lines.push('|---|---|---|---|');
  for (const [label, pair] of [['RSA-1024', rsa1024], ['RSA-2048', rsa2048]] as const) {
    for (const p of [nodeCryptoProvider, nobleCryptoProvider] as CryptoProvider[]) {
      const sig = signLocatorList(p, pair.pkcs8, 7, locators, 'table4');
      const n = 200;
      const ts = await timeIt(() => { for (let i = 0; i < n; i++) signLocatorList(p, pair.pkcs8, 7, locators, 'table4'); });
      const tv = await timeIt(() => { for (let i = 0; i < n; i++) verifyLocatorListSignature(p, pair.spki, 7, locators, sig, 'table4'); });
      lines.push(`| ${label} | ${p.name} | ${rate(n, ts)} | ${rate(n, tv)} |`);
    }
  }
  lines.push('');

  // HBA sets.
  lines.push('## HBA-set generation (RFC 5535 §6), HBA-only, median of 15');
  lines.push('');
  lines.push('| prefixes | Sec 0 | Sec 1 |');
  lines.push('|---|---|---|');
  for (const n of [2, 4, 8]) {
    const prefixes = Array.from({ length: n }, (_, i) => parseIpv6(`2001:db8:${i + 1}::`)!.slice(0, 8));
    const row: string[] = [];
    for (const sec of [0, 1]) {
      const t: number[] = [];
      for (let i = 0; i < 15; i++) t.push(await timeIt(() => generateHbaSet({ provider: nodeCryptoProvider, random, prefixes, sec, search: jsModifierSearch(nodeCryptoProvider) })));
      row.push(`${stats(t).median.toFixed(2)} ms`);
    }
    lines.push(`| ${n} | ${row.join(' | ')} |`);
  }
  lines.push('');
  lines.push(`Baseline for the per-prefix cost: one SHA-1 of a CGA Parameters structure in the native loop takes ${(1e3 / ((n1 / tNative) * 1000) * 1e3).toFixed(3)} µs natively; each extra prefix costs one Hash1.`);
  return { lines };
}
