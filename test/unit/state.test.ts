// The state DB's baseline trees: packed per key (migration 4), read back exactly as saved, and
// carried over from the per-file rows of a version-3 DB without losing an entry.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nativeBindingOption, openState } from '../../src/state/db.js';
import { MIGRATIONS } from '../../src/state/migrations.js';
import { BASELINE_FORMAT, packBaseline, unpackBaseline } from '../../src/state/baseline.js';
import { deflateRawSync } from 'node:zlib';
import { clearBaseline, getBaselineManifest, type LinkedIndexRow, loadBaselineRows, saveBaseline } from '../../src/state/snapshots.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'layerkeep-state-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const rows: LinkedIndexRow[] = [
  { path: 'etc', type: 'dir', size: 0, mtimeNs: '1700000000123456789', ctimeNs: '1700000001000000000', ino: '18446744073709551000', mode: 0o40755, uid: 0, gid: 0, xattrHash: '', contentHash: null, link: null },
  { path: 'etc/ünïcödé ✓', type: 'file', size: 42, mtimeNs: '-1000000001', ctimeNs: '5', ino: '7', mode: 0o104755, uid: 4294967294, gid: 65534, xattrHash: 'ab'.repeat(32), contentHash: 'cd'.repeat(32), link: null },
  { path: 'etc/link', type: 'symlink', size: 0, mtimeNs: '1', ctimeNs: '2', ino: '8', mode: 0o120777, uid: 1, gid: 2, xattrHash: '', contentHash: null, link: '../x\ny' },
  { path: 'dev/null', type: 'char', size: 0, mtimeNs: '1', ctimeNs: '2', ino: '9', mode: 0o20666, uid: 0, gid: 0, xattrHash: '', contentHash: null, link: '1:3' },
];
const byPath = (rs: LinkedIndexRow[]) => [...rs].sort((a, b) => (a.path < b.path ? -1 : 1));

describe('baseline trees in the state DB', () => {
  it('reads back exactly what was saved, per key, and forgets it on clear', () => {
    const db = openState(path.join(root, 'a'));
    saveBaseline(db, 'one', 'sha256:aa', rows, [{ path: 'big', size: 9, chunks: Buffer.from([1, 2, 3]) }]);
    saveBaseline(db, 'two', 'sha256:bb', rows.slice(0, 1), []);
    assert.deepEqual(loadBaselineRows(db, 'one'), rows);
    assert.deepEqual(loadBaselineRows(db, 'two'), rows.slice(0, 1));
    saveBaseline(db, 'one', 'sha256:cc', rows.slice(2), []); // replaces, never merges
    assert.deepEqual(loadBaselineRows(db, 'one'), rows.slice(2));
    assert.equal(getBaselineManifest(db, 'one'), 'sha256:cc');
    clearBaseline(db, 'one');
    assert.deepEqual(loadBaselineRows(db, 'one'), []);
    assert.equal(getBaselineManifest(db, 'one'), null);
    assert.deepEqual(loadBaselineRows(db, 'two'), rows.slice(0, 1));
    db.close();
  });

  it('packs large baselines in segments (format 2), keeps names that are not UTF-8, and still reads format 1', () => {
    const many: LinkedIndexRow[] = [];
    for (let i = 0; i < 40_000; i++) many.push({ ...rows[1]!, path: `d/\udcff-${i}-caf\udce9`, ino: String(i) });
    const packed = packBaseline(many);
    let segments = 0;
    for (let at = 0; at < packed.length; at += 4 + packed.readUInt32BE(at)) segments++;
    assert.equal(segments, 3, '16384 rows per segment');
    assert.deepEqual(unpackBaseline(BASELINE_FORMAT, packed), many);
    assert.deepEqual(unpackBaseline(1, deflateRawSync(JSON.stringify(rows))), rows);
    const db = openState(path.join(root, 'segments'));
    saveBaseline(db, 'k', 'sha256:dd', many, []);
    assert.deepEqual(loadBaselineRows(db, 'k'), many);
    db.close();
  });

  it('moves the per-file rows of a version-3 DB into packed baselines', () => {
    const dir = path.join(root, 'v3');
    fs.mkdirSync(dir);
    const old = new Database(path.join(dir, 'state.db'), nativeBindingOption()); // the Node-24 build under test-node24
    for (const m of MIGRATIONS.filter((x) => x.version <= 3)) old.exec(m.sql);
    old.pragma('user_version = 3');
    const ins = old.prepare(`INSERT INTO file_index (key, path, type, size, mtime_ns, ctime_ns, ino, mode, uid, gid, xattr_hash, content_hash, link)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const key of ['one', 'two']) {
      for (const r of rows) ins.run(key, r.path, r.type, r.size, r.mtimeNs, r.ctimeNs, r.ino, r.mode, r.uid, r.gid, r.xattrHash, r.contentHash, r.link);
    }
    old.prepare("INSERT INTO keys (key, generation, updated_at, baseline_manifest) VALUES ('one', 0, 'now', 'sha256:aa')").run();
    old.close();

    const db = openState(dir);
    assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS[MIGRATIONS.length - 1]!.version);
    assert.deepEqual(byPath(loadBaselineRows(db, 'one')), byPath(rows));
    assert.deepEqual(byPath(loadBaselineRows(db, 'two')), byPath(rows));
    assert.equal(getBaselineManifest(db, 'one'), 'sha256:aa');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    assert.ok(!tables.some((t) => t.name === 'file_index'), 'the per-file table is gone');
    saveBaseline(db, 'two', 'sha256:dd', rows.slice(1), []); // a migrated key is saved in the packed format
    assert.deepEqual(loadBaselineRows(db, 'two'), rows.slice(1));
    db.close();
  });
});
