/**
 * Flow Label Demux option: EXPERIMENTAL, not a standard (issue #8). It negotiates the
 * flow-label demultiplexing mode, in which packets sent on a locator pair other than the
 * ULIDs carry a 20-bit IPv6 flow label (RFC 6437 §2's field) that the receiver allocated
 * for the context, instead of the 8-octet Payload Extension header (RFC 5533 §5.1).
 *
 * Type 16401, from RFC 5533 §17's experimental range (16384-32767; this implementation
 * already uses 16400 for its millisecond Keepalive Timeout). C = 0: a peer that does not
 * know the type skips it (§5.15), and the context keeps the Payload Extension header.
 * Carried in I2, I2bis, R2 and Update Request (beside the Keepalive Timeout option).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |        Type = 16401         |0|          Length = 4           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | Vers  |   Reserved    |           Receive Flow Label          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Vers: 1. Reserved: zero on transmit, ignored on receipt. Receive Flow Label: the
 * label the sender of the option allocated for receiving this context's packets on
 * non-ULID pairs (receiver-based allocation), unique for its local locator set; 0 means
 * "I understand the mode but have no label for this context" (the space is exhausted):
 * the peer keeps sending the Payload Extension header. Each direction is decided on its
 * own: a host writes the peer's label when the peer advertised one, and always accepts
 * the Payload Extension header as well.
 *
 * An option of this type in another format (a Length other than 4, another version) is
 * someone else's experiment: it is ignored, as an unknown option would be.
 */
import { readU32, writeU32 } from '../bytes.js';
import type { Option } from './index.js';

export const FLOW_LABEL_DEMUX_OPTION_TYPE = 16_401;
export const FLOW_LABEL_DEMUX_VERSION = 1;
/** The largest flow label (20 bits). */
export const MAX_FLOW_LABEL = 0xfffff;

/** The option advertising `label` (0: the mode is understood, no label allocated). */
export function flowLabelDemuxOption(label: number): Option {
  if (!Number.isInteger(label) || label < 0 || label > MAX_FLOW_LABEL) throw new RangeError(`flow label must be 0..${MAX_FLOW_LABEL}, got ${label}`);
  const contents = new Uint8Array(4);
  writeU32(contents, 0, ((FLOW_LABEL_DEMUX_VERSION << 28) | label) >>> 0);
  return { kind: 'Unknown', type: FLOW_LABEL_DEMUX_OPTION_TYPE, critical: false, contents };
}

/** The peer's Receive Flow Label from a message's options; undefined when absent or not in this format (the first one in this format counts). */
export function readFlowLabelDemux(options: readonly Option[]): { readonly label: number } | undefined {
  for (const o of options) {
    if (o.kind !== 'Unknown' || o.type !== FLOW_LABEL_DEMUX_OPTION_TYPE || o.contents.length !== 4) continue;
    const word = readU32(o.contents, 0);
    if (word >>> 28 !== FLOW_LABEL_DEMUX_VERSION) continue;
    return { label: word & MAX_FLOW_LABEL };
  }
  return undefined;
}
