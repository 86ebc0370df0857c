// The staging file holds a blob's bytes while it uploads: the source for parts, and for
// resuming after a crash (the tree it was packed from may be gone by then).
import { type FileHandle, open, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { readAt } from '../store/fileBytes.js';

/** Reads bytes [start, end) of a file; fails if the file is shorter. */
export async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    return await readRangeFrom(fh, path, start, end);
  } finally {
    await fh.close();
  }
}

async function readRangeFrom(fh: FileHandle, path: string, start: number, end: number): Promise<Buffer> {
  const buf = await readAt(fh, start, end);
  if (buf.length !== end - start) throw new Error(`staging file ${path} ends at ${start + buf.length}, expected bytes up to ${end}`);
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
