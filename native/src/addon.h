/*
 * Shared declarations of the shim6_native addon: each concern (one .c file) exports one
 * registration function that addon.c calls, plus the small argument helpers every
 * binding uses so that bad arguments become a JavaScript TypeError, never a crash.
 */
#ifndef SHIM6_ADDON_H
#define SHIM6_ADDON_H

#include <stddef.h>
#include <stdint.h>
#include <node_api.h>

/* Registration of each concern's functions on the exports object. */
napi_status shim6_register_cga_search(napi_env env, napi_value exports);

/*
 * Argument helpers. Each returns 1 on success; on failure it has thrown a TypeError
 * naming the function and argument, and returns 0 (the binding then returns NULL).
 */
int shim6_arg_uint8array(napi_env env, napi_value value, const char *what,
                         uint8_t **data, size_t *length);
int shim6_arg_integer(napi_env env, napi_value value, const char *what,
                      double min, double max, double *out);

/* Defines one function property on `exports`. */
napi_status shim6_export_function(napi_env env, napi_value exports, const char *name,
                                  napi_callback callback);

#endif
