// The parts of incremental snapshots on their own: content-defined chunking, the layer
// writer's file offsets and ranged reads of real blobs, the layer index format and its checks, the change
// test on real walked trees, and the compaction policy.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, rmSync, symlinkSync, writeFileSync, renameSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { lsetxattr, lutimesNs } from '../../src/native/index.js';
import { indexRows } from '../../src/snapshot/metaIndex.js';
import { walkUpperDir } from '../../src/snapshot/walk.js';
import { CHUNK_AVG, CHUNK_MAX, CHUNK_MIN, chunkBuffer, createChunker, createPoolChunker } from '../../src/incremental/chunker.js';
import { baselineRows, type BaselineRow, diffTrees, mergeWhiteouts } from '../../src/incremental/diff.js';
import { type ChunkRef, decodeLayerIndex, encodeLayerIndex, type LayerIndex, packFileMap, STREAM_CHUNKS, STREAM_TAR, unpackFileMap } from '../../src/incremental/format.js';
import { fullSnapshotReason } from '../../src/incremental/policy.js';
import { writeLayerBlob } from '../../src/incremental/layerWrite.js';
import { chunkStored } from '../../src/incremental/chunkFiles.js';
import { readTarRange } from '../../src/snapshot/frameDecoder.js';
import { openFsStore } from '../../src/store/fs.js';
import { blobKey } from '../../src/store/layout.js';
import { tempDir } from '../support/scratch.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const scratch = (): string => { const d = tempDir('lk-incr-'); dirs.push(d); return d; };
const hashes = (b: Buffer) => chunkBuffer(b).map((c) => c.hash.toString('hex'));

describe('content-defined chunking', () => {
  const data = randomBytes(16 << 20);

  it('on the thread pool, cuts exactly what the JavaScript reference cuts', async () => {
    const text = Buffer.from('INFO GET /api/v1 200 layer keep\n'.repeat(200_000)); // repetitive: many max-size cuts
    for (const input of [data, Buffer.concat([data.subarray(0, 3 << 20), Buffer.alloc(1 << 20), text]), Buffer.alloc(0), randomBytes(5000), randomBytes(CHUNK_MIN)]) {
      const pool = createPoolChunker();
      for (let o = 0; o < input.length; ) {
        const n = 1 + Math.floor(Math.random() * 300_000);
        await pool.push(input.subarray(o, o + n));
        o += n;
      }
      const got = pool.end().map((x) => [x.hash.toString('hex'), x.length]);
      assert.deepEqual(got, chunkBuffer(input).map((x) => [x.hash.toString('hex'), x.length]), `${input.length} bytes`);
    }
  });

  it('cuts the same chunks however the bytes arrive, within the size bounds', () => {
    const whole = chunkBuffer(data);
    const c = createChunker();
    for (let o = 0; o < data.length; ) {
      const n = 1 + Math.floor(Math.random() * 200_000);
      c.push(data.subarray(o, o + n));
      o += n;
    }
    const sliced = c.end();
    assert.deepEqual(sliced.map((x) => [x.hash.toString('hex'), x.length]), whole.map((x) => [x.hash.toString('hex'), x.length]));
    assert.equal(whole.reduce((a, x) => a + x.length, 0), data.length);
    whole.slice(0, -1).forEach((x) => assert.ok(x.length >= CHUNK_MIN && x.length <= CHUNK_MAX, `chunk of ${x.length}`));
    const avg = data.length / whole.length;
    assert.ok(avg > CHUNK_AVG * 0.75 && avg < CHUNK_AVG * 1.5, `average chunk ${avg}`);
    let o = 0;
    for (const x of whole) {
      assert.ok(createHash('sha256').update(data.subarray(o, o + x.length)).digest().equals(x.hash));
      o += x.length;
    }
  });

  it('keeps all chunks but the ones around an edit or an insertion', () => {
    const before = new Set(hashes(data));
    const edited = Buffer.from(data);
    edited.fill(7, 9_000_000, 9_000_100);
    const changed = hashes(edited).filter((h) => !before.has(h));
    assert.ok(changed.length >= 1 && changed.length <= 3, `${changed.length} chunks changed by a 100-byte edit`);
    const inserted = Buffer.concat([data.subarray(0, 5_000_000), randomBytes(3000), data.subarray(5_000_000)]);
    const moved = hashes(inserted).filter((h) => !before.has(h));
    // an insertion can remove a cut point; the boundaries after it fall back into step within a few chunks
    assert.ok(moved.length >= 1 && moved.length <= 10, `${moved.length} of ${before.size} chunks changed by an insertion`);
    const appended = Buffer.concat([data, randomBytes(1 << 20)]);
    const tail = hashes(appended).filter((h) => !before.has(h));
    assert.ok(tail.length <= 1 + Math.ceil((1 << 20) / CHUNK_MIN), `${tail.length} chunks changed by an append`);
  });

  it('cuts runs of zeros into identical maximum-size chunks', () => {
    const z = chunkBuffer(Buffer.alloc(4 << 20));
    assert.equal(z.length, (4 << 20) / CHUNK_MAX);
    assert.equal(new Set(z.map((c) => c.hash.toString('hex'))).size, 1);
  });
});

