// restore: ref -> manifest -> blob frames -> verified tar -> unpack.
// 'upper' mode unpacks into a fresh temp dir beside the target and swaps it in only after
// both digests verified, so on any failure the target is exactly as before.
// 'apply' mode applies the layer onto a live tree (an overlay merged dir): the blob is first
// copied locally and verified, and its tar validated, before the tree is touched.
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fsyncDir, lutimesNs, renameExchange, renameNoReplace } from '../native/index.js';
import { decodeBlob } from '../snapshot/frameDecoder.js';
import { readTar } from '../snapshot/tarReader.js';
import { unpackLayer } from '../snapshot/unpack.js';
import { applyLayerWhiteouts, overlayUpperWhiteouts } from '../snapshot/whiteout.js';
import { walkUpperDir } from '../snapshot/walk.js';
import { indexRows, treeFingerprint } from '../snapshot/metaIndex.js';
import { openFsStore } from '../store/fs.js';
import { blobKey, digestHex, type Manifest } from '../store/layout.js';
import type { ObjectStore } from '../store/types.js';
import { recordSnapshot, replaceFileIndex, setKeyCurrent } from '../state/snapshots.js';
import { readManifest, resolveSnapshot } from './manifests.js';
import { readRef } from './publish.js';
import type { OpsContext, RestoreRequest, RestoreResult } from './types.js';

export async function restore(ctx: OpsContext, req: RestoreRequest): Promise<RestoreResult> {
  const digest = await resolveSnapshot(ctx, req.key, req.snapshot);
  const manifest = await readManifest(ctx, digest);
  if (req.key && manifest.key !== req.key) {
    ctx.log.warn(`snapshot ${digest} belongs to key ${manifest.key}; restoring it for key ${req.key}`);
  }
  if (manifest.kind !== 'full') throw new Error(`snapshot ${digest} is a ${manifest.kind} snapshot; this version restores full snapshots only`);
  const target = resolve(req.dir);
  const result = req.mode === 'apply'
    ? await applyOnto(ctx, manifest, target, req)
    : await restoreUpper(ctx, manifest, target, req);

  // Remember what this host now has, so its next snapshot of the key continues from here.
  const key = req.key ?? manifest.key;
  const remote = await readRef(ctx, key);
  recordSnapshot(ctx.state, digest, manifest, 'complete');
  if (remote?.ref.current === digest) setKeyCurrent(ctx.state, key, digest, remote.etag, remote.ref.generation);
  if ((req.mode ?? 'upper') === 'upper') {
    // The restored tree's own metadata: an immediate re-snapshot of it is then a no-op.
    const { entries } = walkUpperDir(target, { allowDevices: req.allowDevices });
    const rows = indexRows(entries);
    ctx.state.prepare('UPDATE snapshots SET tree_fingerprint = ? WHERE manifest_digest = ?')
      .run(treeFingerprint(rows, [`allowDevices=${!!req.allowDevices}`]), digest);
    replaceFileIndex(ctx.state, key, rows);
  }
  return { key, manifestDigest: digest, ...result };
}

function tarOf(store: ObjectStore, m: Manifest, onBytes?: (n: number) => void) {
  return decodeBlob(store, {
    key: blobKey(m.blob.digest),
    blobSize: m.blob.size,
    blobDigestHex: digestHex(m.blob.digest),
    diffIdHex: digestHex(m.diffId),
    uncompressedSize: m.uncompressedSize,
  }, { onCompressed: onBytes });
}

/**
 * Feeds `source` to `consume`, then drains what the consumer left (the tar's end padding):
 * the decoder verifies the digests only when it has read everything.
 */
async function consumeVerified(source: AsyncGenerator<Buffer>, consume: (s: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  const shielded: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({ next: () => source.next(), return: async () => ({ done: true, value: undefined }) }),
  };
  try {
    await consume(shielded);
    for (;;) {
      const { done, value } = await source.next();
      if (done) break;
      if ((value as Buffer).some((b) => b !== 0)) throw new Error('layer has data after the end of the tar archive');
    }
  } finally {
    await source.return(undefined);
  }
}

async function restoreUpper(ctx: OpsContext, m: Manifest, target: string, req: RestoreRequest) {
  const existing = statSync(target, { throwIfNoEntry: false });
  if (existing && !existing.isDirectory()) throw new Error(`${target} exists and is not a directory`);
  if (existing && readdirSync(target).length > 0 && !req.force) {
    throw new Error(`${target} is not empty: pass --force to replace its contents`);
  }
  mkdirSync(dirname(target), { recursive: true });
  const tmp = mkdtempSync(join(dirname(target), `.${basename(target)}.layerkeep-restore-`));
  let counts = { files: 0, bytes: 0 };
  let downloaded = 0;
  try {
    await consumeVerified(tarOf(ctx.store, m, (n) => { downloaded += n; ctx.progress?.update('restore', downloaded, m.blob.size); }), async (tar) => {
      counts = await unpackLayer(readTar(tar), tmp, {
        whiteouts: overlayUpperWhiteouts({ opaqueXattr: 'trusted.overlay.opaque' }),
        allowDevices: req.allowDevices,
        onWarning: (w) => ctx.log.warn(w),
        limits: { maxBytes: m.uncompressedSize },
      });
    });
    applyRootMetadata(tmp, m, existing?.mode);
    if (existing) {
      renameExchange(tmp, target); // tmp now holds the old contents
      fsyncDir(dirname(target));
      rmSync(tmp, { recursive: true, force: true });
    } else {
      renameNoReplace(tmp, target);
      fsyncDir(dirname(target));
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return counts;
}

/** The upper dir's own owner, mode and mtime, recorded in the manifest (the tar has no root entry). */
function applyRootMetadata(dir: string, m: Manifest, fallbackMode?: number): void {
  const r = m.root;
  if (!r) {
    chmodSync(dir, fallbackMode !== undefined ? fallbackMode & 0o7777 : 0o755);
    return;
  }
  chownSync(dir, r.uid, r.gid);
  chmodSync(dir, r.mode & 0o7777);
  lutimesNs(dir, BigInt(r.mtimeNs), BigInt(r.mtimeNs));
}

async function applyOnto(ctx: OpsContext, m: Manifest, target: string, req: RestoreRequest) {
  const st = lstatSync(target, { throwIfNoEntry: false });
  if (!st?.isDirectory()) throw new Error(`${target} is not a directory to apply the layer onto`);
  // Verified local copy first: a corrupt or hostile blob is refused before the tree is touched.
  const scratch = mkdtempSync(join(tmpdir(), 'layerkeep-apply-'));
  try {
    const local = openFsStore(scratch);
    const writer = await local.createBlobWriter();
    for await (const chunk of await ctx.store.read(blobKey(m.blob.digest))) await writer.write(chunk as Buffer);
    await writer.finish(digestHex(m.blob.digest), m.blob.size);
    await consumeVerified(tarOf(local, m), async (tar) => {
      for await (const item of readTar(tar)) for await (const _ of item.body) { /* validate structure only */ }
    });
    let counts = { files: 0, bytes: 0 };
    await consumeVerified(tarOf(local, m), async (tar) => {
      counts = await unpackLayer(readTar(tar), target, {
        whiteouts: applyLayerWhiteouts(),
        allowDevices: req.allowDevices,
        onWarning: (w) => ctx.log.warn(w),
        limits: { maxBytes: m.uncompressedSize },
      });
    });
    return counts;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
