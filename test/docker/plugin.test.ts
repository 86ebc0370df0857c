// End-to-end: the managed-plugin mode. A second private dockerd (no runtime wrapper) gets
// layerkeep as a managed authorization plugin built by hooks/build-plugin.sh from the release; a labelled
// container's layer is captured at its held DELETE and restored at the held start of a new one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER, REPO, dockerEnv, TREE_SCRIPT, uniq, waitFor } from './helpers.js';

// Fails the file (not skips it) when the private dockerd's variables are missing.
const env = dockerEnv(); // this suite runs a second dockerd beside that one

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.toString().trim().split('\n').slice(-5).join(' | ')}`));
      else resolve(stdout.toString());
    });
  });
}

describe('Docker: managed authorization plugin mode', () => {
  let dir: string;
  let dockerHost: string;
  const plugin = 'layerkeep-test:latest';
  const d = (args: string[]) => sh(DOCKER, args, { DOCKER_HOST: dockerHost });

  before(async () => {
    dir = mkdtempSync(join(env.dockerdDir.replace(/\/[^/]+$/, ''), 'lkp-'));
    const exports = await sh('bash', [join(REPO, 'test/infra/dockerd-start.sh'), dir], { LK_DOCKERD_NO_WRAPPER: '1' });
    dockerHost = /DOCKER_HOST=(\S+)/.exec(exports)![1];
    const release = process.env.LAYERKEEP_RELEASE;
    assert.ok(release, 'LAYERKEEP_RELEASE must name the release tarball (make test-docker sets it)');
    await sh('bash', [join(REPO, 'hooks/build-plugin.sh'), plugin, release], { DOCKER_HOST: dockerHost, DOCKER });
    mkdirSync(join(dir, 'lk-state'));
    mkdirSync(join(dir, 'lk-run'));
    await d(['plugin', 'set', plugin, `docker-root.source=${join(dir, 'data')}`, `docker-sock.source=${join(dir, 'docker.sock')}`,
      `state.source=${join(dir, 'lk-state')}`, `run.source=${join(dir, 'lk-run')}`, 'LAYERKEEP_LOG_LEVEL=debug']);
    await d(['plugin', 'enable', plugin]);
    // Turn authorization on: daemon.json "authorization-plugins", reloaded by SIGHUP.
    const cfgPath = join(dir, 'daemon.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    cfg['authorization-plugins'] = [plugin];
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    process.kill(Number(readFileSync(join(dir, 'dockerd.pid'), 'utf8')), 'SIGHUP');
    await waitFor('dockerd to reload its configuration', () => readFileSync(join(dir, 'dockerd.log'), 'utf8').includes('Reloaded configuration'), 10_000);
  });

  after(async () => {
    if (dir) await sh('bash', [join(REPO, 'test/infra/dockerd-stop.sh'), dir]).catch(() => undefined);
  });

  it('captures at the held DELETE and restores at the held start of a new container (create/start/rm)', async () => {
    const key = uniq('plug');
    const first = uniq('p1');
    await d(['create', '--name', first, '--label', `layerkeep.key=${key}`, 'layerkeep-busybox:test', 'sh', '-c',
      'echo plugged > /data/p && rm /etc/image-file.txt && rm -rf /srv/image-dir && mkdir /srv/image-dir && echo n > /srv/image-dir/n']);
    await d(['start', '-a', first]);
    await d(['rm', first]);
    const ref = join(dir, 'lk-state', 'store', 'refs', key);
    await waitFor(`a snapshot of ${key} in the plugin's store`, () => { try { return readFileSync(ref, 'utf8'); } catch { return ''; } }, 60_000);
    const second = uniq('p2');
    await d(['create', '--name', second, '--label', `layerkeep.key=${key}`, 'layerkeep-busybox:test', 'sh', '-c', TREE_SCRIPT(['/data', '/srv', '/etc/image-file.txt'])]);
    const out = await d(['start', '-a', second]);
    assert.equal(out.trim(), ['/data dir', '/data/p file plugged', '/srv dir', '/srv/image-dir dir', '/srv/image-dir/n file n'].join('\n'));
    await d(['rm', second]);
  });

  it('serves the gRPC API to the host through its run mount', async () => {
    const { createClient, unary } = await import('../../src/service/client.js');
    const c = createClient({ address: join(dir, 'lk-run', 'layerkeep.sock') });
    try {
      const h = await unary<object, { status: string; dockerConnected: boolean }>(c, c.Health as never, {});
      assert.equal(h.status, 'serving');
      assert.equal(h.dockerConnected, true);
    } finally {
      c.close();
    }
  });

  it('leaves unlabelled containers alone', async () => {
    const out = await d(['run', '--rm', 'layerkeep-busybox:test', 'sh', '-c', 'echo x > /data/x; cat /etc/image-file.txt']);
    assert.equal(out.trim(), 'from-image');
    assert.deepEqual(JSON.parse(await d(['plugin', 'inspect', '-f', '{{json .Enabled}}', plugin])), true);
  });
});
