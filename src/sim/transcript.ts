/**
 * The simulator's transcript: one stable, human-readable line per event, e.g.
 *
 *   t=4000 A→B I1 ct=0x00002a3b4c5d nonce=0x1234abcd
 *   t=4012 B→A R1 nonce=0x1234abcd resp=0x0c0ffee1 val=5e1f09aa
 *   t=4030 A ESTABLISHED A~B ct(local)=0x00002a3b4c5d ct(peer)=0x00007f3e2a10 (from I2-SENT)
 *   t=5000 A.2→B.2 payload ct=0x00007f3e2a10 len=64 lost
 *
 * Addresses print as labels: a host's first address is its name, the n-th is `name.n`;
 * addresses no host owns print in RFC 5952 text. Tags print as 12 hex digits, nonces as
 * 8, so lines line up and diff well. Every value comes from the seeded run, so the same
 * seed gives the same transcript; tests check transcripts in as snapshot files.
 */
import { KEEPALIVE_TIMEOUT_MS_OPTION_TYPE } from '../reap/constants.js';
import { readU32 } from '../wire/bytes.js';
import type { ProbeReport } from '../wire/control.js';
import { formatIpv6 } from '../wire/address.js';
import { toHex } from '../wire/bytes.js';
import { IPPROTO_SHIM6 } from '../wire/constants.js';
import type { ControlMessage } from '../wire/control.js';
import type { Option } from '../wire/options/index.js';
import { parsePacket } from '../wire/packet.js';

/** IPv6 Next Header 253: experimental (RFC 3692), used for simulated application data. */
const PROBE_STATE_NAMES = ['Operational', 'Exploring', 'InboundOk'] as const;

export const IPPROTO_EXPERIMENT = 253;
/** IPv6 Next Header 58: ICMPv6. */
export const IPPROTO_ICMPV6 = 58;

/** Gives an address its transcript label. */
export type AddressLabeler = (address: Uint8Array) => string;

/** The label of an address nobody owns. */
export const plainLabel: AddressLabeler = (a) => formatIpv6(a);

/** A context tag as 0x + 12 hex digits (47 bits). */
export function formatTag(tag: number | undefined): string {
  return tag === undefined || tag < 0 ? '-' : `0x${tag.toString(16).padStart(12, '0')}`;
}

