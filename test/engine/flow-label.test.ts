/**
 * Negotiation of the experimental flow-label mode between engines (issue #8;
 * src/context/flow-label.ts): the Flow Label Demux option in I2/R2/I2bis/Update Request,
 * the labels in the fast-path actions, a peer without the mode, two peers that picked
 * the same label, exhaustion, quarantine after removal, and save/adopt.
 */
import { describe, expect, it } from 'vitest';
import type { ShimContext } from '../../src/context/types.js';
import type { EngineAction, ShimEngine } from '../../src/engine/engine.js';
import { readFlowLabelDemux } from '../../src/wire/options/flow-label-demux.js';
import { engine, hbaIdentity, pump, type Delivered } from './engine.util.js';

const A = ['2001:db8:a1::', '2001:db8:a2::'];
const B = ['2001:db8:b1::', '2001:db8:b2::'];
const C = ['2001:db8:c1::', '2001:db8:c2::'];

function only(e: ShimEngine): ShimContext {
  const all = [...e.contexts()];
  expect(all).toHaveLength(1);
  return all[0]!;
}

function optionIn(d: Delivered): number | undefined {
  const m = d.action.message;
  return m.kind === 'Error' ? undefined : readFlowLabelDemux(m.options)?.label;
}

function installs(actions: readonly EngineAction[]): ShimContext[] {
  return actions.flatMap((a) => (a.kind === 'fast-path' && a.op !== 'remove' ? [a.ctx] : []));
}

async function pair(flowA: object | undefined, flowB: object | undefined) {
  const a = engine(await hbaIdentity(A, 1), 11, flowA === undefined ? {} : { flowLabel: flowA });
  const b = engine(await hbaIdentity(B, 2), 12, flowB === undefined ? {} : { flowLabel: flowB });
  expect(a.establish(a.identities()[0]!.ulid, b.identities()[0]!.ulid, 0).ok).toBe(true);
  const r = pump({ a, b }, 0);
  expect(only(a).state).toBe('ESTABLISHED');
  expect(only(b).state).toBe('ESTABLISHED');
  return { a, b, ...r };
}

