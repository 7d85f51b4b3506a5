/**
 * Property test of the context state machine: two hosts drive their contexts for one
 * ULID pair against each other through a lossy, duplicating, corrupting network, with
 * forged messages, timeouts at random times, crashes, locator changes, locator-pair
 * switches, ICMP and Error inputs, confusion and teardown. `step` must never throw, and after every step:
 *
 * - ESTABLISHED ⇒ CT(peer) known and CT(local) allocated; I2BIS-SENT ⇒ CT(peer) known;
 * - the fast-path install/remove/update actions agree with `hasFastPath` (Side.drive);
 * - I1-SENT, I2-SENT, I2BIS-SENT have a retransmission deadline; E-FAILED and NO-SUPPORT
 *   have a hold-down deadline; a timeout never leaves a deadline at or before `now`;
 * - a dropped input changes no STATE and the fast path;
 * - every message sent encodes, carries the context's own tags, and I1/I2/I2bis go out
 *   from Lp(local) to Lp(peer) in the matching STATE;
 * - Ls(peer) only ever holds verified locators.
 *
 * A small stand-in for the engine answers payload for an unknown Context Tag, or from a
 * locator it does not accept, with R1bis (§7.17, §12.4), so recovery paths run too.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { hasFastPath, nextDeadline } from '../../src/context/machine.js';
import type { ContextInput, StepResult } from '../../src/context/types.js';
import { bytesEqual } from '../../src/wire/bytes.js';
import type { ControlMessage } from '../../src/wire/control.js';
import type { Locator, Option } from '../../src/wire/options/index.js';
import { encodeControlPacket } from '../../src/wire/packet.js';
import { CGA, HBA, STRANGER, control, engineR1bis, fromPacket, hostA, hostB, hostC, ip, pair, received, type SendAction, type Side, type TestIdentity } from './env.util.js';
import { T0 } from './states.util.js';

type Who = 0 | 1;

interface ForgeSpec {
  readonly kind: number;
  readonly src: number;
  readonly tag: number;
  readonly nonce: number;
  readonly x: number;
  readonly opts: number;
}

type Ev =
  | { readonly k: 'establish'; readonly who: Who }
  | { readonly k: 'deliver'; readonly pick: number; readonly dup: boolean }
  | { readonly k: 'lose'; readonly pick: number }
  | { readonly k: 'corrupt'; readonly pick: number; readonly at: number; readonly xor: number }
  | { readonly k: 'forge'; readonly who: Who; readonly spec: ForgeSpec }
  | { readonly k: 'advance'; readonly ms: number }
  | { readonly k: 'timeout'; readonly who: Who; readonly jump: boolean; readonly times: number }
  | { readonly k: 'payload'; readonly who: Who; readonly stale: boolean }
  | { readonly k: 'crash'; readonly who: Who }
  | { readonly k: 'locators'; readonly who: Who; readonly variant: number }
  | { readonly k: 'icmp'; readonly who: Who }
  | { readonly k: 'error'; readonly who: Who; readonly code: number }
  | { readonly k: 'confused'; readonly who: Who }
  | { readonly k: 'switch'; readonly who: Who; readonly local: number; readonly peer: number }
  | { readonly k: 'teardown'; readonly who: Who };

const who = fc.constantFrom<Who>(0, 1);
const u32 = fc.nat({ max: 0xffff_ffff });
const EVENT: fc.Arbitrary<Ev> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('establish' as const), who }) },
  { weight: 14, arbitrary: fc.record({ k: fc.constant('deliver' as const), pick: fc.nat(), dup: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('lose' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('corrupt' as const), pick: fc.nat(), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('forge' as const), who, spec: fc.record({ kind: fc.nat(8), src: fc.nat(3), tag: fc.nat(3), nonce: fc.nat(3), x: u32, opts: fc.nat(63) }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.oneof(fc.nat(2_000), fc.nat(400_000)) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('timeout' as const), who, jump: fc.boolean(), times: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('payload' as const), who, stale: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('crash' as const), who }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('locators' as const), who, variant: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('icmp' as const), who }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('error' as const), who, code: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('confused' as const), who }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('switch' as const), who, local: fc.nat(2), peer: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('teardown' as const), who }) },
);

const HEAD = { nextHeader: 59, reserved1: 0, r: 0 } as const;

/** Ls(local) variants for locator-change events; some are not verifiable at the peer on purpose. */
function locatorVariant(id: TestIdentity, variant: number): { locators: readonly Locator[]; preferences: { flags: number }[] | undefined } {
  const m = id.locators[0]!.verificationMethod;
  switch (variant) {
    case 0: return { locators: id.locators, preferences: undefined };
    case 1: return { locators: id.locators.slice(0, 1), preferences: undefined };
    case 2: return { locators: [...id.locators].reverse(), preferences: undefined };
    case 3: return { locators: id.locators, preferences: [{ flags: 1 }, { flags: 0 }] };
    default: return { locators: [...id.locators, { address: ip('2001:db8:c:3::c'), verificationMethod: m === CGA ? CGA : HBA }], preferences: undefined };
  }
}

