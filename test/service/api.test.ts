// The daemon's gRPC API against a real daemon (in-process, unix socket, local directory store).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import { loadConfig } from '../../src/service/config.js';
import { startDaemon, type Daemon } from '../../src/service/daemon.js';
import { jsonLogger } from '../../src/service/log.js';
import { createClient, unary, type LayerKeepClient } from '../../src/service/client.js';
import type { Event__Output } from '../../src/service/generated/layerkeep/v1/Event.js';
import type { RestoreProgress__Output } from '../../src/service/generated/layerkeep/v1/RestoreProgress.js';
import { describeTree, treeList } from '../support/tree.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function makeTree(dir: string): void {
  mkdirSync(join(dir, 'etc/app'), { recursive: true });
  writeFileSync(join(dir, 'etc/app/conf'), 'x=1\n');
  writeFileSync(join(dir, 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
  symlinkSync('etc/app/conf', join(dir, 'link'));
}

describe('gRPC API', () => {
  let base: string;
  let daemon: Daemon;
  let client: LayerKeepClient;
  const logs: string[] = [];

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'layerkeep-api-'));
    const { config } = loadConfig([
      `--socket=${join(base, 'lk.sock')}`, `--store=file://${join(base, 'store')}`, `--state-dir=${join(base, 'state')}`,
      `--run-dir=${join(base, 'run')}`, '--docker=off', '--metrics-listen=127.0.0.1:0',
    ], {});
    daemon = await startDaemon(config, jsonLogger('debug', (l) => logs.push(l)));
    client = createClient({ address: daemon.socket });
  });
  after(async () => {
    client?.close();
    await daemon?.close();
    rmSync(base, { recursive: true, force: true });
  });

  it('serves Health on a 0660 unix socket', async () => {
    const h = await unary<object, { status: string; store: string; dockerConnected: boolean }>(client, client.Health as never, {});
    assert.equal(h.status, 'serving');
    assert.equal(h.store, `file://${join(base, 'store')}`);
    assert.equal(h.dockerConnected, false);
    assert.equal(statSync(daemon.socket).mode & 0o777, 0o660);
  });

  it('snapshots a dir, lists it, streams the restore with progress, and the restored tree is identical', async () => {
    const src = join(base, 'src');
    makeTree(src);
    const events: Event__Output[] = [];
    const stream = client.Events({});
    stream.on('data', (e: Event__Output) => events.push(e));
    stream.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 100));

    const snap = await unary<object, { key: string; changed: boolean; manifestDigest: string; files: number }>(client, client.Snapshot as never, { key: 'api-key', dir: src });
    assert.equal(snap.changed, true);
    assert.match(snap.manifestDigest, /^sha256:[0-9a-f]{64}$/);
    const again = await unary<object, { changed: boolean }>(client, client.Snapshot as never, { key: 'api-key', dir: src });
    assert.equal(again.changed, false);

    const keys = await unary<object, { keys: { key: string; currentManifest: string }[] }>(client, client.ListKeys as never, {});
    assert.deepEqual(keys.keys.map((k) => [k.key, k.currentManifest]), [['api-key', snap.manifestDigest]]);
    const state = await unary<object, { exists: boolean; generation: number; current: { files: number } }>(client, client.GetKey as never, { key: 'api-key' });
    assert.equal(state.exists, true);
    assert.equal(state.generation, 1);
    assert.equal(state.current.files, snap.files);
    const list = await unary<object, { snapshots: { manifestDigest: string; current: boolean }[] }>(client, client.ListSnapshots as never, { key: 'api-key' });
    assert.deepEqual(list.snapshots.map((s) => [s.manifestDigest, s.current]), [[snap.manifestDigest, true]]);

    const target = join(base, 'restored');
    const msgs: RestoreProgress__Output[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.Restore({ key: 'api-key', dir: target });
      call.on('data', (m: RestoreProgress__Output) => msgs.push(m));
      call.on('end', () => resolve());
      call.on('error', reject);
    });
    const last = msgs.at(-1)!;
    assert.equal(last.phase, 'done');
    assert.equal(last.result?.manifestDigest, snap.manifestDigest);
    assert.ok(msgs.length >= 2, 'expected progress messages before the result');
    assert.deepEqual(treeList(describeTree(target, { dirMtimes: false })).filter(([p]) => p !== '.'), treeList(describeTree(src, { dirMtimes: false })).filter(([p]) => p !== '.'));

    stream.cancel();
    const types = events.map((e) => e.type);
    assert.ok(types.includes('snapshot.started') && types.includes('snapshot.finished') && types.includes('restore.finished'), `events: ${types.join(',')}`);
  });

  it('answers unknown keys with NOT_FOUND and bad input with INVALID_ARGUMENT', async () => {
    const restoreErr = await new Promise<grpc.ServiceError>((resolve) => {
      const call = client.Restore({ key: 'no-such-key', dir: join(base, 'nowhere') });
      call.on('data', () => undefined);
      call.on('error', (e: grpc.ServiceError) => resolve(e));
    });
    assert.equal(restoreErr.code, 5);
    assert.match(restoreErr.details, /no-such-key has no snapshot/);
    await assert.rejects(unary(client, client.Snapshot as never, { key: 'bad/key', dir: base }), (e: grpc.ServiceError) => e.code === 3 && /invalid key/.test(e.details));
  });

  it('reports pending uploads (none after a finished snapshot) and exposes Prometheus metrics', async () => {
    const p = await unary<object, { uploads: unknown[] }>(client, client.PendingUploads as never, {});
    assert.deepEqual(p.uploads, []);
    const res = await fetch(`http://127.0.0.1:${daemon.metricsPort}/metrics`);
    const text = await res.text();
    assert.match(text, /layerkeep_snapshots_total\{result="changed"\} [12]/);
    assert.match(text, /layerkeep_snapshots_total\{result="unchanged"\} 1/);
    assert.match(text, /# TYPE layerkeep_snapshot_duration_seconds histogram/);
    assert.match(text, /layerkeep_pending_uploads 0/);
    const down = Number(/layerkeep_bytes_downloaded_total (\d+)/.exec(text)?.[1]);
    assert.ok(down > 0, 'restore bytes were not counted');
  });

  it('deletes an older snapshot from the key history, refuses to drop the current one, and runs gc', async () => {
    const src = join(base, 'src');
    const first = await unary<object, { manifestDigest: string }>(client, client.GetKey as never, { key: 'api-key' });
    writeFileSync(join(src, 'new.txt'), 'second generation');
    const second = await unary<object, { manifestDigest: string; changed: boolean }>(client, client.Snapshot as never, { key: 'api-key', dir: src });
    assert.equal(second.changed, true);
    const older = (first as unknown as { currentManifest: string }).currentManifest;
    await assert.rejects(unary(client, client.DeleteSnapshot as never, { key: 'api-key', manifestDigest: second.manifestDigest }), (e: grpc.ServiceError) => e.code === 3 && /is the current snapshot/.test(e.details));
    const del = await unary<object, { deleted: string[] }>(client, client.DeleteSnapshot as never, { key: 'api-key', manifestDigest: older.slice(7, 19) });
    assert.deepEqual(del.deleted, [older]);
    const list = await unary<object, { snapshots: { manifestDigest: string }[] }>(client, client.ListSnapshots as never, { key: 'api-key' });
    assert.deepEqual(list.snapshots.map((s) => s.manifestDigest), [second.manifestDigest]);
    const g = await unary<object, { summary: string; deleted: string[] }>(client, client.Gc as never, { dryRun: true });
    assert.match(g.summary, /^would delete 0 manifests, 0 blobs, .*young objects$/); // within the 24 h grace period
  });

  it('refuses to start a second daemon on a socket a live one serves', async () => {
    const { config } = loadConfig([`--socket=${daemon.socket}`, `--store=file://${join(base, 'store2')}`, `--state-dir=${join(base, 'state2')}`, `--run-dir=${join(base, 'run2')}`, '--docker=off'], {});
    await assert.rejects(startDaemon(config, jsonLogger('error', () => undefined)), /another process is serving on .*lk\.sock/);
  });
});

