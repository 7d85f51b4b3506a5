// The native CGA modifier search (RFC 3972 §4): the addon's cgaSearchChunk against a
// brute-force node:crypto loop over the same modifiers, the worker-thread search
// (result, progress, cancellation, clean exit), and the stored Sec 2 vector, checked
// with node:crypto alone. Needs the addon (node native/build.mjs) and the dist/ build
// (npx tsc -p tsconfig.json), which the workers run; `npm test` makes both.
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CryptoError } from '../../src/crypto/provider.js';
import { nativeModifierSearch } from '../../src/io/cga-search.js';
import { cgaSearchChunk } from '../../src/io/native.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/address.js';

// Every Worker that src/io/cga-search.ts creates, and whether it has exited.
const tracked = vi.hoisted(() => ({ workers: [] as { worker: Worker; exited: boolean }[] }));
vi.mock('node:worker_threads', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:worker_threads')>();
  class TrackedWorker extends actual.Worker {
    constructor(...args: ConstructorParameters<typeof actual.Worker>) {
      super(...args);
      const entry = { worker: this as Worker, exited: false };
      tracked.workers.push(entry);
      this.on('exit', () => { entry.exited = true; });
    }
  }
  return { ...actual, Worker: TrackedWorker };
});

afterEach(() => {
  tracked.workers.length = 0;
});

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MOD128 = 1n << 128n;

// A fixed stand-in for a 162-octet RSA-1024 SubjectPublicKeyInfo: the search never parses
// the key, and fixed bytes keep every expected modifier the same from run to run.
const spki = Uint8Array.from({ length: 162 }, (_, i) => (i * 37 + 11) & 0xff);

/** modifier || 9 zero octets || spki (RFC 3972 §4 step 2, no extension fields). */
function hash2InputFor(modifier: Uint8Array): Uint8Array {
  const input = new Uint8Array(25 + spki.length);
  input.set(modifier, 0);
  input.set(spki, 25);
  return input;
}

