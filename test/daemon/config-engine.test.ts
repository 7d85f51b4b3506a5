/**
 * The configuration keys of the context engine (src/daemon/config.ts): `identity`,
 * `stateFile`, `pollIntervalMs`, `reap`, `establish`, `metrics`, `flowLabel`. Good values give the
 * expected DaemonConfig with the documented defaults; each bad value gives a ConfigError
 * naming its JSON path; and no JSON document — arbitrary, or a good one mutated anywhere,
 * or huge — makes validateConfig throw anything but a ConfigError or run without bound.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, CONFIG_LIMITS, ConfigError, parseConfig, reapOverrides, validateConfig, type DaemonConfig } from '../../src/daemon/config.js';
import { FAST_REAP_CONFIG, resolveReapConfig } from '../../src/reap/constants.js';
import { formatIpv6 } from '../../src/wire/address.js';
import { configIssues as issues, onlyConfigIssue as only } from './config.util.js';

type Doc = Record<string, any>;

/** An engine configuration with every new key set. */
function full(): Doc {
  return {
    identity: { prefixes: [{ prefix: '2001:db8:1:a::/64', interface: 'eth1' }, { prefix: '2001:DB8:2:A:0::/64', interface: 'eth2.100' }] },
    stateFile: '/var/lib/shim6-test/state.cbor',
    pollIntervalMs: 200,
    reap: { mode: 'rfc', sendTimeoutMs: 5000 },
    establish: { peers: ['2001:db8:1:b::1', '2001:DB8:1:C:0::1'], auto: false, afterPackets: 7, afterMs: 2500 },
    metrics: { listen: '[::1]:9464' },
    flowLabel: { enabled: true, first: 100, last: 199, quarantineMs: 1000, maxLabels: 50, interceptDevice: 'fl0', routeTable: 777 },
  };
}

function minimal(): Doc {
  return { identity: { prefixes: [{ prefix: '2001:db8:1:a::/64', interface: 'eth1' }] } };
}

function edit(base: Doc, f: (d: Doc) => void): Doc {
  const d = structuredClone(base);
  f(d);
  return d;
}


