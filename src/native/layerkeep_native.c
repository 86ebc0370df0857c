// layerkeep_native: the few Linux syscalls Node's fs module lacks (xattrs, mknod,
// nanosecond lutimes, renameat2, directory fsync) plus a one-call-per-directory
// metadata scan for the snapshot walker; and, on the thread pool, digests (hash.c),
// batched reads and writes of small files (batchfiles.c) and content-defined chunking
// (chunker.c).
// Plain C on Node-API version 8, so one binary loads on every Node release that
// supports that version (20, 22, 24, ...):
// https://nodejs.org/api/n-api.html#node-api-version-matrix
//
// Every failing syscall throws an Error shaped like Node's fs errors:
// { code: 'ENOENT', errno: -2, syscall: 'lgetxattr', path, dest? } with the message
// "ENOENT: No such file or directory, lgetxattr '/some/path'".

#include <node_api.h>

#include "fsname.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

// Kernel limits (include/uapi/linux/limits.h): longest xattr name, value and name list.
#define LK_XATTR_NAME_MAX 255
#define LK_XATTR_SIZE_MAX 65536
#define LK_XATTR_LIST_MAX 65536

#define NAPI_CALL(env, call)                                      \
  do {                                                            \
    if ((call) != napi_ok) return lk_rethrow_napi_failure(env);  \
  } while (0)

// ---------------------------------------------------------------------------------
// Errors

// The errno names Node itself uses (libuv's table); anything else falls back to
// "E<number>" rather than guessing.
static const char *errno_name(int err) {
  switch (err) {
#define LK_ERRNO(e) case e: return #e;
    LK_ERRNO(EPERM) LK_ERRNO(ENOENT) LK_ERRNO(ESRCH) LK_ERRNO(EINTR) LK_ERRNO(EIO)
    LK_ERRNO(ENXIO) LK_ERRNO(E2BIG) LK_ERRNO(EBADF) LK_ERRNO(EAGAIN) LK_ERRNO(ENOMEM)
    LK_ERRNO(EACCES) LK_ERRNO(EFAULT) LK_ERRNO(EBUSY) LK_ERRNO(EEXIST) LK_ERRNO(EXDEV)
    LK_ERRNO(ENODEV) LK_ERRNO(ENOTDIR) LK_ERRNO(EISDIR) LK_ERRNO(EINVAL) LK_ERRNO(ENFILE)
    LK_ERRNO(EMFILE) LK_ERRNO(ETXTBSY) LK_ERRNO(EFBIG) LK_ERRNO(ENOSPC) LK_ERRNO(ESPIPE)
    LK_ERRNO(EROFS) LK_ERRNO(EMLINK) LK_ERRNO(EPIPE) LK_ERRNO(ERANGE) LK_ERRNO(ENAMETOOLONG)
    LK_ERRNO(ENOSYS) LK_ERRNO(ENOTEMPTY) LK_ERRNO(ELOOP) LK_ERRNO(ENODATA)
    LK_ERRNO(EOVERFLOW) LK_ERRNO(EILSEQ) LK_ERRNO(ENOTSUP) LK_ERRNO(EDQUOT)
    LK_ERRNO(ESTALE) LK_ERRNO(ECANCELED) LK_ERRNO(ENOTTY)
#undef LK_ERRNO
    default: return NULL;
  }
}

static napi_value lk_rethrow_napi_failure(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info *info = NULL;
    napi_get_last_error_info(env, &info);
    napi_throw_error(env, NULL,
                     info && info->error_message ? info->error_message
                                                 : "layerkeep native: Node-API call failed");
  }
  return NULL;
}

static void set_string_prop(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, obj, key, v);
}

