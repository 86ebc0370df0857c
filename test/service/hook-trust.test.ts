// Docker-mode hooks against hostile OCI state: the real hooks/layerkeep-hook and a real daemon,
// with two "Docker containers" made of what dockerd leaves on disk (config.v2.json, the layer
// db's mount-id, a real overlay mount at <layer>/merged, containerd's bundle named after the id).
// A container's annotations sit inside the OCI state on the hook's stdin; none of them may make
// the daemon capture another container's upper dir or write another container's key.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { createClient, unary, type LayerKeepClient } from '../../src/service/client.js';
import { currentSnapshot, HOOK, run, startDaemon, tempDir, waitForSnapshot, type Daemon } from '../oci/helpers.js';

interface FakeContainer { id: string; key: string; bundle: string; merged: string; upper: string; state(extra?: object): string }

const hex = (): string => randomBytes(32).toString('hex');
const mounts: string[] = [];
after(() => {
  for (const m of mounts.reverse()) execFileSync('umount', ['-l', m]);
});

function dockerContainer(dockerRoot: string, base: string, lower: string, name: string, key: string): FakeContainer {
  const id = hex();
  const mountId = hex();
  // dockerd's overlay2 layout: <root>/overlay2/<mount-id>/{diff,work,merged}
  const layer = join(dockerRoot, 'overlay2', mountId);
  const [upper, work, merged] = ['diff', 'work', 'merged'].map((d) => join(layer, d));
  for (const d of [upper, work, merged]) mkdirSync(d, { recursive: true });
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
  mounts.push(merged);
  mkdirSync(join(dockerRoot, 'image', 'overlay2', 'layerdb', 'mounts', id), { recursive: true });
  writeFileSync(join(dockerRoot, 'image', 'overlay2', 'layerdb', 'mounts', id, 'mount-id'), mountId);
  mkdirSync(join(dockerRoot, 'containers', id), { recursive: true });
  writeFileSync(join(dockerRoot, 'containers', id, 'config.v2.json'), JSON.stringify({
    ID: id, Name: `/${name}`, Image: 'sha256:' + 'c'.repeat(64), Driver: 'overlay2', Config: { Labels: key ? { 'layerkeep.key': key } : { other: 'layerkeep.key' }, Image: 'busybox' },
  }));
  const bundle = join(base, 'bundles', id);
  mkdirSync(bundle, { recursive: true });
  writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', root: { path: merged }, mounts: [] }));
  return {
    id, key, bundle, merged, upper,
    // runc's field order: the annotations come last, after id and bundle.
    state: (annotations = {}) => JSON.stringify({ ociVersion: '1.0.2', id, status: 'stopped', pid: 0, bundle, annotations }),
  };
}

