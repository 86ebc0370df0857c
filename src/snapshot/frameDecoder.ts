// A stored blob -> verified tar bytes. Reads the seek table from the blob's tail, fetches
// frames in ranged reads (a few groups in flight), decompresses frames concurrently, and
// yields the tar bytes in order. Both digests and all sizes are checked; the generator only
// finishes normally when the blob and the tar are exactly what the manifest says.
// An encrypted blob (frameCipher.ts) is recognised by its header; each stored frame is
// authenticated and decrypted before its zstd block headers are even looked at.
import { availableParallelism } from 'node:os';
import { decompress } from '@mongodb-js/zstd';
import { asyncSha256, memoryReleaser, releaseFreeMemory } from '../native/index.js';
import { copyInto } from '../store/fileBytes.js';
import type { ObjectStore } from '../store/types.js';
import { ENCRYPTION_HEADER_SIZE, type FrameOpener, openerFor, parseEncryptionHeader } from './frameCipher.js';
import { decodeSeekTable, SEEK_FOOTER_SIZE, type SeekTable, seekTableSizeFromFooter } from './seekTable.js';
import { zstdFrameBound } from './zstdFrame.js';
import { LayerkeepError, type ErrorDetails } from '../errors.js';

export interface BlobExpectations {
  key: string;
  blobSize: number;
  blobDigestHex: string;
  diffIdHex: string;
  uncompressedSize: number;
}

export interface DecodeOptions {
  /** Largest decompressed frame accepted (a defence against decompression bombs). */
  maxFrame?: number;
  /** Frames decompressing at once. */
  concurrency?: number;
  /** Target compressed bytes per ranged read. */
  groupBytes?: number;
  onCompressed?: (bytes: number) => void;
}

export class BlobVerificationError extends LayerkeepError {
  override name = 'BlobVerificationError';
  constructor(message: string, details?: ErrorDetails) { super('corrupt', message, details); }
}

export async function readRange(store: ObjectStore, key: string, start: number, end: number): Promise<Buffer> {
  const short = (got: number): never => {
    throw new BlobVerificationError(`${key}: short read at ${start}-${end} (${got} bytes): truncated blob`);
  };
  if (store.readBytes) {
    const buf = await store.readBytes(key, start, end);
    if (buf.length !== end - start) short(buf.length);
    return buf;
  }
  // copied into one buffer as the bytes arrive (collecting and concatenating held them twice)
  const buf = Buffer.allocUnsafe(end - start);
  const got = await copyInto(await store.read(key, start, end), buf);
  if (got === null) throw new BlobVerificationError(`${key}: the store returned more than bytes ${start}-${end}`);
  if (got !== end - start) short(got);
  return buf;
}

/** The blob's seek table (checked against the blob's size and the manifest's tar size) and where each frame starts. */
async function loadSeekTable(store: ObjectStore, want: Omit<BlobExpectations, 'blobDigestHex' | 'diffIdHex'>, maxFrame: number,
): Promise<{ table: SeekTable; tableBytes: Buffer; offsets: number[]; opener?: FrameOpener }> {
  const fail = (msg: string): never => { throw new BlobVerificationError(`${want.key}: ${msg}`); };
  const head = await store.head(want.key);
  if (!head) fail('blob is missing from the store');
  if (head!.size !== want.blobSize) fail(`blob is ${head!.size} bytes, manifest says ${want.blobSize} (truncated or replaced)`);
  if (want.blobSize < SEEK_FOOTER_SIZE) fail('blob too small to hold a seek table');
  const [footer, start] = await Promise.all([
    readRange(store, want.key, want.blobSize - SEEK_FOOTER_SIZE, want.blobSize),
    readRange(store, want.key, 0, Math.min(want.blobSize, ENCRYPTION_HEADER_SIZE)),
  ]);
  try {
    const header = parseEncryptionHeader(start);
    // a missing key is refused here, before a frame is fetched
    const opener = header ? openerFor(store, header, `blob ${want.key}`) : undefined;
    const prefix = header ? ENCRYPTION_HEADER_SIZE : 0;
    const tableSize = seekTableSizeFromFooter(footer);
    if (tableSize + prefix > want.blobSize) fail('seek table larger than the blob');
    const tableBytes = await readRange(store, want.key, want.blobSize - tableSize, want.blobSize);
    const table = decodeSeekTable(tableBytes, want.blobSize, maxFrame, prefix);
    if (opener && table.frames.length === 0) fail('an encrypted blob without frames (truncated)');
    const total = table.frames.reduce((a, f) => a + f.decompressedSize, 0);
    if (total !== want.uncompressedSize) {
      fail(`frames decompress to ${total} bytes but the manifest says ${want.uncompressedSize} (refusing: possible decompression bomb or corrupt table)`);
    }
    const offsets: number[] = [];
    let off = prefix;
    for (const f of table.frames) { offsets.push(off); off += f.compressedSize; }
    return { table, tableBytes, offsets, opener };
  } catch (err) {
    if (err instanceof BlobVerificationError || (err as Error).name === 'EncryptionKeyMissingError') throw err;
    return fail((err as Error).message);
  }
}