// Throws an fs-style error for `err` from `syscall` on `path` (and `dest` for renames),
// explained by `reason` (strerror's text when NULL). Returns NULL, for `return throw...`.
static napi_value throw_errno_because(napi_env env, int err, const char *reason,
                                      const char *syscall, const char *path, const char *dest) {
  char code_buf[16];
  const char *code = errno_name(err);
  if (code == NULL) {
    snprintf(code_buf, sizeof code_buf, "E%d", err);
    code = code_buf;
  }
  if (reason == NULL) reason = strerror(err);
  size_t cap = strlen(code) + strlen(reason) + strlen(syscall) + strlen(path) +
               (dest ? strlen(dest) : 0) + 32;
  char *message = malloc(cap);
  if (message == NULL) {
    napi_throw_error(env, code, reason);
    return NULL;
  }
  int reason_at = (int)strlen(code) + 2;
  if (dest)
    snprintf(message, cap, "%s: %s, %s '%s' -> '%s'", code, reason, syscall, path, dest);
  else
    snprintf(message, cap, "%s: %s, %s '%s'", code, reason, syscall, path);
  // Node (libuv) words reasons in lower case: "ENOENT: no such file or directory, ...".
  if (message[reason_at] >= 'A' && message[reason_at] <= 'Z') message[reason_at] += 'a' - 'A';

  napi_value code_v, message_v, error, errno_v;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_v) != napi_ok ||
      napi_create_error(env, code_v, message_v, &error) != napi_ok) {
    free(message);
    return lk_rethrow_napi_failure(env);
  }
  free(message);
  if (napi_create_int32(env, -err, &errno_v) == napi_ok)
    napi_set_named_property(env, error, "errno", errno_v);
  set_string_prop(env, error, "syscall", syscall);
  set_string_prop(env, error, "path", path);
  if (dest) set_string_prop(env, error, "dest", dest);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path,
                              const char *dest) {
  return throw_errno_because(env, err, NULL, syscall, path, dest);
}

static napi_value throw_type_error(napi_env env, const char *code, const char *message) {
  napi_throw_type_error(env, code, message);
  return NULL;
}

// ---------------------------------------------------------------------------------
// Arguments

// Reads a JS string into `buf` as NUL-terminated UTF-8. A string that does not fit
// fails the way the kernel would (ENAMETOOLONG for paths, ERANGE for xattr names);
// one with an embedded NUL is a TypeError, as in Node's fs.
static bool get_string(napi_env env, napi_value value, char *buf, size_t cap, const char *what,
                       int too_long_errno, const char *syscall) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a string", what);
    throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  napi_get_value_string_utf8(env, value, buf, cap, NULL);
  if (len >= cap) {
    throw_errno(env, too_long_errno, syscall, buf, NULL);
    return false;
  }
  if (strlen(buf) != len) {
    char message[96];
    snprintf(message, sizeof message, "%s must not contain null bytes", what);
    throw_type_error(env, "ERR_INVALID_ARG_VALUE", message);
    return false;
  }
  return true;
}

// Reads a path (a name string as fsname.h maps it) into `buf` as NUL-terminated bytes;
// ENAMETOOLONG if it does not fit, a TypeError if it holds a NUL byte.
static bool get_path(napi_env env, napi_value value, char *buf, size_t cap, const char *syscall) {
  size_t len = 0;
  char *bytes = lk_fs_bytes(env, value, &len);
  if (bytes == NULL) return false;
  bool ok = false;
  if (len >= cap) {
    memcpy(buf, bytes, cap - 1);
    buf[cap - 1] = '\0';
    throw_errno(env, ENAMETOOLONG, syscall, buf, NULL);
  } else if (strlen(bytes) != len) {
    throw_type_error(env, "ERR_INVALID_ARG_VALUE", "path must not contain null bytes");
  } else {
    memcpy(buf, bytes, len + 1);
    ok = true;
  }
  free(bytes);
  return ok;
}

#define GET_PATH(env, value, buf, syscall) get_path(env, value, buf, sizeof(buf), syscall)
#define GET_XATTR_NAME(env, value, buf, syscall) \
  get_string(env, value, buf, sizeof(buf), "xattr name", ERANGE, syscall)

static bool get_u32(napi_env env, napi_value value, const char *what, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || !isfinite(d) || d < 0 ||
      d > 4294967295.0 || floor(d) != d) {
    char message[96];
    snprintf(message, sizeof message, "%s must be an integer from 0 to 4294967295", what);
    throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

static bool get_i64_bigint(napi_env env, napi_value value, const char *what, int64_t *out) {
  bool lossless = false;
  if (napi_get_value_bigint_int64(env, value, out, &lossless) != napi_ok || !lossless) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a bigint in the signed 64-bit range", what);
    throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  return true;
}

static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    lk_rethrow_napi_failure(env);
    return false;
  }
  // Missing arguments arrive as undefined and fail their type check.
  return true;
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// ---------------------------------------------------------------------------------
// Extended attributes

