// Classifying S3 errors and turning them into one-line messages without secrets.
import { describeError, httpStatusOf, RetriesExhaustedError } from './retry.js';
import { LayerkeepError, type ErrorKind } from '../errors.js';

interface S3ErrorLike {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $response?: { headers?: Record<string, string | undefined> };
}

/** Unwraps retry exhaustion to the error the server (or socket) gave last. */
export function rootError(err: unknown): unknown {
  return err instanceof RetriesExhaustedError ? err.lastError : err instanceof S3StoreError ? err.cause : err;
}

export function codeOf(err: unknown): string | undefined {
  const e = rootError(err) as S3ErrorLike | undefined;
  return e?.Code ?? e?.name ?? e?.code;
}

export function statusOf(err: unknown): number | undefined {
  return httpStatusOf(rootError(err));
}

export function isNotFound(err: unknown): boolean {
  const c = codeOf(err);
  return statusOf(err) === 404 || c === 'NotFound' || c === 'NoSuchKey';
}

/** Lost conditional write: 412, or AWS's 409 ConditionalRequestConflict. */
export function isPreconditionFailed(err: unknown): boolean {
  const s = statusOf(err);
  const c = codeOf(err);
  return s === 412 || s === 409 || c === 'PreconditionFailed' || c === 'ConditionalRequestConflict';
}

/** The server no longer knows the multipart upload (RGW 16 answers 404 NoSuchKey after an abort). */
export function isUploadGone(err: unknown): boolean {
  const c = codeOf(err);
  return c === 'NoSuchUpload' || c === 'NoSuchKey' || statusOf(err) === 404;
}

export function headerOf(err: unknown, name: string): string | undefined {
  return (rootError(err) as S3ErrorLike | undefined)?.$response?.headers?.[name];
}

function s3Kind(status: number | undefined): ErrorKind {
  if (status === 404) return 'not-found';
  if (status === 401 || status === 403) return 'permission';
  if (status === 409 || status === 412) return 'conflict';
  if (status === 400) return 'invalid';
  if (status === undefined || status >= 500) return 'unavailable';
  return 'internal';
}

/** An S3 failure with the operation named; keeps the original as cause for classification. */
export class S3StoreError extends LayerkeepError {
  constructor(message: string, override readonly cause: unknown) {
    super(s3Kind(statusOf(cause)), message);
    this.name = 'S3StoreError';
  }
  get $metadata(): { httpStatusCode?: number } {
    return { httpStatusCode: statusOf(this.cause) };
  }
}

export type Redactor = (text: string) => string;

/** Builds a redactor that blanks every given secret (and its base64 form) out of a text. */
export function makeRedactor(secrets: () => Iterable<string | undefined>): Redactor {
  return (text) => {
    let out = text;
    for (const s of secrets()) {
      if (!s || s.length < 4) continue;
      out = out.split(s).join('[redacted]');
    }
    return out;
  };
}

/**
 * "<what>: <cause>" with secrets removed. The cause kept for classification is a plain copy
 * of the fields that matter (SDK errors carry request details we do not want to print).
 */
export function s3Error(what: string, err: unknown, redact: Redactor): S3StoreError {
  const detail = err instanceof RetriesExhaustedError ? err.message.replace(/^.*? failed after/, 'failed after') : describeError(err);
  const root = rootError(err) as S3ErrorLike & { $metadata?: { httpStatusCode?: number } };
  const cause = root && typeof root === 'object'
    ? {
        name: root.name,
        Code: root.Code,
        code: root.code,
        message: redact(String(root.message ?? '')),
        $metadata: { httpStatusCode: root.$metadata?.httpStatusCode },
        $response: { headers: { 'x-amz-bucket-region': headerOf(root, 'x-amz-bucket-region') } },
      }
    : root;
  return new S3StoreError(redact(`${what}: ${detail}`), cause);
}
