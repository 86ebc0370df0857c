// The state DB's containers table: runtime id -> key, upper dir, image and what layerkeep last
// did for it (ready = prepared at start, restoring = a restore into it began and has not
// finished, unrestored = started without its state or after a failed restore, captured).
import type { StateDb } from '../state/db.js';

export type ContainerState = 'seen' | 'ready' | 'restoring' | 'unrestored' | 'captured';

export interface ContainerRow {
  runtime_id: string;
  runtime: string;
  name: string | null;
  key: string;
  upper_dir: string | null;
  image: string | null;
  state: ContainerState;
  updated_at: string;
}

export function upsertContainer(db: StateDb, c: { id: string; runtime: string; name: string; key: string; upperDir?: string; image?: string; state: ContainerState }): void {
  db.prepare(
    `INSERT INTO containers (runtime_id, runtime, name, key, upper_dir, image, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(runtime_id) DO UPDATE SET runtime = excluded.runtime, name = excluded.name, key = excluded.key,
       upper_dir = COALESCE(excluded.upper_dir, containers.upper_dir), image = COALESCE(excluded.image, containers.image),
       state = excluded.state, updated_at = excluded.updated_at`,
  ).run(c.id, c.runtime, c.name, c.key, c.upperDir ?? null, c.image ?? null, c.state, new Date().toISOString());
}

export function getContainer(db: StateDb, id: string): ContainerRow | undefined {
  return db.prepare('SELECT * FROM containers WHERE runtime_id = ?').get(id) as ContainerRow | undefined;
}

export function containersOfKey(db: StateDb, key: string): ContainerRow[] {
  return db.prepare('SELECT * FROM containers WHERE key = ? ORDER BY updated_at DESC').all(key) as ContainerRow[];
}

export function forgetContainer(db: StateDb, id: string): void {
  db.prepare('DELETE FROM containers WHERE runtime_id = ?').run(id);
}
