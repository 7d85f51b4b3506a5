/**
 * The data plane: the fast-path table driven by controllers (DataPlaneControl), and
 * up to four pumps that move batches between devices when they become readable:
 *
 *   TUN (application packets) --processEgress--> raw sender (marked, source-routed)
 *   raw 140 receiver --processIngress--> TUN (delivered to the local stack)
 *   raw ICMPv6 errors receiver --processIcmpErrors--> TUN
 *   intercept TUN --processFlowLabelIngress--> TUN   (experimental, issue #8: packets
 *     the host's ingress path redirected for carrying a flow label we allocated)
 *
 * With a TUN opened with a virtio-net header and TSO (`offload`), the TUN hands the
 * egress pump TCP super-packets of up to 64 KiB: the kernel cannot segment a packet that
 * carries a Shim6 header and a raw socket cannot send a GSO packet (LINUX-FACTS.md), so
 * the pump cuts them into wire-sized segments first (src/io/offload.ts, in C), then
 * rewrites and sends the segments in sendmmsg batches. The ingress pump merges restored
 * segments of a flow back into super-packets before writing them to the TUN (userspace
 * GRO), so the TUN takes one write per run instead of one per segment.
 *
 * Each pump reads at most `maxBatchesPerWake` batches per wake-up, so one busy direction
 * cannot starve the others; readiness is level-triggered, so what is left wakes it
 * again on the next loop turn. Batches are allocated once, here; the per-packet work
 * (egress.ts, ingress.ts, icmp.ts, flow-label.ts) does not allocate.
 *
 * A tap (`setTap`, for `shim6 pcap`) sees the Shim6 traffic as it is on the wire: every
 * packet the egress pump sends rewritten (with its Payload Extension header, or its
 * peer's flow label), every datagram the Shim6 socket delivers, with its IPv6 header
 * rebuilt, and every packet the intercept TUN delivers, before it is restored. Without a
 * tap the pumps pay one null check per batch; with one, a lookup per egress packet and a
 * copy per ingress datagram.
 */
import { RetransmitDetector } from './retransmit.js';
import { ADDRS_STRIDE, INFO_FLOW_LABEL, INFO_HOP_LIMIT, INFO_STRIDE, INFO_TCLASS, PacketBatch } from '../io/batch.js';
import type { RawReceiver, RawSender, TunDevice } from '../io/device.js';
import { coalesce, segmentInto } from '../io/offload.js';
import { ContextTagDemux, type Demux } from './demux.js';
import { processEgress } from './egress.js';
import { C, FastPathTable, type FastPathEntry } from './fastpath.js';
import { processFlowLabelIngress } from './flow-label.js';
import { processIcmpErrors } from './icmp.js';
import { processIngress, type IngressReports } from './ingress.js';
import { COUNTERS, DataPlaneError, type ContextSnapshot, type Counters, type DataPlaneControl, type DataPlaneEvents, type FastPathContext } from './types.js';

export interface DataPlaneDevices {
  readonly tun: TunDevice;
  readonly sender: RawSender;
  /** Receives the demux protocol (140: Shim6). */
  readonly shim: RawReceiver;
  /** Receives ICMPv6 errors (types 1-4), to translate those about rewritten packets. */
  readonly icmp?: RawReceiver;
  /**
   * Experimental (issue #8): a TUN (opened without vnet header) into which the host's
   * ingress path redirects packets carrying a flow label this host allocated; the data
   * plane reads full IPv6 packets from it, restores those of a context and delivers all
   * of them to `tun`.
   */
  readonly intercept?: TunDevice;
}

export interface DataPlaneOptions {
  /** Packets per batch (default 64). */
  readonly batchSize?: number;
  /** Largest packet handled, in octets (default 9216: jumbo frames). */
  readonly maxPacket?: number;
  readonly events?: DataPlaneEvents;
  readonly demux?: Demux;
  /** Batches per direction per wake-up (default 8). */
  readonly maxBatchesPerWake?: number;
  /** Unknown-tag and control reports allowed per batch (default 8). */
  readonly reportsPerBatch?: number;
  /**
   * Segment TUN super-packets on egress and coalesce on ingress; needs a TUN opened
   * with vnetHdr (and TSO6 | CSUM offloads). Default: on when the TUN has vnetHdr.
   */
  readonly offload?: boolean;
  /** Count TCP retransmissions per context on egress (REAP's upper-layer hint; default on). */
  readonly retransmitHints?: boolean;
}

