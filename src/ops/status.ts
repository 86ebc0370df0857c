// status: the uploads the journal knows that are not done, with their progress, plus the
// recent ones that failed (with the reason), and the stop-time captures that failed for good
// and were not cleared. Read from the local state DB only.
import { type CaptureFailure, clearCaptureFailures, listCaptureFailures } from '../state/captureFailures.js';
import type { UploadRow } from '../upload/journal.js';
import { partCount } from '../upload/partLayout.js';
import type { OpsContext } from './types.js';

export interface UploadProgress {
  id: number;
  store: string;
  key: string;
  blobDigest: string | null;
  status: string;
  /** Parts S3 acknowledged. */
  partsDone: number;
  /** Known once the blob is fully written (null while packing). */
  partsTotal: number | null;
  bytesDone: number;
  size: number | null;
  started: string;
  updated: string;
  error: string | null;
}

export interface StatusReport {
  pending: UploadProgress[];
  failed: UploadProgress[];
  /** Captures whose snapshot failed permanently (not retried); their state was not saved. */
  failedCaptures: CaptureFailure[];
}

export interface StatusOptions {
  /** How far back failed uploads are listed (default 7 days). */
  failedWithinMs?: number;
}

export function status(ctx: Pick<OpsContext, 'state'>, opts: StatusOptions = {}): StatusReport {
  const since = new Date(Date.now() - (opts.failedWithinMs ?? 7 * 24 * 3_600_000)).toISOString();
  const rows = ctx.state
    .prepare(`SELECT u.*, COUNT(p.number) AS parts_done, COALESCE(SUM(p.size), 0) AS bytes_done
              FROM uploads u LEFT JOIN parts p ON p.upload_id = u.id
              WHERE u.status NOT IN ('done', 'failed') OR (u.status = 'failed' AND u.updated >= ?)
              GROUP BY u.id ORDER BY u.id`)
    .all(since) as (UploadRow & { parts_done: number; bytes_done: number })[];
  const out: StatusReport = { pending: [], failed: [], failedCaptures: listCaptureFailures(ctx.state) };
  for (const r of rows) {
    const single = r.size !== null && r.size <= r.part_size;
    const p: UploadProgress = {
      id: r.id,
      store: r.store,
      key: r.key,
      blobDigest: r.blob_digest ? `sha256:${r.blob_digest}` : null,
      status: r.status,
      partsDone: r.parts_done,
      partsTotal: r.size === null ? null : single ? 1 : partCount(r.part_size, r.size),
      bytesDone: r.bytes_done,
      size: r.size,
      started: r.started,
      updated: r.updated,
      error: r.error,
    };
    (r.status === 'failed' ? out.failed : out.pending).push(p);
  }
  return out;
}

/** An operator's word: the key's permanently failed captures are acknowledged (no longer listed). */
export function clearFailedCaptures(ctx: Pick<OpsContext, 'state'>, key: string): number {
  return clearCaptureFailures(ctx.state, key);
}
