/**
 * TCP retransmission detection on egress: an upper-layer hint for REAP (RFC 5534 §3.3,
 * "negative feedback from upper layers", e.g. TCP not getting its data acknowledged).
 * A flow that keeps re-sending sequence space it has already sent is a sign that the
 * current path is not delivering; REAP decides what to do with that, this module only
 * reports it per packet.
 *
 * Per flow <source, destination, source port, destination port> it remembers the
 * highest segment end sent, SEG.SEQ + SEG.LEN where SEG.LEN counts SYN and FIN (RFC 9293
 * §3.4), and compares ends modulo 2^32 (RFC 9293 §3.4's sequence arithmetic, in the
 * serial-number style of RFC 1982 §3.2): a segment ending past that point is New (even
 * when it also re-sends older octets), one ending at or before it is a Retransmit.
 * Segments that occupy no sequence space (pure ACKs, window probes of zero length) and
 * RSTs are Ignored and leave the table alone.
 *
 * Leaves out: fragments (any Fragment header, atomic ones included: the segment length
 * is not known from the first fragment alone), AH and ESP (TCP behind them is NotTcp),
 * jumbograms (RFC 2675), checksum verification, and per-flow time: a flow's state lives
 * until its slot is taken by another flow.
 *
 * Deliberate deviation from "a SYN resets the flow": a SYN resets it only when it names
 * a different initial sequence number from the SYN the flow started with. The same ISN
 * is the same connection (RFC 9293 §3.4.1: a new incarnation picks a new ISN), so a
 * re-sent SYN or SYN-ACK, the first sign that a path failed during the handshake,
 * is reported as a Retransmit instead of being mistaken for a new connection.
 *
 * The table: `capacity` slots (a power of two) in preallocated typed arrays, open
 * addressing over a window of PROBE_WINDOW slots from the hash. Slots are never freed
 * one by one (only `clear` empties them), so a lookup can stop at the first empty slot.
 * A new flow takes the first empty slot of its window, or else replaces the least
 * recently used flow in the window. Every hit is confirmed against the full 36-octet
 * key, so a hash collision never mixes two flows.
 *
 * `observeEgress` reads bytes and writes typed arrays only: no allocation, never throws.
 */
import { readU32 } from '../wire/bytes.js';
import { IPPROTO_SHIM6, IPV6_HEADER_LEN, PAYLOAD_HEADER_LEN } from '../wire/constants.js';
import { IPPROTO_DSTOPTS, IPPROTO_HOPOPTS, IPPROTO_ROUTING } from '../wire/exthdr.js';
import { ipv6PacketLength } from '../wire/ipv6.js';
import { hashUlidPair } from './fastpath.js';

/** IP protocol number of TCP (RFC 9293 §3.1). */
export const IPPROTO_TCP = 6;
/** Minimum TCP header: Data Offset 5 (RFC 9293 §3.1). */
export const TCP_HEADER_MIN = 20;
/** TCP control bits (RFC 9293 §3.1). */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;

/** What `observeEgress` saw. */
export const RetransmitVerdict = { NotTcp: 0, New: 1, Retransmit: 2, Ignored: 3 } as const;
export type RetransmitVerdict = (typeof RetransmitVerdict)[keyof typeof RetransmitVerdict];

/** Slots one flow may occupy from its hash (fewer when the table is smaller). */
export const PROBE_WINDOW = 8;
export const DEFAULT_CAPACITY = 4096;
/** Largest table: 53 octets a slot, so 2^22 slots is about 220 MB of typed arrays. */
export const MAX_CAPACITY = 1 << 22;

/** Uint32 words per key: 4 + 4 address words, one word of ports. */
const KEY_WORDS = 9;
/** Extension headers walked before giving up (as `locateShim6` does). */
const MAX_EXT_HEADERS = 64;

const SLOT_USED = 1;
/** The flow's `isn` holds the sequence number of the SYN that started it. */
const SLOT_SYN = 2;

