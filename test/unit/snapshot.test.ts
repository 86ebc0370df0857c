// Snapshot -> restore round trips on real overlay mounts, compared entry by entry through
// the merged view; compatibility with GNU tar and the zstd CLI; determinism; change detection.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync, symlinkSync, linkSync, truncateSync, appendFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mknod } from '../../src/native/index.js';
import { closeContext, openContext } from '../../src/ops/context.js';
import { restore } from '../../src/ops/restore.js';
import { snapshot } from '../../src/ops/snapshot.js';
import { exportSnapshot, importLayer } from '../../src/ops/transfer.js';
import type { OpsContext } from '../../src/ops/types.js';
import { describeTree, sh, treeList } from '../support/tree.js';
import { makeLower, mountOverlay, remountOverlay, tempDir, umount } from '../support/scratch.js';

const mounts: string[] = [];
const dirs: string[] = [];
after(() => { for (const m of mounts.reverse()) umount(m); for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function scratch(): string { const d = tempDir(); dirs.push(d); return d; }
async function ctxFor(store: string, state: string): Promise<OpsContext> { return openContext({ store, stateDir: state }); }


/** Every kind of change a container can make, made through the merged view. */
function changeEverything(m: string): void {
  writeFileSync(join(m, 'created.txt'), 'new file\n');
  appendFileSync(join(m, 'etc/passwd'), 'app:x:1000:1000::/home/app:/bin/sh\n');
  sh(`chmod 4750 created.txt; chmod 1777 var; chown 1000:2000 etc/conf.d/a; chown -h 3000:3000 etc`, m);
  rmSync(join(m, 'etc/delete-me'));
  rmSync(join(m, 'replace'), { recursive: true });
  mkdirSync(join(m, 'replace'));
  writeFileSync(join(m, 'replace/fresh'), 'fresh\n');
  sh('setfattr -n user.note -v "hello world" created.txt; setfattr -n user.bin -v 0x00ff0a3d created.txt', m);
  sh('setcap cap_net_raw,cap_net_admin+ep tool', m);
  sh('setfacl -m u:1234:rwx var/lib/app/data', m);
  linkSync(join(m, 'created.txt'), join(m, 'hardlink.txt'));
  sh('mkfifo pipe; echo secret > locked; chmod 000 locked', m);
  mknod(join(m, 'null-dev'), 0o020666, 1, 3);
  symlinkSync('../etc/passwd', join(m, 'var/passwd-link'));
  symlinkSync('x'.repeat(200), join(m, 'long-target-link'));
  const long = `${'long-directory-name-'.repeat(6)}/${'n'.repeat(200)}`;
  mkdirSync(join(m, long.slice(0, long.lastIndexOf('/'))), { recursive: true });
  writeFileSync(join(m, long), 'long\n');
  mkdirSync(join(m, 'ünïcødé ✓'));
  writeFileSync(join(m, 'ünïcødé ✓/日本語.txt'), 'unicode\n');
  writeFileSync(join(m, 'sparse.img'), '');
  truncateSync(join(m, 'sparse.img'), 256 << 20);
  sh('printf tail >> sparse.img; printf head | dd of=sparse.img bs=1 seek=4096 conv=notrunc status=none', m);
  writeFileSync(join(m, 'big.bin'), Buffer.alloc(9 << 20, 'z'));
}

describe('snapshot and restore of an overlay upper dir', { timeout: 300_000 }, () => {
  let base: string;
  let lower: string;
  let upper: string;
  let mergedBefore: ReturnType<typeof describeTree>;
  let ctx: OpsContext;
  let store: string;

  before(async () => {
    base = scratch();
    lower = makeLower(base);
    const a = mountOverlay(lower, join(base, 'a'));
    mounts.push(a.merged);
    changeEverything(a.merged);
    umount(a.merged);
    upper = a.upper;
    remountOverlay(a);
    mergedBefore = describeTree(a.merged);
    umount(a.merged);
    store = join(base, 'store');
    ctx = await ctxFor(store, join(base, 'state1'));
  });
  after(async () => { if (ctx) await closeContext(ctx); });

  it('restores a merged view identical entry by entry, on a second host', async () => {
    const snap = await snapshot(ctx, { key: 'web', dir: upper, allowDevices: true });
    assert.equal(snap.changed, true);
    const host2 = await ctxFor(store, join(base, 'state2'));
    try {
      const b = join(base, 'b');
      const res = await restore(host2, { key: 'web', dir: join(b, 'upper'), allowDevices: true });
      assert.equal(res.manifestDigest, snap.manifestDigest);
      const mb = mountOverlay(lower, b);
      mounts.push(mb.merged);
      assert.deepEqual(treeList(describeTree(mb.merged)), treeList(mergedBefore));
      // sparse stays sparse: 256 MiB apparent, a few KiB allocated
      assert.ok(statSync(join(mb.merged, 'sparse.img')).blocks * 512 < 1 << 20);
      umount(mb.merged);
    } finally {
      await closeContext(host2);
    }
  });

  it('writes a layer that stock zstd and GNU tar read, with OCI whiteouts', () => {
    const current = JSON.parse(readFileSync(join(store, 'refs/web'), 'utf8')).current.slice(7);
    const layer = JSON.parse(readFileSync(join(store, 'manifests', `${current}.json`), 'utf8')).blob.digest.slice(7);
    const blobs = [layer];
    const listing = execFileSync('bash', ['-c', `zstd -dc ${join(store, 'blobs/sha256', blobs[0]!)} | tar -tvf -`], { encoding: 'utf8' });
    assert.match(listing, /\setc\/\.wh\.delete-me\n/);
    assert.match(listing, /\sreplace\/\.wh\.\.wh\.\.opq\n/);
    assert.match(listing, /\screated\.txt\n/);
    assert.match(listing, /hardlink\.txt link to created\.txt|created\.txt link to hardlink\.txt/);
    assert.match(listing, /ünïcødé ✓\/日本語\.txt/);
    // GNU tar extracts the xattrs we wrote as SCHILY.xattr (binary capability included)
    const out = join(base, 'gnu-extract');
    mkdirSync(out);
    execFileSync('bash', ['-c', `zstd -dc ${join(store, 'blobs/sha256', blobs[0]!)} | tar --xattrs --xattrs-include='*' -xf - -C ${out}`]);
    assert.match(execFileSync('getcap', [join(out, 'tool')], { encoding: 'utf8' }), /cap_net_admin,cap_net_raw[=+]ep/);
    assert.equal(readFileSync(join(out, 'created.txt'), 'utf8'), 'new file\n');
  });

  it('is deterministic and detects "unchanged" from metadata alone', async () => {
    const again = await snapshot(ctx, { key: 'web', dir: upper, allowDevices: true });
    assert.equal(again.changed, false, 'an unchanged tree uploads nothing');
    const forced = await snapshot(ctx, { key: 'web', dir: upper, allowDevices: true, force: true });
    assert.equal(forced.blobDigest, again.blobDigest, 'the same tree gives the same blob digest');
    assert.equal(forced.diffId, again.diffId);
    // a metadata-only change (chmod) is a change
    sh(`chmod 600 ${join(upper, 'created.txt')}`);
    const changed = await snapshot(ctx, { key: 'web', dir: upper, allowDevices: true });
    assert.equal(changed.changed, true);
    assert.notEqual(changed.blobDigest, forced.blobDigest);
    // "unchanged" is decided from lstat alone (no xattrs read): an xattr-only change must still
    // be seen, through the ctime it moves, and so must a change of an xattr's value alone
    const statFp = () => (ctx.state.prepare('SELECT stat_fingerprint AS f FROM snapshots WHERE manifest_digest = ?')
      .get(changed.manifestDigest) as { f: string | null }).f;
    assert.match(statFp() ?? '', /^sha256:/, 'the lstat-only fingerprint is recorded');
    assert.equal((await snapshot(ctx, { key: 'web', dir: upper, allowDevices: true })).changed, false);
    sh(`setfattr -n user.note -v one ${join(upper, 'created.txt')}`);
    const x1 = await snapshot(ctx, { key: 'web', dir: upper, allowDevices: true });
    assert.equal(x1.changed, true, 'a new xattr is a change');
    assert.equal((await snapshot(ctx, { key: 'web', dir: upper, allowDevices: true })).changed, false);
    sh(`setfattr -n user.note -v two ${join(upper, 'created.txt')}`);
    assert.equal((await snapshot(ctx, { key: 'web', dir: upper, allowDevices: true })).changed, true, 'a new xattr value is a change');
    // the upper dir's own mode is part of the snapshot (the manifest's root), so a change of it alone counts too
    assert.equal((await snapshot(ctx, { key: 'web', dir: upper, allowDevices: true })).changed, false);
    const mode = statSync(upper).mode & 0o7777;
    sh(`chmod ${(mode ^ 0o005).toString(8)} ${upper}`);
    assert.equal((await snapshot(ctx, { key: 'web', dir: upper, allowDevices: true })).changed, true, 'a chmod of the upper dir itself is a change');
  });

  it('leaves device nodes out unless allowed, with a warning', async () => {
    const r = await snapshot(ctx, { key: 'nodev', dir: upper });
    assert.ok(r.warnings.some((w) => w.includes('null-dev') && w.includes('--allow-devices')));
    const t = join(base, 'nodev-restore');
    await restore(ctx, { key: 'nodev', dir: t });
    assert.equal(existsSync(join(t, 'null-dev')), false);
    assert.equal(existsSync(join(t, 'created.txt')), true);
  });

  it('needs --force for a non-empty target and keeps the target intact on a corrupt blob', async () => {
    const t = join(base, 'busy');
    mkdirSync(t);
    writeFileSync(join(t, 'keep'), 'mine');
    await assert.rejects(restore(ctx, { key: 'nodev', dir: t }), /not empty: pass --force/);
    // corrupt one byte in the middle of the current blob
    const m = JSON.parse(readFileSync(join(store, 'refs/nodev'), 'utf8')).current.slice(7);
    const manifest = JSON.parse(readFileSync(join(store, 'manifests', `${m}.json`), 'utf8'));
    const blobPath = join(store, 'blobs/sha256', manifest.blob.digest.slice(7));
    const bytes = readFileSync(blobPath);
    const orig = Buffer.from(bytes);
    bytes[Math.floor(bytes.length / 3)]! ^= 0xff;
    writeFileSync(blobPath, bytes);
    try {
      await assert.rejects(restore(ctx, { key: 'nodev', dir: t, force: true }), /corrupt|mismatch|zstd frame/);
      assert.deepEqual(readdirSync(t), ['keep']);
      assert.equal(readFileSync(join(t, 'keep'), 'utf8'), 'mine');
      assert.deepEqual(readdirSync(base).filter((n) => n.includes('layerkeep-restore')), [], 'temp dir removed');
    } finally {
      writeFileSync(blobPath, orig);
    }
    await restore(ctx, { key: 'nodev', dir: t, force: true });
    assert.equal(existsSync(join(t, 'keep')), false);
    assert.equal(existsSync(join(t, 'created.txt')), true);
  });

  it('imports a GNU tar layer and restores it', async () => {
    const src = join(base, 'gnu-src');
    mkdirSync(join(src, 'd/e'), { recursive: true });
    writeFileSync(join(src, 'd/e/f'), 'gnu\n');
    writeFileSync(join(src, `${'g'.repeat(150)}`), 'long name\n');
    writeFileSync(join(src, '.wh.removed'), '');
    sh(`setfattr -n user.x -v y d/e/f; chown 7:8 d/e/f`, src);
    const tarFile = join(base, 'layer.tar');
    execFileSync('tar', ['--xattrs', '--numeric-owner', '-cf', tarFile, '-C', src, '.']);
    const imp = await importLayer(ctx, { key: 'imported', file: tarFile });
    assert.ok(imp.files >= 5);
    const out = join(base, 'imported-restore');
    await restore(ctx, { key: 'imported', dir: out });
    assert.equal(readFileSync(join(out, 'd/e/f'), 'utf8'), 'gnu\n');
    assert.equal(readFileSync(join(out, 'g'.repeat(150)), 'utf8'), 'long name\n');
    assert.equal(statSync(join(out, 'd/e/f')).uid, 7);
    assert.equal(statSync(join(out, 'removed')).isCharacterDevice(), true, '.wh. entry became a whiteout');
    assert.match(sh(`getfattr -n user.x --only-values ${join(out, 'd/e/f')}`), /^y$/);
    // zst input too, and export round trip: plain tar export equals the imported bytes
    execFileSync('zstd', ['-q', '-f', tarFile, '-o', `${tarFile}.zst`]);
    const imp2 = await importLayer(ctx, { key: 'imported-zst', file: `${tarFile}.zst` });
    assert.equal(imp2.uncompressedSize, imp.uncompressedSize);
    const exported = join(base, 'exported.tar');
    await exportSnapshot(ctx, { key: 'imported', output: exported });
    assert.ok(readFileSync(exported).equals(readFileSync(tarFile)));
  });
});
