// Typed access to layerkeep_native, the small Node-API addon for the Linux syscalls
// Node's fs lacks: xattrs, mknod, nanosecond lutimes, renameat2, directory fsync, and a
// one-call-per-directory metadata scan, all synchronous; plus work for the thread pool:
// sha256/md5 (asyncHash), batched reads and writes of small files, and chunking. A failing
// syscall throws an Error like Node's fs errors: .code is the errno name ('ENOENT',
// 'EPERM', 'ENOTSUP', ...), plus .errno, .syscall, .path (and .dest for renames).
// Path arguments and names are strings as src/snapshot/fsName.ts maps bytes (the addon turns
// an escaped byte back into that byte), so any file name can be passed and read.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { getSystemErrorMap } from 'node:util';

/** One directory entry as seen by lstat, with all its extended attributes. */
export interface ScanEntry {
  name: string;
  ino: bigint;
  dev: bigint;
  /** Full st_mode, file type bits included. */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdevMajor: number;
  rdevMinor: number;
  size: number;
  /** st_blocks, in 512-byte units. */
  blocks: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** [name, raw value] in the order llistxattr returns them. */
  xattrs: Array<[string, Buffer]>;
}

/** What scanDir hands over: packed stat records, the names each followed by '/',
 *  and the xattr lists of the entries that have any, by entry index. */
type RawScan = [ArrayBuffer, string, Array<Array<[string, Buffer]> | undefined>];

interface NativeAddon {
  lgetxattr(path: string, name: string): Buffer | null;
  lsetxattr(path: string, name: string, value: Buffer): void;
  llistxattr(path: string): string[];
  lremovexattr(path: string, name: string): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
  lutimesNs(path: string, atimeNs: bigint, mtimeNs: bigint): void;
  renameExchange(a: string, b: string): void;
  renameNoReplace(a: string, b: string): void;
  fsyncDir(path: string): void;
  releaseFreeMemory(): Promise<boolean>;
  xattrsOf(joinedPaths: string): ([string, Buffer][] | undefined)[];
  scanDir(dir: string, withXattrs?: boolean): RawScan;
  hashCreate(algorithm?: 'sha256' | 'md5'): object;
  hashUpdate(handle: object, bytes: Uint8Array): Promise<void>;
  hashDigest(handle: object): Buffer;
  readFilesBatch(paths: string, sizes: Float64Array, mtimesNs: BigInt64Array, out: Uint8Array): Promise<BatchReadFailure | null>;
  writeFilesBatch(paths: string, meta: Float64Array, mtimesNs: BigInt64Array, data: Uint8Array): Promise<BatchReadFailure | null>;
  chunkerCreate(gear: Int32Array, min: number, avg: number, max: number, maskHard: number, maskEasy: number): object;
  chunkerPush(handle: object, bytes: Uint8Array): Promise<void>;
  chunkerEnd(handle: object): [Uint32Array, Buffer];
}

/** Where and why a batch read or write stopped. */
export interface BatchReadFailure {
  /** Position in the batch of the file that failed. */
  index: number;
  /** 'errno': a syscall failed; 'changed': not the regular file of that size and mtime; 'shrank': EOF early. */
  kind: 'errno' | 'changed' | 'shrank';
  /** Negative errno (as Node's fs errors carry it) when kind is 'errno'. */
  errno: number;
  syscall?: string;
}

/** Environment variable naming the .node file explicitly (e.g. an installed copy). */
export const NATIVE_ADDON_ENV = 'LAYERKEEP_NATIVE_ADDON';

// This file runs as dist/src/native/index.js; node-gyp leaves the addon in the source
// tree at src/native/build/Release, three levels above that, under the package root.
const BUILT_ADDON_PATH = fileURLToPath(
  new URL('../../../src/native/build/Release/layerkeep_native.node', import.meta.url),
);

let loaded: NativeAddon | undefined;

/** Loads the addon on first use, so importing this module never fails by itself. */
function addon(): NativeAddon {
  if (loaded !== undefined) return loaded;
  const override = process.env[NATIVE_ADDON_ENV];
  const path = override !== undefined && override !== '' ? override : BUILT_ADDON_PATH;
  if (!existsSync(path)) {
    const where = override ? `${NATIVE_ADDON_ENV}=${path}` : path;
    throw new Error(`layerkeep native addon not built: run \`make build\` (no file at ${where})`);
  }
  const require = createRequire(import.meta.url);
  try {
    loaded = require(path) as NativeAddon;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`layerkeep native addon ${path} failed to load: ${reason}`, { cause: err });
  }
  return loaded;
}