/**
 * Sees one packet as it is on the wire: a full IPv6 packet. `packet` is a view into a
 * buffer the data plane reuses: valid only during the call (copy what you keep). It
 * must not throw; if it does, the rest of that batch is not shown to it.
 */
export type PacketTap = (packet: Uint8Array, direction: 'sent' | 'received') => void;

/** Largest packet a TSO TUN hands up (IPv6 header + 65535). */
const SUPER_PACKET = 65575;

/** Headroom before each packet: 8 for the payload header, 32 to grow 8 into 40, rounded. */
const HEADROOM = 64;

function snapshotCounters(values: Float64Array): Counters {
  const out = {} as Record<string, number>;
  COUNTERS.forEach((name, i) => (out[name] = values[i]!));
  return out as Counters;
}

function split(set: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < set.length; i += 16) out.push(set.slice(i, i + 16));
  return out;
}

const IPPROTO_ICMPV6_NH = 58;

/** A copy of slot `i` as a whole IPv6 packet: the header rebuilt from the raw socket's metadata (`addrs`, hop limit). */
function rebuildIpv6(batch: PacketBatch, i: number, nextHeader: number): Uint8Array {
  const off = batch.offsets[i]!;
  const len = batch.lengths[i]!;
  const p = new Uint8Array(40 + len);
  p[0] = 0x60;
  p[4] = len >>> 8;
  p[5] = len & 0xff;
  p[6] = nextHeader;
  p[7] = Math.max(0, batch.info[i * INFO_STRIDE + INFO_HOP_LIMIT]!);
  p.set(batch.addrs.subarray(i * ADDRS_STRIDE, i * ADDRS_STRIDE + 32), 8);
  p.set(batch.buffer.subarray(off, off + len), 40);
  return p;
}

function snapshot(e: FastPathEntry): ContextSnapshot {
  return {
    name: e.name,
    localUlid: e.localUlid.slice(),
    peerUlid: e.peerUlid.slice(),
    localLocators: split(e.localLocators),
    peerLocators: split(e.peerLocators),
    localContextTag: e.localContextTag,
    peerContextTag: e.peerContextTag,
    localFlowLabel: e.localFlowLabel,
    peerFlowLabel: e.peerFlowLabel,
    currentLocal: e.currentLocal.slice(),
    currentPeer: e.currentPeer.slice(),
    counters: snapshotCounters(e.counters),
  };
}

export class DataPlane implements DataPlaneControl {
  readonly table = new FastPathTable();
  private readonly devices: DataPlaneDevices;
  private readonly demux: Demux;
  private readonly global = new Float64Array(COUNTERS.length);
  private readonly egressBatch: PacketBatch;
  private readonly ingressBatch: PacketBatch;
  private readonly icmpBatch: PacketBatch;
  /** Only with an intercept TUN. */
  private readonly interceptBatch: PacketBatch | undefined;
  private readonly reports: IngressReports;
  private readonly reportsPerBatch: number;
  private readonly maxBatchesPerWake: number;
  private readonly offload: boolean;
  /** Offload only: the segments of egressBatch's super-packets, and ingress's merged runs. */
  private readonly segmentBatch: PacketBatch | undefined;
  private readonly coalesceBatch: PacketBatch | undefined;
  private readonly detector: RetransmitDetector | undefined;
  private running = false;
  private tap: PacketTap | null = null;
  /** Tap only: which egress slots hold a packet that is rewritten (1), and the ingress rebuild buffer. */
  private tapRewrite: Uint8Array | undefined;
  private tapScratch: Uint8Array | undefined;

