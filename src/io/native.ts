/**
 * The one module that loads the shim6_native addon (native/, built by native/build.mjs
 * into native/build/Release/shim6_native.node): STYLE.md, "only io/ touches the addon".
 * Everything else imports the typed functions below, never the .node file.
 *
 * The addon is found relative to the package root (the nearest ancestor directory with a
 * package.json), so the same code works from the TypeScript sources (src/io/, under
 * vitest) and from the compiled output (dist/src/io/). It is loaded on first use, not at
 * import, so modules that merely import this one work without a built addon; a missing
 * or unloadable addon is an `Error` that says how to build it.
 *
 * Functions:
 * - `cgaSearchChunk`: the CGA modifier search inner loop (RFC 3972 §4), used by
 *   src/io/cga-search.ts on worker threads and by the benchmarks on one thread.
 * - `tunOpen`, `tunRead`, `tunWrite`, `tunOffloads`: the TUN device, batched
 *   (native/src/tun.c), wrapped by src/io/tun.ts.
 * - `rawSenderOpen`, `rawSend`, `rawReceiverOpen`, `rawReceive`: raw IPv6 sockets with
 *   sendmmsg/recvmmsg (native/src/raw.c), wrapped by src/io/raw.ts.
 * - `pollStart`, `pollStop`: readiness callbacks from the event loop (native/src/poll.c).
 * - `tcpSegment`, `checksumComplete`, `tcpCoalesce`, `virtio`: TCP/IPv6 segmentation and
 *   coalescing for a vnet-header TUN, pure compute (native/src/offload.c), wrapped by
 *   src/io/offload.ts.
 * - `closeFd` (native/src/fd.c).
 *
 * Conventions of the I/O functions: descriptors are plain numbers; batches are the arrays
 * of a `PacketBatch` (src/io/batch.ts), passed one by one so the addon never looks up a
 * property; nothing allocates per packet. A bad argument throws a `TypeError`; a failed
 * system call throws an `Error` whose `code` is the errno name ('EPERM') and whose
 * message names the call; `toDeviceError` turns the latter into a `DeviceError`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeviceError } from './device.js';

/** The TUN_F_* offload bits of TUNSETOFFLOAD (linux/if_tun.h). */
export interface TunOffloadBits {
  /** TUN_F_CSUM: the reader accepts packets with a partial checksum (vnet NEEDS_CSUM). */
  readonly CSUM: number;
  /** TUN_F_TSO4: TCP segmentation offload for IPv4 super-packets. */
  readonly TSO4: number;
  /** TUN_F_TSO6: TCP segmentation offload for IPv6 super-packets. */
  readonly TSO6: number;
  /** TUN_F_TSO_ECN: TSO with the ECN CWR bit. */
  readonly TSO_ECN: number;
  /** TUN_F_UFO: UDP fragmentation offload. */
  readonly UFO: number;
  /** TUN_F_USO4: UDP segmentation offload, IPv4 (Linux 6.2). */
  readonly USO4: number;
  /** TUN_F_USO6: UDP segmentation offload, IPv6 (Linux 6.2). */
  readonly USO6: number;
}

/** The virtio-net header constants (linux/virtio_net.h) the addon exports as `virtio`. */
export interface VirtioConstants {
  /** VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum at csum_start + csum_offset is partial. */
  readonly NEEDS_CSUM: number;
  /** VIRTIO_NET_HDR_F_DATA_VALID: the checksum was verified (tun only reports it). */
  readonly DATA_VALID: number;
  /** VIRTIO_NET_HDR_GSO_NONE: not a GSO packet. */
  readonly GSO_NONE: number;
  /** VIRTIO_NET_HDR_GSO_TCPV4: TCP/IPv4 super-packet. */
  readonly GSO_TCPV4: number;
  /** VIRTIO_NET_HDR_GSO_UDP: UDP fragmentation offload. */
  readonly GSO_UDP: number;
  /** VIRTIO_NET_HDR_GSO_TCPV6: TCP/IPv6 super-packet. */
  readonly GSO_TCPV6: number;
  /** VIRTIO_NET_HDR_GSO_ECN: flag on gso_type, the super-packet has CWR set. */
  readonly GSO_ECN: number;
  /** sizeof(struct virtio_net_hdr): 10. */
  readonly HDR_LEN: number;
}

