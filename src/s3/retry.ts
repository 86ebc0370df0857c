// Retries with exponential backoff and full jitter, bounded in attempts and in total time.
// https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_RETRY, type RetryLimits } from './options.js';
import { LayerkeepError, kindOf } from '../errors.js';

const TRANSIENT_NAMES = new Set([
  'SlowDown', 'RequestTimeout', 'RequestTimeoutException', 'InternalError', 'ServiceUnavailable',
  'Throttling', 'ThrottlingException', 'TooManyRequestsException', 'TimeoutError', 'NetworkingError',
  'RequestTimeTooSkewed', 'BadDigest', 'XAmzContentSHA256Mismatch', 'IncompleteBody',
]);
const TRANSIENT_ERRNO = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENETDOWN', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET',
]);

interface ErrorLike {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  cause?: unknown;
}

export function httpStatusOf(err: unknown): number | undefined {
  return (err as ErrorLike | undefined)?.$metadata?.httpStatusCode;
}

/** True for failures another attempt may cure: 5xx, 429, SlowDown, timeouts, resets. */
export function isTransient(err: unknown): boolean {
  const e = err as ErrorLike | undefined;
  if (!e || typeof e !== 'object') return false;
  const status = httpStatusOf(e);
  if (status === 501) return false; // NotImplemented: asking again will not help
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
  if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
  if (e.code && (TRANSIENT_ERRNO.has(e.code) || TRANSIENT_NAMES.has(e.code))) return true;
  if (e.$retryable) return true;
  if (/socket hang up|ECONNRESET|EPIPE|timed? ?out|premature close|aborted/i.test(e.message ?? '')) return true;
  return e.cause !== undefined && e.cause !== e && isTransient(e.cause);
}

/** A short description of an error for one-line messages: code, HTTP status and message. */
export function describeError(err: unknown): string {
  const e = err as ErrorLike | undefined;
  if (!e || typeof e !== 'object') return String(err);
  const status = httpStatusOf(e);
  const code = e.code && e.code !== e.name ? e.code : undefined;
  const parts = [e.name && e.name !== 'Error' ? e.name : undefined, code, status ? `HTTP ${status}` : undefined].filter(Boolean);
  const msg = (e.message ?? '').split('\n')[0];
  // The SDK's message for errors without a body is just "UnknownError" or the name again.
  const useful = msg && msg !== e.name && msg !== 'UnknownError' ? msg : '';
  return [parts.join(' '), useful].filter(Boolean).join(': ') || 'unknown error';
}

export interface RetryContext {
  limits?: Partial<RetryLimits>;
  /** Called before each wait; lets callers log or count retries. */
  onRetry?: (attempt: number, err: unknown, delayMs: number) => void;
  /** Errors to rethrow at once even if they look transient. */
  isFatal?: (err: unknown) => boolean;
}

/** Error thrown when retries are exhausted; the message names the operation and the cause. */
export class RetriesExhaustedError extends LayerkeepError {
  constructor(readonly what: string, readonly attempts: number, readonly lastError: unknown) {
    super(kindOf(lastError) === 'internal' ? 'unavailable' : kindOf(lastError),
      `${what} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${describeError(lastError)}`);
    this.name = 'RetriesExhaustedError';
  }
}

/**
 * Runs fn until it succeeds, a non-transient error occurs, or the limits run out. `what`
 * names the operation in the final error ("upload part 7 of uploads/<id>").
 */
export async function withRetry<T>(what: string, fn: (attempt: number) => Promise<T>, ctx: RetryContext = {}): Promise<T> {
  const lim = { ...DEFAULT_RETRY, ...ctx.limits };
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const transient = isTransient(err) && !(ctx.isFatal?.(err) ?? false);
      if (!transient) throw err;
      const delay = Math.random() * Math.min(lim.maxDelayMs, lim.baseDelayMs * 2 ** (attempt - 1));
      const elapsed = Date.now() - started;
      if (attempt >= lim.maxAttempts || elapsed + delay > lim.maxElapsedMs) throw new RetriesExhaustedError(what, attempt, err);
      ctx.onRetry?.(attempt, err, delay);
      await sleep(delay);
    }
  }
}
