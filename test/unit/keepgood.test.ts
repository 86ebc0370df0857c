// A key's good snapshot survives what goes wrong around a container's start and stop, on real
// overlay and tmpfs mounts (as root): an apply-mode restore that runs out of space leaves the
// merged tree untouched and marks the container, so neither a retry nor its capture takes the
// partial state for the key's; a capture that fails for good is recorded and does not block the
// key; restores killed mid-way leave no temp trees for long; the local store and the state DB
// are private whatever the umask and the store dir's mode.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { closeContext, openContext, silentLogger } from '../../src/ops/context.js';
import { readRef } from '../../src/ops/publish.js';
import { restore } from '../../src/ops/restore.js';
import { snapshot } from '../../src/ops/snapshot.js';
import { clearFailedCaptures, status } from '../../src/ops/status.js';
import type { OpsContext } from '../../src/ops/types.js';
import { lsetxattr } from '../../src/native/index.js';
import { createCaptureManager, isPermanentFailure, PermanentCaptureError } from '../../src/runtime/capture.js';
import { captureStop, prepareStart, type ContainerFacts, type HookDeps } from '../../src/runtime/container-hooks.js';
import { getContainer, upsertContainer } from '../../src/runtime/containers-table.js';
import { makeRestoreTemp } from '../../src/ops/restoreTemp.js';
import { mountOverlay, tempDir, umount } from '../support/scratch.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const mounts: string[] = [];
const dirs: string[] = [];
after(() => { for (const m of mounts.reverse()) umount(m); for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function temp(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

function hookDeps(ctx: OpsContext, runDir: string, captureDir: string, policy?: 'start' | 'refuse'): HookDeps {
  const captures = createCaptureManager({
    dir: captureDir, log: silentLogger, state: ctx.state, retryDelayMs: 20,
    snapshot: async (rec, tree) => { await snapshot(ctx, { key: rec.key, dir: tree, ignoreCtime: true }); },
  });
  return {
    ctx, captures, namePatterns: () => [], imagePolicy: 'allow', runDir, failedCapturePolicy: policy,
    withKeyLock: (_k, fn) => fn(), emit: () => {}, observeRestore: () => {},
  };
}

function facts(id: string, key: string, upperDir: string, mergedDir: string): ContainerFacts {
  return { containerId: id, runtime: 'docker', name: `c-${id.slice(0, 6)}`, labels: { 'layerkeep.key': key }, image: { id: 'sha256:img', name: 'img' }, mergedDir, upperDir, mountDestinations: [] };
}

/** The key's good state: many small files and a few MiB, more than the small disk holds. */
function goodTree(root: string): void {
  for (let i = 0; i < 200; i++) {
    mkdirSync(join(root, 'data', `d${i % 8}`), { recursive: true });
    writeFileSync(join(root, 'data', `d${i % 8}`, `f${i}`), randomBytes(4000));
  }
  writeFileSync(join(root, 'data', 'big'), randomBytes(6 << 20));
  writeFileSync(join(root, 'etc-note'), 'good\n');
}

describe('restore and capture keep the key\'s good snapshot', { timeout: 180_000 }, () => {
  it('an apply that runs out of space changes nothing; the retry restores again and the capture of that run is refused', async () => {
    const base = temp('lk-keep-');
    const src = join(base, 'src');
    goodTree(src);
    const ctx = await openContext({ store: join(base, 'store'), stateDir: join(base, 'state') });
    try {
      const good = await snapshot(ctx, { key: 'db', dir: src });
      // The container: image content in lower, upper and work on a 4 MiB tmpfs.
      const lower = join(base, 'lower');
      mkdirSync(join(lower, 'data'), { recursive: true });
      writeFileSync(join(lower, 'data', 'from-image'), 'image\n');
      const disk = join(base, 'disk');
      mkdirSync(disk);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk]);
      mounts.push(disk);
      const ov = mountOverlay(lower, disk);
      mounts.push(ov.merged);
      const deps = hookDeps(ctx, join(base, 'run'), join(base, 'captures'));
      const id = 'a'.repeat(64);
      const c = facts(id, 'db', ov.upper, ov.merged);

      await assert.rejects(prepareStart(deps, c, 'apply'), /ENOSPC/);
      assert.deepEqual(readdirSync(ov.merged), ['data'], 'nothing of the layer and no staging dir in the merged tree');
      assert.deepEqual(readdirSync(join(ov.merged, 'data')), ['from-image']);
      assert.deepEqual(readdirSync(ov.upper), [], 'the upper dir holds nothing');
      assert.equal(getContainer(ctx.state, id)?.state, 'unrestored');

      // What the old, non-atomic apply left (or a kill mid-commit leaves): a partial file.
      writeFileSync(join(ov.merged, 'etc-note'), 'go');
      const retry = prepareStart(deps, c, 'apply');
      await assert.rejects(retry, /ENOSPC/, 'the retry restores again instead of keeping the partial upper dir');
      // A crash mid-restore leaves 'restoring': the same.
      upsertContainer(ctx.state, { id, runtime: 'docker', name: c.name, key: 'db', state: 'restoring' });
      await assert.rejects(prepareStart(deps, c, 'apply'), /ENOSPC/);

      const cap = await captureStop(deps, c);
      assert.equal(cap.action, 'ignored');
      assert.match(cap.message, /not capturing/);
      await deps.captures.waitForKey('db');
      assert.equal((await readRef(ctx, 'db'))?.ref.current, good.manifestDigest, 'the key\'s snapshot is still the good one');
      deps.captures.stop();
    } finally {
      await closeContext(ctx);
    }
  });

  it('a successful staged apply applies files, whiteouts and opaque dirs onto the merged tree', async () => {
    const base = temp('lk-apply-');
    const ctx = await openContext({ store: join(base, 'store'), stateDir: join(base, 'state') });
    try {
      const lower = join(base, 'lower');
      mkdirSync(join(lower, 'opq'), { recursive: true });
      mkdirSync(join(lower, 'keepdir'), { recursive: true });
      writeFileSync(join(lower, 'opq', 'hidden'), 'x');
      writeFileSync(join(lower, 'gone'), 'x');
      writeFileSync(join(lower, 'keepdir', 'image'), 'i');
      // The snapshot's upper dir: a whiteout of "gone", "opq" opaque with one file, a new file in keepdir.
      const up = join(base, 'up');
      mkdirSync(join(up, 'opq'), { recursive: true });
      mkdirSync(join(up, 'keepdir'));
      lsetxattr(join(up, 'opq'), 'trusted.overlay.opaque', Buffer.from('y'));
      writeFileSync(join(up, 'opq', 'mine'), 'm');
      writeFileSync(join(up, 'keepdir', 'new'), 'n');
      execFileSync('mknod', [join(up, 'gone'), 'c', '0', '0']);
      chmodSync(join(up, 'keepdir'), 0o710);
      utimesSync(join(up, 'keepdir'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
      await snapshot(ctx, { key: 'k', dir: up });
      const ov = mountOverlay(lower, join(base, 'ov'));
      mounts.push(ov.merged);
      await restore(ctx, { key: 'k', dir: ov.merged, mode: 'apply', force: true });
      assert.deepEqual(readdirSync(ov.merged).sort(), ['keepdir', 'opq']);
      assert.deepEqual(readdirSync(join(ov.merged, 'opq')), ['mine']);
      assert.deepEqual(readdirSync(join(ov.merged, 'keepdir')).sort(), ['image', 'new']);
      assert.equal(readFileSync(join(ov.merged, 'keepdir', 'new'), 'utf8'), 'n');
      const kd = statSync(join(ov.merged, 'keepdir'));
      assert.equal(kd.mode & 0o7777, 0o710, 'a merged directory gets the layer\'s mode');
      assert.equal(kd.mtime.toISOString(), '2020-01-02T03:04:05.000Z', 'and its time, after its children moved in');
    } finally {
      await closeContext(ctx);
    }
  });

  it('a capture that fails for good is not retried, is listed by status, and does not block the key (policy start / refuse)', async () => {
    const base = temp('lk-perm-');
    const ctx = await openContext({ store: join(base, 'store'), stateDir: join(base, 'state') });
    try {
      const good = join(base, 'good');
      mkdirSync(good);
      writeFileSync(join(good, 'f'), 'good');
      const first = await snapshot(ctx, { key: 'k', dir: good });
      // An upper dir the walk refuses: a redirect_dir directory.
      const bad = join(base, 'bad');
      mkdirSync(join(bad, 'moved'), { recursive: true });
      lsetxattr(join(bad, 'moved'), 'trusted.overlay.redirect', Buffer.from('/orig'));
      let attempts = 0;
      const deps = hookDeps(ctx, join(base, 'run'), join(base, 'captures'));
      const counting = createCaptureManager({
        dir: join(base, 'captures'), log: silentLogger, state: ctx.state, retryDelayMs: 5,
        snapshot: async (rec, tree) => { attempts++; await snapshot(ctx, { key: rec.key, dir: tree }); },
      });
      deps.captures = counting;
      const rec = await counting.capture({ key: 'k', containerId: 'b'.repeat(64), name: 'bad', image: { id: '' }, upperDir: bad });
      await counting.waitForKey('k');
      await new Promise((r) => setTimeout(r, 100)); // several retry delays: a retry would have run
      await counting.waitForKey('k');
      assert.equal(attempts, 1, 'not retried');
      assert.equal(counting.failedFor('k'), undefined);
      const journal = JSON.parse(readFileSync(join(base, 'captures', rec.id, 'capture.json'), 'utf8')) as { status: string; error: string };
      assert.equal(journal.status, 'abandoned');
      const st = status(ctx);
      assert.equal(st.failedCaptures.length, 1);
      assert.equal(st.failedCaptures[0]!.captureId, rec.id);
      assert.match(st.failedCaptures[0]!.error, /redirect/);
      assert.equal((await readRef(ctx, 'k'))?.ref.current, first.manifestDigest);

      // policy start: the next container of the key gets the last good snapshot.
      const up1 = join(base, 'c1');
      const r1 = await prepareStart(deps, facts('c'.repeat(64), 'k', up1, ''), 'upper');
      assert.equal(r1.action, 'restored');
      assert.equal(readFileSync(join(up1, 'f'), 'utf8'), 'good');
      // policy refuse: refused, naming the failure, until cleared.
      const strict = { ...deps, failedCapturePolicy: 'refuse' as const };
      await assert.rejects(prepareStart(strict, facts('d'.repeat(64), 'k', join(base, 'c2'), ''), 'upper'), /failed permanently: .*redirect.*clear-failure/s);
      assert.equal(clearFailedCaptures(ctx, 'k'), 1);
      assert.equal((await prepareStart(strict, facts('d'.repeat(64), 'k', join(base, 'c2'), ''), 'upper')).action, 'restored');
      assert.equal(status(ctx).failedCaptures.length, 0);
      counting.stop();
    } finally {
      await closeContext(ctx);
    }
  });

  it('classifies capture failures: the tree\'s own faults are permanent, store and disk faults transient', () => {
    const coded = (code: string, msg = code): Error => Object.assign(new Error(msg), { code });
    for (const e of [coded('EILSEQ'), coded('ENAMETOOLONG'), new Error('a/b: EILSEQ: illegal byte sequence, lstat'), new RangeError('Maximum call stack size exceeded'),
      new PermanentCaptureError('x'), new Error('d: the upper dir uses overlayfs redirect (xattr trusted.overlay.redirect)')]) {
      assert.equal(isPermanentFailure(e), true, e.message);
    }
    for (const e of [coded('ENOSPC'), coded('ECONNRESET'), coded('EIO'), new Error('S3 endpoint unreachable'), new Error('key k changed since it was read')]) {
      assert.equal(isPermanentFailure(e), false, e.message);
    }
  });

  it('a killed restore\'s temp tree is removed by the next restore; a live one\'s is not', async () => {
    const base = temp('lk-kill-');
    const src = join(base, 'src');
    for (let i = 0; i < 3000; i++) {
      mkdirSync(join(src, `d${i % 30}`), { recursive: true });
      writeFileSync(join(src, `d${i % 30}`, `f${i}`), randomBytes(2000));
    }
    const env = { ...process.env, LAYERKEEP_STANDALONE: '1' };
    const args = ['--store', join(base, 'store'), '--state-dir', join(base, 'state')];
    execFileSync(process.execPath, [CLI, 'init', ...args, '-q'], { env });
    execFileSync(process.execPath, [CLI, 'snapshot', '--key', 'k', ...args, '-q', src], { env });
    const parent = join(base, 'targets');
    mkdirSync(parent);
    // A live process's temp (stands in for a concurrent restore): never removed.
    const live = spawn('sleep', ['600'], { stdio: 'ignore' });
    const liveTemp = (() => {
      const t = makeRestoreTemp(parent, '.other', 'restore');
      const renamed = t.replace(/-(\d+)-(\d+)-(\w{6})$/, (_m, ns) => `-${ns}-${live.pid}-${'x'.repeat(6)}`);
      execFileSync('mv', [t, renamed]);
      return renamed;
    })();
    try {
      const child = spawn(process.execPath, [CLI, 'restore', '--key', 'k', ...args, '-q', join(parent, 't1')], { env, stdio: 'ignore' });
      // Kill it once its temp tree holds files.
      for (;;) {
        const t = readdirSync(parent).find((n) => n.startsWith('.t1.layerkeep-restore-'));
        if (t && readdirSync(join(parent, t)).length > 0) break;
        if (child.exitCode !== null) assert.fail('the restore finished before it could be killed');
        await new Promise((r) => setTimeout(r, 5));
      }
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const left = readdirSync(parent).filter((n) => n.startsWith('.t1.layerkeep-'));
      assert.ok(left.length > 0, 'the killed restore left its temp tree');
      execFileSync(process.execPath, [CLI, 'restore', '--key', 'k', ...args, '-q', join(parent, 't2')], { env });
      const now = readdirSync(parent).sort();
      assert.deepEqual(now.filter((n) => n.startsWith('.t1.')), [], 'the stale temp trees were removed');
      assert.ok(existsSync(liveTemp), 'the live process\'s temp tree was kept');
      assert.ok(existsSync(join(parent, 't2', 'd0')));
    } finally {
      live.kill();
    }
  });

  it('the local store and the state DB are private with umask 022 and a pre-existing 0755 store dir', async () => {
    const base = temp('lk-perms-');
    const store = join(base, 'store');
    mkdirSync(store, { mode: 0o755 });
    const old = process.umask(0o022);
    try {
      const ctx = await openContext({ store, stateDir: join(base, 'state') });
      try {
        const src = join(base, 'src');
        mkdirSync(join(src, 'x'), { recursive: true });
        writeFileSync(join(src, 'x', 'secret'), 'token');
        await snapshot(ctx, { key: 'k', dir: src });
      } finally {
        await closeContext(ctx);
      }
      const ctx2 = await openContext({ store, stateDir: join(base, 'state') });
      await closeContext(ctx2);
    } finally {
      process.umask(old);
    }
    const walk = (d: string): string[] => readdirSync(d).flatMap((n) => {
      const p = join(d, n);
      return lstatSync(p).isDirectory() ? [p, ...walk(p)] : [p];
    });
    const entries = walk(store);
    assert.ok(entries.some((p) => p.includes('blobs')) && entries.some((p) => p.includes('refs')));
    for (const p of entries) {
      const st = statSync(p);
      assert.equal(st.mode & 0o777, st.isDirectory() ? 0o700 : 0o600, `${p} is ${(st.mode & 0o777).toString(8)}`);
    }
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) {
      const p = join(base, 'state', f);
      if (existsSync(p)) assert.equal(statSync(p).mode & 0o777, 0o600, `${f}`);
    }
    assert.equal(statSync(join(base, 'state', 'state.db')).mode & 0o777, 0o600);
  });
});
