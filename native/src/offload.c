/*
 * TCP/IPv6 segmentation and coalescing in userspace (GSO and GRO), and checksum
 * completion: the pure-compute kernels between a TUN opened with IFF_VNET_HDR and
 * TUNSETOFFLOAD (CSUM | TSO6) and the raw sockets, exported to JavaScript as
 *
 *   tcpSegment(inBuf, inOff, inLen, vnet, vnetOff, outBuf, outSlotSize, outHeadroom,
 *              outFirstSlot, outCapacity, outOffsets, outLengths) -> count | -1
 *   checksumComplete(buf, off, len, csumStart, csumOffset) -> boolean
 *   tcpCoalesce(inBuf, inOffsets, inLengths, inCount, outBuf, outSlotSize, outHeadroom,
 *               outCapacity, outOffsets, outLengths, outVnet) -> count | -1
 *   virtio: { NEEDS_CSUM, DATA_VALID, GSO_NONE, GSO_TCPV4, GSO_UDP, GSO_TCPV6, GSO_ECN,
 *             HDR_LEN }
 *
 * Why here (LINUX-FACTS.md): the kernel has no offload handler for next header 140, so
 * it neither segments nor merges packets that carry a Shim6 header, and a raw socket
 * cannot send a GSO packet. Egress therefore cuts each TSO super-packet the TUN hands up
 * into wire-sized segments before the 8-octet header goes in; ingress merges the
 * restored segments of a flow back into super-packets so the TUN takes one write per
 * ~64 KiB instead of one per segment (as wireguard-go's tun/offload_linux.go does).
 * No system calls, no allocation: a call reads one buffer and writes another.
 *
 * The virtio-net header (struct virtio_net_hdr, linux/virtio_net.h, little-endian for
 * TUN): flags, gso_type, hdr_len, gso_size, csum_start, csum_offset. What the kernel
 * does with it, and so what these functions produce and accept:
 *
 * - NEEDS_CSUM means CHECKSUM_PARTIAL: the checksum field at csum_start + csum_offset
 *   holds the one's-complement sum of the pseudo-header, folded and NOT complemented
 *   (what __tcp_v6_send_check leaves there); whoever completes it sums from csum_start
 *   to the end, folds, complements and stores (skb_checksum_help, which writes 0xffff
 *   for a result of 0). That is `checksumComplete`.
 * - On read (virtio_net_hdr_from_skb), hdr_len is only "a hint as to how much should
 *   be linear" (skb_headlen), not the header length: tcpSegment ignores it and takes
 *   the header length from the TCP data offset. csum_start is reliable for
 *   CHECKSUM_PARTIAL packets; tcpSegment still walks the IPv6 extension headers and
 *   requires the two to agree.
 * - On write (virtio_net_hdr_to_skb), a TCPV6 header needs gso_size != 0, and with
 *   NEEDS_CSUM csum_offset 16; a packet whose payload is not larger than gso_size is
 *   "not really GSO" and goes up as a plain packet. The kernel segments (when it
 *   forwards) with tcp_gso_segment, which adjusts the partial sum by the difference
 *   between the super-packet's TCP length and each segment's, so the partial sum must
 *   cover the merged TCP length: tcpCoalesce writes exactly that. A super-packet
 *   delivered locally is not checksummed again (CHECKSUM_PARTIAL counts as verified),
 *   which is why tcpCoalesce verifies every segment it merges and leaves a segment with
 *   a bad checksum unmerged, for the kernel to drop.
 * - DATA_VALID is ignored on write by tun (virtio_net_hdr_to_skb does not read it), so
 *   packets tcpCoalesce does not merge go out with an all-zero header and the kernel
 *   verifies them itself.
 *
 * Segmentation follows tcp_gso_segment: every segment gets the headers (IPv6, extension
 * headers, TCP with options), its own Payload Length, the sequence number advanced by
 * the payload before it, FIN and PSH only on the last, CWR only on the first, and a full
 * checksum. Coalescing is its inverse on a batch, so segmenting a merged packet gives back
 * the merged segments byte for byte; see tcp_coalesce for the merge rules.
 *
 * Checksums are summed in memory order (native loads of network-order octets, 32 bits at
 * a time into 64), the fold of which, stored back with a native store, is the
 * network-order one's-complement sum (RFC 1071 §2(B), byte-order independence).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "addon.h"

#define VNET_HDR_LEN 10
#define IPV6_HDR_LEN 40
#define TCP_MIN_HDR_LEN 20
#define TCP_CHECK_OFFSET 16
#define IPPROTO_TCP_NUMBER 6

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80

/* Largest coalesced IPv6 packet, header included (the kernel's GRO stops at 64 KiB). */
#define MAX_COALESCED 65535
/* Flows with an open super-packet that tcpCoalesce tracks at once. */
#define FLOW_TABLE_SIZE 32
/* Extension headers tcpSegment walks before giving up. */
#define MAX_EXTENSION_HEADERS 8

