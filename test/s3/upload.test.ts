// Multipart blob uploads against a real S3 server: bytes, verification, faults, resume paths.
import { AbortMultipartUploadCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash, randomInt, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { status } from '../../src/ops/status.js';
import type { S3Store } from '../../src/s3/open.js';
import { partsOf, unfinishedUploads, type UploadRow } from '../../src/upload/journal.js';
import { resumePendingUploads } from '../../src/upload/resume.js';
import { ALL_FAULTS, startFaultProxy } from '../support/faultProxy.js';
import {
  memoryLog, MIB, openTestStore, patternChunks, patternDigest, patternRange, runChild, type S3TestEnv, sha256OfStream, streamToBuffer, tempStateDir, type TestBucket, useTestBucket,
} from './helpers.js';

const BIG = 200 * MIB;
const PART = 8 * MIB;

let env: S3TestEnv;
let bucket: TestBucket;
useTestBucket('upload', (f) => ({ env, bucket } = f));

/** Writes the pattern through a fresh BlobWriter; returns its digest. */
async function writeBlob(store: S3Store, seed: string, size: number, note?: string): Promise<string> {
  const digest = patternDigest(seed, size);
  const w = await store.createBlobWriter();
  for (const c of patternChunks(seed, size)) await w.write(c);
  await w.finish(digest, size, note);
  return digest;
}

describe('multipart blob upload', () => {
  test('a 200 MiB blob uploads in parts, verifies, and reads back byte-exact with ranged reads', async () => {
    const s = await tempStateDir('up');
    const store = await openTestStore(env, bucket.name, s.state, { partSize: PART, concurrency: 4, prefix: 'plain' });
    try {
      const digest = await writeBlob(store, 'plain', BIG);
      const head = await store.head(`blobs/sha256/${digest}`);
      assert.equal(head?.size, BIG);
      // the whole blob
      const whole = await sha256OfStream(await store.read(`blobs/sha256/${digest}`));
      assert.deepEqual(whole, { hex: digest, size: BIG });
      // ranges across part boundaries and at the ends
      for (const [a, b] of [[0, 1], [PART - 10, PART + 10], [BIG - 4096, BIG], [3 * PART, 5 * PART + 7], [randomInt(BIG - MIB), 0]]) {
        const end = b === 0 ? a + MIB : b;
        const got = await streamToBuffer(await store.read(`blobs/sha256/${digest}`, a, end));
        assert.ok(got.equals(patternRange('plain', a, end)), `bytes [${a}, ${end}) differ`);
      }
      // journal: done, every part recorded with its MD5; staging file and temporary object gone
      const row = s.state.prepare('SELECT * FROM uploads').get() as UploadRow;
      assert.equal(row.status, 'done');
      assert.equal(partsOf(s.state, row.id).size, Math.ceil(BIG / PART));
      assert.equal(existsSync(row.staging_path), false);
      assert.deepEqual(await bucket.keys('plain/uploads/'), []);
      assert.deepEqual(await readdir(store.multipart.stagingDir), []);
      await store.delete(`blobs/sha256/${digest}`);
    } finally {
      await store.close();
      await s.cleanup();
    }
  });

  test('a blob of at most one part is sent with one PUT straight to its final name', async () => {
    const s = await tempStateDir('small');
    const store = await openTestStore(env, bucket.name, s.state, { partSize: 5 * MIB, prefix: 'small' });
    try {
      for (const size of [0, 1, 5 * MIB]) {
        const digest = await writeBlob(store, `small${size}`, size);
        const back = await sha256OfStream(await store.read(`blobs/sha256/${digest}`));
        assert.deepEqual(back, { hex: digest, size });
      }
      const rows = s.state.prepare('SELECT upload_id, status FROM uploads').all() as { upload_id: string | null; status: string }[];
      assert.deepEqual(rows.map((r) => [r.upload_id, r.status]), [[null, 'done'], [null, 'done'], [null, 'done']]);
      assert.deepEqual(await bucket.keys('small/uploads/'), []);
    } finally {
      for (const k of await bucket.keys('small/')) await store.delete(k.slice('small/'.length));
      await store.close();
      await s.cleanup();
    }
  });

  test('with flexible checksums on (WHEN_SUPPORTED), parts carry a CRC32 and the blob round-trips', async () => {
    const s = await tempStateDir('crc');
    const store = await openTestStore(env, bucket.name, s.state, { partSize: 5 * MIB, prefix: 'crc', checksumMode: 'WHEN_SUPPORTED' });
    try {
      const digest = await writeBlob(store, 'crc', 12 * MIB);
      assert.deepEqual(await sha256OfStream(await store.read(`blobs/sha256/${digest}`)), { hex: digest, size: 12 * MIB });
      await store.delete(`blobs/sha256/${digest}`);
    } finally {
      await store.close();
      await s.cleanup();
    }
  });

  test('finish() with a digest that does not match the bytes written fails and leaves nothing behind', async () => {
    const s = await tempStateDir('bad');
    const store = await openTestStore(env, bucket.name, s.state, { partSize: 5 * MIB, prefix: 'bad' });
    try {
      const w = await store.createBlobWriter();
      for (const c of patternChunks('bad', 12 * MIB)) await w.write(c);
      await assert.rejects(w.finish('0'.repeat(64), 12 * MIB), /finish\(\) names sha256:0{64}.*but sha256:[0-9a-f]{64} \(12582912 bytes\) was written/);
      assert.equal(s.state.prepare('SELECT count(*) AS n FROM uploads').pluck().get(), 0);
      assert.deepEqual(await bucket.keys('bad/'), []);
      const mpus = [];
      for await (const u of store.listMultipartUploads()) mpus.push(u);
      assert.deepEqual(mpus, []);
    } finally {
      await store.close();
      await s.cleanup();
    }
  });

  test('with 20 % of requests failing (resets, stalls, 503 SlowDown, 500) a 200 MiB blob still completes', async () => {
    const proxy = await startFaultProxy({ target: env.endpoint, failureRate: 0, seed: 20, stallMs: 8000 });
    const s = await tempStateDir('faults');
    const log = memoryLog();
    const store = await openTestStore(env, bucket.name, s.state, {
      endpoint: proxy.url, partSize: PART, concurrency: 4, prefix: 'faults', requestTimeoutMs: 1500,
      retry: { maxAttempts: 30, baseDelayMs: 20, maxDelayMs: 500 },
    }, log);
    try {
      proxy.failureRate = 0.2;
      for (const f of ALL_FAULTS) proxy.failNext('UploadPart', f); // each kind at least once, whatever the dice say
      const digest = await writeBlob(store, 'faults', BIG);
      const back = await sha256OfStream(await store.read(`blobs/sha256/${digest}`));
      proxy.failureRate = 0;
      assert.deepEqual(back, { hex: digest, size: BIG });
      const total = [...proxy.stats.values()].reduce((a, k) => a + k.requests, 0);
      const faulted = [...proxy.stats.values()].reduce((a, k) => a + k.faults, 0);
      assert.ok(faulted >= 5 && faulted / total > 0.1, `only ${faulted} of ${total} requests failed`);
      assert.ok(proxy.stat('UploadPart').faults > 0, 'no part upload was failed');
      for (const f of ALL_FAULTS) {
        assert.ok((proxy.faultCounts.get(f) ?? 0) > 0, `fault ${f} never injected`);
      }
      await store.delete(`blobs/sha256/${digest}`);
    } finally {
      await store.close();
      await proxy.close();
      await s.cleanup();
    }
  });

  test('when retries run out, the error names the part and the cause, and the upload stays resumable', async () => {
    const proxy = await startFaultProxy({ target: env.endpoint, failureRate: 0, faults: ['error500'], kinds: ['UploadPart'] });
    const s = await tempStateDir('exhaust');
    const store = await openTestStore(env, bucket.name, s.state, {
      endpoint: proxy.url, partSize: 5 * MIB, concurrency: 2, prefix: 'exhaust', retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    });
    try {
      const digest = patternDigest('exhaust', 12 * MIB);
      const w = await store.createBlobWriter();
      for (const c of patternChunks('exhaust', 12 * MIB)) await w.write(c);
      proxy.failureRate = 1;
      await assert.rejects(w.finish(digest, 12 * MIB), (err: Error) => {
        assert.match(err.message, /upload of part \d+ of s3:\/\/lk-upload-[0-9a-f]+\/exhaust\/uploads\/[0-9a-f-]+: failed after 3 attempts: InternalError .*HTTP 500/);
        assert.match(err.message, /resumes when layerkeep next starts/);
        return true;
      });
      await w.abort(); // what a caller does after a failure: must not drop the resumable upload
      proxy.failureRate = 0;
      const [row] = unfinishedUploads(s.state, store.description);
      assert.equal(row.status, 'uploading');
      assert.ok(existsSync(row.staging_path));
      const report = await resumePendingUploads(store, s.state, async () => undefined, memoryLog());
      assert.deepEqual(report.completed.map((c) => c.blobDigest), [`sha256:${digest}`]);
      assert.deepEqual(await sha256OfStream(await store.read(`blobs/sha256/${digest}`)), { hex: digest, size: 12 * MIB });
      await store.delete(`blobs/sha256/${digest}`);
    } finally {
      await store.close();
      await proxy.close();
      await s.cleanup();
    }
  });

  test('resume after the server forgot the upload (aborted behind its back) re-sends from the staging file', async () => {
    const s = await tempStateDir('gone');
    const proxy = await startFaultProxy({ target: env.endpoint, delayMs: { UploadPart: 150 } });
    const size = 23 * MIB;
    const digest = patternDigest('gone', size);
    const common = { stateDir: s.dir, bucket: bucket.name, prefix: 'gone', endpoint: proxy.url, seed: 'gone', size, partSize: 5 * MIB, concurrency: 1 };
    try {
      const first = await runChild({ ...common, note: '{"key":"k1"}', killAfterParts: 2 });
      assert.equal(first.signal, 'SIGKILL');
      const [row] = s.state.prepare(`SELECT * FROM uploads WHERE status = 'uploading'`).all() as UploadRow[];
      assert.equal(row.status, 'uploading');
      // `status` shows the interrupted upload with its progress
      const before = status({ state: s.state });
      assert.equal(before.pending.length, 1);
      const p = before.pending[0];
      assert.equal(p.key, 'k1');
      assert.equal(p.blobDigest, `sha256:${digest}`);
      assert.equal(p.partsTotal, 5);
      assert.ok(p.partsDone >= 2 && p.partsDone < 5, `parts done: ${p.partsDone}`);
      assert.equal(p.bytesDone, p.partsDone * 5 * MIB);
      assert.equal(p.size, size);
      await bucket.client.send(new AbortMultipartUploadCommand({ Bucket: bucket.name, Key: `gone/${row.object_key}`, UploadId: row.upload_id as string }));
      proxy.resetStats();
      const second = await runChild({ ...common, resumeOnly: true });
      assert.equal(second.code, 0, second.stderr);
      assert.ok(second.events.some((e) => /no longer knows the multipart upload; re-sending the blob from the staging file/.test(String(e.msg))));
      assert.deepEqual(second.events.filter((e) => e.published), [{ published: 'k1', manifest: '{"key":"k1"}' }]);
      assert.equal(proxy.stat('UploadPart').bytesIn, size, 'the whole blob is sent again, once');
      const store = await openTestStore(env, bucket.name, s.state, { prefix: 'gone' });
      try {
        assert.deepEqual(await sha256OfStream(await store.read(`blobs/sha256/${digest}`)), { hex: digest, size });
        await store.delete(`blobs/sha256/${digest}`);
      } finally {
        await store.close();
      }
      assert.equal(s.state.prepare('SELECT status FROM uploads WHERE id = ?').pluck().get(row.id), 'done');
      assert.equal(existsSync(row.staging_path), false);
      assert.deepEqual(status({ state: s.state }).pending, []);
    } finally {
      await proxy.close();
      await s.cleanup();
    }
  });

  test('resume with the upload gone and the staging file gone marks the upload failed with the reason', async () => {
    const s = await tempStateDir('lost');
    const proxy = await startFaultProxy({ target: env.endpoint, delayMs: { UploadPart: 150 } });
    const size = 17 * MIB;
    const digest = patternDigest('lost', size);
    const common = { stateDir: s.dir, bucket: bucket.name, prefix: 'lost', endpoint: proxy.url, seed: 'lost', size, partSize: 5 * MIB, concurrency: 1 };
    try {
      const first = await runChild({ ...common, note: '{"key":"k2"}', killAfterParts: 1 });
      assert.equal(first.signal, 'SIGKILL');
      const [row] = s.state.prepare(`SELECT * FROM uploads WHERE status = 'uploading'`).all() as UploadRow[];
      assert.equal(row.blob_digest, digest);
      await bucket.client.send(new AbortMultipartUploadCommand({ Bucket: bucket.name, Key: `lost/${row.object_key}`, UploadId: row.upload_id as string }));
      await rm(row.staging_path);
      const second = await runChild({ ...common, resumeOnly: true });
      assert.equal(second.code, 0, second.stderr);
      const report = second.events.find((e) => e.resumed)?.resumed as { failed: { reason: string }[] };
      assert.equal(report.failed.length, 1);
      assert.match(report.failed[0].reason, /staging file .* is gone and the store lacks parts of blob sha256:[0-9a-f]{64}; nothing to re-send from/);
      const after = s.state.prepare('SELECT status, error FROM uploads WHERE id = ?').get(row.id) as { status: string; error: string };
      assert.equal(after.status, 'failed');
      assert.match(after.error, /staging file .* is gone/);
      assert.deepEqual(second.events.filter((e) => e.published), []); // the key keeps its previous snapshot
      assert.deepEqual(await bucket.keys(`lost/blobs/`), []);
    } finally {
      await proxy.close();
      await s.cleanup();
    }
  });

  test('a writer killed while still writing leaves its upload to a re-run of the same bytes, which sends only the rest', async () => {
    const s = await tempStateDir('adopt');
    const proxy = await startFaultProxy({ target: env.endpoint });
    const size = 31 * MIB;
    const digest = patternDigest('adopt', size);
    const common = { stateDir: s.dir, bucket: bucket.name, prefix: 'adopt', endpoint: proxy.url, seed: 'adopt', size, partSize: 5 * MIB, concurrency: 2 };
    try {
      const first = await runChild({ ...common, slowWriteMs: 40, killWhileWritingAfterParts: 3 });
      assert.equal(first.signal, 'SIGKILL');
      const [row] = s.state.prepare('SELECT * FROM uploads').all() as UploadRow[];
      assert.equal(row.status, 'packing');
      const journaled = partsOf(s.state, row.id).size;
      assert.ok(journaled >= 3);
      const sentBefore = proxy.stat('UploadPart').bytesIn;
      const second = await runChild(common);
      assert.equal(second.code, 0, second.stderr);
      const adopted = second.events.find((e) => e.msg === 'continuing an interrupted upload of the same bytes');
      assert.ok(adopted, JSON.stringify(second.events));
      assert.ok((adopted.partsKnown as number) >= journaled);
      // The re-run sent the parts the journal did not have, and nothing it had.
      const sentAgain = proxy.stat('UploadPart').bytesIn - sentBefore;
      assert.ok(sentAgain <= size - journaled * 5 * MIB, `re-run sent ${sentAgain} bytes; ${journaled} of 7 parts were journaled`);
      const rows = s.state.prepare('SELECT id, status, upload_id FROM uploads').all() as { id: number; status: string; upload_id: string }[];
      assert.deepEqual(rows.map((r) => r.status), ['done']);
      assert.equal(rows[0].upload_id, row.upload_id, 'the re-run completed the first multipart upload');
      const store = await openTestStore(env, bucket.name, s.state, { prefix: 'adopt' });
      try {
        assert.deepEqual(await sha256OfStream(await store.read(`blobs/sha256/${digest}`)), { hex: digest, size });
        await store.delete(`blobs/sha256/${digest}`);
      } finally {
        await store.close();
      }
      assert.deepEqual(await readdir(join(s.dir, 'state', 'staging')), []);
    } finally {
      await proxy.close();
      await s.cleanup();
    }
  });

  test('resume removes staging files that no upload knows', async () => {
    const s = await tempStateDir('sweep');
    const store = await openTestStore(env, bucket.name, s.state, { prefix: 'sweep' });
    try {
      const dir = store.multipart.stagingDir;
      await mkdir(dir, { recursive: true });
      const stray = join(dir, `${randomUUID()}.blob`);
      await writeFile(stray, 'left by a writer killed before its journal row existed');
      const other = join(dir, 'not-ours.txt');
      await writeFile(other, 'x');
      await resumePendingUploads(store, s.state, async () => undefined, memoryLog());
      assert.equal(existsSync(stray), false);
      assert.equal(existsSync(other), true);
    } finally {
      await store.close();
      await s.cleanup();
    }
  });

  test('ListParts is paged: more than 1000 parts, and MaxParts=2 pages, list every part once', async () => {
    const s = await tempStateDir('pages');
    const store = await openTestStore(env, bucket.name, s.state, { prefix: 'pages' });
    const t = store.multipart;
    const key = 'uploads/many-parts';
    const uploadId = await store.multipart.createUpload(key);
    try {
      // Parts below 5 MiB are fine until Complete: 1100 one-byte parts, sent 50 at a time.
      const body = Buffer.from('x');
      const md5 = createHash('md5').update(body).digest();
      for (let n = 1; n <= 1100; n += 50) {
        await Promise.all(Array.from({ length: 50 }, (_, i) => store.multipart.uploadPart(key, uploadId, n + i, body, md5)));
      }
      const all: number[] = [];
      for await (const p of t.listParts(key, uploadId)) all.push(p.number);
      assert.equal(all.length, 1100);
      assert.deepEqual(all, Array.from({ length: 1100 }, (_, i) => i + 1));
      const paged: number[] = [];
      for await (const p of t.listParts(key, uploadId, 2)) {
        paged.push(p.number);
        if (paged.length === 9) break;
      }
      assert.deepEqual(paged, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      await store.multipart.abortUpload(key, uploadId);
      await store.close();
      await s.cleanup();
    }
  });
});

