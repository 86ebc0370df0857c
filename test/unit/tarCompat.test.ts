// The tar reader accepts what GNU tar and Go's archive/tar read (but sparse files and
// multi-volume parts): one test per format, each archive built byte by byte and each checked
// against GNU tar's own reading of the same bytes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readTar } from '../../src/snapshot/tarReader.js';
import { unpackLayer } from '../../src/snapshot/unpack.js';
import { overlayUpperWhiteouts } from '../../src/snapshot/whiteout.js';
import { BLOCK, TarBuilder, chunked, header, padded, paxRecords } from '../support/tarBuilder.js';

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-tarcompat-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every path under `root` as raw bytes (hex), with its type, sorted: a byte-exact listing. */
function listing(root: string): string[] {
  const out = execFileSync('find', ['.', '-mindepth', '1', '-printf', '%y %p\\0'], { cwd: root });
  return out.toString('latin1').split('\0').filter(Boolean).map((l) => `${l[0]} ${Buffer.from(l.slice(4), 'latin1').toString('hex')}`).sort();
}

/** Unpacks with layerkeep and with GNU tar; both trees must list the same byte names. */
async function bothRead(t: TestContext, tar: Buffer, compareWithGnu = true): Promise<{ root: string; warnings: string[]; names: string[] }> {
  const dir = tempDir(t);
  const file = path.join(dir, 'a.tar');
  fs.writeFileSync(file, tar);
  const gnu = path.join(dir, 'gnu');
  fs.mkdirSync(gnu);
  execFileSync('tar', ['-xf', file, '-C', gnu], { stdio: ['ignore', 'ignore', 'pipe'] });
  const root = path.join(dir, 'lk');
  fs.mkdirSync(root);
  const warnings: string[] = [];
  await unpackLayer(readTar(chunked(tar, 1000), { onWarning: (w) => warnings.push(w) }), root, {
    whiteouts: overlayUpperWhiteouts({ opaqueXattr: 'trusted.overlay.opaque' }), onWarning: (w) => warnings.push(w),
  });
  const names = listing(root);
  if (compareWithGnu) assert.deepEqual(names, listing(gnu), 'layerkeep and GNU tar unpack the same names');
  return { root, warnings, names };
}

const hex = (s: string | Buffer): string => Buffer.from(s).toString('hex');

test('an archive that ends without the two zero blocks (at an entry boundary)', async (t) => {
  const tar = new TarBuilder().dir('d').file('d/f', 'hello').body();
  const { root, warnings } = await bothRead(t, tar);
  assert.equal(fs.readFileSync(path.join(root, 'd/f'), 'utf8'), 'hello');
  assert.ok(warnings.some((w) => /without an end-of-archive marker/.test(w)), warnings.join('\n'));
});

test('an archive that ends after a single zero block', async (t) => {
  const tar = Buffer.concat([new TarBuilder().file('f', 'x').body(), Buffer.alloc(BLOCK)]);
  const { root, warnings } = await bothRead(t, tar);
  assert.equal(fs.readFileSync(path.join(root, 'f'), 'utf8'), 'x');
  assert.ok(warnings.some((w) => /single zero block/.test(w)));
});

test('ustar magic with unusual version fields (NULs, spaces, "01") still uses the name prefix', async (t) => {
  const b = new TarBuilder();
  for (const version of ['\0\0', '  ', '01']) {
    b.entry({ name: `f-${version.charCodeAt(0)}`, prefix: 'pre', version }, Buffer.from(version));
  }
  const { root, names } = await bothRead(t, Buffer.concat([new TarBuilder().dir('pre').body(), b.bytes()]));
  assert.deepEqual(names, ['d 707265', `f ${hex('pre/f-0')}`, `f ${hex('pre/f-32')}`, `f ${hex('pre/f-48')}`]);
  assert.equal(fs.readFileSync(path.join(root, 'pre/f-48'), 'latin1'), '01');
});

test('v7 archive: no magic, numbers with spaces, a directory by its trailing slash', async (t) => {
  const v7 = { format: 'v7' as const, spacedNumbers: true };
  const tar = new TarBuilder()
    .entry({ ...v7, name: 'dir/', typeflag: '\0', mode: 0o755 })
    .entry({ ...v7, name: 'dir/file', typeflag: '\0', mode: 0o640, uid: 1000, gid: 100 }, Buffer.from('v7 data'))
    .entry({ ...v7, name: 'dir/link', typeflag: '1', linkname: 'dir/file' })
    .entry({ ...v7, name: 'dir/sym', typeflag: '2', linkname: 'file', mode: 0o777 })
    .bytes();
  const { root } = await bothRead(t, tar);
  const st = fs.statSync(path.join(root, 'dir/file'));
  assert.equal(fs.readFileSync(path.join(root, 'dir/file'), 'utf8'), 'v7 data');
  assert.deepEqual([st.mode & 0o7777, st.uid, st.gid, st.nlink], [0o640, 1000, 100, 2]);
  assert.equal(fs.readlinkSync(path.join(root, 'dir/sym')), 'file');
  assert.ok(fs.lstatSync(path.join(root, 'dir')).isDirectory());
});

