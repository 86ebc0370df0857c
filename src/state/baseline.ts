// The packed form of a key's baseline tree (state table `baselines`): one value per key, since
// the tree is only ever read and replaced whole. Format 2: the rows in segments (below); format
// 1: raw deflate of the JSON array of LinkedIndexRow objects; format 0: the same JSON
// uncompressed (what migration 4 built from the old per-file rows). Paths with bytes that are
// not UTF-8 (src/snapshot/fsName.ts) are JSON \udcXX escapes, so they survive as they are. JSON and zlib ship with Node; 25k entries pack in ~50 ms (the rows took
// ~100 ms to insert) into ~470 KB (the rows: ~2.6 MB), and unpack with one JSON.parse.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { IndexRow } from '../snapshot/metaIndex.js';
import { corrupt, refused } from '../errors.js';

/** A metadata index row with the link target / device number (migration 2). */
export type LinkedIndexRow = IndexRow & { link: string | null };

export const BASELINE_FORMAT = 2;

/** Rows per segment of format 2: the JSON of one segment is a few MB, whatever the tree's size. */
const SEGMENT_ROWS = 16384;

/**
 * Format 2: segments, each a big-endian u32 length and the raw deflate of the JSON array of up
 * to SEGMENT_ROWS rows. Format 1 made one JSON string of all rows and a copy of it for zlib:
 * for a million entries ~500 MB at once, most of a restore's peak memory.
 */
export function packBaseline(rows: LinkedIndexRow[]): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < rows.length; i += SEGMENT_ROWS) {
    const z = deflateRawSync(JSON.stringify(rows.slice(i, i + SEGMENT_ROWS)), { level: 1 });
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(z.length);
    parts.push(len, z);
  }
  return Buffer.concat(parts);
}

export function unpackBaseline(format: number, body: Buffer | string): LinkedIndexRow[] {
  if (format === 0) return JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as LinkedIndexRow[];
  if (format === 1) return JSON.parse(inflateRawSync(body as Buffer).toString('utf8')) as LinkedIndexRow[];
  if (format !== 2) throw refused(`baseline format ${format} is newer than this layerkeep: upgrade it, or snapshot with --force`);
  const b = body as Buffer;
  const rows: LinkedIndexRow[] = [];
  for (let at = 0; at < b.length; ) {
    if (at + 4 > b.length) throw corrupt('baseline is truncated');
    const len = b.readUInt32BE(at);
    if (at + 4 + len > b.length) throw corrupt('baseline is truncated');
    for (const r of JSON.parse(inflateRawSync(b.subarray(at + 4, at + 4 + len)).toString('utf8')) as LinkedIndexRow[]) rows.push(r);
    at += 4 + len;
  }
  return rows;
}
