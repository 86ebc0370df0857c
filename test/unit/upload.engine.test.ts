// The multipart upload engine (writer, finalize, resume) driven through its own MultipartTarget
// interface by an in-memory target with scripted faults: exact fault timing, no server, fast.
// Parts are 1 KiB, so a 5.5 KiB blob has six parts. Wire behaviour is tested against RGW.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openState, type StateDb } from '../../src/state/db.js';
import { blobKey } from '../../src/store/layout.js';
import { PreconditionFailedError, type BlobWriter } from '../../src/store/types.js';
import { getUpload, partsOf, unfinishedUploads } from '../../src/upload/journal.js';
import { release } from '../../src/upload/owner.js';
import { resumePendingUploads } from '../../src/upload/resume.js';
import { createMultipartWriter } from '../../src/upload/writer.js';
import { MemoryTarget } from '../support/memoryTarget.js';
import { tempDir } from '../support/scratch.js';
import { waitFor } from '../support/wait.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(): { t: MemoryTarget; db: StateDb } {
  const dir = tempDir('lk-upload-engine-');
  dirs.push(dir);
  return { t: new MemoryTarget(join(dir, 'staging')), db: openState(join(dir, 'state')) };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const BLOB = randomBytes(5.5 * 1024);

/** Writes the blob in pieces of 700 bytes (not aligned to parts). */
async function writeAll(w: BlobWriter, bytes = BLOB): Promise<void> {
  for (let off = 0; off < bytes.length; off += 700) await w.write(bytes.subarray(off, off + 700));
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const noPublish = async (): Promise<void> => assert.fail('nothing to publish');

/** A blob written whole whose finish() fails as `expected` (a fault scripted before): its upload is left to resume. */
async function failedFinish(t: MemoryTarget, db: StateDb, expected: RegExp): Promise<void> {
  const w = await createMultipartWriter(t, db);
  await writeAll(w);
  await assert.rejects(w.finish(sha(BLOB), BLOB.length), expected);
}

/** The blob is stored whole under its digest, and no temporary object or multipart upload is left. */
function assertStoredCleanly(t: MemoryTarget, bytes = BLOB): void {
  assert.deepEqual(t.objects.get(blobKey(sha(bytes)))?.body, bytes);
  assert.deepEqual([...t.objects.keys()], [blobKey(sha(bytes))]);
  assert.equal(t.uploads.size, 0, 'a multipart upload was left open');
  assert.deepEqual(readdirSync(t.stagingDir), [], 'staging files left behind');
}

describe('upload engine against an in-memory MultipartTarget', () => {
  test('a blob of six parts goes up as a multipart upload, is copied to its digest and the journal says done', async () => {
    const { t, db } = setup();
    const w = await createMultipartWriter(t, db);
    await writeAll(w);
    await w.finish(sha(BLOB), BLOB.length);
    assertStoredCleanly(t);
    for (let n = 1; n <= 6; n++) assert.equal(t.count('uploadPart', n), 1, `part ${n} sent once`);
    assert.equal(t.count('copyObject'), 1);
    assert.deepEqual(unfinishedUploads(db, t.name), []);
  });

  test('a re-run of an interrupted writer with the same bytes adopts its upload and skips the parts it sent', async () => {
    const { t, db } = setup();
    const first = await createMultipartWriter(t, db);
    await writeAll(first, BLOB.subarray(0, 3.5 * 1024));
    await waitFor('parts 1-3 of the first writer on the server', () => [...t.uploads.values()][0]?.parts.size === 3, 30_000, 10);
    // The first writer's process dies: its claim goes with it.
    const firstRow = unfinishedUploads(db, t.name)[0];
    await waitFor('parts 1-3 journaled', () => partsOf(db, firstRow.id).size === 3, 30_000, 10);
    release(firstRow.staging_path);

    const second = await createMultipartWriter(t, db);
    await writeAll(second);
    await second.finish(sha(BLOB), BLOB.length);
    assertStoredCleanly(t);
    assert.equal(t.count('createUpload'), 1, 'the second writer created an upload of its own');
    for (let n = 1; n <= 3; n++) assert.equal(t.count('uploadPart', n), 1, `part ${n} was sent again`);
    for (let n = 4; n <= 6; n++) assert.equal(t.count('uploadPart', n), 1);
    assert.equal(getUpload(db, firstRow.id), undefined, 'the adopted row is merged into the new one');
    assert.ok(t.calls.includes(`completeUpload ${firstRow.object_key}`), 'completed under the adopted upload\'s name');
  });

  test('an upload the server forgot (NoSuchUpload) is sent again from the staging file on resume', async () => {
    const { t, db } = setup();
    t.failNext('completeUpload', 'fail');
    await failedFinish(t, db, /resumes when layerkeep next starts/);
    const [uploadId] = t.uploads.keys();
    t.forget(uploadId);

    const report = await resumePendingUploads({ multipart: t }, db, noPublish, quiet);
    assert.deepEqual(report.completed.map((c) => c.blobDigest), [`sha256:${sha(BLOB)}`]);
    assertStoredCleanly(t);
    assert.equal(t.count('createUpload'), 2, 'a new multipart upload for the re-sent parts');
    for (let n = 1; n <= 6; n++) assert.equal(t.count('uploadPart', n), 2, `part ${n} re-sent once`);
    assert.ok(t.warnings.some((m) => /no longer knows the multipart upload/.test(m)));
  });

  test('a part the server stored with other bytes (ETag is not the MD5 sent) fails the writer; resume re-sends only that part', async () => {
    const { t, db } = setup();
    t.failNext('uploadPart', 'corrupt', 6); // the short last part: sent by finish(), not while writing
    await failedFinish(t, db, /part 6 of uploads\/.*: the store's ETag [0-9a-f]+ is not the MD5 of the bytes sent/);
    assert.equal(t.objects.size, 0, 'nothing may be published from a corrupt part');

    const report = await resumePendingUploads({ multipart: t }, db, noPublish, quiet);
    assert.equal(report.completed.length, 1, JSON.stringify(report));
    assertStoredCleanly(t);
    assert.equal(t.count('uploadPart', 6), 2, 'part 6 re-sent');
    for (const n of [1, 2, 3, 4, 5]) assert.equal(t.count('uploadPart', n), 1, `part ${n} was fine and not re-sent`);
  });

  test('a Complete whose answer was lost: resume finds the upload gone and the object whole, and does not send again', async () => {
    const { t, db } = setup();
    t.failNext('completeUpload', 'lost-answer');
    await failedFinish(t, db, /injected lost answer/);
    assert.equal(t.uploads.size, 0, 'the server completed the upload');

    const report = await resumePendingUploads({ multipart: t }, db, noPublish, quiet);
    assert.equal(report.completed.length, 1, JSON.stringify(report));
    assertStoredCleanly(t);
    assert.equal(t.count('uploadPart'), 6, 'no part sent twice');
    assert.equal(t.count('createUpload'), 1);
  });

  test('killed between complete and publish: resume publishes the journalled manifest once, without touching the blob', async () => {
    const { t, db } = setup();
    const note = JSON.stringify({ key: 'k', blob: { digest: `sha256:${sha(BLOB)}` } });
    const w = await createMultipartWriter(t, db);
    await writeAll(w);
    await w.finish(sha(BLOB), BLOB.length, note);
    // the process dies here, before it publishes the manifest and calls published()
    const row = unfinishedUploads(db, t.name)[0];
    assert.equal(row.status, 'completing');
    const callsBefore = t.calls.length;

    const published: [string, string][] = [];
    const report = await resumePendingUploads({ multipart: t }, db, async (key, json) => void published.push([key, json]), quiet);
    assert.deepEqual(published, [['k', note]]);
    assert.deepEqual(report.completed, [{ id: row.id, blobDigest: `sha256:${sha(BLOB)}`, key: 'k' }]);
    assert.deepEqual(t.calls.slice(callsBefore), [], 'the finished blob was not touched again');
    assert.equal(getUpload(db, row.id)?.status, 'done');
    assertStoredCleanly(t);
    // a second start has nothing left to do
    const again = await resumePendingUploads({ multipart: t }, db, noPublish, quiet);
    assert.deepEqual(again.completed, []);
  });

  test('a resumed manifest that lost the race for its ref is stored, reported, and not retried', async () => {
    const { t, db } = setup();
    const w = await createMultipartWriter(t, db);
    await writeAll(w);
    await w.finish(sha(BLOB), BLOB.length, JSON.stringify({ key: 'k' }));
    const report = await resumePendingUploads({ multipart: t }, db, async () => {
      throw new PreconditionFailedError('refs/k');
    }, quiet);
    const row = getUpload(db, report.completed[0].id);
    assert.equal(row?.status, 'done');
    assert.match(row?.error ?? '', /stored, but not made current/);
    assert.deepEqual(report.retryLater, []);
  });

  test('an upload the server forgot whose staging file is gone too is given up; nothing is published', async () => {
    const { t, db } = setup();
    t.failNext('completeUpload', 'fail');
    await failedFinish(t, db, /resumes when layerkeep next starts/);
    const row = unfinishedUploads(db, t.name)[0];
    t.forget(row.upload_id as string);
    rmSync(row.staging_path);
    const report = await resumePendingUploads({ multipart: t }, db, noPublish, quiet);
    assert.equal(report.failed.length, 1);
    assert.match(report.failed[0].reason, /staging file .* is gone and the store lacks parts .*nothing to re-send from/);
    assert.equal(getUpload(db, row.id)?.status, 'failed');
    assert.equal(t.objects.has(blobKey(sha(BLOB))), false);
  });

  test('a writer killed between creating its multipart upload and journalling the id: resume aborts the upload', async () => {
    const { t, db } = setup();
    t.failNext('createUpload', 'lost-answer'); // the server has the upload; the writer never learns its id
    const w = await createMultipartWriter(t, db);
    await w.write(BLOB.subarray(0, 1025)); // part 1 is complete: its upload starts
    await waitFor('the upload to be created', () => t.count('createUpload') === 1, 30_000, 10);
    const row = unfinishedUploads(db, t.name)[0];
    assert.equal(row.upload_id, null);
    assert.equal(t.uploads.size, 1);
    release(row.staging_path); // the writer's process dies
    const report = await resumePendingUploads({ multipart: t }, db, noPublish, quiet);
    assert.equal(report.failed.length, 1);
    assert.equal(t.uploads.size, 0, 'the upload nobody journaled was left on the server');
  });

  test('a writer that died before finish() waits to be adopted, and is given up once older than abandonAfterMs', async () => {
    const { t, db } = setup();
    const w = await createMultipartWriter(t, db);
    await writeAll(w, BLOB.subarray(0, 2.5 * 1024));
    const row = unfinishedUploads(db, t.name)[0];
    await waitFor('part 1 and 2 journaled', () => partsOf(db, row.id).size === 2, 30_000, 10);
    release(row.staging_path);
    const young = await resumePendingUploads({ multipart: t }, db, noPublish, quiet);
    assert.deepEqual([young.skipped, young.failed.length], [1, 0]);
    assert.equal(t.uploads.size, 1, 'a young interrupted upload stays for a re-run to adopt');
    t.abandonAfterMs = -1; // every interrupted upload counts as old now (no clock involved)
    const old = await resumePendingUploads({ multipart: t }, db, noPublish, quiet);
    assert.match(old.failed[0]?.reason ?? '', /interrupted while its blob was being written and no re-run took it over/);
    assert.equal(t.uploads.size, 0, 'its multipart upload was aborted');
    assert.deepEqual(readdirSync(t.stagingDir), []);
  });
});
