/**
 * One worker thread of the native CGA modifier search (src/io/cga-search.ts; RFC 3972
 * §4). It searches chunks index, index+stride, index+2*stride, ... of `chunkHashes`
 * modifiers each, counted from the start modifier modulo 2^128, with one synchronous
 * native call per chunk; it posts `progress` after each fruitless chunk and `found` with
 * the acceptable modifier, then ends. It never stops otherwise: the parent terminates it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CgaWorkerData, CgaWorkerMessage } from './cga-search.js';
import { cgaSearchChunk } from './native.js';

const MODULUS_MASK = (1n << 128n) - 1n;

function toBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

function toModifier(value: bigint): Uint8Array {
  const bytes = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return bytes;
}

function post(message: CgaWorkerMessage): void {
  parentPort?.postMessage(message);
}

function run(data: CgaWorkerData): void {
  const base = toBigInt(data.start);
  const stride = BigInt(data.stride);
  const chunk = BigInt(data.chunkHashes);
  for (let k = 0n; ; k++) {
    const chunkStart = (base + (k * stride + BigInt(data.index)) * chunk) & MODULUS_MASK;
    const modifier = cgaSearchChunk(data.hash2Input, data.sec, toModifier(chunkStart), data.chunkHashes);
    if (modifier !== null) {
      const tried = Number((toBigInt(modifier) - chunkStart) & MODULUS_MASK) + 1;
      post({ type: 'found', modifier, hashesTried: tried });
      return;
    }
    post({ type: 'progress', hashesTried: data.chunkHashes });
  }
}

run(workerData as CgaWorkerData);
