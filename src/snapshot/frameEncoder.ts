// Tar bytes -> independent zstd frames (compressed concurrently on libuv's thread pool,
// emitted in order) -> seek table. Computes the diff id (sha256 of the tar) and the blob
// digest (sha256 of everything emitted) on the way, so nothing is read twice; both hashes
// also run on the thread pool, so the producing thread only fills frames.
//
// With an encryption key, every compressed frame is sealed (AES-256-GCM, see frameCipher.ts)
// in emission order, after an encryption header: the blob digest covers what is stored.
//
// A producer either copies bytes in (`write`) or reads straight into the frame being
// filled (`fill`), which spares file contents a copy and an allocation per read.
import { availableParallelism } from 'node:os';
import { compress } from '@mongodb-js/zstd';
import { asyncSha256, memoryReleaser } from '../native/index.js';
import { type EncryptionKey, FrameSealer } from './frameCipher.js';
import { encodeSeekTable, type FrameEntry } from './seekTable.js';

export interface FrameEncoderOptions {
  /** Uncompressed bytes per frame. */
  frameSize?: number;
  /** Frames being compressed at once (memory ~ 2 x concurrency x frameSize); default: one per core. */
  concurrency?: number;
  /** Encrypt every frame with this key (a fresh salt per blob). */
  encryptWith?: EncryptionKey;
}

export interface EncodedBlob {
  diffIdHex: string;
  blobDigestHex: string;
  blobSize: number;
  uncompressedSize: number;
  frames: FrameEntry[];
  seekTableSize: number;
  /** Id of the key the blob is encrypted with (absent: plaintext). */
  keyId?: string;
}

export const DEFAULT_FRAME_SIZE = 4 << 20;

/** Where a producer puts tar bytes. A returned promise means "wait": a frame was handed on. */
export interface FrameSink {
  /** Copies `chunk` in. */
  write(chunk: Buffer): Promise<void> | undefined;
  /**
   * Lets `read` put up to `max` bytes directly into the current frame at `buf[offset..offset+length)`;
   * it returns how many it wrote (1..length). `n` is that count once the frame state is updated.
   */
  fill(max: number, read: (buf: Buffer, offset: number, length: number) => number): { n: number; wait: Promise<void> | undefined };
}

export interface FrameEncoder extends FrameSink {
  end(): Promise<EncodedBlob>;
}

/**
 * A FrameSink over fixed-size buffers: bytes are copied (or read) into the current buffer, and
 * each full one, and the partial last one at end(), is handed to `hand` in order (the bytes
 * written, and the whole buffer for reuse). `take` supplies the buffers (a pool, or fresh ones).
 */
export function bufferSink(size: number, take: () => Buffer, hand: (filled: Buffer, whole: Buffer) => Promise<void>): FrameSink & { end(): Promise<void> } {
  let current = take();
  let fill = 0;
  const flush = async (): Promise<void> => {
    if (fill === 0) return;
    const whole = current;
    const filled = whole.subarray(0, fill);
    current = take();
    fill = 0;
    await hand(filled, whole);
  };
  return {
    write(chunk: Buffer): Promise<void> | undefined {
      if (chunk.length < size - fill) { // the common case: a header or a small file's tail
        chunk.copy(current, fill);
        fill += chunk.length;
        return undefined;
      }
      return (async () => {
        for (let o = 0; o < chunk.length; ) {
          const n = Math.min(chunk.length - o, size - fill);
          chunk.copy(current, fill, o, o + n);
          fill += n;
          o += n;
          if (fill === size) await flush();
        }
      })();
    },
    fill(max, read) {
      const length = Math.min(max, size - fill);
      const n = read(current, fill, length);
      if (!(n > 0 && n <= length)) throw new Error(`a reader wrote ${n} of at most ${length} bytes`);
      fill += n;
      return { n, wait: fill === size ? flush() : undefined };
    },
    end: flush,
  };
}

export function createFrameEncoder(emit: (bytes: Buffer) => Promise<void>, opts: FrameEncoderOptions = {}): FrameEncoder {
  const frameSize = opts.frameSize ?? DEFAULT_FRAME_SIZE;
  // zstd's default level (3); @mongodb-js/zstd 1.x takes no level argument.
  // One frame per core: more only queue on the thread pool and hold memory.
  const concurrency = opts.concurrency ?? Math.max(2, availableParallelism());
  const diff = asyncSha256();
  const blob = asyncSha256();
  const frames: FrameEntry[] = [];
  const inFlight: Promise<{ compressed: Buffer; size: number }>[] = [];
  // Frame buffers are reused once compressed and hashed: allocating 4 MiB per frame made the
  // garbage collector a tenth of the snapshot time (external memory pressure forces full GCs).
  const spare: Buffer[] = [];
  let blobSize = 0;
  let uncompressedSize = 0;
  const released = memoryReleaser(); // compressed frames come from thread-pool threads' heaps
  const sealer = opts.encryptWith ? new FrameSealer(opts.encryptWith) : undefined;
  let headerOut = false;
  let ended = false; // no more frames will be queued: the last one drained is the blob's last

  const hashing: Promise<void>[] = []; // diff-id updates not yet done, oldest first
  const out = async (bytes: Buffer): Promise<void> => {
    const hashed = blob.update(bytes);
    blobSize += bytes.length;
    await emit(bytes);
    await hashed;
  };
  const sealed = async (compressed: Buffer, last: boolean): Promise<Buffer[]> => {
    if (!sealer) return [compressed];
    if (!headerOut) { headerOut = true; await out(sealer.header); }
    // synchronous, on this thread: measured cheap next to compression (see README, Encryption)
    return sealer.seal(frames.length, last, compressed);
  };
  const drainOne = async (): Promise<void> => {
    const { compressed, size } = await inFlight.shift()!;
    const stored = await sealed(compressed, ended && inFlight.length === 0);
    frames.push({ compressedSize: stored.reduce((a, b) => a + b.length, 0), decompressedSize: size });
    released(size);
    for (const piece of stored) await out(piece);
  };
  const sink = bufferSink(frameSize, () => spare.pop() ?? Buffer.allocUnsafe(frameSize), async (raw, whole) => {
    uncompressedSize += raw.length;
    const hashed = diff.update(raw);
    const job = compress(raw).then((compressed) => ({ compressed, size: raw.length }));
    job.catch(() => {}); // the error surfaces when this frame's turn comes in drainOne
    inFlight.push(job);
    Promise.all([job, hashed]).then(() => { if (spare.length < concurrency + 2) spare.push(whole); }, () => {});
    hashing.push(hashed);
    while (hashing.length > concurrency) await hashing.shift();
    while (inFlight.length >= concurrency) await drainOne();
  });

  return {
    write: sink.write,
    fill: sink.fill,
    async end(): Promise<EncodedBlob> {
      await sink.end();
      ended = true;
      while (inFlight.length) await drainOne();
      if (sealer && frames.length === 0) { // an empty stream still gets one sealed (last) frame: truncation shows
        const stored = await sealed(await compress(Buffer.alloc(0)), true);
        frames.push({ compressedSize: stored.reduce((a, b) => a + b.length, 0), decompressedSize: 0 });
        for (const piece of stored) await out(piece);
      }
      await Promise.all(hashing.splice(0));
      const table = encodeSeekTable(frames);
      await out(table);
      return {
        diffIdHex: (await diff.digest()).toString('hex'),
        blobDigestHex: (await blob.digest()).toString('hex'),
        blobSize,
        uncompressedSize,
        frames,
        seekTableSize: table.length,
        ...(sealer ? { keyId: sealer.keyId } : {}),
      };
    },
  };
}
