/*
 * shim6_native: the small N-API addon behind src/io/native.ts (the only module that
 * loads it). Plain C, N-API version 8, no C++. One source file per concern, each with a
 * shim6_register_* function called from the module initialiser below:
 *
 *   cga_search.c  cgaSearchChunk: the CGA modifier search inner loop (RFC 3972 §4).
 *   fd.c          closeFd: closing the descriptors the other concerns open.
 *   tun.c         tunOpen, tunRead, tunWrite, tunOffloads: the TUN device, batched.
 *   raw.c         rawSenderOpen, rawSend, rawReceiverOpen, rawReceive: raw IPv6
 *                 sockets, batched with sendmmsg/recvmmsg.
 *   poll.c        pollStart, pollStop: readiness callbacks from the libuv event loop.
 *   offload.c     tcpSegment, checksumComplete, tcpCoalesce, virtio: TCP/IPv6 GSO and
 *                 GRO in userspace for a vnet-header TUN (pure compute, no syscalls).
 *
 * This file also holds the helpers shared by all bindings: argument checks (a bad
 * argument is a TypeError, never a crash or a silent misread), the checks of a
 * PacketBatch's arrays (src/io/batch.ts) that let the per-packet loops index without
 * bounds checks, and the conversion of errno into a JavaScript Error whose `code` is the
 * errno name, as Node's own fs and net errors have.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "addon.h"

static int throw_type_error(napi_env env, const char *what, const char *expected) {
  char message[200];
  snprintf(message, sizeof message, "%s must be %s", what, expected);
  napi_throw_type_error(env, NULL, message);
  return 0;
}

int shim6_arg_uint8array(napi_env env, napi_value value, const char *what,
                         uint8_t **data, size_t *length) {
  bool is_typedarray = false;
  if (napi_is_typedarray(env, value, &is_typedarray) == napi_ok && is_typedarray) {
    napi_typedarray_type type;
    void *ptr = NULL;
    if (napi_get_typedarray_info(env, value, &type, length, &ptr, NULL, NULL) == napi_ok &&
        type == napi_uint8_array) {
      *data = ptr;
      return 1;
    }
  }
  return throw_type_error(env, what, "a Uint8Array");
}

int shim6_arg_uint8array_or_null(napi_env env, napi_value value, const char *what,
                                 uint8_t **data, size_t *length) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) == napi_ok && (type == napi_null || type == napi_undefined)) {
    *data = NULL;
    *length = 0;
    return 1;
  }
  bool is_typedarray = false;
  if (napi_is_typedarray(env, value, &is_typedarray) == napi_ok && is_typedarray) {
    napi_typedarray_type array_type;
    void *ptr = NULL;
    if (napi_get_typedarray_info(env, value, &array_type, length, &ptr, NULL, NULL) == napi_ok &&
        array_type == napi_uint8_array) {
      *data = ptr;
      return 1;
    }
  }
  return throw_type_error(env, what, "a Uint8Array or null");
}

int shim6_arg_int32array(napi_env env, napi_value value, const char *what,
                         int32_t **data, size_t *length) {
  bool is_typedarray = false;
  if (napi_is_typedarray(env, value, &is_typedarray) == napi_ok && is_typedarray) {
    napi_typedarray_type type;
    void *ptr = NULL;
    if (napi_get_typedarray_info(env, value, &type, length, &ptr, NULL, NULL) == napi_ok &&
        type == napi_int32_array) {
      *data = ptr;
      return 1;
    }
  }
  return throw_type_error(env, what, "an Int32Array");
}

int shim6_arg_integer(napi_env env, napi_value value, const char *what,
                      double min, double max, double *out) {
  napi_valuetype type;
  double number = 0;
  if (napi_typeof(env, value, &type) == napi_ok && type == napi_number &&
      napi_get_value_double(env, value, &number) == napi_ok && isfinite(number) &&
      floor(number) == number && number >= min && number <= max) {
    *out = number;
    return 1;
  }
  char expected[100];
  snprintf(expected, sizeof expected, "an integer from %.0f to %.0f", min, max);
  return throw_type_error(env, what, expected);
}

int shim6_arg_bool(napi_env env, napi_value value, const char *what, bool *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) == napi_ok && type == napi_boolean &&
      napi_get_value_bool(env, value, out) == napi_ok) {
    return 1;
  }
  return throw_type_error(env, what, "a boolean");
}

int shim6_arg_fd(napi_env env, napi_value value, const char *what, int *fd) {
  double number;
  if (!shim6_arg_integer(env, value, what, 0, INT_MAX, &number)) return 0;
  *fd = (int)number;
  return 1;
}

int shim6_arg_function(napi_env env, napi_value value, const char *what) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) == napi_ok && type == napi_function) return 1;
  return throw_type_error(env, what, "a function");
}

int shim6_get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv,
                   const char *signature) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < expected) {
    char message[200];
    snprintf(message, sizeof message, "%s: %zu arguments required", signature, expected);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  return 1;
}

/* Largest slot and capacity a batch may have (PacketBatch allows 256 KiB and 4096). */
#define MAX_SLOT_SIZE (1 << 20)
#define MAX_CAPACITY (1 << 16)

