// Finishing the uploads a previous process left behind (crash, kill -9, reboot). Every
// command that writes and the daemon call this when they start.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { StateDb } from '../state/db.js';
import type { Logger } from '../log.js';
import { PreconditionFailedError } from '../store/types.js';
import { finalizeUpload, isFinishedRow, UploadFailedError } from './finalize.js';
import { getUpload, setStatus, unfinishedUploads, type UploadRow } from './journal.js';
import { release, removeOwnerFile, tryClaim } from './owner.js';
import { multipartTargetOf, type MultipartTarget } from './target.js';

export type Publish = (key: string, manifestJson: string) => Promise<void>;

export interface ResumeReport {
  /** Uploads finished (and published, when they carried a manifest). */
  completed: { id: number; blobDigest: string; key: string }[];
  /** Uploads given up, with the reason (also recorded in the journal). */
  failed: { id: number; reason: string }[];
  /** Uploads that failed again for a passing reason; tried again next start. */
  retryLater: { id: number; error: string }[];
  /** Uploads another live process works on, or interrupted writers waiting to be adopted. */
  skipped: number;
}

/** `store`: any store; only those with a multipart target (HasMultipartTarget) have uploads to resume. */
export async function resumePendingUploads(store: object, state: StateDb, publish: Publish, log: Logger): Promise<ResumeReport> {
  const report: ResumeReport = { completed: [], failed: [], retryLater: [], skipped: 0 };
  const t = multipartTargetOf(store);
  if (!t) return report;
  for (const listed of unfinishedUploads(state, t.name)) {
    if (!tryClaim(state, listed.staging_path)) {
      report.skipped++;
      continue;
    }
    // Read the row again under the claim: a writer may have adopted it, or another process finished it.
    const row = getUpload(state, listed.id);
    if (!row || row.status === 'done' || row.status === 'failed' || row.staging_path !== listed.staging_path) {
      release(listed.staging_path);
      continue;
    }
    try {
      await resumeOne(t, state, row, publish, log, report);
    } catch (err) {
      const message = (err as Error).message;
      if (err instanceof UploadFailedError) {
        setStatus(state, row.id, 'failed', message);
        if (row.upload_id) await t.abortUpload(row.object_key, row.upload_id).catch(() => undefined);
        else await abortUnjournaled(t, row.object_key).catch(() => undefined);
        await rm(row.staging_path, { force: true });
        removeOwnerFile(row.staging_path);
        log.error('upload cannot be finished; the key keeps its previous snapshot', { upload: row.id, key: row.key, reason: message });
        report.failed.push({ id: row.id, reason: message });
      } else {
        state.prepare('UPDATE uploads SET error = ?, updated = ? WHERE id = ?').run(message, new Date().toISOString(), row.id);
        log.warn('resuming upload failed; trying again on the next start', { upload: row.id, error: message });
        report.retryLater.push({ id: row.id, error: message });
      }
    } finally {
      release(row.staging_path);
    }
  }
  await sweepStaging(t, state, log);
  pruneJournal(state);
  return report;
}

/**
 * Aborts the multipart uploads on a writer's own temporary name (uploads/<uuid>) whose id never
 * reached the journal: its writer was killed between CreateMultipartUpload and recording the
 * answer. Nobody else uses that name, so every upload on it is the dead writer's.
 */
async function abortUnjournaled(t: MultipartTarget, objectKey: string): Promise<void> {
  if (!objectKey.startsWith('uploads/')) return;
  for await (const id of t.listUploads(objectKey)) await t.abortUpload(objectKey, id);
}

/** Removes staging files no journal row knows (a writer killed between creating its file and its row). */
async function sweepStaging(t: MultipartTarget, state: StateDb, log: Logger): Promise<void> {
  let names: string[];
  try {
    names = await readdir(t.stagingDir);
  } catch {
    return;
  }
  const known = new Set(state.prepare(`SELECT staging_path FROM uploads WHERE status NOT IN ('done', 'failed')`).pluck().all() as string[]);
  for (const name of names) {
    const m = /^([0-9a-f-]{36}\.blob)(\.owner)?$/.exec(name);
    if (!m) continue;
    const path = join(t.stagingDir, m[1]);
    if (known.has(path) || !tryClaim(state, path)) continue;
    // Re-check under the claim: a writer may have inserted its row since.
    const row = state.prepare(`SELECT 1 FROM uploads WHERE staging_path = ? AND status NOT IN ('done', 'failed')`).get(path);
    if (!row) {
      await rm(path, { force: true });
      log.info('removed a staging file no upload knows', { path });
    }
    release(path);
    removeOwnerFile(path);
  }
}

/** Finished uploads are kept a week for `status` and diagnosis, then dropped. */
function pruneJournal(state: StateDb): void {
  const before = new Date(Date.now() - 7 * 24 * 3_600_000).toISOString();
  state.prepare(`DELETE FROM uploads WHERE status IN ('done', 'failed') AND updated < ?`).run(before);
}

async function resumeOne(t: MultipartTarget, state: StateDb, row: UploadRow, publish: Publish, log: Logger, report: ResumeReport): Promise<void> {
  if (!isFinishedRow(row)) {
    // The writer died before finish(): its bytes may be incomplete and its digest is unknown.
    // A re-run of the same snapshot adopts it (see writer.ts); give up only when it is old.
    const age = Date.now() - Date.parse(row.updated);
    if (row.upload_id && age < t.abandonAfterMs) {
      report.skipped++;
      return;
    }
    throw new UploadFailedError(`upload ${row.id} was interrupted while its blob was being written and no re-run took it over`);
  }
  if (row.status !== 'completing') {
    log.info('resuming upload', { upload: row.id, blob: `sha256:${row.blob_digest}`, key: row.key });
    await finalizeUpload(t, state, row, true);
    setStatus(state, row.id, 'completing');
  }
  if (row.manifest_json) {
    try {
      await publish(row.key, row.manifest_json);
    } catch (err) {
      // A lost race for the ref (publishers throw PreconditionFailedError or a subclass of it):
      // the blob and manifest stay stored and restorable by digest.
      if (!(err instanceof PreconditionFailedError)) throw err;
      const message = (err as Error).message;
      setStatus(state, row.id, 'done', `stored, but not made current: ${message}`);
      log.warn('resumed snapshot was stored but not made current', { upload: row.id, key: row.key, error: message });
      report.completed.push({ id: row.id, blobDigest: `sha256:${row.blob_digest}`, key: row.key });
      return;
    }
  }
  setStatus(state, row.id, 'done');
  report.completed.push({ id: row.id, blobDigest: `sha256:${row.blob_digest}`, key: row.key });
}
