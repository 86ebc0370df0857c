// An in-memory MultipartTarget for the upload engine's unit tests: objects and multipart
// uploads in maps, every call recorded, and faults scripted per operation (fail before or
// after the server acted, a part stored with other bytes, an upload the server forgot). It
// implements only the project's own interface; S3's wire behaviour is tested against RGW.
import { createHash } from 'node:crypto';
import type { Logger } from '../../src/log.js';
import type { ObjectInfo } from '../../src/store/types.js';
import { multipartEtag } from '../../src/upload/partLayout.js';
import type { MultipartTarget, PartSource, ServerPart } from '../../src/upload/target.js';

export type Op =
  'createUpload' | 'uploadPart' | 'listParts' | 'completeUpload' | 'abortUpload' | 'putObject' | 'headObject' | 'copyObject' | 'deleteObject';

/**
 * 'fail': the request fails before the server acts. 'lost-answer': the server acts, the answer
 * is lost (the caller sees a failure). 'corrupt': (uploadPart) the server stores other bytes and
 * answers their ETag. 'gone': the server answers that the upload does not exist.
 */
export type Fault = 'fail' | 'lost-answer' | 'corrupt' | 'gone';

/** What the memory server answers for an upload it does not know (S3's NoSuchUpload). */
export class NoSuchUploadError extends Error {
  constructor(uploadId: string) {
    super(`NoSuchUpload: ${uploadId}`);
  }
}

export class InjectedFault extends Error {}

interface StoredObject {
  body: Buffer;
  etag: string;
  modified: Date;
}

const md5 = (b: Buffer): Buffer => createHash('md5').update(b).digest();

