// Small files in batches on libuv's thread pool. A layer of many small files costs an
// open, a read or write, a close (and on restore chown, chmod, utimes) per file; done on
// the JS thread these syscalls were most of the time, while the compression threads waited.
//
// readFilesBatch: the packer (src/snapshot/pack.ts) reads the next batches ahead of packing
// them. Each file is opened with O_NOFOLLOW and must still be the regular file the walk saw
// (same size and mtime), else the batch stops at it and says why.
//
// writeFilesBatch: the unpacker (src/snapshot/unpack.ts), restoring into a fresh directory,
// hands over files whose parent directories it has already checked and created; each is
// created with O_CREAT|O_EXCL|O_NOFOLLOW (never through or onto an existing node), written,
// then given its owner, mode and times through the open descriptor.

#include <node_api.h>

#include "napi_util.h"

#include "fsname.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { BATCH_OK = 0, BATCH_ERRNO = 1, BATCH_CHANGED = 2, BATCH_SHRANK = 3 };

typedef struct {
  char *names; // NUL-terminated paths, one after the other
  uint32_t count;
  size_t per_file; // numbers per file in `sizes`: 1 (size) or 4 (size, mode, uid, gid)
  double *sizes;
  int64_t *mtimes;
  uint8_t *out;
  size_t cap;
  napi_ref out_ref;
  int kind;
  uint32_t fail_index;
  int fail_errno;
  const char *fail_syscall;
  napi_deferred deferred;
  napi_async_work work;
} batch_job;

// errors of this file carry the code ERR_LAYERKEEP_BATCH_FILES (napi_util.h)
#define fail(env, msg) lk_fail(env, "ERR_LAYERKEEP_BATCH_FILES", msg)

static void stop(batch_job *job, uint32_t i, int kind, int err, const char *syscall) {
  job->kind = kind;
  job->fail_index = i;
  job->fail_errno = err;
  job->fail_syscall = syscall;
}

static void batch_execute(napi_env env, void *data) {
  batch_job *job = data;
  const char *path = job->names;
  size_t off = 0;
  for (uint32_t i = 0; i < job->count; i++, path += strlen(path) + 1) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return stop(job, i, BATCH_ERRNO, errno, "open");
    struct stat st;
    if (fstat(fd, &st) != 0) {
      int err = errno;
      close(fd);
      return stop(job, i, BATCH_ERRNO, err, "fstat");
    }
    size_t want = (size_t)job->sizes[i];
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size != want || mtime != job->mtimes[i]) {
      close(fd);
      return stop(job, i, BATCH_CHANGED, 0, NULL);
    }
    size_t got = 0;
    while (got < want) {
      ssize_t n = pread(fd, job->out + off + got, want - got, (off_t)got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        close(fd);
        return stop(job, i, BATCH_ERRNO, err, "read");
      }
      if (n == 0) {
        close(fd);
        return stop(job, i, BATCH_SHRANK, 0, NULL);
      }
      got += (size_t)n;
    }
    close(fd);
    off += want;
  }
}

static void free_job(batch_job *job) {
  free(job->names);
  free(job->sizes);
  free(job->mtimes);
  free(job);
}

static void batch_complete(napi_env env, napi_status status, void *data) {
  batch_job *job = data;
  napi_delete_reference(env, job->out_ref);
  napi_value result;
  if (status != napi_ok) {
    napi_value msg;
    napi_create_string_utf8(env, "readFilesBatch: the job did not run", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &result);
    napi_reject_deferred(env, job->deferred, result);
  } else if (job->kind == BATCH_OK) {
    napi_get_null(env, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    // {index, kind: 'errno' | 'changed' | 'shrank', errno, syscall}: the caller words the error
    napi_value v;
    napi_create_object(env, &result);
    napi_create_uint32(env, job->fail_index, &v);
    napi_set_named_property(env, result, "index", v);
    const char *kind = job->kind == BATCH_ERRNO ? "errno" : job->kind == BATCH_CHANGED ? "changed" : "shrank";
    napi_create_string_utf8(env, kind, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, result, "kind", v);
    napi_create_int32(env, -job->fail_errno, &v);
    napi_set_named_property(env, result, "errno", v);
    if (job->fail_syscall) {
      napi_create_string_utf8(env, job->fail_syscall, NAPI_AUTO_LENGTH, &v);
      napi_set_named_property(env, result, "syscall", v);
    }
    napi_resolve_deferred(env, job->deferred, result);
  }
  napi_delete_async_work(env, job->work);
  free_job(job);
}

// ---------------------------------------------------------------------------------
// writeFilesBatch

static void write_execute(napi_env env, void *data) {
  batch_job *job = data; // per_file 4: size, mode, uid, gid
  const char *path = job->names;
  size_t off = 0;
  for (uint32_t i = 0; i < job->count; i++, path += strlen(path) + 1) {
    size_t size = (size_t)job->sizes[4 * i];
    mode_t mode = (mode_t)job->sizes[4 * i + 1] & 07777;
    uid_t uid = (uid_t)job->sizes[4 * i + 2];
    gid_t gid = (gid_t)job->sizes[4 * i + 3];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) return stop(job, i, BATCH_ERRNO, errno, "open");
    const char *failed = NULL;
    size_t done = 0;
    while (done < size && failed == NULL) {
      ssize_t n = pwrite(fd, job->out + off + done, size - done, (off_t)done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) failed = "write";
      else done += (size_t)n;
    }
    int64_t ns = job->mtimes[i];
    int64_t sec = ns / 1000000000LL, rem = ns % 1000000000LL;
    if (rem < 0) { rem += 1000000000LL; sec -= 1; }
    struct timespec times[2] = {{.tv_sec = (time_t)sec, .tv_nsec = (long)rem}, {.tv_sec = (time_t)sec, .tv_nsec = (long)rem}};
    // owner before mode: chown clears setuid/setgid
    if (failed == NULL && fchown(fd, uid, gid) != 0) failed = "fchown";
    if (failed == NULL && fchmod(fd, mode) != 0) failed = "fchmod";
    if (failed == NULL && futimens(fd, times) != 0) failed = "futimens";
    int err = errno;
    if (close(fd) != 0 && failed == NULL) { failed = "close"; err = errno; }
    if (failed != NULL) return stop(job, i, BATCH_ERRNO, err ? err : EIO, failed);
    off += size;
  }
}

