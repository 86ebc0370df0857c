// scanDir and xattrsOf: the snapshot walker's one call per directory (names, lstat and
// xattrs of every entry), the heavy part spread over a few threads.
#include "napi_util.h"

#include "fsname.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

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
    lk_throw_errno(env, err, "scandir", st->dir, NULL);
    return false;
  }
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(st->dirp);
    if (de == NULL) {
      if (errno == 0) return true;
      lk_throw_errno(env, errno, "scandir", st->dir, NULL);
      return false;
    }
    const char *name = de->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
    size_t name_len = strlen(name);
    if (!st->odd_names && !lk_valid_utf8((const unsigned char *)name, name_len)) st->odd_names = true;
    if (!grow(&st->names, name_len + 1) || !grow(&st->entries, sizeof(scan_entry))) {
      lk_throw_errno(env, ENOMEM, "scandir", st->dir, NULL);
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
      return lk_throw_errno_because(env, e->err, e->reason, e->failed_syscall, path, NULL);
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
    if (units == NULL) return lk_throw_errno(env, ENOMEM, "scandir", st->dir, NULL);
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
napi_value js_scan_dir(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  scan_state *st = calloc(1, sizeof *st);
  if (st == NULL) {
    napi_throw_error(env, "ENOMEM", "scandir: out of memory");
    return NULL;
  }
  napi_value result = NULL;
  bool with_xattrs = true;
  napi_valuetype t = napi_undefined;
  if (lk_get_args(env, info, 2, argv)) {
    napi_typeof(env, argv[1], &t);
    if (t == napi_boolean) napi_get_value_bool(env, argv[1], &with_xattrs);
  }
  st->skip_xattrs = !with_xattrs;
  if (lk_get_args(env, info, 2, argv) && GET_PATH(env, argv[0], st->dir, "scandir") &&
      read_names(env, st)) {
    st->records = calloc(st->count ? st->count : 1, sizeof(scan_record));
    if (st->records == NULL) {
      lk_throw_errno(env, ENOMEM, "scandir", st->dir, NULL);
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
napi_value js_xattrs_of(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t len = 0;
  if (!lk_get_args(env, info, 1, argv)) return NULL;
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
      lk_throw_errno(env, e.err, e.failed_syscall, path, NULL);
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