/** Frame i as stored -> its zstd frame (decrypted and authenticated when the blob is encrypted). */
function openFrame(stored: Buffer, i: number, count: number, opener: FrameOpener | undefined, fail: (msg: string) => never): Buffer {
  if (!opener) return stored;
  try { return opener.open(i, i === count - 1, stored); } catch (err) { return fail(`frame ${i} ${(err as Error).message}`); }
}

/**
 * Frame i, decompressed: its block headers are walked first to bound its output (a bomb is
 * refused without being decompressed), and the result must have the seek table's size.
 */
async function decodeFrame(compressed: Buffer, i: number, size: number, maxFrame: number, fail: (msg: string) => never): Promise<Buffer> {
  let bound: number;
  try { bound = zstdFrameBound(compressed); } catch (err) { return fail(`frame ${i}: ${(err as Error).message}`); }
  if (bound > maxFrame) fail(`frame ${i} could expand to ${bound} bytes (limit ${maxFrame}): refusing`);
  let raw: Buffer;
  try { raw = await decompress(compressed); } catch (err) { return fail(`frame ${i} is corrupt: ${(err as Error).message}`); }
  if (raw.length !== size) fail(`frame ${i} decompressed to ${raw.length} bytes, seek table says ${size}`);
  return raw;
}

/**
 * Bytes [start, end) of a blob's tar, fetching and decompressing only the frames that hold
 * them. Sizes are checked but, unlike decodeBlob, no digest can be: callers use these bytes
 * only where a corrupt read costs efficiency, never correctness (chunking a stored file to
 * find reusable chunks: a reference is only ever made to bytes whose hash was just computed
 * from this very range, and restore verifies the whole blob).
 */
export async function* readTarRange(
  store: ObjectStore, want: Omit<BlobExpectations, 'blobDigestHex' | 'diffIdHex'>, start: number, end: number, maxFrame = 64 << 20,
): AsyncGenerator<Buffer> {
  const fail = (msg: string): never => { throw new BlobVerificationError(`${want.key}: ${msg}`); };
  if (start < 0 || end > want.uncompressedSize || start > end) fail(`tar range ${start}-${end} is outside the ${want.uncompressedSize}-byte layer`);
  const { table, offsets, opener } = await loadSeekTable(store, want, maxFrame);
  let tarAt = 0;
  for (let i = 0; i < table.frames.length && tarAt < end; i++) {
    const f = table.frames[i]!;
    const frameEnd = tarAt + f.decompressedSize;
    if (frameEnd > start) {
      const stored = await readRange(store, want.key, offsets[i]!, offsets[i]! + f.compressedSize);
      const compressed = openFrame(stored, i, table.frames.length, opener, fail);
      const raw = await decodeFrame(compressed, i, f.decompressedSize, maxFrame, fail);
      yield raw.subarray(Math.max(0, start - tarAt), Math.min(raw.length, end - tarAt));
    }
    tarAt = frameEnd;
  }
}

