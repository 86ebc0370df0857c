// Whiteout handling on restore, as one pluggable function (the design of containerd's
// pkg/archive ConvertWhiteout): the unpacker recognises the OCI marker names and hands each
// marker to a converter, which decides what it means for the target tree.
// https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts
//
// - overlayUpperWhiteouts: the target is an overlay upper dir; markers become overlayfs's own
//   representation (char device 0/0, opaque xattr).
//   https://docs.kernel.org/filesystems/overlayfs.html#whiteouts-and-opaque-directories
// - applyLayerWhiteouts: the target is a live tree (e.g. a mounted merged dir); markers delete.
import fs from 'node:fs';
import path from 'node:path';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX, type LayerEntry } from './entry.js';
import { lsetxattr, mknod } from '../native/index.js';
import { layerParent } from './safePath.js';
import { nameFromBytes, osPath } from './fsName.js';
import { removeTree } from './removeTree.js';

/** A marker entry found in the layer. */
export interface WhiteoutMarker {
  /** The marker entry as read from the archive (e.g. "var/.wh.cache"). */
  entry: LayerEntry;
  /** 'whiteout': `.wh.<name>` deletes <name>; 'opaque': `.wh..wh..opq` hides the lower
   *  contents of its directory. */
  kind: 'whiteout' | 'opaque';
  /** Layer path of the directory holding the marker ('.' for the layer root). */
  dir: string;
  /** For 'whiteout': the layer path it deletes (dir + name). */
  target?: string;
}

/** What the unpacker offers a converter; every path it hands out was resolved safely. */
export interface WhiteoutContext {
  /** The unpack root. */
  root: string;
  /** Absolute path of the marker's directory, each component checked to be a real directory.
   *  Missing components are created when `create`, else the result is null. */
  dirPath(create: boolean): string | null;
  /** True when this layer created `layerPath` itself or something beneath it. */
  fromThisLayer(layerPath: string): boolean;
  /** Applies the marker entry's owner, mode, xattrs and time to a node the converter made. */
  applyMetadata(absPath: string): void;
  warn(msg: string): void;
}

export type WhiteoutConverter = (marker: WhiteoutMarker, ctx: WhiteoutContext) => Promise<void>;

/**
 * Classifies a layer path by its last component: a whiteout, an opaque marker, another
 * `.wh..wh.` meta name (AUFS internals, e.g. `.wh..wh.plnk`), or null for a normal entry.
 * Throws for a whiteout whose target name is empty, "." or "..".
 */
export function classifyWhiteout(entry: LayerEntry): WhiteoutMarker | 'meta' | null {
  const dir = layerParent(entry.path);
  const base = entry.path.slice(dir === '.' ? 0 : dir.length + 1);
  if (!base.startsWith(WHITEOUT_PREFIX)) return null;
  if (base === OPAQUE_WHITEOUT) return { entry, kind: 'opaque', dir };
  if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return 'meta';
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') {
    throw new Error(`whiteout names no valid entry (${JSON.stringify(name)})`);
  }
  return { entry, kind: 'whiteout', dir, target: dir === '.' ? name : `${dir}/${name}` };
}

function baseName(layerPath: string): string {
  return layerPath.slice(layerPath.lastIndexOf('/') + 1);
}

export interface OverlayUpperOptions {
  /** 'trusted.overlay.opaque' for overlay mounted by root, 'user.overlay.opaque' for rootless
   *  overlay (mounted with the userxattr option). */
  opaqueXattr: 'trusted.overlay.opaque' | 'user.overlay.opaque';
}

/** Writes markers the way overlayfs stores them in an upper dir. */
export function overlayUpperWhiteouts(opts: OverlayUpperOptions): WhiteoutConverter {
  return async (marker, ctx) => {
    const dir = ctx.dirPath(true) as string;
    if (marker.kind === 'opaque') {
      lsetxattr(dir, opts.opaqueXattr, Buffer.from('y'));
      return;
    }
    const node = path.join(dir, baseName(marker.target as string));
    mknod(node, fs.constants.S_IFCHR | (marker.entry.mode & 0o7777), 0, 0);
    ctx.applyMetadata(node);
  };
}

/**
 * Applies markers to a live tree: `.wh.<name>` removes <name> (recursively, never following
 * symlinks); `.wh..wh..opq` removes every child of its directory that this layer did not
 * create itself (the OCI spec: an opaque marker hides lower entries only).
 */
export function applyLayerWhiteouts(): WhiteoutConverter {
  return async (marker, ctx) => {
    if (marker.kind === 'whiteout') {
      const dir = ctx.dirPath(false);
      if (dir === null) return; // nothing below to delete
      // removeTree removes a symlink itself, never what it points to.
      removeTree(path.join(dir, baseName(marker.target as string)));
      return;
    }
    const dir = ctx.dirPath(true) as string;
    clearLowerChildren(dir, marker.dir, ctx);
  };
}

/** Removes the children of `abs` not created by this layer, descending (with an explicit
 *  stack, however deep) into directories that hold content of this layer. Names are read as
 *  bytes and kept as fsName.ts maps them, so every lower name is seen and removable. */
function clearLowerChildren(abs: string, layerDir: string, ctx: WhiteoutContext): void {
  const todo: Array<[string, string]> = [[abs, layerDir]];
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    const [dir, ldir] = next;
    for (const raw of fs.readdirSync(osPath(dir), { encoding: 'buffer' })) {
      const name = nameFromBytes(raw);
      const child = path.join(dir, name);
      const layerPath = ldir === '.' ? name : `${ldir}/${name}`;
      if (!ctx.fromThisLayer(layerPath)) removeTree(child);
      else if (fs.lstatSync(osPath(child)).isDirectory()) todo.push([child, layerPath]);
    }
  }
}
