/**
 * The shim6d control protocol, as pure functions: framing, the accepted CBOR subset,
 * request and response shapes, error codes. No sockets here (control-server.ts and
 * control-client.ts do the I/O), so every function can be fed arbitrary bytes in tests.
 *
 * Framing: each message is a 4-octet big-endian length followed by exactly one CBOR item
 * (RFC 8949) of that many octets. Requests are at most MAX_REQUEST_FRAME (64 KiB)
 * octets; responses at most MAX_RESPONSE_FRAME (a `contexts` listing can be large).
 *
 * Request:  {v: 1, id: uint, op, args?: map}
 * Response: {v: 1, id, ok: true, result} or {v: 1, id, ok: false, error: {code, message}}
 * `id` echoes the request's; it is null when the request's id could not be read.
 * Addresses travel as text (RFC 5952 on output), context tags as integers, times as
 * ISO 8601 text (UTC).
 *
 * Ops, their arguments (? optional) and results:
 *   status                               StatusResult
 *   contexts                             ContextView[]
 *   context    {context}                 ContextView
 *   counters                             CountersResult
 *   set-pair   {context, local, peer}    ContextView
 *   locators                             LocatorsResult
 *   establish  {peer, local?}            EstablishResult (RFC 5533 §7.1: start I1)
 *   explore    {context}                 ContextView (RFC 5534 §4: start exploring now)
 *   pcap       {action: start|stop, path?}  PcapResult (path only with start)
 *   metrics                              MetricsResult (Prometheus text exposition)
 *   reload                               ReloadResult
 *
 * Accepted CBOR (checked before cbor-x decodes anything, so a hostile frame cannot make
 * the decoder build tagged objects, deep structures or huge arrays): definite lengths
 * only, no tags, simple values false/true/null/undefined and floats only, text-string map
 * keys without duplicates, valid UTF-8, nesting at most MAX_CBOR_DEPTH, and exactly one
 * item filling the frame.
 */
import { decode, encode } from 'cbor-x';
import type { Counters } from '../dataplane/types.js';

export const CONTROL_PROTOCOL_VERSION = 1;
export const FRAME_HEADER_LEN = 4;
export const MAX_REQUEST_FRAME = 64 * 1024;
export const MAX_RESPONSE_FRAME = 4 * 1024 * 1024;
export const MAX_CBOR_DEPTH = 8;
/** Longest string argument (context names are at most 64 characters, addresses 45; capture paths must fit too). */
export const MAX_ARG_STRING = 256;
/** Characters of a client-supplied string quoted back in an error message. */
const QUOTE_MAX = 64;

export const CONTROL_OPS = ['status', 'contexts', 'context', 'set-pair', 'counters', 'locators', 'establish', 'explore', 'pcap', 'metrics', 'reload'] as const;
export type ControlOp = (typeof CONTROL_OPS)[number];

/** Error codes of error replies. */
export const CONTROL_ERROR_CODES = [
  /** The length prefix exceeds the frame limit; the server replies, then closes. */
  'frame-too-large',
  /** An empty frame, or one that is not exactly one CBOR item of the accepted subset. */
  'bad-frame',
  /** Well-formed CBOR that is not a valid request: not a map, a missing, extra or mistyped field. */
  'bad-request',
  /** `v` is not 1. */
  'unsupported-version',
  'unknown-op',
  /** No context has that name. */
  'unknown-context',
  /** Not an IPv6 address, or not one of the context's locators. */
  'bad-locator',
  /** Too many connections; the server replies, then closes. */
  'busy',
  /** A system command (routing) failed; the change was rolled back. */
  'system',
  /** The op needs something this daemon does not run (no context engine, no metrics listener...). */
  'not-available',
  /** `establish`: no local identity (ULID) fits, or `local` is not one of ours. */
  'no-identity',
  /** `pcap`: already capturing (start), not capturing (stop), or the file cannot be written. */
  'capture',
  /** `reload`: the configuration file cannot be read or is not valid; nothing was changed. */
  'bad-config',
  'internal',
] as const;
export type ControlErrorCode = (typeof CONTROL_ERROR_CODES)[number];

