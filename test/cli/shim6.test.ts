/**
 * The compiled `shim6` tool (src/cli/shim6.ts → dist/src/cli/shim6.js), run as a child
 * process: decode of hex, bare Shim6 headers and pcap captures, encode of decode's JSON,
 * the decode ↔ encode round trip, help/version, and exit codes 0 (ok), 1 (invalid
 * input) and 2 (usage, one line on stderr).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePcap, LinkType } from '../../src/io/pcap.js';
import { buildCli, expectUsage, records, run } from './cli.util.js';
import { encodeControlPacket, encodePayloadPacket, parseIpv6, toHex, type ControlMessage } from '../../src/wire/index.js';

const A = parseIpv6('2001:db8::1')!;
const B = parseIpv6('2001:db8:1::2')!;
const I2: ControlMessage = {
  kind: 'I2', nextHeader: 59, reserved1: 0, r: 0, initiatorContextTag: 0x0123456789ab, initiatorNonce: 0xdeadbeef, responderNonce: 42, reserved2: 0,
  options: [
    { kind: 'ResponderValidator', critical: true, validator: Uint8Array.of(1, 2, 3, 4, 5) },
    { kind: 'LocatorList', critical: false, generation: 7, locators: [{ address: A, verificationMethod: 1 }, { address: B, verificationMethod: 2 }] },
    { kind: 'KeepaliveTimeout', critical: false, reserved: 0, keepaliveTimeoutSeconds: 10 },
  ],
};
const I2_PACKET = encodeControlPacket({ source: A, destination: B }, I2);
const PAYLOAD_PACKET = encodePayloadPacket({ source: A, destination: B }, 0x1234, 17, Uint8Array.of(0x13, 0x88, 0x00, 0x35, 0, 12, 0, 0, 1, 2, 3, 4));
const UPDATE_WITH_UNKNOWN_CRITICAL = encodeControlPacket({ source: A, destination: B }, {
  kind: 'UpdateRequest', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: 9, requestNonce: 1,
  options: [{ kind: 'Unknown', type: 99, critical: true, contents: Uint8Array.of(0xab) }],
});
const BAD_CHECKSUM = I2_PACKET.slice();
BAD_CHECKSUM[45]! ^= 1;

let dir = '';

beforeAll(async () => {
  await buildCli();
  dir = await mkdtemp(join(tmpdir(), 'shim6-cli-'));
}, 150_000);

afterAll(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('help, version and usage errors', () => {
  it('--version and --help', async () => {
    const v = await run(['--version']);
    expect(v).toMatchObject({ code: 0, stderr: '' });
    expect(v.stdout).toMatch(/^shim6 \d+\.\d+\.\d+\n$/);
    const h = await run(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/decode/);
    expect(h.stdout).toMatch(/encode/);
    expect((await run(['decode', '--help'])).stdout).toMatch(/--pcap FILE/);
    expect((await run(['encode', '-h'])).stdout).toMatch(/--json FILE/);
  });

  it('exit 2 with one line naming the problem', async () => {
    expectUsage(await run([]), /missing command/);
    expectUsage(await run(['frobnicate']), /unknown command 'frobnicate'/);
    expectUsage(await run(['--frob']), /unknown flag '--frob'/);
    expectUsage(await run(['decode']), /one of --hex or --pcap is required/);
    expectUsage(await run(['decode', '--hex']), /--hex needs a value/);
    expectUsage(await run(['decode', '--hex', '00', '--colour']), /unknown flag '--colour'/);
    expectUsage(await run(['decode', '--hex', '00', '--pcap', 'x']), /not both/);
    expectUsage(await run(['decode', '--hex', '00', '--vm-profile', 'rfc']), /--vm-profile must be one of table4, iana, got 'rfc'/);
    expectUsage(await run(['decode', '--pcap', 'x', '--layer', 'shim6']), /--layer applies to --hex only/);
    expectUsage(await run(['decode', '--hex', '00', 'extra']), /unexpected argument 'extra'/);
    expectUsage(await run(['decode', '--pretty', '--pretty', '--hex', '00']), /more than once/);
    expectUsage(await run(['encode']), /--json FILE is required/);
  });
});

describe('decode', () => {
  it('an I2 packet from hex', async () => {
    const r = await run(['decode', '--hex', toHex(I2_PACKET)]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const [j] = records(r.stdout);
    expect(j!['ipv6']).toMatchObject({ source: '2001:db8::1', destination: '2001:db8:1::2', nextHeader: 140, payloadLength: I2_PACKET.length - 40 });
    expect(j!['shim6']).toMatchObject({ message: 'I2', kind: 'I2', type: 3, P: 0, checksumValid: true, initiatorContextTag: 0x0123456789ab, initiatorNonce: 0xdeadbeef });
    expect(j!['shim6'].options[1].locators[0]).toEqual({ address: '2001:db8::1', verificationMethod: 1, verificationMethodName: 'HBA' });
    expect(j!['verdict']).toEqual({ ok: true });
  });

  it('--vm-profile iana and --pretty', async () => {
    const r = await run(['decode', '--pretty', '--vm-profile', 'iana', '--hex', toHex(I2_PACKET)]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').length).toBeGreaterThan(20);
    const j = JSON.parse(r.stdout) as Record<string, any>;
    expect(j['shim6'].options[1].locators[0].verificationMethodName).toBe('CGA');
  });

  it('a payload packet, hex with spaces and colons', async () => {
    const spaced = toHex(PAYLOAD_PACKET).replace(/(..)/g, '$1:').slice(0, -1);
    const r = await run(['decode', '--hex', spaced]);
    expect(r.code).toBe(0);
    const [j] = records(r.stdout);
    expect(j!['shim6']).toMatchObject({ P: 1, kind: 'Payload', nextHeader: 17, receiverContextTag: 0x1234, upperLayer: { name: 'UDP', sourcePort: 5000, destinationPort: 53 } });
  });

  it('a bare Shim6 header with --layer shim6', async () => {
    const r = await run(['decode', '--layer', 'shim6', '--hex', toHex(I2_PACKET.subarray(40))]);
    expect(r.code).toBe(0);
    const [j] = records(r.stdout);
    expect(j!['ipv6']).toBeUndefined();
    expect(j!['shim6']).toMatchObject({ kind: 'I2', checksumValid: true });
    expect(j!['verdict']).toEqual({ ok: true });
  });

  it('exit 1: bad hex, truncated packet, bad checksum, unknown critical option', async () => {
    const bad = await run(['decode', '--hex', 'xyz']);
    expect(bad.code).toBe(1);
    expect(records(bad.stdout)[0]!['error']).toMatchObject({ reason: 'bad-hex' });
    const trunc = await run(['decode', '--hex', toHex(I2_PACKET.subarray(0, 50))]);
    expect(trunc.code).toBe(1);
    expect(records(trunc.stdout)[0]!['error']).toMatchObject({ reason: 'bad-payload-length', offset: 4 });
    expect(trunc.stderr).toMatch(/1 of 1 packet invalid/);
    const sum = await run(['decode', '--hex', toHex(BAD_CHECKSUM)]);
    expect(sum.code).toBe(1);
    const sj = records(sum.stdout)[0]!;
    expect(sj['shim6'].checksumValid).toBe(false);
    expect(sj['verdict']).toMatchObject({ ok: false, reason: 'bad-checksum' });
    const crit = await run(['decode', '--hex', toHex(UPDATE_WITH_UNKNOWN_CRITICAL)]);
    expect(crit.code).toBe(1);
    const cj = records(crit.stdout)[0]!;
    expect(cj['shim6'].options[0]).toEqual({ type: 99, name: 'Unassigned', critical: true, contentsHex: 'ab' });
    expect(cj['verdict']).toMatchObject({ ok: false, reason: 'unrecognized-critical-option', reply: { code: 1, pointer: 56 } });
    expect(bad.stderr + trunc.stderr + sum.stderr + crit.stderr).not.toMatch(/\n\s+at /);
  });

  it('--hex - reads one packet per line from stdin', async () => {
    const r = await run(['decode', '--hex', '-'], `${toHex(I2_PACKET)}\n\n${toHex(PAYLOAD_PACKET)}\n`);
    expect(r.code).toBe(0);
    expect(records(r.stdout).map((j) => j['shim6'].kind)).toEqual(['I2', 'Payload']);
  });

  it('--pcap: every record with frame and time; a bad record makes exit 1', async () => {
    const file = join(dir, 'mixed.pcap');
    await writeFile(file, encodePcap([
      { data: I2_PACKET, timestampSeconds: 1700000000, timestampNanos: 5000 },
      { data: PAYLOAD_PACKET, timestampSeconds: 1700000001, timestampNanos: 250_000_000 },
      { data: I2_PACKET.subarray(0, 30), timestampSeconds: 1700000002 },
    ]));
    const r = await run(['decode', '--pcap', file]);
    expect(r.code).toBe(1);
    const js = records(r.stdout);
    expect(js).toHaveLength(3);
    expect(js[0]).toMatchObject({ frame: 1, time: '1700000000.000005000', shim6: { kind: 'I2' }, verdict: { ok: true } });
    expect(js[1]).toMatchObject({ frame: 2, time: '1700000001.250000000', shim6: { kind: 'Payload' } });
    expect(js[2]).toMatchObject({ frame: 3, error: { reason: 'truncated' } });
    expect(r.stderr).toMatch(/1 of 3 packets invalid/);
  });

  it('--pcap with Ethernet framing, all valid: exit 0', async () => {
    const eth = (ip: Uint8Array) => Uint8Array.from([...new Array<number>(12).fill(2), 0x86, 0xdd, ...ip]);
    const file = join(dir, 'eth.pcap');
    await writeFile(file, encodePcap([{ data: eth(I2_PACKET) }, { data: eth(PAYLOAD_PACKET) }], { linkType: LinkType.ETHERNET, nanosecond: true }));
    const r = await run(['decode', '--pcap', file]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(records(r.stdout).map((j) => [j['frame'], j['shim6'].kind])).toEqual([[1, 'I2'], [2, 'Payload']]);
  });

  it('--pcap: missing and corrupt files exit 1', async () => {
    const missing = await run(['decode', '--pcap', join(dir, 'nope.pcap')]);
    expect(missing.code).toBe(1);
    expect(records(missing.stdout)[0]!['error']).toMatchObject({ reason: 'io' });
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    const junk = join(dir, 'junk.pcap');
    await writeFile(junk, 'this is not a capture at all');
    const bad = await run(['decode', '--pcap', junk]);
    expect(bad.code).toBe(1);
    expect(records(bad.stdout)[0]!['error']).toMatchObject({ reason: 'bad-magic' });
  });
});

describe('encode', () => {
  it('decode → encode round-trips byte for byte (file, stdin, pretty, array)', async () => {
    const hex = [toHex(I2_PACKET), toHex(PAYLOAD_PACKET), toHex(UPDATE_WITH_UNKNOWN_CRITICAL)];
    const dec = await run(['decode', '--hex', '-'], hex.join('\n'));
    expect(dec.code).toBe(1); // the unknown critical option fails the strict parse, but is shown
    const file = join(dir, 'packets.jsonl');
    await writeFile(file, dec.stdout);
    const enc = await run(['encode', '--json', file]);
    expect(enc).toMatchObject({ code: 0, stderr: '' });
    expect(enc.stdout).toBe(`${hex.join('\n')}\n`);

    const pretty = await run(['decode', '--pretty', '--hex', '-'], hex.join('\n'));
    expect((await run(['encode', '--json', '-'], pretty.stdout)).stdout).toBe(`${hex.join('\n')}\n`);
    const array = JSON.stringify(records(dec.stdout));
    expect((await run(['encode', '--json', '-'], array)).stdout).toBe(`${hex.join('\n')}\n`);
  });

  it('a bare Shim6 header round-trips through --layer shim6', async () => {
    const bare = toHex(I2_PACKET.subarray(40));
    const dec = await run(['decode', '--layer', 'shim6', '--hex', bare]);
    const enc = await run(['encode', '--json', '-'], dec.stdout);
    expect(enc).toMatchObject({ code: 0, stdout: `${bare}\n` });
  });

  it('a hand-written packet encodes and decodes back', async () => {
    const hand = {
      ipv6: { source: '2001:db8::1', destination: '2001:db8:1::2' },
      shim6: { kind: 'I1', initiatorContextTag: 5, initiatorNonce: 6, options: [{ type: 7, forkedInstanceId: 1 }] },
    };
    const enc = await run(['encode', '--json', '-'], JSON.stringify(hand));
    expect(enc.code).toBe(0);
    const dec = await run(['decode', '--hex', enc.stdout.trim()]);
    expect(dec.code).toBe(0);
    expect(records(dec.stdout)[0]!['shim6']).toMatchObject({
      kind: 'I1', reserved1: 0, r: 0, initiatorContextTag: 5, initiatorNonce: 6, checksumValid: true,
      options: [{ type: 7, name: 'Forked Instance Identifier', critical: false, forkedInstanceId: 1 }],
    });
  });

  it('exit 1 naming the record and path; good records are still printed', async () => {
    const good = { ipv6: { source: '::1', destination: '::2' }, shim6: { kind: 'UpdateAck', receiverContextTag: 1, requestNonce: 2 } };
    const bad = { ipv6: { source: '::1', destination: '::2' }, shim6: { kind: 'UpdateRequest', receiverContextTag: 1, requestNonce: 2, options: [{ type: 2, generation: 1, locators: [{ address: 'bogus', verificationMethod: 1 }] }] } };
    const r = await run(['encode', '--json', '-'], `${JSON.stringify(good)}\n${JSON.stringify(bad)}\n`);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/record 2 \(line 2\): shim6\.options\[0\]\.locators\[0\]\.address: is not an IPv6 address/);
  });

  it('exit 1 for bad JSON, an error record, and a missing file', async () => {
    const syntax = await run(['encode', '--json', '-'], '{"ipv6": {"source": "::1",}}');
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toMatch(/stdin line 1: invalid JSON/);
    const scalar = await run(['encode', '--json', '-'], '\n\n42');
    expect(scalar.stderr).toMatch(/line 3: expected a JSON object or array/);
    const errRec = await run(['encode', '--json', '-'], '{"error":{"reason":"truncated","message":"x","offset":0}}');
    expect(errRec.code).toBe(1);
    expect(errRec.stderr).toMatch(/error: this is a decode error record/);
    const empty = await run(['encode', '--json', '-'], '  \n');
    expect(empty).toMatchObject({ code: 1 });
    const missing = await run(['encode', '--json', join(dir, 'absent.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read/);
    for (const r of [syntax, scalar, errRec, empty, missing]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
