/**
 * Flow-label demultiplexing, receive side (issue #8, experimental; not in RFC 5533, which
 * demultiplexes with the 8-octet Payload Extension header of §5.1): the nftables table
 * that takes the packets a peer sends with a flow label this host allocated away from the
 * kernel and hands them to a second TUN, which the daemon reads.
 *
 * Why: in this mode a peer that has moved off the ULID pair sends ordinary TCP or UDP, no
 * extension header, from one of its locators to one of ours, with our 20-bit label in
 * the IPv6 header. The next header is an ordinary one and the destination is a local
 * address, so the kernel would deliver the packet itself, to the locator address, where
 * no socket of the context listens (the sockets are bound to the ULIDs): a RST or a port
 * unreachable instead of data. The packet must be taken before IPv6 input, and rewritten
 * (locators back to ULIDs) by the daemon.
 *
 * How: one table `netdev <table>`, built in one atomic `nft -f -` transaction:
 *   set labels  typeof ip6 flowlabel            the labels of the installed entries
 *   set pairs   typeof ip6 saddr . ip6 daddr    their (peer locator, local locator) pairs
 *   chain in    type filter hook ingress devices = { <locator interfaces> } priority -500
 *               ip6 flowlabel @labels ip6 saddr . ip6 daddr @pairs counter
 *                 fwd ip6 to fe80::1 device "<tun>"
 * The netdev ingress hook sees a packet as it leaves the driver (after GRO and after tc
 * ingress), before the IPv6 stack. `fwd ip6 to <address> device <tun>` transmits it
 * through the TUN's neighbour path (neigh_xmit) and steals it from the stack. A TUN has no
 * link-layer header and its neighbours need no resolution (IFF_NOARP), so the daemon reads
 * the bare IPv6 packet, whole, flow label intact, whatever address names the next hop. Like
 * a router, fwd decrements the hop limit, and drops a packet that arrives with hop limit 1
 * or 0. A GRO super-packet is segmented again on its way into a TUN without offloads.
 * Fragments are not reassembled at ingress: each fragment carries the label and is
 * redirected on its own.
 *
 * The match is a superset of what the daemon wants: labels and pairs are separate sets,
 * so a packet matches when its label belongs to any entry and its pair to any entry (not
 * necessarily the same one), and an unrelated flow whose kernel-chosen label
 * (net.ipv6.auto_flowlabels) equals one of ours matches as well. The daemon therefore
 * checks every packet it reads (label → context, pair → that context) and writes the ones
 * that are not its own back into the TUN unchanged, but for the hop limit fwd took; the
 * kernel then delivers them as usual. Elements are reference-counted: two entries that
 * share a label or a pair add it once, and it stays until both are gone.
 *
 * Costs and limits:
 * - Every IPv6 packet received on a hooked interface costs one hash lookup of its flow
 *   label; the rare ones whose label is in the set, a second of their address pair.
 *   Other protocols cost the implicit `meta protocol ip6` comparison only.
 * - The devices must exist at install time on older kernels, which refuse a missing one
 *   (the whole transaction fails) and delete the chain along with its last device; call
 *   `install()` again after an interface is re-created: it rebuilds the table with every
 *   installed entry. Recent kernels hook by name (measured on this machine's 6.18: a
 *   missing device is accepted, the chain outlives it, and a device created later under
 *   that name is hooked).
 * - nft resolves the target TUN to its ifindex when the rule is loaded (an absent target
 *   fails the install); a re-created TUN needs `install()` again. The TUN must be up with
 *   IPv6 enabled on it (the neighbour path needs its inet6 device), or packets are dropped.
 * - The limits on set size (`maxElements`) and on pairs per entry are kept here, not by the
 *   kernel: a kernel set with a fixed size would allocate its whole hash table up front.
 *
 * Every change is one nft transaction, applied entirely or not at all, and calls run one
 * at a time in call order. The in-memory reference counts change only after nft reported
 * success, so a failed command leaves them as the kernel has them. (When nft is killed
 * before it reports, whether the kernel applied the change is unknown: `install()`
 * rewrites the table from the reference counts.) Inputs are checked before any command:
 * a bad one is a FlowLabelInterceptError and runs nothing.
 */
import type { CommandResult, CommandRunner } from '../daemon/system.js';
import { formatIpv6 } from '../wire/address.js';

