// The object-store contract every backend (local directory, S3) implements. Keys are
// '/'-separated relative names following store/layout.ts; values are opaque bytes.
import type { Readable } from 'node:stream';
import { LayerkeepError } from '../errors.js';

export interface ObjectInfo {
  key: string;
  size: number;
  /** Opaque version tag used for conditional writes (no quotes). */
  etag?: string;
  modified?: Date;
}

/** Condition for a small-object write: create only, or replace only a known version. */
export type PutCondition = { ifNoneMatch: '*' } | { ifMatch: string };

/** Raised when a conditional write loses (the object exists, or changed since it was read). */
export class PreconditionFailedError extends LayerkeepError {
  constructor(readonly key: string, message?: string, hint?: string) {
    super('conflict', message ?? `conditional write of ${key} lost: it was changed by someone else`, { object: key, hint });
    this.name = 'PreconditionFailedError';
  }
}

/** Streams a blob whose digest is known only at the end; finish() makes it visible. */
export interface BlobWriter {
  write(chunk: Buffer): Promise<void>;
  /**
   * Publishes the bytes written under blobs/sha256/<hex>. Nothing is visible before.
   * `note` (the manifest JSON) is journalled by backends that can resume after a crash,
   * so the resumed upload can publish it once the blob is safe.
   */
  finish(digestHex: string, size: number, note?: string): Promise<void>;
  /** After finish(note): the caller published the note, so the journal may forget the upload. */
  published?(): Promise<void>;
  /** Drops everything written so far; safe to call after a failure. */
  abort(): Promise<void>;
}

export interface ObjectStore {
  /** A printable name for messages: never contains credentials. */
  readonly description: string;
  createBlobWriter(): Promise<BlobWriter>;
  /** Reads bytes [start, end) of an object (end defaults to its size). */
  read(key: string, start?: number, end?: number): Promise<Readable>;
  /**
   * Bytes [start, end) of an object in one buffer, shorter only where the object ends first.
   * Optional: backends that can read positionally offer it (it spares a copy of every piece).
   */
  readBytes?(key: string, start: number, end: number): Promise<Buffer>;
  head(key: string): Promise<ObjectInfo | null>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  delete(key: string): Promise<void>;
  /** Small objects (manifests, refs) read whole with their version tag. */
  getSmall(key: string): Promise<{ body: Buffer; etag: string } | null>;
  /** Atomic small-object write; throws PreconditionFailedError when the condition fails. */
  putSmall(key: string, body: Buffer, condition?: PutCondition): Promise<{ etag: string }>;
  close(): Promise<void>;
}
