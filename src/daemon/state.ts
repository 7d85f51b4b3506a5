/**
 * shim6d's saved state (CBOR, cbor-x): the host's HBA identity, generated once and kept so
 * its addresses — the applications' ULIDs — survive restarts, and the ESTABLISHED
 * contexts at a clean shutdown, so a restarted daemon resumes them with the same context
 * tags (RFC 5533 §6.1) and the peer never notices more than a pause.
 *
 * The file is written atomically (a temporary file in the same directory, fsync, then
 * rename) with mode 0600 in a 0700 directory. A file that cannot be read or does not
 * hold what this version writes gives a `StateError`; the daemon logs it, counts it and
 * starts without it (a fresh identity only when there is no usable one; see daemon.ts).
 * Sizes are capped before decoding, and every field is checked before use: a corrupt or
 * hostile file cannot make the daemon allocate without bound or adopt a malformed context.
 */
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { decode, encode } from 'cbor-x';
import type { SavedContext } from '../engine/engine.js';
import type { PeerLocator } from '../context/types.js';
import type { Locator } from '../wire/options/index.js';

export const STATE_VERSION = 1;
/** Bounds on a state file: its size, its contexts, and each context's locator lists. */
export const STATE_LIMITS = { fileBytes: 16 << 20, contexts: 65_536, locators: 32, pdsBytes: 4096 } as const;

export interface SavedIdentity {
  /** The /64 prefixes the set was generated over (8 octets each), in configuration order. */
  readonly prefixes: readonly Uint8Array[];
  readonly ulid: Uint8Array;
  /** The CGA Parameter Data Structure of the HBA set (RFC 5535 §3). */
  readonly pds: Uint8Array;
  readonly locators: readonly Locator[];
}

export interface DaemonState {
  readonly version: number;
  /** Wall-clock milliseconds when written. */
  readonly savedAt: number;
  readonly identity: SavedIdentity | undefined;
  readonly contexts: readonly SavedContext[];
}

export class StateError extends Error {
  readonly code: 'unreadable' | 'too-large' | 'malformed' | 'version';
  constructor(code: StateError['code'], message: string) {
    super(message);
    this.name = 'StateError';
    this.code = code;
  }
}

export function encodeState(state: DaemonState): Uint8Array {
  return encode(state) as Uint8Array;
}

class Bad extends Error {}

function fail(path: string, what: string): never {
  throw new Bad(`${path}: ${what}`);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function bytes(v: unknown, path: string, len?: number, max = STATE_LIMITS.pdsBytes): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(path, 'not a byte string');
  if (len !== undefined && v.length !== len) fail(path, `${v.length} octets, not ${len}`);
  if (v.length > max) fail(path, `longer than ${max} octets`);
  return new Uint8Array(v); // a plain copy, not a view of the decoder's buffer
}

function uint(v: unknown, path: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(path, `not an integer 0..${max}`);
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'not a boolean');
  return v;
}

function list(v: unknown, path: string, max: number): readonly unknown[] {
  if (!Array.isArray(v)) fail(path, 'not an array');
  if (v.length > max) fail(path, `more than ${max} entries`);
  return v;
}

function optional<T>(v: unknown, f: (v: unknown) => T): T | undefined {
  return v === undefined || v === null ? undefined : f(v);
}

function locator(v: unknown, path: string): Locator {
  if (!isMap(v)) fail(path, 'not a map');
  return { address: bytes(v['address'], `${path}.address`, 16), verificationMethod: uint(v['verificationMethod'], `${path}.verificationMethod`, 255) };
}

function peerLocator(v: unknown, path: string): PeerLocator {
  const l = locator(v, path) as Locator & Record<string, unknown>;
  const m = v as Record<string, unknown>;
  const priority = optional(m['priority'], (x) => uint(x, `${path}.priority`, 255));
  const weight = optional(m['weight'], (x) => uint(x, `${path}.weight`, 255));
  return {
    address: l.address, verificationMethod: l.verificationMethod,
    verified: bool(m['verified'], `${path}.verified`), flags: uint(m['flags'], `${path}.flags`, 255),
    ...(priority === undefined ? {} : { priority }), ...(weight === undefined ? {} : { weight }),
  };
}

const TAG_MAX = 2 ** 47 - 1;
const U32_MAX = 0xffff_ffff;

