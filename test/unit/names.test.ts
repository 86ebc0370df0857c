// File names are bytes: a tree whose names are not UTF-8 (0xff, latin1, CESU-8 surrogates,
// a stray continuation byte) snapshots, diffs and restores byte for byte; GNU tar lists and
// extracts the layer to the same bytes. And depth: trees far past PATH_MAX, in the upper dir
// and in an archive, snapshot and restore without recursion or ENAMETOOLONG.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { closeContext, openContext } from '../../src/ops/context.js';
import { restore } from '../../src/ops/restore.js';
import { snapshot } from '../../src/ops/snapshot.js';
import { exportSnapshot, importLayer } from '../../src/ops/transfer.js';
import type { OpsContext } from '../../src/ops/types.js';
import { readTar } from '../../src/snapshot/tarReader.js';
import { unpackLayer } from '../../src/snapshot/unpack.js';
import { overlayUpperWhiteouts } from '../../src/snapshot/whiteout.js';
import { walkUpperDir } from '../../src/snapshot/walk.js';
import { removeTree } from '../../src/snapshot/removeTree.js';
import { chunked, TarBuilder } from '../support/tarBuilder.js';
import { tempDir } from '../support/scratch.js';

const dirs: string[] = [];
const contexts: OpsContext[] = [];
after(() => {
  for (const c of contexts) closeContext(c);
  for (const d of dirs) removeTree(d); // fs.rmSync fails on trees past PATH_MAX
});
function scratch(): string { const d = tempDir(); dirs.push(d); return d; }
async function ctxIn(base: string): Promise<OpsContext> {
  const ctx = await openContext({ store: join(base, 'store'), stateDir: join(base, 'state') });
  contexts.push(ctx);
  return ctx;
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const at = (dir: string, ...names: Buffer[]): Buffer => Buffer.concat([Buffer.from(`${dir}/`), ...names.flatMap((n, i) => (i ? [b('/'), n] : [n]))]);

/** Names no UTF-8 decoder keeps: a lone 0xff, latin1 é, a CESU-8 (surrogate) sequence, a stray continuation byte. */
const ODD = [b('ff-\xff'), b('caf\xe9'), b('surrogate-\xed\xa0\x80'), b('cont-\x80x')];

/** Every path under `root` as "type size hexbytes[ -> hex target]", sorted: byte exact, from find -print0. */
function listing(root: string): string[] {
  const out = execFileSync('find', ['.', '-mindepth', '1', '-printf', '%y %s %p\\0%l\\0'], { cwd: root, maxBuffer: 1 << 28 });
  const parts = out.toString('latin1').split('\0');
  const rows: string[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const [type, size] = parts[i]!.split(' ', 2);
    const name = parts[i]!.slice(type!.length + size!.length + 2);
    const link = parts[i + 1] ? ` -> ${Buffer.from(parts[i + 1]!, 'latin1').toString('hex')}` : '';
    rows.push(`${type} ${type === 'd' ? '-' : size} ${Buffer.from(name, 'latin1').toString('hex')}${link}`);
  }
  return rows.sort();
}

function makeOddTree(root: string): void {
  fs.mkdirSync(root, { recursive: true });
  for (const n of ODD) fs.writeFileSync(at(root, n), Buffer.concat([n, b('\n')]));
  fs.mkdirSync(at(root, b('dir-\xfe')));
  fs.writeFileSync(at(root, b('dir-\xfe'), b('inner-\xe9')), 'inner\n');
  fs.symlinkSync(b('target-\xff'), at(root, b('dir-\xfe'), b('link-\xe0'))); // a target that is not UTF-8 either
  fs.linkSync(at(root, ODD[0]!), at(root, b('hard-\xf0')));
  fs.writeFileSync(join(root, 'plain.txt'), 'plain\n');
}

describe('names that are not UTF-8', { timeout: 300_000 }, () => {
  it('snapshot, restore, export and GNU tar all keep the exact bytes', async () => {
    const base = scratch();
    const src = join(base, 'src');
    makeOddTree(src);
    const ctx = await ctxIn(base);
    const snap = await snapshot(ctx, { key: 'odd', dir: src });
    assert.equal(snap.kind, 'full');

    const out = join(base, 'restored');
    await restore(ctx, { key: 'odd', dir: out });
    assert.deepEqual(listing(out), listing(src));
    assert.ok(fs.readFileSync(at(out, ODD[0]!)).equals(Buffer.concat([ODD[0]!, b('\n')])));
    assert.ok(fs.readlinkSync(at(out, b('dir-\xfe'), b('link-\xe0')), 'buffer').equals(b('target-\xff')));

    // the layer as a plain tar: GNU tar lists and extracts the same bytes
    const tarFile = join(base, 'odd.tar');
    await exportSnapshot(ctx, { key: 'odd', output: tarFile });
    const gnu = join(base, 'gnu');
    fs.mkdirSync(gnu);
    execFileSync('tar', ['-xf', tarFile, '-C', gnu]);
    assert.deepEqual(listing(gnu), listing(src));
    const listed = execFileSync('tar', ['--quoting-style=literal', '-tf', tarFile]).toString('latin1').split('\n').filter(Boolean).map((l) => l.replace(/\/$/, ''));
    for (const n of ODD) assert.ok(listed.includes(n.toString('latin1')), `GNU tar lists ${n.toString('hex')}`);

    // and a tar GNU tar wrote from the same tree imports and restores to the same bytes
    const gnuTar = join(base, 'gnu-made.tar');
    execFileSync('tar', ['--format=posix', '-cf', gnuTar, '-C', src, '.']);
    await importLayer(ctx, { key: 'from-gnu', file: gnuTar });
    const out2 = join(base, 'restored-gnu');
    await restore(ctx, { key: 'from-gnu', dir: out2 });
    assert.deepEqual(listing(out2), listing(src));
  });

  it('diffs see changed and deleted odd names, and the chain restores byte for byte', async () => {
    const base = scratch();
    const src = join(base, 'src');
    makeOddTree(src);
    const ctx = await ctxIn(base);
    assert.equal((await snapshot(ctx, { key: 'k', dir: src })).kind, 'full');
    fs.writeFileSync(at(src, b('caf\xe9')), 'changed content, longer\n');
    fs.rmSync(at(src, b('surrogate-\xed\xa0\x80')));
    fs.rmSync(at(src, b('dir-\xfe')), { recursive: true });
    fs.writeFileSync(at(src, b('new-\xa4')), 'new\n');
    const second = await snapshot(ctx, { key: 'k', dir: src });
    assert.equal(second.kind, 'diff');
    assert.equal(second.changed, true);
    const out = join(base, 'restored');
    await restore(ctx, { key: 'k', dir: out });
    assert.deepEqual(listing(out), listing(src));
    assert.equal(fs.readFileSync(at(out, b('caf\xe9')), 'utf8'), 'changed content, longer\n');
    // the restored tree is the baseline: an immediate snapshot of it is unchanged
    assert.equal((await snapshot(ctx, { key: 'k', dir: out })).changed, false);
  });

  it('large files with such names are chunked and their chunks reused across diffs', async () => {
    const base = scratch();
    const src = join(base, 'src');
    fs.mkdirSync(src);
    const names = [b('big-\xff'), b('big-\xfe')]; // both would be "big-\ufffd" as UTF-8 text
    const content = (seed: number): Buffer => Buffer.from(Array.from({ length: 3 << 20 }, (_, i) => (i * 7 + seed * (i >> 16)) & 0xff));
    names.forEach((n, i) => fs.writeFileSync(at(src, n), content(i)));
    const ctx = await ctxIn(base);
    await snapshot(ctx, { key: 'big', dir: src });
    for (let round = 0; round < 2; round++) {
      for (const n of names) fs.appendFileSync(at(src, n), `edit ${round}\n`);
      assert.equal((await snapshot(ctx, { key: 'big', dir: src })).kind, 'diff');
    }
    const out = join(base, 'restored');
    await restore(ctx, { key: 'big', dir: out });
    for (const n of names) assert.ok(fs.readFileSync(at(out, n)).equals(fs.readFileSync(at(src, n))));
  });
});

/** A chain of `depth` nested directories named `name`, each made relative to the previous one
 *  (a child process changes directory one level at a time: no path grows past PATH_MAX). */
function makeDeep(root: string, depth: number, name: string): void {
  fs.mkdirSync(root, { recursive: true });
  const script = 'import os,sys\nos.chdir(sys.argv[1])\nfor _ in range(int(sys.argv[2])):\n os.mkdir(sys.argv[3]); os.chdir(sys.argv[3])\nopen("leaf","w").write("deep\\n")\nos.symlink("../leaf","up")\n';
  execFileSync('python3', ['-c', script, root, String(depth), name]);
}

describe('trees deeper than PATH_MAX', { timeout: 300_000 }, () => {
  it('a 2,500-level upper dir snapshots and restores exactly; the temp trees go without recursion', async () => {
    const base = scratch();
    const src = join(base, 'src');
    makeDeep(src, 2500, 'dd');
    const ctx = await ctxIn(base);
    const walk = walkUpperDir(src);
    assert.equal(walk.entries.length, 2502);
    assert.equal(walk.skipped, 0);
    await snapshot(ctx, { key: 'deep', dir: src });
    // a second snapshot of the unchanged tree is a no-op (the baseline covers every level)
    assert.equal((await snapshot(ctx, { key: 'deep', dir: src })).changed, false);
    const out = join(base, 'restored');
    await restore(ctx, { key: 'deep', dir: out });
    assert.deepEqual(listing(out), listing(src));
    // removing such a tree needs neither recursion nor long paths
    removeTree(out);
    assert.equal(fs.existsSync(out), false);
  });

  it('an entry deeper than a layer path may be is left out with a warning naming it, and counted', async () => {
    const base = scratch();
    const src = join(base, 'src');
    makeDeep(src, 270, 'n'.repeat(250)); // 270 x 251 bytes: past the 64 KiB a layer path may have
    fs.writeFileSync(join(src, 'top.txt'), 'top\n');
    const walk = walkUpperDir(src);
    assert.equal(walk.skipped, 1);
    assert.equal(walk.warnings.length, 1);
    assert.match(walk.warnings[0]!, /^(n{250}\/){0,1}n+\.\.\.: path longer than 65536 bytes left out with everything below it$/);
    assert.equal(walk.entries.filter((e) => e.type === 'dir').length, 261); // 261 x 251 - 1 < 65536 <= 262 x 251 - 1
    const ctx = await ctxIn(base);
    const snap = await snapshot(ctx, { key: 'too-deep', dir: src });
    assert.equal(snap.changed, true);
    const out = join(base, 'restored');
    await restore(ctx, { key: 'too-deep', dir: out });
    assert.equal(fs.readFileSync(join(out, 'top.txt'), 'utf8'), 'top\n');
  });

  it('an archive 3,000 levels deep imports and restores, in time linear in the depth', async () => {
    const base = scratch();
    const t = new TarBuilder();
    let p = '';
    for (let i = 0; i < 3000; i++) {
      p = p ? `${p}/d` : 'd';
      t.pax([['path', p]]).entry({ name: 'placeholder/', typeflag: '5', mode: 0o755 });
    }
    t.pax([['path', `${p}/leaf`]]).file('placeholder', 'leaf\n');
    const tar = t.bytes();
    const root = join(base, 'unpacked');
    fs.mkdirSync(root);
    const r = await unpackLayer(readTar(chunked(tar)), root, { whiteouts: overlayUpperWhiteouts({ opaqueXattr: 'trusted.overlay.opaque' }), freshRoot: true });
    assert.equal(r.files, 3001);
    const leaf = execFileSync('find', ['.', '-name', 'leaf'], { cwd: root }).toString().trim();
    assert.equal(leaf.split('/').length, 3002);
    // import validates it as restore would, and a restore through the store gives the same tree
    const file = join(base, 'deep.tar');
    fs.writeFileSync(file, tar);
    const ctx = await ctxIn(base);
    await importLayer(ctx, { key: 'deep-archive', file });
    const out = join(base, 'restored');
    await restore(ctx, { key: 'deep-archive', dir: out });
    assert.deepEqual(listing(out), listing(root));
  });
});
