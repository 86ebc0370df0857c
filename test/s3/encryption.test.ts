// Client-side encryption against a real S3 server, through the CLI: a restore without the
// snapshot's key (none, or the wrong one) fails naming the key id and writes nothing; a
// flipped ciphertext byte in the bucket is refused and found by `check --read-data`, as is a
// missing manifest; an encrypted snapshot whose upload is SIGKILLed again and again resumes and
// restores.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { EncryptionKey } from '../../src/snapshot/frameCipher.js';
import Database from 'better-sqlite3';
import { nativeBindingOption } from '../../src/state/db.js';
import { startFaultProxy } from '../support/faultProxy.js';
import { createTestBucket, MIB, s3TestEnv, streamToBuffer, type S3TestEnv, type TestBucket } from './helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

let env: S3TestEnv;
let bucket: TestBucket;
let work: string;
let k1: string;
let k2: string;
let id1: string;
let secret1: Buffer;
before(async () => {
  env = s3TestEnv();
  bucket = await createTestBucket(env, 'crypt');
  work = await mkdtemp(join(tmpdir(), 'lk-s3crypt-'));
  secret1 = randomBytes(32);
  k1 = join(work, 'k1');
  k2 = join(work, 'k2');
  await writeFile(k1, secret1, { mode: 0o600 });
  await writeFile(k2, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  id1 = new EncryptionKey(secret1).id;
});
after(async () => {
  await bucket?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Run { code: number; stdout: string; stderr: string }

function cliArgs(args: string[], prefix: string, stateDir: string, extra: string[] = []): string[] {
  return [CLI, ...args, '--store', `s3://${bucket.name}/${prefix}`, '--state-dir', stateDir, '--s3-part-size', '5MiB', ...extra];
}

const initialised = new Set<string>();
async function layerkeep(args: string[], prefix: string, stateDir: string): Promise<Run> {
  if (!initialised.has(prefix)) { // a store is created on purpose
    initialised.add(prefix);
    const init = await layerkeep(['init'], prefix, stateDir);
    assert.equal(init.code, 0, init.stderr);
  }
  return new Promise((resolve) => {
    execFile(process.execPath, cliArgs(args, prefix, stateDir), { env: { ...process.env, LAYERKEEP_ENCRYPTION_KEY: '' }, maxBuffer: 16 * MIB },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

async function makeTree(dir: string, mib: number): Promise<void> {
  await mkdir(join(dir, 'etc'), { recursive: true });
  await writeFile(join(dir, 'etc', 'secret.conf'), 'password=hunter2\n'.repeat(100));
  await writeFile(join(dir, 'big.bin'), randomBytes(mib * MIB));
}

async function describeTree(dir: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const p = join(rel, name);
    const st = await lstat(join(dir, p));
    out[p] = st.isDirectory() ? 'dir' : createHash('sha256').update(await readFile(join(dir, p))).digest('hex');
    if (st.isDirectory()) Object.assign(out, await describeTree(dir, p));
  }
  return out;
}

async function getObject(key: string): Promise<Buffer> {
  const r = await bucket.client.send(new GetObjectCommand({ Bucket: bucket.name, Key: key }));
  return streamToBuffer(r.Body as AsyncIterable<Buffer>);
}

describe('client-side encryption with an S3 store', () => {
  test('without the snapshot\'s key a restore fails naming the key id and writes nothing; with it the tree comes back', async () => {
    const src = join(work, 'src1');
    await makeTree(src, 12);
    const snap = await layerkeep(['snapshot', '--key', 'app', '--json', '--encryption-key-file', k1, src], 'p1', join(work, 'h1a'));
    assert.equal(snap.code, 0, snap.stderr);
    const r = JSON.parse(snap.stdout) as { manifestDigest: string; blobDigest: string };
    const blob = await getObject(`p1/blobs/sha256/${r.blobDigest.slice(7)}`);
    assert.equal(blob.readUInt32LE(0), 0x184d2a5b, 'the stored blob starts with the encryption header');
    assert.equal(blob.includes('hunter2'), false);
    const manifest = await getObject(`p1/manifests/${r.manifestDigest.slice(7)}.json`);
    assert.equal((JSON.parse(manifest.toString()) as { encryption: { keyId: string } }).encryption.keyId, id1);

    const dst = join(work, 'dst1');
    for (const keys of [[], ['--encryption-key-file', k2]]) {
      const bad = await layerkeep(['restore', '--key', 'app', '--json', ...keys, dst], 'p1', join(work, 'h1b'));
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, new RegExp(`encrypted with key ${id1}, which is not configured`));
      const err = JSON.parse(bad.stdout) as { error: { kind: string; message: string } };
      assert.equal(err.error.kind, 'refused');
      assert.ok(err.error.message.includes(id1));
      for (const out of [bad.stdout, bad.stderr]) assert.equal(out.includes(secret1.toString('hex')) || out.includes(secret1.toString('base64')), false);
      assert.equal(existsSync(dst), false, 'nothing was written');
      assert.deepEqual((await readdir(work)).filter((n) => n.includes('layerkeep')), []);
    }
    const ok = await layerkeep(['restore', '--key', 'app', '--encryption-key-file', k2, '--encryption-key-file', k1, dst], 'p1', join(work, 'h1b'));
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(await describeTree(dst), await describeTree(src));
    const c = await layerkeep(['check', '--read-data', '--json', '--encryption-key-file', k1], 'p1', join(work, 'h1c'));
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.equal((JSON.parse(c.stdout) as { ok: boolean }).ok, true);
  });

  test('a flipped ciphertext byte is refused, and check --read-data reports it and a missing manifest', async () => {
    const src = join(work, 'src2');
    await makeTree(src, 6);
    const a = await layerkeep(['snapshot', '--key', 'one', '--json', '--encryption-key-file', k1, src], 'p2', join(work, 'h2a'));
    const b = await layerkeep(['snapshot', '--key', 'two', '--json', '--encryption-key-file', k1, src], 'p2', join(work, 'h2a'));
    assert.equal(a.code + b.code, 0, a.stderr + b.stderr);
    const ra = JSON.parse(a.stdout) as { blobDigest: string };
    const rb = JSON.parse(b.stdout) as { manifestDigest: string };
    const key = `p2/blobs/sha256/${ra.blobDigest.slice(7)}`;
    const bytes = await getObject(key);
    bytes[Math.floor(bytes.length / 3)]! ^= 0x20;
    await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: key, Body: bytes }));
    await bucket.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: `p2/manifests/${rb.manifestDigest.slice(7)}.json` }));

    const target = join(work, 'dst2');
    await mkdir(target);
    await writeFile(join(target, 'mine'), 'kept');
    const bad = await layerkeep(['restore', '--key', 'one', '--force', '--encryption-key-file', k1, target], 'p2', join(work, 'h2b'));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /failed authentication/);
    assert.deepEqual(await describeTree(target), { mine: createHash('sha256').update('kept').digest('hex') });

    const sizes = await layerkeep(['check', '--json'], 'p2', join(work, 'h2c'));
    assert.equal(sizes.code, 1);
    const s = JSON.parse(sizes.stdout) as { problems: { object: string; problem: string }[] };
    assert.deepEqual(s.problems.map((p) => p.object), [`manifests/${rb.manifestDigest.slice(7)}.json`]);
    const full = await layerkeep(['check', '--read-data', '--json', '--encryption-key-file', k1], 'p2', join(work, 'h2c'));
    assert.equal(full.code, 1);
    const f = JSON.parse(full.stdout) as { problems: { object: string; problem: string }[] };
    const by = new Map(f.problems.map((p) => [p.object, p.problem]));
    assert.match(by.get(`manifests/${rb.manifestDigest.slice(7)}.json`) ?? '', /manifest is missing/);
    assert.match(by.get(`blobs/sha256/${ra.blobDigest.slice(7)}`) ?? '', /failed authentication/);
  });

  test('an encrypted snapshot whose upload is killed again and again resumes, and restores', async () => {
    const src = join(work, 'src3');
    await makeTree(src, 40);
    const state = join(work, 'h3a');
    const proxy = await startFaultProxy({ target: env.endpoint, delayMs: { UploadPart: 700 } });
    const parts = (): number => {
      if (!existsSync(join(state, 'state.db'))) return 0;
      // read-only beside the running child (which creates and migrates it)
      const db = new Database(join(state, 'state.db'), { ...nativeBindingOption(), readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 5000');
      // parts of uploads whose blob is complete in the staging file (resumable; an upload killed
      // while still packing is not: a re-run encrypts with a new salt, so its parts differ)
      try {
        return db.prepare(`SELECT count(*) FROM parts p JOIN uploads u ON u.id = p.upload_id WHERE u.status = 'uploading'`).pluck().get() as number;
      } catch {
        return 0; // not migrated yet
      } finally { db.close(); }
    };
    try {
      const init = await layerkeep(['init'], 'p3', state);
      assert.equal(init.code, 0, init.stderr);
      let kills = 0;
      let said = '';
      for (let run = 0; run < 6 && kills < 3; run++) {
        const before = parts();
        const child = spawn(process.execPath, cliArgs(['snapshot', '--key', 'killed', '--encryption-key-file', k1, src], 'p3', state,
          ['--s3-endpoint', proxy.url, '--s3-concurrency', '2']), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LAYERKEEP_ENCRYPTION_KEY: '' } });
        child.stderr!.on('data', (d: Buffer) => { said += d.toString(); });
        const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
        let done = false;
        void exited.then(() => { done = true; });
        // killed once a part more than before is journaled: mid-upload, deterministically
        while (!done && parts() <= before) await new Promise((r) => setTimeout(r, 25));
        if (!done) { child.kill('SIGKILL'); kills++; }
        await exited;
      }
      assert.ok(kills >= 2, `only ${kills} kills landed mid-upload`);
      const last = await new Promise<Run>((resolve) => {
        // through the proxy too: the journal knows uploads by their store (endpoint included)
        execFile(process.execPath, cliArgs(['snapshot', '--key', 'killed', '--json', '--encryption-key-file', k1, src], 'p3', state,
          ['--s3-endpoint', proxy.url]), {
          env: { ...process.env, LAYERKEEP_ENCRYPTION_KEY: '' }, maxBuffer: 16 * MIB,
        }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
      });
      assert.equal(last.code, 0, last.stderr);
      const w = JSON.parse(last.stdout) as { warnings: string[] };
      // an interrupted encrypted upload was finished from its staged (already encrypted) bytes
      assert.ok(w.warnings.some((x) => /finished an upload left unfinished/.test(x)) || /finished an upload left unfinished/.test(said),
        `${last.stdout}\n${said}`);
      // every snapshot of the key (the resumed one, published by resume, and the final run's) restores
      const ls = await layerkeep(['ls', '--key', 'killed', '--json'], 'p3', join(work, 'h3b'));
      const digests = (JSON.parse(ls.stdout) as { snapshots: { digest: string }[] }).snapshots.map((x) => x.digest);
      assert.ok(digests.length >= 1, ls.stdout);
      for (const [i, d] of digests.entries()) {
        const dst = join(work, `dst3-${i}`);
        const ok = await layerkeep(['restore', '--key', 'killed', '--snapshot', d, '--encryption-key-file', k1, dst], 'p3', join(work, 'h3b'));
        assert.equal(ok.code, 0, ok.stderr);
        assert.deepEqual(await describeTree(dst), await describeTree(src));
      }
      const c = await layerkeep(['check', '--read-data', '--json', '--encryption-key-file', k1], 'p3', join(work, 'h3c'));
      assert.equal(c.code, 0, c.stdout + c.stderr);
    } finally {
      await proxy.close();
    }
  });
});
