# The shim6_native N-API addon: plain C, one source file per concern (see src/addon.c).
# Built by native/build.mjs with npm's node-gyp and an explicit --nodedir (never a header
# download). OpenSSL is not linked: its symbols are resolved at load time from the node
# binary, which exports the OpenSSL it bundles, and its headers come with Node's. libuv
# (poll.c, and uv_err_name in addon.c) is resolved the same way from the node binary.
{
  "targets": [
    {
      "target_name": "shim6_native",
      "sources": ["src/addon.c", "src/cga_search.c", "src/fd.c", "src/tun.c", "src/raw.c", "src/poll.c", "src/offload.c"],
      "defines": ["NAPI_VERSION=8", "OPENSSL_SUPPRESS_DEPRECATED"],
      "cflags_c": ["-std=c11", "-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    }
  ]
}
