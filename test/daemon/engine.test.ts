/**
 * shim6d with an identity: two daemons (A and B) with fake data planes joined by a fake
 * wire, fake traffic counters, a fake netlink monitor and a virtual clock. Covers what
 * src/daemon/shim.ts and daemon.ts add over static contexts: the HBA identity generated,
 * configured and kept; establishment by request, by configured peers and by traffic;
 * failover by REAP after silent loss and after a link-down event; locator removal and
 * return (Update Requests); unknown tags (R1bis); malformed control messages; state saved
 * at stop and adopted at restart with the same tags; reload; the control ops.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig, type DaemonConfig } from '../../src/daemon/config.js';
import { controlRequest } from '../../src/daemon/control-client.js';
import { Daemon, type HostEvent, type TrafficCounters } from '../../src/daemon/daemon.js';
import type { TrafficSample } from '../../src/daemon/shim.js';
import { loadState } from '../../src/daemon/state.js';
import { LinuxNetwork } from '../../src/daemon/system.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/address.js';
import { fakeFactory, recordingLog, recordingRunner, tempDir, VirtualClock as Clock, type FakeFactory, type RecordingRunner } from './fakes.js';

let tmp: { dir: string; remove: () => void };
let n = 0;
const daemons: Daemon[] = [];
beforeAll(() => { tmp = tempDir('shim6-engine-'); });
afterEach(async () => { for (const d of daemons.splice(0)) await d.stop(); });
afterAll(() => tmp.remove());

class FakeTraffic implements TrafficCounters {
  pending: TrafficSample[] = [];
  installed: Uint8Array[] | undefined;
  removed = false;
  async install(ulids: readonly Uint8Array[]): Promise<void> { this.installed = [...ulids]; }
  async poll(): Promise<TrafficSample[]> { const p = this.pending; this.pending = []; return p; }
  async remove(): Promise<void> { this.removed = true; }
}

class FakeMonitor {
  emit: ((e: HostEvent) => void) | undefined;
  stopped = false;
  start(onEvent: (e: HostEvent) => void): void { this.emit = onEvent; }
  stop(): void { this.stopped = true; }
}

interface Host {
  name: string;
  daemon: Daemon;
  f: FakeFactory;
  runner: RecordingRunner;
  traffic: FakeTraffic;
  monitor: FakeMonitor;
  log: ReturnType<typeof recordingLog>;
  socket: string;
  stateFile: string;
  added: string[];
  config: DaemonConfig;
}

function configFor(site: 'a' | 'b', socket: string, stateFile: string, edit?: (d: Record<string, any>) => void): DaemonConfig {
  const doc: Record<string, any> = {
    identity: { prefixes: [{ prefix: `2001:db8:1:${site}::/64`, interface: 'eth1' }, { prefix: `2001:db8:2:${site}::/64`, interface: 'eth2' }] },
    stateFile, controlSocket: socket, pollIntervalMs: 10_000,
    reap: { mode: 'fast' }, establish: { auto: true, afterPackets: 5 },
  };
  edit?.(doc);
  return validateConfig(doc);
}

function host(name: string, site: 'a' | 'b', clock: Clock, opts: { stateFile?: string; edit?: (d: Record<string, any>) => void; links?: Record<string, boolean> } = {}): Host {
  const socket = join(tmp.dir, `${name}-${n++}.sock`);
  const stateFile = opts.stateFile ?? join(tmp.dir, `${name}-${n++}.state`);
  const config = configFor(site, socket, stateFile, opts.edit);
  const runner = recordingRunner([]);
  const f = fakeFactory();
  const log = recordingLog();
  const traffic = new FakeTraffic();
  const monitor = new FakeMonitor();
  const added: string[] = [];
  const network = new LinuxNetwork({ tunName: config.tun.name, mtu: config.tun.mtu, fwmark: config.fwmark, routeTable: config.routeTable, rulePriority: config.rulePriority }, runner.runner);
  const daemon = new Daemon({
    config, network, createDataPlane: f.factory, log, now: () => clock.t, traffic, monitor,
    host: { addAddress: async (ifname, a) => { added.push(`${ifname} ${formatIpv6(a)}`); }, flushNeighbours: async (ifname) => { added.push(`flush ${ifname}`); runner.log.push(`flush ${ifname}`); }, linkStates: async () => Object.entries(opts.links ?? { eth1: true, eth2: true }).map(([ifname, up]) => ({ ifname, up })) },
    ...clock.timersFor(name),
  });
  daemons.push(daemon);
  return { name, daemon, f, runner, traffic, monitor, log, socket, stateFile, added, config };
}

const src = (p: Uint8Array): string => formatIpv6(p.subarray(8, 24));
const dst = (p: Uint8Array): string => formatIpv6(p.subarray(24, 40));

/** A wire between the hosts' data planes: queued, delivered by flush(), with a drop rule. */
class Wire {
  readonly queue: { to: Host; p: Uint8Array }[] = [];
  drop: (s: string, d: string) => boolean = () => false;
  dropped = 0;
  readonly a: Host;
  readonly b: Host;
  constructor(a: Host, b: Host) {
    this.a = a;
    this.b = b;
    a.f.onSend = (ps) => { for (const p of ps) this.queue.push({ to: b, p }); };
    b.f.onSend = (ps) => { for (const p of ps) this.queue.push({ to: a, p }); };
  }
  flush(): void {
    for (let i = 0; i < 10_000 && this.queue.length > 0; i++) {
      const { to, p } = this.queue.shift()!;
      if (this.drop(src(p), dst(p))) { this.dropped++; continue; }
      to.f.events!.control!(p.subarray(8, 24), p.subarray(24, 40), p.subarray(40));
    }
  }
}