export interface FlowLabelInterceptOptions {
  /** nftables table name (family netdev): a letter or `_`, then letters, digits or `_`, at most 32. */
  readonly table: string;
  /** Interfaces whose ingress is hooked (the host's locator interfaces), 1..16 names, each a valid interface name (1..15 octets, no '/', whitespace or quotes). */
  readonly devices: readonly string[];
  /** The TUN the matching packets are forwarded into. */
  readonly target: string;
  /** Hook priority, default -500 (before anything else at ingress). */
  readonly priority?: number;
  /** Most elements per set (default 65536); `add` beyond it fails with 'full'. */
  readonly maxElements?: number;
}

export interface InterceptEntry {
  /** The caller's key for this entry (a context name), unique. */
  readonly name: string;
  /** The flow label this host allocated, 1..0xFFFFF. */
  readonly label: number;
  /** (peer locator, local locator) pairs whose packets carrying `label` are intercepted: every pair of the context except (peer ULID, local ULID). */
  readonly pairs: readonly (readonly [peer: Uint8Array, local: Uint8Array])[];
}

export class FlowLabelInterceptError extends Error {
  readonly code: 'command-failed' | 'bad-option' | 'bad-entry' | 'duplicate' | 'unknown' | 'full' | 'not-installed';
  constructor(code: FlowLabelInterceptError['code'], message: string) {
    super(message);
    this.name = 'FlowLabelInterceptError';
    this.code = code;
  }
}

export const DEFAULT_PRIORITY = -500;
export const DEFAULT_MAX_ELEMENTS = 65_536;
/** The largest `maxElements`; an install script of that many pairs is 35 to 85 MB. */
export const MAX_MAX_ELEMENTS = 1 << 20;
export const MAX_DEVICES = 16;
export const MAX_PAIRS_PER_ENTRY = 256;
/** Flow labels are 20 bits (RFC 6437); 0 means "no label" and is never allocated. */
export const MAX_FLOW_LABEL = 0xf_ffff;
/** Longest entry name, in UTF-16 code units. */
export const MAX_ENTRY_NAME = 256;
/**
 * The next hop `fwd` is given. A TUN resolves no neighbours, so any address does; a
 * link-local one cannot be confused with a destination.
 */
export const FORWARD_NEXT_HOP = 'fe80::1';
/** The chain's name, for `nft list chain netdev <table> in`. */
export const CHAIN = 'in';

/** nft reads a leading digit as a number, so a name must start with a letter or `_`. */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;
/**
 * Octets Linux refuses in an interface name (dev_valid_name: '/', ':', whitespace), and
 * those that would end or escape nft's quoted string, or make the script unreadable.
 */
const IFNAME_FORBIDDEN = /[\s/:"'\\\u0000-\u001f\u007f]/;
const IFNAMSIZ = 16;
/** Elements per `add element` line of the install script, to keep lines short. */
const ELEMENTS_PER_LINE = 256;
const PRIORITY_MIN = -(2 ** 31);
const PRIORITY_MAX = 2 ** 31 - 1;
const utf8 = new TextEncoder();

/** An entry as installed: its label and its distinct pairs as nft writes them (`peer . local`). */
interface Installed {
  readonly label: number;
  readonly pairs: readonly string[];
}

type SetName = 'labels' | 'pairs';

function describeFailure(args: readonly string[], r: CommandResult): string {
  const why = r.stderr.trim().split('\n').slice(0, 3).join('; ') || `exit status ${r.code}`;
  return `nft ${args.join(' ')}: ${why}`;
}

/** Why `name` cannot be an interface name, or undefined when it can. */
function ifnameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `${typeof name}, not a string`;
  const octets = utf8.encode(name).length;
  if (octets === 0 || octets >= IFNAMSIZ) return `${octets} octets (1 to ${IFNAMSIZ - 1})`;
  if (name === '.' || name === '..') return 'reserved';
  if (IFNAME_FORBIDDEN.test(name)) return 'it contains /, :, whitespace, a quote, a backslash or a control character';
  return undefined;
}

function badOption(message: string): FlowLabelInterceptError {
  return new FlowLabelInterceptError('bad-option', message);
}

function integerOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw badOption(`${name} must be an integer from ${min} to ${max}, not ${String(value)}`);
  }
  return value;
}

function badEntry(message: string): FlowLabelInterceptError {
  return new FlowLabelInterceptError('bad-entry', message);
}

