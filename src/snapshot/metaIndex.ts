// The metadata index of a walked tree: one row per entry with everything that changes when
// a file changes (size, times, inode, mode, owner, xattrs), and a fingerprint over all rows.
// Equal fingerprints mean "unchanged" without reading any file contents.
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import type { WalkedEntry } from './walk.js';

export interface IndexRow {
  path: string;
  type: string;
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
  mode: number;
  uid: number;
  gid: number;
  xattrHash: string;
  contentHash: string | null;
}

export function xattrHash(xattrs: Map<string, Buffer>): string {
  if (xattrs.size === 0) return '';
  const h = createHash('sha256');
  for (const k of [...xattrs.keys()].sort()) {
    const v = xattrs.get(k)!;
    h.update(`${k}\0${v.length}\0`);
    h.update(v);
  }
  return h.digest('hex').slice(0, 32);
}

export function indexRows(entries: WalkedEntry[]): IndexRow[] {
  return entries.map((e) => ({
    path: e.path,
    type: e.type,
    size: e.size,
    mtimeNs: e.mtimeNs.toString(),
    ctimeNs: e.ctimeNs.toString(),
    ino: e.ino.toString(),
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    xattrHash: xattrHash(e.rawXattrs),
    contentHash: null,
  }));
}

/** sha256 over the rows in walk order (walk order is deterministic). */
export function treeFingerprint(rows: IndexRow[], extra: string[] = []): string {
  const h = createHash('sha256');
  for (const x of extra) h.update(`${x}\n`);
  let batch: string[] = []; // one update per 1024 rows: an update per row cost more than the hashing
  for (const r of rows) {
    batch.push(`${r.path}\0${r.type}\0${r.size}\0${r.mtimeNs}\0${r.ctimeNs}\0${r.ino}\0${r.mode}\0${r.uid}\0${r.gid}\0${r.xattrHash}\n`);
    if (batch.length === 1024) { h.update(batch.join('')); batch = []; }
  }
  h.update(batch.join(''));
  return `sha256:${h.digest('hex')}`;
}

/**
 * sha256 over what lstat alone says of the tree: the rows without xattrs, and without the
 * opaque markers that xattrs produce. Equal for a tree walked with or without xattrs, and
 * a safe "unchanged" test on its own: setting or removing an xattr changes the file's ctime,
 * which is in the rows. The no-change decision uses it to skip reading xattrs.
 */
export function statFingerprint(entries: WalkedEntry[], extra: string[] = []): string {
  const h = createHash('sha256');
  for (const x of extra) h.update(`${x}\n`);
  let batch: string[] = [];
  for (const e of entries) {
    if (e.opaqueMarker) continue;
    batch.push(`${e.path}\0${e.type}\0${e.size}\0${e.mtimeNs}\0${e.ctimeNs}\0${e.ino}\0${e.mode}\0${e.uid}\0${e.gid}\n`);
    if (batch.length === 1024) { h.update(batch.join('')); batch = []; }
  }
  h.update(batch.join(''));
  return `sha256:${h.digest('hex')}`;
}

/** The upper dir's own metadata, part of the lstat-only fingerprint (the root is not an entry). */
export function rootStatLine(st: BigIntStats): string {
  return `root=${st.mode}:${st.uid}:${st.gid}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** The upper dir's own metadata as a manifest records it. */
export function rootMeta(st: BigIntStats): { mode: number; uid: number; gid: number; mtimeNs: string } {
  return { mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), mtimeNs: st.mtimeNs.toString() };
}

export const rootMetaLine = (r: { mode: number; uid: number; gid: number; mtimeNs: string }): string => `root=${r.mode}:${r.uid}:${r.gid}:${r.mtimeNs}`;