async function ulidOf(h: Host): Promise<string> {
  const r = await controlRequest(h.socket, 'locators');
  if (!r.ok) throw new Error(r.error.message);
  return (r.result as any).identities[0].ulid;
}

async function contexts(h: Host): Promise<any[]> {
  const r = await controlRequest(h.socket, 'contexts');
  if (!r.ok) throw new Error(r.error.message);
  return (r.result as any[]).filter((c) => c.source === 'engine');
}

async function pair(clock: Clock): Promise<{ a: Host; b: Host; wire: Wire; A: string; B: string }> {
  const a = host('A', 'a', clock);
  const b = host('B', 'b', clock);
  await a.daemon.start();
  await b.daemon.start();
  const wire = new Wire(a, b);
  clock.afterEach = () => wire.flush();
  return { a, b, wire, A: await ulidOf(a), B: await ulidOf(b) };
}

async function established(clock: Clock) {
  const p = await pair(clock);
  const r = await controlRequest(p.a.socket, 'establish', { peer: p.B });
  expect(r.ok).toBe(true);
  expect((r as any).result.outcome).toBe('started');
  p.wire.flush();
  const [ca] = await contexts(p.a);
  const [cb] = await contexts(p.b);
  expect(ca.state).toBe('ESTABLISHED');
  expect(cb.state).toBe('ESTABLISHED');
  return { ...p, ca, cb };
}

function sample(local: string, peer: string, sent: number, received: number): TrafficSample {
  return { local: parseIpv6(local)!, peer: parseIpv6(peer)!, sent, received };
}

describe('identity', () => {
  it('generates an HBA set over the prefixes, puts each address on its interface, keeps it in the state file', async () => {
    const clock = new Clock();
    const a = host('A', 'a', clock);
    await a.daemon.start();
    const r = await controlRequest(a.socket, 'locators');
    expect(r.ok).toBe(true);
    const id = (r as any).result.identities[0];
    expect(id.locators.map((l: any) => l.interface)).toEqual(['eth1', 'eth2']);
    expect(id.locators.every((l: any) => l.method === 'HBA' && l.operational)).toBe(true);
    expect(id.ulid).toBe(id.locators[0].address);
    expect(id.locators[0].address.startsWith('2001:db8:1:a:')).toBe(true);
    expect(id.locators[1].address.startsWith('2001:db8:2:a:')).toBe(true);
    expect(a.added).toEqual([`eth1 ${id.locators[0].address}`, `eth2 ${id.locators[1].address}`]);
    const saved = await loadState(a.stateFile);
    expect(formatIpv6(saved!.identity!.ulid)).toBe(id.ulid);
    expect(a.traffic.installed!.map((u) => formatIpv6(u))).toEqual([id.ulid]);
    // A second start with the same state file keeps the addresses.
    await a.daemon.stop();
    const again = host('A2', 'a', clock, { stateFile: a.stateFile });
    await again.daemon.start();
    expect(await ulidOf(again)).toBe(id.ulid);
  });

  it('a state file for other prefixes, or a corrupt one, gives a new identity and the daemon still starts', async () => {
    const clock = new Clock();
    const a = host('A', 'a', clock);
    await a.daemon.start();
    const ulid = await ulidOf(a);
    await a.daemon.stop();
    const other = host('B', 'b', clock, { stateFile: a.stateFile });
    await other.daemon.start();
    const u2 = await ulidOf(other);
    expect(u2).not.toBe(ulid);
    expect(u2.startsWith('2001:db8:1:b:')).toBe(true);
    await other.daemon.stop();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(a.stateFile, Buffer.from([0xa1, 0x61, 0x76, 0xff, 0x00]));
    const third = host('C', 'a', clock, { stateFile: a.stateFile });
    await third.daemon.start();
    expect((await ulidOf(third)).startsWith('2001:db8:1:a:')).toBe(true);
    expect(third.log.entries.some((e) => e.message.includes('state file unusable'))).toBe(true);
  });
});

