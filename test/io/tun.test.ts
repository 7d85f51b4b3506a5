// The TUN device (src/io/tun.ts over native/src/tun.c and native/src/poll.c).
//
// In this process (no privileges needed): argument checking of the addon's TUN and poll
// functions (TypeError), the offload bits, and errno → Error.code → DeviceError.
// In network namespaces (root; see test/io/fixtures/netns.ts for the skip rule), through
// test/io/fixtures/tun-device.mjs:
//
//   kernel stack ── 2001:db8:1::1/64 ── s6ioN (TUN) ── fixture: readBatch / writeBatch
//                   route 2001:db8:2::/64 dev s6ioN      (plays 2001:db8:2::2)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceError } from '../../src/io/device.js';
import { loadNative, toDeviceError } from '../../src/io/native.js';
import { openTun, TunOffload } from '../../src/io/tun.js';
import { assertBuilt, Namespaces, netnsUnavailable, REQUIRE_NETNS, runFixture } from './fixtures/netns.js';

interface ThrownInfo {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
}

interface UdpPacket {
  readonly slot: number;
  readonly offset: number;
  readonly length: number;
  readonly src: string;
  readonly dst: string;
  readonly dstPort: number;
  readonly payload: string;
  readonly vnet: number[];
}

interface Delivered {
  readonly accepted: number;
  readonly received: { payload: string; address: string; port: number } | null;
}