/** The addon's exports, as native/src/ defines them. */
export interface NativeAddon {
  /**
   * Tries `count` consecutive modifiers from `startModifier` (16 octets, incremented as a
   * 128-bit big-endian integer, wrapping at 2^128) in `hash2Input` (modifier || 9 zero
   * octets || DER public key || extension fields; its first 16 octets are ignored) and
   * returns the first modifier whose Hash2 has its 16*`sec` leftmost bits zero, or
   * `null`. Synchronous; about 6M tries per second per core for an RSA-1024 key.
   * Throws a `TypeError` for a bad argument: `hash2Input` not a Uint8Array of 16 to
   * 2^20 octets, `sec` not an integer 0-7, `startModifier` not a 16-octet Uint8Array,
   * `count` not an integer 0 to 2^53.
   */
  cgaSearchChunk(hash2Input: Uint8Array, sec: number, startModifier: Uint8Array, count: number): Uint8Array | null;

  /** The TUN_F_* bits `tunOpen` accepts in `offloads` (frozen). */
  readonly tunOffloads: TunOffloadBits;

  /**
   * Opens /dev/net/tun (O_RDWR | O_NONBLOCK | O_CLOEXEC) and attaches it to TUN device
   * `name` (created if absent; '' or a name with %d lets the kernel number it) with
   * IFF_TUN | IFF_NO_PI, plus IFF_VNET_HDR (header size 10, then TUNSETOFFLOAD
   * `offloads`) when `vnetHdr`, plus IFF_MULTI_QUEUE when `multiQueue` (each call then
   * adds one queue to the same device). Returns the descriptor and the kernel's name.
   * TypeError: name over 15 octets, offloads not a combination of `tunOffloads` bits, or
   * offloads without vnetHdr. Error codes: EPERM (no CAP_NET_ADMIN), EBUSY (a
   * single-queue device of that name is in use), EINVAL (the name is not a TUN).
   */
  tunOpen(name: string, vnetHdr: boolean, multiQueue: boolean, offloads: number): { fd: number; name: string };

  /**
   * Reads packets into slots 0, 1, ... (slot i at i*slotSize+headroom, at most
   * slotSize-headroom octets), setting offsets[i] and lengths[i], until the device is
   * empty or `capacity` packets were read; returns the count (0 when none waits). A
   * packet larger than the slot gets lengths[i] = -1. With `vnet`, packet i's virtio-net
   * header goes to vnet[i*10 .. i*10+10] (pass it only for a vnetHdr device). One
   * readv(2) per packet plus one that says EAGAIN. Throws only when the first
   * read fails (EBADFD once the device is gone, EBADF).
   */
  tunRead(fd: number, buffer: Uint8Array, slotSize: number, headroom: number, capacity: number,
    offsets: Int32Array, lengths: Int32Array, vnet: Uint8Array | null): number;

  /**
   * Writes packets 0..count-1 (buffer[offsets[i] .. +lengths[i]], with vnet[i*10..] in
   * front when `vnet` is given), one write(2)/writev(2) each; returns how many the kernel
   * accepted. A packet it refuses (EINVAL: not IPv4/IPv6 or a bad vnet header, EIO,
   * ENOBUFS, EMSGSIZE, EAGAIN) is skipped. TypeError when a packet lies outside the
   * buffer; throws EBADF, EBADFD or EFAULT (the descriptor is unusable).
   */
  tunWrite(fd: number, buffer: Uint8Array, offsets: Int32Array, lengths: Int32Array, count: number,
    vnet: Uint8Array | null): number;

