// The hooks' fast path. Starting node for each hook costs more than the work itself (a start of
// an opted-in container whose key has no snapshot is a few ms of daemon work), so the hooks, in
// POSIX sh, hand their request to the already-running daemon through a spool directory:
//   <run-dir>/spool/<id>.start.req   written by layerkeep-runc at `runc create`
//   <run-dir>/spool/<id>.stop.req    written by the poststop hook
// This watcher takes a request (renames it to .work), gathers the facts from the same files the
// node hook shim reads, runs PrepareStart's or CaptureStop's logic, and leaves
// "<exit code>\n<message>" in <id>.<stage>.result for the waiting hook. A request nobody takes
// within 2 s makes the hook fall back to the node shim and gRPC, so nothing depends on this path.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../ops/types.js';
import { gather, restoreFailure, type GatheredFacts } from './container-facts.js';
import { captureStop, prepareStart, type HookDeps } from './container-hooks.js';
import { containerKey } from './opt-in.js';
import { advertiseOciSpool, handleOciSpoolRequest, isOciSpoolRequest } from './oci-spool.js';

interface SpoolRequest { id: string; bundle: string; onRestoreError?: string }
type Stage = 'start' | 'stop';

const REQ_RE = /^([0-9A-Za-z_.-]+)\.(start|stop)\.req$/;

export function spoolDir(runDir: string): string {
  return join(runDir, 'spool');
}

export function watchHookSpool(opts: { runDir: string; dockerRoot: string; hookDeps: HookDeps; log: Logger }): { close(): void } {
  const dir = spoolDir(opts.runDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const busy = new Set<string>();

  async function start(r: SpoolRequest): Promise<{ code: number; text: string }> {
    if (isOciSpoolRequest(r)) return handleOciSpoolRequest(opts.hookDeps, r); // layerkeep-hook oci (Podman, CRI-O, runc)
    let facts: GatheredFacts | undefined;
    let policy: 'fail' | 'start' = r.onRestoreError === 'start' ? 'start' : 'fail';
    try {
      facts = await gather({ dockerRoot: opts.dockerRoot }, JSON.stringify({ id: r.id, bundle: r.bundle }));
      const label = facts.labels['layerkeep.on-restore-error'];
      if (label === 'start' || label === 'fail') policy = label;
      if (!containerKey(facts, opts.hookDeps.namePatterns())) return { code: 0, text: '' };
      const reply = await prepareStart(opts.hookDeps, facts, 'apply');
      return { code: 0, text: reply.action === 'restored' ? `layerkeep: ${reply.message}\n` : '' };
    } catch (e) {
      opts.log.warn('start request failed', { container: r.id, error: (e as Error).message, policy });
      return restoreFailure(opts.runDir, facts, e as Error, policy);
    }
  }

  async function stop(r: SpoolRequest): Promise<{ code: number; text: string }> {
    if (isOciSpoolRequest(r)) return handleOciSpoolRequest(opts.hookDeps, r);
    let facts: GatheredFacts | undefined;
    try {
      facts = await gather({ dockerRoot: opts.dockerRoot }, JSON.stringify({ id: r.id, bundle: r.bundle }));
      if (!containerKey(facts, opts.hookDeps.namePatterns())) return { code: 0, text: '' };
      await captureStop(opts.hookDeps, facts);
      return { code: 0, text: '' };
    } catch (e) {
      const who = facts ? `container ${facts.name || r.id.slice(0, 12)}` : `container ${r.id.slice(0, 12)}`;
      opts.log.error('stop request failed', { container: r.id, error: (e as Error).message });
      return { code: 1, text: `layerkeep: cannot capture the state of ${who} at stop: ${(e as Error).message}\n` };
    }
  }

  async function handle(id: string, stage: Stage): Promise<void> {
    const base = join(dir, `${id}.${stage}`);
    try {
      renameSync(`${base}.req`, `${base}.work`); // claimed: the hook now waits instead of falling back
    } catch {
      return; // taken already, or gone
    }
    let out: { code: number; text: string };
    try {
      const r = JSON.parse(readFileSync(`${base}.work`, 'utf8')) as SpoolRequest;
      if (r.id !== id) throw new Error(`request for ${r.id} filed under ${id}`);
      out = stage === 'start' ? await start(r) : await stop(r);
    } catch (e) {
      out = { code: 1, text: `layerkeep: unreadable ${stage} request for container ${id}: ${(e as Error).message}\n` };
    }
    writeFileSync(`${base}.result.tmp`, `${out.code}\n${out.text}`);
    renameSync(`${base}.result.tmp`, `${base}.result`);
    rmSync(`${base}.work`, { force: true });
  }

  function scan(): void {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const m = REQ_RE.exec(n);
      if (!m || busy.has(n)) continue;
      busy.add(n);
      handle(m[1], m[2] as Stage)
        .catch((e) => opts.log.error('hook request crashed', { request: n, error: (e as Error).message }))
        .finally(() => busy.delete(n));
    }
  }

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, () => scan());
  } catch (e) {
    opts.log.warn('cannot watch the hook spool; hooks fall back to gRPC', { dir, error: (e as Error).message });
  }
  advertiseOciSpool(dir); // layerkeep-hook oci may file OCI requests here (oci-spool.ts)
  const timer = setInterval(scan, 250);
  timer.unref();
  scan();
  return {
    close() {
      watcher?.close();
      clearInterval(timer);
    },
  };
}
