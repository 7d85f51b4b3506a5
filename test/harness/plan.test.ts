/**
 * The failover harness without the kernel: the topology plan of a description
 * (examples/harness/spec.ts), the command-line parsers, the metrics of synthetic
 * receiver records (metrics.ts), and the report (report.ts): an SVG that is well-formed
 * XML and a Markdown table.
 */
import { describe, expect, it } from 'vitest';
import { pathSummary, flowMetrics, outageGap, type PathSample } from '../../examples/harness/metrics.js';
import { escapeXml, markdownReport, throughputSvg } from '../../examples/harness/report.js';
import { parseFailure } from '../../examples/harness/scenario.js';
import { findLink, normalizeSpec, planTopology } from '../../examples/harness/spec.js';
import { parseTraffic, type ReceiverReport, type SenderReport } from '../../examples/harness/traffic.js';
import { checkXml } from './xml.js';

describe('topology plan', () => {
  it('has two sites, one host each, two ISPs, an edge router per ISP and site, and the ix by default', () => {
    const p = planTopology();
    expect(p.nodes.map((n) => n.name).sort()).toEqual(['hA', 'hB', 'ix', 'p1a', 'p1b', 'p2a', 'p2b']);
    expect(p.links.map((l) => l.name).sort()).toEqual(['a1', 'a2', 'b1', 'b2', 'i1.0', 'i2.0', 'x1a', 'x1b', 'x2a', 'x2b']);
    expect(p.hosts.a.locators.map((l) => [l.prefix, l.address, l.ifname, l.gateway])).toEqual([
      ['2001:db8:1:a::/64', '2001:db8:1:a::1', 'eth1', '2001:db8:1:a::ff'],
      ['2001:db8:2:a::/64', '2001:db8:2:a::1', 'eth2', '2001:db8:2:a::ff'],
    ]);
    expect(p.hosts.b.locators.map((l) => l.prefix)).toEqual(['2001:db8:1:b::/64', '2001:db8:2:b::/64']);
  });

  it('uses only 2001:db8::/32 addresses', () => {
    const p = planTopology({ isps: 4, coreHops: [0, 1, 2, 3] });
    const text = JSON.stringify(p);
    const addrs = [...text.matchAll(/\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}(?:\/\d+)?/g)].map((m) => m[0]).filter((a) => a.includes('::') || a.split(':').length > 3);
    expect(addrs.length).toBeGreaterThan(50);
    for (const a of addrs) expect(a === '::' || a.startsWith('2001:db8:') || a.startsWith('fe80::'), a).toBe(true);
  });

  it('routes toward hosts by prefix, never by /128, and sends each source prefix out of its ISP', () => {
    const p = planTopology({ coreHops: 2 });
    for (const n of p.nodes) {
      for (const r of n.routes) expect(r, `${n.name}: ${r}`).not.toMatch(/^2001:db8:\d:[ab]::\w+\/128/);
    }
    const hA = p.nodes.find((n) => n.name === 'hA')!;
    expect(hA.rules).toEqual(['from 2001:db8:1::/48 lookup 101 pref 1000', 'from 2001:db8:2::/48 lookup 102 pref 1001']);
    expect(hA.routes).toContain('default via 2001:db8:1:a::ff dev eth1 table 101');
    expect(hA.routes).toContain('default via 2001:db8:2:a::ff dev eth2 table 102');
  });

  it('chains core routers between the edges, oriented from site A to site B', () => {
    const p = planTopology({ coreHops: [2, 0] });
    expect(p.nodes.filter((n) => n.kind === 'core').map((n) => n.name)).toEqual(['c1_1', 'c1_2']);
    const chain = ['i1.0', 'i1.1', 'i1.2'].map((n) => findLink(p, n));
    expect(chain.map((l) => [l.aEnd.node, l.bEnd.node])).toEqual([['p1a', 'c1_1'], ['c1_1', 'c1_2'], ['c1_2', 'p1b']]);
    expect(findLink(p, 'a1')).toMatchObject({ aEnd: { node: 'hA', ifname: 'eth1' }, bEnd: { node: 'p1a', ifname: 'site' } });
    expect(findLink(p, 'b1')).toMatchObject({ aEnd: { node: 'p1b', ifname: 'site' }, bEnd: { node: 'hB', ifname: 'eth1' } });
    expect(() => findLink(p, 'z9')).toThrow(/no link 'z9'/);
  });

  it('filters sources at each edge (BCP 38) and counts the drops', () => {
    const p1a = planTopology().nodes.find((n) => n.name === 'p1a')!;
    expect(p1a.nft).toContain('iifname "site" ip6 saddr != { 2001:db8:1:a::/64, fe80::/10, :: } counter name "ingress_drop" drop');
    expect(p1a.nft).toContain('counter loss_site {');
  });

  it('refuses bad descriptions, naming every problem', () => {
    expect(() => normalizeSpec({ isps: 1 })).toThrow(/isps: 1/);
    expect(() => normalizeSpec({ isps: 2, coreHops: [1] })).toThrow(/has 1 entries/);
    expect(() => normalizeSpec({ coreHops: 99, mtu: 100 })).toThrow(/coreHops\[0\][\s\S]*mtu/);
    expect(() => normalizeSpec({ bogus: 1 } as never)).toThrow(/bogus: unknown key/);
  });
});

