/**
 * Failover metrics from what the receiver recorded (bins of delivered bytes, silences)
 * and what the sender host sent per interface. Pure: times are epoch milliseconds in,
 * milliseconds out.
 *
 * - First data after the failure: the end of the outage, i.e. of the first silence
 *   (>= the receiver's gap threshold, 50 ms) that ends after the failure and began no
 *   later than 500 ms after it (packets already past the failure point may still
 *   arrive); minus the failure time. No such silence: the flow was not interrupted
 *   (`interrupted: false`, value 0). A silence still open at the end: never (null).
 * - Switch time: failure time + first data after it (for the plot).
 * - The new path's rate: the median of the full bins from 1 s after the switch until the
 *   sender stopped (the mean of what there is when that leaves fewer than 3 bins).
 * - Back to 80 %: the start of the first 500 ms window, at or after the switch, whose
 *   mean rate is at least 80 % of the new path's rate; minus the failure time.
 * - Path and flaps: each 100 ms the interface of hA that sent most bytes (when it sent at
 *   least a fifth of the typical bin before the failure) is the path; a switch is the
 *   first change of path after the failure, and flaps are the changes after that, except
 *   the failback: the first return to the initial path after the failure was repaired.
 */
import type { Gap, ReceiverReport, SenderReport, TrafficSpec } from './traffic.js';

export const OUTAGE_START_SLACK_MS = 500;
export const SETTLE_MS = 1000;
export const WINDOW_MS = 500;
export const RECOVERY_FRACTION = 0.8;

export interface PathSample {
  /** Start of the 100 ms interval (epoch ms). */
  readonly atMs: number;
  /** Bytes sent per interface of hA in the interval. */
  readonly tx: Readonly<Record<string, number>>;
}

export interface PathChange {
  readonly atMs: number;
  readonly from: string | null;
  readonly to: string;
}

export interface PathSummary {
  readonly initial: string | null;
  readonly changes: readonly PathChange[];
  /** First change after the failure (epoch ms), null when none. */
  readonly switchAtMs: number | null;
  /** The first return to the initial path after the repair (epoch ms), null when none or no repair. */
  readonly failbackAtMs: number | null;
  /** Changes after the switch, the failback excepted. */
  readonly flaps: number;
}