const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('good engine configurations', () => {
  it('identity alone: locators and contexts may be left out; every default fills in', () => {
    const cfg = validateConfig(minimal());
    expect(cfg.identity).toEqual({ prefixes: [{ prefix: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0xa]), interface: 'eth1' }] });
    expect(cfg.identity!.prefixes[0]!.prefix).toHaveLength(8);
    expect(cfg.locators).toEqual([]);
    expect(cfg.contexts).toEqual([]);
    expect(cfg.stateFile).toBe('/var/lib/shim6/state.cbor');
    expect(cfg.stateFile).toBe(CONFIG_DEFAULTS.stateFile);
    expect(cfg.pollIntervalMs).toBe(50);
    expect(cfg.reap).toEqual({ mode: 'fast', sendTimeoutMs: undefined });
    expect(cfg.establish).toEqual({ peers: [], auto: true, afterPackets: 50, afterMs: 10_000 });
    expect(cfg.metrics).toBeUndefined();
    // The rest keeps its usual defaults.
    expect(cfg).toMatchObject({ interfaces: [], tun: { name: CONFIG_DEFAULTS.tunName, mtu: CONFIG_DEFAULTS.tunMtu, offload: true }, controlSocket: CONFIG_DEFAULTS.controlSocket, logLevel: 'info' });
  });

  it('every new key set: prefixes canonicalised to 8 octets in order, peers to bytes, the values as written', () => {
    const cfg: DaemonConfig = validateConfig(full());
    expect(cfg.identity!.prefixes.map((p) => [hex(p.prefix), p.interface])).toEqual([['20010db80001000a', 'eth1'], ['20010db80002000a', 'eth2.100']]);
    expect(cfg.stateFile).toBe('/var/lib/shim6-test/state.cbor');
    expect(cfg.pollIntervalMs).toBe(200);
    expect(cfg.reap).toEqual({ mode: 'rfc', sendTimeoutMs: 5000 });
    expect(cfg.establish.peers.map((a) => formatIpv6(a))).toEqual(['2001:db8:1:b::1', '2001:db8:1:c::1']);
    expect(cfg.establish).toMatchObject({ auto: false, afterPackets: 7, afterMs: 2500 });
    expect(cfg.metrics).toEqual({ host: '::1', port: 9464 });
  });

  it('the bounds are accepted: pollIntervalMs 10 and 10000, sendTimeoutMs 100 and 65535000, afterPackets 0 and 10^6, afterMs 0 and 3600000, 8 prefixes, ports 1 and 65535', () => {
    const lo = validateConfig(edit(full(), (d) => { d.pollIntervalMs = 10; d.reap = { sendTimeoutMs: 100 }; d.establish = { afterPackets: 0, afterMs: 0 }; d.metrics.listen = '127.0.0.1:1'; }));
    expect(lo).toMatchObject({ pollIntervalMs: 10, reap: { mode: 'fast', sendTimeoutMs: 100 }, establish: { peers: [], auto: true, afterPackets: 0, afterMs: 0 }, metrics: { host: '127.0.0.1', port: 1 } });
    const hi = validateConfig(edit(full(), (d) => {
      d.pollIntervalMs = 10_000; d.reap = { mode: 'off', sendTimeoutMs: 65_535_000 }; d.establish = { afterPackets: 1_000_000, afterMs: 3_600_000, peers: [] }; d.metrics.listen = 'localhost:65535';
      d.identity.prefixes = Array.from({ length: 8 }, (_, i) => ({ prefix: `2001:db8:${i + 1}:a::/64`, interface: `eth${i}` }));
    }));
    expect(hi).toMatchObject({ pollIntervalMs: 10_000, reap: { mode: 'off', sendTimeoutMs: 65_535_000 }, establish: { afterPackets: 1_000_000, afterMs: 3_600_000, peers: [] }, metrics: { host: 'localhost', port: 65535 } });
    expect(hi.identity!.prefixes).toHaveLength(8);
  });

  it('each reap mode; each part of establish on its own; every loopback listen form', () => {
    for (const mode of ['fast', 'rfc', 'off'] as const) expect(validateConfig({ ...minimal(), reap: { mode } }).reap).toEqual({ mode, sendTimeoutMs: undefined });
    expect(validateConfig({ ...minimal(), reap: {} }).reap).toEqual({ mode: 'fast', sendTimeoutMs: undefined });
    expect(reapOverrides(validateConfig({ ...minimal(), reap: {} }).reap)).toEqual({ mode: 'fast' });
  });

  it('failback: off with 0, a hold-down and a probe interval at their bounds, and what reaches REAP', () => {
    const off = validateConfig({ ...minimal(), reap: { failbackHoldDownMs: 0 } }).reap;
    expect(off).toEqual({ mode: 'fast', sendTimeoutMs: undefined, failbackHoldDownMs: 0, failbackProbeIntervalMs: undefined });
    expect(resolveReapConfig(reapOverrides(off)).failbackHoldDownMs).toBe(0);
    const lo = validateConfig({ ...minimal(), reap: { mode: 'rfc', failbackHoldDownMs: 100, failbackProbeIntervalMs: 100 } }).reap;
    expect(reapOverrides(lo)).toEqual({ mode: 'rfc', failbackHoldDownMs: 100, failbackProbeIntervalMs: 100 });
    const hi = validateConfig({ ...minimal(), reap: { sendTimeoutMs: 2000, failbackHoldDownMs: 86_400_000, failbackProbeIntervalMs: 3_600_000 } }).reap;
    const resolved = resolveReapConfig(reapOverrides(hi));
    expect(resolved).toMatchObject({ mode: 'fast', sendTimeoutMs: 2000, failbackHoldDownMs: 86_400_000, failbackProbeIntervalMs: 3_600_000 });
    // The rest stays the profile's.
    expect(resolved.initialProbeTimeoutMs).toBe(FAST_REAP_CONFIG.initialProbeTimeoutMs);
    expect(validateConfig({ ...minimal(), establish: {} }).establish).toEqual({ peers: [], auto: true, afterPackets: 50, afterMs: 10_000 });
    expect(validateConfig({ ...minimal(), establish: { auto: false } }).establish).toEqual({ peers: [], auto: false, afterPackets: 50, afterMs: 10_000 });
    expect(validateConfig({ ...minimal(), establish: { afterPackets: 3 } }).establish.afterPackets).toBe(3);
    for (const [listen, host] of [['[::1]:80', '::1'], ['127.0.0.1:80', '127.0.0.1'], ['localhost:80', 'localhost']] as const) {
      expect(validateConfig({ ...minimal(), metrics: { listen } }).metrics).toEqual({ host, port: 80 });
    }
  });

  it('identity beside static locators and contexts; without identity, locators and contexts are still required', () => {
    const cfg = validateConfig({ ...minimal(), locators: ['2001:db8:1:a::1'], contexts: [] });
    expect(cfg.locators.map((a) => formatIpv6(a))).toEqual(['2001:db8:1:a::1']);
    expect(cfg.identity).toBeDefined();
    const paths = issues({ pollIntervalMs: 50 }).map((i) => i.path).sort();
    expect(paths).toEqual(['contexts', 'locators']);
  });

  it('parseConfig reads the same from JSON text', () => {
    expect(parseConfig(JSON.stringify(full()))).toEqual(validateConfig(full()));
  });
});