class World {
  readonly sides: readonly [Side, Side];
  readonly ids: readonly [TestIdentity, TestIdentity];
  readonly queue: { to: Who; send: SendAction }[] = [];
  now = T0;
  steps = 0;

  constructor(x: TestIdentity, y: TestIdentity, seed: number) {
    const p = pair(x, y, { a: { seed: `prop-a-${seed}`, firstTag: 0x100 }, b: { seed: `prop-b-${seed}`, firstTag: 0x200 } });
    this.sides = [p.a, p.b];
    this.ids = [x, y];
  }

  drive(w: Who, input: ContextInput): StepResult {
    const side = this.sides[w];
    const before = side.ctx;
    const r = side.drive(input, this.now);
    this.steps++;
    checkStep(before, r, input, this.now, side);
    for (const a of r.actions) if (a.kind === 'send') this.queue.push({ to: (1 - w) as Who, send: a });
    return r;
  }

  run(ev: Ev): void {
    switch (ev.k) {
      case 'establish': this.drive(ev.who, { kind: 'establish' }); break;
      case 'deliver': {
        if (this.queue.length === 0) break;
        const i = ev.pick % this.queue.length;
        const { to, send } = this.queue[i]!;
        if (!ev.dup) this.queue.splice(i, 1);
        this.drive(to, control(received(send.src, send.dst, send.message)));
        break;
      }
      case 'lose': if (this.queue.length > 0) this.queue.splice(ev.pick % this.queue.length, 1); break;
      case 'corrupt': {
        if (this.queue.length === 0) break;
        const { to, send } = this.queue[ev.pick % this.queue.length]!;
        const packet = encodeControlPacket({ source: send.src, destination: send.dst }, send.message);
        const at = 40 + (ev.at % (packet.length - 40));
        packet[at]! ^= ev.xor;
        let rx;
        try {
          rx = fromPacket(packet, false);
        } catch {
          break; // the parser refused it: nothing reaches a context
        }
        this.drive(to, control(rx));
        break;
      }
      case 'forge': {
        const m = this.forged(ev.who, ev.spec);
        const srcs = [this.ids[1 - ev.who]!.ulid, this.ids[1 - ev.who]!.alt, STRANGER, this.ids[ev.who]!.alt];
        this.drive(ev.who, control(received(srcs[ev.spec.src]!, this.sides[ev.who].ctx.lpLocal, m)));
        break;
      }
      case 'advance': this.now += ev.ms; break;
      case 'timeout': {
        for (let i = 0; i < ev.times; i++) {
          const d = nextDeadline(this.sides[ev.who].ctx, this.sides[ev.who].env);
          if (ev.jump && d !== undefined) this.now = Math.max(this.now, d);
          this.drive(ev.who, { kind: 'timeout' });
        }
        break;
      }
      case 'payload': {
        // The peer sends payload with its CT(peer); the engine finds the context by CT(local) or answers R1bis.
        const from = this.sides[1 - ev.who]!;
        const to = this.sides[ev.who];
        if (!hasFastPath(from.ctx)) break;
        const tag = from.ctx.ctPeer!;
        // `stale`: the packet came from a locator outside Ls(peer), which also gets an R1bis (§12.4).
        if (!ev.stale && to.ctx.state !== 'IDLE' && to.ctx.ctLocal === tag) this.drive(ev.who, { kind: 'payload', src: from.ctx.lpLocal, dst: from.ctx.lpPeer });
        else this.queue.push({ to: (1 - ev.who) as Who, send: engineR1bis(to.env, tag, from.ctx.lpLocal, from.ctx.lpPeer, this.now) });
        break;
      }
      case 'crash': this.sides[ev.who].lose(this.ids[1 - ev.who]!, this.now); break;
      case 'locators': this.drive(ev.who, { kind: 'local-locators', ...locatorVariant(this.ids[ev.who]!, ev.variant) }); break;
      case 'icmp': this.drive(ev.who, { kind: 'icmp-no-support' }); break;
      case 'error': {
        const ctx = this.sides[ev.who].ctx;
        const inError = ctx.update === undefined ? undefined : ({ kind: 'UpdateRequest', ...HEAD, receiverContextTag: ctx.ctPeer ?? 0, requestNonce: ctx.update.requestNonce, options: ctx.update.options } as const);
        this.drive(ev.who, { kind: 'error', error: { kind: 'Error', nextHeader: 59, errorCode: ev.code, pointer: 48, packetInError: new Uint8Array(16) }, inError });
        break;
      }
      case 'confused': this.drive(ev.who, { kind: 'confused' }); break;
      case 'switch': {
        const me = this.ids[ev.who]!;
        const peer = this.ids[1 - ev.who]!;
        this.drive(ev.who, { kind: 'switch-pair', lpLocal: [me.ulid, me.alt, STRANGER][ev.local]!, lpPeer: [peer.ulid, peer.alt, STRANGER][ev.peer]! });
        break;
      }
      case 'teardown': this.drive(ev.who, { kind: 'teardown', reason: 'property' }); break;
    }
  }

