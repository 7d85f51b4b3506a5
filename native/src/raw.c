/*
 * Raw IPv6 sockets, batched (raw(7), ipv6(7), RFC 3542), exported to JavaScript as
 *
 *   rawSenderOpen(mark: number) -> fd
 *   rawSend(fd, buffer, offsets, lengths, count) -> sent
 *   rawReceiverOpen(protocol: number, icmpErrorsOnly: boolean) -> fd
 *   rawReceive(fd, buffer, slotSize, headroom, capacity, offsets, lengths, addrs, info)
 *       -> count
 *
 * Sender. socket(AF_INET6, SOCK_RAW, IPPROTO_RAW) sends complete IPv6 packets, header
 * included (IPV6_HDRINCL is implied by IPPROTO_RAW). The kernel still routes each one,
 * and for that it uses only what the sendmsg call says, not the header: the destination
 * in msg_name and the source in an IPV6_PKTINFO control message (ip6_datagram_send_ctl
 * puts ipi6_addr into the flow's saddr; ifindex 0 leaves the interface to the route).
 * rawSend copies both from the packet's own header (octets 24-40 and 8-24), so
 * source-address policy rules (`ip -6 rule add from <prefix> lookup <table>`) pick the
 * exit that belongs to the packet's source locator. The kernel accepts only a source that
 * is assigned to this host and not tentative (else EINVAL for that packet). The socket's
 * SO_MARK becomes the flow's mark, so a rule `ip -6 rule add not fwmark <mark> lookup
 * <tun table>` sends everyone else's traffic into the TUN while the daemon's own packets
 * skip that table. Link-local destinations would need a scope id and are not supported.
 *
 * The sender is BLOCKING on purpose, with a large send buffer (SO_SNDBUFFORCE 4 MiB)
 * and a bounded wait (SO_SNDTIMEO 100 ms): when the buffer is full, sendmmsg waits for
 * the device queue to drain (sock_alloc_send_skb sleeps) instead of failing with EAGAIN,
 * which a non-blocking socket would return and the data plane could only turn into drops
 * (there is no "writable" callback in the batch design). That is back-pressure on the
 * event loop, proportional to the link, like a TCP sender's. The timeout bounds the
 * stall when an interface is wedged: a send that times out ends the batch, and the
 * packets not sent are reported as not accepted. Qdisc drops (ENOBUFS) are not reported
 * to the sender at all without IPV6_RECVERR (rawv6_send_hdrinc), as for UDP.
 *
 * Receiver. socket(AF_INET6, SOCK_RAW, protocol) receives every packet whose next header
 * (after the extension headers the kernel processed) is `protocol`, WITHOUT the IPv6
 * header, as IPv6 raw sockets do (RFC 3542 §3). Ancillary data restores what the header
 * said: IPV6_PKTINFO (destination, arrival interface), IPV6_HOPLIMIT, IPV6_TCLASS and
 * IPV6_FLOWINFO (the Linux option that reports tclass + flow label). Linux sends the
 * IPV6_FLOWINFO message only when those 28 bits are not all zero, so a packet without it
 * has flow label 0; -1 is reported only if the option could not be enabled. With
 * protocol 58 and icmpErrorsOnly, an ICMP6_FILTER (RFC 3542 §3.2) passes only the error
 * types 1-4 (destination unreachable, packet too big, time exceeded, parameter problem),
 * so the kernel drops echo, neighbour discovery and MLD traffic before it is queued.
 * The receive buffer is 8 MiB (SO_RCVBUFFORCE, else SO_RCVBUF up to rmem_max).
 *
 * Errors: the open functions throw an Error with the errno name as `code` (EPERM
 * without CAP_NET_RAW; SO_MARK needs CAP_NET_RAW or CAP_NET_ADMIN). rawSend skips a
 * packet shorter than an IPv6 header, and a packet the kernel refuses (EMSGSIZE over the
 * route MTU, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, EINVAL for a blackhole route or a
 * foreign source, EACCES/EPERM for a prohibit route or a firewall), and goes on with the
 * next; it throws only for an unusable descriptor (EBADF, ENOTSOCK, EFAULT). rawReceive
 * returns 0 when nothing is queued and throws only when its first recvmmsg fails with
 * something other than EAGAIN. EINTR is retried.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "addon.h"

#ifndef IPV6_FLOWINFO
#define IPV6_FLOWINFO 11 /* linux/in6.h */
#endif

