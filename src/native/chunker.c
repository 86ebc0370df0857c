// Content-defined chunking on libuv's thread pool: the same FastCDC cuts as the reference
// implementation in src/incremental/chunker.ts (gear table, masks and sizes are handed over
// from there, so the two cannot drift apart), with each chunk's sha256 from OpenSSL. A diff
// chunks every large file that changed, old and new version; in JavaScript on the main
// thread that took longer than packing the whole layer.
//
// Usage: create a handle, push the file's bytes in order (one push in flight at a time;
// each returns a promise), then end() for every chunk's length and hash.

#include <node_api.h>

#include "napi_util.h"
#include <openssl/evp.h>

#include "bytes_job.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint32_t gear[256];
  uint32_t min, avg, max, mask_hard, mask_easy;
  EVP_MD_CTX *sha;
  uint32_t len; // bytes in the current chunk so far
  uint32_t fp;  // gear state where the last scan stopped
  // finished chunks: lengths and hashes
  uint32_t *lengths;
  uint8_t *hashes;
  size_t count, cap;
  bool busy, failed, ended;
} lk_chunker;

// errors of this file carry the code ERR_LAYERKEEP_CHUNKER (napi_util.h)
#define fail(env, msg) lk_fail(env, "ERR_LAYERKEEP_CHUNKER", msg)

static void chunker_finalize(napi_env env, void *data, void *hint) {
  lk_chunker *c = data;
  EVP_MD_CTX_free(c->sha);
  free(c->lengths);
  free(c->hashes);
  free(c);
}

static bool cut(lk_chunker *c) {
  if (c->count == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 256;
    uint32_t *l = realloc(c->lengths, cap * sizeof *l);
    if (l == NULL) return false;
    c->lengths = l;
    uint8_t *h = realloc(c->hashes, cap * 32);
    if (h == NULL) return false;
    c->hashes = h;
    c->cap = cap;
  }
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(c->sha, c->hashes + c->count * 32, &n) != 1 || n != 32) return false;
  if (EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL) != 1) return false;
  c->lengths[c->count++] = c->len;
  c->len = 0;
  c->fp = 0;
  return true;
}

// Rolls the gear hash over d[i..end) from state *f; returns the index just past the first
// byte where (state & mask) is zero, or -1 with *f holding the state.
static long scan(const lk_chunker *c, const uint8_t *d, size_t i, size_t end, uint32_t mask, uint32_t *f) {
  uint32_t s = *f;
  for (; i < end; i++) {
    s = (s << 1) + c->gear[d[i]];
    if ((s & mask) == 0) {
      *f = s;
      return (long)(i + 1);
    }
  }
  *f = s;
  return -1;
}

// The loop of createChunker().push in chunker.ts, step for step.
static bool push(lk_chunker *c, const uint8_t *d, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t start = i;
    if (c->len < c->min) { // bytes below the minimum size only go to the hash
      size_t take = c->min - c->len < n - i ? c->min - c->len : n - i;
      i += take;
      c->len += (uint32_t)take;
      if (c->len < c->min) return EVP_DigestUpdate(c->sha, d + start, i - start) == 1;
    }
    size_t i0 = i;
    uint32_t f = c->fp;
    long at = -1;
    size_t room = c->avg > c->len ? c->avg - c->len : 0;
    size_t hard_end = i0 + room < n ? i0 + room : n;
    if (i < hard_end) {
      at = scan(c, d, i, hard_end, c->mask_hard, &f);
      if (at < 0) i = hard_end;
    }
    if (at < 0) {
      size_t easy_end = i0 + (c->max - c->len) < n ? i0 + (c->max - c->len) : n;
      if (i < easy_end) {
        at = scan(c, d, i, easy_end, c->mask_easy, &f);
        if (at < 0) i = easy_end;
      }
    }
    if (at >= 0) i = (size_t)at;
    if (EVP_DigestUpdate(c->sha, d + start, i - start) != 1) return false;
    c->len += (uint32_t)(i - i0);
    c->fp = f;
    if ((at >= 0 || c->len >= c->max) && !cut(c)) return false;
  }
  return true;
}

static const napi_type_tag CHUNKER_TAG = {0x6c6b6368756e6b01ULL, 0x3f8e2a9b4c6d1e57ULL};

