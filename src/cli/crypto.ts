/**
 * `shim6 cga ...` and `shim6 hba ...`: generate and verify Cryptographically Generated
 * Addresses (RFC 3972, RFC 4581, RFC 4982) and Hash-Based Address sets (RFC 5535), and
 * sign and verify a Locator List the way the CGA Signature option does (RFC 5533
 * §5.15.5). JSON on stdout; exit 0 ok/valid, 1 invalid, 2 usage error.
 *
 * Sec 0 needs no search, Sec 1 searches in JavaScript (about 2^16 hashes), Sec 2 runs
 * the native search on worker threads across all cores (about 2^32 hashes) with a
 * progress bar on a terminal and none on a pipe. Sec 3-7 have no registered procedure
 * (RFC 4982 §6) and need --allow-unregistered-sec.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { generateCga, jsModifierSearch, verifyCga, type ModifierSearch } from '../crypto/cga.js';
import { generateHbaSet, verifyHba } from '../crypto/hba.js';
import { generateKeyPair, privateKeyFromPem, privateKeyToPem, publicKeyFromPem, publicKeyFromPrivate } from '../crypto/keys.js';
import { CryptoError, type CryptoProvider, type KeyAlgorithm, type RandomSource } from '../crypto/provider.js';
import { nobleCryptoProvider } from '../crypto/provider-noble.js';
import { nodeCryptoProvider } from '../crypto/provider-node.js';
import { signLocatorList, verifyLocatorListSignature, type SignedLocator } from '../crypto/signature.js';
import { parseCgaParameters } from '../crypto/cga-params.js';
import { nativeModifierSearch } from '../io/cga-search.js';
import { formatIpv6, parseIpv6 } from '../wire/address.js';
import { fromHex, toHex } from '../wire/bytes.js';
import { verificationMethodCodes, type VerificationMethodProfile } from '../wire/verification-method.js';
import { parseFlags, type FlagSpecs } from './args.js';
import { err, EXIT_INVALID, EXIT_OK, out, outJson, usage } from './output.js';
import { progressBar } from './progress.js';

export const CGA_HELP = `Usage: shim6 cga <generate|verify|sign|verify-signature> [flags]

  generate --prefix P/64 --sec 0|1|2 (--key FILE.pem | --key-out FILE.pem)
           [--key-type rsa|ecdsa-p256|ed25519] [--key-bits 1024|2048] [--threads N]
           [--allow-unregistered-sec]
      A CGA for the /64 prefix (RFC 3972 §4): {address, params, sec, collisionCount}.
      With --key-out a new key is generated (RSA 2048 unless told otherwise) and its
      private key written there (mode 0600). ECDSA P-256 and Ed25519 are experimental:
      no RFC defines them for CGA or Shim6.
  verify --address A --params HEX
      Every step of RFC 3972 §5: {valid, sec} or {valid: false, reason, step}.
  sign --generation G --locators A=cga,B=hba,... --key FILE.pem
      The CGA Signature over a Locator List (RFC 5533 §5.15.5): {signature, signedData}.
  verify-signature --generation G --locators ... --signature HEX (--params HEX | --public-key FILE.pem)
      {valid}.

Common flags:
      --provider node|noble     crypto implementation (default node)
      --vm-profile table4|iana  verification method numbers (default table4)
      --pretty                  indent the JSON
  -h, --help

Exit codes: 0 ok (valid), 1 invalid, 2 usage error.
`;

export const HBA_HELP = `Usage: shim6 hba <generate|verify> [flags]

  generate --prefixes P1/64,P2/64,... [--sec 0|1|2] (--key FILE.pem | --hba-only)
      An HBA set (RFC 5535 §6): {addresses, params, sec, hbaOnly}. params is the CGA
      Parameter Data Structure of the first address; any member's verifies them all.
  verify --address A --params HEX
      RFC 5535 §7.2: {valid, prefixIndex} or {valid: false, reason, step}.

Common flags: --provider node|noble, --threads N (Sec 2), --pretty, -h/--help.
`;

const COMMON: FlagSpecs = {
  provider: { value: true, choices: ['node', 'noble'] },
  pretty: { value: false },
  help: { value: false, short: 'h' },
};

const FLAGS: Readonly<Record<string, FlagSpecs>> = {
  'cga generate': { ...COMMON, prefix: { value: true }, sec: { value: true }, key: { value: true }, 'key-out': { value: true }, 'key-type': { value: true, choices: ['rsa', 'ecdsa-p256', 'ed25519'] }, 'key-bits': { value: true, choices: ['1024', '2048'] }, threads: { value: true }, 'allow-unregistered-sec': { value: false } },
  'cga verify': { ...COMMON, address: { value: true }, params: { value: true }, 'allow-unregistered-sec': { value: false } },
  'cga sign': { ...COMMON, generation: { value: true }, locators: { value: true }, key: { value: true }, 'vm-profile': { value: true, choices: ['table4', 'iana'] } },
  'cga verify-signature': { ...COMMON, generation: { value: true }, locators: { value: true }, signature: { value: true }, params: { value: true }, 'public-key': { value: true }, 'vm-profile': { value: true, choices: ['table4', 'iana'] } },
  'hba generate': { ...COMMON, prefixes: { value: true }, sec: { value: true }, key: { value: true }, 'hba-only': { value: false }, threads: { value: true } },
  'hba verify': { ...COMMON, address: { value: true }, params: { value: true } },
};

/** A usage problem found while reading flags: becomes exit 2. */
class Usage {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}
/** Bad input (a file, a key, hex): becomes exit 1 with an error object. */
class Invalid {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

const nodeRandom: RandomSource = { bytes: (n) => new Uint8Array(randomBytes(n)) };

type Flags = Readonly<Record<string, string | true>>;

function str(f: Flags, name: string): string | undefined {
  const v = f[name];
  return typeof v === 'string' ? v : undefined;
}

function required(f: Flags, name: string): string {
  const v = str(f, name);
  if (v === undefined) throw new Usage(`--${name} is required`);
  return v;
}

function intFlag(f: Flags, name: string, min: number, max: number): number | undefined {
  const v = str(f, name);
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) throw new Usage(`--${name} must be an integer from ${min} to ${max}, got '${v}'`);
  return Number(v);
}