static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_MAX], name[LK_XATTR_NAME_MAX + 1];
  if (!get_args(env, info, 2, argv) || !GET_PATH(env, argv[0], path, "lgetxattr") ||
      !GET_XATTR_NAME(env, argv[1], name, "lgetxattr"))
    return NULL;

  char *value = malloc(LK_XATTR_SIZE_MAX);
  if (value == NULL) return throw_errno(env, ENOMEM, "lgetxattr", path, NULL);
  ssize_t n = lgetxattr(path, name, value, LK_XATTR_SIZE_MAX);
  if (n < 0) {
    int err = errno;
    free(value);
    if (err == ENODATA) {
      napi_value null_v;
      napi_get_null(env, &null_v);
      return null_v;
    }
    return throw_errno(env, err, "lgetxattr", path, NULL);
  }
  napi_value result;
  napi_status status = napi_create_buffer_copy(env, (size_t)n, value, NULL, &result);
  free(value);
  NAPI_CALL(env, status);
  return result;
}

static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[PATH_MAX], name[LK_XATTR_NAME_MAX + 1];
  if (!get_args(env, info, 3, argv) || !GET_PATH(env, argv[0], path, "lsetxattr") ||
      !GET_XATTR_NAME(env, argv[1], name, "lsetxattr"))
    return NULL;
  bool is_buffer = false;
  void *data = NULL;
  size_t len = 0;
  if (napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok)
    return throw_type_error(env, "ERR_INVALID_ARG_TYPE", "xattr value must be a Buffer");
  if (lsetxattr(path, name, len ? data : "", len, 0) != 0)
    return throw_errno(env, errno, "lsetxattr", path, NULL);
  return undefined(env);
}

// Splits a kernel xattr name list ("a\0b\0") into a JS string array.
static napi_value name_list_to_array(napi_env env, const char *list, size_t len) {
  napi_value array;
  NAPI_CALL(env, napi_create_array(env, &array));
  uint32_t index = 0;
  for (size_t off = 0; off < len;) {
    size_t n = strnlen(list + off, len - off);
    napi_value name;
    NAPI_CALL(env, napi_create_string_utf8(env, list + off, n, &name));
    NAPI_CALL(env, napi_set_element(env, array, index++, name));
    off += n + 1;
  }
  return array;
}

static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[PATH_MAX];
  if (!get_args(env, info, 1, argv) || !GET_PATH(env, argv[0], path, "llistxattr")) return NULL;
  char *list = malloc(LK_XATTR_LIST_MAX);
  if (list == NULL) return throw_errno(env, ENOMEM, "llistxattr", path, NULL);
  ssize_t n = llistxattr(path, list, LK_XATTR_LIST_MAX);
  if (n < 0) {
    int err = errno;
    free(list);
    return throw_errno(env, err, "llistxattr", path, NULL);
  }
  napi_value result = name_list_to_array(env, list, (size_t)n);
  free(list);
  return result;
}

static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_MAX], name[LK_XATTR_NAME_MAX + 1];
  if (!get_args(env, info, 2, argv) || !GET_PATH(env, argv[0], path, "lremovexattr") ||
      !GET_XATTR_NAME(env, argv[1], name, "lremovexattr"))
    return NULL;
  if (lremovexattr(path, name) != 0) return throw_errno(env, errno, "lremovexattr", path, NULL);
  return undefined(env);
}

// ---------------------------------------------------------------------------------
// mknod, timestamps, renames, directory fsync

static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char path[PATH_MAX];
  uint32_t mode, major_n, minor_n;
  if (!get_args(env, info, 4, argv) || !GET_PATH(env, argv[0], path, "mknod") ||
      !get_u32(env, argv[1], "mode", &mode) || !get_u32(env, argv[2], "major", &major_n) ||
      !get_u32(env, argv[3], "minor", &minor_n))
    return NULL;
  if (mknod(path, (mode_t)mode, makedev(major_n, minor_n)) != 0)
    return throw_errno(env, errno, "mknod", path, NULL);
  return undefined(env);
}

