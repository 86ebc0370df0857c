// Schema of the local state DB. Append a migration; never edit one that has shipped.
// The store (refs, manifests) is the source of truth; this DB caches it and journals uploads.

export const MIGRATIONS: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE keys (
        key               TEXT PRIMARY KEY,
        current_manifest  TEXT,               -- 'sha256:<hex>' of the key's current snapshot
        ref_etag          TEXT,               -- version tag of refs/<key> when last read/written
        generation        INTEGER NOT NULL DEFAULT 0,
        updated_at        TEXT NOT NULL
      );
      CREATE TABLE snapshots (
        manifest_digest   TEXT PRIMARY KEY,   -- 'sha256:<hex>'
        key               TEXT NOT NULL,
        blob_digest       TEXT NOT NULL,
        diff_id           TEXT NOT NULL,
        blob_size         INTEGER NOT NULL,
        uncompressed_size INTEGER NOT NULL,
        files             INTEGER NOT NULL,
        tree_fingerprint  TEXT NOT NULL,      -- sha256 over the sorted metadata index
        kind              TEXT NOT NULL DEFAULT 'full',
        parent            TEXT,
        created           TEXT NOT NULL,
        status            TEXT NOT NULL DEFAULT 'complete',  -- complete | pending | failed
        error             TEXT
      );
      CREATE INDEX snapshots_by_key ON snapshots(key, created);
      -- Metadata index of the last snapshot of each key: decides "unchanged" without reading contents.
      CREATE TABLE file_index (
        key          TEXT NOT NULL,
        path         TEXT NOT NULL,
        type         TEXT NOT NULL,
        size         INTEGER NOT NULL,
        mtime_ns     TEXT NOT NULL,
        ctime_ns     TEXT NOT NULL,
        ino          TEXT NOT NULL,
        mode         INTEGER NOT NULL,
        uid          INTEGER NOT NULL,
        gid          INTEGER NOT NULL,
        xattr_hash   TEXT NOT NULL,
        content_hash TEXT,
        PRIMARY KEY (key, path)
      ) WITHOUT ROWID;
      -- Upload journal: one row per blob upload, one per acknowledged part.
      CREATE TABLE uploads (
        id            INTEGER PRIMARY KEY,
        store         TEXT NOT NULL,           -- store description (no secrets)
        key           TEXT NOT NULL,
        object_key    TEXT NOT NULL,           -- where the multipart upload writes
        upload_id     TEXT,
        blob_digest   TEXT,
        size          INTEGER,
        part_size     INTEGER NOT NULL,
        staging_path  TEXT NOT NULL,
        manifest_json TEXT,                    -- written to the store after the blob verifies
        status        TEXT NOT NULL,           -- packing | uploading | completing | done | failed
        error         TEXT,
        started       TEXT NOT NULL,
        updated       TEXT NOT NULL
      );
      CREATE TABLE parts (
        upload_id   INTEGER NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
        number      INTEGER NOT NULL,
        size        INTEGER NOT NULL,
        etag        TEXT NOT NULL,
        md5         TEXT NOT NULL,
        PRIMARY KEY (upload_id, number)
      ) WITHOUT ROWID;
      -- Runtime containers seen by the integrations: runtime id -> key and upper dir.
      CREATE TABLE containers (
        runtime_id  TEXT PRIMARY KEY,
        runtime     TEXT NOT NULL,             -- docker | oci
        name        TEXT,
        key         TEXT NOT NULL,
        upper_dir   TEXT,
        image       TEXT,
        state       TEXT,
        updated_at  TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    sql: `
      -- Incremental snapshots. The snapshot whose tree file_index describes: the base of the
      -- key's next diff (set by snapshot and by restore into an upper dir).
      ALTER TABLE keys ADD COLUMN baseline_manifest TEXT;
      -- Symlink or hard-link target, or "major:minor" of a device: part of the change test.
      ALTER TABLE file_index ADD COLUMN link TEXT;
      -- Chunk maps of the baseline tree's large files (packed binary, see incremental/format.ts):
      -- which chunks a changed file can reuse, and where the chain stores them.
      CREATE TABLE chunk_maps (
        key     TEXT NOT NULL,
        path    TEXT NOT NULL,
        size    INTEGER NOT NULL,
        chunks  BLOB NOT NULL,
        PRIMARY KEY (key, path)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    sql: `
      -- The tree's fingerprint from lstat alone (metaIndex.ts statFingerprint): "unchanged" is
      -- decided without reading xattrs, whose changes also change ctime.
      ALTER TABLE snapshots ADD COLUMN stat_fingerprint TEXT;
    `,
  },
  {
    version: 4,
    sql: `
      -- The baseline tree of a key as one packed value instead of a row per file: it is only
      -- ever read and replaced whole, and a row per file made saving it the slowest step at
      -- the end of a snapshot or restore (state/baseline.ts has the format). Existing rows move
      -- over as format 0 (the JSON array of row objects, built by SQLite, uncompressed).
      CREATE TABLE baselines (
        key     TEXT PRIMARY KEY,
        format  INTEGER NOT NULL,
        rows    BLOB NOT NULL
      );
      INSERT INTO baselines (key, format, rows)
        SELECT key, 0, json_group_array(json_object('path', path, 'type', type, 'size', size, 'mtimeNs', mtime_ns,
          'ctimeNs', ctime_ns, 'ino', ino, 'mode', mode, 'uid', uid, 'gid', gid, 'xattrHash', xattr_hash,
          'contentHash', content_hash, 'link', link))
        FROM file_index GROUP BY key;
      DROP TABLE file_index;
    `,
  },
  {
    version: 5,
    sql: `
      -- Stop-time captures whose snapshot failed for a reason a retry cannot fix (a name or a
      -- tree the walk refuses): no longer retried, shown by status, and until cleared they decide
      -- what the next start of the key does (runtime/capture.ts, the failed-capture policy).
      CREATE TABLE capture_failures (
        capture_id    TEXT PRIMARY KEY,
        key           TEXT NOT NULL,
        container_id  TEXT NOT NULL,
        error         TEXT NOT NULL,
        failed_at     TEXT NOT NULL,
        cleared_at    TEXT
      );
    `,
  },
];
