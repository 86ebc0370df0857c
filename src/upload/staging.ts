// The staging file holds a blob's bytes while it uploads: the source for parts, and for
// resuming after a crash (the tree it was packed from may be gone by then).
import { open, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';

/** Reads bytes [start, end) of a file; fails if the file is shorter. */
export async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    return await readRangeFrom(fh, path, start, end);
  } finally {
    await fh.close();
  }
}

export async function readRangeFrom(
  fh: import('node:fs/promises').FileHandle,
  path: string,
  start: number,
  end: number,
): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(end - start);
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
    if (bytesRead === 0) throw new Error(`staging file ${path} ends at ${start + got}, expected bytes up to ${end}`);
    got += bytesRead;
  }
  return buf;
}

export async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

export const md5Of = (b: Buffer): Buffer => createHash('md5').update(b).digest();
