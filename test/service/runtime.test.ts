// The Docker integration's building blocks on real files, mounts and processes: mountinfo
// upperdir lookup, opt-in rules, hook injection by the runtime wrapper, upper-dir emptiness,
// and the capture journal (link copy, readers, resume after a crash).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lsetxattr, mknod } from '../../src/native/index.js';
import { overlayUpperDir, parseMountinfo, overlayOption } from '../../src/runtime/mountinfo.js';
import { containerKey } from '../../src/runtime/opt-in.js';
import { withLayerkeepHooks } from '../../src/runtime/oci.js';
import { firstUserEntry } from '../../src/runtime/upper-dir.js';
import { createCaptureManager, type CaptureRecord } from '../../src/runtime/capture.js';
import { checkImage } from '../../src/runtime/image-policy.js';
import { silentLogger } from '../../src/ops/context.js';
import { describeTree, treeList } from '../support/tree.js';
import { remountOverlay, tempDir } from '../support/scratch.js';

const WRAPPER = fileURLToPath(new URL('../../../hooks/layerkeep-runc', import.meta.url));
const tmp = tempDir;

describe('mountinfo', () => {
  it('finds the upperdir of a real overlay mount, escaped characters included', () => {
    const base = tmp('layerkeep mi ');
    for (const d of ['lower', 'up per', 'work', 'merged']) mkdirSync(join(base, d));
    remountOverlay({ lower: join(base, 'lower'), upper: join(base, 'up per'), work: join(base, 'work'), merged: join(base, 'merged') });
    assert.equal(overlayUpperDir(join(base, 'merged')), join(base, 'up per'));
    assert.throws(() => overlayUpperDir(join(base, 'lower')), /no mount at .*lower/);
  });

  it('parses option values with escaped commas', () => {
    const line = '36 25 0:32 / /m rw - overlay overlay rw,lowerdir=/l,upperdir=/a\\,b/up,workdir=/w\n';
    assert.equal(overlayOption(parseMountinfo(line)[0].superOptions, 'upperdir'), '/a,b/up');
  });
});

describe('opt-in', () => {
  it('uses the key label, then enable=true with the name, then name patterns', () => {
    assert.equal(containerKey({ name: 'web', labels: { 'layerkeep.key': 'db-data' } }), 'db-data');
    assert.equal(containerKey({ name: 'web', labels: { 'layerkeep.enable': 'true' } }), 'web');
    assert.equal(containerKey({ name: 'web', labels: {} }), null);
    assert.equal(containerKey({ name: 'pg-1', labels: {} }, ['pg-*']), 'pg-1');
    assert.equal(containerKey({ name: 'pg-1', labels: { 'layerkeep.enable': 'false' } }, ['pg-*']), null);
    assert.throws(() => containerKey({ name: 'x', labels: { 'layerkeep.key': '../etc' } }), /layerkeep key from label layerkeep.key is unusable: invalid key/);
  });

  it('image policy refuses, warns or allows a different image', () => {
    const a = { id: 'sha256:' + 'a'.repeat(64), name: 'app:1' };
    const b = { id: 'sha256:' + 'b'.repeat(64), name: 'app:2' };
    assert.deepEqual(checkImage('refuse', 'k', a, a), { ok: true });
    assert.equal(checkImage('refuse', 'k', a, b).ok, false);
    assert.match(checkImage('refuse', 'k', a, b).message!, /key k was snapshotted on image app:1 .* but the container runs app:2/);
    assert.equal(checkImage('warn', 'k', a, b).ok, true);
    assert.equal(checkImage('allow', 'k', a, b).message, undefined);
  });
});

