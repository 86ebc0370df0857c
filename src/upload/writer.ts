// BlobWriter for multipart stores. Bytes go to a staging file at disk speed, each part's MD5
// computed on the way; complete parts are streamed from the file and uploaded concurrently
// while the caller keeps writing, so packing and uploading overlap and memory stays flat
// whatever the part size. Each part S3
// acknowledges is journaled at once. A writer interrupted before finish() leaves its upload
// for adoption: when a re-run produces the same first part (same tree, deterministic packing),
// it takes the old upload over and skips every part whose MD5 the journal already has.
// On servers that cannot copy objects server-side (RGW 16 with SSE-C/SSE-KMS), parts wait
// for finish() and go straight to blobs/sha256/<hex>: no overlap, but no second upload.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as zlib from 'node:zlib';
import { type AsyncHash, asyncHash, asyncSha256 } from '../native/index.js';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { StateDb } from '../state/db.js';
import type { BlobWriter } from '../store/types.js';
import {
  adoptUpload, deleteUpload, getUpload, insertUpload, keyOfNote, partsOf, recordFinish, recordPart, setStatus,
  setObjectKey, setUploadId, uploadsWithFirstPart, type PartRow, type UploadRow,
} from './journal.js';
import { blobKey } from '../store/layout.js';
import { finalizeUpload, isFinishedRow, UploadFailedError } from './finalize.js';
import { isOwnedElsewhere, release, removeOwnerFile, tryClaim } from './owner.js';
import { clippedRange, MAX_PARTS, partRange } from './partLayout.js';
import type { MultipartTarget, PartSource } from './target.js';
import { conflict } from '../errors.js';

export async function createMultipartWriter(t: MultipartTarget, db: StateDb): Promise<BlobWriter> {
  await mkdir(t.stagingDir, { recursive: true, mode: 0o700 });
  const id = randomUUID();
  const stagingPath = join(t.stagingDir, `${id}.blob`);
  // Journal row and claim first, file second: a staging file without a row is debris that
  // resume may delete (see sweepStaging).
  let rowId = 0;
  const claimed = tryClaim(db, stagingPath, () => {
    rowId = insertUpload(db, { store: t.name, objectKey: `uploads/${id}`, partSize: t.partSize, stagingPath });
  });
  if (!claimed) throw conflict(`staging file ${stagingPath} is already in use`);
  let fh: FileHandle;
  try {
    fh = await open(stagingPath, 'wx', 0o600);
  } catch (err) {
    deleteUpload(db, rowId);
    release(stagingPath);
    throw err;
  }
  return new MultipartWriter(t, db, rowId, stagingPath, `uploads/${id}`, fh);
}

class MultipartWriter implements BlobWriter {
  private staged = 0;
  private total: number | undefined;
  // the writer's own digest of what it was given, checked against finish()'s (thread pool)
  private readonly sha = asyncSha256();
  private readonly hashing: Promise<void>[] = [];
  private partHash: PartHash;
  private readonly partDigests = new Map<number, Promise<{ md5: Buffer; crc32?: number }>>();
  private nextPart = 1;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  private uploadId: string | undefined;
  private known = new Map<number, PartRow>();
  private readonly prepared = deferred();
  private state: 'writing' | 'finishing' | 'closed' = 'writing';