describe('establishment', () => {
  it('shim6 establish: I1, R1, I2, R2 over the raw socket; both fast paths installed with each other\'s tags', async () => {
    const clock = new Clock();
    const { a, b, A, B, ca, cb } = await established(clock);
    expect(a.f.sent.map((p) => p[40 + 2]! & 0x7f)).toEqual(expect.arrayContaining([1, 3])); // I1, I2
    expect(b.f.sent.map((p) => p[40 + 2]! & 0x7f)).toEqual(expect.arrayContaining([2, 4])); // R1, R2
    expect(ca.localUlid).toBe(A);
    expect(ca.peerUlid).toBe(B);
    expect(ca.peerContextTag).toBe(cb.localContextTag);
    expect(cb.peerContextTag).toBe(ca.localContextTag);
    expect(ca.reap.state).toBe('Operational');
    expect(ca.peerLocators).toHaveLength(2);
    const fpA = a.f.dataPlane.context(ca.name)!;
    expect(fpA.localContextTag).toBe(ca.localContextTag);
    expect(fpA.peerLocators.map((x) => formatIpv6(x))).toEqual(ca.peerLocators);
    expect(ca.rewriting).toBe(false);
    // Status counts it.
    const st = await controlRequest(a.socket, 'status');
    expect((st as any).result.engine.byState).toEqual({ ESTABLISHED: 1 });
    expect((st as any).result.reapMode).toBe('fast');
  });

  it('by traffic: the kernel-path counters feed the §4 heuristic (afterPackets 5)', async () => {
    const clock = new Clock();
    const { a, b, wire, A, B } = await pair(clock);
    a.traffic.pending = [sample(A, B, 3, 0)];
    await a.daemon.poll();
    wire.flush();
    expect(await contexts(a)).toHaveLength(0);
    a.traffic.pending = [sample(A, B, 3, 2)];
    await a.daemon.poll();
    wire.flush();
    const [ca] = await contexts(a);
    expect(ca.state).toBe('ESTABLISHED');
    expect((await contexts(b))[0].state).toBe('ESTABLISHED');
  });

  it('traffic to our own addresses never starts a context', async () => {
    const clock = new Clock();
    const { a, A } = await pair(clock);
    const r = await controlRequest(a.socket, 'locators');
    const other = (r as any).result.identities[0].locators[1].address;
    a.traffic.pending = [sample(A, other, 500, 500)];
    await a.daemon.poll();
    expect(await contexts(a)).toHaveLength(0);
  });

  it('configured peers are established at start; auto off ignores traffic', async () => {
    const clock = new Clock();
    const b = host('B', 'b', clock);
    await b.daemon.start();
    const B = await ulidOf(b);
    const a = host('A', 'a', clock, { edit: (d) => { d.establish = { peers: [B], auto: false }; } });
    const wire = new Wire(a, b);
    clock.afterEach = () => wire.flush();
    await a.daemon.start();
    wire.flush();
    expect((await contexts(a))[0].state).toBe('ESTABLISHED');
    // auto: false on B: B's traffic to someone else starts nothing.
    const b2 = host('B2', 'b', clock, { edit: (d) => { d.establish = { auto: false }; } });
    await b2.daemon.start();
    b2.traffic.pending = [sample(await ulidOf(b2), '2001:db8:1:c::1', 1000, 1000)];
    await b2.daemon.poll();
    expect(await contexts(b2)).toHaveLength(0);
  });

  it('establish with a bad address or a foreign local ULID is refused with a typed error', async () => {
    const clock = new Clock();
    const { a, B } = await pair(clock);
    const bad = await controlRequest(a.socket, 'establish', { peer: 'nope' });
    expect(bad.ok).toBe(false);
    expect((bad as any).error.code).toBe('bad-locator');
    const foreign = await controlRequest(a.socket, 'establish', { peer: B, local: '2001:db8:9::1' });
    expect((foreign as any).error.code).toBe('bad-locator');
    const again = await controlRequest(a.socket, 'establish', { peer: B });
    expect((again as any).result.outcome).toBe('started');
    const dup = await controlRequest(a.socket, 'establish', { peer: B });
    expect((dup as any).result.outcome).toBe('exists');
  });
});

