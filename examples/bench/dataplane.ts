/**
 * The data plane's per-packet JavaScript cost, without I/O: egress (insert the payload
 * header, put the locators in) and ingress (find the context by tag, check locators,
 * rebuild the IPv6 header) over a batch of 64 TCP segments of 1440 octets, as the pumps
 * run them. Each operation is one batch; the figure per packet divides by 64. The
 * baseline is the fixed cost of the loop (restoring each packet's header between
 * rounds), measured in the same run, and the heap slope shows whether anything
 * allocates per packet.
 */
import { RetransmitDetector } from '../../src/dataplane/retransmit.js';
import { PacketBatch } from '../../src/io/batch.js';
import { ContextTagDemux } from '../../src/dataplane/demux.js';
import { processEgress } from '../../src/dataplane/egress.js';
import { FastPathTable } from '../../src/dataplane/fastpath.js';
import { processIngress, type IngressReports } from '../../src/dataplane/ingress.js';
import { COUNTERS } from '../../src/dataplane/types.js';
import { parseIpv6 } from '../../src/wire/address.js';
import { bench, type BenchResult } from './harness.js';

const BATCH = 64;
const SEGMENT = 1440;

function a(text: string): Uint8Array {
  return parseIpv6(text)!;
}

export interface DataplaneBench {
  readonly results: Record<string, BenchResult>;
  readonly batch: number;
  readonly segment: number;
  readonly contexts: number;
}

export function runDataplaneBench(): DataplaneBench {
  const table = new FastPathTable();
  // 1000 contexts, so lookups go through a realistically filled table.
  for (let i = 1; i <= 1000; i++) {
    const h = i.toString(16);
    const lu = a(`2001:db8:1:a::${h}`);
    const pu = a(`2001:db8:1:b::${h}`);
    table.add({
      name: `c${i}`, localUlid: lu, peerUlid: pu, localLocators: [lu, a(`2001:db8:2:a::${h}`)], peerLocators: [pu, a(`2001:db8:2:b::${h}`)],
      localContextTag: 0x10000 + i, peerContextTag: 0x20000 + i, currentLocal: a(`2001:db8:2:a::${h}`), currentPeer: a(`2001:db8:2:b::${h}`),
    });
  }
  const demux = new ContextTagDemux();
  const g = new Float64Array(COUNTERS.length);
  const reports: IngressReports = { events: {}, budget: 0 };

  // Egress: 64 TCP segments from ULID(local) c500 to ULID(peer) c500.
  const egress = new PacketBatch(BATCH, 64 + 9216 + 8, 64);
  const header = new Uint8Array(60);
  header[0] = 0x60;
  header[4] = (SEGMENT + 20) >> 8;
  header[5] = (SEGMENT + 20) & 0xff;
  header[6] = 6;
  header[7] = 64;
  header.set(a('2001:db8:1:a::1f4'), 8);
  header.set(a('2001:db8:1:b::1f4'), 24);
  for (let i = 0; i < BATCH; i++) egress.buffer.set(header, i * egress.slotSize + 64);
  const restoreEgress = (): void => {
    for (let i = 0; i < BATCH; i++) {
      const off = i * egress.slotSize + 64;
      egress.buffer.set(header, off);
      egress.offsets[i] = off;
      egress.lengths[i] = 40 + 20 + SEGMENT;
    }
    egress.count = BATCH;
  };

  // Ingress: what the raw socket delivers for the peer's rewritten segments to c500.
  const ingress = new PacketBatch(BATCH, 64 + 9216 + 8, 64);
  const shim = new Uint8Array(8);
  shim[0] = 6;
  shim[2] = 0x80;
  shim[5] = 0x01;
  shim[6] = 0x01;
  shim[7] = 0xf4; // CT(local) 0x101f4 = 0x10000 + 500
  const src = a('2001:db8:2:b::1f4');
  const dst = a('2001:db8:2:a::1f4');
  const restoreIngress = (): void => {
    for (let i = 0; i < BATCH; i++) {
      const off = i * ingress.slotSize + 64;
      ingress.buffer.set(shim, off);
      ingress.offsets[i] = off;
      ingress.lengths[i] = 8 + 20 + SEGMENT;
      ingress.addrs.set(src, i * 32);
      ingress.addrs.set(dst, i * 32 + 16);
      ingress.info[i * 4 + 1] = 64;
    }
    ingress.count = BATCH;
  };
  restoreIngress();
  if (processIngress(ingress, table, demux, g, reports) !== BATCH) throw new Error('bench setup: ingress did not match the context');
  restoreEgress();
  if (processEgress(egress, table, demux, g) !== BATCH || g[COUNTERS.indexOf('egressRewritten')] !== BATCH) throw new Error('bench setup: egress did not rewrite');

  const results: Record<string, BenchResult> = {};
  results['restoreOnly'] = bench('restore 64 headers (baseline)', () => {
    restoreEgress();
  });
  results['egress'] = bench('egress batch of 64 (rewrite + insert)', () => {
    restoreEgress();
    processEgress(egress, table, demux, g);
  }, { measureHeap: true });
  const detector = new RetransmitDetector();
  results['egressHints'] = bench('egress batch of 64 with the TCP retransmission detector (REAP hint)', () => {
    restoreEgress();
    processEgress(egress, table, demux, g, detector);
  }, { measureHeap: true });
  results['ingress'] = bench('ingress batch of 64 (lookup + restore)', () => {
    restoreIngress();
    processIngress(ingress, table, demux, g, reports);
  }, { measureHeap: true });
  results['restoreIngressOnly'] = bench('restore 64 shim headers (baseline)', () => {
    restoreIngress();
  });
  return { results, batch: BATCH, segment: SEGMENT, contexts: table.size };
}