describe('layer writer', () => {
  it('records where each large file lies in the tar, and a ranged read of the blob gives back exactly its bytes', async () => {
    const root = scratch();
    const big = randomBytes(3 << 20);
    const long = randomBytes(2 << 20);
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'a-small'), 'x'.repeat(1000));
    writeFileSync(join(root, 'd/big'), big);
    writeFileSync(join(root, `d/${'long-name-'.repeat(20)}`), long); // PAX path header before it
    writeFileSync(join(root, 'z-empty'), '');
    const { entries } = walkUpperDir(root);
    const store = openFsStore(join(scratch(), 'store'));
    const { blob, maps } = await writeLayerBlob(store, entries, 3);
    assert.deepEqual(maps.map((m) => [m.path, m.size, m.layer, m.inTar, m.chunks.length]),
      [['d/big', big.length, 3, true, 0], [`d/${'long-name-'.repeat(20)}`, long.length, 3, true, 0]]);
    const want = { key: blobKey(blob.ref.digest), blobSize: blob.ref.size, uncompressedSize: blob.ref.uncompressedSize };
    for (const [m, bytes] of [[maps[0]!, big], [maps[1]!, long]] as const) {
      const parts: Buffer[] = [];
      for await (const b of readTarRange(store, want, m.tarOffset!, m.tarOffset! + m.size)) parts.push(Buffer.from(b));
      assert.ok(Buffer.concat(parts).equals(bytes), `${m.path} read back from its tar offset`);
      // chunked from the store, its chunks name exactly those bytes
      const refs = await chunkStored(readTarRange(store, want, m.tarOffset!, m.tarOffset! + m.size), m.size, { layer: 3, stream: STREAM_TAR, offset: m.tarOffset! });
      assert.deepEqual(refs.map((r) => r.hash.toString('hex')), hashes(bytes));
      assert.equal(refs[0]!.offset, m.tarOffset);
      assert.equal(refs.reduce((a, r) => a + r.length, 0), m.size);
    }
    await assert.rejects(async () => { for await (const _ of readTarRange(store, want, 0, blob.ref.uncompressedSize + 1)) { /* */ } }, /outside/);
  });
});

