// Opening an S3 store (s3://bucket/prefix) on @aws-sdk/client-s3: the client, then checks that
// say which misconfiguration stops it (bucket, credentials, region, endpoint, server) and probes
// for what the server supports (conditional writes, copies of encrypted objects).
import { HeadBucketCommand, ListObjectsV2Command, PutObjectCommand, DeleteObjectCommand, S3Client, type StorageClass } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { dirname, join } from 'node:path';
import type { Logger } from '../log.js';
import type { StateDb } from '../state/db.js';
import { MAX_PART_SIZE } from '../upload/partLayout.js';
import { S3Bucket } from './bucket.js';
import { codeOf, headerOf, isPreconditionFailed, makeRedactor, rootError, s3Error, statusOf } from './errors.js';
import { S3MultipartTarget } from './multipart.js';
import { S3ObjectStore, type S3Store } from './objects.js';
import { DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE, DEFAULT_RETRY, MIN_PART_SIZE, validateSseCustomerKey, type S3Options } from './options.js';
import { describeError, isTransient } from './retry.js';
import { type ErrorKind, invalid, LayerkeepError } from '../errors.js';

export { s3OptionsFrom, type S3Options } from './options.js';
export type { MultipartUploadInfo, S3Store } from './objects.js';

export type OpenFailure =
  'no-bucket' | 'bad-credentials' | 'no-credentials' | 'access-denied' | 'wrong-region' | 'unreachable' | 'server-error' | 'other';

const OPEN_FAILURE_KINDS: Record<OpenFailure, ErrorKind> = {
  'no-bucket': 'not-found', 'bad-credentials': 'permission', 'no-credentials': 'permission', 'access-denied': 'permission',
  'wrong-region': 'invalid', unreachable: 'unavailable', 'server-error': 'unavailable', other: 'internal',
};

/** Opening the store failed; `reason` says which misconfiguration. */
export class S3OpenError extends LayerkeepError {
  constructor(readonly reason: OpenFailure, message: string) {
    super(OPEN_FAILURE_KINDS[reason], message);
    this.name = 'S3OpenError';
  }
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
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw invalid(`invalid S3 bucket name ${JSON.stringify(bucket)} in store URL`);
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  const partSize = opts.partSize ?? DEFAULT_PART_SIZE;
  if (partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) throw new Error(`S3 part size ${partSize} is outside 5MiB..5GiB`);
  const sseCustomerKey = opts.sseCustomerKey ? validateSseCustomerKey(opts.sseCustomerKey) : undefined;
  if (sseCustomerKey && opts.sse) throw invalid('S3 options: SSE-C (a customer key) cannot be combined with --s3-sse');
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