static struct timespec ns_to_timespec(int64_t ns) {
  // Floor division so that negative (pre-1970) times keep 0 <= tv_nsec < 1e9.
  int64_t sec = ns / 1000000000;
  int64_t rem = ns % 1000000000;
  if (rem < 0) {
    sec -= 1;
    rem += 1000000000;
  }
  struct timespec ts = {.tv_sec = (time_t)sec, .tv_nsec = (long)rem};
  return ts;
}

static napi_value js_lutimes_ns(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[PATH_MAX];
  int64_t atime_ns, mtime_ns;
  if (!get_args(env, info, 3, argv) || !GET_PATH(env, argv[0], path, "utimensat") ||
      !get_i64_bigint(env, argv[1], "atimeNs", &atime_ns) ||
      !get_i64_bigint(env, argv[2], "mtimeNs", &mtime_ns))
    return NULL;
  struct timespec times[2] = {ns_to_timespec(atime_ns), ns_to_timespec(mtime_ns)};
  if (utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) != 0)
    return throw_errno(env, errno, "utimensat", path, NULL);
  return undefined(env);
}

// renameat2 through syscall(2): glibc only grew a wrapper in 2.28.
static napi_value rename_with_flags(napi_env env, napi_callback_info info, unsigned int flags) {
  napi_value argv[2];
  char from[PATH_MAX], to[PATH_MAX];
  if (!get_args(env, info, 2, argv) || !GET_PATH(env, argv[0], from, "renameat2") ||
      !GET_PATH(env, argv[1], to, "renameat2"))
    return NULL;
  if (syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags) != 0)
    return throw_errno(env, errno, "renameat2", from, to);
  return undefined(env);
}

static napi_value js_rename_exchange(napi_env env, napi_callback_info info) {
  return rename_with_flags(env, info, RENAME_EXCHANGE);
}

static napi_value js_rename_noreplace(napi_env env, napi_callback_info info) {
  return rename_with_flags(env, info, RENAME_NOREPLACE);
}

static napi_value js_fsync_dir(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[PATH_MAX];
  if (!get_args(env, info, 1, argv) || !GET_PATH(env, argv[0], path, "open")) return NULL;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "open", path, NULL);
  if (fsync(fd) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "fsync", path, NULL);
  }
  close(fd);
  return undefined(env);
}


// ---------------------------------------------------------------------------------
// scanDir: readdir + lstat + xattrs of every entry of one directory in one call.
//
// Three phases: (1) read every name; (2) lstat each entry and read its xattrs, which
// is nothing but syscalls (two per entry without xattrs), so a large directory is
// split over a few threads; (3) on the calling thread, the only one that may use
// Node-API, check for failures in readdir order and build the result. Stat fields
// are packed into fixed-size records in one ArrayBuffer that index.ts turns into
// plain objects, which is far cheaper than setting properties through Node-API.

// Packed stat fields of one entry; the layout is read by index.ts (RECORD_*).
typedef struct {
  uint64_t ino;
  uint64_t dev;
  int64_t mtime_ns;
  int64_t ctime_ns;
  double size;
  double blocks;
  uint32_t mode;
  uint32_t nlink;
  uint32_t uid;
  uint32_t gid;
  uint32_t rdev_major;
  uint32_t rdev_minor;
  uint32_t reserved[4];
} scan_record;

_Static_assert(sizeof(scan_record) == 88, "scan_record layout is shared with index.ts");
_Static_assert(offsetof(scan_record, mode) == 48, "scan_record layout is shared with index.ts");

// What phase 2 learned about one entry besides its record.
typedef struct {
  size_t name_off;             // into scan_state.names, NUL-terminated there
  size_t name_len;
  int err;                     // 0, or errno of failed_syscall; ENOENT: entry vanished
  const char *failed_syscall;
  const char *reason;          // why, when strerror(err) would not say it well
  char *xattrs;                // malloc'd (name NUL, u32 value length, value)*, or NULL
  uint32_t xattr_count;
} scan_entry;

typedef struct {
  char *data;
  size_t len;
  size_t cap;
} growable;

static bool grow(growable *g, size_t extra) {
  if (g->len + extra <= g->cap) return true;
  size_t cap = g->cap ? g->cap : 4096;
  while (cap < g->len + extra) cap *= 2;
  char *data = realloc(g->data, cap);
  if (data == NULL) return false;
  g->data = data;
  g->cap = cap;
  return true;
}