describe('layer index format', () => {
  const h = () => randomBytes(32);
  const ix: LayerIndex = {
    layer: 2,
    deleted: ['a/b', 'c'],
    deleteOnly: ['a/.wh.b'],
    files: [
      { path: 'big', size: 70_000, layer: 2, inTar: true, tarOffset: 1536, chunks: [{ hash: h(), length: 30_000, layer: 2, stream: STREAM_TAR, offset: 1536 }, { hash: h(), length: 40_000, layer: 2, stream: STREAM_TAR, offset: 31_536 }] },
      { path: 'log', size: 5_000_000, layer: 2, inTar: true, tarOffset: 80_384, chunks: [] }, // not chunked yet
      {
        path: 'db', size: 50_000, layer: 2, inTar: false, meta: { mode: 0o4755, uid: 7, gid: 8, mtimeNs: 1234567890123456789n, xattrs: new Map([['user.x', Buffer.from([0, 255, 10])]]) },
        chunks: [{ hash: h(), length: 20_000, layer: 0, stream: STREAM_TAR, offset: 99 }, { hash: h(), length: 30_000, layer: 2, stream: STREAM_CHUNKS, offset: 0 }],
      },
    ],
  };

  it('round-trips, and packs chunk maps for the state DB', () => {
    const back = decodeLayerIndex(encodeLayerIndex(ix), 2, 'test');
    assert.deepEqual(back, ix);
    assert.deepEqual(unpackFileMap(packFileMap(ix.files[2]!)), { layer: 2, chunks: ix.files[2]!.chunks });
    assert.deepEqual(unpackFileMap(packFileMap(ix.files[1]!)), { layer: 2, chunks: [], tarOffset: 80_384 });
  });

  it('writes reused stretches of a chunk map as runs of an earlier layer\'s map', () => {
    const earlier: ChunkRef[] = Array.from({ length: 1000 }, (_, i) => ({ hash: h(), length: 100, layer: 0, stream: STREAM_TAR, offset: 512 + i * 100 }));
    const fresh: ChunkRef = { hash: h(), length: 100, layer: 3, stream: STREAM_CHUNKS, offset: 0 };
    const chunks = [...earlier.slice(0, 500), fresh, ...earlier.slice(501)];
    const edited: LayerIndex = {
      layer: 3, deleted: [], deleteOnly: [],
      files: [{
        path: 'db', size: 100_000, layer: 3, inTar: false, chunks,
        runs: [{ layer: 1, path: 'db', start: 0, count: 500 }, 500, { layer: 1, path: 'db', start: 501, count: 499 }],
        meta: { mode: 0o644, uid: 0, gid: 0, mtimeNs: 1n, xattrs: new Map() },
      }],
    };
    const body = encodeLayerIndex(edited);
    assert.ok(body.length < 1000, `a 1000-chunk map with one new chunk encodes in ${body.length} bytes`);
    const lookup = (layer: number, path: string) => (layer === 1 && path === 'db' ? earlier : undefined);
    const back = decodeLayerIndex(body, 3, 'test', lookup);
    assert.deepEqual(back.files[0]!.chunks, chunks);
    assert.throws(() => decodeLayerIndex(body, 3, 'test'), /copies the chunk map of "db" at chain position 1, which that layer does not have/);
    assert.throws(() => decodeLayerIndex(body, 3, 'test', () => earlier.slice(0, 600)), /copies chunks 501\+499 of a 600-chunk map/);
    const forward = encodeLayerIndex({ ...edited, files: [{ ...edited.files[0]!, runs: [{ layer: 3, path: 'db', start: 0, count: 1000 }] }] });
    assert.throws(() => decodeLayerIndex(forward, 3, 'test', lookup), /not an earlier one/);
  });

  it('refuses hostile or inconsistent indexes, naming the problem', () => {
    const tamper = (f: (doc: Record<string, unknown>) => void): Buffer => {
      const doc = JSON.parse(encodeLayerIndex(ix).toString()) as Record<string, unknown>;
      f(doc);
      return Buffer.from(JSON.stringify(doc));
    };
    const files = (doc: Record<string, unknown>) => doc.files as Record<string, unknown>[];
    assert.throws(() => decodeLayerIndex(encodeLayerIndex(ix), 3, 't'), /chain position 2, expected 3/);
    assert.throws(() => decodeLayerIndex(tamper((d) => { d.deleted = ['../etc/passwd']; }), 2, 't'), /'\.\.' component/);
    assert.throws(() => decodeLayerIndex(tamper((d) => { files(d)[2]!.path = '/abs'; }), 2, 't'), /absolute path/);
    assert.throws(() => decodeLayerIndex(tamper((d) => { d.deleteOnly = ['a/b']; }), 2, 't'), /not a whiteout/);
    assert.throws(() => decodeLayerIndex(tamper((d) => { files(d)[2]!.size = 50_001; }), 2, 't'), /add up to 50000 bytes/);
    assert.throws(() => decodeLayerIndex(tamper((d) => { (files(d)[2]!.chunks as unknown[][])[0]![2] = 5; }), 2, 't'), /chain position 5, after this layer/);
    assert.throws(() => decodeLayerIndex(tamper((d) => { (files(d)[2]!.chunks as unknown[][])[0]![1] = 10 << 20; }), 2, 't'), /outside 1\.\./);
    assert.throws(() => decodeLayerIndex(tamper((d) => { files(d)[2]!.mode = 0o170777; }), 2, 't'), /mode or owner out of range/);
    assert.throws(() => decodeLayerIndex(tamper((d) => { files(d).push(files(d)[0]!); }), 2, 't'), /two chunk maps/);
    assert.throws(() => decodeLayerIndex(tamper((d) => { files(d)[1]!.tar = -1; }), 2, 't'), /log: tar offset is not a non-negative integer/);
    assert.throws(() => decodeLayerIndex(Buffer.from('{"mediaType":"x"'), 2, 't'), /not JSON/);
  });
});

