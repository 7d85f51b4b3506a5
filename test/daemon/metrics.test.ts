/**
 * shim6d's metrics (src/daemon/metrics.ts): the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/) checked line by line
 * against a small independent parser of that format (names, HELP/TYPE before samples,
 * label escapes, no family twice), name sanitising and collisions, deterministic order;
 * listen addresses; and the HTTP server on ::1, port 0: GET /metrics, 404, 405, 500,
 * the loopback rule and the connection bound.
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  escapeLabel, formatPrometheus, isLoopbackHost, METRICS_CONTENT_TYPE, metricName, MetricsServer, parseListen, type MetricsSnapshot,
} from '../../src/daemon/metrics.js';

const SNAPSHOT: MetricsSnapshot = {
  uptimeSec: 75,
  engine: { 'rx.I1': 4, 'tx.R1': 4, 'drop.nonce-mismatch': 1, 'reap.local-down': 0 },
  dataPlane: { egressPackets: 12, egressBytes: 3400, dropUnknownTag: 2 },
  daemon: { 'netlink.events': 9, 'control.refused': 1, 'traffic.polls': 300 },
  contexts: [
    { name: 'hC', localUlid: '2001:db8:1:a::1', peerUlid: '2001:db8:1:c::1', state: 'ESTABLISHED', reapState: 'Exploring', failovers: 2, counters: { egressPackets: 5, ingressPackets: 3 } },
    { name: 'hB', localUlid: '2001:db8:1:a::1', peerUlid: '2001:db8:1:b::1', state: null, reapState: null, failovers: 0, counters: { egressPackets: 7, ingressPackets: 0 } },
  ],
};

interface Family { type: string; help: string; samples: { labels: Record<string, string>; value: string }[] }

/**
 * An independent reader of the text format: every line is a HELP, a TYPE or a sample of
 * the family just declared; label values are unescaped by hand. Throws on anything else.
 */
function parseExposition(text: string): Map<string, Family> {
  expect(text.endsWith('\n')).toBe(true);
  const families = new Map<string, Family>();
  let current: string | undefined;
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const name = rest.slice(0, rest.indexOf(' '));
      if (!NAME.test(name)) throw new Error(`bad name ${name}`);
      if (families.has(name)) throw new Error(`family ${name} twice`);
      families.set(name, { type: '', help: rest.slice(name.length + 1), samples: [] });
      current = name;
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      if (name !== current) throw new Error(`TYPE for ${name} after HELP for ${current}`);
      if (type !== 'counter' && type !== 'gauge') throw new Error(`type ${type}`);
      families.get(name)!.type = type;
      continue;
    }
    let i = 0;
    while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
    const name = line.slice(0, i);
    if (name !== current) throw new Error(`sample of ${name} outside its family`);
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      while (line[i] !== '}') {
        const eq = line.indexOf('=', i);
        const key = line.slice(i, eq);
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key)) throw new Error(`bad label name ${key}`);
        i = eq + 1;
        if (line[i] !== '"') throw new Error('label value not quoted');
        i++;
        let v = '';
        for (;;) {
          const ch = line[i++];
          if (ch === undefined) throw new Error('unterminated label value');
          if (ch === '"') break;
          if (ch === '\\') {
            const e = line[i++];
            v += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : (() => { throw new Error(`bad escape \\${e}`); })();
          } else {
            v += ch;
          }
        }
        labels[key] = v;
        if (line[i] === ',') i++;
      }
      i++;
    }
    if (line[i] !== ' ') throw new Error(`no value: ${line}`);
    const value = line.slice(i + 1);
    if (!/^(?:[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?|NaN|[+-]Inf)$/.test(value)) throw new Error(`bad value ${value}`);
    families.get(name)!.samples.push({ labels, value });
  }
  return families;
}

