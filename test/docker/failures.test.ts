// End-to-end failure handling: the daemon down at start (default: refuse the start with a clear
// message; on-restore-error=start: start without state and never capture that run over the
// key), the daemon killed while a snapshot is in flight (resumed from the capture journal),
// and the image policy.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  currentSnapshot, docker, dockerEnv, fileStore, sleep, startLayerkeep, uniq, waitFor, waitForNewSnapshot,
  type DockerEnv, type LayerkeepProcess,
} from './helpers.js';

// Fails the file (not skips it) when the private dockerd's variables are missing.
const env: DockerEnv = dockerEnv();

describe('Docker: failures around the daemon', () => {
  const store = fileStore();
  let lk: LayerkeepProcess | undefined;
  after(async () => await lk?.stop());

  it('refuses to start a labelled container while the daemon is down, naming the cause', async () => {
    const key = uniq('down');
    const r = await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, env.image, 'true'], { allowFail: true });
    assert.notEqual(r.code, 0, 'the start should have failed');
    assert.match(r.stderr, /layerkeep: cannot restore the state of container .*the layerkeep daemon is not running/);
    // Unlabelled containers are not affected by the daemon being down.
    const plain = await docker(['run', '--rm', env.image, 'echo', 'ok']);
    assert.equal(plain.stdout.trim(), 'ok');
  });

  it('with on-restore-error=start the container starts without state, and that run is not captured over the key', async () => {
    const key = uniq('degraded');
    lk = await startLayerkeep(env, { store });
    await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', 'echo precious > /data/p']);
    const good = await waitForNewSnapshot(store, key);
    await lk.stop();
    lk = undefined;
    const name = uniq('deg');
    const r = await docker(['run', '--name', name, '--label', `layerkeep.key=${key}`, '--label', 'layerkeep.on-restore-error=start', env.image, 'sh', '-c', 'ls /data; echo scratch > /data/s']);
    assert.equal(r.stdout.trim(), '', 'started without the state');
    const id = (await docker(['inspect', '-f', '{{.Id}}', name])).stdout.trim();
    assert.ok(existsSync(join(env.dockerdDir, 'lk', 'run', 'unrestored', id)), 'the hook did not mark the run as started without state');
    lk = await startLayerkeep(env, { store });
    await docker(['rm', name]);
    await sleep(1500);
    assert.equal(currentSnapshot(store, key), good, 'the state-less run replaced the key\'s snapshot');
    const back = await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', 'ls /data; cat /data/p']);
    assert.equal(back.stdout.trim(), 'p\nprecious');
  });

  it('resumes a snapshot whose daemon was killed mid-upload, from the capture journal', async () => {
    lk ??= await startLayerkeep(env, { store });
    const stateDir = lk.stateDir;
    const key = uniq('killed');
    // ~200 MB of incompressible data makes the pack + upload take a few seconds.
    const name = uniq('big');
    await docker(['run', '--name', name, '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c',
      'head -c 200000000 /dev/urandom > /data/big && sha256sum /data/big > /data/big.sha256']);
    await docker(['rm', name]);
    const captureDir = join(env.dockerRoot, 'overlay2', 'layerkeep-captures-' + stateDir.split('/').pop());
    await waitFor('the capture to be journaled', () => existsSync(captureDir) && readdirSync(captureDir).length > 0, 10_000);
    assert.equal(currentSnapshot(store, key), '', 'the snapshot finished before the kill; the test proves nothing');
    await lk.stop('SIGKILL');
    lk = undefined;
    assert.equal(currentSnapshot(store, key), '');
    lk = await startLayerkeep(env, { store, stateDir });
    await waitForNewSnapshot(store, key, '', 120_000);
    const capturesOfKey = () => readdirSync(captureDir).filter((d) => {
      try {
        return (JSON.parse(readFileSync(join(captureDir, d, 'capture.json'), 'utf8')) as { key: string }).key === key;
      } catch {
        return false;
      }
    });
    await waitFor('the capture of the key to leave the journal', () => capturesOfKey().length === 0, 30_000);
    const r = await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', 'cd /data && sha256sum -c big.sha256']);
    assert.match(r.stdout, /big: OK/);
  });

  it('refuses to restore a key onto a different image under the default policy', async () => {
    lk ??= await startLayerkeep(env, { store });
    const key = uniq('img');
    await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', 'echo v1 > /data/v']);
    await waitForNewSnapshot(store, key);
    const other = uniq('other').toLowerCase();
    const tmp = uniq('mk');
    await docker(['run', '--name', tmp, env.image, 'sh', '-c', 'echo changed > /etc/marker']);
    await docker(['commit', tmp, other]);
    await docker(['rm', tmp]);
    const r = await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, other, 'cat', '/data/v'], { allowFail: true });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /was snapshotted on image .* but the container runs .*refusing to restore \(image policy refuse/);
    await docker(['rmi', other]);
  });

  it('opts containers in by name pattern; with the daemon down, names the patterns miss still start', async () => {
    await lk?.stop();
    lk = await startLayerkeep(env, { store, extra: ['--name-patterns=lkpat-*'] });
    const name = uniq('lkpat');
    await docker(['run', '--name', name, env.image, 'sh', '-c', 'echo by-pattern > /data/p']);
    await docker(['rm', name]);
    await waitForNewSnapshot(store, name);
    const back = await docker(['run', '--rm', '--name', name, env.image, 'cat', '/data/p']);
    assert.equal(back.stdout.trim(), 'by-pattern');
    await lk.stop();
    lk = undefined;
    const other = await docker(['run', '--rm', '--name', uniq('unrelated'), env.image, 'echo', 'started']);
    assert.equal(other.stdout.trim(), 'started');
    const matched = await docker(['run', '--rm', '--name', uniq('lkpat'), env.image, 'true'], { allowFail: true });
    assert.notEqual(matched.code, 0, 'a pattern-matched container started while its state could not be checked');
    assert.match(matched.stderr, /the layerkeep daemon is not running/);
    lk = await startLayerkeep(env, { store }); // no patterns: the published list is withdrawn
  });
});
