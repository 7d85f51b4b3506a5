/**
 * shim6d's control socket: a unix stream socket (mode 0600, in a directory created 0700
 * when missing) speaking the framed CBOR protocol of control-protocol.ts.
 *
 * Robustness, since anything that can open the socket can send anything:
 * - Connections are bounded (`maxConnections`); one more gets a `busy` reply and is closed.
 * - Each connection handles one request at a time and stops reading while it does, and
 *   while its replies wait for the client to read them, so what it buffers is bounded by
 *   one partial frame plus one socket read; a client that lets more than
 *   `maxWriteBuffer` octets of replies pile up is disconnected.
 * - An idle connection is closed after `idleTimeoutMs`.
 * - Every malformed input gets an error reply with a code and is counted; an oversized
 *   length prefix (the stream cannot be resynchronised) is answered, then the connection
 *   closed. A handler that throws something other than a ControlError gives `internal`.
 * - Socket errors are swallowed per connection; nothing a client does reaches the
 *   process's uncaught-exception handler.
 */
import { lstat, chmod, mkdir, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import {
  CONTROL_ERROR_CODES, ControlError, decodeCbor, encodeFrame, errorResponse, FrameReader, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME,
  okResponse, parseRequest, type ControlErrorCode, type ControlRequest, type ControlResponse, type ControlStats,
} from './control-protocol.js';

/** Runs validated requests: resolves to the result, or rejects (a ControlError keeps its code). */
export interface ControlHandler {
  handle(request: ControlRequest): Promise<unknown>;
}

export interface ControlServerOptions {
  readonly path: string;
  readonly maxConnections?: number;
  readonly idleTimeoutMs?: number;
  readonly maxRequestFrame?: number;
  readonly maxWriteBuffer?: number;
  /** Called for every error reply (the daemon logs these, rate-limited). */
  readonly onError?: (code: ControlErrorCode, message: string) => void;
}

export const CONTROL_DEFAULTS = {
  maxConnections: 32,
  idleTimeoutMs: 30_000,
  maxWriteBuffer: 2 * MAX_RESPONSE_FRAME,
} as const;

export class ControlSocketError extends Error {
  readonly code: 'already-running' | 'not-a-socket' | 'unusable';
  constructor(code: ControlSocketError['code'], message: string) {
    super(message);
    this.name = 'ControlSocketError';
    this.code = code;
  }
}

function errnoOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined;
}

/** 'live' when something accepts connections on `path`, 'refused' when nothing does. */
function probe(path: string, timeoutMs: number): Promise<'live' | 'refused' | 'absent'> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    const done = (r: 'live' | 'refused' | 'absent' | Error): void => {
      clearTimeout(timer);
      s.destroy();
      if (r instanceof Error) reject(r); else resolve(r);
    };
    const timer = setTimeout(() => done('live'), timeoutMs);
    s.once('connect', () => done('live'));
    s.once('error', (e) => {
      const code = errnoOf(e);
      if (code === 'ECONNREFUSED') done('refused');
      else if (code === 'ENOENT') done('absent');
      else done(new ControlSocketError('unusable', `cannot probe ${path}: ${e.message}`));
    });
  });
}

/**
 * Makes `path` free for a new daemon: nothing there, or a stale socket of a daemon that
 * died (removed). Throws ControlSocketError when a live daemon answers there, or when the
 * path holds something other than a socket (never removed).
 */
