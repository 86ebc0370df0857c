// gc against the S3 store (RGW) and the local directory store: mark from refs through
// manifests (history and base chains) to blobs; sweep only what is old enough.
import { CreateMultipartUploadCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gc } from '../../src/ops/gc.js';
import type { OpsContext } from '../../src/ops/types.js';
import type { StateDb } from '../../src/state/db.js';
import { openFsStore } from '../../src/store/fs.js';
import type { S3Store } from '../../src/s3/open.js';
import type { ObjectStore } from '../../src/store/types.js';
import {
  memoryLog, openTestStore, type S3TestEnv, tempStateDir, type TestBucket, useTestBucket,
} from './helpers.js';

let env: S3TestEnv;
let bucket: TestBucket;
useTestBucket('gc', (f) => ({ env, bucket } = f));

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

async function putBlob(store: ObjectStore, content: string): Promise<string> {
  const body = Buffer.from(content);
  const w = await store.createBlobWriter();
  await w.write(body);
  await w.finish(sha(body), body.length);
  return sha(body);
}

async function putManifest(store: ObjectStore, key: string, blobHex: string, base: string[] = [], extra: Record<string, unknown> = {}): Promise<string> {
  const body = Buffer.from(JSON.stringify({ key, blob: { digest: `sha256:${blobHex}`, size: 1 }, base, ...extra }));
  await store.putSmall(`manifests/${sha(body)}.json`, body);
  return sha(body);
}

async function putRef(store: ObjectStore, key: string, history: string[]): Promise<void> {
  const ref = { key, current: `sha256:${history[0]}`, generation: history.length, history: history.map((h) => ({ manifest: `sha256:${h}`, created: '' })) };
  await store.putSmall(`refs/${key}`, Buffer.from(JSON.stringify(ref)));
}

interface Scenario {
  m: Record<string, string>;
  b: Record<string, string>;
}

/** ref a: [m2, m1]; ref b: [m4], m4 based on m3 and naming an index and a chunk pack; m0 reached by nothing. */
async function oldObjects(store: ObjectStore): Promise<Scenario> {
  const b: Record<string, string> = {};
  for (const n of ['b0', 'b1', 'b2', 'b3', 'b4', 'i4', 'c4']) b[n] = await putBlob(store, `blob ${n} of ${store.description}`);
  const m: Record<string, string> = {};
  m.m0 = await putManifest(store, 'gone', b.b0);
  m.m1 = await putManifest(store, 'a', b.b1);
  m.m2 = await putManifest(store, 'a', b.b2);
  m.m3 = await putManifest(store, 'b', b.b3);
  // an incremental snapshot: besides its layer blob, a layer index and a chunk pack
  m.m4 = await putManifest(store, 'b', b.b4, [`sha256:${m.m3}`], {
    index: { digest: `sha256:${b.i4}`, size: 1 }, chunks: { digest: `sha256:${b.c4}`, size: 1 },
  });
  await putRef(store, 'a', [m.m2, m.m1]);
  await putRef(store, 'b', [m.m4]);
  return { m, b };
}

async function exists(store: ObjectStore, keys: string[]): Promise<boolean[]> {
  return Promise.all(keys.map(async (k) => (await store.head(k)) !== null));
}

const ctxOf = (store: ObjectStore, state: StateDb): OpsContext => ({ store, state, log: memoryLog(), host: 'test' });

/** The latest time (server clock, ms) of any object or multipart upload under the store's prefix. */
async function latestServerTime(store: S3Store): Promise<number> {
  let latest = 0;
  for await (const o of store.list('')) latest = Math.max(latest, o.modified?.getTime() ?? 0);
  for await (const u of store.listMultipartUploads()) latest = Math.max(latest, u.initiated?.getTime() ?? 0);
  return latest;
}

/** The server's modification times (ms) of these keys, as gc sees them in a listing. */
async function serverTimes(store: ObjectStore, keys: string[]): Promise<number[]> {
  const times = new Map<string, number>();
  for await (const o of store.list('')) times.set(o.key, o.modified?.getTime() ?? 0);
  return keys.map((k) => times.get(k) ?? assert.fail(`${k} not listed`));
}

