/**
 * The harness's report of one run: an SVG plot of delivered throughput over time per
 * flow (100 ms bins) with the failure, the switch and the other fault events marked and
 * the sending host's path drawn as a strip underneath, and a short Markdown summary.
 * Pure: strings in, strings out.
 */
import type { FlowMetrics, PathSummary } from './metrics.js';

export interface PlotSeries {
  readonly label: string;
  readonly origin: number;
  readonly binMs: number;
  readonly bins: readonly number[];
}

export interface PlotMarker {
  readonly atMs: number;
  readonly label: string;
  readonly kind: 'failure' | 'switch' | 'event';
}

export interface PlotInput {
  readonly title: string;
  /** Time zero of the x axis (epoch ms). */
  readonly zeroMs: number;
  readonly endMs: number;
  readonly series: readonly PlotSeries[];
  readonly markers: readonly PlotMarker[];
  /** Path segments: [fromMs, toMs, interface]. */
  readonly path: readonly (readonly [number, number, string])[];
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b'];
const PATH_COLORS: Record<string, string> = { eth1: '#4c78a8', eth2: '#f58518', eth3: '#54a24b', eth4: '#b279a2' };
const MARKER_COLORS = { failure: '#d62728', switch: '#2ca02c', event: '#7f7f7f' } as const;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function niceStep(range: number, target: number): number {
  const raw = range / Math.max(1, target);
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

const f1 = (x: number): string => (Math.round(x * 10) / 10).toString();

/** Throughput over time as an SVG document. */
export function throughputSvg(p: PlotInput): string {
  const W = 900;
  const H = 420;
  const L = 60;
  const R = 20;
  const T = 40;
  const plotH = 280;
  const stripY = T + plotH + 34;
  const xMin = 0;
  const xMax = Math.max(1, (p.endMs - p.zeroMs) / 1000);
  const mbits = p.series.map((s) => s.bins.map((b) => (b * 8) / (s.binMs * 1000)));
  const yMaxRaw = Math.max(1, ...mbits.flat());
  const yStep = niceStep(yMaxRaw, 5);
  const yMax = Math.ceil(yMaxRaw / yStep) * yStep;
  const x = (sec: number): number => L + ((sec - xMin) / (xMax - xMin)) * (W - L - R);
  const y = (v: number): number => T + plotH - (v / yMax) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<title>${escapeXml(p.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${L}" y="22" font-size="14" font-weight="bold">${escapeXml(p.title)}</text>`);
  // Axes and grid.
  out.push(`<g stroke="#dddddd" stroke-width="1">`);
  for (let v = 0; v <= yMax + 1e-9; v += yStep) out.push(`<line x1="${L}" y1="${f1(y(v))}" x2="${W - R}" y2="${f1(y(v))}"/>`);
  out.push('</g>');
  out.push('<g fill="#333333" text-anchor="end">');
  for (let v = 0; v <= yMax + 1e-9; v += yStep) out.push(`<text x="${L - 6}" y="${f1(y(v) + 4)}">${escapeXml(f1(v))}</text>`);
  out.push('</g>');
  const xStep = niceStep(xMax - xMin, 10);
  out.push('<g fill="#333333" text-anchor="middle">');
  for (let s = 0; s <= xMax + 1e-9; s += xStep) out.push(`<text x="${f1(x(s))}" y="${T + plotH + 16}">${escapeXml(f1(s))}</text>`);
  out.push('</g>');
  out.push(`<line x1="${L}" y1="${T + plotH}" x2="${W - R}" y2="${T + plotH}" stroke="#333333"/>`);
  out.push(`<line x1="${L}" y1="${T}" x2="${L}" y2="${T + plotH}" stroke="#333333"/>`);
  out.push(`<text x="16" y="${T + plotH / 2}" transform="rotate(-90 16 ${T + plotH / 2})" text-anchor="middle">Mbit/s delivered (100 ms bins)</text>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">seconds</text>`);
  // Series.
  p.series.forEach((s, i) => {
    const pts = mbits[i]!.map((v, j) => {
      const t0 = (s.origin + j * s.binMs - p.zeroMs) / 1000;
      return `${f1(x(t0))},${f1(y(v))} ${f1(x(t0 + s.binMs / 1000))},${f1(y(v))}`;
    });
    if (pts.length > 0) out.push(`<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5" points="${pts.join(' ')}"/>`);
    out.push(`<rect x="${W - R - 220}" y="${T + 6 + i * 16}" width="12" height="3" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(`<text x="${W - R - 202}" y="${T + 11 + i * 16}">${escapeXml(s.label)}</text>`);
  });
  // Markers.
  p.markers.forEach((m, i) => {
    const sx = x((m.atMs - p.zeroMs) / 1000);
    if (sx < L || sx > W - R) return;
    const dash = m.kind === 'event' ? '2,3' : '6,4';
    out.push(`<line x1="${f1(sx)}" y1="${T}" x2="${f1(sx)}" y2="${T + plotH}" stroke="${MARKER_COLORS[m.kind]}" stroke-width="1.5" stroke-dasharray="${dash}"/>`);
    out.push(`<text x="${f1(sx + 4)}" y="${T + 12 + (i % 4) * 14}" fill="${MARKER_COLORS[m.kind]}">${escapeXml(m.label)}</text>`);
  });
  // Path strip.
  out.push(`<text x="${L - 6}" y="${stripY + 10}" text-anchor="end">path</text>`);
  for (const [from, to, ifname] of p.path) {
    const x0 = Math.max(L, x((from - p.zeroMs) / 1000));
    const x1 = Math.min(W - R, x((to - p.zeroMs) / 1000));
    if (x1 <= x0) continue;
    out.push(`<rect x="${f1(x0)}" y="${stripY}" width="${f1(x1 - x0)}" height="12" fill="${PATH_COLORS[ifname] ?? '#bab0ac'}"><title>${escapeXml(ifname)}</title></rect>`);
  }
  const names = [...new Set(p.path.map(([, , i]) => i))].sort();
  names.forEach((n, i) => {
    out.push(`<rect x="${L + i * 80}" y="${stripY + 18}" width="12" height="8" fill="${PATH_COLORS[n] ?? '#bab0ac'}"/>`);
    out.push(`<text x="${L + 16 + i * 80}" y="${stripY + 26}">${escapeXml(`hA ${n}`)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

const ms = (v: number | null): string => (v === null ? 'never' : `${Math.round(v)}`);

export interface ReportInput {
  readonly title: string;
  readonly lines: readonly string[];
  readonly flows: readonly { readonly label: string; readonly metrics: FlowMetrics }[];
  readonly path: PathSummary;
  readonly svgFile: string;
}

/** The Markdown summary of a run. */
export function markdownReport(r: ReportInput): string {
  const out: string[] = [`# ${r.title}`, '', ...r.lines, ''];
  out.push('| flow | first data after failure (ms) | back to 80 % (ms) | rate before / after (Mbit/s) | lost / dup / corrupt (bytes) | completed, verified |');
  out.push('|---|---|---|---|---|---|');
  for (const f of r.flows) {
    const m = f.metrics;
    const first = m.interrupted || m.firstDataAfterFailureMs === null ? ms(m.firstDataAfterFailureMs) : '< 50 (no interruption)';
    const rates = `${m.rateBeforeMbit === null ? '–' : m.rateBeforeMbit.toFixed(1)} / ${m.newPathRateMbit === null ? '–' : m.newPathRateMbit.toFixed(1)}`;
    out.push(`| ${f.label} | ${first} | ${ms(m.backTo80Ms)} | ${rates} | ${m.lostBytes} / ${m.duplicatedBytes} / ${m.corruptBytes} | ${m.completed ? 'yes' : 'no'}, ${m.verified ? 'yes' : 'no'} |`);
  }
  out.push('');
  const back = r.path.failbackAtMs === null ? '' : ` back on ${r.path.initial ?? '–'} after the repair;`;
  out.push(`Path of hA's traffic: started on ${r.path.initial ?? '–'}; ${r.path.changes.length} change(s);${back} flaps after the first switch: ${r.path.flaps}.`);
  out.push('');
  out.push(`![throughput](${r.svgFile})`);
  return `${out.join('\n')}\n`;
}