describe('flowLabel (experimental, issue #8)', () => {
  it('absent or enabled false: off; enabled alone: every default, the intercept TUN named after the TUN, the table after routeTable', () => {
    expect(validateConfig(minimal()).flowLabel).toBeUndefined();
    expect(validateConfig({ ...minimal(), flowLabel: { enabled: false, first: 5 } }).flowLabel).toBeUndefined();
    expect(validateConfig({ ...minimal(), flowLabel: { enabled: true } }).flowLabel).toEqual({
      first: 1, last: 0xfffff, quarantineMs: 600_000, maxLabels: 65_536, interceptDevice: `${CONFIG_DEFAULTS.tunName}fl`, routeTable: CONFIG_DEFAULTS.routeTable + 1,
    });
    expect(validateConfig({ ...minimal(), tun: { name: 'a-very-long-tun' }, flowLabel: { enabled: true } }).flowLabel!.interceptDevice).toBe('a-very-long-tfl');
  });

  it('every key as written', () => {
    expect(validateConfig(full()).flowLabel).toEqual({ first: 100, last: 199, quarantineMs: 1000, maxLabels: 50, interceptDevice: 'fl0', routeTable: 777 });
  });

  it('needs identity (static contexts keep the Payload Extension header)', () => {
    const doc = { locators: ['2001:db8:1:a::1'], contexts: [], flowLabel: { enabled: true } };
    expect(issues(doc).some((i) => i.path === 'flowLabel' && /needs identity/.test(i.message))).toBe(true);
  });
});