int shim6_arg_slots(napi_env env, const char *fn, const napi_value *argv, shim6_slots *out) {
  char what[120];
  size_t buffer_length, offsets_length, lengths_length;
  double slot_size, headroom, capacity;
#define WHAT(arg) (snprintf(what, sizeof what, "%s: %s", fn, arg), what)
  if (!shim6_arg_uint8array(env, argv[0], WHAT("buffer"), &out->buffer, &buffer_length) ||
      !shim6_arg_integer(env, argv[1], WHAT("slotSize"), 1, MAX_SLOT_SIZE, &slot_size) ||
      !shim6_arg_integer(env, argv[2], WHAT("headroom"), 0, slot_size - 1, &headroom) ||
      !shim6_arg_integer(env, argv[3], WHAT("capacity"), 0, MAX_CAPACITY, &capacity) ||
      !shim6_arg_int32array(env, argv[4], WHAT("offsets"), &out->offsets, &offsets_length) ||
      !shim6_arg_int32array(env, argv[5], WHAT("lengths"), &out->lengths, &lengths_length)) {
    return 0;
  }
#undef WHAT
  out->slot_size = (size_t)slot_size;
  out->headroom = (size_t)headroom;
  out->capacity = (size_t)capacity;
  if (out->capacity * out->slot_size > buffer_length) {
    snprintf(what, sizeof what, "%s: buffer must hold capacity * slotSize octets", fn);
    napi_throw_type_error(env, NULL, what);
    return 0;
  }
  if (offsets_length < out->capacity || lengths_length < out->capacity) {
    snprintf(what, sizeof what, "%s: offsets and lengths must have at least capacity entries", fn);
    napi_throw_type_error(env, NULL, what);
    return 0;
  }
  return 1;
}

int shim6_arg_packets(napi_env env, const char *fn, const napi_value *argv, shim6_packets *out) {
  char what[160];
  size_t buffer_length, offsets_length, lengths_length;
  int32_t *offsets, *lengths;
  double count;
#define WHAT(arg) (snprintf(what, sizeof what, "%s: %s", fn, arg), what)
  if (!shim6_arg_uint8array(env, argv[0], WHAT("buffer"), &out->buffer, &buffer_length) ||
      !shim6_arg_int32array(env, argv[1], WHAT("offsets"), &offsets, &offsets_length) ||
      !shim6_arg_int32array(env, argv[2], WHAT("lengths"), &lengths, &lengths_length) ||
      !shim6_arg_integer(env, argv[3], WHAT("count"), 0, MAX_CAPACITY, &count)) {
    return 0;
  }
#undef WHAT
  out->count = (size_t)count;
  if (offsets_length < out->count || lengths_length < out->count) {
    snprintf(what, sizeof what, "%s: offsets and lengths must have at least count entries", fn);
    napi_throw_type_error(env, NULL, what);
    return 0;
  }
  for (size_t i = 0; i < out->count; i++) {
    if (offsets[i] < 0 || lengths[i] < 0 ||
        (size_t)offsets[i] + (size_t)lengths[i] > buffer_length) {
      snprintf(what, sizeof what,
               "%s: packet %zu (offset %d, length %d) must lie inside the buffer", fn, i,
               (int)offsets[i], (int)lengths[i]);
      napi_throw_type_error(env, NULL, what);
      return 0;
    }
  }
  out->offsets = offsets;
  out->lengths = lengths;
  return 1;
}

/* The errno name: glibc's strerrorname_np where it exists, else libuv's table. */
static const char *errno_name(int err, char *fallback, size_t size) {
  const char *name = NULL;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  name = strerrorname_np(err);
#endif
  if (name == NULL) {
    /* On Unix libuv's error codes are the negated errno values. */
    name = uv_err_name(-err);
    if (name == NULL || strncmp(name, "Unknown", 7) == 0) {
      snprintf(fallback, size, "E%d", err);
      name = fallback;
    }
  }
  return name;
}

napi_value shim6_throw_errno(napi_env env, const char *what, int err) {
  char fallback[16];
  const char *name = errno_name(err, fallback, sizeof fallback);
  char message[300];
  snprintf(message, sizeof message, "%s: %s (%s)", what, strerror(err), name);
  napi_value code, text, error;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) == napi_ok &&
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) == napi_ok &&
      napi_create_error(env, code, text, &error) == napi_ok) {
    napi_throw(env, error);
  } else {
    napi_throw_error(env, name, message);
  }
  return NULL;
}

napi_status shim6_export_function_data(napi_env env, napi_value exports, const char *name,
                                       napi_callback callback, void *data) {
  napi_value fn;
  napi_status status = napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, data, &fn);
  if (status != napi_ok) return status;
  return napi_set_named_property(env, exports, name, fn);
}

napi_status shim6_export_function(napi_env env, napi_value exports, const char *name,
                                  napi_callback callback) {
  return shim6_export_function_data(env, exports, name, callback, NULL);
}

static napi_value shim6_init(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_status (*reg)(napi_env, napi_value);
  } concerns[] = {
    {"cga_search", shim6_register_cga_search},
    {"fd", shim6_register_fd},
    {"tun", shim6_register_tun},
    {"raw", shim6_register_raw},
    {"poll", shim6_register_poll},
    {"offload", shim6_register_offload},
  };
  for (size_t i = 0; i < sizeof concerns / sizeof concerns[0]; i++) {
    if (concerns[i].reg(env, exports) != napi_ok) {
      char message[120];
      snprintf(message, sizeof message, "shim6_native: could not register %s", concerns[i].name);
      bool pending = false;
      if (napi_is_exception_pending(env, &pending) == napi_ok && !pending) {
        napi_throw_error(env, NULL, message);
      }
      return NULL;
    }
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, shim6_init)
