// What the multipart engine needs from an object store. The S3 backend (src/s3) implements it;
// the engine (writer, finalize, resume) holds the journal, staging file and scheduling logic and
// knows nothing of S3: it asks the target what a failure means.
import type { Readable } from 'node:stream';
import type { ObjectInfo } from '../store/types.js';
import type { Logger } from '../log.js';

export interface ServerPart {
  number: number;
  size: number;
  /** Without quotes. */
  etag: string;
}

/** Hashes of a part computed off the main thread, as its bytes were staged (writer.ts). */
export interface PartHashes {
  crc32?: number;
}

/** A part's bytes streamed from the staging file: opened afresh for every attempt. */
export interface PartSource {
  length: number;
  open(): Readable;
}

export interface MultipartTarget {
  /** Store description (no secrets): the journal's `store` column. */
  readonly name: string;
  readonly partSize: number;
  readonly concurrency: number;
  readonly stagingDir: string;
  /** Part and object ETags are MD5s of the bytes (false under SSE-KMS / SSE-C). */
  readonly etagIsMd5: boolean;
  /**
   * The server can copy objects server-side (RGW 16 cannot copy SSE-C / SSE-KMS objects). When
   * false, parts go up only once the digest is known, straight to blobs/sha256/<hex>.
   */
  readonly serverSideCopy: boolean;
  /** The store sends a CRC32 flexible checksum with each part (servers that validate them). */
  readonly wantsCrc32: boolean;
  /** Interrupted writers' uploads older than this are given up by resume. */
  readonly abandonAfterMs: number;
  readonly log: Logger;
  /**
   * True when a failure means the server no longer knows the multipart upload (aborted,
   * expired, or completed by an earlier attempt whose answer was lost).
   */
  isUploadGone(err: unknown): boolean;
  /** True when completing failed because the server refused the part list (a part missing or changed). */
  isPartRejected(err: unknown): boolean;
  createUpload(objectKey: string): Promise<string>;
  /**
   * Ids of the multipart uploads in progress on exactly this key: resume aborts those a writer
   * created but was killed before it could journal the id.
   */
  listUploads(objectKey: string): AsyncIterable<string>;
  /** Returns the part's ETag without quotes. Retries transient failures; errors name the part. */
  uploadPart(objectKey: string, uploadId: string, partNumber: number, body: Buffer | PartSource, md5: Buffer, hashes?: PartHashes): Promise<string>;
  /** All parts the server holds, paginated. Throws an error for which isUploadGone() is true if the upload is unknown. */
  listParts(objectKey: string, uploadId: string): AsyncIterable<ServerPart>;
  completeUpload(objectKey: string, uploadId: string, parts: { number: number; etag: string }[]): Promise<void>;
  abortUpload(objectKey: string, uploadId: string): Promise<void>;
  putObject(key: string, body: Buffer, md5: Buffer): Promise<void>;
  headObject(key: string): Promise<ObjectInfo | null>;
  /** Server-side copy (multipart copy above 5 GiB); a copy onto itself refreshes the modification time. */
  copyObject(fromKey: string, toKey: string, size: number): Promise<void>;
  deleteObject(key: string): Promise<void>;
}

/** Stores that run the multipart engine expose it here (the local directory store does not). */
export interface HasMultipartTarget {
  readonly multipart: MultipartTarget;
}

export function multipartTargetOf(store: object): MultipartTarget | undefined {
  return (store as Partial<HasMultipartTarget>).multipart;
}
