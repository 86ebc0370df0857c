// Docker events via dockerode: discovery and reconciliation, not guarantees. Events arrive after
// the fact (a --rm container's upper dir is gone by its destroy event), so the runtime wrapper's
// hooks do the work that must happen before a start or before removal. This watcher:
//   - at connect (daemon start, and every reconnect after dockerd restarts, resuming with `since`)
//     lists opted-in containers and captures those that stopped without being captured;
//   - on `die` of an opted-in container that does not run under the wrapper runtime, captures it
//     (best effort: too late for --rm);
//   - feeds container events to gRPC subscribers.
import Docker from 'dockerode';
import type { Logger } from '../ops/types.js';
import type { CaptureManager } from './capture.js';
import { captureStop, type HookDeps } from './container-hooks.js';
import { getContainer, upsertContainer } from './containers-table.js';
import { containerKey } from './opt-in.js';
import { isUnrestored, rowWithoutState } from './unrestored.js';

export interface DockerWatch {
  connected(): boolean;
  /** One reconciliation pass (also run at every connect). */
  reconcile(): Promise<number>;
  close(): void;
}

export function dockerClient(host: string): Docker {
  if (host.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  if (host.startsWith('/')) return new Docker({ socketPath: host });
  const u = new URL(host.replace(/^tcp:/, 'http:'));
  return new Docker({ host: u.hostname, port: Number(u.port || 2375), protocol: 'http' });
}

/**
 * Maps paths dockerd reports (GraphDriver.Data.UpperDir) to where this process sees them: inside
 * the managed plugin, dockerd's data root is mounted at docker-root, not at its host path.
 */
export function dockerPathMapper(docker: Docker, dockerRoot: string): (p: string) => Promise<string> {
  let hostRoot: Promise<string> | undefined;
  return async (p) => {
    hostRoot ??= docker.info().then((i: { DockerRootDir?: string }) => i.DockerRootDir ?? dockerRoot, () => dockerRoot);
    const from = (await hostRoot).replace(/\/+$/, '');
    const to = dockerRoot.replace(/\/+$/, '');
    if (from === to || !p.startsWith(from + '/')) return p;
    return to + p.slice(from.length);
  };
}

interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  time?: number;
  timeNano?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

export function startDockerWatch(opts: {
  docker: Docker;
  hookDeps: HookDeps;
  captures: CaptureManager;
  log: Logger;
  wrapperRuntimes: string[];
  dockerRoot: string;
  reconnectDelayMs?: number;
}): DockerWatch {
  const { docker, hookDeps, log } = opts;
  const localPath = dockerPathMapper(docker, opts.dockerRoot);
  let closed = false;
  let isConnected = false;
  let since = 0;
  let current: NodeJS.ReadableStream | null = null;
  let timer: NodeJS.Timeout | null = null;

  async function inspectFacts(id: string) {
    const info = await docker.getContainer(id).inspect();
    return {
      info,
      facts: {
        containerId: info.Id,
        runtime: 'docker',
        name: info.Name.replace(/^\//, ''),
        labels: info.Config.Labels ?? {},
        image: { id: info.Image, name: info.Config.Image },
        upperDir: await localPath((info.GraphDriver?.Data as Record<string, string> | undefined)?.UpperDir ?? ''),
      },
    };
  }

  /** Captures a stopped container unless its last run was captured already (or ran without state). */
  async function captureIfMissed(id: string, why: string): Promise<boolean> {
    const { info, facts } = await inspectFacts(id);
    const key = containerKey(facts, hookDeps.namePatterns());
    if (!key || info.State.Running || !facts.upperDir) return false;
    const row = getContainer(hookDeps.ctx.state, info.Id);
    const started = Date.parse(info.State.StartedAt);
    if (!Number.isFinite(started) || started <= 0) {
      if (!row) upsertContainer(hookDeps.ctx.state, { id: info.Id, runtime: 'docker', name: facts.name, key, upperDir: facts.upperDir, image: facts.image.id, state: 'seen' });
      return false; // created, never started: nothing of its own yet
    }
    if (row?.state === 'captured' && Date.parse(row.updated_at) >= started) return false;
    if (isUnrestored(hookDeps.runDir, info.Id, facts.name) || rowWithoutState(row)) return false;
    log.info('capturing a stopped container that was not captured at stop', { container: info.Id, key, why });
    const r = await captureStop(hookDeps, facts);
    return r.action === 'captured';
  }

  async function reconcile(): Promise<number> {
    let n = 0;
    for (const c of await docker.listContainers({ all: true })) {
      const key = (() => {
        try {
          return containerKey({ name: (c.Names[0] ?? '').replace(/^\//, ''), labels: c.Labels ?? {} }, hookDeps.namePatterns());
        } catch (e) {
          log.warn('container has an unusable layerkeep key', { container: c.Id, error: (e as Error).message });
          return null;
        }
      })();
      if (!key || c.State === 'running') continue;
      try {
        if (await captureIfMissed(c.Id, 'reconcile')) n++;
      } catch (e) {
        log.warn('reconciliation of a container failed', { container: c.Id, key, error: (e as Error).message });
      }
    }
    return n;
  }

  async function onEvent(e: DockerEvent): Promise<void> {
    if (e.timeNano) since = Math.max(since, Math.floor(e.timeNano / 1e9));
    else if (e.time) since = Math.max(since, e.time);
    if (e.Type !== 'container') return;
    const id = e.Actor?.ID ?? e.id ?? '';
    const attrs = e.Actor?.Attributes ?? {};
    const labels = Object.fromEntries(Object.entries(attrs).filter(([k]) => k.startsWith('layerkeep.')));
    let key: string | null = null;
    try {
      key = containerKey({ name: attrs.name ?? '', labels }, hookDeps.namePatterns());
    } catch {
      return;
    }
    if (!key) return;
    hookDeps.emit({ type: `container.${e.Action ?? e.status}`, key, containerId: id });
    if (e.Action !== 'die') return;
    try {
      const info = await docker.getContainer(id).inspect();
      if (opts.wrapperRuntimes.includes(info.HostConfig.Runtime ?? '')) return; // its poststop hook captures
      await captureIfMissed(id, 'die event');
    } catch (err) {
      log.warn('could not capture a stopped container from its die event (removed already? use the runtime wrapper for --rm)', { container: id, key, error: (err as Error).message });
    }
  }

  async function connect(): Promise<void> {
    if (closed) return;
    try {
      const stream = (await docker.getEvents({ ...(since ? { since } : {}), filters: { type: ['container'] } })) as NodeJS.ReadableStream;
      current = stream;
      isConnected = true;
      hookDeps.emit({ type: 'docker.connected' });
      log.info('watching Docker events', { since });
      let buf = '';
      stream.on('data', (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          try {
            void onEvent(JSON.parse(line) as DockerEvent);
          } catch {
            log.warn('unparsable Docker event', { line: line.slice(0, 200) });
          }
        }
      });
      const lost = (why: string) => {
        if (current !== stream) return;
        current = null;
        isConnected = false;
        if (closed) return;
        hookDeps.emit({ type: 'docker.disconnected', message: why });
        log.warn('Docker event stream ended; reconnecting', { why });
        schedule();
      };
      stream.on('end', () => lost('end'));
      stream.on('error', (e: Error) => lost(e.message));
      stream.on('close', () => lost('close'));
      if (!since) since = Math.floor(Date.now() / 1000) - 1;
      const n = await reconcile();
      if (n) log.info('reconciliation captured stopped containers', { count: n });
    } catch (e) {
      isConnected = false;
      log.warn('cannot reach Docker; retrying', { error: (e as Error).message });
      schedule();
    }
  }

  function schedule(): void {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void connect();
    }, opts.reconnectDelayMs ?? 2000);
    timer.unref();
  }

  void connect();
  return {
    connected: () => isConnected,
    reconcile,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const s = current as unknown as { destroy?: () => void } | null;
      current = null;
      s?.destroy?.();
    },
  };
}
