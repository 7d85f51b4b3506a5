/**
 * A batch of packets in one preallocated buffer, the unit every device reads and writes.
 *
 * Slot i spans [i*slotSize, (i+1)*slotSize) of `buffer`. A device that reads into the
 * batch puts packet i at `offsets[i] = i*slotSize + headroom` with length `lengths[i]`
 * and sets `count`; the headroom lets the data plane grow a packet at the front in place
 * (an 8-octet Payload Extension header, or a 40-octet IPv6 header in front of what a raw
 * socket delivers). A device that writes the batch sends packets 0..count-1 from
 * `offsets[i]`, `lengths[i]`, which the data plane may have moved anywhere inside the
 * slot (or compacted from other slots). Nothing here allocates after construction.
 *
 * A packet too large for its slot is not cut short silently: the reading device reports
 * `lengths[i] = -1` for it, and the data plane counts it as malformed.
 *
 * Per-slot metadata, filled by the devices that know it:
 * - `addrs`: 32 octets per slot, the IPv6 source then destination address. Raw receive
 *   sockets fill it (the destination from IPV6_PKTINFO), because IPv6 raw sockets deliver
 *   the packet without its IPv6 header.
 * - `info`: INFO_STRIDE integers per slot: [INFO_IFINDEX] arrival interface,
 *   [INFO_HOP_LIMIT], [INFO_TCLASS] traffic class, [INFO_FLOW_LABEL] 20-bit flow label
 *   (-1 when the socket could not report it).
 * - `vnet`: VNET_HDR_LEN octets per slot, the virtio-net header of a TUN opened with
 *   IFF_VNET_HDR (struct virtio_net_hdr, little-endian fields): read from and written
 *   to the device alongside each packet.
 */
export const INFO_STRIDE = 4;
export const INFO_IFINDEX = 0;
export const INFO_HOP_LIMIT = 1;
export const INFO_TCLASS = 2;
export const INFO_FLOW_LABEL = 3;
export const ADDRS_STRIDE = 32;
/** sizeof(struct virtio_net_hdr) without the num_buffers field. */
export const VNET_HDR_LEN = 10;

export class PacketBatch {
  readonly buffer: Uint8Array;
  readonly capacity: number;
  readonly slotSize: number;
  readonly headroom: number;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  readonly addrs: Uint8Array;
  readonly info: Int32Array;
  readonly vnet: Uint8Array;
  /** Packets 0..count-1 are valid. */
  count = 0;

  constructor(capacity: number, slotSize: number, headroom: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 4096) throw new RangeError(`batch capacity must be 1-4096, got ${capacity}`);
    if (!Number.isInteger(headroom) || headroom < 0 || headroom % 8 !== 0) throw new RangeError(`headroom must be a non-negative multiple of 8, got ${headroom}`);
    if (!Number.isInteger(slotSize) || slotSize <= headroom + 40 || slotSize > 1 << 18) throw new RangeError(`slot size must exceed headroom + 40 and be at most 256 KiB, got ${slotSize}`);
    this.capacity = capacity;
    this.slotSize = slotSize;
    this.headroom = headroom;
    this.buffer = new Uint8Array(capacity * slotSize);
    this.offsets = new Int32Array(capacity);
    this.lengths = new Int32Array(capacity);
    this.addrs = new Uint8Array(capacity * ADDRS_STRIDE);
    this.info = new Int32Array(capacity * INFO_STRIDE);
    this.vnet = new Uint8Array(capacity * VNET_HDR_LEN);
    this.reset();
  }

  /** Empties the batch and points every slot's offset at its headroom. */
  reset(): void {
    this.count = 0;
    for (let i = 0; i < this.capacity; i++) {
      this.offsets[i] = i * this.slotSize + this.headroom;
      this.lengths[i] = 0;
    }
  }

  /** Largest packet a slot can receive: the slot minus its headroom. */
  get maxPacket(): number {
    return this.slotSize - this.headroom;
  }
}
