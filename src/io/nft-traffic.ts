/**
 * Per-ULID-pair packet counts from nftables, so the daemon learns every poll (~100 ms)
 * whether each (local ULID, peer) pair sent and received packets, also while the kernel
 * carries them directly without the TUN. RFC 5534 §3 failure detection needs exactly
 * this per context: traffic sent, and whether any came back.
 *
 * One table `inet <table>`, built in one atomic `nft -f -` transaction:
 *   set ulids   the local ULIDs, kept by the daemon (setUlids)
 *   set out     dynamic, key  ip6 saddr . ip6 daddr  (local . peer), a counter per element
 *   set in      dynamic, key  ip6 daddr . ip6 saddr  (local . peer), a counter per element
 *   chain output  hook output, priority -400, policy accept: unmarked non-Shim6 packets
 *                 from a ULID to a unicast, non-loopback peer  update @out
 *   chain input   hook input, the same for packets to a ULID     update @in
 * `update` refreshes an element's timeout, so a pair stays while it talks and expires
 * `flowTimeoutSec` after its last packet; `size` bounds the kernel's memory, and a full
 * set only stops counting new pairs (the rule breaks; the packet is never dropped).
 * Skipped: packets carrying the daemon's firewall mark (its own Shim6 and REAP output
 * and rewritten payload), next header 140 (Shim6 control and payload extension, RFC 5533
 * §5), and link-local, multicast and loopback peers.
 *
 * `poll` lists the table with one `nft -j list table` and returns packet deltas since
 * the previous poll. A counter lower than before means the element expired and was added
 * again: the delta is then the new value. Keys that vanished are forgotten; memory is
 * bounded by `maxFlows` per set. Leaves out byte counts (REAP needs only "any packet").
 */
import type { CommandResult, CommandRunner } from '../daemon/system.js';
import { formatIpv6, parseIpv6 } from '../wire/address.js';

export interface NftTrafficOptions {
  /** The nftables table name: a letter or `_`, then letters, digits or `_`, at most 32. */
  readonly table: string;
  /** The daemon's firewall mark; packets with any of its bits set are not counted. */
  readonly fwmark: number;
  /** Elements per set (and pairs remembered per direction); default 4096. */
  readonly maxFlows?: number;
  /** Seconds after its last packet that a pair's element expires; default 60. */
  readonly flowTimeoutSec?: number;
}

/** Packets of one ULID pair since the previous poll (deltas, not totals). */
export interface TrafficSample {
  readonly local: Uint8Array;
  readonly peer: Uint8Array;
  readonly sent: number;
  readonly received: number;
}

export interface NftTrafficStats {
  readonly polls: number;
  /** Polls whose output was not the expected JSON (each one threw 'bad-output'). */
  readonly badOutput: number;
  /** Counters found lower than at the previous poll: the element expired and came back. */
  readonly resets: number;
  /** Set elements skipped: unparseable, duplicate, or beyond maxFlows. */
  readonly badElements: number;
}

export class NftTrafficError extends Error {
  readonly code: 'command-failed' | 'bad-output' | 'bad-option';
  constructor(code: NftTrafficError['code'], message: string) {
    super(message);
    this.name = 'NftTrafficError';
    this.code = code;
  }
}

export const DEFAULT_MAX_FLOWS = 4096;
export const DEFAULT_FLOW_TIMEOUT_SEC = 60;
/**
 * A listing of both sets at this size is about 2 × 8192 × 170 bytes = 2.8 MB, inside the
 * 4 MiB output limit of execFileRunner; more would make every poll fail.
 */
export const MAX_MAX_FLOWS = 8192;
const MAX_FLOW_TIMEOUT_SEC = 86_400;
/**
 * Below raw (-300), mangle (-150) and filter (0), so no other table drops or re-marks a
 * packet before it is counted. Input packets are already reassembled (defrag runs in
 * prerouting at -400) and output packets not yet fragmented, so a datagram counts once.
 */
/**
 * Neighbour Discovery (RFC 4861) is not traffic between hosts: a unicast Neighbor
 * Solicitation from a ULID to a router's global address must not count (it would make
 * the §4 heuristic set up a context with the router). A separate rule, because
 * `icmpv6 type != ...` would also exclude every non-ICMPv6 packet.
 */
const NOT_ND = 'meta l4proto ipv6-icmp icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect } return';

const CHAIN_PRIORITY = -400;
/** Shim6 (RFC 5533 §5: IP protocol number 140). */
const NEXT_HEADER_SHIM6 = 140;
/** Not peers: loopback, link-local (RFC 4291 §2.5.6), multicast (RFC 4291 §2.7). */
const NOT_PEERS = '{ ::1, fe80::/10, ff00::/8 }';
/** nft reads a leading digit as a number, so a name must start with a letter or `_`. */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;

type SetName = 'out' | 'in';

