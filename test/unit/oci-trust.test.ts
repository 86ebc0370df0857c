// What the daemon believes about an OCI-mode container (hook-verify.ts, oci-facts.ts), from files
// and a mount table alone: keys from pod annotations are scoped to the pod's namespace, the image
// is the runtime's (never a user annotation), and containers/storage's record must agree with the
// state, the bundle and the mounted overlay.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifiedOciFacts, HookRefused } from '../../src/runtime/hook-verify.js';
import { containerKey } from '../../src/runtime/opt-in.js';

const base = mkdtempSync(join(tmpdir(), 'layerkeep-ocitrust-'));
after(() => rmSync(base, { recursive: true, force: true }));
const hex = (c: string): string => c.repeat(64);

/** A containers/storage graph with one container; returns its state and a mount table showing its overlay. */
function storageContainer(name: string, annotations: Record<string, string>, opts: { recordLayer?: string; listed?: boolean; mountedLayer?: string } = {}) {
  const graph = join(base, name);
  const id = hex('1');
  const layer = hex('2');
  const bundle = join(graph, 'overlay-containers', id, 'userdata');
  mkdirSync(bundle, { recursive: true });
  const merged = join(graph, 'overlay', layer, 'merged');
  writeFileSync(join(bundle, 'config.json'), JSON.stringify({ root: { path: merged }, annotations }));
  writeFileSync(join(graph, 'overlay-containers', 'containers.json'), JSON.stringify(opts.listed === false ? [] : [{ id, layer: opts.recordLayer ?? layer, image: hex('9') }]));
  const upper = join(graph, 'overlay', opts.mountedLayer ?? layer, 'diff');
  const mountinfo = `100 50 0:60 / ${merged} rw - overlay overlay rw,lowerdir=/l,upperdir=${upper},workdir=/w\n`;
  const state = (status = 'creating') => JSON.stringify({ ociVersion: '1.0.2', id, status, bundle, annotations });
  return { id, state, mountinfo, upper };
}

const verify = (mountinfoText: string, keyScope: 'namespace' | 'none' = 'namespace') => ({ dockerRoot: '/nonexistent', keyScope, mountinfoText });

describe('OCI containers: key scope', () => {
  const pod = (ns?: string) => ({
    'io.layerkeep.key': 'db', 'io.kubernetes.pod.name': 'web-0', 'io.kubernetes.container.name': 'app',
    ...(ns === undefined ? {} : { 'io.kubernetes.pod.namespace': ns }),
  });

  it('prefixes a key from pod annotations with the pod namespace, so tenants cannot name each other\'s keys', () => {
    const a = storageContainer('ns-a', pod('tenant-a'));
    const b = storageContainer('ns-b', pod('tenant-b'));
    assert.equal(containerKey(verifiedOciFacts(verify(a.mountinfo), a.state()).facts), 'tenant-a.db');
    assert.equal(containerKey(verifiedOciFacts(verify(b.mountinfo), b.state()).facts), 'tenant-b.db');
  });

  it('keeps keys as written under key-scope=none, and for containers not run for a pod (Podman)', () => {
    const a = storageContainer('ns-none', pod('tenant-a'));
    assert.equal(containerKey(verifiedOciFacts(verify(a.mountinfo, 'none'), a.state()).facts), 'db');
    const p = storageContainer('podman', { 'io.layerkeep.key': 'db', 'io.kubernetes.cri-o.TTY': 'false', 'io.container.manager': 'libpod' });
    assert.equal(containerKey(verifiedOciFacts(verify(p.mountinfo), p.state()).facts), 'db');
  });

  it('refuses a pod container without a usable namespace', () => {
    const a = storageContainer('ns-missing', pod());
    assert.throws(() => verifiedOciFacts(verify(a.mountinfo), a.state()), /run by Kubernetes but has no usable pod namespace/);
    const b = storageContainer('ns-bad', pod('../x'));
    assert.throws(() => verifiedOciFacts(verify(b.mountinfo), b.state()), /no usable pod namespace/);
  });
});

describe('OCI containers: image identity', () => {
  it('takes CRI-O\'s image, never io.layerkeep.image', () => {
    const c = storageContainer('crio-image', { 'io.layerkeep.key': 'k', 'io.layerkeep.image': 'sha256:' + hex('a'), 'io.kubernetes.cri-o.ImageRef': 'sha256:' + hex('b'), 'io.kubernetes.cri-o.ImageName': 'app:2' });
    assert.deepEqual(verifiedOciFacts(verify(c.mountinfo), c.state()).facts.image, { id: 'sha256:' + hex('b'), name: 'app:2' });
  });

  it('takes containers/storage\'s record of the image for Podman, whatever the annotation says', () => {
    const c = storageContainer('podman-image', { 'io.layerkeep.key': 'k', 'io.layerkeep.image': 'sha256:' + hex('a') });
    assert.equal(verifiedOciFacts(verify(c.mountinfo), c.state()).facts.image.id, 'sha256:' + hex('9'));
  });
});

describe('OCI containers: containers/storage must agree', () => {
  it('accepts a container whose record, bundle and mounted upper dir agree', () => {
    const c = storageContainer('agree', { 'io.layerkeep.key': 'k' });
    const v = verifiedOciFacts(verify(c.mountinfo), c.state('stopped'));
    assert.equal(v.stage, 'poststop');
    assert.equal(v.facts.upperDir, c.upper);
  });

  it('refuses an id the record does not hold, a layer it does not name, or a mount whose upper dir is another layer\'s', () => {
    const unlisted = storageContainer('unlisted', { 'io.layerkeep.key': 'k' }, { listed: false });
    assert.throws(() => verifiedOciFacts(verify(unlisted.mountinfo), unlisted.state()), (e: Error) => e instanceof HookRefused && /is not in .*containers\.json/.test(e.message));
    const other = storageContainer('other-layer', { 'io.layerkeep.key': 'k' }, { recordLayer: hex('3') });
    assert.throws(() => verifiedOciFacts(verify(other.mountinfo), other.state()), /refused: the root .* is not its layer's/);
    const foreign = storageContainer('foreign-upper', { 'io.layerkeep.key': 'k' }, { mountedLayer: hex('4') });
    assert.throws(() => verifiedOciFacts(verify(foreign.mountinfo), foreign.state()), /refused: the upper dir .* is not its layer's/);
  });

  it('takes the stage from the state\'s status, not from an annotation, and refuses ids that are not plain names', () => {
    const c = storageContainer('status', { 'io.layerkeep.key': 'k', status: 'stopped' });
    assert.equal(verifiedOciFacts(verify(c.mountinfo), c.state('creating')).stage, 'createRuntime');
    const text = JSON.stringify({ ...JSON.parse(c.state()), id: '../../etc' });
    assert.throws(() => verifiedOciFacts(verify(c.mountinfo), text), /not a usable container id/);
  });
});
