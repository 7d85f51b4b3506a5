#!/usr/bin/env node
// traffic: verified TCP and UDP flows for the failover harness (examples/harness). Plain
// Node ESM, no dependencies, no build step.
//
// Usage:
//   node traffic.mjs tcp-recv --listen ADDR --port P [--fd N] [COMMON]
//   node traffic.mjs tcp-send (--connect ADDR --port P [--bind ADDR] | --fd N)
//                             (--seconds S | --bytes N) [--rate-mbit R] [COMMON]
//   node traffic.mjs udp-recv --listen ADDR --port P [--size B] [COMMON]
//   node traffic.mjs udp-send --connect ADDR --port P [--bind ADDR] --seconds S
//                             --rate-mbit R [--size B] [COMMON]
//   COMMON: [--seed X] [--origin EPOCH_MS] [--bin-ms 100] [--gap-ms 50]
//
// The byte stream. Every flow carries the same deterministic stream: 64-bit
// little-endian words, word number w holding w XOR K, where K is a 64-bit constant
// derived from --seed (sha256). A receiver that knows K can tell, for every word, which
// position of the stream it holds: so it detects corruption (a word that decodes to an
// implausible position), loss (a jump forward) and duplication (a jump back) — counted
// in bytes — and reading the stream needs no state but the next expected position.
// UDP datagram n (of B octets, B a multiple of 8) holds stream words n*B/8 .. (n+1)*B/8-1,
// so the first word names the datagram and the rest must follow it.
//
// Clocks. Every time printed is epoch milliseconds (performance.timeOrigin +
// performance.now(), so processes in different namespaces share the clock). Receivers
// count delivered bytes in bins of --bin-ms (default 100) starting at --origin (default:
// the first byte), and list every silence of at least --gap-ms (default 50) as a gap
// {startMs, endMs}; the silence before the first byte is not a gap.
//
// tcp-recv  Prints {"event":"listening"} once bound. Reads one connection to EOF (then
//           closes its side), or until SIGTERM/SIGINT, and prints one report line:
//           {event:"report", proto:"tcp", bytes, eof, firstByteMs, lastByteMs, gaps,
//            origin, binMs, bins, verify:{okBytes, lostBytes, dupBytes, corruptBytes,
//            firstErrorAt}, error?}
//           With --fd N it serves an already listening socket (netns-scripts/mptcp-exec.py
//           makes an MPTCP one); ADDR/P are then only echoed.
// tcp-send  Connects (or, with --fd, uses the connected socket N), sends the stream for
//           S seconds or N bytes, paced to R Mbit/s when given (paced in 5 ms steps; a
//           sender that fell behind catches up at full speed), half-closes and waits for
//           the receiver's close. Prints {"event":"connected", atMs} and at the end
//           {event:"report", proto:"tcp", bytes, startMs, endMs, closedMs, error?}.
//           SIGUSR1 ends the stream early (as if the time were up: half-close, wait for
//           the receiver); SIGTERM prints the report at once (closedMs null) and exits.
// udp-recv  Prints {"event":"listening"}; on SIGTERM/SIGINT prints
//           {event:"report", proto:"udp", bytes, datagrams, unique, dupDatagrams,
//            corruptDatagrams, maxSeq, reordered, firstByteMs, lastByteMs, gaps, origin,
//            binMs, bins}; bins count the bytes of first copies only.
// udp-send  Sends B-octet datagrams (default 1200) paced to R Mbit/s for S seconds and
//           prints {event:"report", proto:"udp", datagrams, bytes, sendErrors,
//           errorCodes, startMs, endMs}. Send errors (no route during a failure) are
//           counted, not fatal. SIGUSR1 or SIGTERM ends it early, with the report.
//
// Exit codes: 0 done (a report was printed), 1 a fatal socket error (bind, connect),
// 2 bad arguments.
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const USAGE = `usage: node traffic.mjs tcp-recv --listen ADDR --port P [--fd N] [COMMON]
       node traffic.mjs tcp-send (--connect ADDR --port P [--bind ADDR] | --fd N) (--seconds S | --bytes N) [--rate-mbit R] [COMMON]
       node traffic.mjs udp-recv --listen ADDR --port P [--size B] [COMMON]
       node traffic.mjs udp-send --connect ADDR --port P [--bind ADDR] --seconds S --rate-mbit R [--size B] [COMMON]
COMMON: [--seed X] [--origin EPOCH_MS] [--bin-ms MS] [--gap-ms MS]`;

