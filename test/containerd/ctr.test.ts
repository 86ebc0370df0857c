// `ctr run` through containerd's runc shim with --runc-binary hooks/layerkeep-runc: a container
// annotated io.layerkeep.key keeps what it wrote and deleted across `--rm`, under a key scoped to
// its containerd namespace; an unannotated container never reaches layerkeep.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, refNames, tempDir, uniq, waitForSnapshot } from '../oci/helpers.js';
import { ctr, firstNode, startDaemon, type Daemon } from './helpers.js';

const WRAPPER = join(REPO, 'hooks', 'layerkeep-runc');

describe('ctr run with layerkeep-runc as the runc binary', () => {
  const node = firstNode();
  const storeDir = join(tempDir('layerkeep-ctrd-store-'), 'store');
  let daemon: Daemon;
  before(async () => {
    daemon = await startDaemon(node, storeDir);
  });
  after(async () => {
    await daemon?.stop();
  });

  const ctrRun = (id: string, args: string[], script: string) =>
    ctr(node, 'default', ['run', '--rm', '--runc-binary', WRAPPER, ...args, node.image, id, 'sh', '-c', script]);

  it('brings back what a removed container wrote and deleted in the next container of the same key', async () => {
    const key = uniq('ctr');
    const first = await ctrRun(uniq('c1'), ['--annotation', `io.layerkeep.key=${key}`],
      'echo kept > /root/note && rm /etc/image-file.txt && rm /srv/image-dir/a.txt && echo wrote');
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, 'wrote\n');
    // scoped to the containerd namespace
    await waitForSnapshot(storeDir, `ctrd.default.${key}`);
    assert.ok(!refNames(storeDir).includes(key), 'the bare annotation value is not a key');
    // the stop-time capture was staged on containerd's snapshotter file system (the default capture dir)
    assert.ok(existsSync(join(node.root, 'io.containerd.snapshotter.v1.overlayfs', 'layerkeep-captures')));

    const second = await ctrRun(uniq('c2'), ['--annotation', `io.layerkeep.key=${key}`],
      'cat /root/note; ls /etc/image-file.txt 2>/dev/null || echo image-file-gone; ls /srv/image-dir');
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, 'kept\nimage-file-gone\nb.txt\n');
  });

  it('io.layerkeep.enable=true keeps the container under its id in the namespace', async () => {
    const id = uniq('en');
    const r = await ctrRun(id, ['--annotation', 'io.layerkeep.enable=true'], 'echo on > /root/on');
    assert.equal(r.code, 0, r.stderr);
    await waitForSnapshot(storeDir, `ctrd.default.${id}`);
    const again = await ctrRun(id, ['--annotation', 'io.layerkeep.enable=true'], 'cat /root/on');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, 'on\n');
  });

  it('leaves an unannotated container alone: no hooks, no snapshot, no daemon call', async () => {
    const id = uniq('plain');
    const refs = refNames(storeDir);
    const logLength = daemon.logs().length;
    const r = await ctr(node, 'default', ['run', '--runc-binary', WRAPPER, node.image, id, 'sh', '-c', 'echo mine > /root/own; echo ok']);
    try {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'ok\n');
      // its own layer is still in its snapshot (containerd keeps it until the container is removed)
      const snaps = join(node.root, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots');
      const owners = readdirSync(snaps).filter((n) => existsSync(join(snaps, n, 'fs', 'root', 'own')));
      assert.equal(owners.length, 1, 'the container kept its own upper dir');
      assert.deepEqual(refNames(storeDir), refs);
      assert.doesNotMatch(daemon.logs().slice(logLength), new RegExp(id));
    } finally {
      await ctr(node, 'default', ['containers', 'rm', id]);
    }
  });
});