  /**
   * Opens a blocking raw IPv6 socket with IPPROTO_RAW (header included), SO_MARK `mark`
   * (not set when 0), a 4 MiB send buffer and a 100 ms send timeout. Returns the
   * descriptor. Error codes: EPERM (no CAP_NET_RAW, or no capability for SO_MARK).
   */
  rawSenderOpen(mark: number): number;

  /**
   * Sends packets 0..count-1, complete IPv6 packets, with sendmmsg (up to 64 per call),
   * each routed by its header's destination (msg_name) and source (IPV6_PKTINFO, so
   * `ip -6 rule from` applies) under the socket's mark. Returns how many were sent.
   * Skips packets under 40 octets and packets the kernel refuses (EMSGSIZE, ENETUNREACH,
   * EHOSTUNREACH, EADDRNOTAVAIL, EINVAL for a foreign source or a blackhole route, EACCES,
   * EPERM); a send that times out (full buffer for 100 ms) ends the call. May block up to
   * that timeout. Throws EBADF, ENOTSOCK, EFAULT.
   */
  rawSend(fd: number, buffer: Uint8Array, offsets: Int32Array, lengths: Int32Array, count: number): number;

  /**
   * Opens a non-blocking raw IPv6 socket for next-header `protocol` (1-254) that reports
   * destination and interface (IPV6_RECVPKTINFO), hop limit, traffic class and flow label,
   * with an 8 MiB receive buffer. With `icmpErrorsOnly` (protocol 58 only, else
   * TypeError) an ICMP6_FILTER passes only ICMPv6 types 1-4. Error codes: EPERM (no
   * CAP_NET_RAW).
   */
  rawReceiverOpen(protocol: number, icmpErrorsOnly: boolean): number;

  /**
   * Receives queued packets with recvmmsg(MSG_DONTWAIT) into slots 0, 1, ... as
   * `tunRead` does; each arrives WITHOUT its IPv6 header. For packet i, addrs[i*32..+16]
   * is the source, addrs[i*32+16..+16] the destination, info[i*4..+4] is [ifindex, hop
   * limit, traffic class, flow label (-1 if the kernel cannot report it)], and
   * lengths[i] = -1 when it was truncated. Returns the count (0 when none waits). One
   * recvmmsg per 64 packets. Throws only when the first recvmmsg fails (EBADF).
   */
  rawReceive(fd: number, buffer: Uint8Array, slotSize: number, headroom: number, capacity: number,
    offsets: Int32Array, lengths: Int32Array, addrs: Uint8Array, info: Int32Array): number;

  /**
   * Calls `callback` (receiver: the global object, in its own async context) from the
   * event loop whenever `fd` is readable (level-triggered, at most once per loop
   * iteration) until `pollStop`. Returns a handle. An exception the callback throws is
   * raised as an uncaught exception. While active, the poll keeps the event loop alive.
   * Error codes: EEXIST (the descriptor is already polled on this loop), EBADF.
   */
  pollStart(fd: number, callback: () => void): number;

  /** Stops a poll (at once: the descriptor may be closed next). Idempotent. */
  pollStop(handle: number): void;

  /** close(2). Error code EBADF when `fd` is not open. */
  closeFd(fd: number): void;

  /** The virtio-net header constants (frozen). */
  readonly virtio: VirtioConstants;

  /**
   * Cuts the packet inBuf[inOff .. inOff+inLen), whose 10-octet virtio-net header is
   * vnet[vnetOff ..], into wire-sized packets in output slots outFirstSlot, +1, ... (slot
   * s at s*outSlotSize + outHeadroom), setting outOffsets/outLengths for them; returns
   * how many, or -1 when the packet is malformed or does not fit.
   * - gso_type TCPV6 (ECN flag allowed): IPv6 with TCP after any Hop-by-Hop, Routing,
   *   Destination Options or AH headers (and csum_start must point at it, csum_offset
   *   16, when NEEDS_CSUM); gso_size > 0. Each segment: the headers copied, Payload
   *   Length set, sequence number advanced, FIN/PSH only on the last, CWR only on the
   *   first, full TCP checksum. hdr_len is ignored (the kernel's is only a hint).
   * - gso_type NONE: the packet is copied to outFirstSlot, its partial checksum completed
   *   when NEEDS_CSUM (any protocol; csum_start >= 40).
   * -1 for: not IPv6 or Payload Length != inLen - 40, another gso_type, more segments
   *   than outCapacity - outFirstSlot, a segment longer than outSlotSize - outHeadroom.
   * TypeError for bad arguments, and when the input packet overlaps the output slots.
   */
  tcpSegment(inBuf: Uint8Array, inOff: number, inLen: number, vnet: Uint8Array, vnetOff: number,
    outBuf: Uint8Array, outSlotSize: number, outHeadroom: number, outFirstSlot: number, outCapacity: number,
    outOffsets: Int32Array, outLengths: Int32Array): number;

