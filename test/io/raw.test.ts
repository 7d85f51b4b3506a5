// Raw IPv6 sockets (src/io/raw.ts over native/src/raw.c and native/src/poll.c).
//
// In this process (no privileges needed): argument checking (TypeError).
// In network namespaces (root; see test/io/fixtures/netns.ts for the skip rule), through
// test/io/fixtures/raw-device.mjs. The sender test:
//
//   sender namespace S                                   peer namespace P
//   2001:db8:a0::1 a0 ──────────────────────────────── b0 2001:db8:a0::2
//   2001:db8:a1::1 a1 ──────────────────────────────── b1 2001:db8:a1::2   lo 2001:db8:b::1
//   2001:db8:a2::1 a2 ──────────────────────────────── b2 2001:db8:a2::2   nft: counter per bN
//
//   S rules: 100 not fwmark 0x5 → table 200 (blackhole 2001:db8:b::/64: "into the TUN")
//            200 from 2001:db8:a1::/64 → table 101 (default via a1)
//            201 from 2001:db8:a2::/64 → table 102 (default via a2)
//            main: 2001:db8:b::/64 via a0
//
// A packet from a1::1 must leave by a1 and one from a2::1 by a2 although the main table
// says a0: only the IPV6_PKTINFO source makes the from-rules match (a hdrincl socket's
// route lookup otherwise has source ::). With mark 5 the packets skip table 200; with
// mark 0 the blackhole refuses them all.
// The receive tests use one namespace with 2001:db8:c::1 and ::2 on lo.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNative } from '../../src/io/native.js';
import { IPPROTO_ICMPV6, openRawReceiver, openRawSender } from '../../src/io/raw.js';
import { IPPROTO_SHIM6 } from '../../src/wire/constants.js';
import { assertBuilt, exec, Namespaces, netnsUnavailable, nft, nftCounters, REQUIRE_NETNS, runFixture } from './fixtures/netns.js';

interface ThrownInfo {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
}

interface Received {
  readonly offset: number;
  readonly length: number;
  readonly src: string;
  readonly dst: string;
  readonly ifindex: number;
  readonly hopLimit: number;
  readonly tclass: number;
  readonly flowLabel: number;
  readonly payload: string;
}

describe('raw socket addon functions: arguments (no privileges needed)', () => {
  const addon = loadNative();
  const buffer = new Uint8Array(4 * 256);
  const offsets = new Int32Array(4);
  const lengths = new Int32Array(4);
  const addrs = new Uint8Array(4 * 32);
  const info = new Int32Array(4 * 4);
  const BAD_FD = 2 ** 31 - 1;

  it.each([
    ['a mark over 32 bits', () => addon.rawSenderOpen(2 ** 32)],
    ['a negative mark', () => addon.rawSenderOpen(-1)],
    ['protocol 0', () => addon.rawReceiverOpen(0, false)],
    ['protocol 255 (IPPROTO_RAW cannot receive)', () => addon.rawReceiverOpen(255, false)],
    ['icmpErrorsOnly for protocol 140', () => addon.rawReceiverOpen(IPPROTO_SHIM6, true)],
    ['icmpErrorsOnly not a boolean', () => addon.rawReceiverOpen(IPPROTO_ICMPV6, 'yes' as unknown as boolean)],
    ['rawSend with a packet outside the buffer', () => addon.rawSend(BAD_FD, buffer, Int32Array.of(1000), Int32Array.of(48), 1)],
    ['rawSend with count beyond lengths', () => addon.rawSend(BAD_FD, buffer, offsets, lengths, 9)],
    ['rawSend without arguments', () => (addon.rawSend as unknown as () => number)()],
    ['rawReceive with addrs too small', () => addon.rawReceive(BAD_FD, buffer, 256, 8, 4, offsets, lengths, new Uint8Array(127), info)],
    ['rawReceive with info too small', () => addon.rawReceive(BAD_FD, buffer, 256, 8, 4, offsets, lengths, addrs, new Int32Array(15))],
    ['rawReceive with info not an Int32Array', () => addon.rawReceive(BAD_FD, buffer, 256, 8, 4, offsets, lengths, addrs, new Float64Array(16) as unknown as Int32Array)],
    ['rawReceive with a slot size of 0', () => addon.rawReceive(BAD_FD, buffer, 0, 0, 4, offsets, lengths, addrs, info)],
  ])('throws TypeError for %s', (_what, call) => {
    expect(call).toThrow(TypeError);
  });

  it('the wrappers check their arguments before touching the kernel', () => {
    expect(() => openRawReceiver(IPPROTO_SHIM6, { icmpErrorsOnly: true })).toThrow(/requires protocol 58/);
    expect(() => openRawReceiver(256)).toThrow(TypeError);
    expect(() => openRawSender(0.5)).toThrow(TypeError);
  });

  it('a failed system call carries the errno name and the call', () => {
    expect(() => addon.rawReceive(BAD_FD, buffer, 256, 8, 4, offsets, lengths, addrs, info))
      .toThrow(expect.objectContaining({ code: 'EBADF', message: expect.stringMatching(/^rawReceive: recvmmsg:/) }));
    expect(() => addon.rawSend(BAD_FD, buffer, Int32Array.of(0), Int32Array.of(48), 1))
      .toThrow(expect.objectContaining({ code: 'EBADF', message: expect.stringMatching(/^rawSend: sendmmsg:/) }));
    // Packets shorter than an IPv6 header never reach the kernel.
    expect(addon.rawSend(BAD_FD, buffer, Int32Array.of(0), Int32Array.of(39), 1)).toBe(0);
  });
});

