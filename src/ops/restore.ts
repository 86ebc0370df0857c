// restore: ref -> manifest -> its chain (full layer + diffs) -> verified tars -> one unpack.
// The chain is read newest layer first and every surviving entry is written once
// (src/incremental/materialize.ts); a full snapshot is simply a chain of one.
// 'upper' mode unpacks into a fresh temp dir beside the target and swaps it in only after
// every blob of the chain verified, so on any failure the target is exactly as before.
// 'apply' mode applies the resolved tree as one layer onto a live tree (an overlay merged
// dir): it is unpacked into a staging dir inside the target (same filesystem) and, only after
// every blob verified, moved into place entry by entry (snapshot/stagedApply.ts): a failure
// while contents are written (a full disk) leaves the tree as it was.
// Temp trees are named after their process; those of killed restores are removed before the
// next restore into the same parent (restoreTemp.ts).
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fsyncDir, lutimesNs, renameExchange, renameNoReplace } from '../native/index.js';
import { overlayUpperWhiteouts } from '../snapshot/whiteout.js';
import { removeTree } from '../snapshot/removeTree.js'; // no recursion: a restored tree may be thousands of levels deep
import { walkUpperDir } from '../snapshot/walk.js';
import { indexRows, rootMeta, rootMetaLine, rootStatLine, statFingerprint, treeFingerprint } from '../snapshot/metaIndex.js';
import { type Manifest } from '../store/layout.js';
import { commitStaged, recordingWhiteouts } from '../snapshot/stagedApply.js';
import type { WhiteoutMarker } from '../snapshot/whiteout.js';
import { clearBaseline, recordSnapshot, saveBaseline, setKeyCurrent, setStatFingerprint } from '../state/snapshots.js';
import { type ChainLayer, loadChain } from '../incremental/chain.js';
import { baselineRows } from '../incremental/diff.js';
import { packFileMap } from '../incremental/format.js';
import { materializeChain, type MaterializeResult } from '../incremental/materialize.js';
import { readManifest, resolveSnapshot } from './manifests.js';
import { readRef } from './publish.js';
import { makeRestoreTemp, removeStaleRestoreTemps } from './restoreTemp.js';
import type { OpsContext, RestoreRequest, RestoreResult } from './types.js';
import { invalid, refused } from '../errors.js';

export async function restore(ctx: OpsContext, req: RestoreRequest): Promise<RestoreResult> {
  const digest = await resolveSnapshot(ctx, req.key, req.snapshot);
  const manifest = await readManifest(ctx, digest);
  if (req.key && manifest.key !== req.key) {
    ctx.log.warn(`snapshot ${digest} belongs to key ${manifest.key}; restoring it for key ${req.key}`);
  }
  const layers = await loadChain(ctx.store, digest, manifest, (d) => readManifest(ctx, d));
  const target = resolve(req.dir);
  const result = req.mode === 'apply'
    ? await applyOnto(ctx, layers, target, req)
    : await restoreUpper(ctx, layers, target, req);

  const key = req.key ?? manifest.key;
  if (req.remember === false) return { key, manifestDigest: digest, files: result.files, bytes: result.bytes };
  // Remember what this host now has, so its next snapshot of the key continues from here.
  const remote = await readRef(ctx, key);
  recordSnapshot(ctx.state, digest, manifest, 'complete');
  if (remote?.ref.current === digest) setKeyCurrent(ctx.state, key, digest, remote.etag, remote.ref.generation);
  if ((req.mode ?? 'upper') === 'upper' && becomesBaseline(ctx, key, target, req)) {
    // The restored tree's own metadata is the key's new baseline: an immediate re-snapshot is a
    // no-op and the next changed one is a diff against this snapshot.
    const { entries } = walkUpperDir(target, { allowDevices: req.allowDevices });
    const rows = indexRows(entries);
    const extra = [`allowDevices=${!!req.allowDevices}`];
    const rootStat = statSync(target, { bigint: true });
    ctx.state.prepare('UPDATE snapshots SET tree_fingerprint = ? WHERE manifest_digest = ?')
      .run(treeFingerprint(rows, [...extra, rootMetaLine(rootMeta(rootStat))]), digest);
    setStatFingerprint(ctx.state, digest, statFingerprint(entries, [...extra, rootStatLine(rootStat)]));
    if (entries.length === manifest.files) {
      saveBaseline(ctx.state, key, digest, baselineRows(entries, rows),
        result.chunkMaps.map((f) => ({ path: f.path, size: f.size, chunks: packFileMap(f) })));
    } else {
      ctx.log.warn(`restored tree has ${entries.length} entries, snapshot ${digest} lists ${manifest.files}: the next snapshot of ${key} will be full`);
      clearBaseline(ctx.state, key);
    }
  }
  return { key, manifestDigest: digest, files: result.files, bytes: result.bytes };
}