describe('layerkeep-runc', () => {
  function fixture(labels: Record<string, string>, format: (spec: object) => string = (x) => JSON.stringify(x), hooks: Record<string, unknown> = { prestart: [{ path: '/usr/bin/docker-proxy', args: ['libnetwork-setkey'] }] }) {
    const root = tmp('layerkeep-wrap-');
    const id = 'a'.repeat(64);
    mkdirSync(join(root, 'docker', 'containers', id), { recursive: true });
    writeFileSync(join(root, 'docker', 'containers', id, 'config.v2.json'), JSON.stringify({ Name: '/web', Image: 'sha256:1', Config: { Labels: labels, Image: 'img' } }));
    mkdirSync(join(root, 'bundle'));
    const spec = { ociVersion: '1.0.2', root: { path: 'rootfs' }, hooks, process: { args: ['sh', '-c', 'echo "hooks":{} | ok'] } };
    writeFileSync(join(root, 'bundle', 'config.json'), format(spec));
    const run = (args: string[]) => execFileSync(WRAPPER, [`--layerkeep-runc=/bin/echo`, `--layerkeep-docker-root=${join(root, 'docker')}`, `--layerkeep-run-dir=${join(root, 'run')}`, `--layerkeep-node=${process.execPath}`, ...args], { encoding: 'utf8' });
    return { root, id, run, spec: () => JSON.parse(readFileSync(join(root, 'bundle', 'config.json'), 'utf8')) };
  }

  it('passes every call through to runc unchanged, without its own options', () => {
    const f = fixture({});
    assert.equal(f.run(['--root', '/run/x', '--log-format', 'json', 'state', 'abc']).trim(), '--root /run/x --log-format json state abc');
  });

  it('adds createRuntime and poststop hooks on create of a labelled container, keeping dockerd\'s own', () => {
    const f = fixture({ 'layerkeep.key': 'k' });
    const out = f.run(['--root', '/run/x', 'create', '--bundle', join(f.root, 'bundle'), '--pid-file', '/p', f.id]);
    assert.equal(out.trim(), `--root /run/x create --bundle ${join(f.root, 'bundle')} --pid-file /p ${f.id}`);
    const hooks = f.spec().hooks;
    assert.deepEqual(hooks.prestart, [{ path: '/usr/bin/docker-proxy', args: ['libnetwork-setkey'] }]);
    assert.equal(hooks.createRuntime.length, 1);
    assert.deepEqual(hooks.createRuntime[0].args.slice(0, 2), ['layerkeep-hook', 'createRuntime']);
    assert.ok(hooks.createRuntime[0].args.includes(`--docker-root=${join(f.root, 'docker')}`));
    assert.deepEqual(hooks.poststop[0].args.slice(0, 2), ['layerkeep-hook', 'poststop']);
    assert.equal(hooks.poststop[0].timeout, 25);
    // A second create of the same bundle does not stack hooks.
    f.run(['create', '--bundle', join(f.root, 'bundle'), f.id]);
    assert.equal(f.spec().hooks.createRuntime.length, 1);
  });

  for (const [what, format, hooks] of [
    ['compact JSON with empty hooks (sed path)', (x: object) => JSON.stringify(x), {}],
    ['compact JSON without hooks (sed path)', (x: object) => JSON.stringify(x), undefined],
    ['pretty-printed JSON (node path)', (x: object) => JSON.stringify(x, null, 2), { prestart: [{ path: '/x' }] }],
    ['someone else\'s poststop hook (node path merges)', (x: object) => JSON.stringify(x), { poststop: [{ path: '/other' }] }],
  ] as const) {
    it(`injects valid hooks into ${what}`, () => {
      const f = fixture({ 'layerkeep.enable': 'true' }, format, hooks as Record<string, unknown>);
      f.run(['create', '--bundle', join(f.root, 'bundle'), f.id]);
      const spec = f.spec();
      assert.equal(spec.process.args[2], 'echo "hooks":{} | ok');
      assert.equal(spec.hooks.createRuntime.length, 1);
      assert.equal(spec.hooks.createRuntime[0].timeout, 600);
      assert.ok(spec.hooks.createRuntime[0].args.includes(`--node=${process.execPath}`));
      const post = spec.hooks.poststop.map((h: { path: string }) => h.path);
      assert.deepEqual(post, (hooks as { poststop?: unknown[] } | undefined)?.poststop ? ['/other', spec.hooks.createRuntime[0].path] : [spec.hooks.createRuntime[0].path]);
      if ((hooks as { prestart?: unknown[] } | undefined)?.prestart) assert.deepEqual(spec.hooks.prestart, [{ path: '/x' }]);
    });
  }

  it('leaves unlabelled containers and managed plugins without hooks', () => {
    const plain = fixture({ other: 'label' });
    plain.run(['create', '--bundle', join(plain.root, 'bundle'), plain.id]);
    assert.equal(plain.spec().hooks.createRuntime, undefined);
    const plugin = fixture({ 'layerkeep.key': 'k' });
    plugin.run(['--root', '/run/docker/runtime-runc/plugins.moby', 'create', '--bundle', join(plugin.root, 'bundle'), plugin.id]);
    assert.equal(plugin.spec().hooks.createRuntime, undefined);
  });

  it('is steered by label names only: a label or env value "layerkeep.key" adds no hooks', () => {
    const f = fixture({ note: 'layerkeep.key', other: '"layerkeep.enable":"true"' });
    f.run(['create', '--bundle', join(f.root, 'bundle'), f.id]);
    assert.equal(f.spec().hooks.createRuntime, undefined);
  });

  it('names the container to its hooks by runc\'s own id argument, and ignores ids that are not Docker ids', () => {
    const f = fixture({ 'layerkeep.key': 'k' });
    f.run(['create', '--bundle', join(f.root, 'bundle'), f.id]);
    assert.ok(f.spec().hooks.poststop[0].args.includes(`--container-id=${f.id}`));
    const g = fixture({ 'layerkeep.key': 'k' });
    g.run(['create', '--bundle', join(g.root, 'bundle'), '../' + g.id]);
    assert.equal(g.spec().hooks.createRuntime, undefined);
  });

  it('withLayerkeepHooks is idempotent', () => {
    const once = withLayerkeepHooks({}, '/h', ['--x=1'], { createRuntime: 600, poststop: 25 });
    const twice = withLayerkeepHooks(once, '/h', ['--x=1'], { createRuntime: 600, poststop: 25 });
    assert.deepEqual(twice, once);
  });
});

