// snapshot: upper dir -> walk -> (diff against the key's baseline) -> layer blob [+ chunk pack]
// [+ layer index] -> manifest -> ref.
//
// The first snapshot of a key, and every one after the compaction limits, is full: the whole
// tree as one OCI layer. Every other one is a diff against the tree this host last
// snapshotted or restored for the key (its baseline, kept in the state DB): new and changed
// entries, whiteouts for deleted ones, and large files that changed in part as chunk
// references (src/incremental/). Unchanged file contents are never read.
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { indexRows, rootMeta, rootMetaLine, rootStatLine, statFingerprint, treeFingerprint } from '../snapshot/metaIndex.js';
import { readTarRange } from '../snapshot/frameDecoder.js';
import { walkUpperDir, type WalkedEntry, type WalkResult, withXattrs } from '../snapshot/walk.js';
import { blobKey, canonicalJson, LAYER_MEDIA_TYPE, type Manifest, MANIFEST_MEDIA_TYPE, validateKey } from '../store/layout.js';
import {
  type ChunkMapRow, getBaselineManifest, getKey, getSnapshot, type LinkedIndexRow, loadBaselineRows, loadChunkMaps, saveBaseline,
  setStatFingerprint,
} from '../state/snapshots.js';
import type { WrittenBlob } from '../incremental/blobs.js';
import { writeBlob } from '../incremental/blobs.js';
import { CHUNK_FILE_MIN, type Chunk } from '../incremental/chunker.js';
import { type BaseMap, chunkFile, chunkStored, mapLimit, planChunkRefs, type ChunkRefPlan, writeChunkPack } from '../incremental/chunkFiles.js';
import { baselineRows, type BaselineRow, diffTrees, mergeWhiteouts, type TreeDiff } from '../incremental/diff.js';
import {
  type BlobRef, type ChainInfo, type ChainManifest, CHUNKS_MEDIA_TYPE, encodeLayerIndex, type FileMap, INDEX_MEDIA_TYPE,
  type LayerIndex, packFileMap, STREAM_TAR, unpackFileMap,
} from '../incremental/format.js';
import { encryptionChangeReason, sealManifest } from '../incremental/encryption.js';
import { writeLayerBlob } from '../incremental/layerWrite.js';
import { type ChainState, checkLimits, type CompactionLimits, fullSnapshotReason } from '../incremental/policy.js';
import { readManifest } from './manifests.js';
import { publishWritten, readRef } from './publish.js';
import type { OpsContext, SnapshotRequest, SnapshotResult } from './types.js';
import { invalid } from '../errors.js';

export const TOOL = `layerkeep/${(createRequire(import.meta.url)('../../../package.json') as { version: string }).version}`;

export interface SnapshotOptions extends SnapshotRequest {
  takeOver?: boolean;
  keep?: number;
}

/** Large files chunked at once while planning a diff (the chunking runs on the thread pool). */
const CHUNKING_FILES_AT_ONCE = 2;

/** Tar header bytes a diff entry costs besides its content (for the size estimate). */
const ENTRY_OVERHEAD = 1024;

interface Walked {
  entries: WalkedEntry[];
  /** Index rows with link targets (built only when the quick fingerprint check did not settle it). */
  rows: LinkedIndexRow[];
  fingerprint: string;
  statFingerprint: string;
  root: NonNullable<Manifest['root']>;
  treeSize: number;
}

/** A diff that will be written: what changed and how large files are stored. */
interface DiffPlan {
  baseDigest: string;
  baseChain: ChainState & { restoreSize: number; digests: string[] };
  diff: TreeDiff;
  chunked: ChunkRefPlan;
  /** Estimated uncompressed bytes of the diff (tar + chunk pack). */
  estimate: number;
}