describe('command-line parsers', () => {
  it('parses failure steps', () => {
    expect(parseFailure('loss:a1')).toEqual({ atMs: 0, action: { kind: 'loss', link: 'a1', dir: 'both', percent: 100 } });
    expect(parseFailure('loss:i1.0:a-to-b:30@250')).toEqual({ atMs: 250, action: { kind: 'loss', link: 'i1.0', dir: 'a-to-b', percent: 30 } });
    expect(parseFailure('link-down:a1:b')).toEqual({ atMs: 0, action: { kind: 'link-down', link: 'a1', end: 'b' } });
    expect(parseFailure('isp-down:1@10')).toEqual({ atMs: 10, action: { kind: 'isp-down', isp: 1 } });
    expect(parseFailure('flap:a1:300:700:4:down')).toEqual({ atMs: 0, action: { kind: 'flap', link: 'a1', downMs: 300, upMs: 700, count: 4, how: 'down' } });
    expect(parseFailure('repair@3000')).toEqual({ atMs: 3000, action: { kind: 'repair' } });
    for (const bad of ['loss', 'loss:a1:sideways', 'loss:a1:both:101', 'isp-down:x', 'flap:a1:1', 'teleport:a1', 'loss:a1@x', 'loss:a1@1@2']) {
      expect(() => parseFailure(bad), bad).toThrow(/^failure /);
    }
  });

  it('parses traffic', () => {
    expect(parseTraffic('tcp')).toEqual({ kind: 'tcp' });
    expect(parseTraffic('tcp:100')).toEqual({ kind: 'tcp', rateMbit: 100 });
    expect(parseTraffic('udp:20:800')).toEqual({ kind: 'udp', rateMbit: 20, size: 800 });
    expect(() => parseTraffic('udp')).toThrow(/needs a rate/);
    expect(() => parseTraffic('sctp:1')).toThrow(/kind/);
  });
});