/** Thrown by request handlers; becomes an error reply with this code. */
export class ControlError extends Error {
  readonly code: ControlErrorCode;
  constructor(code: ControlErrorCode, message: string) {
    super(message);
    this.name = 'ControlError';
    this.code = code;
  }
}

export const PCAP_ACTIONS = ['start', 'stop'] as const;
export type PcapAction = (typeof PCAP_ACTIONS)[number];

export type ControlRequest =
  | { readonly id: number; readonly op: 'status' | 'contexts' | 'counters' | 'locators' | 'metrics' | 'reload' }
  | { readonly id: number; readonly op: 'context' | 'explore'; readonly args: { readonly context: string } }
  | { readonly id: number; readonly op: 'set-pair'; readonly args: { readonly context: string; readonly local: string; readonly peer: string } }
  | { readonly id: number; readonly op: 'establish'; readonly args: { readonly peer: string; readonly local?: string } }
  | { readonly id: number; readonly op: 'pcap'; readonly args: { readonly action: PcapAction; readonly path?: string } };

export interface ControlErrorBody {
  readonly code: string;
  readonly message: string;
}

export type ControlResponse =
  | { readonly v: 1; readonly id: number | null; readonly ok: true; readonly result: unknown }
  | { readonly v: 1; readonly id: number | null; readonly ok: false; readonly error: ControlErrorBody };

export interface PairView {
  readonly local: string;
  readonly peer: string;
}

/** RFC 5534 §6 REAP states, spelled as src/reap/types.ts spells them. */
export const REAP_STATES = ['Operational', 'Exploring', 'InboundOk'] as const;
export type ReapStateName = (typeof REAP_STATES)[number];

export interface FailoverView {
  /** ISO time the new pair was taken into use. */
  readonly at: string;
  /** From the start of exploring to the switch; null when not measured (e.g. an operator's set-pair). */
  readonly durationMs: number | null;
  readonly from: PairView;
  readonly to: PairView;
  /** Why, e.g. 'send-timeout', 'peer-exploring', 'operator'. */
  readonly reason: string;
}

/**
 * One context as `contexts`, `context`, `set-pair` and `explore` report it. Static
 * (configured) contexts have no RFC 5533 state and no REAP: state, reap, lastFailover
 * and establishedAt are null and failovers is 0.
 */
export interface ContextView {
  readonly name: string;
  /** 'static': from the configuration file; 'engine': negotiated by the context engine (RFC 5533 §7). */
  readonly source: 'static' | 'engine';
  readonly localUlid: string;
  readonly peerUlid: string;
  readonly localLocators: readonly string[];
  readonly peerLocators: readonly string[];
  readonly localContextTag: number;
  /** Null until the peer's Receiver Context Tag is known (before R2/I2 completes). */
  readonly peerContextTag: number | null;
  readonly currentPair: PairView;
  /** True when the current pair differs from the ULID pair (packets carry the Payload Extension header). */
  readonly rewriting: boolean;
  readonly counters: Counters;
  /** RFC 5533 §6.2 STATE, e.g. 'ESTABLISHED', 'I1-SENT'; null for a static context. */
  readonly state: string | null;
  /** REAP state (RFC 5534 §6) and since when (ISO time); null when REAP does not run on the context. */
  readonly reap: { readonly state: ReapStateName; readonly since: string } | null;
  readonly failovers: number;
  readonly lastFailover: FailoverView | null;
  /** ISO time the context reached ESTABLISHED; null for static contexts and before. */
  readonly establishedAt: string | null;
  /**
   * EXPERIMENTAL flow-label mode (issue #8): the label this host advertised for receiving
   * and the peer's, which it writes instead of the Payload Extension header (0: none, the
   * header is used); null when the mode is off or for a static context.
   */
  readonly flowLabel?: { readonly local: number; readonly peer: number } | null;
}

