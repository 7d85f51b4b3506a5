/**
 * Virtual time for the simulator: a clock that only moves when the next event runs, and
 * a stable event queue (a binary heap keyed by (time, insertion sequence), so events due
 * at the same millisecond run in the order they were scheduled). Nothing here reads the
 * wall clock or uses timers; a run of the simulator is a pure function of its inputs.
 */

/** A scheduled event; pass it to `cancel`. */
export interface EventHandle {
  readonly time: number;
  readonly seq: number;
}

interface Entry extends EventHandle {
  readonly fn: () => void;
  /** Cancelled or already run: skipped when it reaches the top of the heap. */
  cancelled: boolean;
}

function before(a: Entry, b: Entry): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/** A virtual clock in milliseconds with an ordered event queue. */
export class VirtualClock {
  #now = 0;
  #seq = 0;
  #live = 0;
  readonly #heap: Entry[] = [];

  /** The current virtual time in milliseconds. */
  get now(): number {
    return this.#now;
  }

  /** Events scheduled and neither run nor cancelled. */
  get pending(): number {
    return this.#live;
  }

  /** Runs `fn` at virtual time `at` (not before now). */
  schedule(at: number, fn: () => void): EventHandle {
    if (!Number.isFinite(at)) throw new RangeError(`event time must be finite, got ${at}`);
    if (at < this.#now) throw new RangeError(`cannot schedule at t=${at}, the clock is at t=${this.#now}`);
    const e: Entry = { time: at, seq: this.#seq++, fn, cancelled: false };
    this.#push(e);
    this.#live++;
    return e;
  }

  /** Runs `fn` `delayMs` from now. */
  after(delayMs: number, fn: () => void): EventHandle {
    return this.schedule(this.#now + delayMs, fn);
  }

  /** Cancels an event that has not run; returns false if it already ran or was cancelled. */
  cancel(h: EventHandle): boolean {
    const e = h as Entry;
    if (e.cancelled) return false;
    e.cancelled = true;
    this.#live--;
    return true;
  }

  /** Time of the next live event, or undefined. */
  peek(): number | undefined {
    this.#dropCancelled();
    return this.#heap[0]?.time;
  }

  /** Runs the next event, advancing the clock to its time; false when the queue is empty or the next event is after `limit`. */
  step(limit = Number.POSITIVE_INFINITY): boolean {
    this.#dropCancelled();
    const top = this.#heap[0];
    if (top === undefined || top.time > limit) return false;
    this.#pop();
    this.#live--;
    this.#now = top.time;
    top.cancelled = true; // ran: a later cancel() returns false
    top.fn();
    return true;
  }

  /** Runs every event due at or before `until`, then sets the clock to `until`. Returns the number of events run. */
  runUntil(until: number): number {
    if (until < this.#now) throw new RangeError(`cannot run back to t=${until}, the clock is at t=${this.#now}`);
    let n = 0;
    while (this.step(until)) n++;
    this.#now = until;
    return n;
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop();
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): Entry {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