/** See RestoreRequest.baseline. */
function becomesBaseline(ctx: OpsContext, key: string, target: string, req: RestoreRequest): boolean {
  if (req.baseline !== 'auto') return true;
  const row = ctx.state.prepare('SELECT baseline_manifest FROM keys WHERE key = ?').get(key) as { baseline_manifest: string | null } | undefined;
  if (!row?.baseline_manifest) return true;
  const own = ctx.state.prepare('SELECT 1 FROM containers WHERE key = ? AND upper_dir = ? LIMIT 1').get(key, target);
  if (!own) ctx.log.info(`${target} is not an upper dir of key ${key}: its baseline on this host stays as it was`);
  return own !== undefined;
}

function progressOf(ctx: OpsContext, layers: ChainLayer[]): (n: number) => void {
  const last = layers[layers.length - 1]!.manifest;
  const total = last.chain?.restoreSize ?? layers.reduce((a, l) => a + l.manifest.blob.size + (l.manifest.chunks?.size ?? 0), 0);
  let done = 0;
  return (n) => { done += n; ctx.progress?.update('restore', done, total); };
}

async function restoreUpper(ctx: OpsContext, layers: ChainLayer[], target: string, req: RestoreRequest): Promise<MaterializeResult> {
  const existing = statSync(target, { throwIfNoEntry: false });
  if (existing && !existing.isDirectory()) throw invalid(`${target} exists and is not a directory`);
  if (existing && readdirSync(target).length > 0 && !req.force) {
    throw refused(`${target} is not empty: pass --force to replace its contents`);
  }
  mkdirSync(dirname(target), { recursive: true });
  removeStaleRestoreTemps(dirname(target), (p) => ctx.log.warn(`removed the temp tree of a restore that did not finish: ${p}`));
  const tmp = makeRestoreTemp(dirname(target), `.${basename(target)}`, 'restore');
  const staging = makeRestoreTemp(dirname(target), `.${basename(target)}`, 'chunks');
  try {
    const result = await materializeChain({
      store: ctx.store, layers, root: tmp, stagingDir: staging, place: 'rename',
      whiteouts: overlayUpperWhiteouts({ opaqueXattr: 'trusted.overlay.opaque' }),
      maxTreeBytes: layers[layers.length - 1]!.manifest.chain?.treeSize,
      allowDevices: req.allowDevices,
      onWarning: (w) => ctx.log.warn(w),
      onCompressed: progressOf(ctx, layers),
    });
    applyRootMetadata(tmp, layers[layers.length - 1]!.manifest, existing?.mode);
    if (existing) {
      renameExchange(tmp, target); // tmp now holds the old contents
      fsyncDir(dirname(target));
      removeTree(tmp);
    } else {
      renameNoReplace(tmp, target);
      fsyncDir(dirname(target));
    }
    return result;
  } catch (err) {
    removeTree(tmp);
    throw err;
  } finally {
    removeTree(staging);
  }
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

async function applyOnto(ctx: OpsContext, layers: ChainLayer[], target: string, req: RestoreRequest): Promise<MaterializeResult> {
  const st = lstatSync(target, { throwIfNoEntry: false });
  if (!st?.isDirectory()) throw invalid(`${target} is not a directory to apply the layer onto`);
  removeStaleRestoreTemps(target, (p) => ctx.log.warn(`removed the temp tree of a restore that did not finish: ${p}`));
  const temp = makeRestoreTemp(target, '', 'apply');
  try {
    const tree = join(temp, 'tree');
    const chunks = join(temp, 'chunks');
    mkdirSync(tree, { mode: 0o700 });
    mkdirSync(chunks, { mode: 0o700 });
    const markers: WhiteoutMarker[] = [];
    // Filesystem timestamps are coarse (and may lag the clock a little): a second of slack.
    const stagedFromNs = (BigInt(Date.now()) - 1000n) * 1_000_000n;
    const result = await materializeChain({
      store: ctx.store, layers, root: tree, stagingDir: chunks, place: 'rename',
      whiteouts: recordingWhiteouts(markers),
      maxTreeBytes: layers[layers.length - 1]!.manifest.chain?.treeSize,
      allowDevices: req.allowDevices,
      onWarning: (w) => ctx.log.warn(w),
      onCompressed: progressOf(ctx, layers),
    });
    // Every blob of the chain verified: only now is the live tree touched.
    commitStaged(tree, target, markers, basename(temp), stagedFromNs);
    return result;
  } finally {
    removeTree(temp);
  }
}
