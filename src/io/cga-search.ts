/**
 * The fast CGA modifier search (RFC 3972 §4 steps 1-3) on every core: `ModifierSearch`
 * implemented with the shim6_native addon on node:worker_threads. Sec 2 needs about 2^32
 * SHA-1 computations, minutes even in C, so the work is split and is cancellable.
 *
 * Worker i of T searches chunks i, i+T, i+2T, ... of `chunkHashes` consecutive modifiers
 * counted from the start modifier (the first 16 octets of `hash2Input`), so the workers
 * cover disjoint ranges and together sweep the space upward from the start, as RFC 3972
 * §4 step 3 does sequentially (incrementing the 128-bit modifier, wrapping at 2^128).
 * The first acceptable modifier any worker finds wins; it need not be the lowest
 * acceptable one above the start, which RFC 3972 does not require. After every chunk a
 * worker reports the hashes it tried; `onProgress` gets the sum at most four times a
 * second, and once more with the final total when a modifier is found.
 *
 * Cancellation: aborting the signal terminates the workers and rejects with
 * `CryptoError` code 'cancelled' (src/crypto/provider.ts). A worker busy in a native
 * chunk stops when that chunk ends (about 0.2 s), and the promise settles only after
 * every worker has exited, so nothing is left behind and the process can exit.
 *
 * Workers run the compiled module dist/src/io/cga-search-worker.js. From the
 * TypeScript sources (under vitest) this module points them at the dist/ build, which
 * `npx tsc -p tsconfig.json` (run by `npm test`) produces.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ModifierSearch } from '../crypto/cga.js';
import { CryptoError, CryptoErrorCode } from '../crypto/provider.js';
import { loadNative } from './native.js';

export interface NativeModifierSearchOptions {
  /** Worker threads; default `os.availableParallelism()`. */
  readonly threads?: number;
  /** Modifiers per native call, the unit of progress and of cancellation latency; default 2^20. */
  readonly chunkHashes?: number;
}

/** What each worker receives as `workerData`. */
export interface CgaWorkerData {
  readonly hash2Input: Uint8Array;
  readonly sec: number;
  /** The start modifier (16 octets). */
  readonly start: Uint8Array;
  /** This worker's index i: it searches chunks i, i+stride, i+2*stride, ... */
  readonly index: number;
  readonly stride: number;
  readonly chunkHashes: number;
}

/** What a worker posts: after each fruitless chunk, or once with its result. */
export type CgaWorkerMessage =
  | { readonly type: 'progress'; readonly hashesTried: number }
  | { readonly type: 'found'; readonly modifier: Uint8Array; readonly hashesTried: number };

const MODIFIER_LEN = 16;
const MAX_SEC = 7; // 16*Sec bits of the 112-bit Hash2 (RFC 3972 §2: Sec is 3 bits)
const DEFAULT_CHUNK_HASHES = 1 << 20;
const PROGRESS_INTERVAL_MS = 250;

/** The worker script: beside this module when compiled, else in the dist/ build. */
function workerUrl(): URL {
  const here = import.meta.url;
  const url = here.endsWith('.ts')
    ? new URL('../../dist/src/io/cga-search-worker.js', here)
    : new URL('./cga-search-worker.js', here);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(`CGA search worker ${fileURLToPath(url)} not found: build with npx tsc -p tsconfig.json (npm run build)`);
  }
  return url;
}

function checkPositiveInteger(value: number, what: string, max: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new RangeError(`nativeModifierSearch: ${what} must be an integer from 1 to ${max}, got ${value}`);
  }
  return value;
}

/** A `ModifierSearch` that runs the native search on `threads` worker threads. */
export function nativeModifierSearch(opts: NativeModifierSearchOptions = {}): ModifierSearch {
  const threads = checkPositiveInteger(opts.threads ?? availableParallelism(), 'threads', 256);
  const chunkHashes = checkPositiveInteger(opts.chunkHashes ?? DEFAULT_CHUNK_HASHES, 'chunkHashes', 2 ** 32);
  return {
    search: async (req, searchOpts = {}) => {
      const { hash2Input, sec } = req;
      if (!(hash2Input instanceof Uint8Array) || hash2Input.length < MODIFIER_LEN) {
        throw new TypeError('ModifierSearch: hash2Input must be a Uint8Array of at least 16 octets');
      }
      if (!Number.isInteger(sec) || sec < 0 || sec > MAX_SEC) {
        throw new TypeError(`ModifierSearch: sec must be an integer from 0 to ${MAX_SEC}, got ${sec}`);
      }
      const { signal, onProgress } = searchOpts;
      if (signal?.aborted) throw new CryptoError(CryptoErrorCode.Cancelled, 'CGA modifier search cancelled');
      const start = hash2Input.slice(0, MODIFIER_LEN);
      if (sec === 0) {
        onProgress?.(1);
        return start; // Sec 0: every modifier is acceptable (RFC 3972 §4 step 3).
      }
      loadNative(); // fail here, with the addon's message, rather than in every worker
      return runWorkers(workerUrl(), { hash2Input: hash2Input.slice(), sec, start, stride: threads, chunkHashes }, threads, signal, onProgress);
    },
  };
}

function runWorkers(
  url: URL,
  data: Omit<CgaWorkerData, 'index'>,
  threads: number,
  signal: AbortSignal | undefined,
  onProgress: ((hashesTried: number) => void) | undefined,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const workers: Worker[] = [];
    let hashesTried = 0;
    let lastReportMs = -Infinity;
    let settled = false;

    // Terminates every worker, then settles: the caller never sees a result while a worker lives.
    const finish = (outcome: { modifier: Uint8Array } | { error: unknown }): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      void Promise.allSettled(workers.map((w) => w.terminate())).then(() => {
        if ('modifier' in outcome) resolve(outcome.modifier);
        else reject(outcome.error);
      });
    };
    const onAbort = (): void => finish({ error: new CryptoError(CryptoErrorCode.Cancelled, 'CGA modifier search cancelled') });
    signal?.addEventListener('abort', onAbort, { once: true });

    for (let index = 0; index < threads && !settled; index++) {
      // execArgv: [] — the worker is plain compiled JS and needs no flag of the parent's;
      // some break it (e.g. --input-type, which only applies to --eval input).
      let worker: Worker;
      try {
        worker = new Worker(url, { workerData: { ...data, index } satisfies CgaWorkerData, execArgv: [] });
      } catch (error) {
        finish({ error }); // terminates the workers already started
        break;
      }
      workers.push(worker);
      worker.on('message', (message: CgaWorkerMessage) => {
        if (settled) return;
        hashesTried += message.hashesTried;
        try {
          if (message.type === 'found') {
            onProgress?.(hashesTried);
            finish({ modifier: new Uint8Array(message.modifier) });
            return;
          }
          const now = performance.now();
          if (onProgress !== undefined && now - lastReportMs >= PROGRESS_INTERVAL_MS) {
            lastReportMs = now;
            onProgress(hashesTried);
          }
        } catch (error) {
          finish({ error }); // a throwing onProgress ends the search instead of the process
        }
      });
      worker.on('error', (error) => finish({ error }));
      worker.on('exit', (code) => finish({ error: new Error(`CGA search worker ${index} exited early (code ${code})`) }));
    }
  });
}
