/**
 * `npm run demo:wire` (no root needed; the failover demo in namespaces is demo.ts): a
 * Shim6 exchange between two multihomed hosts, built packet by packet
 * with the wire codec, carried through the data-plane operations, written to a pcap,
 * read back and decoded, and (when installed) checked by tshark.
 *
 * Host A has locators in ISP1 (2001:db8:1::/48) and ISP2 (2001:db8:2::/48); host B in
 * ISP3 and ISP4. The sequence follows RFC 5533 §7.3 (I1, R1, I2, R2), then a locator
 * switch (§11.1: payload packets carry the Payload Extension header, §5.2), REAP probes
 * (RFC 5534 §5.2), a locator update (§10), a keepalive (RFC 5534 §5.1), and an Error
 * message in answer to an unrecognised critical option (§5.15).
 *
 * The addresses are real Hash-Based Addresses (RFC 5535): A's set is CGA-compatible
 * (an RSA key, Sec 1), B's is HBA-only (Sec 0), and each side checks the other's
 * Locator List with the RFC 5533 §7.2 rules before trusting it. What is not real yet is
 * the context engine that would decide these messages (issue 5): the demo plays both
 * hosts' parts itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { generateHbaSet } from '../src/crypto/hba.js';
import { generateKeyPair } from '../src/crypto/keys.js';
import { verifyLocatorList, type LocatorListVerification } from '../src/crypto/locator-verification.js';
import type { RandomSource } from '../src/crypto/provider.js';
import { nodeCryptoProvider } from '../src/crypto/provider-node.js';
import { LinkType, readPcapFile, writePcapFile } from '../src/io/pcap.js';
import {
  encodeControlPacket,
  encodePayloadPacket,
  formatIpv6,
  insertPayloadHeader,
  internetChecksum,
  locateShim6,
  makeErrorMessage,
  messageTypeName,
  parseIpv6,
  parsePacket,
  readPayloadContextTag,
  stripPayloadHeader,
  toHex,
  bytesEqual,
  type ControlMessage,
  type Option,
} from '../src/wire/index.js';

const addr = (s: string): Uint8Array => parseIpv6(s)!;
const random: RandomSource = { bytes: (n) => new Uint8Array(randomBytes(n)) };
const prefix = (s: string): Uint8Array => addr(s).slice(0, 8);
// Each host's two addresses form one HBA set (RFC 5535 §6); the first is its ULID.
const keyA = generateKeyPair('rsa', 1024);
const setA = await generateHbaSet({ provider: nodeCryptoProvider, random, prefixes: [prefix('2001:db8:1::'), prefix('2001:db8:2::')], sec: 1, publicKey: keyA.spki });
const setB = await generateHbaSet({ provider: nodeCryptoProvider, random, prefixes: [prefix('2001:db8:3::'), prefix('2001:db8:4::')], sec: 0 });
const A = { ulid: setA.addresses[0]!, alt: setA.addresses[1]!, pds: setA.paramsBytes[0]! };
const B = { ulid: setB.addresses[0]!, alt: setB.addresses[1]!, pds: setB.paramsBytes[0]! };
const HBA = 1; // Table 4 of RFC 5533 §5.15.2 (see README, Conformance notes)
/** RFC 5533 §7.2 as the receiver applies it to the peer's Locator List. */
const checkLocators = (ulidPeer: Uint8Array, list: Option, pds: Uint8Array): LocatorListVerification => {
  if (list.kind !== 'LocatorList') throw new Error('not a Locator List');
  return verifyLocatorList({ provider: nodeCryptoProvider, ulidPeer, locatorList: list, pds, profile: 'table4', verifySignature: (k, m, sig) => nodeCryptoProvider.verify(k, m, sig) });
};
const u32 = (): number => randomBytes(4).readUInt32BE(0);
const tag47 = (): number => randomBytes(6).readUIntBE(0, 6) % 2 ** 47;

const packets: { note: string; bytes: Uint8Array }[] = [];
const send = (note: string, from: Uint8Array, to: Uint8Array, m: ControlMessage): Uint8Array => {
  const bytes = encodeControlPacket({ source: from, destination: to }, m);
  packets.push({ note, bytes });
  return bytes;
};
const hdr = { nextHeader: 59, reserved1: 0 } as const;


