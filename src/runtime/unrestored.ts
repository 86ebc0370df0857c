// Marker files <run-dir>/unrestored/<container id>: written by the hook when a container starts
// without its state (daemon down or restore failed, on-restore-error=start), so that no later
// capture of that run overwrites the key's good snapshot with the state-less layer. The hook can
// write it without the daemon; a successful prepare of the same container removes it.
import { mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const path = (runDir: string, id: string): string => join(runDir, 'unrestored', id.replace(/[^0-9A-Za-z_.-]/g, '_'));

export function markUnrestored(runDir: string, id: string, reason: string): void {
  mkdirSync(join(runDir, 'unrestored'), { recursive: true, mode: 0o700 });
  writeFileSync(path(runDir, id), reason + '\n');
}

export function isUnrestored(runDir: string, id: string): boolean {
  return existsSync(path(runDir, id));
}

export function clearUnrestored(runDir: string, id: string): void {
  rmSync(path(runDir, id), { force: true });
}