/** The value of xattr `name` on `path` itself (symlinks not followed); null if unset. */
export function lgetxattr(path: string, name: string): Buffer | null {
  return addon().lgetxattr(path, name);
}

/** Sets xattr `name` on `path` itself, creating or replacing it. */
export function lsetxattr(path: string, name: string, value: Buffer): void {
  addon().lsetxattr(path, name, value);
}

/** Names of all xattrs of `path` itself that this process may see. */
export function llistxattr(path: string): string[] {
  return addon().llistxattr(path);
}

/** Removes xattr `name` from `path` itself; ENODATA if it was not set. */
export function lremovexattr(path: string, name: string): void {
  addon().lremovexattr(path, name);
}

/** mknod(2): `mode` carries the type (S_IFCHR, S_IFBLK, S_IFIFO) and permission bits. */
export function mknod(path: string, mode: number, major: number, minor: number): void {
  addon().mknod(path, mode, major, minor);
}

/** Sets atime and mtime of `path` itself to exact nanoseconds (fs.lutimes rounds). */
export function lutimesNs(path: string, atimeNs: bigint, mtimeNs: bigint): void {
  addon().lutimesNs(path, atimeNs, mtimeNs);
}

/** Atomically swaps two existing paths (renameat2 RENAME_EXCHANGE). */
export function renameExchange(a: string, b: string): void {
  addon().renameExchange(a, b);
}

/** Renames `a` to `b`, failing with EEXIST instead of replacing (RENAME_NOREPLACE). */
export function renameNoReplace(a: string, b: string): void {
  addon().renameNoReplace(a, b);
}

/**
 * Returns memory the C heap keeps after free() to the kernel (glibc's malloc_trim, on the thread
 * pool); resolves to true if any was released. zstd frames (4 MiB) are allocated on thread-pool
 * threads and freed only when V8 collects them; glibc keeps the space in per-thread arenas,
 * resident, otherwise.
 */
export function releaseFreeMemory(): Promise<boolean> {
  return addon().releaseFreeMemory();
}

/**
 * A counter for a loop that churns through large buffers: call it with each buffer's size; it
 * releases the C heap's free memory every `every` bytes (one release at a time). Measured on a
 * 1 GiB restore: peak RSS ~250-280 MiB without, ~205 MiB with, at the same speed.
 */
export function memoryReleaser(every = 32 << 20): (bytes: number) => void {
  let since = 0;
  let running = false;
  return (bytes) => {
    since += bytes;
    if (since >= every && !running) {
      since = 0;
      running = true;
      void releaseFreeMemory().finally(() => { running = false; });
    }
  };
}

/** fsyncs a directory, making renames and creations inside it durable. */
export function fsyncDir(path: string): void {
  addon().fsyncDir(path);
}

/**
 * Every xattr of each path itself (as scanDir reads them), in one call: for a tree already
 * walked with lstat alone. An entry is undefined where a path has none; the first failure
 * throws naming its path.
 */
export function xattrsOf(paths: string[]): ([string, Buffer][] | undefined)[] {
  if (paths.length === 0) return [];
  return addon().xattrsOf(`${paths.join('\0')}\0`);
}

// Layout of one packed record from the addon (scan_record in layerkeep_native.c):
// u64 ino, u64 dev, i64 mtimeNs, i64 ctimeNs, f64 size, f64 blocks,
// u32 mode, nlink, uid, gid, rdevMajor, rdevMinor, 4 x u32 reserved.
const RECORD_WORDS64 = 11;
const RECORD_BYTES = RECORD_WORDS64 * 8;
const FIRST_U32 = 12;

/**
 * lstat and xattrs of every entry of `dir` (without . and ..), in readdir order, in
 * one call (lstat only with `xattrs: false`). Entries that vanish while being read are left out; any other failure
 * throws naming the entry. Names are bytes: one that is not valid UTF-8 comes back with each
 * stray byte as U+DC00 + byte (src/snapshot/fsName.ts), never as replacement characters.
 */