describe('gRPC over TCP with TLS', () => {
  it('serves the API on --listen with the given certificate, and refuses clients without a trusted one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'layerkeep-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const { config } = loadConfig([`--socket=${join(dir, 'lk.sock')}`, `--store=file://${join(dir, 'store')}`, `--state-dir=${join(dir, 'state')}`,
      `--run-dir=${join(dir, 'run')}`, '--docker=off', '--listen=127.0.0.1:0', `--tls-cert=${cert}`, `--tls-key=${key}`], {});
    const d = await startDaemon(config, jsonLogger('error', () => undefined));
    try {
      assert.ok(d.tcpPort && d.tcpPort > 0);
      const c = createClient({ address: `localhost:${d.tcpPort}`, tlsCa: cert });
      const h = await unary<object, { status: string }>(c, c.Health as never, {});
      assert.equal(h.status, 'serving');
      c.close();
      const untrusted = createClient({ address: `localhost:${d.tcpPort}` }); // system CAs only
      await assert.rejects(unary(untrusted, untrusted.Health as never, {}, 3000), (e: grpc.ServiceError) => e.code === 14);
      untrusted.close();
      const noTls = loadConfig([`--socket=${join(dir, 'lk2.sock')}`, `--store=file://${join(dir, 'store')}`, `--state-dir=${join(dir, 'state2')}`, `--run-dir=${join(dir, 'run2')}`, '--docker=off', '--listen=127.0.0.1:0'], {});
      await assert.rejects(startDaemon(noTls.config, jsonLogger('error', () => undefined)), /--listen needs --tls-cert and --tls-key/);
    } finally {
      await d.close();
    }
  });
});

