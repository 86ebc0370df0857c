// Queries on the local state DB for keys, snapshots and the metadata index.
import { isUtf8Name, nameFromBytes, nameToBytes } from '../snapshot/fsName.js';
import type { Manifest } from '../store/layout.js';
import { BASELINE_FORMAT, type LinkedIndexRow, packBaseline, unpackBaseline } from './baseline.js';
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
  stat_fingerprint: string | null;
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

/** What the tree looked like to lstat when this host last took or restored the snapshot. */
export function setStatFingerprint(db: StateDb, digest: string, fingerprint: string): void {
  db.prepare('UPDATE snapshots SET stat_fingerprint = ? WHERE manifest_digest = ?').run(fingerprint, digest);
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

// ---- incremental snapshots: the baseline a key's next diff is computed against ----------

export type { LinkedIndexRow };

export interface ChunkMapRow {
  path: string;
  size: number;
  /** Packed chunk references (incremental/format.ts). */
  chunks: Buffer;
}

/** The snapshot whose tree the key's baseline describes, if this host recorded one for the key. */
export function getBaselineManifest(db: StateDb, key: string): string | null {
  const r = db.prepare('SELECT baseline_manifest FROM keys WHERE key = ?').get(key) as { baseline_manifest: string | null } | undefined;
  return r?.baseline_manifest ?? null;
}

export function loadBaselineRows(db: StateDb, key: string): LinkedIndexRow[] {
  const r = db.prepare('SELECT format, rows FROM baselines WHERE key = ?').get(key) as { format: number; rows: Buffer | string } | undefined;
  return r ? unpackBaseline(r.format, r.rows) : [];
}

export function loadChunkMaps(db: StateDb, key: string): ChunkMapRow[] {
  const rows = db.prepare('SELECT path, size, chunks FROM chunk_maps WHERE key = ?').all(key) as Array<ChunkMapRow | (Omit<ChunkMapRow, 'path'> & { path: Buffer })>;
  // a path that is not UTF-8 is stored as its bytes (a TEXT value would turn them into U+FFFD)
  return rows.map((r) => (typeof r.path === 'string' ? r as ChunkMapRow : { ...r, path: nameFromBytes(r.path) }));
}

/** Records, in one transaction, the tree a key's next diff starts from and the snapshot it is. */
export function saveBaseline(db: StateDb, key: string, manifest: string, rows: LinkedIndexRow[], chunkMaps: ChunkMapRow[]): void {
  const packed = packBaseline(rows);
  const insChunks = db.prepare('INSERT INTO chunk_maps (key, path, size, chunks) VALUES (?, ?, ?, ?)');
  db.transaction(() => {
    db.prepare('INSERT OR REPLACE INTO baselines (key, format, rows) VALUES (?, ?, ?)').run(key, BASELINE_FORMAT, packed);
    db.prepare('DELETE FROM chunk_maps WHERE key = ?').run(key);
    for (const c of chunkMaps) insChunks.run(key, isUtf8Name(c.path) ? c.path : nameToBytes(c.path), c.size, c.chunks);
    db.prepare(
      `INSERT INTO keys (key, current_manifest, ref_etag, generation, updated_at, baseline_manifest) VALUES (?, NULL, NULL, 0, ?, ?)
       ON CONFLICT(key) DO UPDATE SET baseline_manifest = excluded.baseline_manifest`,
    ).run(key, new Date().toISOString(), manifest);
  })();
}

/** Forgets the key's baseline (its next snapshot is full). */
export function clearBaseline(db: StateDb, key: string): void {
  db.transaction(() => {
    db.prepare('DELETE FROM baselines WHERE key = ?').run(key);
    db.prepare('DELETE FROM chunk_maps WHERE key = ?').run(key);
    db.prepare('UPDATE keys SET baseline_manifest = NULL WHERE key = ?').run(key);
  })();
}