  /** A well-formed message with fields that may or may not match the receiver's context. */
  forged(w: Who, s: ForgeSpec): ControlMessage {
    const me = this.sides[w].ctx;
    const peer = this.sides[1 - w]!.ctx;
    const peerId = this.ids[1 - w]!;
    const tags = [me.ctLocal < 0 ? 0 : me.ctLocal, peer.ctLocal < 0 ? 1 : peer.ctLocal, s.x % 2 ** 47, me.ctPeer ?? 2];
    const nonces = [me.initNonce, me.update?.requestNonce ?? 0, s.x, me.respNonce ?? 3];
    const tag = tags[s.tag]!;
    const nonce = nonces[s.nonce]!;
    const v = new Uint8Array(16).fill(s.x & 0xff);
    const options: Option[] = [];
    if (s.opts & 1) options.push({ kind: 'ResponderValidator', critical: false, validator: me.validator ?? v });
    if (s.opts & 2) options.push({ kind: 'LocatorList', critical: false, generation: s.x, locators: s.opts & 16 ? [{ address: STRANGER, verificationMethod: HBA }] : peerId.locators });
    if (s.opts & 4) options.push({ kind: 'LocatorPreferences', critical: false, generation: s.opts & 32 ? s.x : (me.genPeer ?? 0), elementLength: 1, elements: peerId.locators.map((_, i) => ({ flags: (s.x >>> i) & 3 })) });
    if (s.opts & 8) options.push({ kind: 'CgaParameterDataStructure', critical: false, pds: s.opts & 32 ? hostA.pds : peerId.pds });
    if (s.opts & 16 && peerId.privateKey !== undefined) options.push({ kind: 'CgaSignature', critical: false, signature: new Uint8Array(128).fill(s.x & 0xff) });
    const rv = options.filter((o) => o.kind === 'ResponderValidator');
    const locs = options.filter((o) => o.kind !== 'ResponderValidator' && o.kind !== 'LocatorPreferences');
    const set = options.filter((o) => o.kind !== 'ResponderValidator');
    switch (s.kind) {
      case 0: return { kind: 'I1', ...HEAD, initiatorContextTag: tag, initiatorNonce: nonce, options: [] };
      case 1: return { kind: 'R1', ...HEAD, reserved2: 0, initiatorNonce: nonce, responderNonce: s.x, options: rv };
      case 2: return { kind: 'I2', ...HEAD, initiatorContextTag: tag, initiatorNonce: nonce, responderNonce: s.x, reserved2: 0, options: [...rv, ...locs] };
      case 3: return { kind: 'R2', ...HEAD, responderContextTag: tag, initiatorNonce: nonce, options: set };
      case 4: return { kind: 'R1bis', ...HEAD, packetContextTag: tag, responderNonce: s.x, options: rv };
      case 5: return { kind: 'I2bis', ...HEAD, initiatorContextTag: tag, initiatorNonce: nonce, responderNonce: s.x, reserved2: 0, packetContextTag: tag, options: [...rv, ...locs] };
      case 6: return { kind: 'UpdateRequest', ...HEAD, receiverContextTag: tag, requestNonce: nonce, options: set };
      case 7: return { kind: 'UpdateAck', ...HEAD, receiverContextTag: tag, requestNonce: nonce, options: [] };
      default: return { kind: 'Keepalive', ...HEAD, receiverContextTag: tag, reserved2: 0, options: [] };
    }
  }
}

const RETRANSMITTING = new Set(['I1-SENT', 'I2-SENT', 'I2BIS-SENT']);

