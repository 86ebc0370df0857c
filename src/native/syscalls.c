// The few Linux syscalls Node's fs module lacks: xattrs (l*xattr), mknod, nanosecond
// lutimes, renameat2 (exchange, no-replace) and directory fsync. Failures throw errors shaped
// like Node's fs errors (napi_util.c).
#include "napi_util.h"

#include "fsname.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

// Extended attributes

napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_MAX], name[LK_XATTR_NAME_MAX + 1];
  if (!lk_get_args(env, info, 2, argv) || !GET_PATH(env, argv[0], path, "lgetxattr") ||
      !GET_XATTR_NAME(env, argv[1], name, "lgetxattr"))
    return NULL;

  char *value = malloc(LK_XATTR_SIZE_MAX);
  if (value == NULL) return lk_throw_errno(env, ENOMEM, "lgetxattr", path, NULL);
  ssize_t n = lgetxattr(path, name, value, LK_XATTR_SIZE_MAX);
  if (n < 0) {
    int err = errno;
    free(value);
    if (err == ENODATA) {
      napi_value null_v;
      napi_get_null(env, &null_v);
      return null_v;
    }
    return lk_throw_errno(env, err, "lgetxattr", path, NULL);
  }
  napi_value result;
  napi_status status = napi_create_buffer_copy(env, (size_t)n, value, NULL, &result);
  free(value);
  NAPI_CALL(env, status);
  return result;
}

napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[PATH_MAX], name[LK_XATTR_NAME_MAX + 1];
  if (!lk_get_args(env, info, 3, argv) || !GET_PATH(env, argv[0], path, "lsetxattr") ||
      !GET_XATTR_NAME(env, argv[1], name, "lsetxattr"))
    return NULL;
  bool is_buffer = false;
  void *data = NULL;
  size_t len = 0;
  if (napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok)
    return lk_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "xattr value must be a Buffer");
  if (lsetxattr(path, name, len ? data : "", len, 0) != 0)
    return lk_throw_errno(env, errno, "lsetxattr", path, NULL);
  return lk_undefined(env);
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

napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[PATH_MAX];
  if (!lk_get_args(env, info, 1, argv) || !GET_PATH(env, argv[0], path, "llistxattr")) return NULL;
  char *list = malloc(LK_XATTR_LIST_MAX);
  if (list == NULL) return lk_throw_errno(env, ENOMEM, "llistxattr", path, NULL);
  ssize_t n = llistxattr(path, list, LK_XATTR_LIST_MAX);
  if (n < 0) {
    int err = errno;
    free(list);
    return lk_throw_errno(env, err, "llistxattr", path, NULL);
  }
  napi_value result = name_list_to_array(env, list, (size_t)n);
  free(list);
  return result;
}

napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_MAX], name[LK_XATTR_NAME_MAX + 1];
  if (!lk_get_args(env, info, 2, argv) || !GET_PATH(env, argv[0], path, "lremovexattr") ||
      !GET_XATTR_NAME(env, argv[1], name, "lremovexattr"))
    return NULL;
  if (lremovexattr(path, name) != 0) return lk_throw_errno(env, errno, "lremovexattr", path, NULL);
  return lk_undefined(env);
}

// ---------------------------------------------------------------------------------
// mknod, timestamps, renames, directory fsync

napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char path[PATH_MAX];
  uint32_t mode, major_n, minor_n;
  if (!lk_get_args(env, info, 4, argv) || !GET_PATH(env, argv[0], path, "mknod") ||
      !lk_get_u32(env, argv[1], "mode", &mode) || !lk_get_u32(env, argv[2], "major", &major_n) ||
      !lk_get_u32(env, argv[3], "minor", &minor_n))
    return NULL;
  if (mknod(path, (mode_t)mode, makedev(major_n, minor_n)) != 0)
    return lk_throw_errno(env, errno, "mknod", path, NULL);
  return lk_undefined(env);
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

napi_value js_lutimes_ns(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[PATH_MAX];
  int64_t atime_ns, mtime_ns;
  if (!lk_get_args(env, info, 3, argv) || !GET_PATH(env, argv[0], path, "utimensat") ||
      !lk_get_i64_bigint(env, argv[1], "atimeNs", &atime_ns) ||
      !lk_get_i64_bigint(env, argv[2], "mtimeNs", &mtime_ns))
    return NULL;
  struct timespec times[2] = {ns_to_timespec(atime_ns), ns_to_timespec(mtime_ns)};
  if (utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) != 0)
    return lk_throw_errno(env, errno, "utimensat", path, NULL);
  return lk_undefined(env);
}

// renameat2 through syscall(2): glibc only grew a wrapper in 2.28.
static napi_value rename_with_flags(napi_env env, napi_callback_info info, unsigned int flags) {
  napi_value argv[2];
  char from[PATH_MAX], to[PATH_MAX];
  if (!lk_get_args(env, info, 2, argv) || !GET_PATH(env, argv[0], from, "renameat2") ||
      !GET_PATH(env, argv[1], to, "renameat2"))
    return NULL;
  if (syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags) != 0)
    return lk_throw_errno(env, errno, "renameat2", from, to);
  return lk_undefined(env);
}

napi_value js_rename_exchange(napi_env env, napi_callback_info info) {
  return rename_with_flags(env, info, RENAME_EXCHANGE);
}

napi_value js_rename_noreplace(napi_env env, napi_callback_info info) {
  return rename_with_flags(env, info, RENAME_NOREPLACE);
}

napi_value js_fsync_dir(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[PATH_MAX];
  if (!lk_get_args(env, info, 1, argv) || !GET_PATH(env, argv[0], path, "open")) return NULL;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return lk_throw_errno(env, errno, "open", path, NULL);
  if (fsync(fd) != 0) {
    int err = errno;
    close(fd);
    return lk_throw_errno(env, err, "fsync", path, NULL);
  }
  close(fd);
  return lk_undefined(env);
}