// chunkerCreate(gear: Int32Array(256), min, avg, max, maskHard, maskEasy)
static napi_value js_chunker_create(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) return fail(env, "chunkerCreate(gear, min, avg, max, maskHard, maskEasy)");
  napi_typedarray_type t;
  size_t n, off;
  void *gear;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[0], &t, &n, &gear, &ab, &off) != napi_ok || t != napi_int32_array || n != 256) {
    return fail(env, "chunkerCreate: the gear table must be an Int32Array of 256");
  }
  uint32_t v[5];
  for (int k = 0; k < 5; k++) {
    if (napi_get_value_uint32(env, argv[k + 1], &v[k]) != napi_ok) return fail(env, "chunkerCreate: sizes and masks must be numbers");
  }
  if (v[0] == 0 || v[0] > v[1] || v[1] > v[2]) return fail(env, "chunkerCreate: need 0 < min <= avg <= max");
  lk_chunker *c = calloc(1, sizeof *c);
  if (c == NULL) return fail(env, "chunker: out of memory");
  memcpy(c->gear, gear, sizeof c->gear);
  c->min = v[0], c->avg = v[1], c->max = v[2], c->mask_hard = v[3], c->mask_easy = v[4];
  c->sha = EVP_MD_CTX_new();
  napi_value out;
  if (c->sha == NULL || EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL) != 1 ||
      napi_create_external(env, c, chunker_finalize, NULL, &out) != napi_ok) {
    EVP_MD_CTX_free(c->sha);
    free(c);
    return fail(env, "chunker: could not initialise");
  }
  // from here on the finalizer owns c
  if (lk_tag_handle(env, out, &CHUNKER_TAG) != napi_ok) return fail(env, "chunker: could not tag the handle");
  return out;
}

static bool chunker_push(void *state, const uint8_t *data, size_t len) {
  lk_chunker *c = state;
  if (!push(c, data, len)) c->failed = true;
  return !c->failed;
}

// chunkerPush(handle, bytes: Uint8Array): Promise<void>; bytes must not change until it settles
static napi_value js_chunker_push(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  lk_chunker *c = lk_handle_call(env, info, 2, argv, &CHUNKER_TAG, "chunker", "chunkerPush(handle, bytes)");
  if (c == NULL) return NULL;
  if (c->busy) return fail(env, "chunker: a push is already in flight");
  if (c->ended || c->failed) return fail(env, "chunker: already ended or failed");
  return lk_queue_bytes_job(env, argv[0], argv[1], c, &c->busy, chunker_push, "chunkerPush", "hashing failed (out of memory?)");
}

// chunkerEnd(handle): [lengths: Uint32Array, hashes: Buffer (32 bytes each)]
static napi_value js_chunker_end(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  lk_chunker *c = lk_handle_call(env, info, 1, argv, &CHUNKER_TAG, "chunker", "chunkerEnd(handle)");
  if (c == NULL) return NULL;
  if (c->busy) return fail(env, "chunker: end() while a push is in flight");
  if (c->ended || c->failed) return fail(env, "chunker: already ended or failed");
  if (c->len > 0 && !cut(c)) return fail(env, "chunker: hashing failed");
  c->ended = true;
  napi_value lengths_ab, lengths, hashes, out;
  void *dst;
  if (napi_create_arraybuffer(env, c->count * 4, &dst, &lengths_ab) != napi_ok) return fail(env, "chunker: out of memory");
  if (c->count) memcpy(dst, c->lengths, c->count * 4);
  if (napi_create_typedarray(env, napi_uint32_array, c->count, lengths_ab, 0, &lengths) != napi_ok ||
      napi_create_buffer_copy(env, c->count * 32, c->count ? (const void *)c->hashes : (const void *)"", &dst, &hashes) != napi_ok ||
      napi_create_array_with_length(env, 2, &out) != napi_ok || napi_set_element(env, out, 0, lengths) != napi_ok ||
      napi_set_element(env, out, 1, hashes) != napi_ok) {
    return fail(env, "chunker: out of memory");
  }
  return out;
}

napi_status lk_define_chunker(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"chunkerCreate", NULL, js_chunker_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"chunkerPush", NULL, js_chunker_push, NULL, NULL, NULL, napi_enumerable, NULL},
      {"chunkerEnd", NULL, js_chunker_end, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
