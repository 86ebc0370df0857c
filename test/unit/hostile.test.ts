// Hostile layers: each class is refused with an error naming the entry, and nothing appears
// or changes outside the unpack root (a sentinel directory beside it is checked every time).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readTar, TarFormatError } from '../../src/snapshot/tarReader.js';
import { unpackLayer, UnpackError, type UnpackOptions } from '../../src/snapshot/unpack.js';
import { applyLayerWhiteouts, overlayUpperWhiteouts } from '../../src/snapshot/whiteout.js';
import { BLOCK, TarBuilder, chunked, header } from '../support/tarBuilder.js';

interface Arena {
  dir: string;
  root: string;
  sentinel: string;
  canary: string;
}

function arena(t: TestContext): Arena {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-hostile-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  const sentinel = path.join(dir, 'sentinel');
  fs.mkdirSync(root, { mode: 0o700 });
  fs.mkdirSync(sentinel);
  const canary = path.join(sentinel, 'canary');
  fs.writeFileSync(canary, 'canary');
  return { dir, root, sentinel, canary };
}

/** Everything outside root is as arena() left it. */
function assertOutsideUntouched(a: Arena): void {
  assert.deepEqual(fs.readdirSync(a.dir).sort(), ['root', 'sentinel']);
  assert.deepEqual(fs.readdirSync(a.sentinel), ['canary']);
  const st = fs.lstatSync(a.canary);
  assert.ok(st.isFile());
  assert.equal(st.nlink, 1, 'no hard link to the canary was made');
  assert.equal(st.mode & 0o7777, 0o644);
  assert.equal(fs.readFileSync(a.canary, 'utf8'), 'canary');
}

const upper = (): UnpackOptions => ({ whiteouts: overlayUpperWhiteouts({ opaqueXattr: 'trusted.overlay.opaque' }) });

interface Expect {
  /** The layer path the message must name (JSON-quoted), or null when it names a byte offset. */
  entry: string | null;
  reason: RegExp;
  opts?: UnpackOptions;
  errorClass?: typeof UnpackError | typeof TarFormatError;
  /** Puts things into the (fresh) root first, as a lower layer would. */
  seed?: (root: string) => void;
}

