// Turning an upload whose bytes are all written (finish() was called) into a verified blob at
// blobs/sha256/<hex>: reconcile parts with the server, complete, verify, copy, clean up.
// Shared by BlobWriter.finish() and by resume after a crash; every step is safe to repeat.
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { StateDb } from '../state/db.js';
import { blobKey } from '../store/layout.js';
import { deleteParts, partsOf, recordPart, setUploadId, type PartRow, type UploadRow } from './journal.js';
import { clippedRange, multipartEtag, partCount } from './partLayout.js';
import { removeOwnerFile } from './owner.js';
import { md5Of, readRange, sizeOf } from './staging.js';
import type { MultipartTarget, ServerPart } from './target.js';
import { LayerkeepError } from '../errors.js';

/** The upload cannot be finished any more (nothing to re-send from); the reason says why. */
export class UploadFailedError extends LayerkeepError {
  constructor(message: string) {
    super('unavailable', message);
    this.name = 'UploadFailedError';
  }
}

/** A stored blob older than this is refreshed when a new snapshot reuses it (gc grace is 24 h). */
const REFRESH_AFTER_MS = 3_600_000;

type FinishedRow = UploadRow & { blob_digest: string; size: number };

export function isFinishedRow(row: UploadRow): row is FinishedRow {
  return row.blob_digest !== null && row.size !== null;
}

/**
 * Makes the blob of a finished upload visible and verified. `reconcile` lists the server's parts
 * first and re-sends what is missing or differs (after a crash); without it the journal is
 * trusted and the server asked only if completing fails.
 */
export async function finalizeUpload(t: MultipartTarget, db: StateDb, row: FinishedRow, reconcile: boolean): Promise<void> {
  const finalKey = blobKey(row.blob_digest);
  const existing = await t.headObject(finalKey);
  if (existing && existing.size === row.size) {
    // Already there: an earlier run got this far, or the same blob was stored before. An old
    // copy may be unreferenced and about to be collected: refresh its time so gc's grace
    // period protects it until the manifest that needs it is published.
    if (existing.modified && Date.now() - existing.modified.getTime() > REFRESH_AFTER_MS) {
      await t.copyObject(finalKey, finalKey, row.size);
    }
    await dropTemporaries(t, row);
    return;
  }
  if (row.size <= row.part_size) {
    const body = await stagedBytes(row, 0, row.size);
    const digest = createHash('sha256').update(body).digest('hex');
    if (digest !== row.blob_digest) throw new UploadFailedError(`staging file ${row.staging_path} no longer has blob sha256:${row.blob_digest} (found sha256:${digest})`);
    await t.putObject(finalKey, body, md5Of(body));
  } else {
    await completeMultipart(t, db, row, reconcile);
    // Servers that cannot copy get the parts straight under the final name (see writer.ts).
    if (row.object_key !== finalKey) await t.copyObject(row.object_key, finalKey, row.size);
  }
  const head = await t.headObject(finalKey);
  if (!head || head.size !== row.size) {
    throw new Error(`verifying ${finalKey}: expected ${row.size} bytes, the store has ${head ? head.size : 'nothing'}`);
  }
  await dropTemporaries(t, row);
}

async function dropTemporaries(t: MultipartTarget, row: FinishedRow): Promise<void> {
  if (row.size > row.part_size && row.object_key !== blobKey(row.blob_digest)) {
    if (row.upload_id) await t.abortUpload(row.object_key, row.upload_id).catch(() => undefined);
    await t.deleteObject(row.object_key);
  }
  await rm(row.staging_path, { force: true });
  removeOwnerFile(row.staging_path);
}

/** Bytes [start, end) of the staging file, or UploadFailedError when it is gone or short. */
async function stagedBytes(row: FinishedRow, start: number, end: number): Promise<Buffer> {
  const size = await sizeOf(row.staging_path);
  if (size === undefined) {
    throw new UploadFailedError(`staging file ${row.staging_path} is gone and the store lacks parts of blob sha256:${row.blob_digest}; nothing to re-send from`);
  }
  if (size !== row.size) {
    throw new UploadFailedError(`staging file ${row.staging_path} has ${size} bytes, blob sha256:${row.blob_digest} has ${row.size}; nothing to re-send from`);
  }
  return readRange(row.staging_path, start, end);
}