const COMMON = ['seed', 'origin', 'bin-ms', 'gap-ms'];
const SPEC = {
  'tcp-recv': ['listen', 'port', 'fd', ...COMMON],
  'tcp-send': ['connect', 'port', 'bind', 'fd', 'seconds', 'bytes', 'rate-mbit', ...COMMON],
  'udp-recv': ['listen', 'port', 'size', ...COMMON],
  'udp-send': ['connect', 'port', 'bind', 'seconds', 'rate-mbit', 'size', ...COMMON],
};
const CHUNK = 128 * 1024;
const POOL = 8;
const TWO32 = 4294967296;
/** Beyond this many words from the expected position a word is corrupt, not a jump. */
const PLAUSIBLE_WORDS = 2 ** 40;

const now = () => performance.timeOrigin + performance.now();
const round1 = (x) => Math.round(x * 10) / 10;
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

function usageError(message) {
  process.stderr.write(`traffic: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function fatal(message) {
  process.stderr.write(`traffic: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const [mode, ...rest] = argv;
  if (mode === undefined || !Object.hasOwn(SPEC, mode)) usageError(mode === undefined ? 'missing mode' : `unknown mode '${mode}'`);
  const opts = {};
  for (let i = 0; i < rest.length; i++) {
    const name = rest[i].startsWith('--') ? rest[i].slice(2) : undefined;
    if (name === undefined || !SPEC[mode].includes(name)) usageError(`unknown argument '${rest[i]}' for ${mode}`);
    if (i + 1 >= rest.length) usageError(`${rest[i]} needs a value`);
    if (Object.hasOwn(opts, name)) usageError(`${rest[i]} given twice`);
    opts[name] = rest[++i];
  }
  return { mode, opts };
}

function num(opts, name, { min = 0, max = Number.MAX_SAFE_INTEGER, def, integer = false } = {}) {
  const v = opts[name];
  if (v === undefined) {
    if (def === undefined) usageError(`--${name} is required`);
    return def;
  }
  const n = Number(v);
  if (!/^[0-9]*\.?[0-9]+$/.test(v) || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isSafeInteger(n))) {
    usageError(`--${name} '${v}' must be ${integer ? 'a whole number' : 'a number'} in ${min}..${max}`);
  }
  return n;
}

function addr(opts, name) {
  const v = opts[name];
  if (v === undefined) usageError(`--${name} is required`);
  if (net.isIP(v) === 0) usageError(`--${name} '${v}' is not an IP address`);
  return v;
}

const errorText = (e) => (e.code !== undefined ? `${e.code} (${e.message})` : e.message);

// ------------------------------------------------------------------ the stream pattern

/** K as two 32-bit halves, from the seed. */
function streamKey(seed) {
  const h = createHash('sha256').update(`shim6-traffic:${seed}`).digest();
  return { lo: h.readUInt32LE(0), hi: h.readUInt32LE(4) };
}

/** Writes stream words first..first+count-1 into u32 (two halves per word). */
function fillWords(u32, first, count, key) {
  let lo = first % TWO32;
  let hi = Math.floor(first / TWO32);
  for (let i = 0; i < count; i++) {
    u32[2 * i] = (lo ^ key.lo) >>> 0;
    u32[2 * i + 1] = (hi ^ key.hi) >>> 0;
    if (++lo === TWO32) {
      lo = 0;
      hi++;
    }
  }
}

/** The stream position a word claims (u32 halves at index 2i, 2i+1). */
function wordAt(u32, i, key) {
  return ((u32[2 * i + 1] ^ key.hi) >>> 0) * TWO32 + ((u32[2 * i] ^ key.lo) >>> 0);
}

