// Keys of containers run by containerd: scoped to the containerd namespace (ctr) or the pod's
// Kubernetes namespace (CRI); sandboxes never kept; only containerd's bundles are recognised.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { containerdNamespace, containerdView } from '../../src/runtime/containerd.js';
import { withContainerdHooks } from '../../src/runtime/containerd-wrapper.js';
import { loadConfig } from '../../src/service/config.js';

const B = '/run/containerd/io.containerd.runtime.v2.task';
const cri = (extra: Record<string, string>) => ({
  'io.kubernetes.cri.container-type': 'container',
  'io.kubernetes.cri.sandbox-namespace': 'shop',
  'io.kubernetes.cri.sandbox-name': 'web-0',
  'io.kubernetes.cri.container-name': 'app',
  ...extra,
});

describe('containerd keys', () => {
  it('recognises only bundles of containerd\'s v2 shim, named after the container', () => {
    assert.equal(containerdNamespace(`${B}/default/c1`, 'c1'), 'default');
    assert.equal(containerdNamespace(`${B}/default/c1`, 'c2'), null);
    assert.equal(containerdNamespace('/var/lib/bundles/c1', 'c1'), null);
    assert.equal(containerdView('c1', '/srv/c1', { 'io.layerkeep.key': 'k' }), null);
  });

  it('scopes ctr keys to the containerd namespace', () => {
    assert.equal(containerdView('c1', `${B}/default/c1`, { 'io.layerkeep.key': 'db' })!.labels['layerkeep.key'], 'ctrd.default.db');
    assert.equal(containerdView('c1', `${B}/team-a/c1`, { 'io.layerkeep.enable': 'true' })!.labels['layerkeep.key'], 'ctrd.team-a.c1');
    assert.deepEqual(containerdView('c1', `${B}/default/c1`, {})!.labels, {});
    assert.deepEqual(containerdView('c1', `${B}/default/c1`, { 'io.layerkeep.enable': 'false' })!.labels, {});
    assert.throws(() => containerdView('c1', `${B}/a.b/c1`, { 'io.layerkeep.key': 'k' }), /namespace "a.b" .* cannot scope/);
    assert.throws(() => containerdView('c1', `${B}/default/c1`, { 'io.layerkeep.key': '../x' }), /io.layerkeep.key\) is unusable: invalid key/);
  });

  it('scopes CRI keys to the pod namespace; enable derives pod.container; per-container keys win', () => {
    const v = (a: Record<string, string>) => containerdView('x', `${B}/k8s.io/x`, cri(a))!.labels['layerkeep.key'];
    assert.equal(v({ 'io.layerkeep.key': 'data' }), 'k8s.shop.data');
    assert.equal(v({ 'io.layerkeep.enable': 'true' }), 'k8s.shop.web-0.app');
    assert.equal(v({ 'io.layerkeep.key': 'data', 'io.layerkeep.key.app': 'mine' }), 'k8s.shop.mine');
    assert.equal(v({ 'io.layerkeep.key': 'data', 'io.layerkeep.key.other': 'theirs' }), 'k8s.shop.data');
    assert.equal(containerdView('x', `${B}/k8s.io/x`, cri({ 'io.layerkeep.on-restore-error': 'start' }))!.labels['layerkeep.on-restore-error'], 'start');
  });

  it('never keeps a pod sandbox, and adds no hooks to one', () => {
    const sandbox = cri({ 'io.kubernetes.cri.container-type': 'sandbox', 'io.layerkeep.key': 'data' });
    assert.deepEqual(containerdView('x', `${B}/k8s.io/x`, sandbox)!.labels, {});
    assert.equal(withContainerdHooks({ annotations: sandbox }, '/h', [], { createRuntime: 1, poststop: 1 }), null);
    assert.equal(withContainerdHooks({ annotations: {} }, '/h', [], { createRuntime: 1, poststop: 1 }), null);
    const spec = withContainerdHooks({ annotations: { 'io.layerkeep.key': 'k' }, hooks: { poststop: [{ path: '/other' }] } }, '/h', ['--node=/n'], { createRuntime: 600, poststop: 25 })!;
    assert.deepEqual(spec.hooks!.createRuntime, [{ path: '/h', args: ['layerkeep-hook', 'oci', '--node=/n'], timeout: 600 }]);
    assert.deepEqual(spec.hooks!.poststop!.map((h) => h.path), ['/other', '/h']);
  });

  it('puts the capture dir on containerd\'s snapshotter file system when Docker is off', () => {
    assert.equal(loadConfig(['--docker=off', '--containerd-root=/data/ctrd/'], {}).config['capture-dir'], '/data/ctrd/io.containerd.snapshotter.v1.overlayfs/layerkeep-captures');
    assert.equal(loadConfig([], {}).config['capture-dir'], '/var/lib/docker/overlay2/layerkeep-captures');
  });
});
