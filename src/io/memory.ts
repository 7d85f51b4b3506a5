/**
 * In-memory implementations of the device interfaces (src/io/device.ts): the data plane
 * runs on them in unit tests without root, and the simulator can wire them together.
 *
 * They copy packets in and out of batches exactly as the native devices do (a receiver
 * fills `addrs`/`info` and strips nothing: the injected bytes are what a raw socket would
 * deliver), so the data plane cannot tell them apart. Unlike the native devices they
 * allocate per packet (queues of Uint8Array): they are for tests, not the hot path.
 */
import { ADDRS_STRIDE, INFO_FLOW_LABEL, INFO_HOP_LIMIT, INFO_IFINDEX, INFO_STRIDE, INFO_TCLASS, VNET_HDR_LEN, type PacketBatch } from './batch.js';
import { DeviceError, type RawReceiver, type RawSender, type TunDevice } from './device.js';

function checkOpen(closed: boolean, what: string): void {
  if (closed) throw new DeviceError('closed', `${what} is closed`);
}

/** Copies packets 0..count-1 of a batch out as separate arrays. */
function copyOut(batch: PacketBatch): Uint8Array[] {
  const packets: Uint8Array[] = [];
  for (let i = 0; i < batch.count; i++) {
    const off = batch.offsets[i]!;
    packets.push(batch.buffer.slice(off, off + batch.lengths[i]!));
  }
  return packets;
}

class Readiness {
  private cb: (() => void) | null = null;
  private scheduled = false;
  private readonly pending: () => boolean;
  constructor(pending: () => boolean) {
    this.pending = pending;
  }
  /** Sets the callback (null stops) and, when packets already wait, schedules it. */
  set(cb: (() => void) | null): void {
    this.cb = cb;
    if (cb !== null && this.pending()) this.notify();
  }
  /** Calls the callback on a later turn of the event loop, once per burst of injections. */
  notify(): void {
    if (this.cb === null || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.cb?.();
    });
  }
}

export interface MemoryTunOptions {
  readonly name?: string;
  readonly vnetHdr?: boolean;
  /** How many written packets to accept before failing writes (default unlimited). */
  readonly writeLimit?: number;
}

/**
 * A TUN device in memory. `inject` queues packets for `readBatch` (as if applications sent
 * them); `written` collects what the data plane wrote (as if delivered to the stack).
 */
export class MemoryTun implements TunDevice {
  readonly name: string;
  readonly vnetHdr: boolean;
  readonly written: Uint8Array[] = [];
  readonly writtenVnet: Uint8Array[] = [];
  private readonly queue: { packet: Uint8Array; vnet?: Uint8Array }[] = [];
  private readonly readiness = new Readiness(() => this.queue.length > 0);
  private writeLimit: number;
  private closed = false;

  constructor(options: MemoryTunOptions = {}) {
    this.name = options.name ?? 'memtun0';
    this.vnetHdr = options.vnetHdr ?? false;
    this.writeLimit = options.writeLimit ?? Infinity;
  }

  inject(packet: Uint8Array, vnet?: Uint8Array): void {
    checkOpen(this.closed, this.name);
    this.queue.push(vnet === undefined ? { packet } : { packet, vnet });
    this.readiness.notify();
  }

  get pending(): number {
    return this.queue.length;
  }

  readBatch(batch: PacketBatch): number {
    checkOpen(this.closed, this.name);
    batch.reset();
    let n = 0;
    while (n < batch.capacity && this.queue.length > 0) {
      const { packet, vnet } = this.queue.shift()!;
      if (packet.length > batch.maxPacket) continue; // a real read() would truncate: drop it
      batch.buffer.set(packet, batch.offsets[n]!);
      batch.lengths[n] = packet.length;
      if (this.vnetHdr) batch.vnet.fill(0, n * VNET_HDR_LEN, (n + 1) * VNET_HDR_LEN);
      if (this.vnetHdr && vnet !== undefined) batch.vnet.set(vnet.subarray(0, VNET_HDR_LEN), n * VNET_HDR_LEN);
      n++;
    }
    batch.count = n;
    return n;
  }

  writeBatch(batch: PacketBatch): number {
    checkOpen(this.closed, this.name);
    let accepted = 0;
    for (const packet of copyOut(batch)) {
      if (this.written.length >= this.writeLimit) break;
      this.written.push(packet);
      accepted++;
    }
    if (this.vnetHdr) {
      for (let i = 0; i < accepted; i++) this.writtenVnet.push(batch.vnet.slice(i * VNET_HDR_LEN, (i + 1) * VNET_HDR_LEN));
    }
    return accepted;
  }

  onReadable(cb: (() => void) | null): void {
    this.readiness.set(cb);
  }

  close(): void {
    this.closed = true;
    this.readiness.set(null);
  }
}

/** Collects what the data plane sends; `fail` makes the next n sends fail. */
export class MemoryRawSender implements RawSender {
  readonly sent: Uint8Array[] = [];
  private failures = 0;
  private closed = false;

  failNext(n: number): void {
    this.failures = n;
  }

  writeBatch(batch: PacketBatch): number {
    checkOpen(this.closed, 'raw sender');
    let accepted = 0;
    for (const packet of copyOut(batch)) {
      if (this.failures > 0) {
        this.failures--;
        continue;
      }
      this.sent.push(packet);
      accepted++;
    }
    return accepted;
  }

  close(): void {
    this.closed = true;
  }
}

export interface InjectedDatagram {
  /** What the raw socket delivers: the packet from the protocol's header onward. */
  readonly data: Uint8Array;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly hopLimit?: number;
  readonly trafficClass?: number;
  readonly flowLabel?: number;
  readonly ifindex?: number;
}

/** A raw receive socket in memory: `inject` queues datagrams for `readBatch`. */
export class MemoryRawReceiver implements RawReceiver {
  readonly protocol: number;
  private readonly queue: InjectedDatagram[] = [];
  private readonly readiness = new Readiness(() => this.queue.length > 0);
  private closed = false;

  constructor(protocol: number) {
    this.protocol = protocol;
  }

  inject(datagram: InjectedDatagram): void {
    checkOpen(this.closed, 'raw receiver');
    if (datagram.src.length !== 16 || datagram.dst.length !== 16) throw new TypeError('src and dst must be 16-octet addresses');
    this.queue.push(datagram);
    this.readiness.notify();
  }

  readBatch(batch: PacketBatch): number {
    checkOpen(this.closed, 'raw receiver');
    batch.reset();
    let n = 0;
    while (n < batch.capacity && this.queue.length > 0) {
      const d = this.queue.shift()!;
      if (d.data.length > batch.maxPacket) {
        batch.lengths[n] = -1; // MSG_TRUNC, as the native receiver reports it
      } else {
        batch.buffer.set(d.data, batch.offsets[n]!);
        batch.lengths[n] = d.data.length;
      }
      batch.addrs.set(d.src, n * ADDRS_STRIDE);
      batch.addrs.set(d.dst, n * ADDRS_STRIDE + 16);
      const info = n * INFO_STRIDE;
      batch.info[info + INFO_IFINDEX] = d.ifindex ?? 1;
      batch.info[info + INFO_HOP_LIMIT] = d.hopLimit ?? 64;
      batch.info[info + INFO_TCLASS] = d.trafficClass ?? 0;
      batch.info[info + INFO_FLOW_LABEL] = d.flowLabel ?? 0;
      n++;
    }
    batch.count = n;
    return n;
  }

  onReadable(cb: (() => void) | null): void {
    this.readiness.set(cb);
  }

  close(): void {
    this.closed = true;
    this.readiness.set(null);
  }
}
