// Full disks, on real (small) tmpfs mounts: a restore that runs out of space, and a snapshot
// whose store runs out of space, fail naming the cause, leave the target and the previous
// snapshot as they were, and leave no temp files behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { closeContext, openContext } from '../../src/ops/context.js';
import { restore } from '../../src/ops/restore.js';
import { snapshot } from '../../src/ops/snapshot.js';
import { tempDir, umount } from '../support/scratch.js';

const mounts: string[] = [];
const dirs: string[] = [];
after(() => { for (const m of mounts.reverse()) umount(m); for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function smallDisk(sizeKiB: number): string {
  const d = tempDir('lk-full-');
  dirs.push(d);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', d]);
  mounts.push(d);
  return d;
}

/** Many small files (the batched restore path) and one larger one (the streamed path). */
function layer(root: string, smallFiles: number): void {
  for (let i = 0; i < smallFiles; i++) {
    mkdirSync(join(root, `d${i % 10}`), { recursive: true });
    writeFileSync(join(root, `d${i % 10}/f${i}`), randomBytes(3000));
  }
  writeFileSync(join(root, 'big'), randomBytes(3 << 20));
}

describe('full disks', { timeout: 120_000 }, () => {
  it('a restore that runs out of space fails naming ENOSPC and leaves the target as it was', async () => {
    const base = tempDir('lk-full-src-');
    dirs.push(base);
    const up = join(base, 'upper');
    layer(up, 2000); // ~9 MiB of content
    const ctx = await openContext({ store: join(base, 'store'), stateDir: join(base, 'state') });
    try {
      await snapshot(ctx, { key: 'k', dir: up });
      const disk = smallDisk(4096);
      const target = join(disk, 'target');
      mkdirSync(target);
      writeFileSync(join(target, 'keep'), 'mine');
      await assert.rejects(restore(ctx, { key: 'k', dir: target, force: true }), (err: Error) => {
        assert.match(err.message, /ENOSPC/);
        assert.match(err.message, /layer entry "(d\d\/f\d+|big)"/, 'names the entry it was writing');
        return true;
      });
      assert.deepEqual(readdirSync(target), ['keep']);
      assert.equal(readFileSync(join(target, 'keep'), 'utf8'), 'mine');
      assert.deepEqual(readdirSync(disk), ['target'], 'temp dir beside the target removed');
    } finally {
      await closeContext(ctx);
    }
  });

  it('a snapshot whose store runs out of space fails naming ENOSPC; the previous snapshot stays current', async () => {
    const base = tempDir('lk-full-snap-');
    dirs.push(base);
    const up = join(base, 'upper');
    mkdirSync(up);
    writeFileSync(join(up, 'small'), 'v1');
    const store = join(smallDisk(2048), 'store');
    const ctx = await openContext({ store, stateDir: join(base, 'state') });
    try {
      const first = await snapshot(ctx, { key: 'k', dir: up });
      layer(up, 200); // incompressible, bigger than the disk
      await assert.rejects(snapshot(ctx, { key: 'k', dir: up }), /ENOSPC/);
      const ref = JSON.parse(readFileSync(join(store, 'refs/k'), 'utf8')) as { current: string };
      assert.equal(ref.current, first.manifestDigest);
      assert.deepEqual(readdirSync(join(store, 'tmp')), [], 'no partial blob left');
      assert.equal(existsSync(join(store, 'blobs/sha256', first.blobDigest.slice(7))), true);
      // and once there is room again, the next snapshot goes through
      rmSync(join(up, 'big'));
      for (let i = 0; i < 200; i++) rmSync(join(up, `d${i % 10}/f${i}`));
      writeFileSync(join(up, 'small'), 'v2');
      assert.equal((await snapshot(ctx, { key: 'k', dir: up })).changed, true);
    } finally {
      await closeContext(ctx);
    }
  });
});