  constructor(devices: DataPlaneDevices, options: DataPlaneOptions = {}) {
    this.devices = devices;
    this.demux = options.demux ?? new ContextTagDemux();
    const batchSize = options.batchSize ?? 64;
    const maxPacket = options.maxPacket ?? 9216;
    if (!Number.isInteger(maxPacket) || maxPacket < 1280 || maxPacket > 65575) throw new RangeError(`maxPacket must be 1280-65575, got ${maxPacket}`);
    const slot = HEADROOM + maxPacket + 8; // + 8: a rewritten packet grows
    this.offload = options.offload ?? devices.tun.vnetHdr;
    if (this.offload && !devices.tun.vnetHdr) throw new RangeError('offload needs a TUN opened with vnetHdr');
    if (this.offload) {
      // Super-packets in, up to 64 KiB each; segments out, sized like any packet.
      this.egressBatch = new PacketBatch(Math.max(1, batchSize >> 2), HEADROOM + SUPER_PACKET + 8, HEADROOM);
      this.segmentBatch = new PacketBatch(Math.max(batchSize, 128), slot, HEADROOM);
      this.coalesceBatch = new PacketBatch(batchSize, HEADROOM + SUPER_PACKET + 8, HEADROOM);
    } else {
      this.egressBatch = new PacketBatch(batchSize, slot, HEADROOM);
    }
    this.ingressBatch = new PacketBatch(batchSize, slot, HEADROOM);
    this.icmpBatch = new PacketBatch(Math.min(batchSize, 16), slot, HEADROOM);
    if (devices.intercept !== undefined && devices.intercept.vnetHdr) throw new RangeError('the intercept TUN must be opened without vnetHdr');
    this.interceptBatch = devices.intercept === undefined ? undefined : new PacketBatch(batchSize, slot, HEADROOM);
    this.reportsPerBatch = options.reportsPerBatch ?? 8;
    this.reports = { events: options.events ?? {}, budget: this.reportsPerBatch };
    this.maxBatchesPerWake = options.maxBatchesPerWake ?? 8;
    this.detector = options.retransmitHints === false ? undefined : new RetransmitDetector();
  }