describe('a peer without Shim6', () => {
  it('its Parameter Problem about our I1 moves the context to NO-SUPPORT at once (§7.8); a forged one with another nonce does not', async () => {
    const clock = new Clock();
    const a = host('A', 'a', clock);
    await a.daemon.start();
    const peer = '2001:db8:1:c::1';
    const r = await controlRequest(a.socket, 'establish', { peer });
    expect((r as any).result.outcome).toBe('started');
    const i1 = a.f.sent.at(-1)!;
    const icmpFor = (inner: Uint8Array): Uint8Array => {
      const p = new Uint8Array(40 + 8 + inner.length);
      p[0] = 0x60; p[6] = 58; p[7] = 64;
      p.set(i1.subarray(24, 40), 8); // from the peer
      p.set(i1.subarray(8, 24), 24);
      p[40] = 4; p[41] = 1; p[47] = 6; // Parameter Problem, unrecognized Next Header, pointer 6
      p.set(inner, 48);
      return p;
    };
    const forged = i1.slice();
    forged[40 + 15] ^= 0xff; // the Initiator Nonce's last octet (RFC 5533 §5.7: octets 12-15 of the I1)
    a.f.events!.icmpError!(icmpFor(forged));
    expect((await contexts(a))[0].state).toBe('I1-SENT');
    expect((await controlRequest(a.socket, 'status') as any).result.engine.counters['icmp.unmatched']).toBe(1);
    a.f.events!.icmpError!(icmpFor(i1));
    const [c] = await contexts(a);
    expect(c.state).toBe('NO-SUPPORT');
    const st = (await controlRequest(a.socket, 'status') as any).result;
    expect(st.engine.counters['icmp.no-support']).toBe(1);
  });
});

