// Opens the state DB (better-sqlite3, WAL) and applies pending migrations.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS } from './migrations.js';

export type StateDb = Database.Database;

export const DEFAULT_STATE_DIR = '/var/lib/layerkeep/state';

export function openState(stateDir: string): StateDb {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const db = new Database(join(stateDir, 'state.db'), nativeBindingOption());
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
