// Live sync costs (root, cgroup v2): CPU of an idle tick (nothing changed) over an upper dir of
// many small files, and how long the container stays frozen for a sync of 100 changed small
// files and of a 64 MiB in-place edit inside a 1 GiB file. The "container" is a sleeping process
// in a cgroup of its own; the store is a local directory.
//   LK_BENCH_SYNC_FILES (100000)  files, in 100 directories
//   LK_BENCH_SYNC_BIG   (1)       0 skips the 1 GiB file
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeContext, openContext } from '../src/ops/context.js';
import { parseMountinfo } from '../src/runtime/mountinfo.js';
import { createKeyLock } from '../src/service/key-lock.js';
import { cgroupOfPid } from '../src/sync/freeze.js';
import { createSyncer, type SyncTarget } from '../src/sync/sync.js';

const FILES = Number(process.env.LK_BENCH_SYNC_FILES ?? 100_000);
const BIG = process.env.LK_BENCH_SYNC_BIG !== '0';
const IDLE_TICKS = 10;

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'layerkeep-sync-bench-'));
  const upper = join(base, 'upper');
  const cg2 = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).find((m) => m.fsType === 'cgroup2');
  if (!cg2) throw new Error('needs a cgroup2 mount');
  const cgDir = join(cg2.mountPoint, `layerkeep-bench-${process.pid}`);
  mkdirSync(cgDir);
  const sleeper = spawn('sleep', ['3600'], { stdio: 'ignore' });
  writeFileSync(join(cgDir, 'cgroup.procs'), String(sleeper.pid));
  const ctx = await openContext({ store: join(base, 'store'), stateDir: join(base, 'state') });
  try {
    for (let i = 0; i < FILES; i++) {
      if (i < 100) mkdirSync(join(upper, `d${i}`), { recursive: true });
      writeFileSync(join(upper, `d${i % 100}`, `f${i}`), `file ${i}\n`);
    }
    if (BIG) {
      const fd = openSync(join(upper, 'big'), 'w');
      const chunk = Buffer.alloc(64 << 20, 1);
      for (let i = 0; i < 16; i++) writeSync(fd, chunk);
      closeSync(fd);
    }
    await new Promise((r) => setTimeout(r, 200)); // past the racy-timestamp window
    const cg = cgroupOfPid(sleeper.pid!);
    const syncer = createSyncer({
      ctx, dir: join(base, 'mirrors'), recordDir: join(base, 'state/sync'), runDir: join(base, 'run'), freezeTimeoutMs: 30_000,
      withKeyLock: createKeyLock(),
    });
    const t: SyncTarget = { key: 'bench', upperDir: upper, cgroup: () => cg };
    let t0 = performance.now();
    await syncer.sync(t).done;
    console.log(`first sync (full copy + full snapshot) of ${FILES} files${BIG ? ' + 1 GiB' : ''}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    await syncer.sync(t).done;

    const cpu0 = process.cpuUsage();
    t0 = performance.now();
    for (let i = 0; i < IDLE_TICKS; i++) {
      const r = await syncer.sync(t).done;
      if (r.changed) throw new Error('an idle tick found a change');
    }
    const cpu = process.cpuUsage(cpu0);
    console.log(`idle tick, ${FILES} files: ${((cpu.user + cpu.system) / 1000 / IDLE_TICKS).toFixed(1)} ms CPU, ${((performance.now() - t0) / IDLE_TICKS).toFixed(1)} ms wall`);

    for (let i = 0; i < 100; i++) writeFileSync(join(upper, `d${i}`, `f${i}`), `changed ${i}\n`);
    let r = await syncer.sync(t).done;
    console.log(`100 changed small files: frozen ${r.frozenMs?.toFixed(1)} ms, sync ${(r.durationMs / 1000).toFixed(2)} s`);

    if (BIG) {
      const fd = openSync(join(upper, 'big'), 'r+');
      writeSync(fd, Buffer.alloc(64 << 20, 2), 0, 64 << 20, 512 << 20);
      closeSync(fd);
      r = await syncer.sync(t).done;
      console.log(`64 MiB in-place edit of a 1 GiB file: frozen ${r.frozenMs?.toFixed(1)} ms (the pre-copy took the file while running), sync ${(r.durationMs / 1000).toFixed(2)} s`);
    }
  } finally {
    sleeper.kill('SIGKILL');
    await new Promise((res) => setTimeout(res, 100));
    try { rmdirSync(cgDir); } catch { /* draining */ }
    await closeContext(ctx);
    rmSync(base, { recursive: true, force: true });
  }
}

await main();
