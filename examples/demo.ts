/**
 * `npm run demo` (root): Shim6 keeping a TCP transfer alive across the silent failure of
 * an ISP, on the real kernel. It builds the harness topology in network namespaces (two
 * hosts, two ISPs, examples/harness/spec.ts), starts shim6d on both hosts (HBA
 * identities, REAP fast profile), sends a checksummed TCP stream between the ULIDs, cuts
 * the path it uses silently (100 % loss on hA's link to ISP1, both ways), and prints
 * what happened: the context and its locator pair, when the daemon detected the failure
 * and which pair it switched to, and whether every byte arrived, verified. Everything is
 * removed at the end (also on Ctrl-C). Exit 0 only when the transfer completed verified.
 *
 * The wire-format demo that needs no root is demo-wire.ts (`npm run demo:wire`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Faults } from './harness/faults.js';
import { startMode, type ModeInstance } from './harness/modes.js';
import { nowMs, sleep } from './harness/netns.js';
import { failoverEpochMs, parseContexts, shim6Cli, shim6Socket, shim6Support, type Shim6Context } from './harness/shim6.js';
import { Topology } from './harness/topology.js';
import { finishFlow, startFlow } from './harness/traffic.js';

const BYTES = 48_000_000; // 4 s at 96 Mbit/s
const RATE_MBIT = 96;

function say(s: string): void {
  process.stdout.write(`${s}\n`);
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    say('shim6 demo: needs root (it builds network namespaces and runs shim6d, which opens a TUN and raw sockets).');
    say('Run it as root (sudo npm run demo), or try the wire-format demo without root: npm run demo:wire');
    return 1;
  }
  const support = await shim6Support();
  if (!support.ok) {
    say(`shim6 demo: ${support.reason}`);
    return 1;
  }
  const runDir = mkdtempSync(join(tmpdir(), 'shim6-demo-'));
  let topo: Topology | undefined;
  let mode: ModeInstance | undefined;
  try {
    say('shim6 demo: two multihomed hosts (hA, hB), two ISPs, in network namespaces');
    topo = await Topology.up({});
    mode = await startMode(topo, 'shim6-fast', { runDir });
    const status = await mode.status();
    const ids = status['identities'] as Record<string, { ulid: string; locators: { address: string; interface: string }[] }>;
    for (const s of ['a', 'b']) {
      const id = ids[s]!;
      say(`  h${s.toUpperCase()}: ULID ${id.ulid}; locators ${id.locators.map((l) => `${l.address} (${l.interface})`).join(', ')}`);
    }

    const t0 = nowMs();
    const flow = await startFlow(topo, { spec: { kind: 'tcp', rateMbit: RATE_MBIT, bytes: BYTES }, port: 5201, src: mode.src, dst: mode.dst, seconds: 3600, origin: t0, seed: 'demo', logFile: join(runDir, 'flow.log') });
    say(`\nTCP: ${BYTES / 1e6} MB at ${RATE_MBIT} Mbit/s from [${mode.src}] to [${mode.dst}]`);
    await mode.ready(20_000);
    const contexts = async (): Promise<Shim6Context[]> => parseContexts(await shim6Cli(topo!, 'hA', ['contexts', '--json', '--socket', shim6Socket(topo!, 'a')]));
    const before = (await contexts()).find((c) => c.peerUlid === mode!.dst);
    say(`contexts established (I1, R1, I2, R2): hA ${before?.name ?? '?'} is ${before?.state}; current pair ${before?.currentPair?.local} -> ${before?.currentPair?.peer}`);

    await sleep(1500);
    const faults = new Faults(topo);
    await faults.apply({ kind: 'loss', link: 'a1' });
    const cutAt = faults.events[0]!.atMs;
    say(`\n${((cutAt - t0) / 1000).toFixed(1)} s: ISP1's link to hA fails silently (100 % loss both ways, no signal to the host)`);

    let after: Shim6Context | undefined;
    for (let i = 0; i < 200; i++) {
      after = (await contexts()).find((c) => c.peerUlid === mode!.dst);
      if ((after?.failovers ?? 0) > (before?.failovers ?? 0)) break;
      await sleep(50);
    }
    const detected = failoverEpochMs(after?.lastFailover);
    if ((after?.failovers ?? 0) > (before?.failovers ?? 0)) {
      const when = detected === null ? '' : `after ${Math.round(detected - cutAt)} ms `;
      say(`failure detected ${when}(REAP: ${after?.lastFailover?.reason ?? '?'}); switched to pair ${after?.currentPair?.local} -> ${after?.currentPair?.peer}`);
    } else {
      say('the daemon reported no failover within 10 s');
    }

    const done = await finishFlow(flow, nowMs() + 20_000);
    const r = done.receiver;
    const v = r?.verify;
    const gap = r?.gaps.find((g) => g.endMs > cutAt && g.startMs <= cutAt + 500);
    if (gap !== undefined && gap.open !== true) say(`first data after the failure: ${Math.round(gap.endMs - cutAt)} ms after the cut`);
    const ok = r?.eof === true && v !== undefined && r.bytes === BYTES && v.okBytes === BYTES && v.lostBytes === 0 && v.dupBytes === 0 && v.corruptBytes === 0 && done.sender?.bytes === BYTES;
    if (ok) say(`transfer completed with ${BYTES} bytes verified (each 8-byte word checked for its position: no loss, duplication or corruption)`);
    else say(`transfer NOT completed: received ${r?.bytes ?? 0} of ${BYTES} bytes${r?.eof === true ? '' : ', no end of stream'}${v !== undefined ? `; verified ${v.okBytes}, lost ${v.lostBytes}, duplicated ${v.dupBytes}, corrupt ${v.corruptBytes}` : ''}${done.errors.length > 0 ? `; ${done.errors.join('; ')}` : ''}`);
    await faults.stop();
    return ok ? 0 : 1;
  } finally {
    await mode?.stop().catch(() => undefined);
    await topo?.down();
    rmSync(runDir, { recursive: true, force: true });
    say('namespaces removed');
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`shim6 demo: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
