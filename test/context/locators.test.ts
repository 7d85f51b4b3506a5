/**
 * Locator sets inside a context (RFC 5533 §5.15.2-5.15.5, §7.2, §10.4): the options
 * that carry Ls(local), acceptance of Ls(peer) with HBA (RFC 5535) and CGA (RFC 3972 plus
 * the CGA Signature), and Error Message pointers checked against the real encoded bytes,
 * also with an extension header in front of the Shim6 header.
 */
import { describe, expect, test } from 'vitest';
import { acceptPeerLocators, applyPreferences, hasAddress, localLocatorOptions, optionOffset, overlaps, pdsMatchesUlid, preferencesOption, readOptions, sourceAccepted, ulidOnly } from '../../src/context/locators.js';
import type { PeerLocator } from '../../src/context/types.js';
import { locatorListSignedData } from '../../src/crypto/signature.js';
import { readU16 } from '../../src/wire/bytes.js';
import { controlMessageLength, emitControlMessage, type ControlMessage } from '../../src/wire/control.js';
import { emitIpv6Header } from '../../src/wire/ipv6.js';
import { optionContentsLength, optionType, type Locator, type Option } from '../../src/wire/options/index.js';
import { CGA, HBA, SHIM_OFFSET, STRANGER, fromPacket, hostA, hostB, hostC, makeEnv, provider, received, type TestIdentity } from './env.util.js';
import { keepalive, updateRequest } from './states.util.js';

const envA = makeEnv([hostA]);
const envB = makeEnv([hostB]);
const GEN = 0x0102_0304;
const HEAD = { nextHeader: 59, reserved1: 0, r: 0 } as const;

/** An I2 from `id` to B carrying `options` after a Responder Validator and a ULID Pair. */
function i2With(id: TestIdentity, options: readonly Option[]): ControlMessage {
  return {
    kind: 'I2',
    ...HEAD,
    initiatorContextTag: 0xa11ce,
    initiatorNonce: 1,
    responderNonce: 2,
    reserved2: 0,
    options: [{ kind: 'ResponderValidator', critical: false, validator: new Uint8Array(16).fill(7) }, { kind: 'UlidPair', critical: false, reserved2: 0, senderUlid: id.ulid, receiverUlid: hostB.ulid }, ...options],
  };
}

/** The messages that carry a locator set (§5.6, §5.7, §5.9, §5.10), each with `options`. */
function carriers(id: TestIdentity, options: readonly Option[]): ControlMessage[] {
  return [
    i2With(id, options),
    { kind: 'R2', ...HEAD, responderContextTag: 0xb0b, initiatorNonce: 3, options },
    { kind: 'I2bis', ...HEAD, initiatorContextTag: 0xa11ce, initiatorNonce: 4, responderNonce: 5, reserved2: 0, packetContextTag: 0xdead, options: [{ kind: 'ResponderValidator', critical: false, validator: new Uint8Array(16) }, ...options] },
    updateRequest(0xb0b, 6, options),
  ];
}

function verified(locators: readonly Locator[]): PeerLocator[] {
  return locators.map((l) => ({ address: l.address, verificationMethod: l.verificationMethod, verified: true, flags: 0 }));
}

/** The packet of `m` from `src` to B with a Hop-by-Hop header (8 octets of PadN) before the Shim6 header. */
function withHopByHop(src: Uint8Array, m: ControlMessage): Uint8Array {
  const len = controlMessageLength(m);
  const pkt = new Uint8Array(40 + 8 + len);
  emitIpv6Header({ trafficClass: 0, flowLabel: 0, payloadLength: 8 + len, nextHeader: 0, hopLimit: 64, source: src, destination: hostB.ulid }, pkt, 0);
  pkt.set([140, 0, 1, 4, 0, 0, 0, 0], 40);
  emitControlMessage(m, pkt, 48);
  return pkt;
}

