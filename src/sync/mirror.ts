// A per-key mirror of a running container's upper dir, kept up to date incrementally.
//
// Why a mirror and not a hard-link copy: a running container writes files in place, and a hard
// link shares the inode, so the snapshot would read bytes written after the capture instant
// (a torn database page, a counter without its checksum). The mirror holds independent copies
// (reflinks where the filesystem has them: copyFile with COPYFILE_FICLONE, else a plain copy).
// Only entries whose lstat signature changed since the previous update are copied, so after the
// first update a capture costs the changed files, and the frozen part of a sync is short when
// a thawed pre-copy ran just before it. Changed files are written beside the mirror and renamed
// in, so an unchanged mirror file keeps its inode and the snapshot's diff sees only real changes.
//
// Timestamps are coarse on many filesystems (a kernel tick), so a file written in the same tick
// as the scan can change without its signature changing. Such "racy" entries (ctime within
// RACY_NS of the scan) are recorded with an impossible signature: the next pass copies them
// again (git's racy-clean rule).
import { constants, existsSync, lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, lchownSync, chmodSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { llistxattr, lremovexattr, lsetxattr, lutimesNs, mknod, scanDir, type ScanEntry, xattrsOf } from '../native/index.js';
import { FreezeTimeout } from './freeze.js';
import { removeTree } from '../snapshot/removeTree.js'; // no recursion: a container's tree may be very deep

/** Path (relative, '' for the root) -> lstat signature. */
export type Sigs = Map<string, string>;

const RACY_NS = 50_000_000n;
const RACY = 'racy';
/** File copies in flight at once. */
const COPIES_AT_ONCE = 8;
const S_IFMT = 0o170000;
const T = { dir: 0o040000, file: 0o100000, link: 0o120000, fifo: 0o010000, chr: 0o020000, blk: 0o060000, sock: 0o140000 };

interface Scanned {
  rel: string;
  e: ScanEntry;
}

const sigOf = (e: ScanEntry): string => `${e.mode}:${e.uid}:${e.gid}:${e.size}:${e.mtimeNs}:${e.ctimeNs}:${e.ino}:${e.rdevMajor}:${e.rdevMinor}`;

/** lstat of every entry below root (parents before children), without xattrs. */
export function scanTree(root: string): Scanned[] {
  const out: Scanned[] = [];
  const visit = (abs: string, rel: string): void => {
    for (const e of scanDir(abs, { xattrs: false })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push({ rel: r, e });
      if ((e.mode & S_IFMT) === T.dir) visit(`${abs}/${e.name}`, r);
    }
  };
  visit(root, '');
  return out;
}

/** Signatures of a tree as scanned at nowNs (racy entries marked): the no-change test compares these. */
export function signatures(root: string, scanned: Scanned[], nowNs: bigint): Sigs {
  const st = lstatSync(root, { bigint: true });
  const sigs: Sigs = new Map([['', `${st.mode}:${st.uid}:${st.gid}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}`]]);
  for (const s of scanned) sigs.set(s.rel, s.e.ctimeNs >= nowNs - RACY_NS || s.e.mtimeNs >= nowNs - RACY_NS ? `${RACY}:${sigOf(s.e)}` : sigOf(s.e));
  return sigs;
}

export function sameSigs(a: Sigs, b: Sigs): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (v.startsWith(RACY) || b.get(k) !== v) return false;
  return true;
}

export interface MirrorUpdate {
  sigs: Sigs;
  copied: number;
  deleted: number;
  bytes: number;
}

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

/**
 * Brings `mirror` up to date with `upper`, copying only entries whose signature differs from
 * `prev`. Throws FreezeTimeout once Date.now() passes `deadline` (the caller then discards or
 * repeats the update). Entries that vanish while thawed are skipped (and marked to redo).
 */
