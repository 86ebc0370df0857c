// Queries on the local state DB for keys, snapshots and the metadata index.
import type { Manifest } from '../store/layout.js';
import type { IndexRow } from '../snapshot/metaIndex.js';
import type { StateDb } from './db.js';

export interface KeyRow {
  key: string;
  current_manifest: string | null;
  ref_etag: string | null;
  generation: number;
  updated_at: string;
}

export interface SnapshotRow {
  manifest_digest: string;
  key: string;
  blob_digest: string;
  diff_id: string;
  blob_size: number;
  uncompressed_size: number;
  files: number;
  tree_fingerprint: string;
  kind: string;
  parent: string | null;
  created: string;
  status: string;
  error: string | null;
}

export function getKey(db: StateDb, key: string): KeyRow | undefined {
  return db.prepare('SELECT * FROM keys WHERE key = ?').get(key) as KeyRow | undefined;
}

export function setKeyCurrent(db: StateDb, key: string, manifest: string, refEtag: string | null, generation: number): void {
  db.prepare(
    `INSERT INTO keys (key, current_manifest, ref_etag, generation, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(key) DO UPDATE SET current_manifest = excluded.current_manifest, ref_etag = excluded.ref_etag,
       generation = excluded.generation, updated_at = excluded.updated_at`,
  ).run(key, manifest, refEtag, generation, new Date().toISOString());
}

export function recordSnapshot(db: StateDb, digest: string, m: Manifest, status = 'complete', error: string | null = null): void {
  db.prepare(
    `INSERT INTO snapshots (manifest_digest, key, blob_digest, diff_id, blob_size, uncompressed_size, files,
       tree_fingerprint, kind, parent, created, status, error)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(manifest_digest) DO UPDATE SET status = excluded.status, error = excluded.error`,
  ).run(digest, m.key, m.blob.digest, m.diffId, m.blob.size, m.uncompressedSize, m.files, m.treeFingerprint,
    m.kind, m.parent, m.created, status, error);
}

export function getSnapshot(db: StateDb, digest: string): SnapshotRow | undefined {
  return db.prepare('SELECT * FROM snapshots WHERE manifest_digest = ?').get(digest) as SnapshotRow | undefined;
}

export function snapshotsByPrefix(db: StateDb, prefix: string): SnapshotRow[] {
  const p = prefix.startsWith('sha256:') ? prefix : `sha256:${prefix}`;
  return db.prepare("SELECT * FROM snapshots WHERE manifest_digest LIKE ? || '%'").all(p) as SnapshotRow[];
}

export function listSnapshotRows(db: StateDb, key?: string): SnapshotRow[] {
  return (key
    ? db.prepare('SELECT * FROM snapshots WHERE key = ? ORDER BY created DESC').all(key)
    : db.prepare('SELECT * FROM snapshots ORDER BY key, created DESC').all()) as SnapshotRow[];
}

export function replaceFileIndex(db: StateDb, key: string, rows: IndexRow[]): void {
  const del = db.prepare('DELETE FROM file_index WHERE key = ?');
  const ins = db.prepare(
    `INSERT INTO file_index (key, path, type, size, mtime_ns, ctime_ns, ino, mode, uid, gid, xattr_hash, content_hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    del.run(key);
    for (const r of rows) {
      ins.run(key, r.path, r.type, r.size, r.mtimeNs, r.ctimeNs, r.ino, r.mode, r.uid, r.gid, r.xattrHash, r.contentHash);
    }
  })();
}
