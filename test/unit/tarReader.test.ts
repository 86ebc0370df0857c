import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readTar, TarFormatError, type TarReaderOptions } from '../../src/snapshot/tarReader.js';
import type { LayerEntry } from '../../src/snapshot/entry.js';
import { lsetxattr } from '../../src/native/index.js';
import { BLOCK, TarBuilder, chunked } from '../support/tarBuilder.js';

interface Read {
  entry: LayerEntry;
  data: Buffer;
}

async function readAll(tar: Buffer, chunkSize = 4096, opts: TarReaderOptions = {}): Promise<Read[]> {
  const out: Read[] = [];
  for await (const item of readTar(chunked(tar, chunkSize), opts)) {
    const parts: Buffer[] = [];
    for await (const c of item.body) parts.push(Buffer.from(c));
    out.push({ entry: item.entry, data: Buffer.concat(parts) });
  }
  return out;
}

test('ustar: every entry type, modes, owners, times; "./" and trailing "/" stripped', async () => {
  const tar = new TarBuilder()
    .dir('./', { mode: 0o755 })
    .dir('./etc', { mode: 0o2755, uid: 10, gid: 20 })
    .file('./etc/passwd', 'root:x:0:0\n', { mode: 0o4755, uid: 1000, gid: 1001, mtime: 1234567890 })
    .entry({ name: 'etc/old', typeflag: '\0' }, Buffer.from('old'))
    .entry({ name: 'etc/contig', typeflag: '7' }, Buffer.from('contig'))
    .symlink('etc/link', '../../outside/../x')
    .hardlink('etc/hard', './etc/passwd')
    .fifo('run/fifo', { mode: 0o600 })
    .device('char', 'dev/null', 1, 3, { mode: 0o666 })
    .device('block', 'dev/loop0', 7, 0, { mode: 0o660 })
    .entry({ name: 'a'.repeat(100), prefix: 'p'.repeat(155) }, Buffer.from('prefixed'))
    .bytes();
  const items = await readAll(tar);
  const byPath = new Map(items.map((i) => [i.entry.path, i]));
  assert.deepEqual(
    items.map((i) => [i.entry.path, i.entry.type]),
    [
      ['.', 'dir'],
      ['etc', 'dir'],
      ['etc/passwd', 'file'],
      ['etc/old', 'file'],
      ['etc/contig', 'file'],
      ['etc/link', 'symlink'],
      ['etc/hard', 'hardlink'],
      ['run/fifo', 'fifo'],
      ['dev/null', 'char'],
      ['dev/loop0', 'block'],
      [`${'p'.repeat(155)}/${'a'.repeat(100)}`, 'file'],
    ],
  );
  const passwd = byPath.get('etc/passwd')!;
  assert.equal(passwd.data.toString(), 'root:x:0:0\n');
  assert.equal(passwd.entry.size, 11);
  assert.equal(passwd.entry.mode, 0o4755);
  assert.equal(passwd.entry.uid, 1000);
  assert.equal(passwd.entry.gid, 1001);
  assert.equal(passwd.entry.mtimeNs, 1234567890_000_000_000n);
  assert.equal(byPath.get('etc')!.entry.mode, 0o2755);
  assert.equal(byPath.get('etc/contig')!.data.toString(), 'contig');
  // Symlink targets are kept exactly; hard-link names are layer paths.
  assert.equal(byPath.get('etc/link')!.entry.linkname, '../../outside/../x');
  assert.equal(byPath.get('etc/hard')!.entry.linkname, 'etc/passwd');
  assert.deepEqual([byPath.get('dev/null')!.entry.devmajor, byPath.get('dev/null')!.entry.devminor], [1, 3]);
  assert.deepEqual([byPath.get('dev/loop0')!.entry.devmajor, byPath.get('dev/loop0')!.entry.devminor], [7, 0]);
  assert.equal(byPath.get(`${'p'.repeat(155)}/${'a'.repeat(100)}`)!.data.toString(), 'prefixed');
});

test('names are not normalised: ".." and absolute paths reach the consumer as written', async () => {
  const tar = new TarBuilder().file('../escape', 'x').file('/abs/path', 'y').file('a/./b', 'z').bytes();
  const items = await readAll(tar);
  assert.deepEqual(
    items.map((i) => i.entry.path),
    ['../escape', '/abs/path', 'a/./b'],
  );
});