function toModifier(value: bigint): Uint8Array {
  const hex = (((value % MOD128) + MOD128) % MOD128).toString(16).padStart(32, '0');
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function toBigInt(modifier: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(modifier).toString('hex')}`);
}

/** Leftmost 112 bits of SHA-1 of the Hash2 input with `modifier` in front. */
function hash2(input: Uint8Array, modifier: Uint8Array): Buffer {
  const copy = Uint8Array.from(input);
  copy.set(modifier, 0);
  return createHash('sha1').update(copy).digest().subarray(0, 14);
}

function leadingZeroBits(bytes: Uint8Array): number {
  let bits = 0;
  for (const byte of bytes) {
    if (byte === 0) { bits += 8; continue; }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** Brute force: offset from `start` of the first modifier whose Hash2 has 16*sec zero bits. */
function firstAcceptable(input: Uint8Array, sec: number, start: bigint): number {
  for (let i = 0; ; i++) {
    if (leadingZeroBits(hash2(input, toModifier(start + BigInt(i)))) >= 16 * sec) return i;
  }
}

describe('cgaSearchChunk', () => {
  const input = hash2InputFor(new Uint8Array(16));

  it('finds the same Sec 1 modifiers as a brute-force node:crypto loop', () => {
    // Three consecutive acceptable modifiers from a fixed start, one after the other.
    let start = 0x0123456789abcdef_fedcba9876543210n;
    for (let n = 0; n < 3; n++) {
      const offset = firstAcceptable(input, 1, start);
      const found = cgaSearchChunk(input, 1, toModifier(start), offset + 1000);
      expect(found).not.toBeNull();
      expect(toBigInt(found!)).toBe(start + BigInt(offset));
      expect(found!.length).toBe(16);
      start += BigInt(offset) + 1n;
    }
  });

  it('returns null when no modifier in the range is acceptable', () => {
    const start = 0x42n << 64n;
    const offset = firstAcceptable(input, 1, start);
    // `offset` tries stop just short of the first acceptable one.
    expect(cgaSearchChunk(input, 1, toModifier(start), offset)).toBeNull();
    expect(cgaSearchChunk(input, 1, toModifier(start), offset + 1)).not.toBeNull();
    expect(cgaSearchChunk(input, 1, toModifier(start), 0)).toBeNull();
  });

  it('increments the modifier as a 128-bit big-endian integer, wrapping at 2^128', () => {
    const start = MOD128 - 300n;
    const offset = firstAcceptable(input, 1, start);
    expect(offset).toBeGreaterThan(300); // the first acceptable modifier lies past the wrap
    const found = cgaSearchChunk(input, 1, toModifier(start), offset + 1);
    expect(toBigInt(found!)).toBe((start + BigInt(offset)) % MOD128);
  });

  it('ignores the modifier octets of hash2Input and accepts a Buffer', () => {
    const start = toModifier(7n << 100n);
    const a = cgaSearchChunk(input, 1, start, 1 << 22);
    const b = cgaSearchChunk(Buffer.from(hash2InputFor(new Uint8Array(16).fill(0xee))), 1, Buffer.from(start), 1 << 22);
    expect(a).toEqual(b);
  });

  it('accepts the start modifier itself at Sec 0', () => {
    const start = toModifier(12345n);
    expect(cgaSearchChunk(input, 0, start, 1)).toEqual(start);
  });

  it('rejects bad arguments with a TypeError', () => {
    const start = new Uint8Array(16);
    const call = cgaSearchChunk as (...args: unknown[]) => unknown;
    const bad: unknown[][] = [
      [],
      [input, 1, start],
      ['not bytes', 1, start, 1],
      [new Uint16Array(32), 1, start, 1],
      [new Uint8Array(15), 1, start, 1],
      [input, 8, start, 1],
      [input, -1, start, 1],
      [input, 1.5, start, 1],
      [input, '1', start, 1],
      [input, 1, new Uint8Array(15), 1],
      [input, 1, new Uint8Array(17), 1],
      [input, 1, null, 1],
      [input, 1, start, -1],
      [input, 1, start, 0.5],
      [input, 1, start, Number.NaN],
      [input, 1, start, Number.POSITIVE_INFINITY],
      [input, 1, start, 2 ** 53 + 2],
      [input, 1, start, 10n],
    ];
    for (const args of bad) expect(() => call(...args), String(args.length)).toThrow(TypeError);
  });
});

describe('nativeModifierSearch', () => {
  it('finds an acceptable Sec 1 modifier on 2 threads and reports progress', async () => {
    const input = hash2InputFor(toModifier(0xabcdefn << 80n));
    const progress: number[] = [];
    const modifier = await nativeModifierSearch({ threads: 2 }).search(
      { hash2Input: input, sec: 1 },
      { onProgress: (n) => progress.push(n) },
    );
    expect(modifier.length).toBe(16);
    expect(leadingZeroBits(hash2(input, modifier))).toBeGreaterThanOrEqual(16);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toBeGreaterThan(0);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress); // never decreases
    expect(tracked.workers).toHaveLength(2);
    expect(tracked.workers.every((w) => w.exited)).toBe(true);
  });

  it('works with small chunks and more threads than cores', async () => {
    const input = hash2InputFor(toModifier(99n));
    const modifier = await nativeModifierSearch({ threads: 3, chunkHashes: 1000 }).search({ hash2Input: input, sec: 1 });
    expect(leadingZeroBits(hash2(input, modifier))).toBeGreaterThanOrEqual(16);
    // The workers sweep upward from the start, so the result is never below the first acceptable one.
    const first = firstAcceptable(input, 1, 99n);
    expect(toBigInt(modifier) - 99n).toBeGreaterThanOrEqual(BigInt(first));
    expect(tracked.workers.every((w) => w.exited)).toBe(true);
  });

  it('is cancelled by its signal mid-search, and leaves no worker behind', async () => {
    const controller = new AbortController();
    const progress: number[] = [];
    const search = nativeModifierSearch({ threads: 2 }).search(
      { hash2Input: hash2InputFor(toModifier(5n)), sec: 3 }, // ~2^48 hashes: never found here
      {
        signal: controller.signal,
        onProgress: (n) => {
          progress.push(n);
          controller.abort(); // at the first report, i.e. after at least one chunk
        },
      },
    );
    const error: unknown = await search.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as CryptoError).code).toBe('cancelled');
    expect(progress[0]).toBeGreaterThan(0);
    expect(tracked.workers).toHaveLength(2);
    expect(tracked.workers.every((w) => w.exited)).toBe(true);
  });

  it('ends the search, not the process, when onProgress throws', async () => {
    const failure = new Error('progress sink failed');
    const search = nativeModifierSearch({ threads: 2 }).search(
      { hash2Input: hash2InputFor(toModifier(6n)), sec: 3 },
      { onProgress: () => { throw failure; } },
    );
    await expect(search).rejects.toBe(failure);
    expect(tracked.workers.every((w) => w.exited)).toBe(true);
  });

  it('rejects at once when the signal is already aborted, starting no worker', async () => {
    const error: unknown = await nativeModifierSearch({ threads: 2 })
      .search({ hash2Input: hash2InputFor(new Uint8Array(16)), sec: 1 }, { signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect((error as CryptoError).code).toBe('cancelled');
    expect(tracked.workers).toHaveLength(0);
  });

  it('rejects a bad request with a TypeError and bad options with a RangeError', async () => {
    const search = nativeModifierSearch({ threads: 1 });
    await expect(search.search({ hash2Input: new Uint8Array(8), sec: 1 })).rejects.toThrow(TypeError);
    await expect(search.search({ hash2Input: hash2InputFor(new Uint8Array(16)), sec: 8 })).rejects.toThrow(TypeError);
    expect(() => nativeModifierSearch({ threads: 0 })).toThrow(RangeError);
    expect(() => nativeModifierSearch({ chunkHashes: 1.5 })).toThrow(RangeError);
  });

  it('lets a process running the compiled code exit after finding and after cancelling', () => {
    const script = `
      import { nativeModifierSearch } from './dist/src/io/cga-search.js';
      const input = new Uint8Array(200); input[30] = 1;
      const search = nativeModifierSearch({ threads: 2 });
      await search.search({ hash2Input: input, sec: 1 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      const error = await search.search({ hash2Input: input, sec: 4 }, { signal: controller.signal }).catch((e) => e);
      console.log(error.code);
    `;
    // Without a lingering worker or handle, node exits on its own once the script is done.
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT, encoding: 'utf8', timeout: 25_000,
    });
    expect(child.stderr).toBe('');
    expect(child.signal).toBeNull();
    expect(child.status).toBe(0);
    expect(child.stdout.trim()).toBe('cancelled');
  });
});

describe('the Sec 2 vector (test/crypto/vectors/cga-sec2.json)', () => {
  interface Sec2Vector {
    address: string; params: string; sec: number; collisionCount: number; publicKeySpki: string;
    privateKeyPkcs8?: string; hashesTried: number; threads: number; source: string;
  }
  // Read in each test, so that a missing file fails these tests rather than the whole file.
  function load() {
    const vector = JSON.parse(readFileSync(new URL('../crypto/vectors/cga-sec2.json', import.meta.url), 'utf8')) as Sec2Vector;
    const params = Buffer.from(vector.params, 'hex');
    // CGA Parameters (RFC 3972 §3): modifier(16) || subnet prefix(8) || collision count(1) || public key.
    return { vector, params, modifier: params.subarray(0, 16), prefix: params.subarray(16, 24), publicKey: params.subarray(25) };
  }

  it('has the stated fields: Sec 2, collision count 0, an RSA-1024 key, prefix 2001:db8:1:2::/64', () => {
    const { vector, params, prefix, publicKey } = load();
    expect(vector.sec).toBe(2);
    expect(vector.collisionCount).toBe(0);
    expect(params[24]).toBe(0);
    expect(publicKey.toString('hex')).toBe(vector.publicKeySpki);
    const key = createPublicKey({ key: publicKey, format: 'der', type: 'spki' });
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(1024);
    expect(prefix.toString('hex')).toBe('20010db800010002');
    if (vector.privateKeyPkcs8 !== undefined) {
      const derived = createPublicKey(createPrivateKey({ key: Buffer.from(vector.privateKeyPkcs8, 'hex'), format: 'der', type: 'pkcs8' }));
      expect(derived.export({ type: 'spki', format: 'der' }).toString('hex')).toBe(vector.publicKeySpki);
    }
    expect(vector.hashesTried).toBeGreaterThan(0);
    expect(vector.source).toMatch(/^generated by native\//);
  });

  it('has 32 leading zero bits in Hash2 (RFC 3972 §4 step 3)', () => {
    const { modifier, publicKey } = load();
    const input = Buffer.concat([modifier, Buffer.alloc(9), publicKey]);
    const digest = createHash('sha1').update(input).digest();
    expect(leadingZeroBits(digest.subarray(0, 14))).toBeGreaterThanOrEqual(32);
  });

  it('has an address whose interface identifier is Hash1 with Sec 2 and u, g zero (RFC 3972 §4 steps 5-6)', () => {
    const { vector, params, prefix } = load();
    const address = parseIpv6(vector.address);
    expect(address).toBeDefined();
    expect(formatIpv6(address!)).toBe(vector.address); // RFC 5952 text
    expect(Buffer.from(address!.subarray(0, 8)).equals(prefix)).toBe(true);
    const iid = createHash('sha1').update(params).digest().subarray(0, 8);
    iid[0] = (iid[0]! & 0x1c) | (2 << 5);
    expect(Buffer.from(address!.subarray(8)).toString('hex')).toBe(iid.toString('hex'));
    expect(address![8]! >> 5).toBe(2);
    expect(address![8]! & 0x03).toBe(0);
  });
});
