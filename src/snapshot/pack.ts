// Entries -> PAX tar bytes, straight into compression frames. tar-stream encodes every
// ustar header; an entry whose metadata does not fit ustar (nanosecond mtime, xattrs, long
// or non-ASCII names, large ids) is preceded by a PAX 'x' header of our own (see
// paxHeader.ts for why). Large file bodies are read with pread straight into the frame
// being filled; small files are read ahead in batches on the thread pool. tar-stream's
// streaming packer cost a stream object, a copy and several callbacks per entry, which on
// layers of many small files was a large share of the time.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { batchSyscallError, type BatchReadFailure, readFilesBatch } from '../native/index.js';
import type { EntryType } from './entry.js';
import { bufferSink, type FrameSink } from './frameEncoder.js';
import { isShortPath, LongPaths } from './dirChain.js';
import { isUtf8Name, nameToBytes } from './fsName.js';
import { encodePaxRecords, paxHeaderBlock, paxTime } from './paxHeader.js';
import type { WalkedEntry } from './walk.js';

/** The header fields tar-stream's encoder reads (its `Headers` type, as the packer fills them). */
export interface UstarHeader {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device' | 'block-device';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Date;
  linkname?: string;
  uname: string;
  gname: string;
  devmajor?: number;
  devminor?: number;
}

// tar-stream's header encoder (headers.js) is the one its packer uses; the package does not
// export it by name, so it is loaded by path next to the package's entry point.
const requireCjs = createRequire(import.meta.url);
const tarHeaders = requireCjs(join(dirname(requireCjs.resolve('tar-stream')), 'headers.js')) as {
  encode(h: UstarHeader): Buffer | null;
};

/** The 512-byte ustar header of `h`; the caller has made sure it fits (PAX records carry the rest). */
export function encodeUstarHeader(h: UstarHeader): Buffer {
  const b = tarHeaders.encode(h);
  if (!b) throw new Error(`${h.name}: header does not fit ustar (packer bug: a PAX record should carry it)`);
  return b;
}

const USTAR_ID_MAX = 0o777777; // tar-stream writes ids in 6 octal digits
const BLOCK = 512;
const ZEROS = Buffer.alloc(2 * BLOCK);

const TAR_TYPE: Record<EntryType, UstarHeader['type']> = {
  file: 'file', dir: 'directory', symlink: 'symlink', hardlink: 'link',
  fifo: 'fifo', char: 'character-device', block: 'block-device',
};

export interface PackStats {
  entries: number;
  contentBytes: number;
  /** Bytes of tar written. */
  tarBytes: number;
}

export interface PackOptions {
  onContent?: (bytes: number) => void;
  /** Called for each regular file with content, with where its bytes start in the tar. */
  onFile?: (index: number, tarOffset: number) => void;
}

/** Files up to this size are read in batches on the thread pool; larger ones straight into frames. */
const SMALL_FILE = 256 << 10;
const BATCH_BYTES = 4 << 20;
const BATCH_FILES = 1024;
/** Batches being read while the packer works on the current one. */
const BATCHES_AHEAD = 2;

/** Writes the layer tar for `entries` into `sink`, waiting whenever the sink hands a frame on. */
export async function packLayer(entries: WalkedEntry[], sink: FrameSink, opts: PackOptions = {}): Promise<PackStats> {
  const stats: PackStats = { entries: 0, contentBytes: 0, tarBytes: 0 };
  const put = async (b: Buffer): Promise<void> => {
    stats.tarBytes += b.length;
    const wait = sink.write(b);
    if (wait) await wait;
  };
  const reader = smallFileReader(entries);
  const long = new LongPaths();
  try {
    for (const [i, e] of entries.entries()) {
      const { header, pax } = headersFor(e);
      if (pax.length) await put(paxHeaderBlock(encodePaxRecords(pax)));
      await put(encodeUstarHeader(header));
      if (e.type === 'file' && e.size > 0) {
        opts.onFile?.(i, stats.tarBytes);
        const small = await reader.bytesOf(i);
        if (small) {
          const wait = sink.write(small);
          if (wait) await wait;
        } else {
          await copyBody(e, sink, long);
        }
        stats.tarBytes += e.size;
        stats.contentBytes += e.size;
        opts.onContent?.(e.size);
        const pad = (BLOCK - (e.size % BLOCK)) % BLOCK;
        if (pad) await put(ZEROS.subarray(0, pad));
      }
      stats.entries++;
    }
  } finally {
    long.close();
    await reader.close();
  }
  await put(ZEROS); // end of archive: two zero blocks
  return stats;
}