test('PAX: binary xattr values byte for byte, nanosecond mtime, long path, uid/gid/size overrides', async () => {
  const binary = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x0a, 0x3d, 0xff, 0x0a, 0x3d, 0x00, 0xfe, 0x20]);
  const longPath = `deep/${'d'.repeat(120)}/${'n'.repeat(150)}.txt`;
  const content = Buffer.from('pax content');
  const tar = new TarBuilder()
    .pax([
      ['path', longPath],
      ['mtime', '1700000000.123456789'],
      ['SCHILY.xattr.security.capability', binary],
      ['SCHILY.xattr.user.text', 'a=b\nc'],
      ['SCHILY.xattr.user.empty', ''],
      ['uid', '4000000000'],
      ['gid', '3000000000'],
      ['atime', '1.5'],
      ['uname', 'someone'],
    ])
    .file('short-name-ignored', content)
    .pax([['mtime', '-1.25'], ['linkpath', 'l'.repeat(300)]])
    .symlink('neg', 'short')
    .pax([['mtime', '12.1234567891999']])
    .file('trunc', '')
    .bytes();
  const warnings: string[] = [];
  const [file, link, trunc] = await readAll(tar, 4096, { onWarning: (m) => warnings.push(m) });
  assert.equal(file.entry.path, longPath);
  assert.equal(file.entry.mtimeNs, 1700000000_123456789n);
  assert.equal(file.entry.uid, 4000000000);
  assert.equal(file.entry.gid, 3000000000);
  assert.deepEqual(file.data, content);
  assert.deepEqual(file.entry.xattrs.get('security.capability'), binary);
  assert.deepEqual(file.entry.xattrs.get('user.text'), Buffer.from('a=b\nc'));
  assert.deepEqual(file.entry.xattrs.get('user.empty'), Buffer.alloc(0));
  assert.equal(file.entry.xattrs.size, 3);
  assert.equal(link.entry.mtimeNs, -1_250_000_000n);
  assert.equal(link.entry.linkname, 'l'.repeat(300));
  // Digits beyond nanoseconds are cut, not rounded.
  assert.equal(trunc.entry.mtimeNs, 12_123456789n);
  assert.deepEqual(warnings, []);
});

test('PAX size overrides the header size (files over 8 GiB need it)', async () => {
  const tar = new TarBuilder()
    .pax([['size', '5']])
    .entry({ name: 'f', size: 0 }, Buffer.from('12345'))
    .bytes();
  const [f] = await readAll(tar);
  assert.equal(f.entry.size, 5);
  assert.equal(f.data.toString(), '12345');
});

test('GNU long names (L, K) and base-256 numeric fields', async () => {
  const longName = `gnu/${'x'.repeat(300)}`;
  const longTarget = `target/${'y'.repeat(250)}`;
  const tar = new TarBuilder()
    .gnuLong('L', longName)
    .file('truncated-in-header', 'long', { format: 'gnu', uid: 5_000_000_000n, gid: 70000, base256: ['uid', 'gid'] })
    .gnuLong('L', 'sym/' + 'z'.repeat(200))
    .gnuLong('K', longTarget)
    .symlink('s', 'short', { format: 'gnu', mtime: -86400n, base256: ['mtime'] })
    .entry({ name: 'big-size', size: 3, base256: ['size'] }, Buffer.from('abc'))
    .bytes();
  await assert.rejects(readAll(tar), /uid 5000000000 is out of range/);
  const ok = new TarBuilder()
    .gnuLong('L', longName)
    .file('truncated-in-header', 'long', { format: 'gnu', uid: 4_000_000_000, gid: 70000, base256: ['uid', 'gid'] })
    .gnuLong('L', 'sym/' + 'z'.repeat(200))
    .gnuLong('K', longTarget)
    .symlink('s', 'short', { format: 'gnu', mtime: -86400n, base256: ['mtime'] })
    .entry({ name: 'big-size', size: 3, base256: ['size'] }, Buffer.from('abc'))
    .bytes();
  const [f, s, b] = await readAll(ok);
  assert.equal(f.entry.path, longName);
  assert.equal(f.entry.uid, 4_000_000_000);
  assert.equal(f.entry.gid, 70000);
  assert.equal(f.data.toString(), 'long');
  assert.equal(s.entry.path, 'sym/' + 'z'.repeat(200));
  assert.equal(s.entry.linkname, longTarget);
  assert.equal(s.entry.mtimeNs, -86400_000_000_000n);
  assert.equal(b.data.toString(), 'abc');
});