// ------------------------------------------------------------------ receive-side record

/** Bins of delivered bytes from `origin`, and silences of at least gapMs. */
class Timeline {
  constructor(origin, binMs, gapMs) {
    this.origin = origin;
    this.binMs = binMs;
    this.gapMs = gapMs;
    this.bins = [];
    this.gaps = [];
    this.first = undefined;
    this.last = undefined;
  }

  add(bytes, t) {
    if (this.origin === undefined) this.origin = t;
    if (this.first === undefined) this.first = t;
    else if (t - this.last >= this.gapMs) this.gaps.push({ startMs: round1(this.last), endMs: round1(t) });
    this.last = t;
    const i = Math.floor((t - this.origin) / this.binMs);
    if (i < 0) return; // before the origin: counted in bytes, not in bins
    while (this.bins.length <= i) this.bins.push(0);
    this.bins[i] += bytes;
  }

  /** Closes the record at time t: a trailing silence of >= gapMs is an open gap. */
  json(t) {
    const gaps = [...this.gaps];
    if (this.last !== undefined && t - this.last >= this.gapMs) gaps.push({ startMs: round1(this.last), endMs: round1(t), open: true });
    return {
      firstByteMs: this.first === undefined ? null : round1(this.first),
      lastByteMs: this.last === undefined ? null : round1(this.last),
      gaps,
      origin: this.origin === undefined ? null : round1(this.origin),
      binMs: this.binMs,
      bins: this.bins,
    };
  }
}

function timelineFrom(opts) {
  const origin = opts.origin === undefined ? undefined : num(opts, 'origin');
  return new Timeline(origin, num(opts, 'bin-ms', { min: 1, def: 100 }), num(opts, 'gap-ms', { min: 1, def: 50 }));
}

// ------------------------------------------------------------------ tcp-recv

/** Checks a TCP byte stream word by word; keeps at most 7 bytes between reads. */
class StreamVerifier {
  constructor(key) {
    this.key = key;
    this.expected = 0;
    this.ok = 0;
    this.lost = 0;
    this.dup = 0;
    this.corrupt = 0;
    this.firstErrorAt = null;
    this.stage = Buffer.allocUnsafeSlow(4 * 1024 * 1024);
    this.carry = 0;
  }

  push(chunk) {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, this.stage.length - this.carry);
      chunk.copy(this.stage, this.carry, off, off + n);
      off += n;
      const have = this.carry + n;
      const words = Math.floor(have / 8);
      this.check(new Uint32Array(this.stage.buffer, this.stage.byteOffset, words * 2), words);
      this.carry = have - words * 8;
      if (this.carry > 0) this.stage.copy(this.stage, 0, words * 8, have);
    }
  }

  check(u32, words) {
    const { key } = this;
    let exp = this.expected;
    let lo = exp % TWO32;
    let hi = Math.floor(exp / TWO32);
    const klo = key.lo;
    const khi = key.hi;
    for (let i = 0; i < words; i++) {
      if (u32[2 * i] === ((lo ^ klo) >>> 0) && u32[2 * i + 1] === ((hi ^ khi) >>> 0)) {
        this.ok += 8;
        exp++;
      } else {
        const w = wordAt(u32, i, key);
        if (this.firstErrorAt === null) this.firstErrorAt = exp * 8;
        if (w > exp && w - exp < PLAUSIBLE_WORDS) {
          this.lost += (w - exp) * 8;
          this.ok += 8;
          exp = w + 1;
        } else if (w < exp && exp - w < PLAUSIBLE_WORDS) {
          this.dup += 8;
          continue; // the expected word is still to come
        } else {
          this.corrupt += 8;
          exp++;
        }
      }
      lo = exp % TWO32;
      hi = Math.floor(exp / TWO32);
    }
    this.expected = exp;
  }

  json() {
    // A tail of fewer than 8 bytes cannot be checked against a word; it is corrupt only
    // if it does not match the expected word's first bytes.
    let corrupt = this.corrupt;
    let ok = this.ok;
    if (this.carry > 0) {
      const want = Buffer.alloc(8);
      fillWords(new Uint32Array(want.buffer, want.byteOffset, 2), this.expected, 1, this.key);
      if (want.subarray(0, this.carry).equals(this.stage.subarray(0, this.carry))) ok += this.carry;
      else corrupt += this.carry;
    }
    return { okBytes: ok, lostBytes: this.lost, dupBytes: this.dup, corruptBytes: corrupt, firstErrorAt: this.firstErrorAt };
  }
}

