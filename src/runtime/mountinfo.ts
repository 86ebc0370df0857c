// /proc/<pid>/mountinfo parsing: which mount sits at a path, and an overlay's upperdir.
// Format: https://www.kernel.org/doc/Documentation/filesystems/proc.txt (section 3.5).
import { readFileSync } from 'node:fs';
import { refused } from '../errors.js';

export interface MountInfo {
  mountPoint: string;
  fsType: string;
  source: string;
  /** Per-superblock options, e.g. lowerdir=...,upperdir=...,workdir=... for overlay. */
  superOptions: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    if (pre.length < 5 || post.length < 3) continue;
    mounts.push({
      mountPoint: unescapeOctal(pre[4]),
      fsType: post[0],
      source: unescapeOctal(post[1]),
      superOptions: post.slice(2).join(' '),
    });
  }
  return mounts;
}

/** The mount at exactly this path; the last one wins (it is the one on top). */
export function mountAt(mounts: MountInfo[], path: string): MountInfo | undefined {
  let found: MountInfo | undefined;
  for (const m of mounts) if (m.mountPoint === path) found = m;
  return found;
}

/**
 * Value of one overlay option. The kernel escapes the separators inside values (seq_show_option:
 * "," as \054, "=" as \075, some tools write "\,"), so the raw text is split first and only then
 * is each value decoded: a lowerdir containing "\054upperdir=/etc" stays part of the lowerdir.
 */
export function overlayOption(superOptions: string, name: string): string | undefined {
  for (const p of superOptions.split(/(?<!\\),/)) {
    const eq = p.indexOf('=');
    if (eq < 0 || p.slice(0, eq) !== name) continue;
    return p.slice(eq + 1).replace(/\\([0-7]{3}|,|\\)/g, (_m, e: string) => (e.length === 3 ? String.fromCharCode(parseInt(e, 8)) : e));
  }
  return undefined;
}

/** The upper dir of the overlay mounted at mergedDir, from this process's mount table. */
export function overlayUpperDir(mergedDir: string, mountinfoText?: string): string {
  const text = mountinfoText ?? readFileSync('/proc/self/mountinfo', 'utf8');
  const m = mountAt(parseMountinfo(text), mergedDir);
  if (!m) throw new Error(`no mount at ${mergedDir} in /proc/self/mountinfo: the container's root is not mounted`);
  if (m.fsType !== 'overlay') throw refused(`${mergedDir} is a ${m.fsType} mount, not overlay: cannot find its upper dir`);
  const upper = overlayOption(m.superOptions, 'upperdir');
  if (!upper) throw new Error(`overlay at ${mergedDir} has no upperdir= option (read-only overlay?)`);
  return upper;
}
