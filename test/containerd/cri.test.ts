// The CRI path, driven with the calls the kubelet makes: a host-network pod under the runtime
// handler "layerkeep" (hooks/layerkeep-runc as the runc binary), pod annotation io.layerkeep.key.
// The container's writable layer survives pod deletion and comes back in a new pod on a second
// node (its own containerd root and layerkeep state, the same store); the sandbox is never kept;
// with the daemon down, StartContainer fails and says why.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { refNames, tempDir, uniq, waitForSnapshot } from '../oci/helpers.js';
import { containerConfig, criClient, deletePod, podConfig, waitExited, type CriClient } from './cri-client.js';
import { firstNode, startDaemon, startNode, type Daemon, type Node } from './helpers.js';

const HANDLER = 'layerkeep';

describe('CRI pods under the layerkeep runtime handler', () => {
  const node1 = firstNode();
  const storeDir = join(tempDir('layerkeep-cri-store-'), 'store');
  let daemon1: Daemon | undefined;
  let cri1: CriClient;
  let node2: (Node & { stop(): Promise<void> }) | undefined;
  let daemon2: Daemon | undefined;
  let cri2: CriClient | undefined;
  const key = uniq('data');

  before(async () => {
    daemon1 = await startDaemon(node1, storeDir);
    cri1 = criClient(node1.socket);
  });
  after(async () => {
    cri1?.close();
    cri2?.close();
    await daemon1?.stop();
    await daemon2?.stop();
    await node2?.stop();
  });

  /** One pod with one container that runs `script` to its end; returns the ids and the exit status. */
  async function runPod(cri: CriClient, image: string, ns: string, annotations: Record<string, string>, script: string, mounts: { container_path: string; host_path: string }[] = []) {
    const pod = podConfig(uniq('web'), ns, annotations);
    const { pod_sandbox_id: podId } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod, runtime_handler: HANDLER });
    const { container_id: id } = await cri.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config: containerConfig('app', image, script, mounts), sandbox_config: pod });
    return { podId, id, pod };
  }

  it('keeps what a pod\'s container wrote and deleted when the pod is deleted; the sandbox is never kept', async () => {
    const logLength = daemon1!.logs().length;
    const { podId, id } = await runPod(cri1, node1.image, 'shop', { 'io.layerkeep.key': key },
      'echo kept > /root/note && rm /etc/image-file.txt && rm /srv/image-dir/a.txt');
    // The pod annotation reached the sandbox's spec (pod_annotations), yet it got no hooks.
    const sandboxSpec = JSON.parse(readFileSync(join(node1.dir, 'state', 'io.containerd.runtime.v2.task', 'k8s.io', podId, 'config.json'), 'utf8')) as { annotations: Record<string, string>; hooks?: unknown };
    assert.equal(sandboxSpec.annotations['io.layerkeep.key'], key);
    assert.equal(sandboxSpec.annotations['io.kubernetes.cri.container-type'], 'sandbox');
    assert.equal(sandboxSpec.hooks, undefined);

    await cri1.call('StartContainer', { container_id: id });
    const status = await waitExited(cri1, id);
    assert.equal(status.exit_code, 0, status.message);
    await deletePod(cri1, podId, [id]);
    await waitForSnapshot(storeDir, `k8s.shop.${key}`);
    assert.deepEqual(refNames(storeDir), [`k8s.shop.${key}`], 'one key, scoped to the pod namespace; nothing for the sandbox');
    const logs = daemon1!.logs().slice(logLength);
    assert.match(logs, new RegExp(id));
    assert.doesNotMatch(logs, new RegExp(podId), 'the daemon never heard of the sandbox');
  });

  it('brings the state back in a new pod with the same annotation on a second node, and only in the same namespace', async () => {
    node2 = await startNode(join(process.env.TMPDIR ?? '/tmp', 'layerkeep-containerd2'));
    daemon2 = await startDaemon(node2, storeDir);
    cri2 = criClient(node2.socket);
    const out = tempDir('layerkeep-cri-out-');
    const script = '{ cat /root/note 2>/dev/null || echo no-note; ls /etc/image-file.txt 2>/dev/null || echo image-file-gone; ls /srv/image-dir; } > /out/result';

    const same = await runPod(cri2, node2.image, 'shop', { 'io.layerkeep.key': key }, script, [{ container_path: '/out', host_path: out }]);
    await cri2.call('StartContainer', { container_id: same.id });
    assert.equal((await waitExited(cri2, same.id)).exit_code, 0);
    assert.equal(readFileSync(join(out, 'result'), 'utf8'), 'kept\nimage-file-gone\nb.txt\n');
    await deletePod(cri2, same.podId, [same.id]);

    const other = await runPod(cri2, node2.image, 'other', { 'io.layerkeep.key': key }, script, [{ container_path: '/out', host_path: out }]);
    await cri2.call('StartContainer', { container_id: other.id });
    assert.equal((await waitExited(cri2, other.id)).exit_code, 0);
    assert.equal(readFileSync(join(out, 'result'), 'utf8'), 'no-note\n/etc/image-file.txt\na.txt\nb.txt\n', 'another namespace does not reach the key');
    await deletePod(cri2, other.podId, [other.id]);
  });

  it('fails StartContainer with the reason when the layerkeep daemon is down', async () => {
    await daemon1!.stop();
    daemon1 = undefined;
    const { podId, id } = await runPod(cri1, node1.image, 'shop', { 'io.layerkeep.key': uniq('down') }, 'echo never > /root/x');
    try {
      await assert.rejects(cri1.call('StartContainer', { container_id: id }), (e: Error) => {
        assert.match(e.message, /layerkeep: cannot restore the state of container shop\/[^ ]+\/app: the layerkeep daemon is not running \(no socket at /);
        assert.match(e.message, /the start is refused/);
        return true;
      });
    } finally {
      await cri1.call('RemoveContainer', { container_id: id }).catch(() => undefined);
      await cri1.call('StopPodSandbox', { pod_sandbox_id: podId });
      await cri1.call('RemovePodSandbox', { pod_sandbox_id: podId });
    }
  });
});
