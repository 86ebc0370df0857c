// Where each part of a multipart upload starts and ends. The total size is unknown while a
// blob is written, so part sizes grow with the part number instead: parts 1-1000 have the
// base size, 1001-2000 twice that, and so on (capped at S3's 5 GiB). That keeps every blob
// within S3's 10,000-part limit up to ~1000 x 1023 x base (16 TiB with 16 MiB parts).
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
import { createHash } from 'node:crypto';

export const MAX_PARTS = 10_000;
export const MAX_PART_SIZE = 5 * 1024 ** 3;
const TIER_PARTS = 1000;

export function partSize(base: number, n: number): number {
  return Math.min(base * 2 ** Math.floor((n - 1) / TIER_PARTS), MAX_PART_SIZE);
}

/** Byte range [start, end) of part n (1-based) of a stream cut with base size `base`. */
export function partRange(base: number, n: number): { start: number; end: number } {
  let start = 0;
  let done = 1;
  while (done + TIER_PARTS <= n) {
    start += TIER_PARTS * partSize(base, done);
    done += TIER_PARTS;
  }
  start += (n - done) * partSize(base, n);
  return { start, end: start + partSize(base, n) };
}

/** Number of parts a blob of `total` bytes has (at least 1). */
export function partCount(base: number, total: number): number {
  let n = 1;
  while (partRange(base, n).end < total) {
    n++;
    if (n > MAX_PARTS) throw new Error(`blob of ${total} bytes needs more than ${MAX_PARTS} parts of base size ${base}`);
  }
  return n;
}

/** Range of part n clipped to a blob of `total` bytes. */
export function clippedRange(base: number, n: number, total: number): { start: number; end: number } {
  const r = partRange(base, n);
  return { start: r.start, end: Math.min(r.end, total) };
}

/** The ETag S3 gives a completed multipart object: md5 of the parts' binary md5s, "-N". */
export function multipartEtag(partMd5Hex: string[]): string {
  const h = createHash('md5');
  for (const m of partMd5Hex) h.update(Buffer.from(m, 'hex'));
  return `${h.digest('hex')}-${partMd5Hex.length}`;
}

export const stripQuotes = (etag: string | undefined): string => (etag ?? '').replace(/^(W\/)?"|"$/g, '');
