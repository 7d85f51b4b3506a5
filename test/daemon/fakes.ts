/**
 * Fakes for the daemon tests: a DataPlaneControl that keeps contexts in a map (with the
 * checks the real one makes), a DataPlaneFactory around it, a command runner that
 * records every `ip` invocation and answers from a script, a recording log, and a
 * configuration of two hosts' worth of contexts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COUNTERS, DataPlaneError, type ContextSnapshot, type Counters, type DataPlaneControl, type DataPlaneEvents, type FastPathContext } from '../../src/dataplane/types.js';
import type { DataPlaneFactory, DataPlaneFactoryOptions } from '../../src/daemon/daemon.js';
import type { Log } from '../../src/daemon/log.js';
import type { CommandResult, CommandRunner } from '../../src/daemon/system.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/address.js';

export function ip6(text: string): Uint8Array {
  const a = parseIpv6(text);
  if (a === undefined) throw new Error(`bad test address ${text}`);
  return a;
}

function zero(): Counters {
  const c = {} as Record<string, number>;
  for (const n of COUNTERS) c[n] = 0;
  return c as Counters;
}

const eq = (a: Uint8Array, b: Uint8Array): boolean => formatIpv6(a) === formatIpv6(b);

export class FakeDataPlane implements DataPlaneControl {
  readonly table = new Map<string, { ctx: FastPathContext; counters: Counters }>();
  readonly global = zero();
  /** Every setCurrentPair call, as "name local peer". */
  readonly switches: string[] = [];

  addContext(ctx: FastPathContext): void {
    if (this.table.has(ctx.name)) throw new DataPlaneError('duplicate-context', `context ${ctx.name} exists`);
    for (const { ctx: o } of this.table.values()) {
      if (o.localContextTag === ctx.localContextTag) throw new DataPlaneError('duplicate-tag', 'tag in use');
      if (eq(o.localUlid, ctx.localUlid) && eq(o.peerUlid, ctx.peerUlid)) throw new DataPlaneError('duplicate-ulid-pair', 'pair in use');
    }
    this.table.set(ctx.name, { ctx: { ...ctx }, counters: zero() });
  }

  removeContext(name: string): void {
    if (!this.table.delete(name)) throw new DataPlaneError('unknown-context', `no context ${name}`);
  }

  setCurrentPair(name: string, local: Uint8Array, peer: Uint8Array): void {
    const e = this.table.get(name);
    if (e === undefined) throw new DataPlaneError('unknown-context', `no context ${name}`);
    if (!e.ctx.localLocators.some((a) => eq(a, local)) || !e.ctx.peerLocators.some((a) => eq(a, peer))) throw new DataPlaneError('bad-locator', 'not in the set');
    e.ctx = { ...e.ctx, currentLocal: local.slice(), currentPeer: peer.slice() };
    this.switches.push(`${name} ${formatIpv6(local)} ${formatIpv6(peer)}`);
  }

  context(name: string): ContextSnapshot | undefined {
    const e = this.table.get(name);
    return e === undefined ? undefined : { ...e.ctx, localFlowLabel: e.ctx.localFlowLabel ?? 0, peerFlowLabel: e.ctx.peerFlowLabel ?? 0, counters: { ...e.counters } };
  }

  contexts(): ContextSnapshot[] {
    return [...this.table.values()].map((e) => ({ ...e.ctx, localFlowLabel: e.ctx.localFlowLabel ?? 0, peerFlowLabel: e.ctx.peerFlowLabel ?? 0, counters: { ...e.counters } }));
  }

  counters(): Counters {
    return { ...this.global };
  }

  /** Bumps a counter of one context and the global one. */
  bump(name: string, counter: keyof Counters, by = 1): void {
    this.table.get(name)!.counters[counter] += by;
    this.global[counter] += by;
  }
}

export interface FakeFactory {
  readonly factory: DataPlaneFactory;
  readonly dataPlane: FakeDataPlane;
  readonly calls: string[];
  options: DataPlaneFactoryOptions | undefined;
  events: DataPlaneEvents | undefined;
  /** Every control packet the daemon sent (whole IPv6 packets). */
  readonly sent: Uint8Array[];
  /** Called with each batch of control packets sent. */
  onSend: ((packets: readonly Uint8Array[]) => void) | undefined;
  tap: ((packet: Uint8Array, direction: 'sent' | 'received') => void) | null;
}

export function fakeFactory(opts: { failOpen?: boolean } = {}): FakeFactory {
  const dataPlane = new FakeDataPlane();
  const f: FakeFactory = {
    dataPlane,
    calls: [],
    options: undefined,
    events: undefined,
    sent: [],
    onSend: undefined,
    tap: null,
    factory: (o) => {
      f.calls.push(`open ${o.tunName} mark ${o.fwmark}`);
      if (opts.failOpen === true) throw new Error('TUNSETIFF: Operation not permitted');
      f.options = o;
      f.events = o.events;
      let closed = false;
      return {
        control: dataPlane,
        tunName: o.tunName,
        start: () => { f.calls.push('start'); },
        close: () => { if (!closed) { closed = true; f.calls.push('close'); } },
        sendControl: (packets) => {
          f.sent.push(...packets);
          f.onSend?.(packets);
          return packets.length;
        },
        setTap: (tap) => { f.tap = tap; },
      };
    },
  };
  return f;
}

