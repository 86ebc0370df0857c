// A byte range in one buffer: positional reads on the thread pool where the source is a file
// (a stream would deliver it in pieces to be copied together on this thread), and the copy of
// pieces into one buffer where it is not.
import type { FileHandle } from 'node:fs/promises';

/** Bytes [start, end) of an open file; shorter only where the file ends before `end`. */
export async function readAt(fh: FileHandle, start: number, end: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(Math.max(0, end - start));
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === buf.length ? buf : buf.subarray(0, got);
}

/** Copies `chunks` one after another into `buf`: the count copied, or null if they held more than fits. */
export async function copyInto(chunks: AsyncIterable<Uint8Array>, buf: Buffer): Promise<number | null> {
  let got = 0;
  for await (const chunk of chunks) {
    if (got + chunk.length > buf.length) return null;
    buf.set(chunk, got);
    got += chunk.length;
  }
  return got;
}
