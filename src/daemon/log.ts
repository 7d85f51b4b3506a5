/**
 * Logging for shim6d: pino JSON lines on stdout, behind a four-method interface so the
 * daemon's core can be tested with a recording logger, and a per-key rate limiter for
 * events a peer or a client can trigger at will (control errors, unknown context tags).
 */
import { pino } from 'pino';
import type { LogLevel } from './config.js';

/** What the daemon logs through: a structured object, then a message. */
export interface Log {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** A pino logger writing JSON lines to stdout (synchronously, so nothing is lost on exit). */
export function createLogger(level: LogLevel): Log & { level: string } {
  return pino({
    name: 'shim6d',
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, pino.destination({ fd: 1, sync: true }));
}

/** A logger that drops everything. */
export const silentLog: Log = {
  debug: () => {}, info: () => {}, warn: () => {}, error: () => {},
};

/**
 * Allows at most `burst` events per key in each window of `windowMs`, and counts what it
 * suppressed so the next allowed event can report it. Keys are bounded by the caller
 * (a fixed set of event kinds), so the map cannot grow without bound.
 */
export class RateLimiter {
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly state = new Map<string, { windowStart: number; count: number; suppressed: number }>();

  constructor(burst: number, windowMs: number, now: () => number) {
    this.burst = burst;
    this.windowMs = windowMs;
    this.now = now;
  }

  /** undefined when the event must be dropped; otherwise how many were dropped since the last one allowed. */
  allow(key: string): number | undefined {
    const t = this.now();
    let s = this.state.get(key);
    if (s === undefined || t - s.windowStart >= this.windowMs || t < s.windowStart) {
      const suppressed = s?.suppressed ?? 0;
      s = { windowStart: t, count: 0, suppressed: 0 };
      this.state.set(key, s);
      s.count = 1;
      return suppressed;
    }
    if (s.count < this.burst) {
      s.count++;
      const suppressed = s.suppressed;
      s.suppressed = 0;
      return suppressed;
    }
    s.suppressed++;
    return undefined;
  }
}
