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
 * `poll` lists the table with one `nft list table` (text: unlike `-j`, which truncates
 * `expires` to whole seconds, it gives milliseconds) and returns packet deltas since the
 * previous poll. A counter lower than before means the element expired and was added
 * again: the delta is then the new value. Keys that vanished are forgotten; memory is
 * bounded by `maxFlows` per set. Leaves out byte counts (REAP needs only "any packet").
 * Every packet refreshes its element's timeout, so `timeout − expires` is how long ago
 * the last packet of that direction was seen: the daemon orders "sent" and "received"
 * inside one poll interval with it (RFC 5534 §4.1: sending starts the Send Timer,
 * receiving stops it). The price: nft flushes its text output after every printed
 * fragment (about 12 writes per element, one in all for `-j`), so with thousands of
 * flows a poll costs more than the JSON one did (examples/bench/poll.ts).
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
  /**
   * Milliseconds from the last packet sent to the moment nft listed the table (the
   * element's timeout minus its `expires`, at least 0; kernel jiffy resolution). Present
   * exactly when `sent` > 0.
   */
  readonly lastSentAgoMs?: number;
  /** The same for the last packet received; present exactly when `received` > 0. */
  readonly lastReceivedAgoMs?: number;
}

export interface NftTrafficStats {
  readonly polls: number;
  /** Polls whose output was not the expected listing (each one threw 'bad-output'). */
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
 * A listing of both sets at this size is about 2 × 8192 × 110 bytes = 1.8 MB (elements
 * with 39-character addresses and 10-digit counters about 150 bytes: 2.5 MB), inside the
 * 4 MiB output limit of execFileRunner; more would make every poll fail.
 */
export const MAX_MAX_FLOWS = 8192;
/** Longer output is bad-output without being parsed: parsing is linear, this bounds memory too. */
const MAX_LISTING_CHARS = 8 << 20;
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

/** A (local, peer) pair: its canonical key and addresses. */
interface Pair {
  readonly key: string;
  readonly local: Uint8Array;
  readonly peer: Uint8Array;
}

/** One listed element, its addresses still as nft printed them. */
interface ListedElement {
  /** `<local> <peer>` as printed: the cache key of the parsed Pair. */
  readonly text: string;
  readonly local: string;
  readonly peer: string;
  readonly packets: number;
  /** Milliseconds since the element's last packet: its timeout minus `expires`, at least 0. */
  readonly agoMs: number;
}

interface Element extends Pair {
  readonly packets: number;
  readonly agoMs: number;
}

/** One counted set as listed: its timeout, and the text of each element. */
interface ListedSet {
  readonly timeoutMs: number;
  readonly elements: readonly string[];
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

const DIGITS = /^(?:0|[1-9][0-9]{0,15})$/;

/** A decimal count as nft prints it (`%PRIu64`), or undefined beyond 2^53 − 1. */
function parseCount(text: string | undefined): number | undefined {
  if (text === undefined || !DIGITS.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Milliseconds per unit of nft's time_print, in the order it prints them. */
const UNITS: readonly (readonly [unit: string, ms: number])[] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];

/**
 * A duration as nft's time_print writes it, e.g. `1h2m3s4ms`, `59s640ms`, `1m`, `640ms`,
 * `0ms`: numbers with units d, h, m, s, ms, each unit at most once and in that order.
 * One pass over at most 5 components; undefined for anything else.
 */
export function parseNftDuration(text: string): number | undefined {
  if (text.length === 0 || text.length > 100) return undefined;
  let total = 0;
  let next = 0; // index into UNITS of the first unit still allowed
  let i = 0;
  while (i < text.length) {
    const start = i;
    while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    const n = parseCount(text.slice(start, i));
    if (n === undefined) return undefined;
    const unit = text.startsWith('ms', i) ? 'ms' : text.charAt(i);
    let k = next;
    while (k < UNITS.length && UNITS[k]![0] !== unit) k++;
    if (k === UNITS.length) return undefined;
    i += unit.length;
    next = k + 1;
    total += n * UNITS[k]![1];
    if (!Number.isSafeInteger(total)) return undefined;
  }
  return total;
}

/**
 * One element of a counted concatenation set as `nft list` prints it:
 *   `<local> . <peer> counter packets <n> bytes <n>[ timeout <duration>][ expires <duration>]`
 * (single spaces; nft leaves out `timeout` when the element has the set's, and `expires`
 * when it is 0). Anything else is undefined, to be skipped and counted.
 */
function parseElement(text: string, setTimeoutMs: number): ListedElement | undefined {
  const t = text.split(' ');
  if (t.length < 8 || t.length > 12 || t[1] !== '.' || t[3] !== 'counter' || t[4] !== 'packets' || t[6] !== 'bytes') return undefined;
  const packets = parseCount(t[5]);
  if (packets === undefined || parseCount(t[7]) === undefined) return undefined;
  let timeoutMs: number | undefined;
  let expiresMs: number | undefined;
  for (let i = 8; i < t.length; i += 2) {
    const value = t[i + 1] === undefined ? undefined : parseNftDuration(t[i + 1]!);
    if (value === undefined) return undefined;
    if (t[i] === 'timeout' && timeoutMs === undefined && expiresMs === undefined) timeoutMs = value;
    else if (t[i] === 'expires' && expiresMs === undefined) expiresMs = value;
    else return undefined;
  }
  const agoMs = Math.max(0, (timeoutMs ?? setTimeoutMs) - (expiresMs ?? 0));
  return { text: `${t[0]!} ${t[2]!}`, local: t[0]!, peer: t[2]!, packets, agoMs };
}

/** The pair of two address texts, undefined unless both are IPv6 addresses. */
function parsePair(localText: string, peerText: string): Pair | undefined {
  const local = parseIpv6(localText);
  const peer = parseIpv6(peerText);
  if (local === undefined || peer === undefined) return undefined;
  return { key: `${formatIpv6(local)} ${formatIpv6(peer)}`, local, peer };
}

/**
 * The sets `out` and `in` of `nft list table inet <table>`, or why they are not there.
 * The listing (captured from nft 1.0.6, tabs for indentation):
 *
 *   table inet <table> {
 *   	set out {
 *   		type ipv6_addr . ipv6_addr
 *   		size 4096
 *   		flags dynamic,timeout
 *   		counter
 *   		timeout 1m
 *   		elements = { <element>,
 *   			     <element> }
 *   	}
 *   	set in { ... }
 *   	chain output { ... }
 *   }
 *
 * One pass over the lines, each looked at a bounded number of times, no regular
 * expression over more than a number: time and memory linear in the output. Blocks other
 * than `set out` and `set in` (the ulids set, the chains) are skipped to their closing
 * `}` line, which no rule or element line can be: those end in `,`, `}` after content,
 * or text. Set lines other than type, timeout and elements (size, flags, counter, ...)
 * are ignored; the elements are split at `,` and left to parseElement.
 */
function findSets(stdout: string, table: string): { readonly out: ListedSet; readonly in: ListedSet } | string {
  if (stdout.length > MAX_LISTING_CHARS) return `output longer than ${MAX_LISTING_CHARS} characters`;
  const lines = stdout.split('\n');
  let i = 0;
  const nextLine = (): string | undefined => {
    while (i < lines.length) {
      const t = lines[i++]!.trim();
      if (t !== '') return t;
    }
    return undefined;
  };
  if (nextLine() !== `table inet ${table} {`) return `output does not start with "table inet ${table} {"`;
  const found: Partial<Record<SetName, ListedSet>> = {};
  for (;;) {
    const line = nextLine();
    if (line === undefined) return 'the table is not closed';
    if (line === '}') break;
    if (!line.endsWith('{')) continue; // a table attribute (flags, comment)
    const name = line === 'set out {' ? 'out' : line === 'set in {' ? 'in' : undefined;
    if (name === undefined) {
      let body: string | undefined;
      do body = nextLine(); while (body !== undefined && body !== '}');
      if (body === undefined) return `block "${line.slice(0, 40)}" is not closed`;
      continue;
    }
    if (found[name] !== undefined) return `set ${name} is listed twice`;
    let type: string | undefined;
    let timeoutMs: number | undefined;
    let elements: string[] | undefined;
    for (;;) {
      const body = nextLine();
      if (body === undefined) return `set ${name} is not closed`;
      if (body === '}') break;
      if (body.startsWith('type ')) {
        if (type !== undefined) return `set ${name}: two type lines`;
        type = body;
      } else if (body.startsWith('timeout ')) {
        if (timeoutMs !== undefined) return `set ${name}: two timeout lines`;
        timeoutMs = parseNftDuration(body.slice('timeout '.length));
        if (timeoutMs === undefined) return `set ${name}: bad timeout "${body.slice(0, 40)}"`;
      } else if (body.startsWith('elements = {')) {
        if (elements !== undefined) return `set ${name}: two element lists`;
        // Line by line (joining first and testing the end would be quadratic); nft ends
        // every line but the last with the `,` between elements.
        elements = [];
        let line = body.slice('elements = {'.length);
        for (;;) {
          const last = line.endsWith('}');
          for (const e of (last ? line.slice(0, -1) : line).split(',')) elements.push(e.trim());
          if (last) break;
          if (!line.endsWith(',')) return `set ${name}: an element list line ends in neither "," nor "}"`;
          elements.pop(); // the empty text after the line's final ","
          const more = nextLine();
          // A lone `}` after a `,` is the set's end, not the list's: nft prints ` }` after the last element.
          if (more === undefined || more === '}') return `set ${name}: the element list is not closed`;
          line = more;
        }
      }
    }
    if (type !== 'type ipv6_addr . ipv6_addr') return `set ${name}: not "type ipv6_addr . ipv6_addr"`;
    if (timeoutMs === undefined) return `set ${name} has no timeout`;
    found[name] = { timeoutMs, elements: elements ?? [] };
  }
  if (nextLine() !== undefined) return 'text after the table';
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
  /**
   * The pairs of the previous poll by their printed text, per set (at most maxFlows
   * each): parsing the addresses of thousands of elements again every poll was most of
   * the parse time.
   */
  #pairs: Record<SetName, Map<string, Pair>> = { out: new Map(), in: new Map() };
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
      this.#pairs = { out: new Map(), in: new Map() };
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
      const args = ['list', 'table', 'inet', this.#table];
      const r = await this.#run('nft', args);
      if (r.code !== 0) throw new NftTrafficError('command-failed', describeFailure(args, r));
      const sets = findSets(r.stdout, this.#table);
      if (typeof sets === 'string') {
        this.#stats.badOutput++;
        throw new NftTrafficError('bad-output', `nft ${args.join(' ')}: ${sets}`);
      }
      const samples = new Map<string, { -readonly [K in keyof TrafficSample]: TrafficSample[K] }>();
      for (const name of ['out', 'in'] as const) {
        for (const e of this.#deltas(name, sets[name])) {
          let s = samples.get(e.key);
          if (s === undefined) {
            // Copies: the cached Pair must not change if a caller writes to a sample.
            s = { local: e.local.slice(), peer: e.peer.slice(), sent: 0, received: 0 };
            samples.set(e.key, s);
          }
          // Keys are unique within a set: each direction is seen at most once per pair.
          if (name === 'out') {
            s.sent = e.packets;
            s.lastSentAgoMs = e.agoMs;
          } else {
            s.received = e.packets;
            s.lastReceivedAgoMs = e.agoMs;
          }
        }
      }
      return [...samples.values()];
    });
  }

  /** The elements of one set with `packets` replaced by the delta, only those above zero; updates #last. */
  #deltas(name: SetName, set: ListedSet): Element[] {
    const last = this.#last[name];
    const pairs = this.#pairs[name];
    const next = new Map<string, number>();
    const nextPairs = new Map<string, Pair>();
    const out: Element[] = [];
    for (const text of set.elements) {
      if (next.size >= this.#maxFlows) {
        this.#stats.badElements++;
        continue;
      }
      const e = parseElement(text, set.timeoutMs);
      const pair = e === undefined ? undefined : pairs.get(e.text) ?? parsePair(e.local, e.peer);
      if (e === undefined || pair === undefined || next.has(pair.key)) {
        this.#stats.badElements++;
        continue;
      }
      next.set(pair.key, e.packets);
      nextPairs.set(e.text, pair);
      const before = last.get(pair.key);
      let delta = e.packets;
      if (before !== undefined) {
        if (e.packets >= before) delta = e.packets - before;
        else this.#stats.resets++;
      }
      if (delta > 0) out.push({ ...pair, packets: delta, agoMs: e.agoMs });
    }
    this.#last[name] = next;
    this.#pairs[name] = nextPairs;
    return out;
  }

  /** Deletes the table; tolerant of it being absent (it is created first in the same transaction). */
  async remove(): Promise<void> {
    const t = this.#table;
    return this.#serial(async () => {
      await this.#apply(`table inet ${t}\ndelete table inet ${t}\n`);
      this.#last = { out: new Map(), in: new Map() };
      this.#pairs = { out: new Map(), in: new Map() };
    });
  }
}
