// The daemon's live sync: the syncer, its schedules, Docker discovery, metrics, events and the
// Sync gRPC call, wired in one place so the daemon only starts and stops it.
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { Logger, OpsContext } from '../ops/types.js';
import { startDockerSyncDiscovery, type DockerSyncDiscovery } from '../sync/docker-sync.js';
import { createSyncScheduler, type SyncScheduler } from '../sync/schedule.js';
import { createSyncer, parseSyncInterval, type Syncer } from '../sync/sync.js';
import { type Config } from './config.js';
import { parseDuration } from '../units.js';
import type { EventBus } from './events.js';
import type { SyncReply } from './generated/layerkeep/v1/SyncReply.js';
import type { SyncRequest__Output } from './generated/layerkeep/v1/SyncRequest.js';
import type { KeyLock } from './key-lock.js';
import type { Metrics } from './metrics.js';
import { invalid, notFound } from '../errors.js';

export interface LiveSync {
  syncer: Syncer;
  scheduler: SyncScheduler;
  defaultIntervalMs: number;
  attachDocker(docker: Docker, dockerRoot: string, namePatterns: () => string[]): void;
  /** The Sync gRPC call. */
  sync(req: SyncRequest__Output): Promise<SyncReply>;
  /** Stops the schedules; waits up to timeoutMs for syncs in flight (a freeze always ends in a thaw). */
  close(timeoutMs?: number): Promise<void>;
}

const FREEZE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export function startLiveSync(o: { config: Config; ctx: OpsContext; events: EventBus; metrics: Metrics; withKeyLock: KeyLock; log: Logger }): LiveSync {
  const defaultIntervalMs = parseSyncInterval(o.config['sync-interval'] ?? '0', '--sync-interval');
  const freezeTimeoutMs = parseDuration(o.config['sync-freeze-timeout'] ?? '1s', 'sync-freeze-timeout');
  const lastSuccess = o.metrics.gauge('layerkeep_sync_last_success_timestamp_seconds', 'Unix time of the last successful live sync, per key (alert on RPO).');
  const duration = o.metrics.histogram('layerkeep_sync_duration_seconds', 'Live sync duration (capture + pack + upload).');
  const frozen = o.metrics.histogram('layerkeep_sync_freeze_seconds', 'How long a live sync kept the container frozen.', FREEZE_BUCKETS);
  const syncs = o.metrics.counter('layerkeep_syncs_total', 'Live syncs by result (changed, unchanged = skipped by the no-change check, failed).');

  const syncer = createSyncer({
    ctx: o.ctx,
    dir: o.config['sync-dir'] || join(o.config['docker-root'], 'overlay2', 'layerkeep-sync'),
    recordDir: join(o.config['state-dir'], 'sync'),
    runDir: o.config['run-dir'],
    freezeTimeoutMs,
    withKeyLock: o.withKeyLock,
    emit: (e) => o.events.emit({ ...e }),
    observe: (r) => {
      if ('failed' in r) {
        syncs.inc({ result: 'failed' });
        return;
      }
      syncs.inc({ result: r.changed ? 'changed' : 'unchanged' });
      if (r.frozenMs !== undefined) frozen.observe(r.frozenMs / 1000);
      if (r.changed) duration.observe(r.durationMs / 1000);
      // unchanged counts too: the store holds the container's current state
      lastSuccess.set(Date.now() / 1000, { key: r.key });
    },
  });
  const scheduler = createSyncScheduler({ syncer, log: o.log });
  let discovery: DockerSyncDiscovery | undefined;

  return {
    syncer, scheduler, defaultIntervalMs,
    attachDocker(docker, dockerRoot, namePatterns) {
      discovery = startDockerSyncDiscovery({
        docker, dockerRoot, namePatterns, scheduler, defaultIntervalMs, log: o.log, subscribe: (fn) => o.events.subscribe((e) => fn({ type: e.type ?? '', containerId: e.containerId })),
      });
    },
    async sync(req) {
      const c = req.containerId ? scheduler.find(req.containerId) : req.key ? scheduler.byKey(req.key) : undefined;
      if (!req.containerId && !req.key) throw invalid('invalid Sync request: name a key or a container');
      if (!c) {
        const what = req.containerId ? `container ${req.containerId}` : `a container of key ${req.key}`;
        throw notFound(`${what} is not a running, opted-in container this daemon knows (live sync needs Docker discovery)`, { object: req.containerId || req.key });
      }
      const run = scheduler.syncNow(c);
      if (req.noWait) {
        run.done.catch((e: Error) => o.log.warn('live sync failed after its capture', { key: c.key, error: e.message }));
        await run.captured;
        return { key: c.key, containerId: c.containerId, changed: true, manifestDigest: '', frozenMs: 0, durable: false };
      }
      const r = await run.done;
      return { key: c.key, containerId: c.containerId, changed: r.changed, manifestDigest: r.manifestDigest ?? '', frozenMs: r.frozenMs ?? 0, durable: true };
    },
    async close(timeoutMs = 0) {
      discovery?.close();
      const keys = [...new Set(scheduler.list().map((c) => c.key))];
      scheduler.close();
      if (timeoutMs > 0) {
        await Promise.race([Promise.all(keys.map((k) => syncer.idle(k))), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
      }
    },
  };
}
