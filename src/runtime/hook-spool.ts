// The hooks' fast path. Starting node for each hook costs more than the work itself (a start of
// an opted-in container whose key has no snapshot is a few ms of daemon work), so the hooks, in
// POSIX sh, hand their request to the already-running daemon through a spool directory (root
// only, 0700):
//   <run-dir>/spool/<id>.start.req    written by layerkeep-runc at `runc create`: {"id","bundle","onRestoreError"},
//                                     id and bundle from runc's own arguments (set by containerd)
//   <run-dir>/spool/<id>.stop.req     written by the poststop hook: the raw OCI state from its stdin,
//                                     <id> from the hook's --container-id (put there by layerkeep-runc)
//   <run-dir>/spool/<token>.oci.req   written by `layerkeep-hook oci`: {"onRestoreError", "state": <raw OCI state>},
//                                     <token> chosen by the hook (its pid): nothing the container sets
// The hooks never parse the state (sh cannot parse JSON, and a container's annotations sit inside
// it); this watcher parses it with JSON.parse and verifies it (hook-verify.ts): a request whose id,
// bundle and mounted upper dir disagree is refused with the reason and logged. It takes a request
// (renames it to .work), runs PrepareStart's or CaptureStop's logic, and leaves
// "<exit code>\n<message>" in <name>.<stage>.result for the waiting hook. A request nobody takes
// within 2 s makes the hook fall back to the node shim and gRPC, so nothing depends on this path.
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../ops/types.js';
import { restoreFailure, type GatheredFacts } from './container-facts.js';
import { captureStop, prepareStart, type HookDeps } from './container-hooks.js';
import { readDockerContainerConfig } from './docker-config.js';
import { containerKey } from './opt-in.js';
import { advertiseOciSpool, handleOciSpoolRequest } from './oci-spool.js';
import { HookRefused, verifiedDockerFacts, type VerifyOptions } from './hook-verify.js';

type Stage = 'start' | 'stop' | 'oci';

const REQ_RE = /^([0-9A-Za-z][0-9A-Za-z_-]*)\.(start|stop|oci)\.req$/;

export function spoolDir(runDir: string): string {
  return join(runDir, 'spool');
}

export function watchHookSpool(opts: { runDir: string; verify: VerifyOptions; hookDeps: HookDeps; log: Logger }): { close(): void } {
  const dir = spoolDir(opts.runDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700); // requests are acted on as root: nobody else may file one
  const busy = new Set<string>();

  function refused(name: string, stage: Stage, e: Error): void {
    if (e instanceof HookRefused) opts.log.warn('hook request refused', { request: `${name}.${stage}`, reason: e.message });
  }

  /** Whether dockerd's own record of `id` opts it in (false when there is none or it cannot be read). */
  async function optedIn(id: string): Promise<boolean> {
    try {
      return !!containerKey(await readDockerContainerConfig(opts.verify.dockerRoot, id), opts.hookDeps.namePatterns());
    } catch {
      return false;
    }
  }

  async function start(id: string, text: string): Promise<{ code: number; text: string }> {
    let facts: GatheredFacts | undefined;
    let policy: 'fail' | 'start' = 'fail';
    try {
      const r = JSON.parse(text) as { id?: unknown; bundle?: unknown; onRestoreError?: unknown };
      if (r.onRestoreError === 'start') policy = 'start';
      facts = await verifiedDockerFacts(opts.verify, JSON.stringify({ id: r.id, bundle: r.bundle }), 'start', id);
      const label = facts.labels['layerkeep.on-restore-error'];
      if (label === 'start' || label === 'fail') policy = label;
      if (!containerKey(facts, opts.hookDeps.namePatterns())) return { code: 0, text: '' };
      const reply = await prepareStart(opts.hookDeps, facts, 'apply');
      return { code: 0, text: reply.action === 'restored' ? `layerkeep: ${reply.message}\n` : '' };
    } catch (e) {
      refused(id, 'start', e as Error);
      // Wrapped only by the wrapper's pre-filter (name patterns pass every container): one that
      // dockerd's record does not opt in never depends on layerkeep.
      if (!facts && !(await optedIn(id))) return { code: 0, text: '' };
      opts.log.warn('start request failed', { container: id, error: (e as Error).message, policy });
      // The file name's id comes from runc's arguments: mark that run, so that its stop never
      // replaces the key's snapshot with a state-less layer.
      return restoreFailure(opts.runDir, facts ?? { containerId: id, name: id.slice(0, 12) }, e as Error, policy);
    }
  }

  async function stop(id: string, text: string): Promise<{ code: number; text: string }> {
    let facts: GatheredFacts | undefined;
    try {
      facts = await verifiedDockerFacts(opts.verify, text, 'stop', id);
      if (!containerKey(facts, opts.hookDeps.namePatterns())) return { code: 0, text: '' };
      await captureStop(opts.hookDeps, facts);
      return { code: 0, text: '' };
    } catch (e) {
      refused(id, 'stop', e as Error);
      if (!facts && !(await optedIn(id))) return { code: 0, text: '' };
      const who = facts ? `container ${facts.name || id.slice(0, 12)}` : `container ${id.slice(0, 12)}`;
      opts.log.error('stop request failed', { container: id, error: (e as Error).message });
      return { code: 1, text: `layerkeep: cannot capture the state of ${who} at stop: ${(e as Error).message}\n` };
    }
  }

  async function handle(name: string, stage: Stage): Promise<void> {
    const base = join(dir, `${name}.${stage}`);
    try {
      renameSync(`${base}.req`, `${base}.work`); // claimed: the hook now waits instead of falling back
    } catch {
      return; // taken already, or gone
    }
    let out: { code: number; text: string };
    try {
      const text = readFileSync(`${base}.work`, 'utf8');
      if (stage === 'oci') {
        out = await handleOciSpoolRequest(opts.hookDeps, opts.verify, text);
      } else {
        out = stage === 'start' ? await start(name, text) : await stop(name, text);
      }
    } catch (e) {
      out = { code: 1, text: `layerkeep: unreadable ${stage} request ${name}: ${(e as Error).message}\n` };
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