function checkStep(before: Side['ctx'], r: StepResult, input: ContextInput, now: number, side: Side): void {
  const c = r.ctx;
  if (c.state === 'ESTABLISHED') {
    expect(c.ctPeer).toBeDefined();
    expect(c.ctLocal).toBeGreaterThanOrEqual(0);
  }
  if (c.state === 'I2BIS-SENT') expect(c.ctPeer).toBeDefined();
  const d = nextDeadline(c, side.env);
  if (RETRANSMITTING.has(c.state)) {
    expect(c.retransmit).toBeDefined();
    expect(d).toBeDefined();
  }
  if (c.state === 'E-FAILED' || c.state === 'NO-SUPPORT') expect(d).toBe(c.holdUntil);
  if (input.kind === 'timeout' && d !== undefined) expect(d).toBeGreaterThan(now);
  if (r.drop !== undefined) {
    expect(c.state).toBe(before.state);
    expect(r.actions.some((a) => a.kind === 'fast-path')).toBe(false);
  }
  expect(c.lsPeer.every((l) => l.verified)).toBe(true);
  if (hasFastPath(c)) {
    // The pair the data plane uses belongs to the context (§11: Lp ∈ Ls).
    expect(bytesEqual(c.lpPeer, c.ulidPeer) || c.lsPeer.some((l) => bytesEqual(l.address, c.lpPeer))).toBe(true);
    expect(bytesEqual(c.lpLocal, c.ulidLocal) || c.lsLocal.some((l) => bytesEqual(l.address, c.lpLocal))).toBe(true);
  }
  for (const a of r.actions) {
    if (a.kind !== 'send') continue;
    const m = a.message;
    expect(() => encodeControlPacket({ source: a.src, destination: a.dst }, m)).not.toThrow();
    switch (m.kind) {
      case 'I1':
      case 'I2':
      case 'I2bis':
        expect(m.initiatorContextTag).toBe(c.ctLocal);
        expect(c.state).toBe(m.kind === 'I1' ? 'I1-SENT' : m.kind === 'I2' ? 'I2-SENT' : 'I2BIS-SENT');
        expect(a.src).toEqual(c.lpLocal);
        expect(a.dst).toEqual(c.lpPeer);
        break;
      case 'R2':
        expect(c.ctLocal).toBeGreaterThanOrEqual(0);
        expect(m.responderContextTag).toBe(c.ctLocal);
        break;
      case 'UpdateRequest':
      case 'UpdateAck':
        expect(c.ctPeer).toBeDefined();
        expect(m.receiverContextTag).toBe(c.ctPeer);
        break;
      default:
        break;
    }
  }
}

describe('state machine properties', () => {
  test.each([
    ['HBA ↔ HBA', hostA, hostB],
    ['CGA ↔ HBA', hostC, hostB],
  ] as const)('%s: random inputs never make step throw, and every context satisfies the invariants', (_, x, y) => {
    let steps = 0;
    const established = { count: 0 };
    fc.assert(
      fc.property(fc.nat(1_000_000), fc.array(EVENT, { minLength: 1, maxLength: 80, size: 'max' }), (seed, events) => {
        const w = new World(x, y, seed);
        for (const ev of events) w.run(ev);
        steps += w.steps;
        if (w.sides.some((s) => s.history.some((h) => h.ctx.state === 'ESTABLISHED'))) established.count++;
      }),
      { numRuns: 150 },
    );
    // The runs were not vacuous: contexts were stepped and reached ESTABLISHED.
    expect(steps).toBeGreaterThan(1_000);
    expect(established.count).toBeGreaterThan(10);
  });

  test('an honest, lossless exchange always ends with both ESTABLISHED and the same tags', () => {
    fc.assert(
      fc.property(fc.nat(1_000_000), fc.boolean(), fc.array(fc.nat(), { maxLength: 20 }), (seed, bothStart, order) => {
        const w = new World(hostA, hostB, seed);
        w.run({ k: 'establish', who: 0 });
        if (bothStart) w.run({ k: 'establish', who: 1 });
        let guard = 0;
        for (const pick of order) if (w.queue.length > 0) w.run({ k: 'deliver', pick, dup: false });
        while (w.queue.length > 0 && guard++ < 50) w.run({ k: 'deliver', pick: 0, dup: false });
        const [a, b] = w.sides;
        expect(a.ctx.state).toBe('ESTABLISHED');
        expect(b.ctx.state).toBe('ESTABLISHED');
        expect(a.ctx.ctPeer).toBe(b.ctx.ctLocal);
        expect(b.ctx.ctPeer).toBe(a.ctx.ctLocal);
        expect(a.installed && b.installed).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
