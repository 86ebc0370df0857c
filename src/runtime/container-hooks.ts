// What the daemon does for a container at start and at stop, shared by the OCI hook shim (via
// gRPC PrepareStart/CaptureStop), the authz plugin and Docker-events reconciliation.
//
// A container that does not hold its key's whole state (started without it, or a restore into
// it failed or was cut short) is marked (unrestored.ts) before its tree is touched; its captures
// never replace the key's snapshot, and its next start restores again instead of taking what a
// failed restore left in the upper dir for the container's own state.
import { openCaptureFailure } from '../state/captureFailures.js';
import { readManifest } from '../ops/manifests.js';
import { readRef } from '../ops/publish.js';
import { restore } from '../ops/restore.js';
import type { OpsContext } from '../ops/types.js';
import type { CaptureManager } from './capture.js';
import { getContainer, upsertContainer } from './containers-table.js';
import { checkImage, type ImagePolicy } from './image-policy.js';
import { containerKey } from './opt-in.js';
import { clearUnrestored, isUnrestored, rowWithoutState } from './unrestored.js';
import { firstUserEntry } from './upper-dir.js';

export interface ContainerFacts {
  containerId: string;
  runtime: string;
  name: string;
  labels: Record<string, string>;
  image: { id: string; name: string };
  /** Mounted overlay (apply mode) — empty in authz mode, where nothing is mounted yet. */
  mergedDir: string;
  upperDir: string;
  mountDestinations: string[];
}

export interface HookDeps {
  ctx: OpsContext;
  captures: CaptureManager;
  namePatterns: () => string[];
  imagePolicy: ImagePolicy;
  runDir: string;
  /** Runs fn with the key's lock held (no snapshot or restore of the same key meanwhile). */
  withKeyLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  emit(e: { type: string; key?: string; containerId?: string; manifestDigest?: string; message?: string; done?: number; total?: number }): void;
  observeRestore(seconds: number, ok: boolean, bytesDownloaded?: number): void;
  /** After a capture of the key failed for good: 'start' restores the last good snapshot with a
   *  warning (default), 'refuse' refuses starts until the failure is cleared. */
  failedCapturePolicy?: 'start' | 'refuse';
}

export interface PrepareResult {
  action: 'restored' | 'kept' | 'empty' | 'ignored';
  key: string;
  manifestDigest: string;
  files: number;
  message: string;
}

/**
 * Restores the container's key before its process starts. mode 'apply' writes through the
 * mounted merged dir (whiteouts delete, opaque dirs hide the image's content, exactly as an image
 * layer is applied); mode 'upper' writes the not-yet-mounted upper dir directly.
 */