test('v7 archive with zero-padded numbers and typeflag "0"', async (t) => {
  const tar = new TarBuilder().entry({ format: 'v7', name: 'a', typeflag: '0' }, Buffer.from('AAA')).entry({ format: 'v7', name: 'b/', typeflag: '0' }).bytes();
  const { root, names } = await bothRead(t, tar);
  assert.deepEqual(names, [`d ${hex('b')}`, `f ${hex('a')}`]);
  assert.equal(fs.readFileSync(path.join(root, 'a'), 'utf8'), 'AAA');
});

test('names that are not UTF-8: latin1 in ustar, GNU and PAX headers, restored byte for byte', async (t) => {
  const latin = (s: string): Buffer => Buffer.from(s, 'latin1');
  const tar = new TarBuilder()
    .entry({ name: latin('d\xe9j\xe0/'), typeflag: '5', mode: 0o755 })
    .file(latin('d\xe9j\xe0/caf\xe9'), 'ustar', {})
    .entry({ name: latin('d\xe9j\xe0/gnu-\xff'), format: 'gnu' }, Buffer.from('gnu'))
    .pax([['hdrcharset', 'BINARY'], ['path', latin('d\xe9j\xe0/pax-\xe9\x80\xed\xa0\x80')]]).file('placeholder', 'pax')
    .gnuLong('L', latin(`d\xe9j\xe0/${'long-\xfe'.repeat(30)}`)).entry({ name: '././@LongLink-name', format: 'gnu' }, Buffer.from('long'))
    .bytes();
  const { root, names } = await bothRead(t, tar);
  assert.deepEqual(names, [
    `d ${hex(latin('d\xe9j\xe0'))}`,
    `f ${hex(latin('d\xe9j\xe0/caf\xe9'))}`,
    `f ${hex(latin('d\xe9j\xe0/gnu-\xff'))}`,
    `f ${hex(latin(`d\xe9j\xe0/${'long-\xfe'.repeat(30)}`))}`,
    `f ${hex(latin('d\xe9j\xe0/pax-\xe9\x80\xed\xa0\x80'))}`,
  ].sort());
  assert.equal(fs.readFileSync(Buffer.concat([Buffer.from(`${root}/`), latin('d\xe9j\xe0/pax-\xe9\x80\xed\xa0\x80')]), 'utf8'), 'pax');
});

test('star archive: a 131-byte prefix followed by times and the "tar\\0" trailer', async (t) => {
  const prefix = `${'p'.repeat(60)}/${'q'.repeat(70)}`;
  const h = header({ name: 'file', prefix, format: 'star', size: 4 });
  // star keeps atime/ctime right after its prefix: digits there must not become part of the name
  h.write('14000000000\0', 476, 'latin1');
  h.write('14000000000\0', 488, 'latin1');
  rechecksum(h, 0);
  const tar = Buffer.concat([h, padded(Buffer.from('star')), Buffer.alloc(2 * BLOCK)]);
  // GNU tar reads star headers as ustar (the times become part of the name); Go's archive/tar
  // and star itself read the 131-byte prefix: so does layerkeep.
  const { root } = await bothRead(t, tar, false);
  assert.equal(fs.readFileSync(path.join(root, prefix, 'file'), 'utf8'), 'star');
});

test('GNU incremental dump directory ("D") is a directory; its listing is skipped', async (t) => {
  const listingData = Buffer.from('Yfile\0\0');
  const tar = new TarBuilder().entry({ name: 'dumped/', typeflag: 'D', format: 'gnu', mode: 0o750 }, listingData).entry({ name: 'dumped/file', format: 'gnu' }, Buffer.from('in dump')).bytes();
  const { root } = await bothRead(t, tar);
  assert.equal(fs.statSync(path.join(root, 'dumped')).mode & 0o7777, 0o750);
  assert.equal(fs.readFileSync(path.join(root, 'dumped/file'), 'utf8'), 'in dump');
});

test('GNU volume label ("V") is skipped with a warning', async (t) => {
  const tar = new TarBuilder().entry({ name: 'Volume 1', typeflag: 'V', format: 'gnu' }).file('f', 'after label').bytes();
  const { root, warnings } = await bothRead(t, tar);
  assert.deepEqual(fs.readdirSync(root), ['f']);
  assert.ok(warnings.some((w) => /GNU volume label skipped/.test(w)));
});

test('a PAX header block padded with NULs and a global header of comments only', async (t) => {
  const records = Buffer.concat([paxRecords([['path', 'from-pax']]), Buffer.alloc(20)]);
  const tar = new TarBuilder().pax([['comment', 'made by hand']], 'g').entry({ name: 'PaxHeader', typeflag: 'x' }, records).file('placeholder', 'p').bytes();
  const { root } = await bothRead(t, tar);
  assert.deepEqual(fs.readdirSync(root), ['from-pax']);
});

/** Recomputes the checksum of the header at `at` after an edit. */
function rechecksum(b: Buffer, at: number): void {
  b.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', at + 148, 'latin1');
}