describe('localLocatorOptions (§7.11, §7.14, §10.1)', () => {
  test('HBA identity: Locator List and CGA Parameter Data Structure, no signature', () => {
    expect(localLocatorOptions(hostA, hostA.locators, undefined, GEN, envA)).toEqual([
      { kind: 'LocatorList', critical: false, generation: GEN, locators: hostA.locators },
      { kind: 'CgaParameterDataStructure', critical: false, pds: hostA.pds },
    ]);
  });

  test('with preferences: a Locator Preferences option of the same generation after the list', () => {
    const opts = localLocatorOptions(hostA, hostA.locators, [{ flags: 0 }, { flags: 1, priority: 9 }], GEN, envA);
    expect(opts.map((o) => o.kind)).toEqual(['LocatorList', 'LocatorPreferences', 'CgaParameterDataStructure']);
    expect(opts[1]).toEqual({ kind: 'LocatorPreferences', critical: false, generation: GEN, elementLength: 2, elements: [{ flags: 0, priority: 0 }, { flags: 1, priority: 9 }] });
  });

  test('CGA identity: a CGA Signature over the tag, the generation and every CGA locator (§5.15.5)', () => {
    const envC = makeEnv([hostC]);
    const opts = localLocatorOptions(hostC, hostC.locators, undefined, GEN, envC);
    expect(opts.map((o) => o.kind)).toEqual(['LocatorList', 'CgaParameterDataStructure', 'CgaSignature']);
    const sig = (opts[2] as Extract<Option, { kind: 'CgaSignature' }>).signature;
    expect(provider.verify(hostC.spki!, locatorListSignedData(GEN, hostC.locators, 'table4'), sig)).toBe(true);
    expect(provider.verify(hostC.spki!, locatorListSignedData(GEN + 1, hostC.locators, 'table4'), sig)).toBe(false);
  });

  test('a host without a CGA Parameter Data Structure (only its ULID) sends no locator options', () => {
    expect(localLocatorOptions({ ulid: hostA.ulid, locators: [{ address: hostA.ulid, verificationMethod: 0 }] }, [{ address: hostA.ulid, verificationMethod: 0 }], undefined, GEN, envA)).toEqual([]);
  });

  test('preferencesOption uses the smallest Element Len that holds every field (§5.15.3)', () => {
    expect(preferencesOption([{ flags: 1 }, { flags: 0 }], 5).elementLength).toBe(1);
    expect(preferencesOption([{ flags: 1 }, { flags: 0, priority: 3 }], 5)).toMatchObject({ elementLength: 2, elements: [{ flags: 1, priority: 0 }, { flags: 0, priority: 3 }] });
    expect(preferencesOption([{ flags: 0, weight: 4 }], 5)).toMatchObject({ elementLength: 3, elements: [{ flags: 0, priority: 0, weight: 4 }] });
  });
});

