/**
 * `node dist/examples/sim/failover.js [--runs N] [--seed S] [--json] [--profile rfc|fast] [--mode 1-4] [--trace]`:
 * how long REAP (RFC 5534) takes to move a Shim6 context (RFC 5533) off a failed locator
 * pair while an application is talking, for the `rfc` and `fast` REAP profiles
 * (src/reap/constants.ts) and four kinds of failure.
 *
 * Each run (seeds S..S+N-1, default 1..100, the same seeds for every profile and mode):
 * hosts A and B, two /64 prefixes each under 2001:db8::/32, every link 5 ms one way
 * (10 ms RTT). A establishes the context; then A sends 100 data packets/s to B, each
 * with a sequence number, and B answers every packet it receives (as TCP ACKs do). After
 * a warm-up drawn from the seed's own stream (uniform 2-4 s after traffic starts, so
 * the failure lands at a random phase of the REAP timers) the failure is injected on the
 * current pair (A1, B1 below; A2, B2 are the other locators):
 *
 *   1 one-way     A1→B1 silently loses every packet (B1→A1 still works)
 *   2 both-ways   A1→B1 and B1→A1 silently lose every packet
 *   3 local-link  A's link of A1 goes down and A hears it (a.setLinkState(A1, false))
 *   4 unidir      only A2→B1 and B2→A1 still work (every pair is usable one way only)
 *
 * Measured from the failure: the first A data packet delivered at B that was sent after
 * the failure on a pair other than A's current pair at the failure (the new pair; the
 * addresses it travelled on are also checked against the failed links), and the same for
 * B's answers at A. (In mode 1 B1→A1 still works, but B moves too, to the pair A's
 * probes confirm; B's answers need A's data, so they come about 5 ms after it.) A run
 * stops when both directions deliver again and both ends are back in Operational (so the
 * probes of the exploration are all counted), or 120 s of virtual time after the failure
 * (not recovered). Probes: the probes both ends sent from the failure to the end of the run
 * (REAP stats, cross-checked against the Probe packets on the network). Keepalives: both
 * ends, from establishment to the end of the run.
 *
 * Everything is seeded: the same options print the same report (the wall time goes to
 * stderr). `--trace` prints each run's transcript (use it with --runs 1, --profile and
 * --mode to look at one run).
 */
import { option, percentile } from './cli.js';
import { addHbaHost, createSimulation, type SimHost, type SimPacket } from '../../src/api/index.js';
import { ContextState } from '../../src/context/types.js';
import type { ReapStats } from '../../src/reap/types.js';
import { addressKey, formatIpv6 } from '../../src/wire/address.js';
import { bytesEqual } from '../../src/wire/bytes.js';
import { IPPROTO_SHIM6, MessageType } from '../../src/wire/constants.js';

type Profile = 'rfc' | 'fast';
type Mode = 1 | 2 | 3 | 4;

const MODE_NAMES: Record<Mode, string> = { 1: 'one-way', 2: 'both-ways', 3: 'local-link', 4: 'unidir' };
const MODE_TEXT: Record<Mode, string> = {
  1: 'A1→B1 silently lost',
  2: 'A1→B1 and B1→A1 silently lost',
  3: "A's link of A1 down (local signal)",
  4: 'only A2→B1 and B2→A1 work',
};


function choice<T extends string>(name: string, values: readonly T[]): T | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1] as T;
  if (!values.includes(v)) throw new RangeError(`--${name} needs one of ${values.join(', ')}`);
  return v;
}

const runs = option('runs', 100, 1, 100_000);
const firstSeed = option('seed', 1, 0, 0xffff_ffff - (runs - 1));
const json = process.argv.includes('--json');
const trace = process.argv.includes('--trace');
const onlyProfile = choice<Profile>('profile', ['rfc', 'fast']);
const onlyMode = process.argv.includes('--mode') ? (option('mode', 1, 1, 4) as Mode) : undefined;

