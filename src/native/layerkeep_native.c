// layerkeep_native: the module's entry point. The few Linux syscalls Node's fs module
// lacks (syscalls.c), a one-call-per-directory metadata scan for the snapshot walker
// (scandir.c), and, on the thread pool, digests (hash.c), batched reads and writes of small
// files (batchfiles.c), content-defined chunking (chunker.c) and malloc_trim (memory.c);
// shared Node-API helpers in napi_util.c.
// Plain C on Node-API version 8, so one binary loads on every Node release that
// supports that version (20, 22, 24, ...):
// https://nodejs.org/api/n-api.html#node-api-version-matrix
//
// Every failing syscall throws an Error shaped like Node's fs errors:
// { code: 'ENOENT', errno: -2, syscall: 'lgetxattr', path, dest? } with the message
// "ENOENT: No such file or directory, lgetxattr '/some/path'".

#include "napi_util.h"

napi_value js_lgetxattr(napi_env env, napi_callback_info info);
napi_value js_lsetxattr(napi_env env, napi_callback_info info);
napi_value js_llistxattr(napi_env env, napi_callback_info info);
napi_value js_lremovexattr(napi_env env, napi_callback_info info);
napi_value js_mknod(napi_env env, napi_callback_info info);
napi_value js_lutimes_ns(napi_env env, napi_callback_info info);
napi_value js_rename_exchange(napi_env env, napi_callback_info info);
napi_value js_rename_noreplace(napi_env env, napi_callback_info info);
napi_value js_fsync_dir(napi_env env, napi_callback_info info);
napi_value js_scan_dir(napi_env env, napi_callback_info info);
napi_value js_xattrs_of(napi_env env, napi_callback_info info);
napi_value js_release_free_memory(napi_env env, napi_callback_info info);

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
