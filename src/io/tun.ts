/**
 * The TUN device (Linux Documentation/networking/tuntap.rst) as a `TunDevice`
 * (src/io/device.ts), over the shim6_native addon (native/src/tun.c, native/src/poll.c).
 *
 * The device is IFF_TUN | IFF_NO_PI: it carries bare IP packets, no link header and no
 * packet-information prefix. With `vnetHdr`, each packet travels with a 10-octet
 * virtio-net header in `batch.vnet` (struct virtio_net_hdr: GSO type and size, checksum
 * start and offset), and `offloads` lets the kernel hand over TSO/USO super-packets and
 * packets whose checksum is left to the reader (LINUX-FACTS.md: the vnet header with TSO
 * is what reaches kernel throughput). Reading leaves each packet at its slot's headroom.
 * One native call per batch; nothing here allocates per packet.
 *
 * Not here: bringing the interface up, addresses and routes (netlink, or `ip`), and
 * GSO/GRO in userspace.
 */
import type { PacketBatch } from './batch.js';
import type { TunDevice } from './device.js';
import { loadNative, toDeviceError, type NativeAddon } from './native.js';
import { NativeFd } from './native-fd.js';

/**
 * The TUN_F_* offload bits (linux/if_tun.h), for `TunOptions.offloads`: the addon's
 * `tunOffloads`, written out so that callers need no addon to build options.
 */
export const TunOffload = {
  /** The reader handles partial checksums (vnet flag NEEDS_CSUM). Required by the others. */
  CSUM: 0x01,
  /** TCP segmentation offload, IPv4. */
  TSO4: 0x02,
  /** TCP segmentation offload, IPv6. */
  TSO6: 0x04,
  /** TSO with ECN (CWR). */
  TSO_ECN: 0x08,
  /** UDP fragmentation offload. */
  UFO: 0x10,
  /** UDP segmentation offload, IPv4 (Linux 6.2). */
  USO4: 0x20,
  /** UDP segmentation offload, IPv6 (Linux 6.2). */
  USO6: 0x40,
} as const;

export interface TunOptions {
  /** Interface name, at most 15 octets; '' (the default) or a name with %d is numbered by the kernel. */
  readonly name?: string;
  /** IFF_VNET_HDR: exchange a virtio-net header with every packet (batch.vnet). Default false. */
  readonly vnetHdr?: boolean;
  /** IFF_MULTI_QUEUE: open one more queue of the same device per call. Default false. */
  readonly multiQueue?: boolean;
  /** TUNSETOFFLOAD bits (`TunOffload`); only with `vnetHdr`. Default 0. */
  readonly offloads?: number;
}

class NativeTun implements TunDevice {
  readonly name: string;
  readonly vnetHdr: boolean;
  readonly #fd: NativeFd;

  constructor(addon: NativeAddon, fd: number, name: string, vnetHdr: boolean) {
    this.#fd = new NativeFd(addon, fd, `TUN device ${name}`);
    this.name = name;
    this.vnetHdr = vnetHdr;
  }

  readBatch(batch: PacketBatch): number {
    batch.reset();
    const fd = this.#fd.open('readBatch');
    try {
      batch.count = this.#fd.addon.tunRead(fd, batch.buffer, batch.slotSize, batch.headroom, batch.capacity,
        batch.offsets, batch.lengths, this.vnetHdr ? batch.vnet : null);
    } catch (error) {
      throw toDeviceError(error);
    }
    return batch.count;
  }

  writeBatch(batch: PacketBatch): number {
    const fd = this.#fd.open('writeBatch');
    try {
      return this.#fd.addon.tunWrite(fd, batch.buffer, batch.offsets, batch.lengths, batch.count,
        this.vnetHdr ? batch.vnet : null);
    } catch (error) {
      throw toDeviceError(error);
    }
  }

  onReadable(cb: (() => void) | null): void {
    this.#fd.onReadable(cb);
  }

  close(): void {
    this.#fd.close();
  }
}

/**
 * Opens (creating it if needed) the TUN device `options.name` and returns it, not yet
 * polled and with the interface still down: bring it up and route into it separately.
 * Each packet read or written costs one system call; `readBatch` adds one that finds the
 * device empty. A packet larger than a slot's room is read with length -1 (count it as
 * malformed). `writeBatch` returns how many packets the kernel accepted and skips the
 * ones it refused (not IPv6/IPv4, bad vnet header, device down).
 *
 * Throws `TypeError` for bad options (name over 15 octets, unknown offload bits,
 * offloads without vnetHdr) and `DeviceError` when the kernel refuses: 'EPERM' without
 * CAP_NET_ADMIN, 'EBUSY' when a single-queue device of that name is in use, 'EINVAL'
 * when the name belongs to an interface that is not a TUN, 'ENOENT' without
 * /dev/net/tun. The device methods throw `DeviceError` 'closed' after `close()`, and
 * `DeviceError` with the errno name when the device is unusable (e.g. 'EBADFD' after the
 * interface was deleted). `close()` is idempotent.
 */
export function openTun(options: TunOptions = {}): TunDevice {
  const addon = loadNative();
  const vnetHdr = options.vnetHdr ?? false;
  let opened: { fd: number; name: string };
  try {
    opened = addon.tunOpen(options.name ?? '', vnetHdr, options.multiQueue ?? false, options.offloads ?? 0);
  } catch (error) {
    throw toDeviceError(error);
  }
  return new NativeTun(addon, opened.fd, opened.name, vnetHdr);
}
