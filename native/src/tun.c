/*
 * The TUN device (Documentation/networking/tuntap.rst), exported to JavaScript as
 *
 *   tunOpen(name: string, vnetHdr: boolean, multiQueue: boolean, offloads: number)
 *       -> { fd: number, name: string }
 *   tunRead(fd, buffer, slotSize, headroom, capacity, offsets, lengths, vnet | null)
 *       -> count
 *   tunWrite(fd, buffer, offsets, lengths, count, vnet | null) -> accepted
 *   tunOffloads: { CSUM, TSO4, TSO6, TSO_ECN, UFO, USO4, USO6 }  (the TUN_F_* bits)
 *
 * The device is IFF_TUN | IFF_NO_PI: each read(2) returns one bare IP packet and each
 * write(2) injects one, the IP version taken from its first nibble. With vnetHdr
 * (IFF_VNET_HDR, TUNSETVNETHDRSZ 10) every packet travels behind a 10-octet struct
 * virtio_net_hdr, which readv/writev keep apart from the packet: it goes to or comes
 * from vnet[i*10 .. i*10+10], so the packet itself still lands at its slot's headroom.
 * `offloads` (TUNSETOFFLOAD, meaningful only with the vnet header, so it is refused
 * without) lets the kernel hand over unchecksummed packets and GSO super-packets.
 *
 * Batching: one JavaScript call reads until the device is empty (EAGAIN: the descriptor
 * is O_NONBLOCK) or the batch is full, and writes a whole batch; syscalls, not
 * JavaScript, are the per-packet cost (LINUX-FACTS.md, "Throughput baselines"). Nothing
 * here allocates per packet. The kernel has no batched read/write for TUN; with
 * multiQueue (IFF_MULTI_QUEUE) the same name can be opened once per queue, one
 * descriptor each, and the kernel spreads flows over them.
 *
 * Truncation: when a packet is larger than the buffer, the kernel copies what fits and
 * read(2) returns the buffer's length (tun_chr_read_iter caps its result at the buffer
 * size), so a full slot could be an exact fit or a cut packet. Every read is therefore a
 * readv(2) with one spare octet after the slot (a per-thread scratch octet): a result
 * that reaches into it means the packet did not fit. That slot gets length -1 for the
 * caller to count as malformed, as rawReceive does for MSG_TRUNC.
 *
 * Errors: tunOpen throws an Error with the errno name as `code` (EPERM without
 * CAP_NET_ADMIN, EBUSY when a single-queue device of that name is already attached,
 * EINVAL when the name belongs to a device that is not a TUN). tunRead throws only when
 * its first read fails with something other than EAGAIN (EBADFD once the device is gone);
 * a failure after some packets ends the batch and recurs on the next call. tunWrite skips
 * a packet the kernel refuses (EINVAL: not IPv4/IPv6 or a bad vnet header; EIO: device
 * down; ENOBUFS, EMSGSIZE, EAGAIN) and goes on, and throws only for a descriptor that is
 * unusable (EBADF, EBADFD, EFAULT). EINTR is retried.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "addon.h"

/* Added in Linux 6.2; older userspace headers lack them. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
#define TUN_F_ALL (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO | \
                   TUN_F_USO4 | TUN_F_USO6)

/* sizeof(struct virtio_net_hdr): no num_buffers, as TUNSETVNETHDRSZ 10 asks. */
#define VNET_HDR_LEN 10

/*
 * Where a read puts the first octet that does not fit in the slot: only the fact that
 * something landed here matters. Per thread (worker_threads may load the addon too).
 */
static _Thread_local uint8_t overflow_octet;

static napi_value tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!shim6_get_args(env, info, 4, argv, "tunOpen(name, vnetHdr, multiQueue, offloads)")) {
    return NULL;
  }
  char name[IFNAMSIZ];
  size_t name_length = 0;
  napi_valuetype type;
  if (napi_typeof(env, argv[0], &type) != napi_ok || type != napi_string ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &name_length) != napi_ok ||
      name_length >= IFNAMSIZ) {
    napi_throw_type_error(env, NULL, "tunOpen: name must be a string of at most 15 octets");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_length);
  if (strlen(name) != name_length) {
    napi_throw_type_error(env, NULL, "tunOpen: name must not contain NUL");
    return NULL;
  }
  bool vnet_hdr, multi_queue;
  double offloads;
  if (!shim6_arg_bool(env, argv[1], "tunOpen: vnetHdr", &vnet_hdr) ||
      !shim6_arg_bool(env, argv[2], "tunOpen: multiQueue", &multi_queue) ||
      /* TUN_F_ALL is all seven low bits, so the range admits exactly their combinations. */
      !shim6_arg_integer(env, argv[3], "tunOpen: offloads", 0, TUN_F_ALL, &offloads)) {
    return NULL;
  }
  if (offloads != 0 && !vnet_hdr) {
    /* Without the header the reader could not tell a GSO super-packet from a packet. */
    napi_throw_type_error(env, NULL, "tunOpen: offloads require vnetHdr");
    return NULL;
  }

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return shim6_throw_errno(env, "tunOpen: open(/dev/net/tun)", errno);

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (vnet_hdr) ifr.ifr_flags |= IFF_VNET_HDR;
  if (multi_queue) ifr.ifr_flags |= IFF_MULTI_QUEUE;
  memcpy(ifr.ifr_name, name, name_length);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return shim6_throw_errno(env, "tunOpen: ioctl(TUNSETIFF)", err);
  }
  if (vnet_hdr) {
    int size = VNET_HDR_LEN;
    if (ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) {
      int err = errno;
      close(fd);
      return shim6_throw_errno(env, "tunOpen: ioctl(TUNSETVNETHDRSZ)", err);
    }
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)offloads) < 0) {
      int err = errno;
      close(fd);
      return shim6_throw_errno(env, "tunOpen: ioctl(TUNSETOFFLOAD)", err);
    }
  }

  napi_value result, fd_value, name_value;
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_int32(env, fd, &fd_value) != napi_ok ||
      napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &name_value) != napi_ok ||
      napi_set_named_property(env, result, "fd", fd_value) != napi_ok ||
      napi_set_named_property(env, result, "name", name_value) != napi_ok) {
    close(fd);
    return NULL;
  }
  return result;
}