async function completeMultipart(t: MultipartTarget, db: StateDb, row: FinishedRow, reconcile: boolean): Promise<void> {
  const count = partCount(row.part_size, row.size);
  let uploadId = row.upload_id;
  if (!uploadId) {
    await stagedBytes(row, 0, 0); // fail before creating anything if there is nothing to send
    uploadId = await t.createUpload(row.object_key);
    setUploadId(db, row.id, uploadId);
    deleteParts(db, row.id);
    reconcile = true;
  }
  if (reconcile) {
    let server: Map<number, ServerPart>;
    try {
      server = await collectParts(t, row.object_key, uploadId);
    } catch (err) {
      if (!t.isUploadGone(err)) throw err;
      // Completed before the crash? The temporary object is then whole.
      if (await temporaryIsWhole(t, row, partsOf(db, row.id), count)) return;
      t.log.warn('the store no longer knows the multipart upload; re-sending the blob from the staging file', {
        upload: row.id,
        blob: `sha256:${row.blob_digest}`,
      });
      await stagedBytes(row, 0, 0);
      uploadId = await t.createUpload(row.object_key);
      setUploadId(db, row.id, uploadId);
      deleteParts(db, row.id);
      server = new Map();
    }
    await sendMissingParts(t, db, row, uploadId, count, server);
  }
  const journal = partsOf(db, row.id);
  const list: { number: number; etag: string }[] = [];
  for (let n = 1; n <= count; n++) {
    const p = journal.get(n);
    if (!p) {
      if (!reconcile) return completeMultipart(t, db, row, true);
      throw new Error(`part ${n} of upload ${row.id} missing from the journal after re-sending`);
    }
    list.push({ number: n, etag: p.etag });
  }
  deleteParts(db, row.id, count + 1);
  try {
    await t.completeUpload(row.object_key, uploadId, list);
  } catch (err) {
    // A retried Complete whose first try succeeded answers NoSuchUpload; check the object.
    if (t.isUploadGone(err) && (await temporaryIsWhole(t, row, journal, count))) return;
    if (!reconcile && (t.isUploadGone(err) || t.isPartRejected(err))) return completeMultipart(t, db, row, true);
    throw err;
  }
  if (!(await temporaryIsWhole(t, row, journal, count))) {
    throw new Error(`verifying ${row.object_key} after completing: size or ETag differs from the ${count} parts sent`);
  }
}

async function collectParts(t: MultipartTarget, objectKey: string, uploadId: string): Promise<Map<number, ServerPart>> {
  const m = new Map<number, ServerPart>();
  for await (const p of t.listParts(objectKey, uploadId)) m.set(p.number, p);
  return m;
}

/** The completed temporary object exists with the blob's size (and multipart ETag, where meaningful). */
async function temporaryIsWhole(t: MultipartTarget, row: FinishedRow, journal: Map<number, PartRow>, count: number): Promise<boolean> {
  const head = await t.headObject(row.object_key);
  if (!head || head.size !== row.size) return false;
  if (!t.etagIsMd5 || !head.etag) return true;
  const md5s: string[] = [];
  for (let n = 1; n <= count; n++) {
    const p = journal.get(n);
    if (!p) return true; // journal incomplete (ack lost in a crash): size is what we can check
    md5s.push(p.md5);
  }
  return head.etag === multipartEtag(md5s);
}

/**
 * Re-sends the parts the server lacks or holds with another size or ETag than the journal
 * (or, for parts acknowledged but not journaled before a crash, than the staging file's MD5).
 */
async function sendMissingParts(
  t: MultipartTarget,
  db: StateDb,
  row: FinishedRow,
  uploadId: string,
  count: number,
  server: Map<number, ServerPart>,
): Promise<void> {
  const journal = partsOf(db, row.id);
  const todo: number[] = [];
  for (let n = 1; n <= count; n++) {
    const { start, end } = clippedRange(row.part_size, n, row.size);
    const s = server.get(n);
    const j = journal.get(n);
    if (s && s.size === end - start) {
      if (j && j.size === s.size && j.etag === s.etag) continue;
      if (!j && t.etagIsMd5 && (await sizeOf(row.staging_path)) === row.size) {
        const md5 = md5Of(await readRange(row.staging_path, start, end)).toString('hex');
        if (md5 === s.etag) {
          recordPart(db, row.id, { number: n, size: s.size, etag: s.etag, md5 });
          continue;
        }
      }
    }
    todo.push(n);
  }
  if (todo.length === 0) return;
  t.log.info('re-sending parts', { upload: row.id, parts: todo.length, of: count });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length) {
      const n = todo[next++];
      const { start, end } = clippedRange(row.part_size, n, row.size);
      const body = await stagedBytes(row, start, end);
      const md5 = md5Of(body);
      const etag = await t.uploadPart(row.object_key, uploadId, n, body, md5);
      if (t.etagIsMd5 && etag !== md5.toString('hex')) {
        throw new Error(`part ${n} of ${row.object_key}: the store's ETag ${etag} is not the MD5 of the bytes sent`);
      }
      recordPart(db, row.id, { number: n, size: body.length, etag, md5: md5.toString('hex') });
    }
  };
  await Promise.all(Array.from({ length: Math.min(t.concurrency, todo.length) }, worker));
}
