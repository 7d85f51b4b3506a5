/*
 * The CGA modifier search inner loop (RFC 3972 §4 steps 1-3), exported to JavaScript as
 *
 *   cgaSearchChunk(hash2Input: Uint8Array, sec: number, startModifier: Uint8Array(16),
 *                  count: number): Uint8Array(16) | null
 *
 * hash2Input is the Hash2 input: modifier (16 octets) || 9 zero octets || DER public key
 * || extension fields; its first 16 octets are ignored (the modifier comes from
 * startModifier). The function tries `count` consecutive modifiers starting at
 * startModifier, each the previous one plus 1 as a 128-bit big-endian integer
 * (wrapping at 2^128), and returns the first whose Hash2 (leftmost 112 bits of SHA-1 of
 * the input) has its 16*sec leftmost bits zero, or null when none of them does.
 * Synchronous: callers run it on worker threads in chunks (src/io/cga-search.ts).
 * Bad arguments throw a TypeError.
 *
 * Speed: the input is padded for SHA-1 (FIPS 180-4 §5.1.1) once per call, into one
 * heap buffer whose first 16 octets are the modifier, incremented in place. Each try is
 * then SHA1_Init plus one SHA1_Update over whole 64-octet blocks, after which the
 * digest words are read straight from the context (the padding is already in the
 * data, so SHA1_Final is not needed). No allocation or copy per try. SHA-1 is the
 * OpenSSL bundled in the node binary (SHA-NI/AVX2 code paths where the CPU has them).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "addon.h"

#define MODIFIER_LEN 16
/* Large enough for any CGA Parameters a Shim6 option can carry (16-bit lengths). */
#define MAX_INPUT_LEN (1u << 20)
#define MAX_SEC 7
/* 2^53: the largest count a JavaScript number holds exactly. */
#define MAX_COUNT 9007199254740992.0

/* Adds 1 to a 128-bit big-endian integer, wrapping at 2^128. */
static inline void modifier_increment(uint8_t *modifier) {
  for (int i = MODIFIER_LEN - 1; i >= 0; i--) {
    if (++modifier[i] != 0) break;
  }
}

/*
 * Tries `count` modifiers; on success copies the acceptable one to `found` and returns
 * 1, else returns 0. Returns -1 when out of memory. `input` is the Hash2 input.
 */
static int cga_search(const uint8_t *input, size_t length, unsigned sec,
                      const uint8_t *start, uint64_t count, uint8_t *found) {
  /* Masks of the bits of state words h0..h3 that must be zero: 16*sec leftmost bits. */
  uint32_t mask[4] = {0, 0, 0, 0};
  for (unsigned word = 0, bits = 16 * sec; word < 4 && bits > 0; word++) {
    unsigned n = bits >= 32 ? 32 : bits;
    mask[word] = n == 32 ? 0xffffffffu : ~(0xffffffffu >> n);
    bits -= n;
  }

  /* Message, 0x80, zeros, 64-bit big-endian bit length: a multiple of 64 octets. */
  size_t padded = (length + 1 + 8 + 63) / 64 * 64;
  uint8_t *message = calloc(padded, 1);
  if (message == NULL) return -1;
  memcpy(message, input, length);
  memcpy(message, start, MODIFIER_LEN);
  message[length] = 0x80;
  uint64_t bit_length = (uint64_t)length * 8;
  for (int i = 0; i < 8; i++) message[padded - 1 - i] = (uint8_t)(bit_length >> (8 * i));

  int result = 0;
  SHA_CTX ctx;
  for (uint64_t i = 0; i < count; i++) {
    SHA1_Init(&ctx);
    SHA1_Update(&ctx, message, padded);
    /* h0..h3 are the digest's first four big-endian words (FIPS 180-4 §6.1.2 step 4). */
    if (((ctx.h0 & mask[0]) | (ctx.h1 & mask[1]) | (ctx.h2 & mask[2]) | (ctx.h3 & mask[3])) == 0) {
      memcpy(found, message, MODIFIER_LEN);
      result = 1;
      break;
    }
    modifier_increment(message);
  }
  free(message);
  return result;
}

static napi_value cga_search_chunk(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4) {
    napi_throw_type_error(env, NULL,
                          "cgaSearchChunk(hash2Input, sec, startModifier, count): 4 arguments required");
    return NULL;
  }

  uint8_t *input, *start;
  size_t input_length, start_length;
  double sec, count;
  if (!shim6_arg_uint8array(env, argv[0], "cgaSearchChunk: hash2Input", &input, &input_length) ||
      !shim6_arg_integer(env, argv[1], "cgaSearchChunk: sec", 0, MAX_SEC, &sec) ||
      !shim6_arg_uint8array(env, argv[2], "cgaSearchChunk: startModifier", &start, &start_length) ||
      !shim6_arg_integer(env, argv[3], "cgaSearchChunk: count", 0, MAX_COUNT, &count)) {
    return NULL;
  }
  if (input_length < MODIFIER_LEN || input_length > MAX_INPUT_LEN) {
    napi_throw_type_error(env, NULL,
                          "cgaSearchChunk: hash2Input must be 16 to 1048576 octets long");
    return NULL;
  }
  if (start_length != MODIFIER_LEN) {
    napi_throw_type_error(env, NULL, "cgaSearchChunk: startModifier must be 16 octets long");
    return NULL;
  }

  uint8_t found[MODIFIER_LEN];
  int status = cga_search(input, input_length, (unsigned)sec, start, (uint64_t)count, found);
  if (status < 0) {
    napi_throw_error(env, NULL, "cgaSearchChunk: out of memory");
    return NULL;
  }

  napi_value out;
  if (status == 0) {
    napi_get_null(env, &out);
    return out;
  }
  void *data;
  napi_value buffer;
  if (napi_create_arraybuffer(env, MODIFIER_LEN, &data, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_uint8_array, MODIFIER_LEN, buffer, 0, &out) != napi_ok) {
    return NULL;
  }
  memcpy(data, found, MODIFIER_LEN);
  return out;
}

napi_status shim6_register_cga_search(napi_env env, napi_value exports) {
  return shim6_export_function(env, exports, "cgaSearchChunk", cga_search_chunk);
}