describe('failover', () => {
  it('silent loss on the ULID pair: REAP explores, switches, the data plane rewrites and the rule goes in', async () => {
    const clock = new Clock();
    const { a, b, wire, A, B, ca } = await established(clock);
    // The ISP1 path dies both ways: every packet between the two ISP1 addresses is lost.
    wire.drop = (s, d) => (s === A && d === B) || (s === B && d === A);
    a.traffic.pending = [sample(A, B, 10, 0)];
    await a.daemon.poll();
    for (let i = 0; i < 40; i++) clock.advance(100);
    const [after] = await contexts(a);
    expect(after.currentPair).not.toEqual(ca.currentPair);
    expect(after.rewriting).toBe(true);
    expect(after.failovers).toBeGreaterThanOrEqual(1);
    expect(after.lastFailover.reason).toBeTypeOf('string');
    expect(after.lastFailover.from).toEqual({ local: A, peer: B });
    expect(a.f.dataPlane.switches.length + a.f.dataPlane.table.size).toBeGreaterThan(0);
    const fp = a.f.dataPlane.context(after.name)!;
    expect(`${formatIpv6(fp.currentLocal)} ${formatIpv6(fp.currentPeer)}`).toBe(`${after.currentPair.local} ${after.currentPair.peer}`);
    await new Promise((r) => setTimeout(r, 20)); // the rule is installed asynchronously
    expect(a.runner.log.some((l) => l.startsWith(`ip -6 rule add pref 100 from ${A}/128 to ${B}/128`))).toBe(true);
    // B answered probes: its REAP is back to Operational too, on a working pair.
    const [bAfter] = await contexts(b);
    expect(bAfter.reap.state).toBe('Operational');
    // Nothing passed on the dead pair after the failure.
    expect(a.f.dataPlane.context(after.name)!.currentLocal).not.toEqual(parseIpv6(A));
  });

  it('an interval with both directions is ordered by the last packets: unanswered sends after the receipts start the Send Timer', async () => {
    const clock = new Clock();
    const { a, wire, A, B } = await established(clock);
    wire.drop = (s, d) => (s === A && d === B) || (s === B && d === A);
    // The last packet came in: the sends were answered; nothing more happens, REAP stays Operational.
    a.traffic.pending = [{ ...sample(A, B, 10, 4), lastSentAgoMs: 30, lastReceivedAgoMs: 5 }];
    await a.daemon.poll();
    clock.advance(1000);
    expect((await contexts(a))[0].failovers).toBe(0);
    expect((await contexts(a))[0].reap.state).toBe('Operational');
    // The last packet went out (a cut after the receipts): the Send Timer runs from this poll.
    a.traffic.pending = [{ ...sample(A, B, 10, 4), lastSentAgoMs: 2, lastReceivedAgoMs: 40 }];
    await a.daemon.poll();
    clock.advance(399);
    expect((await contexts(a))[0].reap.state).toBe('Operational');
    for (let i = 0; i < 20; i++) clock.advance(100);
    const [after] = await contexts(a);
    expect(after.failovers).toBe(1);
    expect(after.lastFailover.reason).toBe('send-timeout');
  });

  it('a link-down event explores at once and moves off that interface\'s locator', async () => {
    const clock = new Clock();
    const { a, wire, A, B } = await established(clock);
    wire.drop = (s, d) => s === A || d === A;
    a.monitor.emit!({ kind: 'link', ifname: 'eth1', up: false });
    wire.flush();
    for (let i = 0; i < 10; i++) clock.advance(100);
    const [after] = await contexts(a);
    expect(after.currentPair.local).not.toBe(A);
    expect(after.currentPair.peer === B || after.currentPair.peer !== B).toBe(true);
    const loc = await controlRequest(a.socket, 'locators');
    expect((loc as any).result.identities[0].locators[0].operational).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    // Flushed after the rule moved the sockets off eth1, not before (HostOps.flushNeighbours).
    const rule = a.runner.log.findIndex((l) => l.startsWith('ip -6 rule add'));
    expect(rule).toBeGreaterThanOrEqual(0);
    expect(a.runner.log.filter((x) => x === 'flush eth1')).toHaveLength(1);
    expect(a.runner.log.indexOf('flush eth1')).toBeGreaterThan(rule);
    const metrics = await controlRequest(a.socket, 'metrics');
    expect((metrics as any).result.text).toContain('shim6_');
  });

  it('an address removed and added back: Update Requests carry the new Ls(local) to the peer', async () => {
    const clock = new Clock();
    const { a, b, wire } = await established(clock);
    const loc = (await controlRequest(a.socket, 'locators') as any).result.identities[0].locators;
    const second = parseIpv6(loc[1].address)!;
    a.monitor.emit!({ kind: 'address', ifname: 'eth2', address: second, added: false });
    wire.flush();
    let [cb] = await contexts(b);
    expect(cb.peerLocators).toEqual([loc[0].address]);
    a.monitor.emit!({ kind: 'address', ifname: 'eth2', address: second, added: true });
    wire.flush();
    [cb] = await contexts(b);
    expect(cb.peerLocators).toEqual([loc[0].address, loc[1].address]);
    // An address that is not ours changes nothing.
    a.monitor.emit!({ kind: 'address', ifname: 'eth2', address: parseIpv6('2001:db8:2:a::99')!, added: false });
    wire.flush();
    [cb] = await contexts(b);
    expect(cb.peerLocators).toHaveLength(2);
  });

  it('shim6 explore starts an exploration; unknown names are typed errors', async () => {
    const clock = new Clock();
    const { a, ca } = await established(clock);
    const r = await controlRequest(a.socket, 'explore', { context: ca.name });
    expect(r.ok).toBe(true);
    expect((r as any).result.reap.state).toBe('Exploring');
    const bad = await controlRequest(a.socket, 'explore', { context: 'ctx999' });
    expect((bad as any).error.code).toBe('unknown-context');
  });
});