interface Batch {
  files: number[]; // entry indices
  bytes: number;
  read?: Promise<Buffer>;
}

/**
 * Reads small files ahead of the packer, a batch at a time on the thread pool, so their
 * open/read/close no longer run on this thread between frames.
 */
function smallFileReader(entries: WalkedEntry[]): { bytesOf(i: number): Promise<Buffer | null>; close(): Promise<void> } {
  const batches: Batch[] = [];
  const where = new Map<number, { batch: number; offset: number }>();
  let cur: Batch | null = null;
  entries.forEach((e, i) => {
    // a deep file is read on this thread (its path goes through fds the batch must not outlive)
    if (e.type !== 'file' || e.size === 0 || e.size > SMALL_FILE || !isShortPath(e.absPath!)) return;
    if (!cur || cur.bytes + e.size > BATCH_BYTES || cur.files.length >= BATCH_FILES) batches.push((cur = { files: [], bytes: 0 }));
    where.set(i, { batch: batches.length - 1, offset: cur.bytes });
    cur.files.push(i);
    cur.bytes += e.size;
  });
  // Buffers are reused: a fresh 4 MiB per batch made V8 run full collections for the
  // external memory alone.
  const spare: Buffer[] = [];
  const start = (b: number): void => {
    const batch = batches[b];
    if (!batch || batch.read) return;
    const buf = spare.pop() ?? Buffer.allocUnsafe(BATCH_BYTES);
    const files = batch.files.map((i) => entries[i]!);
    batch.read = readFilesBatch(files.map((e) => e.absPath!), Float64Array.from(files, (e) => e.size),
      BigInt64Array.from(files, (e) => e.mtimeNs), buf).then((failure) => {
      if (failure) throw batchError(files[failure.index]!, failure);
      return buf;
    });
    batch.read.catch(() => {}); // surfaces when the packer reaches the batch
  };
  let at = -1;
  let atBuf: Buffer | null = null;
  // the first batches are read while the packer is still on the entries before them
  for (let k = 0; k <= BATCHES_AHEAD; k++) start(k);
  return {
    // The bytes are valid until the next call: the sink copies them before that.
    async bytesOf(i) {
      const w = where.get(i);
      if (w === undefined) return null;
      if (w.batch !== at) {
        if (atBuf) spare.push(atBuf);
        at = w.batch;
        for (let k = at; k <= at + BATCHES_AHEAD; k++) start(k);
        atBuf = await batches[at]!.read!;
        batches[at]!.read = undefined;
      }
      return atBuf!.subarray(w.offset, w.offset + entries[i]!.size);
    },
    // let reads in flight finish before the caller goes on (they write into buffers we own)
    close: async () => { await Promise.allSettled(batches.map((b) => b.read)); },
  };
}

/** A file that is not what the walk saw any more (the container is still writing). */
export const fileChanged = (path: string, detail = 'stop the container first'): Error =>
  new Error(`${path}: file changed while the snapshot was taken (${detail})`);
export const fileShrank = (path: string): Error => new Error(`${path}: file shrank while the snapshot was taken`);

function batchError(e: WalkedEntry, f: BatchReadFailure): Error {
  if (f.kind === 'changed') return fileChanged(e.path);
  if (f.kind === 'shrank') return fileShrank(e.path);
  const { code, message } = batchSyscallError(f, e.absPath!);
  return Object.assign(new Error(message), { code, errno: f.errno, syscall: f.syscall, path: e.absPath });
}

