// End to end through the CLI against a real S3 server: snapshot to s3://, restore on a
// "second host" (an empty state dir), and two processes racing on one key.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, lstat, writeFile, symlink, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  MIB, type TestBucket, useTestBucket,
} from './helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

let bucket: TestBucket;
useTestBucket('cli', (f) => ({ bucket } = f));
let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'lk-s3cli-'));
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let initialised = false;
async function layerkeep(args: string[], stateDir: string): Promise<Run> {
  if (!initialised) { // a store is created on purpose
    initialised = true;
    const init = await layerkeep(['init'], stateDir);
    assert.equal(init.code, 0, init.stderr);
  }
  const full = [...args, '--store', `s3://${bucket.name}/cli`, '--state-dir', stateDir, '--s3-part-size', '5MiB'];
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...full], { env: process.env, maxBuffer: 16 * MIB }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A small tree with a file large enough for a multipart upload, a symlink and odd modes. */
async function makeTree(dir: string, seed: string): Promise<void> {
  await mkdir(join(dir, 'etc', 'app'), { recursive: true });
  await writeFile(join(dir, 'etc', 'app', 'config.json'), JSON.stringify({ seed }));
  await writeFile(join(dir, 'big.bin'), randomBytes(14 * MIB));
  await writeFile(join(dir, 'script.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(dir, 'script.sh'), 0o750);
  await symlink('etc/app/config.json', join(dir, 'link'));
}

/** path -> type, mode, content digest (or link target), for comparing trees. */
async function describeTree(dir: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const p = join(rel, name);
    const st = await lstat(join(dir, p));
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) {
      out[p] = `dir ${mode}`;
      Object.assign(out, await describeTree(dir, p));
    } else if (st.isSymbolicLink()) {
      out[p] = `link`;
    } else {
      out[p] = `file ${mode} ${createHash('sha256').update(await readFile(join(dir, p))).digest('hex')}`;
    }
  }
  return out;
}

describe('CLI with an S3 store', () => {
  test('snapshot to s3://, then restore on a second host with an empty state dir', async () => {
    const src = join(work, 'src1');
    await mkdir(src);
    await makeTree(src, 'one');
    const snap = await layerkeep(['snapshot', '--key', 'web1', '--json', src], join(work, 'host-a'));
    assert.equal(snap.code, 0, snap.stderr);
    const result = JSON.parse(snap.stdout) as { manifestDigest: string; blobSize: number };
    assert.match(result.manifestDigest, /^sha256:[0-9a-f]{64}$/);
    assert.ok(result.blobSize > 10 * MIB);
    // the journal of host A records a finished multipart upload
    const dst = join(work, 'restored1');
    const restore = await layerkeep(['restore', '--key', 'web1', dst], join(work, 'host-b'));
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(await describeTree(dst), await describeTree(src));
    const ls = await layerkeep(['ls', '--key', 'web1', '--json'], join(work, 'host-c'));
    assert.equal(ls.code, 0, ls.stderr);
    assert.ok(ls.stdout.includes(result.manifestDigest), ls.stdout);
  });

  test('a chain continued on another host from S3 alone: an edit inside a large file stores only chunks around it', async () => {
    const a = join(work, 'chain-a');
    await mkdir(a);
    await makeTree(a, 'chain');
    const full = await layerkeep(['snapshot', '--key', 'chain', '--json', a], join(work, 'chain-host-a'));
    assert.equal(full.code, 0, full.stderr);
    assert.equal((JSON.parse(full.stdout) as { kind: string }).kind, 'full');
    // host B starts from S3: restores into its own upper dir, edits 64 KiB inside the large file
    const b = join(work, 'chain-b');
    const hostB = join(work, 'chain-host-b');
    const restored = await layerkeep(['restore', '--key', 'chain', b], hostB);
    assert.equal(restored.code, 0, restored.stderr);
    const big = await readFile(join(b, 'big.bin'));
    randomBytes(64 * 1024).copy(big, 7 * MIB);
    await writeFile(join(b, 'big.bin'), big);
    const diff = await layerkeep(['snapshot', '--key', 'chain', '--json', b], hostB);
    assert.equal(diff.code, 0, diff.stderr);
    const d = JSON.parse(diff.stdout) as { kind: string; storedBytes: number };
    assert.equal(d.kind, 'diff');
    // the stored copy of big.bin was chunked from S3 (ranged reads of its frames), so only the
    // chunks around the edit went up: far less than the 14 MiB file
    assert.ok(d.storedBytes < 1 * MIB, `the diff stored ${d.storedBytes} bytes`);
    const c = join(work, 'chain-c');
    const again = await layerkeep(['restore', '--key', 'chain', c], join(work, 'chain-host-c'));
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await describeTree(c), await describeTree(b));
  });

  test('two processes racing on one key: exactly one wins, the other names the winner, both restorable by digest', async () => {
    const a = join(work, 'race-a');
    const b = join(work, 'race-b');
    await mkdir(a);
    await mkdir(b);
    await makeTree(a, 'a');
    await makeTree(b, 'b');
    const [ra, rb] = await Promise.all([
      layerkeep(['snapshot', '--key', 'raced', '--json', a], join(work, 'race-host-a')),
      layerkeep(['snapshot', '--key', 'raced', '--json', b], join(work, 'race-host-b')),
    ]);
    const runs = [ra, rb];
    const winners = runs.filter((r) => r.code === 0);
    const losers = runs.filter((r) => r.code !== 0);
    assert.equal(winners.length, 1, `exit codes ${ra.code} / ${rb.code}: ${ra.stderr} ${rb.stderr}`);
    const winner = JSON.parse(winners[0].stdout) as { manifestDigest: string };
    const conflict = /key raced was updated elsewhere: its current snapshot is (sha256:[0-9a-f]{64}).*this snapshot \((sha256:[0-9a-f]{64})\) is stored but not current/.exec(losers[0].stderr);
    assert.ok(conflict, `loser said: ${losers[0].stderr}`);
    assert.equal(conflict[1], winner.manifestDigest, 'the conflict names the winning snapshot');
    const loserDigest = conflict[2];
    const winnerSrc = winners[0] === ra ? a : b;
    const loserSrc = winners[0] === ra ? b : a;
    for (const [digest, src, name] of [[winner.manifestDigest, winnerSrc, 'w'], [loserDigest, loserSrc, 'l']]) {
      const dst = join(work, `race-restored-${name}`);
      const r = await layerkeep(['restore', '--key', 'raced', '--snapshot', digest, dst], join(work, `race-host-${name}2`));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await describeTree(dst), await describeTree(src));
    }
  });
});