export interface StatusResult {
  readonly version: string;
  readonly pid: number;
  readonly uptimeSec: number;
  readonly tun: { readonly name: string; readonly mtu: number; readonly offload?: boolean };
  /** All contexts the data plane holds, static and engine. */
  readonly contexts: number;
  readonly counters: Counters;
  /** The RFC 5533 context engine; null when the daemon runs static contexts only. */
  readonly engine: {
    readonly contexts: number;
    /** Contexts per RFC 5533 STATE ('ESTABLISHED': 3, ...). */
    readonly byState: Readonly<Record<string, number>>;
    /** Engine counters ('rx.I1', 'drop.nonce-mismatch', 'reap.local-down', ...). */
    readonly counters: Readonly<Record<string, number>>;
  } | null;
  /** Local identities (ULIDs with their locator sets). */
  readonly identities: number;
  /** How REAP runs (e.g. 'full', 'off'); null without the engine. */
  readonly reapMode: string | null;
  /** A pcap capture is running (`shim6 pcap start`). */
  readonly capturing: boolean;
  /** Where the Prometheus endpoint listens ('[::1]:9464'), or null when off. */
  readonly metrics: string | null;
  /** EXPERIMENTAL flow-label mode (issue #8): labels in use and in quarantine, allocations that found none, contexts redirected; null when off. */
  readonly flowLabel?: {
    readonly interceptDevice: string;
    readonly redirections: number;
    readonly inUse: number;
    readonly quarantined: number;
    readonly exhausted: number;
  } | null;
}

export interface LocatorView {
  readonly address: string;
  /** The interface it is assigned on; null when it is not assigned now. */
  readonly interface: string | null;
  /** How peers verify it: 'HBA', 'CGA' or 'none' (RFC 5533 §5.15.1). */
  readonly method: string;
  /** Usable now (assigned, not deprecated, link up). */
  readonly operational: boolean;
}

export interface LocatorsResult {
  readonly identities: readonly { readonly ulid: string; readonly locators: readonly LocatorView[] }[];
}

export interface EstablishResult {
  /**
   * 'started': I1 sent (RFC 5533 §7.1); 'exists': a context for the ULID pair exists;
   * 'hold-down': the peer recently failed to answer (§7.9 NO-SUPPORT / E-FAILED), not retried yet.
   */
  readonly outcome: 'started' | 'exists' | 'hold-down' | (string & {});
  readonly context: ContextView | null;
}

export interface PcapResult {
  readonly capturing: boolean;
  /** The capture file (the last one after `stop`); null when none was started. */
  readonly path: string | null;
  readonly packets: number;
  /** Octets of the file (headers included). */
  readonly bytes: number;
  /** Packets were left out (the size limit was reached, or the disk fell behind). */
  readonly truncated: boolean;
}

export interface MetricsResult {
  /** Prometheus text exposition format 0.0.4. */
  readonly text: string;
}

export interface ReloadResult {
  /** Settings changed and in effect now. */
  readonly applied: readonly string[];
  /** Settings changed in the file that take effect only after a restart. */
  readonly needsRestart: readonly string[];
}

/** The control server's own counters. */
export interface ControlStats {
  /** Open connections now. */
  readonly connections: number;
  readonly accepted: number;
  /** Connections refused with `busy`. */
  readonly rejected: number;
  /** Frames received (complete, empty or oversized). */
  readonly requests: number;
  readonly errors: Readonly<Record<ControlErrorCode, number>>;
}

export interface CountersResult {
  readonly dataPlane: Counters;
  readonly control: ControlStats;
}

// ---------------------------------------------------------------------------------------
// Framing

/** The frame for `value`: 4-octet big-endian length, then its CBOR encoding. */
export function encodeFrame(value: unknown): Uint8Array {
  const body = encode(value);
  const frame = new Uint8Array(FRAME_HEADER_LEN + body.length);
  new DataView(frame.buffer).setUint32(0, body.length);
  frame.set(body, FRAME_HEADER_LEN);
  return frame;
}

export type FrameEvent =
  | { readonly kind: 'frame'; readonly payload: Uint8Array }
  | { readonly kind: 'empty' }
  /** The length prefix exceeds the limit: the stream cannot be resynchronised. */
  | { readonly kind: 'too-large'; readonly length: number };

/** When more chunks than this are held, they are joined into one (bounds per-chunk overhead). */
const MAX_HELD_CHUNKS = 64;

/**
 * Splits a byte stream into frames. Holds at most the bytes pushed and not yet taken;
 * after `too-large` it returns nothing more.
 */