// A synthetic run: 100 ms bins from t = 0, 1.25 MB per bin (100 Mbit/s), a failure at
// 3 s, nothing from 3.0 to 3.4 s, then the same rate again until 8 s.
const ORIGIN = 1_000_000;
const FAIL = ORIGIN + 3000;
function receiver(outageBins: number, extra: Partial<ReceiverReport> = {}): ReceiverReport {
  const bins = Array.from({ length: 80 }, (_, i): number => (i >= 30 && i < 30 + outageBins ? 0 : 1_250_000));
  return {
    proto: 'tcp', bytes: bins.reduce((a, b) => a + b, 0), eof: true, firstByteMs: ORIGIN, lastByteMs: ORIGIN + 7999,
    gaps: outageBins === 0 ? [] : [{ startMs: FAIL - 2, endMs: FAIL + outageBins * 100 + 7 }],
    origin: ORIGIN, binMs: 100, bins,
    verify: { okBytes: bins.reduce((a, b) => a + b, 0), lostBytes: 0, dupBytes: 0, corruptBytes: 0, firstErrorAt: null },
    ...extra,
  };
}
const sender = (bytes: number): SenderReport => ({ proto: 'tcp', bytes, startMs: ORIGIN, endMs: ORIGIN + 8000, closedMs: ORIGIN + 8001 });

describe('failover metrics', () => {
  it('measures the first data after the failure, the new rate and the time back to 80 %', () => {
    const r = receiver(4);
    const m = flowMetrics({ kind: 'tcp', rateMbit: 100 }, r, sender(r.bytes), FAIL);
    expect(m.interrupted).toBe(true);
    expect(m.firstDataAfterFailureMs).toBe(407);
    expect(m.switchAtMs).toBe(FAIL + 407);
    expect(m.rateBeforeMbit).toBeCloseTo(100, 6);
    expect(m.newPathRateMbit).toBeCloseTo(100, 6);
    expect(m.backTo80Ms).toBe(407);
    expect(m).toMatchObject({ completed: true, verified: true, lostBytes: 0, duplicatedBytes: 0 });
  });

  it('says "never" for a stream that stalls for good, and "not interrupted" without a silence', () => {
    const stalled = { ...receiver(50), eof: false, gaps: [{ startMs: FAIL + 3, endMs: ORIGIN + 8000, open: true }] };
    const m = flowMetrics({ kind: 'tcp' }, stalled, sender(stalled.bytes + 5), FAIL);
    expect(m).toMatchObject({ interrupted: true, firstDataAfterFailureMs: null, backTo80Ms: null, completed: false });
    const smooth = flowMetrics({ kind: 'tcp' }, receiver(0), sender(receiver(0).bytes), FAIL);
    expect(smooth).toMatchObject({ interrupted: false, firstDataAfterFailureMs: 0 });
  });

  it('ignores silences that began well before the failure', () => {
    expect(outageGap([{ startMs: FAIL - 900, endMs: FAIL - 500 }, { startMs: FAIL + 100, endMs: FAIL + 300 }], FAIL)).toEqual({ startMs: FAIL + 100, endMs: FAIL + 300 });
    expect(outageGap([{ startMs: FAIL + 600, endMs: FAIL + 900 }], FAIL)).toBeUndefined();
  });

  it('counts UDP datagrams lost, duplicated and corrupt in bytes', () => {
    const r: ReceiverReport = { ...receiver(3), proto: 'udp', size: 1000, datagrams: 905, unique: 900, dupDatagrams: 4, corruptDatagrams: 1 };
    const s: SenderReport = { proto: 'udp', bytes: 1_000_000, datagrams: 1000, startMs: ORIGIN, endMs: ORIGIN + 8000 };
    const m = flowMetrics({ kind: 'udp', rateMbit: 10, size: 1000 }, r, s, FAIL);
    expect(m).toMatchObject({ lostBytes: 100_000, duplicatedBytes: 4000, corruptBytes: 1000, verified: false });
  });

  it('a TCP stream with a verification error is neither verified nor complete', () => {
    const r = receiver(2, { verify: { okBytes: 10, lostBytes: 8, dupBytes: 0, corruptBytes: 0, firstErrorAt: 80 } });
    expect(flowMetrics({ kind: 'tcp' }, r, sender(r.bytes), FAIL)).toMatchObject({ verified: false, completed: false, lostBytes: 8 });
  });

  it('finds the path, its switch after the failure and the flaps after that', () => {
    const s = (i: number, eth1: number, eth2: number): PathSample => ({ atMs: ORIGIN + i * 100, tx: { eth1, eth2 } });
    const samples = [s(0, 90_000, 100), s(1, 90_000, 0), s(29, 90_000, 300), s(30, 0, 500), s(33, 200, 90_000), s(40, 90_000, 10), s(45, 0, 90_000), s(50, 100, 80_000)];
    const p = pathSummary(samples, FAIL);
    expect(p.initial).toBe('eth1');
    expect(p.switchAtMs).toBe(ORIGIN + 3300);
    expect(p.changes.map((c) => c.to)).toEqual(['eth2', 'eth1', 'eth2']);
    expect(p.flaps).toBe(2);
    expect(pathSummary([s(0, 90_000, 0), s(31, 80_000, 0)], FAIL)).toMatchObject({ initial: 'eth1', switchAtMs: null, failbackAtMs: null, flaps: 0 });
    // Repaired at 3.8 s: the return at 4.0 s is the failback, the change at 4.5 s a flap.
    expect(pathSummary(samples, FAIL, ORIGIN + 3800)).toMatchObject({ switchAtMs: ORIGIN + 3300, failbackAtMs: ORIGIN + 4000, flaps: 1 });
    // Repaired only at 4.2 s: the return at 4.0 s came before it, so it is a flap, and no failback follows.
    expect(pathSummary(samples, FAIL, ORIGIN + 4200)).toMatchObject({ failbackAtMs: null, flaps: 2 });
    // Switch, repair, failback, nothing else: no flap.
    expect(pathSummary(samples.slice(0, 6), FAIL, ORIGIN + 3500)).toMatchObject({ failbackAtMs: ORIGIN + 4000, flaps: 0 });
  });
});

