#!/usr/bin/env node
// tcp-stream: a checksummed TCP stream for failover tests and benchmarks. Plain Node ESM,
// no dependencies, no build step.
//
// Usage:
//   node tcp-stream.mjs server --listen ADDR --port P [--once]
//   node tcp-stream.mjs client --connect ADDR --port P [--bind ADDR]
//                              (--bytes N | --seconds S) [--rate-mbit R] [--seed X]
//   node tcp-stream.mjs probe  --connect ADDR [--port P] [--bind ADDR] [--timeout-ms T]
//
// server  Listens on ADDR:P and prints {"listening":true} as soon as it does. For each
//         connection it reads until EOF, closes its side, and prints ONE JSON line:
//           {bytes, sha256, firstByteMs, lastByteMs, durationMs, eof,
//            gaps: [{atMs, ms}], progress: [[ms, bytes], ...]}
//         firstByteMs and lastByteMs count from the accept (null when no byte came);
//         durationMs from the accept to the EOF (or to the report); gaps are the
//         intervals of >= 200 ms without data, atMs from the first byte; progress is
//         sampled every 100 ms from the first byte (ms from the first byte, cumulative
//         bytes) with a last sample at the end. With --once the listener closes after
//         the first connection. On SIGTERM/SIGINT the server prints the report of the
//         connection in progress with "eof": false (the silence up to the signal, if
//         >= 200 ms, is a last gap with "open": true) and exits 0: that is how a harness
//         reads a stream that stalled. On a connection error it prints the report with
//         an "error" field and exits 1.
// client  Connects (from --bind, when given) and sends a deterministic pseudo-random byte
//         stream (xorshift128 seeded from sha256(--seed), default "shim6"; the stream is
//         a function of the seed only, so for --bytes N both sides' sha256 match and are
//         the same on every run) for N bytes or S seconds, paced to R Mbit/s when
//         --rate-mbit is given. Then it half-closes, waits for the server to close, and
//         prints one JSON line {bytes, sha256, durationMs, mbit} (durationMs from the
//         connect to the server's close).
// probe   A reachability check that needs no ping(8): a TCP SYN from --bind to --connect
//         (default port 9, which nothing listens on). A RST (ECONNREFUSED) or an accepted
//         connection proves the round trip; a timeout (default 1000 ms) or an ICMPv6
//         error does not. Prints {reachable, result, ms}; exits 0 when reachable, 1 not.
//
// Errors (connection refused or reset, ...) print a message on stderr and exit 1; bad
// arguments print the usage on stderr and exit 2.
//
// Throughput: 256 KiB writes from a fixed pool of buffers, each refilled only after the
// socket has taken it (so backpressure bounds the memory), several Gbit/s on one core.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const USAGE = `usage: node tcp-stream.mjs server --listen ADDR --port P [--once]
       node tcp-stream.mjs client --connect ADDR --port P [--bind ADDR] (--bytes N | --seconds S) [--rate-mbit R] [--seed X]
       node tcp-stream.mjs probe --connect ADDR [--port P] [--bind ADDR] [--timeout-ms T]`;

const CHUNK_BYTES = 256 * 1024;
const POOL_SIZE = 8;
const GAP_MS = 200;
const SAMPLE_MS = 100;

function usageError(message) {
  process.stderr.write(`tcp-stream: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function fail(message) {
  process.stderr.write(`tcp-stream: ${message}\n`);
  process.exit(1);
}

const SPEC = {
  server: { values: ['listen', 'port'], flags: ['once'] },
  client: { values: ['connect', 'port', 'bind', 'bytes', 'seconds', 'rate-mbit', 'seed'], flags: [] },
  probe: { values: ['connect', 'port', 'bind', 'timeout-ms'], flags: [] },
};

function parseArgs(argv) {
  const [mode, ...rest] = argv;
  if (mode === undefined || !Object.hasOwn(SPEC, mode)) usageError(mode === undefined ? 'missing mode' : `unknown mode '${mode}'`);
  const spec = SPEC[mode];
  const opts = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name !== undefined && spec.flags.includes(name)) {
      opts[name] = true;
    } else if (name !== undefined && spec.values.includes(name)) {
      if (i + 1 >= rest.length) usageError(`${arg} needs a value`);
      if (Object.hasOwn(opts, name)) usageError(`${arg} given twice`);
      opts[name] = rest[++i];
    } else {
      usageError(`unknown argument '${arg}' for ${mode}`);
    }
  }
  return { mode, opts };
}

function address(opts, name) {
  const v = opts[name];
  if (v === undefined) usageError(`--${name} is required`);
  if (net.isIP(v) === 0) usageError(`--${name} '${v}' is not an IP address`);
  return v;
}

function integer(v, name, min, max) {
  if (!/^[0-9]+$/.test(v)) usageError(`--${name} '${v}' is not a whole number`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) usageError(`--${name} ${v} is out of range ${min}..${max}`);
  return n;
}