describe('bad input from the network', () => {
  it('malformed control messages and forged tags are counted; the contexts stay', async () => {
    const clock = new Clock();
    const { a, b, wire, ca } = await established(clock);
    const ev = a.f.events!;
    const B = parseIpv6(ca.peerUlid)!;
    const A = parseIpv6(ca.localUlid)!;
    for (let i = 0; i < 200; i++) {
      const junk = new Uint8Array(8 + (i % 40));
      for (let j = 0; j < junk.length; j++) junk[j] = (i * 31 + j * 17) & 0xff;
      junk[2] = junk[2]! & 0x7f; // a control message (P = 0)
      ev.control!(B, A, junk);
    }
    // A payload packet with a tag nobody has: R1bis goes back (§7.17).
    const before = a.f.sent.length;
    ev.unknownTag!(12345, B, A);
    const r1bis = a.f.sent.slice(before).filter((p) => (p[42]! & 0x7f) === 5);
    expect(r1bis).toHaveLength(1);
    wire.queue.length = 0;
    const st = (await controlRequest(a.socket, 'status') as any).result;
    const malformed = Object.entries(st.engine.counters).filter(([k]) => k.startsWith('malformed.') || k.startsWith('drop.')).reduce((s, [, v]) => s + (v as number), 0);
    expect(malformed).toBeGreaterThan(0);
    expect((await contexts(a))[0].state).toBe('ESTABLISHED');
    expect((await contexts(b))[0].state).toBe('ESTABLISHED');
  });
});

describe('state across a restart', () => {
  it('a clean stop saves the contexts; the restarted daemon adopts them with the same tags and pair', async () => {
    const clock = new Clock();
    const { a, b, wire, ca } = await established(clock);
    await a.daemon.stop();
    const saved = await loadState(a.stateFile);
    expect(saved!.contexts).toHaveLength(1);
    expect(saved!.contexts[0]!.ctLocal).toBe(ca.localContextTag);
    const a2 = host('A2', 'a', clock, { stateFile: a.stateFile });
    const wire2 = new Wire(a2, b);
    clock.afterEach = () => wire2.flush();
    await a2.daemon.start();
    wire2.flush();
    const [c2] = await contexts(a2);
    expect(c2.state).toBe('ESTABLISHED');
    expect(c2.localContextTag).toBe(ca.localContextTag);
    expect(c2.peerContextTag).toBe(ca.peerContextTag);
    expect(c2.currentPair).toEqual(ca.currentPair);
    expect(a2.f.dataPlane.context(c2.name)!.localContextTag).toBe(ca.localContextTag);
    void wire;
    // The peer's context still matches: a probe exchange works (explore, then back to Operational).
    await controlRequest(a2.socket, 'explore', { context: c2.name });
    for (let i = 0; i < 20; i++) clock.advance(100);
    expect((await contexts(a2))[0].reap.state).toBe('Operational');
    expect((await contexts(b))[0].state).toBe('ESTABLISHED');
  });
});

describe('reload', () => {
  it('applies log level, establishment and metrics settings; reports what needs a restart; a bad file changes nothing', async () => {
    const clock = new Clock();
    const b = host('B', 'b', clock);
    await b.daemon.start();
    const B = await ulidOf(b);
    const a = host('A', 'a', clock);
    const wire = new Wire(a, b);
    clock.afterEach = () => wire.flush();
    await a.daemon.start();
    const next = configFor('a', a.socket, a.stateFile, (d) => { d.logLevel = 'debug'; d.establish = { peers: [B] }; d.tun = { name: 'other0' }; });
    const r = await a.daemon.reload(next);
    wire.flush();
    expect(r.applied).toEqual(expect.arrayContaining(['logLevel', 'establish']));
    expect(r.needsRestart).toEqual(['tun']);
    expect((await contexts(a))[0].state).toBe('ESTABLISHED');
    const viaOp = await controlRequest(a.socket, 'reload');
    expect(viaOp.ok).toBe(false);
    expect((viaOp as any).error.code).toBe('not-available');
    expect(existsSync(a.stateFile)).toBe(true);
  });
});