describe('report', () => {
  const r = receiver(4);
  const input = {
    title: 'plain <& "quoted"> run',
    zeroMs: ORIGIN,
    endMs: ORIGIN + 8000,
    series: [{ label: 'TCP & co', origin: ORIGIN, binMs: 100, bins: r.bins }],
    markers: [{ atMs: FAIL, label: 'failure: 100 % loss on a1', kind: 'failure' as const }, { atMs: FAIL + 407, label: 'switch', kind: 'switch' as const }],
    path: [[ORIGIN, FAIL, 'eth1'], [FAIL + 400, ORIGIN + 8000, 'eth2']] as const,
  };

  it('draws a well-formed SVG with the series, the failure and the switch', () => {
    const svg = throughputSvg(input);
    const x = checkXml(svg);
    expect(x, JSON.stringify(x)).toMatchObject({ ok: true });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('<polyline');
    expect(svg).toContain('stroke="#d62728"'); // the failure
    expect(svg).toContain('stroke="#2ca02c"'); // the switch
    expect(svg).toContain(escapeXml('plain <& "quoted"> run'));
    expect(checkXml(throughputSvg({ ...input, series: [], markers: [], path: [] }))).toMatchObject({ ok: true });
  });

  it('the XML check catches what is not well-formed', () => {
    for (const bad of ['<svg><g></svg>', '<svg a="1" a="2"/>', '<svg>&nbsp;</svg>', '<svg/><svg/>', 'x<svg/>', '<svg a=1/>']) expect(checkXml(bad).ok, bad).toBe(false);
  });

  it('writes a Markdown table with one row per flow', () => {
    const m = flowMetrics({ kind: 'tcp', rateMbit: 100 }, r, sender(r.bytes), FAIL);
    const md = markdownReport({ title: 't', lines: ['x'], flows: [{ label: 'TCP paced 100 Mbit/s', metrics: m }], path: pathSummary([], FAIL), svgFile: 'throughput.svg' });
    expect(md).toContain('| TCP paced 100 Mbit/s | 407 | 407 | 100.0 / 100.0 | 0 / 0 / 0 | yes, yes |');
    expect(md).toContain('![throughput](throughput.svg)');
  });
});
