// Queries of the capture_failures table: captures that failed for good (see migrations.ts v5).
import type { StateDb } from './db.js';

export interface CaptureFailure {
  captureId: string;
  key: string;
  containerId: string;
  error: string;
  failedAt: string;
}

interface Row { capture_id: string; key: string; container_id: string; error: string; failed_at: string }
const fromRow = (r: Row): CaptureFailure => ({ captureId: r.capture_id, key: r.key, containerId: r.container_id, error: r.error, failedAt: r.failed_at });

export function recordCaptureFailure(db: StateDb, f: Omit<CaptureFailure, 'failedAt'>): void {
  db.prepare(`INSERT INTO capture_failures (capture_id, key, container_id, error, failed_at) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT(capture_id) DO UPDATE SET error = excluded.error, failed_at = excluded.failed_at, cleared_at = NULL`)
    .run(f.captureId, f.key, f.containerId, f.error, new Date().toISOString());
}

/** The key's newest uncleared failure, if any. */
export function openCaptureFailure(db: StateDb, key: string): CaptureFailure | undefined {
  const r = db.prepare('SELECT * FROM capture_failures WHERE key = ? AND cleared_at IS NULL ORDER BY failed_at DESC LIMIT 1').get(key) as Row | undefined;
  return r && fromRow(r);
}

export function listCaptureFailures(db: StateDb): CaptureFailure[] {
  return (db.prepare('SELECT * FROM capture_failures WHERE cleared_at IS NULL ORDER BY failed_at').all() as Row[]).map(fromRow);
}

/** Marks the key's failures cleared (an operator's word, or a later capture of the key that succeeded). */
export function clearCaptureFailures(db: StateDb, key: string): number {
  return db.prepare('UPDATE capture_failures SET cleared_at = ? WHERE key = ? AND cleared_at IS NULL').run(new Date().toISOString(), key).changes;
}