describe('acceptPeerLocators round trips (§7.2)', () => {
  test.each([
    ['HBA', hostA],
    ['CGA', hostC],
  ] as const)('%s identity: the options of localLocatorOptions, through real bytes in I2, R2, I2bis and Update Request, give the verified Ls(peer)', (_, id) => {
    const options = localLocatorOptions(id, id.locators, undefined, GEN, makeEnv([id]));
    for (const m of carriers(id, options)) {
      const rx = received(id.ulid, hostB.ulid, m);
      const r = acceptPeerLocators(rx.message, readOptions((rx.message as { options: readonly Option[] }).options), rx.shimOffset, id.ulid, undefined, envB);
      expect(r).toEqual({ ok: true, lsPeer: verified(id.locators), generation: GEN, pds: id.pds });
    }
  });

  test('preferences of the same generation and count are applied; others are not', () => {
    const options = localLocatorOptions(hostA, hostA.locators, [{ flags: 2, priority: 1, weight: 9 }, { flags: 1, priority: 2, weight: 8 }], GEN, envA);
    const rx = received(hostA.ulid, hostB.ulid, i2With(hostA, options));
    const r = acceptPeerLocators(rx.message, readOptions((rx.message as { options: readonly Option[] }).options), SHIM_OFFSET, hostA.ulid, undefined, envB);
    expect(r.ok && r.lsPeer!.map((l) => [l.flags, l.priority, l.weight])).toEqual([[2, 1, 9], [1, 2, 8]]);
    const stale = options.map((o) => (o.kind === 'LocatorPreferences' ? { ...o, generation: GEN + 1 } : o));
    const r2 = acceptPeerLocators(i2With(hostA, stale), readOptions(stale), SHIM_OFFSET, hostA.ulid, undefined, envB);
    expect(r2.ok && r2.lsPeer).toEqual(verified(hostA.locators));
  });

  test('the structure of another member of the HBA set also belongs to ULID(peer) (RFC 5535 §7.2)', () => {
    const options: Option[] = [{ kind: 'LocatorList', critical: false, generation: GEN, locators: hostA.locators }, { kind: 'CgaParameterDataStructure', critical: false, pds: hostA.allPds[1]! }];
    const r = acceptPeerLocators(i2With(hostA, options), readOptions(options), SHIM_OFFSET, hostA.ulid, undefined, envB);
    expect(r).toMatchObject({ ok: true, lsPeer: verified(hostA.locators) });
    expect(pdsMatchesUlid(hostA.allPds[1]!, hostA.ulid, envB)).toBe(true);
  });

  test('no PDS in the message: the recorded one is used; with none recorded the message is dropped (missing-pds)', () => {
    const options: Option[] = [{ kind: 'LocatorList', critical: false, generation: GEN, locators: hostA.locators }];
    expect(acceptPeerLocators(i2With(hostA, options), readOptions(options), SHIM_OFFSET, hostA.ulid, hostA.pds, envB)).toMatchObject({ ok: true, pds: hostA.pds });
    expect(acceptPeerLocators(i2With(hostA, options), readOptions(options), SHIM_OFFSET, hostA.ulid, undefined, envB)).toEqual({ ok: false, drop: 'missing-pds' });
  });

  test('no Locator List: ok, Ls(peer) unchanged (undefined), the structure recorded', () => {
    const options: Option[] = [{ kind: 'CgaParameterDataStructure', critical: false, pds: hostA.pds }];
    expect(acceptPeerLocators(i2With(hostA, options), readOptions(options), SHIM_OFFSET, hostA.ulid, undefined, envB)).toEqual({ ok: true, lsPeer: undefined, generation: undefined, pds: hostA.pds });
  });

  test.each([
    ['the structure of another host', () => hostB.pds],
    ['a CGA structure for an HBA ULID', () => hostC.pds],
    ['bytes that are not a structure', () => new Uint8Array(40).fill(0xee)],
  ])('wrong PDS (%s) → drop bad-pds, no Error message', (_, pds) => {
    const options: Option[] = [{ kind: 'LocatorList', critical: false, generation: GEN, locators: hostA.locators }, { kind: 'CgaParameterDataStructure', critical: false, pds: pds() }];
    expect(acceptPeerLocators(i2With(hostA, options), readOptions(options), SHIM_OFFSET, hostA.ulid, undefined, envB)).toEqual({ ok: false, drop: 'bad-pds' });
    expect(pdsMatchesUlid(pds(), hostA.ulid, envB)).toBe(false);
  });

  test('bad signature → Error code 2 with the pointer at the first CGA locator\'s verification method octet', () => {
    const options = localLocatorOptions(hostC, hostC.locators, undefined, GEN, makeEnv([hostC]));
    const forged = options.map((o) => (o.kind === 'CgaSignature' ? { ...o, signature: o.signature.map((b, i) => (i === 5 ? b ^ 1 : b)) } : o));
    for (const m of carriers(hostC, forged)) {
      const rx = received(hostC.ulid, hostB.ulid, m);
      const opts = readOptions((rx.message as { options: readonly Option[] }).options);
      const r = acceptPeerLocators(rx.message, opts, rx.shimOffset, hostC.ulid, undefined, envB);
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.drop).toBe('locators-rejected');
      expect(r.error!.code).toBe(2);
      const listAt = optionOffset(rx.message, rx.shimOffset, opts.locatorListIndex);
      expect(readU16(rx.packet, listAt) >>> 1).toBe(2);
      expect(r.error!.pointer).toBe(listAt + 9);
      expect(rx.packet[r.error!.pointer]).toBe(CGA);
    }
  });

  test('missing signature for CGA locators → Error code 2 at index 0', () => {
    const options = localLocatorOptions(hostC, hostC.locators, undefined, GEN, makeEnv([hostC])).filter((o) => o.kind !== 'CgaSignature');
    const rx = received(hostC.ulid, hostB.ulid, updateRequest(1, 2, options));
    const r = acceptPeerLocators(rx.message, readOptions(options), SHIM_OFFSET, hostC.ulid, undefined, envB);
    expect(r).toEqual({ ok: false, drop: 'locators-rejected', error: { code: 2, pointer: SHIM_OFFSET + 16 + 9 } });
    expect(rx.packet[SHIM_OFFSET + 16 + 9]).toBe(CGA);
  });

  test('an address outside the HBA set → Error code 2 at that locator (index 1)', () => {
    const locators: Locator[] = [{ address: hostA.ulid, verificationMethod: HBA }, { address: STRANGER, verificationMethod: HBA }];
    const options: Option[] = [{ kind: 'LocatorList', critical: false, generation: GEN, locators }, { kind: 'CgaParameterDataStructure', critical: false, pds: hostA.pds }];
    const rx = received(hostA.ulid, hostB.ulid, i2With(hostA, options));
    const opts = readOptions((rx.message as { options: readonly Option[] }).options);
    const r = acceptPeerLocators(rx.message, opts, rx.shimOffset, hostA.ulid, undefined, envB);
    expect(r.ok).toBe(false);
    const pointer = (r as { error: { pointer: number } }).error.pointer;
    expect(pointer).toBe(optionOffset(rx.message, SHIM_OFFSET, 2) + 4 + 4 + 1 + 1);
    expect(rx.packet[pointer]).toBe(HBA);
    expect(rx.packet[pointer - 2]).toBe(2);
  });

  test('with a Hop-by-Hop header in front, the pointer still counts from the IPv6 header (§5.14)', () => {
    const locators: Locator[] = [{ address: hostA.ulid, verificationMethod: HBA }, { address: STRANGER, verificationMethod: HBA }];
    const options: Option[] = [{ kind: 'LocatorList', critical: false, generation: GEN, locators }, { kind: 'CgaParameterDataStructure', critical: false, pds: hostA.pds }];
    const rx = fromPacket(withHopByHop(hostA.ulid, i2With(hostA, options)));
    expect(rx.shimOffset).toBe(48);
    const opts = readOptions((rx.message as { options: readonly Option[] }).options);
    const r = acceptPeerLocators(rx.message, opts, rx.shimOffset, hostA.ulid, undefined, envB);
    const pointer = (r as { error: { pointer: number } }).error.pointer;
    expect(pointer).toBe(48 + 24 + 24 + 40 + 4 + 4 + 1 + 1);
    expect(rx.packet[pointer]).toBe(HBA);
    expect(rx.packet[pointer - 2]).toBe(2);
  });
});

