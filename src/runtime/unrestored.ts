// Marks of a container that does not hold its key's state, so that no capture of it ever
// replaces the key's good snapshot with a state-less or partial layer:
// - marker files <run-dir>/unrestored/<ref>: written by the hook when a container starts without
//   its state (daemon down or restore failed, on-restore-error=start), and by the authz plugin
//   when it allows a start it could not check. The hook writes them without the daemon; the
//   authz plugin may know only the name or id prefix the request used, so <ref> is the full id,
//   a name or an id prefix.
// - the containers table (durable): 'restoring' from just before a restore touches the tree until
//   it finished, 'unrestored' after a failed one. A crash mid-restore leaves 'restoring'.
// A successful restore of the same container removes both.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerRow } from './containers-table.js';

const dirOf = (runDir: string): string => join(runDir, 'unrestored');
const fileName = (ref: string): string => ref.replace(/[^0-9A-Za-z_.-]/g, '_');

/** ref: the container's full id, or (when only that is known) the name or id prefix it was addressed by. */
export function markUnrestored(runDir: string, ref: string, reason: string): void {
  mkdirSync(dirOf(runDir), { recursive: true, mode: 0o700 });
  writeFileSync(join(dirOf(runDir), fileName(ref)), reason + '\n', { mode: 0o600 });
}

/** True when a mark names this container: by full id, by name, or by a prefix of its id. */
export function isUnrestored(runDir: string, id: string, name?: string): boolean {
  if (existsSync(join(dirOf(runDir), fileName(id)))) return true;
  if (name && existsSync(join(dirOf(runDir), fileName(name.replace(/^\//, ''))))) return true;
  let marks: string[];
  try {
    marks = readdirSync(dirOf(runDir));
  } catch {
    return false;
  }
  return marks.some((m) => /^[0-9a-f]+$/.test(m) && id.startsWith(m));
}

export function clearUnrestored(runDir: string, id: string, name?: string): void {
  rmSync(join(dirOf(runDir), fileName(id)), { force: true });
  if (name) rmSync(join(dirOf(runDir), fileName(name.replace(/^\//, ''))), { force: true });
  try {
    for (const m of readdirSync(dirOf(runDir))) if (/^[0-9a-f]+$/.test(m) && id.startsWith(m)) rmSync(join(dirOf(runDir), m), { force: true });
  } catch { /* no marks */ }
}

/** The table's states that mean "this run does not hold the key's (whole) state". */
export function rowWithoutState(row: Pick<ContainerRow, 'state'> | undefined): boolean {
  return row?.state === 'unrestored' || row?.state === 'restoring';
}
