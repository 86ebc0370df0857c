// Captures of container upper dirs and their background snapshots.
//
// capture() runs while dockerd waits (poststop: 30 s at most), so it only takes a link copy into
// <dir>/<id>/tree and writes <dir>/<id>/capture.json; packing and upload happen afterwards, one
// key at a time. The journal file makes this crash-tolerant: resume() requeues every capture a
// previous run left behind. Because the copy shares inodes with the upper dir, a new start of the
// same container must wait (waitForReaders) until the snapshot has finished reading the copy.
//
// A snapshot that fails for a reason a retry cannot fix (isPermanentFailure: a name or tree the
// walk refuses) is not retried: its record becomes 'abandoned' (the copy is kept for the
// operator), the failure goes to the state DB (status shows it), and the key is not blocked by it;
// what the next start does is the failed-capture policy (container-hooks.ts).
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../ops/types.js';
import type { StateDb } from '../state/db.js';
import { clearCaptureFailures, recordCaptureFailure } from '../state/captureFailures.js';
import { linkCopyTree } from './link-copy.js';
import { LayerkeepError, type ErrorDetails } from '../errors.js';

export interface CaptureRecord {
  id: string;
  key: string;
  containerId: string;
  name: string;
  image: { id: string; name?: string };
  upperDir: string;
  created: string;
  /** copying: the link copy may be incomplete. captured: ready to snapshot. failed: last try
   *  failed, retried. abandoned: failed for good, not retried. */
  status: 'copying' | 'captured' | 'failed' | 'abandoned';
  linked?: boolean;
  attempts: number;
  error?: string;
}

/** Snapshots a captured tree; calls doneReading() once it has read every file (before upload ends). */
export type SnapshotCapture = (rec: CaptureRecord, treeDir: string, doneReading: () => void) => Promise<void>;

export interface CaptureManager {
  capture(req: Pick<CaptureRecord, 'key' | 'containerId' | 'name' | 'image' | 'upperDir'>): Promise<CaptureRecord>;
  /** Resolves when no capture is reading from this upper dir any more. */
  waitForReaders(upperDir: string): Promise<void>;
  /** Requeues captures left by an earlier run (after a crash or a failed upload). */
  resume(): Promise<number>;
  /** Resolves when no capture of this key is queued or running. */
  waitForKey(key: string): Promise<void>;
  /** The key's capture whose last snapshot attempt failed (still journaled), if any. */
  failedFor(key: string): CaptureRecord | undefined;
  pending(): number;
  inProgress(key: string): boolean;
  /** Waits for queued work up to timeoutMs; what is left stays journaled for the next run. */
  drain(timeoutMs: number): Promise<boolean>;
  stop(): void;
}

/** A failure of our own making that no retry fixes. */
export class PermanentCaptureError extends LayerkeepError {
  readonly permanent = true;
  constructor(message: string, details?: ErrorDetails) { super('refused', message, details); }
}

const PERMANENT_CODES = ['EILSEQ', 'ENAMETOOLONG', 'ELOOP', 'EOVERFLOW', 'E2BIG'];

/** Failures that depend only on the captured tree (so every retry fails the same way). Anything
 *  else (store, network, disk space, I/O) is transient and retried with backoff. */
export function isPermanentFailure(e: unknown): boolean {
  const err = e as { permanent?: unknown; code?: unknown; message?: unknown };
  if (err?.permanent === true) return true;
  if (e instanceof RangeError) return true; // e.g. a tree too deep for a recursive step
  if (typeof err?.code === 'string' && PERMANENT_CODES.includes(err.code)) return true;
  const msg = String(err?.message ?? '');
  return new RegExp(`\\b(${PERMANENT_CODES.join('|')})\\b`).test(msg) || /uses overlayfs (redirect|metacopy)/.test(msg);
}