#define IPV6_HEADER_LEN 40
#define IPV6_SRC_OFFSET 8
#define IPV6_DST_OFFSET 24
#define ADDRS_STRIDE 32 /* src then dst, src/io/batch.ts */
#define INFO_STRIDE 4   /* ifindex, hop limit, tclass, flow label */
#define SEND_BUFFER (4 << 20)
#define RECEIVE_BUFFER (8 << 20)
#define SEND_TIMEOUT_US 100000
/* Messages per sendmmsg/recvmmsg call. */
#define CHUNK 64
/* Room for PKTINFO (40 with its header), HOPLIMIT, TCLASS and FLOWINFO (24 each). */
#define RECEIVE_CONTROL 256

/*
 * The message arrays are static so that no call allocates: the bindings are synchronous,
 * so they are in use only for the duration of one rawSend or rawReceive call, and that
 * call runs on its thread's event loop without ever calling back into JavaScript, so it
 * cannot be re-entered. One set per thread (_Thread_local) because Node may load the
 * addon on several threads (worker_threads, each with its own event loop): each thread
 * then has its own set, and no lock is needed.
 */
static _Thread_local struct mmsghdr send_msgs[CHUNK];
static _Thread_local struct iovec send_iov[CHUNK];
static _Thread_local struct sockaddr_in6 send_to[CHUNK];
static _Thread_local union {
  struct cmsghdr align;
  uint8_t bytes[CMSG_SPACE(sizeof(struct in6_pktinfo))];
} send_control[CHUNK];

static _Thread_local struct mmsghdr recv_msgs[CHUNK];
static _Thread_local struct iovec recv_iov[CHUNK];
static _Thread_local struct sockaddr_in6 recv_from[CHUNK];
static _Thread_local union {
  struct cmsghdr align;
  uint8_t bytes[RECEIVE_CONTROL];
} recv_control[CHUNK];

/* Sets an int socket option; returns 0 or -1 with errno. */
static int set_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value);
}

/* Sets a buffer size with the *FORCE option (CAP_NET_ADMIN), else the capped one. */
static void set_buffer(int fd, int force_name, int name, int size) {
  if (set_int(fd, SOL_SOCKET, force_name, size) < 0) set_int(fd, SOL_SOCKET, name, size);
}

static napi_value fd_result(napi_env env, int fd) {
  napi_value result;
  if (napi_create_int32(env, fd, &result) != napi_ok) {
    close(fd);
    return NULL;
  }
  return result;
}

static napi_value raw_sender_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  double mark;
  if (!shim6_get_args(env, info, 1, argv, "rawSenderOpen(mark)") ||
      !shim6_arg_integer(env, argv[0], "rawSenderOpen: mark", 0, 4294967295.0, &mark)) {
    return NULL;
  }
  int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) return shim6_throw_errno(env, "rawSenderOpen: socket(AF_INET6, SOCK_RAW, IPPROTO_RAW)", errno);
  /* Mark 0 is the kernel's default: leave it, which needs no capability. */
  if (mark != 0) {
    uint32_t value = (uint32_t)mark;
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &value, sizeof value) < 0) {
      int err = errno;
      close(fd);
      return shim6_throw_errno(env, "rawSenderOpen: setsockopt(SO_MARK)", err);
    }
  }
  set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, SEND_BUFFER);
  struct timeval timeout = {.tv_sec = 0, .tv_usec = SEND_TIMEOUT_US};
  if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) < 0) {
    int err = errno;
    close(fd);
    return shim6_throw_errno(env, "rawSenderOpen: setsockopt(SO_SNDTIMEO)", err);
  }
  return fd_result(env, fd);
}

