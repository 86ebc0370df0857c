// Shared set-up for the S3 tests: they run against the S3 server named by AWS_ENDPOINT_URL
// (test/infra/with-rgw.sh starts a throwaway Ceph RGW and exports it). No server is started here.
import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
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

export {
  adminClient, createTestBucket, s3TestEnv, useTestBucket, type S3TestEnv, type TestBucket,
} from '../support/s3Bucket.js';
import type { S3TestEnv } from '../support/s3Bucket.js';

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
