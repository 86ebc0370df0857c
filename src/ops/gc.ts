// gc: mark and sweep. Everything a ref reaches stays: each ref's history -> manifests ->
// their blobs (layer, and an incremental snapshot's index and chunk pack), and each
// manifest's `base` chain. Unreached manifests and blobs older than the
// grace period are deleted, as are stray temporary objects and (on S3) multipart uploads that
// no journal row knows. The grace period protects snapshots still being written, here or on
// another host. Works on any ObjectStore; multipart clean-up only where the store offers it.
import { canonicalJson, digestHex, manifestKey, type Manifest, type Ref } from '../store/layout.js';
import { PreconditionFailedError, type ObjectInfo, type ObjectStore } from '../store/types.js';
import type { OpsContext } from './types.js';

export const DEFAULT_GC_GRACE_MS = 24 * 3_600_000;

export interface GcOptions {
  dryRun?: boolean;
  /** Only objects older than this are deleted (default 24 h). */
  graceMs?: number;
  /** Keep only the newest N snapshots of each key's history (default: all the ref lists). */
  keep?: number;
  now?: Date;
}

export interface GcReport {
  dryRun: boolean;
  reachable: { manifests: number; blobs: number };
  /** Keys deleted (or, with dryRun, that would be). */
  deleted: { manifests: string[]; blobs: string[]; temporaries: string[] };
  abortedUploads: { key: string; uploadId: string; initiated?: string }[];
  /** Unreached objects left alone because they are younger than the grace period. */
  keptYoung: number;
  bytesFreed: number;
  warnings: string[];
}

interface MultipartCapable {
  listMultipartUploads(): AsyncIterable<{ key: string; uploadId: string; initiated?: Date }>;
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
}

function multipartCapable(store: ObjectStore): store is ObjectStore & MultipartCapable {
  const s = store as Partial<MultipartCapable>;
  return typeof s.listMultipartUploads === 'function' && typeof s.abortMultipartUpload === 'function';
}

export async function gc(ctx: OpsContext, opts: GcOptions = {}): Promise<GcReport> {
  const store = ctx.store;
  const dryRun = opts.dryRun ?? false;
  const graceMs = opts.graceMs ?? DEFAULT_GC_GRACE_MS;
  const now = (opts.now ?? new Date()).getTime();
  const report: GcReport = {
    dryRun,
    reachable: { manifests: 0, blobs: 0 },
    deleted: { manifests: [], blobs: [], temporaries: [] },
    abortedUploads: [],
    keptYoung: 0,
    bytesFreed: 0,
    warnings: [],
  };

  // ---- mark
  const manifests = new Set<string>();
  const blobs = new Set<string>();
  const queue: string[] = [];
  for await (const o of store.list('refs/')) {
    const got = await store.getSmall(o.key);
    if (!got) continue; // deleted while we listed
    const ref = parseJson<Ref>(got.body);
    if (ref === null) throw new Error(`gc stopped before deleting anything: ${o.key} in ${store.description} is not valid JSON`);
    if (!ref || typeof ref.current !== 'string' || !Array.isArray(ref.history)) {
      throw new Error(`gc stopped before deleting anything: ${o.key} in ${store.description} is not a layerkeep ref`);
    }
    const history = ref.history.map((h) => h.manifest);
    queue.push(ref.current, ...history.slice(0, await trimHistory(store, o.key, ref, got.etag, opts, report)));
  }
  // Uploads this host's journal still works on: their blobs and temporary objects stay.
  const temporaries = new Set<string>();
  for (const row of pendingUploadsOf(ctx, store)) {
    if (row.blob_digest) blobs.add(row.blob_digest);
    temporaries.add(row.object_key);
    // The manifest it will publish may name more blobs (index, chunk pack) and a base chain.
    const note = parseNote(row.manifest_json);
    if (note) {
      for (const b of blobsNamedBy(note)) blobs.add(b);
      if (Array.isArray(note.base)) queue.push(...note.base);
    }
  }
  while (queue.length > 0) {
    const digest = queue.pop() as string;
    const hex = digestHex(digest);
    if (manifests.has(hex)) continue;
    manifests.add(hex);
    const m = await readJson<Manifest>(store, manifestKey(hex));
    if (!m) {
      report.warnings.push(`manifest sha256:${hex} is referenced but missing from ${store.description}`);
      continue;
    }
    if (!m.blob?.digest) throw new Error(`gc stopped before deleting anything: manifest sha256:${hex} names no blob`);
    for (const b of blobsNamedBy(m)) blobs.add(b);
    if (m.base !== undefined && !Array.isArray(m.base)) throw new Error(`gc stopped before deleting anything: manifest sha256:${hex} has a malformed base chain`);
    queue.push(...(m.base ?? []));
  }
  report.reachable = { manifests: manifests.size, blobs: blobs.size };

  // ---- sweep
  const old = (o: ObjectInfo): boolean => {
    if (!o.modified) return graceMs === 0;
    return now - o.modified.getTime() >= graceMs;
  };
  const sweep = async (o: ObjectInfo, into: string[], recheck: boolean): Promise<void> => {
    if (!old(o)) {
      report.keptYoung++;
      return;
    }
    // A writer that found this blob already stored refreshes its time: look again just before.
    if (recheck && !dryRun) {
      const fresh = await store.head(o.key);
      if (!fresh) return;
      if (!old(fresh)) {
        report.keptYoung++;
        return;
      }
    }
    into.push(o.key);
    report.bytesFreed += o.size;
    if (!dryRun) await store.delete(o.key);
  };

  for await (const o of store.list('manifests/')) {
    const m = /^manifests\/([0-9a-f]{64})\.json$/.exec(o.key);
    if (m && !manifests.has(m[1])) await sweep(o, report.deleted.manifests, false);
  }
  for await (const o of store.list('blobs/sha256/')) {
    const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(o.key);
    if (m && !blobs.has(m[1])) await sweep(o, report.deleted.blobs, true);
  }
  for (const prefix of ['uploads/', '.layerkeep-probe/']) {
    for await (const o of store.list(prefix)) {
      if (!temporaries.has(o.key)) await sweep(o, report.deleted.temporaries, false);
    }
  }
  const mpu = await abortUnknownMultipartUploads(ctx, { dryRun, graceMs, now: new Date(now) });
  report.abortedUploads = mpu.aborted;
  report.keptYoung += mpu.keptYoung;
  ctx.log.info(dryRun ? 'gc dry run' : 'gc done', {
    manifests: report.deleted.manifests.length,
    blobs: report.deleted.blobs.length,
    temporaries: report.deleted.temporaries.length,
    multipartUploads: report.abortedUploads.length,
    bytes: report.bytesFreed,
  });
  return report;
}