export class FrameReader {
  private readonly maxFrame: number;
  private chunks: Uint8Array[] = [];
  private held = 0;
  private failed = false;

  constructor(maxFrame: number) {
    this.maxFrame = maxFrame;
  }

  get bufferedBytes(): number {
    return this.held;
  }

  push(chunk: Uint8Array): void {
    if (this.failed || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.held += chunk.length;
    if (this.chunks.length > MAX_HELD_CHUNKS) {
      const all = this.take(this.held);
      this.chunks = [all];
      this.held = all.length;
    }
  }

  /** The next frame, or undefined when more bytes are needed. */
  next(): FrameEvent | undefined {
    if (this.failed || this.held < FRAME_HEADER_LEN) return undefined;
    const length = this.peekLength();
    if (length > this.maxFrame) {
      this.failed = true;
      this.chunks = [];
      this.held = 0;
      return { kind: 'too-large', length };
    }
    if (this.held < FRAME_HEADER_LEN + length) return undefined;
    this.take(FRAME_HEADER_LEN);
    if (length === 0) return { kind: 'empty' };
    return { kind: 'frame', payload: this.take(length) };
  }

  private peekLength(): number {
    let n = 0;
    let got = 0;
    for (const c of this.chunks) {
      for (let i = 0; i < c.length && got < FRAME_HEADER_LEN; i++, got++) n = n * 256 + c[i]!;
      if (got === FRAME_HEADER_LEN) break;
    }
    return n;
  }

  /** Removes and returns the first `n` held bytes (n <= held). */
  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length === n) {
      this.chunks.shift();
      this.held -= n;
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      this.held -= n;
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.held -= n;
    return out;
  }
}

// ---------------------------------------------------------------------------------------
// The accepted CBOR subset

const utf8 = new TextDecoder('utf-8', { fatal: true });

class CborReject extends Error {}

class CborScanner {
  private pos = 0;
  private readonly b: Uint8Array;
  constructor(b: Uint8Array) {
    this.b = b;
  }

  run(): void {
    this.item(1);
    if (this.pos !== this.b.length) throw new CborReject(`${this.b.length - this.pos} octets after the CBOR item`);
  }

  private need(n: number): void {
    if (n > this.b.length - this.pos) throw new CborReject('truncated CBOR item');
  }

  /** The argument of the head whose additional information is `ai`. */
  private argument(ai: number): number {
    if (ai < 24) return ai;
    const size = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
    if (size === 0) throw new CborReject(ai === 31 ? 'indefinite-length items are not accepted' : `reserved additional information ${ai}`);
    this.need(size);
    let n = 0;
    for (let i = 0; i < size; i++) n = n * 256 + this.b[this.pos++]!;
    return n;
  }

  /** Scans one item; returns the decoded text when it is a text string (for map keys). */
  private item(depth: number): string | undefined {
    if (depth > MAX_CBOR_DEPTH) throw new CborReject(`nested deeper than ${MAX_CBOR_DEPTH}`);
    this.need(1);
    const ib = this.b[this.pos++]!;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    if (major === 7) {
      if (ai >= 20 && ai <= 23) return undefined;
      const size = ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
      if (size === 0) throw new CborReject(ai === 31 ? 'unexpected break' : `simple value ${ai} is not accepted`);
      this.need(size);
      this.pos += size;
      return undefined;
    }
    if (major === 6) throw new CborReject('tags are not accepted');
    const n = this.argument(ai);
    switch (major) {
      case 0: case 1: return undefined;
      case 2: this.need(n); this.pos += n; return undefined;
      case 3: {
        this.need(n);
        let s: string;
        try {
          s = utf8.decode(this.b.subarray(this.pos, this.pos + n));
        } catch {
          throw new CborReject('text string is not valid UTF-8');
        }
        this.pos += n;
        return s;
      }
      case 4:
        this.need(n);
        for (let i = 0; i < n; i++) this.item(depth + 1);
        return undefined;
      default: { // 5: map
        if (n * 2 > this.b.length - this.pos) throw new CborReject('truncated CBOR item');
        const keys = new Set<string>();
        for (let i = 0; i < n; i++) {
          this.need(1);
          if (this.b[this.pos]! >> 5 !== 3) throw new CborReject('map keys must be text strings');
          const key = this.item(depth + 1)!;
          if (keys.has(key)) throw new CborReject(`duplicate map key ${quote(key)}`);
          keys.add(key);
          this.item(depth + 1);
        }
        return undefined;
      }
    }
  }
}