export async function claimSocketPath(path: string, probeTimeoutMs = 2000): Promise<'absent' | 'stale'> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return 'absent';
    throw new ControlSocketError('unusable', `cannot inspect ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isSocket) throw new ControlSocketError('not-a-socket', `${path} exists and is not a socket; not removing it`);
  const state = await probe(path, probeTimeoutMs);
  if (state === 'live') throw new ControlSocketError('already-running', `another shim6d is already running on ${path}`);
  if (state === 'absent') return 'absent';
  await unlink(path).catch((e: unknown) => {
    if (errnoOf(e) !== 'ENOENT') throw e;
  });
  return 'stale';
}

function zeroErrors(): Record<ControlErrorCode, number> {
  const o = {} as Record<ControlErrorCode, number>;
  for (const c of CONTROL_ERROR_CODES) o[c] = 0;
  return o;
}

export class ControlServer {
  private readonly handler: ControlHandler;
  readonly path: string;
  private readonly maxConnections: number;
  private readonly idleTimeoutMs: number;
  private readonly maxRequestFrame: number;
  private readonly maxWriteBuffer: number;
  private readonly onError: (code: ControlErrorCode, message: string) => void;
  private server: Server | undefined;
  private readonly conns = new Set<Socket>();
  private closing = false;
  private inode: number | undefined;
  private accepted = 0;
  private rejected = 0;
  private requests = 0;
  private readonly errors = zeroErrors();

  constructor(handler: ControlHandler, options: ControlServerOptions) {
    this.handler = handler;
    this.path = options.path;
    this.maxConnections = options.maxConnections ?? CONTROL_DEFAULTS.maxConnections;
    this.idleTimeoutMs = options.idleTimeoutMs ?? CONTROL_DEFAULTS.idleTimeoutMs;
    this.maxRequestFrame = options.maxRequestFrame ?? MAX_REQUEST_FRAME;
    this.maxWriteBuffer = options.maxWriteBuffer ?? CONTROL_DEFAULTS.maxWriteBuffer;
    this.onError = options.onError ?? (() => {});
  }

  /** Creates the socket (mode 0600; its directory 0700 when it has to be created) and accepts connections. */
  async listen(): Promise<void> {
    if (this.server !== undefined) throw new Error('ControlServer.listen called twice');
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const server = createServer({ allowHalfOpen: false }, (s) => this.accept(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // The socket is created by bind(), synchronously inside listen(): a umask keeps it
      // private from the start (umask is unavailable in worker threads; chmod follows anyway).
      let old: number | undefined;
      try { old = process.umask(0o177); } catch { old = undefined; }
      try {
        server.listen(this.path, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        if (old !== undefined) process.umask(old);
      }
    });
    // Accept failures (EMFILE...) must not take the daemon down.
    server.on('error', (e) => this.onError('internal', `control socket: ${e.message}`));
    await chmod(this.path, 0o600);
    this.inode = (await lstat(this.path)).ino;
  }

  /**
   * Stops accepting, drops every connection and removes the socket file. Idempotent.
   * (libuv unlinks the path when the listening handle closes; the unlink here, only of
   * the inode we created, covers a runtime that does not.)
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const s of this.conns) s.destroy();
    const server = this.server;
    if (server === undefined) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.inode !== undefined) {
      try {
        if ((await lstat(this.path)).ino === this.inode) await unlink(this.path);
      } catch {
        // already gone
      }
    }
  }

  stats(): ControlStats {
    return { connections: this.conns.size, accepted: this.accepted, rejected: this.rejected, requests: this.requests, errors: { ...this.errors } };
  }

  private accept(socket: Socket): void {
    socket.on('error', () => {});
    if (this.closing) { socket.destroy(); return; }
    if (this.conns.size >= this.maxConnections) {
      this.rejected++;
      const r = errorResponse(null, 'busy', `too many connections (at most ${this.maxConnections})`);
      this.count(r);
      socket.setTimeout(this.idleTimeoutMs, () => socket.destroy());
      socket.end(encodeFrame(r), () => socket.destroy());
      return;
    }
    this.accepted++;
    this.conns.add(socket);
    socket.once('close', () => this.conns.delete(socket));
    new Connection(this, socket, this.maxRequestFrame, this.idleTimeoutMs, this.maxWriteBuffer);
  }

  /** Counts a frame received. */
  countRequest(): void {
    this.requests++;
  }

  /** Counts an error reply and reports it. */
  count(r: ControlResponse): void {
    if (r.ok) return;
    const code = (CONTROL_ERROR_CODES as readonly string[]).includes(r.error.code) ? r.error.code as ControlErrorCode : 'internal';
    this.errors[code]++;
    this.onError(code, r.error.message);
  }

  dispatch(request: ControlRequest): Promise<ControlResponse> {
    return Promise.resolve()
      .then(() => this.handler.handle(request))
      .then(
        (result) => okResponse(request.id, result),
        (e: unknown) => e instanceof ControlError
          ? errorResponse(request.id, e.code, e.message)
          : errorResponse(request.id, 'internal', `internal error: ${e instanceof Error ? e.message : String(e)}`),
      );
  }
}

/** One client connection: frames in, one request at a time, replies out. */
class Connection {
  private readonly server: ControlServer;
  private readonly socket: Socket;
  private readonly reader: FrameReader;
  private readonly maxWriteBuffer: number;
  private busy = false;
  private waitingDrain = false;
  private done = false;

  constructor(server: ControlServer, socket: Socket, maxFrame: number, idleTimeoutMs: number, maxWriteBuffer: number) {
    this.server = server;
    this.socket = socket;
    this.reader = new FrameReader(maxFrame);
    this.maxWriteBuffer = maxWriteBuffer;
    socket.setTimeout(idleTimeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      this.pump();
    });
    socket.on('drain', () => {
      if (!this.waitingDrain) return;
      this.waitingDrain = false;
      this.flow();
      this.pump();
    });
    socket.once('close', () => { this.done = true; });
  }

  private flow(): void {
    if (this.done) return;
    if (this.busy || this.waitingDrain) this.socket.pause();
    else this.socket.resume();
  }

  private pump(): void {
    try {
      while (!this.busy && !this.waitingDrain && !this.done) {
        const ev = this.reader.next();
        if (ev === undefined) return;
        this.server.countRequest();
        if (ev.kind === 'too-large') {
          this.finish(errorResponse(null, 'frame-too-large', `frame of ${ev.length} octets exceeds the limit`));
          return;
        }
        if (ev.kind === 'empty') { this.reply(errorResponse(null, 'bad-frame', 'empty frame')); continue; }
        const d = decodeCbor(ev.payload);
        if (!d.ok) { this.reply(errorResponse(null, 'bad-frame', d.message)); continue; }
        const p = parseRequest(d.value);
        if (!p.ok) { this.reply(errorResponse(p.id, p.code, p.message)); continue; }
        this.busy = true;
        this.flow();
        void this.server.dispatch(p.request).then((r) => {
          this.busy = false;
          this.reply(r);
          this.flow();
          this.pump();
        });
      }
    } catch (e) {
      // A bug in this file, not the client's doing: drop the connection, keep the daemon.
      this.server.count(errorResponse(null, 'internal', `control connection: ${e instanceof Error ? e.message : String(e)}`));
      this.done = true;
      this.socket.destroy();
    }
  }

  private frame(r: ControlResponse): Uint8Array {
    this.server.count(r);
    const f = encodeFrame(r);
    if (f.length - 4 <= MAX_RESPONSE_FRAME) return f;
    const e = errorResponse(r.id, 'internal', 'reply too large');
    this.server.count(e);
    return encodeFrame(e);
  }

  private reply(r: ControlResponse): void {
    if (this.done || this.socket.destroyed) return;
    if (!this.socket.write(this.frame(r))) {
      if (this.socket.writableLength > this.maxWriteBuffer) {
        this.done = true;
        this.socket.destroy();
        return;
      }
      this.waitingDrain = true;
      this.flow();
    }
  }

  /** Replies, then closes: the stream cannot continue. */
  private finish(r: ControlResponse): void {
    this.done = true;
    this.socket.pause();
    if (this.socket.destroyed) return;
    this.socket.end(this.frame(r), () => this.socket.destroy());
  }
}
