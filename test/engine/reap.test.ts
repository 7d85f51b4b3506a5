// The engine's REAP inputs (src/engine/engine.ts): traffic with a direction, local
// signals, upper-layer hints, operator explorations, and the host-wide probe cap.
import { describe, expect, it } from 'vitest';
import type { ShimEngine } from '../../src/engine/engine.js';
import { bytesEqual } from '../../src/wire/bytes.js';
import { engine, hbaIdentity, pump } from './engine.util.js';

async function established(reap: Record<string, unknown> = {}): Promise<{ a: ShimEngine; b: ShimEngine; t: number }> {
  const a = engine(await hbaIdentity(['2001:db8:a1::', '2001:db8:a2::'], 1), 11, { reap });
  const b = engine(await hbaIdentity(['2001:db8:b1::', '2001:db8:b2::'], 2), 12, { reap });
  const ulidB = b.identities()[0]!.ulid;
  expect(a.establish(a.identities()[0]!.ulid, ulidB, 0).ok).toBe(true);
  pump({ a, b }, 0);
  expect([...a.contexts()][0]!.state).toBe('ESTABLISHED');
  expect([...b.contexts()][0]!.state).toBe('ESTABLISHED');
  return { a, b, t: 1_000 };
}

function only(e: ShimEngine) {
  return [...e.contexts()][0]!;
}

describe('engine REAP inputs', () => {
  it('traffic with a direction runs the Send and Keepalive timers (RFC 5534 §6.1-6.2); without one it does not', async () => {
    const { a, b, t } = await established();
    const ulidA = a.identities()[0]!.ulid;
    const ulidB = b.identities()[0]!.ulid;
    a.traffic(ulidA, ulidB, 1, t);
    expect(only(a).reap!.sendTimerAt).toBeUndefined();
    a.traffic(ulidA, ulidB, 1, t, 0, 'sent');
    const at = only(a).reap!.sendTimerAt!;
    // fast profile: 400 ms × U[1, 1.1)
    expect(at).toBeGreaterThanOrEqual(t + 400);
    expect(at).toBeLessThan(t + 440);
    expect(a.nextDeadline()).toBeLessThanOrEqual(at);
    // Nothing comes back: the deadline starts an exploration with a Probe (§6.4).
    a.tick(at);
    expect(only(a).reap!.state).toBe('Exploring');
    const sent = a.takeActions().filter((x) => x.kind === 'send').map((x) => (x.kind === 'send' ? x.message.kind : ''));
    expect(sent).toEqual(['Probe']);
    expect(a.counters()['reap.exploring']).toBe(1);
    // Receiving moves it to InboundOk (§6.1 Exploring).
    a.traffic(ulidA, ulidB, 1, at + 5, 0, 'received');
    expect(only(a).reap!.state).toBe('InboundOk');
  });

  it('a local link going down starts exploring at once on the contexts that use it, away from that locator; idempotent', async () => {
    const { a, t } = await established();
    const ctx = only(a);
    a.localLocatorDown(ctx.lpLocal, t);
    expect(only(a).reap!.state).toBe('Exploring');
    expect(only(a).reap!.exploring!.reason).toBe('local-signal');
    const probes = a.takeActions().filter((x) => x.kind === 'send');
    expect(probes).toHaveLength(1);
    expect(bytesEqual(probes[0]!.kind === 'send' ? probes[0]!.src : new Uint8Array(), ctx.lpLocal)).toBe(false);
    a.localLocatorDown(ctx.lpLocal, t + 1);
    expect(a.counters()['reap.local-down']).toBe(1);
    a.localLocatorUp(ctx.lpLocal, t + 2);
    a.localLocatorUp(ctx.lpLocal, t + 3);
    expect(a.counters()['reap.local-up']).toBe(1);
  });

  it('the rfc profile ignores local signals (exactly RFC 5534) but still avoids the dead locator when exploring', async () => {
    const { a, t } = await established({ mode: 'rfc' });
    const ctx = only(a);
    a.localLocatorDown(ctx.lpLocal, t);
    expect(only(a).reap!.state).toBe('Operational');
    a.explore(ctx.id, t + 1);
    const probe = a.takeActions().find((x) => x.kind === 'send');
    expect(probe?.kind === 'send' && probe.message.kind === 'Probe').toBe(true);
    expect(probe?.kind === 'send' && !bytesEqual(probe.src, ctx.lpLocal)).toBe(true);
  });

  it('upper-layer retransmissions start exploring at the threshold, only while nothing came back', async () => {
    const { a, b, t } = await established({ sendTimeoutMs: 10_000 });
    const ulidA = a.identities()[0]!.ulid;
    const ulidB = b.identities()[0]!.ulid;
    // Not sending: a hint alone is not enough.
    a.ulpRetransmit(ulidA, ulidB, t);
    a.ulpRetransmit(ulidA, ulidB, t);
    expect(only(a).reap!.state).toBe('Operational');
    a.traffic(ulidA, ulidB, 1, t + 10, 0, 'sent');
    a.ulpRetransmit(ulidA, ulidB, t + 210);
    expect(only(a).reap!.state).toBe('Operational');
    // Something came back: the count starts again.
    a.traffic(ulidA, ulidB, 1, t + 220, 0, 'received');
    a.traffic(ulidA, ulidB, 1, t + 230, 0, 'sent');
    a.ulpRetransmit(ulidA, ulidB, t + 430);
    expect(only(a).reap!.state).toBe('Operational');
    a.ulpRetransmit(ulidA, ulidB, t + 830);
    expect(only(a).reap!.state).toBe('Exploring');
    expect(only(a).reap!.exploring!.reason).toBe('ulp-hint');
    expect(a.counters()['reap.ulp-retransmit']).toBe(5);
  });

  it('explore(id) is the operator\'s command; unknown ids are refused', async () => {
    const { a, t } = await established();
    expect(a.explore(only(a).id, t)).toBe(true);
    expect(only(a).reap!.exploring!.reason).toBe('operator');
    expect(a.explore(9_999, t)).toBe(false);
  });

  it('caps the probes of all contexts together (hostProbeRatePerS), counting what it holds back', async () => {
    const { a, b, t } = await established({ hostProbeRatePerS: 2 });
    const ulidA = a.identities()[0]!.ulid;
    const ulidB = b.identities()[0]!.ulid;
    // Nine more contexts for the same ULID pair (forks, RFC 5533 §4.2).
    for (let fii = 1; fii < 10; fii++) expect(a.establish(ulidA, ulidB, t, { fii }).ok).toBe(true);
    pump({ a, b }, t);
    expect([...a.contexts()].filter((c) => c.state === 'ESTABLISHED')).toHaveLength(10);
    const isProbe = (x: ReturnType<ShimEngine['takeActions']>[number]): boolean => x.kind === 'send' && x.message.kind === 'Probe';
    for (const c of [...a.contexts()]) a.explore(c.id, t + 100);
    let probes = a.takeActions().filter(isProbe).length;
    expect(probes).toBe(2);
    expect(a.counters()['reap.probe-rate-limited']).toBe(8);
    // The timers keep trying; over 10 s at most 2/s more leave.
    for (let now = t + 150; now <= t + 10_100; now += 50) {
      a.tick(now);
      probes += a.takeActions().filter(isProbe).length;
    }
    expect(probes).toBeLessThanOrEqual(2 + 20);
    // A probe the cap held back is not retried early: each context waits for its next back-off slot.
    expect(probes).toBeGreaterThanOrEqual(10);
  });
});
