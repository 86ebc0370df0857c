import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readTar } from '../../src/snapshot/tarReader.js';
import { unpackLayer, type UnpackOptions } from '../../src/snapshot/unpack.js';
import { applyLayerWhiteouts, overlayUpperWhiteouts } from '../../src/snapshot/whiteout.js';
import { lgetxattr } from '../../src/native/index.js';
import { TarBuilder, chunked } from '../support/tarBuilder.js';

/** A temp dir removed after the test; `beforeRemove` runs first (e.g. to unmount). */
function tempDir(t: TestContext, name: string, beforeRemove?: () => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lk-${name}-`));
  t.after(() => {
    beforeRemove?.();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

function unpack(tar: Buffer, root: string, opts: UnpackOptions, chunkSize = 4096) {
  return unpackLayer(readTar(chunked(tar, chunkSize)), root, opts);
}

function lst(p: string): fs.BigIntStats {
  return fs.lstatSync(p, { bigint: true });
}

const S_IFMT = 0o170000n;
const kind = (st: fs.BigIntStats): bigint => st.mode & S_IFMT;
const perms = (st: fs.BigIntStats): number => Number(st.mode & 0o7777n);
const rdev = (st: fs.BigIntStats): [number, number] => {
  // glibc's gnu_dev_major/minor encoding of dev_t.
  const d = st.rdev;
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return [major, minor];
};

// security.capability v2 (VFS_CAP_REVISION_2 | effective), with '\n', '=' and 0xff bytes in it.
const CAPABILITY = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0xff, 0x3d, 0x0a, 0x0a, 0x3d, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);

test('upper mode: every entry type with owners, modes, ns times and xattrs; whiteouts as overlay stores them', async (t) => {
  const root = path.join(tempDir(t, 'unpack'), 'root');
  fs.mkdirSync(root, { mode: 0o700 });
  const tar = new TarBuilder()
    .pax([['mtime', '1500000000.000000007']])
    .dir('etc', { mode: 0o2755, uid: 10, gid: 20 })
    .pax([
      ['mtime', '1600000000.123456789'],
      ['SCHILY.xattr.security.capability', CAPABILITY],
      ['SCHILY.xattr.user.note', 'a=b\nc'],
    ])
    .file('etc/setuid', 'payload', { mode: 0o4755, uid: 1000, gid: 1001 })
    .pax([['mtime', '1400000000.5'], ['SCHILY.xattr.trusted.sym', 'v']])
    .symlink('etc/link', 'setuid', { uid: 5, gid: 6 })
    .hardlink('etc/hard', 'etc/setuid')
    .fifo('run/fifo', { mode: 0o640, uid: 3, gid: 4, mtime: 1000 })
    .device('char', 'dev/null', 1, 3, { mode: 0o666, mtime: 2000 })
    .device('block', 'dev/loop0', 7, 0, { mode: 0o660, gid: 6 })
    .dir('var', { mtime: 3000 })
    .file('var/.wh.cache', '', { mode: 0, uid: 0, gid: 0, mtime: 4000 })
    .dir('opq', { mode: 0o750, mtime: 5000 })
    .file('opq/.wh..wh..opq', '', { mtime: 5001 })
    .file('opq/kept', 'k')
    .pax([['SCHILY.xattr.trusted.overlay.origin', Buffer.from([1, 2])], ['SCHILY.xattr.user.ok', '1']])
    .file('xattrs', 'x')
    .file('late/child', 'c')
    .dir('late', { mode: 0o701, uid: 7, gid: 8, mtime: 42 })
    .bytes();
  const warnings: string[] = [];
  const result = await unpack(tar, root, {
    whiteouts: overlayUpperWhiteouts({ opaqueXattr: 'trusted.overlay.opaque' }),
    allowDevices: true,
    onWarning: (m) => warnings.push(m),
  });
  assert.deepEqual(result, { files: 15, bytes: 'payload'.length + 1 + 1 + 1 });

  const etc = lst(path.join(root, 'etc'));
  assert.equal(perms(etc), 0o2755);
  assert.deepEqual([etc.uid, etc.gid], [10n, 20n]);
  assert.equal(etc.mtimeNs, 1500000000_000000007n, 'directory time set after its children');

  const setuid = lst(path.join(root, 'etc/setuid'));
  assert.equal(kind(setuid), 0o100000n);
  assert.equal(perms(setuid), 0o4755, 'setuid survives the chown');
  assert.deepEqual([setuid.uid, setuid.gid], [1000n, 1001n]);
  assert.equal(setuid.mtimeNs, 1600000000_123456789n);
  assert.equal(setuid.nlink, 2n);
  assert.equal(fs.readFileSync(path.join(root, 'etc/setuid'), 'utf8'), 'payload');
  assert.deepEqual(lgetxattr(path.join(root, 'etc/setuid'), 'security.capability'), CAPABILITY);
  assert.deepEqual(lgetxattr(path.join(root, 'etc/setuid'), 'user.note'), Buffer.from('a=b\nc'));
  assert.equal(lst(path.join(root, 'etc/hard')).ino, setuid.ino);

  const link = lst(path.join(root, 'etc/link'));
  assert.equal(kind(link), 0o120000n);
  assert.equal(fs.readlinkSync(path.join(root, 'etc/link')), 'setuid');
  assert.deepEqual([link.uid, link.gid], [5n, 6n]);
  assert.equal(link.mtimeNs, 1400000000_500000000n);
  assert.deepEqual(lgetxattr(path.join(root, 'etc/link'), 'trusted.sym'), Buffer.from('v'));

  const fifo = lst(path.join(root, 'run/fifo'));
  assert.equal(kind(fifo), 0o010000n);
  assert.equal(perms(fifo), 0o640);
  assert.deepEqual([fifo.uid, fifo.gid, fifo.mtimeNs], [3n, 4n, 1000_000000000n]);

  const devnull = lst(path.join(root, 'dev/null'));
  assert.equal(kind(devnull), 0o020000n);
  assert.deepEqual(rdev(devnull), [1, 3]);
  assert.equal(perms(devnull), 0o666);
  const loop = lst(path.join(root, 'dev/loop0'));
  assert.equal(kind(loop), 0o060000n);
  assert.deepEqual(rdev(loop), [7, 0]);

  // Whiteout: a 0/0 char device named after the deleted entry; the marker itself is not created.
  const wh = lst(path.join(root, 'var/cache'));
  assert.equal(kind(wh), 0o020000n);
  assert.deepEqual(rdev(wh), [0, 0]);
  assert.equal(wh.mtimeNs, 4000_000000000n);
  assert.equal(fs.existsSync(path.join(root, 'var/.wh.cache')), false);
  assert.equal(lst(path.join(root, 'var')).mtimeNs, 3000_000000000n);

  // Opaque marker: the xattr on its directory, which keeps its own metadata.
  assert.deepEqual(lgetxattr(path.join(root, 'opq'), 'trusted.overlay.opaque'), Buffer.from('y'));
  assert.deepEqual(fs.readdirSync(path.join(root, 'opq')), ['kept']);
  assert.equal(perms(lst(path.join(root, 'opq'))), 0o750);
  assert.equal(lst(path.join(root, 'opq')).mtimeNs, 5000_000000000n);

  // Overlay-private xattrs from the archive are dropped with a warning.
  assert.equal(lgetxattr(path.join(root, 'xattrs'), 'trusted.overlay.origin'), null);
  assert.deepEqual(lgetxattr(path.join(root, 'xattrs'), 'user.ok'), Buffer.from('1'));
  assert.deepEqual(warnings, ['layer entry "xattrs": overlay-private xattr trusted.overlay.origin dropped']);

  // A directory entry after its children updates the implicitly created directory.
  const late = lst(path.join(root, 'late'));
  assert.equal(perms(late), 0o701);
  assert.deepEqual([late.uid, late.gid, late.mtimeNs], [7n, 8n, 42_000000000n]);
  assert.equal(fs.readFileSync(path.join(root, 'late/child'), 'utf8'), 'c');
});

test('upper mode for rootless overlay: the opaque marker becomes user.overlay.opaque', async (t) => {
  const root = tempDir(t, 'unpack-rootless');
  const tar = new TarBuilder().dir('d').file('d/.wh..wh..opq', '').file('d/.wh.x', '').bytes();
  await unpack(tar, root, { whiteouts: overlayUpperWhiteouts({ opaqueXattr: 'user.overlay.opaque' }) });
  assert.deepEqual(lgetxattr(path.join(root, 'd'), 'user.overlay.opaque'), Buffer.from('y'));
  assert.equal(lgetxattr(path.join(root, 'd'), 'trusted.overlay.opaque'), null);
  assert.deepEqual(rdev(lst(path.join(root, 'd/x'))), [0, 0]);
});

test('the archive root entry ("./") sets the root directory metadata', async (t) => {
  const root = tempDir(t, 'unpack-rootentry');
  const tar = new TarBuilder().dir('./', { mode: 0o755, uid: 11, gid: 12, mtime: 777 }).file('./f', 'x').bytes();
  const r = await unpack(tar, root, { whiteouts: overlayUpperWhiteouts({ opaqueXattr: 'trusted.overlay.opaque' }) });
  assert.equal(r.files, 2);
  const st = lst(root);
  assert.deepEqual([perms(st), st.uid, st.gid, st.mtimeNs], [0o755, 11n, 12n, 777_000000000n]);
});

test('sparse content is written as holes, whatever the chunking', async (t) => {
  const dir = tempDir(t, 'unpack-sparse');
  const size = 8 * 1024 * 1024 + 100;
  const content = Buffer.alloc(size);
  content.fill('a', 0, 4096);
  content.fill('b', 4 * 1024 * 1024 + 100, 4 * 1024 * 1024 + 5100); // unaligned, spans two blocks
  content.fill('c', size - 100);
  const tar = new TarBuilder().file('sparse', content).file('zeros', Buffer.alloc(1024 * 1024)).bytes();
  const dense = path.join(dir, 'dense');
  fs.writeFileSync(dense, content);
  const denseBlocks = fs.statSync(dense).blocks;
  for (const chunkSize of [1000, 4096, 65536 + 3]) {
    const root = path.join(dir, `root-${chunkSize}`);
    fs.mkdirSync(root);
    const r = await unpack(tar, root, { whiteouts: overlayUpperWhiteouts({ opaqueXattr: 'trusted.overlay.opaque' }) }, chunkSize);
    assert.equal(r.bytes, size + 1024 * 1024);
    const file = path.join(root, 'sparse');
    const st = fs.statSync(file);
    assert.equal(st.size, size);
    const hash = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
    assert.equal(hash(fs.readFileSync(file)), hash(content));
    // 4 data blocks (a, b twice, c) against 2049 for the dense copy.
    assert.ok(st.blocks * 512 <= 64 * 1024, `sparse file uses ${st.blocks} blocks (chunk ${chunkSize})`);
    assert.ok(st.blocks * 20 < denseBlocks, `${st.blocks} vs dense ${denseBlocks}`);
    const zeros = fs.statSync(path.join(root, 'zeros'));
    assert.equal(zeros.size, 1024 * 1024);
    assert.equal(zeros.blocks, 0);
  }
});

test('maxBytes stops a layer whose content exceeds the limit', async (t) => {
  const root = tempDir(t, 'unpack-limit');
  const tar = new TarBuilder().file('a', 'x'.repeat(600)).file('b', 'y'.repeat(600)).bytes();
  await assert.rejects(
    unpack(tar, root, { whiteouts: applyLayerWhiteouts(), limits: { maxBytes: 1000 } }),
    /layer entry "b": layer content would exceed the 1000-byte limit/,
  );
  assert.equal(fs.existsSync(path.join(root, 'b')), false);
});

test('apply mode through a mounted overlay: whiteouts delete, opaque hides only lower entries', async (t) => {
  let mounted = false;
  const dir = tempDir(t, 'unpack-overlay', () => {
    if (mounted) execFileSync('umount', [merged]);
  });
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((n) => path.join(dir, n));
  for (const d of [lower, upper, work, merged]) fs.mkdirSync(d);
  const put = (rel: string, content: string): void => {
    fs.mkdirSync(path.dirname(path.join(lower, rel)), { recursive: true });
    fs.writeFileSync(path.join(lower, rel), content);
  };
  put('keep', 'keep');
  put('gone', 'gone');
  put('gonedir/a', 'a');
  put('gonedir/b/c', 'c');
  put('opq/old1', 'old');
  put('opq/old2/inner', 'inner');
  put('opq/newdir/lowerchild', 'lower child of a dir the layer also has');
  put('typechange', 'was a file');
  put('opq/-dir/lowerfile', 'lower file in a dir the layer fills before the marker');
  put('linkme', 'shared');
  const sentinel = path.join(dir, 'sentinel');
  fs.writeFileSync(sentinel, 'untouched');
  fs.symlinkSync(sentinel, path.join(lower, 'outlink'));
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
  mounted = true;

  const tar = new TarBuilder()
    .file('.wh.gone', '')
    .file('.wh.gonedir', '')
    .file('added', 'new')
    .dir('opq', { mode: 0o750 })
    .file('opq/-early', 'sorted before the marker')
    .dir('opq/-dir')
    .file('opq/-dir/mine', 'm')
    .file('opq/.wh..wh..opq', '')
    .file('opq/new', 'n')
    .dir('opq/newdir')
    .file('opq/newdir/x', 'x')
    .dir('typechange')
    .file('typechange/inside', 'i')
    .hardlink('hl', 'linkme')
    .file('outlink', 'a file replacing a symlink to outside')
    .bytes();
  const r = await unpack(tar, merged, { whiteouts: applyLayerWhiteouts(), linkToExisting: true });
  assert.equal(r.files, 15);

  const ls = (d: string): string[] => fs.readdirSync(d).sort();
  assert.deepEqual(ls(merged), ['added', 'hl', 'keep', 'linkme', 'opq', 'outlink', 'typechange']);
  assert.deepEqual(ls(path.join(merged, 'opq')), ['-dir', '-early', 'new', 'newdir']);
  assert.deepEqual(ls(path.join(merged, 'opq/-dir')), ['mine']);
  assert.deepEqual(ls(path.join(merged, 'opq/newdir')), ['x']);
  assert.equal(perms(lst(path.join(merged, 'opq'))), 0o750);
  assert.equal(fs.readFileSync(path.join(merged, 'typechange/inside'), 'utf8'), 'i');
  assert.equal(fs.readFileSync(path.join(merged, 'hl'), 'utf8'), 'shared');
  assert.equal(fs.readFileSync(path.join(merged, 'outlink'), 'utf8'), 'a file replacing a symlink to outside');
  assert.equal(fs.readFileSync(sentinel, 'utf8'), 'untouched');

  // The upper dir holds what overlayfs made of it: whiteouts for deleted lower entries.
  const isWhiteout = (rel: string): boolean => {
    const st = lst(path.join(upper, rel));
    return kind(st) === 0o020000n && rdev(st)[0] === 0 && rdev(st)[1] === 0;
  };
  for (const rel of ['gone', 'gonedir', 'opq/old1', 'opq/old2', 'opq/-dir/lowerfile']) assert.ok(isWhiteout(rel), `${rel} is a whiteout in upper`);
  assert.equal(fs.readFileSync(path.join(upper, 'added'), 'utf8'), 'new');
  assert.ok(lst(path.join(upper, 'typechange')).isDirectory());
  assert.equal(lst(path.join(upper, 'hl')).ino, lst(path.join(upper, 'linkme')).ino);
  // The lower layer itself is untouched.
  assert.deepEqual(ls(path.join(lower, 'opq')), ['-dir', 'newdir', 'old1', 'old2']);
  assert.equal(fs.readFileSync(path.join(lower, 'gone'), 'utf8'), 'gone');
});
