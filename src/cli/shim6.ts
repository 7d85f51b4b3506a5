#!/usr/bin/env node
/**
 * The `shim6` command-line tool (package.json `bin`): `decode` shows Shim6 packets
 * (RFC 5533 §5, RFC 5534 §5) as JSON, `encode` turns that JSON back into packets, and
 * `cga` / `hba` generate and verify addresses and Locator List signatures (crypto.ts),
 * `status`, `contexts`, `context`, `locators`, `establish`, `explore`, `pcap`, `metrics`,
 * `reload` and `set-pair` talk to shim6d's control socket (control.ts), and
 * `daemon` runs shim6d itself (src/daemon/main.ts, loaded only for that command).
 *
 * Exit codes: 0 ok; 1 invalid input (a packet that fails the strict parse, bad JSON or
 * hex, an unreadable file); 2 usage error, with one line on stderr naming the problem.
 * All file and stream I/O of the tool is here; `decode.ts` and `encode.ts` are pure.
 */
import { readPcapFile } from '../io/pcap.js';
import { packageVersion } from '../version.js';
import { parseFlags, type FlagSpecs } from './args.js';
import { err, EXIT_INVALID, EXIT_OK, out, readText, usage } from './output.js';
import { decodeHexText, decodePcap, type DecodedRecord, type DecodeLayer } from './decode.js';
import { CGA_HELP, cryptoCommand, HBA_HELP } from './crypto.js';
import { encodeText } from './encode.js';
import { CONTROL_HELP, controlCommand, isControlCommand } from './control.js';
import type { VerificationMethodProfile } from '../wire/verification-method.js';


const MAIN_HELP = `Usage: shim6 <command> [flags]

Shim6 (RFC 5533/5534) tool: packets, addresses, and the shim6d daemon.

Commands:
  decode    show packets as JSON (one object per line)
  encode    turn decode's JSON back into packets (one hex line each)
  cga       generate and verify CGAs, sign and verify Locator Lists (RFC 3972, RFC 5533 §5.15.5)
  hba       generate and verify HBA sets (RFC 5535)
  daemon    run shim6d, the Shim6 daemon (same as shim6d --config FILE)

Commands for the running daemon (--socket PATH, --json):
  status     show the daemon: contexts by state, REAP, capture, metrics, counters
  contexts   list the contexts: state, locators, REAP state, failovers, counters
  context    show one context (shim6 context <name>)
  locators   list the local identities and their locators
  establish  establish a context with a peer (shim6 establish <peer-ulid> [--local ULID])
  explore    make REAP explore a context's locator pairs now (shim6 explore <context>)
  pcap       capture the Shim6 traffic to a file (shim6 pcap start [--file PATH] | stop)
  metrics    print the metrics in the Prometheus text format
  reload     re-read the configuration file
  set-pair   switch a context's current locator pair

Flags:
  -h, --help      show this help (or 'shim6 <command> --help')
  -V, --version   show the version

Exit codes: 0 ok, 1 invalid input or failure (e.g. shim6d not running), 2 usage error.
`;

const DECODE_HELP = `Usage: shim6 decode (--hex HEX | --pcap FILE) [flags]

Prints one JSON object per packet (JSON Lines): ipv6, extensionHeaders, shim6 and a
verdict from the strict parse a Shim6 receiver applies; a packet that does not parse at
all prints {"error": {reason, message, offset, reply?}}. Records from a capture also
carry frame (from 1) and time (seconds).

Flags:
      --hex HEX           a packet in hex (spaces and colons ignored); '-' reads hex
                          from stdin, one packet per line
      --pcap FILE         every record of a pcap capture (Ethernet, Linux cooked, raw IP)
      --layer ipv6|shim6  what --hex holds: a whole IPv6 packet (default) or a bare
                          Shim6 header
      --vm-profile table4|iana
                          meaning of locator verification method numbers (default
                          table4: 1 = HBA, 2 = CGA; iana: 1 = CGA, 2 = HBA)
      --pretty            indent the JSON for people
  -h, --help              show this help

Exit status 1 when any packet fails the strict parse or the input cannot be read.
`;

const ENCODE_HELP = `Usage: shim6 encode --json FILE

Reads packets in decode's JSON format (one object, an array, or one object per line;
'-' reads stdin) and prints each packet as one hex line, so that decode and encode
round-trip. An object without "ipv6" is encoded as a bare Shim6 header. Computed
fields (checksum, hdrExtLen, payloadLength, names) are ignored; reserved fields default
to 0. Extension headers in front of the Shim6 header are rebuilt from their "hex"
octets, with the Next Header chain recomputed.

Flags:
      --json FILE   the JSON input, or '-' for stdin
  -h, --help        show this help

Exit status 1 when any record is not valid JSON or not a valid packet (each is
reported on stderr with its path, e.g. shim6.options[0].locators[1].address).
`;

const DECODE_FLAGS: FlagSpecs = {
  hex: { value: true },
  pcap: { value: true },
  layer: { value: true, choices: ['ipv6', 'shim6'] },
  'vm-profile': { value: true, choices: ['table4', 'iana'] },
  pretty: { value: false },
  help: { value: false, short: 'h' },
};