static inline uint16_t get_be16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put_be16(uint8_t *p, size_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static inline size_t get_le16(const uint8_t *p) {
  return (size_t)p[0] | (size_t)p[1] << 8;
}

static inline void put_le16(uint8_t *p, size_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

/*
 * Adds n octets at p to a memory-order sum. The octets must start at an even offset
 * from the start of the checksummed data; an odd last octet is padded with zero.
 */
static inline uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t word;
    memcpy(&word, p + i, 4);
    sum += word;
  }
  if (i + 2 <= n) {
    uint16_t half;
    memcpy(&half, p + i, 2);
    sum += half;
    i += 2;
  }
  if (i < n) {
    const uint8_t last[2] = {p[i], 0};
    uint16_t half;
    memcpy(&half, last, 2);
    sum += half;
  }
  return sum;
}

/* csum_add that also copies the octets to dst (one pass over the data). */
static inline uint64_t csum_copy(uint8_t *restrict dst, const uint8_t *restrict src, size_t n,
                                 uint64_t sum) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t word;
    memcpy(&word, src + i, 4);
    memcpy(dst + i, &word, 4);
    sum += word;
  }
  if (i < n) {
    memcpy(dst + i, src + i, n - i);
    sum = csum_add(sum, src + i, n - i);
  }
  return sum;
}

/* A 32-bit network-order value (pseudo-header length, next header) in memory order. */
static inline uint64_t csum_be32(uint32_t value) {
  return htonl(value);
}

/* Folds a memory-order sum to 16 bits (not complemented). */
static inline uint16_t csum_fold(uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return (uint16_t)sum;
}

static inline void csum_store(uint8_t *p, uint16_t memory_order) {
  memcpy(p, &memory_order, 2);
}

/* The pseudo-header (RFC 8200 §8.1) of an IPv6 packet at p for a TCP length. */
static inline uint64_t pseudo_sum(uint64_t addresses, size_t tcp_length) {
  return addresses + csum_be32((uint32_t)tcp_length) + csum_be32(IPPROTO_TCP_NUMBER);
}

/* Finishes a partial checksum in place: the region from `start` includes the field. */
static void complete_checksum(uint8_t *p, size_t len, size_t start, size_t offset) {
  uint16_t check = (uint16_t)~csum_fold(csum_add(0, p + start, len - start));
  /* skb_checksum_help: a sum of 0 is sent as 0xffff (CSUM_MANGLED_0, same value). */
  csum_store(p + start + offset, check == 0 ? 0xffff : check);
}

static inline uint8_t *slot_packet(const shim6_slots *out, size_t slot) {
  return out->buffer + slot * out->slot_size + out->headroom;
}

static inline void set_slot(const shim6_slots *out, size_t slot, size_t length) {
  out->offsets[slot] = (int32_t)(slot * out->slot_size + out->headroom);
  out->lengths[slot] = (int32_t)length;
}

/*
 * Offset of the TCP header: after the IPv6 header and any Hop-by-Hop, Routing,
 * Destination Options or Authentication headers (RFC 8200 §4, RFC 4302 §2.2). 0 when the
 * chain does not end at TCP (a Fragment header included: no GSO packet has one).
 */