const PROFILES: readonly Profile[] = onlyProfile === undefined ? ['rfc', 'fast'] : [onlyProfile];
const MODES: readonly Mode[] = onlyMode === undefined ? [1, 2, 3, 4] : [onlyMode];

const DELAY_MS = 5;
const SEND_INTERVAL_MS = 10;
const WARMUP_MIN_MS = 2_000;
const WARMUP_SPREAD_MS = 2_000;
const LIMIT_MS = 120_000;
const ESTABLISH_LIMIT_MS = 60_000;

const DATA = 1;
const ACK = 2;

/** One run's result (what --json prints). */
interface RunResult {
  readonly profile: Profile;
  readonly mode: Mode;
  readonly seed: number;
  /** Virtual time the context was established at A and traffic started. */
  readonly trafficStart: number;
  /** Warm-up: the failure came this long after traffic started. */
  readonly warmupMs: number;
  readonly recovered: boolean;
  /** From the failure to the first A data packet delivered at B over a working pair; undefined when none came. */
  readonly abMs: number | undefined;
  readonly baMs: number | undefined;
  /** The addresses (labels) the first such packets travelled on. */
  readonly abVia: string | undefined;
  readonly baVia: string | undefined;
  /** Whether that packet carried the Shim6 Payload Extension header (a context tag). */
  readonly abTagged: boolean | undefined;
  readonly baTagged: boolean | undefined;
  /** Probes sent by both ends from the failure to the end of the run (REAP stats) and Probe packets seen on the network. */
  readonly probes: number;
  readonly probePackets: number;
  /** Probes held back by the probe budget (both ends). */
  readonly probesDeferred: number;
  /** Keepalives sent by both ends over the whole run (REAP stats) and Keepalive packets seen after the failure. */
  readonly keepalives: number;
  readonly keepalivePacketsAfterFailure: number;
  /** Each end's last failover: reason and duration (exploration start to switch), and its current pair at the end. */
  readonly a: EndReport;
  readonly b: EndReport;
  /** Virtual time from the failure to the end of the run. */
  readonly endedAfterMs: number;
}

interface EndReport {
  readonly pair: string;
  readonly state: string;
  readonly explorations: number;
  readonly failovers: number;
  readonly lastFailover: string | undefined;
}

function isShim6Control(bytes: Uint8Array, type: number): boolean {
  // The simulator's hosts put the Shim6 header right after the IPv6 header.
  return bytes.length > 42 && bytes[6] === IPPROTO_SHIM6 && (bytes[42]! & 0x80) === 0 && (bytes[42]! & 0x7f) === type;
}
const PROBE_TYPE = MessageType.Probe;
const KEEPALIVE_TYPE = MessageType.Keepalive;

function encode(kind: number, seq: number, ack: number): Uint8Array {
  const d = new Uint8Array(9);
  const v = new DataView(d.buffer);
  d[0] = kind;
  v.setUint32(1, seq);
  v.setUint32(5, ack);
  return d;
}

function seqOf(d: Uint8Array): number {
  return new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(1);
}