// 1. I1 (RFC 5533 §5.4, §7.7).
const ctA = tag47();
const i1Nonce = u32();
send('A opens the context', A.ulid, B.ulid, { kind: 'I1', ...hdr, r: 0, initiatorContextTag: ctA, initiatorNonce: i1Nonce, options: [] });

// 2. R1 with a validator made as §7.10.1 suggests: hash of secret, responder nonce, tag, ULIDs.
const secretB = randomBytes(32);
const rNonce = u32();
const validator = new Uint8Array(
  createHash('sha256').update(secretB).update(Buffer.from([rNonce >>> 24, rNonce >>> 16, rNonce >>> 8, rNonce])).update(String(ctA)).update(A.ulid).update(B.ulid).digest(),
);
send('B answers without keeping state', B.ulid, A.ulid, {
  kind: 'R1', ...hdr, reserved2: 0, initiatorNonce: i1Nonce, responderNonce: rNonce,
  options: [{ kind: 'ResponderValidator', critical: false, validator }],
});

// 3. I2 with A's locators, preferences, parameters and Keepalive Timeout (§5.6, RFC 5534 §5.3).
const genA = u32();
const i2Nonce = u32();
const locatorsA: Option[] = [
  { kind: 'ResponderValidator', critical: false, validator },
  { kind: 'LocatorList', critical: false, generation: genA, locators: [{ address: A.ulid, verificationMethod: HBA }, { address: A.alt, verificationMethod: HBA }] },
  { kind: 'LocatorPreferences', critical: false, generation: genA, elementLength: 2, elements: [{ flags: 0, priority: 1 }, { flags: 0, priority: 2 }] },
  { kind: 'CgaParameterDataStructure', critical: false, pds: A.pds },
  { kind: 'KeepaliveTimeout', critical: false, reserved: 0, keepaliveTimeoutSeconds: 10 },
];
send('A proves liveness and sends its locators', A.ulid, B.ulid, {
  kind: 'I2', ...hdr, r: 0, initiatorContextTag: ctA, initiatorNonce: i2Nonce, responderNonce: rNonce, reserved2: 0, options: locatorsA,
});

// 4. R2 with B's locators (§5.7).
const ctB = tag47();
const locatorsB: Option = { kind: 'LocatorList', critical: false, generation: u32(), locators: [{ address: B.ulid, verificationMethod: HBA }, { address: B.alt, verificationMethod: HBA }] };
send('B creates the context', B.ulid, A.ulid, {
  kind: 'R2', ...hdr, r: 0, responderContextTag: ctB, initiatorNonce: i2Nonce,
  options: [locatorsB, { kind: 'CgaParameterDataStructure', critical: false, pds: B.pds }],
});
// Each side verifies the other's locators before using them (RFC 5533 §7.2).
const aVerifiedByB = checkLocators(A.ulid, locatorsA[1]!, A.pds);
const bVerifiedByA = checkLocators(B.ulid, locatorsB, B.pds);

// 5. The ULID path fails; REAP explores (RFC 5534 §5.2): A probes the alternative pair.
const probeNonce = u32();
send('A probes ISP2 -> ISP4', A.alt, B.alt, {
  kind: 'Probe', ...hdr, r: 0, receiverContextTag: ctB, state: 1, reserved2: 0,
  sent: [{ source: A.alt, destination: B.alt, nonce: probeNonce, data: 0 }], received: [], options: [],
});
send('B reports the probe it saw', B.alt, A.alt, {
  kind: 'Probe', ...hdr, r: 0, receiverContextTag: ctA, state: 2, reserved2: 0,
  sent: [{ source: B.alt, destination: A.alt, nonce: u32(), data: 0 }],
  received: [{ source: A.alt, destination: B.alt, nonce: probeNonce, data: 0 }], options: [],
});