// Both calls take (paths: string, each path followed by "\0"; numbers: Float64Array with
// `per_file` numbers per path, the first its size; mtimesNs: BigInt64Array; data: Uint8Array)
// and return Promise<null | failure>. readFilesBatch: one number (size); writeFilesBatch:
// four (size, mode, uid, gid). Everything is checked and copied before the job is queued.
static napi_value start_batch(napi_env env, napi_callback_info info, const char *what, size_t per_file,
                              napi_async_execute_callback execute) {
  char msg[192];
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    snprintf(msg, sizeof msg, "%s(paths, numbers, mtimesNs, data)", what);
    return fail(env, msg);
  }
  size_t names_len = 0;
  napi_typedarray_type t1, t2, t3;
  size_t n1, n2, n3, o1, o2, o3;
  void *d1, *d2, *d3;
  napi_value ab;
  napi_valuetype t0;
  if (napi_typeof(env, argv[0], &t0) != napi_ok || t0 != napi_string ||
      napi_get_typedarray_info(env, argv[1], &t1, &n1, &d1, &ab, &o1) != napi_ok || t1 != napi_float64_array ||
      napi_get_typedarray_info(env, argv[2], &t2, &n2, &d2, &ab, &o2) != napi_ok || t2 != napi_bigint64_array ||
      napi_get_typedarray_info(env, argv[3], &t3, &n3, &d3, &ab, &o3) != napi_ok || t3 != napi_uint8_array ||
      n1 != per_file * n2) {
    snprintf(msg, sizeof msg, "%s: expected (string, Float64Array, BigInt64Array, Uint8Array) with %zu number(s) and an mtime per path", what, per_file);
    return fail(env, msg);
  }
  batch_job *job = calloc(1, sizeof *job);
  if (job == NULL) return fail(env, "batch: out of memory");
  job->count = (uint32_t)n2;
  job->per_file = per_file;
  job->names = lk_fs_bytes(env, argv[0], &names_len);
  if (job->names == NULL) {
    free_job(job);
    return NULL;
  }
  job->sizes = malloc(n1 * sizeof(double) + 1);
  job->mtimes = malloc(n2 * sizeof(int64_t) + 1);
  if (job->sizes == NULL || job->mtimes == NULL) {
    free_job(job);
    return fail(env, "batch: out of memory");
  }
  memcpy(job->sizes, d1, n1 * sizeof(double));
  memcpy(job->mtimes, d2, n2 * sizeof(int64_t));
  const char *bad = NULL;
  size_t seen = 0, total = 0;
  for (size_t i = 0; i < names_len; i++) if (job->names[i] == '\0') seen++;
  if (seen != job->count || names_len == 0 || job->names[names_len - 1] != '\0') bad = "paths must be one NUL-terminated path per file";
  for (size_t i = 0; i < n1 && bad == NULL; i++) {
    double v = job->sizes[i], max = i % per_file == 0 ? 9007199254740991.0 : 4294967295.0; // a size, or a mode or id
    if (!(v >= 0 && v <= max) || v != (double)(uint64_t)v) bad = "a size, mode or id is out of range";
    else if (i % per_file == 0) total += (size_t)v;
  }
  if (bad == NULL && total > n3) bad = "the files add up to more than the data buffer";
  if (bad != NULL) {
    free_job(job);
    snprintf(msg, sizeof msg, "%s: %s", what, bad);
    return fail(env, msg);
  }
  job->out = d3;
  job->cap = n3;
  napi_value promise, name;
  if (napi_create_reference(env, argv[3], 1, &job->out_ref) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, batch_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free_job(job);
    snprintf(msg, sizeof msg, "%s: could not queue the job", what);
    return fail(env, msg);
  }
  return promise;
}

static napi_value js_read_files_batch(napi_env env, napi_callback_info info) {
  return start_batch(env, info, "readFilesBatch", 1, batch_execute);
}

static napi_value js_write_files_batch(napi_env env, napi_callback_info info) {
  return start_batch(env, info, "writeFilesBatch", 4, write_execute);
}

napi_status lk_define_batch_files(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"readFilesBatch", NULL, js_read_files_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeFilesBatch", NULL, js_write_files_batch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
