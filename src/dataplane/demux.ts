/**
 * How receivers find the context of a rewritten packet: pluggable, so the tag source is
 * not hard-wired. `contextTagDemux` is RFC 5533's explicit Receiver Context Tag in an
 * 8-octet Payload Extension header (§5.2, §11.1, §12.2). The experimental flow-label
 * mode (issue #8, which adds no octets) is not a Demux: it is chosen per context, by
 * whether the peer advertised a label (`peerFlowLabel`, written by egress.ts), and its
 * packets arrive whole through a different device, the intercept TUN, where
 * flow-label.ts finds the context by `localFlowLabel`.
 */
import { insertPayloadHeader } from '../wire/payload.js';
import { IPPROTO_SHIM6 } from '../wire/constants.js';
import { readU32 } from '../wire/bytes.js';
import { tagHiAt, type FastPathEntry, type FastPathTable } from './fastpath.js';

/** `classify` results other than an entry index. */
export const CLASSIFY_UNKNOWN = -1;
export const CLASSIFY_MALFORMED = -2;
export const CLASSIFY_CONTROL = -3;

export interface Demux {
  readonly name: string;
  /** Octets added to each rewritten packet: the TUN MTU must leave room for them. */
  readonly overhead: number;
  /** The IPv6 next-header protocol rewritten packets arrive with (what the receiver listens to). */
  readonly protocol: number;
  /**
   * Egress (§11.1): marks the IPv6 packet at [start, start+len) of `b` for `entry`'s peer,
   * in place with headroom before `start`. Returns the new start (the packet is then
   * len + overhead long), or -1 when the packet cannot take it.
   */
  encapsulate(b: Uint8Array, start: number, len: number, entry: FastPathEntry): number;
  /**
   * Ingress: the index in `table` of the context a received datagram belongs to, from
   * what a raw socket delivers (`b[off..off+len)`, starting at the demux header), or
   * CLASSIFY_UNKNOWN / CLASSIFY_MALFORMED / CLASSIFY_CONTROL (a Shim6 control message).
   */
  classify(table: FastPathTable, b: Uint8Array, off: number, len: number): number;
  /** The tag `classify` last looked up (CLASSIFY_UNKNOWN reports it). */
  readonly lastTag: number;
}

/** RFC 5533 demultiplexing by the Payload Extension header's Receiver Context Tag. */
export class ContextTagDemux implements Demux {
  readonly name = 'context-tag';
  readonly overhead = 8;
  readonly protocol = IPPROTO_SHIM6;
  lastTag = 0;

  encapsulate(b: Uint8Array, start: number, len: number, entry: FastPathEntry): number {
    return insertPayloadHeader(b, start, len, entry.peerContextTag);
  }

  classify(table: FastPathTable, b: Uint8Array, off: number, len: number): number {
    if (len < 8) return CLASSIFY_MALFORMED;
    // §5.2/§5.3: P = 1 marks the payload header, P = 0 a control message.
    if ((b[off + 2]! & 0x80) === 0) return CLASSIFY_CONTROL;
    if (b[off + 1] !== 0) return CLASSIFY_MALFORMED; // Hdr Ext Len must be 0
    const hi = tagHiAt(b, off);
    const lo = readU32(b, off + 4);
    const index = table.findLocalTag(hi, lo);
    if (index >= 0) return index;
    this.lastTag = hi * 0x100000000 + lo;
    return CLASSIFY_UNKNOWN;
  }
}
