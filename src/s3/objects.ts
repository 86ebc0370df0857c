// The S3 object store: the layout of store/layout.ts under s3://bucket/prefix. Blobs go
// through the multipart engine in src/upload (on the target in multipart.ts); small objects
// (manifests, refs) use single PUTs with conditional headers; reads resume broken transfers.
import {
  GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { copyInto } from '../store/fileBytes.js';
import { PreconditionFailedError, type BlobWriter, type ObjectInfo, type ObjectStore, type PutCondition } from '../store/types.js';
import { stripQuotes } from '../upload/partLayout.js';
import type { HasMultipartTarget } from '../upload/target.js';
import { createMultipartWriter } from '../upload/writer.js';
import type { S3Bucket } from './bucket.js';
import { isNotFound, isPreconditionFailed, s3Error } from './errors.js';
import type { S3MultipartTarget } from './multipart.js';
import { isTransient } from './retry.js';
import { notFound } from '../errors.js';

export interface MultipartUploadInfo {
  /** Key relative to the store prefix. */
  key: string;
  uploadId: string;
  initiated?: Date;
}

export interface S3Store extends ObjectStore, HasMultipartTarget {
  readonly multipart: S3MultipartTarget;
  readonly bucket: string;
  readonly prefix: string;
  /** False when the server ignored If-None-Match on PutObject (writes fall back to read-compare-write). */
  readonly conditionalWrites: boolean;
  /** Multipart uploads in progress under the prefix (for gc). */
  listMultipartUploads(): AsyncIterable<MultipartUploadInfo>;
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
}

export class S3ObjectStore implements S3Store {
  /** Cleared by the open-time probe when the server ignores If-None-Match. */
  conditionalWrites = true;
  readonly bucket: string;
  readonly prefix: string;
  readonly description: string;

  constructor(private readonly b: S3Bucket, readonly multipart: S3MultipartTarget) {
    this.bucket = b.bucket;
    this.prefix = b.prefix;
    this.description = b.description;
  }

  createBlobWriter(): Promise<BlobWriter> {
    return createMultipartWriter(this.multipart, this.b.cfg.state);
  }

  async read(key: string, start = 0, end?: number): Promise<Readable> {
    if (end !== undefined && end <= start) return Readable.from([], { objectMode: false });
    const first = await this.getRange(key, start, end, undefined);
    if (!first) throw notFound(`reading ${this.b.url(key)}: no such object`);
    const total = end ?? start + first.length;
    return Readable.from(this.resumingBody(key, first, start, total), { objectMode: false });
  }

  /**
   * Bytes [start, end) in one buffer, shorter only where the object ends first: the response
   * chunks are copied straight in (no stream in between), re-requesting the rest when a
   * transfer breaks off, as read() does.
   */
  async readBytes(key: string, start: number, end: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(Math.max(0, end - start));
    if (buf.length === 0) return buf;
    const first = await this.getRange(key, start, end, undefined);
    if (!first) throw notFound(`reading ${this.b.url(key)}: no such object`);
    const got = await copyInto(this.resumingBody(key, first, start, start + Math.min(first.length, buf.length)), buf);
    if (got === null) throw new Error(`reading ${this.b.url(key)}: the server sent more than bytes ${start}-${end}`);
    return got === buf.length ? buf : buf.subarray(0, got);
  }

  private async getRange(key: string, start: number, end: number | undefined, ifMatch: string | undefined) {
    const b = this.b;
    const range = start > 0 || end !== undefined ? `bytes=${start}-${end !== undefined ? end - 1 : ''}` : undefined;
    try {
      const r = await b.call(`reading ${b.url(key)}${range ? ` (${range})` : ''}`, () =>
        b.client.send(new GetObjectCommand({ Bucket: b.bucket, Key: b.full(key), Range: range, IfMatch: ifMatch, ...b.ssec() })),
      );
      return { body: r.Body as Readable, length: r.ContentLength ?? 0, etag: stripQuotes(r.ETag) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** Streams [start, total) and re-requests the rest (same ETag) when a transfer breaks off. */
  private async *resumingBody(
    key: string,
    first: { body: Readable; etag: string },
    start: number,
    total: number,
  ): AsyncGenerator<Buffer> {
    const retry = this.b.cfg.retry;
    let offset = start;
    let body: Readable = first.body;
    for (let failures = 0; ; ) {
      try {
        for await (const chunk of body) {
          offset += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
        if (offset >= total) return;
        throw Object.assign(new Error(`transfer ended at byte ${offset} of ${total}`), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
      } catch (err) {
        body.destroy();
        if (!isTransient(err) || ++failures >= retry.maxAttempts) throw s3Error(`reading ${this.b.url(key)} at byte ${offset}`, err, this.b.redact);
        await sleep(Math.random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** failures));
        const next = await this.getRange(key, offset, total, first.etag || undefined);
        if (!next) throw new Error(`reading ${this.b.url(key)}: the object disappeared at byte ${offset}`);
        body = next.body;
      }
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    return this.multipart.headObject(key);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const b = this.b;
    let token: string | undefined;
    do {
      const page = await b.call(`listing ${b.url(prefix)}*`, () =>
        b.client.send(new ListObjectsV2Command({ Bucket: b.bucket, Prefix: b.full(prefix), ContinuationToken: token })),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        yield { key: b.rel(o.Key), size: o.Size ?? 0, etag: stripQuotes(o.ETag), modified: o.LastModified };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    await this.multipart.deleteObject(key);
  }

  async getSmall(key: string): Promise<{ body: Buffer; etag: string } | null> {
    const b = this.b;
    try {
      return await b.call(`reading ${b.url(key)}`, async () => {
        const r = await b.client.send(new GetObjectCommand({ Bucket: b.bucket, Key: b.full(key), ...b.ssec() }));
        const body = Buffer.from(await (r.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
        return { body, etag: stripQuotes(r.ETag) };
      });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async putSmall(key: string, body: Buffer, condition?: PutCondition): Promise<{ etag: string }> {
    const b = this.b;
    if (condition && !this.conditionalWrites) await this.checkConditionByReading(key, condition);
    const md5 = createHash('md5').update(body).digest();
    const cond = condition && this.conditionalWrites
      ? 'ifNoneMatch' in condition ? { IfNoneMatch: '*' } : { IfMatch: stripQuotes(condition.ifMatch) }
      : {};
    let attempts = 0;
    try {
      const r = await b.call(
        `writing ${b.url(key)}`,
        () => {
          attempts++;
          return b.client.send(new PutObjectCommand({
            Bucket: b.bucket, Key: b.full(key), Body: body, ContentMD5: md5.toString('base64'),
            ContentType: 'application/json', ...cond, ...b.sseWrite(),
          }));
        },
        isPreconditionFailed,
      );
      return { etag: stripQuotes(r.ETag) || md5.toString('hex') };
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err;
      // After a retry, our own earlier attempt may be what the condition now sees.
      if (attempts > 1) {
        const now = await this.getSmall(key);
        if (now && now.body.equals(body)) return { etag: now.etag };
      }
      throw new PreconditionFailedError(key);
    }
  }

  private async checkConditionByReading(key: string, condition: PutCondition): Promise<void> {
    const current = await this.head(key);
    if ('ifNoneMatch' in condition ? current !== null : current?.etag !== stripQuotes(condition.ifMatch)) {
      throw new PreconditionFailedError(key);
    }
  }

  async close(): Promise<void> {
    this.b.client.destroy();
  }

  // ---- gc capability

  async *listMultipartUploads(): AsyncIterable<MultipartUploadInfo> {
    const b = this.b;
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const page = await b.call(`listing multipart uploads under s3://${b.bucket}/${b.prefix}`, () =>
        b.client.send(new ListMultipartUploadsCommand({
          Bucket: b.bucket, Prefix: b.full(''), KeyMarker: keyMarker, UploadIdMarker: idMarker,
        })),
      );
      for (const u of page.Uploads ?? []) {
        if (u.Key && u.UploadId) yield { key: b.rel(u.Key), uploadId: u.UploadId, initiated: u.Initiated };
      }
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      idMarker = page.NextUploadIdMarker;
    }
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.multipart.abortUpload(key, uploadId);
  }
}
