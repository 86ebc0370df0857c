// Unpacks one layer's entries under a root directory, refusing anything that could write
// outside it. Every path is validated and resolved with lstat per component (safePath.ts);
// nodes are created with O_EXCL/O_NOFOLLOW or by calls that never follow a final symlink.
// Restoring into a fresh directory, small files are created in batches on the thread pool
// (batchWriter.ts).
// Whiteout markers go to a pluggable converter (whiteout.ts).
//
// On error the root is left in whatever state it reached (the caller unpacks into a fresh
// temp dir and deletes it), but nothing is ever written outside it.
import fs from 'node:fs';
import { WHITEOUT_PREFIX, type LayerEntry } from './entry.js';
import { TarFormatError, type TarItem } from './tarReader.js';
import { layerPaths } from './layerPaths.js';
import { checkDirOnTheWay, layerPathComponents } from './safePath.js';
import { DirChain } from './dirChain.js';
import { osPath } from './fsName.js';
import { removeTree } from './removeTree.js';
import { classifyWhiteout, type WhiteoutContext, type WhiteoutConverter } from './whiteout.js';
import { lsetxattr, lutimesNs, mknod } from '../native/index.js';
import { BATCH_FILE_MAX, BatchWriteError, createBatchWriter } from './batchWriter.js';
import { corrupt, type ErrorDetails, LayerkeepError } from '../errors.js';

export interface UnpackOptions {
  whiteouts: WhiteoutConverter;
  /** Create char/block device entries (other than whiteouts); refused otherwise. */
  allowDevices?: boolean;
  /** Also allow hard links to regular files that already exist under root (apply mode onto
   *  a live tree). By default a hard link must name an earlier regular file of this layer. */
  linkToExisting?: boolean;
  onWarning?: (msg: string) => void;
  /** root starts empty and nothing else writes under it: whether a path exists is known
   *  from this layer's own entries, without an lstat per entry. */
  freshRoot?: boolean;
  limits?: {
    /** Total regular-file bytes the layer may write (decompression-bomb guard). */
    maxBytes?: number;
  };
}

export interface UnpackResult {
  /** Entries applied: every file, directory, link, node and whiteout marker. */
  files: number;
  /** Regular-file content bytes written. */
  bytes: number;
}

export class UnpackError extends LayerkeepError {
  override name = 'UnpackError';
  constructor(message: string, details?: ErrorDetails) { super('corrupt', message, details); }
}

/** Overlayfs keeps its own state in these; a layer must never set them (only the whiteout
 *  converter writes the opaque marker). */
const OVERLAY_XATTR_PREFIXES = ['trusted.overlay.', 'user.overlay.'];
const AUFS_META_PREFIX = WHITEOUT_PREFIX + WHITEOUT_PREFIX;
const HOLE_BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(HOLE_BLOCK);

interface PendingDir {
  /** Layer path ('.': the root). */
  path: string;
  mtimeNs: bigint;
}

function lstatOrNull(p: string): fs.Stats | null {
  return fs.lstatSync(osPath(p), { throwIfNoEntry: false }) ?? null;
}

/**
 * Creates the entries of `items` under `root` (an existing directory). Directory times are
 * set last, deepest first, since creating children changes a directory's mtime.
 */