typedef struct {
  char dir[PATH_MAX];
  size_t dir_len;
  DIR *dirp;
  growable names;    // every name, NUL-terminated
  growable entries;  // scan_entry[count]
  size_t count;
  scan_record *records;  // [count]
  size_t next;           // phase 2: first entry no thread has claimed yet (atomic)
  size_t batch;          // phase 2: entries a thread claims at a time
  bool skip_xattrs;      // lstat only (the no-change shortcut: xattr changes move ctime)
  bool odd_names;        // some name is not valid UTF-8 (handed over as fsname.h maps it)
} scan_state;

static bool ns_from_timespec(const struct timespec *ts, int64_t *out) {
  int64_t ns;
  if (__builtin_mul_overflow((int64_t)ts->tv_sec, (int64_t)1000000000, &ns) ||
      __builtin_add_overflow(ns, (int64_t)ts->tv_nsec, &ns))
    return false;
  *out = ns;
  return true;
}

static void entry_failed(scan_entry *e, int err, const char *syscall) {
  e->err = err;
  e->failed_syscall = syscall;
  e->reason = NULL;
}

// Reads all xattrs of `path` into e->xattrs. Sizes are asked first: the kernel
// allocates a buffer as large as the one offered, so offering 64 KiB for every entry
// would cost more than the extra syscall on the rare entry that has xattrs.
static void read_xattrs(const char *path, scan_entry *e) {
  char *list = NULL;
  ssize_t list_len;
  for (;;) {
    list_len = llistxattr(path, NULL, 0);
    if (list_len < 0 && errno == ENOTSUP) return;  // filesystem without xattrs
    if (list_len < 0) {
      entry_failed(e, errno, "llistxattr");
      return;
    }
    if (list_len == 0) return;
    list = malloc((size_t)list_len);
    if (list == NULL) {
      entry_failed(e, ENOMEM, "llistxattr");
      return;
    }
    ssize_t got = llistxattr(path, list, (size_t)list_len);
    if (got >= 0) {
      list_len = got;
      break;
    }
    int err = errno;
    free(list);
    if (err != ERANGE) {
      entry_failed(e, err, "llistxattr");
      return;
    }
    // ERANGE: an xattr was added since the size was asked; ask again.
  }

  growable blob = {0};
  for (ssize_t off = 0; off < list_len && e->err == 0;) {
    const char *name = list + off;
    size_t name_len = strnlen(name, (size_t)(list_len - off));
    off += (ssize_t)name_len + 1;
    for (;;) {
      ssize_t value_len = lgetxattr(path, name, NULL, 0);
      if (value_len < 0 && errno == ENODATA) break;  // removed since the list was read
      if (value_len < 0) {
        entry_failed(e, errno, "lgetxattr");
        break;
      }
      size_t header = name_len + 1 + sizeof(uint32_t);
      if (!grow(&blob, header + (size_t)value_len)) {
        entry_failed(e, ENOMEM, "lgetxattr");
        break;
      }
      char *at = blob.data + blob.len;
      ssize_t got = 0;
      if (value_len > 0) {
        got = lgetxattr(path, name, at + header, (size_t)value_len);
        if (got < 0 && errno == ERANGE) continue;  // grew since its size was asked
        if (got < 0 && errno == ENODATA) break;
        if (got < 0) {
          entry_failed(e, errno, "lgetxattr");
          break;
        }
      }
      uint32_t len32 = (uint32_t)got;
      memcpy(at, name, name_len + 1);
      memcpy(at + name_len + 1, &len32, sizeof len32);
      blob.len += header + (size_t)got;
      e->xattr_count++;
      break;
    }
  }
  free(list);
  if (e->err != 0 || e->xattr_count == 0) {
    free(blob.data);
    e->xattr_count = 0;
    return;
  }
  e->xattrs = blob.data;
}

