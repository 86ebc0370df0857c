// The DaemonSet image built from the release (make image): `docker load` takes the archive, and
// the image runs layerkeep from the release's own Node in a container of the private dockerd.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { docker, dockerEnv, REPO } from './helpers.js';
import { join } from 'node:path';

dockerEnv(); // fails the file when the private dockerd's variables are missing
const ARCHIVE = process.env.LAYERKEEP_IMAGE_ARCHIVE;
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

describe('Docker: the image built from the release', () => {
  it('loads with docker load and runs layerkeep --version in a container', async () => {
    assert.ok(ARCHIVE && existsSync(ARCHIVE), 'LAYERKEEP_IMAGE_ARCHIVE must name the image archive (make test-docker sets it)');
    const load = await docker(['load', '-i', ARCHIVE]);
    assert.match(load.stdout, new RegExp(`Loaded image: layerkeep:${VERSION.replace(/\./g, '\\.')}`));
    const run = await docker(['run', '--rm', '--network', 'none', `layerkeep:${VERSION}`, '--version']);
    assert.equal(run.stdout.trim(), `layerkeep/${VERSION}`);
    // Nothing but the release and its libraries: no shell, no package manager in the image.
    const probe = await docker(['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', `layerkeep:${VERSION}`, '-c', 'true'], { allowFail: true });
    assert.notEqual(probe.code, 0);
    await docker(['rmi', `layerkeep:${VERSION}`]);
  });
});
