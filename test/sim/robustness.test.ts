/**
 * Robustness in simulation (RFC 5533 §7.10, §7.13, §7.17-7.20, §10.4, §16): an I1
 * flood leaves the responder stateless; replayed and forged I2/I2bis are refused by the
 * Responder Validator; forged Update Requests get an R1bis (unknown tag, or a source
 * outside Ls(peer)) or an Error with code 2 (a locator list that does not verify), and
 * change nothing.
 */
import { describe, expect, it } from 'vitest';
import { addCgaHost, createSimulation } from '../../src/api/index.js';
import type { ShimContext } from '../../src/context/types.js';
import type { ControlMessage } from '../../src/wire/control.js';
import { NO_NXT_HDR } from '../../src/wire/constants.js';
import { encodeControlPacket, parsePacket } from '../../src/wire/packet.js';
import { VALIDATOR_MIN_LIFETIME_MS, VALIDATOR_NONCE_PERIOD_MS } from '../../src/context/constants.js';
import { addresses, ctxOf, expectEstablished, identity, isKind, kinds, packetsOf, pair, PREFIXES_B, transcriptText } from './scenario.util.js';
import { verificationMethodCodes } from '../../src/wire/verification-method.js';

function messageOf(bytes: Uint8Array): ControlMessage {
  const p = parsePacket(bytes);
  if (!p.ok || p.value.shim6?.kind !== 'control') throw new Error('not a control packet');
  return p.value.shim6.message;
}

/** The fields of a context that a refused message must not change. */
function essence(c: ShimContext | undefined) {
  if (c === undefined) return undefined;
  return { state: c.state, ctLocal: c.ctLocal, ctPeer: c.ctPeer, lsPeer: addresses(c.lsPeer), genPeer: c.genPeer, lpLocal: [...c.lpLocal], lpPeer: [...c.lpPeer] };
}

/** A 47-bit tag with its lowest bit flipped (tags exceed 32 bits, so no `^`). */
function otherTag(tag: number): number {
  return tag % 2 === 0 ? tag + 1 : tag - 1;
}

const HEAD = { nextHeader: NO_NXT_HDR, reserved1: 0, r: 0 } as const;

describe('I1 flood (RFC 5533 §7.10: the responder keeps no state before a valid I2)', () => {
  it('10,000 I1s from random sources create no context and get only R1s', async () => {
    const sim = createSimulation({ seed: 11, transcript: false });
    const { id: ib } = await identity(sim, 'B', PREFIXES_B, 2);
    const b = sim.addHost('B', ib);
    const rnd = sim.random.fork('flood');
    const N = 10_000;
    for (let i = 0; i < N; i++) {
      const src = new Uint8Array(16);
      src.set([0x20, 0x01, 0x0d, 0xb8, 0xee], 0);
      src.set(rnd.bytes(11), 5);
      const i1: ControlMessage = { kind: 'I1', ...HEAD, initiatorContextTag: rnd.int(2 ** 31), initiatorNonce: rnd.u32(), options: [] };
      sim.at(i, () => sim.inject(encodeControlPacket({ source: src, destination: b.ulid }, i1)));
    }
    let maxSize = 0;
    sim.runUntil(() => {
      maxSize = Math.max(maxSize, b.engine.size);
      return false;
    }, 20_000);
    expect(maxSize).toBe(0);
    expect(b.engine.size).toBe(0);
    expect(b.engine.nextDeadline()).toBeUndefined();
    const fromB = kinds(sim, 'B');
    expect(fromB).toHaveLength(N);
    expect(new Set(fromB)).toEqual(new Set(['R1']));
    expect(b.engine.counters()['rx.I1']).toBe(N);
    expect(b.engine.counters()['tx.R1']).toBe(N);
    // The R1s go to addresses nobody owns.
    expect(sim.network.totals().dropped['no-route']).toBe(N);
  });
});