describe('flow-label mode negotiation (experimental, issue #8)', () => {
  it('both hosts in the mode: I2 and R2 carry each side\'s label; each writes the other\'s; the fast path gets both', async () => {
    const { a, b, delivered, others } = await pair({}, {});
    const ca = only(a);
    const cb = only(b);
    expect(ca.flowLabelLocal).toBeGreaterThan(0);
    expect(cb.flowLabelLocal).toBeGreaterThan(0);
    expect(ca.flowLabelPeer).toBe(cb.flowLabelLocal);
    expect(cb.flowLabelPeer).toBe(ca.flowLabelLocal);
    const i2 = delivered.find((d) => d.action.message.kind === 'I2')!;
    const r2 = delivered.find((d) => d.action.message.kind === 'R2')!;
    expect(optionIn(i2)).toBe(ca.flowLabelLocal);
    expect(optionIn(r2)).toBe(cb.flowLabelLocal);
    for (const d of delivered.filter((x) => x.action.message.kind === 'I1' || x.action.message.kind === 'R1')) expect(optionIn(d)).toBeUndefined();
    const ia = installs(others['a']!).at(-1)!;
    const ib = installs(others['b']!).at(-1)!;
    expect([ia.flowLabelLocal, ia.flowLabelPeer]).toEqual([ca.flowLabelLocal, ca.flowLabelPeer]);
    expect([ib.flowLabelLocal, ib.flowLabelPeer]).toEqual([cb.flowLabelLocal, cb.flowLabelPeer]);
    expect(a.counters()['flowlabel.allocated']).toBe(1);
  });

  it('initiator in the mode, responder without it: the responder ignores the option, so both use the explicit tag', async () => {
    const { a, b, delivered } = await pair({}, undefined);
    expect(optionIn(delivered.find((d) => d.action.message.kind === 'I2')!)).toBeGreaterThan(0);
    expect(optionIn(delivered.find((d) => d.action.message.kind === 'R2')!)).toBeUndefined();
    expect(only(a).flowLabelPeer).toBe(0); // a writes the header towards b
    expect(only(b).flowLabelPeer).toBeUndefined(); // b never writes labels
    expect(only(b).flowLabelLocal).toBeUndefined();
  });

  it('responder in the mode, initiator without it: a label is still advertised in R2 but the initiator ignores it', async () => {
    const { a, b, delivered } = await pair(undefined, {});
    expect(optionIn(delivered.find((d) => d.action.message.kind === 'I2')!)).toBeUndefined();
    expect(optionIn(delivered.find((d) => d.action.message.kind === 'R2')!)).toBeGreaterThan(0);
    expect(only(b).flowLabelPeer).toBe(0);
    expect(only(a).flowLabelPeer).toBeUndefined();
  });

  it('Update Requests carry the label again; an Update Request without the option means the peer no longer offers one', async () => {
    const { a, b } = await pair({}, {});
    const ca = only(a);
    // a's second locator goes away: Update Request with the same label.
    const idA = a.identities()[0]!;
    a.setLocalLocators(idA.ulid, idA.locators.slice(0, 1), undefined, 10);
    const r = pump({ a, b }, 10);
    const ur = r.delivered.find((d) => d.action.message.kind === 'UpdateRequest')!;
    expect(optionIn(ur)).toBe(ca.flowLabelLocal);
    expect(only(b).flowLabelPeer).toBe(ca.flowLabelLocal);
    // a restarts with the mode off and adopts its context: its next Update Request has no option.
    const saved = a.exportContexts();
    expect(saved[0]!.flowLabelLocal).toBe(ca.flowLabelLocal);
    const a2 = engine(idA, 21);
    expect(a2.adopt(saved[0]!, 20).ok).toBe(true);
    expect(only(a2).flowLabelLocal).toBeUndefined();
    expect(only(a2).flowLabelPeer).toBeUndefined();
    // Its Ls(local) changed while it was down (one locator then, two now): adopt sends the Update Request (§10.1).
    const r2 = pump({ a: a2, b }, 30);
    expect(optionIn(r2.delivered.find((d) => d.action.message.kind === 'UpdateRequest')!)).toBeUndefined();
    expect(only(b).flowLabelPeer).toBe(0);
    expect(installs(r2.others['b']!).at(-1)!.flowLabelPeer).toBe(0); // the fast path is told
  });

  it('two peers that picked the same label: the host writes it towards both, and its own labels stay distinct', async () => {
    const a = engine(await hbaIdentity(A, 1), 11, { flowLabel: {} });
    const b = engine(await hbaIdentity(B, 2), 12, { flowLabel: { first: 7, last: 7 } });
    const c = engine(await hbaIdentity(C, 3), 13, { flowLabel: { first: 7, last: 7 } });
    const ulidA = a.identities()[0]!.ulid;
    expect(a.establish(ulidA, b.identities()[0]!.ulid, 0).ok).toBe(true);
    expect(a.establish(ulidA, c.identities()[0]!.ulid, 0).ok).toBe(true);
    pump({ a, b, c }, 0);
    const ctxs = [...a.contexts()];
    expect(ctxs.map((x) => x.state)).toEqual(['ESTABLISHED', 'ESTABLISHED']);
    expect(ctxs.map((x) => x.flowLabelPeer)).toEqual([7, 7]);
    expect(new Set(ctxs.map((x) => x.flowLabelLocal)).size).toBe(2);
    expect(only(b).flowLabelLocal).toBe(7);
    expect(only(c).flowLabelLocal).toBe(7);
  });

  it('an exhausted label space advertises 0, and the peer keeps the explicit tag towards that host; a removed context\'s label waits out its quarantine', async () => {
    const a = engine(await hbaIdentity(A, 1), 11, { flowLabel: { first: 5, last: 5, quarantineMs: 1000 } });
    const b = engine(await hbaIdentity(B, 2), 12, { flowLabel: {} });
    const c = engine(await hbaIdentity(C, 3), 13, { flowLabel: {} });
    const ulidA = a.identities()[0]!.ulid;
    a.establish(ulidA, b.identities()[0]!.ulid, 0);
    pump({ a, b, c }, 0);
    a.establish(ulidA, c.identities()[0]!.ulid, 0);
    pump({ a, b, c }, 0);
    const [withB, withC] = [...a.contexts()];
    expect(withB!.flowLabelLocal).toBe(5);
    expect(withC!.flowLabelLocal).toBe(0);
    expect(only(c).flowLabelPeer).toBe(0);
    expect(only(b).flowLabelPeer).toBe(5);
    expect(a.counters()['flowlabel.exhausted']).toBe(1);
    expect(a.flowLabelStats(0)).toEqual({ inUse: 1, quarantined: 0, exhausted: 1 });
    // Tear down the context with b: label 5 is quarantined, not handed out again at once.
    a.teardown(withB!.id, 100);
    a.teardown(withC!.id, 100);
    expect(a.flowLabelStats(100)).toMatchObject({ inUse: 0, quarantined: 1 });
    a.establish(ulidA, c.identities()[0]!.ulid, 200);
    pump({ a, b, c }, 200);
    expect([...a.contexts()].find((x) => x.state === 'ESTABLISHED')?.flowLabelLocal).toBe(0);
    for (const x of [...a.contexts()]) a.teardown(x.id, 1200);
    a.establish(ulidA, b.identities()[0]!.ulid, 1200);
    pump({ a, b, c }, 1200);
    expect([...a.contexts()].find((x) => x.state === 'ESTABLISHED')?.flowLabelLocal).toBe(5);
  });

  it('save and adopt keep both labels; a saved label already taken refuses the context', async () => {
    const { a } = await pair({}, {});
    const saved = a.exportContexts()[0]!;
    const idA = a.identities()[0]!;
    const a2 = engine(idA, 31, { flowLabel: {} });
    const r = a2.adopt(saved, 0);
    expect(r.ok).toBe(true);
    expect(only(a2).flowLabelLocal).toBe(saved.flowLabelLocal);
    expect(only(a2).flowLabelPeer).toBe(saved.flowLabelPeer);
    expect(installs(a2.takeActions()).at(-1)!.flowLabelPeer).toBe(saved.flowLabelPeer);
    // The same label for another peer ULID: taken.
    const other = { ...saved, ulidPeer: Uint8Array.from(saved.ulidPeer.map((x, i) => (i === 15 ? x ^ 1 : x))), ctLocal: saved.ctLocal ^ 1, lsPeer: [] };
    expect(a2.adopt(other, 0)).toEqual({ ok: false, code: 'label-taken' });
    expect(a2.adopt({ ...other, flowLabelLocal: 0x100000 }, 0)).toEqual({ ok: false, code: 'bad-context' });
  });
});
