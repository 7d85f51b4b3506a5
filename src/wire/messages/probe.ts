/**
 * Probe, type 67 (RFC 5534 §5.2).
 *
 * Octet 12 holds Precvd in the high nibble and Psent in the low nibble, as in the RFC's
 * figure (the prose lists Psent first; Wireshark also follows the figure; README,
 * "Conformance notes"). Octet 13 starts with the 2-bit Sta field; the other 22 bits are
 * Reserved2. Then Psent sent-probe reports and Precvd received-probe reports, each 40
 * octets (source, destination, nonce, data), then options.
 *
 * Psent must be at least 1 (the first report describes this probe) and Sta 3 is not a
 * legal value: both are rejected as `bad-probe`.
 */
import { readAddress } from '../address.js';
import { checkRange, readU32, writeU32 } from '../bytes.js';
import type { ProbeState } from '../constants.js';
import { fail, ok, WireEmitError, type Parsed } from '../result.js';
import type { ControlHeaderFields, FixedLayout } from './layout.js';

export interface ProbeReport {
  /** Source IPv6 address the probe was sent from. */
  readonly source: Uint8Array;
  /** Destination IPv6 address the probe was sent to. */
  readonly destination: Uint8Array;
  readonly nonce: number;
  /** Copied back unchanged. */
  readonly data: number;
}

export interface ProbeMessage extends ControlHeaderFields {
  readonly kind: 'Probe';
  readonly r: number;
  readonly receiverContextTag: number;
  /** Sta: 0 Operational, 1 Exploring, 2 InboundOk. */
  readonly state: ProbeState;
  /** Reserved2: 22 bits, zero on transmit, ignored on receipt. */
  readonly reserved2: number;
  /** Psent reports; the first is this probe. 1..15. */
  readonly sent: readonly ProbeReport[];
  /** Precvd reports of probes received since entering Exploring. 0..15. */
  readonly received: readonly ProbeReport[];
}

export const PROBE_FIXED_LENGTH = 16;
export const PROBE_REPORT_LENGTH = 40;
export const PROBE_REPORTS_MAX = 15;
export const PROBE_ALLOWED_OPTIONS: ReadonlySet<number> = new Set<number>();

/**
 * The declarative part of the Probe: the R bit and Receiver Context Tag in octets 6-11.
 * The rest (octets 12-15, the reports) has a variable length and is read and written by
 * the functions below; `fixedLength` is the minimum, a Probe with no reports.
 */
export const PROBE_HEAD_LAYOUT: FixedLayout<ProbeMessage> = {
  kind: 'Probe',
  fixedLength: PROBE_FIXED_LENGTH,
  fields: [
    { name: 'r', kind: 'rbit', offset: 6 },
    { name: 'receiverContextTag', kind: 'tag47', offset: 6 },
  ],
  allowedOptions: PROBE_ALLOWED_OPTIONS,
};

/** Parses the Probe-specific part of a message whose common header is at `off`; returns the offset where options start. */
export function parseProbeFixed(
  b: Uint8Array,
  off: number,
  hdrLen: number,
): Parsed<{ fields: Omit<ProbeMessage, 'kind' | 'nextHeader' | 'reserved1' | 'options' | 'r' | 'receiverContextTag'>; optionsStart: number }> {
  const precvd = b[off + 12]! >>> 4;
  const psent = b[off + 12]! & 0x0f;
  const sta = b[off + 13]! >>> 6;
  if (psent === 0) return fail('bad-probe', off + 12, 'Probe with Psent 0: the first sent-probe report must be present');
  if (sta === 3) return fail('bad-probe', off + 13, 'Probe Sta field is 3, which is not a legal state');
  const reportsEnd = PROBE_FIXED_LENGTH + PROBE_REPORT_LENGTH * (psent + precvd);
  if (reportsEnd > hdrLen) {
    return fail('bad-probe', off + 12, `Probe with Psent ${psent} and Precvd ${precvd} needs ${reportsEnd} octets, header has ${hdrLen}`);
  }
  const reserved2 = ((b[off + 13]! & 0x3f) << 16) | (b[off + 14]! << 8) | b[off + 15]!;
  const report = (i: number): ProbeReport => {
    const p = off + PROBE_FIXED_LENGTH + PROBE_REPORT_LENGTH * i;
    return { source: readAddress(b, p), destination: readAddress(b, p + 16), nonce: readU32(b, p + 32), data: readU32(b, p + 36) };
  };
  const sent: ProbeReport[] = [];
  const received: ProbeReport[] = [];
  for (let i = 0; i < psent; i++) sent.push(report(i));
  for (let i = 0; i < precvd; i++) received.push(report(psent + i));
  return ok({ fields: { state: sta as ProbeState, reserved2, sent, received }, optionsStart: off + reportsEnd });
}

export function probeFixedLength(m: ProbeMessage): number {
  return PROBE_FIXED_LENGTH + PROBE_REPORT_LENGTH * (m.sent.length + m.received.length);
}

export function validateProbe(m: ProbeMessage): void {
  checkRange('Probe Psent', m.sent.length, PROBE_REPORTS_MAX);
  checkRange('Probe Precvd', m.received.length, PROBE_REPORTS_MAX);
  if (m.sent.length === 0) throw new WireEmitError('field-range', 'a Probe must carry at least one sent-probe report');
  checkRange('Probe Sta', m.state, 2);
  checkRange('Probe Reserved2', m.reserved2, 0x3f_ffff);
  for (const r of [...m.sent, ...m.received]) {
    if (r.source.length !== 16 || r.destination.length !== 16) throw new WireEmitError('field-range', 'probe addresses must be 16 octets');
    checkRange('Probe Nonce', r.nonce, 0xffff_ffff);
    checkRange('Probe Data', r.data, 0xffff_ffff);
  }
}

/** Writes octets 12.. of the Probe up to the options; returns the offset where options start. */
export function emitProbeFixed(m: ProbeMessage, b: Uint8Array, off: number): number {
  b[off + 12] = (m.received.length << 4) | m.sent.length;
  b[off + 13] = (m.state << 6) | (m.reserved2 >>> 16);
  b[off + 14] = m.reserved2 >>> 8;
  b[off + 15] = m.reserved2;
  let p = off + PROBE_FIXED_LENGTH;
  for (const r of [...m.sent, ...m.received]) {
    b.set(r.source, p);
    b.set(r.destination, p + 16);
    writeU32(b, p + 32, r.nonce);
    writeU32(b, p + 36, r.data);
    p += PROBE_REPORT_LENGTH;
  }
  return p;
}
