// What incremental snapshots store: bytes for partial edits of a large file (counted in the
// store itself), compaction back to full snapshots, gc keeping whole chains, and restores
// refusing a damaged chain without touching the target.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { symlinkSync } from 'node:fs';
import { appendFileSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { closeContext, openContext } from '../../src/ops/context.js';
import { gc } from '../../src/ops/gc.js';
import { readManifest } from '../../src/ops/manifests.js';
import { restore } from '../../src/ops/restore.js';
import { snapshot } from '../../src/ops/snapshot.js';
import type { OpsContext } from '../../src/ops/types.js';
import { readWholeBlob, writeBlob } from '../../src/incremental/blobs.js';
import { blobsOfManifest, type ChainManifest, INDEX_MEDIA_TYPE } from '../../src/incremental/format.js';
import { canonicalJson } from '../../src/store/layout.js';
import { openFsStore } from '../../src/store/fs.js';
import { tempDir } from '../support/scratch.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const scratch = (): string => { const d = tempDir('lk-incr-store-'); dirs.push(d); return d; };

function storeBytes(store: string): number {
  let n = 0;
  for (const sub of ['blobs/sha256', 'manifests']) {
    const d = join(store, sub);
    for (const f of readdirSync(d)) n += statSync(join(d, f)).size;
  }
  return n;
}
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
function pwrite(path: string, at: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try { writeSync(fd, bytes, 0, bytes.length, at); } finally { closeSync(fd); }
}

async function withHost<T>(store: string, state: string, f: (ctx: OpsContext) => Promise<T>): Promise<T> {
  const ctx = await openContext({ store, stateDir: state });
  try { return await f(ctx); } finally { await closeContext(ctx); }
}

describe('large files changed in part', { timeout: 300_000 }, () => {
  it('stores only the chunks around an edit, an insertion or an append', async () => {
    const base = scratch();
    const store = join(base, 'store');
    const up = join(base, 'upper');
    mkdirSync(join(up, 'small'), { recursive: true });
    for (let i = 0; i < 100; i++) writeFileSync(join(up, `small/f${i}`), randomBytes(2000));
    const db = join(up, 'db.bin');
    writeFileSync(db, randomBytes(64 << 20));
    await withHost(store, join(base, 'state'), async (ctx) => {
      const full = await snapshot(ctx, { key: 'db', dir: up });
      assert.equal(full.kind, 'full');
      assert.ok(full.storedBytes! > 64 << 20);

      const step = async (what: string, change: () => void, limit: number) => {
        const before = storeBytes(store);
        change();
        const r = await snapshot(ctx, { key: 'db', dir: up });
        const grown = storeBytes(store) - before;
        assert.equal(r.kind, 'diff', what);
        assert.ok(grown <= limit, `${what}: the store grew by ${grown} bytes (limit ${limit})`);
        assert.ok(r.storedBytes! <= grown, `${what}: reported ${r.storedBytes} stored bytes, the store grew by ${grown}`);
        const out = join(base, `restored-${what.replace(/\W+/g, '-')}`);
        await withHost(store, join(base, 'state-reader'), (reader) => restore(reader, { key: 'db', dir: out, force: true }));
        assert.equal(sha(join(out, 'db.bin')), sha(db), `${what}: restored content`);
        rmSync(out, { recursive: true });
        return grown;
      };
      // 64 MiB file: a 4 KiB edit costs a chunk or two plus the index, not the file
      await step('4 KiB edit in the middle', () => pwrite(db, 40 << 20, randomBytes(4096)), 600 << 10);
      await step('insertion that shifts the rest', () => {
        const b = readFileSync(db);
        writeFileSync(db, Buffer.concat([b.subarray(0, 20 << 20), randomBytes(1000), b.subarray(20 << 20)]));
      }, 600 << 10);
      await step('512 KiB append', () => appendFileSync(db, randomBytes(512 << 10)), 1200 << 10);
      await step('edits at both ends and a small file', () => {
        pwrite(db, 10, randomBytes(100));
        pwrite(db, statSync(db).size - 100, randomBytes(50));
        writeFileSync(join(up, 'small/f3'), 'changed');
      }, 800 << 10);
    });
  });
});

describe('compaction', { timeout: 120_000 }, () => {
  it('starts a new chain after the configured number of diffs, or when diffs outgrow the full layer', async () => {
    const base = scratch();
    const store = join(base, 'store');
    const up = join(base, 'upper');
    mkdirSync(up);
    writeFileSync(join(up, 'base'), randomBytes(1 << 20));
    await withHost(store, join(base, 'state'), async (ctx) => {
      const kinds: string[] = [];
      for (let i = 0; i < 5; i++) {
        writeFileSync(join(up, `gen-${i}`), `generation ${i}\n`);
        const r = await snapshot(ctx, { key: 'c', dir: up, maxDiffs: 2 });
        kinds.push(r.kind!);
        if (i === 3) assert.match(r.fullReason ?? '', /2 diff\(s\) \(limit 2\)/);
      }
      assert.deepEqual(kinds, ['full', 'diff', 'diff', 'full', 'diff']);

      // 600 KiB of new data on a ~1 MiB full layer: more than 50 %
      writeFileSync(join(up, 'bulk'), randomBytes(600 << 10));
      const big = await snapshot(ctx, { key: 'c', dir: up });
      assert.equal(big.kind, 'full');
      assert.match(big.fullReason ?? '', /diffs would reach \d+ % of the full layer \(limit 50 %\)/);
      writeFileSync(join(up, 'more'), randomBytes(300 << 10));
      assert.equal((await snapshot(ctx, { key: 'c', dir: up })).kind, 'diff', '300 KiB on a 1.6 MiB full layer is a diff');
      writeFileSync(join(up, 'more2'), randomBytes(300 << 10));
      assert.equal((await snapshot(ctx, { key: 'c', dir: up, maxDeltaShare: 0.3 })).kind, 'full', '600 KiB of diffs pass a 30 % limit');
      writeFileSync(join(up, 'more3'), 'x');
      assert.equal((await snapshot(ctx, { key: 'c', dir: up, maxDiffs: 0 })).kind, 'full', 'maxDiffs 0: always full');
      writeFileSync(join(up, 'more4'), 'y');
      assert.equal((await snapshot(ctx, { key: 'c', dir: up, force: true })).kind, 'full', 'force: full');
    });
  });
});

describe('gc and damaged chains', { timeout: 120_000 }, () => {
  async function chain(base: string) {
    const store = join(base, 'store');
    const up = join(base, 'upper');
    mkdirSync(up);
    writeFileSync(join(up, 'big'), randomBytes(3 << 20));
    writeFileSync(join(up, 'a'), 'a');
    const digests: string[] = [];
    await withHost(store, join(base, 'state'), async (ctx) => {
      digests.push((await snapshot(ctx, { key: 'g', dir: up, keep: 1 })).manifestDigest);
      pwrite(join(up, 'big'), 1 << 20, randomBytes(100)); // a chunk-referenced file with a chunk pack
      digests.push((await snapshot(ctx, { key: 'g', dir: up, keep: 1 })).manifestDigest);
      writeFileSync(join(up, 'b'), 'b');
      digests.push((await snapshot(ctx, { key: 'g', dir: up, keep: 1 })).manifestDigest);
    });
    return { store, up, digests };
  }

  it('gc keeps every blob a kept snapshot reaches through its base chain', async () => {
    const base = scratch();
    const { store, up, digests } = await chain(base);
    await withHost(store, join(base, 'state'), async (ctx) => {
      const middle = await readManifest(ctx, digests[1]!);
      assert.ok(middle.chunks && middle.index, 'the middle diff has a chunk pack and an index');
      const report = await gc(ctx, { graceMs: 0 });
      // the ref keeps one snapshot, but its chain needs all three manifests and their blobs
      assert.deepEqual(report.deleted.manifests, []);
      const left = new Set(readdirSync(join(store, 'blobs/sha256')).map((h) => `sha256:${h}`));
      for (const d of digests) for (const b of blobsOfManifest(await readManifest(ctx, d))) assert.ok(left.has(b), `blob ${b} of ${d} kept`);
    });
    const out = join(base, 'after-gc');
    await withHost(store, join(base, 'state-2'), (ctx) => restore(ctx, { key: 'g', dir: out }));
    assert.equal(sha(join(out, 'big')), sha(join(up, 'big')));
    assert.equal(readFileSync(join(out, 'b'), 'utf8'), 'b');
  });

  it('refuses a chain with a corrupt or missing layer and leaves the target as it was', async () => {
    const base = scratch();
    const { store, digests } = await chain(base);
    const target = join(base, 'target');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'mine');
    await withHost(store, join(base, 'state-r'), async (ctx) => {
      const damage = async (which: 'blob' | 'chunks' | 'index', how: 'flip' | 'delete', expect: RegExp) => {
        const m = await readManifest(ctx, digests[1]!);
        const ref = which === 'blob' ? m.blob : m[which]!;
        const p = join(store, 'blobs/sha256', ref.digest.slice(7));
        const orig = readFileSync(p);
        if (how === 'delete') rmSync(p);
        else {
          const bad = Buffer.from(orig);
          bad[Math.floor(bad.length / 2)]! ^= 0xff;
          writeFileSync(p, bad);
        }
        try {
          await assert.rejects(restore(ctx, { key: 'g', dir: target, force: true }), expect);
          assert.deepEqual(readdirSync(target), ['keep']);
          assert.deepEqual(readdirSync(base).filter((n) => n.includes('layerkeep-')), [], 'temp and staging dirs removed');
        } finally {
          writeFileSync(p, orig);
        }
      };
      await damage('blob', 'flip', /corrupt|mismatch|zstd/);
      await damage('chunks', 'flip', /corrupt|mismatch|zstd/);
      await damage('index', 'flip', /corrupt|mismatch|zstd/);
      await damage('blob', 'delete', /missing from the store/);
      await restore(ctx, { key: 'g', dir: target, force: true });
      assert.deepEqual(readdirSync(target).sort(), ['a', 'b', 'big']);
    });
  });
});

