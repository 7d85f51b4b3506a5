/**
 * Raw IPv6 sockets (raw(7), ipv6(7), RFC 3542) as the `RawSender` and `RawReceiver` of
 * src/io/device.ts, over the shim6_native addon (native/src/raw.c, native/src/poll.c).
 *
 * The sender sends complete IPv6 packets (IPPROTO_RAW, header included) with sendmmsg,
 * routing each one by its own header: destination from octets 24-40, source from
 * octets 8-24 passed as IPV6_PKTINFO, so `ip -6 rule from <prefix>` source routing picks
 * the exit of the packet's source locator; the socket's firewall mark lets the daemon's
 * packets skip the policy rule that leads everyone else's traffic into the TUN. The
 * receiver gets the packets of one next-header protocol (140 Shim6, 58 ICMPv6) without
 * their IPv6 header, with the header's addresses, hop limit, traffic class and flow label
 * in `batch.addrs` and `batch.info`. One native call per batch (up to 64 packets per
 * system call); nothing here allocates per packet.
 *
 * Not here: the firewall rules and routes themselves, and GSO super-packets (a raw
 * socket cannot send them: LINUX-FACTS.md, "TUN on this kernel").
 */
import type { PacketBatch } from './batch.js';
import type { RawReceiver, RawSender } from './device.js';
import { loadNative, toDeviceError, type NativeAddon } from './native.js';
import { NativeFd } from './native-fd.js';

/** IP protocol number of ICMPv6 (RFC 4443 §1; IANA Assigned Internet Protocol Numbers). */
export const IPPROTO_ICMPV6 = 58;

class NativeRawSender implements RawSender {
  readonly #fd: NativeFd;

  constructor(addon: NativeAddon, fd: number) {
    this.#fd = new NativeFd(addon, fd, 'raw sender');
  }

  writeBatch(batch: PacketBatch): number {
    const fd = this.#fd.open('writeBatch');
    try {
      return this.#fd.addon.rawSend(fd, batch.buffer, batch.offsets, batch.lengths, batch.count);
    } catch (error) {
      throw toDeviceError(error);
    }
  }

  close(): void {
    this.#fd.close();
  }
}

class NativeRawReceiver implements RawReceiver {
  readonly protocol: number;
  readonly #fd: NativeFd;

  constructor(addon: NativeAddon, fd: number, protocol: number) {
    this.#fd = new NativeFd(addon, fd, `raw receiver for protocol ${protocol}`);
    this.protocol = protocol;
  }

  readBatch(batch: PacketBatch): number {
    batch.reset();
    const fd = this.#fd.open('readBatch');
    try {
      batch.count = this.#fd.addon.rawReceive(fd, batch.buffer, batch.slotSize, batch.headroom, batch.capacity,
        batch.offsets, batch.lengths, batch.addrs, batch.info);
    } catch (error) {
      throw toDeviceError(error);
    }
    return batch.count;
  }

  onReadable(cb: (() => void) | null): void {
    this.#fd.onReadable(cb);
  }

  close(): void {
    this.#fd.close();
  }
}

/**
 * Opens a raw IPv6 sender whose packets carry firewall mark `mark` (0 to 2^32-1; 0 sets
 * no mark). `writeBatch` sends packets 0..count-1, each a complete IPv6 packet routed by
 * its own source and destination addresses, and returns how many the kernel took: it
 * skips packets shorter than 40 octets and those the kernel refuses (no route, a
 * blackhole or prohibit route, a source address not assigned to this host or still
 * tentative, larger than the route's MTU). Cost: one sendmmsg per 64 packets. The socket
 * is blocking, so when its 4 MiB send buffer is full `writeBatch` waits for the device
 * queue to drain (back-pressure), at most 100 ms per system call; packets still not sent
 * then are not counted.
 *
 * Throws `TypeError` for a bad mark and `DeviceError` when the kernel refuses: 'EPERM'
 * without CAP_NET_RAW (and, for a mark, CAP_NET_RAW or CAP_NET_ADMIN). `writeBatch`
 * throws `DeviceError` 'closed' after `close()` (idempotent), and `TypeError` when a
 * packet's offset and length lie outside the batch buffer.
 */
export function openRawSender(mark: number): RawSender {
  const addon = loadNative();
  let fd: number;
  try {
    fd = addon.rawSenderOpen(mark);
  } catch (error) {
    throw toDeviceError(error);
  }
  return new NativeRawSender(addon, fd);
}

export interface RawReceiverOptions {
  /**
   * ICMPv6 only (protocol 58): let the kernel pass only error messages, types 1-4
   * (destination unreachable, packet too big, time exceeded, parameter problem).
   */
  readonly icmpErrorsOnly?: boolean;
}

/**
 * Opens a raw IPv6 receiver for next-header `protocol` (1-254). `readBatch` reads every
 * queued packet up to the batch capacity; each arrives without its IPv6 header (and
 * without the extension headers the kernel processed before `protocol`), with
 * `batch.addrs` holding its source and destination and `batch.info` [arrival ifindex, hop
 * limit, traffic class, flow label]. A packet larger than a slot's room gets length -1
 * (count it as malformed). Cost: one recvmmsg per 64 packets. Every raw socket of a
 * protocol gets a copy of each packet of it; the kernel queues up to 8 MiB and then drops.
 *
 * Throws `TypeError` for a bad protocol or `icmpErrorsOnly` with a protocol other than
 * 58, and `DeviceError` 'EPERM' without CAP_NET_RAW. The device methods throw
 * `DeviceError` 'closed' after `close()` (idempotent).
 */
export function openRawReceiver(protocol: number, options: RawReceiverOptions = {}): RawReceiver {
  const addon = loadNative();
  let fd: number;
  try {
    fd = addon.rawReceiverOpen(protocol, options.icmpErrorsOnly ?? false);
  } catch (error) {
    throw toDeviceError(error);
  }
  return new NativeRawReceiver(addon, fd, protocol);
}
