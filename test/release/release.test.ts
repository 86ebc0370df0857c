// The release tarball on a host without Node: a chroot that holds only the unpacked release,
// a static busybox and the shared libraries ldd lists for the release's binaries. There it
// prints its version, snapshots a real overlay upper dir into a local store and restores it,
// and serves Health on its socket. Then install.sh into a scratch root and --uninstall.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { createClient, unary } from '../../src/service/client.js';
import { describeTree, treeList } from '../support/tree.js';
import { mountOverlay, tempDir, umount, type OverlayDirs } from '../support/scratch.js';
import { waitFor } from '../support/wait.js';

const TARBALL = process.env.LAYERKEEP_RELEASE;
if (!TARBALL || !existsSync(TARBALL)) throw new Error('LAYERKEEP_RELEASE must name the release tarball (make test-release sets it)');
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const APP = '/opt/layerkeep';
const CHROOT = '/usr/sbin/chroot';


/** Every file under dir (relative paths), directories included with a trailing slash. */
function listAll(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (lstatSync(join(dir, r)).isDirectory()) { out.push(`${r}/`); walk(r); } else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

function unpack(into: string): string {
  mkdirSync(into, { recursive: true });
  execFileSync('tar', ['-xzf', TARBALL!, '-C', into]);
  const [top] = readdirSync(into);
  assert.equal(top, `layerkeep-${VERSION}-linux-x64`);
  return join(into, top);
}

describe('release tarball', () => {
  let base: string;
  let root: string;
  let ov: OverlayDirs | undefined;
  let daemon: ChildProcess | undefined;

  const inRoot = (args: string[], env: Record<string, string> = {}) =>
    execFileSync(CHROOT, [root, `${APP}/bin/layerkeep`, ...args], {
      encoding: 'utf8', env: { PATH: '/bin', LAYERKEEP_STANDALONE: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });

  before(() => {
    base = tempDir('layerkeep-release-');
    root = join(base, 'root');
    mkdirSync(join(root, 'opt'), { recursive: true });
    const unpacked = unpack(join(base, 'unpack'));
    execFileSync('mv', [unpacked, join(root, APP)]);
    // busybox (static) as the chroot's only tools: sh, readlink, dirname for the launcher.
    mkdirSync(join(root, 'bin'));
    copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
    execFileSync('chmod', ['755', join(root, 'bin/busybox')]);
    for (const tool of ['sh', 'readlink', 'dirname', 'ls', 'cat']) symlinkSync('busybox', join(root, 'bin', tool));
    // The libraries ldd names for node and every addon, at the same paths.
    const bins = execFileSync('find', [join(root, APP), '-type', 'f', '(', '-name', '*.node', '-o', '-path', '*/node/bin/node', ')'], { encoding: 'utf8' })
      .trim().split('\n');
    for (const bin of bins) {
      const ldd = execFileSync('ldd', [bin], { encoding: 'utf8' });
      for (const m of ldd.matchAll(/(?:=> )?(\/\S+) \(0x/g)) {
        const lib = m[1];
        const dest = join(root, lib);
        if (existsSync(dest)) continue;
        mkdirSync(dirname(dest), { recursive: true });
        copyFileSync(lib, dest);
      }
    }
    for (const d of ['tmp', 'store', 'state', 'state2', 'run', 'ov']) mkdirSync(join(root, d), { recursive: true });
  });

  after(() => {
    if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
    if (ov) umount(ov.merged);
    rmSync(base, { recursive: true, force: true });
  });

  it('holds no compiler, no headers, no tests and no dev dependencies', () => {
    const files = listAll(join(root, APP));
    assert.ok(files.includes('node/bin/node') && files.includes('bin/layerkeep') && files.includes('install.sh'));
    assert.ok(files.includes('share/man/man1/layerkeep.1') && files.includes('etc/layerkeep.service'));
    for (const f of files) {
      assert.ok(!/^node\/include\//.test(f) && !/\.(h|hpp|cc|cpp|c|ts|gyp|gypi)$/.test(f), `unexpected source or header ${f}`);
      assert.ok(!/^dist\/(test|bench)\//.test(f), `test or bench file ${f}`);
      assert.ok(!/^node_modules\/(typescript|eslint|node-gyp|@types)\//.test(f), `dev dependency ${f}`);
    }
    assert.ok(!existsSync(join(root, 'usr/bin/node')) && !existsSync(join(root, 'usr/bin/gcc')));
  });

  it('runs --version with nothing but libc from the host', () => {
    assert.equal(inRoot(['--version']).trim(), `layerkeep/${VERSION}`);
  });

  it('snapshots a real overlay upper dir into a local store and restores it', () => {
    const lower = join(root, 'ov/lower');
    mkdirSync(join(lower, 'etc'), { recursive: true });
    writeFileSync(join(lower, 'etc/image.conf'), 'from the image\n');
    writeFileSync(join(lower, 'etc/gone'), 'deleted in the container\n');
    ov = mountOverlay(lower, join(root, 'ov'));
    mkdirSync(join(ov.merged, 'data'));
    writeFileSync(join(ov.merged, 'data/db'), 'state\n'.repeat(1000));
    writeFileSync(join(ov.merged, 'etc/image.conf'), 'changed\n');
    unlinkSync(join(ov.merged, 'etc/gone'));
    const upperIn = `/${relative(root, ov.upper)}`;
    inRoot(['init', '--store', 'file:///store', '--state-dir', '/state']);
    const snap = JSON.parse(inRoot(['snapshot', '--json', '--key', 'rel', '--store', 'file:///store', '--state-dir', '/state', upperIn])) as { digest?: string };
    assert.match(JSON.stringify(snap), /sha256:[0-9a-f]{64}/);
    inRoot(['restore', '--key', 'rel', '--store', 'file:///store', '--state-dir', '/state2', '/restored']);
    const noOverlayXattrs = { xattrFilter: (n: string) => !n.startsWith('trusted.overlay.') };
    assert.deepEqual(treeList(describeTree(join(root, 'restored'), noOverlayXattrs)), treeList(describeTree(ov.upper, noOverlayXattrs)));
    // The whiteout came back as a whiteout: an overlay on the restored upper dir hides the file.
    assert.ok(lstatSync(join(root, 'restored/etc/gone')).isCharacterDevice());
  });

  it('serves Health on its unix socket', async () => {
    daemon = spawn(CHROOT, [root, `${APP}/bin/layerkeep`, 'serve', '--docker=off', '--socket=/run/lk.sock', '--run-dir=/run/lk',
      '--store=file:///store', '--state-dir=/state'], { env: { PATH: '/bin' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    daemon.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
    const sock = join(root, 'run/lk.sock');
    await waitFor(`the release's daemon socket (${stderr})`, () => existsSync(sock) || daemon!.exitCode !== null, 120_000);
    assert.equal(daemon.exitCode, null, `daemon exited: ${stderr}`);
    const client = createClient({ address: sock });
    try {
      const h = await unary<object, { status: string }>(client, client.Health as never, {});
      assert.equal(h.status, 'serving');
    } finally {
      client.close();
    }
    daemon.kill('SIGTERM');
    await waitFor('the daemon to stop', () => daemon!.exitCode !== null || daemon!.signalCode !== null, 120_000);
  });
});

describe('install.sh', () => {
  it('installs exactly the listed files into a scratch root, and --uninstall removes them all', () => {
    const base = tempDir('layerkeep-install-');
    try {
      const rel = unpack(join(base, 'unpack'));
      const dest = join(base, 'dest');
      mkdirSync(dest);
      writeFileSync(join(dest, 'keep-me'), 'not ours\n');
      execFileSync(join(rel, 'install.sh'), ['--prefix=/usr/local', `--destdir=${dest}`], { stdio: 'pipe' });
      const installed = listAll(dest).filter((f) => !f.startsWith('usr/local/lib/layerkeep/'));
      assert.deepEqual(installed, [
        'etc/', 'etc/containers/', 'etc/containers/oci/', 'etc/containers/oci/hooks.d/', 'etc/containers/oci/hooks.d/layerkeep.json',
        'etc/layerkeep/', 'etc/layerkeep/env', 'etc/layerkeep/layerkeep.json',
        'etc/systemd/', 'etc/systemd/system/', 'etc/systemd/system/layerkeep.service',
        'keep-me',
        'usr/', 'usr/local/', 'usr/local/bin/', 'usr/local/bin/layerkeep',
        'usr/local/lib/',
        'usr/local/share/', 'usr/local/share/man/', 'usr/local/share/man/man1/', 'usr/local/share/man/man1/layerkeep.1',
      ]);
      assert.equal(lstatSync(join(dest, 'etc/layerkeep/env')).mode & 0o777, 0o600);
      const unit = readFileSync(join(dest, 'etc/systemd/system/layerkeep.service'), 'utf8');
      assert.match(unit, /^ExecStart=\/usr\/local\/bin\/layerkeep serve$/m);
      assert.match(unit, /^EnvironmentFile=-\/etc\/layerkeep\/env$/m);
      const hook = JSON.parse(readFileSync(join(dest, 'etc/containers/oci/hooks.d/layerkeep.json'), 'utf8')) as { hook: { path: string; args: string[] } };
      assert.equal(hook.hook.path, '/usr/local/lib/layerkeep/hooks/layerkeep-hook');
      assert.ok(hook.hook.args.includes('--node=/usr/local/lib/layerkeep/node/bin/node'));
      // The installed launcher runs (the symlink points into the installed tree, under DESTDIR).
      const out = execFileSync(join(dest, 'usr/local/lib/layerkeep/bin/layerkeep'), ['--version'], { encoding: 'utf8' });
      assert.equal(out.trim(), `layerkeep/${VERSION}`);
      // Installing again (an upgrade) and then uninstalling still leaves nothing behind.
      execFileSync(join(rel, 'install.sh'), ['--prefix=/usr/local', `--destdir=${dest}`], { stdio: 'pipe' });
      execFileSync(join(dest, 'usr/local/lib/layerkeep/install.sh'), ['--uninstall', '--prefix=/usr/local', `--destdir=${dest}`], { stdio: 'pipe' });
      assert.deepEqual(listAll(dest), ['keep-me']);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('keeps a config file the operator edited', () => {
    const base = tempDir('layerkeep-install-');
    try {
      const rel = unpack(join(base, 'unpack'));
      const dest = join(base, 'dest');
      mkdirSync(dest);
      execFileSync(join(rel, 'install.sh'), [`--destdir=${dest}`, '--no-systemd', '--no-oci-hooks'], { stdio: 'pipe' });
      writeFileSync(join(dest, 'etc/layerkeep/layerkeep.json'), '{"store":"s3://b/p"}\n');
      execFileSync(join(rel, 'install.sh'), ['--uninstall', `--destdir=${dest}`], { stdio: 'pipe' });
      assert.deepEqual(listAll(dest), ['etc/', 'etc/layerkeep/', 'etc/layerkeep/layerkeep.json']);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