describe('replayed and forged I2 / I2bis (RFC 5533 §7.13, §7.20)', () => {
  const STALE_AFTER_MS = VALIDATOR_MIN_LIFETIME_MS + 2 * VALIDATOR_NONCE_PERIOD_MS;

  it('an I2 replayed after VALIDATOR_MIN_LIFETIME changes nothing, with or without the context', async () => {
    const { sim, a, b } = await pair();
    a.establish(b.ulid);
    sim.run(1_000);
    const i2 = packetsOf(sim, 'I2')[0]!;
    const before = essence(ctxOf(b, a));
    sim.run(i2.sentAt + STALE_AFTER_MS);
    sim.note('replay of the I2 to the ESTABLISHED responder');
    sim.inject(i2.bytes);
    sim.runFor(1_000);
    expect(essence(ctxOf(b, a))).toEqual(before);
    expect(b.engine.counters()['drop.stale-validator']).toBe(1);

    sim.note('B tears its context down; the I2 is replayed again');
    b.teardown(ctxOf(b, a).id);
    sim.inject(i2.bytes);
    sim.runFor(1_000);
    expect(b.engine.size).toBe(0);
    expect(b.engine.counters()['drop.stale-validator']).toBe(2);
    expect(kinds(sim, 'B')).toEqual(['R1', 'R2']);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/robust-replayed-i2.txt');
  });

  it('control: the same replay within VALIDATOR_MIN_LIFETIME is accepted (the validator, not luck, refuses the stale one)', async () => {
    const { sim, a, b } = await pair();
    a.establish(b.ulid);
    sim.run(1_000);
    const i2 = packetsOf(sim, 'I2')[0]!;
    b.teardown(ctxOf(b, a).id);
    sim.inject(i2.bytes);
    sim.runFor(1_000);
    expect(ctxOf(b, a).state).toBe('ESTABLISHED');
  });

  it('a forged I2 (validator changed, or tag changed under the real validator) creates nothing', async () => {
    const { sim, a, b } = await pair();
    sim.network.dropNext(isKind('I2'), 1);
    a.establish(b.ulid);
    sim.run(30);
    const real = messageOf(packetsOf(sim, 'I2')[0]!.bytes);
    if (real.kind !== 'I2') throw new Error('not an I2');
    const badValidator = { ...real, options: real.options.map((o) => (o.kind === 'ResponderValidator' ? { ...o, validator: o.validator.map((x, i) => (i === 0 ? x ^ 1 : x)) } : o)) };
    const badTag = { ...real, initiatorContextTag: otherTag(real.initiatorContextTag) };
    sim.note('forged I2s from A\'s address');
    sim.inject(encodeControlPacket({ source: a.ulid, destination: b.ulid }, badValidator));
    sim.inject(encodeControlPacket({ source: a.ulid, destination: b.ulid }, badTag));
    sim.run(40);
    expect(b.engine.size).toBe(0);
    expect(b.engine.counters()['drop.bad-validator']).toBe(2);
    expect(kinds(sim, 'B')).toEqual(['R1']);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/robust-forged-i2.txt');
  });

  it('a forged I2bis changes nothing on an ESTABLISHED responder and creates nothing on a rebooted one', async () => {
    const { sim, a, b } = await pair();
    a.establish(b.ulid);
    sim.run(1_000);
    const { ca, cb } = expectEstablished(a, b);
    const before = essence(cb);
    const i2bis: ControlMessage = {
      kind: 'I2bis', ...HEAD, reserved2: 0,
      initiatorContextTag: 0x1234, initiatorNonce: 0x5678, responderNonce: 0x97f6dcbc, packetContextTag: cb.ctLocal,
      options: [
        { kind: 'ResponderValidator', critical: false, validator: new Uint8Array(16).fill(0xab) },
        { kind: 'UlidPair', critical: false, reserved2: 0, senderUlid: a.ulid, receiverUlid: b.ulid },
      ],
    };
    const forged = encodeControlPacket({ source: ca.lsLocal[1]!.address, destination: cb.lsLocal[1]!.address }, i2bis);
    sim.note('forged I2bis to the ESTABLISHED responder');
    sim.inject(forged);
    sim.runFor(100);
    expect(essence(ctxOf(b, a))).toEqual(before);
    sim.note('B reboots; the forged I2bis again');
    b.reboot();
    sim.inject(forged);
    sim.runFor(100);
    expect(b.engine.size).toBe(0);
    expect(kinds(sim, 'B')).toEqual(['R1', 'R2']);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/robust-forged-i2bis.txt');
  });
});