/**
 * Reads a large file's `size` bytes into the sink. Synchronous reads: this thread only drives the
 * pipeline (compression and hashing run on the thread pool), and an async open/stat/read/close
 * costs four thread-pool round trips per file, which dominates for layers of many small files.
 */
async function copyBody(e: WalkedEntry, sink: FrameSink, long: LongPaths): Promise<void> {
  const fd = openSync(long.of(e.absPath!), constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd, { bigint: true });
    if (Number(st.size) !== e.size || st.mtimeNs !== e.mtimeNs) {
      throw fileChanged(e.path);
    }
    for (let done = 0; done < e.size; ) {
      const { n, wait } = sink.fill(e.size - done, (buf, offset, length) => {
        const got = readSync(fd, buf, offset, length, done);
        if (got === 0) throw fileShrank(e.path);
        return got;
      });
      done += n;
      if (wait) await wait;
    }
  } finally {
    closeSync(fd);
  }
}

/** A FrameSink for an uncompressed tar: 1 MiB buffers handed to `emit` in order. */
export function bufferedSink(emit: (b: Buffer) => Promise<void>, size = 1 << 20): FrameSink & { end(): Promise<void> } {
  return bufferSink(size, () => Buffer.allocUnsafe(size), emit);
}

function headersFor(e: WalkedEntry): { header: UstarHeader; pax: [string, Buffer | string][] } {
  const pax: [string, Buffer | string][] = [];
  const header: UstarHeader = {
    name: e.path,
    type: TAR_TYPE[e.type],
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size: e.type === 'file' ? e.size : 0,
    mtime: new Date(Number(e.mtimeNs / 1_000_000_000n) * 1000),
    uname: '',
    gname: '',
  };
  // Names are bytes (fsName.ts): PAX path/linkpath values are written as those bytes, and
  // marked hdrcharset=BINARY when they are not UTF-8 (POSIX pax; what GNU tar writes too).
  let binary = false;
  if (!fitsUstar(e.path)) {
    pax.push(['path', nameToBytes(e.path)]);
    header.name = placeholderName(e.path);
    binary = !isUtf8Name(e.path);
  }
  if (e.linkname !== undefined) {
    if (isAscii(e.linkname) && Buffer.byteLength(e.linkname) <= 100) header.linkname = e.linkname;
    else {
      pax.push(['linkpath', nameToBytes(e.linkname)]);
      header.linkname = 'PaxLinkpath';
      binary ||= !isUtf8Name(e.linkname);
    }
  }
  if (binary) pax.unshift(['hdrcharset', 'BINARY']);
  if (e.uid > USTAR_ID_MAX) pax.push(['uid', String(e.uid)]);
  if (e.gid > USTAR_ID_MAX) pax.push(['gid', String(e.gid)]);
  if (e.mtimeNs % 1_000_000_000n !== 0n || e.mtimeNs < 0n) pax.push(['mtime', paxTime(e.mtimeNs)]);
  if (e.type === 'char' || e.type === 'block') {
    header.devmajor = e.devmajor;
    header.devminor = e.devminor;
  }
  for (const name of [...e.xattrs.keys()].sort()) pax.push([`SCHILY.xattr.${name}`, e.xattrs.get(name)!]);
  return { header, pax };
}

function isAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/** Mirrors tar-stream's ustar encoder: ASCII, name <= 100 bytes after moving leading dirs to a 155-byte prefix. */
function fitsUstar(name: string): boolean {
  if (!isAscii(name)) return false;
  if (name.length <= 100) return true;
  let rest = name;
  let prefix = '';
  while (rest.length > 100) {
    const i = rest.indexOf('/');
    if (i === -1) return false;
    prefix += prefix ? `/${rest.slice(0, i)}` : rest.slice(0, i);
    rest = rest.slice(i + 1);
  }
  return prefix.length <= 155;
}

/** What a reader without PAX support sees; the PAX 'path' record carries the real name. */
function placeholderName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/[^\x20-\x7e]/g, '_');
  return `PaxPath/${base.slice(-80) || '_'}`;
}