/** Why `bytes` is not exactly one item of the accepted CBOR subset, or undefined when it is. */
export function checkCbor(bytes: Uint8Array): string | undefined {
  try {
    new CborScanner(bytes).run();
    return undefined;
  } catch (e) {
    return e instanceof CborReject ? e.message : `unreadable CBOR (${e instanceof Error ? e.message : String(e)})`;
  }
}

/** Decodes one frame payload. Never throws. */
export function decodeCbor(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false; message: string } {
  const problem = checkCbor(bytes);
  if (problem !== undefined) return { ok: false, message: problem };
  try {
    return { ok: true, value: decode(bytes) as unknown };
  } catch (e) {
    return { ok: false, message: `unreadable CBOR (${e instanceof Error ? e.message : String(e)})` };
  }
}

// ---------------------------------------------------------------------------------------
// Requests and responses

function quote(s: string): string {
  return JSON.stringify(s.length > QUOTE_MAX ? `${s.slice(0, QUOTE_MAX)}…` : s);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'a byte string';
  return typeof v === 'object' ? 'a map' : `a ${typeof v}`;
}

/** A non-negative safe integer (CBOR uint; a float with an integral value is accepted too). */
function asUint(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return undefined;
}

export type ParsedRequest =
  | { readonly ok: true; readonly request: ControlRequest }
  | { readonly ok: false; readonly id: number | null; readonly code: ControlErrorCode; readonly message: string };

const REQUEST_KEYS = ['v', 'id', 'op', 'args'];
/** Each op's string arguments: required, optional, and closed value sets. */
interface ArgSpec {
  readonly required: readonly string[];
  readonly optional: readonly string[];
  readonly choices?: Readonly<Record<string, readonly string[]>>;
}
const NO_ARGS: ArgSpec = { required: [], optional: [] };
const ARG_SPECS: Readonly<Record<ControlOp, ArgSpec>> = {
  status: NO_ARGS, contexts: NO_ARGS, counters: NO_ARGS, locators: NO_ARGS, metrics: NO_ARGS, reload: NO_ARGS,
  context: { required: ['context'], optional: [] },
  explore: { required: ['context'], optional: [] },
  'set-pair': { required: ['context', 'local', 'peer'], optional: [] },
  establish: { required: ['peer'], optional: ['local'] },
  pcap: { required: ['action'], optional: ['path'], choices: { action: PCAP_ACTIONS } },
};