function positive(v, name) {
  const n = Number(v);
  if (!/^[0-9]*\.?[0-9]+$/.test(v) || !Number.isFinite(n) || n <= 0) usageError(`--${name} '${v}' is not a positive number`);
  return n;
}

const round1 = (x) => Math.round(x * 10) / 10;

function errorText(err) {
  return err.code !== undefined ? `${err.code} (${err.message})` : err.message;
}

function printJson(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

// ---------------------------------------------------------------------------- server

function runServer(opts) {
  const host = address(opts, 'listen');
  if (opts.port === undefined) usageError('--port is required');
  const port = integer(opts.port, 'port', 1, 65535);
  const once = opts.once === true;

  let active; // the report state of the connection in progress
  let reported = 0;

  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    if (once) server.close();
    const conn = {
      t0: performance.now(),
      hash: createHash('sha256'),
      bytes: 0,
      first: undefined,
      last: undefined,
      gaps: [],
      progress: [],
      timer: undefined,
      done: false,
    };
    active = conn;
    conn.timer = setInterval(() => {
      if (conn.first !== undefined) conn.progress.push([round1(performance.now() - conn.first), conn.bytes]);
    }, SAMPLE_MS);
    sock.on('data', (chunk) => {
      const t = performance.now();
      if (conn.first === undefined) conn.first = t;
      else if (t - conn.last >= GAP_MS) conn.gaps.push({ atMs: round1(conn.last - conn.first), ms: round1(t - conn.last) });
      conn.last = t;
      conn.bytes += chunk.length;
      conn.hash.update(chunk);
    });
    sock.on('end', () => {
      report(conn, true);
      sock.end();
    });
    sock.on('error', (err) => {
      report(conn, false, errorText(err));
      process.stderr.write(`tcp-stream server: connection from [${sock.remoteAddress}]:${sock.remotePort}: ${errorText(err)}\n`);
      process.exit(1);
    });
  });

  function report(conn, eof, error) {
    if (conn.done) return;
    conn.done = true;
    clearInterval(conn.timer);
    const t = performance.now();
    const first = conn.first;
    if (!eof) {
      const silentFrom = conn.last ?? conn.t0;
      if (t - silentFrom >= GAP_MS) conn.gaps.push({ atMs: first === undefined ? 0 : round1(silentFrom - first), ms: round1(t - silentFrom), open: true });
    }
    if (first !== undefined) conn.progress.push([round1(t - first), conn.bytes]);
    const out = {
      bytes: conn.bytes,
      sha256: conn.hash.digest('hex'),
      firstByteMs: first === undefined ? null : round1(first - conn.t0),
      lastByteMs: conn.last === undefined ? null : round1(conn.last - conn.t0),
      durationMs: round1(t - conn.t0),
      eof,
      gaps: conn.gaps,
      progress: conn.progress,
    };
    if (error !== undefined) out.error = error;
    printJson(out);
    reported++;
    if (active === conn) active = undefined;
  }

  const onSignal = () => {
    if (active !== undefined) report(active, false);
    else if (reported === 0) {
      printJson({ bytes: 0, sha256: createHash('sha256').digest('hex'), firstByteMs: null, lastByteMs: null, durationMs: 0, eof: false, gaps: [], progress: [] });
    }
    process.exit(0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  server.on('error', (err) => fail(`server: cannot listen on [${host}]:${port}: ${errorText(err)}`));
  server.listen({ host, port, ipv6Only: net.isIPv6(host) }, () => printJson({ listening: true }));
  server.on('close', () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  });
}

// ---------------------------------------------------------------------------- client

/**
 * xorshift128 (Marsaglia 2003) over 32-bit words. The stream is the sequence of words
 * in native byte order; every chunk but the last is a whole number of words, so the
 * bytes do not depend on the chunk sizes.
 */
class Xorshift128 {
  constructor(seed) {
    const h = createHash('sha256').update(`tcp-stream:${seed}`).digest();
    this.x = h.readInt32LE(0);
    this.y = h.readInt32LE(4);
    this.z = h.readInt32LE(8);
    this.w = h.readInt32LE(12) | 1; // never the all-zero state
  }

  /** Fills the first `words` 32-bit words of `u32`. */
  fill(u32, words) {
    let { x, y, z, w } = this;
    for (let i = 0; i < words; i++) {
      const t = x ^ (x << 11);
      x = y;
      y = z;
      z = w;
      w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
      u32[i] = w;
    }
    this.x = x;
    this.y = y;
    this.z = z;
    this.w = w;
  }
}

