// Large files that changed: chunk them, find which chunks the chain already stores, and
// decide per file whether it goes into the diff whole (an ordinary tar entry) or as chunk
// references plus its new chunks in the chunk pack.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { LongPaths } from '../snapshot/dirChain.js';
import { fileChanged, fileShrank } from '../snapshot/pack.js';
import type { WalkedEntry } from '../snapshot/walk.js';
import { readAt } from '../store/fileBytes.js';
import { type Chunk, createPoolChunker } from './chunker.js';
import { type ChunkRef, type ChunkRun, type FileMap, STREAM_CHUNKS } from './format.js';

const READ_BLOCK = 4 << 20;
/** A changed file is stored as chunk references when at least this share of its bytes is already stored. */
export const MIN_REUSE_SHARE = 0.25;

/** Reads a file once and returns its chunks; fails if the file changes meanwhile. */
export async function chunkFile(e: WalkedEntry): Promise<Chunk[]> {
  const chunker = createPoolChunker();
  await readChecked(e, 0, e.size, (b) => chunker.push(b));
  return chunker.end();
}

/** Chunks bytes as they stream by (a file's stored copy) into references to where they lie. */
export async function chunkStored(bytes: AsyncIterable<Buffer>, size: number, at: Omit<ChunkRef, 'hash' | 'length'>): Promise<ChunkRef[]> {
  const chunker = createPoolChunker();
  let got = 0;
  for await (const b of bytes) { await chunker.push(b); got += b.length; }
  if (got !== size) throw new Error(`read ${got} of ${size} stored bytes`);
  let offset = at.offset;
  return chunker.end().map((c) => { const ref = { ...at, offset, hash: c.hash, length: c.length }; offset += c.length; return ref; });
}

/** Reads [start, end) of a walked file in blocks; the next block is read while `sink` works on one. */
async function readChecked(e: WalkedEntry, start: number, end: number, sink: (b: Buffer) => Promise<void>): Promise<void> {
  await withFile(e, async (read) => {
    let next = start < end ? read(start, Math.min(READ_BLOCK, end - start)) : null;
    for (let pos = start; next; ) {
      const b = await next;
      pos += b.length;
      next = pos < end ? read(pos, Math.min(READ_BLOCK, end - pos)) : null;
      await sink(b);
    }
  });
}

/** Runs `fn` over `items` with at most `limit` at once, results in order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Opens a walked file, checks it is still what the walk saw, and offers exact ranged reads. */
async function withFile(e: WalkedEntry, use: (read: (pos: number, length: number) => Promise<Buffer>) => Promise<void>): Promise<void> {
  // a name that is not UTF-8 goes to fs as bytes; a path past PATH_MAX through a parent's fd
  // (the anchors are closed right away: an open file does not need them)
  const long = new LongPaths();
  let fh;
  try {
    fh = await open(long.of(e.absPath!), constants.O_RDONLY | constants.O_NOFOLLOW);
  } finally {
    long.close();
  }
  try {
    const st = await fh.stat({ bigint: true });
    if (Number(st.size) !== e.size || st.mtimeNs !== e.mtimeNs) {
      throw fileChanged(e.path);
    }
    await use(async (pos, length) => {
      const buf = await readAt(fh, pos, pos + length);
      if (buf.length !== length) throw fileShrank(e.path);
      return buf;
    });
  } finally {
    await fh.close();
  }
}

export interface ChunkRefPlan {
  /** Files stored as chunk references, with their maps (new chunks point into this layer's pack). */
  files: { entry: WalkedEntry; map: FileMap }[];
  /** New chunks in pack order: which file range fills which pack range. */
  newChunks: { entry: WalkedEntry; fileOffset: number; length: number; hash: Buffer }[];
  packBytes: number;
}

const hex = (b: Buffer): string => b.toString('hex');

/** A chunk map of the baseline tree, as the chain stores it. */
export interface BaseMap {
  layer: number;
  path: string;
  chunks: ChunkRef[];
  /** false when the chunks were worked out just now from the stored bytes (the layer's index lists none). */
  listed: boolean;
}