describe('formatPrometheus', () => {
  it('every family has HELP and TYPE, counters end in _total, and the values come through', () => {
    const text = formatPrometheus(SNAPSHOT);
    const f = parseExposition(text);
    for (const [name, fam] of f) {
      expect(name.startsWith('shim6_')).toBe(true);
      if (fam.type === 'counter') expect(name).toMatch(/_total$/);
      else expect(name).not.toMatch(/_total$/);
    }
    expect(f.get('shim6_uptime_seconds')).toMatchObject({ type: 'gauge', samples: [{ labels: {}, value: '75' }] });
    expect(f.get('shim6_engine_rx_i1_total')).toMatchObject({ type: 'counter', help: 'Context engine counter rx.I1.', samples: [{ value: '4' }] });
    expect(f.get('shim6_engine_drop_nonce_mismatch_total')?.samples[0]?.value).toBe('1');
    expect(f.get('shim6_engine_reap_local_down_total')?.samples[0]?.value).toBe('0');
    expect(f.get('shim6_dataplane_egress_packets_total')?.samples[0]?.value).toBe('12');
    expect(f.get('shim6_dataplane_drop_unknown_tag_total')?.samples[0]?.value).toBe('2');
    expect(f.get('shim6_daemon_netlink_events_total')?.samples[0]?.value).toBe('9');
    expect(f.get('shim6_daemon_control_refused_total')?.samples[0]?.value).toBe('1');
  });

  it('contexts by state: every RFC 5533 state listed, static contexts as none', () => {
    const f = parseExposition(formatPrometheus(SNAPSHOT));
    const byState = Object.fromEntries(f.get('shim6_contexts')!.samples.map((s) => [s.labels['state'], s.value]));
    expect(byState).toEqual({ ESTABLISHED: '1', none: '1', IDLE: '0', 'I1-SENT': '0', 'I2-SENT': '0', 'I2BIS-SENT': '0', 'E-FAILED': '0', 'NO-SUPPORT': '0' });
    expect(f.get('shim6_contexts')!.type).toBe('gauge');
  });

  it('per context: info, REAP state as 1/0 per state, failovers, counters; sorted by name', () => {
    const f = parseExposition(formatPrometheus(SNAPSHOT));
    expect(f.get('shim6_context_info')!.samples).toEqual([
      { labels: { context: 'hB', local_ulid: '2001:db8:1:a::1', peer_ulid: '2001:db8:1:b::1' }, value: '1' },
      { labels: { context: 'hC', local_ulid: '2001:db8:1:a::1', peer_ulid: '2001:db8:1:c::1' }, value: '1' },
    ]);
    expect(f.get('shim6_context_reap_state')!.samples).toEqual([
      { labels: { context: 'hC', state: 'Exploring' }, value: '1' },
      { labels: { context: 'hC', state: 'InboundOk' }, value: '0' },
      { labels: { context: 'hC', state: 'Operational' }, value: '0' },
    ]);
    expect(f.get('shim6_context_failovers_total')!.samples.map((s) => [s.labels['context'], s.value])).toEqual([['hB', '0'], ['hC', '2']]);
    expect(f.get('shim6_context_egress_packets_total')!.samples.map((s) => [s.labels['context'], s.value])).toEqual([['hB', '7'], ['hC', '5']]);
  });

  it('the same snapshot in any order gives the same text', () => {
    const shuffled: MetricsSnapshot = {
      ...SNAPSHOT,
      engine: Object.fromEntries(Object.entries(SNAPSHOT.engine).reverse()),
      dataPlane: Object.fromEntries(Object.entries(SNAPSHOT.dataPlane).reverse()),
      contexts: [...SNAPSHOT.contexts].reverse(),
    };
    expect(formatPrometheus(shuffled)).toBe(formatPrometheus(SNAPSHOT));
  });

  it('label values are escaped: backslash, double quote, newline', () => {
    expect(escapeLabel('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const name = 'we"ird\\name\nx';
    const text = formatPrometheus({ ...SNAPSHOT, contexts: [{ ...SNAPSHOT.contexts[0]!, name }] });
    expect(text).toContain('shim6_context_info{context="we\\"ird\\\\name\\nx",');
    expect(parseExposition(text).get('shim6_context_info')!.samples[0]!.labels['context']).toBe(name);
  });

  it('names are sanitised; names that collide get a suffix instead of a second family', () => {
    expect(['rx.I1', 'egressPackets', 'drop.nonce-mismatch', 'rx.R1bis', 'über', '..', 'a:b'].map(metricName))
      .toEqual(['rx_i1', 'egress_packets', 'drop_nonce_mismatch', 'rx_r1bis', 'ber', 'unnamed', 'a:b']);
    const f = parseExposition(formatPrometheus({ ...SNAPSHOT, engine: { 'a.b': 1, 'a-b': 2, a_b: 3 } }));
    expect([...f.keys()].filter((k) => k.startsWith('shim6_engine_'))).toEqual(['shim6_engine_a_b_total', 'shim6_engine_a_b_2_total', 'shim6_engine_a_b_3_total']);
    // A per-context counter named like a fixed family does not repeat it.
    const g = parseExposition(formatPrometheus({ ...SNAPSHOT, contexts: [{ ...SNAPSHOT.contexts[0]!, counters: { failovers: 1 } }] }));
    expect(g.has('shim6_context_failovers_2_total')).toBe(true);
  });

  it('no contexts: the state gauge with zeros and no per-context families', () => {
    const f = parseExposition(formatPrometheus({ uptimeSec: 0, engine: {}, dataPlane: {}, daemon: {}, contexts: [] }));
    expect([...f.keys()]).toEqual(['shim6_uptime_seconds', 'shim6_contexts']);
  });

  it('non-finite values use the format\'s spellings', () => {
    const f = parseExposition(formatPrometheus({ ...SNAPSHOT, daemon: { a: NaN, b: Infinity, c: -Infinity } }));
    expect(['a', 'b', 'c'].map((k) => f.get(`shim6_daemon_${k}_total`)!.samples[0]!.value)).toEqual(['NaN', '+Inf', '-Inf']);
  });

  it('arbitrary counter names and context names always give valid text', () => {
    const names = fc.dictionary(fc.string({ maxLength: 12 }), fc.nat());
    fc.assert(fc.property(names, names, fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }), (engine, counters, ctxNames) => {
      const contexts = ctxNames.map((name) => ({ name, localUlid: '::1', peerUlid: '::2', state: 'ESTABLISHED', reapState: 'Operational', failovers: 0, counters }));
      parseExposition(formatPrometheus({ uptimeSec: 1, engine, dataPlane: counters, daemon: {}, contexts }));
    }), { numRuns: 300 });
  });
});

