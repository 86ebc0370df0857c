// The packer and the frame encoder on their own: tar-stream's packer as the oracle for every
// header, the same tar whatever the frame size (file bodies read straight into frames that
// end mid-file), GNU tar reading the result, and the thread-pool sha256 the encoder uses.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, linkSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import tar from 'tar-stream';
import { asyncHash, asyncSha256, lutimesNs, lsetxattr, mknod } from '../../src/native/index.js';
import { createFrameEncoder } from '../../src/snapshot/frameEncoder.js';
import { bufferedSink, encodeUstarHeader, packLayer, type UstarHeader } from '../../src/snapshot/pack.js';
import { walkUpperDir } from '../../src/snapshot/walk.js';
import { tempDir } from '../support/scratch.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function varied(): string {
  const root = tempDir('lk-pack-');
  dirs.push(root);
  mkdirSync(join(root, 'dir/sub'), { recursive: true });
  writeFileSync(join(root, 'empty'), '');
  writeFileSync(join(root, 'small'), 'hello\n');
  writeFileSync(join(root, 'big'), randomBytes((5 << 20) + 123));
  writeFileSync(join(root, `dir/${'long-'.repeat(40)}`), randomBytes(7000));
  writeFileSync(join(root, 'dir/ünï'), 'x');
  symlinkSync('../small', join(root, 'dir/link'));
  linkSync(join(root, 'small'), join(root, 'dir/hard'));
  mknod(join(root, 'fifo'), 0o010644, 0, 0);
  writeFileSync(join(root, 'odd'), 'y');
  chownSync(join(root, 'odd'), 3_000_000, 70_000);
  execFileSync('chmod', ['4750', join(root, 'odd')]); // after chown, which clears setuid
  writeFileSync(join(root, 'zero-mode'), 'z');
  execFileSync('chmod', ['000', join(root, 'zero-mode')]);
  lsetxattr(join(root, 'small'), 'user.bin', Buffer.from([0, 1, 255]));
  lutimesNs(join(root, 'dir/sub'), 1n, 1_700_000_000_123_456_789n);
  return root;
}

async function packToBuffer(root: string, frameSize?: number): Promise<Buffer> {
  const { entries } = walkUpperDir(root);
  const parts: Buffer[] = [];
  if (frameSize === undefined) {
    const sink = bufferedSink(async (b) => { parts.push(Buffer.from(b)); }, 4096);
    await packLayer(entries, sink);
    await sink.end();
    return Buffer.concat(parts);
  }
  const enc = createFrameEncoder(async (b) => { parts.push(Buffer.from(b)); }, { frameSize });
  await packLayer(entries, enc);
  await enc.end();
  return execFileSync('zstd', ['-dcq'], { input: Buffer.concat(parts), maxBuffer: 64 << 20 });
}

describe('packer', () => {
  it('encodes each header as tar-stream\'s packer does', async () => {
    const headers: UstarHeader[] = [
      { name: 'a/file', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 12345, mtime: new Date(1_700_000_000_000), uname: '', gname: '' },
      { name: 'a/dir', type: 'directory', mode: 0o1777, uid: 1000, gid: 1000, size: 0, mtime: new Date(0), uname: '', gname: '' },
      { name: 'l', type: 'symlink', mode: 0o777, uid: 1, gid: 2, size: 0, mtime: new Date(5000), linkname: '../target', uname: '', gname: '' },
      { name: 'h', type: 'link', mode: 0o4755, uid: 0o777777, gid: 0, size: 0, mtime: new Date(5000), linkname: 'a/file', uname: '', gname: '' },
      { name: 'c', type: 'character-device', mode: 0o600, uid: 0, gid: 0, size: 0, mtime: new Date(5000), devmajor: 1, devminor: 3, uname: '', gname: '' },
      { name: `${'p/'.repeat(60)}x`, type: 'fifo', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: new Date(5000), uname: '', gname: '' },
    ];
    for (const h of headers) {
      const pack = tar.pack();
      const chunks: Buffer[] = [];
      const done = (async () => { for await (const c of pack) chunks.push(c as Buffer); })();
      if (h.type === 'file') pack.entry({ ...h }, Buffer.alloc(h.size));
      else pack.entry({ ...h });
      pack.finalize();
      await done;
      assert.ok(encodeUstarHeader(h).equals(Buffer.concat(chunks).subarray(0, 512)), `header of ${h.name}`);
    }
  });

  it('writes the same tar whatever the frame size, and GNU tar lists it', async () => {
    const root = varied();
    const plain = await packToBuffer(root);
    for (const frameSize of [4096, 1 << 20, 4 << 20]) {
      assert.ok((await packToBuffer(root, frameSize)).equals(plain), `frame size ${frameSize}`);
    }
    assert.equal(plain.length % 512, 0);
    assert.ok(plain.subarray(plain.length - 1024).equals(Buffer.alloc(1024)), 'ends with two zero blocks');
    const listing = execFileSync('tar', ['-tvf', '-', '--numeric-owner'], { input: plain, maxBuffer: 16 << 20 }).toString();
    assert.match(listing, /-rwsr-x--- 3000000\/70000 +1 .* odd\n/);
    assert.match(listing, /---------- 0\/0 +1 .* zero-mode\n/);
    assert.match(listing, new RegExp(`-rw-r--r-- 0/0 +7000 .* dir/${'long-'.repeat(40)}\\n`));
    assert.match(listing, /small link to dir\/hard/); // the walk keeps the first path in order as the file
    assert.match(listing, /dir\/link -> \.\.\/small/);
    assert.match(listing, /dir\/ünï/);
    assert.match(listing, new RegExp(`-rw-r--r-- 0/0 +${(5 << 20) + 123} .* big\\n`));
  });

  it('fails naming the file when it changes size between walk and pack', async () => {
    const root = varied();
    const { entries } = walkUpperDir(root);
    writeFileSync(join(root, 'big'), 'short now');
    const sink = bufferedSink(async () => {});
    await assert.rejects(packLayer(entries, sink), /big: file changed while the snapshot was taken/);
  });
});

describe('thread-pool digests', () => {
  for (const [name, make] of [['sha256', asyncSha256], ['md5', () => asyncHash('md5')]] as const) {
    it(`${name}: the same digest as node:crypto for updates of any size, in order`, async () => {
      const h = make();
      const ref = createHash(name);
      const queued: Promise<void>[] = [];
      for (const n of [0, 1, 63, 64, 65, 4096, 1 << 20, 3_000_001]) {
        const b = randomBytes(n);
        ref.update(b);
        queued.push(h.update(b)); // several in flight at once: they must still be hashed in order
      }
      await Promise.all(queued);
      assert.ok((await h.digest()).equals(ref.digest()));
      await assert.rejects(h.digest(), /digest already taken/);
    });
  }
  it('refuses an unknown algorithm', () => {
    assert.throws(() => asyncHash('sha1' as 'md5'), /'sha256' or 'md5'/);
  });
});
