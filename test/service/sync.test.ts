// Live sync against a real cgroup v2 and a real writer process (root): freeze/thaw, crash
// consistency of every synced snapshot, idle ticks that upload nothing, and the thaw that a
// killed daemon leaves to the next start (and to the watchdog).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeContext, openContext } from '../../src/ops/context.js';
import { restore } from '../../src/ops/restore.js';
import type { OpsContext } from '../../src/ops/types.js';
import { parseMountinfo } from '../../src/runtime/mountinfo.js';
import { createKeyLock } from '../../src/service/key-lock.js';
import { cgroupOfPid, type Cgroup, isFrozen, withFrozen } from '../../src/sync/freeze.js';
import { createSyncer, type SyncEvent, type Syncer } from '../../src/sync/sync.js';
import { loadConfig } from '../../src/service/config.js';
import { startDaemon } from '../../src/service/daemon.js';
import { jsonLogger } from '../../src/service/log.js';
import { createClient, unary } from '../../src/service/client.js';

// a: a 12-digit counter, b: sha256 of a; both rewritten in place about a thousand times a second.
const WRITER = `
const fs = require('fs'), crypto = require('crypto');
const d = process.argv[1];
const fa = fs.openSync(d + '/a', 'w+'), fb = fs.openSync(d + '/b', 'w+');
const nap = new Int32Array(new SharedArrayBuffer(4));
for (let i = 1; ; i++) {
  const a = String(i).padStart(12, '0');
  fs.writeSync(fa, a, 0);
  fs.writeSync(fb, crypto.createHash('sha256').update(a).digest('hex'), 0);
  Atomics.wait(nap, 0, 0, 1);
}`;

const FREEZE_CHILD = fileURLToPath(new URL('./sync-freeze-child.js', import.meta.url));

function cgroup2Root(): string {
  const m = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).find((x) => x.fsType === 'cgroup2');
  if (!m) throw new Error('no cgroup2 mount');
  return m.mountPoint;
}

async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const counter = (dir: string): number => Number(readFileSync(join(dir, 'a'), 'utf8') || '0');