/** Unpacks `tar` into a fresh root and expects a one-line refusal naming the entry. */
async function refused(a: Arena, tar: Buffer, x: Expect): Promise<void> {
  fs.rmSync(a.root, { recursive: true, force: true });
  fs.mkdirSync(a.root, { mode: 0o700 });
  x.seed?.(a.root);
  await assert.rejects(unpackLayer(readTar(chunked(tar, 700)), a.root, x.opts ?? upper()), (err: Error) => {
    assert.ok(err instanceof (x.errorClass ?? UnpackError), `${err.name}: ${err.message}`);
    if (x.entry !== null) assert.ok(err.message.includes(JSON.stringify(x.entry)), `names ${x.entry}: ${err.message}`);
    assert.match(err.message, x.reason);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
  assertOutsideUntouched(a);
}

const apply = (): UnpackOptions => ({ whiteouts: applyLayerWhiteouts(), linkToExisting: true });

test('absolute path', async (t) => {
  const a = arena(t);
  const evil = path.join(a.sentinel, 'pwned');
  await refused(a, new TarBuilder().file(evil, 'x').bytes(), { entry: evil, reason: /: absolute path$/ });
  await refused(a, new TarBuilder().pax([['path', evil]]).file('innocent', 'x').bytes(), { entry: evil, reason: /absolute path/, opts: apply() });
});

test("'..' component", async (t) => {
  const a = arena(t);
  await refused(a, new TarBuilder().file('../sentinel/pwned', 'x').bytes(), { entry: '../sentinel/pwned', reason: /'\.\.' component/ });
  await refused(a, new TarBuilder().dir('a').file('a/../../sentinel/pwned', 'x').bytes(), { entry: 'a/../../sentinel/pwned', reason: /'\.\.' component/ });
  await refused(a, new TarBuilder().dir('..').bytes(), { entry: '..', reason: /'\.\.' component/, opts: apply() });
  // A whiteout can name ".." too.
  await refused(a, new TarBuilder().file('.wh...', '').bytes(), { entry: '.wh...', reason: /whiteout names no valid entry \("\.\."\)/ });
  await refused(a, new TarBuilder().file('d/.wh...', '').bytes(), { entry: 'd/.wh...', reason: /whiteout names no valid entry/, opts: apply() });
});

test('path through a symlink created earlier in the same archive', async (t) => {
  const a = arena(t);
  await refused(a, new TarBuilder().symlink('link', '../sentinel').file('link/pwned', 'x').bytes(), { entry: 'link/pwned', reason: /"link" on the way is a symlink/ });
  await refused(a, new TarBuilder().symlink('abs', a.sentinel).dir('abs/sub').bytes(), { entry: 'abs/sub', reason: /"abs" on the way is a symlink/ });
  // Deeper, for every kind of node made through it, in both modes.
  const through: Array<(b: TarBuilder) => TarBuilder> = [
    (b) => b.fifo('d/l/x'),
    (b) => b.symlink('d/l/x', 'y'),
    (b) => b.file('d/l/.wh.canary', ''),
    (b) => b.file('d/l/.wh..wh..opq', ''),
  ];
  for (const build of through) {
    const tar = build(new TarBuilder().dir('d').symlink('d/l', '../../sentinel')).bytes();
    for (const opts of [upper(), apply()]) {
      await refused(a, tar, { entry: null, reason: /^layer entry "d\/l\/[^"]+": "d\/l" on the way is a symlink$/, opts });
    }
  }
});

test('symlink, then a file written at or through it', async (t) => {
  const a = arena(t);
  // The same path again is a duplicate, never a write through the link.
  await refused(a, new TarBuilder().symlink('s', '../sentinel/canary').file('s', 'overwritten').bytes(), { entry: 's', reason: /duplicate entry/ });
  await refused(a, new TarBuilder().symlink('s', a.canary).file('s/x', 'x').bytes(), { entry: 's/x', reason: /"s" on the way is a symlink/ });
  // Onto a live tree an existing symlink is replaced, not followed...
  fs.symlinkSync(a.canary, path.join(a.root, 'below'));
  fs.symlinkSync(a.sentinel, path.join(a.root, 'belowdir'));
  await unpackLayer(readTar(chunked(new TarBuilder().file('below', 'new').dir('belowdir').bytes())), a.root, apply());
  assert.equal(fs.readFileSync(path.join(a.root, 'below'), 'utf8'), 'new');
  assert.ok(fs.lstatSync(path.join(a.root, 'belowdir')).isDirectory());
  assertOutsideUntouched(a);
  // ...and a path through one is refused.
  const seed = (root: string): void => fs.symlinkSync(a.sentinel, path.join(root, 'belowdir'));
  await refused(a, new TarBuilder().file('belowdir/pwned', 'x').bytes(), { entry: 'belowdir/pwned', reason: /"belowdir" on the way is a symlink/, opts: apply(), seed });
  await refused(a, new TarBuilder().file('belowdir/.wh.canary', '').bytes(), { entry: 'belowdir/.wh.canary', reason: /on the way is a symlink/, opts: apply(), seed });
});

test('hard link to outside', async (t) => {
  const a = arena(t);
  await refused(a, new TarBuilder().hardlink('h', a.canary).bytes(), { entry: 'h', reason: /hard link target "\/[^"]*" refused: absolute path/ });
  await refused(a, new TarBuilder().hardlink('h', a.canary).bytes(), { entry: 'h', reason: /absolute path/, opts: apply() });
});

test("hard link to '..'", async (t) => {
  const a = arena(t);
  await refused(a, new TarBuilder().hardlink('h', '../sentinel/canary').bytes(), {
    entry: 'h',
    reason: /hard link target "\.\.\/sentinel\/canary" refused: path has a '\.\.' component/,
  });
  await refused(a, new TarBuilder().hardlink('h', '..').bytes(), { entry: 'h', reason: /'\.\.' component/, opts: apply() });
});

test('hard link to a nonexistent entry', async (t) => {
  const a = arena(t);
  await refused(a, new TarBuilder().hardlink('h', 'missing').bytes(), { entry: 'h', reason: /"missing" is not an earlier regular file of this layer/ });
  // A later entry does not count.
  await refused(a, new TarBuilder().hardlink('h', 'later').file('later', 'x').bytes(), { entry: 'h', reason: /not an earlier regular file/ });
  await refused(a, new TarBuilder().hardlink('h', 'missing').bytes(), { entry: 'h', reason: /"missing" does not exist/, opts: apply() });
  // Nor does something this layer whited out, or a directory.
  await refused(a, new TarBuilder().file('.wh.gone', '').hardlink('h', 'gone').bytes(), {
    entry: 'h',
    reason: /not an earlier regular file/,
    opts: apply(),
    seed: (root) => fs.writeFileSync(path.join(root, 'gone'), 'x'),
  });
  await refused(a, new TarBuilder().dir('d').hardlink('h', 'd').bytes(), { entry: 'h', reason: /not an earlier regular file/ });
});

test('hard link to a symlink pointing outside', async (t) => {
  const a = arena(t);
  await refused(a, new TarBuilder().symlink('s', a.canary).hardlink('h', 's').bytes(), { entry: 'h', reason: /"s" is not an earlier regular file/ });
  await refused(a, new TarBuilder().symlink('s2', '../sentinel/canary').hardlink('h2', 's2').bytes(), { entry: 'h2', reason: /not an earlier regular file/ });
  // Onto a live tree, with the symlink already there.
  await refused(a, new TarBuilder().hardlink('h3', 'pre').bytes(), {
    entry: 'h3',
    reason: /"pre" is not a regular file/,
    opts: apply(),
    seed: (root) => fs.symlinkSync(a.canary, path.join(root, 'pre')),
  });
  // And to a real file beyond a symlinked directory.
  await refused(a, new TarBuilder().hardlink('h4', 'predir/canary').bytes(), {
    entry: 'h4',
    reason: /"predir" on the way is a symlink/,
    opts: apply(),
    seed: (root) => fs.symlinkSync(a.sentinel, path.join(root, 'predir')),
  });
});

test('device node (char 1/3) without allowDevices', async (t) => {
  const a = arena(t);
  await refused(a, new TarBuilder().device('char', 'dev/mem', 1, 3).bytes(), { entry: 'dev/mem', reason: /char device 1:3 refused \(device nodes are not allowed\)/ });
  assert.equal(fs.existsSync(path.join(a.root, 'dev')), false);
  await refused(a, new TarBuilder().device('block', 'sda', 8, 0).bytes(), { entry: 'sda', reason: /block device 8:0 refused/, opts: apply() });
  // A 0/0 char device under its own name is a device too, not a whiteout.
  await refused(a, new TarBuilder().device('char', 'sneaky', 0, 0).bytes(), { entry: 'sneaky', reason: /char device 0:0 refused/ });
});

test('duplicate entry', async (t) => {
  const a = arena(t);
  await refused(a, new TarBuilder().file('a', '1').file('a', '2').bytes(), { entry: 'a', reason: /duplicate entry/ });
  await refused(a, new TarBuilder().dir('d').dir('d').bytes(), { entry: 'd', reason: /duplicate entry/, opts: apply() });
  await refused(a, new TarBuilder().file('x/y', '1').file('x/.wh.y', '').bytes(), { entry: 'x/.wh.y', reason: /whiteout of "x\/y", which this layer itself creates/ });
  await refused(a, new TarBuilder().file('.wh.z', '').file('z', '1').bytes(), { entry: 'z', reason: /duplicate entry/ });
  await refused(a, new TarBuilder().file('q/.wh..wh..opq', '').file('q/.wh..wh..opq', '').bytes(), { entry: 'q/.wh..wh..opq', reason: /duplicate entry/ });
  // A file replacing a directory that holds entries of this layer would silently delete them.
  await refused(a, new TarBuilder().file('p/child', '1').file('p', 'file').bytes(), { entry: 'p', reason: /a file entry after entries of this layer beneath it/, opts: apply() });
});

test('NUL in a PAX path (and in GNU long names)', async (t) => {
  const a = arena(t);
  const tf = TarFormatError;
  await refused(a, new TarBuilder().pax([['path', 'ok\0../../sentinel/pwned']]).file('x', 'x').bytes(), { entry: 'ok\0../../sentinel/pwned', reason: /: name contains a NUL byte$/, errorClass: tf });
  await refused(a, new TarBuilder().pax([['linkpath', 't\0x']]).symlink('l', 'x').bytes(), { entry: 'l', reason: /link name contains a NUL byte/, errorClass: tf });
  await refused(a, new TarBuilder().gnuLong('L', 'a\0b').file('x', 'x').bytes(), { entry: null, reason: /^tar header at byte 0: GNU 'L' name contains a NUL byte$/, errorClass: tf });
});

test('PAX header with an absurd declared size fails fast without allocating it', async (t) => {
  const a = arena(t);
  const tenGiB = 10n * 1024n * 1024n * 1024n;
  const tar = Buffer.concat([header({ name: 'PaxHeader', typeflag: 'x', size: tenGiB, base256: ['size'] }), Buffer.alloc(4 * BLOCK)]);
  const before = process.memoryUsage().arrayBuffers;
  // Refused on the declared size, before reading or allocating it (no stopwatch: the reason names
  // the limit, which only the header check reports, and the memory check shows nothing was allocated).
  await refused(a, tar, { entry: null, reason: /^tar header at byte 0: 'x' header declares 10737418240 bytes, over the 1048576-byte limit$/, errorClass: TarFormatError });
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
  const gnu = Buffer.concat([header({ name: '././@LongLink', typeflag: 'L', size: 2n ** 40n, format: 'gnu' }), Buffer.alloc(BLOCK)]);
  await refused(a, gnu, { entry: null, reason: /'L' header declares 1099511627776 bytes/, errorClass: TarFormatError });
});

test('truncated archive: mid-header, mid-body, a partial block', async (t) => {
  const a = arena(t);
  const tf = TarFormatError;
  // first: header at 0, content 512..2512 (padded to 2560); second: header at 2560, content at 3072; end at 3584.
  const whole = new TarBuilder().file('first', 'x'.repeat(2000)).file('second', 'y').bytes();
  await refused(a, whole.subarray(0, 2560 + 300), { entry: null, reason: /^tar header at byte 2560: archive truncated in a header$/, errorClass: tf });
  await refused(a, whole.subarray(0, 512 + 1000), { entry: 'first', reason: /archive truncated in the content \(1000 of 2000 bytes missing\)/, errorClass: tf });
  await refused(a, whole.subarray(0, 3072 + 100), { entry: 'second', reason: /archive truncated in the content/, errorClass: tf });
  await refused(a, Buffer.concat([whole.subarray(0, 3584), Buffer.alloc(300)]), { entry: null, reason: /^tar header at byte 3584: archive truncated in a header$/, errorClass: tf });
  await refused(a, Buffer.concat([whole.subarray(0, 4096), Buffer.alloc(300)]), { entry: null, reason: /^tar archive truncated at byte 4396: a partial block after a zero block$/, errorClass: tf });
  const paxCut = new TarBuilder().pax([['path', 'p'.repeat(600)]]).body().subarray(0, BLOCK + 100);
  await refused(a, paxCut, { entry: null, reason: /^tar header at byte 0: archive truncated in a 'x' header$/, errorClass: tf });
});

test('bad checksum', async (t) => {
  const a = arena(t);
  const tar = new TarBuilder().file('fine', 'x').entry({ name: 'corrupt', checksum: 'bad' }).bytes();
  await refused(a, tar, { entry: null, reason: /^tar header at byte 1024: header checksum mismatch$/, errorClass: TarFormatError });
  const flipped = new TarBuilder().file('flipped', 'x').bytes();
  flipped[0] ^= 0x01; // one bit of the name
  await refused(a, flipped, { entry: null, reason: /^tar header at byte 0: header checksum mismatch$/, errorClass: TarFormatError });
});

test('unknown typeflag (and GNU sparse, multi-volume)', async (t) => {
  const a = arena(t);
  const kinds = [['Z', 'unknown'], ['S', 'GNU sparse file'], ['M', 'GNU multi-volume continuation']];
  for (const [flag, what] of kinds) {
    const tar = new TarBuilder().file('before', 'x').entry({ name: `weird-${flag}`, typeflag: flag }).bytes();
    await refused(a, tar, { entry: `weird-${flag}`, reason: new RegExp(`: ${what} typeflag "${flag}" is not supported$`), errorClass: TarFormatError });
  }
});

test('whiteout names used as directories or naming nothing', async (t) => {
  const a = arena(t);
  await refused(a, new TarBuilder().file('.wh.x/inside', 'x').bytes(), { entry: '.wh.x/inside', reason: /a whiteout name cannot be a directory/ });
  await refused(a, new TarBuilder().file('.wh.', '').bytes(), { entry: '.wh.', reason: /whiteout names no valid entry/, opts: apply() });
  // AUFS bookkeeping is skipped with a warning, never written.
  const warnings: string[] = [];
  const aufs = new TarBuilder().dir('.wh..wh.plnk').file('.wh..wh.plnk/123.456', 'x').file('kept', 'k').bytes();
  const r = await unpackLayer(readTar(chunked(aufs)), a.root, { ...upper(), onWarning: (m) => warnings.push(m) });
  assert.equal(r.files, 1);
  assert.deepEqual(fs.readdirSync(a.root), ['kept']);
  assert.deepEqual(warnings, ['layer entry ".wh..wh.plnk": AUFS meta entry ignored', 'layer entry ".wh..wh.plnk/123.456": AUFS meta entry ignored']);
});
