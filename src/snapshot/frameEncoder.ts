// Tar bytes -> independent zstd frames (compressed concurrently on libuv's thread pool,
// emitted in order) -> seek table. Computes the diff id (sha256 of the tar) and the blob
// digest (sha256 of everything emitted) on the way, so nothing is read twice.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { compress } from '@mongodb-js/zstd';
import { encodeSeekTable, type FrameEntry } from './seekTable.js';

export interface FrameEncoderOptions {
  /** Uncompressed bytes per frame. */
  frameSize?: number;
  level?: number;
  /** Frames being compressed at once (memory ~ 2 x concurrency x frameSize); default: one per core. */
  concurrency?: number;
}

export interface EncodedBlob {
  diffIdHex: string;
  blobDigestHex: string;
  blobSize: number;
  uncompressedSize: number;
  frames: FrameEntry[];
  seekTableSize: number;
}

export const DEFAULT_FRAME_SIZE = 4 << 20;

export interface FrameEncoder {
  write(chunk: Buffer): Promise<void>;
  end(): Promise<EncodedBlob>;
}

export function createFrameEncoder(emit: (bytes: Buffer) => Promise<void>, opts: FrameEncoderOptions = {}): FrameEncoder {
  const frameSize = opts.frameSize ?? DEFAULT_FRAME_SIZE;
  const level = opts.level ?? 3;
  // one frame per core: more only queue on the thread pool and hold memory
  const concurrency = opts.concurrency ?? Math.max(2, availableParallelism());
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  const frames: FrameEntry[] = [];
  const inFlight: Promise<{ compressed: Buffer; size: number }>[] = [];
  let current = Buffer.allocUnsafe(frameSize);
  let fill = 0;
  let blobSize = 0;
  let uncompressedSize = 0;

  const out = async (bytes: Buffer): Promise<void> => {
    blob.update(bytes);
    blobSize += bytes.length;
    await emit(bytes);
  };
  const drainOne = async (): Promise<void> => {
    const { compressed, size } = await inFlight.shift()!;
    frames.push({ compressedSize: compressed.length, decompressedSize: size });
    await out(compressed);
  };
  const flushFrame = async (): Promise<void> => {
    if (fill === 0) return;
    const raw = current.subarray(0, fill);
    const job = compress(raw, level).then((compressed) => ({ compressed, size: raw.length }));
    job.catch(() => {}); // the error surfaces when this frame's turn comes in drainOne
    inFlight.push(job);
    current = Buffer.allocUnsafe(frameSize);
    fill = 0;
    while (inFlight.length >= concurrency) await drainOne();
  };

  return {
    async write(chunk: Buffer): Promise<void> {
      diff.update(chunk);
      uncompressedSize += chunk.length;
      let o = 0;
      while (o < chunk.length) {
        const n = Math.min(chunk.length - o, frameSize - fill);
        chunk.copy(current, fill, o, o + n);
        fill += n;
        o += n;
        if (fill === frameSize) await flushFrame();
      }
    },
    async end(): Promise<EncodedBlob> {
      await flushFrame();
      while (inFlight.length) await drainOne();
      const table = encodeSeekTable(frames);
      await out(table);
      return {
        diffIdHex: diff.digest('hex'),
        blobDigestHex: blob.digest('hex'),
        blobSize,
        uncompressedSize,
        frames,
        seekTableSize: table.length,
      };
    },
  };
}