export interface FlowMetrics {
  readonly kind: TrafficSpec['kind'];
  readonly sentBytes: number;
  readonly deliveredBytes: number;
  readonly interrupted: boolean;
  readonly firstDataAfterFailureMs: number | null;
  readonly switchAtMs: number | null;
  readonly rateBeforeMbit: number | null;
  readonly newPathRateMbit: number | null;
  readonly backTo80Ms: number | null;
  readonly lostBytes: number;
  readonly duplicatedBytes: number;
  readonly corruptBytes: number;
  /** TCP: the receiver read EOF after every byte sent, each one verified. UDP: the sender finished and nothing was corrupt. */
  readonly completed: boolean;
  readonly verified: boolean;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const mbit = (bytesPerBin: number, binMs: number): number => (bytesPerBin * 8) / (binMs * 1000);

/** The silence that is the outage of a failure at `failMs`, if any. */
export function outageGap(gaps: readonly Gap[], failMs: number): Gap | undefined {
  return gaps.find((g) => g.endMs > failMs && g.startMs <= failMs + OUTAGE_START_SLACK_MS);
}

export function flowMetrics(spec: TrafficSpec, recv: ReceiverReport | undefined, send: SenderReport | undefined, failMs: number | null): FlowMetrics {
  const sentBytes = send?.bytes ?? 0;
  const deliveredBytes = recv?.bytes ?? 0;
  let lost = 0;
  let dup = 0;
  let corrupt = 0;
  let completed = false;
  let verified = false;
  if (spec.kind === 'tcp') {
    const v = recv?.verify;
    lost = v?.lostBytes ?? 0;
    dup = v?.dupBytes ?? 0;
    corrupt = v?.corruptBytes ?? 0;
    verified = v !== undefined && lost === 0 && dup === 0 && corrupt === 0 && v.okBytes === deliveredBytes;
    completed = verified && recv?.eof === true && send !== undefined && send.error === undefined && deliveredBytes === sentBytes;
  } else if (recv !== undefined && send !== undefined) {
    const size = recv.size ?? 1200;
    lost = Math.max(0, ((send.datagrams ?? 0) - (recv.unique ?? 0)) * size);
    dup = (recv.dupDatagrams ?? 0) * size;
    corrupt = (recv.corruptDatagrams ?? 0) * size;
    verified = corrupt === 0;
    completed = verified && send.endMs !== null;
  }
  const base = { kind: spec.kind, sentBytes, deliveredBytes, lostBytes: lost, duplicatedBytes: dup, corruptBytes: corrupt, completed, verified };
  if (recv === undefined || recv.origin === null || failMs === null) {
    return { ...base, interrupted: false, firstDataAfterFailureMs: null, switchAtMs: null, rateBeforeMbit: null, newPathRateMbit: null, backTo80Ms: null };
  }
  const { origin, binMs, bins } = recv;
  const binStart = (i: number): number => origin + i * binMs;
  const binsIn = (from: number, to: number): number[] => bins.filter((_, i) => binStart(i) >= from && binStart(i) + binMs <= to);

  const before = binsIn(failMs - 2000, failMs);
  const rateBeforeMbit = before.length === 0 ? null : mbit(mean(before), binMs);

  const gap = outageGap(recv.gaps, failMs);
  let interrupted = false;
  let firstData: number | null;
  if (gap === undefined) firstData = recv.lastByteMs !== null && recv.lastByteMs > failMs ? 0 : null;
  else {
    interrupted = true;
    firstData = gap.open === true ? null : Math.max(0, gap.endMs - failMs);
  }
  const switchAtMs = firstData === null ? null : failMs + firstData;
  const sendEnd = send?.endMs ?? recv.lastByteMs ?? failMs;

  let newRate: number | null = null;
  let backTo80Ms: number | null = null;
  if (switchAtMs !== null) {
    let after = binsIn(switchAtMs + SETTLE_MS, sendEnd);
    if (after.length < 3) after = binsIn(switchAtMs, sendEnd);
    if (after.length > 0) newRate = median(after);
    if (newRate !== null && newRate > 0) {
      const w = Math.max(1, Math.round(WINDOW_MS / binMs));
      const first = Math.max(0, Math.floor((switchAtMs - origin) / binMs));
      for (let i = first; i + w <= bins.length && binStart(i + w) <= sendEnd + binMs; i++) {
        if (mean(bins.slice(i, i + w)) >= RECOVERY_FRACTION * newRate) {
          backTo80Ms = Math.max(binStart(i), switchAtMs) - failMs;
          break;
        }
      }
    }
  }
  return {
    ...base,
    interrupted,
    firstDataAfterFailureMs: firstData,
    switchAtMs,
    rateBeforeMbit,
    newPathRateMbit: newRate === null ? null : mbit(newRate, binMs),
    backTo80Ms,
  };
}

/**
 * The path (dominant sending interface of hA) over time, its switch, its failback and its
 * flaps. `repairMs`: when the failure was repaired (epoch ms), if it was.
 */
export function pathSummary(samples: readonly PathSample[], failMs: number | null, repairMs: number | null = null): PathSummary {
  const totals = samples.map((s) => Object.values(s.tx).reduce((a, b) => a + b, 0));
  const beforeTotals = samples.map((s, i) => (failMs === null || s.atMs < failMs ? totals[i]! : 0)).filter((x) => x > 0);
  const typical = beforeTotals.length === 0 ? 0 : median(beforeTotals);
  const threshold = Math.max(2000, typical / 5);
  let current: string | null = null;
  let initial: string | null = null;
  const changes: PathChange[] = [];
  samples.forEach((s, i) => {
    if (totals[i]! < threshold) return;
    let best: string | null = null;
    for (const [ifname, b] of Object.entries(s.tx)) if (best === null || b > s.tx[best]!) best = ifname;
    if (best === null || best === current) return;
    if (current === null && changes.length === 0 && (failMs === null || s.atMs < failMs)) initial = best;
    else changes.push({ atMs: s.atMs, from: current, to: best });
    current = best;
  });
  const afterFailure = failMs === null ? [] : changes.filter((c) => c.atMs + 100 > failMs);
  const failback = repairMs === null || initial === null ? undefined : afterFailure.slice(1).find((c) => c.atMs + 100 > repairMs && c.to === initial);
  return {
    initial,
    changes,
    switchAtMs: afterFailure[0]?.atMs ?? null,
    failbackAtMs: failback?.atMs ?? null,
    flaps: Math.max(0, afterFailure.length - 1 - (failback === undefined ? 0 : 1)),
  };
}