static size_t find_tcp(const uint8_t *p, size_t len) {
  uint8_t next = p[6];
  size_t off = IPV6_HDR_LEN;
  for (int i = 0; i <= MAX_EXTENSION_HEADERS; i++) {
    if (next == IPPROTO_TCP_NUMBER) return off;
    if (off + 8 > len) return 0;
    switch (next) {
      case 0:  /* Hop-by-Hop Options */
      case 43: /* Routing */
      case 60: /* Destination Options */
        next = p[off];
        off += ((size_t)p[off + 1] + 1) * 8;
        break;
      case 51: /* Authentication Header: length in 4-octet units, minus 2 */
        next = p[off];
        off += ((size_t)p[off + 1] + 2) * 4;
        break;
      default:
        return 0;
    }
  }
  return 0;
}

/* A fixed IPv6 header whose Payload Length matches the packet's length. */
static inline bool ipv6_whole(const uint8_t *p, size_t len) {
  return len >= IPV6_HDR_LEN && p[0] >> 4 == 6 && get_be16(p + 4) == len - IPV6_HDR_LEN;
}

/*
 * tcpSegment's work: see the top of this file and src/io/native.ts. Returns the number of
 * packets written to slots first.., or -1 for a malformed packet or one that does not fit.
 */
static int segment_packet(const uint8_t *p, size_t len, const uint8_t *vnet,
                          const shim6_slots *out, size_t first) {
  const uint8_t flags = vnet[0], gso_type = vnet[1];
  const size_t gso_size = get_le16(vnet + 4);
  const size_t csum_start = get_le16(vnet + 6), csum_offset = get_le16(vnet + 8);
  const size_t room = out->slot_size - out->headroom;
  if (!ipv6_whole(p, len) || first >= out->capacity) return -1;

  if (gso_type == VIRTIO_NET_HDR_GSO_NONE) {
    if (len > room) return -1;
    if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
        (csum_start < IPV6_HDR_LEN || csum_start + csum_offset + 2 > len)) {
      return -1;
    }
    uint8_t *o = slot_packet(out, first);
    memcpy(o, p, len);
    if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) complete_checksum(o, len, csum_start, csum_offset);
    set_slot(out, first, len);
    return 1;
  }

  if ((gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_TCPV6 || gso_size == 0) return -1;
  const size_t thoff = find_tcp(p, len);
  if (thoff == 0 || thoff + TCP_MIN_HDR_LEN > len) return -1;
  if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
      (csum_start != thoff || csum_offset != TCP_CHECK_OFFSET)) {
    return -1;
  }
  const size_t thlen = (size_t)(p[thoff + 12] >> 4) * 4;
  if (thlen < TCP_MIN_HDR_LEN || thoff + thlen > len) return -1;
  const size_t headers = thoff + thlen;
  const size_t payload = len - headers;
  const size_t count = payload == 0 ? 1 : (payload + gso_size - 1) / gso_size;
  if (count > out->capacity - first) return -1;
  if (headers + (payload < gso_size ? payload : gso_size) > room) return -1;

  const uint64_t addresses = csum_add(0, p + 8, 32);
  const uint32_t seq = get_be32(p + thoff + 4);
  const uint8_t tcp_flags = p[thoff + 13];
  const uint8_t *data = p + headers;
  for (size_t k = 0; k < count; k++) {
    const size_t n = k + 1 < count ? gso_size : payload - k * gso_size;
    uint8_t *o = slot_packet(out, first + k);
    memcpy(o, p, headers);
    put_be16(o + 4, headers + n - IPV6_HDR_LEN);
    uint8_t *th = o + thoff;
    put_be32(th + 4, seq + (uint32_t)(k * gso_size));
    uint8_t f = tcp_flags;
    if (k + 1 < count) f &= (uint8_t)~(TCP_FIN | TCP_PSH);
    if (k > 0) f &= (uint8_t)~TCP_CWR;
    th[13] = f;
    th[16] = th[17] = 0;
    uint64_t sum = csum_add(pseudo_sum(addresses, thlen + n), th, thlen);
    sum = csum_copy(o + headers, data + k * gso_size, n, sum);
    csum_store(th + TCP_CHECK_OFFSET, (uint16_t)~csum_fold(sum));
    set_slot(out, first + k, headers + n);
  }
  return (int)count;
}

