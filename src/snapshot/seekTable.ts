// The zstd seekable format: independent zstd frames followed by a seek table stored in a
// skippable frame, so any zstd decoder reads the blob whole and a reader that knows the
// format can fetch and decompress frames independently.
// Spec: https://github.com/facebook/zstd/blob/dev/contrib/seekable_format/zstd_seekable_compression_format.md

const SKIPPABLE_MAGIC = 0x184d2a5e;
const SEEKABLE_MAGIC = 0x8f92eab1;
const FOOTER_SIZE = 9; // Number_Of_Frames (4) + Seek_Table_Descriptor (1) + Seekable_Magic_Number (4)
const ENTRY_SIZE = 8; // Compressed_Size (4) + Decompressed_Size (4); we write no checksums

export interface FrameEntry {
  compressedSize: number;
  decompressedSize: number;
}

export interface SeekTable {
  frames: FrameEntry[];
  /** Byte length of the skippable frame that holds the table. */
  tableSize: number;
}

export function encodeSeekTable(frames: FrameEntry[]): Buffer {
  const payload = frames.length * ENTRY_SIZE + FOOTER_SIZE;
  const buf = Buffer.alloc(8 + payload);
  buf.writeUInt32LE(SKIPPABLE_MAGIC, 0);
  buf.writeUInt32LE(payload, 4);
  let o = 8;
  for (const f of frames) {
    buf.writeUInt32LE(f.compressedSize, o);
    buf.writeUInt32LE(f.decompressedSize, o + 4);
    o += ENTRY_SIZE;
  }
  buf.writeUInt32LE(frames.length, o);
  buf.writeUInt8(0, o + 4); // descriptor: no checksums, reserved bits zero
  buf.writeUInt32LE(SEEKABLE_MAGIC, o + 5);
  return buf;
}

/** Bytes to read from the end of a blob to learn the table's size. */
export const SEEK_FOOTER_SIZE = FOOTER_SIZE;

/** From the last 9 bytes of a blob, the size of the whole seek-table frame. */
export function seekTableSizeFromFooter(footer: Buffer): number {
  if (footer.length !== FOOTER_SIZE || footer.readUInt32LE(5) !== SEEKABLE_MAGIC) {
    throw new Error('blob has no zstd seek table (not written by layerkeep, or truncated)');
  }
  const desc = footer.readUInt8(4);
  if (desc & 0x7c) throw new Error('seek table descriptor has reserved bits set');
  const n = footer.readUInt32LE(0);
  const entry = desc & 0x80 ? ENTRY_SIZE + 4 : ENTRY_SIZE;
  return 8 + n * entry + FOOTER_SIZE;
}

/**
 * Parses the whole seek-table frame and checks it accounts for exactly blobSize bytes, of which
 * the first `prefixSize` precede the frames (an encrypted blob's header).
 */
export function decodeSeekTable(table: Buffer, blobSize: number, maxFrame: number, prefixSize = 0): SeekTable {
  if (table.length < 8 + FOOTER_SIZE || table.readUInt32LE(0) !== SKIPPABLE_MAGIC) {
    throw new Error('corrupt seek table: missing skippable frame header');
  }
  if (table.readUInt32LE(4) !== table.length - 8) throw new Error('corrupt seek table: size field disagrees');
  const footer = table.subarray(table.length - FOOTER_SIZE);
  const n = footer.readUInt32LE(0);
  const withChecksum = (footer.readUInt8(4) & 0x80) !== 0;
  const entry = withChecksum ? ENTRY_SIZE + 4 : ENTRY_SIZE;
  if (8 + n * entry + FOOTER_SIZE !== table.length) throw new Error('corrupt seek table: frame count disagrees with size');
  const frames: FrameEntry[] = [];
  let total = table.length + prefixSize;
  for (let i = 0, o = 8; i < n; i++, o += entry) {
    const compressedSize = table.readUInt32LE(o);
    const decompressedSize = table.readUInt32LE(o + 4);
    if (compressedSize === 0 || decompressedSize > maxFrame) {
      throw new Error(`corrupt seek table: frame ${i} claims ${compressedSize} -> ${decompressedSize} bytes (limit ${maxFrame})`);
    }
    frames.push({ compressedSize, decompressedSize });
    total += compressedSize;
  }
  if (total !== blobSize) {
    throw new Error(`corrupt blob: seek table accounts for ${total} bytes, blob has ${blobSize}`);
  }
  return { frames, tableSize: table.length };
}
