/*
 * Readiness callbacks from the libuv event loop, exported to JavaScript as
 *
 *   pollStart(fd: number, callback: () => void) -> handle (a positive integer)
 *   pollStop(handle: number): void
 *
 * pollStart watches `fd` with a uv_poll_t for UV_READABLE on the loop of the calling
 * environment (napi_get_uv_event_loop) and calls `callback` with no arguments each time
 * the loop finds it readable. uv_poll is level-triggered: the callback comes again on
 * the next loop iteration for as long as data is waiting, so a consumer that reads only
 * part of the queue loses nothing. libuv allows one poll per descriptor per loop (a
 * second pollStart on the same fd throws EEXIST), and uv_poll_init makes the descriptor
 * non-blocking.
 *
 * The call: inside a handle scope, napi_make_callback with an async context made by
 * napi_async_init at pollStart (so async_hooks, AsyncLocalStorage and the microtask
 * checkpoint after the callback work as for any Node callback), with the GLOBAL object
 * as receiver: an undefined receiver fails silently from a uv_poll callback, leaving a
 * pending TypeError (LINUX-FACTS.md, "N-API"). An exception thrown by the callback is
 * not swallowed: it is taken from the environment and passed to napi_fatal_exception,
 * which raises it as an uncaught exception ('uncaughtException' handlers, else the
 * process exits with the stack trace).
 *
 * On a poll error (libuv stops the handle on POLLERR and reports UV_EBADF) the callback
 * still runs, so the consumer's next read meets the real error (e.g. EBADFD from a TUN
 * whose device is gone, or a socket's pending error); polling then resumes unless the
 * callback stopped it.
 *
 * Lifetime: each handle holds a strong reference to its callback and its async context
 * until it is closed. pollStop is idempotent (an unknown or already stopped handle is
 * ignored): it stops watching at once (so the descriptor may be closed right after) and
 * uv_close frees the memory in the close callback. The handles are numbers, not
 * externals, so a handle dropped by JavaScript is not freed under libuv's feet; it stays
 * registered until pollStop or environment teardown. An asynchronous environment
 * cleanup hook (napi_add_async_cleanup_hook, N-API 8) closes the handles still open when
 * the environment (main thread or worker) shuts down and reports completion once their
 * close callbacks have run.
 */
#define _GNU_SOURCE /* uv.h needs POSIX types (pthread_rwlock_t) that -std=c11 hides */
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "addon.h"

typedef struct poll_handle poll_handle;
typedef struct poll_state poll_state;

struct poll_handle {
  uv_poll_t poll;          /* first, so a uv_handle_t* is a poll_handle* */
  poll_state *state;
  napi_ref callback;
  napi_async_context async_context;
  double id;
  int closing;
  poll_handle *next;
};

/* Per environment: the open handles, for pollStop's lookup and for teardown. */
struct poll_state {
  napi_env env;
  uv_loop_t *loop;
  poll_handle *handles;
  double next_id;
  napi_async_cleanup_hook_handle cleanup;
  int tearing_down;
};

static void state_free_if_done(poll_state *state) {
  if (state->tearing_down && state->handles == NULL) {
    napi_remove_async_cleanup_hook(state->cleanup);
    free(state);
  }
}

static void on_closed(uv_handle_t *handle) {
  poll_handle *p = (poll_handle *)handle;
  poll_state *state = p->state;
  for (poll_handle **link = &state->handles; *link != NULL; link = &(*link)->next) {
    if (*link == p) {
      *link = p->next;
      break;
    }
  }
  napi_handle_scope scope;
  int scoped = napi_open_handle_scope(state->env, &scope) == napi_ok;
  napi_delete_reference(state->env, p->callback);
  napi_async_destroy(state->env, p->async_context);
  if (scoped) napi_close_handle_scope(state->env, scope);
  free(p);
  state_free_if_done(state);
}

/* Close callback of a handle whose pollStart failed half-way. */
static void free_unstarted(uv_handle_t *handle) {
  free(handle);
}

