/**
 * The control server (src/daemon/control-server.ts) over a real unix socket in a private
 * temporary directory, with a scripted handler: mode 0600 and the 0700 directory,
 * pipelined requests, an error reply with its code for every malformed kind (the
 * connection staying usable), the oversize reply-then-close, the connection limit, the
 * idle timeout, a client that never reads, and arbitrary bytes never hurting the server.
 * Also claimSocketPath: absent, stale, live and not-a-socket.
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../src/daemon/control-client.js';
import {
  ControlError, decodeCbor, encodeFrame, FrameReader, MAX_RESPONSE_FRAME, parseResponse, type ControlRequest, type ControlResponse,
} from '../../src/daemon/control-protocol.js';
import { claimSocketPath, ControlServer, ControlSocketError, type ControlHandler } from '../../src/daemon/control-server.js';
import { tempDir } from './fakes.js';

let tmp: { dir: string; remove: () => void };
let n = 0;
const servers: ControlServer[] = [];

beforeAll(() => { tmp = tempDir('shim6-ctl-'); });
afterEach(async () => { for (const s of servers.splice(0)) await s.close(); });
afterAll(() => tmp.remove());

/**
 * Answers status with a fixed result, context with unknown-context, counters by throwing
 * a plain Error; set-pair, establish and pcap echo their args; explore answers
 * not-available; locators, metrics and reload name their op.
 */
const handler: ControlHandler & { seen: string[] } = {
  seen: [],
  async handle(r: ControlRequest): Promise<unknown> {
    handler.seen.push(r.op);
    switch (r.op) {
      case 'status': return { up: true };
      case 'context': throw new ControlError('unknown-context', `no context named "${r.args.context}"`);
      case 'counters': throw new Error('boom');
      case 'set-pair': return r.args;
      case 'contexts': return 'x'.repeat(3_000_000);
      case 'establish': case 'pcap': return r.args;
      case 'explore': throw new ControlError('not-available', 'shim6d runs static contexts only');
      case 'locators': case 'metrics': case 'reload': return { op: r.op };
    }
  },
};

async function startServer(opts: { maxConnections?: number; idleTimeoutMs?: number; maxWriteBuffer?: number; sub?: string } = {}): Promise<ControlServer> {
  const path = join(tmp.dir, opts.sub ?? '', `s${n++}.sock`);
  const s = new ControlServer(handler, { path, maxConnections: opts.maxConnections, idleTimeoutMs: opts.idleTimeoutMs, maxWriteBuffer: opts.maxWriteBuffer });
  servers.push(s);
  await s.listen();
  return s;
}

