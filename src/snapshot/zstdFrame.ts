// Checks a single zstd frame before it is decompressed. @mongodb-js/zstd decompresses a
// whole frame into memory and its encoder does not record the content size, so a hostile
// frame could expand without limit. Walking the block headers gives an upper bound on the
// decompressed size without decompressing anything.
// Spec: https://github.com/facebook/zstd/blob/dev/doc/zstd_compression_format.md#frames

const ZSTD_MAGIC = 0xfd2fb528;
const MAX_BLOCK = 128 * 1024; // Block_Maximum_Size is at most 128 KiB

/** Upper bound of the frame's decompressed size; throws if the bytes are not exactly one frame. */
export function zstdFrameBound(frame: Buffer): number {
  if (frame.length < 6 || frame.readUInt32LE(0) !== ZSTD_MAGIC) throw new Error('not a zstd frame');
  const fhd = frame[4]!;
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd >> 5) & 1;
  const hasChecksum = (fhd >> 2) & 1;
  if (fhd & 0x08) throw new Error('zstd frame header has the reserved bit set');
  const dictIdSize = [0, 1, 2, 4][fhd & 3]!;
  const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  let o = 5 + (singleSegment ? 0 : 1) + dictIdSize + fcsSize;
  let bound = 0;
  for (;;) {
    if (o + 3 > frame.length) throw new Error('truncated zstd frame');
    const h = frame[o]! | (frame[o + 1]! << 8) | (frame[o + 2]! << 16);
    const last = h & 1;
    const type = (h >> 1) & 3;
    const size = h >>> 3;
    o += 3;
    if (type === 3) throw new Error('zstd frame has a reserved block type');
    if (type === 0) { bound += size; o += size; } // raw
    else if (type === 1) { bound += size; o += 1; } // RLE: one byte repeated size times
    else { bound += MAX_BLOCK; o += size; } // compressed
    if (last) break;
  }
  if (hasChecksum) o += 4;
  if (o !== frame.length) throw new Error(`zstd frame is ${frame.length} bytes but its blocks end at ${o}`);
  return bound;
}