/* Prepares message m of the send arrays for `packet` (at least 40 octets). */
static void prepare_send(size_t m, uint8_t *packet, size_t length) {
  struct sockaddr_in6 *to = &send_to[m];
  memset(to, 0, sizeof *to);
  to->sin6_family = AF_INET6;
  memcpy(&to->sin6_addr, packet + IPV6_DST_OFFSET, sizeof to->sin6_addr);

  send_iov[m].iov_base = packet;
  send_iov[m].iov_len = length;

  struct msghdr *msg = &send_msgs[m].msg_hdr;
  msg->msg_name = to;
  msg->msg_namelen = sizeof *to;
  msg->msg_iov = &send_iov[m];
  msg->msg_iovlen = 1;
  msg->msg_control = send_control[m].bytes;
  msg->msg_controllen = sizeof send_control[m].bytes;
  msg->msg_flags = 0;

  struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg);
  cmsg->cmsg_level = IPPROTO_IPV6;
  cmsg->cmsg_type = IPV6_PKTINFO;
  cmsg->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
  struct in6_pktinfo pktinfo;
  memset(&pktinfo, 0, sizeof pktinfo);
  memcpy(&pktinfo.ipi6_addr, packet + IPV6_SRC_OFFSET, sizeof pktinfo.ipi6_addr);
  memcpy(CMSG_DATA(cmsg), &pktinfo, sizeof pktinfo);
}

static napi_value raw_send(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int fd;
  shim6_packets packets;
  if (!shim6_get_args(env, info, 5, argv, "rawSend(fd, buffer, offsets, lengths, count)") ||
      !shim6_arg_fd(env, argv[0], "rawSend: fd", &fd) ||
      !shim6_arg_packets(env, "rawSend", argv + 1, &packets)) {
    return NULL;
  }

  size_t next = 0, sent = 0;
  int timed_out = 0;
  while (next < packets.count && !timed_out) {
    size_t m = 0;
    for (; m < CHUNK && next < packets.count; next++) {
      size_t length = (size_t)packets.lengths[next];
      if (length < IPV6_HEADER_LEN) continue;
      prepare_send(m++, packets.buffer + packets.offsets[next], length);
    }
    /* After a partial send, the next call starts at the message that failed
     * (sendmmsg(2)), so that message's error is the one reported; skip it. */
    for (size_t k = 0; k < m;) {
      int r = sendmmsg(fd, send_msgs + k, (unsigned)(m - k), 0);
      if (r > 0) {
        k += (size_t)r;
        sent += (size_t)r;
        continue;
      }
      int err = r < 0 ? errno : EIO;
      if (err == EINTR) continue;
      if (err == EBADF || err == ENOTSOCK || err == EFAULT) {
        return shim6_throw_errno(env, "rawSend: sendmmsg", err);
      }
      if (err == EAGAIN) {
        timed_out = 1;
        break;
      }
      k++;
    }
  }

  napi_value result;
  napi_create_uint32(env, (uint32_t)sent, &result);
  return result;
}