export async function prepareStart(deps: HookDeps, c: ContainerFacts, mode: 'apply' | 'upper'): Promise<PrepareResult> {
  const key = containerKey(c, deps.namePatterns());
  if (!key) return { action: 'ignored', key: '', manifestDigest: '', files: 0, message: 'not opted in' };
  const { ctx } = deps;
  const row = { id: c.containerId, runtime: c.runtime, name: c.name, key, upperDir: c.upperDir, image: c.image.id };
  try {
    // A capture of this upper dir may still be reading hard links into it, and a capture of the
    // key (e.g. from the container this one replaces) may not be uploaded yet: wait for both.
    await deps.captures.waitForReaders(c.upperDir);
    await deps.captures.waitForKey(key);
    const failed = deps.captures.failedFor(key);
    if (failed) throw new Error(`the last capture of key ${key} (${failed.id}) is not uploaded yet: ${failed.error}; it is retried in the background`);
    const lost = openCaptureFailure(ctx.state, key);
    if (lost) {
      const what = `the last capture of key ${key} (${lost.captureId}, container ${lost.containerId.slice(0, 12)}) failed permanently: ${lost.error}`;
      if (deps.failedCapturePolicy === 'refuse') {
        throw new Error(`${what}; starts of the key are refused (failed-capture-policy=refuse) until an operator runs \`layerkeep clear-failure --key ${key}\``);
      }
      ctx.log.error(`${what}; its state was NOT saved: restoring the key's last good snapshot instead`, { key, container: c.containerId, capture: lost.captureId });
      deps.emit({ type: 'restore.warning', key, containerId: c.containerId, message: what });
    }

    // A mark means an earlier restore into this container failed or was cut short (or it ran
    // without its state): what its upper dir holds is not the container's own state.
    const marked = rowWithoutState(getContainer(ctx.state, c.containerId)) || isUnrestored(deps.runDir, c.containerId, c.name);
    const own = marked ? null : await firstUserEntry(c.upperDir, c.mountDestinations);
    if (own) {
      upsertContainer(ctx.state, { ...row, state: 'ready' });
      return { action: 'kept', key, manifestDigest: '', files: 0, message: `upper dir already holds the container's own state (${own}); not restored` };
    }
    if (marked) ctx.log.warn('the container did not get its whole state at an earlier start: restoring again', { key, container: c.containerId });
    const result = await deps.withKeyLock(key, async () => {
      const ref = await readRef(ctx, key);
      if (!ref) return null;
      const manifest = await readManifest(ctx, ref.ref.current);
      const check = checkImage(deps.imagePolicy, key, manifest.image, c.image);
      if (!check.ok) throw new Error(check.message);
      if (check.message) ctx.log.warn(check.message, { key, container: c.containerId });
      // Durably marked before the tree is touched: a crash from here on leaves 'restoring'.
      upsertContainer(ctx.state, { ...row, state: 'restoring' });
      const t0 = Date.now();
      deps.emit({ type: 'restore.started', key, containerId: c.containerId, manifestDigest: ref.ref.current });
      let downloaded = 0;
      const progress = {
        update: (phase: string, done: number, total?: number) => {
          if (phase === 'restore') downloaded = Math.max(downloaded, done);
          deps.emit({ type: 'restore.progress', key, containerId: c.containerId, message: phase, done, total: total ?? 0 });
        },
      };
      const r = await restore({ ...ctx, progress }, { key, dir: mode === 'apply' ? c.mergedDir : c.upperDir, mode, force: true, snapshot: ref.ref.current });
      deps.observeRestore((Date.now() - t0) / 1000, true, downloaded);
      deps.emit({ type: 'restore.finished', key, containerId: c.containerId, manifestDigest: r.manifestDigest, done: r.files, total: r.files });
      return r;
    });
    upsertContainer(ctx.state, { ...row, state: 'ready' });
    clearUnrestored(deps.runDir, c.containerId, c.name);
    if (!result) return { action: 'empty', key, manifestDigest: '', files: 0, message: `key ${key} has no snapshot yet` };
    ctx.log.info('restored container state', { key, container: c.containerId, snapshot: result.manifestDigest, files: result.files, mode });
    return { action: 'restored', key, manifestDigest: result.manifestDigest, files: result.files, message: `restored ${result.files} entries of key ${key}` };
  } catch (e) {
    const message = `restore of key ${key} for container ${c.name || c.containerId.slice(0, 12)} failed: ${(e as Error).message}`;
    upsertContainer(ctx.state, { ...row, state: 'unrestored' });
    deps.observeRestore(0, false);
    deps.emit({ type: 'restore.failed', key, containerId: c.containerId, message });
    throw new Error(message);
  }
}

export interface CaptureResult {
  action: 'captured' | 'ignored';
  key: string;
  captureId: string;
  message: string;
}

/** Takes the stop-time capture (link copy); packing and upload continue in the background. */
export async function captureStop(deps: HookDeps, c: Omit<ContainerFacts, 'mergedDir' | 'mountDestinations'>): Promise<CaptureResult> {
  const key = containerKey(c, deps.namePatterns());
  if (!key) return { action: 'ignored', key: '', captureId: '', message: 'not opted in' };
  const { ctx } = deps;
  const row = getContainer(ctx.state, c.containerId);
  if (isUnrestored(deps.runDir, c.containerId, c.name) || rowWithoutState(row)) {
    const message = `container ${c.name || c.containerId.slice(0, 12)} ran without the state of key ${key}; not capturing it, so the key's snapshot is not replaced by a state-less layer`;
    ctx.log.warn(message, { key, container: c.containerId });
    return { action: 'ignored', key, captureId: '', message };
  }
  const rec = await deps.captures.capture({ key, containerId: c.containerId, name: c.name, image: c.image, upperDir: c.upperDir });
  upsertContainer(ctx.state, { id: c.containerId, runtime: c.runtime, name: c.name, key, upperDir: c.upperDir, image: c.image.id, state: 'captured' });
  deps.emit({ type: 'capture.finished', key, containerId: c.containerId, message: rec.id });
  return { action: 'captured', key, captureId: rec.id, message: `captured ${c.upperDir}; snapshot of key ${key} continues in the background` };
}
