// Podman with layerkeep's oci-hooks.d definition (installed by hooks/install-oci-hooks.sh into a
// test hooks dir, passed with --hooks-dir): `--annotation io.layerkeep.key=K` containers keep
// their state across `--rm`; containers without the annotation never reach layerkeep.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxRootfs, currentSnapshot, type Daemon, HOOK, mustRun, refNames, REPO, requireTool, run, startDaemon, tempDir, uniq, waitForSnapshot } from './helpers.js';

const podman = requireTool('podman', 'podman');
const IMAGE = 'localhost/layerkeep-oci-busybox:test';
// The VM's hard nofile limit (20000) is below Podman's default request.
const LIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

describe('Podman with layerkeep in oci-hooks.d', () => {
  let daemon: Daemon;
  let hooksDir: string;

  before(async () => {
    daemon = await startDaemon();
    const base = tempDir('layerkeep-podman-');
    hooksDir = join(base, 'hooks.d');
    await mustRun(join(REPO, 'hooks', 'install-oci-hooks.sh'), [`--hooks-dir=${hooksDir}`, `--hook=${HOOK}`, '--', ...daemon.hookArgs]);
    if ((await run(podman, ['image', 'exists', IMAGE])).code !== 0) {
      const root = busyboxRootfs(join(base, 'rootfs'));
      const tar = join(base, 'rootfs.tar');
      await mustRun('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
      await mustRun(podman, ['import', '--change', 'CMD ["/bin/sh"]', '--change', 'ENV PATH=/bin', tar, IMAGE]);
    }
  });
  after(async () => {
    await daemon?.stop();
  });

  const podmanRun = (args: string[]) => run(podman, ['--hooks-dir', hooksDir, 'run', ...LIMITS, ...args]);

  it('installs one hooks.d file for both stages, filtered on the annotation', () => {
    const def = JSON.parse(readFileSync(join(hooksDir, 'layerkeep.json'), 'utf8')) as { version: string; hook: { path: string; args: string[] }; when: { annotations: Record<string, string> }; stages: string[] };
    assert.equal(def.version, '1.0.0');
    assert.equal(def.hook.path, HOOK);
    assert.deepEqual(def.hook.args.slice(0, 2), ['layerkeep-hook', 'oci']);
    assert.deepEqual(def.stages, ['createRuntime', 'poststop']);
    assert.deepEqual(Object.keys(def.when.annotations), ['^io\\.layerkeep\\.key(\\..+)?$']);
  });

  it('brings back what a --rm container wrote and deleted in the next container of the same key', async () => {
    const key = uniq('podman');
    const first = await podmanRun(['--rm', '--annotation', `io.layerkeep.key=${key}`, IMAGE, 'sh', '-c',
      'echo kept > /root/note && rm /etc/image-file.txt && rm /srv/image-dir/a.txt && echo wrote']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, 'wrote\n');
    await waitForSnapshot(daemon.storeDir, key);

    const second = await podmanRun(['--rm', '--annotation', `io.layerkeep.key=${key}`, IMAGE, 'sh', '-c',
      'cat /root/note; ls /etc/image-file.txt 2>/dev/null || echo image-file-gone; ls /srv/image-dir']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, 'kept\nimage-file-gone\nb.txt\n');
  });

  it('keeps containers apart when one carries annotations id=<other id> and bundle=<other bundle>', async () => {
    const victimKey = uniq('victim');
    const victimName = uniq('victim');
    try {
      const v = await podmanRun(['--name', victimName, '--annotation', `io.layerkeep.key=${victimKey}`, IMAGE, 'sh', '-c', 'echo secret > /root/secret']);
      assert.equal(v.code, 0, v.stderr);
      const victimSnap = await waitForSnapshot(daemon.storeDir, victimKey);
      const victimId = (await mustRun(podman, ['inspect', '--format', '{{.Id}}', victimName])).stdout.trim();
      const graph = (await mustRun(podman, ['info', '--format', '{{.Store.GraphRoot}}'])).stdout.trim();
      const victimBundle = join(graph, 'overlay-containers', victimId, 'userdata');

      const attackerKey = uniq('attacker');
      const a = await podmanRun(['--rm', '--annotation', `io.layerkeep.key=${attackerKey}`, '--annotation', `id=${victimId}`,
        '--annotation', `bundle=${victimBundle}`, IMAGE, 'sh', '-c', 'echo mine > /root/mine']);
      assert.equal(a.code, 0, `the attacker's own start and stop must work: ${a.stderr}`);
      await waitForSnapshot(daemon.storeDir, attackerKey);
      assert.equal(currentSnapshot(daemon.storeDir, victimKey), victimSnap, 'the victim\'s snapshot was replaced');
      const check = await podmanRun(['--rm', '--annotation', `io.layerkeep.key=${attackerKey}`, IMAGE, 'ls', '/root']);
      assert.equal(check.code, 0, check.stderr);
      assert.equal(check.stdout, 'mine\n');
    } finally {
      await run(podman, ['rm', '-f', victimName]);
    }
  });

  it('leaves a container without the annotation alone: no hook call, no snapshot, its own layer intact', async () => {
    const name = uniq('plain');
    // ref names only: a `<key>.lock` file comes and goes while the previous test's capture publishes
    const refs = (): string[] => refNames(daemon.storeDir);
    const before = refs();
    const logLength = daemon.logs().length;
    try {
      const r = await podmanRun(['--name', name, IMAGE, 'sh', '-c', 'echo mine > /root/own; echo ok']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'ok\n');
      const id = (await mustRun(podman, ['inspect', '--format', '{{.Id}}', name])).stdout.trim();
      const diff = await mustRun(podman, ['diff', name]);
      assert.match(diff.stdout, /\/root\/own/, 'the container keeps its own layer');
      assert.deepEqual(refs(), before);
      assert.doesNotMatch(daemon.logs().slice(logLength), new RegExp(id.slice(0, 12)));
    } finally {
      await run(podman, ['rm', '-f', name]);
    }
  });
});
