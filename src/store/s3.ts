// The S3 object store: the layout of store/layout.ts under s3://bucket/prefix, on
// @aws-sdk/client-s3. Blobs go through the multipart engine in src/upload; small objects
// (manifests, refs) use single PUTs with conditional headers.
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand,
  DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand,
  ListObjectsV2Command, ListPartsCommand, PutObjectCommand, S3Client, UploadPartCommand, UploadPartCopyCommand,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { createHash, randomUUID } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../ops/types.js';
import type { StateDb } from '../state/db.js';
import { describeError, isTransient, withRetry } from '../upload/retry.js';
import { MAX_PART_SIZE, stripQuotes } from '../upload/partLayout.js';
import type { HasMultipartTarget, MultipartTarget, PartHashes, PartSource, ServerPart } from '../upload/target.js';
import { createMultipartWriter } from '../upload/writer.js';
import {
  codeOf, headerOf, isNotFound, isPreconditionFailed, makeRedactor, rootError, s3Error, statusOf, type Redactor,
} from './s3-errors.js';
import {
  DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE, DEFAULT_RETRY, MIN_PART_SIZE, validateSseCustomerKey, type RetryLimits, type S3Options,
} from './s3-options.js';
import { PreconditionFailedError, type BlobWriter, type ObjectInfo, type ObjectStore, type PutCondition } from './types.js';
import { copyInto } from './fileBytes.js';

export { s3OptionsFrom, type S3Options } from './s3-options.js';

export interface MultipartUploadInfo {
  /** Key relative to the store prefix. */
  key: string;
  uploadId: string;
  initiated?: Date;
}

export interface S3Store extends ObjectStore, HasMultipartTarget {
  readonly bucket: string;
  readonly prefix: string;
  /** False when the server ignored If-None-Match on PutObject (writes fall back to read-compare-write). */
  readonly conditionalWrites: boolean;
  /** Multipart uploads in progress under the prefix (for gc). */
  listMultipartUploads(): AsyncIterable<MultipartUploadInfo>;
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
}

export type OpenFailure = 'no-bucket' | 'bad-credentials' | 'no-credentials' | 'access-denied' | 'wrong-region' | 'unreachable' | 'other';

/** Opening the store failed; `reason` says which misconfiguration. */
export class S3OpenError extends Error {
  constructor(readonly reason: OpenFailure, message: string) {
    super(message);
    this.name = 'S3OpenError';
  }
}

function crc32Base64(crc: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc >>> 0);
  return b.toString('base64');
}

export function isS3Store(store: ObjectStore): store is S3Store {
  return typeof (store as Partial<S3Store>).listMultipartUploads === 'function';
}

const quietLog: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (msg, f) => process.stderr.write(`layerkeep: warning: ${msg}${f ? ` ${JSON.stringify(f)}` : ''}\n`),
  error: (msg, f) => process.stderr.write(`layerkeep: error: ${msg}${f ? ` ${JSON.stringify(f)}` : ''}\n`),
};