/* A flow with a super-packet still open for merging (tcpCoalesce). */
typedef struct {
  uint8_t key[36];    /* source and destination address, source and destination port */
  uint32_t hash;
  bool used;
  bool open;          /* false once PSH or a short segment ended the run */
  size_t out;         /* its super-packet's output index */
  uint32_t next_seq;  /* the sequence number that continues it */
  size_t gso_size;    /* its first segment's payload length */
  size_t last_used;   /* input index that last touched it, for eviction */
  uint64_t addresses; /* memory-order sum of the two addresses */
} flow;

static inline uint32_t flow_hash(const uint8_t *key) {
  uint32_t a, b, c;
  memcpy(&a, key + 12, 4);
  memcpy(&b, key + 28, 4);
  memcpy(&c, key + 32, 4);
  return a ^ (b * 0x9e3779b1u) ^ (c * 0x85ebca6bu);
}

static flow *flow_find(flow *table, const uint8_t *key, uint32_t hash) {
  for (size_t i = 0; i < FLOW_TABLE_SIZE; i++) {
    if (table[i].used && table[i].hash == hash && memcmp(table[i].key, key, 36) == 0) {
      return &table[i];
    }
  }
  return NULL;
}

/* A free entry, else the least recently used one. */
static flow *flow_slot(flow *table) {
  flow *oldest = &table[0];
  for (size_t i = 0; i < FLOW_TABLE_SIZE; i++) {
    if (!table[i].used) return &table[i];
    if (table[i].last_used < oldest->last_used) oldest = &table[i];
  }
  return oldest;
}

/* Forgets every flow between the two addresses at p + 8 (a packet we cannot key by port). */
static void flow_forget_addresses(flow *table, const uint8_t *addresses) {
  for (size_t i = 0; i < FLOW_TABLE_SIZE; i++) {
    if (table[i].used && memcmp(table[i].key, addresses, 32) == 0) table[i].used = false;
  }
}

/*
 * Whether segment p (TCP header length thlen, `payload` octets of payload, sequence
 * number seq) continues flow f's super-packet o (olen octets): same IPv6 header
 * but for Payload Length (version, traffic class, flow label, hop limit; the addresses
 * are the key), same TCP header but for sequence number, PSH and checksum (ports in the
 * key; acknowledgment, data offset and reserved bits, window, urgent pointer, options),
 * in sequence, no larger than the first segment, and the result still fits.
 */
static bool continues(const flow *f, const uint8_t *o, size_t olen, const uint8_t *p,
                      size_t thlen, size_t payload, uint32_t seq, size_t limit) {
  return f->open && seq == f->next_seq && payload <= f->gso_size && olen + payload <= limit &&
         memcmp(o, p, 4) == 0 && o[7] == p[7] && memcmp(o + 48, p + 48, 5) == 0 &&
         memcmp(o + 54, p + 54, 2) == 0 && memcmp(o + 58, p + 58, thlen - 18) == 0;
}

/*
 * tcpCoalesce's work. Each input packet is either merged into its flow's open
 * super-packet or copied to the next output slot. A packet is a merge candidate when it
 * is IPv6 with TCP directly after the fixed header, has payload, has flags exactly ACK or
 * ACK|PSH, and its checksum verifies. A candidate that does not continue its flow's
 * super-packet starts a new one (and becomes the flow's entry: later segments merge only
 * into the newest output of their flow, so a flow is never reordered). A packet that is
 * not a candidate is copied out unchanged and ends its flow's run (by ports when it is
 * TCP right after the IPv6 header, else every flow between its two addresses), so nothing
 * of that flow after it can be merged into a packet before it. The flow table holds
 * FLOW_TABLE_SIZE flows; when full, the least recently used is forgotten (its
 * super-packet is simply closed).
 *
 * A merged packet (two or more segments) gets Payload Length for its size, PSH when its
 * last segment had it, the pseudo-header partial sum in its checksum field and the vnet
 * header {NEEDS_CSUM, TCPV6, hdr_len 40 + TCP header, gso_size = first payload,
 * csum_start 40, csum_offset 16}; anything else keeps its bytes and a zero vnet header.
 * Returns the output count, or -1 when the outputs do not fit (more than outCapacity, or
 * a packet larger than a slot's room).
 */
