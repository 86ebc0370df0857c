// Reconciliation through containerd's API: an annotated container started while the daemon ran,
// stopped while it was down (its poststop hook could not reach it) and left in place, is captured
// when the daemon starts again with --containerd-socket. A container the daemon never prepared is not.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO, currentSnapshot, sleep, tempDir, uniq, waitForSnapshot } from '../oci/helpers.js';
import { ctr, firstNode, startDaemon, type Daemon } from './helpers.js';

const WRAPPER = join(REPO, 'hooks', 'layerkeep-runc');

describe('containerd reconciliation at daemon start', () => {
  const node = firstNode();
  const storeDir = join(tempDir('layerkeep-ctrd-rec-'), 'store');
  const stateDir = tempDir('layerkeep-ctrd-rec-state-');
  let daemon: Daemon | undefined;
  const ids: string[] = [];
  before(async () => {
    daemon = await startDaemon(node, storeDir, stateDir, [`--containerd-socket=${node.socket}`]);
  });
  after(async () => {
    await daemon?.stop();
    for (const id of ids) {
      await ctr(node, 'default', ['tasks', 'delete', '-f', id]);
      await ctr(node, 'default', ['containers', 'rm', id]);
    }
  });

  it('captures a container that stopped while the daemon was down', async () => {
    const key = uniq('rec');
    const id = uniq('rec');
    ids.push(id);
    const started = await ctr(node, 'default', ['run', '-d', '--runc-binary', WRAPPER, '--annotation', `io.layerkeep.key=${key}`, node.image, id,
      'sh', '-c', 'echo while-down > /root/late; trap "exit 0" TERM; while :; do sleep 1 & wait $!; done']);
    assert.equal(started.code, 0, started.stderr);
    // the container has written its file
    for (let i = 0; ; i++) {
      const r = await ctr(node, 'default', ['tasks', 'exec', '--exec-id', uniq('x'), id, 'cat', '/root/late']);
      if (r.stdout === 'while-down\n') break;
      assert.ok(i < 300, `the container did not write its file: ${r.stderr}`);
      await sleep(100);
    }
    await daemon!.stop();
    daemon = undefined;
    // stop and delete the task (the container and its snapshot stay): poststop cannot reach the daemon
    await ctr(node, 'default', ['tasks', 'kill', id]);
    for (let i = 0; ; i++) {
      const r = await ctr(node, 'default', ['tasks', 'ls']);
      if (!new RegExp(`^${id}\\s+\\d+\\s+RUNNING`, 'm').test(r.stdout)) break;
      assert.ok(i < 300, 'the task did not stop');
      await sleep(100);
    }
    await ctr(node, 'default', ['tasks', 'delete', id]);
    assert.equal(currentSnapshot(storeDir, `ctrd.default.${key}`), '', 'nothing was captured while the daemon was down');
    // a container that was created but never started (never prepared by the daemon) is left alone
    const idle = uniq('idle');
    const idleKey = uniq('idle');
    ids.push(idle);
    const created = await ctr(node, 'default', ['containers', 'create', '--annotation', `io.layerkeep.key=${idleKey}`, node.image, idle, 'true']);
    assert.equal(created.code, 0, created.stderr);

    daemon = await startDaemon(node, storeDir, stateDir, [`--containerd-socket=${node.socket}`]);
    await waitForSnapshot(storeDir, `ctrd.default.${key}`);
    assert.match(daemon.logs(), /captured a container that stopped while the daemon was down/);
    for (let i = 0; !/containerd reconciliation done/.test(daemon.logs()); i++) {
      assert.ok(i < 600, 'the reconciliation pass did not finish');
      await sleep(100);
    }
    assert.match(daemon.logs(), /"captured":1\b/);
    assert.equal(currentSnapshot(storeDir, `ctrd.default.${idleKey}`), '');

    // and the next container of the key sees the file
    const next = await ctr(node, 'default', ['run', '--rm', '--runc-binary', WRAPPER, '--annotation', `io.layerkeep.key=${key}`, node.image, uniq('next'), 'cat', '/root/late']);
    assert.equal(next.code, 0, next.stderr);
    assert.equal(next.stdout, 'while-down\n');
  });
});
