// One S3 bucket and prefix as the other s3/ files use it: the client, key naming under the
// prefix, the encryption headers each kind of request needs, and `call`, which runs a request
// with our own bounded retries and turns its failure into one redacted line.
import type { S3Client, StorageClass } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import type { StateDb } from '../state/db.js';
import { s3Error, type Redactor } from './errors.js';
import type { ChecksumMode, RetryLimits, SseMode } from './options.js';
import { describeError, withRetry } from './retry.js';

export interface BucketConfig {
  checksumMode: ChecksumMode;
  partSize: number;
  concurrency: number;
  retry: RetryLimits;
  storageClass?: StorageClass;
  sse?: SseMode;
  sseKmsKeyId?: string;
  sseCustomerKey?: string;
  stagingDir: string;
  abandonAfterMs: number;
  state: StateDb;
}

export class S3Bucket {
  private readonly ssecKeyMd5?: string;

  constructor(
    readonly client: S3Client,
    readonly bucket: string,
    readonly prefix: string,
    /** s3://bucket/prefix/ (endpoint): never contains credentials. */
    readonly description: string,
    readonly redact: Redactor,
    readonly log: Logger,
    readonly cfg: BucketConfig,
  ) {
    if (cfg.sseCustomerKey) {
      this.ssecKeyMd5 = createHash('md5').update(Buffer.from(cfg.sseCustomerKey, 'base64')).digest('base64');
    }
  }

  /** Objects are encrypted with a key the server does not keep (SSE-C) or in KMS: ETags are not MD5s. */
  get encrypted(): boolean {
    return !!this.cfg.sseCustomerKey || this.cfg.sse === 'aws:kms';
  }

  full(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  rel(fullKey: string): string {
    return this.prefix ? fullKey.slice(this.prefix.length + 1) : fullKey;
  }

  url(key: string): string {
    return `s3://${this.bucket}/${this.full(key)}`;
  }

  /** SSE-C headers: needed on every request that reads or writes object data. */
  ssec(): Record<string, string> {
    if (!this.cfg.sseCustomerKey) return {};
    return { SSECustomerAlgorithm: 'AES256', SSECustomerKey: this.cfg.sseCustomerKey, SSECustomerKeyMD5: this.ssecKeyMd5 as string };
  }

  copySourceSsec(): Record<string, string> {
    if (!this.cfg.sseCustomerKey) return {};
    return {
      CopySourceSSECustomerAlgorithm: 'AES256',
      CopySourceSSECustomerKey: this.cfg.sseCustomerKey,
      CopySourceSSECustomerKeyMD5: this.ssecKeyMd5 as string,
    };
  }

  /** Encryption parameters for requests that create an object. */
  sseWrite(): Record<string, string> {
    if (this.cfg.sseCustomerKey) return this.ssec();
    if (this.cfg.sse === 'aws:kms') return { ServerSideEncryption: 'aws:kms', ...(this.cfg.sseKmsKeyId ? { SSEKMSKeyId: this.cfg.sseKmsKeyId } : {}) };
    if (this.cfg.sse === 'AES256') return { ServerSideEncryption: 'AES256' };
    return {};
  }

  blobClass(): { StorageClass?: StorageClass } {
    return this.cfg.storageClass ? { StorageClass: this.cfg.storageClass } : {};
  }

  /** Runs one S3 request with retries; failures become one redacted line naming `what`. */
  async call<T>(what: string, fn: () => Promise<T>, passThrough?: (err: unknown) => boolean): Promise<T> {
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
}