describe('bad values name their JSON path', () => {
  const cases: [string, (d: Doc) => void, string, RegExp?][] = [
    // identity
    ['identity not an object', (d) => { d.identity = []; }, 'identity', /must be an object/],
    ['identity null', (d) => { d.identity = null; }, 'identity'],
    ['identity without prefixes', (d) => { d.identity = {}; }, 'identity.prefixes', /required/],
    ['prefixes not an array', (d) => { d.identity.prefixes = { prefix: '2001:db8::/64' }; }, 'identity.prefixes'],
    ['no prefixes', (d) => { d.identity.prefixes = []; }, 'identity.prefixes', /1 to 8/],
    ['9 prefixes', (d) => { d.identity.prefixes = Array.from({ length: 9 }, (_, i) => ({ prefix: `2001:db8:${i + 1}::/64`, interface: 'eth1' })); }, 'identity.prefixes', /1 to 8/],
    ['a prefix entry not an object', (d) => { d.identity.prefixes[1] = '2001:db8:2:a::/64'; }, 'identity.prefixes[1]'],
    ['a prefix entry without prefix', (d) => { delete d.identity.prefixes[1].prefix; }, 'identity.prefixes[1].prefix', /required/],
    ['a prefix entry without interface', (d) => { delete d.identity.prefixes[0].interface; }, 'identity.prefixes[0].interface', /required/],
    ['prefix /48', (d) => { d.identity.prefixes[0].prefix = '2001:db8:1::/48'; }, 'identity.prefixes[0].prefix', /\/64 prefix/],
    ['prefix /128', (d) => { d.identity.prefixes[0].prefix = '2001:db8:1:a::/128'; }, 'identity.prefixes[0].prefix'],
    ['prefix without a length', (d) => { d.identity.prefixes[0].prefix = '2001:db8:1:a::'; }, 'identity.prefixes[0].prefix'],
    ['prefix /064', (d) => { d.identity.prefixes[0].prefix = '2001:db8:1:a::/064'; }, 'identity.prefixes[0].prefix'],
    ['prefix twice /64', (d) => { d.identity.prefixes[0].prefix = '2001:db8:1:a::/64/64'; }, 'identity.prefixes[0].prefix'],
    ['prefix not an address', (d) => { d.identity.prefixes[0].prefix = 'nope::x/64'; }, 'identity.prefixes[0].prefix'],
    ['prefix with a zone', (d) => { d.identity.prefixes[0].prefix = 'fe80::%eth0/64'; }, 'identity.prefixes[0].prefix'],
    ['prefix a number', (d) => { d.identity.prefixes[0].prefix = 64; }, 'identity.prefixes[0].prefix'],
    ['prefix an array', (d) => { d.identity.prefixes[0].prefix = ['2001:db8::', 64]; }, 'identity.prefixes[0].prefix'],
    ['bits past /64', (d) => { d.identity.prefixes[0].prefix = '2001:db8:1:a::1/64'; }, 'identity.prefixes[0].prefix', /bits set past \/64/],
    ['bits past /64 (high interface bit)', (d) => { d.identity.prefixes[1].prefix = '2001:db8:2:a:8000::/64'; }, 'identity.prefixes[1].prefix', /bits set past/],
    ['multicast prefix', (d) => { d.identity.prefixes[0].prefix = 'ff02::/64'; }, 'identity.prefixes[0].prefix', /multicast/],
    ['multicast prefix (global scope)', (d) => { d.identity.prefixes[0].prefix = 'ff0e:1::/64'; }, 'identity.prefixes[0].prefix', /multicast/],
    ['link-local prefix', (d) => { d.identity.prefixes[0].prefix = 'fe80::/64'; }, 'identity.prefixes[0].prefix', /link-local/],
    ['link-local prefix (fe80::/10 upper end)', (d) => { d.identity.prefixes[1].prefix = 'febf:ffff:ffff:ffff::/64'; }, 'identity.prefixes[1].prefix', /link-local/],
    ['duplicate prefix, written differently', (d) => { d.identity.prefixes[1].prefix = '2001:DB8:1:A:0:0:0:0/64'; }, 'identity.prefixes[1].prefix', /repeats identity\.prefixes\[0\]/],
    ['interface name empty', (d) => { d.identity.prefixes[0].interface = ''; }, 'identity.prefixes[0].interface'],
    ['interface name with a space', (d) => { d.identity.prefixes[0].interface = 'eth 1'; }, 'identity.prefixes[0].interface'],
    ['interface name with a slash', (d) => { d.identity.prefixes[0].interface = 'eth/1'; }, 'identity.prefixes[0].interface'],
    ['interface name of 16 characters', (d) => { d.identity.prefixes[0].interface = 'a'.repeat(16); }, 'identity.prefixes[0].interface'],
    ['interface name ..', (d) => { d.identity.prefixes[0].interface = '..'; }, 'identity.prefixes[0].interface'],
    ['interface name a number', (d) => { d.identity.prefixes[0].interface = 1; }, 'identity.prefixes[0].interface'],
    // unknown keys at every level
    ['unknown top-level key', (d) => { d.identitty = {}; }, 'identitty', /unknown key/],
    ['unknown key in identity', (d) => { d.identity.sec = 1; }, 'identity.sec', /unknown key/],
    ['unknown key in a prefix', (d) => { d.identity.prefixes[1].length = 64; }, 'identity.prefixes[1].length', /unknown key/],
    ['unknown key in reap', (d) => { d.reap.modes = 'fast'; }, 'reap.modes', /unknown key/],
    ['unknown key in establish', (d) => { d.establish.peer = '2001:db8::1'; }, 'establish.peer', /unknown key/],
    ['unknown key in metrics', (d) => { d.metrics.port = 9464; }, 'metrics.port', /unknown key/],
    ['unknown key that is not an identifier', (d) => { d.reap['send timeout'] = 1; }, 'reap["send timeout"]', /unknown key/],
    // stateFile
    ['relative stateFile', (d) => { d.stateFile = 'state.cbor'; }, 'stateFile', /absolute/],
    ['dot-relative stateFile', (d) => { d.stateFile = './state.cbor'; }, 'stateFile', /absolute/],
    ['empty stateFile', (d) => { d.stateFile = ''; }, 'stateFile'],
    ['stateFile a directory', (d) => { d.stateFile = '/var/lib/shim6/'; }, 'stateFile'],
    ['stateFile with NUL', (d) => { d.stateFile = '/var/lib/\0state'; }, 'stateFile'],
    ['stateFile too long', (d) => { d.stateFile = `/${'a'.repeat(5000)}`; }, 'stateFile', /longer than/],
    ['stateFile a number', (d) => { d.stateFile = 1; }, 'stateFile'],
    // pollIntervalMs
    ['pollIntervalMs 9', (d) => { d.pollIntervalMs = 9; }, 'pollIntervalMs'],
    ['pollIntervalMs 10001', (d) => { d.pollIntervalMs = 10_001; }, 'pollIntervalMs'],
    ['pollIntervalMs fractional', (d) => { d.pollIntervalMs = 50.5; }, 'pollIntervalMs'],
    ['pollIntervalMs a string', (d) => { d.pollIntervalMs = '50'; }, 'pollIntervalMs'],
    // reap
    ['reap not an object', (d) => { d.reap = 'fast'; }, 'reap', /must be an object/],
    ['reap.mode upper case', (d) => { d.reap.mode = 'RFC'; }, 'reap.mode', /fast, rfc, off/],
    ['reap.mode unknown', (d) => { d.reap.mode = 'aggressive'; }, 'reap.mode'],
    ['reap.mode null', (d) => { d.reap.mode = null; }, 'reap.mode'],
    ['reap.mode a number', (d) => { d.reap.mode = 0; }, 'reap.mode'],
    ['sendTimeoutMs 99', (d) => { d.reap.sendTimeoutMs = 99; }, 'reap.sendTimeoutMs', /100\.\.65535000/],
    ['sendTimeoutMs 65535001', (d) => { d.reap.sendTimeoutMs = 65_535_001; }, 'reap.sendTimeoutMs'],
    ['sendTimeoutMs 0', (d) => { d.reap.sendTimeoutMs = 0; }, 'reap.sendTimeoutMs'],
    ['sendTimeoutMs negative', (d) => { d.reap.sendTimeoutMs = -1000; }, 'reap.sendTimeoutMs'],
    ['sendTimeoutMs fractional', (d) => { d.reap.sendTimeoutMs = 1000.5; }, 'reap.sendTimeoutMs'],
    ['sendTimeoutMs a string', (d) => { d.reap.sendTimeoutMs = '1000'; }, 'reap.sendTimeoutMs'],
    ['sendTimeoutMs hex', (d) => { d.reap.sendTimeoutMs = '0x3e8'; }, 'reap.sendTimeoutMs'],
    ['failbackHoldDownMs 99 (neither off nor a real hold-down)', (d) => { d.reap.failbackHoldDownMs = 99; }, 'reap.failbackHoldDownMs', /0 \(no failback\) or at least 100/],
    ['failbackHoldDownMs 1', (d) => { d.reap.failbackHoldDownMs = 1; }, 'reap.failbackHoldDownMs'],
    ['failbackHoldDownMs over a day', (d) => { d.reap.failbackHoldDownMs = 86_400_001; }, 'reap.failbackHoldDownMs', /0\.\.86400000/],
    ['failbackHoldDownMs negative', (d) => { d.reap.failbackHoldDownMs = -1; }, 'reap.failbackHoldDownMs'],
    ['failbackHoldDownMs a boolean', (d) => { d.reap.failbackHoldDownMs = false; }, 'reap.failbackHoldDownMs'],
    ['failbackProbeIntervalMs 99', (d) => { d.reap.failbackProbeIntervalMs = 99; }, 'reap.failbackProbeIntervalMs', /100\.\.3600000/],
    ['failbackProbeIntervalMs 0', (d) => { d.reap.failbackProbeIntervalMs = 0; }, 'reap.failbackProbeIntervalMs'],
    ['failbackProbeIntervalMs over an hour', (d) => { d.reap.failbackProbeIntervalMs = 3_600_001; }, 'reap.failbackProbeIntervalMs'],
    ['failbackProbeIntervalMs fractional', (d) => { d.reap.failbackProbeIntervalMs = 500.5; }, 'reap.failbackProbeIntervalMs'],
    // establish
    ['establish not an object', (d) => { d.establish = true; }, 'establish'],
    ['peers not an array', (d) => { d.establish.peers = '2001:db8:1:b::1'; }, 'establish.peers'],
    ['a peer not an address', (d) => { d.establish.peers[1] = 'peer-b'; }, 'establish.peers[1]', /not an IPv6 address/],
    ['a peer a number', (d) => { d.establish.peers[0] = 1; }, 'establish.peers[0]'],
    ['a peer multicast', (d) => { d.establish.peers[0] = 'ff02::1'; }, 'establish.peers[0]', /multicast/],
    ['a peer link-local', (d) => { d.establish.peers[0] = 'fe80::1'; }, 'establish.peers[0]', /link-local/],
    ['a peer loopback', (d) => { d.establish.peers[0] = '::1'; }, 'establish.peers[0]', /loopback/],
    ['a peer unspecified', (d) => { d.establish.peers[0] = '::'; }, 'establish.peers[0]', /unspecified/],
    ['a peer with a prefix length', (d) => { d.establish.peers[0] = '2001:db8:1:b::1/128'; }, 'establish.peers[0]'],
    ['a repeated peer', (d) => { d.establish.peers[1] = '2001:db8:1:b:0::1'; }, 'establish.peers[1]', /repeats/],
    ['257 peers', (d) => { d.establish.peers = Array.from({ length: CONFIG_LIMITS.contexts + 1 }, (_, i) => `2001:db8:9::${(i + 1).toString(16)}`); }, 'establish.peers'],
    ['auto not a boolean', (d) => { d.establish.auto = 'yes'; }, 'establish.auto'],
    ['afterPackets negative', (d) => { d.establish.afterPackets = -1; }, 'establish.afterPackets'],
    ['afterPackets over 10^6', (d) => { d.establish.afterPackets = 1_000_001; }, 'establish.afterPackets'],
    ['afterMs over an hour', (d) => { d.establish.afterMs = 3_600_001; }, 'establish.afterMs'],
    ['afterMs fractional', (d) => { d.establish.afterMs = 0.5; }, 'establish.afterMs'],
    // metrics
    ['metrics not an object', (d) => { d.metrics = '[::1]:9464'; }, 'metrics', /must be an object/],
    ['metrics without listen', (d) => { d.metrics = {}; }, 'metrics.listen', /required/],
    ['metrics on any address', (d) => { d.metrics.listen = '[::]:9464'; }, 'metrics.listen', /loopback/],
    ['metrics on 0.0.0.0', (d) => { d.metrics.listen = '0.0.0.0:9464'; }, 'metrics.listen'],
    ['metrics on a global address', (d) => { d.metrics.listen = '[2001:db8::1]:9464'; }, 'metrics.listen'],
    ['metrics on another 127/8 address form', (d) => { d.metrics.listen = '127.0.0.2:9464'; }, 'metrics.listen'],
    ['metrics on a host name', (d) => { d.metrics.listen = 'example.com:9464'; }, 'metrics.listen'],
    ['metrics without brackets', (d) => { d.metrics.listen = '::1:9464'; }, 'metrics.listen'],
    ['metrics without a port', (d) => { d.metrics.listen = '[::1]'; }, 'metrics.listen'],
    ['metrics port 0', (d) => { d.metrics.listen = '[::1]:0'; }, 'metrics.listen'],
    ['metrics port 65536', (d) => { d.metrics.listen = '127.0.0.1:65536'; }, 'metrics.listen'],
    ['metrics port 99999', (d) => { d.metrics.listen = 'localhost:99999'; }, 'metrics.listen'],
    ['metrics port negative', (d) => { d.metrics.listen = 'localhost:-1'; }, 'metrics.listen'],
    ['metrics with a trailing space', (d) => { d.metrics.listen = '[::1]:9464 '; }, 'metrics.listen'],
    ['metrics listen a number', (d) => { d.metrics.listen = 9464; }, 'metrics.listen'],
    // flowLabel
    ['flowLabel not an object', (d) => { d.flowLabel = true; }, 'flowLabel', /must be an object/],
    ['flowLabel.enabled a string', (d) => { d.flowLabel.enabled = 'yes'; }, 'flowLabel.enabled'],
    ['flowLabel.first 0', (d) => { d.flowLabel.first = 0; }, 'flowLabel.first'],
    ['flowLabel.last past 20 bits', (d) => { d.flowLabel.last = 0x100000; }, 'flowLabel.last'],
    ['flowLabel.last below first', (d) => { d.flowLabel.last = 99; }, 'flowLabel.last', /below/],
    ['flowLabel.quarantineMs negative', (d) => { d.flowLabel.quarantineMs = -1; }, 'flowLabel.quarantineMs'],
    ['flowLabel.maxLabels 0', (d) => { d.flowLabel.maxLabels = 0; }, 'flowLabel.maxLabels'],
    ['flowLabel.interceptDevice too long', (d) => { d.flowLabel.interceptDevice = 'x'.repeat(16); }, 'flowLabel.interceptDevice'],
    ['flowLabel.interceptDevice the TUN', (d) => { d.flowLabel.interceptDevice = 'shim6tun0'; }, 'flowLabel.interceptDevice', /differ/],
    ['flowLabel.routeTable the routeTable', (d) => { d.flowLabel.routeTable = CONFIG_DEFAULTS.routeTable; }, 'flowLabel.routeTable', /differ/],
    ['unknown key in flowLabel', (d) => { d.flowLabel.label = 1; }, 'flowLabel.label', /unknown key/],
  ];

  for (const [name, f, path, message] of cases) {
    it(`${name}: ${path}`, () => {
      const i = only(edit(full(), f));
      expect(i.path).toBe(path);
      if (message !== undefined) expect(i.message).toMatch(message);
    });
  }

  // BUG (config.ts validateIdentity): the prefix check probes one address (interface ID ::2),
  // so '::/64' passes, though that /64 holds the unspecified address, the loopback address
  // and the IPv4-compatible/IPv4-mapped ranges; HBA addresses generated in it are not usable
  // locators.
  it('the all-zero prefix ::/64 is refused', () => {
    const i = only(edit(full(), (d) => { d.identity.prefixes[0].prefix = '::/64'; }));
    expect(i.path).toBe('identity.prefixes[0].prefix');
  });

  it('every problem of a file is listed at once, each at its path', () => {
    const doc = edit(full(), (d) => {
      d.identity.prefixes[0].prefix = 'ff02::/64';
      d.identity.prefixes[1].interface = '';
      d.stateFile = 'x';
      d.pollIntervalMs = 0;
      d.reap = { mode: 'slow', sendTimeoutMs: 1 };
      d.establish = { peers: ['x'], auto: 1, afterPackets: -1, afterMs: -1, extra: 1 };
      d.metrics = { listen: '0.0.0.0:1' };
    });
    expect(issues(doc).map((i) => i.path).sort()).toEqual([
      'establish.afterMs', 'establish.afterPackets', 'establish.auto', 'establish.extra', 'establish.peers[0]',
      'identity.prefixes[0].prefix', 'identity.prefixes[1].interface', 'metrics.listen', 'pollIntervalMs', 'reap.mode', 'reap.sendTimeoutMs', 'stateFile',
    ]);
  });
});

