// import publishes only layers a restore accepts: each archive below passes the tar reader
// but not the unpacker, and import refuses it with the unpacker's own message, storing nothing.
// And a restore that fails deep in a tree names the entry and leaves no temp tree behind.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { closeContext, openContext } from '../../src/ops/context.js';
import { readRef } from '../../src/ops/publish.js';
import { restore } from '../../src/ops/restore.js';
import { importLayer } from '../../src/ops/transfer.js';
import type { OpsContext } from '../../src/ops/types.js';
import { readTar } from '../../src/snapshot/tarReader.js';
import { unpackLayer } from '../../src/snapshot/unpack.js';
import { overlayUpperWhiteouts } from '../../src/snapshot/whiteout.js';
import { removeTree } from '../../src/snapshot/removeTree.js';
import { chunked, TarBuilder } from '../support/tarBuilder.js';
import { tempDir } from '../support/scratch.js';

const dirs: string[] = [];
const contexts: OpsContext[] = [];
after(() => {
  for (const c of contexts) closeContext(c);
  for (const d of dirs) removeTree(d);
});

const whiteouts = overlayUpperWhiteouts({ opaqueXattr: 'trusted.overlay.opaque' });

const REFUSED: Array<[string, () => TarBuilder, RegExp]> = [
  ['duplicate path', () => new TarBuilder().file('a', '1').file('a', '2'), /layer entry "a": duplicate entry/],
  ['parent path', () => new TarBuilder().file('../escape', 'x'), /layer entry "\.\.\/escape": path has a '\.\.' component/],
  ['absolute path', () => new TarBuilder().file('/etc/x', 'x'), /layer entry "\/etc\/x": absolute path/],
  ['file beneath a file', () => new TarBuilder().file('f', 'x').file('f/g', 'y'), /layer entry "f\/g": "f" on the way is not a directory/],
  ['file beneath a symlink', () => new TarBuilder().symlink('s', '/etc').file('s/passwd', 'y'), /layer entry "s\/passwd": "s" on the way is a symlink/],
  ['hard link to nothing', () => new TarBuilder().hardlink('l', 'missing'), /layer entry "l": hard link target "missing" is not an earlier regular file/],
  ['hard link to a directory', () => new TarBuilder().dir('d').hardlink('l', 'd'), /layer entry "l": hard link target "d" is not an earlier regular file/],
  ['whiteout used as a directory', () => new TarBuilder().file('.wh.x/y', 'x'), /a whiteout name cannot be a directory/],
  ['whiteout of its own entry', () => new TarBuilder().file('x', '1').file('.wh.x', ''), /whiteout of "x", which this layer itself creates/],
  ['a file after entries beneath it', () => new TarBuilder().file('d/inner', 'x').file('d', 'y'), /layer entry "d": a file entry after entries of this layer beneath it/],
  ['root that is not a directory', () => new TarBuilder().symlink('./', 'x'), /the layer root must be a directory/],
  ['device node', () => new TarBuilder().device('char', 'null', 1, 3), /layer entry "null": char device 1:3 refused/],
];

async function ctxIn(base: string): Promise<OpsContext> {
  const ctx = await openContext({ store: join(base, 'store'), stateDir: join(base, 'state') });
  contexts.push(ctx);
  return ctx;
}

describe('import validates what restore validates', { timeout: 120_000 }, () => {
  it('refuses every layer the unpacker refuses, with its message, and publishes nothing', async () => {
    const base = tempDir();
    dirs.push(base);
    const ctx = await ctxIn(base);
    for (const [what, build, re] of REFUSED) {
      const tar = build().bytes();
      const root = fs.mkdtempSync(join(base, 'unpack-'));
      // (the unpacker may word it differently: in a fresh root small files are written in batches)
      await assert.rejects(unpackLayer(readTar(chunked(tar)), root, { whiteouts, freshRoot: true }), /^UnpackError: layer entry /, `unpack: ${what}`);
      await assert.rejects(unpackLayer(readTar(chunked(tar)), fs.mkdtempSync(join(base, 'unpack-')), { whiteouts }), re, `unpack: ${what}`);
      const file = join(base, 'layer.tar');
      fs.writeFileSync(file, tar);
      const key = `k-${REFUSED.findIndex(([w]) => w === what)}`;
      await assert.rejects(importLayer(ctx, { key, file }), re, `import: ${what}`);
      assert.equal(await readRef(ctx, key), null, `nothing published for ${what}`);
    }
  });

  it('a restore failing 2,040 levels down names the entry and leaves no temp tree', async () => {
    const base = tempDir();
    dirs.push(base);
    const ctx = await ctxIn(base);
    const t = new TarBuilder();
    let p = '';
    for (let i = 0; i < 2040; i++) {
      p = p ? `${p}/d` : 'd';
      t.pax([['path', p]]).entry({ name: 'placeholder/', typeflag: '5', mode: 0o755 });
    }
    t.pax([['path', `${p}/null`]]).entry({ name: 'placeholder', typeflag: '3', devmajor: 1, devminor: 3 });
    const file = join(base, 'deep.tar');
    fs.writeFileSync(file, t.bytes());
    await importLayer(ctx, { key: 'deep', file, allowDevices: true }); // a restore with --allow-devices takes it
    const parent = join(base, 'target');
    fs.mkdirSync(parent);
    await assert.rejects(restore(ctx, { key: 'deep', dir: join(parent, 'upper') }), /layer entry "(d\/){2040}null": char device 1:3 refused/);
    assert.deepEqual(fs.readdirSync(parent), [], 'no temp tree left beside the target');
  });
});