function savedContext(v: unknown, path: string): SavedContext {
  if (!isMap(v)) fail(path, 'not a map');
  const at = (k: string): string => `${path}.${k}`;
  const addr = (k: string): Uint8Array => bytes(v[k], at(k), 16);
  return {
    ulidLocal: addr('ulidLocal'),
    ulidPeer: addr('ulidPeer'),
    fii: uint(v['fii'], at('fii'), U32_MAX),
    ctLocal: uint(v['ctLocal'], at('ctLocal'), TAG_MAX),
    ctPeer: uint(v['ctPeer'], at('ctPeer'), TAG_MAX),
    lsLocal: list(v['lsLocal'], at('lsLocal'), STATE_LIMITS.locators).map((l, i) => locator(l, `${at('lsLocal')}[${i}]`)),
    genLocal: uint(v['genLocal'], at('genLocal'), U32_MAX),
    lsPeer: list(v['lsPeer'], at('lsPeer'), STATE_LIMITS.locators).map((l, i) => peerLocator(l, `${at('lsPeer')}[${i}]`)),
    genPeer: optional(v['genPeer'], (x) => uint(x, at('genPeer'), U32_MAX)),
    pdsPeer: optional(v['pdsPeer'], (x) => bytes(x, at('pdsPeer'))),
    lpLocal: addr('lpLocal'),
    lpPeer: addr('lpPeer'),
    initNonce: uint(v['initNonce'], at('initNonce'), U32_MAX),
    initiator: bool(v['initiator'], at('initiator')),
    primaryLocal: addr('primaryLocal'),
    primaryPeer: addr('primaryPeer'),
    peerKeepaliveTimeoutMs: optional(v['peerKeepaliveTimeoutMs'], (x) => uint(x, at('peerKeepaliveTimeoutMs'), 65_535_000)),
    peerFine: bool(v['peerFine'], at('peerFine')),
    // Experimental flow-label mode (issue #8); absent in files written without it.
    ...optionalLabel(v['flowLabelLocal'], 'flowLabelLocal', at),
    ...optionalLabel(v['flowLabelPeer'], 'flowLabelPeer', at),
  };
}

function optionalLabel(v: unknown, key: 'flowLabelLocal' | 'flowLabelPeer', at: (k: string) => string): { flowLabelLocal?: number } | { flowLabelPeer?: number } {
  const label = optional(v, (x) => uint(x, at(key), 0xfffff));
  return label === undefined ? {} : { [key]: label };
}

function savedIdentity(v: unknown, path: string): SavedIdentity {
  if (!isMap(v)) fail(path, 'not a map');
  const prefixes = list(v['prefixes'], `${path}.prefixes`, 8).map((p, i) => bytes(p, `${path}.prefixes[${i}]`, 8));
  const locators = list(v['locators'], `${path}.locators`, STATE_LIMITS.locators).map((l, i) => locator(l, `${path}.locators[${i}]`));
  if (prefixes.length === 0 || locators.length === 0) fail(path, 'no prefixes or no locators');
  return { prefixes, ulid: bytes(v['ulid'], `${path}.ulid`, 16), pds: bytes(v['pds'], `${path}.pds`), locators };
}

/** Decodes and checks a state file's bytes; throws StateError. */
export function decodeState(data: Uint8Array): DaemonState {
  if (data.length > STATE_LIMITS.fileBytes) throw new StateError('too-large', `larger than ${STATE_LIMITS.fileBytes} octets`);
  let doc: unknown;
  try {
    doc = decode(data) as unknown;
  } catch (e) {
    throw new StateError('malformed', `not CBOR: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    if (!isMap(doc)) fail('(top level)', 'not a map');
    const v = doc['version'];
    if (v !== STATE_VERSION) throw new StateError('version', `version ${typeof v === 'number' ? v : typeof v}, this daemon reads ${STATE_VERSION}`);
    return {
      version: STATE_VERSION,
      savedAt: typeof doc['savedAt'] === 'number' && Number.isFinite(doc['savedAt']) ? doc['savedAt'] : fail('savedAt', 'not a number'),
      identity: optional(doc['identity'], (x) => savedIdentity(x, 'identity')),
      contexts: list(doc['contexts'], 'contexts', STATE_LIMITS.contexts).map((c, i) => savedContext(c, `contexts[${i}]`)),
    };
  } catch (e) {
    if (e instanceof Bad) throw new StateError('malformed', e.message);
    throw e;
  }
}

/** Reads the state file; undefined when there is none. Throws StateError when it exists but is unusable. */
export async function loadState(path: string): Promise<DaemonState | undefined> {
  let data: Uint8Array;
  try {
    const size = (await stat(path)).size;
    if (size > STATE_LIMITS.fileBytes) throw new StateError('too-large', `${path}: larger than ${STATE_LIMITS.fileBytes} octets`);
    data = await readFile(path);
  } catch (e) {
    if (e instanceof StateError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateError('unreadable', `${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return decodeState(data);
}

/** Writes the state file atomically (temporary file, fsync, rename), mode 0600; leaves no temporary file behind on failure. */
export async function saveState(path: string, state: DaemonState): Promise<void> {
  const data = encodeState(state); // before touching the disk: an unencodable state changes nothing
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  // A temporary file left by a crashed run (same pid, e.g. pid 1 in a container) may have
  // another mode; 'wx' after unlinking creates ours with 0600 or fails.
  await unlink(tmp).catch(() => {});
  try {
    const f = await open(tmp, 'wx', 0o600);
    try {
      await f.writeFile(data);
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}