export function createCaptureManager(opts: { dir: string; log: Logger; snapshot: SnapshotCapture; retryDelayMs?: number; state?: StateDb; onAbandoned?: (rec: CaptureRecord) => void }): CaptureManager {
  const { dir, log } = opts;
  const readers = new Map<string, Set<Promise<unknown>>>();
  const keyChains = new Map<string, Promise<void>>();
  const active = new Set<string>();
  const queuedKeys = new Map<string, number>();
  const failed = new Map<string, CaptureRecord>();
  let stopped = false;
  const retryTimers = new Set<NodeJS.Timeout>();

  const recordPath = (id: string): string => join(dir, id, 'capture.json');
  const treePath = (id: string): string => join(dir, id, 'tree');

  async function save(rec: CaptureRecord): Promise<void> {
    const tmp = recordPath(rec.id) + '.tmp';
    await writeFile(tmp, JSON.stringify(rec, null, 2) + '\n');
    await rename(tmp, recordPath(rec.id));
  }

  function trackReader(upperDir: string, p: Promise<unknown>): void {
    let set = readers.get(upperDir);
    if (!set) readers.set(upperDir, (set = new Set()));
    set.add(p);
    const done = (): void => {
      set.delete(p);
      if (set.size === 0) readers.delete(upperDir);
    };
    p.then(done, done);
  }

  // One key at a time, in capture order: a key's snapshots must land in the order they were taken.
  function enqueue(rec: CaptureRecord): Promise<void> {
    queuedKeys.set(rec.key, (queuedKeys.get(rec.key) ?? 0) + 1);
    const prev = keyChains.get(rec.key) ?? Promise.resolve();
    let doneReading!: () => void;
    const reading = new Promise<void>((r) => (doneReading = r));
    const job = prev.then(() => runSnapshot(rec, doneReading));
    const chain = job.finally(() => {
      const n = (queuedKeys.get(rec.key) ?? 1) - 1;
      if (n <= 0) queuedKeys.delete(rec.key);
      else queuedKeys.set(rec.key, n);
      if (keyChains.get(rec.key) === chain) keyChains.delete(rec.key);
    });
    keyChains.set(rec.key, chain);
    // The copy shares inodes with the upper dir until the snapshot has read it all.
    if (rec.linked !== false) trackReader(rec.upperDir, Promise.race([reading, chain]));
    return chain;
  }

  async function runSnapshot(rec: CaptureRecord, doneReading: () => void): Promise<void> {
    if (stopped) return;
    active.add(rec.id);
    try {
      rec.attempts += 1;
      await opts.snapshot(rec, treePath(rec.id), doneReading);
      await rm(join(dir, rec.id), { recursive: true, force: true });
      if (failed.get(rec.key)?.id === rec.id) failed.delete(rec.key);
      // A newer state of the key is saved: an earlier capture that failed for good no longer matters.
      if (opts.state) clearCaptureFailures(opts.state, rec.key);
      log.info('capture snapshotted', { capture: rec.id, key: rec.key, container: rec.containerId });
    } catch (e) {
      if (isPermanentFailure(e)) {
        await abandon(rec, (e as Error).message);
        return;
      }
      rec.status = 'failed';
      rec.error = (e as Error).message;
      failed.set(rec.key, rec);
      log.error('snapshot of capture failed; kept for retry', { capture: rec.id, key: rec.key, error: rec.error });
      await save(rec).catch((se) => log.error('cannot update capture journal', { capture: rec.id, error: String(se) }));
      scheduleRetry(rec);
    } finally {
      active.delete(rec.id);
    }
  }

  async function abandon(rec: CaptureRecord, error: string): Promise<void> {
    rec.status = 'abandoned';
    rec.error = error;
    if (failed.get(rec.key)?.id === rec.id) failed.delete(rec.key);
    if (opts.state) recordCaptureFailure(opts.state, { captureId: rec.id, key: rec.key, containerId: rec.containerId, error });
    log.error('snapshot of capture failed permanently; not retried, the key keeps its last good snapshot (the copy is kept)', {
      capture: rec.id, key: rec.key, container: rec.containerId, error, copy: treePath(rec.id),
    });
    await save(rec).catch((se) => log.error('cannot update capture journal', { capture: rec.id, error: String(se) }));
    opts.onAbandoned?.(rec);
  }

  function scheduleRetry(rec: CaptureRecord): void {
    if (stopped) return;
    const base = opts.retryDelayMs ?? 30_000;
    const delay = Math.min(base * 2 ** Math.min(rec.attempts - 1, 6), 30 * 60_000);
    const t = setTimeout(() => {
      retryTimers.delete(t);
      void enqueue(rec);
    }, delay);
    t.unref();
    retryTimers.add(t);
  }

  return {
    async capture(req) {
      const id = `${new Date().toISOString().replace(/[-:.]/g, '')}-${req.containerId.slice(0, 12)}-${randomBytes(3).toString('hex')}`;
      const rec: CaptureRecord = { ...req, id, created: new Date().toISOString(), status: 'copying', attempts: 0 };
      await mkdir(join(dir, id), { recursive: true, mode: 0o700 });
      await save(rec);
      const copying = linkCopyTree(req.upperDir, treePath(id));
      trackReader(req.upperDir, copying);
      try {
        rec.linked = (await copying).linked;
      } catch (e) {
        await rm(join(dir, id), { recursive: true, force: true }).catch(() => undefined);
        throw new Error(`capture of ${req.upperDir} for key ${req.key} failed: ${(e as Error).message}`);
      }
      rec.status = 'captured';
      await save(rec);
      void enqueue(rec);
      return rec;
    },

    async waitForReaders(upperDir) {
      for (;;) {
        const set = readers.get(upperDir);
        if (!set || set.size === 0) return;
        await Promise.allSettled([...set]);
      }
    },

    async resume() {
      if (!existsSync(dir)) return 0;
      let n = 0;
      for (const id of (await readdir(dir)).sort()) {
        let rec: CaptureRecord;
        try {
          rec = JSON.parse(await readFile(recordPath(id), 'utf8')) as CaptureRecord;
        } catch {
          log.warn('capture directory without a readable journal; left alone', { path: join(dir, id) });
          continue;
        }
        if (active.has(rec.id) || keyChains.has(rec.key)) continue;
        if (rec.status === 'abandoned') continue; // failed for good: left for the operator
        if (rec.status === 'copying') {
          // The copy was interrupted: it cannot be trusted. Nothing was lost that the upper dir
          // (if it still exists) does not hold; reconciliation captures it again.
          log.warn('dropping interrupted capture', { capture: rec.id, key: rec.key, upperDir: rec.upperDir });
          await rm(join(dir, id), { recursive: true, force: true });
          continue;
        }
        void enqueue(rec);
        n++;
      }
      return n;
    },

    async waitForKey(key) {
      for (;;) {
        const chain = keyChains.get(key);
        if (!chain) return;
        await chain.catch(() => undefined);
      }
    },

    failedFor: (key) => failed.get(key),

    pending: () => [...queuedKeys.values()].reduce((a, b) => a + b, 0),
    inProgress: (key) => queuedKeys.has(key),

    async drain(timeoutMs) {
      const all = Promise.allSettled([...keyChains.values()]).then(() => true);
      const timer = new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref());
      return Promise.race([all, timer]);
    },

    stop() {
      stopped = true;
      for (const t of retryTimers) clearTimeout(t);
      retryTimers.clear();
    },
  };
}