/** The output of `ip -j -6 addr show` for these (ifname, address) pairs. */
export function addrShowJson(entries: readonly (readonly [string, string])[]): string {
  const byIf = new Map<string, { family: string; local: string; prefixlen: number; scope: string }[]>();
  for (const [ifname, a] of entries) {
    if (!byIf.has(ifname)) byIf.set(ifname, []);
    byIf.get(ifname)!.push({ family: 'inet6', local: a, prefixlen: 64, scope: 'global' });
  }
  return JSON.stringify([...byIf].map(([ifname, addr_info], i) => ({ ifindex: i + 2, ifname, flags: ['UP'], mtu: 1500, addr_info })));
}

export interface RecordingRunner {
  readonly runner: CommandRunner;
  /** Every command, as one line: "ip -6 rule del pref 100". */
  readonly log: string[];
  /** Answers for command lines; the default is exit 0 with no output. */
  script: (line: string, nth: number) => Partial<CommandResult> | undefined;
}

/**
 * A runner that records. By default `ip -6 rule del pref|table N` fails (nothing left to delete), `ip -j
 * -d link show` fails (no such link), and `ip -j -6 addr show` lists `addresses`.
 */
export function recordingRunner(addresses: readonly (readonly [string, string])[] = []): RecordingRunner {
  const counts = new Map<string, number>();
  const r: RecordingRunner = {
    log: [],
    script: () => undefined,
    runner: async (file, args) => {
      const line = [file, ...args].join(' ');
      r.log.push(line);
      const nth = (counts.get(line) ?? 0) + 1;
      counts.set(line, nth);
      const scripted = r.script(line, nth);
      if (scripted !== undefined) return { code: 0, stdout: '', stderr: '', ...scripted };
      if (line === 'ip -j -6 addr show') return { code: 0, stdout: addrShowJson(addresses), stderr: '' };
      if (/^ip -6 rule del (pref|table) \d+$/.test(line)) return { code: 2, stdout: '', stderr: 'RTNETLINK answers: No such file or directory' };
      if (line.startsWith('ip -j -d link show')) return { code: 1, stdout: '', stderr: 'Device does not exist.' };
      return { code: 0, stdout: '', stderr: '' };
    },
  };
  return r;
}

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

export function recordingLog(): Log & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: LogEntry['level']) => (fields: object, message: string): void => { entries.push({ level, fields: fields as Record<string, unknown>, message }); };
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A private temporary directory, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Host A of examples/config: two locators, two contexts to two peers. */
export function exampleConfigJson(socket: string): Record<string, unknown> {
  return {
    interfaces: ['eth1', 'eth2'],
    locators: ['2001:db8:1:a::1', '2001:db8:2:a::1'],
    tun: { name: 'shim6tun0', mtu: 1492 },
    fwmark: 20534,
    routeTable: 20534,
    rulePriority: 100,
    controlSocket: socket,
    logLevel: 'info',
    contexts: [
      {
        name: 'hB',
        localUlid: '2001:db8:1:a::1', peerUlid: '2001:db8:1:b::1',
        localLocators: ['2001:db8:1:a::1', '2001:db8:2:a::1'],
        peerLocators: ['2001:db8:1:b::1', '2001:db8:2:b::1'],
        localContextTag: 4660, peerContextTag: 22136,
      },
      {
        name: 'hC',
        localUlid: '2001:db8:2:a::1', peerUlid: '2001:db8:1:c::1',
        localLocators: ['2001:db8:2:a::1', '2001:db8:1:a::1'],
        peerLocators: ['2001:db8:1:c::1', '2001:db8:3:c::1'],
        localContextTag: '0x0a0b0c0d0e0f', peerContextTag: 7,
        currentPair: { local: '2001:db8:1:a::1', peer: '2001:db8:3:c::1' },
      },
    ],
  };
}

/** The addresses host A has, on the listed interfaces. */
export const HOST_A_ADDRESSES: readonly (readonly [string, string])[] = [['eth1', '2001:db8:1:a::1'], ['eth2', '2001:db8:2:a::1'], ['lo', '::1']];

export interface VirtualTimer { at: number; setAt: number; f: () => void; dead: boolean; owner: string }

/**
 * A virtual clock with timers for the daemon tests: `timersFor(owner)` gives a daemon its
 * setTimer/clearTimer, `advance` runs due timers in time order (a storm of zero-delay
 * re-arms fails) and calls `afterEach` after each (to flush a fake wire).
 */
export class VirtualClock {
  t = 1_000_000;
  #timers: VirtualTimer[] = [];
  afterEach: () => void = () => {};

  timersFor(owner: string): { setTimer: (f: () => void, ms: number) => unknown; clearTimer: (h: unknown) => void } {
    return {
      setTimer: (f, ms) => {
        if (!Number.isFinite(ms) || ms < 0) throw new Error(`${owner}: timer of ${ms} ms`);
        const h: VirtualTimer = { at: this.t + ms, setAt: this.t, f, dead: false, owner };
        if (this.#timers.length > 256) this.#timers = this.#timers.filter((x) => !x.dead);
        this.#timers.push(h);
        return h;
      },
      clearTimer: (h) => { (h as VirtualTimer).dead = true; },
    };
  }

  live(owner: string): VirtualTimer[] {
    return this.#timers.filter((h) => !h.dead && h.owner === owner);
  }

  /** Runs every timer due up to t + ms in time order (a storm of zero-delay re-arms fails). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let fired = 0; ; fired++) {
      if (fired > 100_000) throw new Error('timer storm: a timer keeps re-arming at or before now');
      let next: VirtualTimer | undefined;
      for (const h of this.#timers) if (!h.dead && h.at <= end && (next === undefined || h.at < next.at)) next = h;
      if (next === undefined) break;
      this.t = Math.max(this.t, next.at);
      next.dead = true;
      next.f();
      this.afterEach();
    }
    this.t = end;
    this.#timers = this.#timers.filter((h) => !h.dead);
  }
}
