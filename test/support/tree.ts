// Test helpers: describe a directory tree entry by entry (type, mode, owner, size, content
// hash, mtime, xattrs) so two trees can be compared exactly.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { lgetxattr, llistxattr } from '../../src/native/index.js';

export interface EntryDescription {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  sha256?: string;
  target?: string;
  rdev?: number;
  mtimeNs?: string;
  xattrs: Record<string, string>;
}

const TYPES: Record<number, string> = { 0o040000: 'dir', 0o100000: 'file', 0o120000: 'symlink', 0o010000: 'fifo', 0o020000: 'char', 0o060000: 'block', 0o140000: 'socket' };

export function describeTree(root: string, opts: { dirMtimes?: boolean; xattrFilter?: (n: string) => boolean } = {}): Map<string, EntryDescription> {
  const out = new Map<string, EntryDescription>();
  const walk = (rel: string) => {
    const abs = rel ? join(root, rel) : root;
    const st = lstatSync(abs, { bigint: true });
    const type = TYPES[Number(st.mode) & 0o170000] ?? 'unknown';
    const xattrs: Record<string, string> = {};
    for (const n of llistxattr(abs).sort()) {
      if (opts.xattrFilter && !opts.xattrFilter(n)) continue;
      xattrs[n] = lgetxattr(abs, n)?.toString('hex') ?? '';
    }
    const d: EntryDescription = { type, mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), xattrs };
    if (type !== 'dir' || opts.dirMtimes !== false) d.mtimeNs = st.mtimeNs.toString();
    if (type === 'file') { d.size = Number(st.size); d.sha256 = createHash('sha256').update(readFileSync(abs)).digest('hex'); }
    if (type === 'symlink') d.target = readlinkSync(abs);
    if (type === 'char' || type === 'block') d.rdev = Number(st.rdev);
    out.set(rel || '.', d);
    if (type === 'dir') for (const n of readdirSync(abs).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return out;
}

/** Both trees as sorted [path, description] lists, for assert.deepEqual with a readable diff. */
export function treeList(m: Map<string, EntryDescription>): [string, EntryDescription][] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
}

export function sh(cmd: string, cwd?: string): string {
  return execFileSync('bash', ['-ec', cmd], { cwd, encoding: 'utf8' });
}