static void poll_close(poll_handle *p) {
  if (p->closing) return;
  p->closing = 1;
  /* uv_close stops the poll at once: the descriptor leaves epoll before this returns. */
  uv_close((uv_handle_t *)&p->poll, on_closed);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  poll_handle *p = (poll_handle *)handle;
  napi_env env = p->state->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value global, callback;
  if (napi_get_global(env, &global) == napi_ok &&
      napi_get_reference_value(env, p->callback, &callback) == napi_ok && callback != NULL) {
    napi_status call = napi_make_callback(env, p->async_context, global, callback, 0, NULL, NULL);
    bool pending = false;
    if (call != napi_ok || (napi_is_exception_pending(env, &pending) == napi_ok && pending)) {
      napi_value exception;
      if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) {
        napi_valuetype type;
        /* napi_get_and_clear_last_exception yields undefined when nothing was pending. */
        if (napi_typeof(env, exception, &type) == napi_ok && type != napi_undefined) {
          napi_fatal_exception(env, exception);
        }
      }
    }
  }
  napi_close_handle_scope(env, scope);
  /* libuv stopped the handle on error; resume unless the callback stopped it. */
  if (status < 0 && !p->closing) uv_poll_start(&p->poll, UV_READABLE, on_readable);
}

static napi_value poll_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  poll_state *state;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&state) != napi_ok) return NULL;
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "pollStart(fd, callback): 2 arguments required");
    return NULL;
  }
  int fd;
  if (!shim6_arg_fd(env, argv[0], "pollStart: fd", &fd) ||
      !shim6_arg_function(env, argv[1], "pollStart: callback")) {
    return NULL;
  }
  if (state->tearing_down) {
    napi_throw_error(env, NULL, "pollStart: the environment is shutting down");
    return NULL;
  }

  poll_handle *p = calloc(1, sizeof *p);
  if (p == NULL) {
    napi_throw_error(env, NULL, "pollStart: out of memory");
    return NULL;
  }
  p->state = state;
  int err = uv_poll_init(state->loop, &p->poll, fd);
  if (err < 0) {
    free(p);
    return shim6_throw_errno(env, "pollStart: uv_poll_init", -err);
  }
  napi_value resource, resource_name;
  if (napi_create_object(env, &resource) != napi_ok ||
      napi_create_string_utf8(env, "shim6:poll", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, resource, resource_name, &p->async_context) != napi_ok) {
    uv_close((uv_handle_t *)&p->poll, free_unstarted);
    return NULL;
  }
  if (napi_create_reference(env, argv[1], 1, &p->callback) != napi_ok) {
    napi_async_destroy(env, p->async_context);
    uv_close((uv_handle_t *)&p->poll, free_unstarted);
    return NULL;
  }
  err = uv_poll_start(&p->poll, UV_READABLE, on_readable);
  if (err < 0) {
    napi_delete_reference(env, p->callback);
    napi_async_destroy(env, p->async_context);
    uv_close((uv_handle_t *)&p->poll, free_unstarted);
    return shim6_throw_errno(env, "pollStart: uv_poll_start", -err);
  }
  p->id = state->next_id++;
  p->next = state->handles;
  state->handles = p;

  napi_value result;
  napi_create_double(env, p->id, &result);
  return result;
}

static napi_value poll_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  poll_state *state;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&state) != napi_ok) return NULL;
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "pollStop(handle): 1 argument required");
    return NULL;
  }
  double id;
  if (!shim6_arg_integer(env, argv[0], "pollStop: handle", 1, 9007199254740991.0, &id)) return NULL;
  for (poll_handle *p = state->handles; p != NULL; p = p->next) {
    if (p->id == id) {
      poll_close(p);
      break;
    }
  }
  return NULL;
}

/* Environment teardown: close every open handle; done when the last one has closed. */
static void on_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  poll_state *state = arg;
  state->tearing_down = 1;
  for (poll_handle *p = state->handles; p != NULL; p = p->next) poll_close(p);
  state_free_if_done(state);
}

napi_status shim6_register_poll(napi_env env, napi_value exports) {
  poll_state *state = calloc(1, sizeof *state);
  if (state == NULL) return napi_generic_failure;
  state->env = env;
  state->next_id = 1;
  napi_status status = napi_get_uv_event_loop(env, &state->loop);
  if (status == napi_ok) status = napi_add_async_cleanup_hook(env, on_teardown, state, &state->cleanup);
  if (status != napi_ok) {
    free(state);
    return status;
  }
  status = shim6_export_function_data(env, exports, "pollStart", poll_start, state);
  if (status == napi_ok) status = shim6_export_function_data(env, exports, "pollStop", poll_stop, state);
  return status;
}