static int coalesce(const shim6_packets *in, const shim6_slots *out, uint8_t *vnet) {
  flow table[FLOW_TABLE_SIZE];
  memset(table, 0, sizeof table);
  const size_t room = out->slot_size - out->headroom;
  const size_t limit = room < MAX_COALESCED ? room : MAX_COALESCED;
  size_t count = 0;

  for (size_t i = 0; i < in->count; i++) {
    const uint8_t *p = in->buffer + in->offsets[i];
    const size_t len = (size_t)in->lengths[i];
    bool candidate = false, keyed = false;
    size_t thlen = 0, payload = 0;
    uint64_t addresses = 0;
    uint32_t hash = 0;
    const uint8_t *key = p + 8; /* addresses then ports: contiguous from octet 8 to 44 */
    if (len >= IPV6_HDR_LEN + TCP_MIN_HDR_LEN && p[0] >> 4 == 6 && p[6] == IPPROTO_TCP_NUMBER) {
      keyed = true;
      hash = flow_hash(key);
      thlen = (size_t)(p[52] >> 4) * 4;
      if (ipv6_whole(p, len) && thlen >= TCP_MIN_HDR_LEN && IPV6_HDR_LEN + thlen < len &&
          (p[53] & (uint8_t)~TCP_PSH) == TCP_ACK) {
        payload = len - IPV6_HDR_LEN - thlen;
        addresses = csum_add(0, p + 8, 32);
        uint64_t sum = csum_add(pseudo_sum(addresses, len - IPV6_HDR_LEN), p + IPV6_HDR_LEN,
                                len - IPV6_HDR_LEN);
        candidate = csum_fold(sum) == 0xffff;
      }
    }

    flow *f = keyed ? flow_find(table, key, hash) : NULL;
    if (candidate && f != NULL) {
      uint8_t *o = out->buffer + out->offsets[f->out];
      const size_t olen = (size_t)out->lengths[f->out];
      const uint32_t seq = get_be32(p + 44);
      if (continues(f, o, olen, p, thlen, payload, seq, limit)) {
        memcpy(o + olen, p + IPV6_HDR_LEN + thlen, payload);
        const size_t merged = olen + payload;
        out->lengths[f->out] = (int32_t)merged;
        put_be16(o + 4, merged - IPV6_HDR_LEN);
        if (p[53] & TCP_PSH) {
          o[53] |= TCP_PSH;
          f->open = false;
        }
        if (payload < f->gso_size) f->open = false;
        f->next_seq += (uint32_t)payload;
        f->last_used = i;
        csum_store(o + IPV6_HDR_LEN + TCP_CHECK_OFFSET,
                   csum_fold(pseudo_sum(f->addresses, merged - IPV6_HDR_LEN)));
        uint8_t *h = vnet + f->out * VNET_HDR_LEN;
        h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h[1] = VIRTIO_NET_HDR_GSO_TCPV6;
        put_le16(h + 2, IPV6_HDR_LEN + thlen);
        put_le16(h + 4, f->gso_size);
        put_le16(h + 6, IPV6_HDR_LEN);
        put_le16(h + 8, TCP_CHECK_OFFSET);
        continue;
      }
    }

    /* Copied out as it is: a new super-packet (candidate) or a packet passed through. */
    if (count >= out->capacity || len > room) return -1;
    memcpy(slot_packet(out, count), p, len);
    set_slot(out, count, len);
    memset(vnet + count * VNET_HDR_LEN, 0, VNET_HDR_LEN);
    if (candidate) {
      if (f == NULL) f = flow_slot(table);
      memcpy(f->key, key, 36);
      f->hash = hash;
      f->used = true;
      f->open = (p[53] & TCP_PSH) == 0;
      f->out = count;
      f->next_seq = get_be32(p + 44) + (uint32_t)payload;
      f->gso_size = payload;
      f->last_used = i;
      f->addresses = addresses;
    } else if (f != NULL) {
      f->used = false;
    } else if (!keyed && len >= IPV6_HDR_LEN && p[0] >> 4 == 6) {
      flow_forget_addresses(table, p + 8);
    }
    count++;
  }
  return (int)count;
}

