// withXattrs: a tree walked with lstat alone, completed with its xattrs in one native call,
// must be exactly the full walk — the no-change check's first walk is reused when it finds a
// change, so any difference would change what a snapshot stores.
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { lsetxattr, mknod, xattrsOf } from '../../src/native/index.js';
import { walkUpperDir, withXattrs } from '../../src/snapshot/walk.js';
import { tempDir } from '../support/scratch.js';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** An upper dir with every kind of entry, xattrs on most kinds, whiteouts and an opaque dir. */
function upperDir(): string {
  const root = tempDir('layerkeep-walk-');
  dirs.push(root);
  mkdirSync(join(root, 'etc/conf.d'), { recursive: true });
  writeFileSync(join(root, 'etc/plain'), 'plain');
  writeFileSync(join(root, 'etc/tagged'), 'tagged');
  lsetxattr(join(root, 'etc/tagged'), 'user.colour', Buffer.from('blue'));
  lsetxattr(join(root, 'etc/tagged'), 'trusted.bin', Buffer.from([0, 1, 2, 255]));
  lsetxattr(join(root, 'etc'), 'user.dir', Buffer.from('d'));
  linkSync(join(root, 'etc/tagged'), join(root, 'etc/tagged-link')); // a hard link: same xattrs
  symlinkSync('../etc/plain', join(root, 'etc/sym'));
  lsetxattr(join(root, 'etc/sym'), 'trusted.onlink', Buffer.from('s'));
  mknod(join(root, 'etc/fifo'), S_IFIFO | 0o644, 0, 0);
  mknod(join(root, 'etc/gone'), S_IFCHR | 0o000, 0, 0); // whiteout
  mknod(join(root, 'etc/gone2'), S_IFCHR | 0o000, 0, 0); // whiteout with an xattr of its own
  lsetxattr(join(root, 'etc/gone2'), 'trusted.note', Buffer.from('w'));
  mknod(join(root, 'etc/disk'), S_IFBLK | 0o600, 7, 3);
  mkdirSync(join(root, 'var/opaque/inner'), { recursive: true });
  lsetxattr(join(root, 'var/opaque'), 'trusted.overlay.opaque', Buffer.from('y'));
  writeFileSync(join(root, 'var/opaque/inner/f'), 'f');
  mknod(join(root, 'gone-at-top'), S_IFCHR | 0o000, 0, 0);
  return root;
}

describe('withXattrs', () => {
  for (const allowDevices of [false, true]) {
    it(`completes an lstat-only walk into exactly the full walk (allowDevices ${allowDevices})`, () => {
      const root = upperDir();
      const full = walkUpperDir(root, { allowDevices });
      const quick = walkUpperDir(root, { allowDevices, xattrs: false });
      assert.ok(full.entries.some((e) => e.opaqueMarker) && !quick.entries.some((e) => e.opaqueMarker), 'the test tree has an opaque dir');
      assert.ok(full.entries.some((e) => e.xattrs.size > 0), 'the test tree has xattrs');
      assert.deepEqual(withXattrs(root, quick), full);
    });
  }

  it('refuses an upper dir that uses redirect_dir, as the full walk does', () => {
    const root = upperDir();
    lsetxattr(join(root, 'var/opaque/inner'), 'trusted.overlay.redirect', Buffer.from('/elsewhere'));
    const quick = walkUpperDir(root, { xattrs: false });
    assert.throws(() => walkUpperDir(root), /var\/opaque\/inner: the upper dir uses overlayfs redirect/);
    assert.throws(() => withXattrs(root, quick), /var\/opaque\/inner: the upper dir uses overlayfs redirect/);
  });

  it('xattrsOf names a path that is gone', () => {
    const root = upperDir();
    assert.throws(() => xattrsOf([join(root, 'etc/plain'), join(root, 'missing')]), (err: NodeJS.ErrnoException) =>
      err.code === 'ENOENT' && err.syscall === 'llistxattr' && err.path === join(root, 'missing'));
    assert.deepEqual(xattrsOf([]), []);
  });
});
