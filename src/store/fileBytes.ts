// Positional reads of a byte range into one buffer, on the thread pool. A stream would
// deliver the range in pieces that then have to be copied together on this thread.
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
