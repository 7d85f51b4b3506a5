/**
 * The JSON view of packets (src/wire/json.ts): every message kind of RFC 5533 §5.4-5.14
 * and RFC 5534 §5.1-5.2, every option of §5.15 / RFC 5534 §5.3, unknown options and the
 * Payload Extension header (§5.2) round-trip packet → JSON → packet byte for byte; bad
 * JSON is rejected with the path of the bad field. Fixtures are built with the codec's
 * own encoders; property tests use the canonical-message arbitraries of arbitraries.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeControlPacket,
  encodePayloadPacket,
  fromHex,
  parseIpv6,
  parsePacket,
  toHex,
  type ControlMessage,
  type Option,
} from '../../src/wire/index.js';
import { encodeJsonPacket, encodeJsonShim6, jsonToPacket, jsonToShim6, packetToJson, type JsonObject } from '../../src/wire/json.js';
import { controlMessage } from './arbitraries.js';

const A = parseIpv6('2001:db8::1')!;
const B = parseIpv6('2001:db8:1::2')!;
const ADDR = { source: A, destination: B, hopLimit: 17, flowLabel: 0xabcde, trafficClass: 0x2e };

function view(raw: Uint8Array, profile: 'table4' | 'iana' = 'table4'): JsonObject {
  const p = parsePacket(raw, 0, raw.length, { verifyChecksum: false, unknownCritical: 'keep' });
  if (!p.ok) throw new Error(`fixture does not parse: ${p.error.message}`);
  // Through text, as the CLI does: the view must be plain JSON.
  return JSON.parse(JSON.stringify(packetToJson(p.value, raw, { profile }))) as JsonObject;
}

function reencode(json: unknown): Uint8Array {
  const r = jsonToPacket(json);
  if (!r.ok) throw new Error(`${r.error.path}: ${r.error.message}`);
  return encodeJsonPacket(r.value);
}

function roundTrip(raw: Uint8Array): void {
  expect(toHex(reencode(view(raw)))).toBe(toHex(raw));
}

function errorOf(json: unknown): { path: string; message: string } {
  const r = jsonToPacket(json);
  if (r.ok) throw new Error('expected an error');
  return r.error;
}

const bytes = (...v: number[]): Uint8Array => Uint8Array.from(v);

const OPTIONS: Record<string, Option> = {
  responderValidator: { kind: 'ResponderValidator', critical: false, validator: bytes(1, 2, 3, 4, 5, 6, 7, 8, 9) },
  locatorList: { kind: 'LocatorList', critical: false, generation: 0x01020304, locators: [{ address: A, verificationMethod: 1 }, { address: B, verificationMethod: 2 }, { address: A, verificationMethod: 250 }] },
  prefs1: { kind: 'LocatorPreferences', critical: false, generation: 9, elementLength: 1, elements: [{ flags: 1 }, { flags: 2 }] },
  prefs3: { kind: 'LocatorPreferences', critical: true, generation: 9, elementLength: 3, elements: [{ flags: 0, priority: 10, weight: 20 }] },
  prefs5: { kind: 'LocatorPreferences', critical: false, generation: 9, elementLength: 5, elements: [{ flags: 3, priority: 1, weight: 2, extension: bytes(0xaa, 0xbb) }] },
  pds: { kind: 'CgaParameterDataStructure', critical: false, pds: bytes(...Array.from({ length: 29 }, (_, i) => i)) },
  signature: { kind: 'CgaSignature', critical: false, signature: bytes(0xde, 0xad, 0xbe, 0xef) },
  ulidPair: { kind: 'UlidPair', critical: false, reserved2: 7, senderUlid: A, receiverUlid: B },
  forked: { kind: 'ForkedInstanceIdentifier', critical: false, forkedInstanceId: 0xffffffff },
  keepalive: { kind: 'KeepaliveTimeout', critical: false, reserved: 1, keepaliveTimeoutSeconds: 30 },
  unknown: { kind: 'Unknown', type: 0x4321, critical: false, contents: bytes(1, 2, 3) },
  unknownCritical: { kind: 'Unknown', type: 99, critical: true, contents: bytes() },
};
const o = OPTIONS as Record<keyof typeof OPTIONS, Option>;
const report = (n: number) => ({ source: A, destination: B, nonce: n, data: n * 2 });

const MESSAGES: Record<string, ControlMessage> = {
  I1: { kind: 'I1', nextHeader: 59, reserved1: 0, r: 0, initiatorContextTag: 2 ** 47 - 1, initiatorNonce: 0xdeadbeef, options: [o.ulidPair!, o.forked!] },
  R1: { kind: 'R1', nextHeader: 59, reserved1: 0, reserved2: 0x1234, initiatorNonce: 1, responderNonce: 2, options: [o.responderValidator!] },
  I2: {
    kind: 'I2', nextHeader: 59, reserved1: 0, r: 1, initiatorContextTag: 0x123456789ab, initiatorNonce: 3, responderNonce: 4, reserved2: 0,
    options: [o.responderValidator!, o.ulidPair!, o.forked!, o.locatorList!, o.prefs1!, o.pds!, o.signature!, o.keepalive!],
  },
  R2: { kind: 'R2', nextHeader: 59, reserved1: 0, r: 0, responderContextTag: 77, initiatorNonce: 5, options: [o.locatorList!, o.prefs3!, o.pds!, o.signature!, o.keepalive!] },
  R1bis: { kind: 'R1bis', nextHeader: 59, reserved1: 0x7f, r: 0, packetContextTag: 1, responderNonce: 6, options: [o.responderValidator!] },
  I2bis: {
    kind: 'I2bis', nextHeader: 59, reserved1: 0, r: 0, initiatorContextTag: 8, initiatorNonce: 9, responderNonce: 10, reserved2: 2 ** 49 - 1, packetContextTag: 11,
    options: [o.responderValidator!, o.locatorList!, o.prefs5!],
  },
  UpdateRequest: { kind: 'UpdateRequest', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: 12, requestNonce: 13, options: [o.locatorList!, o.prefs1!, o.unknown!] },
  UpdateAck: { kind: 'UpdateAck', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: 14, requestNonce: 15, options: [] },
  Keepalive: { kind: 'Keepalive', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: 16, reserved2: 0, options: [] },
  Probe: {
    kind: 'Probe', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: 17, state: 1, reserved2: 0,
    sent: [report(1), report(2)], received: [report(3)], options: [],
  },
  Error: { kind: 'Error', nextHeader: 59, errorCode: 1, pointer: 48, packetInError: fromHex('6000000000108c40' + '00'.repeat(32) + '3b01030000000000')! },
  // A known option the message may not carry is shown raw (RFC 5533 §5.15) and must still round-trip.
  KeepaliveWithRaw: { kind: 'Keepalive', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: 16, reserved2: 0, options: [{ kind: 'Unknown', type: 1, critical: false, contents: bytes(9) }, o.unknownCritical!] },
};

describe('packetToJson → jsonToPacket round trip', () => {
  for (const [name, m] of Object.entries(MESSAGES)) {
    it(`${name} round-trips byte for byte`, () => {
      roundTrip(encodeControlPacket(ADDR, m));
    });
  }

  it('every known option type appears decoded in the fixtures', () => {
    const types = new Set<number>();
    for (const m of Object.values(MESSAGES)) {
      const opts = (view(encodeControlPacket(ADDR, m))['shim6'] as JsonObject)['options'] as JsonObject[] | undefined;
      for (const opt of opts ?? []) if (opt['contentsHex'] === undefined) types.add(opt['type'] as number);
    }
    expect([...types].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 10]);
  });

  it('payload packets round-trip, with the upper layer described', () => {
    const udp = fromHex('1388003500100000 0102030405060708')!;
    const raw = encodePayloadPacket(ADDR, 2 ** 47 - 1, 17, udp);
    const j = view(raw);
    expect(j['shim6']).toEqual({
      P: 1, kind: 'Payload', message: 'Payload Extension', nextHeader: 17, receiverContextTag: 2 ** 47 - 1,
      upperLayer: { protocol: 17, name: 'UDP', length: 16, sourcePort: 5000, destinationPort: 53 },
      payloadHex: toHex(udp),
    });
    roundTrip(raw);
    const icmp = encodePayloadPacket(ADDR, 5, 58, bytes(128, 0, 0, 0, 0, 1, 0, 1));
    expect((j['shim6'] as JsonObject)['kind']).toBe('Payload');
    expect((view(icmp)['shim6'] as JsonObject)['upperLayer']).toEqual({ protocol: 58, name: 'ICMPv6', length: 8, type: 128, code: 0 });
    roundTrip(icmp);
    const tcp = encodePayloadPacket(ADDR, 5, 6, fromHex('c00001bb' + '00'.repeat(16))!);
    expect((view(tcp)['shim6'] as JsonObject)['upperLayer']).toMatchObject({ name: 'TCP', sourcePort: 0xc000, destinationPort: 443 });
    roundTrip(tcp);
  });

  it('extension headers in front of the Shim6 header carry their octets and are rebuilt on encode', () => {
    // Hop-by-Hop (PadN) then Destination Options before a Routing header (type 0, no addresses), then Shim6 (RFC 5533 §4.6).
    const hbh = fromHex('3c00010400000000')!; // Next Header 60, Hdr Ext Len 0, PadN
    const dst = fromHex('2b00010400000000')!; // Next Header 43
    const rt = fromHex('8c00000000000000')!; // Next Header 140, Hdr Ext Len 0, Routing Type 0, Segments Left 0
    const ka = encodeControlPacket(ADDR, { kind: 'Keepalive', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: 77, reserved2: 0, options: [] });
    const raw = new Uint8Array(ka.length + 24);
    raw.set(ka.subarray(0, 40), 0);
    raw[6] = 0; // IPv6 Next Header: Hop-by-Hop
    raw[4] = 0; raw[5] = ka.length - 40 + 24;
    raw.set(hbh, 40); raw.set(dst, 48); raw.set(rt, 56); raw.set(ka.subarray(40), 64);
    const j = view(raw);
    expect(j['extensionHeaders']).toEqual([
      { protocol: 0, name: 'Hop-by-Hop Options', offset: 40, length: 8, hex: '3c00010400000000' },
      { protocol: 60, name: 'Destination Options', offset: 48, length: 8, hex: '2b00010400000000' },
      { protocol: 43, name: 'Routing', offset: 56, length: 8, hex: '8c00000000000000' },
      { protocol: 140, name: 'Shim6', offset: 64, length: 16 },
    ]);
    roundTrip(raw);
    // The Next Header chain is rebuilt from the list, whatever the copied octets said.
    const edited = JSON.parse(JSON.stringify(j)) as { extensionHeaders: { hex: string }[] };
    edited.extensionHeaders[0]!.hex = '1100010400000000';
    expect(toHex(reencode(edited))).toBe(toHex(raw));
    // A header whose octets contradict its own length field is refused with its path.
    edited.extensionHeaders[1]!.hex = '2b01010400000000';
    expect(errorOf(edited)).toMatchObject({ path: 'extensionHeaders[1].hex' });
  });

  it('a Destination Options header behind the payload header stays in payloadHex', () => {
    const dst = fromHex('1100010400000000')!; // Next Header UDP, Hdr Ext Len 0, PadN
    const raw = encodePayloadPacket(ADDR, 5, 60, Uint8Array.from([...dst, 0, 1, 0, 2, 0, 8, 0, 0]));
    const j = view(raw);
    expect(j['extensionHeaders']).toEqual([
      { protocol: 140, name: 'Shim6', offset: 40, length: 8 },
      { protocol: 60, name: 'Destination Options', offset: 48, length: 8 },
    ]);
    expect((j['shim6'] as JsonObject)['upperLayer']).toEqual({ protocol: 17, name: 'UDP', length: 8, sourcePort: 1, destinationPort: 2 });
    roundTrip(raw);
  });

  it('shows the control header, checksum and names', () => {
    const raw = encodeControlPacket(ADDR, MESSAGES['I2']!);
    const j = view(raw);
    expect(j['ipv6']).toEqual({ source: '2001:db8::1', destination: '2001:db8:1::2', hopLimit: 17, flowLabel: 0xabcde, trafficClass: 0x2e, payloadLength: raw.length - 40, nextHeader: 140 });
    const s = j['shim6'] as JsonObject;
    expect(s).toMatchObject({ message: 'I2', kind: 'I2', type: 3, P: 0, nextHeader: 59, hdrExtLen: (raw.length - 40) / 8 - 1, checksumValid: true, r: 1, initiatorContextTag: 0x123456789ab });
    expect(s['checksum']).toBe(`0x${toHex(raw.subarray(44, 46))}`);
    const opts = s['options'] as JsonObject[];
    expect(opts[3]).toEqual({
      type: 2, name: 'Locator List', critical: false, generation: 0x01020304,
      locators: [
        { address: '2001:db8::1', verificationMethod: 1, verificationMethodName: 'HBA' },
        { address: '2001:db8:1::2', verificationMethod: 2, verificationMethodName: 'CGA' },
        { address: '2001:db8::1', verificationMethod: 250, verificationMethodName: 'Experimental' },
      ],
    });
    expect(opts[4]).toEqual({ type: 3, name: 'Locator Preferences', critical: false, generation: 9, elementLength: 1, elements: [{ flags: 1, flagNames: ['BROKEN'] }, { flags: 2, flagNames: ['TRANSIENT'] }] });
    const iana = ((view(raw, 'iana')['shim6'] as JsonObject)['options'] as JsonObject[])[3]!;
    expect((iana['locators'] as JsonObject[])[0]!['verificationMethodName']).toBe('CGA');
  });

  it('shows unknown options raw with their registry name', () => {
    const s = view(encodeControlPacket(ADDR, MESSAGES['KeepaliveWithRaw']!))['shim6'] as JsonObject;
    expect(s['options']).toEqual([
      { type: 1, name: 'Responder Validator', critical: false, contentsHex: '09' },
      { type: 99, name: 'Unassigned', critical: true, contentsHex: '' },
    ]);
    const u = view(encodeControlPacket(ADDR, MESSAGES['UpdateRequest']!))['shim6'] as JsonObject;
    expect((u['options'] as JsonObject[])[2]).toEqual({ type: 0x4321, name: 'Experimental', critical: false, contentsHex: '010203' });
  });

  it('shows Error and Probe fields', () => {
    const e = view(encodeControlPacket(ADDR, MESSAGES['Error']!))['shim6'] as JsonObject;
    expect(e).toMatchObject({ kind: 'Error', type: 68, errorCode: 1, errorName: 'Critical option not recognized', pointer: 48 });
    expect(e['reserved1']).toBeUndefined();
    const p = view(encodeControlPacket(ADDR, MESSAGES['Probe']!))['shim6'] as JsonObject;
    expect(p).toMatchObject({ kind: 'Probe', state: 1, stateName: 'Exploring', received: [{ source: '2001:db8::1', destination: '2001:db8:1::2', nonce: 3, data: 6 }] });
  });

  it('reports a bad checksum but re-encodes with a correct one', () => {
    const raw = encodeControlPacket(ADDR, MESSAGES['R1']!);
    const bad = raw.slice();
    bad[44]! ^= 0xff;
    const s = view(bad)['shim6'] as JsonObject;
    expect(s['checksumValid']).toBe(false);
    expect(toHex(reencode(view(bad)))).toBe(toHex(raw));
  });

  it('ignores computed fields, defaults reserved ones, and reads a hand-written packet', () => {
    const hand = {
      ipv6: { source: '2001:db8::1', destination: '2001:db8:1::2' },
      shim6: { kind: 'UpdateAck', receiverContextTag: 14, requestNonce: 15 },
    };
    const want = encodeControlPacket({ source: A, destination: B }, { kind: 'UpdateAck', nextHeader: 59, reserved1: 0, r: 0, receiverContextTag: 14, requestNonce: 15, options: [] });
    expect(toHex(reencode(hand))).toBe(toHex(want));
    const j = view(want);
    const s = j['shim6'] as JsonObject;
    Object.assign(s, { checksum: '0x0000', checksumValid: false, hdrExtLen: 99, message: 'whatever' });
    Object.assign(j['ipv6'] as JsonObject, { payloadLength: 1, nextHeader: 0 });
    Object.assign(j, { frame: 3, time: '1.000000000', verdict: { ok: false } });
    expect(toHex(reencode(j))).toBe(toHex(want));
  });

  it('encodes a bare Shim6 header with jsonToShim6', () => {
    const raw = encodeControlPacket(ADDR, MESSAGES['I1']!);
    const r = jsonToShim6({ shim6: view(raw)['shim6'] });
    expect(r.ok).toBe(true);
    if (r.ok) expect(toHex(encodeJsonShim6(r.value))).toBe(toHex(raw.subarray(40)));
    const p = jsonToShim6({ shim6: { kind: 'Payload', nextHeader: 59, receiverContextTag: 3, payloadHex: '' } });
    expect(p.ok && toHex(encodeJsonShim6(p.value))).toBe('3b00800000000003');
  });

  it('property: canonical messages of every kind round-trip', () => {
    fc.assert(
      fc.property(controlMessage(), (m) => {
        roundTrip(encodeControlPacket(ADDR, m));
      }),
      { numRuns: 300 },
    );
  });

  it('property: random control messages and options (mostly malformed) never throw, and decoded ones re-encode to the same view', () => {
    const FIXED: Record<number, number> = { 1: 16, 2: 16, 3: 24, 4: 16, 5: 16, 6: 32, 64: 16, 65: 16, 66: 16, 67: 56, 68: 16 };
    const option = fc.record({ type: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 10, 99, 0x4000), critical: fc.boolean(), contents: fc.uint8Array({ maxLength: 44 }) }).map(({ type, critical, contents }) => {
      const out = new Uint8Array(11 + contents.length - ((contents.length + 3) % 8));
      out[0] = type >>> 7;
      out[1] = ((type << 1) & 0xff) | (critical ? 1 : 0);
      out[3] = contents.length;
      out.set(contents, 4);
      return out;
    });
    const packet = fc.record({ type: fc.constantFrom(...Object.keys(FIXED).map(Number)), fixed: fc.uint8Array({ minLength: 56, maxLength: 56 }), options: fc.array(option, { maxLength: 4 }) });
    let decoded = 0;
    fc.assert(
      fc.property(packet, ({ type, fixed, options }) => {
        const fixedLen = FIXED[type]!;
        const body = Uint8Array.from([...fixed.subarray(0, fixedLen), ...options.flatMap((o) => [...o])]);
        body[0] = 59;
        body[1] = body.length / 8 - 1;
        body[2] = type;
        body[3]! &= 0xfe;
        if (type === 67) { body[12] = 0x01; body[13]! &= 0x7f; }
        const raw = encodePayloadPacket(ADDR, 0, 0, new Uint8Array(0)).subarray(0, 40).slice();
        const pkt = Uint8Array.from([...raw, ...body]);
        pkt[4] = body.length >>> 8;
        pkt[5] = body.length & 0xff;
        const p = parsePacket(pkt, 0, pkt.length, { verifyChecksum: false, unknownCritical: 'keep' });
        if (!p.ok) return;
        decoded++;
        const j = JSON.parse(JSON.stringify(packetToJson(p.value, pkt, { profile: 'table4' }))) as JsonObject;
        const again = view(reencode(j));
        const strip = (v: JsonObject): JsonObject => ({ ...v, shim6: { ...(v['shim6'] as JsonObject), checksum: '', checksumValid: true } });
        expect(strip(again)).toEqual(strip(j));
      }),
      { numRuns: 600 },
    );
    expect(decoded).toBeGreaterThan(100);
  });
});

describe('jsonToPacket errors name the bad field', () => {
  const base = () => view(encodeControlPacket(ADDR, MESSAGES['I2']!)) as { ipv6: JsonObject; shim6: JsonObject & { options: JsonObject[] } };

  const cases: [string, (j: ReturnType<typeof base>) => unknown, string, RegExp][] = [
    ['not an object', () => 42, '', /must be an object/],
    ['no ipv6', (j) => ({ shim6: j.shim6 }), 'ipv6', /missing/],
    ['no shim6', (j) => ({ ipv6: j.ipv6 }), 'shim6', /missing/],
    ['decode error record', () => ({ error: { reason: 'truncated' } }), 'error', /decode error record/],
    ['bad source', (j) => { j.ipv6['source'] = '2001:db8::g'; return j; }, 'ipv6.source', /not an IPv6 address/],
    ['hopLimit out of range', (j) => { j.ipv6['hopLimit'] = 256; return j; }, 'ipv6.hopLimit', /0\.\.255.*256/],
    ['flowLabel not a number', (j) => { j.ipv6['flowLabel'] = '1'; return j; }, 'ipv6.flowLabel', /integer.*string "1"/],
    ['unknown ipv6 field', (j) => { j.ipv6['hoplimit'] = 1; return j; }, 'ipv6.hoplimit', /unknown field/],
    ['unknown kind', (j) => { j.shim6['kind'] = 'I3'; return j; }, 'shim6.kind', /unknown kind.*I1, R1/],
    ['missing kind', (j) => { delete j.shim6['kind']; return j; }, 'shim6.kind', /missing/],
    ['P contradicts kind', (j) => { j.shim6['P'] = 1; return j; }, 'shim6.P', /must be 0/],
    ['type contradicts kind', (j) => { j.shim6['type'] = 65; return j; }, 'shim6.type', /must be 3/],
    ['tag too wide', (j) => { j.shim6['initiatorContextTag'] = 2 ** 47; return j; }, 'shim6.initiatorContextTag', /0\.\.140737488355327/],
    ['nonce negative', (j) => { j.shim6['initiatorNonce'] = -1; return j; }, 'shim6.initiatorNonce', /0\.\.4294967295/],
    ['nonce fractional', (j) => { j.shim6['responderNonce'] = 1.5; return j; }, 'shim6.responderNonce', /integer/],
    ['nonce missing', (j) => { delete j.shim6['responderNonce']; return j; }, 'shim6.responderNonce', /missing/],
    ['field of another message', (j) => { j.shim6['requestNonce'] = 1; return j; }, 'shim6.requestNonce', /unknown field for an I2 message/],
    ['options not an array', (j) => { (j.shim6 as JsonObject)['options'] = {}; return j; }, 'shim6.options', /must be an array/],
    ['option type missing', (j) => { delete j.shim6.options[0]!['type']; return j; }, 'shim6.options[0].type', /missing/],
    ['option type too wide', (j) => { j.shim6.options[0]!['type'] = 0x8000; return j; }, 'shim6.options[0].type', /0\.\.32767/],
    ['critical not boolean', (j) => { j.shim6.options[0]!['critical'] = 1; return j; }, 'shim6.options[0].critical', /true or false/],
    ['bad hex', (j) => { j.shim6.options[0]!['validator'] = 'abc'; return j; }, 'shim6.options[0].validator', /hex/],
    ['bad locator address', (j) => { (j.shim6.options[3]!['locators'] as JsonObject[])[1]!['address'] = 'nope'; return j; }, 'shim6.options[3].locators[1].address', /not an IPv6 address/],
    ['bad verification method', (j) => { (j.shim6.options[3]!['locators'] as JsonObject[])[0]!['verificationMethod'] = 256; return j; }, 'shim6.options[3].locators[0].verificationMethod', /0\.\.255/],
    ['element field past Element Len', (j) => { (j.shim6.options[4]!['elements'] as JsonObject[])[1]!['priority'] = 1; return j; }, 'shim6.options[4].elements[1].priority', /elementLength is 1/],
    ['Element Len 0', (j) => { j.shim6.options[4]!['elementLength'] = 0; return j; }, 'shim6.options[4].elementLength', /at least 1/],
    ['unknown option without contents', (j) => { j.shim6.options[0] = { type: 99, critical: false }; return j; }, 'shim6.options[0].contentsHex', /missing/],
    ['field of another option', (j) => { j.shim6.options[7]!['forkedInstanceId'] = 1; return j; }, 'shim6.options[7].forkedInstanceId', /unknown field for a Keepalive Timeout option/],
    ['keepalive timeout too big', (j) => { j.shim6.options[7]!['keepaliveTimeoutSeconds'] = 65536; return j; }, 'shim6.options[7].keepaliveTimeoutSeconds', /0\.\.65535/],
    ['ULID missing', (j) => { delete j.shim6.options[1]!['senderUlid']; return j; }, 'shim6.options[1].senderUlid', /missing/],
    ['message too long', (j) => { j.shim6.options[0]!['validator'] = '00'.repeat(2100); return j; }, 'shim6', /2048/],
  ];
  for (const [name, edit, path, message] of cases) {
    it(name, () => {
      const e = errorOf(edit(base()));
      expect(e.path).toBe(path);
      expect(e.message).toMatch(message);
    });
  }

  it('Probe, Error and Payload fields', () => {
    const probe = view(encodeControlPacket(ADDR, MESSAGES['Probe']!)) as { shim6: JsonObject };
    probe.shim6['sent'] = [];
    expect(errorOf(probe)).toEqual({ path: 'shim6.sent', message: 'must have 1..15 entries, got 0' });
    const probe2 = view(encodeControlPacket(ADDR, MESSAGES['Probe']!)) as { shim6: JsonObject };
    ((probe2.shim6['received'] as JsonObject[])[0]!)['nonce'] = 'x';
    expect(errorOf(probe2).path).toBe('shim6.received[0].nonce');
    const probe3 = view(encodeControlPacket(ADDR, MESSAGES['Probe']!)) as { shim6: JsonObject };
    probe3.shim6['state'] = 3;
    expect(errorOf(probe3).path).toBe('shim6.state');
    const err = view(encodeControlPacket(ADDR, MESSAGES['Error']!)) as { shim6: JsonObject };
    err.shim6['errorCode'] = 128;
    expect(errorOf(err).path).toBe('shim6.errorCode');
    const pay = view(encodePayloadPacket(ADDR, 1, 17, bytes(0, 1, 0, 2, 0, 8, 0, 0))) as { shim6: JsonObject };
    pay.shim6['payloadHex'] = 'xyz';
    expect(errorOf(pay).path).toBe('shim6.payloadHex');
    delete pay.shim6['payloadHex'];
    expect(errorOf(pay)).toMatchObject({ path: 'shim6.payloadHex', message: expect.stringMatching(/missing/) });
  });
});
