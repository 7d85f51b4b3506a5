/**
 * The packet devices the data plane uses, as interfaces: the real ones (src/io/tun.ts,
 * src/io/raw.ts, over the native addon) and the in-memory ones (src/io/memory.ts, for
 * unit tests and the simulator) implement them alike.
 *
 * All reads and writes move whole batches (src/io/batch.ts) and never allocate.
 * Readiness: `onReadable(cb)` arranges for `cb` to be called (on the event loop) whenever
 * the device may have packets; the consumer then calls `readBatch` until it returns 0.
 * Errors other than "nothing to read" / "would block" throw a `DeviceError`.
 */
import type { PacketBatch } from './batch.js';

export class DeviceError extends Error {
  /** errno name, e.g. 'EPERM', or a short reason such as 'closed'. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'DeviceError';
    this.code = code;
  }
}

export interface ReadableDevice {
  /**
   * Reads up to `batch.capacity` packets into `batch` (resetting it first) and returns
   * how many it read (also `batch.count`); 0 when none is waiting.
   */
  readBatch(batch: PacketBatch): number;
  /** Calls `cb` whenever packets may be waiting. One callback per device; null stops. */
  onReadable(cb: (() => void) | null): void;
}

export interface WritableDevice {
  /**
   * Writes packets 0..batch.count-1 (each at batch.offsets[i], batch.lengths[i]) and
   * returns how many the device accepted; the rest were dropped (the caller counts them).
   */
  writeBatch(batch: PacketBatch): number;
}

/**
 * A TUN device (IFF_TUN | IFF_NO_PI): packets are bare IPv6 packets. With `vnetHdr`, each
 * packet travels with a virtio-net header in `batch.vnet` (GSO super-packets, partial
 * checksums).
 */
export interface TunDevice extends ReadableDevice, WritableDevice {
  readonly name: string;
  readonly vnetHdr: boolean;
  close(): void;
}

/**
 * Sends complete IPv6 packets (IPPROTO_RAW, header included) with the daemon's firewall
 * mark, so they bypass the routes that lead into the TUN. Each packet is routed by its
 * own source (passed as IPV6_PKTINFO, so source-address routing rules apply) and
 * destination addresses.
 */
export interface RawSender extends WritableDevice {
  close(): void;
}

/**
 * Receives packets of one IPv6 next-header protocol (140 for Shim6, 58 for ICMPv6
 * errors). As IPv6 raw sockets do, each packet arrives WITHOUT its IPv6 header (and
 * without extension headers the kernel processed): the data starts at the protocol's
 * own header, and `batch.addrs`/`batch.info` hold what the header said.
 */
export interface RawReceiver extends ReadableDevice {
  readonly protocol: number;
  close(): void;
}