function isAddress(a: unknown): a is Uint8Array {
  return a instanceof Uint8Array && a.length === 16;
}

/** The entry's name and what it installs; throws 'bad-entry' for anything malformed. */
function checkEntry(entry: InterceptEntry): { readonly name: string; readonly installed: Installed } {
  if (typeof entry !== 'object' || entry === null) throw badEntry('an entry must be an object');
  const { name, label, pairs } = entry;
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_ENTRY_NAME) {
    throw badEntry(`an entry name must be a string of 1 to ${MAX_ENTRY_NAME} characters`);
  }
  if (typeof label !== 'number' || !Number.isSafeInteger(label) || label < 1 || label > MAX_FLOW_LABEL) {
    throw badEntry(`entry ${JSON.stringify(name)}: the flow label must be an integer from 1 to ${MAX_FLOW_LABEL}, not ${String(label)}`);
  }
  if (!Array.isArray(pairs)) throw badEntry(`entry ${JSON.stringify(name)}: pairs must be an array`);
  if (pairs.length > MAX_PAIRS_PER_ENTRY) {
    throw badEntry(`entry ${JSON.stringify(name)}: ${pairs.length} pairs, at most ${MAX_PAIRS_PER_ENTRY}`);
  }
  const texts = new Set<string>();
  for (const [i, pair] of (pairs as readonly unknown[]).entries()) {
    if (!Array.isArray(pair) || pair.length !== 2 || !isAddress(pair[0]) || !isAddress(pair[1])) {
      throw badEntry(`entry ${JSON.stringify(name)}: pair ${i} is not two 16-octet addresses`);
    }
    texts.add(`${formatIpv6(pair[0])} . ${formatIpv6(pair[1])}`);
  }
  return { name, installed: { label, pairs: [...texts] } };
}

/** Reference counts of one set's elements, keyed by their nft text. */
class RefCounts<K> {
  readonly #counts = new Map<K, number>();

  get size(): number {
    return this.#counts.size;
  }

  keys(): IterableIterator<K> {
    return this.#counts.keys();
  }

  has(key: K): boolean {
    return this.#counts.has(key);
  }

  /** Whether releasing one reference drops `key` from the set. */
  isLast(key: K): boolean {
    return this.#counts.get(key) === 1;
  }

  retain(key: K): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  release(key: K): void {
    const n = this.#counts.get(key) ?? 0;
    if (n <= 1) this.#counts.delete(key);
    else this.#counts.set(key, n - 1);
  }

  clear(): void {
    this.#counts.clear();
  }
}

const COUNTER = / counter packets (0|[1-9][0-9]*) bytes (0|[1-9][0-9]*)(?: |$)/;

/**
 * The rule's counter in `nft list chain netdev <table> in` (nft 1.0.6):
 *   table netdev <table> {
 *   	chain in {
 *   		type filter hook ingress devices = { a, b } priority -500; policy accept;
 *   		ip6 flowlabel @labels ip6 saddr . ip6 daddr @pairs counter packets 3 bytes 4500 fwd ip6 to fe80::1 device "t"
 *   	}
 *   }
 * Exactly one line may carry a counter; anything else is a description of what is wrong.
 */
function parseCounter(stdout: string): { packets: number; bytes: number } | string {
  let found: { packets: number; bytes: number } | undefined;
  for (const line of stdout.split('\n')) {
    if (!line.includes(' counter ')) continue;
    const m = COUNTER.exec(line);
    if (m === null) return `an unexpected counter line "${line.trim().slice(0, 120)}"`;
    if (found !== undefined || line.includes(' counter ', m.index + 1)) return 'more than one counter';
    const packets = Number(m[1]);
    const bytes = Number(m[2]);
    if (!Number.isSafeInteger(packets) || !Number.isSafeInteger(bytes)) return 'a counter beyond 2^53';
    found = { packets, bytes };
  }
  return found ?? 'no counter';
}

/**
 * `<verb> element netdev <table> <set> { ... }` lines for `items`, at most
 * ELEMENTS_PER_LINE elements each; none for no items.
 */
function elementLines(verb: 'add' | 'delete', table: string, set: SetName, items: readonly string[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < items.length; i += ELEMENTS_PER_LINE) {
    lines.push(`${verb} element netdev ${table} ${set} { ${items.slice(i, i + ELEMENTS_PER_LINE).join(', ')} }`);
  }
  return lines;
}

