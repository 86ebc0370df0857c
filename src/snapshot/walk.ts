// Walks an overlay upper dir and describes it as OCI layer entries, metadata only (no file
// contents are read here). Children are sorted by name, parents come before children, so
// the same tree always yields the same entry list.
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { scanDir, type ScanEntry } from '../native/index.js';
import type { LayerEntry } from './entry.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './entry.js';
import { checkSupportedOverlayXattrs, isOpaqueDir, isWhiteoutDevice, layerXattrs } from './overlayUpper.js';

export interface WalkedEntry extends LayerEntry {
  /** Absolute path of the source (for files, where content is read from). */
  absPath: string | null;
  ino: bigint;
  ctimeNs: bigint;
  /** All xattrs as found on disk (overlay ones included), for change detection. */
  rawXattrs: Map<string, Buffer>;
}

export interface WalkOptions {
  /** Keep char/block device nodes other than whiteouts (an escape risk in a rootfs). */
  allowDevices?: boolean;
}

export interface WalkResult {
  entries: WalkedEntry[];
  warnings: string[];
}

const S_IFMT = 0o170000;
const T = { dir: 0o040000, file: 0o100000, link: 0o120000, fifo: 0o010000, chr: 0o020000, blk: 0o060000, sock: 0o140000 };

export function walkUpperDir(root: string, opts: WalkOptions = {}): WalkResult {
  const entries: WalkedEntry[] = [];
  const warnings: string[] = [];
  const firstLink = new Map<string, string>(); // "dev:ino" -> layer path of the first link seen

  const visit = (absDir: string, relDir: string): void => {
    const children = scanDir(absDir).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const c of children) {
      const rel = relDir ? `${relDir}/${c.name}` : c.name;
      const abs = join(absDir, c.name);
      const xattrs = new Map(c.xattrs);
      checkSupportedOverlayXattrs(rel, xattrs);
      const type = c.mode & S_IFMT;

      if (isWhiteoutDevice(c.mode, c.rdevMajor, c.rdevMinor)) {
        entries.push(whiteoutEntry(relDir, c.name, c, xattrs));
        continue;
      }
      if (c.name.startsWith(WHITEOUT_PREFIX)) {
        throw new Error(`${rel}: file names starting with "${WHITEOUT_PREFIX}" mean deletions in an OCI layer and cannot be stored`);
      }
      const base = baseEntry(rel, abs, c, xattrs);
      switch (type) {
        case T.dir:
          entries.push({ ...base, type: 'dir' });
          if (isOpaqueDir(xattrs)) entries.push(markerEntry(`${rel}/${OPAQUE_WHITEOUT}`, c));
          visit(abs, rel);
          break;
        case T.file: {
          const id = `${c.dev}:${c.ino}`;
          const first = c.nlink > 1 ? firstLink.get(id) : undefined;
          if (first !== undefined) {
            entries.push({ ...base, type: 'hardlink', size: 0, linkname: first, absPath: null });
          } else {
            if (c.nlink > 1) firstLink.set(id, rel);
            entries.push({ ...base, type: 'file', size: c.size });
          }
          break;
        }
        case T.link:
          // readlink is cheap and only symlinks need it
          entries.push({ ...base, type: 'symlink', linkname: readLink(abs), absPath: null });
          break;
        case T.fifo:
          entries.push({ ...base, type: 'fifo', absPath: null });
          break;
        case T.chr:
        case T.blk:
          if (!opts.allowDevices) {
            warnings.push(`${rel}: device node ${c.rdevMajor}:${c.rdevMinor} left out (pass --allow-devices to keep device nodes)`);
            break;
          }
          entries.push({ ...base, type: type === T.chr ? 'char' : 'block', devmajor: c.rdevMajor, devminor: c.rdevMinor, absPath: null });
          break;
        case T.sock:
          warnings.push(`${rel}: socket skipped (sockets cannot be stored in a layer)`);
          break;
        default:
          warnings.push(`${rel}: unknown file type ${type.toString(8)} skipped`);
      }
    }
  };
  visit(root, '');
  return { entries, warnings };
}

function baseEntry(rel: string, abs: string, c: ScanEntry, xattrs: Map<string, Buffer>): WalkedEntry {
  return {
    path: rel,
    type: 'file',
    mode: c.mode & 0o7777,
    uid: c.uid,
    gid: c.gid,
    size: 0,
    mtimeNs: c.mtimeNs,
    xattrs: layerXattrs(xattrs),
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

function markerEntry(path: string, c: ScanEntry): WalkedEntry {
  return {
    path, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtimeNs: c.mtimeNs, xattrs: new Map(),
    absPath: null, ino: c.ino, ctimeNs: c.ctimeNs, rawXattrs: new Map(),
  };
}

function readLink(abs: string): string {
  return readlinkSync(abs, 'utf8');
}
