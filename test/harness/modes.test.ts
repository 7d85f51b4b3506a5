/**
 * The scenario runner (examples/harness/scenario.ts) with the modes that need no
 * daemon, on the real kernel: plain TCP stalls for good when ISP1 is cut; Linux MPTCP
 * carries on when ISP1 fails; the RFC 3178-style tunnel survives the failure of the
 * direct link to ISP1 (silent loss, link down) but not the failure of ISP1 itself; and
 * the run directory holds a well-formed result.json, report.md and throughput.svg.
 * No timing assertions: completion and integrity only. Needs root (describeNetns);
 * about 45 s.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runScenario, type ScenarioResult, type ScenarioSpec } from '../../examples/harness/scenario.js';
import { describeNetns } from '../netns/topology.js';
import { checkXml } from './xml.js';

const out = mkdtempSync(join(tmpdir(), 'shim6-harness-'));
const base = { warmupMs: 1500, afterMs: 3500, drainMs: 4000, outDir: out } as const satisfies Partial<ScenarioSpec>;

function tcp(r: ScenarioResult) {
  const f = r.flows.find((x) => x.spec.kind === 'tcp');
  if (f === undefined) throw new Error('no TCP flow');
  return f;
}

describeNetns('harness scenarios without shim6', () => {
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('plain: a TCP stream between the ISP1 addresses stalls for good once ISP1 is cut', async () => {
    const r = await runScenario({ ...base, drainMs: 500, mode: 'plain', traffic: [{ kind: 'tcp', rateMbit: 50 }], failures: [{ atMs: 0, action: { kind: 'loss', link: 'i1.0' } }] });
    const f = tcp(r);
    expect(f.receiver?.bytes ?? 0).toBeGreaterThan(1_000_000); // it flowed before the cut
    expect(f.metrics.verified).toBe(true); // what arrived is intact
    expect(f.metrics.completed).toBe(false);
    expect(f.receiver?.eof).toBe(false);
    expect(f.metrics.firstDataAfterFailureMs).toBeNull(); // never resumed
    expect(f.receiver?.gaps.at(-1)?.open).toBe(true);
    expect(r.path.switchAtMs).toBeNull();
  }, 60_000);

  it('mptcp: the connection survives the failure of ISP1, every byte verified', async () => {
    const r = await runScenario({ ...base, mode: 'mptcp', traffic: [{ kind: 'tcp', rateMbit: 50 }], failures: [{ atMs: 0, action: { kind: 'isp-down', isp: 1 } }] });
    const f = tcp(r);
    expect(f.errors).toEqual([]);
    expect(f.metrics).toMatchObject({ completed: true, verified: true, lostBytes: 0, duplicatedBytes: 0, corruptBytes: 0 });
    expect(f.metrics.firstDataAfterFailureMs).not.toBeNull();
    expect(r.path.initial).toBe('eth1');
    expect(r.path.changes.some((c) => c.to === 'eth2')).toBe(true);
    const counters = (r.modeStatus['counters'] as Record<string, Record<string, number>>)['hA']!;
    expect(counters['MPTcpExtMPCapableSYNACKRX']).toBe(1); // really MPTCP
    expect(counters['MPTcpExtMPJoinSynAckRx'] ?? 0).toBeGreaterThan(0); // with more subflows
  }, 60_000);

  it('tunnel: TCP and UDP survive silent loss on the direct link to ISP1', async () => {
    const r = await runScenario({ ...base, mode: 'tunnel', traffic: [{ kind: 'tcp', rateMbit: 50 }, { kind: 'udp', rateMbit: 10 }], failures: [{ atMs: 0, action: { kind: 'loss', link: 'a1' } }] });
    const f = tcp(r);
    expect(f.errors).toEqual([]);
    expect(f.metrics).toMatchObject({ completed: true, verified: true });
    const u = r.flows.find((x) => x.spec.kind === 'udp')!;
    expect(u.metrics).toMatchObject({ completed: true, verified: true, duplicatedBytes: 0, corruptBytes: 0 });
    expect(u.metrics.lostBytes).toBeGreaterThan(0); // the datagrams sent into the dead link
    expect(u.metrics.lostBytes).toBeLessThan(u.metrics.sentBytes / 2);
    expect(u.receiver?.bins.slice(-10).some((b) => b > 0)).toBe(true); // and it flows again
    const monitors = r.modeStatus['monitors'] as { node: string; events: { event: string }[] }[];
    expect(monitors.find((m) => m.node === 'hA')?.events.map((e) => e.event)).toContain('down');
    expect(monitors.find((m) => m.node === 'p1a')?.events.map((e) => e.event)).toContain('down');
    expect(r.path.changes.at(0)?.to).toBe('eth2');

    // The run directory: result.json parses and matches, the SVG is well-formed.
    const json = JSON.parse(readFileSync(join(r.runDir, 'result.json'), 'utf8')) as { mode: string; flows: { metrics: { completed: boolean } }[]; spec: { mode: string } };
    expect(json.mode).toBe('tunnel');
    expect(json.spec.mode).toBe('tunnel');
    expect(json.flows.map((x) => x.metrics.completed)).toEqual([true, true]);
    const svg = readFileSync(join(r.runDir, 'throughput.svg'), 'utf8');
    expect(checkXml(svg)).toMatchObject({ ok: true });
    expect(svg).toContain('failure: 100 % loss on a1');
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(readFileSync(join(r.runDir, 'report.md'), 'utf8')).toMatch(/\| TCP paced 50 Mbit\/s \| \d+ \| \d+ \|/);
    expect(existsSync(join(r.runDir, 'monitor-hA.log'))).toBe(true);
  }, 60_000);

  it('tunnel: survives the direct link going down', async () => {
    const r = await runScenario({ ...base, mode: 'tunnel', traffic: [{ kind: 'tcp', rateMbit: 50 }], failures: [{ atMs: 0, action: { kind: 'link-down', link: 'a1' } }] });
    expect(tcp(r).errors).toEqual([]);
    expect(tcp(r).metrics).toMatchObject({ completed: true, verified: true });
  }, 60_000);

  it('tunnel: does not survive the failure of ISP1 itself', async () => {
    const r = await runScenario({ ...base, drainMs: 500, mode: 'tunnel', traffic: [{ kind: 'tcp', rateMbit: 50 }], failures: [{ atMs: 0, action: { kind: 'isp-down', isp: 1 } }] });
    const f = tcp(r);
    expect(f.metrics.verified).toBe(true);
    expect(f.metrics.completed).toBe(false);
    expect(f.metrics.firstDataAfterFailureMs).toBeNull();
  }, 60_000);
});