  constructor(
    private readonly t: MultipartTarget,
    private readonly db: StateDb,
    private readonly rowId: number,
    private readonly stagingPath: string,
    private objectKey: string,
    private readonly fh: FileHandle,
  ) {
    this.partHash = newPartHash(t.partSize, 1);
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.state !== 'writing') throw new Error(`write to blob upload ${this.rowId} after finish() or abort()`);
    this.throwIfFailed();
    for (let off = 0; off < chunk.length; ) {
      const { bytesWritten } = await this.fh.write(chunk, off, chunk.length - off);
      off += bytesWritten;
    }
    this.hashing.push(this.sha.update(chunk));
    this.hashParts(chunk);
    while (this.hashing.length > 8) await this.hashing.shift();
    this.staged += chunk.length;
    this.pump();
  }

  /**
   * Each part's MD5 (and CRC32 where sent) is computed as its bytes are staged, so a part is
   * streamed from the staging file without being read into memory first: memory stays flat
   * whatever the part size, and no byte is read back just to hash it.
   */
  private hashParts(chunk: Buffer): void {
    for (let off = 0; off < chunk.length; ) {
      const p = this.partHash;
      const take = Math.min(chunk.length - off, p.end - (this.staged + off));
      const piece = chunk.subarray(off, off + take);
      this.hashing.push(p.md5.update(piece));
      if (this.t.wantsCrc32 && typeof zlib.crc32 === 'function') p.crc32 = zlib.crc32(piece, p.crc32);
      off += take;
      if (this.staged + off === p.end) this.closePartHash();
    }
  }

  private closePartHash(): void {
    const p = this.partHash;
    const digest = p.md5.digest().then((md5) => ({ md5, crc32: this.t.wantsCrc32 && typeof zlib.crc32 === 'function' ? p.crc32 : undefined }));
    digest.catch(() => {}); // observed by sendPart
    this.partDigests.set(p.n, digest);
    this.partHash = newPartHash(this.t.partSize, p.n + 1);
  }

  async finish(digestHex: string, size: number, note?: string): Promise<void> {
    if (this.state !== 'writing') throw new Error(`finish() of blob upload ${this.rowId} called twice or after abort()`);
    this.state = 'finishing';
    await Promise.all(this.hashing.splice(0));
    const actual = (await this.sha.digest()).toString('hex');
    if (size !== this.staged || digestHex !== actual) {
      await this.abort();
      throw new Error(
        `blob upload ${this.rowId}: finish() names sha256:${digestHex} (${size} bytes) but sha256:${actual} (${this.staged} bytes) was written`,
      );
    }
    try {
      await this.fh.sync(); // the staging file is the source for resume: make it durable first
      await this.fh.close();
      this.total = size;
      if (size > partRange(this.t.partSize, this.partHash.n).start) this.closePartHash(); // the last, short part
      recordFinish(this.db, this.rowId, { digest: digestHex, size, key: keyOfNote(note), note: note ?? null });
      if (!this.t.serverSideCopy && this.uploadId === undefined) {
        // No copy on this server: the parts go straight to the blob's final name.
        this.objectKey = blobKey(digestHex);
        setObjectKey(this.db, this.rowId, this.objectKey);
      }
      this.pump();
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      this.throwIfFailed();
      const row = getUpload(this.db, this.rowId) as UploadRow;
      if (!isFinishedRow(row)) throw new Error(`journal row ${this.rowId} lost its digest`);
      await finalizeUpload(this.t, this.db, row, false);
      // With a manifest to publish, the row stays 'completing' until the caller has published it
      // (published()), so a crash in between is finished by resumePendingUploads.
      setStatus(this.db, this.rowId, note ? 'completing' : 'done');
    } catch (err) {
      if (err instanceof UploadFailedError) setStatus(this.db, this.rowId, 'failed', err.message);
      throw err instanceof UploadFailedError
        ? err
        : new Error(
            `uploading blob sha256:${digestHex} to ${this.t.name} stopped: ${(err as Error).message}; ` +
              `the upload (journal id ${this.rowId}) resumes when layerkeep next starts`,
            { cause: err },
          );
    } finally {
      this.state = 'closed';
      release(this.stagingPath);
    }
  }

  async published(): Promise<void> {
    setStatus(this.db, this.rowId, 'done');
  }

  async abort(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.failure ??= new Error('aborted');
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.fh.close().catch(() => undefined);
    if (this.uploadId) {
      await this.t.abortUpload(this.objectKey, this.uploadId).catch((err: Error) => {
        this.t.log.warn('could not abort multipart upload (gc removes it later)', { upload: this.rowId, error: err.message });
      });
    }
    await rm(this.stagingPath, { force: true });
    deleteUpload(this.db, this.rowId);
    release(this.stagingPath);
    removeOwnerFile(this.stagingPath);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Starts uploads of the parts that are complete in the staging file, up to the concurrency. */
  private pump(): void {
    while (!this.failure && this.inFlight.size < this.t.concurrency && this.partReady(this.nextPart)) {
      const n = this.nextPart++;
      const p: Promise<void> = this.sendPart(n)
        .catch((err: unknown) => {
          this.failure ??= err;
        })
        .finally(() => {
          this.inFlight.delete(p);
          this.pump();
        });
      this.inFlight.add(p);
    }
  }

  private partReady(n: number): boolean {
    const { start, end } = partRange(this.t.partSize, n);
    if (n > MAX_PARTS) return false;
    if (this.total !== undefined) return this.total > this.t.partSize && start < this.total;
    if (!this.t.serverSideCopy) return false; // the final name is known only at finish()
    // Part 1 only once more bytes follow: a blob of at most one part is sent with a single PUT.
    return n === 1 ? this.staged > end : this.staged >= end;
  }

  private async sendPart(n: number): Promise<void> {
    const { start, end } = clippedRange(this.t.partSize, n, this.total ?? Number.MAX_SAFE_INTEGER);
    const digest = this.partDigests.get(n);
    if (!digest) throw new Error(`blob upload ${this.rowId}: part ${n} was sent before it was staged (engine bug)`);
    const { md5, crc32 } = await digest;
    this.partDigests.delete(n);
    const body: PartSource = {
      length: end - start,
      open: () => createReadStream(this.stagingPath, { start, end: end - 1, highWaterMark: 1 << 20 }),
    };
    await this.uploadPartBody(n, body, md5, crc32);
  }

  private async uploadPartBody(n: number, body: PartSource, md5: Buffer, crc32: number | undefined): Promise<void> {
    const md5Hex = md5.toString('hex');
    if (n === 1) {
      this.prepareUpload(md5Hex, body.length).then(this.prepared.resolve, this.prepared.reject);
    }
    await this.prepared.promise;
    const known = this.known.get(n);
    if (known && known.size === body.length && known.md5 === md5Hex) return; // adopted: already on the server
    const etag = await this.t.uploadPart(this.objectKey, this.uploadId as string, n, body, md5, { crc32 });
    if (this.t.etagIsMd5 && etag !== md5Hex) {
      throw new Error(`part ${n} of ${this.objectKey}: the store's ETag ${etag} is not the MD5 of the bytes sent`);
    }
    recordPart(this.db, this.rowId, { number: n, size: body.length, etag, md5: md5Hex });
  }

  /** Adopts an interrupted upload with the same first part, or creates a multipart upload. */
  private async prepareUpload(part1Md5: string, part1Size: number): Promise<void> {
    let adopted: UploadRow | undefined;
    this.db.transaction(() => {
      for (const c of uploadsWithFirstPart(this.db, this.t.name, this.rowId, part1Md5, part1Size)) {
        if (isOwnedElsewhere(c.staging_path)) continue;
        adoptUpload(this.db, this.rowId, c);
        adopted = c;
        break;
      }
    }).immediate();
    if (adopted) {
      await rm(adopted.staging_path, { force: true });
      removeOwnerFile(adopted.staging_path);
      this.uploadId = adopted.upload_id as string;
      this.objectKey = adopted.object_key;
      this.known = partsOf(this.db, this.rowId);
      this.t.log.info('continuing an interrupted upload of the same bytes', { upload: this.rowId, partsKnown: this.known.size });
      return;
    }
    this.uploadId = await this.t.createUpload(this.objectKey);
    setUploadId(this.db, this.rowId, this.uploadId);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // observed by sendPart; avoid an unhandled rejection
  return { promise, resolve, reject };
}

interface PartHash {
  n: number;
  end: number;
  md5: AsyncHash;
  crc32: number;
}

function newPartHash(base: number, n: number): PartHash {
  return { n, end: partRange(base, n).end, md5: asyncHash('md5'), crc32: 0 };
}
