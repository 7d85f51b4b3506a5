/**
 * Local identities for experiments: a ULID with its locator set and the CGA Parameter
 * Data Structure that binds them (RFC 5533 §5.15.2-5.15.5), made from /64 prefixes.
 *
 * - HBA (RFC 5535): one HBA set, Sec 0, over the prefixes; the ULID is the first address,
 *   every address of the set is a locator with the HBA verification method.
 * - CGA (RFC 3972): one CGA for an RSA key under a prefix (the ULID), plus any other
 *   addresses as locators; every locator uses the CGA method, so the host signs its
 *   locator lists (§5.15.5).
 *
 * The verification method numbers follow the profile ('table4' by default, see
 * src/wire/verification-method.ts). Randomness is injected, so a seeded stream gives the
 * same addresses on every run.
 */
import { generateCga } from '../crypto/cga.js';
import { generateHbaSet } from '../crypto/hba.js';
import type { KeyPair } from '../crypto/keys.js';
import type { CryptoProvider, RandomSource } from '../crypto/provider.js';
import { nodeCryptoProvider } from '../crypto/provider-node.js';
import type { LocalIdentity } from '../context/types.js';
import { parseIpv6 } from '../wire/address.js';
import { verificationMethodCodes, type VerificationMethodProfile } from '../wire/verification-method.js';
import { SimError } from '../sim/errors.js';

/** A /64 prefix: '2001:db8:1::/64' (or without '/64'), or its 8 octets. */
export type Prefix = string | Uint8Array;

/** The 8 octets of a /64 prefix. */
export function parsePrefix(p: Prefix): Uint8Array {
  if (p instanceof Uint8Array) {
    if (p.length !== 8 && p.length !== 16) throw new SimError('bad-prefix', `a prefix is 8 octets (or an address of 16), got ${p.length}`);
    return p.slice(0, 8);
  }
  const [text, len, ...rest] = p.split('/');
  if (rest.length > 0 || (len !== undefined && len !== '64')) throw new SimError('bad-prefix', `"${p}" is not a /64 prefix`);
  const a = parseIpv6(text!);
  if (a === undefined) throw new SimError('bad-prefix', `"${p}" is not an IPv6 prefix`);
  if (a.subarray(8).some((b) => b !== 0)) throw new SimError('bad-prefix', `"${p}" has bits set past /64`);
  return a.slice(0, 8);
}

/** Options shared by the identity builders. */
export interface IdentityOptions {
  readonly profile?: VerificationMethodProfile;
}

/** An HBA identity (RFC 5535, Sec 0) over the /64 prefixes: ULID = the first address, locators = the whole set. */
export async function createHbaIdentity(prefixes: readonly Prefix[], random: RandomSource, provider: CryptoProvider = nodeCryptoProvider, opts: IdentityOptions = {}): Promise<LocalIdentity> {
  if (prefixes.length === 0) throw new SimError('bad-prefix', 'an HBA set needs at least one prefix');
  const set = await generateHbaSet({ provider, random, prefixes: prefixes.map(parsePrefix), sec: 0 });
  const method = verificationMethodCodes(opts.profile ?? 'table4').HBA;
  return {
    ulid: set.addresses[0]!,
    pds: set.paramsBytes[0]!,
    locators: set.addresses.map((address) => ({ address, verificationMethod: method })),
  };
}

/** Options of `createCgaIdentity`. */
export interface CgaIdentityOptions extends IdentityOptions {
  /** 0 or 1 (default 0). Sec 1 costs about 2^16 hashes. */
  readonly sec?: 0 | 1;
}

/**
 * A CGA identity (RFC 3972) for an RSA key pair: ULID = the CGA under `prefix`; locators =
 * the ULID and `extraLocators`, all with the CGA method (the host signs its lists).
 */
export async function createCgaIdentity(
  prefix: Prefix,
  key: KeyPair,
  extraLocators: readonly Uint8Array[],
  random: RandomSource,
  provider: CryptoProvider = nodeCryptoProvider,
  opts: CgaIdentityOptions = {},
): Promise<LocalIdentity> {
  if (provider.publicKeyAlgorithm(key.spki) !== 'rsa') throw new SimError('bad-key', 'RFC 3972 CGAs for Shim6 use RSA keys (RFC 5533 §5.15.5)');
  const g = await generateCga({ provider, random, subnetPrefix: parsePrefix(prefix), publicKey: key.spki, sec: opts.sec ?? 0 });
  const method = verificationMethodCodes(opts.profile ?? 'table4').CGA;
  for (const a of extraLocators) if (a.length !== 16) throw new SimError('bad-address', 'a locator is a 16-octet IPv6 address');
  return {
    ulid: g.address,
    pds: g.paramsBytes,
    privateKey: key.pkcs8,
    locators: [g.address, ...extraLocators].map((address) => ({ address, verificationMethod: method })),
  };
}