// 6. A UDP datagram between the ULIDs, sent on the new pair (§11.1): rewrite the
//    addresses, insert the Payload Extension header in place; B strips and restores.
const udpPayload = new TextEncoder().encode('still the same session');
const udp = new Uint8Array(8 + udpPayload.length);
udp.set([0x9c, 0x40, 0x1f, 0x90, udp.length >>> 8, udp.length & 0xff, 0, 0]); // ports 40000 -> 8080, length, checksum 0 for now
udp.set(udpPayload, 8);
const pseudo = new Uint8Array(40 + udp.length);
pseudo.set(A.ulid, 0); pseudo.set(B.ulid, 16); pseudo[34] = udp.length >>> 8; pseudo[35] = udp.length & 0xff; pseudo[39] = 17;
pseudo.set(udp, 40);
const udpCsum = internetChecksum(pseudo, 0, pseudo.length) || 0xffff; // over the ULIDs, as the application computed it
udp[6] = udpCsum >>> 8; udp[7] = udpCsum & 0xff;
const original = encodePayloadPacket({ source: A.ulid, destination: B.ulid }, 0, 17, udp); // build, then drop its shim header:
const slot = new Uint8Array(8 + original.length);
slot.set(original, 0);
const plain = stripPayloadHeader(slot, 0, original.length); // the packet as the application sent it, with 8 octets of headroom
slot.set(A.alt, plain + 8); slot.set(B.alt, plain + 24); // egress: locators replace ULIDs
const wireStart = insertPayloadHeader(slot, plain, original.length - 8, ctB);
const onWire = slot.slice(wireStart, wireStart + original.length);
packets.push({ note: 'UDP between the ULIDs, on the ISP2 -> ISP4 pair', bytes: onWire });
// ingress at B: find the tag, strip, restore ULIDs, check the UDP checksum still holds.
const rx = new Uint8Array(onWire.length + 8); rx.set(onWire, 0);
const shimOff = locateShim6(rx, 0, onWire.length);
const rxTag = readPayloadContextTag(rx, shimOff);
const rxStart = stripPayloadHeader(rx, 0, onWire.length);
rx.set(B.ulid, rxStart + 24); rx.set(A.ulid, rxStart + 8);
const restored = rx.subarray(rxStart, rxStart + onWire.length - 8);
const pseudoRx = new Uint8Array(40 + udp.length);
pseudoRx.set(restored.subarray(8, 40), 0); pseudoRx[34] = udp.length >>> 8; pseudoRx[35] = udp.length & 0xff; pseudoRx[39] = 17;
pseudoRx.set(restored.subarray(40), 40);
const udpOk = internetChecksum(pseudoRx, 0, pseudoRx.length) === 0;

// 7. Locator update (§10) and its acknowledgement, then a keepalive (RFC 5534 §5.1).
const reqNonce = u32();
send('A updates its preferences: ISP1 broken', A.alt, B.alt, {
  kind: 'UpdateRequest', ...hdr, r: 0, receiverContextTag: ctB, requestNonce: reqNonce,
  options: [{ kind: 'LocatorPreferences', critical: false, generation: genA, elementLength: 1, elements: [{ flags: 0x01 }, { flags: 0 }] }],
});
send('B acknowledges', B.alt, A.alt, { kind: 'UpdateAck', ...hdr, r: 0, receiverContextTag: ctA, requestNonce: reqNonce, options: [] });
send('B keeps the context alive', B.alt, A.alt, { kind: 'Keepalive', ...hdr, r: 0, receiverContextTag: ctA, reserved2: 0, options: [] });

// 8. A future I1 with a critical experimental option: B must refuse it with Error code 1 (§5.15).
const strange = send('A tries a critical option B does not know', A.ulid, B.ulid, {
  kind: 'I1', ...hdr, r: 0, initiatorContextTag: tag47(), initiatorNonce: u32(),
  options: [{ kind: 'Unknown', type: 16400, critical: true, contents: Uint8Array.of(1, 2, 3, 4) }],
});
const verdict = parsePacket(strange);
if (verdict.ok || verdict.error.reply === undefined) throw new Error('expected the critical option to be refused');
send(`B refuses: ${verdict.error.message}`, B.ulid, A.ulid, makeErrorMessage(verdict.error.reply.code, verdict.error.reply.pointer, strange));