interface Element {
  readonly key: string;
  readonly local: Uint8Array;
  readonly peer: Uint8Array;
  readonly packets: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeFailure(args: readonly string[], r: CommandResult): string {
  const why = r.stderr.trim().split('\n').slice(0, 3).join('; ') || `exit status ${r.code}`;
  return `nft ${args.join(' ')}: ${why}`;
}

function integerOption(name: string, value: number | undefined, fallback: number | undefined, min: number, max: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (value === undefined || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new NftTrafficError('bad-option', `${name} must be an integer from ${min} to ${max}, not ${String(value)}`);
  }
  return value;
}

/** The canonical texts of the ULIDs, duplicates removed; throws 'bad-option' on a wrong length. */
function ulidTexts(ulids: readonly Uint8Array[]): string[] {
  const texts = new Set<string>();
  for (const u of ulids) {
    if (!(u instanceof Uint8Array) || u.length !== 16) throw new NftTrafficError('bad-option', 'a ULID must be 16 bytes');
    texts.add(formatIpv6(u));
  }
  return [...texts];
}

/** One element of a counted concatenation set: {"elem": {"val": {"concat": [l, p]}, "counter": {"packets": n}}}. */
function parseElement(e: unknown): Element | undefined {
  if (!isRecord(e) || !isRecord(e['elem'])) return undefined;
  const { val, counter } = e['elem'];
  if (!isRecord(val) || !isRecord(counter)) return undefined;
  const concat = val['concat'];
  const packets = counter['packets'];
  if (!Array.isArray(concat) || concat.length !== 2 || typeof packets !== 'number' || !Number.isSafeInteger(packets) || packets < 0) return undefined;
  const [a, b] = concat as unknown[];
  if (typeof a !== 'string' || typeof b !== 'string') return undefined;
  const local = parseIpv6(a);
  const peer = parseIpv6(b);
  if (local === undefined || peer === undefined) return undefined;
  return { key: `${formatIpv6(local)} ${formatIpv6(peer)}`, local, peer, packets };
}

/** The element lists of sets `out` and `in` of table inet `table`, or why they are not there. */
function findSets(stdout: string, table: string): { readonly out: unknown[]; readonly in: unknown[] } | string {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    return 'output is not JSON';
  }
  if (!isRecord(doc) || !Array.isArray(doc['nftables'])) return 'output has no "nftables" array';
  const found: Partial<Record<SetName, unknown[]>> = {};
  for (const item of doc['nftables'] as unknown[]) {
    if (!isRecord(item) || !isRecord(item['set'])) continue;
    const { name, table: t, family, elem } = item['set'];
    if (t !== table || family !== 'inet' || (name !== 'out' && name !== 'in')) continue;
    if (found[name] !== undefined) return `set ${name} is listed twice`;
    if (elem !== undefined && !Array.isArray(elem)) return `set ${name}: "elem" is not an array`;
    found[name] = elem ?? [];
  }
  if (found.out === undefined || found.in === undefined) return 'set out or in is missing';
  return { out: found.out, in: found.in };
}

export class NftTraffic {
  readonly #table: string;
  readonly #fwmark: number;
  readonly #maxFlows: number;
  readonly #flowTimeoutSec: number;
  readonly #run: CommandRunner;
  /** The counter of each key at the previous poll, per set. */
  #last: Record<SetName, Map<string, number>> = { out: new Map(), in: new Map() };
  /** Operations run one at a time, in call order: poll deltas depend on it. */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #stats = { polls: 0, badOutput: 0, resets: 0, badElements: 0 };

  constructor(options: NftTrafficOptions, runner: CommandRunner) {
    if (typeof options.table !== 'string' || !TABLE_NAME.test(options.table)) {
      throw new NftTrafficError('bad-option', `table must be a letter or _ followed by up to 31 letters, digits or _, not ${JSON.stringify(options.table)}`);
    }
    this.#table = options.table;
    this.#fwmark = integerOption('fwmark', options.fwmark, undefined, 1, 0xffff_ffff);
    this.#maxFlows = integerOption('maxFlows', options.maxFlows, DEFAULT_MAX_FLOWS, 1, MAX_MAX_FLOWS);
    this.#flowTimeoutSec = integerOption('flowTimeoutSec', options.flowTimeoutSec, DEFAULT_FLOW_TIMEOUT_SEC, 1, MAX_FLOW_TIMEOUT_SEC);
    this.#run = runner;
  }

