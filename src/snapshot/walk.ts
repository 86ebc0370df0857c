// Walks an overlay upper dir and describes it as OCI layer entries, metadata only (no file
// contents are read here). Children are sorted by name, parents come before children, so
// the same tree always yields the same entry list. Names are bytes, kept as fsName.ts maps
// them; no depth is too deep (an explicit stack, and short paths through a DirChain).
import { readlinkSync } from 'node:fs';
import { scanDir, type ScanEntry, xattrsOf } from '../native/index.js';
import type { EntryType, LayerEntry } from './entry.js';
import { MAX_LAYER_PATH_BYTES, OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './entry.js';
import { DirChain, isShortPath, LongPaths } from './dirChain.js';
import { nameFromBytes, osPath, showName } from './fsName.js';
import { checkSupportedOverlayXattrs, isOpaqueDir, isWhiteoutDevice, layerXattrs } from './overlayUpper.js';
import { refused } from '../errors.js';

export interface WalkedEntry extends LayerEntry {
  /** Absolute path of the source (for files, where content is read from). */
  absPath: string | null;
  ino: bigint;
  ctimeNs: bigint;
  /** All xattrs as found on disk (overlay ones included), for change detection. */
  rawXattrs: Map<string, Buffer>;
  /** The `.wh..wh..opq` entry an opaque directory's xattr stands for. */
  opaqueMarker?: boolean;
}

export interface WalkOptions {
  /** Keep char/block device nodes other than whiteouts (an escape risk in a rootfs). */
  allowDevices?: boolean;
  /** false: lstat only, no xattrs (and so no opaque markers): enough for statFingerprint. */
  xattrs?: boolean;
}

export interface WalkResult {
  entries: WalkedEntry[];
  warnings: string[];
  /** Entries left out because no layer can hold them (each also named in a warning). */
  skipped: number;
}

const S_IFMT = 0o170000;
const T = { dir: 0o040000, file: 0o100000, link: 0o120000, fifo: 0o010000, chr: 0o020000, blk: 0o060000, sock: 0o140000 };

export function walkUpperDir(root: string, opts: WalkOptions = {}): WalkResult {
  const entries: WalkedEntry[] = [];
  const warnings: string[] = [];
  let skipped = 0;
  const firstLink = new Map<string, string>(); // "dev:ino" -> layer path of the first link seen
  // Directories are visited with an explicit stack (no recursion: a tree may be thousands of
  // levels deep) through a DirChain (every path the kernel sees stays short however deep).
  const chain = new DirChain(root);
  const scan = (): ScanEntry[] => scanDir(chain.path, { xattrs: opts.xattrs }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const stack: Frame[] = [{ relDir: '', absDir: root, children: scan(), next: 0 }];
  try {
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const c = frame.children[frame.next++];
      if (c === undefined) {
        stack.pop();
        if (stack.length > 0) chain.pop();
        continue;
      }
      const { relDir, absDir } = frame;
      const rel = relDir ? `${relDir}/${c.name}` : c.name;
      if (rel.length * 3 > MAX_LAYER_PATH_BYTES && Buffer.byteLength(rel) > MAX_LAYER_PATH_BYTES) {
        // deeper than any layer path may be: left out (with what is below it), never failing the walk
        warnings.push(`${showName(rel.slice(0, 200))}...: path longer than ${MAX_LAYER_PATH_BYTES} bytes left out${(c.mode & S_IFMT) === T.dir ? ' with everything below it' : ''}`);
        skipped++;
        continue;
      }
      const abs = `${absDir}/${c.name}`;
      // most entries have no xattrs: share one empty map rather than allocate 100k of them
      const xattrs = c.xattrs.length ? new Map(c.xattrs) : NO_XATTRS;
      if (xattrs.size) checkSupportedOverlayXattrs(rel, xattrs);
      const type = c.mode & S_IFMT;

      if (isWhiteoutDevice(c.mode, c.rdevMajor, c.rdevMinor)) {
        entries.push(whiteoutEntry(relDir, c.name, c, xattrs));
        continue;
      }
      if (c.name.startsWith(WHITEOUT_PREFIX)) {
        throw refused(`${showName(rel)}: file names starting with "${WHITEOUT_PREFIX}" mean deletions in an OCI layer and cannot be stored`);
      }
      switch (type) {
        case T.dir:
          entries.push(entryOf(rel, abs, c, xattrs, 'dir'));
          if (isOpaqueDir(xattrs)) entries.push({ ...markerEntry(`${rel}/${OPAQUE_WHITEOUT}`, c), opaqueMarker: true });
          chain.push(c.name);
          stack.push({ relDir: rel, absDir: abs, children: scan(), next: 0 });
          break;
        case T.file: {
          const id = c.nlink > 1 ? `${c.dev}:${c.ino}` : '';
          const first = id ? firstLink.get(id) : undefined;
          if (first !== undefined) {
            entries.push(entryOf(rel, null, c, xattrs, 'hardlink', first));
          } else {
            if (id) firstLink.set(id, rel);
            entries.push(entryOf(rel, abs, c, xattrs, 'file'));
          }
          break;
        }
        case T.link:
          // readlink is cheap and only symlinks need it
          entries.push(entryOf(rel, null, c, xattrs, 'symlink', readLink(chain.child(c.name))));
          break;
        case T.fifo:
          entries.push(entryOf(rel, null, c, xattrs, 'fifo'));
          break;
        case T.chr:
        case T.blk:
          if (!opts.allowDevices) {
            warnings.push(`${showName(rel)}: device node ${c.rdevMajor}:${c.rdevMinor} left out (pass --allow-devices to keep device nodes)`);
            break;
          }
          entries.push(entryOf(rel, null, c, xattrs, type === T.chr ? 'char' : 'block'));
          break;
        case T.sock:
          warnings.push(`${showName(rel)}: socket skipped (sockets cannot be stored in a layer)`);
          break;
        default:
          warnings.push(`${showName(rel)}: unknown file type ${type.toString(8)} skipped`);
      }
    }
  } finally {
    chain.close();
  }
  return { entries, warnings, skipped };
}

interface Frame {
  relDir: string;
  absDir: string;
  children: ScanEntry[];
  next: number;
}

/**
 * What walkUpperDir(root) returns, from a walk of the same root with `xattrs: false`: the xattrs
 * of every entry are read in one call instead of reading every directory and lstat-ing every
 * entry again (a snapshot whose lstat-only check found a change needs both walks).
 */
export function withXattrs(root: string, quick: WalkResult): WalkResult {
  const sources = quick.entries.map(sourceOf);
  const lists = xattrLists(sources.map((rel) => `${root}/${rel}`));
  const entries: WalkedEntry[] = [];
  quick.entries.forEach((e, i) => {
    const pairs = lists[i];
    if (!pairs) {
      entries.push(e);
      return;
    }
    const raw = new Map(pairs);
    checkSupportedOverlayXattrs(sources[i]!, raw);
    if (e.absPath === null && isWhiteoutName(e.path)) {
      entries.push({ ...e, rawXattrs: raw }); // a whiteout: its xattrs only count as changes
      return;
    }
    entries.push({ ...e, xattrs: layerXattrs(raw), rawXattrs: raw });
    if (e.type === 'dir' && isOpaqueDir(raw)) entries.push({ ...markerEntry(`${e.path}/${OPAQUE_WHITEOUT}`, e), opaqueMarker: true });
  });
  return { entries, warnings: quick.warnings, skipped: quick.skipped };
}

const isWhiteoutName = (path: string): boolean => path.slice(path.lastIndexOf('/') + 1).startsWith(WHITEOUT_PREFIX);

/** The entry's path in the upper dir: a whiteout entry ".wh.<name>" stands for the device "<name>". */
function sourceOf(e: WalkedEntry): string {
  if (e.absPath !== null || !isWhiteoutName(e.path)) return e.path;
  const slash = e.path.lastIndexOf('/');
  return `${e.path.slice(0, slash + 1)}${e.path.slice(slash + 1 + WHITEOUT_PREFIX.length)}`;
}

const NO_XATTRS: Map<string, Buffer> = new Map();

/** One entry, built in one go (a single object shape keeps 100k-entry walks cheap). */
function entryOf(rel: string, abs: string | null, c: ScanEntry, xattrs: Map<string, Buffer>, type: EntryType, linkname?: string): WalkedEntry {
  const device = type === 'char' || type === 'block';
  return {
    path: rel,
    type,
    mode: c.mode & 0o7777,
    uid: c.uid,
    gid: c.gid,
    size: type === 'file' ? c.size : 0,
    mtimeNs: c.mtimeNs,
    linkname,
    devmajor: device ? c.rdevMajor : undefined,
    devminor: device ? c.rdevMinor : undefined,
    xattrs: xattrs.size ? layerXattrs(xattrs) : NO_XATTRS,
    absPath: abs,
    ino: c.ino,
    ctimeNs: c.ctimeNs,
    rawXattrs: xattrs,
  };
}

/** A whiteout device becomes an empty regular file ".wh.<name>" (what containerd writes too). */
function whiteoutEntry(relDir: string, name: string, c: ScanEntry, xattrs: Map<string, Buffer>): WalkedEntry {
  const path = relDir ? `${relDir}/${WHITEOUT_PREFIX}${name}` : `${WHITEOUT_PREFIX}${name}`;
  return { ...markerEntry(path, c), rawXattrs: xattrs };
}

function markerEntry(path: string, c: Pick<ScanEntry, 'mtimeNs' | 'ino' | 'ctimeNs'>): WalkedEntry {
  return {
    path, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtimeNs: c.mtimeNs, linkname: undefined,
    devmajor: undefined, devminor: undefined, xattrs: NO_XATTRS, absPath: null, ino: c.ino, ctimeNs: c.ctimeNs, rawXattrs: NO_XATTRS,
  };
}

function readLink(path: string): string {
  return nameFromBytes(readlinkSync(osPath(path), 'buffer'));
}

/** xattrsOf for every path: short ones in one call, long ones each through a DirChain. */
function xattrLists(paths: string[]): ([string, Buffer][] | undefined)[] {
  if (paths.every(isShortPath)) return xattrsOf(paths);
  const out = xattrsOf(paths.map((p) => (isShortPath(p) ? p : '/')));
  const long = new LongPaths();
  try {
    paths.forEach((p, i) => { if (!isShortPath(p)) out[i] = xattrsOf([long.str(p)])[0]; });
  } finally {
    long.close();
  }
  return out;
}