describe('layerkeep serve', () => {
  it('--help shows every option with its environment variable and default', () => {
    const out = execFileSync(process.execPath, [MAIN, 'serve', '--help'], { encoding: 'utf8' });
    assert.match(out, /--socket {2}\(LAYERKEEP_SOCKET\)\n.*\n {6}default: \/run\/layerkeep\/layerkeep\.sock/);
    assert.match(out, /--image-policy {2}\(LAYERKEEP_IMAGE_POLICY\)\n.*\n {6}default: refuse/);
  });

  it('takes flags over environment over config file over defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'layerkeep-cfg-'));
    const file = join(dir, 'layerkeep.json');
    writeFileSync(file, JSON.stringify({ store: 'file:///from-file', 'image-policy': 'warn', 'name-patterns': ['db-*', 'cache'] }));
    const { config } = loadConfig([`--config=${file}`, '--store=file:///from-flag'], { LAYERKEEP_IMAGE_POLICY: 'allow', LAYERKEEP_STATE_DIR: '/from-env' });
    assert.equal(config.store, 'file:///from-flag');
    assert.equal(config['image-policy'], 'allow');
    assert.equal(config['state-dir'], '/from-env');
    assert.equal(config['name-patterns'], 'db-*,cache');
    assert.equal(config.socket, '/run/layerkeep/layerkeep.sock');
    assert.equal(config['capture-dir'], '/var/lib/docker/overlay2/layerkeep-captures');
    assert.throws(() => loadConfig(['--no-such-option=1'], {}), /unknown option --no-such-option=1/);
    writeFileSync(file, JSON.stringify({ storee: 'x' }));
    assert.throws(() => loadConfig([`--config=${file}`], {}), /config file .*: unknown option "storee"/);
  });

  it('shuts down on SIGTERM and removes its socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'layerkeep-serve-'));
    const { spawn } = await import('node:child_process');
    const sock = join(dir, 'lk.sock');
    const child = spawn(process.execPath, [MAIN, 'serve', `--socket=${sock}`, `--store=file://${join(dir, 'store')}`, `--state-dir=${join(dir, 'state')}`, `--run-dir=${join(dir, 'run')}`, '--docker=off'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const deadline = Date.now() + 15_000;
    while (!err.includes('layerkeep daemon serving')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`daemon did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    assert.equal(code, 0);
    assert.throws(() => statSync(sock), /ENOENT/);
    const lines = err.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: string });
    assert.ok(lines.some((l) => l.msg === 'layerkeep daemon stopped'), 'no structured shutdown log line');
  });
});
