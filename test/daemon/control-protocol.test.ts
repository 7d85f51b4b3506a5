/**
 * The control protocol codec (src/daemon/control-protocol.ts): framing split at every
 * octet, the accepted CBOR subset against hand-built items (RFC 8949 §3 encodings), every
 * malformed request kind with its error code, responses, and property tests that the
 * reader, the decoder and the request parser never throw on arbitrary bytes or values.
 */
import { encode } from 'cbor-x';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkCbor, CONTROL_OPS, decodeCbor, encodeFrame, errorResponse, FrameReader, isContextView, isEstablishResult, isLocatorsResult, isMetricsResult,
  isPcapResult, isReloadResult, isStatusResult, MAX_CBOR_DEPTH, MAX_REQUEST_FRAME, okResponse, parseRequest, parseResponse,
  type ContextView, type ControlRequest, type FrameEvent, type StatusResult,
} from '../../src/daemon/control-protocol.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

function drain(r: FrameReader): FrameEvent[] {
  const out: FrameEvent[] = [];
  for (let e = r.next(); e !== undefined; e = r.next()) out.push(e);
  return out;
}

/** Encodes, frames, reads, decodes and parses: what the server does with a client's request. */
function throughServer(value: unknown): ReturnType<typeof parseRequest> | { kind: string } {
  const r = new FrameReader(MAX_REQUEST_FRAME);
  r.push(encodeFrame(value));
  const [ev] = drain(r);
  if (ev?.kind !== 'frame') return { kind: ev?.kind ?? 'none' };
  const d = decodeCbor(ev.payload);
  if (!d.ok) return { kind: 'bad-frame' };
  return parseRequest(d.value);
}

describe('framing', () => {
  const frames = [encodeFrame({ v: 1, id: 1, op: 'status' }), encodeFrame({ v: 1, id: 2, op: 'set-pair', args: { context: 'hB', local: '2001:db8::1', peer: '2001:db8::2' } })];
  const stream = Buffer.concat(frames);

  it('a frame is a 4-octet big-endian length and the CBOR item', () => {
    const f = encodeFrame('abc');
    expect([...f]).toEqual([0, 0, 0, 4, 0x63, 0x61, 0x62, 0x63]);
  });

  it('two frames split at every octet come out whole and in order', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const r = new FrameReader(MAX_REQUEST_FRAME);
      r.push(stream.subarray(0, cut));
      const a = drain(r);
      r.push(stream.subarray(cut));
      const all = [...a, ...drain(r)];
      expect(all.map((e) => e.kind)).toEqual(['frame', 'frame']);
      expect(all.map((e) => (e.kind === 'frame' ? Buffer.from(e.payload).toString('hex') : ''))).toEqual(frames.map((f) => Buffer.from(f.subarray(4)).toString('hex')));
      expect(r.bufferedBytes).toBe(0);
    }
  });

  it('one octet at a time, many more chunks than the reader keeps apart', () => {
    const r = new FrameReader(MAX_REQUEST_FRAME);
    const big = encodeFrame({ v: 1, id: 3, op: 'status', pad: 'x'.repeat(1000) });
    const got: FrameEvent[] = [];
    for (const b of big) { r.push(Uint8Array.of(b)); got.push(...drain(r)); }
    expect(got).toHaveLength(1);
    expect(Buffer.from((got[0] as { payload: Uint8Array }).payload).equals(Buffer.from(big.subarray(4)))).toBe(true);
  });

  it('an empty frame, then the next one', () => {
    const r = new FrameReader(MAX_REQUEST_FRAME);
    r.push(Uint8Array.of(0, 0, 0, 0, ...frames[0]!));
    expect(drain(r).map((e) => e.kind)).toEqual(['empty', 'frame']);
  });

  it('a length over the limit stops the reader for good, without waiting for the body', () => {
    const r = new FrameReader(MAX_REQUEST_FRAME);
    r.push(Uint8Array.of(0, 1, 0, 1));
    expect(r.next()).toEqual({ kind: 'too-large', length: MAX_REQUEST_FRAME + 1 });
    r.push(frames[0]!);
    expect(r.next()).toBeUndefined();
    expect(r.bufferedBytes).toBe(0);
  });

  it('exactly the limit is accepted', () => {
    const r = new FrameReader(16);
    r.push(Uint8Array.of(0, 0, 0, 16, ...new Uint8Array(16)));
    expect(r.next()?.kind).toBe('frame');
  });
});

