// The daemon's gRPC API against a real daemon (in-process, unix socket, local directory store).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, symlinkSync } from 'node:fs';
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

  it('serves Health on a root-only (0600) unix socket', async () => {
    const h = await unary<object, { status: string; store: string; dockerConnected: boolean }>(client, client.Health as never, {});
    assert.equal(h.status, 'serving');
    assert.equal(h.store, `file://${join(base, 'store')}`);
    assert.equal(h.dockerConnected, false);
    assert.equal(statSync(daemon.socket).mode & 0o777, 0o600);
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

  it('answers a lost ref race with ABORTED and the hint, not INTERNAL', async () => {
    const src = join(base, 'race-src');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'f'), 'one\n');
    await unary(client, client.Snapshot as never, { key: 'race', dir: src });
    // another host (its own state dir, same store) advances the key
    const other = join(base, 'race-other');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'g'), 'two\n');
    const r = spawnSync(process.execPath, [MAIN, 'snapshot', '--store', `file://${join(base, 'store')}`, '--state-dir', join(base, 'state-other'),
      '--key', 'race', '--take-over', other], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    writeFileSync(join(src, 'f'), 'changed\n');
    await assert.rejects(unary(client, client.Snapshot as never, { key: 'race', dir: src }), (e: grpc.ServiceError) => {
      assert.equal(e.code, 10, `${e.code} ${e.details}`); // ABORTED
      assert.match(e.details, /key race was updated elsewhere/);
      assert.deepEqual(e.metadata.get('layerkeep-kind'), ['conflict']);
      assert.match(String(e.metadata.get('layerkeep-hint')[0]), /layerkeep ls --key race/);
      return true;
    });
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

describe('socket group: read-only calls on their own socket', () => {
  it('lets an unprivileged group member read state but not write, and keeps the full API root-only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'layerkeep-group-'));
    chmodSync(dir, 0o755);
    const gid = 65534; // nogroup; the member is uid 65534 (nobody)
    const { config } = loadConfig([`--socket=${join(dir, 'lk.sock')}`, `--store=file://${join(dir, 'store')}`, `--state-dir=${join(dir, 'state')}`,
      `--run-dir=${join(dir, 'run')}`, '--docker=off', `--socket-group=${gid}`], {});
    const d = await startDaemon(config, jsonLogger('error', () => undefined));
    try {
      assert.equal(d.readOnlySocket, join(dir, 'lk-ro.sock'));
      assert.equal(statSync(d.socket).mode & 0o777, 0o600);
      assert.equal(statSync(d.readOnlySocket!).mode & 0o777, 0o660);
      assert.equal(statSync(d.readOnlySocket!).gid, gid);
      // Root on the read-only socket: reads work, every writing call is refused.
      const ro = createClient({ address: d.readOnlySocket! });
      assert.equal((await unary<object, { status: string }>(ro, ro.Health as never, {})).status, 'serving');
      await unary(ro, ro.ListKeys as never, {});
      const src = join(dir, 'src');
      mkdirSync(src);
      writeFileSync(join(src, 'f'), 'x');
      for (const [m, req] of [['Snapshot', { key: 'k', dir: src }], ['DeleteSnapshot', { key: 'k', manifestDigest: 'sha256:' + '0'.repeat(64) }], ['Gc', {}], ['PrepareStart', { containerId: 'x', ociState: '{}' }], ['CaptureStop', { containerId: 'x', ociState: '{}' }]] as const) {
        await assert.rejects(unary(ro, (ro as unknown as Record<string, never>)[m], req), (e: grpc.ServiceError) => e.code === 7 && /not allowed on the read-only socket/.test(e.details), m);
      }
      await assert.rejects(new Promise((resolve, reject) => {
        const s = ro.Restore({ key: 'k', dir: join(dir, 'out'), mode: 'apply' });
        s.on('data', () => undefined);
        s.on('error', reject);
        s.on('end', resolve);
      }), (e: grpc.ServiceError) => e.code === 7);
      ro.close();
      // A real unprivileged member of the group: reads through the read-only socket, cannot open the main one.
      const script = `
        const { createClient, unary } = await import(${JSON.stringify(new URL('../../src/service/client.js', import.meta.url).href)});
        const out = {};
        const ro = createClient({ address: ${JSON.stringify(d.readOnlySocket)} });
        out.ro = (await unary(ro, ro.Health, {}, 5000)).status;
        try { await unary(ro, ro.Snapshot, { key: 'k', dir: ${JSON.stringify(src)} }, 5000); out.roWrite = 'allowed'; } catch (e) { out.roWrite = e.code; }
        const rw = createClient({ address: ${JSON.stringify(d.socket)} });
        try { await unary(rw, rw.Health, {}, 5000); out.rw = 'allowed'; } catch (e) { out.rw = e.code; }
        console.log(JSON.stringify(out));
        process.exit(0);`;
      // (async: the daemon answers from this process)
      const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        c.on('close', (status) => resolve({ status, stdout, stderr }));
      });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { ro: 'serving', roWrite: 7, rw: 14 });
      assert.throws(() => statSync(join(dir, 'store', 'refs', 'k')), /ENOENT/);
    } finally {
      await d.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gRPC over TCP with mutual TLS', () => {
  // A CA, a server certificate and a client certificate it signed, and a client certificate of
  // another (self-signed) authority, all made with openssl.
  function pki(dir: string): { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; rogueCert: string; rogueKey: string } {
    const f = (n: string): string => join(dir, n);
    const ossl = (args: string[]): void => { execFileSync('openssl', args, { stdio: 'ignore' }); };
    ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=layerkeep test CA', '-keyout', f('ca.key'), '-out', f('ca.pem')]);
    writeFileSync(f('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key'), '-out', f('server.csr')]);
    ossl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('server.ext'), '-out', f('server.pem')]);
    ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=operator', '-keyout', f('client.key'), '-out', f('client.csr')]);
    ossl(['x509', '-req', '-in', f('client.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-out', f('client.pem')]);
    ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=intruder', '-keyout', f('rogue.key'), '-out', f('rogue.pem')]);
    return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key'), rogueCert: f('rogue.pem'), rogueKey: f('rogue.key') };
  }

  it('refuses to start --listen without --tls-client-ca (or without a certificate)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'layerkeep-tls-'));
    try {
      const p = pki(dir);
      const common = [`--store=file://${join(dir, 'store')}`, '--docker=off', '--listen=127.0.0.1:0'];
      const noCa = loadConfig([`--socket=${join(dir, 'a.sock')}`, `--state-dir=${join(dir, 'sa')}`, `--run-dir=${join(dir, 'ra')}`, ...common, `--tls-cert=${p.serverCert}`, `--tls-key=${p.serverKey}`], {});
      await assert.rejects(startDaemon(noCa.config, jsonLogger('error', () => undefined)), /--listen needs --tls-client-ca.*mutual TLS/);
      assert.throws(() => statSync(join(dir, 'a.sock')), /ENOENT/, 'nothing may be served when the configuration is refused');
      const noTls = loadConfig([`--socket=${join(dir, 'b.sock')}`, `--state-dir=${join(dir, 'sb')}`, `--run-dir=${join(dir, 'rb')}`, ...common], {});
      await assert.rejects(startDaemon(noTls.config, jsonLogger('error', () => undefined)), /--listen needs --tls-cert and --tls-key/);
      // The CLI says so and exits non-zero.
      const r = spawnSync(process.execPath, [MAIN, 'serve', `--socket=${join(dir, 'c.sock')}`, `--state-dir=${join(dir, 'sc')}`, `--run-dir=${join(dir, 'rc')}`, ...common, `--tls-cert=${p.serverCert}`, `--tls-key=${p.serverKey}`], { encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /--listen needs --tls-client-ca/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves clients with a certificate signed by the client CA and rejects clients without one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'layerkeep-tls-'));
    const p = pki(dir);
    const { config } = loadConfig([`--socket=${join(dir, 'lk.sock')}`, `--store=file://${join(dir, 'store')}`, `--state-dir=${join(dir, 'state')}`,
      `--run-dir=${join(dir, 'run')}`, '--docker=off', '--listen=127.0.0.1:0', `--tls-cert=${p.serverCert}`, `--tls-key=${p.serverKey}`, `--tls-client-ca=${p.ca}`], {});
    const d = await startDaemon(config, jsonLogger('error', () => undefined));
    try {
      assert.ok(d.tcpPort && d.tcpPort > 0);
      const address = `localhost:${d.tcpPort}`;
      const c = createClient({ address, tlsCa: p.ca, tlsCert: p.clientCert, tlsKey: p.clientKey });
      const h = await unary<object, { status: string }>(c, c.Health as never, {});
      assert.equal(h.status, 'serving');
      c.close();
      // Trusts the server but has no certificate: the handshake fails, no call reaches the API.
      const anonymous = createClient({ address, tlsCa: p.ca });
      await assert.rejects(unary(anonymous, anonymous.Health as never, {}, 5000), (e: grpc.ServiceError) => e.code === 14);
      const src = join(dir, 'src');
      mkdirSync(src);
      writeFileSync(join(src, 'f'), 'x');
      await assert.rejects(unary(anonymous, anonymous.Snapshot as never, { key: 'intruder', dir: src }, 5000), (e: grpc.ServiceError) => e.code === 14);
      anonymous.close();
      // A certificate from another authority is refused the same way.
      const rogue = createClient({ address, tlsCa: p.ca, tlsCert: p.rogueCert, tlsKey: p.rogueKey });
      await assert.rejects(unary(rogue, rogue.Health as never, {}, 5000), (e: grpc.ServiceError) => e.code === 14);
      rogue.close();
      const untrusted = createClient({ address }); // system CAs only: the client refuses the server
      await assert.rejects(unary(untrusted, untrusted.Health as never, {}, 5000), (e: grpc.ServiceError) => e.code === 14);
      untrusted.close();
      assert.throws(() => statSync(join(dir, 'store', 'refs', 'intruder')), /ENOENT/);
    } finally {
      await d.close();
      rmSync(dir, { recursive: true, force: true });
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