test('historic signed checksums are accepted', async () => {
  // A name byte >= 0x80 makes the signed and unsigned sums differ.
  const tar = new TarBuilder().file('caf\u00e9', 'x', { checksum: 'signed' }).bytes();
  const [f] = await readAll(tar);
  assert.equal(f.entry.path, 'caf\u00e9');
});

test('chunk boundaries do not matter, and unread bodies are skipped', async () => {
  const big = Buffer.alloc(10_000, 7);
  const tar = new TarBuilder().file('a', big).file('b', 'second').pax([['path', 'c']]).file('x', 'third').bytes();
  for (const size of [1, 7, 511, 512, 513, 100_000]) {
    const items = await readAll(tar, size);
    assert.deepEqual(items.map((i) => i.entry.path), ['a', 'b', 'c'], `chunk size ${size}`);
    assert.deepEqual(items[0].data, big);
    assert.equal(items[2].data.toString(), 'third');
  }
  const seen: string[] = [];
  let partial = 0;
  for await (const item of readTar(chunked(tar, 1000))) {
    seen.push(item.entry.path);
    if (item.entry.path === 'a') {
      for await (const c of item.body) {
        partial += c.length;
        break; // abandon the rest of the body
      }
    }
  }
  assert.deepEqual(seen, ['a', 'b', 'c']);
  assert.ok(partial > 0 && partial < big.length);
});

test('global PAX headers are parsed and have no effect; record padding after the end is read', async () => {
  const warnings: string[] = [];
  const tar = Buffer.concat([
    new TarBuilder()
      .pax([['comment', 'commit 1234']], 'g')
      .pax([['mtime', '5'], ['uid', '7']], 'g')
      .file('f', 'x', { mtime: 9, uid: 1 })
      .bytes(),
    Buffer.alloc(20 * BLOCK),
  ]);
  const [f] = await readAll(tar, 4096, { onWarning: (m) => warnings.push(m) });
  assert.equal(f.entry.mtimeNs, 9_000_000_000n);
  assert.equal(f.entry.uid, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /global PAX header ignored \(keys: mtime, uid\)/);
});

test('data after the end-of-archive marker is refused', async () => {
  const tar = Buffer.concat([new TarBuilder().file('f', 'x').bytes(), Buffer.from('hidden')]);
  await assert.rejects(readAll(tar), (e) => e instanceof TarFormatError && /data after the end-of-archive marker/.test(e.message));
});

test('malformed PAX records and misplaced data are refused naming the entry', async () => {
  const cases: Array<[Buffer, RegExp]> = [
    [new TarBuilder().entry({ name: 'PaxHeader', typeflag: 'x' }, Buffer.from('99 path=x\n')).file('f', '').bytes(), /tar header at byte 0: PAX record at 0: length 99 does not fit/],
    [new TarBuilder().entry({ name: 'PaxHeader', typeflag: 'x' }, Buffer.from('12 path=xy\n ')).file('f', '').bytes(), /does not end with a newline|does not fit/],
    [new TarBuilder().pax([['mtime', '12x']]).file('f', '').bytes(), /PAX time "12x" is not a decimal number/],
    [new TarBuilder().pax([['uid', '-1']]).file('f', '').bytes(), /PAX uid "-1" is not a decimal number/],
    [new TarBuilder().pax([['path', 'a']]).pax([['path', 'b']]).file('f', '').bytes(), /two PAX headers for one entry/],
    [new TarBuilder().pax([['GNU.sparse.size', '10']]).file('f', '').bytes(), /GNU sparse files are not supported/],
    [new TarBuilder().entry({ name: 'd/', typeflag: '5', size: 3 }, Buffer.from('abc')).bytes(), /tar entry "d" \(header at byte 0\): a dir entry must not carry data/],
    [new TarBuilder().file('f', 'x', { mode: 0o644 }).entry({ name: 'g', typeflag: '2' }).bytes(), /tar entry "g" \(header at byte 1024\): symlink without a target/],
    [new TarBuilder().pax([['path', 'p']]).bytes(), /extended header with no entry after it/],
  ];
  for (const [tar, re] of cases) {
    await assert.rejects(readAll(tar), (e) => e instanceof TarFormatError && re.test(e.message), String(re));
  }
});

