// End-to-end: a labelled container's writable layer survives docker rm, --rm, restarts and a
// move to another "host", through the runtime wrapper's hooks against a real private dockerd.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  currentSnapshot, docker, dockerEnv, fileStore, startLayerkeep, TREE_SCRIPT, uniq, waitForNewSnapshot,
  type DockerEnv, type LayerkeepProcess,
} from './helpers.js';

// Fails the file (not skips it) when the private dockerd's variables are missing.
const env: DockerEnv = dockerEnv();

// What the first container does to its layer: new files and dirs, a deleted image file, and an
// image directory replaced by a new one (opaque), so restore must get whiteouts right.
const WRITE = [
  'mkdir -p /data/sub && echo hello > /data/f.txt && echo deep > /data/sub/g.txt',
  'rm /etc/image-file.txt',
  'rm -rf /srv/image-dir && mkdir /srv/image-dir && echo fresh > /srv/image-dir/c.txt',
  'ln -s /data/f.txt /data/link',
].join(' && ');
const LOOK = TREE_SCRIPT(['/data', '/srv', '/etc/image-file.txt']);
const EXPECTED = [
  '/data dir',
  '/data/f.txt file hello',
  '/data/link link /data/f.txt',
  '/data/sub dir',
  '/data/sub/g.txt file deep',
  '/srv dir',
  '/srv/image-dir dir',
  '/srv/image-dir/c.txt file fresh',
].join('\n');
const PRISTINE = ['/data dir', '/etc/image-file.txt file from-image', '/srv dir', '/srv/image-dir dir', '/srv/image-dir/a.txt file a', '/srv/image-dir/b.txt file b'].join('\n');

async function look(env: DockerEnv, key: string, extra: string[] = []): Promise<string> {
  const r = await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, ...extra, env.image, 'sh', '-c', LOOK]);
  return r.stdout.trim();
}

describe('Docker: transparent persistence through the runtime wrapper', () => {
  let store: string;
  let lk: LayerkeepProcess;

  before(async () => {
    store = fileStore();
    lk = await startLayerkeep(env, { store });
  });
  after(async () => {
    await lk?.stop();
  });

  it('restores a removed container\'s layer into a new container under the same key, deletions included', async () => {
    const key = uniq('rm');
    const name = uniq('c');
    await docker(['run', '--name', name, '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', WRITE]);
    await docker(['rm', name]);
    await waitForNewSnapshot(store, key);
    assert.equal(await look(env, key), EXPECTED);
  });

  it('restores and captures through gRPC when the daemon\'s hook spool is not there (the hooks\' fallback)', async () => {
    const spool = join(env.dockerdDir, 'lk', 'run', 'spool');
    rmSync(spool, { recursive: true, force: true });
    try {
      const key = uniq('grpc');
      await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', WRITE]);
      await waitForNewSnapshot(store, key);
      assert.equal(await look(env, key), EXPECTED);
    } finally {
      mkdirSync(spool, { mode: 0o700 });
    }
  });

  it('captures a `docker run --rm` container before dockerd removes its layer', async () => {
    const key = uniq('autorm');
    await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', WRITE]);
    await waitForNewSnapshot(store, key);
    assert.equal(await look(env, key), EXPECTED);
  });

  it('keys by container name with layerkeep.enable=true', async () => {
    const name = uniq('named');
    await docker(['run', '--name', name, '--label', 'layerkeep.enable=true', env.image, 'sh', '-c', 'echo by-name > /data/n.txt']);
    await docker(['rm', name]);
    await waitForNewSnapshot(store, name);
    const r = await docker(['run', '--rm', '--name', name, '--label', 'layerkeep.enable=true', env.image, 'cat', '/data/n.txt']);
    assert.equal(r.stdout.trim(), 'by-name');
  });

  it('a restarted container keeps its own state instead of the key\'s newer snapshot', async () => {
    const key = uniq('restart');
    const first = uniq('first');
    // Prints what it finds at each start, and writes "one" only on its first run.
    const cmd = 'cat /data/who 2>/dev/null || echo none; ls /data; [ -e /data/who ] || echo one > /data/who';
    const run1 = await docker(['run', '--name', first, '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', cmd]);
    assert.equal(run1.stdout.trim(), 'none');
    const s1 = await waitForNewSnapshot(store, key);
    // Another container of the same key moves the key on to "two".
    const other = await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', 'cat /data/who && echo two > /data/who && echo extra > /data/extra']);
    assert.equal(other.stdout.trim(), 'one');
    await waitForNewSnapshot(store, key, s1);
    // Restarting the first container shows its own layer, not the key's newer snapshot.
    const run2 = await docker(['start', '-a', first]);
    assert.equal(run2.stdout.trim(), 'one\nwho');
    const run3 = await docker(['start', '-a', first]);
    assert.equal(run3.stdout.trim(), 'one\nwho');
    await docker(['rm', first]);
  });

  it('a second host (another state dir, same store) restores the key', async () => {
    const key = uniq('move');
    await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', WRITE]);
    await waitForNewSnapshot(store, key);
    await lk.stop();
    lk = await startLayerkeep(env, { store }); // fresh state dir: knows nothing but the store
    assert.equal(await look(env, key), EXPECTED);
  });

  it('leaves unlabelled containers alone: no hooks in their bundle, nothing stored', async () => {
    const name = uniq('plain');
    await docker(['run', '-d', '--name', name, env.image, 'sh', '-c', 'echo mine > /data/x; sleep 30']);
    const id = (await docker(['inspect', '-f', '{{.Id}}', name])).stdout.trim();
    const bundle = join(env.dockerdDir, 'exec', 'containerd', 'daemon', 'io.containerd.runtime.v2.task', 'moby', id, 'config.json');
    const spec = readFileSync(bundle, 'utf8');
    assert.ok(!spec.includes('layerkeep-hook'), 'an unlabelled container got layerkeep hooks');
    await docker(['rm', '-f', name]);
    assert.equal(currentSnapshot(store, name), '');
    const fresh = await docker(['run', '--rm', env.image, 'sh', '-c', LOOK]);
    assert.equal(fresh.stdout.trim(), PRISTINE);
  });

  it('a labelled container starts empty when its key has no snapshot yet', async () => {
    const key = uniq('new');
    assert.equal(await look(env, key), PRISTINE);
  });
});
