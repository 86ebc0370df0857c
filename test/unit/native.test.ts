// The native addon against the real filesystem under os.tmpdir(). Runs as root: it
// sets trusted.* xattrs, file capabilities, creates device nodes and chowns files.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  fsyncDir,
  lgetxattr,
  llistxattr,
  lremovexattr,
  lsetxattr,
  lutimesNs,
  mknod,
  NATIVE_ADDON_ENV,
  renameExchange,
  renameNoReplace,
  readFilesBatch,
  scanDir,
  type ScanEntry,
  writeFilesBatch,
} from '../../src/native/index.js';

const { S_IFCHR, S_IFBLK, S_IFIFO, S_IFMT, S_IFDIR, S_IFLNK, S_IFREG } = fs.constants;

let root: string;
before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'layerkeep-native-'));
});
after(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

let counter = 0;
function freshDir(): string {
  const dir = path.join(root, `t${counter++}`);
  fs.mkdirSync(dir);
  return dir;
}

/** Asserts that fn throws an fs-style error with this errno name (and syscall). */
function assertErrno(fn: () => unknown, code: string, syscall?: string, pathOf?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Error, 'an Error is thrown');
    const e = err as NodeJS.ErrnoException;
    assert.equal(e.code, code);
    assert.ok(e.message.startsWith(`${code}: `), `message names the errno: ${e.message}`);
    if (syscall !== undefined) {
      assert.equal(e.syscall, syscall);
      assert.ok(e.message.includes(syscall), `message names the syscall: ${e.message}`);
    }
    if (pathOf !== undefined) {
      assert.equal(e.path, pathOf);
      assert.ok(e.message.includes(`'${pathOf}'`), `message names the path: ${e.message}`);
    }
    assert.equal(typeof e.errno, 'number');
    return true;
  });
}

// glibc's dev_t encoding (sys/sysmacros.h), to read st_rdev as Node reports it.
function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

