// Reconciliation with containerd at daemon start: a container whose start this daemon prepared
// (containers table: ready) but whose stop it never captured — it stopped while the daemon was
// down, so its poststop hook could not reach it — is captured now from its upper dir, if
// containerd still has the container (and so its snapshot) and it has no running task. Only
// prepared containers qualify: a created-but-never-started container's empty upper dir must never
// replace a key's snapshot. Talks to containerd's own gRPC API (proto/containerd/*.proto).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../ops/types.js';
import { getContainer } from './containers-table.js';
import { captureStop, type HookDeps } from './container-hooks.js';

const PROTOS = ['containers.proto', 'tasks.proto'].map((f) => fileURLToPath(new URL(`../../../proto/containerd/${f}`, import.meta.url)));

type Unary = (req: object, md: grpc.Metadata, opts: { deadline: Date }, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;
interface Ctor { new (address: string, creds: grpc.ChannelCredentials): grpc.Client & { List: Unary } }

export interface ContainerdClient {
  containers(namespace: string): Promise<{ id: string }[]>;
  tasks(namespace: string): Promise<{ container_id: string; id: string; status: string }[]>;
  close(): void;
}

export function containerdClient(socket: string): ContainerdClient {
  const def = protoLoader.loadSync(PROTOS, { keepCase: true, longs: Number, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { containerd: { services: { containers: { v1: { Containers: Ctor } }; tasks: { v1: { Tasks: Ctor } } } } };
  const address = `unix:${socket}`;
  const containers = new pkg.containerd.services.containers.v1.Containers(address, grpc.credentials.createInsecure());
  const tasks = new pkg.containerd.services.tasks.v1.Tasks(address, grpc.credentials.createInsecure());
  const list = <T>(client: grpc.Client & { List: Unary }, namespace: string, field: string): Promise<T[]> => new Promise((resolve, reject) => {
    const md = new grpc.Metadata();
    md.set('containerd-namespace', namespace);
    client.List({}, md, { deadline: new Date(Date.now() + 30_000) }, (err, res) => {
      if (err) reject(new Error(`containerd at ${socket} (namespace ${namespace}): ${err.details || err.message}`));
      else resolve((res as Record<string, T[]>)[field] ?? []);
    });
  });
  return {
    containers: (ns) => list(containers, ns, 'containers'),
    tasks: (ns) => list(tasks, ns, 'tasks'),
    close() {
      containers.close();
      tasks.close();
    },
  };
}

/** One pass over the namespaces; returns the ids captured. Failures are logged per container. */
export async function reconcileContainerd(opts: { client: ContainerdClient; namespaces: string[]; hookDeps: HookDeps; log: Logger }): Promise<string[]> {
  const { hookDeps, log } = opts;
  const captured: string[] = [];
  for (const ns of opts.namespaces) {
    let list: { id: string }[];
    let running: Set<string>;
    try {
      list = await opts.client.containers(ns);
      running = new Set((await opts.client.tasks(ns)).filter((t) => t.status !== 'STOPPED').map((t) => t.container_id || t.id));
    } catch (e) {
      log.warn('containerd reconciliation: cannot list containers', { namespace: ns, error: (e as Error).message });
      continue;
    }
    for (const c of list) {
      const row = getContainer(hookDeps.ctx.state, c.id);
      if (!row || row.state !== 'ready' || running.has(c.id)) continue;
      if (!row.upper_dir || !existsSync(row.upper_dir)) {
        log.warn('containerd reconciliation: the upper dir of a stopped container is gone; nothing to capture', { container: c.id, key: row.key });
        continue;
      }
      try {
        const r = await captureStop(hookDeps, {
          containerId: c.id, runtime: row.runtime, name: row.name ?? c.id, labels: { 'layerkeep.key': row.key },
          image: { id: row.image ?? '', name: '' }, upperDir: row.upper_dir,
        });
        if (r.action === 'captured') {
          captured.push(c.id);
          log.info('captured a container that stopped while the daemon was down', { container: c.id, key: row.key, namespace: ns });
        }
      } catch (e) {
        log.error('containerd reconciliation: capture failed', { container: c.id, key: row.key, error: (e as Error).message });
      }
    }
  }
  log.info('containerd reconciliation done', { namespaces: opts.namespaces, captured: captured.length });
  return captured;
}

/** The daemon's entry: one reconciliation pass in the background; close() waits for it. */
export function startContainerdReconcile(opts: { socket: string; namespaces: string[]; hookDeps: HookDeps; log: Logger }): { done: Promise<string[]>; close(): Promise<void> } {
  const client = containerdClient(opts.socket);
  const done = reconcileContainerd({ client, namespaces: opts.namespaces, hookDeps: opts.hookDeps, log: opts.log })
    .catch((e) => {
      opts.log.error('containerd reconciliation failed', { error: (e as Error).message });
      return [] as string[];
    })
    .finally(() => client.close());
  return { done, close: async () => { await done; } };
}
