// gRPC method implementations: thin adapters from proto messages to src/ops and the Docker
// integration. Errors become one-line gRPC statuses (INVALID_ARGUMENT for bad input,
// NOT_FOUND for unknown keys/snapshots, INTERNAL otherwise).
import * as grpc from '@grpc/grpc-js';
import { listKeys, listSnapshots } from '../ops/list.js';
import { readManifest } from '../ops/manifests.js';
import { readRef } from '../ops/publish.js';
import { restore } from '../ops/restore.js';
import { snapshot, TOOL } from '../ops/snapshot.js';
import { gc } from '../ops/gc.js';
import { status as uploadStatus } from '../ops/status.js';
import { getKey } from '../state/snapshots.js';
import { deleteSnapshot } from '../ops/forget.js';
import type { HookDeps } from '../runtime/container-hooks.js';
import { verifiedHookCall } from '../runtime/hook-calls.js';
import type { VerifyOptions } from '../runtime/hook-verify.js';
import { containersOfKey } from '../runtime/containers-table.js';
import type { CaptureManager } from '../runtime/capture.js';
import type { OpsContext } from '../ops/types.js';
import type { LayerKeepHandlers } from './generated/layerkeep/v1/LayerKeep.js';
import type { KeyState } from './generated/layerkeep/v1/KeyState.js';
import type { UploadInfo } from './generated/layerkeep/v1/UploadInfo.js';
import type { SyncReply } from './generated/layerkeep/v1/SyncReply.js';
import type { SyncRequest__Output } from './generated/layerkeep/v1/SyncRequest.js';
import type { EventBus } from './events.js';
import type { KeyLock } from './key-lock.js';
import type { DaemonMetrics } from './metrics.js';
import { grpcStatusOf } from './status.js';

export interface HandlerDeps {
  ctx: OpsContext;
  stateDir: string;
  events: EventBus;
  metrics: DaemonMetrics;
  captures: CaptureManager;
  withKeyLock: KeyLock;
  hookDeps: HookDeps;
  /** How hook calls are verified (docker root, key scope). */
  verify: VerifyOptions;
  startedAt: number;
  dockerConnected: () => boolean;
  /** Set while shutting down: new work is refused. */
  draining: () => boolean;
  /** Live sync (live-sync.ts). */
  sync?: (req: SyncRequest__Output) => Promise<SyncReply>;
}

const status = grpcStatusOf;

/** Adapts an async function to a unary handler. */
function unary<Req, Res>(deps: HandlerDeps, fn: (req: Req) => Promise<Res>, opts: { work?: boolean } = {}): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    if (opts.work && deps.draining()) {
      callback({ code: grpc.status.UNAVAILABLE, details: 'the layerkeep daemon is shutting down' });
      return;
    }
    fn(call.request).then((res) => callback(null, res), (e) => callback(status(e)));
  };
}

export function pendingUploads(ctx: OpsContext): UploadInfo[] {
  return uploadStatus(ctx).pending.map((u) => ({
    id: u.id, key: u.key, status: u.status, size: u.size ?? 0, partsDone: u.partsDone, bytesDone: u.bytesDone,
    error: u.error ?? '', started: u.started, updated: u.updated,
  }));
}