describe('forged Update Requests (RFC 5533 §10.4)', () => {
  it('a wrong tag, or a source outside Ls(peer), gets an R1bis and changes nothing', async () => {
    const { sim, a, b, locsA } = await pair();
    a.establish(b.ulid);
    sim.run(1_000);
    const { cb } = expectEstablished(a, b);
    const before = essence(cb);
    const ur = (tag: number): ControlMessage => ({
      kind: 'UpdateRequest', ...HEAD, receiverContextTag: tag, requestNonce: 0xdeadbeef,
      options: [{ kind: 'LocatorList', critical: false, generation: 7, locators: [...locsA] }, { kind: 'CgaParameterDataStructure', critical: false, pds: a.identities[0]!.pds! }],
    });
    sim.note('Update Request with a tag B never allocated');
    sim.inject(encodeControlPacket({ source: a.ulid, destination: b.ulid }, ur(otherTag(cb.ctLocal))));
    sim.runFor(100);
    sim.note('Update Request with the right tag from an address outside Ls(peer)');
    sim.inject(encodeControlPacket({ source: locsA[2]!.address, destination: b.ulid }, ur(cb.ctLocal)));
    sim.runFor(100);
    expect(essence(ctxOf(b, a))).toEqual(before);
    expect(kinds(sim, 'B').slice(2)).toEqual(['R1bis', 'R1bis']);
    expect(b.engine.counters()['tx.UpdateAck']).toBeUndefined();
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/robust-forged-update-r1bis.txt');
  });

  it('a locator list that fails HBA verification gets Error code 2 and changes nothing', async () => {
    const { sim, a, b, locsA } = await pair();
    a.establish(b.ulid);
    sim.run(1_000);
    const { cb } = expectEstablished(a, b);
    const before = essence(cb);
    const hba = verificationMethodCodes('table4').HBA;
    const foreign = new Uint8Array(16);
    foreign.set(locsA[1]!.address.subarray(0, 8), 0);
    foreign[15] = 0x66; // in A's second prefix, but not A's HBA
    const ur: ControlMessage = {
      kind: 'UpdateRequest', ...HEAD, receiverContextTag: cb.ctLocal, requestNonce: 0xdeadbeef,
      options: [
        { kind: 'LocatorList', critical: false, generation: 7, locators: [locsA[0]!, { address: foreign, verificationMethod: hba }] },
        { kind: 'CgaParameterDataStructure', critical: false, pds: a.identities[0]!.pds! },
      ],
    };
    sim.inject(encodeControlPacket({ source: a.ulid, destination: b.ulid }, ur));
    sim.runFor(100);
    expect(essence(ctxOf(b, a))).toEqual(before);
    const errors = packetsOf(sim, 'Error').map((p) => messageOf(p.bytes));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.kind === 'Error' && errors[0]!.errorCode).toBe(2);
    // A did not send that request: its context ignores the Error.
    expect(a.engine.counters()['drop.error-unmatched']).toBe(1);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/robust-forged-update-error2.txt');
  });
});

describe('forged Update Requests with CGA-signed locators (RFC 5533 §5.15.5, §7.2)', () => {
  it('a genuine signed update is accepted; one with a bad CGA Signature gets Error code 2 and changes nothing', async () => {
    const sim = createSimulation({ seed: 12, link: { delayMs: 10 } , reap: { mode: 'off' } });
    const a = await addCgaHost(sim, 'A', '2001:db8:c1::/64', ['2001:db8:c2::/64', '2001:db8:c3::/64']);
    const { id: ib } = await identity(sim, 'B', PREFIXES_B, 2);
    const b = sim.addHost('B', ib);
    const [ulid, l2, l3] = a.identities[0]!.locators;
    // Start with two locators; the third comes in a signed update.
    a.setLocalLocators(a.ulid, [ulid!, l2!]);
    a.establish(b.ulid);
    sim.run(1_000);
    expectEstablished(a, b);
    expect(addresses(ctxOf(b, a).lsPeer)).toEqual(addresses([ulid!, l2!]));
    a.setLocalLocators(a.ulid, [ulid!, l2!, l3!]);
    sim.run(2_000);
    const { cb } = expectEstablished(a, b);
    expect(addresses(cb.lsPeer)).toEqual(addresses([ulid!, l2!, l3!]));
    const signed = packetsOf(sim, 'UpdateRequest').map((p) => {
      const m = messageOf(p.bytes);
      return m.kind === 'UpdateRequest' && m.options.some((o) => o.kind === 'CgaSignature');
    });
    expect(signed).toEqual([true]);

    const before = essence(cb);
    const forged: ControlMessage = {
      kind: 'UpdateRequest', ...HEAD, receiverContextTag: cb.ctLocal, requestNonce: 0x0badc0de,
      options: [
        { kind: 'LocatorList', critical: false, generation: 0x77, locators: [ulid!] },
        { kind: 'CgaParameterDataStructure', critical: false, pds: a.identities[0]!.pds! },
        { kind: 'CgaSignature', critical: false, signature: new Uint8Array(128).fill(0x5a) },
      ],
    };
    sim.inject(encodeControlPacket({ source: a.ulid, destination: b.ulid }, forged));
    sim.run(3_000);
    expect(essence(ctxOf(b, a))).toEqual(before);
    const errors = packetsOf(sim, 'Error').map((p) => messageOf(p.bytes));
    expect(errors.map((e) => e.kind === 'Error' && e.errorCode)).toEqual([2]);
    expect(essence(ctxOf(a, b))?.state).toBe('ESTABLISHED');
  });
});
