// Shared set-up for the S3 tests: they run against the S3 server named by AWS_ENDPOINT_URL
// (test/infra/with-rgw.sh starts a throwaway Ceph RGW and exports it). No server is started here.
import {
  AbortMultipartUploadCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListMultipartUploadsCommand,
  ListObjectsV2Command, S3Client,
} from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildArgs } from '../support/s3UploadChild.js';
import { openState, type StateDb } from '../../src/state/db.js';
import { openS3Store, type S3Store } from '../../src/s3/open.js';
import type { S3Options } from '../../src/s3/options.js';
import type { Logger } from '../../src/log.js';

export const MIB = 1024 * 1024;

// Never let the SDK's credential chain reach for instance metadata from a test.
process.env.AWS_EC2_METADATA_DISABLED = 'true';

export interface S3TestEnv {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/** The test server's coordinates; throws (failing the test) when they are not set. */
export function s3TestEnv(): S3TestEnv {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!endpoint || !accessKeyId || !secretAccessKey) {
    throw new Error(
      'AWS_ENDPOINT_URL / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set: the S3 tests need a test S3 server; ' +
        'run them with `make test-s3` (test/infra/with-rgw.sh starts a throwaway Ceph RGW and exports these)',
    );
  }
  return { endpoint, accessKeyId, secretAccessKey, region: process.env.AWS_REGION ?? 'us-east-1' };
}

export function adminClient(env: S3TestEnv, endpoint = env.endpoint): S3Client {
  return new S3Client({
    region: env.region,
    endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
  });
}

export interface TestBucket {
  name: string;
  client: S3Client;
  /** Every object key in the bucket (full keys). */
  keys(prefix?: string): Promise<string[]>;
  /** Deletes every object and multipart upload, then the bucket. */
  destroy(): Promise<void>;
}

export async function createTestBucket(env: S3TestEnv, label: string): Promise<TestBucket> {
  const client = adminClient(env);
  const name = `lk-${label}-${randomBytes(4).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: name }));
  const keys = async (prefix?: string): Promise<string[]> => {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: name, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (o.Key) out.push(o.Key);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  };
  return {
    name,
    client,
    keys,
    destroy: async () => {
      const ups = await client.send(new ListMultipartUploadsCommand({ Bucket: name }));
      for (const u of ups.Uploads ?? []) {
        await client.send(new AbortMultipartUploadCommand({ Bucket: name, Key: u.Key, UploadId: u.UploadId }));
      }
      for (const k of await keys()) await client.send(new DeleteObjectCommand({ Bucket: name, Key: k }));
      await client.send(new DeleteBucketCommand({ Bucket: name }));
      client.destroy();
    },
  };
}

export async function tempStateDir(label: string): Promise<{ dir: string; state: StateDb; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `lk-${label}-`));
  let state: StateDb;
  try {
    state = openState(join(dir, 'state'));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    state,
    cleanup: async () => {
      state.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

export function memoryLog(): Logger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, fields });
  };
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () => lines.map((l) => `${l.level} ${l.msg} ${JSON.stringify(l.fields ?? {})}`).join('\n'),
  };
}

export async function openTestStore(
  env: S3TestEnv,
  bucket: string,
  state: StateDb,
  opts: S3Options & { prefix?: string } = {},
  log: Logger = memoryLog(),
): Promise<S3Store> {
  const { prefix = 'lk', ...rest } = opts;
  return openS3Store(new URL(`s3://${bucket}/${prefix}`), { endpoint: env.endpoint, region: env.region, ...rest }, state, log);
}

/**
 * A reproducible pseudo-random byte stream (AES-256-CTR keystream of a seed): incompressible,
 * fast to generate, and the same bytes for the same seed in every process.
 */
export function* patternChunks(seed: string, size: number, chunkSize = 1 * MIB): Generator<Buffer> {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(chunkSize);
  for (let done = 0; done < size; ) {
    const n = Math.min(chunkSize, size - done);
    yield cipher.update(n === chunkSize ? zeros : zeros.subarray(0, n));
    done += n;
  }
}

export function patternDigest(seed: string, size: number): string {
  const h = createHash('sha256');
  for (const c of patternChunks(seed, size)) h.update(c);
  return h.digest('hex');
}

/** Bytes [start, end) of the pattern. */
export function patternRange(seed: string, start: number, end: number): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (const c of patternChunks(seed, end)) {
    const cEnd = pos + c.length;
    if (cEnd > start) out.push(c.subarray(Math.max(0, start - pos)));
    pos = cEnd;
  }
  return Buffer.concat(out);
}

export async function streamToBuffer(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c);
  return Buffer.concat(parts);
}

export async function sha256OfStream(s: AsyncIterable<Buffer>): Promise<{ hex: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of s) {
    h.update(c);
    size += c.length;
  }
  return { hex: h.digest('hex'), size };
}

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: Record<string, unknown>[];
  stderr: string;
}

/** Runs test/support/s3UploadChild.js with these arguments and collects its JSON events. */
export function runChild(args: ChildArgs, killAfterMs?: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = killAfterMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), killAfterMs) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const events: Record<string, unknown>[] = [];
      for (const line of out.split('\n')) {
        try {
          if (line) events.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // a line cut short by SIGKILL
        }
      }
      resolve({ code, signal, events, stderr });
    });
  });
}

const CHILD = fileURLToPath(new URL('../support/s3UploadChild.js', import.meta.url));
