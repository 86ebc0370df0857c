// The command line as users and scripts meet it: --json, exit codes, one-line errors with a
// hint, and the local store's crash safety (a killed snapshot leaves nothing visible).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../support/scratch.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function lk(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('layerkeep CLI', { timeout: 120_000 }, () => {
  const base = tempDir();
  dirs.push(base);
  const common = ['--store', join(base, 'store'), '--state-dir', join(base, 'state')];
  const upper = join(base, 'upper');
  mkdirSync(join(upper, 'd'), { recursive: true });
  writeFileSync(join(upper, 'd/f'), 'data\n');

  it('prints one JSON object with --json and exits 0', () => {
    assert.equal(lk(['init', ...common]).code, 0);
    const r = lk(['snapshot', ...common, '--key', 'app', '--json', upper]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.key, 'app');
    assert.equal(out.changed, true);
    assert.match(out.manifestDigest, /^sha256:[0-9a-f]{64}$/);
    const again = JSON.parse(lk(['snapshot', ...common, '--key', 'app', '--json', upper]).stdout);
    assert.equal(again.changed, false);
    const ls = JSON.parse(lk(['ls', ...common, '--json']).stdout);
    assert.equal(ls.snapshots.length, 1);
    assert.equal(ls.snapshots[0].current, true);
    const insp = JSON.parse(lk(['inspect', ...common, '--json', out.manifestDigest.slice(7, 19)]).stdout);
    assert.equal(insp.manifest.blob.digest, out.blobDigest);
  });

  it('fails with one clear line and a non-zero exit code', () => {
    const missing = lk(['restore', ...common, '--key', 'nope', join(base, 'x')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^layerkeep: error: key nope has no snapshot in file:\/\//);
    const badKey = lk(['snapshot', ...common, '--key', '../evil', upper]);
    assert.equal(badKey.code, 2); // invalid input, like a usage error
    assert.match(badKey.stderr, /invalid key "..\/evil"/);
    const usage = lk(['snapshot', ...common, '--bogus', upper]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown option --bogus for layerkeep snapshot\n/);
    const notEmpty = lk(['restore', ...common, '--key', 'app', upper]);
    assert.equal(notEmpty.code, 1);
    assert.match(notEmpty.stderr, /not empty: pass --force/);
  });

  it('exports plain tar and tar.zst that standard tools read', () => {
    const tarOut = join(base, 'out.tar');
    const zstOut = join(base, 'out.tar.zst');
    assert.equal(lk(['export', ...common, '--key', 'app', '-o', tarOut]).code, 0);
    assert.equal(lk(['export', ...common, '--key', 'app', '-o', zstOut]).code, 0);
    assert.match(spawnSync('tar', ['-tf', tarOut], { encoding: 'utf8' }).stdout, /d\/f/);
    assert.match(spawnSync('bash', ['-c', `zstd -dc ${zstOut} | tar -tf -`], { encoding: 'utf8' }).stdout, /d\/f/);
  });

  it('exports a diff snapshot as the whole resolved tree', () => {
    const up = join(base, 'chain');
    mkdirSync(up);
    for (let i = 0; i < 10; i++) writeFileSync(join(up, `f${i}`), randomBytes(50_000));
    assert.equal(lk(['snapshot', ...common, '--key', 'chain', up]).code, 0);
    rmSync(join(up, 'f0'));
    writeFileSync(join(up, 'new'), 'n');
    const diff = JSON.parse(lk(['snapshot', ...common, '--key', 'chain', '--json', up]).stdout);
    assert.equal(diff.kind, 'diff');
    const out = join(base, 'chain.tar');
    assert.equal(lk(['export', ...common, '--key', 'chain', '-o', out]).code, 0);
    const names = spawnSync('tar', ['-tf', out], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).sort();
    assert.deepEqual(names, ['f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8', 'f9', 'new']);
  });

  it('leaves no partial blob visible when killed mid-snapshot, and the next run succeeds', async () => {
    const big = join(base, 'big');
    mkdirSync(big);
    // ~160 MiB that compresses poorly, so packing takes a while
    for (let i = 0; i < 40; i++) writeFileSync(join(big, `f${i}`), randomBytes(4 << 20));
    const store = join(base, 'crash-store');
    const args = ['--store', store, '--state-dir', join(base, 'crash-state')];
    assert.equal(lk(['init', ...args]).code, 0);
    for (const delayMs of [150, 400, 800]) {
      const child = spawn(process.execPath, [CLI, 'snapshot', ...args, '--key', 'big', big], { stdio: 'ignore' });
      const closed = new Promise((r) => child.on('close', r)); // attached before it can exit
      await new Promise((r) => setTimeout(r, delayMs));
      child.kill('SIGKILL');
      await closed;
      // whatever is visible is complete: every blob's name is its sha256, no ref without a manifest
      const blobDir = join(store, 'blobs/sha256');
      for (const name of existsSync(blobDir) ? readdirSync(blobDir) : []) {
        assert.equal(createHash('sha256').update(readFileSync(join(blobDir, name))).digest('hex'), name);
      }
      assert.equal(existsSync(join(store, 'refs/big')) && !existsSync(join(store, 'manifests')), false);
    }
    const ok = lk(['snapshot', ...args, '--key', 'big', '--json', big]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(readdirSync(join(store, 'tmp')), [], 'temp files of killed runs are cleaned up');
    const restored = join(base, 'big-restored');
    assert.equal(lk(['restore', ...args, '--key', 'big', restored]).code, 0);
    assert.ok(readFileSync(join(restored, 'f7')).equals(readFileSync(join(big, 'f7'))));
  });
});