describe('parseListen and isLoopbackHost', () => {
  it('accepts [v6]:port, v4:port and name:port', () => {
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('localhost:9464')).toEqual({ host: 'localhost', port: 9464 });
    expect(parseListen('[2001:db8::1]:0')).toEqual({ host: '2001:db8::1', port: 0 });
  });

  it('refuses the rest', () => {
    for (const bad of ['::1:9464', '[::1]', '[::1]:', '[::1]:65536', '[::1]:-1', 'localhost', ':9464', '[nope]:1', '256.0.0.1:1', 'a b:1', '[fe80::1%eth0]:1', '-bad:1', '[::1]:94 64', '']) {
      expect(parseListen(bad), bad).toBeUndefined();
    }
  });

  it('loopback: ::1, 127/8, its v4-mapped form, localhost', () => {
    for (const h of ['::1', '0:0:0:0:0:0:0:1', '127.0.0.1', '127.1.2.3', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['::', '0.0.0.0', '2001:db8::1', '10.0.0.1', 'example.com', '::2']) expect(isLoopbackHost(h), h).toBe(false);
  });
});

describe('MetricsServer', () => {
  const servers: MetricsServer[] = [];
  afterEach(async () => { for (const s of servers.splice(0)) await s.close(); });

  async function start(snapshot: () => MetricsSnapshot = () => SNAPSHOT, extra: { onError?: (m: string) => void; maxConnections?: number } = {}) {
    const s = new MetricsServer({ host: '::1', port: 0, snapshot, ...extra });
    servers.push(s);
    return { server: s, address: await s.listen() };
  }

  function get(port: number, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    return new Promise((resolve, reject) => {
      const r = request({ host: '::1', port, path, method }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      r.on('error', reject);
      r.end();
    });
  }

  it('GET /metrics serves the exposition with its content type', async () => {
    let calls = 0;
    const { address } = await start(() => { calls++; return SNAPSHOT; });
    expect(address.host).toBe('::1');
    expect(address.port).toBeGreaterThan(0);
    const r = await get(address.port, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(METRICS_CONTENT_TYPE);
    expect(r.body).toBe(formatPrometheus(SNAPSHOT));
    expect((await get(address.port, '/metrics?x=1')).status).toBe(200);
    expect(calls).toBe(2);
  });

  it('other paths 404, other methods 405 with Allow: GET', async () => {
    const { address } = await start();
    expect((await get(address.port, '/')).status).toBe(404);
    expect((await get(address.port, '/metrics/x')).status).toBe(404);
    const post = await get(address.port, '/metrics', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET');
    expect((await get(address.port, '/metrics', 'HEAD')).status).toBe(405);
  });

  it('a snapshot that throws: 500 and onError, and the server keeps serving', async () => {
    const errors: string[] = [];
    let fail = true;
    const { address } = await start(() => { if (fail) throw new Error('boom'); return SNAPSHOT; }, { onError: (m) => errors.push(m) });
    const r = await get(address.port, '/metrics');
    expect(r.status).toBe(500);
    expect(r.body).not.toContain('boom');
    expect(errors).toEqual(['metrics snapshot failed: boom']);
    fail = false;
    expect((await get(address.port, '/metrics')).status).toBe(200);
  });

  it('refuses a non-loopback address unless allowRemote; rejects a bad port', () => {
    const snapshot = (): MetricsSnapshot => SNAPSHOT;
    expect(() => new MetricsServer({ host: '::', port: 9464, snapshot })).toThrow(/not a loopback address/);
    expect(() => new MetricsServer({ host: '0.0.0.0', port: 9464, snapshot })).toThrow(/not a loopback address/);
    expect(() => new MetricsServer({ host: '::', port: 9464, snapshot, allowRemote: true })).not.toThrow();
    expect(() => new MetricsServer({ host: '::1', port: 70000, snapshot })).toThrow(RangeError);
  });

  it('a port in use rejects listen', async () => {
    const { address } = await start();
    const second = new MetricsServer({ host: '::1', port: address.port, snapshot: () => SNAPSHOT });
    servers.push(second);
    await expect(second.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('connections beyond the bound are closed; the held ones are dropped on close', async () => {
    const { server, address } = await start(() => SNAPSHOT, { maxConnections: 2 });
    const open = (): Promise<Socket> => new Promise((resolve, reject) => {
      const s = connect({ host: '::1', port: address.port }, () => resolve(s));
      s.on('error', reject);
    });
    const held = [await open(), await open()];
    const extra = await open();
    await new Promise<void>((resolve) => { extra.once('close', () => resolve()); extra.resume(); });
    const closed = held.map((s) => new Promise<void>((resolve) => { s.once('close', () => resolve()); s.resume(); }));
    await server.close();
    await Promise.all(closed);
    await server.close();
  });
});