/** A 32-bit nonce or generation as 0x + 8 hex digits. */
export function formatNonce(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

const ICMP_TYPES: Readonly<Record<number, string>> = { 1: 'dest-unreachable', 2: 'packet-too-big', 3: 'time-exceeded', 4: 'param-problem' };

/** What a packet is: a control message kind ('I1', 'UpdateRequest', ...), 'payload', 'data', 'icmp', 'other' or 'malformed'. */
export function packetKind(bytes: Uint8Array): string {
  const p = parsePacket(bytes, 0, bytes.length, { verifyChecksum: false, checkAddresses: false, unknownCritical: 'keep' });
  if (!p.ok) return bytes.length >= 40 && bytes[6] === IPPROTO_SHIM6 ? 'malformed' : 'other';
  const s = p.value.shim6;
  if (s !== undefined) return s.kind === 'payload' ? 'payload' : s.message.kind;
  const nh = p.value.chain.upperProtocol;
  if (nh === IPPROTO_EXPERIMENT) return 'data';
  if (nh === IPPROTO_ICMPV6) return 'icmp';
  return 'other';
}

function describeOptions(options: readonly Option[], label: AddressLabeler): string {
  const parts: string[] = [];
  for (const o of options) {
    switch (o.kind) {
      case 'ResponderValidator': parts.push(`val=${toHex(o.validator.subarray(0, 4))}`); break;
      case 'LocatorList': parts.push(`gen=${formatNonce(o.generation)} locs=[${o.locators.map((l) => label(l.address)).join(',')}]`); break;
      case 'LocatorPreferences': parts.push(`prefs(gen=${formatNonce(o.generation)})=[${o.elements.map((e) => e.flags).join(',')}]`); break;
      case 'CgaParameterDataStructure': parts.push('pds'); break;
      case 'CgaSignature': parts.push('sig'); break;
      case 'UlidPair': parts.push(`ulids=${label(o.senderUlid)}~${label(o.receiverUlid)}`); break;
      case 'ForkedInstanceIdentifier': parts.push(`fii=${o.forkedInstanceId}`); break;
      case 'KeepaliveTimeout': parts.push(`kt=${o.keepaliveTimeoutSeconds}s`); break;
      case 'Unknown':
        if (o.type === KEEPALIVE_TIMEOUT_MS_OPTION_TYPE && o.contents.length === 4) parts.push(`kt=${readU32(o.contents, 0)}ms`);
        else parts.push(`opt${o.type}${o.critical ? '!' : ''}`);
        break;
    }
  }
  return parts.length === 0 ? '' : ` ${parts.join(' ')}`;
}

/** The message part of a line: kind and fields. */
export function describeMessage(m: ControlMessage, label: AddressLabeler): string {
  const n = formatNonce;
  const t = formatTag;
  switch (m.kind) {
    case 'I1': return `I1 ct=${t(m.initiatorContextTag)} nonce=${n(m.initiatorNonce)}${describeOptions(m.options, label)}`;
    case 'R1': return `R1 nonce=${n(m.initiatorNonce)} resp=${n(m.responderNonce)}${describeOptions(m.options, label)}`;
    case 'I2': return `I2 ct=${t(m.initiatorContextTag)} nonce=${n(m.initiatorNonce)} resp=${n(m.responderNonce)}${describeOptions(m.options, label)}`;
    case 'R2': return `R2 ct=${t(m.responderContextTag)} nonce=${n(m.initiatorNonce)}${describeOptions(m.options, label)}`;
    case 'R1bis': return `R1bis ct(pkt)=${t(m.packetContextTag)} resp=${n(m.responderNonce)}${describeOptions(m.options, label)}`;
    case 'I2bis': return `I2bis ct=${t(m.initiatorContextTag)} nonce=${n(m.initiatorNonce)} resp=${n(m.responderNonce)} ct(pkt)=${t(m.packetContextTag)}${describeOptions(m.options, label)}`;
    case 'UpdateRequest': return `UpdateRequest ct=${t(m.receiverContextTag)} req=${n(m.requestNonce)}${describeOptions(m.options, label)}`;
    case 'UpdateAck': return `UpdateAck ct=${t(m.receiverContextTag)} req=${n(m.requestNonce)}`;
    case 'Keepalive': return `Keepalive ct=${t(m.receiverContextTag)}`;
    case 'Probe': {
      const rep = (r: ProbeReport): string => `${label(r.source)}→${label(r.destination)}`;
      const recvd = m.received.length === 0 ? '' : ` recvd=[${m.received.map(rep).join(',')}]`;
      return `Probe ct=${t(m.receiverContextTag)} ${PROBE_STATE_NAMES[m.state] ?? m.state}${recvd}`;
    }
    case 'Error': return `Error code=${m.errorCode} ptr=${m.pointer}`;
  }
}

/** `SRC→DST what`, for any packet on the network. */
export function describePacket(bytes: Uint8Array, label: AddressLabeler = plainLabel): string {
  if (bytes.length < 40) return `malformed len=${bytes.length}`;
  const route = `${label(bytes.subarray(8, 24))}→${label(bytes.subarray(24, 40))}`;
  const p = parsePacket(bytes, 0, bytes.length, { verifyChecksum: false, checkAddresses: false, unknownCritical: 'keep' });
  if (!p.ok) return `${route} malformed (${p.error.reason})`;
  const s = p.value.shim6;
  if (s !== undefined) {
    if (s.kind === 'payload') return `${route} payload ct=${formatTag(s.header.receiverContextTag)} len=${p.value.length - s.offset - 8}`;
    return `${route} ${describeMessage(s.message, label)}${s.checksumValid ? '' : ' bad-checksum'}`;
  }
  const ul = p.value.chain.upperOffset;
  const ulLen = p.value.length - ul;
  if (p.value.chain.upperProtocol === IPPROTO_EXPERIMENT) return `${route} data len=${ulLen}`;
  if (p.value.chain.upperProtocol === IPPROTO_ICMPV6 && ulLen >= 8) {
    const type = bytes[ul]!;
    const ptr = ((bytes[ul + 4]! << 24) | (bytes[ul + 5]! << 16) | (bytes[ul + 6]! << 8) | bytes[ul + 7]!) >>> 0;
    return `${route} ICMPv6 ${ICMP_TYPES[type] ?? `type=${type}`} code=${bytes[ul + 1]}${type === 4 ? ` ptr=${ptr}` : ''}`;
  }
  return `${route} next-header=${p.value.chain.upperProtocol} len=${ulLen}`;
}

/** An append-only list of `t=<ms> <text>` lines. */
export class Transcript {
  readonly #lines: string[] = [];
  /** When false, `add` records nothing (large experiments). */
  enabled: boolean;

  constructor(enabled = true) {
    this.enabled = enabled;
  }

  add(time: number, text: string): void {
    if (this.enabled) this.#lines.push(`t=${time} ${text}`);
  }

  lines(): string[] {
    return this.#lines.slice();
  }

  get length(): number {
    return this.#lines.length;
  }
}