async function runOne(profile: Profile, mode: Mode, seed: number): Promise<RunResult> {
  const sim = createSimulation({ seed, reap: { mode: profile }, link: { delayMs: DELAY_MS }, transcript: trace, capture: false });
  const a = await addHbaHost(sim, 'A', ['2001:db8:a1::/64', '2001:db8:a2::/64']);
  const b = await addHbaHost(sim, 'B', ['2001:db8:b1::/64', '2001:db8:b2::/64']);
  const warmupMs = WARMUP_MIN_MS + sim.random.fork('failover-warmup').int(WARMUP_SPREAD_MS + 1);

  const established = (): boolean => a.context(b.ulid)?.state === ContextState.ESTABLISHED && b.context(a.ulid)?.state === ContextState.ESTABLISHED;
  const r = a.establish(b.ulid);
  if (!r.ok) throw new Error(`establish refused: ${r.code}`);
  if (!sim.runUntil(established, ESTABLISH_LIMIT_MS)) throw new Error(`seed ${seed}: the context was not established`);
  const trafficStart = sim.now;
  const failAt = trafficStart + warmupMs;

  // Where each data packet went: the first packet a send puts on the network is the data packet itself.
  const wire = { capture: false, packet: undefined as SimPacket | undefined, dropped: false };
  const sentA = new Map<number, { src: Uint8Array; dst: Uint8Array; postFailure: boolean }>();
  const sentB = new Map<number, { src: Uint8Array; dst: Uint8Array; postFailure: boolean }>();
  let failed = false;
  let probePackets = 0;
  let keepalivePackets = 0;
  sim.network.onPacket((f) => {
    if (wire.capture) {
      wire.capture = false;
      wire.packet = f.packet;
      wire.dropped = f.dropped !== undefined;
    }
    if (!failed) return;
    if (isShim6Control(f.packet.bytes, PROBE_TYPE)) probePackets++;
    else if (isShim6Control(f.packet.bytes, KEEPALIVE_TYPE)) keepalivePackets++;
  });
  const sendTracked = (from: SimHost, to: SimHost, data: Uint8Array, table: typeof sentA): void => {
    wire.capture = true;
    wire.packet = undefined;
    from.send(to.ulid, data);
    const p = wire.packet as SimPacket | undefined;
    if (p === undefined) throw new Error('a send put nothing on the network');
    table.set(seqOf(data), { src: p.src, dst: p.dst, postFailure: failed });
  };

  // The failed directed links (by address key), filled in when the failure is injected.
  const broken = new Set<string>();
  const isBroken = (src: Uint8Array, dst: Uint8Array): boolean => broken.has(addressKey(src) + addressKey(dst)) || broken.has(`*${addressKey(src)}`) || broken.has(`*${addressKey(dst)}`);
  const label = (src: Uint8Array, dst: Uint8Array): string => `${sim.label(src)}→${sim.label(dst)}`;
  // Each end's current pair when the failure came: recovery is a packet sent after the failure on another pair.
  let oldPairA: { src: Uint8Array; dst: Uint8Array } | undefined;
  let oldPairB: { src: Uint8Array; dst: Uint8Array } | undefined;
  const onNewPair = (s: { src: Uint8Array; dst: Uint8Array; postFailure: boolean }, old: typeof oldPairA): boolean => {
    if (!s.postFailure || old === undefined) return false;
    if (isBroken(s.src, s.dst)) throw new Error(`seed ${seed}: a packet sent after the failure was delivered over the failed ${label(s.src, s.dst)}`);
    return !(bytesEqual(s.src, old.src) && bytesEqual(s.dst, old.dst));
  };

  let ab: { at: number; via: string; tagged: boolean } | undefined;
  let ba: { at: number; via: string; tagged: boolean } | undefined;
  let bSeq = 0;
  b.onDeliver = (d) => {
    if (d.data[0] !== DATA) return;
    const seq = seqOf(d.data);
    sendTracked(b, a, encode(ACK, bSeq++, seq), sentB);
    if (ab === undefined && failed) {
      const s = sentA.get(seq);
      if (s !== undefined && onNewPair(s, oldPairA)) ab = { at: d.at, via: label(s.src, s.dst), tagged: d.contextTag !== undefined };
    }
  };
  a.onDeliver = (d) => {
    if (d.data[0] !== ACK || ba !== undefined || !failed) return;
    const s = sentB.get(seqOf(d.data));
    if (s !== undefined && onNewPair(s, oldPairB)) ba = { at: d.at, via: label(s.src, s.dst), tagged: d.contextTag !== undefined };
  };

  let aSeq = 0;
  const tick = (): void => {
    sendTracked(a, b, encode(DATA, aSeq++, 0), sentA);
    sim.after(SEND_INTERVAL_MS, tick);
  };
  // The failure is scheduled first, so at the same instant it comes before the packet sent then.
  let statsAtFailure: { a: ReapStats; b: ReapStats } | undefined;
  sim.at(failAt, () => {
    const ca = a.context(b.ulid)!;
    const cb = b.context(a.ulid)!;
    failed = true;
    sim.note(`FAILURE mode ${mode} (${MODE_NAMES[mode]})`);
    statsAtFailure = { a: ca.reap!.stats, b: cb.reap!.stats };
    oldPairA = { src: ca.lpLocal, dst: ca.lpPeer };
    oldPairB = { src: cb.lpLocal, dst: cb.lpPeer };
    const A1 = ca.lpLocal;
    const B1 = ca.lpPeer;
    const A2 = a.addresses.find((x) => !bytesEqual(x, A1))!;
    const B2 = b.addresses.find((x) => !bytesEqual(x, B1))!;
    const down = (src: Uint8Array, dst: Uint8Array): void => {
      sim.network.setLinkDown(formatIpv6(src), formatIpv6(dst), true);
      broken.add(addressKey(src) + addressKey(dst));
    };
    switch (mode) {
      case 1:
        down(A1, B1);
        break;
      case 2:
        down(A1, B1);
        down(B1, A1);
        break;
      case 3:
        broken.add(`*${addressKey(A1)}`);
        a.setLinkState(A1, false);
        break;
      case 4:
        for (const [x, y] of [[A1, B1], [A1, B2], [A2, B2], [B1, A1], [B1, A2], [B2, A2]] as const) down(x, y);
        break;
    }
  });
  sim.after(0, tick);

  const settled = (): boolean => {
    if (ab === undefined || ba === undefined) return false;
    const ra = a.context(b.ulid)?.reap;
    const rb = b.context(a.ulid)?.reap;
    return ra?.state === 'Operational' && rb?.state === 'Operational';
  };
  sim.runUntil(settled, failAt + LIMIT_MS);
  if (statsAtFailure === undefined) throw new Error('the failure never happened');

  const ca = a.context(b.ulid);
  const cb = b.context(a.ulid);
  const sa = ca?.reap?.stats;
  const sb = cb?.reap?.stats;
  const end = (h: SimHost, c: typeof ca): EndReport => {
    const rp = c?.reap;
    const lf = rp?.lastFailover;
    return {
      pair: c === undefined ? `${h.name}: no context` : label(c.lpLocal, c.lpPeer),
      state: c === undefined ? '-' : `${c.state}/${rp?.state ?? '-'}`,
      explorations: rp?.stats.explorations ?? 0,
      failovers: rp?.stats.failovers ?? 0,
      lastFailover: lf === undefined ? undefined : `${lf.reason} at +${lf.at - failAt} ms after ${lf.durationMs} ms: ${label(lf.from.local, lf.from.peer)} ⇒ ${label(lf.to.local, lf.to.peer)}`,
    };
  };
  const result: RunResult = {
    profile,
    mode,
    seed,
    trafficStart,
    warmupMs,
    recovered: ab !== undefined && ba !== undefined,
    abMs: ab === undefined ? undefined : ab.at - failAt,
    baMs: ba === undefined ? undefined : ba.at - failAt,
    abVia: ab?.via,
    baVia: ba?.via,
    abTagged: ab?.tagged,
    baTagged: ba?.tagged,
    probes: (sa?.probesSent ?? 0) - statsAtFailure.a.probesSent + (sb?.probesSent ?? 0) - statsAtFailure.b.probesSent,
    probePackets,
    probesDeferred: (sa?.probesDeferred ?? 0) - statsAtFailure.a.probesDeferred + (sb?.probesDeferred ?? 0) - statsAtFailure.b.probesDeferred,
    keepalives: (sa?.keepalivesSent ?? 0) + (sb?.keepalivesSent ?? 0),
    keepalivePacketsAfterFailure: keepalivePackets,
    a: end(a, ca),
    b: end(b, cb),
    endedAfterMs: sim.now - failAt,
  };
  if (trace) {
    console.log(`--- ${profile} mode ${mode} (${MODE_NAMES[mode]}) seed ${seed}: failure at t=${failAt}`);
    console.log(sim.transcript().join('\n'));
    console.log(JSON.stringify(result, null, 2));
  }
  return result;
}