export function scanDir(dir: string, opts: { xattrs?: boolean } = {}): ScanEntry[] {
  const [records, joinedNames, xattrLists] = addon().scanDir(dir, opts.xattrs ?? true);
  const count = records.byteLength / RECORD_BYTES;
  const u64 = new BigUint64Array(records);
  const i64 = new BigInt64Array(records);
  const f64 = new Float64Array(records);
  const u32 = new Uint32Array(records);
  // '/' is the one byte besides NUL that cannot occur in a file name.
  const names = joinedNames.split('/');
  const entries = new Array<ScanEntry>(count);
  for (let i = 0; i < count; i++) {
    const w = i * RECORD_WORDS64;
    const h = w * 2 + FIRST_U32;
    entries[i] = {
      name: names[i],
      ino: u64[w],
      dev: u64[w + 1],
      mode: u32[h],
      nlink: u32[h + 1],
      uid: u32[h + 2],
      gid: u32[h + 3],
      rdevMajor: u32[h + 4],
      rdevMinor: u32[h + 5],
      size: f64[w + 4],
      blocks: f64[w + 5],
      mtimeNs: i64[w + 2],
      ctimeNs: i64[w + 3],
      xattrs: xattrLists[i] ?? [],
    };
  }
  return entries;
}

/** A digest whose updates run on libuv's thread pool, in the order they were queued. */
export interface AsyncHash {
  /** Queues `bytes`, which must not change until the returned promise settles (when they are hashed). */
  update(bytes: Uint8Array): Promise<void>;
  /** Waits for every queued update; the digest, or the first failure. */
  digest(): Promise<Buffer>;
}

export const asyncSha256 = (): AsyncHash => asyncHash('sha256');

export function asyncHash(algorithm: 'sha256' | 'md5'): AsyncHash {
  const native = addon();
  const handle = native.hashCreate(algorithm);
  let tail: Promise<void> = Promise.resolve();
  let failure: Error | null = null;
  return {
    update(bytes) {
      if (failure) return Promise.reject(failure);
      const hashed = tail.then(() => native.hashUpdate(handle, bytes));
      tail = hashed.catch((err: Error) => { failure ??= err; });
      return hashed;
    },
    async digest() {
      await tail;
      if (failure) throw failure;
      return native.hashDigest(handle);
    },
  };
}

/** A failed syscall of a batch, worded as Node's fs errors are ("ENOENT: no such file or directory, open '/p'"). */
export function batchSyscallError(f: BatchReadFailure, path: string): { code: string; message: string } {
  const [code, text] = getSystemErrorMap().get(f.errno) ?? [`E${-f.errno}`, 'system error'];
  return { code, message: `${code}: ${text}, ${f.syscall} '${path}'` };
}

/**
 * Reads whole files into `out`, one after another, on the thread pool. Each must still be a
 * regular file of the given size and mtime (opened without following symlinks). Resolves to
 * null, or to where and why it stopped.
 */
export function readFilesBatch(paths: string[], sizes: Float64Array, mtimesNs: BigInt64Array, out: Uint8Array): Promise<BatchReadFailure | null> {
  return addon().readFilesBatch(`${paths.join('\0')}\0`, sizes, mtimesNs, out);
}

/** A new file for writeFilesBatch: its bytes are data[offset, offset + size). */
export interface BatchFile {
  path: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
}

/**
 * Creates files (O_CREAT|O_EXCL|O_NOFOLLOW: never through or onto an existing node) with
 * their bytes, taken one after another from `data`, then owner, mode (low 12 bits) and
 * atime = mtime, on the thread pool. Resolves to null, or to where and why it stopped.
 */
export function writeFilesBatch(files: BatchFile[], data: Uint8Array): Promise<BatchReadFailure | null> {
  const meta = new Float64Array(files.length * 4);
  files.forEach((f, i) => { meta[4 * i] = f.size; meta[4 * i + 1] = f.mode & 0o7777; meta[4 * i + 2] = f.uid; meta[4 * i + 3] = f.gid; });
  return addon().writeFilesBatch(`${files.map((f) => f.path).join('\0')}\0`, meta, BigInt64Array.from(files, (f) => f.mtimeNs), data);
}

/** The parameters of content-defined chunking (src/incremental/chunker.ts owns them). */
export interface ChunkerParams {
  gear: Int32Array;
  min: number;
  avg: number;
  max: number;
  maskHard: number;
  maskEasy: number;
}

/** A streaming chunker on the thread pool; push the bytes in order, one push at a time. */
export interface NativeChunker {
  /** `bytes` must not change until the promise settles. */
  push(bytes: Uint8Array): Promise<void>;
  /** Every chunk's length, and its sha256 (32 bytes each, in order). */
  end(): { lengths: Uint32Array; hashes: Buffer };
}

export function nativeChunker(p: ChunkerParams): NativeChunker {
  const native = addon();
  const handle = native.chunkerCreate(p.gear, p.min, p.avg, p.max, p.maskHard >>> 0, p.maskEasy >>> 0);
  return {
    push: (bytes) => native.chunkerPush(handle, bytes),
    end: () => { const [lengths, hashes] = native.chunkerEnd(handle); return { lengths, hashes }; },
  };
}