function tcpRecv(opts) {
  const host = addr(opts, 'listen');
  const port = num(opts, 'port', { min: 1, max: 65535, integer: true });
  const fd = opts.fd === undefined ? undefined : num(opts, 'fd', { min: 0, integer: true });
  const key = streamKey(opts.seed ?? 'shim6');
  const line = timelineFrom(opts);
  const verifier = new StreamVerifier(key);
  let bytes = 0;
  let reported = false;
  let conn;

  const report = (eof, error) => {
    if (reported) return;
    reported = true;
    const out = { event: 'report', proto: 'tcp', bytes, eof, ...line.json(now()), verify: verifier.json() };
    if (error !== undefined) out.error = error;
    print(out);
  };
  const onSignal = () => {
    report(false);
    process.exit(0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    if (conn !== undefined) {
      sock.destroy();
      return;
    }
    conn = sock;
    server.close();
    print({ event: 'accepted', atMs: round1(now()), remote: sock.remoteAddress });
    sock.on('data', (d) => {
      const t = now();
      bytes += d.length;
      line.add(d.length, t);
      verifier.push(d);
    });
    sock.on('end', () => {
      report(true);
      sock.end();
    });
    sock.on('close', () => process.exit(0));
    sock.on('error', (e) => {
      report(false, errorText(e));
      process.exit(0);
    });
  });
  server.on('error', (e) => fatal(`tcp-recv: cannot listen on [${host}]:${port}: ${errorText(e)}`));
  const listening = () => print({ event: 'listening' });
  if (fd !== undefined) server.listen({ fd }, listening);
  else server.listen({ host, port, ipv6Only: net.isIPv6(host) }, listening);
}

// ------------------------------------------------------------------ tcp-send

