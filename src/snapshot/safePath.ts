// Layer paths are untrusted: validate them, then resolve them under the unpack root one
// component at a time with lstat, so no symlink anywhere on the way is ever followed (the
// idea of containerd's safe root resolution, done strictly: a symlinked parent is refused,
// not resolved). The root is a private temp dir or a tree we own during the operation, so
// nothing changes the components between our checks and our use of them.
import fs from 'node:fs';
import path from 'node:path';
import { osPath } from './fsName.js';
import { LayerkeepError, type ErrorDetails } from '../errors.js';

export class UnsafePathError extends LayerkeepError {
  override name = 'UnsafePathError';
  constructor(message: string, details?: ErrorDetails) { super('corrupt', message, details); }
}

/** Splits a layer path into components, refusing anything that could leave the root. */
export function layerPathComponents(p: string): string[] {
  if (p.length === 0) throw new UnsafePathError('empty path');
  if (p.includes('\0')) throw new UnsafePathError('path contains a NUL byte');
  if (p.startsWith('/')) throw new UnsafePathError('absolute path');
  const parts = p.split('/');
  for (const c of parts) {
    if (c === '..') throw new UnsafePathError("path has a '..' component");
    if (c === '' || c === '.') throw new UnsafePathError(`path has an empty or '.' component`);
  }
  return parts;
}

/** Parent layer path of a validated path ('.' for top-level names). */
export function layerParent(p: string): string {
  const i = p.lastIndexOf('/');
  return i === -1 ? '.' : p.slice(0, i);
}

function lstatOrNull(p: string): fs.Stats | null {
  return fs.lstatSync(osPath(p), { throwIfNoEntry: false }) ?? null;
}

/**
 * Checks one directory on the way to an entry: `p` is its path for the kernel, comps[0..depth)
 * its layer path. It must be a real directory (never a symlink). A missing one is created (mode
 * 0755, `onCreate` hears its layer path) when `create`; otherwise the answer is false.
 */
export function checkDirOnTheWay(p: string, comps: readonly string[], depth: number, create: boolean, onCreate?: (layerPath: string) => void): boolean {
  const st = lstatOrNull(p);
  if (st === null) {
    if (!create) return false;
    fs.mkdirSync(osPath(p), { mode: 0o755 });
    onCreate?.(comps.slice(0, depth).join('/'));
    return true;
  }
  if (st.isSymbolicLink()) throw new UnsafePathError(`"${comps.slice(0, depth).join('/')}" on the way is a symlink`);
  if (!st.isDirectory()) throw new UnsafePathError(`"${comps.slice(0, depth).join('/')}" on the way is not a directory`);
  return true;
}

export interface ResolveOptions {
  /** Create missing parent directories (mode 0755); `onCreate` hears each one (layer path). */
  createParents?: boolean;
  onCreate?: (layerPath: string) => void;
}

/**
 * The absolute path of the directory `dirComponents` under root, checked component by
 * component: each must be a real directory (never a symlink). Returns null when a component
 * is missing and createParents is off.
 */
export function resolveDirUnder(root: string, dirComponents: readonly string[], opts: ResolveOptions = {}): string | null {
  let cur = root;
  for (let i = 0; i < dirComponents.length; i++) {
    cur = path.join(cur, dirComponents[i]);
    const st = lstatOrNull(cur);
    if (st === null) {
      if (!opts.createParents) return null;
      fs.mkdirSync(osPath(cur), { mode: 0o755 });
      opts.onCreate?.(dirComponents.slice(0, i + 1).join('/'));
      continue;
    }
    const rel = dirComponents.slice(0, i + 1).join('/');
    if (st.isSymbolicLink()) throw new UnsafePathError(`"${rel}" on the way is a symlink`);
    if (!st.isDirectory()) throw new UnsafePathError(`"${rel}" on the way is not a directory`);
  }
  return cur;
}

/**
 * Resolves a layer path under root: validates it and checks every parent component. The last
 * component is not looked at (the caller lstats it). Throws UnsafePathError; returns null when
 * a parent is missing and createParents is off.
 */
export function resolveUnder(root: string, layerPath: string, opts: ResolveOptions = {}): string | null {
  const parts = layerPathComponents(layerPath);
  const dir = resolveDirUnder(root, parts.slice(0, -1), opts);
  return dir === null ? null : path.join(dir, parts[parts.length - 1]);
}