describe('live sync (real cgroup v2, real writer)', () => {
  let base: string;
  let cgDir: string;
  let writer: ChildProcess;
  let upper: string;
  let cg: Cgroup;
  let ctx: OpsContext;
  const events: SyncEvent[] = [];
  let syncer: Syncer;

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'layerkeep-sync-'));
    upper = join(base, 'upper');
    mkdirSync(join(upper, 'etc'), { recursive: true });
    writeFileSync(join(upper, 'etc/conf'), 'x=1\n');
    cgDir = join(cgroup2Root(), `layerkeep-test-${process.pid}`);
    mkdirSync(cgDir);
    writer = spawn(process.execPath, ['-e', WRITER, upper], { stdio: 'ignore' });
    writeFileSync(join(cgDir, 'cgroup.procs'), String(writer.pid));
    await waitFor('the writer to start', () => existsSync(join(upper, 'b')) && counter(upper) > 0);
    cg = cgroupOfPid(writer.pid!);
    ctx = await openContext({ store: join(base, 'store'), stateDir: join(base, 'state') });
    syncer = createSyncer({
      ctx, dir: join(base, 'mirrors'), recordDir: join(base, 'state/sync'), runDir: join(base, 'run'), freezeTimeoutMs: 5000,
      withKeyLock: createKeyLock(), emit: (e) => events.push(e),
    });
  });
  after(async () => {
    writer?.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 50));
    if (cgDir && existsSync(cgDir)) {
      writeFileSync(join(cgDir, 'cgroup.freeze'), '0');
      await waitFor('the cgroup to empty', () => readFileSync(join(cgDir, 'cgroup.procs'), 'utf8').trim() === '' || 'gone');
      try { rmdirSync(cgDir); } catch { /* still draining */ }
    }
    if (ctx) await closeContext(ctx);
    rmSync(base, { recursive: true, force: true });
  });

  it('finds the writer\'s cgroup v2 and freezes and thaws it', async () => {
    assert.deepEqual(cg, { dir: cgDir, version: 2 });
    const r = await withFrozen(cg, { runDir: join(base, 'run'), timeoutMs: 5000 }, async () => {
      assert.ok(isFrozen(cg));
      const c = counter(upper);
      await new Promise((res) => setTimeout(res, 100));
      return [c, counter(upper)];
    });
    assert.equal(r.value[0], r.value[1], 'a frozen writer does not write');
    assert.ok(!isFrozen(cg));
    assert.deepEqual(readdirSync(join(base, 'run/sync-frozen')), [], 'the frozen record is removed after the thaw');
    const after = r.value[1]!;
    await waitFor('the thawed writer to write again', () => counter(upper) > after);
  });

  it('every synced snapshot holds a and b consistent, with the counter of the capture instant', async () => {
    for (let i = 0; i < 8; i++) {
      const before = counter(upper);
      const out = await syncer.sync({ key: 'sync-ab', upperDir: upper, cgroup: () => cg }).done;
      assert.ok(out.changed && out.manifestDigest);
      const dir = join(base, `restored-${i}`);
      await restore(ctx, { key: 'sync-ab', dir, snapshot: out.manifestDigest, remember: false });
      const a = readFileSync(join(dir, 'a'), 'utf8');
      const b = readFileSync(join(dir, 'b'), 'utf8');
      // One instant of the writer: b is the checksum of a, or of the counter before it (frozen
      // between its two writes). A torn capture (a and b copied at different times) is neither.
      const sum = (n: number): string => createHash('sha256').update(String(n).padStart(12, '0')).digest('hex');
      assert.ok(b === sum(Number(a)) || b === sum(Number(a) - 1), `sync ${i}: b ${b} is the checksum of a ${a} or of ${Number(a) - 1}`);
      assert.ok(Number(a) >= before, `sync ${i}: counter ${a} is at least ${before}, seen before the sync began`);
      assert.equal(readFileSync(join(dir, 'etc/conf'), 'utf8'), 'x=1\n');
      const seen = counter(upper);
      await waitFor('the writer to move on', () => counter(upper) > seen);
    }
    assert.equal(events.filter((e) => e.type === 'sync.finished' && e.key === 'sync-ab').length, 8);
    assert.ok(syncer.lastSync('sync-ab')?.manifestDigest);
  });

  it('idle ticks of an unchanged tree freeze nothing and upload nothing', async () => {
    const idle = join(base, 'idle');
    mkdirSync(join(idle, 'd'), { recursive: true });
    for (let i = 0; i < 50; i++) writeFileSync(join(idle, 'd', `f${i}`), `file ${i}\n`);
    // Past the racy window: entries written within it are copied once more by design.
    await new Promise((r) => setTimeout(r, 200));
    let freezes = 0;
    const target = { key: 'sync-idle', upperDir: idle, cgroup: () => { freezes++; return cg; } };
    assert.ok((await syncer.sync(target).done).changed);
    await syncer.sync(target).done; // racy entries of the first capture settle
    const blobs = (): number => readdirSync(join(base, 'store/blobs/sha256')).length;
    const before = { blobs: blobs(), freezes, started: events.filter((e) => e.type === 'sync.started').length };
    for (let i = 0; i < 5; i++) assert.equal((await syncer.sync(target).done).changed, false);
    assert.equal(blobs(), before.blobs, 'nothing uploaded');
    assert.equal(freezes, before.freezes, 'not frozen');
    assert.equal(events.filter((e) => e.type === 'sync.started').length, before.started);
    // A change is seen by the next tick.
    writeFileSync(join(idle, 'd/f3'), 'changed\n');
    const out = await syncer.sync(target).done;
    assert.ok(out.changed);
    const dir = join(base, 'restored-idle');
    await restore(ctx, { key: 'sync-idle', dir, snapshot: out.manifestDigest, remember: false });
    assert.equal(readFileSync(join(dir, 'd/f3'), 'utf8'), 'changed\n');
    assert.equal(readFileSync(join(dir, 'd/f4'), 'utf8'), 'file 4\n');
    // Its container gone, the key's mirror (a copy of its data) goes too.
    assert.ok(existsSync(join(base, 'mirrors/k-sync-idle/tree/d/f3')));
    await syncer.forget('sync-idle');
    assert.ok(!existsSync(join(base, 'mirrors/k-sync-idle')));
  });

  it('ticks during a sync in flight join one follow-up that captures what changed meanwhile', async () => {
    const t = { key: 'sync-ab', upperDir: upper, cgroup: () => cg };
    const first = syncer.sync(t);
    const second = syncer.sync(t);
    const third = syncer.sync(t);
    assert.equal(second, third, 'one follow-up, not a queue');
    const [r1, r2] = await Promise.all([first.done, second.done]);
    assert.ok(r1.changed && r2.changed);
    assert.notEqual(r1.manifestDigest, r2.manifestDigest);
  });

  it('a daemon SIGKILLed while the container is frozen: the next daemon start thaws it', async () => {
    const runDir = join(base, 'run-kill');
    const child = spawn(process.execPath, [FREEZE_CHILD, cgDir, runDir, '600000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res, rej) => {
      child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('frozen')) res(); });
      child.on('exit', () => rej(new Error('freeze child exited early')));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(isFrozen(cg), 'left frozen by the killed process');
    const { config } = loadConfig([
      `--socket=${join(base, 'lk.sock')}`, `--store=${join(base, 'store2')}`, `--state-dir=${join(base, 'state2')}`,
      `--run-dir=${runDir}`, '--docker=off',
    ], {});
    const daemon = await startDaemon(config, jsonLogger('error', () => undefined));
    try {
      assert.ok(!isFrozen(cg), 'the next start thawed it');
      const c = counter(upper);
      await waitFor('the writer to run again', () => counter(upper) > c);
      // On demand: a key with no running container the daemon knows is refused, naming it.
      const client = createClient({ address: daemon.socket });
      try {
        await assert.rejects(unary(client, client.Sync as never, { key: 'not-running' }), (e: { code: number; details: string }) =>
          e.code === 5 && /not-running/.test(e.details));
      } finally {
        client.close();
      }
    } finally {
      await daemon.close();
    }
  });

  it('a process killed while frozen and no daemon start: the watchdog thaws it', async () => {
    const runDir = join(base, 'run-watchdog');
    const child = spawn(process.execPath, [FREEZE_CHILD, cgDir, runDir, '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res, rej) => {
      child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('frozen')) res(); });
      child.on('exit', () => rej(new Error('freeze child exited early')));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await waitFor('the watchdog to thaw the cgroup', () => !isFrozen(cg));
    const c = counter(upper);
    await waitFor('the writer to run again', () => counter(upper) > c);
  });
});