function tcpSend(opts) {
  const fd = opts.fd === undefined ? undefined : num(opts, 'fd', { min: 0, integer: true });
  const host = fd === undefined ? addr(opts, 'connect') : opts.connect;
  const port = fd === undefined ? num(opts, 'port', { min: 1, max: 65535, integer: true }) : undefined;
  const bind = opts.bind === undefined ? undefined : addr(opts, 'bind');
  if ((opts.seconds === undefined) === (opts.bytes === undefined)) usageError('give exactly one of --seconds and --bytes');
  const limitMs = opts.seconds === undefined ? Infinity : num(opts, 'seconds') * 1000;
  const limitBytes = opts.bytes === undefined ? Infinity : num(opts, 'bytes', { integer: true });
  if (limitBytes !== Infinity && limitBytes % 8 !== 0) usageError('--bytes must be a multiple of 8');
  const rateBps = opts['rate-mbit'] === undefined ? Infinity : (num(opts, 'rate-mbit') * 1e6) / 8;
  const key = streamKey(opts.seed ?? 'shim6');
  const chunk = rateBps === Infinity ? CHUNK : Math.min(CHUNK, Math.max(4096, Math.floor(rateBps / 200 / 8) * 8));
  const free = [];
  for (let i = 0; i < POOL; i++) {
    const buf = Buffer.allocUnsafeSlow(chunk);
    free.push({ buf, u32: new Uint32Array(buf.buffer, buf.byteOffset, chunk / 4) });
  }

  let sent = 0;
  let startMs = null;
  let endMs = null;
  let sending = true;
  let reported = false;
  let paceTimer;
  let queued = false;

  const report = (closedMs, error) => {
    if (reported) return;
    reported = true;
    const out = { event: 'report', proto: 'tcp', bytes: sent, startMs: startMs === null ? null : round1(startMs), endMs: endMs === null ? null : round1(endMs), closedMs: closedMs === null ? null : round1(closedMs) };
    if (error !== undefined) out.error = error;
    print(out);
  };
  const onSignal = () => {
    report(null);
    process.exit(0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGUSR1', () => finish());

  const sock = fd === undefined ? net.connect({ host, port, localAddress: bind, allowHalfOpen: true }) : new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
  sock.on('error', (e) => {
    if (startMs === null) fatal(`tcp-send: cannot connect to [${host}]:${port}${bind === undefined ? '' : ` from [${bind}]`}: ${errorText(e)}`);
    report(null, errorText(e));
    process.exit(0);
  });

  const finish = () => {
    if (!sending) return;
    sending = false;
    endMs = now();
    clearTimeout(paceTimer);
    sock.end();
  };
  const queue = () => {
    if (queued) return;
    queued = true;
    setImmediate(() => {
      queued = false;
      pump();
    });
  };
  function pump() {
    while (sending && free.length > 0) {
      const elapsed = now() - startMs;
      if (sent >= limitBytes || elapsed >= limitMs) return finish();
      const n = Math.min(chunk, limitBytes - sent);
      if (rateBps !== Infinity) {
        const ahead = sent + n - (rateBps * elapsed) / 1000 - chunk;
        if (ahead > 0) {
          paceTimer = setTimeout(pump, Math.max(1, Math.ceil((ahead / rateBps) * 1000)));
          return;
        }
      }
      const slot = free.pop();
      fillWords(slot.u32, sent / 8, Math.ceil(n / 8), key);
      sent += n;
      sock.write(n === chunk ? slot.buf : slot.buf.subarray(0, n), () => {
        free.push(slot);
        queue();
      });
    }
  }
  const start = () => {
    startMs = now();
    print({ event: 'connected', atMs: round1(startMs) });
    if (limitMs !== Infinity) setTimeout(finish, limitMs).unref();
    pump();
  };
  if (fd === undefined) sock.on('connect', start);
  else setImmediate(start);
  sock.on('data', () => {});
  sock.on('end', () => {
    if (sending) {
      report(null, `the receiver closed after ${sent} bytes, before the stream ended`);
      process.exit(0);
    }
  });
  sock.on('close', (hadError) => {
    if (!hadError) report(now());
    process.exit(0);
  });
}

// ------------------------------------------------------------------ udp

function udpSize(opts) {
  const size = num(opts, 'size', { min: 16, max: 65000, integer: true, def: 1200 });
  if (size % 8 !== 0) usageError('--size must be a multiple of 8');
  return size;
}

function udpRecv(opts) {
  const host = addr(opts, 'listen');
  const port = num(opts, 'port', { min: 1, max: 65535, integer: true });
  const size = udpSize(opts);
  const wordsPer = size / 8;
  const key = streamKey(opts.seed ?? 'shim6');
  const line = timelineFrom(opts);
  let seen = new Uint8Array(1 << 16);
  let bytes = 0;
  let datagrams = 0;
  let unique = 0;
  let dups = 0;
  let corrupt = 0;
  let maxSeq = -1;
  let reordered = 0;
  const stage = Buffer.allocUnsafeSlow(size);
  const u32 = new Uint32Array(stage.buffer, stage.byteOffset, size / 4);

  const sock = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', recvBufferSize: 8 << 20 });
  sock.on('error', (e) => fatal(`udp-recv: [${host}]:${port}: ${errorText(e)}`));
  sock.on('message', (m) => {
    const t = now();
    datagrams++;
    bytes += m.length;
    if (m.length !== size) {
      corrupt++;
      return;
    }
    m.copy(stage);
    const w0 = wordAt(u32, 0, key);
    const seq = w0 / wordsPer;
    let good = Number.isSafeInteger(seq) && seq < PLAUSIBLE_WORDS;
    for (let i = 1; good && i < wordsPer; i++) if (wordAt(u32, i, key) !== w0 + i) good = false;
    if (!good) {
      corrupt++;
      return;
    }
    while (seq >= seen.length * 8) {
      const grown = new Uint8Array(seen.length * 2);
      grown.set(seen);
      seen = grown;
    }
    const bit = 1 << (seq & 7);
    if ((seen[seq >>> 3] & bit) !== 0) {
      dups++;
      return;
    }
    seen[seq >>> 3] |= bit;
    unique++;
    if (seq < maxSeq) reordered++;
    else maxSeq = seq;
    line.add(m.length, t);
  });
  const onSignal = () => {
    print({ event: 'report', proto: 'udp', size, bytes, datagrams, unique, dupDatagrams: dups, corruptDatagrams: corrupt, maxSeq, reordered, ...line.json(now()) });
    process.exit(0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  sock.bind({ port, address: host, exclusive: true }, () => print({ event: 'listening' }));
}

function udpSend(opts) {
  const host = addr(opts, 'connect');
  const port = num(opts, 'port', { min: 1, max: 65535, integer: true });
  const bind = opts.bind === undefined ? undefined : addr(opts, 'bind');
  const size = udpSize(opts);
  const seconds = num(opts, 'seconds');
  const pps = (num(opts, 'rate-mbit') * 1e6) / 8 / size;
  const key = streamKey(opts.seed ?? 'shim6');
  const wordsPer = size / 8;
  const POOL_D = 256;
  const pool = [];
  for (let i = 0; i < POOL_D; i++) {
    const buf = Buffer.allocUnsafeSlow(size);
    pool.push({ buf, u32: new Uint32Array(buf.buffer, buf.byteOffset, size / 4) });
  }
  let seq = 0;
  let inflight = 0;
  let errors = 0;
  const codes = {};
  let startMs = 0;
  let done = false;

  const sock = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', sendBufferSize: 8 << 20 });
  // Before the start an error is fatal (bind, connect); after it, counted (ICMP errors
  // come back as errors on a connected socket during a failure).
  sock.on('error', (e) => {
    if (startMs === 0) fatal(`udp-send: ${errorText(e)}`);
    errors++;
    codes[e.code ?? 'error'] = (codes[e.code ?? 'error'] ?? 0) + 1;
  });
  const finish = () => {
    if (done) return;
    done = true;
    print({ event: 'report', proto: 'udp', size, datagrams: seq, bytes: seq * size, sendErrors: errors, errorCodes: codes, startMs: round1(startMs), endMs: round1(now()) });
    process.exit(0);
  };
  let stopAt = seconds * 1000;
  process.on('SIGTERM', finish);
  process.on('SIGINT', finish);
  process.on('SIGUSR1', () => {
    stopAt = Math.min(stopAt, now() - startMs);
  });
  const tick = () => {
    const elapsed = now() - startMs;
    if (elapsed >= stopAt) {
      if (inflight === 0) finish();
      else setTimeout(tick, 5);
      return;
    }
    const due = Math.min(Math.floor((pps * elapsed) / 1000) + 1, seq + 64);
    while (seq < due && pool.length > 0) {
      const slot = pool.pop();
      fillWords(slot.u32, seq * wordsPer, wordsPer, key);
      seq++;
      inflight++;
      sock.send(slot.buf, (e) => {
        inflight--;
        pool.push(slot);
        if (e) {
          errors++;
          codes[e.code ?? 'error'] = (codes[e.code ?? 'error'] ?? 0) + 1;
        }
      });
    }
    setTimeout(tick, 1);
  };
  sock.bind({ port: 0, address: bind }, () => {
    sock.connect(port, host, () => {
      startMs = now();
      print({ event: 'connected', atMs: round1(startMs) });
      tick();
    });
  });
}

const { mode, opts } = parseArgs(process.argv.slice(2));
if (mode === 'tcp-recv') tcpRecv(opts);
else if (mode === 'tcp-send') tcpSend(opts);
else if (mode === 'udp-recv') udpRecv(opts);
else udpSend(opts);