export function createHandlers(deps: HandlerDeps): LayerKeepHandlers {
  const { ctx, events, metrics } = deps;

  async function keyState(key: string): Promise<KeyState> {
    const ref = await readRef(ctx, key);
    const local = getKey(ctx.state, key);
    let current = undefined;
    if (ref) {
      const m = await readManifest(ctx, ref.ref.current).catch(() => null);
      if (m) current = { key, manifestDigest: ref.ref.current, created: m.created, host: m.host, image: m.image ?? undefined, blobSize: m.blob.size, uncompressedSize: m.uncompressedSize, files: m.files, current: true, status: 'complete' };
    }
    return {
      key,
      exists: !!ref,
      currentManifest: ref?.ref.current ?? local?.current_manifest ?? '',
      generation: ref?.ref.generation ?? local?.generation ?? 0,
      snapshots: ref?.ref.history.length ?? 0,
      current,
      containers: containersOfKey(ctx.state, key).map((c) => ({ id: c.runtime_id, name: c.name ?? '', key: c.key, upperDir: c.upper_dir ?? '', image: c.image ?? '', state: c.state, updatedAt: c.updated_at })),
      pendingUploads: pendingUploads(ctx).filter((u) => u.key === key),
      captureInProgress: deps.captures.inProgress(key),
    };
  }

  return {
    Health: unary(deps, async () => ({
      status: deps.draining() ? 'draining' : 'serving',
      version: TOOL,
      host: ctx.host,
      store: ctx.store.description,
      stateDir: deps.stateDir,
      uptimeMs: Date.now() - deps.startedAt,
      pendingUploads: pendingUploads(ctx).length,
      pendingCaptures: deps.captures.pending(),
      dockerConnected: deps.dockerConnected(),
    })),

    Snapshot: unary(deps, async (req) => {
      const t0 = Date.now();
      events.emit({ type: 'snapshot.started', key: req.key, message: req.dir });
      try {
        const progress = { update: (phase: string, done: number, total?: number) => events.emit({ type: phase === 'pack' ? 'snapshot.progress' : 'upload.progress', key: req.key, message: phase, done, total: total ?? 0 }) };
        const r = await deps.withKeyLock(req.key, () => snapshot({ ...ctx, progress }, {
          key: req.key, dir: req.dir, image: req.image?.id ? { id: req.image.id, name: req.image.name || undefined } : undefined,
          allowDevices: req.allowDevices, force: req.force,
        }));
        metrics.snapshots.inc({ result: r.changed ? 'changed' : 'unchanged' });
        if (r.changed) metrics.bytesUp.inc({}, r.blobSize);
        metrics.snapshotSeconds.observe((Date.now() - t0) / 1000);
        events.emit({ type: 'snapshot.finished', key: r.key, manifestDigest: r.manifestDigest, message: r.changed ? 'changed' : 'unchanged' });
        return r;
      } catch (e) {
        metrics.snapshots.inc({ result: 'failed' });
        events.emit({ type: 'snapshot.failed', key: req.key, message: (e as Error).message });
        throw e;
      }
    }, { work: true }),

    Restore: (call) => {
      const req = call.request;
      if (deps.draining()) {
        call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'the layerkeep daemon is shutting down' });
        return;
      }
      const t0 = Date.now();
      events.emit({ type: 'restore.started', key: req.key, message: req.dir });
      let downloaded = 0;
      const progress = {
        update: (phase: string, done: number, total?: number) => {
          if (phase === 'restore') downloaded = Math.max(downloaded, done);
          call.write({ phase, done, total: total ?? 0 });
        },
      };
      const mode = req.mode === 'apply' ? 'apply' : req.mode === '' || req.mode === 'upper' ? 'upper' : null;
      if (!mode) {
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: `invalid restore mode ${JSON.stringify(req.mode)}: use upper or apply` });
        return;
      }
      deps.withKeyLock(req.key || req.snapshot, () => restore({ ...ctx, progress }, {
        key: req.key, dir: req.dir, snapshot: req.snapshot || undefined, force: req.force, allowDevices: req.allowDevices, mode,
      })).then((r) => {
        metrics.restores.inc({ result: 'restored' });
        metrics.restoreSeconds.observe((Date.now() - t0) / 1000);
        metrics.bytesDown.inc({}, downloaded);
        events.emit({ type: 'restore.finished', key: r.key, manifestDigest: r.manifestDigest, done: r.files, total: r.files });
        call.write({ phase: 'done', done: r.bytes, total: r.bytes, result: r });
        call.end();
      }, (e) => {
        metrics.restores.inc({ result: 'failed' });
        events.emit({ type: 'restore.failed', key: req.key, message: (e as Error).message });
        // grpc-js ends a server stream with a status when the call emits 'error'
        call.emit('error', status(e));
      });
    },

    GetKey: unary(deps, (req) => keyState(req.key)),

    ListKeys: unary(deps, async () => ({ keys: await Promise.all((await listKeys(ctx)).map((k) => keyState(k))) })),

    ListSnapshots: unary(deps, async (req) => ({
      snapshots: (await listSnapshots(ctx, req.key || undefined)).map((s) => ({
        key: s.key, manifestDigest: s.digest, created: s.created, host: s.host, blobSize: s.blobSize,
        uncompressedSize: s.uncompressedSize, files: s.files, current: s.current, status: s.status ?? 'complete',
      })),
    })),

    DeleteSnapshot: unary(deps, (req) => deps.withKeyLock(req.key, () => deleteSnapshot(ctx, req.key, req.manifestDigest)), { work: true }),

    Gc: unary(deps, async (req) => {
      const r = await gc(ctx, { dryRun: req.dryRun });
      const deleted = [...r.deleted.manifests, ...r.deleted.blobs, ...r.deleted.temporaries];
      const summary = `${r.dryRun ? 'would delete' : 'deleted'} ${r.deleted.manifests.length} manifests, ${r.deleted.blobs.length} blobs, ${r.deleted.temporaries.length} temporaries (${r.bytesFreed} bytes); kept ${r.reachable.manifests} reachable manifests, ${r.keptYoung} young objects`;
      return { deleted, bytesFreed: r.bytesFreed, summary };
    }, { work: true }),

    PendingUploads: unary(deps, async () => ({ uploads: pendingUploads(ctx) })),

    Events: (call) => {
      const key = call.request.key;
      const unsubscribe = events.subscribe((e) => {
        if (!key || e.key === key) call.write(e);
      });
      const stop = (): void => {
        unsubscribe();
      };
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
    },

    // Hook calls: the daemon verifies the container from the OCI state itself (hook-calls.ts).
    PrepareStart: unary(deps, async (req) => {
      const r = await verifiedHookCall(deps.hookDeps, deps.verify, 'PrepareStart', { containerId: req.containerId, runtime: req.runtime, ociState: req.ociState });
      return r;
    }),

    CaptureStop: unary(deps, async (req) => {
      const t0 = Date.now();
      const r = await verifiedHookCall(deps.hookDeps, deps.verify, 'CaptureStop', { containerId: req.containerId, runtime: req.runtime, ociState: req.ociState });
      metrics.captureSeconds.observe((Date.now() - t0) / 1000);
      return { action: r.action, key: r.key, captureId: r.captureId, entries: 0, message: r.message };
    }),

    Sync: unary(deps, (req: SyncRequest__Output) => (deps.sync ? deps.sync(req) : Promise.reject(new Error('live sync is not available in this daemon'))), { work: true }),
  };
}
