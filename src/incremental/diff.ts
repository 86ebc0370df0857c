// What changed between the tree of the previous layer (the baseline: the metadata index this
// host recorded when it last snapshotted or restored the key) and a freshly walked tree.
// Decided from metadata only: no file content is read here.
//
// Rules, per entry type:
// - regular files and hard links: type, size, mtime, mode, owner, xattrs, link target and the
//   inode must match, and the ctime too unless `ignoreCtime` (a hard-link copy of the upper dir
//   changes every ctime but no content: git's core.trustctime=false, restic's --ignore-ctime);
// - directories, symlinks, fifos, devices: the same without inode and ctime (their whole
//   content is the metadata compared, the symlink target, or the device number);
// - whiteout markers (`.wh.<name>`): type and mtime; opaque markers: presence only (their
//   times are the directory's and say nothing about the marker).
// Deleted paths become OCI whiteouts where a whiteout can say it (top-most deleted path under
// a directory that still exists); a directory that became opaque carries all its entries, and
// a hard link carries its target, so the diff layer also reads right as a plain OCI layer.
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from '../snapshot/entry.js';
import type { IndexRow } from '../snapshot/metaIndex.js';
import type { WalkedEntry } from '../snapshot/walk.js';

/** A metadata index row plus the link target / device number the change test needs. */
export interface BaselineRow extends IndexRow {
  link: string | null;
}

export interface TreeDiff {
  /** Walk positions of entries new or changed since the baseline (forced ones included), in walk order. */
  included: number[];
  /** Baseline paths gone from the tree, sorted. */
  deleted: string[];
  /** Whiteout entries to add to the layer for deleted paths. */
  whiteouts: WalkedEntry[];
}

export function linkOf(e: WalkedEntry): string | null {
  if (e.type === 'symlink' || e.type === 'hardlink') return e.linkname ?? '';
  if (e.type === 'char' || e.type === 'block') return `${e.devmajor ?? 0}:${e.devminor ?? 0}`;
  return null;
}

/** The rows with their link targets, in place: a copy of a million rows cost half a GB. */
export function baselineRows(entries: WalkedEntry[], rows: IndexRow[]): BaselineRow[] {
  const out = rows as BaselineRow[];
  for (let i = 0; i < out.length; i++) out[i]!.link = linkOf(entries[i]!);
  return out;
}

const baseName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const parentOf = (p: string): string => { const i = p.lastIndexOf('/'); return i === -1 ? '' : p.slice(0, i); };
const isMarker = (p: string): boolean => baseName(p).startsWith(WHITEOUT_PREFIX);

export function sameEntry(cur: BaselineRow, base: BaselineRow, ignoreCtime: boolean): boolean {
  if (cur.type !== base.type) return false;
  if (baseName(cur.path) === OPAQUE_WHITEOUT) return true;
  if (isMarker(cur.path)) return cur.mtimeNs === base.mtimeNs;
  if (cur.size !== base.size || cur.mtimeNs !== base.mtimeNs || cur.mode !== base.mode || cur.uid !== base.uid ||
      cur.gid !== base.gid || cur.xattrHash !== base.xattrHash || cur.link !== base.link) return false;
  if (cur.type === 'file' || cur.type === 'hardlink') {
    if (cur.ino !== base.ino) return false;
    if (!ignoreCtime && cur.ctimeNs !== base.ctimeNs) return false;
  }
  return true;
}

export function diffTrees(entries: WalkedEntry[], rows: BaselineRow[], baseline: Map<string, BaselineRow>, opts: { ignoreCtime?: boolean } = {}): TreeDiff {
  const ignoreCtime = !!opts.ignoreCtime;
  const include = new Uint8Array(entries.length);
  const position = new Map<string, number>();
  entries.forEach((e, i) => position.set(e.path, i));

  const newlyOpaque: string[] = [];
  rows.forEach((r, i) => {
    const b = baseline.get(r.path);
    if (!b || !sameEntry(r, b, ignoreCtime)) include[i] = 1;
    if (!b && baseName(r.path) === OPAQUE_WHITEOUT) newlyOpaque.push(`${parentOf(r.path)}/`);
  });
  // A directory that became opaque hides everything below it in lower layers: as a plain OCI
  // layer the diff must then carry the directory's whole current content.
  if (newlyOpaque.length > 0) {
    entries.forEach((e, i) => { if (newlyOpaque.some((d) => e.path.startsWith(d))) include[i] = 1; });
  }
  // A hard link needs its target in the same layer (a layer's links name its own files).
  entries.forEach((e, i) => {
    if (include[i] && e.type === 'hardlink') {
      const t = position.get(e.linkname ?? '');
      if (t === undefined) throw new Error(`${e.path}: hard link to ${JSON.stringify(e.linkname)}, which the walk did not list`);
      include[t] = 1;
    }
  });

  const deleted: string[] = [];
  for (const p of baseline.keys()) if (!position.has(p)) deleted.push(p);
  deleted.sort();
  const deletedSet = new Set(deleted);
  const whiteouts: WalkedEntry[] = [];
  for (const p of deleted) {
    if (isMarker(p)) continue; // a whiteout cannot delete a whiteout; the index records it
    const parent = parentOf(p);
    if (deletedSet.has(parent)) continue; // the parent's whiteout covers it
    if (parent !== '') {
      const at = position.get(parent);
      if (at === undefined || entries[at]!.type !== 'dir') continue; // replaced by a non-directory
    }
    const path = parent ? `${parent}/${WHITEOUT_PREFIX}${baseName(p)}` : `${WHITEOUT_PREFIX}${baseName(p)}`;
    if (position.has(path)) continue; // the tree's own whiteout marker for it says the same
    whiteouts.push(deletionWhiteout(path));
  }
  const included: number[] = [];
  include.forEach((v, i) => { if (v) included.push(i); });
  return { included, deleted, whiteouts };
}

function deletionWhiteout(path: string): WalkedEntry {
  return {
    path, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtimeNs: 0n, xattrs: new Map(),
    absPath: null, ino: 0n, ctimeNs: 0n, rawXattrs: new Map(),
  };
}

/** Compares layer paths component by component: parents first, siblings by name (walk order). */
export function comparePaths(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  }
  return x.length - y.length;
}

/** The layer's entries: `kept` (walk order) with the whiteouts merged in at their sorted place. */
export function mergeWhiteouts(kept: WalkedEntry[], whiteouts: WalkedEntry[]): WalkedEntry[] {
  if (whiteouts.length === 0) return kept;
  const out: WalkedEntry[] = [];
  let w = 0;
  for (const e of kept) {
    while (w < whiteouts.length && comparePaths(whiteouts[w]!.path, e.path) < 0) out.push(whiteouts[w++]!);
    out.push(e);
  }
  while (w < whiteouts.length) out.push(whiteouts[w++]!);
  return out;
}
