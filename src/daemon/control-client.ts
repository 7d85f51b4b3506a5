/**
 * A client of shim6d's control socket (control-protocol.ts): one request per connection,
 * the reply checked frame by frame with the same CBOR subset the server accepts. Used
 * by the `shim6` CLI and by tests.
 */
import { createConnection } from 'node:net';
import {
  CONTROL_PROTOCOL_VERSION, decodeCbor, encodeFrame, FrameReader, MAX_RESPONSE_FRAME, parseResponse,
  type ControlOp, type ControlResponse,
} from './control-protocol.js';

export const DEFAULT_CONTROL_SOCKET = '/run/shim6/shim6d.sock';

export class ControlClientError extends Error {
  /**
   * not-running: no socket, or nothing listening (ENOENT, ECONNREFUSED); permission-denied:
   * EACCES/EPERM; connect-failed: any other connection error; timeout; closed: the daemon
   * closed the connection before replying; bad-response: the reply does not parse.
   */
  readonly code: 'not-running' | 'permission-denied' | 'connect-failed' | 'timeout' | 'closed' | 'bad-response';
  constructor(code: ControlClientError['code'], message: string) {
    super(message);
    this.name = 'ControlClientError';
    this.code = code;
  }
}

export interface RequestOptions {
  readonly timeoutMs?: number;
  /** The request id (default 1). */
  readonly id?: number;
}

/**
 * Sends one request and resolves to the daemon's reply, an error reply included. Rejects
 * with ControlClientError when there is no reply to give.
 */
export function controlRequest(path: string, op: ControlOp, args?: Record<string, string>, options: RequestOptions = {}): Promise<ControlResponse> {
  const id = options.id ?? 1;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const request: Record<string, unknown> = { v: CONTROL_PROTOCOL_VERSION, id, op };
  if (args !== undefined) request['args'] = args;
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const reader = new FrameReader(MAX_RESPONSE_FRAME);
    let settled = false;
    const settle = (r: ControlResponse | ControlClientError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (r instanceof ControlClientError) reject(r); else resolve(r);
    };
    const timer = setTimeout(() => settle(new ControlClientError('timeout', `no reply from ${path} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => socket.write(encodeFrame(request)));
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      const ev = reader.next();
      if (ev === undefined) return;
      if (ev.kind !== 'frame') {
        settle(new ControlClientError('bad-response', ev.kind === 'empty' ? 'empty reply frame' : `reply frame of ${ev.length} octets exceeds the limit`));
        return;
      }
      const d = decodeCbor(ev.payload);
      if (!d.ok) { settle(new ControlClientError('bad-response', `reply: ${d.message}`)); return; }
      const p = parseResponse(d.value);
      if (!p.ok) { settle(new ControlClientError('bad-response', `reply: ${p.message}`)); return; }
      if (p.response.id !== id && p.response.id !== null) {
        settle(new ControlClientError('bad-response', `reply to request ${p.response.id}, expected ${id}`));
        return;
      }
      settle(p.response);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      switch (e.code) {
        case 'ENOENT': case 'ECONNREFUSED':
          settle(new ControlClientError('not-running', `shim6d is not running (nothing listens on ${path})`));
          break;
        case 'EACCES': case 'EPERM':
          settle(new ControlClientError('permission-denied', `permission denied on ${path} (the control socket is root's; try sudo)`));
          break;
        default:
          settle(new ControlClientError('connect-failed', `cannot talk to shim6d on ${path}: ${e.message}`));
      }
    });
    socket.once('close', () => settle(new ControlClientError('closed', `shim6d closed the connection on ${path} without replying`)));
  });
}
