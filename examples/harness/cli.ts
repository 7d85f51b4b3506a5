#!/usr/bin/env node
/**
 * The failover harness from the command line (root only):
 *
 *   node dist/examples/harness/cli.js run --mode MODE [--traffic T]... [--failure F]...
 *        [--warmup MS] [--after MS] [--isps N] [--core-hops N] [--failback MS[:PROBE_MS]] [--pcap] [--out DIR]
 *   node dist/examples/harness/cli.js run --scenario FILE.json
 *   node dist/examples/harness/cli.js up [--isps N] [--core-hops N] [--run-id ID]
 *   node dist/examples/harness/cli.js down --run-id ID
 *   node dist/examples/harness/cli.js plan [--isps N] [--core-hops N]
 *
 * MODE: plain | mptcp | tunnel | shim6-fast | shim6-rfc | shim6-fl.
 * T: tcp (bulk), tcp:MBIT (paced), udp:MBIT[:SIZE]; default tcp:100.
 * F (times after the failure instant, default @0):
 *   loss:LINK[:both|a-to-b|b-to-a[:PERCENT]]   link-down:LINK[:a|b|both]   link-up:LINK
 *   isp-down:K   isp-up:K   flap:LINK:DOWN_MS:UP_MS:COUNT[:loss|down]   repair[:LINK]
 *   e.g. --failure loss:a1@0 --failure repair@3000
 * Links: a1, b2 (host links), i1.0 (ISP1's core chain), x1a (ISP1's edge at A to the ix).
 * --failback (shim6 modes): shim6d's reap.failbackHoldDownMs (0: none) and
 * reap.failbackProbeIntervalMs, e.g. --failback 2000:500 to watch a return after repair.
 *
 * `run` prints the report's path and its metrics table; `up` builds a topology and keeps
 * it until Ctrl-C (then removes it); `down` removes what a killed run left.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isModeName, MODES } from './modes.js';
import { listNamespaces, removeNamespace } from './netns.js';
import { parseFailure, runScenario, type ScenarioSpec } from './scenario.js';
import { planTopology, type TopologySpec } from './spec.js';
import { NS_PREFIX, Topology } from './topology.js';
import { parseTraffic } from './traffic.js';

const USAGE = `usage: cli.js run --mode MODE [--traffic T]... [--failure F]... [--warmup MS] [--after MS] [--isps N] [--core-hops N] [--failback MS[:PROBE_MS]] [--pcap] [--out DIR]
       cli.js run --scenario FILE.json
       cli.js up [--isps N] [--core-hops N] [--run-id ID]
       cli.js down --run-id ID
       cli.js plan [--isps N] [--core-hops N]
MODE: ${MODES.join(' | ')}; T: tcp | tcp:MBIT | udp:MBIT[:SIZE]
F: loss:LINK[:DIR[:PCT]] | link-down:LINK[:END] | link-up:LINK | isp-down:K | isp-up:K | flap:LINK:DOWN_MS:UP_MS:COUNT[:loss|down] | repair[:LINK], each [@MS after the failure]`;

function usage(msg: string): never {
  process.stderr.write(`harness: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

const int = (s: string, what: string): number => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) usage(`${what}: '${s}' is not a whole number`);
  return n;
};

/** `--failback MS[:PROBE_MS]` as shim6d's reap keys. */
function failbackOf(v: string): { failbackHoldDownMs: number; failbackProbeIntervalMs?: number } {
  const m = /^([0-9]{1,8})(?::([0-9]{1,7}))?$/.exec(v);
  if (m === null) usage(`--failback: '${v}' is not MS or MS:PROBE_MS`);
  return { failbackHoldDownMs: Number(m[1]), ...(m[2] === undefined ? {} : { failbackProbeIntervalMs: Number(m[2]) }) };
}

function topologyOf(v: Record<string, unknown>): TopologySpec {
  return {
    ...(v['isps'] === undefined ? {} : { isps: int(String(v['isps']), '--isps') }),
    ...(v['core-hops'] === undefined ? {} : { coreHops: int(String(v['core-hops']), '--core-hops') }),
  };
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      mode: { type: 'string' }, traffic: { type: 'string', multiple: true }, failure: { type: 'string', multiple: true },
      warmup: { type: 'string' }, after: { type: 'string' }, isps: { type: 'string' }, 'core-hops': { type: 'string' },
      pcap: { type: 'boolean' }, out: { type: 'string' }, scenario: { type: 'string' }, 'run-id': { type: 'string' }, failback: { type: 'string' },
    },
    strict: true,
  });
  if (cmd === 'plan') {
    console.log(JSON.stringify(planTopology(topologyOf(values)), null, 1));
    return 0;
  }
  if (process.getuid?.() !== 0) usage('needs root (network namespaces)');
  if (cmd === 'run') {
    let spec: ScenarioSpec;
    if (values.scenario !== undefined) spec = JSON.parse(readFileSync(values.scenario, 'utf8')) as ScenarioSpec;
    else {
      const mode = values.mode ?? usage('--mode is required');
      if (!isModeName(mode)) usage(`unknown mode '${mode}'`);
      spec = {
        mode,
        topology: topologyOf(values),
        traffic: (values.traffic ?? ['tcp:100']).map(parseTraffic),
        failures: (values.failure ?? ['loss:a1']).map(parseFailure),
        ...(values.warmup === undefined ? {} : { warmupMs: int(values.warmup, '--warmup') }),
        ...(values.after === undefined ? {} : { afterMs: int(values.after, '--after') }),
        ...(values.pcap === true ? { pcap: true } : {}),
        ...(values.out === undefined ? {} : { outDir: values.out }),
        ...(values.failback === undefined ? {} : { shim6: { reapSettings: failbackOf(values.failback) } }),
      };
      if (values.failback !== undefined && !mode.startsWith('shim6')) usage('--failback is for the shim6 modes');
    }
    const r = await runScenario(spec);
    console.log(readFileSync(`${r.runDir}/report.md`, 'utf8'));
    console.log(`Run directory: ${r.runDir}`);
    return r.errors.length === 0 ? 0 : 1;
  }
  if (cmd === 'up') {
    const topo = await Topology.up(topologyOf(values), values['run-id']);
    console.log(`topology ${topo.runId} is up; namespaces:`);
    for (const n of topo.nodeNames) console.log(`  ${topo.ns(n)}`);
    console.log('Ctrl-C removes it.');
    const keepAlive = setInterval(() => {}, 1 << 30); // an empty event loop would exit
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        clearInterval(keepAlive);
        resolve();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await topo.down();
    return 0;
  }
  if (cmd === 'down') {
    const id = values['run-id'] ?? usage('--run-id is required');
    if (!/^[A-Za-z0-9_-]{1,24}$/.test(id)) usage(`bad run id '${id}'`);
    const names = listNamespaces(`${NS_PREFIX}${id}-`);
    for (const ns of names) await removeNamespace(ns);
    console.log(`removed ${names.length} namespace(s)`);
    return 0;
  }
  usage(cmd === undefined ? 'missing command' : `unknown command '${cmd}'`);
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => {
  if (e instanceof SyntaxError || (e instanceof Error && e.message.startsWith('failure '))) usage(e.message);
  process.stderr.write(`harness: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