  /**
   * Completes a partial (CHECKSUM_PARTIAL) checksum in place, as the kernel's
   * skb_checksum_help does: sums buf[off+csumStart .. off+len) (the field holds the
   * pseudo-header sum), folds, complements (0 becomes 0xffff) and stores it at
   * off+csumStart+csumOffset. Returns false, changing nothing, when csumStart +
   * csumOffset + 2 > len. TypeError when off/len lie outside buf.
   */
  checksumComplete(buf: Uint8Array, off: number, len: number, csumStart: number, csumOffset: number): boolean;

  /**
   * Userspace GRO for complete IPv6 packets: copies packets 0..inCount-1 (inBuf at
   * inOffsets[i], inLengths[i]) into output slots 0, 1, ... in order, merging in-order
   * TCP segments of a flow into super-packets (see native/src/offload.c for the rules),
   * with each output's virtio-net header at outVnet[k*10 ..]. Returns the output count,
   * or -1 when the outputs do not fit (more than outCapacity; a packet larger than
   * outSlotSize - outHeadroom). outCapacity >= inCount always suffices. TypeError for
   * bad arguments, and when inBuf overlaps the output slots.
   */
  tcpCoalesce(inBuf: Uint8Array, inOffsets: Int32Array, inLengths: Int32Array, inCount: number,
    outBuf: Uint8Array, outSlotSize: number, outHeadroom: number, outCapacity: number,
    outOffsets: Int32Array, outLengths: Int32Array, outVnet: Uint8Array): number;
}

/** The package root: the nearest ancestor of this module's directory with a package.json. */
function findPackageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`shim6_native: no package.json above ${start}`);
  }
}

/** Where native/build.mjs puts the addon. */
export function nativeAddonPath(): string {
  return join(findPackageRoot(), 'native', 'build', 'Release', 'shim6_native.node');
}

let addon: NativeAddon | undefined;

/** Loads the addon once; throws an `Error` that says how to build it when that fails. */
export function loadNative(): NativeAddon {
  if (addon !== undefined) return addon;
  const path = nativeAddonPath();
  if (!existsSync(path)) {
    throw new Error(`shim6_native addon not found at ${path}: run npm install (or node native/build.mjs) to build it`);
  }
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`shim6_native addon at ${path} does not load (${reason}): rebuild it with npm install (or node native/build.mjs)`);
  }
  return addon;
}

/** See `NativeAddon.cgaSearchChunk`. */
export function cgaSearchChunk(hash2Input: Uint8Array, sec: number, startModifier: Uint8Array, count: number): Uint8Array | null {
  return loadNative().cgaSearchChunk(hash2Input, sec, startModifier, count);
}

/**
 * Turns an error thrown by an addon I/O function into what src/io/ devices throw: an
 * `Error` with a string `code` (a failed system call) becomes a `DeviceError` with the
 * same code and message; anything else (a `TypeError` for a bad argument) is returned
 * unchanged. Use as `catch (error) { throw toDeviceError(error); }`.
 */
export function toDeviceError(error: unknown): unknown {
  if (error instanceof Error && !(error instanceof DeviceError) && !(error instanceof TypeError)) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return new DeviceError(code, error.message);
  }
  return error;
}
