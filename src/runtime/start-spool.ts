// The fast path of the createRuntime hook. Starting node for every start of an opted-in
// container costs more than the whole restore decision, so layerkeep-runc (POSIX sh) drops a
// request <run-dir>/start/<id>.req at `runc create`, and this watcher in the already-running
// daemon takes it (renames it to .work), gathers the facts from the same files the hook shim
// reads, runs PrepareStart's logic and leaves "<exit code>\n<message>" in <id>.result, which the
// createRuntime hook (sh) waits for. A request nobody takes within a second makes the hook fall
// back to the node shim and gRPC PrepareStart, so a daemon without this watcher still works.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../ops/types.js';
import { gather, restoreFailure } from './container-facts.js';
import { prepareStart, type HookDeps } from './container-hooks.js';
import { containerKey } from './opt-in.js';

interface StartRequest { id: string; bundle: string; onRestoreError?: string }

export function watchStartSpool(opts: { runDir: string; dockerRoot: string; hookDeps: HookDeps; log: Logger }): { close(): void } {
  const dir = join(opts.runDir, 'start');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const busy = new Set<string>();

  async function handle(id: string): Promise<void> {
    const req = join(dir, `${id}.req`);
    const work = join(dir, `${id}.work`);
    try {
      renameSync(req, work); // claim: the hook now waits for the result instead of falling back
    } catch {
      return; // taken already, or gone
    }
    let code = 0;
    let text = '';
    let facts;
    let policy: 'fail' | 'start' = 'fail';
    try {
      const r = JSON.parse(readFileSync(work, 'utf8')) as StartRequest;
      if (r.onRestoreError === 'start') policy = 'start';
      facts = await gather({ dockerRoot: opts.dockerRoot }, JSON.stringify({ id: r.id, bundle: r.bundle }));
      const label = facts.labels['layerkeep.on-restore-error'];
      if (label === 'start' || label === 'fail') policy = label;
      if (containerKey(facts, opts.hookDeps.namePatterns())) {
        const reply = await prepareStart(opts.hookDeps, facts, 'apply');
        if (reply.action === 'restored') text = `layerkeep: ${reply.message}\n`;
      }
    } catch (e) {
      ({ code, text } = restoreFailure(opts.runDir, facts, e as Error, policy));
      opts.log.warn('start request failed', { container: id, error: (e as Error).message, policy });
    }
    writeFileSync(join(dir, `${id}.result.tmp`), `${code}\n${text}`);
    renameSync(join(dir, `${id}.result.tmp`), join(dir, `${id}.result`));
    rmSync(work, { force: true });
  }

  function scan(): void {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (!n.endsWith('.req')) continue;
      const id = n.slice(0, -4);
      if (!/^[0-9A-Za-z_.-]+$/.test(id) || busy.has(id)) continue;
      busy.add(id);
      handle(id).catch((e) => opts.log.error('start request crashed', { container: id, error: (e as Error).message })).finally(() => busy.delete(id));
    }
  }

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, () => scan());
  } catch (e) {
    opts.log.warn('cannot watch the start spool; hooks fall back to gRPC', { dir, error: (e as Error).message });
  }
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