/** Validates a decoded request. Never throws. */
export function parseRequest(value: unknown): ParsedRequest {
  const fail = (id: number | null, code: ControlErrorCode, message: string): ParsedRequest => ({ ok: false, id, code, message });
  if (!isMap(value)) return fail(null, 'bad-request', `a request must be a map, not ${typeName(value)}`);
  const id = Object.hasOwn(value, 'id') ? asUint(value['id']) ?? null : null;
  if (!Object.hasOwn(value, 'id')) return fail(null, 'bad-request', 'id is required');
  if (id === null) return fail(null, 'bad-request', `id must be an unsigned integer, not ${typeName(value['id'])}`);
  for (const key of Object.keys(value)) if (!REQUEST_KEYS.includes(key)) return fail(id, 'bad-request', `unknown key ${quote(key)}`);
  if (!Object.hasOwn(value, 'v')) return fail(id, 'bad-request', 'v is required');
  const v = value['v'];
  if (typeof v !== 'number' && typeof v !== 'bigint') return fail(id, 'bad-request', `v must be an integer, not ${typeName(v)}`);
  if (Number(v) !== CONTROL_PROTOCOL_VERSION) return fail(id, 'unsupported-version', `protocol version ${String(v)} is not supported (this daemon speaks ${CONTROL_PROTOCOL_VERSION})`);
  const op = value['op'];
  if (typeof op !== 'string') return fail(id, 'bad-request', `op must be a string, not ${typeName(op)}`);
  if (!(CONTROL_OPS as readonly string[]).includes(op)) return fail(id, 'unknown-op', `unknown op ${quote(op)}`);
  const spec = ARG_SPECS[op as ControlOp];
  const args = Object.hasOwn(value, 'args') ? value['args'] : undefined;
  if (args !== undefined && !isMap(args)) return fail(id, 'bad-request', `args must be a map, not ${typeName(args)}`);
  const a: Record<string, unknown> = args ?? {};
  for (const key of Object.keys(a)) {
    if (!spec.required.includes(key) && !spec.optional.includes(key)) return fail(id, 'bad-request', `op ${op} takes no argument ${quote(key)}`);
  }
  const strings: Record<string, string> = {};
  for (const key of [...spec.required, ...spec.optional]) {
    if (!Object.hasOwn(a, key)) {
      if (spec.required.includes(key)) return fail(id, 'bad-request', `op ${op} needs args.${key}`);
      continue;
    }
    const s = a[key];
    if (typeof s !== 'string') return fail(id, 'bad-request', `args.${key} must be a string, not ${typeName(s)}`);
    if (s.length === 0 || s.length > MAX_ARG_STRING) return fail(id, 'bad-request', `args.${key} must be 1 to ${MAX_ARG_STRING} characters`);
    const choices = spec.choices?.[key];
    if (choices !== undefined && !choices.includes(s)) return fail(id, 'bad-request', `args.${key} must be one of ${choices.join(', ')}, not ${quote(s)}`);
    strings[key] = s;
  }
  switch (op as ControlOp) {
    case 'context': case 'explore':
      return { ok: true, request: { id, op: op as 'context' | 'explore', args: { context: strings['context']! } } };
    case 'set-pair': return { ok: true, request: { id, op: 'set-pair', args: { context: strings['context']!, local: strings['local']!, peer: strings['peer']! } } };
    case 'establish': {
      const local = strings['local'];
      return { ok: true, request: { id, op: 'establish', args: local === undefined ? { peer: strings['peer']! } : { peer: strings['peer']!, local } } };
    }
    case 'pcap': {
      const action = strings['action'] as PcapAction;
      const path = strings['path'];
      if (path !== undefined && action !== 'start') return fail(id, 'bad-request', 'args.path goes only with action start');
      return { ok: true, request: { id, op: 'pcap', args: path === undefined ? { action } : { action, path } } };
    }
    default: return { ok: true, request: { id, op: op as 'status' | 'contexts' | 'counters' | 'locators' | 'metrics' | 'reload' } };
  }
}

export function okResponse(id: number | null, result: unknown): ControlResponse {
  return { v: CONTROL_PROTOCOL_VERSION, id, ok: true, result };
}

export function errorResponse(id: number | null, code: ControlErrorCode, message: string): ControlResponse {
  return { v: CONTROL_PROTOCOL_VERSION, id, ok: false, error: { code, message } };
}

/** Validates a decoded response (the client's side). Never throws. */
export function parseResponse(value: unknown): { ok: true; response: ControlResponse } | { ok: false; message: string } {
  if (!isMap(value)) return { ok: false, message: `a response must be a map, not ${typeName(value)}` };
  if (value['v'] !== CONTROL_PROTOCOL_VERSION) return { ok: false, message: `unsupported response version ${quote(String(value['v']))}` };
  const idv = value['id'];
  const id = idv === null ? null : asUint(idv);
  if (id === undefined) return { ok: false, message: 'response id must be an unsigned integer or null' };
  if (value['ok'] === true) {
    if (!Object.hasOwn(value, 'result')) return { ok: false, message: 'response has no result' };
    return { ok: true, response: { v: CONTROL_PROTOCOL_VERSION, id, ok: true, result: value['result'] } };
  }
  if (value['ok'] === false) {
    const e = value['error'];
    if (!isMap(e) || typeof e['code'] !== 'string' || typeof e['message'] !== 'string') return { ok: false, message: 'error response without {code, message}' };
    return { ok: true, response: { v: CONTROL_PROTOCOL_VERSION, id, ok: false, error: { code: e['code'], message: e['message'] } } };
  }
  return { ok: false, message: 'response ok must be true or false' };
}