export async function snapshot(ctx: OpsContext, req: SnapshotOptions): Promise<SnapshotResult> {
  const key = validateKey(req.key);
  const limits: CompactionLimits = { maxDiffs: req.maxDiffs, maxDeltaShare: req.maxDeltaShare };
  checkLimits(limits);
  const rootStat = statSync(req.dir, { throwIfNoEntry: false, bigint: true });
  if (!rootStat?.isDirectory()) throw invalid(`${req.dir}: not a directory`);
  const walkExtra = [`allowDevices=${!!req.allowDevices}`];
  const statExtra = [...walkExtra, rootStatLine(rootStat)];

  // Unchanged since this host last took or restored the key's current snapshot? Decided from
  // lstat alone when possible (no xattrs read; their changes move ctime, so not with ignoreCtime).
  const known = getKey(ctx.state, key);
  const baselineDigest = getBaselineManifest(ctx.state, key);
  const lastDigest = baselineDigest ?? known?.current_manifest ?? null;
  const last = lastDigest ? getSnapshot(ctx.state, lastDigest) : undefined;
  let quick: WalkResult | null = null;
  if (!req.force && !req.ignoreCtime && last?.stat_fingerprint) {
    quick = walkUpperDir(req.dir, { allowDevices: req.allowDevices, xattrs: false });
    if (statFingerprint(quick.entries, statExtra) === last.stat_fingerprint) {
      const remote = await readRef(ctx, key);
      if (remote?.ref.current === last.manifest_digest) {
        for (const w of quick.warnings) ctx.log.warn(w, { key });
        return unchanged(ctx, key, last.manifest_digest, quick.warnings);
      }
    }
  }

  // Something changed (or the shortcut does not apply): the full walk, reusing the lstat-only
  // one if there was one, so the tree is not read twice.
  const { entries, warnings } = quick ? withXattrs(req.dir, quick) : walkUpperDir(req.dir, { allowDevices: req.allowDevices });
  for (const w of warnings) ctx.log.warn(w, { key });
  const plainRows = indexRows(entries);
  const root = rootMeta(rootStat);
  const walked: Walked = {
    entries,
    rows: [],
    // the upper dir's own metadata is part of the snapshot (the manifest's root), so of the test
    fingerprint: treeFingerprint(plainRows, [...walkExtra, rootMetaLine(root)]),
    statFingerprint: statFingerprint(entries, statExtra),
    root,
    treeSize: entries.reduce((a, e) => a + (e.type === 'file' ? e.size : 0), 0),
  };

  // Unchanged since the tree this host last recorded for the key, and that is still current?
  if (!req.force && last && last.tree_fingerprint === walked.fingerprint) {
    const remote = await readRef(ctx, key);
    if (remote?.ref.current === last.manifest_digest) {
      setStatFingerprint(ctx.state, last.manifest_digest, walked.statFingerprint); // for the lstat-only shortcut next time
      return unchanged(ctx, key, last.manifest_digest, warnings);
    }
  }

  walked.rows = baselineRows(entries, plainRows);
  let reason: string | null = null;
  let plan: DiffPlan | null = null;
  if (req.force) reason = 'forced';
  else if (!baselineDigest) {
    reason = lastDigest
      ? 'this host has no baseline tree for the key (restore it into an upper dir, or snapshot it once, to start a chain)'
      : 'first snapshot of the key on this host';
  } else {
    const found = await planDiff(ctx, key, baselineDigest, walked, req, limits);
    if ('unchanged' in found) return unchanged(ctx, key, baselineDigest, warnings);
    if ('reason' in found) reason = found.reason;
    else plan = found;
  }
  if (plan) return writeDiff(ctx, key, walked, plan, req, warnings);
  ctx.log.info(`full snapshot: ${reason}`, { key });
  return writeFull(ctx, key, walked, req, warnings, reason!);
}

