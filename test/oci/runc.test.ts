// runc directly: a bundle whose root is an overlay of a busybox lower dir, with layerkeep's hooks
// in its config.json and the key in its annotations. What one container writes and deletes is
// back, seen from inside, in a new container of the same key on a fresh overlay.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxRootfs, currentSnapshot, type Daemon, layerkeepHooks, mountOverlay, refNames, requireTool, run, startDaemon, tempDir, uniq, umount, waitForSnapshot, writeBundle } from './helpers.js';

const runc = requireTool('runc', 'runc');

describe('runc bundle with layerkeep OCI hooks', () => {
  let daemon: Daemon;
  let base: string;
  let lower: string;
  let runcRoot: string;

  before(async () => {
    daemon = await startDaemon();
    base = tempDir('layerkeep-runc-');
    lower = busyboxRootfs(join(base, 'lower'));
    runcRoot = join(base, 'runc-root');
  });
  after(async () => {
    await daemon?.stop();
  });

  async function runContainer(name: string, key: string | undefined, script: string, hookArgs = daemon.hookArgs, annotations: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; merged: string; upper: string }> {
    const dir = join(base, name);
    const { merged, upper } = mountOverlay(lower, dir);
    await writeBundle(runc, join(dir, 'bundle'), merged, script, {
      annotations: { ...(key ? { 'io.layerkeep.key': key } : {}), ...annotations },
      hooks: layerkeepHooks(hookArgs),
    });
    const r = await run(runc, ['--root', runcRoot, 'run', '--bundle', join(dir, 'bundle'), name]);
    return { ...r, merged, upper };
  }

  /** One container writes and deletes, a second of the same key on a fresh overlay sees it. */
  async function roundTrip(key: string, hookArgs: string[]): Promise<void> {
    const first = await runContainer(uniq('c1'), key,
      'echo kept > /root/note && rm /etc/image-file.txt && rm -r /srv/image-dir && mkdir /srv/image-dir && echo c > /srv/image-dir/c.txt && echo wrote', hookArgs);
    assert.equal(first.code, 0, `first container failed: ${first.stderr}`);
    assert.match(first.stdout, /wrote/);
    const snap = await waitForSnapshot(daemon.storeDir, key);
    assert.match(snap, /^sha256:/);
    umount(first.merged);

    const second = await runContainer(uniq('c2'), key,
      'cat /root/note; ls /etc/image-file.txt 2>/dev/null || echo image-file-gone; ls /srv/image-dir', hookArgs);
    assert.equal(second.code, 0, `second container failed: ${second.stderr}`);
    assert.equal(second.stdout, 'kept\nimage-file-gone\nc.txt\n');
    // runc shows a hook's output only when it fails; the daemon logs the restore.
    assert.match(daemon.logs(), new RegExp(`restored container state.*${key}`));
    // The restore went through the mounted overlay: the upper dir holds the state as overlay does.
    assert.ok(existsSync(join(second.upper, 'root', 'note')));
    umount(second.merged);
  }

  it('restores what a container wrote and deleted, through the daemon\'s hook spool (no node on the hook path)', async () => {
    assert.ok(existsSync(join(daemon.runDir, 'spool', 'oci.ready')),
      'the daemon does not take OCI requests in its hook spool (spool/oci.ready missing): hook-spool.ts must hand {"oci":true} requests to oci-spool.ts and call advertiseOciSpool');
    // With node unusable, only the spool path can succeed.
    await roundTrip(uniq('spool'), ['--node=/bin/false', `--socket=${daemon.socket}`, `--run-dir=${daemon.runDir}`]);
  });

  it('restores the same way through the node shim and gRPC when the spool is not offered', async () => {
    const marker = join(daemon.runDir, 'spool', 'oci.ready');
    const had = existsSync(marker) ? readFileSync(marker) : undefined;
    rmSync(marker, { force: true });
    try {
      await roundTrip(uniq('grpc'), daemon.hookArgs);
    } finally {
      if (had) writeFileSync(marker, had);
    }
  });

  // runc puts the container's annotations last in the OCI state, after id and bundle: a parser that
  // takes the last "id"/"bundle" it sees is steered by them.
  for (const path of ['spool', 'grpc'] as const) {
    it(`keeps containers apart when one carries annotations id=<other id> and bundle=<other bundle> (${path})`, async () => {
      const marker = join(daemon.runDir, 'spool', 'oci.ready');
      const had = existsSync(marker) ? readFileSync(marker) : undefined;
      if (path === 'grpc') rmSync(marker, { force: true });
      try {
        const victimKey = uniq('victim');
        const victimName = uniq('victim');
        const v = await runContainer(victimName, victimKey, 'echo secret > /root/secret');
        assert.equal(v.code, 0, v.stderr);
        const victimSnap = await waitForSnapshot(daemon.storeDir, victimKey);
        umount(v.merged);

        const attackerKey = uniq('attacker');
        const a = await runContainer(uniq('attacker'), attackerKey, 'echo mine > /root/mine', daemon.hookArgs,
          { id: victimName, bundle: join(base, victimName, 'bundle') });
        assert.equal(a.code, 0, `the attacker's own start and stop must work: ${a.stderr}`);
        await waitForSnapshot(daemon.storeDir, attackerKey);
        umount(a.merged);
        assert.equal(currentSnapshot(daemon.storeDir, victimKey), victimSnap, 'the victim\'s snapshot was replaced');

        // What each key restores: its own container's files only.
        const check = await runContainer(uniq('check'), attackerKey, 'ls /root');
        assert.equal(check.code, 0, check.stderr);
        assert.equal(check.stdout, 'mine\n');
        umount(check.merged);
      } finally {
        if (had) writeFileSync(marker, had);
      }
    });
  }

  it('runs a container without the annotation untouched, without asking the daemon', async () => {
    const refsBefore = refNames(daemon.storeDir).length;
    const name = uniq('plain');
    // Pointed at a socket that does not exist: the hook must not need the daemon at all.
    const r = await runContainer(name, undefined, 'echo mine > /root/own && cat /etc/image-file.txt', [`--node=${process.execPath}`, `--socket=${join(base, 'no.sock')}`, `--run-dir=${join(base, 'no-run')}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'from-image\n');
    assert.equal(r.stderr, '');
    const refsAfter = refNames(daemon.storeDir).length;
    assert.equal(refsAfter, refsBefore);
    assert.ok(existsSync(join(r.upper, 'root', 'own')));
    umount(r.merged);
  });

  it('refuses the start, naming the container and the reason, when the daemon is down', async () => {
    const key = uniq('down');
    const name = uniq('down');
    const r = await runContainer(name, key, 'echo should-not-run', [`--node=${process.execPath}`, `--socket=${join(base, 'no.sock')}`, `--run-dir=${join(base, 'no-run')}`]);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /should-not-run/);
    assert.match(r.stderr, new RegExp(`cannot restore the state of container ${name.slice(0, 12)}.*daemon is not running`));
    assert.equal(currentSnapshot(daemon.storeDir, key), '');
    umount(r.merged);
  });

  it('refuses a rootless overlay (userxattr) with a clear message', async () => {
    const key = uniq('rootless');
    const name = uniq('ux');
    const dir = join(base, name);
    const { merged } = mountOverlay(lower, dir, 'userxattr');
    await writeBundle(runc, join(dir, 'bundle'), merged, 'echo should-not-run', { annotations: { 'io.layerkeep.key': key }, hooks: layerkeepHooks(daemon.hookArgs) });
    const r = await run(runc, ['--root', runcRoot, 'run', '--bundle', join(dir, 'bundle'), name]);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /should-not-run/);
    assert.match(r.stderr, /rootless overlay \(userxattr/);
    umount(merged);
  });
});
