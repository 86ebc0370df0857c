// Discovers which running Docker containers are synced: every running opted-in container
// (label layerkeep.key / enable / name patterns), with its interval from the label
// layerkeep.sync (a duration; 0 = off) or the daemon's default. Rebuilt from Docker's list at
// every (re)connect, so schedules survive a daemon or dockerd restart; kept current from the
// container events the daemon already follows (start/die/destroy).
import type Docker from 'dockerode';
import type { Logger } from '../ops/types.js';
import { dockerPathMapper } from '../runtime/docker-watch.js';
import { containerKey } from '../runtime/opt-in.js';
import type { SyncScheduler } from './schedule.js';
import { parseSyncInterval } from './sync.js';

export const LABEL_SYNC = 'layerkeep.sync';
/** The OCI/CRI annotation with the same meaning. */
export const ANNOTATION_SYNC = 'io.layerkeep.sync';

export interface DockerSyncDiscovery {
  refresh(): Promise<void>;
  close(): void;
}

/** The interval a container asks for; a bad value is reported and means off (never the default). */
export function intervalFor(labels: Record<string, string>, name: string, defaultMs: number, log: Logger): number {
  const v = labels[LABEL_SYNC] ?? labels[ANNOTATION_SYNC];
  if (v === undefined || v === '') return defaultMs;
  try {
    return parseSyncInterval(v, `${name} of the container`);
  } catch (e) {
    log.warn('container has an unusable sync interval; live sync is off for it', { error: (e as Error).message });
    return 0;
  }
}

export function startDockerSyncDiscovery(o: {
  docker: Docker;
  dockerRoot: string;
  namePatterns: () => string[];
  scheduler: SyncScheduler;
  defaultIntervalMs: number;
  subscribe: (fn: (e: { type: string; containerId?: string }) => void) => () => void;
  log: Logger;
}): DockerSyncDiscovery {
  const localPath = dockerPathMapper(o.docker, o.dockerRoot);
  let closed = false;

  async function one(id: string): Promise<void> {
    const info = await o.docker.getContainer(id).inspect();
    const labels = info.Config.Labels ?? {};
    const name = info.Name.replace(/^\//, '');
    let key: string | null = null;
    try {
      key = containerKey({ name, labels }, o.namePatterns());
    } catch {
      key = null;
    }
    const upper = (info.GraphDriver?.Data as Record<string, string> | undefined)?.UpperDir ?? '';
    if (!key || !info.State.Running || !info.State.Pid || !upper) {
      o.scheduler.remove(info.Id);
      return;
    }
    o.scheduler.upsert({
      containerId: info.Id, key, upperDir: await localPath(upper), pid: info.State.Pid,
      image: { id: info.Image, name: info.Config.Image }, intervalMs: intervalFor(labels, LABEL_SYNC, o.defaultIntervalMs, o.log),
    });
  }

  async function refresh(): Promise<void> {
    const running = await o.docker.listContainers({ filters: { status: ['running'] } });
    const ids = new Set(running.map((c) => c.Id));
    for (const c of o.scheduler.list()) if (!ids.has(c.containerId)) o.scheduler.remove(c.containerId);
    for (const c of running) {
      if (closed) return;
      await one(c.Id).catch((e: Error) => o.log.warn('cannot inspect a container for live sync', { container: c.Id, error: e.message }));
    }
  }

  const unsubscribe = o.subscribe((e) => {
    if (closed) return;
    if (e.type === 'docker.connected') {
      void refresh().catch((err: Error) => o.log.warn('listing containers for live sync failed', { error: err.message }));
      return;
    }
    const id = e.containerId;
    if (!id) return;
    if (e.type === 'container.die' || e.type === 'container.destroy' || e.type === 'container.pause') o.scheduler.remove(id);
    else if (e.type === 'container.start' || e.type === 'container.unpause' || e.type === 'container.restart') {
      void one(id).catch((err: Error) => o.log.warn('cannot inspect a container for live sync', { container: id, error: err.message }));
    }
  });

  return {
    refresh,
    close() {
      closed = true;
      unsubscribe();
    },
  };
}