describe('change test', () => {
  const snapshotOf = (root: string) => {
    const { entries } = walkUpperDir(root);
    const rows = baselineRows(entries, indexRows(entries));
    return { entries, rows, map: new Map<string, BaselineRow>(rows.map((r) => [r.path, r])) };
  };
  const paths = (d: ReturnType<typeof diffTrees>, entries: { path: string }[]) => d.included.map((i) => entries[i]!.path);

  it('finds new, changed and deleted entries from metadata, with whiteouts only where OCI can say it', () => {
    const root = scratch();
    mkdirSync(join(root, 'keep/sub'), { recursive: true });
    mkdirSync(join(root, 'gone/deep'), { recursive: true });
    writeFileSync(join(root, 'keep/a'), 'a');
    writeFileSync(join(root, 'keep/sub/b'), 'b');
    writeFileSync(join(root, 'gone/deep/c'), 'c');
    writeFileSync(join(root, 'becomes-dir'), 'file');
    symlinkSync('a', join(root, 'keep/link'));
    utimesSync(join(root, 'keep'), 1_000_000, 1_000_000);
    const base = snapshotOf(root);
    assert.deepEqual(diffTrees(base.entries, base.rows, base.map), { included: [], deleted: [], whiteouts: [] });

    writeFileSync(join(root, 'keep/a'), 'A'); // same size: mtime and ctime tell
    rmSync(join(root, 'gone'), { recursive: true });
    rmSync(join(root, 'becomes-dir'));
    mkdirSync(join(root, 'becomes-dir'));
    writeFileSync(join(root, 'becomes-dir/x'), 'x');
    rmSync(join(root, 'keep/link'));
    symlinkSync('sub/b', join(root, 'keep/link'));
    utimesSync(join(root, 'keep'), 1_000_000, 1_000_000); // same dir times: the symlink target must tell
    renameSync(join(root, 'keep/sub/b'), join(root, 'keep/sub/b2'));
    const now = snapshotOf(root);
    const d = diffTrees(now.entries, now.rows, base.map);
    assert.deepEqual(paths(d, now.entries).sort(), ['becomes-dir', 'becomes-dir/x', 'keep/a', 'keep/link', 'keep/sub', 'keep/sub/b2']);
    assert.deepEqual(d.deleted, ['gone', 'gone/deep', 'gone/deep/c', 'keep/sub/b']);
    // one whiteout for the deleted tree, one for the renamed file; none below 'gone'
    assert.deepEqual(d.whiteouts.map((w) => w.path), ['.wh.gone', 'keep/sub/.wh.b']);
    const merged = mergeWhiteouts(d.included.map((i) => now.entries[i]!), d.whiteouts).map((e) => e.path);
    assert.deepEqual(merged, ['.wh.gone', 'becomes-dir', 'becomes-dir/x', 'keep/a', 'keep/link', 'keep/sub', 'keep/sub/.wh.b', 'keep/sub/b2']);
  });

  it('carries hard-link targets and the whole content of a directory that became opaque', () => {
    const root = scratch();
    mkdirSync(join(root, 'dir'));
    writeFileSync(join(root, 'dir/old'), 'o');
    writeFileSync(join(root, 'target'), 't');
    const base = snapshotOf(root);
    linkSync(join(root, 'target'), join(root, 'z-link'));
    lsetxattr(join(root, 'dir'), 'trusted.overlay.opaque', Buffer.from('y'));
    const now = snapshotOf(root);
    const d = diffTrees(now.entries, now.rows, base.map, { ignoreCtime: true });
    // dir/old did not change, but an opaque dir hides what lower layers hold: it comes along
    assert.deepEqual(paths(d, now.entries), ['dir', 'dir/.wh..wh..opq', 'dir/old', 'target', 'z-link']);
  });

  it('ignores ctime only when asked, and never inode changes of files', () => {
    const root = scratch();
    writeFileSync(join(root, 'f'), 'content');
    const base = snapshotOf(root);
    linkSync(join(root, 'f'), join(root, 'extra')); // changes f's ctime
    rmSync(join(root, 'extra'));
    const now = snapshotOf(root);
    assert.deepEqual(paths(diffTrees(now.entries, now.rows, base.map), now.entries), ['f']);
    assert.deepEqual(paths(diffTrees(now.entries, now.rows, base.map, { ignoreCtime: true }), now.entries), []);
    const copy = scratch();
    writeFileSync(join(copy, 'f'), 'content');
    lutimesNs(join(copy, 'f'), now.entries[0]!.mtimeNs, now.entries[0]!.mtimeNs); // same size and mtime, another inode
    const other = snapshotOf(copy);
    assert.deepEqual(paths(diffTrees(other.entries, other.rows, base.map, { ignoreCtime: true }), other.entries), ['f']);
  });
});

describe('compaction policy', () => {
  it('asks for a full snapshot past the chain length or the delta share', () => {
    assert.equal(fullSnapshotReason({ length: 8, fullSize: 1000, deltaSize: 0 }, 10), null);
    assert.match(fullSnapshotReason({ length: 9, fullSize: 1000, deltaSize: 0 }, 10) ?? '', /8 diff\(s\) \(limit 8\)/);
    assert.match(fullSnapshotReason({ length: 2, fullSize: 1000, deltaSize: 0 }, 10, { maxDiffs: 1 }) ?? '', /limit 1/);
    assert.equal(fullSnapshotReason({ length: 3, fullSize: 1000, deltaSize: 400 }, 100), null);
    assert.match(fullSnapshotReason({ length: 3, fullSize: 1000, deltaSize: 400 }, 101) ?? '', /50 %/);
    assert.match(fullSnapshotReason({ length: 1, fullSize: 1000, deltaSize: 0 }, 300, { maxDeltaShare: 0.25 }) ?? '', /30 % .*limit 25 %/);
  });
});