/** The key's next diff against its baseline, or why it must be full, or that nothing changed. */
async function planDiff(
  ctx: OpsContext, key: string, baseDigest: string, w: Walked, req: SnapshotOptions, limits: CompactionLimits,
): Promise<DiffPlan | { reason: string } | { unchanged: true }> {
  let base: ChainManifest;
  try {
    base = await readManifest(ctx, baseDigest);
  } catch (err) {
    return { reason: `its base snapshot cannot be read (${(err as Error).message})` };
  }
  const baseChain = chainStateOf(baseDigest, base);
  const early = fullSnapshotReason(baseChain, null, limits);
  if (early) return { reason: early };
  // A diff reads stored layers of its chain (chunking): every key they need must be configured.
  const olderEncrypted = base.encryption ? await Promise.all(base.base.map((d) => readManifest(ctx, d))) : [];
  const keyReason = encryptionChangeReason(ctx.store, [...olderEncrypted, base]);
  if (keyReason) return { reason: keyReason };

  const baseline = new Map<string, BaselineRow>();
  for (const r of loadBaselineRows(ctx.state, key)) baseline.set(r.path, r);
  const diff = diffTrees(w.entries, w.rows, baseline, { ignoreCtime: req.ignoreCtime });
  const rootSame = base.root !== undefined && base.root.mode === w.root.mode && base.root.uid === w.root.uid &&
    base.root.gid === w.root.gid && base.root.mtimeNs === w.root.mtimeNs;
  if (diff.included.length === 0 && diff.deleted.length === 0 && rootSame) {
    const remote = await readRef(ctx, key);
    if (remote?.ref.current === baseDigest) {
      if (!req.ignoreCtime) setStatFingerprint(ctx.state, baseDigest, w.statFingerprint);
      return { unchanged: true };
    }
  }

  // Large files that changed: which of their chunks does the chain already store?
  const layer = baseChain.length;
  const baseMaps = loadChunkMaps(ctx.state, key).map((r) => ({ path: r.path, size: r.size, ...unpackFileMap(r.chunks), listed: true }));
  const linkTargets = new Set(w.entries.filter((e) => e.type === 'hardlink').map((e) => e.linkname));
  let candidates: { entry: WalkedEntry; chunks: Chunk[] }[] = [];
  if (baseMaps.length > 0) {
    const changed = diff.included.map((i) => w.entries[i]!)
      .filter((e) => e.type === 'file' && e.size >= CHUNK_FILE_MIN && !linkTargets.has(e.path));
    candidates = await mapLimit(changed, CHUNKING_FILES_AT_ONCE, async (entry) => ({ entry, chunks: await chunkFile(entry) }));
  }
  await chunkStoredBaseFiles(ctx, baseMaps, baseChain.digests, candidates.map((c) => c.entry), new Set(diff.deleted));
  const chunked = planChunkRefs(candidates, baseMaps, layer);
  const byRef = new Set(chunked.files.map((f) => f.entry));
  let estimate = chunked.packBytes + diff.whiteouts.length * ENTRY_OVERHEAD;
  for (const i of diff.included) {
    const e = w.entries[i]!;
    estimate += ENTRY_OVERHEAD + (byRef.has(e) || e.type !== 'file' ? 0 : e.size);
  }
  const reason = fullSnapshotReason(baseChain, estimate, limits);
  if (reason) return { reason };
  return { baseDigest, baseChain, diff, chunked, estimate };
}

/**
 * Large files are not chunked when they are stored whole; the first diff that finds one changed
 * chunks its stored copy (ranged reads of the frames that hold it), so the edit can reuse the
 * unchanged chunks. Done for the changed files' own old versions, and for deleted files of a
 * changed file's size (a file moved, or moved and edited). Other stored files stay unchunked,
 * so a copy of an unchanged large file is stored again rather than found.
 */
async function chunkStoredBaseFiles(
  ctx: OpsContext, baseMaps: (BaseMap & { size: number; tarOffset?: number })[], chain: string[], changed: WalkedEntry[], deleted: Set<string>,
): Promise<void> {
  const paths = new Set(changed.map((e) => e.path));
  const sizes = new Set(changed.map((e) => e.size));
  const manifests = new Map<number, Promise<ChainManifest>>();
  const wanted = baseMaps.filter((m) => m.chunks.length === 0 && m.tarOffset !== undefined && chain[m.layer] !== undefined &&
    (paths.has(m.path) || (deleted.has(m.path) && sizes.has(m.size))));
  await mapLimit(wanted, CHUNKING_FILES_AT_ONCE, async (m) => {
    const tarOffset = m.tarOffset!;
    if (!manifests.has(m.layer)) manifests.set(m.layer, readManifest(ctx, chain[m.layer]!));
    const lm = await manifests.get(m.layer)!;
    const bytes = readTarRange(ctx.store, {
      key: blobKey(lm.blob.digest), blobSize: lm.blob.size, uncompressedSize: lm.uncompressedSize,
    }, tarOffset, tarOffset + m.size);
    m.chunks = await chunkStored(bytes, m.size, { layer: m.layer, stream: STREAM_TAR, offset: tarOffset });
    m.listed = false;
  });
}

