// Options of the S3 store and how they are read from CLI flags and the environment.
// Flags win over LAYERKEEP_S3_* variables, which win over the AWS_* ones.
import { readFileSync } from 'node:fs';
import { invalid } from '../errors.js';
import { parseDuration, parseSize } from '../units.js';

export const MIB = 1024 * 1024;
/** S3's minimum size of every part but the last. */
export const MIN_PART_SIZE = 5 * MIB;
export const DEFAULT_PART_SIZE = 16 * MIB;
export const DEFAULT_CONCURRENCY = 4;

export type ChecksumMode = 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
export type SseMode = 'AES256' | 'aws:kms';

export interface RetryLimits {
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** Give up once this much time has passed since the first attempt. */
  maxElapsedMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface S3Options {
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  partSize?: number;
  concurrency?: number;
  storageClass?: string;
  sse?: SseMode;
  sseKmsKeyId?: string;
  /** SSE-C key: base64 of exactly 32 bytes. Never printed. */
  sseCustomerKey?: string;
  checksumMode?: ChecksumMode;
  retry?: Partial<RetryLimits>;
  /** Socket inactivity limit per request (a stalled transfer is retried after it). */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Limit for the HeadBucket check on open. */
  openTimeoutMs?: number;
  /** Where blobs are staged while they upload; default <state dir>/staging. */
  stagingDir?: string;
  /** How long a writer's upload, interrupted before finish(), may wait to be adopted by a re-run. */
  abandonAfterMs?: number;
}

export const DEFAULT_RETRY: RetryLimits = {
  maxAttempts: 10,
  maxElapsedMs: 5 * 60_000,
  baseDelayMs: 200,
  maxDelayMs: 15_000,
};

type Flags = Record<string, string | undefined>;

/** Reads the S3 options from flags named s3-* and LAYERKEEP_S3_* / AWS_* variables. */
export function s3OptionsFrom(flags: Flags, env: NodeJS.ProcessEnv): S3Options {
  const pick = (flag: string, ...vars: string[]): { value: string; from: string } | undefined => {
    const f = flags[flag];
    if (f !== undefined && f !== '') return { value: f, from: `--${flag}` };
    for (const v of vars) {
      const e = env[v];
      if (e !== undefined && e !== '') return { value: e, from: v };
    }
    return undefined;
  };
  const opts: S3Options = {};

  const region = pick('s3-region', 'LAYERKEEP_S3_REGION', 'AWS_REGION', 'AWS_DEFAULT_REGION');
  if (region) opts.region = region.value;

  const endpoint = pick('s3-endpoint', 'LAYERKEEP_S3_ENDPOINT', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL');
  if (endpoint) {
    let u: URL;
    try {
      u = new URL(endpoint.value);
    } catch {
      throw invalid(`${endpoint.from}: not a URL (expected e.g. http://127.0.0.1:7480)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(`${endpoint.from}: expected an http:// or https:// URL`);
    if (u.username || u.password) throw new Error(`${endpoint.from}: credentials do not belong in the endpoint URL`);
    opts.endpoint = u.toString().replace(/\/$/, '');
  }

  const pathStyle = pick('s3-path-style', 'LAYERKEEP_S3_PATH_STYLE');
  if (pathStyle) opts.forcePathStyle = parseBool(pathStyle.value, pathStyle.from);

  const partSize = pick('s3-part-size', 'LAYERKEEP_S3_PART_SIZE');
  if (partSize) opts.partSize = parsePartSize(partSize.value, partSize.from);

  const conc = pick('s3-concurrency', 'LAYERKEEP_S3_CONCURRENCY');
  if (conc) opts.concurrency = parseIntIn(conc.value, conc.from, 1, 64);

  const sc = pick('s3-storage-class', 'LAYERKEEP_S3_STORAGE_CLASS');
  if (sc) opts.storageClass = sc.value;

  const sse = pick('s3-sse', 'LAYERKEEP_S3_SSE');
  if (sse) {
    const v = sse.value === 'kms' ? 'aws:kms' : sse.value;
    if (v !== 'AES256' && v !== 'aws:kms') throw invalid(`${sse.from}: expected AES256 or aws:kms, got ${JSON.stringify(sse.value)}`);
    opts.sse = v;
  }
  const kms = pick('s3-sse-kms-key-id', 'LAYERKEEP_S3_SSE_KMS_KEY_ID');
  if (kms) {
    opts.sseKmsKeyId = kms.value;
    opts.sse ??= 'aws:kms';
  }
  const sseC = pick('s3-sse-c-key-file', 'LAYERKEEP_S3_SSE_C_KEY_FILE');
  if (sseC) opts.sseCustomerKey = readSseCustomerKey(sseC.value, sseC.from);

  const checksum = pick('s3-checksum', 'LAYERKEEP_S3_CHECKSUM');
  if (checksum) {
    const v = checksum.value.toUpperCase().replace(/-/g, '_');
    if (v !== 'WHEN_SUPPORTED' && v !== 'WHEN_REQUIRED') {
      throw invalid(`${checksum.from}: expected when_supported or when_required, got ${JSON.stringify(checksum.value)}`);
    }
    opts.checksumMode = v;
  }

  const attempts = pick('s3-max-attempts', 'LAYERKEEP_S3_MAX_ATTEMPTS');
  if (attempts) opts.retry = { ...opts.retry, maxAttempts: parseIntIn(attempts.value, attempts.from, 1, 100) };
  const retryTime = pick('s3-max-retry-time', 'LAYERKEEP_S3_MAX_RETRY_TIME');
  if (retryTime) opts.retry = { ...opts.retry, maxElapsedMs: parseDuration(retryTime.value, retryTime.from) };
  const reqTimeout = pick('s3-request-timeout', 'LAYERKEEP_S3_REQUEST_TIMEOUT');
  if (reqTimeout) opts.requestTimeoutMs = parseDuration(reqTimeout.value, reqTimeout.from);

  const staging = pick('s3-staging-dir', 'LAYERKEEP_S3_STAGING_DIR');
  if (staging) opts.stagingDir = staging.value;
  return opts;
}

/** An SSE-C key file holds the key as base64 text or as 32 raw bytes. */
export function readSseCustomerKey(path: string, from = 'SSE-C key file'): string {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw invalid(`${from}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (raw.length === 32) return raw.toString('base64');
  const text = raw.toString('utf8').trim();
  return validateSseCustomerKey(text, `${from} ${path}`);
}

/** Checks that a key is base64 of exactly 32 bytes; the message never contains the key. */
export function validateSseCustomerKey(b64: string, what = 'SSE-C key'): string {
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(b64) ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
  if (bytes.length !== 32) throw invalid(`${what}: expected 32 bytes (raw, or base64 text), got something else`);
  return bytes.toString('base64');
}

export function parsePartSize(text: string, from: string): number {
  const n = parseSize(text, from);
  if (n < MIN_PART_SIZE) throw invalid(`${from}: part size must be at least 5MiB (S3's minimum)`);
  if (n > 5 * 1024 * MIB) throw invalid(`${from}: part size must be at most 5GiB (S3's maximum)`);
  return n;
}

function parseIntIn(text: string, from: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw invalid(`${from}: expected an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

function parseBool(text: string, from: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new Error(`${from}: expected true or false, got ${JSON.stringify(text)}`);
}