function sortedOf(xs: readonly (number | undefined)[]): number[] {
  return xs.filter((x): x is number => x !== undefined).sort((x, y) => x - y);
}

function fmt(v: number): string {
  return Number.isNaN(v) ? '-' : String(v);
}

function triple(xs: readonly (number | undefined)[]): [string, string, string] {
  const s = sortedOf(xs);
  return [fmt(percentile(s, 50)), fmt(percentile(s, 95)), fmt(s.length === 0 ? Number.NaN : s[s.length - 1]!)];
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
}

async function main(): Promise<void> {
  const started = performance.now();
  const results: RunResult[] = [];
  for (const profile of PROFILES) {
    for (const mode of MODES) {
      for (let i = 0; i < runs; i++) results.push(await runOne(profile, mode, firstSeed + i));
    }
  }
  const wallMs = performance.now() - started;
  if (json) {
    console.log(JSON.stringify(results, null, 2));
  } else if (!trace) {
    const out: string[] = [];
    out.push(`REAP failover (RFC 5534) under traffic, seeds ${firstSeed}..${firstSeed + runs - 1}`);
    out.push(`  A, B: two prefixes each; links ${DELAY_MS} ms one way; A sends ${1000 / SEND_INTERVAL_MS} packets/s, B answers each; failure 2-4 s after traffic starts; limit ${LIMIT_MS / 1000} s`);
    out.push("  times in ms from the failure to the first packet sent after it on a new pair that is delivered (percentiles over the recovered runs);");
    out.push('  probes: both ends, from the failure until both are Operational again; keepalives: both ends, whole run');
    out.push('');
    const rows: string[][] = [['profile', 'mode', 'runs', 'recovered', 'A→B p50', 'p95', 'max', 'B→A p50', 'p95', 'max', 'probes p50', 'keepalives p50']];
    for (const profile of PROFILES) {
      for (const mode of MODES) {
        const rs = results.filter((r) => r.profile === profile && r.mode === mode);
        rows.push([
          profile,
          `${mode} ${MODE_NAMES[mode]}`,
          String(rs.length),
          String(rs.filter((r) => r.recovered).length),
          ...triple(rs.map((r) => r.abMs)),
          ...triple(rs.map((r) => r.baMs)),
          fmt(percentile(sortedOf(rs.map((r) => r.probes)), 50)),
          fmt(percentile(sortedOf(rs.map((r) => r.keepalives)), 50)),
        ]);
      }
    }
    out.push(...table(rows));
    out.push('');
    out.push('modes: ' + MODES.map((m) => `${m} ${MODE_NAMES[m]}: ${MODE_TEXT[m]}`).join('; '));
    if (MODES.includes(1)) {
      out.push('');
      for (const profile of PROFILES) {
        const rs = results.filter((r) => r.profile === profile && r.mode === 1);
        const [ab50, ab95, abMax] = triple(rs.map((r) => r.abMs));
        const [ba50] = triple(rs.map((r) => r.baMs));
        const probes = sortedOf(rs.map((r) => r.probes));
        out.push(
          `${profile}: one-way loss of A→B: ${rs.filter((r) => r.recovered).length}/${rs.length} recovered; A→B data flows again after ${ab50} ms median (p95 ${ab95}, max ${abMax}), ` +
            `B→A answers after ${ba50} ms median; ${fmt(percentile(probes, 50))} probes median (max ${fmt(probes[probes.length - 1] ?? Number.NaN)}) from both ends.`,
        );
      }
    }
    const mismatch = results.filter((r) => r.probes !== r.probePackets);
    if (mismatch.length > 0) out.push(`note: in ${mismatch.length} runs the probe count from REAP stats differs from the Probe packets on the network`);
    console.log(out.join('\n'));
  }
  process.stderr.write(`${results.length} runs in ${(wallMs / 1000).toFixed(1)} s wall time\n`);
}

await main();
