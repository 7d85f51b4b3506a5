/**
 * A peer without Shim6 (RFC 5533 §7.8): one whose IPv6 stack answers the I1 with ICMPv6
 * Parameter Problem code 1 (the initiator moves to NO-SUPPORT and holds down for
 * ICMP_HOLDDOWN_TIME), and one that stays silent (after I1_RETRIES_MAX retransmissions
 * the initiator moves to E-FAILED and holds down for NO_R1_HOLDDOWN_TIME). Plain traffic
 * keeps flowing in both cases.
 */
import { describe, expect, it } from 'vitest';
import { ICMP_HOLDDOWN_TIME_MS, I1_RETRIES_MAX, NO_R1_HOLDDOWN_TIME_MS } from '../../src/context/constants.js';
import { addr, identity, kinds, PREFIXES_A, transcriptText } from './scenario.util.js';
import { createSimulation } from '../../src/api/index.js';

async function withLegacy(behaviour: 'icmp' | 'silent') {
  const sim = createSimulation({ seed: 3, link: { delayMs: 10 } , reap: { mode: 'off' } });
  const { id: ia } = await identity(sim, 'A', PREFIXES_A, 2);
  const a = sim.addHost('A', ia);
  const l = sim.addLegacyHost('L', [addr('2001:db8:c1::1')], behaviour);
  return { sim, a, l, ulidL: l.addresses[0]! };
}

describe('a peer without Shim6 (RFC 5533 §7.8)', () => {
  it('ICMPv6 Parameter Problem code 1 → NO-SUPPORT, hold-down, plain data still flows', async () => {
    const { sim, a, l, ulidL } = await withLegacy('icmp');
    expect(a.establish(ulidL).ok).toBe(true);
    sim.run(1_000);
    const c = a.context(ulidL)!;
    expect(c.state).toBe('NO-SUPPORT');
    expect(c.holdUntil).toBe(20 + ICMP_HOLDDOWN_TIME_MS);
    expect(kinds(sim)).toEqual(['I1', 'icmp']);
    expect(a.engine.counters()['icmp.no-support']).toBe(1);
    const again = a.establish(ulidL);
    expect(again.ok === false && again.code).toBe('hold-down');
    a.send(ulidL, new Uint8Array(16));
    l.send(a.ulid, new Uint8Array(16));
    sim.run(2_000);
    expect(l.inbox).toHaveLength(1);
    expect(a.inbox).toHaveLength(1);
    // After the hold-down the entry goes away and establishment may be tried again.
    sim.run(20 + ICMP_HOLDDOWN_TIME_MS);
    expect(a.context(ulidL)).toBeUndefined();
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/no-support-icmp.txt');
  });

  it('silence → I1 retransmitted I1_RETRIES_MAX times with backoff → E-FAILED', async () => {
    const { sim, a, l, ulidL } = await withLegacy('silent');
    a.establish(ulidL);
    const failed = sim.runUntil(() => a.context(ulidL)?.state === 'E-FAILED', 300_000);
    expect(failed).toBe(true);
    expect(kinds(sim)).toEqual(Array(1 + I1_RETRIES_MAX).fill('I1'));
    expect(l.shim6Received).toBe(1 + I1_RETRIES_MAX);
    // Binary exponential backoff, each wait randomised to 0.5-1.5 times its nominal value (§7.8, §14).
    const times = sim.packets().map((p) => p.sentAt);
    for (let i = 1; i < times.length; i++) {
      const nominal = 4_000 * 2 ** (i - 1);
      expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(nominal * 0.5);
      expect(times[i]! - times[i - 1]!).toBeLessThanOrEqual(nominal * 1.5);
    }
    expect(a.context(ulidL)!.holdUntil).toBe(sim.now + NO_R1_HOLDDOWN_TIME_MS);
    await expect(transcriptText(sim)).toMatchFileSnapshot('./transcripts/no-support-silent.txt');
  });
});