test('limits: path length, entry size', async () => {
  const longPath = 'p/'.repeat(40000);
  await assert.rejects(
    readAll(new TarBuilder().pax([['path', longPath]]).file('f', '').bytes()),
    /name is 80000 bytes, over the 65536-byte limit/,
  );
  await assert.rejects(
    readAll(new TarBuilder().file('big', 'x'.repeat(100)).bytes(), 4096, { maxEntrySize: 99 }),
    /tar entry "big" \(header at byte 0\): size 100 is over the 99-byte limit/,
  );
});

test('reads what GNU tar writes (posix format with xattrs, gnu format with long names)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-tarreader-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const src = path.join(dir, 'src');
  const longName = 'n'.repeat(180);
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'sub', longName), 'long named');
  fs.writeFileSync(path.join(src, 'plain'), 'plain');
  fs.chmodSync(path.join(src, 'plain'), 0o4711);
  lsetxattr(path.join(src, 'plain'), 'user.bin', Buffer.from([0, 10, 61, 255]));
  fs.symlinkSync('sub/' + longName, path.join(src, 'link'));
  fs.linkSync(path.join(src, 'plain'), path.join(src, 'hard'));
  execFileSync('mkfifo', [path.join(src, 'fifo')]);
  fs.utimesSync(path.join(src, 'plain'), 1, 1600000000.5);

  for (const format of ['posix', 'gnu']) {
    const args = ['--format=' + format, '--sort=name', '-cf', '-', '-C', src, '.'];
    if (format === 'posix') args.unshift('--xattrs', '--xattrs-include=user.*');
    const tar = execFileSync('tar', args, { maxBuffer: 64 * 1024 * 1024 });
    const items = await readAll(tar, 1000);
    const byPath = new Map(items.map((i) => [i.entry.path, i]));
    assert.deepEqual([...byPath.keys()].sort(), ['.', 'fifo', 'hard', 'link', 'plain', 'sub', `sub/${longName}`].sort(), format);
    assert.equal(byPath.get(`sub/${longName}`)!.data.toString(), 'long named');
    assert.equal(byPath.get('link')!.entry.linkname, 'sub/' + longName);
    assert.equal(byPath.get('fifo')!.entry.type, 'fifo');
    const plain = byPath.get('plain')!;
    const hard = byPath.get('hard')!;
    // GNU tar stores the first name it meets as the file and the other as a link to it.
    const [fileItem, linkItem] = plain.entry.type === 'file' ? [plain, hard] : [hard, plain];
    assert.equal(linkItem.entry.type, 'hardlink');
    assert.equal(linkItem.entry.linkname, fileItem.entry.path);
    assert.equal(fileItem.data.toString(), 'plain');
    assert.equal(fileItem.entry.mode, 0o4711);
    if (format === 'posix') {
      assert.equal(fileItem.entry.mtimeNs, 1600000000_500000000n);
      assert.deepEqual(fileItem.entry.xattrs.get('user.bin'), Buffer.from([0, 10, 61, 255]));
    } else {
      assert.equal(fileItem.entry.mtimeNs, 1600000000_000000000n);
    }
  }
});

test('unknown PAX keys are reported once per archive, not per entry', async () => {
  const warnings: string[] = [];
  const b = new TarBuilder();
  for (let i = 0; i < 5; i++) b.pax([['SCHILY.dev', '2049'], ['atime', '1.5']]).file(`f${i}`, 'x');
  const items = await readAll(b.bytes(), 4096, { onWarning: (m) => warnings.push(m) });
  assert.equal(items.length, 5);
  assert.deepEqual(warnings, ['PAX key "SCHILY.dev" ignored (reported once per archive)']);
});

test('the source is closed when the consumer stops early', async () => {
  const tar = new TarBuilder().file('a', 'x').file('b', 'y').bytes();
  let closed = false;
  async function* source(): AsyncGenerator<Buffer> {
    try {
      yield* chunked(tar, 512);
    } finally {
      closed = true;
    }
  }
  for await (const item of readTar(source())) {
    assert.equal(item.entry.path, 'a');
    break;
  }
  assert.equal(closed, true);
});
