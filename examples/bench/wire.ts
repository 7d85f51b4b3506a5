/**
 * Wire codec benchmarks (issue 2): parse and emit of an I2 with three locators and a CGA
 * Parameter Data Structure, and in-place insert/strip of the Payload Extension header
 * on a 1500-octet packet. Each is reported against a baseline measured in the same run:
 * the checksum alone over the same octets (the per-octet work any verifying parse must
 * do), a plain copy of the same octets (the floor for emit), and for insert/strip the
 * 40-octet memmove they cannot avoid plus, for comparison, a copying implementation that
 * rebuilds the whole packet in a new buffer.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  emitControlMessage,
  encodeControlPacket,
  insertPayloadHeader,
  internetChecksum,
  IPV6_HEADER_LEN,
  locateShim6,
  parseControlMessage,
  parseIpv6,
  readPayloadContextTag,
  stripPayloadHeader,
  type ControlMessage,
} from '../../src/wire/index.js';
import { bench, consume, type BenchResult } from './harness.js';

export interface WireBench {
  readonly i2Length: number;
  readonly results: Record<string, BenchResult>;
}

/** A realistic I2: Responder Validator, Locator List of 3, Locator Preferences, CGA PDS with an RSA-1024 key. */
export function sampleI2(): ControlMessage {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  // CGA Parameters (RFC 3972 §3): modifier 16, subnet prefix 8, collision count 1, key, then
  // an HBA Multi-Prefix extension (RFC 5535 §5) for three prefixes: type 0x0012, length, P flag, prefixes.
  const ext = new Uint8Array(4 + 4 + 3 * 8);
  ext.set([0x00, 0x12, 0x00, 4 + 3 * 8]);
  const pds = new Uint8Array(16 + 8 + 1 + spki.length + ext.length);
  pds.fill(0x5a, 0, 16);
  pds.set(parseIpv6('2001:db8:1::')!.subarray(0, 8), 16);
  pds.set(spki, 25);
  pds.set(ext, 25 + spki.length);
  const loc = (s: string) => parseIpv6(s)!;
  return {
    kind: 'I2',
    nextHeader: 59,
    reserved1: 0,
    r: 0,
    initiatorContextTag: 0x1234_5678_9abc,
    initiatorNonce: 0x01020304,
    responderNonce: 0x0a0b0c0d,
    reserved2: 0,
    options: [
      { kind: 'ResponderValidator', critical: false, validator: new Uint8Array(20).fill(0x77) },
      {
        kind: 'LocatorList',
        critical: false,
        generation: 7,
        locators: [
          { address: loc('2001:db8:1::10'), verificationMethod: 1 },
          { address: loc('2001:db8:2::10'), verificationMethod: 1 },
          { address: loc('2001:db8:3::10'), verificationMethod: 1 },
        ],
      },
      { kind: 'LocatorPreferences', critical: false, generation: 7, elementLength: 3, elements: [{ flags: 0, priority: 1, weight: 10 }, { flags: 0, priority: 2, weight: 10 }, { flags: 2, priority: 3, weight: 0 }] },
      { kind: 'CgaParameterDataStructure', critical: false, pds },
    ],
  };
}

/** A 1500-octet IPv6/UDP packet with 8 octets of headroom in front, as the data plane holds it. */
function samplePayloadSlot(): { buf: Uint8Array; start: number; len: number } {
  const len = 1500;
  const buf = new Uint8Array(8 + len);
  const start = 8;
  buf[start] = 0x60;
  buf[start + 4] = (len - 40) >>> 8;
  buf[start + 5] = (len - 40) & 0xff;
  buf[start + 6] = 17;
  buf[start + 7] = 64;
  buf.set(parseIpv6('2001:db8:1::10')!, start + 8);
  buf.set(parseIpv6('2001:db8:2::20')!, start + 24);
  for (let i = start + 40; i < start + len; i++) buf[i] = i & 0xff;
  return { buf, start, len };
}

export function runWireBench(): WireBench {
  const i2 = sampleI2();
  const packet = encodeControlPacket({ source: parseIpv6('2001:db8:1::10')!, destination: parseIpv6('2001:db8:2::20')! }, i2);
  const msg = packet.subarray(IPV6_HEADER_LEN);
  const out = new Uint8Array(2048);
  const results: Record<string, BenchResult> = {};

  results['parseI2'] = bench('parse I2 (checksum verified, values decoded)', () => {
    const r = parseControlMessage(msg, 0, msg.length);
    consume(r.ok ? 1 : 0);
  });
  results['checksumOnly'] = bench('baseline: checksum alone over the same octets', () => {
    consume(internetChecksum(msg, 0, msg.length));
  });
  results['emitI2'] = bench('emit I2 into a caller buffer', () => {
    consume(emitControlMessage(i2, out, 0));
  });
  results['copyOnly'] = bench('baseline: copy of the same octets', () => {
    out.set(msg, 0);
    consume(out[5]!);
  });

  const slot = samplePayloadSlot();
  let tag = 1;
  results['insertStrip'] = bench(
    'insert + strip Payload Extension header in place (1500 B packet)',
    () => {
      const s = insertPayloadHeader(slot.buf, slot.start, slot.len, tag);
      const off = locateShim6(slot.buf, s, slot.len + 8);
      // Keep the tag a small integer so the loop itself does not box a double.
      tag = (readPayloadContextTag(slot.buf, off) + 1) & 0x3fff_ffff;
      consume(stripPayloadHeader(slot.buf, s, slot.len + 8));
    },
    { measureHeap: true },
  );
  results['noopHeap'] = bench('baseline: empty loop body (heap accounting noise floor)', () => consume(1), { measureHeap: true });
  results['memmove40'] = bench('baseline: the two 40-octet memmoves insert+strip cannot avoid', () => {
    slot.buf.copyWithin(0, 8, 48);
    slot.buf.copyWithin(8, 0, 40);
    consume(slot.buf[10]!);
  });
  const copyOut = new Uint8Array(1600);
  results['copyingInsert'] = bench('comparison: copying insert + strip (whole packet copied twice)', () => {
    copyOut.set(slot.buf.subarray(slot.start, slot.start + 40), 0);
    copyOut.set(slot.buf.subarray(slot.start + 40, slot.start + slot.len), 48);
    slot.buf.set(copyOut.subarray(0, 40), slot.start);
    slot.buf.set(copyOut.subarray(48, 48 + slot.len - 40), slot.start + 40);
    consume(copyOut[3]!);
  });
  return { i2Length: msg.length, results };
}
