// Opens the state DB (better-sqlite3, WAL) and applies pending migrations.
// The DB names keys, containers and upload journals: it is 0600 (and so are its -wal/-shm,
// which SQLite creates with the DB file's mode), its dir 0700 when layerkeep creates it.
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS } from './migrations.js';
import { kindOf, LayerkeepError } from '../errors.js';

export type StateDb = Database.Database;

export const DEFAULT_STATE_DIR = '/var/lib/layerkeep/state';

export function openState(stateDir: string): StateDb {
  try {
    return openStateIn(stateDir);
  } catch (e) {
    // sqlite and fs errors alone do not say which state dir; the user needs to know
    if (e instanceof LayerkeepError) throw e;
    const msg = (e as Error).message;
    throw new LayerkeepError(kindOf(e) === 'internal' ? 'unavailable' : kindOf(e), `cannot open the state dir ${stateDir}: ${msg}`,
      { object: stateDir, cause: e, hint: 'check that it exists and is writable by this user, or pass --state-dir DIR' });
  }
}

function openStateIn(stateDir: string): StateDb {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = join(stateDir, 'state.db');
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    const st = statSync(f, { throwIfNoEntry: false });
    if (st && st.uid === process.getuid?.() && (st.mode & 0o077) !== 0) chmodSync(f, 0o600);
  }
  const db = new Database(file, nativeBindingOption());
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 10000');
  migrate(db);
  return db;
}

function migrate(db: StateDb): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}

// better-sqlite3 is not ABI-stable across Node majors; `make test` builds a second copy of
// its addon for the other Node version and points at it with this variable.
export function nativeBindingOption(): Database.Options {
  const binding = process.env.LAYERKEEP_SQLITE_BINDING;
  return binding ? { nativeBinding: binding } : {};
}
