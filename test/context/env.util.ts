/**
 * Fixtures for the context state machine tests (src/context): a deterministic
 * `ContextEnv` per host, three identities made once per test file, real bytes for every
 * received message, and a two-party "wire" that feeds one host's `send` actions to the
 * other's context.
 *
 * Identities (RFC 5535 HBA sets and an RFC 3972 CGA, all Sec 0, all in 2001:db8::/32,
 * RFC 3849):
 * - host A: HBA-only set over 2001:db8:a:1::/64 and 2001:db8:a:2::/64;
 * - host B: HBA-only set over 2001:db8:b:1::/64 and 2001:db8:b:2::/64;
 *   ULID = the first HBA, Ls(local) = both HBAs marked HBA (profile `table4`),
 *   CGA Parameter Data Structure = the first member's;
 * - host C: a CGA (RSA 1024) in 2001:db8:c:1::/64 plus the plain address 2001:db8:c:2::c,
 *   both marked CGA, so every message that carries Ls(C) also carries a CGA Signature.
 *
 * Randomness is `seededRandom` from test/crypto/cga.util.ts (SHA-256 of the seed and a
 * counter), so every run sees the same nonces, tags, secrets and jitter.
 */
import { expect } from 'vitest';
import { generateCga } from '../../src/crypto/cga.js';
import { generateHbaSet } from '../../src/crypto/hba.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { KeyAlgorithm, type RandomSource } from '../../src/crypto/provider.js';
import { nodeCryptoProvider } from '../../src/crypto/provider-node.js';
import { resolveConfig, type ContextConfig } from '../../src/context/constants.js';
import { hasFastPath, idleContext, step, type NewContextParams } from '../../src/context/machine.js';
import { DEFAULT_POLICY, type ContextAction, type ContextEnv, type ContextInput, type ContextPolicy, type LocalIdentity, type ReceivedControl, type ShimContext, type StepResult } from '../../src/context/types.js';
import { ResponderValidators } from '../../src/context/validator.js';
import { parseIpv6 } from '../../src/wire/address.js';
import { bytesEqual } from '../../src/wire/bytes.js';
import type { ControlMessage, R1bisMessage } from '../../src/wire/control.js';
import type { Locator, Option } from '../../src/wire/options/index.js';
import { encodeControlPacket, parsePacket } from '../../src/wire/packet.js';
import { verificationMethodCodes } from '../../src/wire/verification-method.js';
import { seededRandom } from '../crypto/cga.util.js';

export { seededRandom };

export const provider = nodeCryptoProvider;
export const PROFILE = 'table4' as const;
export const HBA = verificationMethodCodes(PROFILE).HBA;
export const CGA = verificationMethodCodes(PROFILE).CGA;
/** Offset of the Shim6 header in every packet built here (no extension headers). */
export const SHIM_OFFSET = 40;

/** An IPv6 address from text (test data only). */
export function ip(text: string): Uint8Array {
  const a = parseIpv6(text);
  if (a === undefined) throw new Error(`bad address in test data: ${text}`);
  return a;
}

/** The first 8 octets of a /64 written as an address. */
function prefix64(text: string): Uint8Array {
  return ip(text).slice(0, 8);
}

/** A host's identity with the addresses tests need by name. */
export interface TestIdentity extends LocalIdentity {
  readonly name: string;
  readonly pds: Uint8Array;
  /** Every CGA Parameter Data Structure of the set (one per prefix for HBA). */
  readonly allPds: readonly Uint8Array[];
  /** locators[1].address: the second locator. */
  readonly alt: Uint8Array;
  /** The public key of a CGA identity (SubjectPublicKeyInfo). */
  readonly spki?: Uint8Array;
}

async function hbaIdentity(name: string, prefixes: readonly string[]): Promise<TestIdentity> {
  const set = await generateHbaSet({ provider, random: seededRandom(`hba-${name}`), prefixes: prefixes.map(prefix64), sec: 0 });
  const locators: Locator[] = set.addresses.map((address) => ({ address, verificationMethod: HBA }));
  return { name, ulid: set.addresses[0]!, pds: set.paramsBytes[0]!, allPds: set.paramsBytes, locators, alt: set.addresses[1]! };
}

async function cgaIdentity(name: string): Promise<TestIdentity> {
  const keys = generateKeyPair(KeyAlgorithm.Rsa, 1024);
  const cga = await generateCga({ provider, random: seededRandom(`cga-${name}`), subnetPrefix: prefix64('2001:db8:c:1::'), publicKey: keys.spki, sec: 0 });
  const extra = ip('2001:db8:c:2::c');
  return {
    name,
    ulid: cga.address,
    pds: cga.paramsBytes,
    allPds: [cga.paramsBytes],
    privateKey: keys.pkcs8,
    spki: keys.spki,
    locators: [{ address: cga.address, verificationMethod: CGA }, { address: extra, verificationMethod: CGA }],
    alt: extra,
  };
}