/** A raw client: send bytes, read reply frames, see the close. */
class RawClient {
  readonly socket: Socket;
  private readonly reader = new FrameReader(MAX_RESPONSE_FRAME);
  private readonly frames: ControlResponse[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  readonly closedPromise: Promise<void>;
  readonly connected: Promise<void>;

  constructor(path: string) {
    this.socket = createConnection(path);
    this.connected = new Promise((resolve, reject) => { this.socket.once('connect', resolve); this.socket.once('error', reject); });
    this.socket.on('error', () => {});
    this.socket.on('data', (c: Buffer) => {
      this.reader.push(c);
      for (let e = this.reader.next(); e !== undefined; e = this.reader.next()) {
        if (e.kind !== 'frame') throw new Error(`server sent a ${e.kind} frame`);
        const d = decodeCbor(e.payload);
        if (!d.ok) throw new Error(d.message);
        const p = parseResponse(d.value);
        if (!p.ok) throw new Error(p.message);
        this.frames.push(p.response);
      }
      this.wake();
    });
    this.closedPromise = new Promise((resolve) => this.socket.once('close', () => { this.closed = true; this.wake(); resolve(); }));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next reply, or undefined when the connection closed first. */
  async next(): Promise<ControlResponse | undefined> {
    while (this.frames.length === 0 && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
    return this.frames.shift();
  }
}

const req = (value: unknown): Uint8Array => encodeFrame(value);

describe('socket file', () => {
  it('is mode 0600, in a directory created 0700, and removed on close', async () => {
    const s = await startServer({ sub: 'new/dir' });
    expect(lstatSync(s.path).isSocket()).toBe(true);
    expect(lstatSync(s.path).mode & 0o777).toBe(0o600);
    expect(lstatSync(join(tmp.dir, 'new/dir')).mode & 0o777).toBe(0o700);
    await s.close();
    await s.close();
    expect(existsSync(s.path)).toBe(false);
  });
});

describe('requests and replies', () => {
  it('controlRequest gets the result; ids are echoed', async () => {
    const s = await startServer();
    expect(await controlRequest(s.path, 'status', undefined, { id: 42 })).toEqual({ v: 1, id: 42, ok: true, result: { up: true } });
    expect(await controlRequest(s.path, 'set-pair', { context: 'a', local: 'b', peer: 'c' })).toMatchObject({ ok: true, result: { context: 'a', local: 'b', peer: 'c' } });
  });

  it('pipelined requests are answered in order on one connection', async () => {
    const s = await startServer();
    const c = new RawClient(s.path);
    c.send(Buffer.concat([req({ v: 1, id: 1, op: 'status' }), req({ v: 1, id: 2, op: 'context', args: { context: 'zz' } }), req({ v: 1, id: 3, op: 'status' })]));
    expect((await c.next())?.id).toBe(1);
    expect(await c.next()).toEqual({ v: 1, id: 2, ok: false, error: { code: 'unknown-context', message: 'no context named "zz"' } });
    expect((await c.next())?.id).toBe(3);
    c.socket.destroy();
  });

  it('a request written one octet at a time', async () => {
    const s = await startServer();
    const c = new RawClient(s.path);
    await c.connected;
    for (const b of req({ v: 1, id: 5, op: 'status' })) c.send(Uint8Array.of(b));
    expect(await c.next()).toMatchObject({ id: 5, ok: true });
    c.socket.destroy();
  });

  it('every malformed kind gets its error code, and the connection stays usable', async () => {
    const s = await startServer();
    const c = new RawClient(s.path);
    const cases: [Uint8Array, string, number | null][] = [
      [Uint8Array.of(0, 0, 0, 0), 'bad-frame', null],
      [Uint8Array.of(0, 0, 0, 2, 0x9f, 0x01), 'bad-frame', null],
      [Uint8Array.of(0, 0, 0, 1, 0xc1), 'bad-frame', null],
      [req([1, 2, 3]), 'bad-request', null],
      [req({ v: 1, id: 6, op: 'status', x: 1 }), 'bad-request', 6],
      [req({ v: 9, id: 7, op: 'status' }), 'unsupported-version', 7],
      [req({ v: 1, id: 8, op: 'reboot' }), 'unknown-op', 8],
      [req({ v: 1, id: 9, op: 'context', args: { context: 1 } }), 'bad-request', 9],
      [req({ v: 1, id: 10, op: 'counters' }), 'internal', 10],
    ];
    for (const [bytes, code, id] of cases) {
      c.send(bytes);
      const r = await c.next();
      expect(r, code).toMatchObject({ v: 1, id, ok: false, error: { code } });
    }
    c.send(req({ v: 1, id: 11, op: 'status' }));
    expect(await c.next()).toMatchObject({ id: 11, ok: true });
    const st = s.stats();
    expect(st.requests).toBe(cases.length + 1);
    expect(st.errors).toMatchObject({ 'bad-frame': 3, 'bad-request': 3, 'unsupported-version': 1, 'unknown-op': 1, internal: 1, 'unknown-context': 0 });
    c.socket.destroy();
  });

  it('the engine, capture, metrics and reload ops reach the handler with their arguments; new error codes count as themselves', async () => {
    const s = await startServer();
    expect(await controlRequest(s.path, 'establish', { peer: '2001:db8::2' })).toMatchObject({ ok: true, result: { peer: '2001:db8::2' } });
    expect(await controlRequest(s.path, 'establish', { peer: '2001:db8::2', local: '2001:db8::1' })).toMatchObject({ ok: true, result: { peer: '2001:db8::2', local: '2001:db8::1' } });
    expect(await controlRequest(s.path, 'pcap', { action: 'start', path: '/tmp/c.pcap' })).toMatchObject({ ok: true, result: { action: 'start', path: '/tmp/c.pcap' } });
    for (const op of ['locators', 'metrics', 'reload'] as const) expect(await controlRequest(s.path, op)).toMatchObject({ ok: true, result: { op } });
    expect(await controlRequest(s.path, 'explore', { context: 'hB' })).toMatchObject({ ok: false, error: { code: 'not-available', message: 'shim6d runs static contexts only' } });
    expect(await controlRequest(s.path, 'pcap', { action: 'rewind' })).toMatchObject({ ok: false, error: { code: 'bad-request' } });
    expect(s.stats().errors).toMatchObject({ 'not-available': 1, 'bad-request': 1, internal: 0 });
  });

  it('an internal error reply does not leak a stack trace', async () => {
    const s = await startServer();
    const r = await controlRequest(s.path, 'counters');
    expect(r).toEqual({ v: 1, id: 1, ok: false, error: { code: 'internal', message: 'internal error: boom' } });
  });
});

describe('limits', () => {
  it('an oversized length prefix: frame-too-large, then the server closes', async () => {
    const s = await startServer();
    const c = new RawClient(s.path);
    c.send(Uint8Array.of(0x7f, 0xff, 0xff, 0xff, 1, 2, 3));
    expect(await c.next()).toMatchObject({ id: null, ok: false, error: { code: 'frame-too-large' } });
    await c.closedPromise;
    expect(s.stats().errors['frame-too-large']).toBe(1);
    expect((await controlRequest(s.path, 'status')).ok).toBe(true);
  });

  it('one connection over the limit gets busy and is closed; a freed slot is usable again', async () => {
    const s = await startServer({ maxConnections: 3 });
    const held = [new RawClient(s.path), new RawClient(s.path), new RawClient(s.path)];
    await Promise.all(held.map((h) => h.connected));
    await expect.poll(() => s.stats().connections).toBe(3);
    const extra = new RawClient(s.path);
    expect(await extra.next()).toMatchObject({ ok: false, id: null, error: { code: 'busy' } });
    await extra.closedPromise;
    expect(s.stats()).toMatchObject({ rejected: 1, accepted: 3, errors: { busy: 1 } });
    held[0]!.socket.destroy();
    await expect.poll(() => s.stats().connections).toBe(2);
    expect((await controlRequest(s.path, 'status')).ok).toBe(true);
    for (const h of held) h.socket.destroy();
  });

  it('an idle connection is closed', async () => {
    const s = await startServer({ idleTimeoutMs: 50 });
    const c = new RawClient(s.path);
    await c.closedPromise;
    expect(c.closed).toBe(true);
  });

  it('a client that never reads its replies is disconnected', async () => {
    const s = await startServer({ maxWriteBuffer: 64 * 1024 });
    const c = new RawClient(s.path);
    await c.connected;
    c.socket.pause();
    c.send(req({ v: 1, id: 1, op: 'contexts' }));
    await expect.poll(() => s.stats().connections, { timeout: 10_000 }).toBe(0);
    c.socket.destroy();
  });
});

describe('arbitrary bytes never hurt the server', () => {
  it('random streams, then a good request on a fresh connection', async () => {
    const s = await startServer();
    await fc.assert(fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 4 }), async (chunks) => {
      const c = new RawClient(s.path);
      await c.connected;
      for (const chunk of chunks) c.send(chunk);
      // A correct request after the garbage: answered if the framing survived, else the connection closed.
      c.send(req({ v: 1, id: 77, op: 'status' }));
      c.socket.end();
      for (let r = await c.next(); r !== undefined; r = await c.next()) expect(r.v).toBe(1);
      await c.closedPromise;
      expect((await controlRequest(s.path, 'status')).ok).toBe(true);
    }), { numRuns: 60 });
    const st = s.stats();
    const errors = Object.values(st.errors).reduce((a, b) => a + b, 0);
    expect(st.requests).toBeGreaterThanOrEqual(errors);
    await expect.poll(() => s.stats().connections).toBe(0);
  });
});

describe('claimSocketPath', () => {
  it('absent: nothing to do', async () => {
    expect(await claimSocketPath(join(tmp.dir, 'none.sock'))).toBe('absent');
  });

  it('live: a listening daemon is refused with already-running', async () => {
    const s = await startServer();
    await expect(claimSocketPath(s.path)).rejects.toMatchObject({ code: 'already-running' });
    expect(existsSync(s.path)).toBe(true);
  });

  it('stale: the socket of a killed daemon is removed', async () => {
    const path = join(tmp.dir, 'stale.sock');
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    await new Promise((r) => child.once('exit', r));
    expect(lstatSync(path).isSocket()).toBe(true);
    expect(await claimSocketPath(path)).toBe('stale');
    expect(existsSync(path)).toBe(false);
  });

  it('not a socket: refused, and the file is left alone', async () => {
    const path = join(tmp.dir, 'file.sock');
    writeFileSync(path, 'keep me');
    const e = await claimSocketPath(path).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ControlSocketError);
    expect(e).toMatchObject({ code: 'not-a-socket' });
    expect(readFileSync(path, 'utf8')).toBe('keep me');
  });
});
