// Live sync of a running container: a crash-consistent capture of its upper dir, then an
// ordinary (incremental) snapshot through the existing pack -> upload -> ref path.
//
//   idle check: lstat signatures of the upper dir equal to those of the last synced capture
//               -> nothing is frozen, copied or uploaded;
//   pre-copy:   bring the key's mirror up to date while the container runs (may be torn);
//   frozen:     freeze the cgroup, bring the mirror up to date again (only what changed since the
//               pre-copy), thaw: the mirror is now the tree as of one instant;
//   snapshot:   snapshot(mirror) under the key lock; the next sync of the key waits for it.
//
// One sync per key in flight. A sync asked for while one runs waits for it and then captures
// what changed meanwhile; every further request during that wait joins the same follow-up, so
// nothing queues up without bound.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { snapshot } from '../ops/snapshot.js';
import type { OpsContext } from '../ops/types.js';
import { validateKey } from '../store/layout.js';
import { type Cgroup, withFrozen } from './freeze.js';
import { sameSigs, scanTree, signatures, type Sigs, updateMirror } from './mirror.js';
import { parseDuration } from '../units.js';
import { invalid } from '../errors.js';
import { removeTree } from '../snapshot/removeTree.js'; // no recursion: a container's tree may be very deep

export interface SyncTarget {
  key: string;
  upperDir: string;
  /** Resolved at the start of each sync (a restarted container has a new cgroup). */
  cgroup: () => Cgroup;
  image?: { id: string; name?: string };
  containerId?: string;
}

export interface SyncOutcome {
  key: string;
  /** false: nothing changed since the last sync (no freeze, no upload). */
  changed: boolean;
  manifestDigest?: string;
  frozenMs?: number;
  copied?: number;
  durationMs: number;
  kind?: 'full' | 'diff';
}

export interface SyncRecord {
  key: string;
  lastSync: string;
  manifestDigest: string;
  frozenMs: number;
  containerId?: string;
}

export type SyncEvent = { type: 'sync.started' | 'sync.finished' | 'sync.failed' | 'sync.captured'; key: string; containerId?: string; message?: string; manifestDigest?: string };

export interface SyncerOptions {
  ctx: OpsContext;
  /** Mirrors live here: must be on the upper dirs' filesystem (reflinks) and survive nothing. */
  dir: string;
  /** Where last-sync records are kept (the state dir). */
  recordDir: string;
  runDir: string;
  freezeTimeoutMs: number;
  withKeyLock: <T>(key: string, fn: () => Promise<T>) => Promise<T>;
  emit?: (e: SyncEvent) => void;
  observe?: (o: SyncOutcome | { key: string; failed: true; durationMs: number }) => void;
}

export interface SyncRun {
  /** Resolves once the capture is consistent in the mirror (or nothing changed). */
  captured: Promise<void>;
  /** Resolves when the snapshot is durable in the store. */
  done: Promise<SyncOutcome>;
}

export interface Syncer {
  sync(t: SyncTarget): SyncRun;
  /** Last successful sync of the key (this host), from the record dir. */
  lastSync(key: string): SyncRecord | undefined;
  /** Resolves when nothing of the key is in flight. */
  idle(key: string): Promise<void>;
  /** Drops the key's mirror (its container is gone): a copy of its data must not outlive it. */
  forget(key: string): Promise<void>;
}

interface KeyState {
  /** What the mirror holds (null: unknown, rebuild it). */
  mirrorSigs: Sigs | null;
  /** Signatures of the last capture whose snapshot is durable. */
  syncedSigs: Sigs | null;
  running: Promise<unknown> | null;
  followUp: SyncRun | null;
}

