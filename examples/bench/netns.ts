/**
 * The data plane on real kernels: network-namespace measurements for `npm run bench`
 * (root only; skipped with a note otherwise). One topology (netns-scripts/topology.sh:
 * hA and hB, each with a locator on ISP1 and ISP2, one router per ISP), shim6d on both
 * hosts with one static context (ULIDs A1, B1), and in the same run:
 *
 * - the kernel path: one TCP stream (iperf3) A1→B1 and A2→B2 without the shim;
 * - the shim before any switch (pair = ULIDs: the kernel's own path, only observed);
 * - the shim after a switch to (A2, B2): every packet goes through the TUN, the data
 *   plane and the raw socket, with the 8-octet header inserted;
 * - round-trip time of 64-octet UDP request/response (median of 2000), kernel vs shim;
 * - small-packet rate: 64-octet UDP datagrams from one Node sender, kernel vs shim.
 *
 * Ratios compare each shim figure with the kernel path over the same ISP, measured
 * minutes apart in the same run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TOPOLOGY = join(ROOT, 'netns-scripts/topology.sh');
const UDP_RR = join(ROOT, 'netns-scripts/udp-rr.mjs');
const SHIM6D = join(ROOT, 'dist/src/daemon/shim6d.js');
const SHIM6 = join(ROOT, 'dist/src/cli/shim6.js');
const A1 = '2001:db8:1:a::1';
const A2 = '2001:db8:2:a::1';
const B1 = '2001:db8:1:b::1';
const B2 = '2001:db8:2:b::1';
const SECONDS = 5;

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface NetnsBench {
  readonly lines: string[];
}

export async function runNetnsBench(): Promise<NetnsBench> {
  const lines: string[] = ['## Data plane in network namespaces (root; one TCP stream, RTT, small packets)', ''];
  if (process.getuid?.() !== 0) return { lines: [...lines, 'Skipped: needs root (network namespaces, TUN, raw sockets).', ''] };
  if (spawnSync('iperf3', ['--version']).status !== 0) return { lines: [...lines, 'Skipped: iperf3 is not installed (apt-get install iperf3).', ''] };
  const id = `bench${process.pid}`;
  const ns = (n: string) => `s6-${n}-${id}`;
  const dir = mkdtempSync(join(tmpdir(), 'shim6-bench-'));
  const children: ReturnType<typeof spawn>[] = [];
  const bg = (node: string, args: string[]) => {
    const c = spawn('ip', ['netns', 'exec', ns(node), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    return c;
  };
  const inNs = (node: string, args: string[]) => sh('ip', ['netns', 'exec', ns(node), ...args]);
  try {
    sh('bash', [TOPOLOGY, 'up', id]);
    const iperf = (src: string, dst: string): number => {
      const out = JSON.parse(inNs('hA', ['iperf3', '-6', '-c', dst, '-B', src, '-t', String(SECONDS), '-J'])) as { end: { sum_received: { bits_per_second: number } } };
      return out.end.sum_received.bits_per_second / 1e9;
    };
    const rtt = async (src: string, dst: string): Promise<number> => {
      const echo = bg('hB', [process.execPath, UDP_RR, 'echo', '--listen', dst, '--port', '7001']);
      await sleep(400);
      const r = JSON.parse(inNs('hA', [process.execPath, UDP_RR, 'rtt', '--connect', dst, '--port', '7001', '--bind', src, '--count', '2000'])) as { medianUs: number };
      echo.kill();
      return r.medianUs;
    };
    const smallRate = async (src: string, dst: string): Promise<{ sent: number; received: number }> => {
      const sink = bg('hB', [process.execPath, UDP_RR, 'sink', '--listen', dst, '--port', '7002', '--seconds', '3']);
      let out = '';
      sink.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await sleep(400);
      const sent = JSON.parse(inNs('hA', [process.execPath, UDP_RR, 'flood', '--connect', dst, '--port', '7002', '--bind', src, '--seconds', '4'])) as { pps: number };
      await new Promise((r) => sink.once('exit', r));
      const line = out.trim().split('\n').find((l) => l.includes('pps'));
      return { sent: sent.pps, received: line === undefined ? 0 : (JSON.parse(line) as { pps: number }).pps };
    };
    const iperfServer = bg('hB', ['iperf3', '-s', '-6']);
    await sleep(500);

    const kernel1 = iperf(A1, B1);
    const kernel2 = iperf(A2, B2);
    const kernelRtt = await rtt(A1, B1);
    const kernelSmall = await smallRate(A1, B1);

    for (const side of ['a', 'b'] as const) {
      const [l1, l2, p1, p2] = side === 'a' ? [A1, A2, B1, B2] : [B1, B2, A1, A2];
      writeFileSync(join(dir, `${side}.json`), JSON.stringify({
        locators: [l1, l2], controlSocket: join(dir, `${side}.sock`), logLevel: 'warn',
        contexts: [{ name: 'peer', localUlid: l1, peerUlid: p1, localLocators: [l1, l2], peerLocators: [p1, p2], localContextTag: side === 'a' ? 0xa1 : 0xb1, peerContextTag: side === 'a' ? 0xb1 : 0xa1 }],
      }));
      bg(side === 'a' ? 'hA' : 'hB', [process.execPath, SHIM6D, '--config', join(dir, `${side}.json`)]);
    }
    for (let i = 0; i < 50 && spawnSync(process.execPath, [SHIM6, 'status', '--socket', join(dir, 'b.sock')]).status !== 0; i++) await sleep(100);
    const before = iperf(A1, B1);
    sh(process.execPath, [SHIM6, 'set-pair', 'peer', A2, B2, '--socket', join(dir, 'a.sock')]);
    sh(process.execPath, [SHIM6, 'set-pair', 'peer', B2, A2, '--socket', join(dir, 'b.sock')]);
    const after = iperf(A1, B1);
    const shimRtt = await rtt(A1, B1);
    const shimSmall = await smallRate(A1, B1);
    const counters = JSON.parse(sh(process.execPath, [SHIM6, 'contexts', '--socket', join(dir, 'a.sock'), '--json'])) as { counters: Record<string, number> }[];
    iperfServer.kill();

    const r = (x: number, y: number) => `${(x / y).toFixed(2)}×`;
    lines.push(`One TCP stream (iperf3, ${SECONDS} s), RTT of 64-octet UDP request/response (median of 2000), 64-octet UDP datagrams from one Node sender (received per second at B):`);
    lines.push('');
    lines.push('| path | TCP Gbit/s | ratio to kernel, same ISP | UDP RTT µs | small packets/s received |');
    lines.push('|---|---|---|---|---|');
    lines.push(`| kernel, A1→B1 over ISP1 | ${kernel1.toFixed(2)} | 1.00× | ${kernelRtt} | ${kernelSmall.received.toLocaleString('en')} (sent ${kernelSmall.sent.toLocaleString('en')}) |`);
    lines.push(`| kernel, A2→B2 over ISP2 | ${kernel2.toFixed(2)} | 1.00× | | |`);
    lines.push(`| shim6d, pair = ULIDs (before a switch) | ${before.toFixed(2)} | ${r(before, kernel1)} | | |`);
    lines.push(`| shim6d, switched to (A2, B2): header inserted | ${after.toFixed(2)} | ${r(after, kernel2)} | ${shimRtt} (+${shimRtt - kernelRtt}) | ${shimSmall.received.toLocaleString('en')} (sent ${shimSmall.sent.toLocaleString('en')}; ${r(shimSmall.received, kernelSmall.received)}) |`);
    lines.push('');
    const c = counters[0]?.counters ?? {};
    lines.push(`Host A's context after the run: ${c['egressRewritten'] ?? 0} packets rewritten, ${c['ingressPackets'] ?? 0} restored, drops: send ${c['dropSendFailed'] ?? 0}, malformed ${c['dropMalformed'] ?? 0}.`);
    lines.push('');
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await sleep(500);
    spawnSync('bash', [TOPOLOGY, 'down', id]);
    rmSync(dir, { recursive: true, force: true });
  }
  return { lines };
}