/**
 * Chooses chunk references for the files whose chunks are mostly stored already (in any
 * baseline map: an edited file, a renamed or copied one). Reused chunks are taken as runs
 * of a baseline map, so the index can name them compactly; chunks new to the chain are
 * packed once each, even when several files (or one file twice) contain them.
 */
export function planChunkRefs(candidates: { entry: WalkedEntry; chunks: Chunk[] }[], baseMaps: BaseMap[], layer: number): ChunkRefPlan {
  const plan: ChunkRefPlan = { files: [], newChunks: [], packBytes: 0 };
  const where = new Map<string, { map: BaseMap; idx: number }>();
  for (const map of baseMaps) map.chunks.forEach((c, idx) => { const h = hex(c.hash); if (!where.has(h)) where.set(h, { map, idx }); });
  const packed = new Map<string, ChunkRef>();
  for (const { entry, chunks } of candidates) {
    const reused = chunks.reduce((a, c) => a + (where.has(hex(c.hash)) ? c.length : 0), 0);
    if (reused < entry.size * MIN_REUSE_SHARE) continue;
    const refs: ChunkRef[] = [];
    const runs: ChunkRun[] = [];
    const own = baseMaps.find((m) => m.path === entry.path);
    let next: { map: BaseMap; idx: number } | undefined = own ? { map: own, idx: 0 } : undefined;
    let fileOffset = 0;
    for (let i = 0; i < chunks.length; ) {
      const c = chunks[i]!;
      // Continue where the last run stopped, else wherever the chain has this chunk.
      const at = next && next.map.chunks[next.idx]?.hash.equals(c.hash) ? next : where.get(hex(c.hash));
      if (at) {
        let k = 1;
        while (i + k < chunks.length && at.idx + k < at.map.chunks.length && at.map.chunks[at.idx + k]!.hash.equals(chunks[i + k]!.hash)) k++;
        for (let j = 0; j < k; j++) { runs.push(refs.length); refs.push(at.map.chunks[at.idx + j]!); fileOffset += chunks[i + j]!.length; }
        // a run can only name chunks the other layer's index lists
        if (k > 1 && at.map.listed) runs.splice(runs.length - k, k, { layer: at.map.layer, path: at.map.path, start: at.idx, count: k });
        next = { map: at.map, idx: at.idx + k };
        i += k;
        continue;
      }
      const h = hex(c.hash);
      let ref = packed.get(h);
      if (!ref) {
        ref = { hash: c.hash, length: c.length, layer, stream: STREAM_CHUNKS, offset: plan.packBytes };
        packed.set(h, ref);
        plan.newChunks.push({ entry, fileOffset, length: c.length, hash: c.hash });
        plan.packBytes += c.length;
      }
      runs.push(refs.length);
      refs.push(ref);
      fileOffset += c.length;
      if (next) next = { map: next.map, idx: next.idx + 1 }; // an edit in place: stay aligned
      i++;
    }
    plan.files.push({
      entry,
      map: {
        path: entry.path, size: entry.size, layer, inTar: false, chunks: refs, runs,
        meta: { mode: entry.mode, uid: entry.uid, gid: entry.gid, mtimeNs: entry.mtimeNs, xattrs: entry.xattrs },
      },
    });
  }
  return plan;
}

/** Writes the new chunks' bytes, read again from their files and checked against their hashes. */
export async function writeChunkPack(plan: ChunkRefPlan, write: (b: Buffer) => Promise<void>): Promise<void> {
  for (let i = 0; i < plan.newChunks.length; ) {
    const entry = plan.newChunks[i]!.entry;
    let j = i;
    while (j < plan.newChunks.length && plan.newChunks[j]!.entry === entry) j++;
    const run = plan.newChunks.slice(i, j);
    i = j;
    await withFile(entry, async (read) => {
      for (const c of run) {
        const bytes = await read(c.fileOffset, c.length);
        if (!createHash('sha256').update(bytes).digest().equals(c.hash)) {
          throw fileChanged(entry.path, `bytes ${c.fileOffset}+${c.length} differ from a moment ago`);
        }
        await write(bytes);
      }
    });
  }
}