/** Opens s3://bucket/prefix: checks bucket, credentials and region, and probes conditional writes. */
export async function openS3Store(url: URL, opts: S3Options, state: StateDb, log: Logger = quietLog): Promise<S3Store> {
  if (url.protocol !== 's3:') throw new Error(`not an s3:// URL: ${url.protocol}//${url.host}${url.pathname}`);
  const bucket = url.hostname;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new Error(`invalid S3 bucket name ${JSON.stringify(bucket)} in store URL`);
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  const partSize = opts.partSize ?? DEFAULT_PART_SIZE;
  if (partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) throw new Error(`S3 part size ${partSize} is outside 5MiB..5GiB`);
  const sseCustomerKey = opts.sseCustomerKey ? validateSseCustomerKey(opts.sseCustomerKey) : undefined;
  if (sseCustomerKey && opts.sse) throw new Error('S3 options: SSE-C (a customer key) cannot be combined with --s3-sse');
  const custom = opts.endpoint !== undefined;
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
  const checksum = opts.checksumMode ?? (custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED');
  const region = opts.region ?? (custom ? 'us-east-1' : undefined);
  if (!region) throw new S3OpenError('wrong-region', 'no S3 region configured: set --s3-region or AWS_REGION');
  const agentOpts = { keepAlive: true, maxSockets: concurrency * 2 + 4 };
  const client = new S3Client({
    region,
    endpoint: opts.endpoint,
    forcePathStyle: opts.forcePathStyle ?? custom,
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
    maxAttempts: 1, // retries are ours (bounded, logged, naming the part)
    requestHandler: {
      connectionTimeout: opts.connectTimeoutMs ?? 10_000,
      // A stalled transfer (no bytes either way) fails after this and is retried.
      socketTimeout: opts.requestTimeoutMs ?? 60_000,
      httpAgent: new HttpAgent(agentOpts),
      httpsAgent: new HttpsAgent(agentOpts),
    },
  });
  const where = `${opts.endpoint ?? `AWS S3 ${region}`}`;
  const description = `s3://${bucket}/${prefix}${prefix ? '/' : ''} (${where})`;

  const secrets: (string | undefined)[] = [
    sseCustomerKey,
    sseCustomerKey ? Buffer.from(sseCustomerKey, 'base64').toString('hex') : undefined,
    process.env.AWS_SECRET_ACCESS_KEY,
    process.env.AWS_SESSION_TOKEN,
    process.env.AWS_ACCESS_KEY_ID,
  ];
  const redact = makeRedactor(() => secrets);
  try {
    const creds = await client.config.credentials();
    secrets.push(creds.secretAccessKey, creds.sessionToken, creds.accessKeyId);
  } catch (err) {
    client.destroy();
    throw new S3OpenError(
      'no-credentials',
      redact(`no AWS credentials for ${description}: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE (${describeError(err)})`),
    );
  }

  const store = new S3ObjectStore(client, bucket, prefix, description, redact, log, {
    checksumMode: checksum,
    partSize,
    concurrency,
    retry: { ...DEFAULT_RETRY, ...opts.retry },
    storageClass: opts.storageClass as StorageClass | undefined,
    sse: opts.sse,
    sseKmsKeyId: opts.sseKmsKeyId,
    sseCustomerKey,
    stagingDir: opts.stagingDir ?? join(dirname(state.name), 'staging'),
    abandonAfterMs: opts.abandonAfterMs ?? 3_600_000,
    state,
  });
  try {
    await store.checkBucket(opts.openTimeoutMs ?? 10_000, where);
    await store.probeConditionalWrites();
  } catch (err) {
    client.destroy();
    throw err;
  }
  return store;
}

interface StoreConfig {
  checksumMode: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  partSize: number;
  concurrency: number;
  retry: RetryLimits;
  storageClass?: StorageClass;
  sse?: 'AES256' | 'aws:kms';
  sseKmsKeyId?: string;
  sseCustomerKey?: string;
  stagingDir: string;
  abandonAfterMs: number;
  state: StateDb;
}

class S3ObjectStore implements S3Store, MultipartTarget {
  conditionalWrites = true;
  serverSideCopy = true;
  readonly multipart: MultipartTarget = this;
  readonly name: string;
  readonly partSize: number;
  readonly concurrency: number;
  readonly stagingDir: string;
  readonly etagIsMd5: boolean;
  readonly wantsCrc32: boolean;
  readonly abandonAfterMs: number;
  private readonly ssecKeyMd5?: string;
  private readonly checksumMode: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    readonly prefix: string,
    readonly description: string,
    private readonly redact: Redactor,
    readonly log: Logger,
    private readonly cfg: StoreConfig,
  ) {
    this.name = description;
    this.partSize = cfg.partSize;
    this.concurrency = cfg.concurrency;
    this.stagingDir = cfg.stagingDir;
    this.abandonAfterMs = cfg.abandonAfterMs;
    this.etagIsMd5 = !cfg.sseCustomerKey && cfg.sse !== 'aws:kms';
    this.wantsCrc32 = cfg.checksumMode === 'WHEN_SUPPORTED';
    this.checksumMode = cfg.checksumMode;
    if (cfg.sseCustomerKey) {
      this.ssecKeyMd5 = createHash('md5').update(Buffer.from(cfg.sseCustomerKey, 'base64')).digest('base64');
    }
  }

  // ---- naming and request parameters

  private full(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private rel(fullKey: string): string {
    return this.prefix ? fullKey.slice(this.prefix.length + 1) : fullKey;
  }

  private url(key: string): string {
    return `s3://${this.bucket}/${this.full(key)}`;
  }

  /** SSE-C headers: needed on every request that reads or writes object data. */
  private ssec(): Record<string, string> {
    if (!this.cfg.sseCustomerKey) return {};
    return { SSECustomerAlgorithm: 'AES256', SSECustomerKey: this.cfg.sseCustomerKey, SSECustomerKeyMD5: this.ssecKeyMd5 as string };
  }

  private copySourceSsec(): Record<string, string> {
    if (!this.cfg.sseCustomerKey) return {};
    return {
      CopySourceSSECustomerAlgorithm: 'AES256',
      CopySourceSSECustomerKey: this.cfg.sseCustomerKey,
      CopySourceSSECustomerKeyMD5: this.ssecKeyMd5 as string,
    };
  }

  /** Encryption parameters for requests that create an object. */
  private sseWrite(): Record<string, string> {
    if (this.cfg.sseCustomerKey) return this.ssec();
    if (this.cfg.sse === 'aws:kms') return { ServerSideEncryption: 'aws:kms', ...(this.cfg.sseKmsKeyId ? { SSEKMSKeyId: this.cfg.sseKmsKeyId } : {}) };
    if (this.cfg.sse === 'AES256') return { ServerSideEncryption: 'AES256' };
    return {};
  }

  private blobClass(): { StorageClass?: StorageClass } {
    return this.cfg.storageClass ? { StorageClass: this.cfg.storageClass } : {};
  }

  /** Runs one S3 request with retries; failures become one redacted line naming `what`. */
  private async call<T>(what: string, fn: () => Promise<T>, passThrough?: (err: unknown) => boolean): Promise<T> {
    try {
      return await withRetry(what, fn, {
        limits: this.cfg.retry,
        isFatal: passThrough,
        onRetry: (attempt, err, delay) =>
          this.log.debug('retrying S3 request', { what, attempt, delayMs: Math.round(delay), error: this.redact(describeError(err)) }),
      });
    } catch (err) {
      throw s3Error(what, err, this.redact);
    }
  }

  // ---- open-time checks

  async checkBucket(timeoutMs: number, where: string): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: AbortSignal.timeout(timeoutMs) });
      return;
    } catch (err) {
      throw await this.classifyOpenError(err, timeoutMs, where);
    }
  }

  private async classifyOpenError(err: unknown, timeoutMs: number, where: string): Promise<S3OpenError> {
    const status = statusOf(err);
    const code = codeOf(err);
    const e = (msg: string, reason: OpenFailure): S3OpenError => new S3OpenError(reason, this.redact(`cannot open ${this.description}: ${msg}`));
    if (status === 404 || code === 'NoSuchBucket' || code === 'NotFound') {
      return e(`bucket "${this.bucket}" does not exist at ${where}`, 'no-bucket');
    }
    if (status === 301 || status === 307 || code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || /region/i.test(String((rootError(err) as Error)?.message))) {
      const actual = headerOf(err, 'x-amz-bucket-region');
      return e(`wrong region: the bucket is in ${actual ?? 'another region'} (set --s3-region${actual ? ` ${actual}` : ''})`, 'wrong-region');
    }
    if (status === 403 || status === 401) {
      // HeadBucket has no body; a listing tells bad credentials from missing permissions.
      let detail: string | undefined;
      try {
        await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1, Prefix: this.full('') }), {
          abortSignal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err2) {
        detail = codeOf(err2);
      }
      if (detail === 'InvalidAccessKeyId') return e(`bad credentials: the access key id is not known to ${where}`, 'bad-credentials');
      if (detail === 'SignatureDoesNotMatch') return e('bad credentials: the secret access key does not match the access key id', 'bad-credentials');
      if (detail === 'ExpiredToken' || detail === 'InvalidToken') return e('bad credentials: the session token is expired or invalid', 'bad-credentials');
      if (detail === 'AccessDenied' || detail === undefined) {
        return e(`access denied to bucket "${this.bucket}": the credentials are valid but lack permission (s3:ListBucket, s3:GetObject, s3:PutObject)`, 'access-denied');
      }
      return e(`bad credentials or no access (HTTP ${status}, ${detail})`, 'bad-credentials');
    }
    const root = rootError(err) as { name?: string; code?: string };
    if (root?.name === 'AbortError' || root?.name === 'TimeoutError' || isTransient(err) || /ENOTFOUND|EAI_AGAIN|ECONNREFUSED/.test(`${root?.code} ${describeError(err)}`)) {
      const why = root?.name === 'AbortError' || root?.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : describeError(err);
      return e(`endpoint ${where} unreachable: ${why}`, 'unreachable');
    }
    return e(describeError(err), 'other');
  }

  /**
   * Puts a probe object twice with If-None-Match: * — a server that honours it refuses the
   * second. Servers that ignore it get read-compare-write for refs (racy; warned about).
   */
  async probeConditionalWrites(): Promise<void> {
    const key = `.layerkeep-probe/${randomUUID()}`;
    const put = (): Promise<unknown> =>
      this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.full(key), Body: Buffer.from('probe'), IfNoneMatch: '*', ...this.sseWrite() }));
    try {
      await this.call(`conditional-write probe ${this.url(key)}`, put);
      try {
        await put();
        this.conditionalWrites = false;
      } catch (err) {
        if (!isPreconditionFailed(err)) throw s3Error(`conditional-write probe ${this.url(key)}`, err, this.redact);
      }
    } catch (err) {
      if (statusOf(err) === 403) {
        this.log.warn('cannot write under the store prefix (access denied); snapshots to this store will fail', { store: this.description });
        return;
      }
      if (statusOf(err) !== 501 && codeOf(err) !== 'NotImplemented') throw err;
      this.conditionalWrites = false;
    }
    if (this.cfg.sseCustomerKey || this.cfg.sse === 'aws:kms') await this.probeEncryptedCopy(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) })).catch(() => undefined);
    if (!this.conditionalWrites) {
      this.log.warn(
        'the S3 server ignores conditional writes (If-None-Match); ref updates fall back to read-compare-write, ' +
          'so two hosts writing the same key at the same moment may overwrite each other',
        { store: this.description },
      );
    }
  }

  /** RGW 16 answers 501 to CopyObject of SSE-C and SSE-KMS objects; AWS copies them. */
  private async probeEncryptedCopy(probeKey: string): Promise<void> {
    const copyKey = `${probeKey}-copy`;
    try {
      await this.copyObject(probeKey, copyKey, 5);
      await this.deleteObject(copyKey);
    } catch (err) {
      if (statusOf(err) !== 501 && codeOf(err) !== 'NotImplemented') return; // e.g. no write access: warned above
      this.serverSideCopy = false;
      this.log.warn('the S3 server cannot copy encrypted objects; blobs upload once packed instead of while packing', {
        store: this.description,
      });
    }
  }

  // ---- ObjectStore

  createBlobWriter(): Promise<BlobWriter> {
    return createMultipartWriter(this, this.cfg.state);
  }

  async read(key: string, start = 0, end?: number): Promise<Readable> {
    if (end !== undefined && end <= start) return Readable.from([], { objectMode: false });
    const first = await this.getRange(key, start, end, undefined);
    if (!first) throw new Error(`reading ${this.url(key)}: no such object`);
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
    if (!first) throw new Error(`reading ${this.url(key)}: no such object`);
    const got = await copyInto(this.resumingBody(key, first, start, start + Math.min(first.length, buf.length)), buf);
    if (got === null) throw new Error(`reading ${this.url(key)}: the server sent more than bytes ${start}-${end}`);
    return got === buf.length ? buf : buf.subarray(0, got);
  }

  private async getRange(key: string, start: number, end: number | undefined, ifMatch: string | undefined) {
    const range = start > 0 || end !== undefined ? `bytes=${start}-${end !== undefined ? end - 1 : ''}` : undefined;
    try {
      const r = await this.call(`reading ${this.url(key)}${range ? ` (${range})` : ''}`, () =>
        this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key), Range: range, IfMatch: ifMatch, ...this.ssec() })),
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
        if (!isTransient(err) || ++failures >= this.cfg.retry.maxAttempts) throw s3Error(`reading ${this.url(key)} at byte ${offset}`, err, this.redact);
        await sleep(Math.random() * Math.min(this.cfg.retry.maxDelayMs, this.cfg.retry.baseDelayMs * 2 ** failures));
        const next = await this.getRange(key, offset, total, first.etag || undefined);
        if (!next) throw new Error(`reading ${this.url(key)}: the object disappeared at byte ${offset}`);
        body = next.body;
      }
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    return this.headObject(key);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.call(`listing ${this.url(prefix)}*`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.full(prefix), ContinuationToken: token })),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        yield { key: this.rel(o.Key), size: o.Size ?? 0, etag: stripQuotes(o.ETag), modified: o.LastModified };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    await this.deleteObject(key);
  }

  async getSmall(key: string): Promise<{ body: Buffer; etag: string } | null> {
    const what = `reading ${this.url(key)}`;
    try {
      return await this.call(what, async () => {
        const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key), ...this.ssec() }));
        const body = Buffer.from(await (r.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
        return { body, etag: stripQuotes(r.ETag) };
      });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async putSmall(key: string, body: Buffer, condition?: PutCondition): Promise<{ etag: string }> {
    if (condition && !this.conditionalWrites) await this.checkConditionByReading(key, condition);
    const md5 = createHash('md5').update(body).digest();
    const cond = condition && this.conditionalWrites
      ? 'ifNoneMatch' in condition ? { IfNoneMatch: '*' } : { IfMatch: stripQuotes(condition.ifMatch) }
      : {};
    let attempts = 0;
    try {
      const r = await this.call(
        `writing ${this.url(key)}`,
        () => {
          attempts++;
          return this.client.send(new PutObjectCommand({
            Bucket: this.bucket, Key: this.full(key), Body: body, ContentMD5: md5.toString('base64'),
            ContentType: 'application/json', ...cond, ...this.sseWrite(),
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
    this.client.destroy();
  }

  // ---- gc capability

  async *listMultipartUploads(): AsyncIterable<MultipartUploadInfo> {
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const page = await this.call(`listing multipart uploads under s3://${this.bucket}/${this.prefix}`, () =>
        this.client.send(new ListMultipartUploadsCommand({
          Bucket: this.bucket, Prefix: this.full(''), KeyMarker: keyMarker, UploadIdMarker: idMarker,
        })),
      );
      for (const u of page.Uploads ?? []) {
        if (u.Key && u.UploadId) yield { key: this.rel(u.Key), uploadId: u.UploadId, initiated: u.Initiated };
      }
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      idMarker = page.NextUploadIdMarker;
    }
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.abortUpload(key, uploadId);
  }

  // ---- MultipartTarget

  async createUpload(objectKey: string): Promise<string> {
    const r = await this.call(`starting multipart upload ${this.url(objectKey)}`, () =>
      this.client.send(new CreateMultipartUploadCommand({
        Bucket: this.bucket, Key: this.full(objectKey), ...this.sseWrite(), ...this.blobClass(),
      })),
    );
    if (!r.UploadId) throw new Error(`starting multipart upload ${this.url(objectKey)}: the server returned no upload id`);
    return r.UploadId;
  }

  async uploadPart(objectKey: string, uploadId: string, partNumber: number, body: Buffer | PartSource, md5: Buffer, hashes: PartHashes = {}): Promise<string> {
    const r = await this.call(`upload of part ${partNumber} of ${this.url(objectKey)}`, () => {
      const cmd = new UploadPartCommand({
        Bucket: this.bucket, Key: this.full(objectKey), UploadId: uploadId, PartNumber: partNumber,
        Body: Buffer.isBuffer(body) ? body : body.open(), // a stream is opened anew for each attempt
        ContentLength: body.length, ContentMD5: md5.toString('base64'), ...this.ssec(),
        // Where the server validates flexible checksums, hand over the CRC32 computed off-thread.
        ...(this.checksumMode === 'WHEN_SUPPORTED' && hashes.crc32 !== undefined ? { ChecksumCRC32: crc32Base64(hashes.crc32) } : {}),
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
      return this.client.send(cmd);
    });
    return stripQuotes(r.ETag);
  }

  /** Pages through ListParts; `pageSize` is S3's MaxParts (default and maximum 1000). */
  async *listParts(objectKey: string, uploadId: string, pageSize?: number): AsyncIterable<ServerPart> {
    let marker: string | undefined;
    for (;;) {
      const page = await this.call(
        `listing parts of ${this.url(objectKey)}`,
        () => this.client.send(new ListPartsCommand({
          Bucket: this.bucket, Key: this.full(objectKey), UploadId: uploadId, PartNumberMarker: marker, MaxParts: pageSize, ...this.ssec(),
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
    await this.call(
      `completing multipart upload ${this.url(objectKey)} (${parts.length} parts)`,
      () => this.client.send(new CompleteMultipartUploadCommand({
        Bucket: this.bucket, Key: this.full(objectKey), UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.number, ETag: `"${p.etag}"` })) },
        ...this.ssec(),
      })),
      isNotFound,
    );
  }

  async abortUpload(objectKey: string, uploadId: string): Promise<void> {
    try {
      await this.call(`aborting multipart upload ${this.url(objectKey)}`, () =>
        this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.full(objectKey), UploadId: uploadId })),
      isNotFound);
    } catch (err) {
      if (!isNotFound(err) && codeOf(err) !== 'NoSuchUpload') throw err;
    }
  }

  async putObject(key: string, body: Buffer, md5: Buffer): Promise<void> {
    await this.call(`writing ${this.url(key)}`, () =>
      this.client.send(new PutObjectCommand({
        Bucket: this.bucket, Key: this.full(key), Body: body, ContentLength: body.length, ContentMD5: md5.toString('base64'),
        ...this.sseWrite(), ...this.blobClass(),
      })),
    );
  }

  async headObject(key: string): Promise<ObjectInfo | null> {
    try {
      const r = await this.call(`checking ${this.url(key)}`, () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key), ...this.ssec() })),
      isNotFound);
      return { key, size: r.ContentLength ?? 0, etag: stripQuotes(r.ETag), modified: r.LastModified };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async copyObject(fromKey: string, toKey: string, size: number): Promise<void> {
    const source = `${this.bucket}/${encodeURIComponent(this.full(fromKey)).replace(/%2F/g, '/')}`;
    if (size <= MAX_PART_SIZE) {
      await this.call(`copying ${this.url(fromKey)} to ${this.url(toKey)}`, () =>
        this.client.send(new CopyObjectCommand({
          Bucket: this.bucket, Key: this.full(toKey), CopySource: source, ...this.sseWrite(), ...this.copySourceSsec(), ...this.blobClass(),
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
        const r = await this.call(`copying part ${n} of ${this.url(fromKey)} to ${this.url(toKey)}`, () =>
          this.client.send(new UploadPartCopyCommand({
            Bucket: this.bucket, Key: this.full(toKey), UploadId: uploadId, PartNumber: n, CopySource: source,
            CopySourceRange: `bytes=${start}-${end}`, ...this.ssec(), ...this.copySourceSsec(),
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
    await this.call(`deleting ${this.url(key)}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) })));
  }
}
