/*
 * Closing the descriptors that tun.c and raw.c open, exported to JavaScript as
 *
 *   closeFd(fd: number): void
 *
 * Stop any poll on the descriptor first (pollStop, poll.c): libuv must not watch a
 * descriptor that has been closed (uv_poll_t documentation), and the number may be
 * reused at once by the next open.
 *
 * EINTR is not retried: on Linux the descriptor is released before close(2) can be
 * interrupted, so a retry could close a descriptor another thread just got (close(2),
 * "Dealing with error returns from close()"). Any other failure (EBADF for a descriptor
 * that is not open) throws an Error with the errno name as `code`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>

#include "addon.h"

static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!shim6_get_args(env, info, 1, argv, "closeFd(fd)") ||
      !shim6_arg_fd(env, argv[0], "closeFd: fd", &fd)) {
    return NULL;
  }
  if (close(fd) < 0 && errno != EINTR) return shim6_throw_errno(env, "closeFd: close", errno);
  return NULL;
}

napi_status shim6_register_fd(napi_env env, napi_value exports) {
  return shim6_export_function(env, exports, "closeFd", close_fd);
}
