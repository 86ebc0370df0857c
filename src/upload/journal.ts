// The upload journal in the state DB (tables `uploads` and `parts`, migration 1). Every part
// S3 acknowledged is committed here at once, so a restarted process knows what is there.
import type { StateDb } from '../state/db.js';

export type UploadStatus = 'packing' | 'uploading' | 'completing' | 'done' | 'failed';

export interface UploadRow {
  id: number;
  store: string;
  key: string;
  object_key: string;
  upload_id: string | null;
  blob_digest: string | null;
  size: number | null;
  part_size: number;
  staging_path: string;
  manifest_json: string | null;
  status: UploadStatus;
  error: string | null;
  started: string;
  updated: string;
}

export interface PartRow {
  number: number;
  size: number;
  etag: string;
  md5: string;
}

const now = (): string => new Date().toISOString();

export function insertUpload(db: StateDb, u: { store: string; objectKey: string; partSize: number; stagingPath: string }): number {
  const t = now();
  const r = db
    .prepare(`INSERT INTO uploads (store, key, object_key, part_size, staging_path, status, started, updated)
              VALUES (?, '', ?, ?, ?, 'packing', ?, ?)`)
    .run(u.store, u.objectKey, u.partSize, u.stagingPath, t, t);
  return Number(r.lastInsertRowid);
}

export function getUpload(db: StateDb, id: number): UploadRow | undefined {
  return db.prepare('SELECT * FROM uploads WHERE id = ?').get(id) as UploadRow | undefined;
}

export function setUploadId(db: StateDb, id: number, uploadId: string | null): void {
  db.prepare('UPDATE uploads SET upload_id = ?, updated = ? WHERE id = ?').run(uploadId, now(), id);
}

export function recordPart(db: StateDb, id: number, p: PartRow): void {
  db.transaction(() => {
    db.prepare('INSERT OR REPLACE INTO parts (upload_id, number, size, etag, md5) VALUES (?, ?, ?, ?, ?)').run(id, p.number, p.size, p.etag, p.md5);
    db.prepare('UPDATE uploads SET updated = ? WHERE id = ?').run(now(), id);
  })();
}

export function partsOf(db: StateDb, id: number): Map<number, PartRow> {
  const rows = db.prepare('SELECT number, size, etag, md5 FROM parts WHERE upload_id = ? ORDER BY number').all(id) as PartRow[];
  return new Map(rows.map((r) => [r.number, r]));
}

export function deleteParts(db: StateDb, id: number, fromNumber = 1): void {
  db.prepare('DELETE FROM parts WHERE upload_id = ? AND number >= ?').run(id, fromNumber);
}

export function setObjectKey(db: StateDb, id: number, objectKey: string): void {
  db.prepare('UPDATE uploads SET object_key = ?, updated = ? WHERE id = ?').run(objectKey, now(), id);
}

/** finish() was called: the blob's digest, size and the document to publish are known. */
export function recordFinish(db: StateDb, id: number, f: { digest: string; size: number; key: string; note: string | null }): void {
  db.prepare(`UPDATE uploads SET blob_digest = ?, size = ?, key = ?, manifest_json = ?, status = 'uploading', updated = ?
              WHERE id = ?`).run(f.digest, f.size, f.key, f.note, now(), id);
}

export function setStatus(db: StateDb, id: number, status: UploadStatus, error: string | null = null): void {
  db.prepare('UPDATE uploads SET status = ?, error = ?, updated = ? WHERE id = ?').run(status, error, now(), id);
}

export function deleteUpload(db: StateDb, id: number): void {
  db.prepare('DELETE FROM uploads WHERE id = ?').run(id);
}

/** Uploads of this store that are neither done nor failed. */
export function unfinishedUploads(db: StateDb, store: string): UploadRow[] {
  return db.prepare(`SELECT * FROM uploads WHERE store = ? AND status NOT IN ('done', 'failed') ORDER BY id`).all(store) as UploadRow[];
}

/** Interrupted uploads whose first part matches, newest first: candidates for adoption. */
export function uploadsWithFirstPart(db: StateDb, store: string, exceptId: number, md5: string, size: number): UploadRow[] {
  return db
    .prepare(`SELECT u.* FROM uploads u JOIN parts p ON p.upload_id = u.id AND p.number = 1
              WHERE u.store = ? AND u.id != ? AND u.status = 'packing' AND u.upload_id IS NOT NULL
                AND p.md5 = ? AND p.size = ?
              ORDER BY u.id DESC`)
    .all(store, exceptId, md5, size) as UploadRow[];
}

/** Moves an interrupted upload's parts and multipart upload id onto `intoId`, dropping its row. */
export function adoptUpload(db: StateDb, intoId: number, from: UploadRow): void {
  deleteParts(db, intoId);
  db.prepare('UPDATE parts SET upload_id = ? WHERE upload_id = ?').run(intoId, from.id);
  db.prepare('UPDATE uploads SET upload_id = ?, object_key = ?, updated = ? WHERE id = ?').run(from.upload_id, from.object_key, now(), intoId);
  deleteUpload(db, from.id);
}

/** The manifest's key, when the note is a JSON document with one (for `status` and publish). */
export function keyOfNote(note: string | undefined | null): string {
  if (!note) return '';
  try {
    const k = (JSON.parse(note) as { key?: unknown }).key;
    return typeof k === 'string' ? k : '';
  } catch {
    return '';
  }
}