describe('the accepted CBOR subset', () => {
  it('accepts ints, strings, bytes, arrays, maps, floats, true/false/null/undefined', () => {
    // {"a": [0, -1, 1.5(f64), h'01', true, null], "b": 1.0(f16)}
    const item = hex('a2 6161 86 00 20 fb3ff8000000000000 4101 f5 f6 6162 f93c00');
    expect(checkCbor(item)).toBeUndefined();
    expect(decodeCbor(item)).toEqual({ ok: true, value: { a: [0, -1, 1.5, expect.anything(), true, null], b: 1 } });
  });

  const rejects: [string, string, RegExp][] = [
    ['a tag (1: epoch date)', 'c11a514b67b0', /tags are not accepted/],
    ['a tag inside a map (27: generic object)', 'a16161d81b826545 72726f72 6161', /tags/],
    ['an indefinite-length array', '9f01ff', /indefinite-length/],
    ['an indefinite-length map', 'bf6161 01ff', /indefinite-length/],
    ['an indefinite-length text string', '7f6161ff', /indefinite-length/],
    ['reserved additional information 28', '1c', /reserved additional information 28/],
    ['an unassigned simple value', 'e0', /simple value 0/],
    ['a one-octet simple value', 'f820', /simple value 24/],
    ['a stray break', 'ff', /unexpected break/],
    ['trailing octets', '0000', /1 octets after the CBOR item/],
    ['a truncated string', '6361', /truncated/],
    ['a truncated head', '19 01', /truncated/],
    ['an array claiming 2^64-1 entries', '9bffffffffffffffff', /truncated/],
    ['a map claiming 2^32-1 entries', 'baffffffff', /truncated/],
    ['an integer map key', 'a10101', /map keys must be text strings/],
    ['a duplicate map key', 'a2616101616102', /duplicate map key "a"/],
    ['invalid UTF-8', '62c328', /not valid UTF-8/],
    ['an empty payload', '', /truncated/],
  ];
  for (const [name, bytes, reason] of rejects) {
    it(`rejects ${name}`, () => {
      expect(checkCbor(hex(bytes))).toMatch(reason);
      const d = decodeCbor(hex(bytes));
      expect(d.ok).toBe(false);
    });
  }

  it(`nesting: ${MAX_CBOR_DEPTH} levels pass, ${MAX_CBOR_DEPTH + 1} do not`, () => {
    const nest = (n: number): Uint8Array => Uint8Array.from([...new Array<number>(n - 1).fill(0x81), 0x80]);
    expect(checkCbor(nest(MAX_CBOR_DEPTH))).toBeUndefined();
    expect(checkCbor(nest(MAX_CBOR_DEPTH + 1))).toMatch(/nested deeper/);
  });
});

