// Handles for stateful native objects (a digest, a chunker) and a job on libuv's thread pool
// that feeds one byte buffer to such a handle, returning a promise. Shared by hash.c and
// chunker.c. The handle's JS object and the
// bytes are referenced until the job completes, so neither can be collected under it; the
// handle's `busy` flag keeps updates in order (the JS side queues them).
#ifndef LAYERKEEP_BYTES_JOB_H
#define LAYERKEEP_BYTES_JOB_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Runs on a pool thread; false fails the promise with "<what>: <failure>".
typedef bool (*lk_bytes_fn)(void *state, const uint8_t *data, size_t len);

// Checks that `bytes` is a Uint8Array, marks *busy and queues fn(state, bytes); returns the
// promise, or NULL with an exception pending.
napi_value lk_queue_bytes_job(napi_env env, napi_value handle, napi_value bytes, void *state, bool *busy,
                              lk_bytes_fn fn, const char *what, const char *failure);

// Handles are externals tagged with their kind, so a hash handle passed where a chunker is
// expected is refused instead of being misread.
napi_status lk_tag_handle(napi_env env, napi_value handle, const napi_type_tag *tag);
// The handle's data, or NULL with a TypeError naming `what` pending.
void *lk_handle_data(napi_env env, napi_value handle, const napi_type_tag *tag, const char *what);

// A call whose first of `n` arguments is a handle of `tag`: fills argv and returns the handle's
// data, or NULL with an error pending (`usage` names the call when arguments are missing).
void *lk_handle_call(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const napi_type_tag *tag,
                     const char *what, const char *usage);

#endif
