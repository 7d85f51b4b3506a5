/**
 * The experimental flow-label mode end to end (issue #8): shim6d on both hosts with
 * `flowLabel.enabled`, the harness's `shim6-fl` mode, against `shim6-fast` (the explicit
 * Payload Extension header) in the same topology. After ISP1 fails:
 * - both modes: TCP (every byte verified) and UDP go on between the ULIDs;
 * - flow-label mode: the capture of hA's interfaces shows no Payload Extension header at
 *   all, and the rewritten packets carry the peer's label between non-ULID locators at
 *   full size (1500 octets, the links' MTU);
 * - explicit mode: the payload packets carry the header, and the application's packets
 *   are 8 octets smaller (1492) so that the wire packet still fits 1500.
 * Then the link-down failure in flow-label mode. No timing assertions. Needs root and
 * namespaces (describeNetns); skipped like test/harness/shim6.test.ts otherwise. ~40 s.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FaultAction } from '../../examples/harness/faults.js';
import type { ModeName } from '../../examples/harness/modes.js';
import { runScenario, type ScenarioResult, type ScenarioSpec } from '../../examples/harness/scenario.js';
import { shim6Support, type Shim6Context } from '../../examples/harness/shim6.js';
import { describeNetns, netnsAvailability } from '../netns/topology.js';

const support = netnsAvailability().ok ? await shim6Support() : { ok: true as const };
const out = mkdtempSync(join(tmpdir(), 'shim6-harness-fl-'));
const base = { warmupMs: 1500, afterMs: 4000, drainMs: 6000, outDir: out, readyTimeoutMs: 20_000 } as const satisfies Partial<ScenarioSpec>;
// Bulk-ish TCP so that segments are full-sized; UDP alongside.
const traffic = [{ kind: 'tcp', rateMbit: 40 }, { kind: 'udp', rateMbit: 8 }] as const;

function contextsOf(r: ScenarioResult, host: 'hA' | 'hB'): Shim6Context[] {
  const v = r.modeStatus[`contexts_${host}`];
  return Array.isArray(v) ? (v as Shim6Context[]) : [];
}

function expectSurvived(r: ScenarioResult): Shim6Context {
  const [t, u] = r.flows;
  expect(t!.errors).toEqual([]);
  expect(t!.metrics).toMatchObject({ completed: true, verified: true, lostBytes: 0, duplicatedBytes: 0, corruptBytes: 0 });
  expect(u!.metrics).toMatchObject({ completed: true, verified: true, duplicatedBytes: 0, corruptBytes: 0 });
  expect(u!.metrics.firstDataAfterFailureMs).not.toBeNull();
  const ctx = contextsOf(r, 'hA').find((c) => c.peerUlid === t!.dst);
  expect(ctx?.state).toBe('ESTABLISHED');
  expect(ctx?.failovers ?? 0).toBeGreaterThan(0);
  expect(ctx?.currentPair?.local.startsWith('2001:db8:2:a:')).toBe(true);
  return ctx!;
}

function run(name: string, mode: ModeName, action: FaultAction, pcap = false): Promise<ScenarioResult> {
  return runScenario({ ...base, name, mode, traffic, pcap, failures: [{ atMs: 0, action }] });
}

if (!support.ok && process.env['SHIM6_REQUIRE_NETNS'] !== '1') {
  describe.skip(`flow-label mode end to end (skipped: ${support.reason})`, () => {
    it('needs a shim6d that accepts the identity configuration', () => {});
  });
} else {
  describeNetns('flow-label mode (experimental) against the explicit tag: sessions survive the loss of ISP1', () => {
    afterAll(() => rmSync(out, { recursive: true, force: true }));

    it('flow-label mode, silent loss: no Payload Extension header on the wire; full 1500-octet packets carry the peer\'s label', async () => {
      const r = await run('fl-silent', 'shim6-fl', { kind: 'loss', link: 'a1' }, true);
      const ctx = expectSurvived(r);
      const fl = ctx['flowLabel'] as { local: number; peer: number } | null;
      expect(fl?.local).toBeGreaterThan(0);
      expect(fl?.peer).toBeGreaterThan(0);
      const counters = ctx['counters'] as Record<string, number>;
      expect(counters['egressFlowLabel']).toBeGreaterThan(0);
      expect(counters['ingressFlowLabel']).toBeGreaterThan(0);
      const b = contextsOf(r, 'hB').find((c) => c.peerUlid === ctx.localUlid)!;
      expect(b['flowLabel']).toEqual({ local: fl!.peer, peer: fl!.local });
      const c = r.capture!;
      expect(c.payload).toBe(0); // not one Payload Extension header
      expect(c.labelledAfter).toBeGreaterThan(100);
      expect(c.maxLabelledOctets).toBe(1500);
      expect(c.control['I1'] ?? 0).toBeGreaterThan(0);
      expect(c.control['Probe'] ?? 0).toBeGreaterThan(0);
    }, 90_000);

    it('explicit mode, same failure: the header is on the wire, and the application\'s packets shrink to 1492 octets to make room', async () => {
      const r = await run('tag-silent', 'shim6-fast', { kind: 'loss', link: 'a1' }, true);
      const ctx = expectSurvived(r);
      expect(ctx['flowLabel'] ?? null).toBeNull();
      const c = r.capture!;
      expect(c.labelled).toBe(0);
      expect(c.payloadAfter).toBeGreaterThan(100);
      expect(c.maxPayloadOctets).toBe(1500); // 1492 + the 8-octet header
    }, 90_000);

    it('flow-label mode, link down: TCP and UDP go on', async () => {
      expectSurvived(await run('fl-linkdown', 'shim6-fl', { kind: 'link-down', link: 'a1' }));
    }, 90_000);
  });
}
