/*
 * Shared declarations of the shim6_native addon: each concern (one .c file) exports one
 * registration function that addon.c calls, plus the small argument helpers every
 * binding uses so that bad arguments become a JavaScript TypeError, never a crash, and
 * the one helper that turns a failed system call into a JavaScript Error with a `code`.
 */
#ifndef SHIM6_ADDON_H
#define SHIM6_ADDON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <node_api.h>

/* Registration of each concern's functions on the exports object. */
napi_status shim6_register_cga_search(napi_env env, napi_value exports);
napi_status shim6_register_fd(napi_env env, napi_value exports);
napi_status shim6_register_tun(napi_env env, napi_value exports);
napi_status shim6_register_raw(napi_env env, napi_value exports);
napi_status shim6_register_poll(napi_env env, napi_value exports);
napi_status shim6_register_offload(napi_env env, napi_value exports);

/*
 * Argument helpers. Each returns 1 on success; on failure it has thrown a TypeError
 * naming the function and argument, and returns 0 (the binding then returns NULL).
 */
int shim6_arg_uint8array(napi_env env, napi_value value, const char *what,
                         uint8_t **data, size_t *length);
/* Like shim6_arg_uint8array, but null and undefined are accepted as *data = NULL. */
int shim6_arg_uint8array_or_null(napi_env env, napi_value value, const char *what,
                                 uint8_t **data, size_t *length);
int shim6_arg_int32array(napi_env env, napi_value value, const char *what,
                         int32_t **data, size_t *length);
int shim6_arg_integer(napi_env env, napi_value value, const char *what,
                      double min, double max, double *out);
int shim6_arg_bool(napi_env env, napi_value value, const char *what, bool *out);
int shim6_arg_fd(napi_env env, napi_value value, const char *what, int *fd);
int shim6_arg_function(napi_env env, napi_value value, const char *what);

/*
 * Fetches exactly `expected` arguments into argv (which holds that many); throws a
 * TypeError quoting `signature` when fewer were passed. Returns 1 on success, 0 after
 * throwing.
 */
int shim6_get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv,
                   const char *signature);

/*
 * The slots of a PacketBatch (src/io/batch.ts) that a read fills: slot i starts at
 * i*slot_size, its packet at i*slot_size + headroom, at most slot_size - headroom octets.
 * shim6_arg_slots checks the six arguments buffer, slotSize, headroom, capacity, offsets,
 * lengths (argv[0..5]) against each other, so the reader can index without checks.
 */
typedef struct {
  uint8_t *buffer;
  size_t slot_size;
  size_t headroom;
  size_t capacity;
  int32_t *offsets;
  int32_t *lengths;
} shim6_slots;
int shim6_arg_slots(napi_env env, const char *fn, const napi_value *argv, shim6_slots *out);

/*
 * The packets of a PacketBatch that a write sends: packet i is lengths[i] octets at
 * buffer + offsets[i], for i < count. shim6_arg_packets checks the four arguments buffer,
 * offsets, lengths, count (argv[0..3]) and every packet's bounds, so the writer can index
 * without checks.
 */
typedef struct {
  uint8_t *buffer;
  size_t count;
  const int32_t *offsets;
  const int32_t *lengths;
} shim6_packets;
int shim6_arg_packets(napi_env env, const char *fn, const napi_value *argv, shim6_packets *out);

/*
 * Throws a JavaScript Error for a failed system call: `code` is the errno name ('EPERM')
 * and the message "<what>: <strerror> (<ERRNAME>)", where `what` names the binding and
 * the system call, e.g. "tunOpen: ioctl(TUNSETIFF)". Always returns NULL, for
 * `return shim6_throw_errno(...)`.
 */
napi_value shim6_throw_errno(napi_env env, const char *what, int err);

/* Defines one function property on `exports`; `data` reaches the callback's cb info. */
napi_status shim6_export_function(napi_env env, napi_value exports, const char *name,
                                  napi_callback callback);
napi_status shim6_export_function_data(napi_env env, napi_value exports, const char *name,
                                       napi_callback callback, void *data);

#endif