const ENCODE_FLAGS: FlagSpecs = {
  json: { value: true },
  help: { value: false, short: 'h' },
};


function printRecords(records: readonly DecodedRecord[], pretty: boolean): number {
  let invalid = 0;
  for (const r of records) {
    out(`${JSON.stringify(r.json, null, pretty ? 2 : undefined)}\n`);
    if (!r.valid) invalid++;
  }
  if (invalid > 0) {
    err(`shim6 decode: ${invalid} of ${records.length} packet${records.length === 1 ? '' : 's'} invalid`);
    return EXIT_INVALID;
  }
  return EXIT_OK;
}

async function decodeCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseFlags(argv, DECODE_FLAGS);
  if (!parsed.ok) return usage(parsed.message, 'decode');
  const f = parsed.flags;
  if (f['help'] === true) { out(DECODE_HELP); return EXIT_OK; }
  const hex = f['hex'];
  const pcap = f['pcap'];
  if (hex === undefined && pcap === undefined) return usage('one of --hex or --pcap is required', 'decode');
  if (hex !== undefined && pcap !== undefined) return usage('give --hex or --pcap, not both', 'decode');
  if (pcap !== undefined && f['layer'] !== undefined) return usage('--layer applies to --hex only (a capture holds whole packets)', 'decode');
  const profile = (f['vm-profile'] ?? 'table4') as VerificationMethodProfile;
  const pretty = f['pretty'] === true;
  if (typeof hex === 'string') {
    const layer = (f['layer'] ?? 'ipv6') as DecodeLayer;
    let text = hex;
    if (hex === '-') {
      const r = await readText('-');
      if (!r.ok) { err(`shim6 decode: ${r.message}`); return EXIT_INVALID; }
      text = r.text;
    }
    return printRecords(decodeHexText(text, { profile, layer }), pretty);
  }
  const path = pcap as string;
  const file = await readPcapFile(path);
  if (!file.ok) {
    out(`${JSON.stringify({ error: file.error }, null, pretty ? 2 : undefined)}\n`);
    err(`shim6 decode: ${file.error.reason === 'io' ? '' : `${path}: `}${file.error.message}`);
    return EXIT_INVALID;
  }
  return printRecords(decodePcap(file.value, { profile }), pretty);
}

async function encodeCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseFlags(argv, ENCODE_FLAGS);
  if (!parsed.ok) return usage(parsed.message, 'encode');
  const f = parsed.flags;
  if (f['help'] === true) { out(ENCODE_HELP); return EXIT_OK; }
  const path = f['json'];
  if (typeof path !== 'string') return usage('--json FILE is required', 'encode');
  const input = await readText(path);
  if (!input.ok) { err(`shim6 encode: ${input.message}`); return EXIT_INVALID; }
  const r = encodeText(input.text, path === '-' ? 'stdin' : path);
  for (const line of r.lines) out(`${line}\n`);
  for (const e of r.errors) err(`shim6 encode: ${e}`);
  return r.errors.length > 0 ? EXIT_INVALID : EXIT_OK;
}

async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  switch (first) {
    case undefined: return usage('missing command');
    case '-h': case '--help': out(MAIN_HELP); return EXIT_OK;
    case '-V': case '--version': out(`shim6 ${packageVersion()}\n`); return EXIT_OK;
    case 'decode': return decodeCommand(rest);
    case 'encode': return encodeCommand(rest);
    case 'cga': return cryptoCommand('cga', rest);
    case 'hba': return cryptoCommand('hba', rest);
    case 'daemon': {
      const { daemonMain } = await import('../daemon/main.js');
      const code = await daemonMain(rest, 'shim6 daemon', async () => (await import('../daemon/shim6d.js')).realDataPlane);
      // The daemon may have held devices and sockets: leave no handle behind.
      process.exit(code);
    }
    case 'help':
      if (rest[0] === 'decode') { out(DECODE_HELP); return EXIT_OK; }
      if (rest[0] === 'encode') { out(ENCODE_HELP); return EXIT_OK; }
      if (rest[0] === 'cga') { out(CGA_HELP); return EXIT_OK; }
      if (rest[0] === 'hba') { out(HBA_HELP); return EXIT_OK; }
      if (rest[0] !== undefined && isControlCommand(rest[0])) { out(CONTROL_HELP[rest[0]]); return EXIT_OK; }
      if (rest[0] === 'daemon') { out((await import('../daemon/main.js')).daemonHelp('shim6 daemon')); return EXIT_OK; }
      if (rest[0] === undefined) { out(MAIN_HELP); return EXIT_OK; }
      return usage(`unknown command '${rest[0]}'`);
    default:
      if (isControlCommand(first)) return controlCommand(first, rest);
      return usage(first.startsWith('-') ? `unknown flag '${first}'` : `unknown command '${first}'`);
  }
}

// A reader that goes away (`shim6 decode ... | head`) is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    // A bug, not bad input: one line, no stack trace for users; exit 1.
    err(`shim6: internal error: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = EXIT_INVALID;
  },
);
