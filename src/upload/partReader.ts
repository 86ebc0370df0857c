// Reads a part back from the staging file and computes its MD5 (Content-MD5; CRC32 too where
// the store sends flexible checksums), all on libuv's thread pool, so the main thread, busy
// packing the next bytes, only sends the part. (Worker threads did this before: each cost a
// V8 isolate's memory for work the thread pool does as well.)
import { open } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { asyncHash } from '../native/index.js';
import { readRangeFrom } from './staging.js';

export interface PartBytes {
  body: Buffer;
  md5: Buffer;
  /** CRC32 of the body, when asked for (servers that validate flexible checksums) and Node has zlib.crc32. */
  crc32?: number;
}

/** Bytes [start, end) of the staging file (into `into` when it is big enough) and their hashes. */
export async function readPart(path: string, start: number, end: number, withCrc32 = false, into?: Buffer): Promise<PartBytes> {
  const fh = await open(path, 'r');
  let body: Buffer;
  try {
    body = await readRangeFrom(fh, path, start, end, into);
  } finally {
    await fh.close();
  }
  const md5 = asyncHash('md5');
  await md5.update(body);
  return { body, md5: await md5.digest(), ...(withCrc32 && typeof zlib.crc32 === 'function' ? { crc32: zlib.crc32(body) } : {}) };
}
