// Node-API helpers shared by the addon's files: errors shaped like Node's fs errors
// ({ code, errno, syscall, path, dest? }, message "ENOENT: No such file or directory, lgetxattr
// '/p'"), one way to throw the addon's own errors (lk_fail), and argument readers that fail
// the way the kernel or Node's fs would. One home, so every .c file reports alike.
#ifndef LAYERKEEP_NAPI_UTIL_H
#define LAYERKEEP_NAPI_UTIL_H

#include <node_api.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

// Throws Error(msg) with `code` (e.g. "ERR_LAYERKEEP_HASH"); returns NULL, for `return lk_fail(...)`.
napi_value lk_fail(napi_env env, const char *code, const char *msg);

const char *lk_errno_name(int err);
napi_value lk_rethrow_napi_failure(napi_env env);
void lk_set_string_prop(napi_env env, napi_value obj, const char *key, const char *value);
napi_value lk_throw_errno_because(napi_env env, int err, const char *reason, const char *syscall, const char *path, const char *dest);
napi_value lk_throw_errno(napi_env env, int err, const char *syscall, const char *path, const char *dest);
napi_value lk_throw_type_error(napi_env env, const char *code, const char *message);
bool lk_get_string(napi_env env, napi_value value, char *buf, size_t cap, const char *what, int too_long_errno, const char *syscall);
bool lk_get_path(napi_env env, napi_value value, char *buf, size_t cap, const char *syscall);
bool lk_get_u32(napi_env env, napi_value value, const char *what, uint32_t *out);
bool lk_get_i64_bigint(napi_env env, napi_value value, const char *what, int64_t *out);
bool lk_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);
napi_value lk_undefined(napi_env env);

#define GET_PATH(env, value, buf, syscall) lk_get_path(env, value, buf, sizeof(buf), syscall)
#define GET_XATTR_NAME(env, value, buf, syscall) \
  lk_get_string(env, value, buf, sizeof(buf), "xattr name", ERANGE, syscall)

#endif
