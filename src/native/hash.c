// sha256 (and md5, for S3's Content-MD5) off the JavaScript thread: each update runs on
// libuv's thread pool, beside the zstd compression jobs, so hashing the layer tar (diff
// id), the blob (content address) and upload parts no longer serialises the packing loop. The digest is OpenSSL's, the one
// Node's own crypto uses: Node exports its OpenSSL symbols to addons and ships the
// headers in include/node/openssl (https://nodejs.org/api/addons.html#linking-to-libraries-included-with-nodejs).
//
// One update may be in flight per hash (EVP contexts are not thread-safe and order
// matters); the JS side (src/native/index.ts) queues them.

#include <node_api.h>

#include "napi_util.h"
#include <openssl/evp.h>

#include "bytes_job.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  EVP_MD_CTX *md;
  bool busy;
  bool finished;
} lk_hash;

// errors of this file carry the code ERR_LAYERKEEP_HASH (napi_util.h)
#define fail(env, msg) lk_fail(env, "ERR_LAYERKEEP_HASH", msg)

static void hash_finalize(napi_env env, void *data, void *hint) {
  lk_hash *h = data;
  EVP_MD_CTX_free(h->md);
  free(h);
}

static const napi_type_tag HASH_TAG = {0x6c6b68617368a001ULL, 0x9d3c1e0f5b7a2c41ULL};

// hashCreate(algorithm?: 'sha256' | 'md5')
static napi_value js_hash_create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[16] = "sha256";
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return fail(env, "hashCreate(algorithm)");
  if (argc >= 1) {
    napi_valuetype t;
    napi_typeof(env, argv[0], &t);
    size_t n = 0;
    if (t != napi_undefined && (t != napi_string || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &n) != napi_ok)) {
      return fail(env, "hashCreate: the algorithm must be 'sha256' or 'md5'");
    }
  }
  const EVP_MD *algo = strcmp(name, "sha256") == 0 ? EVP_sha256() : strcmp(name, "md5") == 0 ? EVP_md5() : NULL;
  if (algo == NULL) return fail(env, "hashCreate: the algorithm must be 'sha256' or 'md5'");
  lk_hash *h = calloc(1, sizeof *h);
  if (h == NULL) return fail(env, "hash: out of memory");
  h->md = EVP_MD_CTX_new();
  if (h->md == NULL || EVP_DigestInit_ex(h->md, algo, NULL) != 1) {
    EVP_MD_CTX_free(h->md);
    free(h);
    return fail(env, "hash: OpenSSL could not initialise a digest");
  }
  napi_value out;
  if (napi_create_external(env, h, hash_finalize, NULL, &out) != napi_ok) {
    EVP_MD_CTX_free(h->md);
    free(h);
    return fail(env, "hash: could not create a handle");
  }
  // from here on the finalizer owns h
  if (lk_tag_handle(env, out, &HASH_TAG) != napi_ok) return fail(env, "hash: could not tag the handle");
  return out;
}

static bool hash_update(void *state, const uint8_t *data, size_t len) {
  return EVP_DigestUpdate(((lk_hash *)state)->md, data, len) == 1;
}

// hashUpdate(handle, bytes: Uint8Array): Promise<void>
static napi_value js_hash_update(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  lk_hash *h = lk_handle_call(env, info, 2, argv, &HASH_TAG, "hash", "hashUpdate(handle, bytes)");
  if (h == NULL) return NULL;
  if (h->busy) return fail(env, "hash: an update is already in flight");
  if (h->finished) return fail(env, "hash: digest already taken");
  return lk_queue_bytes_job(env, argv[0], argv[1], h, &h->busy, hash_update, "hashUpdate", "update failed");
}

// hashDigest(handle): Buffer; the handle is finished afterwards.
static napi_value js_hash_digest(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  lk_hash *h = lk_handle_call(env, info, 1, argv, &HASH_TAG, "hash", "hashDigest(handle)");
  if (h == NULL) return NULL;
  if (h->busy) return fail(env, "hash: digest requested while an update is in flight");
  if (h->finished) return fail(env, "hash: digest already taken");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(h->md, md, &n) != 1) return fail(env, "hash: OpenSSL could not finish the digest");
  h->finished = true;
  napi_value out;
  void *dst;
  if (napi_create_buffer_copy(env, n, md, &dst, &out) != napi_ok) return fail(env, "hash: out of memory");
  return out;
}

napi_status lk_define_hash(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"hashCreate", NULL, js_hash_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"hashUpdate", NULL, js_hash_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"hashDigest", NULL, js_hash_digest, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