function chainStateOf(digest: string, m: ChainManifest): DiffPlan['baseChain'] {
  const c = m.chain;
  return {
    length: m.base.length + 1,
    fullSize: c?.fullSize ?? m.uncompressedSize,
    deltaSize: c?.deltaSize ?? 0,
    restoreSize: c?.restoreSize ?? m.blob.size,
    digests: [...m.base, digest],
  };
}

async function writeFull(ctx: OpsContext, key: string, w: Walked, req: SnapshotOptions, warnings: string[], reason: string): Promise<SnapshotResult> {
  const known = getKey(ctx.state, key);
  let packed = 0;
  const onContent = (n: number) => { packed += n; ctx.progress?.update('pack', packed, w.treeSize); };
  const hasLarge = w.entries.some((e) => e.type === 'file' && e.size >= CHUNK_FILE_MIN);
  const manifestFor = (blob: WrittenBlob, index: WrittenBlob | null): ChainManifest => {
    const ownSize = blob.ref.size + (index?.ref.size ?? 0);
    return baseManifest(ctx, key, req, w, blob, {
      kind: 'full', base: [], parent: known?.current_manifest ?? null,
      ...(index ? { index: index.ref } : {}),
      chain: { length: 1, fullSize: blob.ref.uncompressedSize, deltaSize: 0, ownSize, restoreSize: ownSize, treeSize: w.treeSize },
    });
  };
  let manifestJson = '';
  const { blob, maps } = await writeLayerBlob(ctx.store, w.entries, 0, onContent,
    hasLarge ? undefined : (b) => (manifestJson = json(manifestFor(b, null))));
  let noted = blob; // the blob whose upload journal carries the manifest
  if (hasLarge) {
    const ix: LayerIndex = { layer: 0, deleted: [], deleteOnly: [], files: maps };
    noted = await writeBlob(ctx.store, INDEX_MEDIA_TYPE, async (out) => { await out.write(encodeLayerIndex(ix)); },
      (index) => (manifestJson = json(manifestFor(blob, index))));
  }
  const { digest } = await publishWritten(ctx, noted.writer, manifestJson, { takeOver: req.takeOver, keep: req.keep });
  saveBaseline(ctx.state, key, digest, w.rows, maps.map(chunkMapRow));
  setStatFingerprint(ctx.state, digest, w.statFingerprint);
  const m = JSON.parse(manifestJson) as ChainManifest;
  return result(key, digest, m, w, warnings, reason);
}

async function writeDiff(ctx: OpsContext, key: string, w: Walked, p: DiffPlan, req: SnapshotOptions, warnings: string[]): Promise<SnapshotResult> {
  const layer = p.baseChain.length;
  const byRef = new Set(p.chunked.files.map((f) => f.entry));
  const kept = p.diff.included.map((i) => w.entries[i]!).filter((e) => !byRef.has(e));
  const tarEntries = mergeWhiteouts(kept, p.diff.whiteouts);
  const total = kept.reduce((a, e) => a + (e.type === 'file' ? e.size : 0), 0) + p.chunked.packBytes;
  let packed = 0;
  const onContent = (n: number) => { packed += n; ctx.progress?.update('pack', packed, total); };

  const { blob, maps } = await writeLayerBlob(ctx.store, tarEntries, layer, onContent);
  let pack: WrittenBlob | null = null;
  if (p.chunked.newChunks.length > 0) {
    pack = await writeBlob(ctx.store, CHUNKS_MEDIA_TYPE, (out) => writeChunkPack(p.chunked, async (b) => { onContent(b.length); await out.write(b); }));
  }
  const files = [...maps, ...p.chunked.files.map((f) => f.map)].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const ix: LayerIndex = {
    layer,
    deleted: p.diff.deleted,
    deleteOnly: p.diff.whiteouts.map((e) => e.path),
    files,
  };
  let manifestJson = '';
  const noted = await writeBlob(ctx.store, INDEX_MEDIA_TYPE, async (out) => { await out.write(encodeLayerIndex(ix)); }, (index) => {
    const ownSize = blob.ref.size + (pack?.ref.size ?? 0) + index.ref.size;
    const chain: ChainInfo = {
      length: layer + 1,
      fullSize: p.baseChain.fullSize,
      deltaSize: p.baseChain.deltaSize + blob.ref.uncompressedSize + (pack?.ref.uncompressedSize ?? 0),
      ownSize,
      restoreSize: p.baseChain.restoreSize + ownSize,
      treeSize: w.treeSize,
    };
    manifestJson = json(baseManifest(ctx, key, req, w, blob, {
      kind: 'diff', base: p.baseChain.digests, parent: p.baseDigest, index: index.ref, ...(pack ? { chunks: pack.ref } : {}), chain,
    }));
    return manifestJson;
  });
  const { digest } = await publishWritten(ctx, noted.writer, manifestJson, { takeOver: req.takeOver, keep: req.keep });

  // The new baseline: the walked tree, and the chunk maps of its large files.
  const gone = new Set([...p.diff.deleted, ...p.diff.included.map((i) => w.entries[i]!.path)]);
  const chunkMaps = loadChunkMaps(ctx.state, key).filter((r) => !gone.has(r.path));
  chunkMaps.push(...files.map(chunkMapRow));
  saveBaseline(ctx.state, key, digest, w.rows, chunkMaps);
  setStatFingerprint(ctx.state, digest, w.statFingerprint);
  const m = JSON.parse(manifestJson) as ChainManifest;
  return result(key, digest, m, w, warnings, null);
}

