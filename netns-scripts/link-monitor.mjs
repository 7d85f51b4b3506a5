#!/usr/bin/env node
// link-monitor: a BFD-like liveness check of one link (RFC 5880's idea, not its wire
// format), for the harness's tunnel mode (examples/harness/modes.ts). Plain Node ESM.
//
//   node link-monitor.mjs --local ADDR --peer ADDR --port P [--interval-ms 50]
//                         [--detect-mult 3] [--down CMD] [--up CMD]
//
// Both ends of the link run it, each bound to its own address on the link. Every
// interval each end sends a small UDP hello to the other, saying whether it hears the
// other end. The session is UP while this end has heard a hello within
// interval × detect-mult AND the last hello says the peer hears us (so a one-way failure
// takes both ends down, as BFD's remote state does). The first UP needs both; after it,
// every change runs --down or --up through /bin/sh (the tunnel mode uses them to add
// and remove the policy rule that moves traffic into the tunnel) and prints one JSON
// line {event: "up"|"down", atMs, ...}. Exits 0 on SIGTERM/SIGINT, 2 on bad arguments.
// Hellos that cannot be sent (the link is administratively down) are simply not sent.
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const USAGE = 'usage: node link-monitor.mjs --local ADDR --peer ADDR --port P [--interval-ms 50] [--detect-mult 3] [--down CMD] [--up CMD]';
const NAMES = ['local', 'peer', 'port', 'interval-ms', 'detect-mult', 'down', 'up'];

function usage(msg) {
  process.stderr.write(`link-monitor: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

const opts = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const name = argv[i]?.startsWith('--') ? argv[i].slice(2) : undefined;
  if (name === undefined || !NAMES.includes(name) || argv[i + 1] === undefined) usage(`bad argument '${argv[i]}'`);
  opts[name] = argv[i + 1];
}
for (const k of ['local', 'peer']) if (net.isIPv6(opts[k] ?? '') === false) usage(`--${k} must be an IPv6 address`);
const port = Number(opts.port);
const intervalMs = Number(opts['interval-ms'] ?? 50);
const mult = Number(opts['detect-mult'] ?? 3);
if (!Number.isInteger(port) || port < 1 || port > 65535) usage('--port must be 1..65535');
if (!(intervalMs >= 5) || !(mult >= 1)) usage('--interval-ms >= 5 and --detect-mult >= 1');

const now = () => performance.timeOrigin + performance.now();
let lastHeard = -Infinity;
let peerHearsUs = false;
let state = 'init'; // init -> up <-> down
let changes = 0;

function run(cmd) {
  if (cmd === undefined) return;
  execFile('/bin/sh', ['-c', cmd], (err, _out, stderr) => {
    if (err !== null) process.stderr.write(`link-monitor: '${cmd}' failed: ${stderr.trim() || err.message}\n`);
  });
}

function evaluate() {
  const hearing = now() - lastHeard <= intervalMs * mult;
  const up = hearing && peerHearsUs;
  if (state === 'init') {
    if (up) state = 'up';
    return;
  }
  if (up && state === 'down') {
    state = 'up';
    changes++;
    process.stdout.write(`${JSON.stringify({ event: 'up', atMs: Math.round(now() * 10) / 10, changes })}\n`);
    run(opts.up);
  } else if (!up && state === 'up') {
    state = 'down';
    changes++;
    process.stdout.write(`${JSON.stringify({ event: 'down', atMs: Math.round(now() * 10) / 10, changes, hearing, peerHearsUs })}\n`);
    run(opts.down);
  }
}

const sock = dgram.createSocket({ type: 'udp6' });
sock.on('error', (e) => {
  process.stderr.write(`link-monitor: ${e.message}\n`);
  process.exit(1);
});
sock.on('message', (m, rinfo) => {
  if (rinfo.address !== opts.peer || m.length !== 1) return;
  lastHeard = now();
  peerHearsUs = m[0] === 1;
  evaluate();
});
sock.bind({ port, address: opts.local }, () => {
  process.stdout.write(`${JSON.stringify({ event: 'started', local: opts.local, peer: opts.peer })}\n`);
  setInterval(() => {
    const hearing = now() - lastHeard <= intervalMs * mult;
    sock.send(Uint8Array.of(hearing ? 1 : 0), port, opts.peer, () => {}); // errors while the link is down are expected
    evaluate();
  }, intervalMs);
});
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