export async function unpackLayer(items: AsyncIterable<TarItem>, root: string, opts: UnpackOptions): Promise<UnpackResult> {
  const rootStat = fs.statSync(root);
  if (!rootStat.isDirectory()) throw new UnpackError(`unpack root ${root} is not a directory`);
  const warn = opts.onWarning ?? (() => {});
  const maxBytes = opts.limits?.maxBytes ?? Number.MAX_SAFE_INTEGER;

  const { claimed, touched, markTouched, claim } = layerPaths();
  /** Regular files of this layer: valid hard-link targets. */
  const regularFiles = new Set<string>();
  const dirs: PendingDir[] = [];
  let files = 0;
  let bytes = 0;
  // Small files of a fresh root go to the thread pool in batches.
  const batches = opts.freshRoot ? createBatchWriter() : null;

  // Entries come sorted, so most share the previous entry's parent directories. The chain of
  // checked directories is kept (each entry is resolved relative to its parent, not from the
  // root: no cost in the square of the depth, no path past PATH_MAX) until something is removed
  // from the tree (only removal could turn a checked directory into something else); creating
  // the previous entry cannot have changed it. Link targets have a chain of their own.
  const chain = new DirChain(root);
  const linkChain = new DirChain(root);
  const forgetParent = (): void => {
    chain.reset();
    linkChain.reset();
  };
  const parentDir = (parentComps: string[], create = true): string | null => {
    let missing = false;
    const at = chain.enter(parentComps, (p, depth) => {
      if (missing || checkDirOnTheWay(p, parentComps, depth, create, markTouched)) return;
      missing = true; // the rest is missing too; the chain must not keep what was not checked
    });
    if (!missing) return at;
    chain.reset();
    return null;
  };


  /** Owner, then mode (chown clears setuid), then xattrs, then time (dirs: later). */
  const applyMetadata = (abs: string, e: LayerEntry, isSymlink: boolean): void => {
    fs.lchownSync(osPath(abs), e.uid, e.gid);
    if (!isSymlink) fs.chmodSync(osPath(abs), e.mode & 0o7777);
    setXattrs(abs, e, isSymlink, warn);
    if (e.type === 'dir') dirs.push({ path: e.path, mtimeNs: e.mtimeNs });
    else lutimesNs(abs, e.mtimeNs, e.mtimeNs);
  };

  const applyEntry = async (item: TarItem): Promise<boolean> => {
    const e = item.entry;
    if (e.path === '.') {
      // The archive's root directory ("./"): its metadata is the root's.
      if (e.type !== 'dir') throw corrupt(`the layer root must be a directory, not a ${e.type}`);
      claim('.', e);
      applyMetadata(root, e, false);
      return true;
    }
    const comps = layerPathComponents(e.path);
    const parentComps = comps.slice(0, -1);
    const marker = classifyWhiteout(e);
    if (marker === 'meta' || parentComps.some((c) => c.startsWith(AUFS_META_PREFIX))) {
      // AUFS bookkeeping (e.g. ".wh..wh.plnk/..."): no meaning outside AUFS.
      warn(`layer entry ${JSON.stringify(e.path)}: AUFS meta entry ignored`);
      return false;
    }
    if (parentComps.some((c) => c.startsWith(WHITEOUT_PREFIX))) throw corrupt('a whiteout name cannot be a directory');

    if (marker !== null) {
      await batches?.flush(); // converters look at and change the tree
      forgetParent(); // converters may remove things
      claim(e.path, e);
      if (marker.target !== undefined) {
        if (touched.has(marker.target)) throw new Error(`whiteout of ${JSON.stringify(marker.target)}, which this layer itself creates`);
        claim(marker.target, e);
      }
      const ctx: WhiteoutContext = {
        root,
        dirPath: (create) => parentDir(parentComps, create),
        fromThisLayer: (p) => touched.has(p),
        applyMetadata: (abs) => applyMetadata(abs, { ...e, type: 'char', xattrs: withoutOverlayXattrs(e, warn) }, false),
        warn,
      };
      await opts.whiteouts(marker, ctx);
      return true;
    }

    claim(e.path, e);
    if ((e.type === 'char' || e.type === 'block') && !opts.allowDevices) {
      throw new Error(`${e.type} device ${e.devmajor ?? 0}:${e.devminor ?? 0} refused (device nodes are not allowed)`);
    }
    let linkTarget: string | undefined;
    if (e.type === 'hardlink') {
      await batches?.flush(); // the target must be on disk
      linkTarget = resolveLinkTarget(e);
    }
    if (e.type === 'file' && bytes + e.size > maxBytes) {
      throw new Error(`layer content would exceed the ${maxBytes}-byte limit`);
    }
    const xattrs = withoutOverlayXattrs(e, warn);
    const meta = { ...e, xattrs };

    parentDir(parentComps);
    const abs = chain.child(comps[comps.length - 1]!);
    // In a fresh root only this layer's own entries and the parents made for them exist.
    const existing = opts.freshRoot && !touched.has(e.path) ? null : lstatOrNull(abs);
    let merge = false;
    if (existing !== null) {
      if (e.type === 'dir' && existing.isDirectory()) merge = true;
      else if (touched.has(e.path)) throw new Error(`a ${e.type} entry after entries of this layer beneath it`);
      else {
        removeTree(abs); // replaces content from below (apply mode)
        forgetParent();
      }
    }

    switch (e.type) {
      case 'dir':
        if (!merge) fs.mkdirSync(osPath(abs), { mode: 0o700 });
        applyMetadata(abs, meta, false);
        break;
      case 'file':
        // a path through the chain's fds must not outlive them: such files are written here
        bytes += batches && e.size <= BATCH_FILE_MAX && xattrs.size === 0 && !chain.anchored
          ? await batches.add(abs, meta, item.body)
          : await writeFile(abs, item.body, meta, warn);
        regularFiles.add(e.path);
        break;
      case 'symlink':
        fs.symlinkSync(osPath(e.linkname as string), osPath(abs));
        applyMetadata(abs, meta, true);
        break;
      case 'hardlink':
        // link(2) never follows a symlink at the source; the target was checked to be a file.
        // The inode's metadata is the target's: the tar link header carries no own metadata.
        fs.linkSync(osPath(linkTarget as string), osPath(abs));
        regularFiles.add(e.path);
        break;
      case 'fifo':
        mknod(abs, fs.constants.S_IFIFO | 0o600, 0, 0);
        applyMetadata(abs, meta, false);
        break;
      case 'char':
      case 'block':
        mknod(abs, (e.type === 'char' ? fs.constants.S_IFCHR : fs.constants.S_IFBLK) | 0o600, e.devmajor ?? 0, e.devminor ?? 0);
        applyMetadata(abs, meta, false);
        break;
    }
    markTouched(e.path);
    return true;
  };

  /** A hard link must name a regular file of this layer (or, with linkToExisting, one that
   *  exists under root), reached without symlinks. Returns its absolute path. */
  const resolveLinkTarget = (e: LayerEntry): string => {
    const target = e.linkname as string;
    try {
      layerPathComponents(target);
    } catch (err) {
      throw new Error(`hard link target ${JSON.stringify(target)} refused: ${(err as Error).message}`);
    }
    if (target === e.path) throw new Error('hard link to itself');
    const ofThisLayer = regularFiles.has(target);
    if (!ofThisLayer && (claimed.has(target) || !opts.linkToExisting)) {
      throw new Error(`hard link target ${JSON.stringify(target)} is not an earlier regular file of this layer`);
    }
    let abs: string | null = null;
    try {
      const comps = layerPathComponents(target);
      const dirComps = comps.slice(0, -1);
      let missing = false;
      linkChain.enter(dirComps, (p, depth) => { if (!missing && !checkDirOnTheWay(p, dirComps, depth, false)) missing = true; });
      if (missing) linkChain.reset();
      else abs = linkChain.child(comps[comps.length - 1]!);
    } catch (err) {
      throw new Error(`hard link target ${JSON.stringify(target)} refused: ${(err as Error).message}`);
    }
    const st = abs === null ? null : lstatOrNull(abs);
    if (abs === null || st === null) throw corrupt(`hard link target ${JSON.stringify(target)} does not exist`);
    if (!st.isFile()) throw corrupt(`hard link target ${JSON.stringify(target)} is not a regular file`);
    return abs;
  };

  const entryError = (err: unknown, entryPath: string): Error => {
    if (err instanceof TarFormatError || err instanceof UnpackError) return err;
    if (err instanceof BatchWriteError) return new UnpackError(`layer entry ${JSON.stringify(err.entryPath)}: ${err.message}`, { cause: err });
    return new UnpackError(`layer entry ${JSON.stringify(entryPath)}: ${(err as Error).message}`, { cause: err });
  };
  try {
    for await (const item of items) {
      try {
        if (await applyEntry(item)) files++;
      } catch (err) {
        throw entryError(err, item.entry.path);
      }
    }
    try {
      await batches?.flush();
    } catch (err) {
      throw entryError(err, '');
    }
  } finally {
    await batches?.close(); // nothing may still be writing when the caller cleans up
    chain.close();
    linkChain.close();
  }

  // Last, once nothing is created any more (creating a child changed its directory's time;
  // setting a time changes no other), in tree order so the chain moves little.
  const times = new DirChain(root);
  try {
    for (const d of dirs) {
      if (d.path === '.') lutimesNs(root, d.mtimeNs, d.mtimeNs);
      else {
        const comps = d.path.split('/');
        const name = comps.pop()!;
        // the directories on the way are checked again (once each: the chain keeps them)
        times.enter(comps, (p, depth) => {
          if (!checkDirOnTheWay(p, comps, depth, false)) throw new UnpackError(`layer entry ${JSON.stringify(d.path)}: a directory on the way is gone`);
        });
        lutimesNs(times.child(name), d.mtimeNs, d.mtimeNs);
      }
    }
  } finally {
    times.close();
  }
  return { files, bytes };
}

