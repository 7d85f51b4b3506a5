/*
 * shim6_native: the small N-API addon behind src/io/native.ts (the only module that
 * loads it). Plain C, N-API version 8, no C++. One source file per concern, each with a
 * shim6_register_* function called from the module initialiser below:
 *
 *   cga_search.c  cgaSearchChunk: the CGA modifier search inner loop (RFC 3972 §4).
 *
 * Later concerns (TUN, raw sockets) add a file and one line to shim6_init. This file
 * also holds the argument helpers shared by all bindings.
 */
#include <math.h>
#include <stdio.h>

#include "addon.h"

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
  char message[160];
  snprintf(message, sizeof message, "%s must be a Uint8Array", what);
  napi_throw_type_error(env, NULL, message);
  return 0;
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
  char message[160];
  snprintf(message, sizeof message, "%s must be an integer from %.0f to %.0f", what, min, max);
  napi_throw_type_error(env, NULL, message);
  return 0;
}

napi_status shim6_export_function(napi_env env, napi_value exports, const char *name,
                                  napi_callback callback) {
  napi_value fn;
  napi_status status = napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, NULL, &fn);
  if (status != napi_ok) return status;
  return napi_set_named_property(env, exports, name, fn);
}

static napi_value shim6_init(napi_env env, napi_value exports) {
  if (shim6_register_cga_search(env, exports) != napi_ok) {
    napi_throw_error(env, NULL, "shim6_native: could not register cgaSearchChunk");
    return NULL;
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, shim6_init)
