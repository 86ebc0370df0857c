// sha256 (and md5, for S3's Content-MD5) off the JavaScript thread: each update runs on
// libuv's thread pool, beside the zstd compression jobs, so hashing the layer tar (diff
// id), the blob (content address) and upload parts no longer serialises the packing loop. The digest is OpenSSL's, the one
// Node's own crypto uses: Node exports its OpenSSL symbols to addons and ships the
// headers in include/node/openssl (https://nodejs.org/api/addons.html#linking-to-libraries-included-with-nodejs).
//
// One update may be in flight per hash (EVP contexts are not thread-safe and order
// matters); the JS side (src/native/index.ts) queues them.

#include <node_api.h>
#include <openssl/evp.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  EVP_MD_CTX *md;
  bool busy;
  bool finished;
} lk_hash;

typedef struct {
  lk_hash *hash;
  napi_ref hash_ref; // keeps the external (and so the context) alive while the job runs
  napi_ref data_ref; // keeps the bytes alive
  const uint8_t *data;
  size_t len;
  int ok;
  napi_deferred deferred;
  napi_async_work work;
} update_job;

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, "ERR_LAYERKEEP_HASH", msg);
  return NULL;
}

static void hash_finalize(napi_env env, void *data, void *hint) {
  lk_hash *h = data;
  EVP_MD_CTX_free(h->md);
  free(h);
}

static lk_hash *get_hash(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    fail(env, "not a hash handle");
    return NULL;
  }
  return data;
}

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
  return out;
}

static void update_execute(napi_env env, void *data) {
  update_job *job = data;
  job->ok = EVP_DigestUpdate(job->hash->md, job->data, job->len) == 1;
}

static void update_complete(napi_env env, napi_status status, void *data) {
  update_job *job = data;
  job->hash->busy = false;
  napi_delete_reference(env, job->data_ref);
  napi_delete_reference(env, job->hash_ref);
  if (status == napi_ok && job->ok) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, job->deferred, undef);
  } else {
    napi_value msg, err;
    napi_create_string_utf8(env, "hash: update failed", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

// hashUpdate(handle, bytes: Uint8Array): Promise<void>
static napi_value js_hash_update(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return fail(env, "hashUpdate(handle, bytes)");
  lk_hash *h = get_hash(env, argv[0]);
  if (h == NULL) return NULL;
  if (h->busy) return fail(env, "hash: an update is already in flight");
  if (h->finished) return fail(env, "hash: digest already taken");
  bool is_typed = false;
  napi_is_typedarray(env, argv[1], &is_typed);
  if (!is_typed) return fail(env, "hashUpdate: bytes must be a Uint8Array");
  napi_typedarray_type type;
  size_t length, offset;
  void *base;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &base, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    return fail(env, "hashUpdate: bytes must be a Uint8Array");
  }
  update_job *job = calloc(1, sizeof *job);
  if (job == NULL) return fail(env, "hash: out of memory");
  job->hash = h;
  job->data = base;
  job->len = length;
  napi_value promise, name;
  if (napi_create_reference(env, argv[0], 1, &job->hash_ref) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &job->data_ref) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "layerkeep.hash", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, update_execute, update_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free(job); // references leak only on an already failing env
    return fail(env, "hash: could not queue the update");
  }
  h->busy = true;
  return promise;
}

// hashDigest(handle): Buffer; the handle is finished afterwards.
static napi_value js_hash_digest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return fail(env, "hashDigest(handle)");
  lk_hash *h = get_hash(env, argv[0]);
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