/** A /64 prefix as its 8 octets; the text must end in /64 and have no bits set past 64. */
function prefix64(text: string, flag: string): Uint8Array {
  const m = /^(.+)\/64$/.exec(text);
  const a = m ? parseIpv6(m[1]!) : undefined;
  if (a === undefined) throw new Usage(`--${flag}: '${text}' is not an IPv6 /64 prefix (e.g. 2001:db8:1:2::/64)`);
  if (a.subarray(8).some((x) => x !== 0)) throw new Usage(`--${flag}: '${text}' has bits set past the /64`);
  return a.slice(0, 8);
}

function address(f: Flags, name: string): Uint8Array {
  const text = required(f, name);
  const a = parseIpv6(text);
  if (a === undefined) throw new Usage(`--${name}: '${text}' is not an IPv6 address`);
  return a;
}

function hexFlag(f: Flags, name: string): Uint8Array {
  const b = fromHex(required(f, name));
  if (b === undefined) throw new Invalid(`--${name} is not hex (an even number of digits 0-9a-f)`);
  return b;
}

function provider(f: Flags): CryptoProvider {
  return str(f, 'provider') === 'noble' ? nobleCryptoProvider : nodeCryptoProvider;
}

function profile(f: Flags): VerificationMethodProfile {
  return (str(f, 'vm-profile') ?? 'table4') as VerificationMethodProfile;
}

/** `A=cga,B=hba,C=7`: each locator with its verification method (a name under the profile, or a number). */
function locators(f: Flags, prof: VerificationMethodProfile): SignedLocator[] {
  const codes = verificationMethodCodes(prof);
  return required(f, 'locators').split(',').map((item) => {
    const [addr, method, extra] = item.split('=');
    const a = addr === undefined ? undefined : parseIpv6(addr.trim());
    if (a === undefined || method === undefined || extra !== undefined) {
      throw new Usage(`--locators: '${item}' is not ADDRESS=cga, ADDRESS=hba or ADDRESS=NUMBER`);
    }
    const m = method.trim().toLowerCase();
    const verificationMethod = m === 'cga' ? codes.CGA : m === 'hba' ? codes.HBA : /^[0-9]+$/.test(m) && Number(m) <= 255 ? Number(m) : -1;
    if (verificationMethod < 0) throw new Usage(`--locators: '${method}' is not cga, hba or a number 0-255`);
    return { address: a, verificationMethod };
  });
}

