/**
 * shim6d's configuration validator (src/daemon/config.ts): the examples validate, defaults
 * fill in, each rule broken on its own is reported at its JSON path, every problem of a
 * file is listed at once, limits hold, and no input — arbitrary JSON, or a valid file
 * with any field replaced by anything — makes it throw anything but a ConfigError.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, CONFIG_LIMITS, ConfigError, parseConfig, validateConfig, type DaemonConfig } from '../../src/daemon/config.js';
import { formatIpv6 } from '../../src/wire/address.js';
import { exampleConfigJson } from './fakes.js';
import { onlyConfigIssue as only } from './config.util.js';

const ROOT = join(import.meta.dirname, '../..');

function base(): Record<string, any> {
  return exampleConfigJson('/run/shim6/shim6d.sock');
}


function mutated(f: (d: Record<string, any>) => void): Record<string, any> {
  const d = base();
  f(d);
  return d;
}

describe('valid configurations', () => {
  it('examples/config/host-a.json: every field as written', () => {
    const cfg = parseConfig(readFileSync(join(ROOT, 'examples/config/host-a.json'), 'utf8'));
    expect(cfg.interfaces).toEqual(['eth1', 'eth2']);
    expect(cfg.locators.map((a) => formatIpv6(a))).toEqual(['2001:db8:1:a::1', '2001:db8:2:a::1']);
    expect(cfg).toMatchObject({ tun: { name: 'shim6tun0', mtu: 1492, offload: true }, fwmark: 20534, routeTable: 20534, rulePriority: 100, controlSocket: '/run/shim6/shim6d.sock', logLevel: 'info' });
    const [c] = cfg.contexts;
    expect(c).toMatchObject({ name: 'hB', localContextTag: 4660, peerContextTag: 22136 });
    expect(formatIpv6(c!.currentLocal)).toBe('2001:db8:1:a::1');
    expect(formatIpv6(c!.currentPeer)).toBe('2001:db8:1:b::1');
  });

  it('examples/config/host-b.json: defaults fill in, hex tags, currentPair defaults to the ULIDs', () => {
    const cfg = parseConfig(readFileSync(join(ROOT, 'examples/config/host-b.json'), 'utf8'));
    expect(cfg).toMatchObject({
      tun: { name: CONFIG_DEFAULTS.tunName, mtu: CONFIG_DEFAULTS.tunMtu },
      fwmark: CONFIG_DEFAULTS.fwmark, routeTable: CONFIG_DEFAULTS.routeTable, rulePriority: CONFIG_DEFAULTS.rulePriority,
      controlSocket: CONFIG_DEFAULTS.controlSocket, logLevel: 'info',
    });
    const [c] = cfg.contexts;
    expect(c).toMatchObject({ localContextTag: 0x5678, peerContextTag: 0x1234 });
    expect(formatIpv6(c!.currentLocal)).toBe(formatIpv6(c!.localUlid));
    expect(formatIpv6(c!.currentPeer)).toBe(formatIpv6(c!.peerUlid));
  });

  it('addresses are canonicalised, interfaces may be left out, no contexts is allowed', () => {
    const cfg: DaemonConfig = validateConfig({ locators: ['2001:DB8:0:0::0:1'], contexts: [] });
    expect(formatIpv6(cfg.locators[0]!)).toBe('2001:db8::1');
    expect(cfg.interfaces).toEqual([]);
    expect(cfg.contexts).toEqual([]);
  });

  it('tag bounds: 0 and 2^47-1, as numbers and hex; fwmark in hex', () => {
    const cfg = validateConfig(mutated((d) => {
      d['contexts'][0].localContextTag = 0;
      d['contexts'][0].peerContextTag = '0x7fffffffffff';
      d['contexts'][1].localContextTag = 2 ** 47 - 1;
      d['fwmark'] = '0xffffffff';
    }));
    expect(cfg.contexts.map((c) => [c.localContextTag, c.peerContextTag])).toEqual([[0, 2 ** 47 - 1], [2 ** 47 - 1, 7]]);
    expect(cfg.fwmark).toBe(0xffffffff);
  });
});

describe('each rule broken on its own', () => {
  const cases: [string, (d: Record<string, any>) => void, string, RegExp][] = [
    ['unknown top-level key', (d) => { d['tunnel'] = {}; }, 'tunnel', /unknown key/],
    ['unknown context key', (d) => { d['contexts'][1].peerTag = 1; }, 'contexts[1].peerTag', /unknown key/],
    ['unknown tun key', (d) => { d['tun'].queues = 2; }, 'tun.queues', /unknown key/],
    ['unknown currentPair key', (d) => { d['contexts'][1].currentPair.via = 'x'; }, 'contexts[1].currentPair.via', /unknown key/],
    ['odd key quoted in the path', (d) => { d['contexts'][0]['a b'] = 1; }, 'contexts[0]["a b"]', /unknown key/],
    ['locators missing', (d) => { delete d['locators']; }, 'locators', /is required/],
    ['contexts missing', (d) => { delete d['contexts']; }, 'contexts', /is required/],
    ['locators undefined (not JSON, but the API allows it): missing', (d) => { d['locators'] = undefined; }, 'locators', /is required/],
    ['locators empty', (d) => { d['locators'] = []; }, 'locators', /1 to 32 entries/],
    ['locator not an address', (d) => { d['locators'][1] = '2001:db8::g'; }, 'locators[1]', /not an IPv6 address: "2001:db8::g"/],
    ['locator with a zone index', (d) => { d['locators'][1] = 'fe80::1%eth0'; }, 'locators[1]', /not an IPv6 address/],
    ['locator not a string', (d) => { d['locators'][0] = 42; }, 'locators[0]', /must be a string \(an IPv6 address\), not a number/],
    ['multicast locator', (d) => { d['locators'].push('ff02::1'); }, 'locators[2]', /ff02::1 is a multicast address/],
    ['unspecified locator', (d) => { d['locators'].push('::'); }, 'locators[2]', /unspecified/],
    ['loopback locator', (d) => { d['locators'].push('::1'); }, 'locators[2]', /loopback/],
    ['link-local locator', (d) => { d['locators'].push('fe80::1'); }, 'locators[2]', /link-local/],
    ['IPv4-mapped locator', (d) => { d['locators'].push('::ffff:192.0.2.1'); }, 'locators[2]', /IPv4-mapped/],
    ['repeated locator', (d) => { d['locators'].push('2001:db8:1:a:0::1'); }, 'locators[2]', /repeats locators\[0\]/],
    ['interfaces not an array', (d) => { d['interfaces'] = 'eth1'; }, 'interfaces', /must be an array, not a string/],
    ['bad interface name', (d) => { d['interfaces'][1] = 'eth/2'; }, 'interfaces[1]', /not an interface name/],
    ['interface name too long', (d) => { d['interfaces'][0] = 'a'.repeat(16); }, 'interfaces[0]', /not an interface name/],
    ['repeated interface', (d) => { d['interfaces'].push('eth1'); }, 'interfaces[2]', /repeats interfaces\[0\]/],
    ['tun not an object', (d) => { d['tun'] = []; }, 'tun', /must be an object, not an array/],
    ['tun name with a dot', (d) => { d['tun'].name = 'tun.0'; }, 'tun.name', /not a TUN name/],
    ['tun MTU below 1280', (d) => { d['tun'].mtu = 1279; }, 'tun.mtu', /must be in 1280\.\.65535, not 1279/],
    ['tun MTU not an integer', (d) => { d['tun'].mtu = 1400.5; }, 'tun.mtu', /must be an integer/],
    ['tun offload not a boolean', (d) => { d['tun'].offload = 'yes'; }, 'tun.offload', /must be true or false/],
    ['fwmark 0', (d) => { d['fwmark'] = 0; }, 'fwmark', /must be in 1\.\.4294967295/],
    ['fwmark too large', (d) => { d['fwmark'] = 2 ** 32; }, 'fwmark', /must be in/],
    ['fwmark bad hex', (d) => { d['fwmark'] = '0xzz'; }, 'fwmark', /"0x\.\.\." hex string/],
    ['table main', (d) => { d['routeTable'] = 254; }, 'routeTable', /'main' table/],
    ['table local', (d) => { d['routeTable'] = 255; }, 'routeTable', /'local' table/],
    ['table default', (d) => { d['routeTable'] = 253; }, 'routeTable', /'default' table/],
    ['table 0', (d) => { d['routeTable'] = 0; }, 'routeTable', /must be in 1\.\./],
    ['priority 0', (d) => { d['rulePriority'] = 0; }, 'rulePriority', /1\.\.32765/],
    ['priority 32766', (d) => { d['rulePriority'] = 32766; }, 'rulePriority', /1\.\.32765/],
    ['priority as hex string', (d) => { d['rulePriority'] = '0x10'; }, 'rulePriority', /must be an integer 1\.\.32765$/],
    ['relative socket path', (d) => { d['controlSocket'] = 'run/shim6.sock'; }, 'controlSocket', /absolute/],
    ['socket path too long', (d) => { d['controlSocket'] = `/${'x'.repeat(107)}`; }, 'controlSocket', /107 octets/],
    ['bad log level', (d) => { d['logLevel'] = 'verbose'; }, 'logLevel', /one of fatal, error/],
    ['contexts not an array', (d) => { d['contexts'] = {}; }, 'contexts', /must be an array, not an object/],
    ['context not an object', (d) => { d['contexts'][1] = 'hC'; }, 'contexts[1]', /must be an object, not a string/],
    ['context name missing', (d) => { delete d['contexts'][0].name; }, 'contexts[0].name', /is required/],
    ['bad context name', (d) => { d['contexts'][0].name = 'h B'; }, 'contexts[0].name', /not a context name/],
    ['context name too long', (d) => { d['contexts'][0].name = 'n'.repeat(65); }, 'contexts[0].name', /not a context name/],
    ['duplicate name', (d) => { d['contexts'][1].name = 'hB'; }, 'contexts[1].name', /repeats contexts\[0\]\.name/],
    ['peer locator not an address', (d) => { d['contexts'][1].peerLocators[0] = 'nope'; }, 'contexts[1].peerLocators[0]', /not an IPv6 address/],
    ['peer locator multicast', (d) => { d['contexts'][0].peerLocators.push('ff0e::1'); }, 'contexts[0].peerLocators[2]', /multicast/],
    ['repeated peer locator', (d) => { d['contexts'][0].peerLocators.push('2001:db8:2:b::1'); }, 'contexts[0].peerLocators[2]', /repeats contexts\[0\]\.peerLocators\[1\]/],
    ['peer locator is ours', (d) => { d['contexts'][0].peerLocators.push('2001:db8:2:a::1'); }, 'contexts[0].peerLocators[2]', /this host's own locators/],
    ['local locator not a host locator', (d) => { d['contexts'][0].localLocators.push('2001:db8:9::1'); }, 'contexts[0].localLocators[2]', /not one of the top-level locators/],
    ['too many peer locators', (d) => { d['contexts'][0].peerLocators = Array.from({ length: 17 }, (_, i) => `2001:db8:5::${i + 1}`); d['contexts'][0].peerUlid = '2001:db8:5::1'; }, 'contexts[0].peerLocators', /1 to 16 entries, not 17/],
    ['local ULID not in its list', (d) => { d['contexts'][0].localLocators = ['2001:db8:2:a::1']; }, 'contexts[0].localUlid', /is not in contexts\[0\]\.localLocators/],
    ['peer ULID not in its list', (d) => { d['contexts'][0].peerUlid = '2001:db8:7::1'; }, 'contexts[0].peerUlid', /is not in contexts\[0\]\.peerLocators/],
    ['peer ULID link-local', (d) => { d['contexts'][0].peerUlid = 'fe80::2'; }, 'contexts[0].peerUlid', /link-local/],
    ['duplicate ULID pair', (d) => { Object.assign(d['contexts'][1], { localUlid: '2001:db8:1:a::1', peerUlid: '2001:db8:1:b::1', peerLocators: ['2001:db8:1:b::1', '2001:db8:3:c::1'] }); }, 'contexts[1].peerUlid', /ULID pair repeats contexts\[0\]'s/],
    ['duplicate local tag', (d) => { d['contexts'][1].localContextTag = '0x1234'; }, 'contexts[1].localContextTag', /4660 repeats contexts\[0\]\.localContextTag/],
    ['tag 2^47', (d) => { d['contexts'][0].localContextTag = 2 ** 47; }, 'contexts[0].localContextTag', /must be in 0\.\.140737488355327/],
    ['negative tag', (d) => { d['contexts'][0].peerContextTag = -1; }, 'contexts[0].peerContextTag', /must be in 0\.\./],
    ['fractional tag', (d) => { d['contexts'][0].peerContextTag = 1.5; }, 'contexts[0].peerContextTag', /must be an integer/],
    ['decimal string tag', (d) => { d['contexts'][0].peerContextTag = '22136'; }, 'contexts[0].peerContextTag', /"0x\.\.\." hex string/],
    ['hex tag too long', (d) => { d['contexts'][0].peerContextTag = '0x1000000000000'; }, 'contexts[0].peerContextTag', /hex string/],
    ['tag missing', (d) => { delete d['contexts'][0].peerContextTag; }, 'contexts[0].peerContextTag', /is required/],
    ['currentPair half given', (d) => { d['contexts'][0].currentPair = { local: '2001:db8:1:a::1' }; }, 'contexts[0].currentPair.peer', /is required/],
    ['currentPair local not in the list', (d) => { d['contexts'][1].currentPair.local = '2001:db8:1:b::1'; }, 'contexts[1].currentPair.local', /is not in contexts\[1\]\.localLocators/],
    ['currentPair peer not in the list', (d) => { d['contexts'][1].currentPair.peer = '2001:db8:1:b::1'; }, 'contexts[1].currentPair.peer', /is not in contexts\[1\]\.peerLocators/],
    ['currentPair not an object', (d) => { d['contexts'][1].currentPair = null; }, 'contexts[1].currentPair', /must be an object, not null/],
  ];
  for (const [name, f, path, message] of cases) {
    it(name, () => {
      const i = only(mutated(f));
      expect(i.path).toBe(path);
      expect(i.message).toMatch(message);
    });
  }

  it('the document itself must be an object', () => {
    expect(only([])).toEqual({ path: '', message: 'must be an object, not an array' });
    expect(only(null).message).toMatch(/not null/);
  });
});

describe('reporting', () => {
  it('lists every problem of a file at once, each with its path', () => {
    const e = (() => {
      try {
        parseConfig(JSON.stringify(mutated((d) => {
          d['fwmark'] = -1;
          d['logLevel'] = 7;
          d['contexts'][0].localContextTag = 'x';
          d['contexts'][1].peerLocators[1] = 'ff02::2';
          d['extra'] = true;
        })));
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(ConfigError);
    const ce = e as ConfigError;
    expect(ce.issues.map((i) => i.path).sort()).toEqual(['contexts[0].localContextTag', 'contexts[1].peerLocators[1]', 'extra', 'fwmark', 'logLevel']);
    expect(ce.message).toMatch(/^invalid configuration \(5 problems\):\n/);
    expect(ce.message).toContain('\n  contexts[1].peerLocators[1]: ff02::2 is a multicast address, not usable as a locator');
  });

  it('not JSON: one problem at the top level', () => {
    expect(() => parseConfig('{"locators": [')).toThrow(/\(top level\): not valid JSON/);
  });

  it('a hostile file: problems beyond the limit are counted, not listed; long keys are cut', () => {
    const d: Record<string, unknown> = { locators: ['2001:db8::1'], contexts: [] };
    for (let i = 0; i < 5000; i++) d[`k${i}${'z'.repeat(100)}`] = i;
    const e = (() => { try { validateConfig(d); } catch (err) { return err as ConfigError; } return undefined; })()!;
    expect(e.issues).toHaveLength(CONFIG_LIMITS.issues);
    expect(e.omitted).toBe(5000 - CONFIG_LIMITS.issues);
    expect(e.message).toMatch(/\.\.\. and 4900 more$/);
    expect(e.issues[0]!.path.length).toBeLessThan(80);
  });

  it('more contexts than the limit is one problem, not one per context', () => {
    const d = base();
    d['contexts'] = Array.from({ length: CONFIG_LIMITS.contexts + 1 }, () => ({}));
    expect(only(d)).toEqual({ path: 'contexts', message: `must have 0 to ${CONFIG_LIMITS.contexts} entries, not ${CONFIG_LIMITS.contexts + 1}` });
  });

  it('a "__proto__" key is an unknown key, and pollutes nothing', () => {
    const i = only(JSON.parse('{"locators": ["2001:db8::1"], "contexts": [], "__proto__": {"fwmark": 1}}'));
    expect(i).toEqual({ path: '__proto__', message: 'unknown key' });
  });
});

describe('never throws anything but ConfigError', () => {
  const check = (doc: unknown): void => {
    try {
      validateConfig(doc);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      expect(e.issues.length).toBeGreaterThan(0);
    }
  };

  it('arbitrary JSON values', () => {
    fc.assert(fc.property(fc.jsonValue(), check), { numRuns: 1000 });
  });

  it('a valid file with one field anywhere replaced by anything', () => {
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, p: (string | number)[]): void => {
      paths.push(p);
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
      else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
    };
    walk(base(), []);
    fc.assert(fc.property(fc.constantFrom(...paths.filter((p) => p.length > 0)), fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true, withSet: true, withTypedArray: true, withDate: true }), (path, value) => {
      const d = base();
      let o: any = d;
      for (const k of path.slice(0, -1)) o = o[k];
      o[path[path.length - 1]!] = value;
      check(d);
    }), { numRuns: 1000 });
  });
});
