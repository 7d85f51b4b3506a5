/**
 * Packet captures for the harness: dumpcap on hosts' interfaces (classic pcap, first
 * 256 octets of each packet), and a summary of the Shim6 packets in them with our own
 * decoder (src/wire): control messages by type (RFC 5533 §5, RFC 5534 §5.3) and payload
 * packets (Next Header 140 with the Payload Extension header, RFC 5533 §5.1), each with
 * its time, so that a test can check I1/R1/I2/R2, probes, and payload after a switch;
 * and, for the experimental flow-label mode (issue #8), the packets that carry a
 * context's flow label instead of the header.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ipv6FromRecord, parsePcap } from '../../src/io/pcap.js';
import { formatIpv6, messageTypeName } from '../../src/wire/index.js';
import { sleep, stopChild } from './netns.js';
import type { Topology } from './topology.js';

export const SNAPLEN = 256;
const NEXT_HEADER_SHIM6 = 140;

export interface Capture {
  readonly files: readonly string[];
  stop(): Promise<void>;
}

/** Starts one dumpcap per interface of `node`; resolves once each has written its header. */
export async function startCapture(topo: Topology, node: string, ifnames: readonly string[], dir: string): Promise<Capture> {
  const children: ChildProcess[] = [];
  const files: string[] = [];
  for (const i of ifnames) {
    const file = join(dir, `${node}-${i}.pcap`);
    files.push(file);
    children.push(topo.spawn(node, ['dumpcap', '-q', '-P', '-i', i, '-s', String(SNAPLEN), '-B', '32', '-w', file], { logFile: join(dir, `${node}-${i}.dumpcap.log`) }));
  }
  const until = Date.now() + 10_000;
  while (!files.every((f) => existsSync(f) && statSync(f).size >= 24)) {
    const dead = children.find((c) => c.exitCode !== null);
    if (dead !== undefined || Date.now() > until) {
      await Promise.all(children.map((c) => stopChild(c)));
      throw new Error(`dumpcap did not start in ${node} (see ${dir}/${node}-*.dumpcap.log)`);
    }
    await sleep(50);
  }
  await sleep(200); // the capture is open once the header is written; give it a moment
  return {
    files,
    async stop() {
      await sleep(200);
      await Promise.all(children.map((c) => stopChild(c, 'SIGTERM', 5000)));
    },
  };
}

export interface Shim6Packet {
  readonly atMs: number;
  readonly file: string;
  readonly src: string;
  readonly dst: string;
  /** Message type name ('I1', 'Probe', ...) or 'payload'. */
  readonly type: string;
}

export interface CaptureSummary {
  readonly files: readonly string[];
  readonly packets: number;
  /** Control messages by type name. */
  readonly control: Readonly<Record<string, number>>;
  readonly payload: number;
  /** Payload packets at or after `afterMs` (the failure). */
  readonly payloadAfter: number;
  readonly firstPayloadMs: number | null;
  /** The control messages in time order (at most 500). */
  readonly messages: readonly Shim6Packet[];
  /** Largest payload packet (Next Header 140) as on the wire: IPv6 header + Payload Length. */
  readonly maxPayloadOctets: number;
  /**
   * Experimental flow-label mode (issue #8): packets that are not Shim6 (any other next
   * header) carrying one of `flowLabels` between two addresses other than the ULIDs, i.e.
   * rewritten packets without the header; how many, how many at or after `afterMs`, and
   * the largest (IPv6 header + Payload Length).
   */
  readonly labelled: number;
  readonly labelledAfter: number;
  readonly maxLabelledOctets: number;
}

export interface SummaryOptions {
  /** Flow labels the contexts advertised (shim6 contexts' `flowLabel.local`/`peer`). */
  readonly flowLabels?: readonly number[];
  /** The ULIDs: packets between two of them are never counted as labelled. */
  readonly ulids?: readonly string[];
}

/**
 * Classifies the Shim6 packets of the captures. Works on truncated records: only the
 * IPv6 header and the first 8 octets after it are needed (Shim6 directly after the IPv6
 * header, as our daemon sends it; P bit = payload, else the message type).
 */
export function summarizeCaptures(files: readonly string[], afterMs: number | null, opts: SummaryOptions = {}): CaptureSummary {
  const labels = new Set((opts.flowLabels ?? []).filter((l) => l !== 0));
  const ulids = new Set(opts.ulids ?? []);
  let labelled = 0;
  let labelledAfter = 0;
  let maxLabelledOctets = 0;
  let maxPayloadOctets = 0;
  const control: Record<string, number> = {};
  const messages: Shim6Packet[] = [];
  let packets = 0;
  let payload = 0;
  let payloadAfter = 0;
  let firstPayloadMs: number | null = null;
  for (const file of files) {
    if (!existsSync(file)) continue;
    const parsed = parsePcap(new Uint8Array(readFileSync(file)));
    if (!parsed.ok) throw new Error(`${file}: ${parsed.error.message}`);
    for (const rec of parsed.value.records) {
      packets++;
      const ip = ipv6FromRecord(parsed.value.linkType, rec.data);
      if (ip === undefined || ip.length < 40) continue;
      const atMs = rec.timestampSeconds * 1000 + rec.timestampNanos / 1e6;
      const octets = 40 + ((ip[4]! << 8) | ip[5]!);
      if (ip[6] !== NEXT_HEADER_SHIM6) {
        const label = ((ip[1]! & 0x0f) << 16) | (ip[2]! << 8) | ip[3]!;
        if (labels.has(label) && !(ulids.has(formatIpv6(ip, 8)) && ulids.has(formatIpv6(ip, 24)))) {
          labelled++;
          if (afterMs !== null && atMs >= afterMs) labelledAfter++;
          maxLabelledOctets = Math.max(maxLabelledOctets, octets);
        }
        continue;
      }
      if (ip.length < 48) continue;
      if ((ip[42]! & 0x80) !== 0) {
        payload++;
        maxPayloadOctets = Math.max(maxPayloadOctets, octets);
        if (afterMs !== null && atMs >= afterMs) {
          payloadAfter++;
          if (firstPayloadMs === null || atMs < firstPayloadMs) firstPayloadMs = atMs;
        }
        continue;
      }
      const type = messageTypeName(ip[42]! & 0x7f);
      control[type] = (control[type] ?? 0) + 1;
      if (messages.length < 500) messages.push({ atMs, file, src: formatIpv6(ip, 8), dst: formatIpv6(ip, 24), type });
    }
  }
  messages.sort((a, b) => a.atMs - b.atMs);
  return { files, packets, control, payload, payloadAfter, firstPayloadMs, messages, maxPayloadOctets, labelled, labelledAfter, maxLabelledOctets };
}