function withoutOverlayXattrs(e: LayerEntry, warn: (msg: string) => void): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [name, value] of e.xattrs) {
    if (OVERLAY_XATTR_PREFIXES.some((p) => name.startsWith(p))) {
      warn(`layer entry ${JSON.stringify(e.path)}: overlay-private xattr ${name} dropped`);
    } else out.set(name, value);
  }
  return out;
}

function setXattrs(abs: string, e: LayerEntry, isSymlink: boolean, warn: (msg: string) => void): void {
  for (const [name, value] of e.xattrs) {
    try {
      lsetxattr(abs, name, value);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // user.* xattrs exist only on regular files and directories (xattr(7)); some
      // filesystems lack a namespace altogether. Both are reported, not fatal.
      const userOnSpecial = code === 'EPERM' && name.startsWith('user.') && (isSymlink || (e.type !== 'file' && e.type !== 'dir'));
      if (userOnSpecial || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
        warn(`layer entry ${JSON.stringify(e.path)}: xattr ${name} not restored (${code})`);
        continue;
      }
      throw new Error(`setting xattr ${name} failed: ${(err as Error).message}`);
    }
  }
}

/** Streams a file's content to disk (O_EXCL, O_NOFOLLOW), then sets its metadata. */
async function writeFile(abs: string, body: AsyncIterable<Buffer>, e: LayerEntry, warn: (msg: string) => void): Promise<number> {
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(osPath(abs), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  let written: number;
  try {
    written = await writeSparse(fd, body);
    if (written !== e.size) throw new Error(`content is ${written} bytes, the header says ${e.size}`);
    fs.fchownSync(fd, e.uid, e.gid);
    fs.fchmodSync(fd, e.mode & 0o7777);
  } finally {
    fs.closeSync(fd);
  }
  setXattrs(abs, e, false, warn);
  lutimesNs(abs, e.mtimeNs, e.mtimeNs);
  return written;
}

/**
 * Writes a stream at increasing offsets, skipping 4 KiB blocks that are all zeros so they
 * stay holes (the final ftruncate sets the length). Blocks are aligned to the file offset,
 * so chunk boundaries do not matter. Returns the byte count.
 */
async function writeSparse(fd: number, body: AsyncIterable<Buffer>): Promise<number> {
  const pending = Buffer.allocUnsafe(HOLE_BLOCK);
  let pendingLen = 0;
  let pos = 0; // file offset of the first byte not yet written or skipped (block-aligned)
  const end = { written: 0 }; // end of the last real write
  for await (const chunk of body) {
    let off = 0;
    if (pendingLen > 0) {
      off = Math.min(HOLE_BLOCK - pendingLen, chunk.length);
      chunk.copy(pending, pendingLen, 0, off);
      pendingLen += off;
      if (pendingLen < HOLE_BLOCK) continue;
      pos = writeBlocks(fd, pending, 0, HOLE_BLOCK, pos, end);
      pendingLen = 0;
    }
    const whole = off + Math.floor((chunk.length - off) / HOLE_BLOCK) * HOLE_BLOCK;
    pos = writeBlocks(fd, chunk, off, whole, pos, end);
    pendingLen = chunk.length - whole;
    chunk.copy(pending, 0, whole);
  }
  if (pendingLen > 0) pos = writeBlocks(fd, pending, 0, pendingLen, pos, end);
  if (end.written < pos) fs.ftruncateSync(fd, pos); // a trailing hole
  return pos;
}

/** Writes buf[start, end) at file offset pos, one write per run of non-zero blocks; records
 *  the file offset after the last real write in `last`. */
function writeBlocks(fd: number, buf: Buffer, start: number, end: number, pos: number, last: { written: number }): number {
  let runStart = -1;
  for (let i = start; i < end; i += HOLE_BLOCK) {
    const blockEnd = Math.min(i + HOLE_BLOCK, end);
    const zero = ZERO_BLOCK.compare(buf, i, blockEnd, 0, blockEnd - i) === 0;
    if (!zero && runStart === -1) runStart = i;
    if (zero && runStart !== -1) {
      writeAll(fd, buf, runStart, i, pos + (runStart - start));
      last.written = pos + (i - start);
      runStart = -1;
    }
  }
  if (runStart !== -1) {
    writeAll(fd, buf, runStart, end, pos + (runStart - start));
    last.written = pos + (end - start);
  }
  return pos + (end - start);
}

function writeAll(fd: number, buf: Buffer, start: number, end: number, pos: number): void {
  while (start < end) {
    const n = fs.writeSync(fd, buf, start, end - start, pos);
    start += n;
    pos += n;
  }
}