// Phase 2 for entry i. `path` holds "<dir>/" and has room for PATH_MAX bytes.
static void scan_one(scan_state *st, size_t i, char *path) {
  scan_entry *e = (scan_entry *)st->entries.data + i;
  const char *name = st->names.data + e->name_off;
  struct stat sb;
  if (fstatat(dirfd(st->dirp), name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
    entry_failed(e, errno, "lstat");
    return;
  }
  scan_record *rec = &st->records[i];
  rec->ino = (uint64_t)sb.st_ino;
  rec->dev = (uint64_t)sb.st_dev;
  rec->size = (double)sb.st_size;
  rec->blocks = (double)sb.st_blocks;
  rec->mode = (uint32_t)sb.st_mode;
  rec->nlink = (uint32_t)sb.st_nlink;
  rec->uid = (uint32_t)sb.st_uid;
  rec->gid = (uint32_t)sb.st_gid;
  rec->rdev_major = (uint32_t)major(sb.st_rdev);
  rec->rdev_minor = (uint32_t)minor(sb.st_rdev);
  if (!ns_from_timespec(&sb.st_mtim, &rec->mtime_ns) ||
      !ns_from_timespec(&sb.st_ctim, &rec->ctime_ns)) {
    entry_failed(e, EOVERFLOW, "lstat");
    e->reason = "timestamp does not fit in signed 64-bit nanoseconds";
    return;
  }

  if (st->skip_xattrs) return;
  // fstatat works relative to the directory, but the l*xattr calls take a path.
  if (st->dir_len + 1 + e->name_len >= PATH_MAX) {
    entry_failed(e, ENAMETOOLONG, "llistxattr");
    return;
  }
  memcpy(path + st->dir_len + 1, name, e->name_len + 1);
  read_xattrs(path, e);
}

#define SCAN_PARALLEL_MIN 64  // smaller directories: thread start-up would cost more
#define SCAN_MAX_BATCH 64      // most entries one thread claims at a time
#ifndef SCAN_MAX_THREADS
#define SCAN_MAX_THREADS 4
#endif

static void *scan_worker(void *arg) {
  scan_state *st = arg;
  char path[PATH_MAX];
  memcpy(path, st->dir, st->dir_len);
  path[st->dir_len] = '/';
  for (;;) {
    size_t start = __atomic_fetch_add(&st->next, st->batch, __ATOMIC_RELAXED);
    if (start >= st->count) break;
    size_t end = start + st->batch < st->count ? start + st->batch : st->count;
    for (size_t i = start; i < end; i++) scan_one(st, i, path);
  }
  return NULL;
}

static int usable_cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  int n = CPU_COUNT(&set);
  return n < 1 ? 1 : n;
}

// Phase 2: every entry, on up to SCAN_MAX_THREADS threads including the caller's.
static void scan_all(scan_state *st) {
  int threads = 1;
  if (st->count >= SCAN_PARALLEL_MIN) {
    threads = usable_cpus();
    if (threads > SCAN_MAX_THREADS) threads = SCAN_MAX_THREADS;
  }
  // Claim small enough batches that every thread gets several, big enough to make the
  // shared counter cheap.
  st->batch = st->count / ((size_t)threads * 4);
  if (st->batch < 1) st->batch = 1;
  if (st->batch > SCAN_MAX_BATCH) st->batch = SCAN_MAX_BATCH;
  pthread_t helpers[SCAN_MAX_THREADS];
  int started = 0;
  // Helpers start with every signal blocked, so signals keep going to Node's threads.
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  for (int t = 1; t < threads; t++) {
    if (pthread_create(&helpers[started], NULL, scan_worker, st) != 0) break;  // fewer helpers
    started++;
  }
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  scan_worker(st);
  for (int t = 0; t < started; t++) pthread_join(helpers[t], NULL);
}

// Phase 1: every name but . and .., in readdir order. Returns false after throwing.
static bool read_names(napi_env env, scan_state *st) {
  st->dir_len = strlen(st->dir);
  int fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (st->dirp = fdopendir(fd)) == NULL) {
    int err = errno;
    if (fd >= 0) close(fd);
    throw_errno(env, err, "scandir", st->dir, NULL);
    return false;
  }
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(st->dirp);
    if (de == NULL) {
      if (errno == 0) return true;
      throw_errno(env, errno, "scandir", st->dir, NULL);
      return false;
    }
    const char *name = de->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
    size_t name_len = strlen(name);
    if (!st->odd_names && !lk_valid_utf8((const unsigned char *)name, name_len)) st->odd_names = true;
    if (!grow(&st->names, name_len + 1) || !grow(&st->entries, sizeof(scan_entry))) {
      throw_errno(env, ENOMEM, "scandir", st->dir, NULL);
      return false;
    }
    scan_entry e = {.name_off = st->names.len, .name_len = name_len};
    memcpy(st->names.data + st->names.len, name, name_len + 1);
    st->names.len += name_len + 1;
    memcpy(st->entries.data + st->entries.len, &e, sizeof e);
    st->entries.len += sizeof e;
    st->count++;
  }
}