static napi_value raw_receiver_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  double protocol;
  bool errors_only;
  if (!shim6_get_args(env, info, 2, argv, "rawReceiverOpen(protocol, icmpErrorsOnly)") ||
      !shim6_arg_integer(env, argv[0], "rawReceiverOpen: protocol", 1, 254, &protocol) ||
      !shim6_arg_bool(env, argv[1], "rawReceiverOpen: icmpErrorsOnly", &errors_only)) {
    return NULL;
  }
  if (errors_only && protocol != IPPROTO_ICMPV6) {
    napi_throw_type_error(env, NULL, "rawReceiverOpen: icmpErrorsOnly requires protocol 58 (ICMPv6)");
    return NULL;
  }
  int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, (int)protocol);
  if (fd < 0) return shim6_throw_errno(env, "rawReceiverOpen: socket(AF_INET6, SOCK_RAW)", errno);

  static const struct {
    int name;
    const char *what;
  } options[] = {
    {IPV6_RECVPKTINFO, "rawReceiverOpen: setsockopt(IPV6_RECVPKTINFO)"},
    {IPV6_RECVHOPLIMIT, "rawReceiverOpen: setsockopt(IPV6_RECVHOPLIMIT)"},
    {IPV6_RECVTCLASS, "rawReceiverOpen: setsockopt(IPV6_RECVTCLASS)"},
  };
  for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
    if (set_int(fd, IPPROTO_IPV6, options[i].name, 1) < 0) {
      int err = errno;
      close(fd);
      return shim6_throw_errno(env, options[i].what, err);
    }
  }
  /* Best effort: rawReceive reports flow label -1 when this is off (getsockopt says). */
  set_int(fd, IPPROTO_IPV6, IPV6_FLOWINFO, 1);
  set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, RECEIVE_BUFFER);

  if (errors_only) {
    struct icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &filter);
    ICMP6_FILTER_SETPASS(ICMP6_PACKET_TOO_BIG, &filter);
    ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &filter);
    ICMP6_FILTER_SETPASS(ICMP6_PARAM_PROB, &filter);
    if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) < 0) {
      int err = errno;
      close(fd);
      return shim6_throw_errno(env, "rawReceiverOpen: setsockopt(ICMP6_FILTER)", err);
    }
  }
  return fd_result(env, fd);
}

/* Whether the kernel reports flow labels on this socket (IPV6_FLOWINFO is on). */
static int flow_reporting(int fd) {
  int value = 0;
  socklen_t size = sizeof value;
  return getsockopt(fd, IPPROTO_IPV6, IPV6_FLOWINFO, &value, &size) == 0 && value != 0;
}

/*
 * Fills slot `slot`'s addresses and info from received message m. Returns 1 when the
 * message carried no IPV6_FLOWINFO (flow label 0, or unknown if reporting is off).
 */
static int record_message(size_t m, size_t slot, uint8_t *addrs, int32_t *info) {
  struct msghdr *msg = &recv_msgs[m].msg_hdr;
  uint8_t *src = addrs + slot * ADDRS_STRIDE;
  uint8_t *dst = src + 16;
  int32_t *fields = info + slot * INFO_STRIDE;
  memcpy(src, &recv_from[m].sin6_addr, 16);
  memset(dst, 0, 16);
  fields[0] = 0;
  fields[1] = -1;
  fields[2] = -1;
  fields[3] = 0;
  int no_flow = 1;
  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL; cmsg = CMSG_NXTHDR(msg, cmsg)) {
    if (cmsg->cmsg_level != IPPROTO_IPV6) continue;
    size_t data_length = cmsg->cmsg_len - CMSG_LEN(0);
    if (cmsg->cmsg_type == IPV6_PKTINFO && data_length >= sizeof(struct in6_pktinfo)) {
      struct in6_pktinfo pktinfo;
      memcpy(&pktinfo, CMSG_DATA(cmsg), sizeof pktinfo);
      memcpy(dst, &pktinfo.ipi6_addr, 16);
      fields[0] = (int32_t)pktinfo.ipi6_ifindex;
    } else if ((cmsg->cmsg_type == IPV6_HOPLIMIT || cmsg->cmsg_type == IPV6_TCLASS) &&
               data_length >= sizeof(int)) {
      int value;
      memcpy(&value, CMSG_DATA(cmsg), sizeof value);
      fields[cmsg->cmsg_type == IPV6_HOPLIMIT ? 1 : 2] = value;
    } else if (cmsg->cmsg_type == IPV6_FLOWINFO && data_length >= sizeof(uint32_t)) {
      uint32_t flowinfo;
      memcpy(&flowinfo, CMSG_DATA(cmsg), sizeof flowinfo);
      fields[3] = (int32_t)(ntohl(flowinfo) & 0xfffff);
      no_flow = 0;
    }
  }
  return no_flow;
}

