/**
 * `shim6 cga ...` and `shim6 hba ...` (src/cli/crypto.ts) run as child processes:
 * generation output verifies with the library and with the tool itself, the stored Sec 2
 * vector verifies, signatures round-trip across providers, key files are written 0600,
 * and every kind of bad input gives exit 1 (with an error object) or 2 (one line).
 */
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCga } from '../../src/crypto/cga.js';
import { verifyHba } from '../../src/crypto/hba.js';
import { nodeCryptoProvider } from '../../src/crypto/provider-node.js';
import { fromHex, parseIpv6 } from '../../src/wire/index.js';
import { buildCli, expectUsage, records, ROOT, run } from './cli.util.js';

const SEC2 = JSON.parse(readFileSync(join(ROOT, 'test/crypto/vectors/cga-sec2.json'), 'utf8')) as { address: string; params: string };

let dir = '';
let keyPath = '';

beforeAll(async () => {
  await buildCli();
  dir = await mkdtemp(join(tmpdir(), 'shim6-cli-crypto-'));
  keyPath = join(dir, 'k.pem');
}, 150_000);

afterAll(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('shim6 cga generate / verify', () => {
  it('Sec 1 with a new RSA-1024 key: the key file is 0600, the address verifies (library and tool), nothing on stderr', async () => {
    const r = await run(['cga', 'generate', '--prefix', '2001:db8:1:2::/64', '--sec', '1', '--key-out', keyPath, '--key-bits', '1024']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const [g] = records(r.stdout);
    expect(g).toMatchObject({ sec: 1, collisionCount: 0, keyOut: keyPath });
    expect(g!['address']).toMatch(/^2001:db8:1:2:/);
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    const lib = verifyCga(nodeCryptoProvider, parseIpv6(g!['address'])!, fromHex(g!['params'])!);
    expect(lib).toMatchObject({ valid: true, sec: 1 });
    const v = await run(['cga', 'verify', '--address', g!['address'], '--params', g!['params'], '--provider', 'noble']);
    expect(v.code).toBe(0);
    expect(records(v.stdout)).toEqual([{ valid: true, sec: 1 }]);
  });

  it('an existing key gives a new address each time (random modifier), both valid', async () => {
    const a = records((await run(['cga', 'generate', '--prefix', '2001:db8:9::/64', '--sec', '0', '--key', keyPath])).stdout)[0]!;
    const b = records((await run(['cga', 'generate', '--prefix', '2001:db8:9::/64', '--sec', '0', '--key', keyPath])).stdout)[0]!;
    expect(a['address']).not.toBe(b['address']);
    for (const g of [a, b]) expect(verifyCga(nodeCryptoProvider, parseIpv6(g['address'])!, fromHex(g['params'])!).valid).toBe(true);
  });

  it('the stored Sec 2 vector verifies; a changed prefix or modifier does not, with the failing step', async () => {
    expect(records((await run(['cga', 'verify', '--address', SEC2.address, '--params', SEC2.params])).stdout)).toEqual([{ valid: true, sec: 2 }]);
    const other = await run(['cga', 'verify', '--address', SEC2.address.replace(/^2001:db8:1:2:/, '2001:db8:1:3:'), '--params', SEC2.params]);
    expect(other.code).toBe(1);
    expect(records(other.stdout)[0]).toMatchObject({ valid: false, reason: 'prefix-mismatch', step: 2 });
    const flipped = (SEC2.params[0] === '0' ? '1' : '0') + SEC2.params.slice(1);
    const bad = await run(['cga', 'verify', '--address', SEC2.address, '--params', flipped]);
    expect(bad.code).toBe(1);
    expect(records(bad.stdout)[0]).toMatchObject({ valid: false, reason: 'hash1-mismatch', step: 4 });
  });

  it('usage errors: no prefix, not a /64, Sec 3 without opting in, both or neither key flag, key-type with --key', async () => {
    expectUsage(await run(['cga', 'generate', '--sec', '0', '--key', keyPath]), /--prefix is required/);
    expectUsage(await run(['cga', 'generate', '--prefix', '2001:db8::/48', '--key', keyPath]), /not an IPv6 \/64 prefix/);
    expectUsage(await run(['cga', 'generate', '--prefix', '2001:db8::1/64', '--key', keyPath]), /bits set past the \/64/);
    expectUsage(await run(['cga', 'generate', '--prefix', '2001:db8::/64', '--sec', '3', '--key', keyPath]), /RFC 4982/);
    expectUsage(await run(['cga', 'generate', '--prefix', '2001:db8::/64', '--key', keyPath, '--key-out', join(dir, 'x.pem')]), /exactly one/);
    expectUsage(await run(['cga', 'generate', '--prefix', '2001:db8::/64']), /exactly one/);
    expectUsage(await run(['cga', 'generate', '--prefix', '2001:db8::/64', '--key', keyPath, '--key-bits', '1024']), /--key-out only/);
    expectUsage(await run(['cga', 'frobnicate']), /unknown subcommand 'frobnicate'/);
    expectUsage(await run(['cga', 'verify', '--address', 'nope', '--params', '00']), /not an IPv6 address/);
  });

  it('bad input: a missing or non-PEM key file, non-hex params, truncated params', async () => {
    const missing = await run(['cga', 'generate', '--prefix', '2001:db8::/64', '--key', join(dir, 'absent.pem')]);
    expect(missing.code).toBe(1);
    expect(records(missing.stdout)[0]!['error']['message']).toMatch(/cannot read/);
    const junk = join(dir, 'junk.pem');
    await writeFile(junk, 'hello\n');
    expect((await run(['cga', 'generate', '--prefix', '2001:db8::/64', '--key', junk])).code).toBe(1);
    expect((await run(['cga', 'verify', '--address', SEC2.address, '--params', 'xyz'])).code).toBe(1);
    const truncated = await run(['cga', 'verify', '--address', SEC2.address, '--params', SEC2.params.slice(0, 60)]);
    expect(truncated.code).toBe(1);
    expect(records(truncated.stdout)[0]).toMatchObject({ valid: false, reason: 'bad-params' });
  });
});

describe('shim6 hba generate / verify', () => {
  it('an HBA-only set of three prefixes: every address verifies against the one PDS; a foreign prefix does not', async () => {
    const r = await run(['hba', 'generate', '--prefixes', '2001:db8:a::/64,2001:db8:b::/64,2001:db8:c::/64', '--sec', '1', '--hba-only']);
    expect(r.code).toBe(0);
    const set = records(r.stdout)[0]!;
    expect(set['addresses']).toHaveLength(3);
    expect(set).toMatchObject({ sec: 1, hbaOnly: true });
    for (const [i, a] of (set['addresses'] as string[]).entries()) {
      const v = await run(['hba', 'verify', '--address', a, '--params', set['params']]);
      expect(records(v.stdout)[0]).toMatchObject({ valid: true, sec: 1, prefixIndex: i });
      expect(verifyHba(nodeCryptoProvider, parseIpv6(a)!, fromHex(set['params'])!).valid).toBe(true);
    }
    const foreign = (set['addresses'] as string[])[0]!.replace('2001:db8:a:', '2001:db8:d:');
    const f = await run(['hba', 'verify', '--address', foreign, '--params', set['params']]);
    expect(f.code).toBe(1);
    expect(records(f.stdout)[0]).toMatchObject({ valid: false, reason: 'prefix-not-in-set' });
  });

  it('a CGA-compatible set uses the given key; --key and --hba-only exclude each other', async () => {
    const r = await run(['hba', 'generate', '--prefixes', '2001:db8:a::/64,2001:db8:b::/64', '--key', keyPath]);
    expect(r.code).toBe(0);
    expect(records(r.stdout)[0]).toMatchObject({ sec: 0, hbaOnly: false });
    expectUsage(await run(['hba', 'generate', '--prefixes', '2001:db8:a::/64', '--key', keyPath, '--hba-only']), /exactly one/);
  });
});

describe('shim6 cga sign / verify-signature (RFC 5533 §5.15.5)', () => {
  it('a signature made with node verifies with noble; a changed generation or CGA locator does not, an HBA locator is not covered', async () => {
    const gen = records((await run(['cga', 'generate', '--prefix', '2001:db8:5::/64', '--key', keyPath])).stdout)[0]!;
    const locs = `${gen['address']}=cga,2001:db8:6::1=hba`;
    const s = await run(['cga', 'sign', '--generation', '77', '--locators', locs, '--key', keyPath]);
    expect(s.code).toBe(0);
    const sig = records(s.stdout)[0]!['signature'] as string;
    const ok = await run(['cga', 'verify-signature', '--generation', '77', '--locators', locs, '--signature', sig, '--params', gen['params'], '--provider', 'noble']);
    expect(ok.code).toBe(0);
    expect(records(ok.stdout)).toEqual([{ valid: true }]);
    const wrongGen = await run(['cga', 'verify-signature', '--generation', '78', '--locators', locs, '--signature', sig, '--params', gen['params']]);
    expect(wrongGen.code).toBe(1);
    const changedHba = `${gen['address']}=cga,2001:db8:7::1=hba`; // HBA locators are not signed (§5.15.5)
    expect((await run(['cga', 'verify-signature', '--generation', '77', '--locators', changedHba, '--signature', sig, '--params', gen['params']])).code).toBe(0);
    const asHba = `${gen['address']}=hba,2001:db8:6::1=hba`;
    expect((await run(['cga', 'verify-signature', '--generation', '77', '--locators', asHba, '--signature', sig, '--params', gen['params']])).code).toBe(1);
    expectUsage(await run(['cga', 'sign', '--generation', '1', '--locators', 'nonsense', '--key', keyPath]), /--locators/);
    expectUsage(await run(['cga', 'sign', '--generation', '4294967296', '--locators', locs, '--key', keyPath]), /--generation/);
  });
});