describe('optionOffset', () => {
  test('points at each option\'s Type field in the real encoded bytes, for every message that carries options', () => {
    const env = makeEnv([hostC]);
    const options: Option[] = [
      ...localLocatorOptions(hostC, hostC.locators, [{ flags: 0, priority: 1, weight: 2 }, { flags: 1, priority: 0, weight: 0 }], GEN, env),
      { kind: 'ForkedInstanceIdentifier', critical: false, forkedInstanceId: 3 },
      { kind: 'Unknown', type: 0x1234, critical: false, contents: new Uint8Array(5) },
    ];
    const messages = [...carriers(hostC, options.filter((o) => o.kind !== 'ForkedInstanceIdentifier')), i2With(hostC, options)];
    for (const m of messages) {
      for (const [packet, shimOffset] of [[received(hostC.ulid, hostB.ulid, m).packet, 40], [withHopByHop(hostC.ulid, m), 48]] as const) {
        const rx = fromPacket(packet);
        expect(rx.shimOffset).toBe(shimOffset);
        const parsed = (rx.message as { options: readonly Option[] }).options;
        expect(parsed.length).toBeGreaterThan(3);
        parsed.forEach((o, i) => {
          const at = optionOffset(rx.message, rx.shimOffset, i);
          expect(readU16(rx.packet, at) >>> 1).toBe(optionType(o));
          expect(readU16(rx.packet, at + 2)).toBe(optionContentsLength(o));
        });
      }
    }
  });

  test('an Error message has no options: the offset is the Shim6 header itself', () => {
    const rx = received(hostA.ulid, hostB.ulid, { kind: 'Error', nextHeader: 59, errorCode: 2, pointer: 1, packetInError: new Uint8Array(8) });
    expect(optionOffset(rx.message, rx.shimOffset, 0)).toBe(SHIM_OFFSET);
    expect(optionOffset(received(hostA.ulid, hostB.ulid, keepalive(1)).message, SHIM_OFFSET, 0)).toBe(SHIM_OFFSET + 16);
  });
});

