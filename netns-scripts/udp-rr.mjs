#!/usr/bin/env node
// UDP request/response and small-packet load, for benchmarks (no dependencies, no build).
//
//   node udp-rr.mjs echo --listen ADDR --port P
//       echoes every datagram back; prints {"listening":true} once bound.
//   node udp-rr.mjs rtt --connect ADDR --port P [--bind ADDR] [--count N] [--size B]
//       N sequential round trips (default 2000, 64-octet payloads); prints one JSON line
//       {count, lost, medianUs, p90Us, minUs}. A round trip lost for 200 ms counts as lost.
//   node udp-rr.mjs sink --listen ADDR --port P --seconds S
//       counts datagrams for S seconds after the first; prints {packets, pps, bytes}.
//   node udp-rr.mjs flood --connect ADDR --port P [--bind ADDR] --seconds S [--size B]
//       sends B-octet datagrams (default 64) as fast as the socket takes them for S
//       seconds; prints {sent, pps}.
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';

function args() {
  const [mode, ...rest] = process.argv.slice(2);
  const o = { mode };
  for (let i = 0; i < rest.length; i += 2) {
    const k = rest[i];
    if (!k?.startsWith('--') || rest[i + 1] === undefined) fail(`bad argument ${k}`);
    o[k.slice(2)] = rest[i + 1];
  }
  return o;
}

function fail(message) {
  process.stderr.write(`udp-rr: ${message}\n`);
  process.exit(2);
}

function num(o, k, d) {
  const v = o[k] === undefined ? d : Number(o[k]);
  if (!Number.isFinite(v) || v < 0) fail(`--${k} must be a non-negative number`);
  return v;
}

const o = args();
const sock = dgram.createSocket({ type: 'udp6', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
sock.on('error', (e) => fail(e.message));

if (o.mode === 'echo') {
  sock.on('message', (m, r) => sock.send(m, r.port, r.address));
  sock.bind(num(o, 'port'), o.listen, () => console.log(JSON.stringify({ listening: true })));
} else if (o.mode === 'sink') {
  let packets = 0;
  let bytes = 0;
  let t0 = 0;
  const seconds = num(o, 'seconds', 3);
  sock.on('message', (m) => {
    if (packets === 0) {
      t0 = performance.now();
      setTimeout(() => {
        const s = (performance.now() - t0) / 1000;
        console.log(JSON.stringify({ packets, bytes, pps: Math.round(packets / s) }));
        process.exit(0);
      }, seconds * 1000);
    }
    packets++;
    bytes += m.length;
  });
  sock.bind(num(o, 'port'), o.listen, () => console.log(JSON.stringify({ listening: true })));
} else if (o.mode === 'rtt') {
  const count = num(o, 'count', 2000);
  const payload = Buffer.alloc(num(o, 'size', 64), 0x5a);
  const port = num(o, 'port');
  const samples = [];
  let lost = 0;
  let seq = 0;
  let sentAt = 0;
  let timer;
  const next = () => {
    if (seq === count) {
      samples.sort((a, b) => a - b);
      const at = (q) => Math.round(samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? -1);
      console.log(JSON.stringify({ count, lost, medianUs: at(0.5), p90Us: at(0.9), minUs: at(0) }));
      process.exit(0);
    }
    payload.writeUInt32BE(++seq, 0);
    sentAt = performance.now();
    sock.send(payload, port, o.connect);
    timer = setTimeout(() => { lost++; next(); }, 200);
  };
  sock.on('message', (m) => {
    if (m.readUInt32BE(0) !== seq) return;
    clearTimeout(timer);
    samples.push((performance.now() - sentAt) * 1000);
    next();
  });
  sock.bind(0, o.bind, next);
} else if (o.mode === 'flood') {
  const payload = Buffer.alloc(num(o, 'size', 64), 0x33);
  const port = num(o, 'port');
  const end = performance.now() + num(o, 'seconds', 3) * 1000;
  let sent = 0;
  let inflight = 0;
  const t0 = performance.now();
  const pump = () => {
    while (inflight < 256 && performance.now() < end) {
      inflight++;
      sock.send(payload, port, o.connect, (e) => {
        inflight--;
        if (!e) sent++;
        if (inflight < 128) setImmediate(pump);
      });
    }
    if (performance.now() >= end && inflight === 0) {
      console.log(JSON.stringify({ sent, pps: Math.round(sent / ((performance.now() - t0) / 1000)) }));
      process.exit(0);
    }
  };
  sock.bind(0, o.bind, pump);
} else {
  fail('mode must be echo, rtt, sink or flood');
}
