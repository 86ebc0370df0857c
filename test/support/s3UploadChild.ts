// A child process for the S3 crash tests: resumes what an earlier run left, then writes a
// reproducible pseudo-random blob through the S3 store's BlobWriter. The parent SIGKILLs it at
// random points, or it kills itself once N parts are journaled (killAfterParts).
// Usage: node s3UploadChild.js '<json ChildArgs>'   — prints one JSON line per event on stdout.
import { createCipheriv, createHash } from 'node:crypto';
import { join } from 'node:path';
import { openState } from '../../src/state/db.js';
import { openS3Store } from '../../src/s3/open.js';
import type { Logger } from '../../src/log.js';
import { resumePendingUploads } from '../../src/upload/resume.js';

export interface ChildArgs {
  stateDir: string;
  bucket: string;
  prefix: string;
  endpoint: string;
  seed: string;
  size: number;
  partSize: number;
  concurrency: number;
  note?: string;
  /** Die (SIGKILL) once this many parts of the newest upload are journaled after finish(). */
  killAfterParts?: number;
  /** Die (SIGKILL) once this many parts are journaled while the blob is still being written. */
  killWhileWritingAfterParts?: number;
  /** Pause between 1 MiB writes (keeps the writer in its writing phase longer). */
  slowWriteMs?: number;
  /** Only resume; do not start a new upload. */
  resumeOnly?: boolean;
  requestTimeoutMs?: number;
  /** Extra store options (e.g. an SSE-C key). */
  storeOptions?: Record<string, unknown>;
}

const args = JSON.parse(process.argv[2]) as ChildArgs;
process.env.AWS_EC2_METADATA_DISABLED = 'true';
const emit = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};
const log: Logger = {
  debug: () => undefined,
  info: (msg, f) => emit({ log: 'info', msg, ...f }),
  warn: (msg, f) => emit({ log: 'warn', msg, ...f }),
  error: (msg, f) => emit({ log: 'error', msg, ...f }),
};

function* chunks(seed: string, size: number): Generator<Buffer> {
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update(seed).digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let done = 0; done < size; done += zeros.length) yield cipher.update(zeros.subarray(0, Math.min(zeros.length, size - done)));
}

async function main(): Promise<void> {
  const state = openState(join(args.stateDir, 'state'));
  const store = await openS3Store(
    new URL(`s3://${args.bucket}/${args.prefix}`),
    { endpoint: args.endpoint, partSize: args.partSize, concurrency: args.concurrency, requestTimeoutMs: args.requestTimeoutMs,
      retry: { maxAttempts: 20, baseDelayMs: 20, maxDelayMs: 500 }, ...args.storeOptions },
    state,
    log,
  );
  const report = await resumePendingUploads(store, state, async (key, manifest) => emit({ published: key, manifest }), log);
  emit({ resumed: report });
  const digest = createHash('sha256');
  for (const c of chunks(args.seed, args.size)) digest.update(c);
  const hex = digest.digest('hex');
  const done = state.prepare(`SELECT count(*) FROM uploads WHERE blob_digest = ? AND status = 'done'`).pluck().get(hex) as number;
  if (done > 0 || args.resumeOnly) {
    emit({ finished: hex, by: 'resume' });
  } else {
    if (args.killAfterParts !== undefined) {
      setInterval(() => {
        const n = state.prepare(`SELECT count(*) FROM parts p JOIN uploads u ON u.id = p.upload_id
                                 WHERE u.status = 'uploading' AND u.blob_digest = ?`).pluck().get(hex) as number;
        if (n >= (args.killAfterParts as number)) process.kill(process.pid, 'SIGKILL');
      }, 2).unref();
    }
    if (args.killWhileWritingAfterParts !== undefined) {
      setInterval(() => {
        const n = state.prepare(`SELECT count(*) FROM parts p JOIN uploads u ON u.id = p.upload_id WHERE u.status = 'packing'`).pluck().get() as number;
        if (n >= (args.killWhileWritingAfterParts as number)) process.kill(process.pid, 'SIGKILL');
      }, 2).unref();
    }
    const w = await store.createBlobWriter();
    for (const c of chunks(args.seed, args.size)) {
      await w.write(c);
      if (args.slowWriteMs) await new Promise((r) => setTimeout(r, args.slowWriteMs));
    }
    emit({ written: args.size });
    await w.finish(hex, args.size, args.note);
    if (args.note) {
      // What publishWritten does after finish(note): publish the manifest, then let the journal
      // forget the upload (until then it stays 'completing', for a resume to publish).
      emit({ published: JSON.parse(args.note).key, manifest: args.note });
      await w.published?.();
    }
    emit({ finished: hex, by: 'writer' });
  }
  await store.close();
  state.close();
}

main().catch((err: Error) => {
  emit({ error: err.message });
  process.exit(1);
});
