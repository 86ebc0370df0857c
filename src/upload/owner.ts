// Which live process works on an upload. A writer, or a resume that took an upload over, owns
// it; nobody else may touch it while that process lives. The owner is written to a small file
// next to the staging file ("<staging>.owner") as boot id, pid and process start time, so a
// recycled pid or a reboot never looks like the old owner. Claims happen inside an IMMEDIATE
// transaction of the state DB, which serialises them between processes.
import { mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StateDb } from '../state/db.js';

let selfId: string | undefined;

function processStart(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counted after the ")" that ends the command name, which may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown-boot';
  }
}

export function selfIdentity(): string {
  selfId ??= `${bootId()} ${process.pid} ${processStart('self') ?? '0'}`;
  return selfId;
}

export function isAlive(identity: string): boolean {
  const [boot, pidText, start] = identity.trim().split(' ');
  if (boot !== bootId()) return false;
  const pid = Number(pidText);
  return Number.isInteger(pid) && pid > 0 && processStart(pid) === start;
}

const ownerPath = (stagingPath: string): string => `${stagingPath}.owner`;

export function ownerOf(stagingPath: string): string | undefined {
  try {
    return readFileSync(ownerPath(stagingPath), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Uploads this process works on right now (two resumes in one process must not collide). */
const active = new Set<string>();

/** True when another live process owns the upload staged at this path. */
function ownedByOther(stagingPath: string): boolean {
  const o = ownerOf(stagingPath);
  return o !== undefined && o !== selfIdentity() && isAlive(o);
}

/**
 * Claims the upload staged at this path for this process, unless a live process (or another
 * task in this one) has it. `alsoInTx` runs inside the same transaction once the claim holds.
 */
export function tryClaim(db: StateDb, stagingPath: string, alsoInTx?: () => void): boolean {
  return db.transaction(() => {
    if (active.has(stagingPath) || ownedByOther(stagingPath)) return false;
    mkdirSync(dirname(stagingPath), { recursive: true, mode: 0o700 });
    writeFileSync(ownerPath(stagingPath), `${selfIdentity()}\n`, { mode: 0o600 });
    active.add(stagingPath);
    alsoInTx?.();
    return true;
  }).immediate();
}

/** Gives the claim up (the upload stays in the journal for a later resume). */
export function release(stagingPath: string): void {
  active.delete(stagingPath);
  if (ownerOf(stagingPath) === selfIdentity()) rmSync(ownerPath(stagingPath), { force: true });
}

/** True when a live process other than this one owns the upload (for adoption checks in a tx). */
export function isOwnedElsewhere(stagingPath: string): boolean {
  return active.has(stagingPath) || ownedByOther(stagingPath);
}

export function removeOwnerFile(stagingPath: string): void {
  rmSync(ownerPath(stagingPath), { force: true });
}