// Turns one entry's xattr blob into Array<[name, Buffer]>.
static napi_value xattr_pairs(napi_env env, const scan_entry *e) {
  napi_value pairs;
  NAPI_CALL(env, napi_create_array_with_length(env, e->xattr_count, &pairs));
  const char *at = e->xattrs;
  for (uint32_t k = 0; k < e->xattr_count; k++) {
    size_t name_len = strlen(at);
    uint32_t value_len;
    memcpy(&value_len, at + name_len + 1, sizeof value_len);
    const char *value = at + name_len + 1 + sizeof value_len;
    napi_value pair, name_v, value_v;
    NAPI_CALL(env, napi_create_array_with_length(env, 2, &pair));
    NAPI_CALL(env, napi_create_string_utf8(env, at, name_len, &name_v));
    NAPI_CALL(env, napi_create_buffer_copy(env, value_len, value, NULL, &value_v));
    NAPI_CALL(env, napi_set_element(env, pair, 0, name_v));
    NAPI_CALL(env, napi_set_element(env, pair, 1, value_v));
    NAPI_CALL(env, napi_set_element(env, pairs, k, pair));
    at = value + value_len;
  }
  return pairs;
}

// Phase 3: the first failure in readdir order throws; otherwise returns
// [records: ArrayBuffer, names: string (each name followed by '/'), xattrs: sparse
// Array indexed like the records].
static napi_value build_result(napi_env env, scan_state *st) {
  scan_entry *entries = (scan_entry *)st->entries.data;
  size_t kept = 0;
  for (size_t i = 0; i < st->count; i++) {
    scan_entry *e = &entries[i];
    if (e->err == ENOENT) continue;  // vanished between readdir and lstat
    if (e->err != 0) {
      char path[PATH_MAX + NAME_MAX + 2];
      snprintf(path, sizeof path, "%s/%s", st->dir, st->names.data + e->name_off);
      return throw_errno_because(env, e->err, e->reason, e->failed_syscall, path, NULL);
    }
    kept++;
  }

  napi_value records, names, xattr_lists, result;
  void *records_data = NULL;
  NAPI_CALL(env, napi_create_arraybuffer(env, kept * sizeof(scan_record), &records_data,
                                         &records));
  NAPI_CALL(env, napi_create_array(env, &xattr_lists));
  // Compact kept records and names in place; names become "a/b/c/".
  size_t out = 0, names_len = 0;
  for (size_t i = 0; i < st->count; i++) {
    scan_entry *e = &entries[i];
    if (e->err != 0) continue;
    memcpy((scan_record *)records_data + out, &st->records[i], sizeof(scan_record));
    memmove(st->names.data + names_len, st->names.data + e->name_off, e->name_len);
    names_len += e->name_len;
    st->names.data[names_len++] = '/';
    if (e->xattr_count > 0) {
      napi_value pairs = xattr_pairs(env, e);
      if (pairs == NULL) return NULL;
      NAPI_CALL(env, napi_set_element(env, xattr_lists, (uint32_t)out, pairs));
    }
    out++;
  }
  if (!st->odd_names) {
    NAPI_CALL(env, napi_create_string_utf8(env, names_len ? st->names.data : "", names_len, &names));
  } else {
    char16_t *units = malloc((names_len + 1) * sizeof(char16_t));
    if (units == NULL) return throw_errno(env, ENOMEM, "scandir", st->dir, NULL);
    size_t n = lk_fs_utf16((const unsigned char *)st->names.data, names_len, units);
    napi_status s = napi_create_string_utf16(env, units, n, &names);
    free(units);
    NAPI_CALL(env, s);
  }
  NAPI_CALL(env, napi_create_array_with_length(env, 3, &result));
  NAPI_CALL(env, napi_set_element(env, result, 0, records));
  NAPI_CALL(env, napi_set_element(env, result, 1, names));
  NAPI_CALL(env, napi_set_element(env, result, 2, xattr_lists));
  return result;
}

