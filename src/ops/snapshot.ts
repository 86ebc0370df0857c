// snapshot: upper dir -> walk -> tar -> zstd frames -> blob in the store -> manifest -> ref.
// One pass over the tree; the only thing held in memory is the entry list (metadata).
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type EncodedBlob, createFrameEncoder } from '../snapshot/frameEncoder.js';
import { indexRows, treeFingerprint } from '../snapshot/metaIndex.js';
import { packLayer } from '../snapshot/pack.js';
import { walkUpperDir } from '../snapshot/walk.js';
import { canonicalJson, LAYER_MEDIA_TYPE, type Manifest, MANIFEST_MEDIA_TYPE, validateKey } from '../store/layout.js';
import { getKey, getSnapshot, replaceFileIndex } from '../state/snapshots.js';
import { publishManifest, readRef } from './publish.js';
import type { OpsContext, SnapshotRequest, SnapshotResult } from './types.js';

export const TOOL = `layerkeep/${(createRequire(import.meta.url)('../../../package.json') as { version: string }).version}`;

export interface SnapshotOptions extends SnapshotRequest {
  takeOver?: boolean;
  keep?: number;
}

export async function snapshot(ctx: OpsContext, req: SnapshotOptions): Promise<SnapshotResult> {
  const key = validateKey(req.key);
  const rootStat = statSync(req.dir, { throwIfNoEntry: false, bigint: true });
  if (!rootStat?.isDirectory()) throw new Error(`${req.dir}: not a directory`);

  const { entries, warnings } = walkUpperDir(req.dir, { allowDevices: req.allowDevices });
  for (const w of warnings) ctx.log.warn(w, { key });
  const rows = indexRows(entries);
  const fingerprint = treeFingerprint(rows, [`allowDevices=${!!req.allowDevices}`]);

  // Unchanged since this host's last snapshot of the key, and still current in the store?
  const known = getKey(ctx.state, key);
  const last = known?.current_manifest ? getSnapshot(ctx.state, known.current_manifest) : undefined;
  if (!req.force && last && last.tree_fingerprint === fingerprint) {
    const remote = await readRef(ctx, key);
    if (remote?.ref.current === last.manifest_digest) {
      ctx.log.info('unchanged since the last snapshot: nothing uploaded', { key, snapshot: last.manifest_digest });
      return {
        key, changed: false, manifestDigest: last.manifest_digest, blobDigest: last.blob_digest, diffId: last.diff_id,
        blobSize: last.blob_size, uncompressedSize: last.uncompressed_size, files: last.files, warnings,
      };
    }
  }

  const total = entries.reduce((a, e) => a + e.size, 0);
  let packed = 0;
  const writer = await ctx.store.createBlobWriter();
  let blob: EncodedBlob;
  try {
    const encoder = createFrameEncoder((bytes) => writer.write(bytes));
    await packLayer(entries, (chunk) => encoder.write(chunk), (n) => { packed += n; ctx.progress?.update('pack', packed, total); });
    blob = await encoder.end();
  } catch (err) {
    await writer.abort().catch(() => {});
    throw err;
  }

  const manifest: Manifest = {
    mediaType: MANIFEST_MEDIA_TYPE,
    schemaVersion: 1,
    key,
    created: new Date().toISOString(),
    host: ctx.host,
    image: req.image ?? null,
    kind: 'full',
    base: [],
    parent: known?.current_manifest ?? null,
    diffId: `sha256:${blob.diffIdHex}`,
    blob: { digest: `sha256:${blob.blobDigestHex}`, size: blob.blobSize, mediaType: LAYER_MEDIA_TYPE },
    uncompressedSize: blob.uncompressedSize,
    files: entries.length,
    frames: { count: blob.frames.length, frameSize: blob.frames[0]?.decompressedSize ?? 0, seekTableSize: blob.seekTableSize },
    treeFingerprint: fingerprint,
    root: { mode: Number(rootStat.mode) & 0o7777, uid: Number(rootStat.uid), gid: Number(rootStat.gid), mtimeNs: rootStat.mtimeNs.toString() },
    tool: TOOL,
  };
  const manifestJson = canonicalJson(manifest).toString('utf8');
  try {
    await writer.finish(blob.blobDigestHex, blob.blobSize, manifestJson);
  } catch (err) {
    await writer.abort().catch(() => {});
    throw err;
  }
  const { digest } = await publishManifest(ctx, manifestJson, { takeOver: req.takeOver, keep: req.keep });
  replaceFileIndex(ctx.state, key, rows);
  return {
    key, changed: true, manifestDigest: digest, blobDigest: manifest.blob.digest, diffId: manifest.diffId,
    blobSize: blob.blobSize, uncompressedSize: blob.uncompressedSize, files: entries.length, warnings,
  };
}