describe('no document makes validateConfig misbehave', () => {
  /** Returns or throws ConfigError (with at most CONFIG_LIMITS.issues listed); anything else fails. */
  const check = (doc: unknown): void => {
    try {
      const cfg = validateConfig(doc);
      // What comes back is usable as it is.
      expect(cfg.pollIntervalMs >= 10 && cfg.pollIntervalMs <= 10_000).toBe(true);
      expect(['fast', 'rfc', 'off']).toContain(cfg.reap.mode);
      expect(cfg.stateFile.startsWith('/')).toBe(true);
      if (cfg.identity !== undefined) {
        expect(cfg.identity.prefixes.length >= 1 && cfg.identity.prefixes.length <= 8).toBe(true);
        for (const p of cfg.identity.prefixes) expect(p.prefix).toHaveLength(8);
      }
      for (const a of cfg.establish.peers) expect(a).toHaveLength(16);
      if (cfg.metrics !== undefined) expect(cfg.metrics.port >= 1 && cfg.metrics.port <= 65535).toBe(true);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      expect(e.issues.length).toBeGreaterThan(0);
      expect(e.issues.length).toBeLessThanOrEqual(CONFIG_LIMITS.issues);
      for (const i of e.issues) expect(typeof i.path === 'string' && typeof i.message === 'string' && i.message.length > 0).toBe(true);
    }
  };

  it('arbitrary JSON values (fc.jsonValue), alone and as the value of each new key', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => check(v)), { seed: 11, numRuns: 1500 });
    const keys = ['identity', 'stateFile', 'pollIntervalMs', 'reap', 'establish', 'metrics'] as const;
    fc.assert(fc.property(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 4 }), (k, v) => {
      check({ ...full(), [k]: v });
      check({ ...minimal(), [k]: v });
    }), { seed: 12, numRuns: 1500 });
  });

  it('arbitrary JSON objects whose keys are the real ones', () => {
    const key = fc.constantFrom('identity', 'prefixes', 'prefix', 'interface', 'stateFile', 'pollIntervalMs', 'reap', 'mode', 'sendTimeoutMs', 'failbackHoldDownMs', 'failbackProbeIntervalMs', 'establish', 'peers', 'auto', 'afterPackets', 'afterMs', 'metrics', 'listen', 'locators', 'contexts', '__proto__', 'constructor', 'toString');
    const leaf = fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constantFrom('2001:db8:1:a::/64', '2001:db8::1', '[::1]:9464', '/a/b', 'fast', 'eth0', 50, 100, true));
    const doc = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(key, tie('node'), { maxKeys: 6 })),
    })).node;
    fc.assert(fc.property(fc.dictionary(key, doc, { maxKeys: 8 }), (d) => {
      check(d);
      check(JSON.parse(JSON.stringify(d)));
    }), { seed: 13, numRuns: 1500 });
  });

  /** Every path in a document. */
  function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
    const out: (string | number)[][] = [prefix];
    if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
    return out;
  }

  it('a good configuration mutated anywhere: values replaced, removed, keys added, arrays grown', () => {
    const good = { ...full(), locators: ['2001:db8:1:a::1'], contexts: [], interfaces: ['eth1'] };
    const all = paths(good).filter((p) => p.length > 0);
    const mutation = fc.record({
      path: fc.constantFrom(...all),
      op: fc.constantFrom('replace', 'delete', 'add-key', 'wrap', 'grow'),
      value: fc.jsonValue({ maxDepth: 3 }),
      key: fc.string({ maxLength: 8 }),
    });
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
      const d: any = structuredClone(good);
      for (const m of ms) {
        let o: any = d;
        for (const k of m.path.slice(0, -1)) {
          if (typeof o !== 'object' || o === null) break;
          o = o[k];
        }
        if (typeof o !== 'object' || o === null) continue;
        const last = m.path[m.path.length - 1]!;
        if (m.op === 'replace') o[last] = m.value;
        else if (m.op === 'delete') delete o[last];
        else if (m.op === 'wrap') o[last] = [o[last]];
        else if (m.op === 'grow' && Array.isArray(o[last])) o[last].push(m.value, o[last][0]);
        else if (typeof o[last] === 'object' && o[last] !== null && !Array.isArray(o[last])) o[last][m.key] = m.value;
      }
      check(d);
    }), { seed: 14, numRuns: 2000 });
  });

  it('JSON text with random edits goes through parseConfig as a ConfigError or a config', () => {
    const text = JSON.stringify(full());
    fc.assert(fc.property(fc.array(fc.record({ at: fc.nat(text.length), cut: fc.nat(4), put: fc.string({ maxLength: 4 }) }), { minLength: 1, maxLength: 3 }), (edits) => {
      let t = text;
      for (const e of edits) {
        const at = Math.min(e.at, t.length);
        t = t.slice(0, at) + e.put + t.slice(at + e.cut);
      }
      try {
        parseConfig(t);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
      }
    }), { seed: 15, numRuns: 2000 });
  });

  it('huge documents are refused with at most CONFIG_LIMITS.issues listed and the rest counted (bounded work)', () => {
    const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
    // 100,000 unknown keys at three levels.
    const keys = Object.fromEntries(many(100_000, (i) => [`k${i}`, i]));
    for (const doc of [{ ...minimal(), ...keys }, { ...full(), reap: keys }, { ...full(), establish: { ...keys } }]) {
      let err: unknown;
      try { validateConfig(doc); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.issues).toHaveLength(CONFIG_LIMITS.issues);
      expect(e.issues.length + e.omitted).toBeGreaterThanOrEqual(100_000);
      expect(e.message.length).toBeLessThan(CONFIG_LIMITS.issues * 300);
    }
    // A million entries where a handful are allowed: refused by the count, not entry by entry.
    const million = many(1_000_000, () => 'x');
    for (const f of [(d: Doc) => { d.identity.prefixes = million; }, (d: Doc) => { d.establish.peers = million; }]) {
      const d = full();
      f(d);
      expect(issues(d)).toHaveLength(1);
    }
    // Megabyte strings are quoted short.
    const long = 'a'.repeat(1 << 20);
    for (const f of [(d: Doc) => { d.identity.prefixes[0].prefix = long; }, (d: Doc) => { d.identity.prefixes[0].interface = long; }, (d: Doc) => { d.metrics.listen = long; }, (d: Doc) => { d.establish.peers[0] = long; }, (d: Doc) => { d.stateFile = long; }, (d: Doc) => { d.reap.mode = long; }, (d: Doc) => { d.reap[long] = 1; }]) {
      const d = full();
      f(d);
      const i = only(d);
      expect(i.message.length + i.path.length).toBeLessThan(500);
    }
    // Deep nesting where an object is expected.
    let deep: unknown = 1;
    for (let k = 0; k < 10_000; k++) deep = { reap: deep };
    expect(issues({ ...minimal(), reap: deep }).length).toBeGreaterThan(0);
  });

  it('parseConfig refuses a file over CONFIG_LIMITS.fileBytes before parsing it', () => {
    const text = `{"stateFile": "/${'a'.repeat(CONFIG_LIMITS.fileBytes)}"}`;
    let err: unknown;
    try { parseConfig(text); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([{ path: '', message: expect.stringContaining('larger than') }]);
  });
});
