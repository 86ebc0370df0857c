// Content-defined chunking of large files: FastCDC (Xia et al., USENIX ATC 2016,
// https://www.usenix.org/conference/atc16/technical-sessions/presentation/xia) with a 32-bit
// gear hash, cut-point skipping below the minimum size and normalized chunking (a harder mask
// before the average size, an easier one after it), so chunk sizes cluster around the average.
// A cut depends only on the last 32 bytes, so an edit moves at most the boundaries around it
// and every other chunk of the file keeps its bytes and its hash.
//
// Sizes: min 8 KiB, average 32 KiB, max 128 KiB (min = avg/4 and max = 4 x avg, as FastCDC
// suggests). A small edit, or a rewritten 4-16 KiB database page, costs about one 32 KiB chunk;
// 1 GiB of large files is ~32 k chunks (~1.7 MB of index in a full snapshot, 1.5 MB in the
// state DB). On the incremental benchmark (64 KiB random edits) a diff stored 2.2 % of the full
// snapshot with 32 KiB chunks, 3.3 % with 64 KiB and 1.8 % with 16 KiB, which would double the
// chunk metadata and its memory for little gain.
import { createHash, type Hash } from 'node:crypto';
import { nativeChunker } from '../native/index.js';

export const CHUNK_MIN = 8 << 10;
export const CHUNK_AVG = 32 << 10;
export const CHUNK_MAX = 128 << 10;
/** Regular files at least this big are chunked; smaller ones are always stored whole. */
export const CHUNK_FILE_MIN = 1 << 20;

/** One chunk: the sha256 of its bytes and its length. */
export interface Chunk {
  hash: Buffer;
  length: number;
}

// The gear table is part of the format: changing it moves every boundary (which only costs
// deduplication, never correctness: chunk maps store explicit lengths and hashes).
const GEAR = (() => {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) t[i] = createHash('sha256').update(`layerkeep-gear-${i}`).digest().readInt32LE(0);
  return t;
})();
// Cut when the masked top bits are zero. avg = 2^15: 17 bits before the average size
// (fewer early cuts), 13 bits after it (more late cuts).
const MASK_HARD = (0x1ffff << 15) | 0;
const MASK_EASY = (0x1fff << 19) | 0;

/** The gear state where the last scan stopped without a cut. */
let scanState = 0;

/**
 * Rolls the gear hash over d[i..end) from state f; returns the index just past the first byte
 * where (state & mask) is zero, or -1 (then scanState holds the state). Unrolled by four: the
 * loop is the hot path of chunking.
 */
function scan(d: Uint8Array, i: number, end: number, mask: number, f: number): number {
  const g = GEAR;
  const end4 = end - 3;
  for (; i < end4; i += 4) {
    f = ((f << 1) + g[d[i]!]!) | 0;
    if ((f & mask) === 0) return i + 1;
    f = ((f << 1) + g[d[i + 1]!]!) | 0;
    if ((f & mask) === 0) return i + 2;
    f = ((f << 1) + g[d[i + 2]!]!) | 0;
    if ((f & mask) === 0) return i + 3;
    f = ((f << 1) + g[d[i + 3]!]!) | 0;
    if ((f & mask) === 0) return i + 4;
  }
  for (; i < end; i++) {
    f = ((f << 1) + g[d[i]!]!) | 0;
    if ((f & mask) === 0) return i + 1;
  }
  scanState = f;
  return -1;
}

export interface Chunker {
  push(data: Buffer): void;
  /** Ends the file: the bytes since the last cut become the final chunk. */
  end(): Chunk[];
}

/** A streaming chunker: feed the file's bytes in any slicing, get the same chunks. */
export function createChunker(onChunk?: (c: Chunk) => void): Chunker {
  const chunks: Chunk[] = [];
  let hash: Hash = createHash('sha256');
  let len = 0; // bytes in the current chunk so far
  let fp = 0;
  const cut = (): void => {
    const c = { hash: hash.digest(), length: len };
    chunks.push(c);
    onChunk?.(c);
    hash = createHash('sha256');
    len = 0;
    fp = 0;
  };
  return {
    push(data: Buffer): void {
      const n = data.length;
      let i = 0;
      while (i < n) {
        const start = i;
        // Bytes below the minimum size only go to the hash (cut-point skipping).
        if (len < CHUNK_MIN) {
          const take = Math.min(CHUNK_MIN - len, n - i);
          i += take;
          len += take;
          if (len < CHUNK_MIN) { hash.update(data.subarray(start, i)); return; }
        }
        // `len` counts the chunk's bytes up to data[i0].
        const i0 = i;
        let f = fp;
        let at = -1;
        const hardEnd = Math.min(n, i0 + Math.max(0, CHUNK_AVG - len));
        if (i < hardEnd) {
          at = scan(data, i, hardEnd, MASK_HARD, f);
          if (at < 0) { f = scanState; i = hardEnd; }
        }
        if (at < 0) {
          const easyEnd = Math.min(n, i0 + (CHUNK_MAX - len));
          if (i < easyEnd) {
            at = scan(data, i, easyEnd, MASK_EASY, f);
            if (at < 0) { f = scanState; i = easyEnd; }
          }
        }
        if (at >= 0) i = at;
        hash.update(data.subarray(start, i));
        len += i - i0;
        fp = f;
        if (at >= 0 || len >= CHUNK_MAX) cut();
      }
    },
    end(): Chunk[] {
      if (len > 0) cut();
      return chunks;
    },
  };
}

/**
 * The same chunker on the thread pool (src/native/chunker.c, given the table and masks above):
 * what chunkFile and chunkStored use. The JavaScript one above is its reference.
 */
export function createPoolChunker(): { push(data: Buffer): Promise<void>; end(): Chunk[] } {
  const c = nativeChunker({ gear: GEAR, min: CHUNK_MIN, avg: CHUNK_AVG, max: CHUNK_MAX, maskHard: MASK_HARD, maskEasy: MASK_EASY });
  return {
    push: (data) => c.push(data),
    end: () => {
      const { lengths, hashes } = c.end();
      return Array.from(lengths, (length, i) => ({ length, hash: Buffer.from(hashes.subarray(i * 32, i * 32 + 32)) }));
    },
  };
}

/** Chunks of a whole buffer (tests, small inputs). */
export function chunkBuffer(data: Buffer): Chunk[] {
  const c = createChunker();
  c.push(data);
  return c.end();
}