export async function* decodeBlob(store: ObjectStore, want: BlobExpectations, opts: DecodeOptions = {}): AsyncGenerator<Buffer> {
  const maxFrame = opts.maxFrame ?? 64 << 20;
  // one frame per core: more only queue on the thread pool and hold memory
  const concurrency = opts.concurrency ?? Math.max(2, availableParallelism());
  const groupBytes = opts.groupBytes ?? 8 << 20;
  const fail = (msg: string): never => { throw new BlobVerificationError(`${want.key}: ${msg}`); };

  const { table, tableBytes: tableBuf, offsets, opener } = await loadSeekTable(store, want, maxFrame);

  // Consecutive frames are fetched together up to groupBytes.
  const groupOf: number[] = [];
  const groups: { start: number; end: number; fetched?: Promise<Buffer> }[] = [];
  for (let i = 0; i < table.frames.length; i++) {
    const g = groups[groups.length - 1];
    const end = offsets[i]! + table.frames[i]!.compressedSize;
    if (g && end - g.start <= groupBytes) g.end = end;
    else groups.push({ start: offsets[i]!, end });
    groupOf.push(groups.length - 1);
  }
  const fetchGroup = (g: number): Promise<Buffer> => {
    const grp = groups[g]!;
    if (!grp.fetched) {
      grp.fetched = readRange(store, want.key, grp.start, grp.end);
      grp.fetched.catch(() => {});
    }
    return grp.fetched;
  };

  // Both digests run on the thread pool, beside decompression (see frameEncoder.ts).
  const blobHash = asyncSha256();
  const diffHash = asyncSha256();
  const hashing: Promise<void>[] = opener ? [blobHash.update(opener.header.bytes)] : [];
  const released = memoryReleaser(); // decompressed frames come from thread-pool threads' heaps
  const job = (i: number): Promise<{ compressed: Buffer; raw: Buffer }> => {
    const g = groupOf[i]!;
    const p = fetchGroup(g).then(async (buf) => {
      const start = offsets[i]! - groups[g]!.start;
      const compressed = buf.subarray(start, start + table.frames[i]!.compressedSize);
      const plain = openFrame(compressed, i, table.frames.length, opener, fail);
      return { compressed, raw: await decodeFrame(plain, i, table.frames[i]!.decompressedSize, maxFrame, fail) };
    });
    p.catch(() => {});
    return p;
  };

  const window: Promise<{ compressed: Buffer; raw: Buffer }>[] = [];
  let next = 0;
  const fill = () => { while (window.length < concurrency && next < table.frames.length) window.push(job(next++)); };
  fill();
  let lastGroupReleased = -1;
  for (let i = 0; i < table.frames.length; i++) {
    const { compressed, raw } = await window.shift()!;
    fill();
    // release fetched groups we are done with so memory stays bounded
    for (let g = lastGroupReleased + 1; g < groupOf[i]!; g++) groups[g]!.fetched = undefined;
    lastGroupReleased = groupOf[i]! - 1;
    hashing.push(blobHash.update(compressed), diffHash.update(raw));
    while (hashing.length > 2 * concurrency) await hashing.shift();
    opts.onCompressed?.(compressed.length);
    released(raw.length);
    yield raw;
  }
  hashing.push(blobHash.update(tableBuf));
  await Promise.all(hashing);
  await releaseFreeMemory(); // what the frames held, before the caller goes on (a restore walks the tree next)
  if ((await blobHash.digest()).toString('hex') !== want.blobDigestHex) fail('blob digest mismatch: the stored blob is corrupt');
  if ((await diffHash.digest()).toString('hex') !== want.diffIdHex) fail('diff id mismatch: the layer tar is corrupt');
}