export const hostA: TestIdentity = await hbaIdentity('A', ['2001:db8:a:1::', '2001:db8:a:2::']);
export const hostB: TestIdentity = await hbaIdentity('B', ['2001:db8:b:1::', '2001:db8:b:2::']);
export const hostC: TestIdentity = await cgaIdentity('C');

/** A third address of nobody's set, in 2001:db8::/32. */
export const STRANGER = ip('2001:db8:ff::1');

export interface EnvOptions {
  readonly seed?: string;
  readonly config?: Partial<ContextConfig>;
  readonly policy?: Partial<ContextPolicy>;
  /** First tag `allocateTag` returns; later ones count up. */
  readonly firstTag?: number;
}

/** A `ContextEnv` that also tells tests which tags it handed out. */
export interface TestEnv extends ContextEnv {
  readonly allocated: number[];
  readonly random: RandomSource;
}

function u32(b: Uint8Array): number {
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

/** A deterministic environment for the host owning `identities`. */
export function makeEnv(identities: readonly LocalIdentity[], opts: EnvOptions = {}): TestEnv {
  const seed = opts.seed ?? `env-${identities.map((i) => Array.from(i.ulid.subarray(0, 6)).join('.')).join('+')}`;
  const random = seededRandom(seed);
  const config = resolveConfig(opts.config ?? {});
  const allocated: number[] = [];
  let nextTag = opts.firstTag ?? 0x1000 + (u32(random.bytes(4)) & 0xffff) * 0x100;
  return {
    config,
    policy: { ...DEFAULT_POLICY, ...opts.policy },
    provider,
    profile: PROFILE,
    verifySignature: provider.verify,
    validators: new ResponderValidators(provider, seededRandom(`${seed}/validators`), config),
    random,
    allocated,
    randomU32: () => u32(random.bytes(4)),
    randomUnit: () => u32(random.bytes(4)) / 2 ** 32,
    allocateTag: () => {
      const t = nextTag++;
      allocated.push(t);
      return t;
    },
    identity: (ulid) => identities.find((i) => bytesEqual(i.ulid, ulid)),
  };
}

/** The ULID-pair parameters of `local`'s context with `peer`. */
function pairParams(local: LocalIdentity, peer: LocalIdentity, extra: Partial<NewContextParams> = {}): NewContextParams {
  return { id: 1, ulidLocal: local.ulid, ulidPeer: peer.ulid, ...extra };
}

/** An IDLE context of `local` for the ULID pair with `peer`. */
export function idleFor(local: LocalIdentity, peer: LocalIdentity, now = 0, extra: Partial<NewContextParams> = {}): ShimContext {
  return idleContext(pairParams(local, peer, extra), local, now, 0x5eed0000 + local.ulid[5]!);
}

// ---------------------------------------------------------------------------------------
// Real bytes
// ---------------------------------------------------------------------------------------

/** `message` from `src` to `dst`, encoded and parsed back, as the engine would hand it over. */
export function received(src: Uint8Array, dst: Uint8Array, message: ControlMessage): ReceivedControl {
  const packet = encodeControlPacket({ source: src, destination: dst }, message);
  return fromPacket(packet);
}

/** A ReceivedControl from the bytes of a whole packet; throws unless it parses as a control message. */
export function fromPacket(packet: Uint8Array, verifyChecksum = true): ReceivedControl {
  const p = parsePacket(packet, 0, packet.length, { verifyChecksum });
  if (!p.ok) throw new Error(`test packet does not parse: ${p.error.reason} ${p.error.message}`);
  const s = p.value.shim6;
  if (s === undefined || s.kind !== 'control') throw new Error('test packet is not a Shim6 control message');
  return { src: p.value.ipv6.source, dst: p.value.ipv6.destination, message: s.message, packet: packet.subarray(0, p.value.length), shimOffset: s.offset };
}

export function control(rx: ReceivedControl): ContextInput {
  return { kind: 'control', rx };
}

// ---------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------

export type SendAction = Extract<ContextAction, { kind: 'send' }>;

export function sends(r: StepResult | readonly ContextAction[]): SendAction[] {
  const actions = 'actions' in r ? r.actions : r;
  return actions.filter((a): a is SendAction => a.kind === 'send');
}

/** The one send action of `r`, which must carry a message of `kind`. */
export function onlySend<K extends ControlMessage['kind']>(r: StepResult, kind: K): SendAction & { readonly message: Extract<ControlMessage, { kind: K }> } {
  const s = sends(r);
  expect(s.map((a) => a.message.kind)).toEqual([kind]);
  return s[0] as SendAction & { readonly message: Extract<ControlMessage, { kind: K }> };
}

/** Every action of `r` in order, as 'send I2', 'fast-path install', 'notify established'. */
export function kinds(r: StepResult): string[] {
  return r.actions.map((a) => (a.kind === 'send' ? `send ${a.message.kind}` : a.kind === 'fast-path' ? `fast-path ${a.op}` : `notify ${a.event}`));
}

export function option<K extends Option['kind']>(options: readonly Option[], kind: K): Extract<Option, { kind: K }> | undefined {
  return options.find((o) => o.kind === kind) as Extract<Option, { kind: K }> | undefined;
}

export function optionKinds(options: readonly Option[]): string[] {
  return options.map((o) => o.kind);
}

/** The received form of a send action. */
function asReceived(a: SendAction): ReceivedControl {
  return received(a.src, a.dst, a.message);
}

// ---------------------------------------------------------------------------------------
// The two-party wire
// ---------------------------------------------------------------------------------------

/**
 * One host's view of one ULID pair: its current context, its environment, and whether
 * its fast path is installed according to the actions it emitted. `drive` checks after
 * every step that the emitted install/remove actions agree with `hasFastPath`.
 */
export class Side {
  ctx: ShimContext;
  installed: boolean;
  readonly env: TestEnv;
  readonly identity: TestIdentity;
  readonly history: StepResult[] = [];

  constructor(identity: TestIdentity, peer: TestIdentity, env: TestEnv, extra: Partial<NewContextParams> = {}, now = 0) {
    this.identity = identity;
    this.env = env;
    this.ctx = idleFor(identity, peer, now, extra);
    this.installed = false;
  }

  /** Steps the context, keeps the result, and checks the fast-path bookkeeping. */
  drive(input: ContextInput, now: number): StepResult {
    const r = step(this.ctx, input, now, this.env);
    for (const a of r.actions) {
      if (a.kind !== 'fast-path') continue;
      if (a.op === 'install') {
        expect(this.installed, 'install while installed').toBe(false);
        this.installed = true;
      } else if (a.op === 'remove') {
        expect(this.installed, 'remove while not installed').toBe(true);
        this.installed = false;
      } else {
        expect(this.installed, 'update while not installed').toBe(true);
      }
    }
    expect(this.installed).toBe(hasFastPath(r.ctx));
    this.ctx = r.ctx;
    this.history.push(r);
    return r;
  }

  /** Feeds every `send` action of `from` to this side as a received control message; returns one result per message. */
  receive(from: StepResult | readonly SendAction[], now: number): StepResult[] {
    const list = Array.isArray(from) ? (from as readonly SendAction[]) : sends(from as StepResult);
    return list.map((a) => this.drive(control(asReceived(a)), now));
  }

  /** Forgets the context (crash or garbage collection): a fresh IDLE context with the same ULID pair. */
  lose(peer: TestIdentity, now: number): void {
    this.ctx = idleFor(this.identity, peer, now);
    this.installed = false;
  }
}

export interface Pair {
  readonly a: Side;
  readonly b: Side;
}

/** Host `x` and host `y` with IDLE contexts for their ULID pair. */
export function pair(x: TestIdentity, y: TestIdentity, opts: { readonly a?: EnvOptions; readonly b?: EnvOptions } = {}): Pair {
  return {
    a: new Side(x, y, makeEnv([x], { seed: `side-${x.name}`, firstTag: 0x0a000, ...opts.a })),
    b: new Side(y, x, makeEnv([y], { seed: `side-${y.name}`, firstTag: 0x0b000, ...opts.b })),
  };
}

/**
 * The normal exchange (§7.3): `a` sends I1 at t0, `b` (stateless, IDLE) answers R1, `a`
 * sends I2, `b` answers R2. Both end ESTABLISHED at t0 + 30.
 */
export function establish(p: Pair, t0 = 0): { readonly i1: StepResult; readonly r1: StepResult; readonly i2: StepResult; readonly r2: StepResult; readonly done: StepResult } {
  const i1 = p.a.drive({ kind: 'establish' }, t0);
  const [r1] = p.b.receive(i1, t0 + 10);
  const [i2] = p.a.receive(r1!, t0 + 20);
  const [r2] = p.b.receive(i2!, t0 + 30);
  const [done] = p.a.receive(r2!, t0 + 40);
  expect(p.a.ctx.state).toBe('ESTABLISHED');
  expect(p.b.ctx.state).toBe('ESTABLISHED');
  return { i1, r1: r1!, i2: i2!, r2: r2!, done: done! };
}

/**
 * What the engine answers for a packet with Receiver Context Tag `tag` that matches no
 * context (§7.17): an R1bis from the packet's destination to its source, made by the
 * host's validators. The context machine itself cannot send it: an IDLE context has no
 * CT(local) for the engine to find.
 */
export function engineR1bis(env: ContextEnv, tag: number, packetSrc: Uint8Array, packetDst: Uint8Array, now: number): SendAction & { readonly message: R1bisMessage } {
  const { responderNonce, validator } = env.validators.r1bis(now, { packetContextTag: tag, locInitiator: packetSrc, locResponder: packetDst });
  return {
    kind: 'send',
    src: packetDst,
    dst: packetSrc,
    message: { kind: 'R1bis', nextHeader: 59, reserved1: 0, r: 0, packetContextTag: tag, responderNonce, options: [{ kind: 'ResponderValidator', critical: false, validator }] },
  };
}

/** `x` with fields replaced, for forged copies of real messages. */
export function forge<M extends ControlMessage>(m: M, fields: Partial<M>): M {
  return { ...m, ...fields };
}