async function readKeyFile(path: string, kind: 'private' | 'public'): Promise<Uint8Array> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Invalid(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return kind === 'private' ? privateKeyFromPem(text) : publicKeyFromPem(text);
  } catch (e) {
    throw new Invalid(`${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The search for a Sec value, with a progress bar on a terminal for Sec >= 2. */
function searchFor(sec: number, threads: number | undefined, p: CryptoProvider): { search: ModifierSearch; onProgress?: (n: number) => void; done: () => void } {
  if (sec < 2) return { search: jsModifierSearch(p), done: () => undefined };
  const bar = progressBar(`CGA Sec ${sec} search`, 2 ** (16 * sec));
  return {
    search: nativeModifierSearch(threads === undefined ? {} : { threads }),
    onProgress: (n) => bar.update(n),
    done: () => bar.finish(),
  };
}

function sec(f: Flags, allowUnregistered: boolean): number {
  const s = intFlag(f, 'sec', 0, 7);
  if (s === undefined) return 0;
  if (s > 2 && !allowUnregistered) throw new Usage(`--sec ${s} has no registered procedure (RFC 4982 §6 registers 0, 1, 2); add --allow-unregistered-sec to search anyway`);
  return s;
}

async function cgaGenerate(f: Flags): Promise<unknown> {
  const p = provider(f);
  const allow = f['allow-unregistered-sec'] === true;
  const s = sec(f, allow);
  const subnetPrefix = prefix64(required(f, 'prefix'), 'prefix');
  const keyPath = str(f, 'key');
  const keyOut = str(f, 'key-out');
  if ((keyPath === undefined) === (keyOut === undefined)) throw new Usage('give --key FILE.pem (an existing private key) or --key-out FILE.pem (make one), exactly one');
  if (keyPath !== undefined && (f['key-type'] !== undefined || f['key-bits'] !== undefined)) throw new Usage('--key-type and --key-bits apply to --key-out only');
  let publicKey: Uint8Array;
  let newPrivate: Uint8Array | undefined;
  if (keyPath !== undefined) {
    const pkcs8 = await readKeyFile(keyPath, 'private');
    publicKey = publicKeyFromPrivate(pkcs8);
  } else {
    const pair = generateKeyPair((str(f, 'key-type') ?? 'rsa') as KeyAlgorithm, Number(str(f, 'key-bits') ?? '2048') as 1024 | 2048);
    publicKey = pair.spki;
    newPrivate = pair.pkcs8;
  }
  const threads = intFlag(f, 'threads', 1, 256);
  const s2 = searchFor(s, threads, p);
  try {
    const g = await generateCga({
      provider: p,
      random: nodeRandom,
      subnetPrefix,
      publicKey,
      sec: s,
      search: s2.search,
      ...(s2.onProgress === undefined ? {} : { searchOptions: { onProgress: s2.onProgress } }),
      allowUnregisteredSec: allow,
    });
    if (keyOut !== undefined && newPrivate !== undefined) {
      await writeFile(keyOut, privateKeyToPem(newPrivate), { mode: 0o600 });
      await chmod(keyOut, 0o600);
    }
    return { address: formatIpv6(g.address), params: toHex(g.paramsBytes), sec: g.sec, collisionCount: g.collisionCount, ...(keyOut === undefined ? {} : { keyOut }) };
  } finally {
    s2.done();
  }
}

async function hbaGenerate(f: Flags): Promise<unknown> {
  const p = provider(f);
  const s = sec(f, false);
  const prefixes = required(f, 'prefixes').split(',').map((t) => prefix64(t.trim(), 'prefixes'));
  if (prefixes.length === 0) throw new Usage('--prefixes needs at least one /64');
  const keyPath = str(f, 'key');
  const hbaOnly = f['hba-only'] === true;
  if ((keyPath === undefined) === !hbaOnly) throw new Usage('give --key FILE.pem (CGA-compatible HBA set) or --hba-only, exactly one');
  const publicKey = keyPath === undefined ? undefined : publicKeyFromPrivate(await readKeyFile(keyPath, 'private'));
  const s2 = searchFor(s, intFlag(f, 'threads', 1, 256), p);
  try {
    const set = await generateHbaSet({
      provider: p,
      random: nodeRandom,
      prefixes,
      sec: s,
      search: s2.search,
      ...(s2.onProgress === undefined ? {} : { searchOptions: { onProgress: s2.onProgress } }),
      ...(publicKey === undefined ? {} : { publicKey }),
    });
    return { addresses: set.addresses.map((a) => formatIpv6(a)), params: toHex(set.paramsBytes[0]!), sec: set.sec, hbaOnly };
  } finally {
    s2.done();
  }
}

function verifyResult(r: { valid: boolean } & Record<string, unknown>): unknown {
  if (r.valid) {
    const { params: _params, multiPrefix: _mp, ...rest } = r;
    return rest;
  }
  const { paramsError, ...rest } = r as Record<string, unknown> & { paramsError?: { reason: string; message: string; offset: number } };
  return paramsError === undefined ? rest : { ...rest, paramsError };
}

async function cgaSign(f: Flags): Promise<unknown> {
  const p = provider(f);
  const prof = profile(f);
  const generation = intFlag(f, 'generation', 0, 0xffff_ffff);
  if (generation === undefined) throw new Usage('--generation is required');
  const locs = locators(f, prof);
  const pkcs8 = await readKeyFile(required(f, 'key'), 'private');
  const signature = signLocatorList(p, pkcs8, generation, locs, prof);
  return { signature: toHex(signature), generation, profile: prof };
}

async function cgaVerifySignature(f: Flags): Promise<{ valid: boolean }> {
  const p = provider(f);
  const prof = profile(f);
  const generation = intFlag(f, 'generation', 0, 0xffff_ffff);
  if (generation === undefined) throw new Usage('--generation is required');
  const locs = locators(f, prof);
  const signature = hexFlag(f, 'signature');
  const hasParams = str(f, 'params') !== undefined;
  if (hasParams === (str(f, 'public-key') !== undefined)) throw new Usage('give --params HEX or --public-key FILE.pem, exactly one');
  let spki: Uint8Array;
  if (hasParams) {
    const parsed = parseCgaParameters(hexFlag(f, 'params'));
    if (!parsed.ok) throw new Invalid(`--params: ${parsed.error.message}`);
    spki = parsed.value.publicKey;
  } else {
    spki = await readKeyFile(required(f, 'public-key'), 'public');
  }
  return { valid: verifyLocatorListSignature(p, spki, generation, locs, signature, prof) };
}

/** Runs `shim6 cga ...` or `shim6 hba ...`; returns the exit code. */
export async function cryptoCommand(family: 'cga' | 'hba', argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const help = family === 'cga' ? CGA_HELP : HBA_HELP;
  if (sub === undefined) return usage('missing subcommand', family);
  if (sub === '-h' || sub === '--help') { out(help); return EXIT_OK; }
  const key = `${family} ${sub}`;
  const specs = FLAGS[key];
  if (specs === undefined) return usage(`unknown subcommand '${sub}'`, family);
  const parsed = parseFlags(rest, specs);
  if (!parsed.ok) return usage(parsed.message, key);
  const f = parsed.flags;
  if (f['help'] === true) { out(help); return EXIT_OK; }
  const pretty = f['pretty'] === true;
  try {
    switch (key) {
      case 'cga generate': outJson(await cgaGenerate(f), pretty); return EXIT_OK;
      case 'hba generate': outJson(await hbaGenerate(f), pretty); return EXIT_OK;
      case 'cga sign': outJson(await cgaSign(f), pretty); return EXIT_OK;
      case 'cga verify-signature': {
        const r = await cgaVerifySignature(f);
        outJson(r, pretty);
        return r.valid ? EXIT_OK : EXIT_INVALID;
      }
      case 'cga verify':
      case 'hba verify': {
        const p = provider(f);
        const a = address(f, 'address');
        const params = hexFlag(f, 'params');
        const r = family === 'cga' ? verifyCga(p, a, params, { allowUnregisteredSec: f['allow-unregistered-sec'] === true }) : verifyHba(p, a, params);
        outJson(verifyResult(r as unknown as { valid: boolean } & Record<string, unknown>), pretty);
        return r.valid ? EXIT_OK : EXIT_INVALID;
      }
      default:
        return usage(`unknown subcommand '${sub}'`, family);
    }
  } catch (e) {
    if (e instanceof Usage) return usage(e.message, key);
    if (e instanceof Invalid || e instanceof CryptoError) {
      outJson({ error: { reason: e instanceof CryptoError ? e.code : 'bad-input', message: e.message } }, pretty);
      err(`shim6 ${key}: ${e.message}`);
      return EXIT_INVALID;
    }
    throw e;
  }
}