export function createSyncer(o: SyncerOptions): Syncer {
  const keys = new Map<string, KeyState>();
  // Mirrors an earlier run left are not trusted (rebuilt on first use): remove them now rather
  // than keep copies of containers that may be gone.
  if (existsSync(o.dir)) for (const name of readdirSync(o.dir)) if (name.startsWith('k-')) removeTree(join(o.dir, name));
  const stateOf = (key: string): KeyState => {
    let s = keys.get(key);
    if (!s) keys.set(key, (s = { mirrorSigs: null, syncedSigs: null, running: null, followUp: null }));
    return s;
  };
  // "k-" keeps keys such as ".." from naming a parent directory.
  const keyDir = (key: string): string => join(o.dir, `k-${key}`);
  const recordFile = (key: string): string => join(o.recordDir, `k-${key}.json`);
  const emit = (e: SyncEvent): void => o.emit?.(e);

  async function capture(t: SyncTarget, s: KeyState): Promise<{ sigs: Sigs; frozenMs: number; copied: number } | null> {
    const mirror = join(keyDir(t.key), 'tree');
    const tmp = join(keyDir(t.key), 'tmp');
    if (s.syncedSigs && sameSigs(signatures(t.upperDir, scanTree(t.upperDir), BigInt(Date.now()) * 1_000_000n), s.syncedSigs)) return null;
    if (!s.mirrorSigs) {
      // A mirror this process did not write (an earlier run) cannot be trusted entry by entry.
      removeTree(keyDir(t.key));
      mkdirSync(keyDir(t.key), { recursive: true, mode: 0o700 });
      s.mirrorSigs = new Map();
    }
    try {
      const pre = await updateMirror(t.upperDir, mirror, tmp, s.mirrorSigs);
      s.mirrorSigs = pre.sigs;
      const cg = t.cgroup();
      const f = await withFrozen(cg, { runDir: o.runDir, timeoutMs: o.freezeTimeoutMs }, (deadline) => updateMirror(t.upperDir, mirror, tmp, pre.sigs, deadline));
      s.mirrorSigs = f.value.sigs;
      return { sigs: f.value.sigs, frozenMs: f.frozenMs, copied: pre.copied + f.value.copied };
    } catch (e) {
      s.mirrorSigs = null; // partly updated: rebuild next time
      throw e;
    }
  }

  async function run(t: SyncTarget, s: KeyState, onCaptured: () => void): Promise<SyncOutcome> {
    const t0 = performance.now();
    try {
      return await o.withKeyLock(t.key, async () => {
        const got = await capture(t, s);
        onCaptured();
        if (!got) {
          const out: SyncOutcome = { key: t.key, changed: false, durationMs: performance.now() - t0 };
          o.observe?.(out);
          return out;
        }
        emit({ type: 'sync.started', key: t.key, containerId: t.containerId, message: `frozen ${got.frozenMs.toFixed(1)} ms, ${got.copied} entries copied` });
        s.syncedSigs = null; // until this capture is durable, the next tick must not call it unchanged
        const r = await snapshot(o.ctx, { key: t.key, dir: join(keyDir(t.key), 'tree'), image: t.image });
        s.syncedSigs = got.sigs;
        const out: SyncOutcome = {
          key: t.key, changed: r.changed, manifestDigest: r.manifestDigest, frozenMs: got.frozenMs, copied: got.copied,
          durationMs: performance.now() - t0, kind: r.kind,
        };
        writeRecord({ key: t.key, lastSync: new Date().toISOString(), manifestDigest: r.manifestDigest, frozenMs: got.frozenMs, containerId: t.containerId });
        emit({ type: 'sync.finished', key: t.key, containerId: t.containerId, manifestDigest: r.manifestDigest, message: r.changed ? `${r.kind ?? 'snapshot'} stored` : 'unchanged' });
        o.observe?.(out);
        return out;
      });
    } catch (e) {
      emit({ type: 'sync.failed', key: t.key, containerId: t.containerId, message: (e as Error).message });
      o.observe?.({ key: t.key, failed: true, durationMs: performance.now() - t0 });
      throw e;
    }
  }

  function writeRecord(r: SyncRecord): void {
    mkdirSync(o.recordDir, { recursive: true, mode: 0o700 });
    const file = recordFile(r.key);
    writeFileSync(file + '.tmp', JSON.stringify(r) + '\n');
    renameSync(file + '.tmp', file);
  }

  function start(t: SyncTarget, s: KeyState): SyncRun {
    let captured!: () => void;
    let failed!: (e: unknown) => void;
    const cap = new Promise<void>((r, j) => { captured = r; failed = j; });
    cap.catch(() => undefined); // a caller that only awaits `done` must not see an unhandled rejection
    const done = run(t, s, captured);
    done.catch(failed);
    s.running = done;
    const clear = (): void => { if (s.running === done) s.running = null; };
    done.then(clear, clear);
    return { captured: cap, done };
  }

  return {
    sync(t) {
      validateKey(t.key);
      const s = stateOf(t.key);
      if (!s.running) return start(t, s);
      if (s.followUp) return s.followUp;
      // Wait for the sync in flight, then capture what changed meanwhile (one follow-up, shared).
      const prev = s.running;
      let captured!: () => void;
      let capFail!: (e: unknown) => void;
      const cap = new Promise<void>((r, j) => { captured = r; capFail = j; });
      cap.catch(() => undefined);
      const done = prev.catch(() => undefined).then(() => {
        s.followUp = null;
        const next = start(t, s);
        next.captured.then(captured, capFail);
        return next.done;
      });
      s.followUp = { captured: cap, done };
      s.running = done;
      const clear = (): void => { if (s.running === done) s.running = null; };
      done.then(clear, clear);
      return s.followUp;
    },
    lastSync(key) {
      const f = recordFile(key);
      if (!existsSync(f)) return undefined;
      try {
        return JSON.parse(readFileSync(f, 'utf8')) as SyncRecord;
      } catch {
        return undefined;
      }
    },
    async idle(key) {
      for (;;) {
        const r = keys.get(key)?.running;
        if (!r) return;
        await r.catch(() => undefined);
      }
    },
    async forget(key) {
      await this.idle(key);
      if (keys.get(key)?.running) return; // a new container of the key started syncing meanwhile
      keys.delete(key);
      removeTree(keyDir(key));
    },
  };
}

/** "30s", "2m", "500ms", "0" (off): the one duration syntax (units.ts), at least 1s when on. */
export function parseSyncInterval(v: string, what: string): number {
  const ms = parseDuration(v, `sync interval for ${what.slice(0, 80)}`);
  if (ms !== 0 && ms < 1000) throw invalid(`sync interval for ${what} must be 0 (off) or at least 1s`);
  return ms;
}

/** Every key's last successful live sync on this host (the records under <state dir>/sync). */
export function listSyncRecords(recordDir: string): SyncRecord[] {
  if (!existsSync(recordDir)) return [];
  const out: SyncRecord[] = [];
  for (const name of readdirSync(recordDir).sort()) {
    if (!name.startsWith('k-') || !name.endsWith('.json')) continue;
    try {
      const r = JSON.parse(readFileSync(join(recordDir, name), 'utf8')) as SyncRecord;
      if (typeof r.key === 'string' && typeof r.lastSync === 'string') out.push(r);
    } catch {
      // a torn record is rewritten by the next sync
    }
  }
  return out;
}