describe('Docker hooks with hostile OCI state', () => {
  let daemon: Daemon;
  let base: string;
  let dockerRoot: string;
  let victim: FakeContainer;
  let attacker: FakeContainer;
  let client: LayerKeepClient;

  before(async () => {
    base = tempDir('layerkeep-trust-');
    dockerRoot = join(base, 'docker');
    const lower = join(base, 'lower');
    mkdirSync(join(lower, 'etc'), { recursive: true });
    writeFileSync(join(lower, 'etc', 'image-file'), 'image\n');
    victim = dockerContainer(dockerRoot, base, lower, 'victim', 'victim-db');
    attacker = dockerContainer(dockerRoot, base, lower, 'attacker', 'attacker-db');
    writeFileSync(join(victim.merged, 'secret'), 'victim secret\n');
    writeFileSync(join(attacker.merged, 'mine'), 'attacker data\n');
    daemon = await startDaemon([`--docker-root=${dockerRoot}`, `--capture-dir=${join(dockerRoot, 'overlay2', 'layerkeep-captures')}`]);
    client = createClient({ address: daemon.socket });
  });
  after(async () => {
    client?.close();
    await daemon?.stop();
  });

  const hook = (c: FakeContainer, stdin: string, containerId = c.id) =>
    run(HOOK, ['poststop', `--container-id=${containerId}`, ...daemon.hookArgs], { input: stdin });

  /** The files of a key's current snapshot, restored through the daemon into a fresh dir. */
  async function filesOf(key: string): Promise<string[]> {
    const dir = tempDir('layerkeep-trust-restore-');
    await new Promise<void>((resolve, reject) => {
      const s = client.Restore({ key, dir: join(dir, 'out') });
      s.on('data', () => undefined);
      s.on('error', reject);
      s.on('end', () => resolve());
    });
    const out: string[] = [];
    const walk = (d: string, rel: string): void => {
      for (const n of readdirSync(d, { withFileTypes: true })) {
        if (n.isDirectory()) walk(join(d, n.name), `${rel}${n.name}/`);
        else out.push(`${rel}${n.name}`);
      }
    };
    walk(join(dir, 'out'), '');
    return out.sort();
  }

  it('keeps every container on its own key when the state is honest', async () => {
    const v = await hook(victim, victim.state());
    assert.equal(v.code, 0, v.stderr);
    await waitForSnapshot(daemon.storeDir, victim.key);
    assert.deepEqual(await filesOf(victim.key), ['secret']);
  });

  it('a trailing annotation bundle=<victim bundle> does not capture the victim\'s upper dir under the attacker\'s key', async () => {
    const before = currentSnapshot(daemon.storeDir, attacker.key);
    const r = await hook(attacker, attacker.state({ bundle: victim.bundle }));
    assert.equal(r.code, 0, r.stderr);
    await waitForSnapshot(daemon.storeDir, attacker.key, before);
    const files = await filesOf(attacker.key);
    assert.deepEqual(files, ['mine'], 'the attacker\'s key must hold the attacker\'s own upper dir');
  });

  it('a trailing annotation id=<victim id> does not make the attacker\'s layer the victim\'s snapshot', async () => {
    const victimSnap = currentSnapshot(daemon.storeDir, victim.key);
    const attackerSnap = currentSnapshot(daemon.storeDir, attacker.key);
    writeFileSync(join(attacker.merged, 'mine'), 'attacker data, second run\n');
    const r = await hook(attacker, attacker.state({ id: victim.id }));
    assert.equal(r.code, 0, r.stderr);
    await waitForSnapshot(daemon.storeDir, attacker.key, attackerSnap);
    assert.equal(currentSnapshot(daemon.storeDir, victim.key), victimSnap, 'the victim\'s current snapshot was replaced');
    assert.deepEqual(await filesOf(victim.key), ['secret']);
  });

  it('refuses, with the reason, a request whose id, bundle and root disagree', async () => {
    const victimSnap = currentSnapshot(daemon.storeDir, victim.key);
    // The attacker's id with the victim's bundle.
    const wrongBundle = await hook(attacker, JSON.stringify({ ociVersion: '1.0.2', id: attacker.id, status: 'stopped', bundle: victim.bundle }));
    assert.equal(wrongBundle.code, 1);
    assert.match(wrongBundle.stderr, new RegExp(`refused: bundle ${victim.bundle} is not the bundle of container ${attacker.id}`));
    // The hook's own id (from runc's arguments) with the victim's state.
    const wrongState = await hook(attacker, victim.state(), attacker.id);
    assert.equal(wrongState.code, 1);
    assert.match(wrongState.stderr, new RegExp(`refused: the request for container ${attacker.id} carries the OCI state of "${victim.id}"`));
    // A bundle named after the attacker whose root is the victim's overlay.
    const forged = join(base, 'forged', attacker.id);
    mkdirSync(forged, { recursive: true });
    writeFileSync(join(forged, 'config.json'), JSON.stringify({ root: { path: victim.merged } }));
    const wrongRoot = await hook(attacker, JSON.stringify({ id: attacker.id, status: 'stopped', bundle: forged }));
    assert.equal(wrongRoot.code, 1);
    assert.match(wrongRoot.stderr, new RegExp(`refused: the root ${victim.merged} in bundle ${forged} is not container ${attacker.id}'s`));
    assert.match(daemon.logs(), /hook request refused.*is not the bundle of container/);
    assert.equal(currentSnapshot(daemon.storeDir, victim.key), victimSnap);
  });

  it('leaves a container that dockerd\'s record does not opt in alone, even when its request does not verify', async () => {
    const plain = dockerContainer(dockerRoot, base, join(base, 'lower'), 'plain', '');
    const refs = readdirSync(join(daemon.storeDir, 'refs')).sort();
    const r = await hook(plain, JSON.stringify({ id: plain.id, status: 'stopped', bundle: victim.bundle }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual(readdirSync(join(daemon.storeDir, 'refs')).sort(), refs);
  });

  it('takes no facts from a gRPC hook call: labels and upper dir are the daemon\'s own, a call without OCI state is refused', async () => {
    const victimSnap = currentSnapshot(daemon.storeDir, victim.key);
    const claims = { containerId: attacker.id, runtime: 'docker', name: 'victim', labels: { 'layerkeep.key': victim.key }, upperDir: victim.upper };
    await assert.rejects(unary(client, client.CaptureStop as never, claims), (e: grpc.ServiceError) => e.code === 7 && /must carry the container's OCI state/.test(e.details));
    const before = currentSnapshot(daemon.storeDir, attacker.key);
    writeFileSync(join(attacker.merged, 'mine'), 'attacker data, third run\n');
    const r = await unary<object, { action: string; key: string }>(client, client.CaptureStop as never, { ...claims, ociState: attacker.state() });
    assert.equal(r.action, 'captured');
    assert.equal(r.key, attacker.key);
    await waitForSnapshot(daemon.storeDir, attacker.key, before);
    assert.equal(currentSnapshot(daemon.storeDir, victim.key), victimSnap);
    assert.ok(existsSync(join(victim.upper, 'secret')));
    assert.equal(readFileSync(join(victim.upper, 'secret'), 'utf8'), 'victim secret\n');
  });
});