describe('upper dir', () => {
  it('counts mount points and their parents as empty, anything else as user data', async () => {
    const up = tmp('layerkeep-up-');
    assert.equal(await firstUserEntry(join(up, 'missing')), null);
    mkdirSync(join(up, 'etc'), { recursive: true });
    writeFileSync(join(up, 'etc', 'hosts'), '');
    mkdirSync(join(up, 'data', 'vol'), { recursive: true });
    assert.equal(await firstUserEntry(up, ['/etc/hosts', '/data/vol']), null);
    writeFileSync(join(up, 'etc', 'passwd'), 'x');
    assert.equal(await firstUserEntry(up, ['/etc/hosts', '/data/vol']), 'etc/passwd');
  });
});

describe('capture manager', () => {
  function upperWithWhiteouts(): string {
    const up = tmp('layerkeep-cap-');
    mkdirSync(join(up, 'data', 'sub'), { recursive: true });
    writeFileSync(join(up, 'data', 'f'), 'content');
    mknod(join(up, 'data', 'gone'), 0o020000 | 0o644, 0, 0); // overlay whiteout
    mkdirSync(join(up, 'opaque'));
    lsetxattr(join(up, 'opaque'), 'trusted.overlay.opaque', Buffer.from('y'));
    return up;
  }

  it('link-copies the upper dir (whiteouts, opaque xattr) and snapshots it in the background', async () => {
    const up = upperWithWhiteouts();
    const dir = join(tmp('layerkeep-capdir-'), 'captures');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: { rec: CaptureRecord; tree: ReturnType<typeof describeTree> }[] = [];
    const m = createCaptureManager({ dir, log: silentLogger, snapshot: async (rec, tree) => { seen.push({ rec, tree: describeTree(tree, { dirMtimes: false }) }); await gate; } });
    const rec = await m.capture({ key: 'k', containerId: 'c'.repeat(64), name: 'n', image: { id: 'i' }, upperDir: up });
    assert.equal(rec.status, 'captured');
    assert.equal(rec.linked, true);
    // The copy shares inodes with the upper dir: a start must wait until the snapshot is done.
    let waited = false;
    const w = m.waitForReaders(up).then(() => (waited = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(waited, false);
    assert.equal(m.inProgress('k'), true);
    release();
    await w;
    await m.waitForKey('k');
    assert.equal(seen.length, 1);
    assert.deepEqual(treeList(seen[0].tree), treeList(describeTree(up, { dirMtimes: false })));
    assert.deepEqual(readdirSync(dir), [], 'a snapshotted capture leaves the journal');
  });

  it('lets a start go ahead once the snapshot has read the copy, before its upload ends', async () => {
    const up = upperWithWhiteouts();
    const dir = join(tmp('layerkeep-capdir-'), 'captures');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let readAll!: () => void;
    const read = new Promise<void>((r) => (readAll = r));
    const m = createCaptureManager({ dir, log: silentLogger, snapshot: async (_rec, _tree, doneReading) => { await read; doneReading(); await gate; } });
    await m.capture({ key: 'k3', containerId: 'e'.repeat(64), name: 'n', image: { id: 'i' }, upperDir: up });
    let waited = false;
    const w = m.waitForReaders(up).then(() => (waited = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(waited, false, 'a start went ahead while the copy was still being read');
    readAll();
    await w;
    assert.equal(m.inProgress('k3'), true, 'the upload part was expected to be still running');
    release();
    await m.waitForKey('k3');
  });

  it('keeps a failed capture journaled and resumes it in a new manager (after a crash)', async () => {
    const up = upperWithWhiteouts();
    const dir = join(tmp('layerkeep-capdir-'), 'captures');
    const failing = createCaptureManager({ dir, log: silentLogger, retryDelayMs: 3_600_000, snapshot: async () => { throw new Error('store unreachable'); } });
    await failing.capture({ key: 'k2', containerId: 'd'.repeat(64), name: 'n', image: { id: 'i' }, upperDir: up });
    await failing.waitForKey('k2');
    assert.match(failing.failedFor('k2')?.error ?? '', /store unreachable/);
    failing.stop();
    rmSync(up, { recursive: true }); // e.g. docker rm --rm removed the upper dir meanwhile
    const [id] = readdirSync(dir);
    assert.equal(JSON.parse(readFileSync(join(dir, id, 'capture.json'), 'utf8')).status, 'failed');
    const trees: string[] = [];
    const next = createCaptureManager({ dir, log: silentLogger, snapshot: async (_rec, tree) => { trees.push(readFileSync(join(tree, 'data', 'f'), 'utf8')); } });
    assert.equal(await next.resume(), 1);
    await next.waitForKey('k2');
    assert.deepEqual(trees, ['content']);
    assert.equal(existsSync(join(dir, id)), false);
  });
});
