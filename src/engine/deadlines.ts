/**
 * One timer for all contexts: a binary min-heap of (deadline, context id) with lazy
 * deletion. Each context has at most one live entry (the one whose deadline equals
 * `#scheduled`); stale entries are skipped when popped, so rescheduling is O(log n) and
 * the heap never holds more than a small multiple of the number of contexts.
 */
export class DeadlineHeap {
  #times: number[] = [];
  #ids: number[] = [];
  readonly #scheduled = new Map<number, number>();

  get size(): number {
    return this.#times.length;
  }

  /** Earliest scheduled deadline (possibly of a stale entry: early is harmless). */
  peek(): number | undefined {
    return this.#times[0];
  }

  /**
   * Schedules `id` at `deadline`, or cancels it when `deadline` is undefined. A deadline
   * later than the one already scheduled keeps the earlier entry: waking early is
   * harmless (the owner re-checks and reschedules), and it spares a heap push for every
   * packet that moves an idle deadline forward.
   */
  schedule(id: number, deadline: number | undefined): void {
    if (deadline === undefined) {
      this.#scheduled.delete(id);
      return;
    }
    const current = this.#scheduled.get(id);
    if (current !== undefined && current <= deadline) return;
    this.#scheduled.set(id, deadline);
    this.#push(deadline, id);
    if (this.#times.length > 4 * this.#scheduled.size + 64) this.#compact();
  }

  /** Removes and returns the ids whose scheduled wake-up is at or before `now`. */
  popDue(now: number): number[] {
    const out: number[] = [];
    while (this.#times.length > 0 && this.#times[0]! <= now) {
      const t = this.#times[0]!;
      const id = this.#ids[0]!;
      this.#pop();
      if (this.#scheduled.get(id) === t) {
        this.#scheduled.delete(id);
        out.push(id);
      }
    }
    return out;
  }

  #compact(): void {
    const times: number[] = [];
    const ids: number[] = [];
    this.#times = times;
    this.#ids = ids;
    for (const [id, t] of this.#scheduled) this.#push(t, id);
  }

  #push(t: number, id: number): void {
    const times = this.#times;
    const ids = this.#ids;
    let i = times.length;
    times.push(t);
    ids.push(id);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (times[p]! <= t) break;
      times[i] = times[p]!;
      ids[i] = ids[p]!;
      i = p;
    }
    times[i] = t;
    ids[i] = id;
  }

  #pop(): void {
    const times = this.#times;
    const ids = this.#ids;
    const lastT = times.pop()!;
    const lastId = ids.pop()!;
    const n = times.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && times[r]! < times[l]! ? r : l;
      if (times[c]! >= lastT) break;
      times[i] = times[c]!;
      ids[i] = ids[c]!;
      i = c;
    }
    times[i] = lastT;
    ids[i] = lastId;
  }
}