function baseManifest(
  ctx: OpsContext, key: string, req: SnapshotOptions, w: Walked, blob: WrittenBlob,
  rest: Pick<ChainManifest, 'kind' | 'base' | 'parent' | 'chain'> & { index?: BlobRef; chunks?: BlobRef },
): ChainManifest {
  const e = blob.encoded;
  return sealManifest(ctx.store, {
    mediaType: MANIFEST_MEDIA_TYPE,
    schemaVersion: 1,
    key,
    created: new Date().toISOString(),
    host: ctx.host,
    image: req.image ?? null,
    diffId: `sha256:${e.diffIdHex}`,
    blob: { digest: `sha256:${e.blobDigestHex}`, size: e.blobSize, mediaType: LAYER_MEDIA_TYPE },
    uncompressedSize: e.uncompressedSize,
    files: w.entries.length,
    frames: { count: e.frames.length, frameSize: e.frames[0]?.decompressedSize ?? 0, seekTableSize: e.seekTableSize },
    treeFingerprint: w.fingerprint,
    root: w.root,
    tool: TOOL,
    ...rest,
  }, e.keyId);
}

const json = (m: ChainManifest): string => canonicalJson(m).toString('utf8');

function chunkMapRow(f: FileMap): ChunkMapRow {
  return { path: f.path, size: f.size, chunks: packFileMap(f) };
}

function result(key: string, digest: string, m: ChainManifest, w: Walked, warnings: string[], fullReason: string | null): SnapshotResult {
  return {
    key, changed: true, manifestDigest: digest, blobDigest: m.blob.digest, diffId: m.diffId,
    blobSize: m.blob.size, uncompressedSize: m.uncompressedSize, files: w.entries.length, warnings,
    kind: m.kind, storedBytes: m.chain?.ownSize ?? m.blob.size, chainLength: m.chain?.length ?? 1,
    ...(fullReason ? { fullReason } : {}),
  };
}

/** Nothing to store. (When the walk differs only in what the change test ignores, e.g. the
 *  ctimes of a hard-link copy, the baseline is kept as it is: the next copy differs again.) */
function unchanged(ctx: OpsContext, key: string, digest: string, warnings: string[]): SnapshotResult {
  const row = getSnapshot(ctx.state, digest);
  ctx.log.info('unchanged since the last snapshot: nothing uploaded', { key, snapshot: digest });
  return {
    key, changed: false, manifestDigest: digest, blobDigest: row?.blob_digest ?? '', diffId: row?.diff_id ?? '',
    blobSize: row?.blob_size ?? 0, uncompressedSize: row?.uncompressed_size ?? 0, files: row?.files ?? 0, warnings,
    kind: (row?.kind as 'full' | 'diff' | undefined) ?? undefined, storedBytes: 0,
  };
}
