// Node-API helpers shared by the addon's files (see napi_util.h).
#include "napi_util.h"

#include "fsname.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

napi_value lk_fail(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

// Errors

// The errno names Node itself uses (libuv's table); anything else falls back to
// "E<number>" rather than guessing.
const char *lk_errno_name(int err) {
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

napi_value lk_rethrow_napi_failure(napi_env env) {
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

void lk_set_string_prop(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, obj, key, v);
}

// Throws an fs-style error for `err` from `syscall` on `path` (and `dest` for renames),
// explained by `reason` (strerror's text when NULL). Returns NULL, for `return throw...`.
napi_value lk_throw_errno_because(napi_env env, int err, const char *reason,
                                      const char *syscall, const char *path, const char *dest) {
  char code_buf[16];
  const char *code = lk_errno_name(err);
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
  lk_set_string_prop(env, error, "syscall", syscall);
  lk_set_string_prop(env, error, "path", path);
  if (dest) lk_set_string_prop(env, error, "dest", dest);
  napi_throw(env, error);
  return NULL;
}

napi_value lk_throw_errno(napi_env env, int err, const char *syscall, const char *path,
                              const char *dest) {
  return lk_throw_errno_because(env, err, NULL, syscall, path, dest);
}

napi_value lk_throw_type_error(napi_env env, const char *code, const char *message) {
  napi_throw_type_error(env, code, message);
  return NULL;
}

// ---------------------------------------------------------------------------------
// Arguments

// Reads a JS string into `buf` as NUL-terminated UTF-8. A string that does not fit
// fails the way the kernel would (ENAMETOOLONG for paths, ERANGE for xattr names);
// one with an embedded NUL is a TypeError, as in Node's fs.
bool lk_get_string(napi_env env, napi_value value, char *buf, size_t cap, const char *what,
                       int too_long_errno, const char *syscall) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a string", what);
    lk_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  napi_get_value_string_utf8(env, value, buf, cap, NULL);
  if (len >= cap) {
    lk_throw_errno(env, too_long_errno, syscall, buf, NULL);
    return false;
  }
  if (strlen(buf) != len) {
    char message[96];
    snprintf(message, sizeof message, "%s must not contain null bytes", what);
    lk_throw_type_error(env, "ERR_INVALID_ARG_VALUE", message);
    return false;
  }
  return true;
}

// Reads a path (a name string as fsname.h maps it) into `buf` as NUL-terminated bytes;
// ENAMETOOLONG if it does not fit, a TypeError if it holds a NUL byte.
bool lk_get_path(napi_env env, napi_value value, char *buf, size_t cap, const char *syscall) {
  size_t len = 0;
  char *bytes = lk_fs_bytes(env, value, &len);
  if (bytes == NULL) return false;
  bool ok = false;
  if (len >= cap) {
    memcpy(buf, bytes, cap - 1);
    buf[cap - 1] = '\0';
    lk_throw_errno(env, ENAMETOOLONG, syscall, buf, NULL);
  } else if (strlen(bytes) != len) {
    lk_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "path must not contain null bytes");
  } else {
    memcpy(buf, bytes, len + 1);
    ok = true;
  }
  free(bytes);
  return ok;
}


bool lk_get_u32(napi_env env, napi_value value, const char *what, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || !isfinite(d) || d < 0 ||
      d > 4294967295.0 || floor(d) != d) {
    char message[96];
    snprintf(message, sizeof message, "%s must be an integer from 0 to 4294967295", what);
    lk_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

bool lk_get_i64_bigint(napi_env env, napi_value value, const char *what, int64_t *out) {
  bool lossless = false;
  if (napi_get_value_bigint_int64(env, value, out, &lossless) != napi_ok || !lossless) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a bigint in the signed 64-bit range", what);
    lk_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  return true;
}

bool lk_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    lk_rethrow_napi_failure(env);
    return false;
  }
  // Missing arguments arrive as undefined and fail their type check.
  return true;
}

napi_value lk_undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}
