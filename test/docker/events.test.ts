// End-to-end: Docker events (dockerode) for discovery and reconciliation. Containers that do not
// run under the wrapper are captured from their `die` event; containers that stopped while the
// daemon was down are captured when it starts; the event stream survives a dockerd restart.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unary } from '../../src/service/client.js';
import type { Event__Output } from '../../src/service/generated/layerkeep/v1/Event.js';
import { REPO, docker, dockerEnv, fileStore, startLayerkeep, uniq, waitFor, waitForNewSnapshot, type DockerEnv, type LayerkeepProcess } from './helpers.js';

// Fails the file (not skips it) when the private dockerd's variables are missing.
const env: DockerEnv = dockerEnv();

describe('Docker events: discovery and reconciliation', () => {
  const store = fileStore();
  let lk: LayerkeepProcess | undefined;
  after(async () => await lk?.stop());

  it('captures a labelled container outside the wrapper (runtime runc) from its die event', async () => {
    lk = await startLayerkeep(env, { store });
    const key = uniq('die');
    const name = uniq('plainrt');
    await docker(['run', '--runtime', 'runc', '--name', name, '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', 'echo via-events > /data/e']);
    await waitForNewSnapshot(store, key);
    await docker(['rm', name]);
    const r = await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, env.image, 'cat', '/data/e']);
    assert.equal(r.stdout.trim(), 'via-events');
  });

  it('captures, at daemon start, a container that stopped while nothing watched', async () => {
    await lk!.stop();
    lk = undefined;
    const key = uniq('missed');
    const name = uniq('missed');
    await docker(['run', '--runtime', 'runc', '--name', name, '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', 'echo while-down > /data/m']);
    lk = await startLayerkeep(env, { store });
    await waitForNewSnapshot(store, key);
    await docker(['rm', name]);
    const r = await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, env.image, 'cat', '/data/m']);
    assert.equal(r.stdout.trim(), 'while-down');
  });

  it('reconnects to dockerd after it restarts, and reconciles what stopped meanwhile', async () => {
    const client = lk!.client();
    const events: Event__Output[] = [];
    const stream = client.Events({});
    stream.on('data', (e: Event__Output) => events.push(e));
    stream.on('error', () => undefined);
    // A labelled container outside the wrapper, running when dockerd goes down: dockerd kills it.
    const key = uniq('restart');
    const name = uniq('survivor');
    await docker(['run', '-d', '--runtime', 'runc', '--name', name, '--label', `layerkeep.key=${key}`, env.image, 'sh', '-c', 'echo before-restart > /data/r; sleep 600']);
    await waitFor('the container to write', async () => (await docker(['exec', name, 'cat', '/data/r'], { allowFail: true })).stdout.includes('before-restart'));
    const pid = Number(readFileSync(join(env.dockerdDir, 'dockerd.pid'), 'utf8'));
    process.kill(pid, 'SIGTERM');
    await waitFor('the daemon to notice dockerd went away', () => events.some((e) => e.type === 'docker.disconnected'), 60_000);
    await waitFor('dockerd to exit', () => { try { process.kill(pid, 0); return false; } catch { return true; } }, 60_000);
    await new Promise<void>((resolve, reject) => execFile('bash', [join(REPO, 'test/infra/dockerd-start.sh'), env.dockerdDir], (err, _o, stderr) => (err ? reject(new Error(stderr)) : resolve())));
    await waitFor('the daemon to reconnect', () => events.filter((e) => e.type === 'docker.connected').length >= 1, 60_000);
    const h = await unary<object, { dockerConnected: boolean }>(client, client.Health as never, {});
    assert.equal(h.dockerConnected, true);
    await waitForNewSnapshot(store, key);
    stream.cancel();
    await docker(['rm', '-f', name]);
    const r = await docker(['run', '--rm', '--label', `layerkeep.key=${key}`, env.image, 'cat', '/data/r']);
    assert.equal(r.stdout.trim(), 'before-restart');
  });
});