export class FlowLabelIntercept {
  readonly #table: string;
  readonly #devices: readonly string[];
  readonly #target: string;
  readonly #priority: number;
  readonly #maxElements: number;
  readonly #run: CommandRunner;
  /** The installed entries by name. */
  readonly #entries = new Map<string, Installed>();
  readonly #labels = new RefCounts<number>();
  readonly #pairs = new RefCounts<string>();
  /** Whether our table is in the kernel (as far as the last successful command tells). */
  #installed = false;
  /** Operations run one at a time, in call order. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: FlowLabelInterceptOptions, run: CommandRunner) {
    if (typeof options !== 'object' || options === null) throw badOption('options must be an object');
    if (typeof options.table !== 'string' || !TABLE_NAME.test(options.table)) {
      throw badOption(`table must be a letter or _ followed by up to 31 letters, digits or _, not ${JSON.stringify(options.table)}`);
    }
    const devices = options.devices as unknown;
    if (!Array.isArray(devices) || devices.length < 1 || devices.length > MAX_DEVICES) {
      throw badOption(`devices must be an array of 1 to ${MAX_DEVICES} interface names`);
    }
    for (const d of devices as readonly unknown[]) {
      const problem = ifnameProblem(d);
      if (problem !== undefined) throw badOption(`device ${JSON.stringify(d)} is not an interface name: ${problem}`);
    }
    if (new Set(devices).size !== devices.length) throw badOption('devices must not repeat a name');
    const targetProblem = ifnameProblem(options.target);
    if (targetProblem !== undefined) throw badOption(`target ${JSON.stringify(options.target)} is not an interface name: ${targetProblem}`);
    // Packets the daemon writes into the TUN enter at its ingress: hooking it would loop them.
    if ((devices as readonly string[]).includes(options.target)) throw badOption(`target ${options.target} must not be one of the hooked devices`);
    this.#table = options.table;
    this.#devices = [...(devices as readonly string[])];
    this.#target = options.target;
    this.#priority = integerOption('priority', options.priority, DEFAULT_PRIORITY, PRIORITY_MIN, PRIORITY_MAX);
    this.#maxElements = integerOption('maxElements', options.maxElements, DEFAULT_MAX_ELEMENTS, 1, MAX_MAX_ELEMENTS);
    if (typeof run !== 'function') throw badOption('the command runner must be a function');
    this.#run = run;
  }

  /** How many entries are installed. */
  get entries(): number {
    return this.#entries.size;
  }

