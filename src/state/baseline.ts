// The packed form of a key's baseline tree (state table `baselines`): one value per key, since
// the tree is only ever read and replaced whole. Format 1: raw deflate of the JSON array of
// LinkedIndexRow objects; format 0: the same JSON uncompressed (what migration 4 built from the
// old per-file rows). JSON and zlib ship with Node; 25k entries pack in ~50 ms (the rows took
// ~100 ms to insert) into ~470 KB (the rows: ~2.6 MB), and unpack with one JSON.parse.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { IndexRow } from '../snapshot/metaIndex.js';
import { refused } from '../errors.js';

/** A metadata index row with the link target / device number (migration 2). */
export type LinkedIndexRow = IndexRow & { link: string | null };

export const BASELINE_FORMAT = 1;

export function packBaseline(rows: LinkedIndexRow[]): Buffer {
  return deflateRawSync(JSON.stringify(rows), { level: 1 });
}

export function unpackBaseline(format: number, body: Buffer | string): LinkedIndexRow[] {
  let json: string;
  if (format === 0) json = typeof body === 'string' ? body : body.toString('utf8');
  else if (format === 1) json = inflateRawSync(body as Buffer).toString('utf8');
  else throw refused(`baseline format ${format} is newer than this layerkeep: upgrade it, or snapshot with --force`);
  return JSON.parse(json) as LinkedIndexRow[];
}