  /** Starts moving packets: registers for readiness on the receiving devices. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.devices.tun.onReadable(() => this.pumpEgress());
    this.devices.shim.onReadable(() => this.pumpIngress());
    this.devices.icmp?.onReadable(() => this.pumpIcmp());
    this.devices.intercept?.onReadable(() => this.pumpIntercept());
  }

  /** Stops moving packets (the devices stay open: their owner closes them). */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.devices.tun.onReadable(null);
    this.devices.shim.onReadable(null);
    this.devices.icmp?.onReadable(null);
    this.devices.intercept?.onReadable(null);
  }

  /**
   * Shows every packet sent rewritten ('sent'), every datagram the Shim6 socket delivers
   * ('received', IPv6 header rebuilt from the socket's addresses and ancillary data) and
   * every packet read from the intercept TUN ('received', as read, before the ULIDs are
   * restored) to `tap`, until it is replaced or null. See PacketTap for the view's lifetime.
   */
  setTap(tap: PacketTap | null): void {
    if (tap !== null) {
      this.tapRewrite ??= new Uint8Array(Math.max(this.egressBatch.capacity, this.segmentBatch?.capacity ?? 0));
      this.tapScratch ??= new Uint8Array(40 + this.ingressBatch.maxPacket);
    }
    this.tap = tap;
  }

  /** Reads and forwards what the TUN has (up to maxBatchesPerWake batches); returns packets read. */
  pumpEgress(): number {
    let total = 0;
    for (let n = 0; n < this.maxBatchesPerWake; n++) {
      const read = this.devices.tun.readBatch(this.egressBatch);
      if (read === 0) break;
      total += read;
      if (this.segmentBatch === undefined) this.send(this.egressBatch);
      else this.segmentAndSend(this.egressBatch, this.segmentBatch);
      if (read < this.egressBatch.capacity) break;
    }
    return total;
  }

  /** Rewrites a batch of wire-sized packets and sends it. */
  private send(batch: PacketBatch): void {
    const tap = this.tap;
    if (tap !== null) this.markRewrites(batch);
    const toSend = processEgress(batch, this.table, this.demux, this.global, this.detector);
    if (toSend > 0) {
      if (tap !== null) this.tapSent(batch, tap);
      const sent = this.devices.sender.writeBatch(batch);
      if (sent < toSend) this.global[C.dropSendFailed]! += toSend - sent;
    }
  }

  /**
   * Before processEgress: notes, per slot, whether its packet belongs to a context that
   * rewrites (the same lookup processEgress makes). A packet stays in its own slot when
   * processEgress moves or compacts it, so afterwards the slot says which ones it rewrote.
   */
  private markRewrites(batch: PacketBatch): void {
    const marks = this.tapRewrite!;
    const b = batch.buffer;
    for (let i = 0; i < batch.count; i++) {
      const start = batch.offsets[i]!;
      let rewrite = 0;
      if (batch.lengths[i]! >= 40) {
        const index = this.table.findUlidPair(b, start + 8, b, start + 24);
        if (index >= 0 && this.table.entry(index).rewrite) rewrite = 1;
      }
      marks[Math.floor(start / batch.slotSize)] = rewrite;
    }
  }

  private tapSent(batch: PacketBatch, tap: PacketTap): void {
    const marks = this.tapRewrite!;
    const b = batch.buffer;
    try {
      for (let i = 0; i < batch.count; i++) {
        const start = batch.offsets[i]!;
        if (marks[Math.floor(start / batch.slotSize)] === 1) tap(b.subarray(start, start + batch.lengths[i]!), 'sent');
      }
    } catch {
      // The tap's own failure; the packets still go out.
    }
  }

  /** Before processIngress restores in place: each datagram with its IPv6 header rebuilt. */
  private tapReceived(batch: PacketBatch, tap: PacketTap): void {
    const out = this.tapScratch!;
    const b = batch.buffer;
    const a = batch.addrs;
    const protocol = this.devices.shim.protocol;
    try {
      for (let i = 0; i < batch.count; i++) {
        const len = batch.lengths[i]!;
        if (len < 0 || len > 0xffff || 40 + len > out.length) continue;
        const info = i * INFO_STRIDE;
        const tclass = batch.info[info + INFO_TCLASS]! & 0xff;
        const reported = batch.info[info + INFO_FLOW_LABEL]!;
        const flowLabel = reported < 0 ? 0 : reported & 0xfffff;
        out[0] = 0x60 | (tclass >>> 4);
        out[1] = ((tclass & 0x0f) << 4) | (flowLabel >>> 16);
        out[2] = (flowLabel >>> 8) & 0xff;
        out[3] = flowLabel & 0xff;
        out[4] = len >>> 8;
        out[5] = len & 0xff;
        out[6] = protocol;
        out[7] = batch.info[info + INFO_HOP_LIMIT]! & 0xff;
        out.set(a.subarray(i * ADDRS_STRIDE, i * ADDRS_STRIDE + 32), 8);
        const off = batch.offsets[i]!;
        out.set(b.subarray(off, off + len), 40);
        tap(out.subarray(0, 40 + len), 'received');
      }
    } catch {
      // The tap's own failure; the datagrams are still processed.
    }
  }

  /** Cuts each (super-)packet of `input` into `seg`, sending `seg` whenever it fills. */
  private segmentAndSend(input: PacketBatch, seg: PacketBatch): void {
    seg.reset();
    for (let i = 0; i < input.count; i++) {
      let n = segmentInto(input, i, seg, seg.count);
      if (n < 0 && seg.count > 0) {
        // Perhaps only out of room: send what is there and try once more from slot 0.
        this.send(seg);
        seg.reset();
        n = segmentInto(input, i, seg, 0);
      }
      if (n < 0) this.global[C.dropMalformed]!++;
    }
    if (seg.count > 0) this.send(seg);
  }

  /** Writes restored packets to the TUN, merged into super-packets when offloading. */
  private deliver(batch: PacketBatch, count: number): void {
    let out = batch;
    if (this.coalesceBatch !== undefined) {
      if (coalesce(batch, this.coalesceBatch) < 0) {
        this.global[C.dropTunWriteFailed]! += count;
        return;
      }
      out = this.coalesceBatch;
    }
    const toWrite = out.count;
    const written = this.devices.tun.writeBatch(out);
    if (written < toWrite) this.global[C.dropTunWriteFailed]! += toWrite - written;
  }

  /** Reads, restores and delivers what the Shim6 socket has; returns datagrams read. */
  pumpIngress(): number {
    let total = 0;
    for (let n = 0; n < this.maxBatchesPerWake; n++) {
      const read = this.devices.shim.readBatch(this.ingressBatch);
      if (read === 0) break;
      total += read;
      this.reports.budget = this.reportsPerBatch;
      const tap = this.tap;
      if (tap !== null) this.tapReceived(this.ingressBatch, tap);
      const toWrite = processIngress(this.ingressBatch, this.table, this.demux, this.global, this.reports);
      if (toWrite > 0) this.deliver(this.ingressBatch, toWrite);
      if (read < this.ingressBatch.capacity) break;
    }
    return total;
  }

  /**
   * Reads what the intercept TUN has (up to maxBatchesPerWake batches), restores the
   * ULIDs of the packets that belong to a context and delivers them all to the TUN;
   * returns packets read.
   */
  pumpIntercept(): number {
    const intercept = this.devices.intercept;
    const batch = this.interceptBatch;
    if (intercept === undefined || batch === undefined) return 0;
    let total = 0;
    for (let n = 0; n < this.maxBatchesPerWake; n++) {
      const read = intercept.readBatch(batch);
      if (read === 0) break;
      total += read;
      const tap = this.tap;
      if (tap !== null) this.tapIntercepted(batch, tap);
      const toWrite = processFlowLabelIngress(batch, this.table, this.global);
      if (toWrite > 0) this.deliver(batch, toWrite);
      if (read < batch.capacity) break;
    }
    return total;
  }

  /** Before processFlowLabelIngress restores in place: each packet as the intercept TUN delivered it. */
  private tapIntercepted(batch: PacketBatch, tap: PacketTap): void {
    const b = batch.buffer;
    try {
      for (let i = 0; i < batch.count; i++) {
        const len = batch.lengths[i]!;
        if (len <= 0) continue;
        const start = batch.offsets[i]!;
        tap(b.subarray(start, start + len), 'received');
      }
    } catch {
      // The tap's own failure; the packets are still processed.
    }
  }

  /** Reads and translates ICMPv6 errors; returns errors read. */
  pumpIcmp(): number {
    const icmp = this.devices.icmp;
    if (icmp === undefined) return 0;
    let total = 0;
    for (let n = 0; n < this.maxBatchesPerWake; n++) {
      const read = icmp.readBatch(this.icmpBatch);
      if (read === 0) break;
      total += read;
      const onControl = this.reports.events.icmpError;
      let budget = this.reportsPerBatch;
      const toWrite = processIcmpErrors(this.icmpBatch, this.table, this.global, onControl === undefined ? undefined : (slot) => {
        if (budget-- <= 0) return;
        onControl(rebuildIpv6(this.icmpBatch, slot, IPPROTO_ICMPV6_NH));
      });
      if (toWrite > 0) {
        const written = this.devices.tun.writeBatch(this.icmpBatch);
        if (written < toWrite) this.global[C.dropTunWriteFailed]! += toWrite - written;
      }
      if (read < this.icmpBatch.capacity) break;
    }
    return total;
  }

  addContext(ctx: FastPathContext): void {
    this.table.add(ctx);
  }

  removeContext(name: string): void {
    this.table.remove(name);
  }

  setCurrentPair(name: string, local: Uint8Array, peer: Uint8Array): void {
    this.table.setCurrentPair(name, local, peer);
  }

  context(name: string): ContextSnapshot | undefined {
    const index = this.table.indexOf(name);
    return index < 0 ? undefined : snapshot(this.table.entry(index));
  }

  contexts(): ContextSnapshot[] {
    return this.table.all().map(snapshot);
  }

  counters(): Counters {
    return snapshotCounters(this.global);
  }

  /** Whether a context's packets are being rewritten (its pair differs from its ULIDs). */
  rewriting(name: string): boolean {
    const index = this.table.indexOf(name);
    if (index < 0) throw new DataPlaneError('unknown-context', `no context named ${name}`);
    return this.table.entry(index).rewrite;
  }
}