  /** A snapshot of the counters. */
  get stats(): NftTrafficStats {
    return { ...this.#stats };
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(op);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  /** Feeds `script` to `nft -f -`: one transaction, applied entirely or not at all. */
  async #apply(script: string): Promise<void> {
    const args = ['-f', '-'];
    const r = await this.#run('nft', args, script);
    if (r.code !== 0) throw new NftTrafficError('command-failed', describeFailure(args, r));
  }

  /** The whole table, preceded by the deletion of a leftover one (created first so the delete cannot fail). */
  #installScript(ulids: readonly Uint8Array[]): string {
    const t = this.#table;
    const elements = ulidTexts(ulids);
    const mark = `0x${this.#fwmark.toString(16)}`;
    const common = `meta mark & ${mark} == 0 ip6 nexthdr != ${NEXT_HEADER_SHIM6}`;
    const counted = (name: SetName): string[] => [
      `\tset ${name} {`,
      '\t\ttype ipv6_addr . ipv6_addr',
      '\t\tflags dynamic,timeout',
      `\t\ttimeout ${this.#flowTimeoutSec}s`,
      `\t\tsize ${this.#maxFlows}`,
      '\t\tcounter',
      '\t}',
    ];
    return [
      `table inet ${t}`,
      `delete table inet ${t}`,
      `table inet ${t} {`,
      '\tset ulids {',
      '\t\ttype ipv6_addr',
      ...(elements.length > 0 ? [`\t\telements = { ${elements.join(', ')} }`] : []),
      '\t}',
      ...counted('out'),
      ...counted('in'),
      '\tchain output {',
      `\t\ttype filter hook output priority ${CHAIN_PRIORITY}; policy accept;`,
      `\t\t${NOT_ND}`,
      `\t\t${common} ip6 saddr @ulids ip6 daddr != ${NOT_PEERS} update @out { ip6 saddr . ip6 daddr }`,
      '\t}',
      '\tchain input {',
      `\t\ttype filter hook input priority ${CHAIN_PRIORITY}; policy accept;`,
      `\t\t${NOT_ND}`,
      `\t\t${common} ip6 daddr @ulids ip6 saddr != ${NOT_PEERS} update @in { ip6 daddr . ip6 saddr }`,
      '\t}',
      '}',
      '',
    ].join('\n');
  }

  /** Replaces any table of our name with a fresh one counting for `ulids`; counting starts from zero. */
  async install(ulids: readonly Uint8Array[]): Promise<void> {
    const script = this.#installScript(ulids);
    return this.#serial(async () => {
      await this.#apply(script);
      this.#last = { out: new Map(), in: new Map() };
    });
  }

  /** Replaces the set of local ULIDs (flush and add in one transaction). */
  async setUlids(ulids: readonly Uint8Array[]): Promise<void> {
    const elements = ulidTexts(ulids);
    const t = this.#table;
    const script = [
      `flush set inet ${t} ulids`,
      ...(elements.length > 0 ? [`add element inet ${t} ulids { ${elements.join(', ')} }`] : []),
      '',
    ].join('\n');
    return this.#serial(() => this.#apply(script));
  }

  /** Packet deltas since the previous poll of every pair that sent or received any. */
  async poll(): Promise<TrafficSample[]> {
    return this.#serial(async () => {
      this.#stats.polls++;
      const args = ['-j', 'list', 'table', 'inet', this.#table];
      const r = await this.#run('nft', args);
      if (r.code !== 0) throw new NftTrafficError('command-failed', describeFailure(args, r));
      const sets = findSets(r.stdout, this.#table);
      if (typeof sets === 'string') {
        this.#stats.badOutput++;
        throw new NftTrafficError('bad-output', `nft ${args.join(' ')}: ${sets}`);
      }
      const samples = new Map<string, { local: Uint8Array; peer: Uint8Array; sent: number; received: number }>();
      for (const name of ['out', 'in'] as const) {
        for (const e of this.#deltas(name, sets[name])) {
          let s = samples.get(e.key);
          if (s === undefined) {
            s = { local: e.local, peer: e.peer, sent: 0, received: 0 };
            samples.set(e.key, s);
          }
          if (name === 'out') s.sent += e.packets;
          else s.received += e.packets;
        }
      }
      return [...samples.values()];
    });
  }

  /** The elements of one set with `packets` replaced by the delta, only those above zero; updates #last. */
  #deltas(name: SetName, elements: readonly unknown[]): Element[] {
    const last = this.#last[name];
    const next = new Map<string, number>();
    const out: Element[] = [];
    for (const raw of elements) {
      const e = parseElement(raw);
      if (e === undefined || next.has(e.key) || next.size >= this.#maxFlows) {
        this.#stats.badElements++;
        continue;
      }
      next.set(e.key, e.packets);
      const before = last.get(e.key);
      let delta = e.packets;
      if (before !== undefined) {
        if (e.packets >= before) delta = e.packets - before;
        else this.#stats.resets++;
      }
      if (delta > 0) out.push({ ...e, packets: delta });
    }
    this.#last[name] = next;
    return out;
  }

  /** Deletes the table; tolerant of it being absent (it is created first in the same transaction). */
  async remove(): Promise<void> {
    const t = this.#table;
    return this.#serial(async () => {
      await this.#apply(`table inet ${t}\ndelete table inet ${t}\n`);
      this.#last = { out: new Map(), in: new Map() };
    });
  }
}
