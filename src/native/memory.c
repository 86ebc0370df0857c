// releaseFreeMemory: glibc's malloc_trim on the thread pool.
#include "napi_util.h"

#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

// releaseFreeMemory(): Promise<boolean>, hands memory the C heap keeps after free() back to
// the kernel. zstd output buffers (4 MiB frames) are allocated on thread-pool threads and freed
// when V8 collects them; glibc keeps the freed space in per-thread arenas, where it counts as
// resident long after the frames are gone. malloc_trim(0) releases the free pages of every
// arena; it takes a few milliseconds, so it runs on the thread pool. Elsewhere than glibc it
// does nothing.
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  bool released;
} trim_job;

static void trim_execute(napi_env env, void *data) {
  trim_job *job = data;
#ifdef __GLIBC__
  job->released = malloc_trim(0) != 0;
#else
  job->released = false;
#endif
}

static void trim_complete(napi_env env, napi_status status, void *data) {
  trim_job *job = data;
  napi_value out;
  napi_get_boolean(env, status == napi_ok && job->released, &out);
  napi_resolve_deferred(env, job->deferred, out);
  napi_delete_async_work(env, job->work);
  free(job);
}

napi_value js_release_free_memory(napi_env env, napi_callback_info info) {
  trim_job *job = calloc(1, sizeof *job);
  napi_value promise, name;
  if (job == NULL) {
    napi_throw_error(env, "ENOMEM", "releaseFreeMemory: out of memory");
    return NULL;
  }
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "releaseFreeMemory", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, trim_execute, trim_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free(job);
    napi_throw_error(env, NULL, "releaseFreeMemory: could not queue the job");
    return NULL;
  }
  return promise;
}