async function bytesOf(body: Buffer | PartSource): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const c of body.open()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export class MemoryTarget implements MultipartTarget {
  readonly name = 'memory://test';
  readonly etagIsMd5 = true;
  serverSideCopy = true;
  readonly wantsCrc32 = false;
  abandonAfterMs = 3_600_000;
  readonly objects = new Map<string, StoredObject>();
  readonly uploads = new Map<string, { key: string; parts: Map<number, { body: Buffer; etag: string }> }>();
  /** Every call, as "op key [part n]". */
  readonly calls: string[] = [];
  readonly warnings: string[] = [];
  readonly log: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (msg) => void this.warnings.push(msg),
    error: (msg) => void this.warnings.push(msg),
  };
  private readonly script: { op: Op; fault: Fault; part?: number }[] = [];
  private nextId = 1;

  constructor(readonly stagingDir: string, readonly partSize = 1024, readonly concurrency = 2) {}

  /** The next call of `op` (of part `part`, for uploadPart) meets `fault`. */
  failNext(op: Op, fault: Fault, part?: number): void {
    this.script.push({ op, fault, part });
  }

  /** The server forgets a multipart upload (aborted elsewhere, or expired by a lifecycle rule). */
  forget(uploadId: string): void {
    this.uploads.delete(uploadId);
  }

  count(op: Op, part?: number): number {
    const prefix = `${op} `;
    return this.calls.filter((c) => c.startsWith(prefix) && (part === undefined || c.endsWith(` part ${part}`))).length;
  }

  isUploadGone(err: unknown): boolean {
    return err instanceof NoSuchUploadError;
  }

  isPartRejected(err: unknown): boolean {
    return err instanceof Error && err.message.startsWith('InvalidPart');
  }

  /** Runs a scripted fault for this call, if one is due: before the action, or (lost answer) after it. */
  private async act<T>(op: Op, key: string, part: number | undefined, action: (fault?: Fault) => Promise<T> | T): Promise<T> {
    this.calls.push(`${op} ${key}${part !== undefined ? ` part ${part}` : ''}`);
    const i = this.script.findIndex((s) => s.op === op && (s.part === undefined || s.part === part));
    const fault = i >= 0 ? this.script.splice(i, 1)[0].fault : undefined;
    if (fault === 'fail') throw new InjectedFault(`injected failure of ${op} ${key}`);
    if (fault === 'gone') throw new NoSuchUploadError(`(scripted) ${key}`);
    const result = await action(fault);
    if (fault === 'lost-answer') throw new InjectedFault(`injected lost answer of ${op} ${key}`);
    return result;
  }

  private upload(uploadId: string) {
    const u = this.uploads.get(uploadId);
    if (!u) throw new NoSuchUploadError(uploadId);
    return u;
  }

  async createUpload(objectKey: string): Promise<string> {
    return this.act('createUpload', objectKey, undefined, () => {
      const id = `upload-${this.nextId++}`;
      this.uploads.set(id, { key: objectKey, parts: new Map() });
      return id;
    });
  }

  async *listUploads(objectKey: string): AsyncIterable<string> {
    for (const [id, u] of this.uploads) if (u.key === objectKey) yield id;
  }

  async uploadPart(objectKey: string, uploadId: string, partNumber: number, body: Buffer | PartSource, sentMd5: Buffer): Promise<string> {
    const bytes = await bytesOf(body);
    return this.act('uploadPart', objectKey, partNumber, (fault) => {
      if (!md5(bytes).equals(sentMd5)) throw new Error(`BadDigest: part ${partNumber}`);
      const stored = fault === 'corrupt' ? Buffer.from(bytes.map((b, i) => (i === 0 ? b ^ 0xff : b))) : bytes;
      const etag = md5(stored).toString('hex');
      this.upload(uploadId).parts.set(partNumber, { body: stored, etag });
      return etag;
    });
  }

  async *listParts(objectKey: string, uploadId: string): AsyncIterable<ServerPart> {
    const parts = await this.act('listParts', objectKey, undefined, () => [...this.upload(uploadId).parts].sort((a, b) => a[0] - b[0]));
    for (const [number, p] of parts) yield { number, size: p.body.length, etag: p.etag };
  }

  async completeUpload(objectKey: string, uploadId: string, parts: { number: number; etag: string }[]): Promise<void> {
    await this.act('completeUpload', objectKey, undefined, () => {
      const u = this.upload(uploadId);
      const bodies = parts.map((p) => {
        const held = u.parts.get(p.number);
        if (!held || held.etag !== p.etag) throw new Error(`InvalidPart: part ${p.number} of ${objectKey}`);
        return held.body;
      });
      this.uploads.delete(uploadId);
      this.objects.set(objectKey, {
        body: Buffer.concat(bodies),
        etag: multipartEtag(parts.map((p) => p.etag)),
        modified: new Date(),
      });
    });
  }

  async abortUpload(objectKey: string, uploadId: string): Promise<void> {
    await this.act('abortUpload', objectKey, undefined, () => void this.uploads.delete(uploadId));
  }

  async putObject(key: string, body: Buffer, sentMd5: Buffer): Promise<void> {
    await this.act('putObject', key, undefined, () => {
      if (!md5(body).equals(sentMd5)) throw new Error(`BadDigest: ${key}`);
      this.objects.set(key, { body: Buffer.from(body), etag: sentMd5.toString('hex'), modified: new Date() });
    });
  }

  async headObject(key: string): Promise<ObjectInfo | null> {
    return this.act('headObject', key, undefined, () => {
      const o = this.objects.get(key);
      return o ? { key, size: o.body.length, etag: o.etag, modified: o.modified } : null;
    });
  }

  async copyObject(fromKey: string, toKey: string): Promise<void> {
    await this.act('copyObject', fromKey, undefined, () => {
      const o = this.objects.get(fromKey);
      if (!o) throw new Error(`NoSuchKey: ${fromKey}`);
      this.objects.set(toKey, { ...o, modified: new Date() });
    });
  }

  async deleteObject(key: string): Promise<void> {
    await this.act('deleteObject', key, undefined, () => void this.objects.delete(key));
  }
}