static void free_scan_state(scan_state *st) {
  if (st->dirp) closedir(st->dirp);
  scan_entry *entries = (scan_entry *)st->entries.data;
  for (size_t i = 0; i < st->count; i++) free(entries[i].xattrs);
  free(st->entries.data);
  free(st->names.data);
  free(st->records);
  free(st);
}

// scanDir(dir, withXattrs = true)
static napi_value js_scan_dir(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  scan_state *st = calloc(1, sizeof *st);
  if (st == NULL) {
    napi_throw_error(env, "ENOMEM", "scandir: out of memory");
    return NULL;
  }
  napi_value result = NULL;
  bool with_xattrs = true;
  napi_valuetype t = napi_undefined;
  if (get_args(env, info, 2, argv)) {
    napi_typeof(env, argv[1], &t);
    if (t == napi_boolean) napi_get_value_bool(env, argv[1], &with_xattrs);
  }
  st->skip_xattrs = !with_xattrs;
  if (get_args(env, info, 2, argv) && GET_PATH(env, argv[0], st->dir, "scandir") &&
      read_names(env, st)) {
    st->records = calloc(st->count ? st->count : 1, sizeof(scan_record));
    if (st->records == NULL) {
      throw_errno(env, ENOMEM, "scandir", st->dir, NULL);
    } else {
      scan_all(st);
      result = build_result(env, st);
    }
  }
  free_scan_state(st);
  return result;
}

// xattrsOf(paths: string): every xattr of each path itself, for paths joined with NUL (and
// ending in one). Returns a sparse Array indexed like the paths, holding Array<[name, Buffer]>
// where a path has xattrs, as scanDir does. Lets a tree walked with lstat alone get its xattrs
// without reading every directory and lstat-ing every entry again. The first failure throws.
static napi_value js_xattrs_of(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t len = 0;
  if (!get_args(env, info, 1, argv)) return NULL;
  char *joined = lk_fs_bytes(env, argv[0], &len);
  if (joined == NULL) return NULL;
  napi_value lists;
  if (napi_create_array(env, &lists) != napi_ok) {
    free(joined);
    return lk_rethrow_napi_failure(env);
  }
  uint32_t index = 0;
  for (size_t at = 0; at < len; index++) {
    const char *path = joined + at;
    size_t path_len = strnlen(path, len - at);
    at += path_len + 1;
    scan_entry e = {0};
    read_xattrs(path, &e);
    napi_value pairs = NULL;
    if (e.err != 0) {
      throw_errno(env, e.err, e.failed_syscall, path, NULL);
    } else if (e.xattr_count > 0 && ((pairs = xattr_pairs(env, &e)) == NULL ||
                                     napi_set_element(env, lists, index, pairs) != napi_ok)) {
      e.err = -1;
      if (pairs != NULL) lk_rethrow_napi_failure(env);
    }
    free(e.xattrs);
    if (e.err != 0) {
      free(joined);
      return NULL;
    }
  }
  free(joined);
  return lists;
}

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

static napi_value js_release_free_memory(napi_env env, napi_callback_info info) {
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

// ---------------------------------------------------------------------------------

napi_status lk_define_hash(napi_env env, napi_value exports);       // hash.c
napi_status lk_define_batch_files(napi_env env, napi_value exports); // batchfiles.c
napi_status lk_define_chunker(napi_env env, napi_value exports);     // chunker.c

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lremovexattr", NULL, js_lremovexattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lutimesNs", NULL, js_lutimes_ns, NULL, NULL, NULL, napi_enumerable, NULL},
      {"renameExchange", NULL, js_rename_exchange, NULL, NULL, NULL, napi_enumerable, NULL},
      {"renameNoReplace", NULL, js_rename_noreplace, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fsyncDir", NULL, js_fsync_dir, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scanDir", NULL, js_scan_dir, NULL, NULL, NULL, napi_enumerable, NULL},
      {"xattrsOf", NULL, js_xattrs_of, NULL, NULL, NULL, napi_enumerable, NULL},
      {"releaseFreeMemory", NULL, js_release_free_memory, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok ||
      lk_define_hash(env, exports) != napi_ok || lk_define_batch_files(env, exports) != napi_ok ||
      lk_define_chunker(env, exports) != napi_ok)
    return lk_rethrow_napi_failure(env);
  return exports;
}
