// The S3 side of the multipart engine (src/upload): MultipartTarget on one bucket and prefix.
// The engine holds the journal, staging file and scheduling; this file only speaks S3,
// including which S3 answers mean "the upload is gone" or "a part was refused".
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand,
  DeleteObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListPartsCommand, PutObjectCommand, UploadPartCommand, UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import type { Logger } from '../log.js';
import type { ObjectInfo } from '../store/types.js';
import { MAX_PART_SIZE, stripQuotes } from '../upload/partLayout.js';
import type { MultipartTarget, PartHashes, PartSource, ServerPart } from '../upload/target.js';
import type { S3Bucket } from './bucket.js';
import { codeOf, isNotFound, isUploadGone } from './errors.js';

function crc32Base64(crc: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc >>> 0);
  return b.toString('base64');
}

export class S3MultipartTarget implements MultipartTarget {
  /** Cleared by the open-time probe when the server cannot copy encrypted objects (RGW 16). */
  serverSideCopy = true;
  readonly name: string;
  readonly partSize: number;
  readonly concurrency: number;
  readonly stagingDir: string;
  readonly etagIsMd5: boolean;
  readonly wantsCrc32: boolean;
  readonly abandonAfterMs: number;
  readonly log: Logger;

  constructor(private readonly b: S3Bucket) {
    this.name = b.description;
    this.partSize = b.cfg.partSize;
    this.concurrency = b.cfg.concurrency;
    this.stagingDir = b.cfg.stagingDir;
    this.abandonAfterMs = b.cfg.abandonAfterMs;
    this.etagIsMd5 = !b.encrypted;
    this.wantsCrc32 = b.cfg.checksumMode === 'WHEN_SUPPORTED';
    this.log = b.log;
  }

  isUploadGone(err: unknown): boolean {
    return isUploadGone(err);
  }

  isPartRejected(err: unknown): boolean {
    return codeOf(err) === 'InvalidPart';
  }

  async createUpload(objectKey: string): Promise<string> {
    const b = this.b;
    const r = await b.call(`starting multipart upload ${b.url(objectKey)}`, () =>
      b.client.send(new CreateMultipartUploadCommand({
        Bucket: b.bucket, Key: b.full(objectKey), ...b.sseWrite(), ...b.blobClass(),
      })),
    );
    if (!r.UploadId) throw new Error(`starting multipart upload ${b.url(objectKey)}: the server returned no upload id`);
    return r.UploadId;
  }