/* Throws a TypeError unless [a, a + alen) and [b, b + blen) are disjoint. */
static int check_disjoint(napi_env env, const uint8_t *a, size_t alen, const uint8_t *b,
                          size_t blen, const char *message) {
  if (a + alen <= b || b + blen <= a) return 1;
  napi_throw_type_error(env, NULL, message);
  return 0;
}

/* Output slots must be addressable with int32 offsets. */
static int check_int32_slots(napi_env env, const shim6_slots *out, const char *message) {
  if (out->capacity * out->slot_size <= (size_t)INT32_MAX) return 1;
  napi_throw_type_error(env, NULL, message);
  return 0;
}

static napi_value int_result(napi_env env, int value) {
  napi_value result;
  napi_create_int32(env, value, &result);
  return result;
}

static napi_value tcp_segment(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  uint8_t *in, *vnet;
  size_t in_length, vnet_length;
  double in_off, in_len, vnet_off, first;
  shim6_slots out;
  if (!shim6_get_args(env, info, 12, argv,
                      "tcpSegment(inBuf, inOff, inLen, vnet, vnetOff, outBuf, outSlotSize, "
                      "outHeadroom, outFirstSlot, outCapacity, outOffsets, outLengths)") ||
      !shim6_arg_uint8array(env, argv[0], "tcpSegment: inBuf", &in, &in_length) ||
      !shim6_arg_integer(env, argv[1], "tcpSegment: inOff", 0, (double)in_length, &in_off) ||
      !shim6_arg_integer(env, argv[2], "tcpSegment: inLen", 0, (double)in_length - in_off,
                         &in_len) ||
      !shim6_arg_uint8array(env, argv[3], "tcpSegment: vnet", &vnet, &vnet_length)) {
    return NULL;
  }
  if (vnet_length < VNET_HDR_LEN) {
    napi_throw_type_error(env, NULL, "tcpSegment: vnet must hold a 10-octet header");
    return NULL;
  }
  const napi_value slot_argv[6] = {argv[5], argv[6], argv[7], argv[9], argv[10], argv[11]};
  if (!shim6_arg_integer(env, argv[4], "tcpSegment: vnetOff", 0,
                         (double)(vnet_length - VNET_HDR_LEN), &vnet_off) ||
      !shim6_arg_slots(env, "tcpSegment (output)", slot_argv, &out) ||
      !shim6_arg_integer(env, argv[8], "tcpSegment: outFirstSlot", 0, (double)out.capacity,
                         &first) ||
      !check_int32_slots(env, &out, "tcpSegment: outCapacity * outSlotSize must be below 2^31") ||
      !check_disjoint(env, in + (size_t)in_off, (size_t)in_len, out.buffer,
                      out.capacity * out.slot_size,
                      "tcpSegment: the input packet must not overlap the output slots")) {
    return NULL;
  }
  return int_result(env, segment_packet(in + (size_t)in_off, (size_t)in_len,
                                        vnet + (size_t)vnet_off, &out, (size_t)first));
}