describe('requests', () => {
  const ok = (value: unknown): ControlRequest => {
    const p = parseRequest(value);
    if (!p.ok) throw new Error(`${p.code}: ${p.message}`);
    return p.request;
  };

  it('every op, through encode, frame, read and decode', () => {
    for (const op of ['status', 'contexts', 'counters', 'locators', 'metrics', 'reload'] as const) expect(throughServer({ v: 1, id: 7, op })).toEqual({ ok: true, request: { id: 7, op } });
    expect(throughServer({ v: 1, id: 0, op: 'context', args: { context: 'hB' } })).toEqual({ ok: true, request: { id: 0, op: 'context', args: { context: 'hB' } } });
    expect(throughServer({ v: 1, id: 0, op: 'explore', args: { context: 'hB' } })).toEqual({ ok: true, request: { id: 0, op: 'explore', args: { context: 'hB' } } });
    expect(throughServer({ v: 1, id: 2 ** 40, op: 'set-pair', args: { context: 'hB', local: 'a', peer: 'b' } }))
      .toEqual({ ok: true, request: { id: 2 ** 40, op: 'set-pair', args: { context: 'hB', local: 'a', peer: 'b' } } });
    expect(throughServer({ v: 1, id: 1, op: 'establish', args: { peer: '2001:db8::2' } })).toEqual({ ok: true, request: { id: 1, op: 'establish', args: { peer: '2001:db8::2' } } });
    expect(throughServer({ v: 1, id: 1, op: 'establish', args: { peer: '2001:db8::2', local: '2001:db8::1' } }))
      .toEqual({ ok: true, request: { id: 1, op: 'establish', args: { peer: '2001:db8::2', local: '2001:db8::1' } } });
    expect(throughServer({ v: 1, id: 1, op: 'pcap', args: { action: 'start', path: '/tmp/x.pcap' } })).toEqual({ ok: true, request: { id: 1, op: 'pcap', args: { action: 'start', path: '/tmp/x.pcap' } } });
    expect(throughServer({ v: 1, id: 1, op: 'pcap', args: { action: 'start' } })).toEqual({ ok: true, request: { id: 1, op: 'pcap', args: { action: 'start' } } });
    expect(throughServer({ v: 1, id: 1, op: 'pcap', args: { action: 'stop' } })).toEqual({ ok: true, request: { id: 1, op: 'pcap', args: { action: 'stop' } } });
  });

  it('an optional argument left out is absent from the request, not undefined', () => {
    const p = parseRequest({ v: 1, id: 1, op: 'establish', args: { peer: 'x' } });
    expect(p.ok && p.request.op === 'establish' && Object.keys(p.request.args)).toEqual(['peer']);
  });

  it('every listed op is accepted by the parser', () => {
    const args: Partial<Record<string, Record<string, string>>> = {
      context: { context: 'a' }, explore: { context: 'a' }, 'set-pair': { context: 'a', local: 'b', peer: 'c' }, establish: { peer: 'p' }, pcap: { action: 'stop' },
    };
    for (const op of CONTROL_OPS) expect(parseRequest({ v: 1, id: 1, op, ...(args[op] === undefined ? {} : { args: args[op] }) }).ok).toBe(true);
  });

  it('a hand-built request (standard CBOR, not cbor-x output) parses', () => {
    // {"v": 1, "id": 5, "op": "status"}
    const d = decodeCbor(hex('a3 6176 01 6269 64 05 626f70 66737461747573'));
    expect(d.ok && ok(d.value)).toEqual({ id: 5, op: 'status' });
    // a 64-bit id arrives as a bigint
    const d2 = decodeCbor(hex('a3 6176 01 626964 1b0000010000000000 626f70 66737461747573'));
    expect(d2.ok && ok(d2.value)).toEqual({ id: 2 ** 40, op: 'status' });
  });

  it('empty args are allowed for ops without arguments', () => {
    expect(ok({ v: 1, id: 1, op: 'status', args: {} })).toEqual({ id: 1, op: 'status' });
  });

  const bad: [string, unknown, string, number | null, RegExp][] = [
    ['an array', [1, 2], 'bad-request', null, /must be a map, not an array/],
    ['a number', 5, 'bad-request', null, /not a number/],
    ['a byte string', new Uint8Array(2), 'bad-request', null, /not a byte string/],
    ['no id', { v: 1, op: 'status' }, 'bad-request', null, /id is required/],
    ['a negative id', { v: 1, id: -1, op: 'status' }, 'bad-request', null, /unsigned integer/],
    ['a fractional id', { v: 1, id: 1.5, op: 'status' }, 'bad-request', null, /unsigned integer/],
    ['a string id', { v: 1, id: '1', op: 'status' }, 'bad-request', null, /not a string/],
    ['an unknown key', { v: 1, id: 3, op: 'status', debug: true }, 'bad-request', 3, /unknown key "debug"/],
    ['no v', { id: 3, op: 'status' }, 'bad-request', 3, /v is required/],
    ['v as a string', { v: '1', id: 3, op: 'status' }, 'bad-request', 3, /v must be an integer/],
    ['v = 2', { v: 2, id: 3, op: 'status' }, 'unsupported-version', 3, /version 2 is not supported/],
    ['no op', { v: 1, id: 3 }, 'bad-request', 3, /op must be a string, not undefined/],
    ['op as a number', { v: 1, id: 3, op: 1 }, 'bad-request', 3, /op must be a string/],
    ['an unknown op', { v: 1, id: 3, op: 'reboot' }, 'unknown-op', 3, /unknown op "reboot"/],
    ['args not a map', { v: 1, id: 3, op: 'context', args: ['hB'] }, 'bad-request', 3, /args must be a map/],
    ['args for an op that takes none', { v: 1, id: 3, op: 'status', args: { verbose: 1 } }, 'bad-request', 3, /op status takes no argument "verbose"/],
    ['an extra argument', { v: 1, id: 3, op: 'context', args: { context: 'a', name: 'b' } }, 'bad-request', 3, /takes no argument "name"/],
    ['a missing argument', { v: 1, id: 3, op: 'set-pair', args: { context: 'a', local: 'b' } }, 'bad-request', 3, /needs args\.peer/],
    ['no args at all', { v: 1, id: 3, op: 'context' }, 'bad-request', 3, /needs args\.context/],
    ['a mistyped argument', { v: 1, id: 3, op: 'context', args: { context: 5 } }, 'bad-request', 3, /args\.context must be a string, not a number/],
    ['an empty argument', { v: 1, id: 3, op: 'context', args: { context: '' } }, 'bad-request', 3, /1 to 256 characters/],
    ['an overlong argument', { v: 1, id: 3, op: 'context', args: { context: 'x'.repeat(257) } }, 'bad-request', 3, /1 to 256 characters/],
    ['establish without a peer', { v: 1, id: 3, op: 'establish', args: { local: '2001:db8::1' } }, 'bad-request', 3, /op establish needs args\.peer/],
    ['establish with an unknown argument', { v: 1, id: 3, op: 'establish', args: { peer: 'a', context: 'b' } }, 'bad-request', 3, /op establish takes no argument "context"/],
    ['a mistyped optional argument', { v: 1, id: 3, op: 'establish', args: { peer: 'a', local: 1 } }, 'bad-request', 3, /args\.local must be a string, not a number/],
    ['an empty optional argument', { v: 1, id: 3, op: 'establish', args: { peer: 'a', local: '' } }, 'bad-request', 3, /args\.local must be 1 to 256 characters/],
    ['an overlong optional argument', { v: 1, id: 3, op: 'pcap', args: { action: 'start', path: '/'.repeat(257) } }, 'bad-request', 3, /args\.path must be 1 to 256/],
    ['pcap without an action', { v: 1, id: 3, op: 'pcap', args: { path: '/tmp/x' } }, 'bad-request', 3, /op pcap needs args\.action/],
    ['pcap with another action', { v: 1, id: 3, op: 'pcap', args: { action: 'pause' } }, 'bad-request', 3, /args\.action must be one of start, stop, not "pause"/],
    ['pcap stop with a path', { v: 1, id: 3, op: 'pcap', args: { action: 'stop', path: '/tmp/x' } }, 'bad-request', 3, /args\.path goes only with action start/],
    ['explore without a context', { v: 1, id: 3, op: 'explore' }, 'bad-request', 3, /op explore needs args\.context/],
    ['arguments for metrics', { v: 1, id: 3, op: 'metrics', args: { format: 'json' } }, 'bad-request', 3, /op metrics takes no argument "format"/],
  ];
  for (const [name, value, code, id, message] of bad) {
    it(`refuses ${name}: ${code}`, () => {
      const p = parseRequest(value);
      expect(p.ok).toBe(false);
      if (p.ok) return;
      expect(p.code).toBe(code);
      expect(p.id).toBe(id);
      expect(p.message).toMatch(message);
    });
  }

  it('quotes client strings in messages cut short', () => {
    const p = parseRequest({ v: 1, id: 1, op: 'z'.repeat(10_000) });
    expect(!p.ok && p.message.length).toBeLessThan(100);
  });
});

