// The DaemonSet image built from the release (make image) imports into containerd with
// `ctr images import` and runs layerkeep from the release's own Node.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, uniq } from '../oci/helpers.js';
import { ctr, firstNode } from './helpers.js';

const ARCHIVE = process.env.LAYERKEEP_IMAGE_ARCHIVE;
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

describe('containerd: the image built from the release', () => {
  it('imports with ctr images import and runs layerkeep --version', async () => {
    assert.ok(ARCHIVE && existsSync(ARCHIVE), 'LAYERKEEP_IMAGE_ARCHIVE must name the image archive (make test-containerd sets it)');
    const node = firstNode();
    const ns = 'k8s.io';
    const imp = await ctr(node, ns, ['images', 'import', ARCHIVE]);
    assert.equal(imp.code, 0, imp.stderr);
    const ref = `docker.io/library/layerkeep:${VERSION}`;
    const list = await ctr(node, ns, ['images', 'ls', '-q']);
    assert.ok(list.stdout.split('\n').includes(ref), `${ref} not in ${list.stdout}`);
    const r = await ctr(node, ns, ['run', '--rm', ref, uniq('lk-image'), '/opt/layerkeep/node/bin/node', '/opt/layerkeep/dist/src/cli/main.js', '--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `layerkeep/${VERSION}`);
    await ctr(node, ns, ['images', 'rm', ref]);
  });
});
