// See bytes_job.h.
#include "bytes_job.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
  void *state;
  bool *busy;
  lk_bytes_fn fn;
  const char *what;
  const char *failure;
  napi_ref handle_ref, data_ref;
  const uint8_t *data;
  size_t len;
  bool ok;
  napi_deferred deferred;
  napi_async_work work;
} bytes_job;

static void job_execute(napi_env env, void *data) {
  bytes_job *job = data;
  job->ok = job->fn(job->state, job->data, job->len);
}

static void job_complete(napi_env env, napi_status status, void *data) {
  bytes_job *job = data;
  *job->busy = false;
  napi_delete_reference(env, job->data_ref);
  napi_delete_reference(env, job->handle_ref);
  if (status == napi_ok && job->ok) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, job->deferred, undef);
  } else {
    char text[160];
    snprintf(text, sizeof text, "%s: %s", job->what, job->failure);
    napi_value msg, err;
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

napi_value lk_queue_bytes_job(napi_env env, napi_value handle, napi_value bytes, void *state, bool *busy,
                              lk_bytes_fn fn, const char *what, const char *failure) {
  char text[160];
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length, offset;
  void *base;
  napi_value ab;
  if (napi_is_typedarray(env, bytes, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, bytes, &type, &length, &base, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    snprintf(text, sizeof text, "%s: bytes must be a Uint8Array", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", text);
    return NULL;
  }
  bytes_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  *job = (bytes_job){.state = state, .busy = busy, .fn = fn, .what = what, .failure = failure, .data = base, .len = length};
  napi_value promise, name;
  if (napi_create_reference(env, handle, 1, &job->handle_ref) != napi_ok ||
      napi_create_reference(env, bytes, 1, &job->data_ref) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, job_execute, job_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free(job); // references leak only on an already failing env
    snprintf(text, sizeof text, "%s: could not queue the job", what);
    napi_throw_error(env, NULL, text);
    return NULL;
  }
  *busy = true;
  return promise;
}

napi_status lk_tag_handle(napi_env env, napi_value handle, const napi_type_tag *tag) {
  return napi_type_tag_object(env, handle, tag);
}

void *lk_handle_data(napi_env env, napi_value handle, const napi_type_tag *tag, const char *what) {
  bool ok = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, handle, tag, &ok) != napi_ok || !ok ||
      napi_get_value_external(env, handle, &data) != napi_ok || data == NULL) {
    char text[96];
    snprintf(text, sizeof text, "not a %s handle", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", text);
    return NULL;
  }
  return data;
}

void *lk_handle_call(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const napi_type_tag *tag,
                     const char *what, const char *usage) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", usage);
    return NULL;
  }
  return lk_handle_data(env, argv[0], tag, what);
}