describe('responses', () => {
  it('ok and error responses round-trip through the frame and the client parser', () => {
    for (const r of [okResponse(4, { x: [1, 'a'] }), errorResponse(null, 'bad-frame', 'empty frame'), okResponse(0, null)]) {
      const rd = new FrameReader(1 << 20);
      rd.push(encodeFrame(r));
      const ev = rd.next();
      expect(ev?.kind).toBe('frame');
      const d = decodeCbor((ev as { payload: Uint8Array }).payload);
      expect(d.ok && parseResponse(d.value)).toEqual({ ok: true, response: r });
    }
  });

  it('the client refuses malformed responses', () => {
    expect(parseResponse([]).ok).toBe(false);
    expect(parseResponse({ v: 2, id: 1, ok: true, result: 1 }).ok).toBe(false);
    expect(parseResponse({ v: 1, id: 'x', ok: true, result: 1 }).ok).toBe(false);
    expect(parseResponse({ v: 1, id: 1, ok: true }).ok).toBe(false);
    expect(parseResponse({ v: 1, id: 1, ok: false, error: { code: 1 } }).ok).toBe(false);
    expect(parseResponse({ v: 1, id: 1, ok: 'yes' }).ok).toBe(false);
  });

  const counters = { egressPackets: 1 } as unknown as ContextView['counters'];
  const staticView: ContextView = {
    name: 'a', source: 'static', localUlid: 'x', peerUlid: 'y', localLocators: ['x'], peerLocators: ['y'], localContextTag: 1, peerContextTag: 2,
    currentPair: { local: 'x', peer: 'y' }, rewriting: false, counters, state: null, reap: null, failovers: 0, lastFailover: null, establishedAt: null,
  };
  const engineView: ContextView = {
    ...staticView, source: 'engine', peerContextTag: null, state: 'ESTABLISHED', reap: { state: 'Exploring', since: '2024-05-01T10:00:00.000Z' }, failovers: 2,
    lastFailover: { at: '2024-05-01T10:00:03.000Z', durationMs: 3000, from: { local: 'x', peer: 'y' }, to: { local: 'x2', peer: 'y2' }, reason: 'send-timeout' },
    establishedAt: '2024-05-01T09:00:00.000Z',
  };

  it('context view shape checks', () => {
    expect(isContextView(staticView)).toBe(true);
    expect(isContextView(engineView)).toBe(true);
    expect(isContextView({ ...engineView, lastFailover: { ...engineView.lastFailover, durationMs: null } })).toBe(true);
    expect(isContextView({ ...staticView, rewriting: 'no' })).toBe(false);
    expect(isContextView({ ...staticView, localLocators: [1] })).toBe(false);
    expect(isContextView({ ...staticView, counters: { a: 'b' } })).toBe(false);
    expect(isContextView({ ...staticView, source: 'config' })).toBe(false);
    expect(isContextView({ ...staticView, peerContextTag: '2' })).toBe(false);
    expect(isContextView({ ...staticView, reap: { state: 'Broken', since: 'x' } })).toBe(false);
    expect(isContextView({ ...staticView, reap: { state: 'Operational' } })).toBe(false);
    expect(isContextView({ ...engineView, lastFailover: { ...engineView.lastFailover, from: 'x' } })).toBe(false);
    expect(isContextView({ ...staticView, failovers: null })).toBe(false);
    const { establishedAt: _, ...withoutEstablished } = staticView;
    expect(isContextView(withoutEstablished)).toBe(false);
  });

  it('status shape checks', () => {
    const status: StatusResult = {
      version: '0.1.0', pid: 1, uptimeSec: 2, tun: { name: 't', mtu: 1492 }, contexts: 1, counters,
      engine: null, identities: 0, reapMode: null, capturing: false, metrics: null,
    };
    expect(isStatusResult(status)).toBe(true);
    expect(isStatusResult({ ...status, engine: { contexts: 2, byState: { ESTABLISHED: 2 }, counters: { 'rx.I1': 3 } }, reapMode: 'full', metrics: '[::1]:9464' })).toBe(true);
    expect(isStatusResult({ ...status, tun: 't' })).toBe(false);
    expect(isStatusResult({ ...status, engine: { contexts: 2, byState: { ESTABLISHED: '2' }, counters: {} } })).toBe(false);
    expect(isStatusResult({ ...status, capturing: undefined })).toBe(false);
    expect(isStatusResult({ ...status, metrics: 9464 })).toBe(false);
  });

  it('shape checks of the new results', () => {
    const loc = { address: '2001:db8::1', interface: 'eth0', method: 'HBA', operational: true };
    expect(isLocatorsResult({ identities: [{ ulid: '2001:db8::1', locators: [loc, { ...loc, interface: null }] }] })).toBe(true);
    expect(isLocatorsResult({ identities: [] })).toBe(true);
    expect(isLocatorsResult({ identities: [{ ulid: '2001:db8::1', locators: [{ ...loc, operational: 'yes' }] }] })).toBe(false);
    expect(isLocatorsResult({ identities: {} })).toBe(false);
    expect(isEstablishResult({ outcome: 'started', context: engineView })).toBe(true);
    expect(isEstablishResult({ outcome: 'hold-down', context: null })).toBe(true);
    expect(isEstablishResult({ outcome: 'started', context: { name: 'a' } })).toBe(false);
    expect(isEstablishResult({ context: null })).toBe(false);
    const pcap = { capturing: true, path: '/tmp/x.pcap', packets: 1, bytes: 24, truncated: false };
    expect(isPcapResult(pcap)).toBe(true);
    expect(isPcapResult({ ...pcap, path: null })).toBe(true);
    expect(isPcapResult({ ...pcap, bytes: '24' })).toBe(false);
    expect(isMetricsResult({ text: '# HELP\n' })).toBe(true);
    expect(isMetricsResult({ text: 1 })).toBe(false);
    expect(isReloadResult({ applied: ['log.level'], needsRestart: [] })).toBe(true);
    expect(isReloadResult({ applied: 'log.level', needsRestart: [] })).toBe(false);
  });
});