describe('TUN addon functions: arguments and errors (no privileges needed)', () => {
  const addon = loadNative();
  const buffer = new Uint8Array(4 * 256);
  const offsets = new Int32Array(4);
  const lengths = new Int32Array(4);
  const BAD_FD = 2 ** 31 - 1;

  it('exports the TUN_F_* bits as tunOffloads, equal to TunOffload', () => {
    expect({ ...addon.tunOffloads }).toEqual({ ...TunOffload });
    expect(Object.isFrozen(addon.tunOffloads)).toBe(true);
  });

  it.each([
    ['a name over 15 octets', () => addon.tunOpen('x'.repeat(16), false, false, 0)],
    ['a name that is not a string', () => addon.tunOpen(7 as unknown as string, false, false, 0)],
    ['vnetHdr not a boolean', () => addon.tunOpen('', 1 as unknown as boolean, false, 0)],
    ['unknown offload bits', () => addon.tunOpen('', true, false, 0x80)],
    ['offloads without vnetHdr', () => addon.tunOpen('', false, false, TunOffload.CSUM)],
    ['too few arguments', () => (addon.tunOpen as unknown as (name: string) => unknown)('')],
    ['a negative fd', () => addon.tunRead(-1, buffer, 256, 8, 4, offsets, lengths, null)],
    ['a fractional fd', () => addon.tunRead(1.5, buffer, 256, 8, 4, offsets, lengths, null)],
    ['a buffer that is not a Uint8Array', () => addon.tunRead(BAD_FD, new Int32Array(256) as unknown as Uint8Array, 256, 8, 4, offsets, lengths, null)],
    ['headroom not below the slot size', () => addon.tunRead(BAD_FD, buffer, 256, 256, 4, offsets, lengths, null)],
    ['capacity beyond the buffer', () => addon.tunRead(BAD_FD, buffer, 256, 8, 5, new Int32Array(5), new Int32Array(5), null)],
    ['offsets shorter than capacity', () => addon.tunRead(BAD_FD, buffer, 256, 8, 4, new Int32Array(3), lengths, null)],
    ['lengths not an Int32Array', () => addon.tunRead(BAD_FD, buffer, 256, 8, 4, offsets, new Uint32Array(4) as unknown as Int32Array, null)],
    ['a vnet array too small', () => addon.tunRead(BAD_FD, buffer, 256, 8, 4, offsets, lengths, new Uint8Array(39))],
    ['a packet outside the buffer', () => addon.tunWrite(BAD_FD, buffer, Int32Array.of(1000), Int32Array.of(100), 1, null)],
    ['a negative packet length', () => addon.tunWrite(BAD_FD, buffer, Int32Array.of(0), Int32Array.of(-1), 1, null)],
    ['count beyond offsets', () => addon.tunWrite(BAD_FD, buffer, offsets, lengths, 5, null)],
    ['pollStart without a function', () => addon.pollStart(0, 'callback' as unknown as () => void)],
    ['pollStop with a non-integer handle', () => addon.pollStop(0.5)],
    ['closeFd with a string', () => addon.closeFd('3' as unknown as number)],
  ])('throws TypeError for %s', (_what, call) => {
    expect(call).toThrow(TypeError);
  });

  it('openTun checks its options before touching the kernel', () => {
    expect(() => openTun({ name: 'much-too-long-name' })).toThrow(TypeError);
    expect(() => openTun({ offloads: TunOffload.TSO6 })).toThrow(/offloads require vnetHdr/);
  });

  it('a failed system call throws an Error whose code is the errno name and whose message names the call', () => {
    const read = (() => {
      try {
        addon.tunRead(BAD_FD, buffer, 256, 8, 4, offsets, lengths, null);
      } catch (error) {
        return error as Error & { code?: string };
      }
      return undefined;
    })();
    expect(read).toBeInstanceOf(Error);
    expect(read).not.toBeInstanceOf(TypeError);
    expect(read?.code).toBe('EBADF');
    expect(read?.message).toMatch(/^tunRead: readv: .* \(EBADF\)$/);
    expect(addon.tunWrite(BAD_FD, buffer, offsets, lengths, 0, null)).toBe(0);
    expect(() => addon.tunWrite(BAD_FD, buffer, Int32Array.of(0), Int32Array.of(40), 1, null)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => addon.closeFd(BAD_FD)).toThrow(expect.objectContaining({ code: 'EBADF', message: expect.stringMatching(/^closeFd: close:/) }));
    expect(() => addon.pollStart(BAD_FD, () => {})).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('toDeviceError turns coded Errors into DeviceError and leaves TypeErrors alone', () => {
    const coded = Object.assign(new Error('tunOpen: ioctl(TUNSETIFF): Operation not permitted (EPERM)'), { code: 'EPERM' });
    const mapped = toDeviceError(coded);
    expect(mapped).toBeInstanceOf(DeviceError);
    expect(mapped).toMatchObject({ code: 'EPERM', message: coded.message, name: 'DeviceError' });
    const typeError = new TypeError('bad');
    expect(toDeviceError(typeError)).toBe(typeError);
    expect(toDeviceError('text')).toBe('text');
  });
});

const unavailable = netnsUnavailable();
const skip = unavailable !== undefined && !REQUIRE_NETNS;

describe.skipIf(skip)(`TUN device in a network namespace${skip ? ` (skipped: ${unavailable})` : ''}`, () => {
  const namespaces = new Namespaces();

  beforeAll(() => {
    if (unavailable !== undefined) throw new Error(`SHIM6_REQUIRE_NETNS=1 but ${unavailable}`);
    assertBuilt();
  });
  afterAll(() => namespaces.deleteAll());

  it('reads routed datagrams in one batch, writes a batch to a local socket, reports truncation and a deleted device', async () => {
    const r = await runFixture<{
      name: string;
      vnetHdr: boolean;
      read: { fired: number; count: number; udp: UdpPacket[]; headroom: number; slotSize: number };
      readAgain: number;
      write: Delivered;
      truncation: { lengths: number[]; udp: string[] };
      afterDelete: { read: ThrownInfo; write: ThrownInfo; isDeviceError: boolean };
      closeAgain: ThrownInfo | null;
      readClosed: ThrownInfo;
      writeClosed: ThrownInfo;
      onReadableClosed: ThrownInfo;
    }>(namespaces.create(), 'tun-device.mjs', 'read-write');

    expect(r.name).toMatch(/^s6io\d+$/);
    expect(r.vnetHdr).toBe(false);
    // onReadable fired, and all five datagrams were waiting for the one readBatch.
    expect(r.read.fired).toBe(1);
    expect(r.read.udp.map((p) => p.payload)).toEqual(['datagram-0', 'datagram-1', 'datagram-2', 'datagram-3', 'datagram-4']);
    expect(r.read.count).toBeGreaterThanOrEqual(5);
    for (const p of r.read.udp) {
      expect(p).toMatchObject({ src: '2001:db8:1::1', dst: '2001:db8:2::2', dstPort: 9999, length: 48 + 10 });
      expect(p.offset).toBe(p.slot * r.read.slotSize + r.read.headroom);
    }
    expect(r.readAgain).toBe(0);

    // The garbage packet (version nibble 0) was refused, the datagram after it delivered.
    expect(r.write).toEqual({ accepted: 1, received: { payload: 'from-the-tun', address: '2001:db8:2::2', port: 7777 } });

    expect(r.truncation).toEqual({ lengths: [-1, 53], udp: ['small'] });

    expect(r.afterDelete.isDeviceError).toBe(true);
    expect(r.afterDelete.read).toMatchObject({ name: 'DeviceError', code: 'EBADFD', message: expect.stringMatching(/tunRead: readv/) });
    expect(r.afterDelete.write).toMatchObject({ name: 'DeviceError', code: 'EBADFD', message: expect.stringMatching(/tunWrite: write/) });
    expect(r.closeAgain).toBeNull();
    for (const closed of [r.readClosed, r.writeClosed, r.onReadableClosed]) expect(closed).toMatchObject({ name: 'DeviceError', code: 'closed' });
  });

  it('with IFF_VNET_HDR, each packet comes with its virtio-net header and a zero header writes a plain packet', async () => {
    const r = await runFixture<{ name: string; vnetHdr: boolean; read: { fired: number; udp: UdpPacket[] }; write: Delivered }>(
      namespaces.create(), 'tun-device.mjs', 'vnet');
    expect(r.vnetHdr).toBe(true);
    expect(r.read.udp.map((p) => p.payload)).toEqual(['vnet-0', 'vnet-1', 'vnet-2']);
    for (const p of r.read.udp) {
      expect(p.length).toBe(48 + 6);
      // struct virtio_net_hdr: flags NEEDS_CSUM (TUN_F_CSUM), gso_type NONE, hdr_len 0,
      // gso_size 0, csum_start 40 (the UDP header), csum_offset 6 (its checksum field).
      expect(p.vnet).toEqual([1, 0, 0, 0, 0, 0, 40, 0, 6, 0]);
    }
    expect(r.write).toEqual({ accepted: 1, received: { payload: 'vnet-write', address: '2001:db8:2::2', port: 7777 } });
  });

  it('with TSO6, a bulk TCP send is read as GSO super-packets', async () => {
    const r = await runFixture<{
      accepted: number;
      segments: { length: number; payloadLength: number; gsoType: number; gsoSize: number; flags: number; csumStart: number; csumOffset: number }[];
    }>(namespaces.create(), 'tun-device.mjs', 'tso');
    expect(r.accepted).toBe(1);
    const supers = r.segments.filter((s) => s.length > 1500);
    expect(supers.length).toBeGreaterThan(0);
    for (const s of supers) {
      // VIRTIO_NET_HDR_GSO_TCPV6 = 4, segments of the MSS the SYN-ACK announced.
      expect(s).toMatchObject({ gsoType: 4, gsoSize: 1400, flags: 1, csumStart: 40, csumOffset: 16 });
      expect(s.payloadLength).toBe(s.length - 40);
    }
  });

  it('multi-queue opens share one device; a busy or non-TUN name is a DeviceError', async () => {
    const r = await runFixture<{ names: string[]; busy: ThrownInfo; notTun: ThrownInfo }>(namespaces.create(), 'tun-device.mjs', 'queues');
    expect(r.names[0]).toMatch(/^s6mq\d+$/);
    expect(r.names[1]).toBe(r.names[0]);
    expect(r.busy).toMatchObject({ name: 'DeviceError', code: 'EBUSY', message: expect.stringMatching(/ioctl\(TUNSETIFF\)/) });
    expect(r.notTun).toMatchObject({ name: 'DeviceError', code: 'EINVAL' });
  });

  it('without privileges, opening a TUN is a DeviceError with the errno name', async () => {
    const r = await runFixture<{ uid: number; open: ThrownInfo }>(namespaces.create(), 'tun-device.mjs', 'unprivileged');
    expect(r.uid).toBe(65534);
    expect(r.open.name).toBe('DeviceError');
    // /dev/net/tun may be closed to others (EACCES at open) or open (EPERM at TUNSETIFF).
    expect(['EPERM', 'EACCES']).toContain(r.open.code);
  });
});