export async function updateMirror(upper: string, mirror: string, tmpDir: string, prev: Sigs, deadline = Infinity): Promise<MirrorUpdate> {
  const t = nowNs();
  const scanned = scanTree(upper);
  const sigs = signatures(upper, scanned, t);
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  let copied = 0;
  let bytes = 0;
  let n = 0;
  const retime = new Set<string>(['']);
  const parentOf = (rel: string): string => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');

  // Deletions first, deepest first (a removed subtree goes with its top).
  const gone = [...prev.keys()].filter((k) => k !== '' && !sigs.has(k)).sort((a, b) => b.length - a.length);
  for (const rel of gone) {
    removeTree(join(mirror, rel));
    retime.add(parentOf(rel));
  }

  const changed = scanned.filter((s) => prev.get(s.rel) !== sigs.get(s.rel) || sigs.get(s.rel)!.startsWith(RACY) || prev.get(s.rel)?.startsWith(RACY));
  const xattrs = changed.length ? xattrsOf(changed.map((s) => `${upper}/${s.rel}`)) : [];
  mkdirSync(mirror, { recursive: true, mode: 0o700 });
  const tooLate = (): FreezeTimeout => new FreezeTimeout(`capture of ${upper} did not finish within the freeze timeout`);
  const vanished = (rel: string, err: unknown): void => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync(mirror)) throw err;
    // Removed while we looked (only while thawed): copy it again next time if it reappears.
    sigs.set(rel, `${RACY}:gone`);
  };
  // Directories first, parents before children (synchronous: they are metadata only).
  const others: number[] = [];
  for (let i = 0; i < changed.length; i++) {
    const { rel, e } = changed[i]!;
    retime.add(parentOf(rel));
    if ((e.mode & S_IFMT) !== T.dir) {
      if ((e.mode & S_IFMT) !== T.sock) others.push(i);
      continue;
    }
    if (Date.now() > deadline) throw tooLate();
    const dst = join(mirror, rel);
    try {
      const cur = lstatSync(dst, { throwIfNoEntry: false });
      if (cur && !cur.isDirectory()) removeTree(dst);
      if (!cur || !cur.isDirectory()) mkdirSync(dst);
      lchownSync(dst, e.uid, e.gid);
      chmodSync(dst, e.mode & 0o7777);
      syncXattrs(dst, new Map(xattrs[i] ?? []));
      retime.add(rel);
    } catch (err) {
      vanished(rel, err);
    }
  }
  // Then everything else, a few at a time (file copies run on the thread pool).
  const copyOne = async (i: number): Promise<void> => {
    const { rel, e } = changed[i]!;
    const src = `${upper}/${rel}`;
    const dst = join(mirror, rel);
    const type = e.mode & S_IFMT;
    const tmp = join(tmpDir, `e${n++}`);
    try {
      rmSync(tmp, { force: true });
      if (type === T.file) {
        await copyFile(src, tmp, constants.COPYFILE_FICLONE);
        bytes += e.size;
      } else if (type === T.link) {
        symlinkSync(readlinkSync(src), tmp);
      } else {
        mknod(tmp, e.mode, e.rdevMajor, e.rdevMinor);
      }
      lchownSync(tmp, e.uid, e.gid);
      if (type !== T.link) chmodSync(tmp, e.mode & 0o7777);
      for (const [k, v] of xattrs[i] ?? []) lsetxattr(tmp, k, v);
      lutimesNs(tmp, e.mtimeNs, e.mtimeNs);
      if (lstatSync(dst, { throwIfNoEntry: false })?.isDirectory()) removeTree(dst);
      renameSync(tmp, dst);
      copied++;
    } catch (err) {
      rmSync(tmp, { force: true });
      vanished(rel, err);
    }
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < others.length) {
      if (Date.now() > deadline) throw tooLate();
      await copyOne(others[next++]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(COPIES_AT_ONCE, others.length) }, worker));

  // The upper dir's own metadata, then directory times, deepest first (adding entries moved them).
  const root = lstatSync(upper, { bigint: true });
  lchownSync(mirror, Number(root.uid), Number(root.gid));
  chmodSync(mirror, Number(root.mode) & 0o7777);
  const byRel = new Map(scanned.map((s) => [s.rel, s.e]));
  for (const rel of [...retime].sort((a, b) => b.length - a.length)) {
    const mt = rel === '' ? root.mtimeNs : byRel.get(rel)?.mtimeNs;
    if (mt !== undefined && existsSync(join(mirror, rel))) lutimesNs(join(mirror, rel), mt, mt);
  }
  return { sigs, copied, deleted: gone.length, bytes };
}

function syncXattrs(path: string, want: Map<string, Buffer>): void {
  for (const name of llistxattr(path)) if (!want.has(name)) lremovexattr(path, name);
  for (const [k, v] of want) lsetxattr(path, k, v);
}