describe('extended attributes', () => {
  it('sets, gets, lists and removes user.* and trusted.* xattrs', () => {
    const file = path.join(freshDir(), 'f');
    fs.writeFileSync(file, 'x');
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    lsetxattr(file, 'user.layerkeep.test', Buffer.from('hello'));
    lsetxattr(file, 'trusted.overlay.opaque', Buffer.from('y'));
    lsetxattr(file, 'user.binary', binary);
    lsetxattr(file, 'user.empty', Buffer.alloc(0));

    assert.deepEqual(lgetxattr(file, 'user.layerkeep.test'), Buffer.from('hello'));
    assert.deepEqual(lgetxattr(file, 'trusted.overlay.opaque'), Buffer.from('y'));
    assert.deepEqual(lgetxattr(file, 'user.binary'), binary);
    assert.deepEqual(lgetxattr(file, 'user.empty'), Buffer.alloc(0));
    assert.equal(lgetxattr(file, 'user.never-set'), null);
    assert.deepEqual(
      llistxattr(file).sort(),
      ['trusted.overlay.opaque', 'user.binary', 'user.empty', 'user.layerkeep.test'],
    );

    lsetxattr(file, 'user.layerkeep.test', Buffer.from('replaced'));
    assert.deepEqual(lgetxattr(file, 'user.layerkeep.test'), Buffer.from('replaced'));

    lremovexattr(file, 'user.layerkeep.test');
    lremovexattr(file, 'trusted.overlay.opaque');
    assert.equal(lgetxattr(file, 'user.layerkeep.test'), null);
    assert.deepEqual(llistxattr(file).sort(), ['user.binary', 'user.empty']);
    assertErrno(() => lremovexattr(file, 'user.layerkeep.test'), 'ENODATA', 'lremovexattr', file);
  });

  it('acts on a symlink itself, not its target', () => {
    const dir = freshDir();
    const target = path.join(dir, 'target');
    const link = path.join(dir, 'link');
    fs.writeFileSync(target, '');
    fs.symlinkSync('target', link);
    lsetxattr(link, 'trusted.on-link', Buffer.from('L'));
    assert.deepEqual(lgetxattr(link, 'trusted.on-link'), Buffer.from('L'));
    assert.equal(lgetxattr(target, 'trusted.on-link'), null);
    assert.deepEqual(llistxattr(link), ['trusted.on-link']);
    assert.deepEqual(llistxattr(target), []);
    // The kernel refuses user.* xattrs on symlinks.
    assertErrno(() => lsetxattr(link, 'user.x', Buffer.from('1')), 'EPERM', 'lsetxattr', link);
  });

  it('reads a file capability written by setcap byte for byte, and writes one setcap reads', () => {
    const dir = freshDir();
    const byTool = path.join(dir, 'by-setcap');
    const byUs = path.join(dir, 'by-lsetxattr');
    fs.writeFileSync(byTool, '');
    fs.writeFileSync(byUs, '');
    execFileSync('setcap', ['cap_net_raw+ep', byTool]);
    // struct vfs_cap_data, revision 2 with the effective bit: magic_etc 0x02000001,
    // permitted[0] = 1 << CAP_NET_RAW (13), everything else 0; little-endian.
    const expected = Buffer.alloc(20);
    expected.writeUInt32LE(0x02000001, 0);
    expected.writeUInt32LE(1 << 13, 4);
    const value = lgetxattr(byTool, 'security.capability');
    assert.deepEqual(value, expected);
    assert.ok(llistxattr(byTool).includes('security.capability'));

    lsetxattr(byUs, 'security.capability', expected);
    const shown = execFileSync('getcap', [byUs], { encoding: 'utf8' });
    assert.match(shown, /cap_net_raw[=+]ep/);
  });

  it('throws errors that carry the errno name, syscall and path', () => {
    const missing = path.join(root, 'does-not-exist');
    assertErrno(() => lgetxattr(missing, 'user.x'), 'ENOENT', 'lgetxattr', missing);
    assertErrno(() => llistxattr(missing), 'ENOENT', 'llistxattr', missing);
    assertErrno(() => lsetxattr(missing, 'user.x', Buffer.from('')), 'ENOENT', 'lsetxattr', missing);
    const file = path.join(freshDir(), 'f');
    fs.writeFileSync(file, '');
    // A name outside the known namespaces is not supported by any filesystem.
    assertErrno(() => lsetxattr(file, 'nonamespace', Buffer.from('1')), 'ENOTSUP', 'lsetxattr', file);
    assert.throws(() => lgetxattr(missing, 'user.' + 'n'.repeat(300)), { code: 'ERANGE' });
    assert.throws(() => lgetxattr(missing, 'user.x'), /^Error: ENOENT: no such file or directory, lgetxattr '/);
  });

  it('rejects arguments of the wrong type without touching the filesystem', () => {
    const file = path.join(freshDir(), 'f');
    fs.writeFileSync(file, '');
    const setString = lsetxattr as unknown as (p: string, n: string, v: string) => void;
    assert.throws(() => setString(file, 'user.x', 'text'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => lgetxattr(`${file}\0evil`, 'user.x'), { code: 'ERR_INVALID_ARG_VALUE' });
    const getAny = lgetxattr as unknown as (p: unknown, n: unknown) => unknown;
    assert.throws(() => getAny(42, 'user.x'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });
});

describe('mknod', () => {
  it('creates a 0/0 character device (an overlay whiteout), a device with a large minor, and a fifo', () => {
    const dir = freshDir();
    const whiteout = path.join(dir, 'whiteout');
    const device = path.join(dir, 'device');
    const fifo = path.join(dir, 'fifo');
    const block = path.join(dir, 'block');
    mknod(whiteout, S_IFCHR | 0o000, 0, 0);
    mknod(device, S_IFCHR | 0o640, 4, 300);
    mknod(block, S_IFBLK | 0o600, 259, 70000);
    mknod(fifo, S_IFIFO | 0o644, 0, 0);

    const w = fs.lstatSync(whiteout, { bigint: true });
    assert.ok(w.isCharacterDevice());
    assert.equal(w.rdev, 0n);
    assert.equal(w.mode & 0o7777n, 0n);

    const d = fs.lstatSync(device, { bigint: true });
    assert.ok(d.isCharacterDevice());
    assert.equal(devMajor(d.rdev), 4);
    assert.equal(devMinor(d.rdev), 300);
    assert.equal(d.mode & 0o7777n, 0o640n);

    const b = fs.lstatSync(block, { bigint: true });
    assert.ok(b.isBlockDevice());
    assert.equal(devMajor(b.rdev), 259);
    assert.equal(devMinor(b.rdev), 70000);

    const f = fs.lstatSync(fifo);
    assert.ok(f.isFIFO());
    assert.equal(f.mode & 0o777, 0o644 & ~process.umask());

    assertErrno(() => mknod(fifo, S_IFIFO | 0o644, 0, 0), 'EEXIST', 'mknod', fifo);
    assert.throws(() => mknod(path.join(dir, 'neg'), S_IFCHR, -1, 0), { code: 'ERR_INVALID_ARG_TYPE' });
  });
});

describe('lutimesNs', () => {
  it('sets atime and mtime to the exact nanosecond', () => {
    const file = path.join(freshDir(), 'f');
    fs.writeFileSync(file, '');
    lutimesNs(file, 1_600_000_000_123_456_789n, 1_700_000_000_987_654_321n);
    const st = fs.lstatSync(file, { bigint: true });
    assert.equal(st.atimeNs, 1_600_000_000_123_456_789n);
    assert.equal(st.mtimeNs, 1_700_000_000_987_654_321n);
  });

  it('handles times before 1970 (negative nanoseconds)', () => {
    const file = path.join(freshDir(), 'f');
    fs.writeFileSync(file, '');
    lutimesNs(file, -1_500_000_001n, -86_400_000_000_007n);
    const st = fs.lstatSync(file, { bigint: true });
    assert.equal(st.atimeNs, -1_500_000_001n);
    assert.equal(st.mtimeNs, -86_400_000_000_007n);
  });

  it('changes a symlink, not what it points to', () => {
    const dir = freshDir();
    const target = path.join(dir, 'target');
    const link = path.join(dir, 'link');
    fs.writeFileSync(target, '');
    lutimesNs(target, 1_000_000_000_000_000_001n, 1_000_000_000_000_000_001n);
    fs.symlinkSync('target', link);
    lutimesNs(link, 1_234_567_890_000_000_042n, 1_234_567_890_111_111_111n);
    assert.equal(fs.lstatSync(link, { bigint: true }).mtimeNs, 1_234_567_890_111_111_111n);
    assert.equal(fs.lstatSync(target, { bigint: true }).mtimeNs, 1_000_000_000_000_000_001n);
  });

  it('fails with ENOENT on a missing path and rejects non-bigint times', () => {
    const missing = path.join(root, 'missing');
    assertErrno(() => lutimesNs(missing, 0n, 0n), 'ENOENT', 'utimensat', missing);
    const loose = lutimesNs as unknown as (p: string, a: unknown, m: unknown) => void;
    assert.throws(() => loose(missing, 1, 1), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => loose(missing, 1n << 64n, 0n), { code: 'ERR_INVALID_ARG_TYPE' });
  });
});

describe('renameat2', () => {
  it('renameExchange swaps two directories atomically', () => {
    const dir = freshDir();
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    fs.mkdirSync(a);
    fs.mkdirSync(b);
    fs.writeFileSync(path.join(a, 'from-a'), '');
    fs.writeFileSync(path.join(b, 'from-b'), '');
    renameExchange(a, b);
    assert.deepEqual(fs.readdirSync(a), ['from-b']);
    assert.deepEqual(fs.readdirSync(b), ['from-a']);
    const missing = path.join(dir, 'missing');
    assert.throws(() => renameExchange(a, missing), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ENOENT');
      assert.equal(err.syscall, 'renameat2');
      assert.equal(err.path, a);
      assert.equal((err as { dest?: string }).dest, missing);
      assert.ok(err.message.includes(`'${a}' -> '${missing}'`), err.message);
      return true;
    });
  });

  it('renameNoReplace renames onto a free name and fails with EEXIST onto a taken one', () => {
    const dir = freshDir();
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    const c = path.join(dir, 'c');
    fs.writeFileSync(a, 'A');
    fs.writeFileSync(b, 'B');
    assertErrno(() => renameNoReplace(a, b), 'EEXIST', 'renameat2', a);
    assert.equal(fs.readFileSync(a, 'utf8'), 'A');
    assert.equal(fs.readFileSync(b, 'utf8'), 'B');
    renameNoReplace(a, c);
    assert.equal(fs.existsSync(a), false);
    assert.equal(fs.readFileSync(c, 'utf8'), 'A');
  });
});

describe('fsyncDir', () => {
  it('fsyncs a directory and reports a path that is not one', () => {
    const dir = freshDir();
    fsyncDir(dir);
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, '');
    assertErrno(() => fsyncDir(file), 'ENOTDIR', 'open', file);
    assertErrno(() => fsyncDir(path.join(dir, 'missing')), 'ENOENT', 'open');
  });
});

describe('releaseFreeMemory', () => {
  it('hands the C heap\'s freed large buffers back to the kernel', () => {
    // In a child with --expose-gc: 200 MiB of 4 MiB buffers (the size of a zstd frame) are
    // freed by the collector but stay resident in glibc's heap until released. One buffer
    // allocated last stays alive, so glibc cannot simply shrink the heap from its top.
    const native = new URL('../../src/native/index.js', import.meta.url).href;
    const script = `
      import { readFileSync } from 'node:fs';
      import { releaseFreeMemory } from ${JSON.stringify(native)};
      const rssMiB = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
      let warm = Buffer.allocUnsafeSlow(4 << 20).fill(1); warm = null; globalThis.gc();
      let bufs = Array.from({ length: 50 }, () => Buffer.allocUnsafeSlow(4 << 20).fill(7));
      const keep = Buffer.allocUnsafeSlow(4 << 20).fill(8);
      bufs = null; globalThis.gc(); globalThis.gc();
      const freed = rssMiB();
      const released = await releaseFreeMemory();
      console.log(JSON.stringify({ freed, after: rssMiB(), released, keep: keep.length }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' })) as
      { freed: number; after: number; released: boolean };
    assert.ok(out.freed > 150, `freed buffers should still be resident before the release (${out.freed} MiB)`);
    assert.equal(out.released, true);
    assert.ok(out.freed - out.after > 150, `released ${out.freed - out.after} MiB of ~200`);
  });
});

/** Every field of a scan entry against lstat of the same path. */
function assertMatchesLstat(dir: string, entry: ScanEntry): void {
  const st = fs.lstatSync(path.join(dir, entry.name), { bigint: true });
  assert.equal(entry.ino, st.ino, `${entry.name}: ino`);
  assert.equal(entry.dev, st.dev, `${entry.name}: dev`);
  assert.equal(entry.mode, Number(st.mode), `${entry.name}: mode`);
  assert.equal(entry.nlink, Number(st.nlink), `${entry.name}: nlink`);
  assert.equal(entry.uid, Number(st.uid), `${entry.name}: uid`);
  assert.equal(entry.gid, Number(st.gid), `${entry.name}: gid`);
  assert.equal(entry.rdevMajor, devMajor(st.rdev), `${entry.name}: rdevMajor`);
  assert.equal(entry.rdevMinor, devMinor(st.rdev), `${entry.name}: rdevMinor`);
  assert.equal(entry.size, Number(st.size), `${entry.name}: size`);
  assert.equal(entry.blocks, Number(st.blocks), `${entry.name}: blocks`);
  assert.equal(entry.mtimeNs, st.mtimeNs, `${entry.name}: mtimeNs`);
  assert.equal(entry.ctimeNs, st.ctimeNs, `${entry.name}: ctimeNs`);
}

/** Names in the order readdir returns them, via Node's own unsorted opendir. */
function readdirOrder(dir: string): string[] {
  const handle = fs.opendirSync(dir);
  const names: string[] = [];
  for (let d = handle.readSync(); d !== null; d = handle.readSync()) names.push(d.name);
  handle.closeSync();
  return names;
}

describe('scanDir', () => {
  it('returns lstat fields and xattrs of files, dirs, symlinks, fifos and devices in readdir order', () => {
    const dir = freshDir();
    fs.writeFileSync(path.join(dir, 'file'), 'some content');
    fs.writeFileSync(path.join(dir, 'big'), Buffer.alloc(100_000, 1));
    fs.linkSync(path.join(dir, 'file'), path.join(dir, 'hardlink'));
    fs.mkdirSync(path.join(dir, 'subdir'), 0o750);
    fs.symlinkSync('file', path.join(dir, 'symlink'));
    fs.symlinkSync('/nowhere/at/all', path.join(dir, 'dangling'));
    mknod(path.join(dir, 'fifo'), S_IFIFO | 0o600, 0, 0);
    mknod(path.join(dir, 'whiteout'), S_IFCHR, 0, 0);
    mknod(path.join(dir, 'tty'), S_IFCHR | 0o620, 136, 1000);
    fs.writeFileSync(path.join(dir, 'caf\u00e9 \u{1f600}'), '');
    fs.writeFileSync(path.join(dir, 'owned'), '');
    fs.chownSync(path.join(dir, 'owned'), 1234, 5678);
    fs.chmodSync(path.join(dir, 'owned'), 0o4755);
    lutimesNs(path.join(dir, 'owned'), 5n, 1_111_111_111_222_333_444n);
    lsetxattr(path.join(dir, 'file'), 'user.one', Buffer.from('1'));
    lsetxattr(path.join(dir, 'file'), 'trusted.two', Buffer.from([0, 255, 0]));
    lsetxattr(path.join(dir, 'subdir'), 'trusted.overlay.opaque', Buffer.from('y'));
    // ext4 keeps all xattrs of an inode in one block, so stay well below 4 KiB.
    lsetxattr(path.join(dir, 'symlink'), 'trusted.link', Buffer.alloc(3000, 7));

    const entries = scanDir(dir);
    assert.deepEqual(entries.map((e) => e.name), readdirOrder(dir));
    for (const entry of entries) assertMatchesLstat(dir, entry);

    const byName = new Map(entries.map((e) => [e.name, e]));
    const typeOf = (name: string): number => byName.get(name)!.mode & S_IFMT;
    assert.equal(typeOf('file'), S_IFREG);
    assert.equal(typeOf('subdir'), S_IFDIR);
    assert.equal(typeOf('symlink'), S_IFLNK);
    assert.equal(typeOf('fifo'), S_IFIFO);
    assert.equal(typeOf('tty'), S_IFCHR);
    assert.equal(byName.get('tty')!.rdevMajor, 136);
    assert.equal(byName.get('tty')!.rdevMinor, 1000);
    assert.equal(byName.get('file')!.nlink, 2);
    assert.equal(byName.get('file')!.size, 12);
    assert.equal(byName.get('owned')!.uid, 1234);
    assert.equal(byName.get('owned')!.gid, 5678);
    assert.equal(byName.get('owned')!.mode & 0o7777, 0o4755);
    assert.equal(byName.get('owned')!.mtimeNs, 1_111_111_111_222_333_444n);

    const xattrsOf = (name: string) =>
      new Map(byName.get(name)!.xattrs.map(([k, v]) => [k, v.toString('hex')]));
    assert.deepEqual(xattrsOf('file'), new Map([['user.one', '31'], ['trusted.two', '00ff00']]));
    assert.deepEqual(xattrsOf('subdir'), new Map([['trusted.overlay.opaque', '79']]));
    assert.deepEqual(byName.get('symlink')!.xattrs, [['trusted.link', Buffer.alloc(3000, 7)]]);
    assert.deepEqual(byName.get('dangling')!.xattrs, []);
    assert.ok(!byName.has('.') && !byName.has('..'));
  });

  it('returns an empty list for an empty directory', () => {
    assert.deepEqual(scanDir(freshDir()), []);
  });

  it('scans a large directory (the multi-threaded path) with xattrs on the right entries', () => {
    const dir = freshDir();
    const count = 3000;
    for (let i = 0; i < count; i++) {
      const p = path.join(dir, `n${i}`);
      fs.writeFileSync(p, 'x'.repeat(i % 17));
      if (i % 97 === 0) lsetxattr(p, 'user.index', Buffer.from(String(i)));
    }
    const entries = scanDir(dir);
    assert.deepEqual(entries.map((e) => e.name), readdirOrder(dir));
    for (const entry of entries) {
      const i = Number(entry.name.slice(1));
      assert.equal(entry.size, i % 17, entry.name);
      const expected = i % 97 === 0 ? [['user.index', Buffer.from(String(i))]] : [];
      assert.deepEqual(entry.xattrs, expected, entry.name);
      assertMatchesLstat(dir, entry);
    }
  });

  it('leaves out entries deleted while it runs instead of failing', async () => {
    const dir = freshDir();
    const count = 20_000;
    for (let i = 0; i < count; i++) fs.writeFileSync(path.join(dir, `v${i}`), '');
    const remover = spawn('find', [dir, '-mindepth', '1', '-delete'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => remover.on('exit', resolve));
    let done = false;
    void exited.then(() => (done = true));
    let partialScans = 0;
    while (!done) {
      const entries = scanDir(dir); // must not throw ENOENT
      if (entries.length > 0 && entries.length < count) partialScans++;
      for (const e of entries) assert.equal(e.mode & S_IFMT, S_IFREG);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(await exited, 0);
    assert.ok(partialScans > 0, 'at least one scan ran while entries were being deleted');
    assert.deepEqual(scanDir(dir), []);
  });

  it('throws for a missing directory and a file; a name that is not UTF-8 comes back byte for byte', () => {
    const dir = freshDir();
    const missing = path.join(dir, 'missing');
    assertErrno(() => scanDir(missing), 'ENOENT', 'scandir', missing);
    const file = path.join(dir, 'file');
    fs.writeFileSync(file, '');
    assertErrno(() => scanDir(file), 'ENOTDIR', 'scandir', file);
    fs.writeFileSync(Buffer.from(`${dir}/bad-\xff-name`, 'latin1'), '');
    const names = scanDir(dir).map((e) => e.name).sort();
    assert.deepEqual(names, ['bad-\udcff-name', 'file']); // the stray byte as U+DC00 + byte (fsName.ts)
    assert.equal(scanDir(dir, { xattrs: true }).length, 2);
  });

  it('throws EOVERFLOW naming the entry whose mtime does not fit in 64-bit nanoseconds', () => {
    const dir = freshDir();
    const far = path.join(dir, 'far-future');
    fs.writeFileSync(far, '');
    fs.utimesSync(far, 10_000_000_000, 10_000_000_000); // year 2286: 1e19 ns > 2^63
    assertErrno(() => scanDir(dir), 'EOVERFLOW', 'lstat', far);
  });

  it('times a scan of 100k empty files', () => {
    const dir = freshDir();
    const count = 100_000;
    for (let i = 0; i < count; i++) fs.closeSync(fs.openSync(path.join(dir, `f${i}`), 'w'));
    scanDir(dir); // warm up the JIT and the dentry cache
    const started = process.hrtime.bigint();
    const entries = scanDir(dir);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(entries.length, count);
    console.log(`scanDir of ${count} empty files: ${ms.toFixed(1)} ms`);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('loading the addon', () => {
  const indexUrl = new URL('../../src/native/index.js', import.meta.url).href;
  const run = (addonPath: string) =>
    execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `import { llistxattr } from ${JSON.stringify(indexUrl)};
        try { console.log(JSON.stringify(llistxattr('/'))); } catch (e) { console.log(e.message); }`],
      { env: { ...process.env, [NATIVE_ADDON_ENV]: addonPath }, encoding: 'utf8' },
    ).trim();

  it('honours LAYERKEEP_NATIVE_ADDON and says how to build when the file is missing', () => {
    const missing = path.join(root, 'nowhere', 'layerkeep_native.node');
    assert.match(run(missing), /^layerkeep native addon not built: run `make build`/);
    const built = new URL('../../../src/native/build/Release/layerkeep_native.node', import.meta.url);
    const copy = path.join(freshDir(), 'copy.node');
    fs.copyFileSync(built, copy);
    assert.ok(Array.isArray(JSON.parse(run(copy))));
  });
});

describe('batched small-file reads and writes', () => {
  const mtimeOf = (p: string) => fs.lstatSync(p, { bigint: true }).mtimeNs;

  it('reads files one after another, and stops at one that is not what the walk saw', async () => {
    const dir = freshDir();
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    fs.writeFileSync(a, 'alpha');
    fs.writeFileSync(b, 'bravo!');
    const out = Buffer.alloc(11);
    assert.equal(await readFilesBatch([a, b], Float64Array.from([5, 6]), BigInt64Array.from([mtimeOf(a), mtimeOf(b)]), out), null);
    assert.equal(out.toString(), 'alphabravo!');
    assert.deepEqual(await readFilesBatch([a, b], Float64Array.from([5, 7]), BigInt64Array.from([mtimeOf(a), mtimeOf(b)]), Buffer.alloc(12)),
      { index: 1, kind: 'changed', errno: 0 });
    fs.symlinkSync(a, path.join(dir, 'link'));
    const viaLink = await readFilesBatch([path.join(dir, 'link')], Float64Array.from([5]), BigInt64Array.from([mtimeOf(a)]), Buffer.alloc(5));
    assert.equal(viaLink?.syscall, 'open', 'a symlink is not followed');
    assert.equal(viaLink?.errno, -(os.constants.errno.ELOOP));
    assert.throws(() => readFilesBatch([a], Float64Array.from([5]), BigInt64Array.from([0n]), Buffer.alloc(4)), /add up to more than the data buffer/);
  });

  it('creates files with their bytes, owner, mode and times, never through or onto an existing node', async () => {
    const dir = freshDir();
    const files = [
      { path: path.join(dir, 'one'), size: 3, mode: 0o4750, uid: 1234, gid: 5678, mtimeNs: 1_700_000_000_123_456_789n },
      { path: path.join(dir, 'two'), size: 0, mode: 0o600, uid: 0, gid: 0, mtimeNs: -5n },
    ];
    assert.equal(await writeFilesBatch(files, Buffer.from('abc')), null);
    const st = fs.lstatSync(files[0]!.path, { bigint: true });
    assert.equal(fs.readFileSync(files[0]!.path, 'utf8'), 'abc');
    assert.equal(Number(st.mode) & 0o7777, 0o4750, 'setuid kept: the mode is set after the owner');
    assert.deepEqual([Number(st.uid), Number(st.gid)], [1234, 5678]);
    assert.equal(st.mtimeNs, 1_700_000_000_123_456_789n);
    assert.equal(fs.lstatSync(files[1]!.path, { bigint: true }).mtimeNs, -5n);
    // an existing file, or a symlink planted at the name, is refused and left alone
    fs.symlinkSync('/etc/passwd', path.join(dir, 'planted'));
    for (const name of ['one', 'planted']) {
      const r = await writeFilesBatch([{ ...files[0]!, path: path.join(dir, name) }], Buffer.from('xyz'));
      assert.deepEqual([r?.index, r?.syscall, r?.errno], [0, 'open', -(os.constants.errno.EEXIST)], name);
    }
    assert.equal(fs.readFileSync(files[0]!.path, 'utf8'), 'abc');
    assert.equal(fs.readlinkSync(path.join(dir, 'planted')), '/etc/passwd');
  });
});