describe('hostile chains', { timeout: 120_000 }, () => {
  /** Re-publishes the key's current diff with its layer index rewritten by `edit` (digests made to match). */
  async function forge(store: string, key: string, edit: (doc: Record<string, unknown>) => void): Promise<void> {
    const ref = JSON.parse(readFileSync(join(store, 'refs', key), 'utf8')) as { current: string };
    const m = JSON.parse(readFileSync(join(store, 'manifests', `${ref.current.slice(7)}.json`), 'utf8')) as ChainManifest;
    const fsStore = openFsStore(store);
    const doc = JSON.parse((await readWholeBlob(fsStore, m.index!, 1 << 30, 'index')).toString()) as Record<string, unknown>;
    edit(doc);
    const { ref: index } = await writeBlob(fsStore, INDEX_MEDIA_TYPE, async (out) => { await out.write(Buffer.from(JSON.stringify(doc))); });
    const body = canonicalJson({ ...m, index });
    const digest = createHash('sha256').update(body).digest('hex');
    writeFileSync(join(store, 'manifests', `${digest}.json`), body);
    writeFileSync(join(store, 'refs', key), JSON.stringify({ ...JSON.parse(readFileSync(join(store, 'refs', key), 'utf8')), current: `sha256:${digest}` }));
  }

  it('refuses indexes that escape the target, point outside their streams or expand into a bomb', async () => {
    const base = scratch();
    const store = join(base, 'store');
    const up = join(base, 'upper');
    mkdirSync(join(up, 'dir'), { recursive: true });
    writeFileSync(join(up, 'dir/big'), randomBytes(2 << 20));
    symlinkSync('/tmp', join(up, 'link'));
    await withHost(store, join(base, 'state'), async (ctx) => {
      await snapshot(ctx, { key: 'h', dir: up });
      pwrite(join(up, 'dir/big'), 1000, randomBytes(10));
      assert.equal((await snapshot(ctx, { key: 'h', dir: up })).kind, 'diff');
      // key r: a second edit, whose map copies runs of the first diff's (a full layer lists no chunks)
      const up2 = join(base, 'upper2');
      mkdirSync(up2);
      writeFileSync(join(up2, 'big'), randomBytes(2 << 20));
      await snapshot(ctx, { key: 'r', dir: up2 });
      for (const at of [1000, 1_500_000]) {
        pwrite(join(up2, 'big'), at, randomBytes(10));
        assert.equal((await snapshot(ctx, { key: 'r', dir: up2 })).kind, 'diff');
      }
    });
    const genuine = { h: readFileSync(join(store, 'refs/h')), r: readFileSync(join(store, 'refs/r')) };
    const target = join(base, 'target');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'mine');
    const file = (doc: Record<string, unknown>) => (doc.files as Record<string, unknown>[]).find((f) => f.tar === undefined)!;
    const cases: [string, (doc: Record<string, unknown>) => void, RegExp, ('h' | 'r')?][] = [
      ['a path out of the tree', (d) => { file(d).path = '../escape'; }, /'\.\.' component/],
      ['a path through a symlink', (d) => { file(d).path = 'link/planted'; }, /symlink/],
      ['bytes past the end of a stream', (d) => { ((file(d).chunks as unknown[][]).find((c) => c[0] !== '=' && c.length === 5)!)[4] = 1 << 40; }, /does not hold them/],
      ['a bomb: one stored chunk repeated into a 2.5 GiB file', (d) => {
        const f = file(d);
        const one = (f.chunks as unknown[][]).find((c) => c[0] !== '=' && c.length === 5)!;
        f.chunks = Array.from({ length: 40_000 }, () => one);
        f.size = 40_000 * (one[1] as number);
      }, /more than the \d+ bytes its manifest claims for the tree/],
      ['runs that multiply an earlier map', (d) => {
        const f = file(d);
        const run = (f.chunks as unknown[][]).find((c) => c[0] === '=')!;
        f.chunks = Array.from({ length: 200_000 }, () => run);
      }, /lists more than 4000000 chunks/, 'r'],
    ];
    await withHost(store, join(base, 'state-r'), async (ctx) => {
      for (const [what, edit, expect, key = 'h'] of cases) {
        writeFileSync(join(store, `refs/${key}`), genuine[key]);
        await forge(store, key, edit);
        await assert.rejects(restore(ctx, { key, dir: target, force: true }), expect, what);
        assert.deepEqual(readdirSync(target), ['keep'], what);
        assert.equal(readdirSync(base).filter((n) => n.includes('layerkeep-')).length, 0, `${what}: temp dirs removed`);
        assert.equal(readdirSync('/tmp').includes('planted'), false);
      }
    });
  });
});