function runClient(opts) {
  const host = address(opts, 'connect');
  if (opts.port === undefined) usageError('--port is required');
  const port = integer(opts.port, 'port', 1, 65535);
  const localAddress = opts.bind === undefined ? undefined : address(opts, 'bind');
  if ((opts.bytes === undefined) === (opts.seconds === undefined)) usageError('give exactly one of --bytes and --seconds');
  const limitBytes = opts.bytes === undefined ? Infinity : integer(opts.bytes, 'bytes', 0, Number.MAX_SAFE_INTEGER);
  const limitMs = opts.seconds === undefined ? Infinity : positive(opts.seconds, 'seconds') * 1000;
  const rateBps = opts['rate-mbit'] === undefined ? Infinity : (positive(opts['rate-mbit'], 'rate-mbit') * 1e6) / 8;
  const seed = opts.seed ?? 'shim6';

  // Paced: chunks of about 5 ms of data (at least 4 KiB), a whole number of words.
  const chunkBytes = rateBps === Infinity ? CHUNK_BYTES : Math.min(CHUNK_BYTES, Math.max(4096, Math.floor(rateBps / 200) & ~3));
  const gen = new Xorshift128(seed);
  const hash = createHash('sha256');
  const free = [];
  for (let i = 0; i < POOL_SIZE; i++) {
    const buf = Buffer.allocUnsafeSlow(chunkBytes);
    free.push({ buf, u32: new Uint32Array(buf.buffer, buf.byteOffset, chunkBytes / 4) });
  }

  let sent = 0;
  let sending = true;
  let t0 = 0;
  let paceTimer;
  let pumpQueued = false;

  const sock = net.connect({ host, port, localAddress, allowHalfOpen: true });
  sock.on('error', (err) => {
    const where = t0 === 0 ? 'cannot connect to' : 'connection to';
    fail(`client: ${where} [${host}]:${port}${localAddress === undefined ? '' : ` from [${localAddress}]`}: ${errorText(err)}`);
  });

  const finishSending = () => {
    if (!sending) return;
    sending = false;
    clearTimeout(paceTimer);
    sock.end(); // half-close: the server reads EOF, reports, and closes
  };

  const queuePump = () => {
    if (pumpQueued) return;
    pumpQueued = true;
    setImmediate(() => {
      pumpQueued = false;
      pump();
    });
  };

  function pump() {
    while (sending && free.length > 0) {
      const elapsedMs = performance.now() - t0;
      if (sent >= limitBytes || elapsedMs >= limitMs) return finishSending();
      const n = Math.min(chunkBytes, limitBytes - sent);
      if (rateBps !== Infinity) {
        const aheadBytes = sent + n - (rateBps * elapsedMs) / 1000 - chunkBytes;
        if (aheadBytes > 0) {
          paceTimer = setTimeout(pump, Math.max(1, Math.ceil((aheadBytes / rateBps) * 1000)));
          return;
        }
      }
      const slot = free.pop();
      gen.fill(slot.u32, Math.ceil(n / 4));
      const data = n === chunkBytes ? slot.buf : slot.buf.subarray(0, n);
      hash.update(data);
      sent += n;
      // The buffer goes back to the pool only once the socket has handed it to the kernel.
      sock.write(data, () => {
        free.push(slot);
        queuePump();
      });
    }
  }

  sock.on('connect', () => {
    t0 = performance.now();
    if (limitMs !== Infinity) setTimeout(finishSending, limitMs).unref();
    pump();
  });
  sock.on('data', () => {}); // the server sends nothing; keep the socket flowing to see its FIN
  sock.on('end', () => {
    if (sending) fail(`client: the server closed the connection after ${sent} bytes, before the stream ended`);
  });
  sock.on('close', (hadError) => {
    if (hadError) return;
    const durationMs = performance.now() - t0;
    printJson({ bytes: sent, sha256: hash.digest('hex'), durationMs: round1(durationMs), mbit: round1((sent * 8) / durationMs / 1000) });
  });
}

// ---------------------------------------------------------------------------- probe

function runProbe(opts) {
  const host = address(opts, 'connect');
  const port = opts.port === undefined ? 9 : integer(opts.port, 'port', 1, 65535);
  const localAddress = opts.bind === undefined ? undefined : address(opts, 'bind');
  const timeoutMs = opts['timeout-ms'] === undefined ? 1000 : integer(opts['timeout-ms'], 'timeout-ms', 1, 600_000);
  const t0 = performance.now();
  const sock = net.connect({ host, port, localAddress });
  let finished = false;
  const done = (reachable, result) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    sock.destroy();
    printJson({ reachable, result, ms: round1(performance.now() - t0) });
    process.exitCode = reachable ? 0 : 1;
  };
  const timer = setTimeout(() => done(false, 'timeout'), timeoutMs);
  sock.on('connect', () => done(true, 'connected'));
  sock.on('error', (err) => {
    if (err.code === 'ECONNREFUSED') done(true, 'refused');
    else if (err.code === 'EADDRNOTAVAIL' || err.code === 'EINVAL') fail(`probe: cannot bind [${localAddress}]: ${errorText(err)}`);
    else done(false, err.code ?? err.message);
  });
}

const { mode, opts } = parseArgs(process.argv.slice(2));
if (mode === 'server') runServer(opts);
else if (mode === 'client') runClient(opts);
else runProbe(opts);