  /**
   * Replaces any table of our name with a fresh one holding every installed entry (none
   * the first time): one transaction, so a failure leaves the previous table in place.
   */
  install(): Promise<void> {
    return this.#serial(async () => {
      await this.#apply(this.#installScript());
      this.#installed = true;
    });
  }

  /**
   * Installs an entry: adds its label and pairs not yet in the sets (none when other
   * entries hold them all: no command then). Fails with 'bad-entry', 'not-installed',
   * 'duplicate' (the name is installed), 'full' (a set would exceed maxElements) or
   * 'command-failed'; on failure nothing changed.
   */
  async add(entry: InterceptEntry): Promise<void> {
    const { name, installed } = checkEntry(entry);
    return this.#serial(async () => {
      this.#requireInstalled('add');
      if (this.#entries.has(name)) throw new FlowLabelInterceptError('duplicate', `entry ${JSON.stringify(name)} is already installed`);
      const labels = this.#labels.has(installed.label) ? [] : [String(installed.label)];
      const pairs = installed.pairs.filter((p) => !this.#pairs.has(p));
      this.#requireRoom('labels', this.#labels.size + labels.length);
      this.#requireRoom('pairs', this.#pairs.size + pairs.length);
      await this.#applyLines([...elementLines('add', this.#table, 'labels', labels), ...elementLines('add', this.#table, 'pairs', pairs)]);
      this.#entries.set(name, installed);
      this.#labels.retain(installed.label);
      for (const p of installed.pairs) this.#pairs.retain(p);
    });
  }

  /**
   * Removes an entry: deletes its label and pairs that no other entry holds. Fails with
   * 'bad-entry' (not a string), 'not-installed', 'unknown' or 'command-failed'; on failure
   * nothing changed.
   */
  async remove(name: string): Promise<void> {
    if (typeof name !== 'string') throw badEntry('an entry name must be a string');
    return this.#serial(async () => {
      this.#requireInstalled('remove');
      const installed = this.#entries.get(name);
      if (installed === undefined) throw new FlowLabelInterceptError('unknown', `no entry ${JSON.stringify(name)} is installed`);
      const labels = this.#labels.isLast(installed.label) ? [String(installed.label)] : [];
      const pairs = installed.pairs.filter((p) => this.#pairs.isLast(p));
      await this.#applyLines([...elementLines('delete', this.#table, 'labels', labels), ...elementLines('delete', this.#table, 'pairs', pairs)]);
      this.#entries.delete(name);
      this.#labels.release(installed.label);
      for (const p of installed.pairs) this.#pairs.release(p);
    });
  }

  /**
   * Deletes the table and forgets every entry. Idempotent, and tolerant of the table
   * being absent (it is created first in the same transaction), so it also clears a table
   * a crashed run left behind.
   */
  uninstall(): Promise<void> {
    const t = this.#table;
    return this.#serial(async () => {
      await this.#apply(`table netdev ${t}\ndelete table netdev ${t}\n`);
      this.#installed = false;
      this.#entries.clear();
      this.#labels.clear();
      this.#pairs.clear();
    });
  }

  /** Packets and bytes (IPv6 header included) the rule has redirected since install. */
  redirected(): Promise<{ packets: number; bytes: number }> {
    return this.#serial(async () => {
      this.#requireInstalled('redirected');
      const args = ['list', 'chain', 'netdev', this.#table, CHAIN];
      const r = await this.#command(args);
      const counter = parseCounter(r.stdout);
      if (typeof counter === 'string') throw new FlowLabelInterceptError('command-failed', `nft ${args.join(' ')}: ${counter}`);
      return counter;
    });
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(op);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  #requireInstalled(what: string): void {
    if (!this.#installed) throw new FlowLabelInterceptError('not-installed', `${what}: table netdev ${this.#table} is not installed`);
  }

  #requireRoom(set: SetName, size: number): void {
    if (size > this.#maxElements) {
      throw new FlowLabelInterceptError('full', `set ${set} would hold ${size} elements, more than maxElements ${this.#maxElements}`);
    }
  }

  /** Runs nft; a nonzero status (or a runner that rejects) is 'command-failed'. */
  async #command(args: readonly string[], input?: string): Promise<CommandResult> {
    let r: CommandResult;
    try {
      r = await this.#run('nft', args, input);
    } catch (error) {
      throw new FlowLabelInterceptError('command-failed', `nft ${args.join(' ')}: ${String(error)}`);
    }
    if (r.code !== 0) throw new FlowLabelInterceptError('command-failed', describeFailure(args, r));
    return r;
  }

  /** Feeds `script` to `nft -f -`: one transaction, applied entirely or not at all. */
  async #apply(script: string): Promise<void> {
    await this.#command(['-f', '-'], script);
  }

  /** Applies `lines` as one transaction; nothing at all for no lines. */
  async #applyLines(lines: readonly string[]): Promise<void> {
    if (lines.length > 0) await this.#apply(`${lines.join('\n')}\n`);
  }

  /** The whole table, preceded by the deletion of a leftover one (created first so the delete cannot fail). */
  #installScript(): string {
    const t = this.#table;
    const devices = this.#devices.map((d) => `"${d}"`).join(', ');
    return [
      `table netdev ${t}`,
      `delete table netdev ${t}`,
      `table netdev ${t} {`,
      '\tset labels {',
      '\t\ttypeof ip6 flowlabel',
      '\t}',
      '\tset pairs {',
      '\t\ttypeof ip6 saddr . ip6 daddr',
      '\t}',
      `\tchain ${CHAIN} {`,
      `\t\ttype filter hook ingress devices = { ${devices} } priority ${this.#priority}; policy accept;`,
      // The label first: it rejects nearly every packet that is not ours in one lookup.
      `\t\tip6 flowlabel @labels ip6 saddr . ip6 daddr @pairs counter fwd ip6 to ${FORWARD_NEXT_HOP} device "${this.#target}"`,
      // nft's parser wants the closing brace of a chain on a line of its own after a rule.
      '\t}',
      '}',
      ...elementLines('add', t, 'labels', [...this.#labels.keys()].map(String)),
      ...elementLines('add', t, 'pairs', [...this.#pairs.keys()]),
      '',
    ].join('\n');
  }
}
