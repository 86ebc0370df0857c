#!/usr/bin/env node
// image-archive.mjs — wraps one layer tar into an image archive that both `docker load`
// (manifest.json, the docker-save format) and `ctr images import` (index.json, the OCI image
// layout) accept. Blobs are stored once under blobs/sha256/ and named by both indexes.
// Usage: node scripts/image-archive.mjs LAYER.tar LAYER.tar.gz OUT.tar NAME VERSION EPOCH
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [layerPath, gzPath, out, name, version, epoch] = process.argv.slice(2);
if (!epoch) {
  process.stderr.write('usage: node scripts/image-archive.mjs LAYER.tar LAYER.tar.gz OUT.tar NAME VERSION EPOCH\n');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'layerkeep-archive-'));
try {
  const blobs = join(dir, 'blobs/sha256');
  mkdirSync(blobs, { recursive: true });
  const sha = (buf) => createHash('sha256').update(buf).digest('hex');
  const put = (buf) => { const h = sha(buf); writeFileSync(join(blobs, h), buf); return h; };

  const diffId = sha(readFileSync(layerPath)); // the uncompressed layer's digest
  const layer = readFileSync(gzPath);
  const layerHex = put(layer);
  const created = new Date(Number(epoch) * 1000).toISOString();
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created,
    config: {
      Entrypoint: ['/opt/layerkeep/node/bin/node', '/opt/layerkeep/dist/src/cli/main.js'],
      Cmd: ['serve'],
      Env: ['PATH=/opt/layerkeep/bin:/opt/layerkeep/node/bin:/bin', 'LAYERKEEP_DOCKER=off'],
      WorkingDir: '/opt/layerkeep',
      Labels: { 'org.opencontainers.image.title': 'layerkeep', 'org.opencontainers.image.version': version },
    },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    history: [{ created, created_by: 'layerkeep scripts/build-image.sh (release rootfs)' }],
  }));
  const configHex = put(config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configHex}`, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${layerHex}`, size: layer.length }],
  }));
  const manifestHex = put(manifest);
  const ref = name.includes(':') ? name.slice(name.lastIndexOf(':') + 1) : 'latest';
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${manifestHex}`, size: manifest.length,
      annotations: { 'io.containerd.image.name': name.includes('/') ? name : `docker.io/library/${name}`, 'org.opencontainers.image.ref.name': ref },
    }],
  }));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify([
    { Config: `blobs/sha256/${configHex}`, RepoTags: [name], Layers: [`blobs/sha256/${layerHex}`] },
  ]));
  execFileSync('tar', ['--sort=name', '--numeric-owner', '--owner=0', '--group=0', `--mtime=@${epoch}`, '-C', dir, '-cf', `${out}.new`,
    'oci-layout', 'index.json', 'manifest.json', 'blobs']);
  renameSync(`${out}.new`, out);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