  const b = new S3Bucket(client, bucket, prefix, description, redact, log, {
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
  const store = new S3ObjectStore(b, new S3MultipartTarget(b));
  try {
    await checkBucket(b, opts.openTimeoutMs ?? 10_000, where);
    await probeConditionalWrites(b, store);
  } catch (err) {
    client.destroy();
    throw err;
  }
  return store;
}

async function checkBucket(b: S3Bucket, timeoutMs: number, where: string): Promise<void> {
  try {
    await b.client.send(new HeadBucketCommand({ Bucket: b.bucket }), { abortSignal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw await classifyOpenError(b, err, timeoutMs, where);
  }
}

async function classifyOpenError(b: S3Bucket, err: unknown, timeoutMs: number, where: string): Promise<S3OpenError> {
  const status = statusOf(err);
  const code = codeOf(err);
  const e = (msg: string, reason: OpenFailure): S3OpenError => new S3OpenError(reason, b.redact(`cannot open ${b.description}: ${msg}`));
  if (status === 404 || code === 'NoSuchBucket' || code === 'NotFound') {
    return e(`bucket "${b.bucket}" does not exist at ${where}`, 'no-bucket');
  }
  if (status === 301 || status === 307 || code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || /region/i.test(String((rootError(err) as Error)?.message))) {
    const actual = headerOf(err, 'x-amz-bucket-region');
    return e(`wrong region: the bucket is in ${actual ?? 'another region'} (set --s3-region${actual ? ` ${actual}` : ''})`, 'wrong-region');
  }
  if (status === 403 || status === 401) {
    // HeadBucket has no body; a listing tells bad credentials from missing permissions.
    let detail: string | undefined;
    try {
      await b.client.send(new ListObjectsV2Command({ Bucket: b.bucket, MaxKeys: 1, Prefix: b.full('') }), {
        abortSignal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err2) {
      detail = codeOf(err2);
    }
    if (detail === 'InvalidAccessKeyId') return e(`bad credentials: the access key id is not known to ${where}`, 'bad-credentials');
    if (detail === 'SignatureDoesNotMatch') return e('bad credentials: the secret access key does not match the access key id', 'bad-credentials');
    if (detail === 'ExpiredToken' || detail === 'InvalidToken') return e('bad credentials: the session token is expired or invalid', 'bad-credentials');
    if (detail === 'AccessDenied' || detail === undefined) {
      return e(`access denied to bucket "${b.bucket}": the credentials are valid but lack permission (s3:ListBucket, s3:GetObject, s3:PutObject)`, 'access-denied');
    }
    return e(`bad credentials or no access (HTTP ${status}, ${detail})`, 'bad-credentials');
  }
  // The endpoint answered, but with a server error: that is not a network problem.
  if (status !== undefined && status >= 500) {
    const named = code && code !== 'Unknown' && code !== 'UnknownError' && code !== String(status) ? ` ${code}` : '';
    return e(`server error: ${where} answered HTTP ${status}${named}`, 'server-error');
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
async function probeConditionalWrites(b: S3Bucket, store: S3ObjectStore): Promise<void> {
  const key = `.layerkeep-probe/${randomUUID()}`;
  const put = (): Promise<unknown> =>
    b.client.send(new PutObjectCommand({ Bucket: b.bucket, Key: b.full(key), Body: Buffer.from('probe'), IfNoneMatch: '*', ...b.sseWrite() }));
  try {
    await b.call(`conditional-write probe ${b.url(key)}`, put);
    try {
      await put();
      store.conditionalWrites = false;
    } catch (err) {
      if (!isPreconditionFailed(err)) throw s3Error(`conditional-write probe ${b.url(key)}`, err, b.redact);
    }
  } catch (err) {
    if (statusOf(err) === 403) {
      b.log.warn('cannot write under the store prefix (access denied); snapshots to this store will fail', { store: b.description });
      return;
    }
    if (statusOf(err) !== 501 && codeOf(err) !== 'NotImplemented') throw err;
    store.conditionalWrites = false;
  }
  if (b.encrypted) await probeEncryptedCopy(b, store.multipart, key);
  await b.client.send(new DeleteObjectCommand({ Bucket: b.bucket, Key: b.full(key) })).catch(() => undefined);
  if (!store.conditionalWrites) {
    b.log.warn(
      'the S3 server ignores conditional writes (If-None-Match); ref updates fall back to read-compare-write, ' +
        'so two hosts writing the same key at the same moment may overwrite each other',
      { store: b.description },
    );
  }
}

/** RGW 16 answers 501 to CopyObject of SSE-C and SSE-KMS objects; AWS copies them. */
async function probeEncryptedCopy(b: S3Bucket, target: S3MultipartTarget, probeKey: string): Promise<void> {
  const copyKey = `${probeKey}-copy`;
  try {
    await target.copyObject(probeKey, copyKey, 5);
    await target.deleteObject(copyKey);
  } catch (err) {
    if (statusOf(err) !== 501 && codeOf(err) !== 'NotImplemented') return; // e.g. no write access: warned above
    target.serverSideCopy = false;
    b.log.warn('the S3 server cannot copy encrypted objects; blobs upload once packed instead of while packing', {
      store: b.description,
    });
  }
}