/** True when a > b in sequence space (RFC 9293 §3.4; RFC 1982 §3.2 for 32-bit serials). */
function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

export class RetransmitDetector {
  readonly capacity: number;
  private readonly mask: number;
  private readonly window: number;
  /** Per slot: SLOT_USED | SLOT_SYN, 0 when empty. */
  private readonly flags: Uint8Array;
  private readonly fingerprint: Uint32Array;
  /** KEY_WORDS per slot: source, destination, (source port << 16) | destination port. */
  private readonly keys: Uint32Array;
  /** Highest SEG.SEQ + SEG.LEN sent, mod 2^32. */
  private readonly highEnd: Uint32Array;
  private readonly isn: Uint32Array;
  /** Value of `clock` when the slot was last looked up: the eviction order. */
  private readonly lastUsed: Uint32Array;
  private clock = 0;
  private used = 0;

  /** `capacity`: number of flow slots, rounded up to a power of two (default 4096), fixed at construction; memory is preallocated typed arrays. */
  constructor(capacity: number = DEFAULT_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${String(capacity)}`);
    if (capacity > MAX_CAPACITY) throw new RangeError(`capacity must be at most ${MAX_CAPACITY}, got ${capacity}`);
    let size = 1;
    while (size < capacity) size *= 2;
    this.capacity = size;
    this.mask = size - 1;
    this.window = Math.min(PROBE_WINDOW, size);
    this.flags = new Uint8Array(size);
    this.fingerprint = new Uint32Array(size);
    this.keys = new Uint32Array(size * KEY_WORDS);
    this.highEnd = new Uint32Array(size);
    this.isn = new Uint32Array(size);
    this.lastUsed = new Uint32Array(size);
  }

  /** Flow slots in use. */
  get size(): number {
    return this.used;
  }

  /** Forget every flow. */
  clear(): void {
    this.flags.fill(0);
    this.used = 0;
    this.clock = 0;
  }

  /**
   * Observe an outgoing IPv6 packet (IPv6 header at `off`, `len` octets). NotTcp for
   * anything that is not a whole TCP segment or is malformed; Ignored for RST and for
   * segments that occupy no sequence space; New when the segment's end advances past
   * the flow's highest end (or the flow is new); Retransmit when it does not.
   */
  observeEgress(b: Uint8Array, off: number, len: number): RetransmitVerdict {
    if ((off >>> 0) !== off || (len >>> 0) !== len || off + len > b.length) return RetransmitVerdict.NotTcp;
    const total = ipv6PacketLength(b, off, len);
    if (total < 0) return RetransmitVerdict.NotTcp;
    const end = off + total; // octets past Payload Length are not the packet's

    // RFC 8200 §4: step over the extension headers that may precede TCP.
    let nh = b[off + 6]!;
    let pos = off + IPV6_HEADER_LEN;
    for (let n = 0; nh !== IPPROTO_TCP; n++) {
      if (n >= MAX_EXT_HEADERS) return RetransmitVerdict.NotTcp;
      if (nh === IPPROTO_HOPOPTS || nh === IPPROTO_ROUTING || nh === IPPROTO_DSTOPTS) {
        if (pos + 2 > end) return RetransmitVerdict.NotTcp;
      } else if (nh === IPPROTO_SHIM6) {
        // RFC 5533 §5.2: a Payload Extension header (P = 1) may precede the upper layer;
        // a control message (P = 0) carries no TCP.
        if (pos + PAYLOAD_HEADER_LEN > end || (b[pos + 2]! & 0x80) === 0) return RetransmitVerdict.NotTcp;
      } else {
        return RetransmitVerdict.NotTcp; // Fragment, AH, ESP, No Next Header, another protocol
      }
      const hl = (b[pos + 1]! + 1) * 8;
      if (pos + hl > end) return RetransmitVerdict.NotTcp;
      nh = b[pos]!;
      pos += hl;
    }

    // RFC 9293 §3.1: the TCP header, Data Offset in 32-bit words.
    if (pos + TCP_HEADER_MIN > end) return RetransmitVerdict.NotTcp;
    const dataOffset = (b[pos + 12]! >>> 4) * 4;
    if (dataOffset < TCP_HEADER_MIN || pos + dataOffset > end) return RetransmitVerdict.NotTcp;
    const ctl = b[pos + 13]!;
    const syn = (ctl & TCP_SYN) !== 0 ? 1 : 0;
    const segLen = end - pos - dataOffset + syn + (ctl & TCP_FIN);
    if ((ctl & TCP_RST) !== 0 || segLen === 0) return RetransmitVerdict.Ignored;
    const seq = readU32(b, pos + 4);
    const segEnd = (seq + segLen) >>> 0;

    const ports = readU32(b, pos);
    let h = hashUlidPair(b, off + 8, b, off + 24);
    h = Math.imul(h ^ ports, 0x9e3779b1);
    h = (h ^ (h >>> 15)) >>> 0;
    const slot = this.find(h, b, off, ports);
    this.clock = (this.clock + 1) >>> 0;
    if (slot >= 0) {
      this.lastUsed[slot] = this.clock;
      // A SYN with another ISN is a new connection on the same ports (see the module comment).
      if (syn === 0 || ((this.flags[slot]! & SLOT_SYN) !== 0 && this.isn[slot] === seq)) {
        if (!seqGt(segEnd, this.highEnd[slot]!)) return RetransmitVerdict.Retransmit;
        this.highEnd[slot] = segEnd;
        return RetransmitVerdict.New;
      }
      this.flags[slot] = SLOT_USED | SLOT_SYN;
      this.isn[slot] = seq;
      this.highEnd[slot] = segEnd;
      return RetransmitVerdict.New;
    }
    const s = this.place(h);
    this.flags[s] = syn === 0 ? SLOT_USED : SLOT_USED | SLOT_SYN;
    this.fingerprint[s] = h;
    const k = s * KEY_WORDS;
    for (let i = 0; i < 4; i++) {
      this.keys[k + i] = readU32(b, off + 8 + 4 * i);
      this.keys[k + 4 + i] = readU32(b, off + 24 + 4 * i);
    }
    this.keys[k + 8] = ports;
    this.isn[s] = seq;
    this.highEnd[s] = segEnd;
    this.lastUsed[s] = this.clock;
    return RetransmitVerdict.New;
  }

  /** The slot of the flow with hash `h` and the key in the packet at `off`, or -1. */
  private find(h: number, b: Uint8Array, off: number, ports: number): number {
    const keys = this.keys;
    for (let i = 0; i < this.window; i++) {
      const s = (h + i) & this.mask;
      if (this.flags[s] === 0) return -1; // slots only empty all at once: the flow is not further on
      if (this.fingerprint[s] !== h) continue;
      const k = s * KEY_WORDS;
      if (keys[k + 8] !== ports) continue;
      let same = true;
      for (let w = 0; w < 4 && same; w++) {
        same = keys[k + w] === readU32(b, off + 8 + 4 * w) && keys[k + 4 + w] === readU32(b, off + 24 + 4 * w);
      }
      if (same) return s;
    }
    return -1;
  }

  /** A slot for a new flow with hash `h`: the first empty one in its window, else the least recently used. */
  private place(h: number): number {
    let oldest = h & this.mask;
    let oldestAge = -1;
    for (let i = 0; i < this.window; i++) {
      const s = (h + i) & this.mask;
      if (this.flags[s] === 0) {
        this.used++;
        return s;
      }
      const age = (this.clock - this.lastUsed[s]!) >>> 0; // modular: survives the clock's wrap
      if (age > oldestAge) {
        oldestAge = age;
        oldest = s;
      }
    }
    return oldest;
  }
}