describe('small helpers', () => {
  test('readOptions: the first option of each kind wins; FII defaults to 0', () => {
    const a: Option = { kind: 'LocatorList', critical: false, generation: 1, locators: [] };
    const b: Option = { kind: 'LocatorList', critical: false, generation: 2, locators: [] };
    const o = readOptions([{ kind: 'CgaParameterDataStructure', critical: false, pds: hostA.pds }, a, b, { kind: 'ForkedInstanceIdentifier', critical: false, forkedInstanceId: 0 }, { kind: 'ForkedInstanceIdentifier', critical: false, forkedInstanceId: 9 }]);
    expect(o.locatorList).toBe(a);
    expect(o.locatorListIndex).toBe(1);
    expect(o.preferencesIndex).toBe(-1);
    expect(o.fii).toBe(0);
    expect(readOptions([]).fii).toBe(0);
    expect(readOptions([]).locatorListIndex).toBe(-1);
  });

  test('hasAddress, overlaps, ulidOnly, sourceAccepted, applyPreferences', () => {
    const ls = verified(hostA.locators);
    expect(hasAddress(ls, hostA.alt)).toBe(true);
    expect(hasAddress(ls, STRANGER)).toBe(false);
    expect(overlaps(ls, ulidOnly(hostA.ulid))).toBe(true);
    expect(overlaps(ls, verified(hostB.locators))).toBe(false);
    expect(ulidOnly(hostB.ulid)).toEqual([{ address: hostB.ulid, verificationMethod: 0, verified: true, flags: 0 }]);
    expect(sourceAccepted(hostA.ulid, hostA.ulid, [], undefined)).toBe(true);
    expect(sourceAccepted(hostA.alt, hostA.ulid, ls, undefined)).toBe(true);
    expect(sourceAccepted(hostA.alt, hostA.ulid, [], ls)).toBe(true);
    expect(sourceAccepted(hostA.alt, hostA.ulid, [], [{ ...ls[1]!, verified: false }])).toBe(false);
    expect(sourceAccepted(STRANGER, hostA.ulid, ls, ls)).toBe(false);
    expect(applyPreferences(ls, [{ flags: 1 }, { flags: 2, priority: 5, weight: 6 }]).map((l) => [l.address, l.flags, l.priority, l.weight])).toEqual([
      [hostA.ulid, 1, undefined, undefined],
      [hostA.alt, 2, 5, 6],
    ]);
  });
});