static napi_value raw_receive(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  int fd;
  shim6_slots slots;
  uint8_t *addrs;
  int32_t *fields;
  size_t addrs_length, info_length;
  if (!shim6_get_args(env, info, 9, argv,
                      "rawReceive(fd, buffer, slotSize, headroom, capacity, offsets, lengths, addrs, info)") ||
      !shim6_arg_fd(env, argv[0], "rawReceive: fd", &fd) ||
      !shim6_arg_slots(env, "rawReceive", argv + 1, &slots) ||
      !shim6_arg_uint8array(env, argv[7], "rawReceive: addrs", &addrs, &addrs_length) ||
      !shim6_arg_int32array(env, argv[8], "rawReceive: info", &fields, &info_length)) {
    return NULL;
  }
  if (addrs_length < slots.capacity * ADDRS_STRIDE || info_length < slots.capacity * INFO_STRIDE) {
    napi_throw_type_error(env, NULL, "rawReceive: addrs must hold 32 octets and info 4 integers per slot");
    return NULL;
  }

  const size_t room = slots.slot_size - slots.headroom;
  size_t count = 0, first_without_flow = SIZE_MAX;
  while (count < slots.capacity) {
    size_t n = slots.capacity - count < CHUNK ? slots.capacity - count : CHUNK;
    for (size_t m = 0; m < n; m++) {
      recv_iov[m].iov_base = slots.buffer + (count + m) * slots.slot_size + slots.headroom;
      recv_iov[m].iov_len = room;
      struct msghdr *msg = &recv_msgs[m].msg_hdr;
      msg->msg_name = &recv_from[m];
      msg->msg_namelen = sizeof recv_from[m];
      msg->msg_iov = &recv_iov[m];
      msg->msg_iovlen = 1;
      msg->msg_control = recv_control[m].bytes;
      msg->msg_controllen = sizeof recv_control[m].bytes;
      msg->msg_flags = 0;
    }
    int r = recvmmsg(fd, recv_msgs, (unsigned)n, MSG_DONTWAIT, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || count > 0) break;
      return shim6_throw_errno(env, "rawReceive: recvmmsg", errno);
    }
    for (size_t m = 0; m < (size_t)r; m++) {
      size_t slot = count + m;
      slots.offsets[slot] = (int32_t)(slot * slots.slot_size + slots.headroom);
      slots.lengths[slot] = (recv_msgs[m].msg_hdr.msg_flags & MSG_TRUNC) != 0
                                ? -1
                                : (int32_t)recv_msgs[m].msg_len;
      if (record_message(m, slot, addrs, fields) && first_without_flow == SIZE_MAX) {
        first_without_flow = slot;
      }
    }
    count += (size_t)r;
    if ((size_t)r < n) break; /* the queue is empty: save the call that says EAGAIN */
  }

  /* Messages without IPV6_FLOWINFO: flow label 0 if reporting is on, else unknown. */
  if (first_without_flow != SIZE_MAX && !flow_reporting(fd)) {
    for (size_t slot = first_without_flow; slot < count; slot++) fields[slot * INFO_STRIDE + 3] = -1;
  }

  napi_value result;
  napi_create_uint32(env, (uint32_t)count, &result);
  return result;
}

napi_status shim6_register_raw(napi_env env, napi_value exports) {
  napi_status status = shim6_export_function(env, exports, "rawSenderOpen", raw_sender_open);
  if (status == napi_ok) status = shim6_export_function(env, exports, "rawSend", raw_send);
  if (status == napi_ok) status = shim6_export_function(env, exports, "rawReceiverOpen", raw_receiver_open);
  if (status == napi_ok) status = shim6_export_function(env, exports, "rawReceive", raw_receive);
  return status;
}