/** Waits until an object written now gets a later server time than `t` (the server's clock granularity). */
async function serverClockPast(t: number): Promise<void> {
  const key = `clock/${randomBytes(4).toString('hex')}`;
  try {
    for (;;) {
      await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: key, Body: 'x' }));
      const listed = await bucket.client.send(new ListObjectsV2Command({ Bucket: bucket.name, Prefix: key }));
      if ((listed.Contents?.[0]?.LastModified?.getTime() ?? 0) > t) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await bucket.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: key }));
  }
}

describe('gc', () => {
  test('on S3: dry run reports, real run deletes unreached old manifests, blobs, temporaries and unknown multipart uploads', async () => {
    const s = await tempStateDir('gc');
    const store = await openTestStore(env, bucket.name, s.state, { prefix: 'gc' });
    try {
      const { m, b } = await oldObjects(store);
      // debris: a temporary object and two multipart uploads, one of them known to the journal
      await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: 'gc/uploads/stray', Body: 'x' }));
      const orphan = await bucket.client.send(new CreateMultipartUploadCommand({ Bucket: bucket.name, Key: 'gc/uploads/orphan' }));
      const known = await bucket.client.send(new CreateMultipartUploadCommand({ Bucket: bucket.name, Key: 'gc/uploads/known' }));
      s.state.prepare(`INSERT INTO uploads (store, key, object_key, upload_id, part_size, staging_path, status, started, updated)
                       VALUES (?, 'k', 'uploads/known', ?, 5242880, '/nonexistent', 'uploading', '', '')`).run(store.description, known.UploadId);
      // A snapshot whose blob is uploaded but whose manifest is not published yet (a resume will):
      // its blob and the index its manifest names stay.
      const pendingBlob = await putBlob(store, 'pending blob');
      const pendingIndex = await putBlob(store, 'pending index');
      const note = JSON.stringify({ key: 'p', blob: { digest: `sha256:${pendingBlob}` }, index: { digest: `sha256:${pendingIndex}` }, base: [] });
      s.state.prepare(`INSERT INTO uploads (store, key, object_key, blob_digest, size, part_size, staging_path, manifest_json, status, started, updated)
                       VALUES (?, 'p', 'uploads/pending', ?, 12, 5242880, '/nonexistent2', ?, 'completing', '', '')`).run(store.description, pendingBlob, note);
      // Then a young unreached snapshot, once the server's clock has passed everything above.
      // gc runs at the young snapshot's server time with a grace period that just covers the
      // gap: no stopwatch, so a slow machine cannot make the young objects look old.
      const oldest = await latestServerTime(store);
      await serverClockPast(oldest);
      const by = await putBlob(store, 'young blob');
      const my = await putManifest(store, 'young', by);
      const young = await serverTimes(store, [`blobs/sha256/${by}`, `manifests/${my}.json`]);
      const clock = { now: new Date(Math.min(...young)), graceMs: Math.min(...young) - oldest };
      assert.ok(clock.graceMs > 0);

      const dry = await gc(ctxOf(store, s.state), { dryRun: true, ...clock });
      assert.equal(dry.dryRun, true);
      assert.deepEqual(dry.deleted.manifests, [`manifests/${m.m0}.json`]);
      assert.deepEqual(dry.deleted.blobs, [`blobs/sha256/${b.b0}`]);
      assert.deepEqual(dry.deleted.temporaries, ['uploads/stray']);
      assert.deepEqual(dry.abortedUploads.map((u) => [u.key, u.uploadId]), [['uploads/orphan', orphan.UploadId]]);
      assert.equal(dry.keptYoung, 2);
      assert.deepEqual(dry.reachable, { manifests: 4, blobs: 8 });
      assert.deepEqual(await exists(store, [`manifests/${m.m0}.json`, `blobs/sha256/${b.b0}`, 'uploads/stray']), [true, true, true]);

      const real = await gc(ctxOf(store, s.state), clock);
      assert.deepEqual(real.deleted, dry.deleted);
      assert.deepEqual(real.abortedUploads, dry.abortedUploads);
      assert.deepEqual(await exists(store, [`manifests/${m.m0}.json`, `blobs/sha256/${b.b0}`, 'uploads/stray']), [false, false, false]);
      const kept = [m.m1, m.m2, m.m3, m.m4, my].map((h) => `manifests/${h}.json`)
        .concat([b.b1, b.b2, b.b3, b.b4, b.i4, b.c4, by, pendingBlob, pendingIndex].map((h) => `blobs/sha256/${h}`));
      assert.deepEqual(await exists(store, kept), kept.map(() => true));
      const uploads: string[] = [];
      for await (const u of store.listMultipartUploads()) uploads.push(u.uploadId);
      assert.deepEqual(uploads, [known.UploadId]);

      // keep=1: a's older snapshot goes; b's base chain (m3 -> b3) stays.
      const trimmed = await gc(ctxOf(store, s.state), { ...clock, keep: 1 });
      assert.deepEqual(trimmed.deleted.manifests, [`manifests/${m.m1}.json`]);
      assert.deepEqual(trimmed.deleted.blobs, [`blobs/sha256/${b.b1}`]);
      assert.deepEqual(await exists(store, [`manifests/${m.m3}.json`, `blobs/sha256/${b.b3}`]), [true, true]);
      await store.abortMultipartUpload('uploads/known', known.UploadId as string);
    } finally {
      for (const k of await bucket.keys('gc/')) await store.delete(k.slice(3));
      await store.close();
      await s.cleanup();
    }
  });

  test('on the local directory store: the same marking, with the default 24 h grace period', async () => {
    const s = await tempStateDir('gcfs');
    const root = join(s.dir, 'store');
    const store = openFsStore(root);
    const { m, b } = await oldObjects(store);
    const twoDaysAgo = new Date(Date.now() - 48 * 3_600_000);
    for await (const o of store.list('')) await utimes(join(root, o.key), twoDaysAgo, twoDaysAgo);
    const by = await putBlob(store, 'young blob');
    try {
      const dry = await gc(ctxOf(store, s.state), { dryRun: true });
      assert.deepEqual(dry.deleted.manifests, [`manifests/${m.m0}.json`]);
      assert.deepEqual(dry.deleted.blobs, [`blobs/sha256/${b.b0}`]);
      assert.equal(dry.keptYoung, 1);
      assert.deepEqual(await exists(store, [`manifests/${m.m0}.json`, `blobs/sha256/${b.b0}`]), [true, true]);
      const real = await gc(ctxOf(store, s.state), {});
      assert.deepEqual(real.deleted, dry.deleted);
      assert.deepEqual(await exists(store, [`manifests/${m.m0}.json`, `blobs/sha256/${b.b0}`, `blobs/sha256/${by}`]), [false, false, true]);
      assert.deepEqual(await exists(store, [b.b1, b.b2, b.b3, b.b4, b.i4, b.c4].map((h) => `blobs/sha256/${h}`)), [true, true, true, true, true, true]);
    } finally {
      await store.close();
      await s.cleanup();
    }
  });

  test('a ref that is not valid JSON stops gc before it deletes anything', async () => {
    const s = await tempStateDir('gcbad');
    const store = await openTestStore(env, bucket.name, s.state, { prefix: 'gcbad' });
    try {
      const orphan = await putBlob(store, 'orphan');
      await store.putSmall('refs/broken', Buffer.from('{not json'));
      await assert.rejects(gc(ctxOf(store, s.state), { graceMs: 0 }), /gc stopped before deleting anything: refs\/broken in s3:\/\/.* is not valid JSON/);
      assert.notEqual(await store.head(`blobs/sha256/${orphan}`), null);
    } finally {
      for (const k of await bucket.keys('gcbad/')) await store.delete(k.slice('gcbad/'.length));
      await store.close();
      await s.cleanup();
    }
  });
});
