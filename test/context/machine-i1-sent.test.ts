/**
 * The context state machine in I1-SENT: one test per trigger cell of RFC 5533
 * Appendix B, with §7 (and §10.4-10.5, §12.2) where the text is more specific. See
 * machine.util.ts for the helpers and env.util.ts for the two-party wire.
 */
import { describe, expect, test } from 'vitest';
import { nextDeadline } from '../../src/context/machine.js';
import { locatorListSignedData } from '../../src/crypto/signature.js';
import {
  CGA,
  STRANGER,
  control,
  engineR1bis,
  forge,
  hostA,
  hostB,
  hostC,
  kinds,
  onlySend,
  option,
  optionKinds,
  provider,
  received,
} from './env.util.js';
import { expectDiscarded, inEstablished, inI1Sent, inI2Sent, keepalive, payloadFor, T0, updateAck, updateRequest } from './states.util.js';
import { replaceOption, badValidator, verifiedLs, i2FromStranger, expectJittered, fire, NOT_FOR_STATE } from './machine.util.js';

describe('I1-SENT', () => {
  test('I1-SENT + R1 → sends I2, moves to I2-SENT', () => {
    const { p, i1 } = inI1Sent();
    const [r1] = p.b.receive(i1, T0 + 10);
    const r1m = onlySend(r1!, 'R1');
    const [r] = p.a.receive(r1!, T0 + 20);
    expect(kinds(r!)).toEqual(['send I2']);
    const c = r!.ctx;
    expect(c.state).toBe('I2-SENT');
    const i2 = onlySend(r!, 'I2');
    expect(i2.src).toEqual(hostA.ulid);
    expect(i2.dst).toEqual(hostB.ulid);
    expect(i2.message.initiatorContextTag).toBe(c.ctLocal);
    // We keep the I1's INIT Nonce (§7.11 allows either; §6.2 "to receive late R2").
    expect(i2.message.initiatorNonce).toBe(onlySend(i1, 'I1').message.initiatorNonce);
    expect(i2.message.responderNonce).toBe(r1m.message.responderNonce);
    expect(optionKinds(i2.message.options)).toEqual(['ResponderValidator', 'LocatorList', 'CgaParameterDataStructure']);
    expect(option(i2.message.options, 'ResponderValidator')!.validator).toEqual(option(r1m.message.options, 'ResponderValidator')!.validator);
    expect(option(i2.message.options, 'LocatorList')).toMatchObject({ generation: c.genLocal, locators: hostA.locators });
    expect(option(i2.message.options, 'CgaParameterDataStructure')!.pds).toEqual(hostA.pds);
    expectJittered(c.retransmit!, 4_000);
    expect(c.retransmit).toMatchObject({ count: 0, sentAt: T0 + 20 });
  });

  test('I1-SENT + R1 (CGA host) → the I2 carries Locator List, CGA PDS and a CGA Signature over the CGA locators (§7.11, §5.15.5)', () => {
    const { p, i2 } = inI2Sent({ x: hostC, y: hostB });
    const m = onlySend(i2, 'I2');
    expect(optionKinds(m.message.options)).toEqual(['ResponderValidator', 'LocatorList', 'CgaParameterDataStructure', 'CgaSignature']);
    const list = option(m.message.options, 'LocatorList')!;
    expect(list.locators.map((l) => l.verificationMethod)).toEqual([CGA, CGA]);
    expect(list.locators[1]!.address).toEqual(hostC.alt);
    const sig = option(m.message.options, 'CgaSignature')!.signature;
    expect(provider.verify(hostC.spki!, locatorListSignedData(list.generation, list.locators, 'table4'), sig)).toBe(true);
    // And B accepts it: Ls(C) verified, including the address that is not a CGA.
    const [r] = p.b.receive(i2, T0 + 30);
    expect(r!.ctx.state).toBe('ESTABLISHED');
    expect(r!.ctx.lsPeer).toEqual(verifiedLs(hostC));
  });

  test('I1-SENT + R1 with another INIT Nonce → discarded, stays I1-SENT', () => {
    const { p, i1 } = inI1Sent();
    const [r1] = p.b.receive(i1, T0 + 10);
    const m = onlySend(r1!, 'R1');
    const before = p.a.ctx;
    const r = p.a.drive(control(received(m.src, m.dst, forge(m.message, { initiatorNonce: (m.message.initiatorNonce + 1) >>> 0 }))), T0 + 20);
    expectDiscarded(r, before, 'nonce-mismatch');
  });

  test('I1-SENT + R1 without a Responder Validator → discarded, stays I1-SENT', () => {
    const { p, i1 } = inI1Sent();
    const [r1] = p.b.receive(i1, T0 + 10);
    const m = onlySend(r1!, 'R1');
    const before = p.a.ctx;
    const r = p.a.drive(control(received(m.src, m.dst, forge(m.message, { options: [] }))), T0 + 20);
    expectDiscarded(r, before, 'bad-validator');
  });

  test('I1-SENT + I1 → sends R2, stays I1-SENT with CT(peer) unset (crossing I1s, §7.4, §7.9)', () => {
    const { p } = inI1Sent();
    const bI1 = p.b.drive({ kind: 'establish' }, T0 + 1);
    const before = p.a.ctx;
    const [r] = p.a.receive(bI1, T0 + 10);
    expect(kinds(r!)).toEqual(['send R2']);
    expect(r!.ctx.state).toBe('I1-SENT');
    expect(r!.ctx.ctPeer).toBeUndefined();
    expect(r!.ctx.ctLocal).toBe(before.ctLocal);
    expect(r!.ctx.initNonce).toBe(before.initNonce);
    expect(r!.ctx.retransmit).toBe(before.retransmit);
    const r2 = onlySend(r!, 'R2');
    const m = onlySend(bI1, 'I1');
    expect(r2.src).toEqual(m.dst);
    expect(r2.dst).toEqual(m.src);
    expect(r2.message.responderContextTag).toBe(before.ctLocal);
    expect(r2.message.initiatorNonce).toBe(m.message.initiatorNonce);
    expect(optionKinds(r2.message.options)).toEqual(['LocatorList', 'CgaParameterDataStructure']);
  });

  test('I1-SENT + R2 → ESTABLISHED, installs fast path (crossing I1s, Figure 4)', () => {
    const { p, i1: aI1 } = inI1Sent();
    const bI1 = p.b.drive({ kind: 'establish' }, T0 + 1);
    const [aR2] = p.a.receive(bI1, T0 + 10);
    const [bR2] = p.b.receive(aI1, T0 + 11);
    const [rb] = p.b.receive(aR2!, T0 + 20);
    const [ra] = p.a.receive(bR2!, T0 + 21);
    for (const [r, self, peer, id] of [[ra!, p.a, p.b, hostB], [rb!, p.b, p.a, hostA]] as const) {
      expect(kinds(r)).toEqual(['fast-path install', 'notify established']);
      expect(r.ctx.state).toBe('ESTABLISHED');
      expect(r.ctx.ctPeer).toBe(peer.ctx.ctLocal);
      expect(r.ctx.lsPeer).toEqual(verifiedLs(id));
      expect(r.ctx.pdsPeer).toEqual(id.pds);
      expect(r.ctx.retransmit).toBeUndefined();
      expect(self.installed).toBe(true);
    }
  });

  test('I1-SENT + R2 with another INIT Nonce → discarded, stays I1-SENT', () => {
    const { p } = inI1Sent();
    const bI1 = p.b.drive({ kind: 'establish' }, T0 + 1);
    const [aR2] = p.a.receive(bI1, T0 + 10);
    const m = onlySend(aR2!, 'R2');
    const before = p.b.ctx;
    const r = p.b.drive(control(received(m.src, m.dst, forge(m.message, { initiatorNonce: (m.message.initiatorNonce ^ 1) >>> 0 }))), T0 + 20);
    expectDiscarded(r, before, 'nonce-mismatch');
  });

  test('I1-SENT + R2 with a CGA Parameter Data Structure that is not ULID(peer)\'s → silently discarded (§7.16)', () => {
    const { p } = inI1Sent();
    const bI1 = p.b.drive({ kind: 'establish' }, T0 + 1);
    const [aR2] = p.a.receive(bI1, T0 + 10);
    const m = onlySend(aR2!, 'R2');
    const forged = forge(m.message, { options: replaceOption(m.message.options, 'CgaParameterDataStructure', { kind: 'CgaParameterDataStructure', critical: false, pds: hostB.pds }) });
    const before = p.b.ctx;
    expectDiscarded(p.b.drive(control(received(m.src, m.dst, forged)), T0 + 20), before, 'bad-pds');
  });

  test('I1-SENT + I2 → sends R2, moves to ESTABLISHED keeping CT(local) (crossing I2 and I1, Figure 5)', () => {
    const { p, i1: aI1 } = inI1Sent();
    const [r1] = p.b.receive(aI1, T0 + 10);
    const bI1 = p.b.drive({ kind: 'establish' }, T0 + 11);
    const bTag = p.b.ctx.ctLocal;
    const [i2] = p.a.receive(r1!, T0 + 20);
    const [r] = p.b.receive(i2!, T0 + 30);
    expect(kinds(r!)).toEqual(['fast-path install', 'send R2', 'notify established']);
    expect(r!.ctx.state).toBe('ESTABLISHED');
    expect(r!.ctx.ctLocal).toBe(bTag);
    expect(p.b.env.allocated).toEqual([bTag]);
    expect(r!.ctx.ctPeer).toBe(p.a.ctx.ctLocal);
    expect(r!.ctx.retransmit).toBeUndefined();
    const r2 = onlySend(r!, 'R2');
    expect(r2.message.responderContextTag).toBe(bTag);
    expect(r2.message.initiatorNonce).toBe(onlySend(i2!, 'I2').message.initiatorNonce);
    // The rest of Figure 5: A (I2-SENT) answers B's I1 with R2, which B ignores; B's R2 completes A.
    const [aR2] = p.a.receive(bI1, T0 + 31);
    const bBefore = p.b.ctx;
    const [late] = p.b.receive(aR2!, T0 + 40);
    expectDiscarded(late!, bBefore, NOT_FOR_STATE);
    const [done] = p.a.receive(r!, T0 + 41);
    expect(done!.ctx.state).toBe('ESTABLISHED');
    expect(done!.ctx.ctPeer).toBe(bTag);
  });

  test('I1-SENT + I2 from a locator in neither Ls(peer) nor its verified list → discarded, stays I1-SENT (§7.13)', () => {
    const { p, i1: aI1 } = inI1Sent();
    const [r1] = p.b.receive(aI1, T0 + 10);
    p.b.drive({ kind: 'establish' }, T0 + 11);
    const [i2] = p.a.receive(r1!, T0 + 20);
    const m = onlySend(i2!, 'I2');
    const before = p.b.ctx;
    const r = p.b.drive(control(received(STRANGER, m.dst, i2FromStranger(m, p.b.env, T0 + 30))), T0 + 30);
    expectDiscarded(r, before, 'source-not-verified');
  });

  test('I1-SENT + I2 with a bad validator → discarded, stays I1-SENT', () => {
    const { p, i1: aI1 } = inI1Sent();
    const [r1] = p.b.receive(aI1, T0 + 10);
    p.b.drive({ kind: 'establish' }, T0 + 11);
    const [i2] = p.a.receive(r1!, T0 + 20);
    const m = onlySend(i2!, 'I2');
    const before = p.b.ctx;
    expectDiscarded(p.b.drive(control(received(m.src, m.dst, badValidator(m.message))), T0 + 30), before, 'bad-validator');
  });

  test('I1-SENT + I2bis → sends R2, moves to ESTABLISHED (the peer kept the context we lost, §7.20)', () => {
    const { p } = inEstablished();
    const t = T0 + 1_000;
    p.b.lose(hostA, t);
    p.b.drive({ kind: 'establish' }, t + 1); // B: I1-SENT for the same ULID pair (the I1 is still in flight)
    const bTag = p.b.ctx.ctLocal;
    const r1bis = engineR1bis(p.b.env, p.a.ctx.ctPeer!, p.a.ctx.lpLocal, p.a.ctx.lpPeer, t + 2);
    const [i2bis] = p.a.receive([r1bis], t + 10);
    const [r] = p.b.receive(i2bis!, t + 20);
    expect(kinds(r!)).toEqual(['fast-path install', 'send R2', 'notify established']);
    expect(r!.ctx.state).toBe('ESTABLISHED');
    expect(r!.ctx.ctLocal).toBe(bTag);
    expect(r!.ctx.ctPeer).toBe(p.a.ctx.ctLocal);
    expect(onlySend(r!, 'R2').message.initiatorNonce).toBe(onlySend(i2bis!, 'I2bis').message.initiatorNonce);
    const [done] = p.a.receive(r!, t + 30);
    expect(kinds(done!)).toEqual(['fast-path update', 'notify recovered']);
    expect(done!.ctx.ctPeer).toBe(bTag);
  });

  test('I1-SENT + timeout ×4 → retransmits with backoff; 5th → E-FAILED', () => {
    // §7.8 with jitter off: exact deadlines.
    const { p, i1 } = inI1Sent({ config: { jitter: false } });
    const first = onlySend(i1, 'I1').message;
    let t = T0;
    let nominal = 4_000;
    expect(p.a.ctx.retransmit!.deadline).toBe(T0 + 4_000);
    for (let n = 1; n <= 4; n++) {
      const early = p.a.ctx;
      const none = p.a.drive({ kind: 'timeout' }, t + nominal - 1);
      expect(none.ctx).toBe(early);
      expect(none.actions).toEqual([]);
      t += nominal;
      nominal *= 2;
      const r = p.a.drive({ kind: 'timeout' }, t);
      expect(r.ctx.state).toBe('I1-SENT');
      expect(onlySend(r, 'I1').message).toEqual(first);
      expect(r.ctx.retransmit).toEqual({ count: n, timeoutMs: nominal, sentAt: t, deadline: t + nominal });
      expect(nextDeadline(r.ctx, p.a.env)).toBe(t + nominal);
    }
    expect(t).toBe(T0 + 4_000 + 8_000 + 16_000 + 32_000);
    t += nominal;
    const r = p.a.drive({ kind: 'timeout' }, t);
    expect(kinds(r)).toEqual(['notify e-failed']);
    expect(r.ctx.state).toBe('E-FAILED');
    expect(r.ctx.retransmit).toBeUndefined();
    expect(r.ctx.holdUntil).toBe(t + 60_000);
    expect(nextDeadline(r.ctx, p.a.env)).toBe(t + 60_000);
  });

  test('I1-SENT + timeout with jitter → each deadline lies in [0.5, 1.5] × the backed-off timeout (§14)', () => {
    const { p } = inI1Sent();
    const offsets: number[] = [];
    let nominal = 4_000;
    expectJittered(p.a.ctx.retransmit!, nominal);
    offsets.push(p.a.ctx.retransmit!.deadline - T0);
    for (let n = 1; n <= 4; n++) {
      nominal *= 2;
      const r = fire(p.a);
      expectJittered(r.ctx.retransmit!, nominal);
      offsets.push((r.ctx.retransmit!.deadline - r.ctx.retransmit!.sentAt) / nominal);
    }
    // Randomised, not the nominal value every time.
    expect(offsets.slice(1).some((f) => f !== 1)).toBe(true);
    expect(fire(p.a).ctx.state).toBe('E-FAILED');
  });

  test('I1-SENT + ICMP no-support → NO-SUPPORT', () => {
    // §7.8 (Appendix B's table says E-FAILED; its diagram and §6.2 say NO-SUPPORT): held for ICMP_HOLDDOWN_TIME.
    const { p } = inI1Sent();
    const r = p.a.drive({ kind: 'icmp-no-support' }, T0 + 5);
    expect(kinds(r)).toEqual(['notify no-support']);
    expect(r.ctx.state).toBe('NO-SUPPORT');
    expect(r.ctx.retransmit).toBeUndefined();
    expect(r.ctx.holdUntil).toBe(T0 + 5 + 600_000);
    expect(nextDeadline(r.ctx, p.a.env)).toBe(T0 + 5 + 600_000);
  });

  test('I1-SENT + R1bis → N/A (CT(peer) unset); discarded, stays I1-SENT', () => {
    const { p } = inI1Sent();
    const before = p.a.ctx;
    const r1bis = engineR1bis(p.b.env, 0x4242, hostA.ulid, hostB.ulid, T0 + 10);
    expectDiscarded(p.a.receive([r1bis], T0 + 10)[0]!, before, NOT_FOR_STATE);
  });

  test('I1-SENT + payload or other control packet → discarded, stays I1-SENT (§10.4, §10.5, §12.2)', () => {
    const { p } = inI1Sent();
    const before = p.a.ctx;
    const tag = before.ctLocal;
    for (const input of [
      payloadFor(before),
      control(received(hostB.ulid, hostA.ulid, keepalive(tag))),
      control(received(hostB.ulid, hostA.ulid, updateRequest(tag, 5, []))),
      control(received(hostB.ulid, hostA.ulid, updateAck(tag, 5))),
    ]) {
      expectDiscarded(p.a.drive(input, T0 + 10), before, NOT_FOR_STATE);
    }
  });

  test('I1-SENT + heuristic trigger → ignored (already establishing)', () => {
    const { p } = inI1Sent();
    const before = p.a.ctx;
    expectDiscarded(p.a.drive({ kind: 'establish' }, T0 + 10), before, NOT_FOR_STATE);
  });

  test('I1-SENT + local locators changed → nothing sent; the I2 carries the new list and generation', () => {
    const { p, i1 } = inI1Sent();
    const locators = [hostA.locators[1]!, hostA.locators[0]!];
    const r = p.a.drive({ kind: 'local-locators', locators, preferences: undefined }, T0 + 5);
    expect(r.actions).toEqual([]);
    expect(r.ctx.state).toBe('I1-SENT');
    const [r1] = p.b.receive(i1, T0 + 10);
    const [i2] = p.a.receive(r1!, T0 + 20);
    expect(option(onlySend(i2!, 'I2').message.options, 'LocatorList')).toMatchObject({ generation: r.ctx.genLocal, locators });
  });
});

// ---------------------------------------------------------------------------------------
// I2-SENT
// ---------------------------------------------------------------------------------------