// Write, read back, decode, and compare byte for byte.
const outDir = path.resolve('demo-output');
mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, 'shim6-demo.pcap');
await writePcapFile(file, packets.map((p, i) => ({ data: p.bytes, timestampSeconds: 1_700_000_000, timestampNanos: i * 10_000_000 })), { linkType: LinkType.IPV6 });
const back = await readPcapFile(file);
if (!back.ok) throw new Error(`could not read back ${file}: ${back.error.message}`);

console.log('shim6 demo: one Shim6 context, packet by packet (RFC 5533 / RFC 5534)\n');
console.log(`  host A  ULID ${formatIpv6(A.ulid)}  alt ${formatIpv6(A.alt)}  context tag ${ctA}`);
console.log(`  host B  ULID ${formatIpv6(B.ulid)}  alt ${formatIpv6(B.alt)}  context tag ${ctB}\n`);
let identical = 0;
back.value.records.forEach((rec, i) => {
  const p = parsePacket(rec.data, 0, rec.data.length, { verifyChecksum: false, unknownCritical: 'keep' });
  if (!p.ok) { console.log(`  #${i + 1}  undecodable: ${p.error.message}`); return; }
  const v = p.value;
  const what = v.shim6 === undefined ? 'no Shim6 header'
    : v.shim6.kind === 'payload' ? `Payload ext hdr, tag ${v.shim6.header.receiverContextTag}, next header ${v.shim6.header.nextHeader}`
    : `${messageTypeName((rec.data[v.shim6.offset + 2]! & 0x7f))}${v.shim6.checksumValid ? '' : ' (BAD CHECKSUM)'}, ${'options' in v.shim6.message ? v.shim6.message.options.length : 0} options`;
  if (bytesEqual(rec.data, packets[i]!.bytes)) identical++;
  console.log(`  #${String(i + 1).padStart(2)}  ${formatIpv6(v.ipv6.source).padEnd(32)} -> ${formatIpv6(v.ipv6.destination).padEnd(32)} ${String(rec.data.length).padStart(4)} B  ${what}`);
  console.log(`        ${packets[i]!.note}`);
});

const describe = (who: string, v: LocatorListVerification): string =>
  v.outcome === 'verified'
    ? `${who}: ${v.verdicts.map((d) => `${formatIpv6(d.address)} ${d.method}${d.status === 'verified' && d.reachabilityCheckRequired ? ' (reachability check before use)' : ''}`).join(', ')}`
    : `${who}: ${v.outcome} (${'reason' in v ? v.reason : `error code ${v.error.code}`})`;
console.log(`\n  locators verified (RFC 5533 §7.2, RFC 5535 §7.2):`);
console.log(`    ${describe("B checked A's", aVerifiedByB)}`);
console.log(`    ${describe("A checked B's", bVerifiedByA)}`);
console.log(`\n  ${identical}/${packets.length} packets read back from ${path.relative(process.cwd(), file)} byte-identical`);
console.log(`  data plane: tag ${rxTag} recovered from the wire (${rxTag === ctB ? 'matches' : 'DOES NOT match'} B's context), ULIDs restored, UDP checksum over the ULIDs ${udpOk ? 'verifies' : 'FAILS'}`);
let tsharkDisagrees = false;
try {
  const out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number', '-e', 'shim6.checksum.status'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const rows = out.trim().split('\n').map((l) => l.split('\t'));
  const withChecksum = rows.filter((r) => r[1] !== '');
  const good = withChecksum.filter((r) => r[1] === '1').length; // Wireshark: 0 Bad, 1 Good, 2 Unverified
  console.log(`  tshark (independent decoder) read ${rows.length} frames: ${good} of ${withChecksum.length} control-message checksums good`);
  tsharkDisagrees = rows.length !== packets.length || good !== withChecksum.length;
} catch {
  console.log('  tshark is not installed: skipped the independent decode (apt-get install tshark)');
}
console.log(`\n  Inspect it yourself: node dist/src/cli/shim6.js decode --pcap ${path.relative(process.cwd(), file)} --pretty`);
console.log(`  First packet as hex: ${toHex(packets[0]!.bytes)}`);
if (identical !== packets.length || !udpOk || rxTag !== ctB || tsharkDisagrees || aVerifiedByB.outcome !== 'verified' || bVerifiedByA.outcome !== 'verified') process.exit(1);
