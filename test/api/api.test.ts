/**
 * The public library API: identities from prefixes (RFC 5535 HBA sets, RFC 3972 CGAs),
 * the simulation factory and host helpers, and the re-exports researchers build on.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../../src/api/index.js';
import { addCgaHost, addHbaHost, SimError, createCgaIdentity, createHbaIdentity, createSimulation, generateKeyPair, parsePrefix, SeededRandom } from '../../src/api/index.js';
import { verifyCga } from '../../src/crypto/cga.js';
import { verifyHba } from '../../src/crypto/hba.js';
import { nodeCryptoProvider } from '../../src/crypto/provider-node.js';
import { formatIpv6 } from '../../src/wire/address.js';

describe('parsePrefix', () => {
  it('takes /64 prefixes as text or octets', () => {
    expect([...parsePrefix('2001:db8:1::/64')]).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0]);
    expect([...parsePrefix('2001:db8:1:2::')]).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2]);
    expect(parsePrefix(new Uint8Array(8).fill(7))).toEqual(new Uint8Array(8).fill(7));
  });

  it('refuses other lengths, host bits and garbage with SimError', () => {
    for (const bad of ['2001:db8::/48', '2001:db8::1/64', 'nope', '2001:db8::/64/64']) {
      expect(() => parsePrefix(bad)).toThrow(SimError);
    }
    expect(() => parsePrefix(new Uint8Array(5))).toThrow(SimError);
  });
});

describe('createHbaIdentity (RFC 5535)', () => {
  it('makes an HBA set over the prefixes: ULID first, every member a locator with the HBA method', async () => {
    const id = await createHbaIdentity(['2001:db8:1::/64', '2001:db8:2::/64', '2001:db8:3::/64'], new SeededRandom(1));
    expect(id.locators).toHaveLength(3);
    expect(id.locators[0]!.address).toEqual(id.ulid);
    expect(id.locators.map((l) => l.verificationMethod)).toEqual([1, 1, 1]);
    expect(id.locators.map((l) => formatIpv6(l.address).slice(0, 12))).toEqual(['2001:db8:1:0', '2001:db8:2:0', '2001:db8:3:0']);
    for (const l of id.locators) expect(verifyHba(nodeCryptoProvider, l.address, id.pds!).valid).toBe(true);
    expect(id.privateKey).toBeUndefined();
  });

  it('is deterministic for a seeded random source; the IANA profile numbers HBA as 2', async () => {
    const a = await createHbaIdentity(['2001:db8:1::/64'], new SeededRandom(5));
    const b = await createHbaIdentity(['2001:db8:1::/64'], new SeededRandom(5));
    expect(b).toEqual(a);
    const iana = await createHbaIdentity(['2001:db8:1::/64'], new SeededRandom(5), nodeCryptoProvider, { profile: 'iana' });
    expect(iana.locators[0]!.verificationMethod).toBe(2);
    await expect(createHbaIdentity([], new SeededRandom(1))).rejects.toThrow(SimError);
  });
});

describe('createCgaIdentity (RFC 3972)', () => {
  it('makes a CGA ULID for an RSA key, with the extra locators under the CGA method', async () => {
    const key = generateKeyPair('rsa', 1024);
    const extra = api.parsePrefix('2001:db8:9::/64');
    const other = new Uint8Array(16);
    other.set(extra, 0);
    other[15] = 1;
    const id = await createCgaIdentity('2001:db8:8::/64', key, [other], new SeededRandom(3));
    expect(verifyCga(nodeCryptoProvider, id.ulid, id.pds!).valid).toBe(true);
    expect(id.locators.map((l) => l.address)).toEqual([id.ulid, other]);
    expect(id.locators.map((l) => l.verificationMethod)).toEqual([2, 2]);
    expect(id.privateKey).toEqual(key.pkcs8);
  });

  it('refuses keys that are not RSA and locators that are not addresses', async () => {
    await expect(createCgaIdentity('2001:db8:8::/64', generateKeyPair('ed25519'), [], new SeededRandom(3))).rejects.toThrow(SimError);
    await expect(createCgaIdentity('2001:db8:8::/64', generateKeyPair('rsa', 1024), [new Uint8Array(4)], new SeededRandom(3))).rejects.toThrow(SimError);
  });
});

describe('createSimulation and the host helpers', () => {
  it('runs the README example: two HBA hosts over a lossy link establish a context', async () => {
    const sim = createSimulation({ seed: 1 });
    const a = await addHbaHost(sim, 'A', ['2001:db8:1::/64', '2001:db8:2::/64']);
    const b = await addHbaHost(sim, 'B', ['2001:db8:3::/64']);
    sim.network.setLink({ from: 'A', to: 'B' }, { loss: 0.1, delayMs: 20, jitterMs: 10 });
    expect(a.establish(b.ulid).ok).toBe(true);
    sim.run(10_000);
    expect(a.context(b.ulid)?.state).toBe(api.ContextState.ESTABLISHED);
    expect(b.context(a.ulid)?.state).toBe('ESTABLISHED');
    expect(sim.transcript()[0]).toMatch(/^t=0 A→B I1 ct=0x[0-9a-f]{12} nonce=0x[0-9a-f]{8}$/);
    expect(sim.pcap().length).toBeGreaterThan(24);
  });

  it('a CGA host and an HBA host establish and exchange signed updates', async () => {
    const sim = createSimulation({ seed: 2 });
    const a = await addCgaHost(sim, 'A', '2001:db8:c1::/64', ['2001:db8:c2::/64']);
    const b = await addHbaHost(sim, 'B', ['2001:db8:3::/64', '2001:db8:4::/64']);
    a.establish(b.ulid);
    sim.run(1_000);
    const cb = b.context(a.ulid)!;
    expect(cb.state).toBe('ESTABLISHED');
    expect(cb.lsPeer.map((l) => l.verified)).toEqual([true, true]);
    expect(a.context(b.ulid)!.lsPeer).toHaveLength(2);
  });

  it('re-exports the engine, the context model and the simulator', () => {
    for (const name of ['ShimEngine', 'encodeAction', 'ContextState', 'DEFAULT_POLICY', 'DEFAULT_CONFIG', 'resolveConfig', 'Simulation', 'SimHost', 'LegacyHost', 'SimNetwork', 'VirtualClock', 'SeededRandom', 'Transcript', 'describePacket', 'packetKind']) {
      expect(api, name).toHaveProperty(name);
    }
    const engine = new api.ShimEngine({ identities: [], provider: nodeCryptoProvider, random: new SeededRandom(1) });
    expect(engine.size).toBe(0);
  });
});
