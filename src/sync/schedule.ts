// Which running containers are synced, and when. Every running opted-in container the daemon
// knows is listed here (so an on-demand sync can find it); those with an interval get a timer.
// A tick starts the next wait only after its sync has finished (durable or failed), so a slow
// upload stretches the interval instead of stacking syncs.
import type { Logger } from '../ops/types.js';
import { type Cgroup, cgroupOfPid } from './freeze.js';
import type { SyncRun, Syncer } from './sync.js';

export interface SyncedContainer {
  containerId: string;
  key: string;
  upperDir: string;
  /** The container's init process (its cgroup is frozen). */
  pid: number;
  image?: { id: string; name?: string };
  /** 0: no interval sync (on demand only). */
  intervalMs: number;
}

export interface SyncScheduler {
  upsert(c: SyncedContainer): void;
  remove(containerId: string): void;
  list(): SyncedContainer[];
  /** By full id or unique prefix (at least 4 characters). */
  find(idOrPrefix: string): SyncedContainer | undefined;
  byKey(key: string): SyncedContainer | undefined;
  syncNow(c: SyncedContainer): SyncRun;
  close(): void;
}

export function createSyncScheduler(o: { syncer: Syncer; log: Logger; cgroupOf?: (pid: number) => Cgroup }): SyncScheduler {
  const entries = new Map<string, { c: SyncedContainer; timer: NodeJS.Timeout | null; gen: number }>();
  const cgroupOf = o.cgroupOf ?? cgroupOfPid;
  let closed = false;
  let generation = 0;

  const syncNow = (c: SyncedContainer): SyncRun => o.syncer.sync({
    key: c.key, upperDir: c.upperDir, image: c.image, containerId: c.containerId, cgroup: () => cgroupOf(c.pid),
  });

  function arm(id: string): void {
    const e = entries.get(id);
    if (!e || closed || e.c.intervalMs <= 0) return;
    const gen = e.gen;
    e.timer = setTimeout(() => {
      const cur = entries.get(id);
      if (!cur || cur.gen !== gen) return;
      cur.timer = null;
      syncNow(cur.c).done
        .catch((err: Error) => o.log.warn('live sync failed; the key keeps its last snapshot', { key: cur.c.key, container: id, error: err.message }))
        .finally(() => { if (entries.get(id)?.gen === gen) arm(id); });
    }, e.c.intervalMs);
    e.timer.unref();
  }

  return {
    upsert(c) {
      const old = entries.get(c.containerId);
      if (old && old.c.key === c.key && old.c.upperDir === c.upperDir && old.c.pid === c.pid && old.c.intervalMs === c.intervalMs) return;
      if (old?.timer) clearTimeout(old.timer);
      entries.set(c.containerId, { c, timer: null, gen: ++generation });
      if (!old || old.c.intervalMs !== c.intervalMs) o.log.info('live sync schedule', { container: c.containerId, key: c.key, intervalMs: c.intervalMs });
      arm(c.containerId);
    },
    remove(id) {
      const e = entries.get(id);
      if (!e) return;
      if (e.timer) clearTimeout(e.timer);
      entries.delete(id);
      // The last running container of the key is gone: so goes its mirror.
      if (!closed && ![...entries.values()].some((x) => x.c.key === e.c.key)) {
        o.syncer.forget(e.c.key).catch((err: Error) => o.log.warn('cannot remove a live sync mirror', { key: e.c.key, error: err.message }));
      }
    },
    list: () => [...entries.values()].map((e) => e.c),
    find(p) {
      if (entries.has(p)) return entries.get(p)!.c;
      if (p.length < 4) return undefined;
      const hits = [...entries.keys()].filter((id) => id.startsWith(p));
      return hits.length === 1 ? entries.get(hits[0]!)!.c : undefined;
    },
    byKey: (key) => [...entries.values()].find((e) => e.c.key === key)?.c,
    syncNow,
    close() {
      closed = true;
      for (const e of entries.values()) if (e.timer) clearTimeout(e.timer);
      entries.clear();
    },
  };
}