static napi_value checksum_complete(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  uint8_t *buf;
  size_t length;
  double off, len, start, offset;
  if (!shim6_get_args(env, info, 5, argv,
                      "checksumComplete(buf, off, len, csumStart, csumOffset)") ||
      !shim6_arg_uint8array(env, argv[0], "checksumComplete: buf", &buf, &length) ||
      !shim6_arg_integer(env, argv[1], "checksumComplete: off", 0, (double)length, &off) ||
      !shim6_arg_integer(env, argv[2], "checksumComplete: len", 0, (double)length - off, &len) ||
      !shim6_arg_integer(env, argv[3], "checksumComplete: csumStart", 0, UINT32_MAX, &start) ||
      !shim6_arg_integer(env, argv[4], "checksumComplete: csumOffset", 0, UINT32_MAX,
                         &offset)) {
    return NULL;
  }
  bool ok = start + offset + 2 <= len;
  if (ok) complete_checksum(buf + (size_t)off, (size_t)len, (size_t)start, (size_t)offset);
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

static napi_value tcp_coalesce(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  shim6_packets in;
  shim6_slots out;
  uint8_t *in_buffer, *vnet;
  size_t in_length, vnet_length;
  if (!shim6_get_args(env, info, 11, argv,
                      "tcpCoalesce(inBuf, inOffsets, inLengths, inCount, outBuf, outSlotSize, "
                      "outHeadroom, outCapacity, outOffsets, outLengths, outVnet)") ||
      !shim6_arg_packets(env, "tcpCoalesce", argv, &in) ||
      !shim6_arg_uint8array(env, argv[0], "tcpCoalesce: inBuf", &in_buffer, &in_length) ||
      !shim6_arg_slots(env, "tcpCoalesce (output)", argv + 4, &out) ||
      !shim6_arg_uint8array(env, argv[10], "tcpCoalesce: outVnet", &vnet, &vnet_length)) {
    return NULL;
  }
  if (vnet_length < out.capacity * VNET_HDR_LEN) {
    napi_throw_type_error(env, NULL, "tcpCoalesce: outVnet must hold 10 octets per output slot");
    return NULL;
  }
  if (!check_int32_slots(env, &out, "tcpCoalesce: outCapacity * outSlotSize must be below 2^31") ||
      !check_disjoint(env, in_buffer, in_length, out.buffer, out.capacity * out.slot_size,
                      "tcpCoalesce: inBuf must not overlap the output slots")) {
    return NULL;
  }
  return int_result(env, coalesce(&in, &out, vnet));
}

static napi_status export_virtio(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    uint32_t value;
  } constants[] = {
    {"NEEDS_CSUM", VIRTIO_NET_HDR_F_NEEDS_CSUM}, {"DATA_VALID", VIRTIO_NET_HDR_F_DATA_VALID},
    {"GSO_NONE", VIRTIO_NET_HDR_GSO_NONE}, {"GSO_TCPV4", VIRTIO_NET_HDR_GSO_TCPV4},
    {"GSO_UDP", VIRTIO_NET_HDR_GSO_UDP}, {"GSO_TCPV6", VIRTIO_NET_HDR_GSO_TCPV6},
    {"GSO_ECN", VIRTIO_NET_HDR_GSO_ECN}, {"HDR_LEN", VNET_HDR_LEN},
  };
  napi_value object, value;
  napi_status status = napi_create_object(env, &object);
  for (size_t i = 0; status == napi_ok && i < sizeof constants / sizeof constants[0]; i++) {
    status = napi_create_uint32(env, constants[i].value, &value);
    if (status == napi_ok) status = napi_set_named_property(env, object, constants[i].name, value);
  }
  if (status == napi_ok) status = napi_object_freeze(env, object);
  if (status == napi_ok) status = napi_set_named_property(env, exports, "virtio", object);
  return status;
}

napi_status shim6_register_offload(napi_env env, napi_value exports) {
  napi_status status = shim6_export_function(env, exports, "tcpSegment", tcp_segment);
  if (status == napi_ok) {
    status = shim6_export_function(env, exports, "checksumComplete", checksum_complete);
  }
  if (status == napi_ok) status = shim6_export_function(env, exports, "tcpCoalesce", tcp_coalesce);
  if (status == napi_ok) status = export_virtio(env, exports);
  return status;
}
