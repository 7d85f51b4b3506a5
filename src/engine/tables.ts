/**
 * The context tables of one host: every lookup key of RFC 5533 §12.4 mapped to contexts
 * in O(1), so lookup cost does not grow with the number of contexts.
 *
 * - ULID pair + FII: I1, I2, I2bis, and ULP packets from the ULP;
 * - CT(local): payload, Update, Keepalive, Probe, and our own I1/I2 in Error messages;
 * - INIT Nonce: R1 and R2 (then the locators are checked);
 * - CT(peer): R1bis, Error messages about payload, and context confusion (§7.15);
 * - ULID(peer): the per-peer bound.
 *
 * Contexts in IDLE are never stored (they are the absence of state).
 */
import { ContextState, type ShimContext } from '../context/types.js';
import { addressKey } from '../wire/address.js';

export function ulidKey(ulidLocal: Uint8Array, ulidPeer: Uint8Array, fii: number): string {
  return addressKey(ulidLocal) + addressKey(ulidPeer) + fii;
}

/** True when `next` may replace `prev` in the table without re-indexing (no lookup key changed). */
export function sameKeys(prev: ShimContext, next: ShimContext): boolean {
  return prev.state === next.state && prev.ctLocal === next.ctLocal && prev.initNonce === next.initNonce && prev.ctPeer === next.ctPeer;
}

function addMulti(m: Map<number, Set<number>>, k: number, id: number): void {
  let s = m.get(k);
  if (s === undefined) m.set(k, (s = new Set()));
  s.add(id);
}

function delMulti(m: Map<number, Set<number>>, k: number, id: number): void {
  const s = m.get(k);
  if (s === undefined) return;
  s.delete(id);
  if (s.size === 0) m.delete(k);
}

const NONCE_STATES: ReadonlySet<string> = new Set([ContextState.I1_SENT, ContextState.I2_SENT, ContextState.I2BIS_SENT, ContextState.ESTABLISHED]);

export class ContextTable {
  readonly #byId = new Map<number, ShimContext>();
  readonly #byUlids = new Map<string, number>();
  readonly #byCtLocal = new Map<number, number>();
  readonly #byInitNonce = new Map<number, Set<number>>();
  readonly #byCtPeer = new Map<number, Set<number>>();
  readonly #perPeer = new Map<string, number>();

  get size(): number {
    return this.#byId.size;
  }

  get(id: number): ShimContext | undefined {
    return this.#byId.get(id);
  }

  values(): IterableIterator<ShimContext> {
    return this.#byId.values();
  }

  byUlids(ulidLocal: Uint8Array, ulidPeer: Uint8Array, fii: number): ShimContext | undefined {
    const id = this.#byUlids.get(ulidKey(ulidLocal, ulidPeer, fii));
    return id === undefined ? undefined : this.#byId.get(id);
  }

  byCtLocal(tag: number): ShimContext | undefined {
    const id = this.#byCtLocal.get(tag);
    return id === undefined ? undefined : this.#byId.get(id);
  }

  hasInitNonce(nonce: number): boolean {
    return this.#byInitNonce.has(nonce);
  }

  hasCtLocal(tag: number): boolean {
    return this.#byCtLocal.has(tag);
  }

  *byInitNonce(nonce: number): Generator<ShimContext> {
    const s = this.#byInitNonce.get(nonce);
    if (s !== undefined) for (const id of [...s]) yield this.#byId.get(id)!;
  }

  *byCtPeer(tag: number): Generator<ShimContext> {
    const s = this.#byCtPeer.get(tag);
    if (s !== undefined) for (const id of [...s]) yield this.#byId.get(id)!;
  }

  peerCount(ulidPeer: Uint8Array): number {
    return this.#perPeer.get(addressKey(ulidPeer)) ?? 0;
  }

  /** Stores `next` as context `id`, replacing what was stored; an IDLE or undefined `next` removes it. */
  put(id: number, next: ShimContext | undefined): void {
    const stored = this.#byId.get(id);
    if (stored === next) return;
    if (stored !== undefined && next !== undefined && next.state !== ContextState.IDLE && sameKeys(stored, next)) {
      this.#byId.set(id, next);
      return;
    }
    if (stored !== undefined) this.#unindex(stored);
    if (next !== undefined && next.state !== ContextState.IDLE) this.#index(next);
  }

  /** Replaces a stored context by a version that differs only in fields no index uses (e.g. lastActivity). */
  touch(next: ShimContext): void {
    if (this.#byId.has(next.id)) this.#byId.set(next.id, next);
  }

  #unindex(c: ShimContext): void {
    this.#byId.delete(c.id);
    this.#byUlids.delete(ulidKey(c.ulidLocal, c.ulidPeer, c.fii));
    if (c.ctLocal >= 0 && this.#byCtLocal.get(c.ctLocal) === c.id) this.#byCtLocal.delete(c.ctLocal);
    if (NONCE_STATES.has(c.state)) delMulti(this.#byInitNonce, c.initNonce, c.id);
    if (c.ctPeer !== undefined) delMulti(this.#byCtPeer, c.ctPeer, c.id);
    const k = addressKey(c.ulidPeer);
    const n = (this.#perPeer.get(k) ?? 1) - 1;
    if (n <= 0) this.#perPeer.delete(k);
    else this.#perPeer.set(k, n);
  }

  #index(c: ShimContext): void {
    this.#byId.set(c.id, c);
    this.#byUlids.set(ulidKey(c.ulidLocal, c.ulidPeer, c.fii), c.id);
    if (c.ctLocal >= 0) this.#byCtLocal.set(c.ctLocal, c.id);
    if (NONCE_STATES.has(c.state)) addMulti(this.#byInitNonce, c.initNonce, c.id);
    if (c.ctPeer !== undefined) addMulti(this.#byCtPeer, c.ctPeer, c.id);
    const k = addressKey(c.ulidPeer);
    this.#perPeer.set(k, (this.#perPeer.get(k) ?? 0) + 1);
  }
}
