// Names and cleanup of a restore's temp trees (the unpack dir beside the target, the staging dir
// of an apply, the chunk staging). A restore killed mid-way leaves its temp tree behind; the next
// restore into the same parent, and the daemon at start, remove those whose owner is gone.
// A name carries its owner's pid and pid namespace: a temp is stale only when it was made in our
// pid namespace by a process that no longer exists (one from another namespace, e.g. the
// managed plugin's and the host CLI's, is never touched; a reused pid only delays its removal).
import { mkdtempSync, readdirSync, readlinkSync } from 'node:fs';
import { removeTree } from '../snapshot/removeTree.js';
import { join } from 'node:path';

const TEMP_RE = /\.layerkeep-(?:restore|chunks|apply)-(\d+)-(\d+)-[A-Za-z0-9]{6}$/;

function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
  } catch {
    return '0';
  }
}

/** A new temp dir `<dir>/<prefix>.layerkeep-<kind>-<pidns>-<pid>-XXXXXX` (mode 0700). */
export function makeRestoreTemp(dir: string, prefix: string, kind: 'restore' | 'chunks' | 'apply'): string {
  return mkdtempSync(join(dir, `${prefix}.layerkeep-${kind}-${pidNamespace()}-${process.pid}-`));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Removes temp trees in `dir` left by dead restores; returns their names. Never throws. */
export function removeStaleRestoreTemps(dir: string, onRemoved?: (path: string) => void): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  const ns = pidNamespace();
  for (const name of names) {
    const m = TEMP_RE.exec(name);
    if (!m || m[1] !== ns) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || alive(pid)) continue;
    try {
      removeTree(join(dir, name));
      removed.push(name);
      onRemoved?.(join(dir, name));
    } catch { /* left for the next try */ }
  }
  return removed;
}
