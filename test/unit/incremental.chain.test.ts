// Chains of incremental snapshots on real overlay mounts: twelve generations of changes made
// through the merged view (creates, edits, deletes, renames, type changes, opaque dirs,
// whiteouts and their removal, hard links, xattrs, partial edits of large files), each one
// snapshotted and restored on another host, and compared with the source entry by entry,
// as an upper dir and as the merged view. Compaction starts a new chain after 8 diffs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync, closeSync, linkSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, symlinkSync, truncateSync,
  writeFileSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closeContext, openContext } from '../../src/ops/context.js';
import { restore } from '../../src/ops/restore.js';
import { snapshot } from '../../src/ops/snapshot.js';
import { listSnapshots } from '../../src/ops/list.js';
import type { OpsContext } from '../../src/ops/types.js';
import { describeTree, sh, treeList } from '../support/tree.js';
import { makeLower, mountOverlay, remountOverlay, tempDir, umount } from '../support/scratch.js';

const mounts: string[] = [];
const dirs: string[] = [];
after(() => { for (const m of mounts.reverse()) umount(m); for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const scratch = (): string => { const d = tempDir('lk-chain-'); dirs.push(d); return d; };

/** Overlay-private xattrs (origin, impure, ...) are the kernel's bookkeeping; opaque is content. */
const contentXattr = (n: string): boolean => !n.startsWith('trusted.overlay.') || n === 'trusted.overlay.opaque';
/** The upper dir as overlayfs reads it. A whiteout is any 0/0 char device: its permission bits
 *  mean nothing (and the layer packer currently writes mode 0 as 0644), so they are not compared. */
function upperView(dir: string) {
  const t = describeTree(dir, { xattrFilter: contentXattr });
  for (const d of t.values()) if (d.type === 'char' && d.rdev === 0) d.mode = 0;
  return treeList(t);
}
const mergedView = (dir: string) => treeList(describeTree(dir));


function pwrite(path: string, at: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try { writeSync(fd, bytes, 0, bytes.length, at); } finally { closeSync(fd); }
}

const DB_SIZE = 6 << 20;

/** Generation n's changes, made through the merged view `m`. */
const GENERATIONS: ((m: string) => void)[] = [
  (m) => {
    mkdirSync(join(m, 'data/nested/deeper'), { recursive: true });
    for (let i = 0; i < 12; i++) writeFileSync(join(m, `data/small-${i}`), `small file ${i}\n`.repeat(i + 1));
    writeFileSync(join(m, 'data/db.bin'), randomBytes(DB_SIZE));
    mkdirSync(join(m, 'var/log'), { recursive: true });
    writeFileSync(join(m, 'var/log/app.log'), 'line of log text\n'.repeat(150_000));
    symlinkSync('small-1', join(m, 'data/current'));
    linkSync(join(m, 'data/small-2'), join(m, 'data/hl'));
    sh('mkfifo data/pipe; setfattr -n user.tag -v one data/small-3; chmod 600 data/small-4', m);
    appendFileSync(join(m, 'etc/passwd'), 'app:x:1000:1000::/home/app:/bin/sh\n');
    writeFileSync(join(m, 'data/nested/deeper/leaf'), 'leaf\n');
  },
  (m) => {
    writeFileSync(join(m, 'data/small-0'), 'SMALL FILE 0\n'); // same size
    appendFileSync(join(m, 'data/small-1'), 'more\n');
    rmSync(join(m, 'etc/delete-me')); // a lower file: becomes a whiteout
    sh('chown 1000:1000 data/small-5', m);
    mkdirSync(join(m, 'data/new'));
    writeFileSync(join(m, 'data/new/one'), '1');
    writeFileSync(join(m, 'data/new/two'), '2');
  },
  (m) => {
    renameSync(join(m, 'data/small-6'), join(m, 'data/renamed-6'));
    renameSync(join(m, 'data/new'), join(m, 'data/newer'));
    rmSync(join(m, 'data/small-7')); // upper-only: simply gone
    rmSync(join(m, 'data/nested'), { recursive: true });
  },
  (m) => { // file -> dir
    rmSync(join(m, 'data/small-8'));
    mkdirSync(join(m, 'data/small-8'));
    writeFileSync(join(m, 'data/small-8/child'), 'child\n');
  },
  (m) => { // dir -> symlink
    rmSync(join(m, 'data/small-8'), { recursive: true });
    symlinkSync('/etc/passwd', join(m, 'data/small-8'));
  },
  (m) => { // a lower dir replaced: overlay makes the new one opaque
    rmSync(join(m, 'replace'), { recursive: true });
    mkdirSync(join(m, 'replace'));
    writeFileSync(join(m, 'replace/fresh'), 'fresh\n');
  },
  (m) => { // a whiteout replaced by a file again; another lower file deleted
    writeFileSync(join(m, 'etc/delete-me'), 'back\n');
    rmSync(join(m, 'var/lib/app/data'));
  },
  (m) => { // large files changed in part
    pwrite(join(m, 'data/db.bin'), 2 << 20, randomBytes(1000));
    appendFileSync(join(m, 'var/log/app.log'), 'appended line\n'.repeat(7000));
  },
  (m) => {
    linkSync(join(m, 'data/small-9'), join(m, 'data/hl2'));
    sh('setfattr -n user.tag -v two data/small-3; setfattr -n user.more -v x data/small-10; chmod 2750 data', m);
  },
  (m) => { // 9th snapshot: past 8 diffs, a full one starts a new chain
    rmSync(join(m, 'data/newer'), { recursive: true });
    rmSync(join(m, 'data/current'));
    writeFileSync(join(m, 'data/current'), 'symlink became a file\n');
  },
  (m) => { // a large file renamed (its chunks are all stored), an opaque dir recreated
    renameSync(join(m, 'data/db.bin'), join(m, 'data/db-renamed.bin'));
    rmSync(join(m, 'replace'), { recursive: true });
    mkdirSync(join(m, 'replace'));
    writeFileSync(join(m, 'replace/again'), 'again\n');
  },
  (m) => {
    truncateSync(join(m, 'var/log/app.log'), 1000);
    writeFileSync(join(m, 'var/lib/app/data'), 'v2\n');
    rmSync(join(m, 'data/hl'));
    sh('chmod 700 data/small-11; touch -d @1000000000 data/small-10', m);
  },
];
const KINDS = ['full', 'diff', 'diff', 'diff', 'diff', 'diff', 'diff', 'diff', 'diff', 'full', 'diff', 'diff'];

describe('incremental chains on overlay mounts', { timeout: 600_000 }, () => {
  let base: string;
  let lower: string;
  let store: string;
  let writer: OpsContext;
  let reader: OpsContext;

  before(async () => {
    base = scratch();
    lower = makeLower(base);
    store = join(base, 'store');
    writer = await openContext({ store, stateDir: join(base, 'state-writer') });
    reader = await openContext({ store, stateDir: join(base, 'state-reader') });
  });
  after(async () => { await closeContext(writer); await closeContext(reader); });

  it('round-trips twelve generations, each compared with its source as upper dir and merged view', async () => {
    const src = join(base, 'src');
    const ov = mountOverlay(lower, src);
    mounts.push(ov.merged);
    umount(ov.merged);
    const stored: number[] = [];
    for (const [gen, change] of GENERATIONS.entries()) {
      remountOverlay(ov);
      change(ov.merged);
      const merged = mergedView(ov.merged);
      umount(ov.merged);

      const r = await snapshot(writer, { key: 'app', dir: ov.upper, allowDevices: true });
      assert.equal(r.changed, true, `generation ${gen} stores a snapshot`);
      assert.equal(r.kind, KINDS[gen], `generation ${gen} is ${KINDS[gen]}: ${r.fullReason ?? ''}`);
      stored.push(r.storedBytes!);

      const out = join(base, `restored-${gen}`);
      const res = await restore(reader, { key: 'app', dir: join(out, 'upper'), allowDevices: true });
      assert.equal(res.manifestDigest, r.manifestDigest);
      assert.deepEqual(upperView(join(out, 'upper')), upperView(ov.upper), `generation ${gen}: restored upper dir`);
      const rv = mountOverlay(lower, out);
      mounts.push(rv.merged);
      try {
        assert.deepEqual(mergedView(rv.merged), merged, `generation ${gen}: restored merged view`);
      } finally {
        umount(rv.merged);
      }
      rmSync(out, { recursive: true, force: true });
    }
    // Partial edits of the 6 MiB db file and the 2.4 MiB log, and a rename of the db file,
    // store a small fraction of what the full snapshot stored.
    assert.ok(stored[7]! < 400 << 10, `generation 7 stored ${stored[7]} bytes`);
    assert.ok(stored[10]! < 100 << 10, `generation 10 (rename of a large file) stored ${stored[10]} bytes`);
    assert.ok(stored[0]! > DB_SIZE);

    const listed = await listSnapshots(writer, 'app');
    const cur = listed.find((s) => s.current)!;
    assert.equal(cur.kind, 'diff');
    assert.equal(cur.chainLength, 3);
    assert.ok(cur.restoreSize > cur.ownSize && cur.ownSize > 0);
  });

  it('applies the resolved chain onto a live merged view (apply mode)', async () => {
    const src = join(base, 'src');
    sh(`mount -t overlay overlay -o ro,lowerdir=${lower},upperdir=${join(src, 'upper')},workdir=${join(src, 'work')} ${join(src, 'merged')}`);
    let expected;
    try { expected = describeTree(join(src, 'merged'), { dirMtimes: false }); } finally { umount(join(src, 'merged')); }
    const target = mountOverlay(lower, join(base, 'apply'));
    mounts.push(target.merged);
    try {
      await restore(reader, { key: 'app', dir: target.merged, mode: 'apply', allowDevices: true });
      const got = describeTree(target.merged, { dirMtimes: false });
      expected.delete('.');
      got.delete('.');
      assert.deepEqual(treeList(got), treeList(expected));
    } finally {
      umount(target.merged);
    }
  });

  it('restores an older generation of the chain by digest', async () => {
    const listed = (await listSnapshots(writer, 'app')).filter((s) => s.source === 'ref');
    const older = listed[listed.length - 1]!; // history keeps the last 3
    const out = join(base, 'older');
    const res = await restore(reader, { key: 'app', snapshot: older.digest, dir: out, allowDevices: true });
    assert.equal(res.manifestDigest, older.digest);
    assert.ok(readdirSync(join(out, 'data')).length > 5);
  });
});

describe('a chain continued by other hosts from the store alone', { timeout: 300_000 }, () => {
  it('extends the chain on a second and a third state dir, and every host restores the same tree', async () => {
    const base = scratch();
    const store = join(base, 'store');
    const hosts = await Promise.all(['a', 'b', 'c'].map((h) => openContext({ store, stateDir: join(base, `state-${h}`) })));
    const [a, b, c] = hosts as [OpsContext, OpsContext, OpsContext];
    try {
      const upA = join(base, 'a-upper');
      mkdirSync(join(upA, 'd'), { recursive: true });
      writeFileSync(join(upA, 'd/f'), 'one\n');
      writeFileSync(join(upA, 'big'), randomBytes(3 << 20));
      assert.equal((await snapshot(a, { key: 'k', dir: upA })).kind, 'full');
      writeFileSync(join(upA, 'd/g'), 'two\n');
      assert.equal((await snapshot(a, { key: 'k', dir: upA })).kind, 'diff');

      // Host b knows nothing but the store: it restores, changes, and continues the chain.
      const upB = join(base, 'b-upper');
      await restore(b, { key: 'k', dir: upB });
      assert.equal((await snapshot(b, { key: 'k', dir: upB })).changed, false, 'a re-snapshot right after restore is a no-op');
      pwrite(join(upB, 'big'), 1 << 20, randomBytes(10));
      rmSync(join(upB, 'd/f'));
      const fromB = await snapshot(b, { key: 'k', dir: upB });
      assert.equal(fromB.kind, 'diff');
      assert.equal(fromB.chainLength, 3);
      assert.ok(fromB.storedBytes! < 300 << 10, `b stored ${fromB.storedBytes} bytes for a 10-byte edit of a 3 MiB file`);

      // Host a must catch up first: its own baseline is no longer current.
      await assert.rejects(snapshot(a, { key: 'k', dir: upA }), /updated elsewhere/);
      const upA2 = join(base, 'a-upper-2');
      await restore(a, { key: 'k', dir: upA2 });
      writeFileSync(join(upA2, 'd/h'), 'three\n');
      const fromA = await snapshot(a, { key: 'k', dir: upA2 });
      assert.equal(fromA.kind, 'diff');
      assert.equal(fromA.chainLength, 4);

      const out = join(base, 'c-upper');
      await restore(c, { key: 'k', dir: out });
      assert.deepEqual(upperView(out), upperView(upA2));
    } finally {
      for (const h of hosts) await closeContext(h);
    }
  });

  it('treats a hard-link copy of the upper dir as unchanged with ignoreCtime, and diffs only what changed', async () => {
    const base = scratch();
    const ctx = await openContext({ store: join(base, 'store'), stateDir: join(base, 'state') });
    try {
      const up = join(base, 'upper');
      mkdirSync(join(up, 'x/y'), { recursive: true });
      for (let i = 0; i < 50; i++) writeFileSync(join(up, `x/y/f${i}`), `file ${i}\n`);
      sh(`cp -a --link ${up} ${join(base, 'copy1')}`);
      assert.equal((await snapshot(ctx, { key: 'c', dir: join(base, 'copy1'), ignoreCtime: true })).kind, 'full');
      appendFileSync(join(up, 'x/y/f7'), 'changed\n');
      sh(`cp -a --link ${up} ${join(base, 'copy2')}`);
      const second = await snapshot(ctx, { key: 'c', dir: join(base, 'copy2'), ignoreCtime: true });
      assert.equal(second.kind, 'diff');
      // cp -a keeps directory times, and every file but f7 keeps its inode: only f7 is stored
      const entries = sh(`zstd -dc ${join(base, 'store/blobs/sha256', second.blobDigest.slice(7))} | tar -tf -`).trim().split('\n');
      assert.deepEqual(entries, ['x/y/f7']);
      sh(`cp -a --link ${up} ${join(base, 'copy3')}`);
      const third = await snapshot(ctx, { key: 'c', dir: join(base, 'copy3'), ignoreCtime: true });
      assert.equal(third.changed, false);
      assert.equal(third.storedBytes, 0);
    } finally {
      await closeContext(ctx);
    }
  });
});

