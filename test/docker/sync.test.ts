// End-to-end live sync: a running container labelled layerkeep.sync=2s is synced while it writes;
// then a simulated host crash (SIGKILL of the layerkeep daemon, the container's shim and its
// processes: no stop-time capture lands) and a "second host" (a new state dir, same store)
// starts the key and gets a consistent tree no older than the sync that began after we looked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cgroupOfPid, withFrozen } from '../../src/sync/freeze.js';
import {
  currentSnapshot, docker, dockerEnv, fileStore, sleep, startLayerkeep, tempDir, uniq, waitFor, waitForNewSnapshot, type DockerEnv,
} from './helpers.js';

const env: DockerEnv = dockerEnv();

// a: a 12-digit counter written in place, then b: the sha256 of a, in place.
const WRITER = 'i=0; : > /a; : > /b; while :; do i=$((i+1)); printf "%012d" "$i" 1<>/a; h=$(sha256sum /a); printf "%s" "${h%% *}" 1<>/b; usleep 1000; done';

const ppid = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);

describe('Docker: live sync of a running container', () => {
  it('survives a host crash with the state of a completed sync, a and b consistent', async () => {
    const store = fileStore();
    const key = uniq('sync');
    const name = uniq('c');
    const lk = await startLayerkeep(env, { store });
    let lk2: Awaited<ReturnType<typeof startLayerkeep>> | undefined;
    try {
      await docker(['run', '-d', '--name', name, '--label', `layerkeep.key=${key}`, '--label', 'layerkeep.sync=2s', env.image, 'sh', '-c', WRITER]);
      const info = JSON.parse((await docker(['inspect', name])).stdout)[0] as { State: { Pid: number }; GraphDriver: { Data: { UpperDir: string } } };
      const upper = info.GraphDriver.Data.UpperDir;
      const counter = (): number => Number(readFileSync(`${upper}/a`, 'utf8') || '0');

      // At least two syncs land while it runs.
      const s1 = await waitForNewSnapshot(store, key, '', 60_000);
      await waitForNewSnapshot(store, key, s1, 60_000);
      // The counter now; a sync that starts after the next one finished captures at least it.
      const c0 = counter();
      const sA = await waitForNewSnapshot(store, key, currentSnapshot(store, key), 60_000);
      await waitForNewSnapshot(store, key, sA, 60_000);
      assert.ok(counter() > c0, 'the container kept running (and writing) across syncs');

      // Host crash: the daemon, the container's shim, then the container's processes.
      await lk.stop('SIGKILL');
      const shim = ppid(info.State.Pid);
      const cg = cgroupOfPid(info.State.Pid);
      process.kill(shim, 'SIGKILL');
      const procs = readFileSync(`${cg.dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
      for (const p of procs) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
      const last = currentSnapshot(store, key);
      // The upper dir is lost with the host.
      await docker(['rm', '-f', name], { allowFail: true });
      await waitFor('the crashed container to be gone', async () => (await docker(['inspect', name], { allowFail: true })).code !== 0, 60_000);
      assert.equal(currentSnapshot(store, key), last, 'nothing was captured at the crash');

      // Second host: its own state dir, the same store.
      lk2 = await startLayerkeep(env, { store });
      const r = await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', 'cat /a; echo; cat /b']);
      const [a, b] = r.stdout.trim().split('\n');
      assert.match(a ?? '', /^\d{12}$/);
      // One instant of the writer: b is the checksum of a, or of the counter before it (stopped
      // between its two writes). A torn capture (a and b copied at different times) is neither.
      const sum = (n: number): string => createHash('sha256').update(String(n).padStart(12, '0')).digest('hex');
      assert.ok(b === sum(Number(a)) || b === sum(Number(a) - 1), `b ${b} is the checksum of a ${a} or of ${Number(a) - 1}`);
      assert.ok(Number(a) >= c0, `restored counter ${a} is at least ${c0}, seen before the last syncs began`);
    } finally {
      await docker(['rm', '-f', name], { allowFail: true });
      await lk.stop('SIGKILL');
      await lk2?.stop();
    }
  });

  it('an exec and a stop that land during a sync\'s freeze complete after the thaw (nothing wedges)', async () => {
    const name = uniq('c');
    const runDir = tempDir('layerkeep-freeze-run-');
    try {
      // (no layerkeep label: the freeze is what is tested, and no daemon runs here)
      await docker(['run', '-d', '--name', name, env.image, 'sh', '-c', 'while :; do usleep 10000; done']);
      const pid = (JSON.parse((await docker(['inspect', name])).stdout)[0] as { State: { Pid: number } }).State.Pid;
      const cg = cgroupOfPid(pid);
      // Hold a freeze as long as a sync may (the default bound, 1 s) while an exec arrives.
      let exec: Promise<{ stdout: string }> | undefined;
      await withFrozen(cg, { runDir, timeoutMs: 1000 }, async () => {
        exec = docker(['exec', name, 'echo', 'hi'], { timeoutMs: 60_000 });
        await sleep(500);
      });
      assert.equal((await exec!).stdout.trim(), 'hi');
      let stop: Promise<unknown> | undefined;
      await withFrozen(cg, { runDir, timeoutMs: 1000 }, async () => {
        stop = docker(['stop', '-t', '1', name], { timeoutMs: 60_000 });
        await sleep(500);
      });
      await stop;
      const state = JSON.parse((await docker(['inspect', name])).stdout)[0] as { State: { Running: boolean } };
      assert.equal(state.State.Running, false);
    } finally {
      await docker(['rm', '-f', name], { allowFail: true });
    }
  });
});