describe('never throws', () => {
  const pipeline = (chunks: readonly Uint8Array[]): void => {
    const r = new FrameReader(MAX_REQUEST_FRAME);
    for (const c of chunks) {
      r.push(c);
      for (let e = r.next(); e !== undefined; e = r.next()) {
        if (e.kind !== 'frame') continue;
        const d = decodeCbor(e.payload);
        if (d.ok) parseRequest(d.value);
      }
    }
  };

  it('arbitrary bytes, in arbitrary chunks', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (chunks) => pipeline(chunks)), { numRuns: 3000 });
  });

  it('arbitrary payloads behind a correct length prefix', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (payload) => {
      pipeline([Uint8Array.of(0, 0, payload.length >> 8, payload.length & 0xff), payload]);
      const d = decodeCbor(payload);
      if (d.ok) parseRequest(d.value);
    }), { numRuns: 3000 });
  });

  it('arbitrary values as cbor-x encodes them (tags and all)', () => {
    fc.assert(fc.property(fc.anything({ withBigInt: true, withMap: true, withSet: true, withTypedArray: true, withDate: true, withNullPrototype: true }), (v) => {
      let bytes: Uint8Array;
      try { bytes = encode(v); } catch { return; }
      const d = decodeCbor(bytes);
      if (d.ok) parseRequest(d.value);
    }), { numRuns: 2000 });
  });

  it('valid requests with random bit flips', () => {
    const valid = encodeFrame({ v: 1, id: 9, op: 'set-pair', args: { context: 'hB', local: '2001:db8:1:a::1', peer: '2001:db8:1:b::1' } });
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }), (flips) => {
      const b = valid.slice();
      for (const [i, bit] of flips) b[i]! ^= 1 << bit;
      pipeline([b]);
    }), { numRuns: 3000 });
  });

  it('random well-formed requests parse to exactly what was sent', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
    fc.assert(fc.property(fc.nat(), name, name, name, (id, context, local, peer) => {
      expect(throughServer({ v: 1, id, op: 'set-pair', args: { context, local, peer } })).toEqual({ ok: true, request: { id, op: 'set-pair', args: { context, local, peer } } });
    }), { numRuns: 500 });
  });

  it('random establish and pcap requests, optional arguments present or not, parse to exactly what was sent', () => {
    const text = fc.string({ minLength: 1, maxLength: 256 });
    const request = fc.oneof(
      fc.record({ peer: text, local: text }, { requiredKeys: ['peer'] }).map((args) => ({ op: 'establish', args })),
      fc.record({ action: fc.constant('start'), path: text }, { requiredKeys: ['action'] }).map((args) => ({ op: 'pcap', args })),
      fc.constant({ op: 'pcap', args: { action: 'stop' } }),
    );
    fc.assert(fc.property(fc.nat(), request, (id, r) => {
      expect(throughServer({ v: 1, id, ...r })).toEqual({ ok: true, request: { id, ...r } });
    }), { numRuns: 500 });
  });
});