const unavailable = netnsUnavailable();
const skip = unavailable !== undefined && !REQUIRE_NETNS;

describe.skipIf(skip)(`raw IPv6 sockets in network namespaces${skip ? ` (skipped: ${unavailable})` : ''}`, () => {
  const namespaces = new Namespaces();
  let local = '';

  beforeAll(() => {
    if (unavailable !== undefined) throw new Error(`SHIM6_REQUIRE_NETNS=1 but ${unavailable}`);
    assertBuilt();
    local = namespaces.create();
    exec(local, 'ip', '-6', 'addr', 'add', '2001:db8:c::1/128', 'dev', 'lo', 'nodad');
    exec(local, 'ip', '-6', 'addr', 'add', '2001:db8:c::2/128', 'dev', 'lo', 'nodad');
  });
  afterAll(() => namespaces.deleteAll());

  /** Builds the two-namespace topology drawn at the top; returns [sender, peer]. */
  function senderTopology(): [string, string] {
    const s = namespaces.create();
    const p = namespaces.create();
    for (const i of [0, 1, 2]) {
      exec(s, 'ip', 'link', 'add', `a${i}`, 'type', 'veth', 'peer', 'name', `b${i}`);
      exec(s, 'ip', 'link', 'set', `b${i}`, 'netns', p);
      exec(s, 'ip', 'link', 'set', `a${i}`, 'up');
      exec(p, 'ip', 'link', 'set', `b${i}`, 'up');
      exec(s, 'ip', '-6', 'addr', 'add', `2001:db8:a${i}::1/64`, 'dev', `a${i}`, 'nodad');
      exec(p, 'ip', '-6', 'addr', 'add', `2001:db8:a${i}::2/64`, 'dev', `b${i}`, 'nodad');
      // A permanent neighbour entry: no resolution delay, no packets parked in its queue.
      const mac = (JSON.parse(exec(p, 'ip', '-j', 'link', 'show', `b${i}`)) as { address: string }[])[0]!.address;
      exec(s, 'ip', '-6', 'neigh', 'replace', `2001:db8:a${i}::2`, 'lladdr', mac, 'dev', `a${i}`, 'nud', 'permanent');
    }
    exec(p, 'ip', '-6', 'addr', 'add', '2001:db8:b::1/128', 'dev', 'lo', 'nodad');
    exec(s, 'ip', '-6', 'route', 'add', '2001:db8:b::/64', 'via', '2001:db8:a0::2');
    exec(s, 'ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:a1::2', 'table', '101');
    exec(s, 'ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:a2::2', 'table', '102');
    exec(s, 'ip', '-6', 'route', 'add', 'blackhole', '2001:db8:b::/64', 'table', '200');
    exec(s, 'ip', '-6', 'rule', 'add', 'pref', '100', 'not', 'fwmark', '0x5', 'lookup', '200');
    exec(s, 'ip', '-6', 'rule', 'add', 'pref', '200', 'from', '2001:db8:a1::/64', 'lookup', '101');
    exec(s, 'ip', '-6', 'rule', 'add', 'pref', '201', 'from', '2001:db8:a2::/64', 'lookup', '102');
    nft(p, `table ip6 s6io {
      counter b0 { }
      counter b1 { }
      counter b2 { }
      chain pre {
        type filter hook prerouting priority 0; policy accept;
        iifname "b0" ip6 nexthdr 140 counter name "b0"
        iifname "b1" ip6 nexthdr 140 counter name "b1"
        iifname "b2" ip6 nexthdr 140 counter name "b2"
      }
    }`);
    return [s, p];
  }

  /** Polls the peer's counters until they equal `expected` (packets are in flight briefly). */
  async function expectCounters(p: string, expected: Record<string, number>): Promise<void> {
    const deadline = Date.now() + 3000;
    let counts = nftCounters(p, 's6io');
    while (JSON.stringify(counts) !== JSON.stringify(expected) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      counts = nftCounters(p, 's6io');
    }
    expect(counts).toEqual(expected);
  }

  it('sendmmsg routes each packet by its IPV6_PKTINFO source; the mark bypasses the `not fwmark` rule', async () => {
    const [s, p] = senderTopology();
    // Mark 5: of the six mixed packets, the short one and the foreign source are skipped;
    // the a1/a2 sources leave by a1/a2 (not by the main table's a0), the a0 source by a0.
    // The 150-packet batch spans three sendmmsg calls.
    const marked = await runFixture<{ mixed: number; many: number }>(s, 'raw-device.mjs', 'send', '5');
    expect(marked).toEqual({ mixed: 4, many: 150 });
    await expectCounters(p, { b0: 1, b1: 2 + 75, b2: 1 + 75 });
    // Mark 0 falls into table 200, whose blackhole route refuses every packet (EINVAL).
    const unmarked = await runFixture<{ mixed: number; many: number }>(s, 'raw-device.mjs', 'send', '0');
    expect(unmarked).toEqual({ mixed: 0, many: 0 });
    await expectCounters(p, { b0: 1, b1: 77, b2: 76 });
  });

  it('receives protocol 140 with source, destination, hop limit, traffic class, flow label and payload', async () => {
    const r = await runFixture<{
      sent: number;
      fired: number;
      count: number;
      headroom: number;
      slotSize: number;
      packets: Received[];
      readAgain: number;
      closeAgain: ThrownInfo | null;
      readClosed: ThrownInfo;
      writeClosed: ThrownInfo;
    }>(local, 'raw-device.mjs', 'receive');
    expect(r.sent).toBe(3);
    expect(r.fired).toBe(1);
    expect(r.count).toBe(3);
    const loIndex = 1;
    const common = { src: '2001:db8:c::2', dst: '2001:db8:c::1', ifindex: loIndex };
    // The IPv6 header is gone: the data starts with the protocol's own header.
    expect(r.packets[0]).toEqual({
      ...common, offset: r.headroom, length: 16, hopLimit: 17, tclass: 0x28, flowLabel: 0x12345,
      payload: '3b0102030405060708090a0b0c0d0e0f',
    });
    // Traffic class and flow label 0: Linux sends no IPV6_FLOWINFO message, which is 0, not unknown.
    expect(r.packets[1]).toEqual({
      ...common, offset: r.slotSize + r.headroom, length: 24, hopLimit: 255, tclass: 0, flowLabel: 0,
      payload: '3ba1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7',
    });
    // 1000 octets do not fit a 464-octet slot: truncated, reported as -1.
    expect(r.packets[2]).toMatchObject({ ...common, offset: 2 * r.slotSize + r.headroom, length: -1, hopLimit: 64, flowLabel: 1 });
    expect(r.readAgain).toBe(0);
    expect(r.closeAgain).toBeNull();
    expect(r.readClosed).toMatchObject({ name: 'DeviceError', code: 'closed' });
    expect(r.writeClosed).toMatchObject({ name: 'DeviceError', code: 'closed' });
  });

  it('an ICMPv6 errors-only receiver gets the port unreachable and no echo traffic', async () => {
    const r = await runFixture<{
      echoSent: number;
      errorsOnly: { fired: number; count: number; packets: (Received & { type: number; code: number })[] };
      everything: { type: number; code: number }[];
    }>(local, 'raw-device.mjs', 'icmp');
    expect(r.echoSent).toBe(1);
    expect(r.errorsOnly.count).toBe(1);
    const unreachable = r.errorsOnly.packets[0]!;
    expect(unreachable).toMatchObject({ type: 1, code: 4, src: '2001:db8:c::1', dst: '2001:db8:c::1', hopLimit: 64 });
    // The error quotes the invoking packet: an IPv6 header with next header UDP (17).
    expect(unreachable.payload.slice(16 + 12, 16 + 14)).toBe('11');
    // Without the filter the same traffic includes the echo request and the kernel's reply.
    expect(r.everything).toEqual(expect.arrayContaining([{ type: 128, code: 0 }, { type: 129, code: 0 }, { type: 1, code: 4 }]));
  });

  it('poll callbacks get the global object as receiver; a throwing onReadable callback surfaces as an uncaught exception', async () => {
    const r = await runFixture<{
      sameFdTwice: ThrownInfo;
      receiverIsGlobal: boolean;
      stopAgain: ThrownInfo | null;
      stopUnknown: ThrownInfo | null;
      uncaught: ThrownInfo | null;
    }>(local, 'raw-device.mjs', 'poll');
    expect(r.receiverIsGlobal).toBe(true);
    expect(r.sameFdTwice).toMatchObject({ code: 'EEXIST', message: expect.stringMatching(/^pollStart: uv_poll_init/) });
    expect(r.stopAgain).toBeNull();
    expect(r.stopUnknown).toBeNull();
    expect(r.uncaught).toMatchObject({ message: 'thrown from onReadable' });
  });

  it('without privileges, raw sockets are a DeviceError EPERM', async () => {
    const r = await runFixture<{ uid: number; sender: ThrownInfo; receiver: ThrownInfo }>(local, 'raw-device.mjs', 'unprivileged');
    expect(r.uid).toBe(65534);
    expect(r.sender).toMatchObject({ name: 'DeviceError', code: 'EPERM', message: expect.stringMatching(/socket\(AF_INET6, SOCK_RAW, IPPROTO_RAW\)/) });
    expect(r.receiver).toMatchObject({ name: 'DeviceError', code: 'EPERM' });
  });
});