// ---------------------------------------------------------------------------------------
// Result shapes, checked by clients before they print

function isNumberMap(v: unknown): v is Record<string, number> {
  return isMap(v) && Object.values(v).every((n) => typeof n === 'number');
}

function isCounterMap(v: unknown): v is Counters {
  return isNumberMap(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

function isStringOrNull(v: unknown): v is string | null {
  return v === null || typeof v === 'string';
}

function isPairView(v: unknown): v is PairView {
  return isMap(v) && typeof v['local'] === 'string' && typeof v['peer'] === 'string';
}

function isFailoverView(v: unknown): v is FailoverView {
  return isMap(v) && typeof v['at'] === 'string' && (v['durationMs'] === null || typeof v['durationMs'] === 'number')
    && isPairView(v['from']) && isPairView(v['to']) && typeof v['reason'] === 'string';
}

function isReapView(v: unknown): v is ContextView['reap'] {
  if (v === null) return true;
  return isMap(v) && typeof v['state'] === 'string' && (REAP_STATES as readonly string[]).includes(v['state']) && typeof v['since'] === 'string';
}

export function isContextView(v: unknown): v is ContextView {
  if (!isMap(v)) return false;
  return typeof v['name'] === 'string' && (v['source'] === 'static' || v['source'] === 'engine')
    && typeof v['localUlid'] === 'string' && typeof v['peerUlid'] === 'string'
    && isStringArray(v['localLocators']) && isStringArray(v['peerLocators'])
    && typeof v['localContextTag'] === 'number' && (v['peerContextTag'] === null || typeof v['peerContextTag'] === 'number')
    && isPairView(v['currentPair']) && typeof v['rewriting'] === 'boolean' && isCounterMap(v['counters'])
    && isStringOrNull(v['state']) && isReapView(v['reap'])
    && typeof v['failovers'] === 'number' && (v['lastFailover'] === null || isFailoverView(v['lastFailover']))
    && isStringOrNull(v['establishedAt']);
}

function isEngineStatus(v: unknown): v is StatusResult['engine'] {
  if (v === null) return true;
  return isMap(v) && typeof v['contexts'] === 'number' && isNumberMap(v['byState']) && isNumberMap(v['counters']);
}

export function isStatusResult(v: unknown): v is StatusResult {
  if (!isMap(v)) return false;
  const tun = v['tun'];
  return typeof v['version'] === 'string' && typeof v['pid'] === 'number' && typeof v['uptimeSec'] === 'number'
    && isMap(tun) && typeof tun['name'] === 'string' && typeof tun['mtu'] === 'number'
    && typeof v['contexts'] === 'number' && isCounterMap(v['counters'])
    && isEngineStatus(v['engine']) && typeof v['identities'] === 'number' && isStringOrNull(v['reapMode'])
    && typeof v['capturing'] === 'boolean' && isStringOrNull(v['metrics']);
}

function isLocatorView(v: unknown): v is LocatorView {
  return isMap(v) && typeof v['address'] === 'string' && isStringOrNull(v['interface'])
    && typeof v['method'] === 'string' && typeof v['operational'] === 'boolean';
}

export function isLocatorsResult(v: unknown): v is LocatorsResult {
  return isMap(v) && Array.isArray(v['identities'])
    && v['identities'].every((i: unknown) => isMap(i) && typeof i['ulid'] === 'string' && Array.isArray(i['locators']) && i['locators'].every(isLocatorView));
}

export function isEstablishResult(v: unknown): v is EstablishResult {
  return isMap(v) && typeof v['outcome'] === 'string' && (v['context'] === null || isContextView(v['context']));
}

export function isPcapResult(v: unknown): v is PcapResult {
  return isMap(v) && typeof v['capturing'] === 'boolean' && isStringOrNull(v['path'])
    && typeof v['packets'] === 'number' && typeof v['bytes'] === 'number' && typeof v['truncated'] === 'boolean';
}

export function isMetricsResult(v: unknown): v is MetricsResult {
  return isMap(v) && typeof v['text'] === 'string';
}

export function isReloadResult(v: unknown): v is ReloadResult {
  return isMap(v) && isStringArray(v['applied']) && isStringArray(v['needsRestart']);
}