/**
 * Aborts the multipart uploads under the store's prefix that no unfinished journal row knows
 * and that started more than the grace period ago (the daemon runs this periodically).
 * Does nothing on stores without multipart uploads.
 */
export async function abortUnknownMultipartUploads(
  ctx: Pick<OpsContext, 'store' | 'state'>,
  opts: { dryRun?: boolean; graceMs?: number; now?: Date } = {},
): Promise<{ aborted: GcReport['abortedUploads']; keptYoung: number }> {
  const out = { aborted: [] as GcReport['abortedUploads'], keptYoung: 0 };
  const store = ctx.store;
  if (!multipartCapable(store)) return out;
  const graceMs = opts.graceMs ?? DEFAULT_GC_GRACE_MS;
  const now = (opts.now ?? new Date()).getTime();
  const known = new Set(pendingUploadsOf(ctx, store).map((r) => r.upload_id).filter((id): id is string => id !== null));
  for await (const u of store.listMultipartUploads()) {
    if (known.has(u.uploadId)) continue;
    if (u.initiated && now - u.initiated.getTime() < graceMs) {
      out.keptYoung++;
      continue;
    }
    out.aborted.push({ key: u.key, uploadId: u.uploadId, initiated: u.initiated?.toISOString() });
    if (!opts.dryRun) await store.abortMultipartUpload(u.key, u.uploadId);
  }
  return out;
}

/**
 * Every blob a manifest names: `blob`, and any other top-level field shaped like a blob
 * reference ({ digest: "sha256:..." }) — incremental snapshots add `index` and `chunks`, and
 * a field added later must not make gc lose data.
 */
function blobsNamedBy(m: Manifest): string[] {
  const out: string[] = [];
  for (const v of Object.values(m as unknown as Record<string, unknown>)) {
    const digest = v && typeof v === 'object' && !Array.isArray(v) ? (v as { digest?: unknown }).digest : undefined;
    if (typeof digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(digest)) out.push(digestHex(digest));
  }
  return out;
}

async function readJson<T>(store: ObjectStore, key: string): Promise<T | null> {
  const got = await store.getSmall(key);
  if (!got) return null;
  try {
    return JSON.parse(got.body.toString('utf8')) as T;
  } catch {
    throw new Error(`gc stopped before deleting anything: ${key} in ${store.description} is not valid JSON`);
  }
}

function parseNote(json: string | null): Manifest | null {
  if (!json) return null;
  try {
    const m = JSON.parse(json) as Manifest;
    return m && typeof m === 'object' ? m : null;
  } catch {
    return null;
  }
}

interface JournalRow {
  manifest_json: string | null;
  blob_digest: string | null;
  object_key: string;
  upload_id: string | null;
}

function pendingUploadsOf(ctx: Pick<OpsContext, 'state'>, store: ObjectStore): JournalRow[] {
  return ctx.state
    .prepare(`SELECT blob_digest, object_key, upload_id, manifest_json FROM uploads WHERE store = ? AND status NOT IN ('done', 'failed')`)
    .all(store.description) as JournalRow[];
}


/**
 * --keep N: the ref is the source of truth for `ls` and restore, so the history is cut in the
 * ref itself (a conditional write) before anything it named is swept. Returns how many entries
 * of the history stay reachable: all of them when the ref changed meanwhile (the next gc trims).
 */
async function trimHistory(store: ObjectStore, key: string, ref: Ref, etag: string, opts: GcOptions, report: GcReport): Promise<number> {
  if (opts.keep === undefined || ref.history.length <= Math.max(1, opts.keep)) return ref.history.length;
  const keep = Math.max(1, opts.keep);
  if (opts.dryRun) return keep;
  const trimmed: Ref = { ...ref, history: ref.history.slice(0, keep) };
  if (!trimmed.history.some((h) => h.manifest === ref.current)) return ref.history.length; // never drop the current one
  try {
    await store.putSmall(key, canonicalJson(trimmed), { ifMatch: etag });
    return keep;
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err;
    report.warnings.push(`${key} changed while gc ran: its history was left whole this time`);
    return ref.history.length;
  }
}

function parseJson<T>(body: Buffer): T | null {
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    return null;
  }
}