static napi_value tun_read(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  int fd;
  shim6_slots slots;
  uint8_t *vnet;
  size_t vnet_length;
  if (!shim6_get_args(env, info, 8, argv,
                      "tunRead(fd, buffer, slotSize, headroom, capacity, offsets, lengths, vnet)") ||
      !shim6_arg_fd(env, argv[0], "tunRead: fd", &fd) ||
      !shim6_arg_slots(env, "tunRead", argv + 1, &slots) ||
      !shim6_arg_uint8array_or_null(env, argv[7], "tunRead: vnet", &vnet, &vnet_length)) {
    return NULL;
  }
  if (vnet != NULL && vnet_length < slots.capacity * VNET_HDR_LEN) {
    napi_throw_type_error(env, NULL, "tunRead: vnet must hold 10 octets per slot");
    return NULL;
  }

  const size_t room = slots.slot_size - slots.headroom;
  size_t count = 0;
  while (count < slots.capacity) {
    const size_t offset = count * slots.slot_size + slots.headroom;
    struct iovec iov[3] = {
      {.iov_base = vnet != NULL ? vnet + count * VNET_HDR_LEN : NULL, .iov_len = VNET_HDR_LEN},
      {.iov_base = slots.buffer + offset, .iov_len = room},
      {.iov_base = &overflow_octet, .iov_len = 1},
    };
    ssize_t n = vnet != NULL ? readv(fd, iov, 3) : readv(fd, iov + 1, 2);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || count > 0) break;
      return shim6_throw_errno(env, "tunRead: readv", errno);
    }
    if (vnet != NULL) n -= VNET_HDR_LEN;
    slots.offsets[count] = (int32_t)offset;
    slots.lengths[count] = n < 0 || (size_t)n > room ? -1 : (int32_t)n;
    count++;
  }

  napi_value result;
  napi_create_uint32(env, (uint32_t)count, &result);
  return result;
}

/* A write failure that says the descriptor itself is unusable, not this one packet. */
static int fatal_write_error(int err) {
  return err == EBADF || err == EBADFD || err == EFAULT;
}

static napi_value tun_write(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  int fd;
  shim6_packets packets;
  uint8_t *vnet;
  size_t vnet_length;
  if (!shim6_get_args(env, info, 6, argv, "tunWrite(fd, buffer, offsets, lengths, count, vnet)") ||
      !shim6_arg_fd(env, argv[0], "tunWrite: fd", &fd) ||
      !shim6_arg_packets(env, "tunWrite", argv + 1, &packets) ||
      !shim6_arg_uint8array_or_null(env, argv[5], "tunWrite: vnet", &vnet, &vnet_length)) {
    return NULL;
  }
  if (vnet != NULL && vnet_length < packets.count * VNET_HDR_LEN) {
    napi_throw_type_error(env, NULL, "tunWrite: vnet must hold 10 octets per packet");
    return NULL;
  }

  size_t accepted = 0;
  for (size_t i = 0; i < packets.count; i++) {
    uint8_t *packet = packets.buffer + packets.offsets[i];
    size_t length = (size_t)packets.lengths[i];
    ssize_t n;
    do {
      if (vnet != NULL) {
        struct iovec iov[2] = {
          {.iov_base = vnet + i * VNET_HDR_LEN, .iov_len = VNET_HDR_LEN},
          {.iov_base = packet, .iov_len = length},
        };
        n = writev(fd, iov, 2);
      } else {
        n = write(fd, packet, length);
      }
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
      accepted++;
    } else if (fatal_write_error(errno)) {
      return shim6_throw_errno(env, vnet != NULL ? "tunWrite: writev" : "tunWrite: write", errno);
    }
  }

  napi_value result;
  napi_create_uint32(env, (uint32_t)accepted, &result);
  return result;
}

static napi_status export_offloads(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    uint32_t bit;
  } bits[] = {
    {"CSUM", TUN_F_CSUM}, {"TSO4", TUN_F_TSO4}, {"TSO6", TUN_F_TSO6},
    {"TSO_ECN", TUN_F_TSO_ECN}, {"UFO", TUN_F_UFO}, {"USO4", TUN_F_USO4},
    {"USO6", TUN_F_USO6},
  };
  napi_value object, value;
  napi_status status = napi_create_object(env, &object);
  for (size_t i = 0; status == napi_ok && i < sizeof bits / sizeof bits[0]; i++) {
    status = napi_create_uint32(env, bits[i].bit, &value);
    if (status == napi_ok) status = napi_set_named_property(env, object, bits[i].name, value);
  }
  if (status == napi_ok) status = napi_object_freeze(env, object);
  if (status == napi_ok) status = napi_set_named_property(env, exports, "tunOffloads", object);
  return status;
}

napi_status shim6_register_tun(napi_env env, napi_value exports) {
  napi_status status = shim6_export_function(env, exports, "tunOpen", tun_open);
  if (status == napi_ok) status = shim6_export_function(env, exports, "tunRead", tun_read);
  if (status == napi_ok) status = shim6_export_function(env, exports, "tunWrite", tun_write);
  if (status == napi_ok) status = export_offloads(env, exports);
  return status;
}
