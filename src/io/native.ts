/**
 * The one module that loads the shim6_native addon (native/, built by native/build.mjs
 * into native/build/Release/shim6_native.node): STYLE.md, "only io/ touches the addon".
 * Everything else imports the typed functions below, never the .node file.
 *
 * The addon is found relative to the package root (the nearest ancestor directory with a
 * package.json), so the same code works from the TypeScript sources (src/io/, under
 * vitest) and from the compiled output (dist/src/io/). It is loaded on first use, not at
 * import, so modules that merely import this one work without a built addon; a missing
 * or unloadable addon is an `Error` that says how to build it.
 *
 * Functions:
 * - `cgaSearchChunk`: the CGA modifier search inner loop (RFC 3972 §4), used by
 *   src/io/cga-search.ts on worker threads and by the benchmarks on one thread.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's exports, as native/src/ defines them. */
export interface NativeAddon {
  /**
   * Tries `count` consecutive modifiers from `startModifier` (16 octets, incremented as a
   * 128-bit big-endian integer, wrapping at 2^128) in `hash2Input` (modifier || 9 zero
   * octets || DER public key || extension fields; its first 16 octets are ignored) and
   * returns the first modifier whose Hash2 has its 16*`sec` leftmost bits zero, or
   * `null`. Synchronous; about 6M tries per second per core for an RSA-1024 key.
   * Throws a `TypeError` for a bad argument: `hash2Input` not a Uint8Array of 16 to
   * 2^20 octets, `sec` not an integer 0-7, `startModifier` not a 16-octet Uint8Array,
   * `count` not an integer 0 to 2^53.
   */
  cgaSearchChunk(hash2Input: Uint8Array, sec: number, startModifier: Uint8Array, count: number): Uint8Array | null;
}

/** The package root: the nearest ancestor of this module's directory with a package.json. */
function findPackageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`shim6_native: no package.json above ${start}`);
  }
}

/** Where native/build.mjs puts the addon. */
export function nativeAddonPath(): string {
  return join(findPackageRoot(), 'native', 'build', 'Release', 'shim6_native.node');
}

let addon: NativeAddon | undefined;

/** Loads the addon once; throws an `Error` that says how to build it when that fails. */
export function loadNative(): NativeAddon {
  if (addon !== undefined) return addon;
  const path = nativeAddonPath();
  if (!existsSync(path)) {
    throw new Error(`shim6_native addon not found at ${path}: run npm install (or node native/build.mjs) to build it`);
  }
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`shim6_native addon at ${path} does not load (${reason}): rebuild it with npm install (or node native/build.mjs)`);
  }
  return addon;
}

/** See `NativeAddon.cgaSearchChunk`. */
export function cgaSearchChunk(hash2Input: Uint8Array, sec: number, startModifier: Uint8Array, count: number): Uint8Array | null {
  return loadNative().cgaSearchChunk(hash2Input, sec, startModifier, count);
}