  async *listUploads(objectKey: string): AsyncIterable<string> {
    const b = this.b;
    const full = b.full(objectKey);
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const page = await b.call(`listing multipart uploads of ${b.url(objectKey)}`, () =>
        b.client.send(new ListMultipartUploadsCommand({ Bucket: b.bucket, Prefix: full, KeyMarker: keyMarker, UploadIdMarker: idMarker })),
      );
      for (const u of page.Uploads ?? []) if (u.Key === full && u.UploadId) yield u.UploadId;
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      idMarker = page.NextUploadIdMarker;
    }
  }

  async uploadPart(objectKey: string, uploadId: string, partNumber: number, body: Buffer | PartSource, md5: Buffer, hashes: PartHashes = {}): Promise<string> {
    const b = this.b;
    const r = await b.call(`upload of part ${partNumber} of ${b.url(objectKey)}`, () => {
      const cmd = new UploadPartCommand({
        Bucket: b.bucket, Key: b.full(objectKey), UploadId: uploadId, PartNumber: partNumber,
        Body: Buffer.isBuffer(body) ? body : body.open(), // a stream is opened anew for each attempt
        ContentLength: body.length, ContentMD5: md5.toString('base64'), ...b.ssec(),
        // Where the server validates flexible checksums, hand over the CRC32 computed off-thread.
        ...(this.wantsCrc32 && hashes.crc32 !== undefined ? { ChecksumCRC32: crc32Base64(hashes.crc32) } : {}),
      });
      // Parts are signed without a payload hash (the signer would otherwise SHA-256 every
      // byte once more): Content-MD5 is one of the signed headers and the server checks the
      // body against it, so a part still cannot be altered in transit undetected.
      // https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
      cmd.middlewareStack.add(
        (next) => async (args) => {
          const req = args.request as { headers?: Record<string, string> };
          if (req.headers) req.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
          return next(args);
        },
        { step: 'build', name: 'layerkeepUnsignedPayload' },
      );
      return b.client.send(cmd);
    });
    return stripQuotes(r.ETag);
  }

  /** Pages through ListParts; `pageSize` is S3's MaxParts (default and maximum 1000). */
  async *listParts(objectKey: string, uploadId: string, pageSize?: number): AsyncIterable<ServerPart> {
    const b = this.b;
    let marker: string | undefined;
    for (;;) {
      const page = await b.call(
        `listing parts of ${b.url(objectKey)}`,
        () => b.client.send(new ListPartsCommand({
          Bucket: b.bucket, Key: b.full(objectKey), UploadId: uploadId, PartNumberMarker: marker, MaxParts: pageSize, ...b.ssec(),
        })),
        isNotFound,
      );
      for (const p of page.Parts ?? []) {
        if (p.PartNumber !== undefined) yield { number: p.PartNumber, size: p.Size ?? 0, etag: stripQuotes(p.ETag) };
      }
      if (!page.IsTruncated) return;
      marker = page.NextPartNumberMarker;
    }
  }

  async completeUpload(objectKey: string, uploadId: string, parts: { number: number; etag: string }[]): Promise<void> {
    const b = this.b;
    await b.call(
      `completing multipart upload ${b.url(objectKey)} (${parts.length} parts)`,
      () => b.client.send(new CompleteMultipartUploadCommand({
        Bucket: b.bucket, Key: b.full(objectKey), UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.number, ETag: `"${p.etag}"` })) },
        ...b.ssec(),
      })),
      isNotFound,
    );
  }

  async abortUpload(objectKey: string, uploadId: string): Promise<void> {
    const b = this.b;
    try {
      await b.call(`aborting multipart upload ${b.url(objectKey)}`, () =>
        b.client.send(new AbortMultipartUploadCommand({ Bucket: b.bucket, Key: b.full(objectKey), UploadId: uploadId })),
      isNotFound);
    } catch (err) {
      if (!isNotFound(err) && codeOf(err) !== 'NoSuchUpload') throw err;
    }
  }

  async putObject(key: string, body: Buffer, md5: Buffer): Promise<void> {
    const b = this.b;
    await b.call(`writing ${b.url(key)}`, () =>
      b.client.send(new PutObjectCommand({
        Bucket: b.bucket, Key: b.full(key), Body: body, ContentLength: body.length, ContentMD5: md5.toString('base64'),
        ...b.sseWrite(), ...b.blobClass(),
      })),
    );
  }

  async headObject(key: string): Promise<ObjectInfo | null> {
    const b = this.b;
    try {
      const r = await b.call(`checking ${b.url(key)}`, () =>
        b.client.send(new HeadObjectCommand({ Bucket: b.bucket, Key: b.full(key), ...b.ssec() })),
      isNotFound);
      return { key, size: r.ContentLength ?? 0, etag: stripQuotes(r.ETag), modified: r.LastModified };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async copyObject(fromKey: string, toKey: string, size: number): Promise<void> {
    const b = this.b;
    const source = `${b.bucket}/${encodeURIComponent(b.full(fromKey)).replace(/%2F/g, '/')}`;
    if (size <= MAX_PART_SIZE) {
      await b.call(`copying ${b.url(fromKey)} to ${b.url(toKey)}`, () =>
        b.client.send(new CopyObjectCommand({
          Bucket: b.bucket, Key: b.full(toKey), CopySource: source, ...b.sseWrite(), ...b.copySourceSsec(), ...b.blobClass(),
          // S3 refuses a copy onto itself that changes nothing; a refresh (touch) replaces metadata.
          ...(fromKey === toKey ? { MetadataDirective: 'REPLACE' as const } : {}),
        })),
      );
      return;
    }
    // CopyObject stops at 5 GiB: copy in parts of 1 GiB instead.
    const piece = 1024 ** 3;
    const uploadId = await this.createUpload(toKey);
    try {
      const parts: { number: number; etag: string }[] = [];
      for (let n = 1, start = 0; start < size; n++, start += piece) {
        const end = Math.min(size, start + piece) - 1;
        const r = await b.call(`copying part ${n} of ${b.url(fromKey)} to ${b.url(toKey)}`, () =>
          b.client.send(new UploadPartCopyCommand({
            Bucket: b.bucket, Key: b.full(toKey), UploadId: uploadId, PartNumber: n, CopySource: source,
            CopySourceRange: `bytes=${start}-${end}`, ...b.ssec(), ...b.copySourceSsec(),
          })),
        );
        parts.push({ number: n, etag: stripQuotes(r.CopyPartResult?.ETag) });
      }
      await this.completeUpload(toKey, uploadId, parts);
    } catch (err) {
      await this.abortUpload(toKey, uploadId).catch(() => undefined);
      throw err;
    }
  }

  async deleteObject(key: string): Promise<void> {
    const b = this.b;
    await b.call(`deleting ${b.url(key)}`, () => b.client.send(new DeleteObjectCommand({ Bucket: b.bucket, Key: b.full(key) })));
  }
}
