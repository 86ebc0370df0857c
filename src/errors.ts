// The one error vocabulary of layerkeep. Every failure a user or API client can act on is a
// LayerkeepError whose `kind` says what went wrong in terms a front end can map: the gRPC
// service maps kinds to status codes (service/status.ts), the CLI to exit codes and hints
// (cli/errors.ts). Nothing matches on message text. This file imports nothing from src/ so every
// folder may use it.

export type ErrorKind =
  /** bad input: arguments, options, a request field, a file the user named */
  | 'invalid'
  /** a key, snapshot, object or file that does not exist */
  | 'not-found'
  /** someone else changed it first (a ref race, a conditional write lost) */
  | 'conflict'
  /** a precondition of the system is not met (refused by policy, a state that forbids it) */
  | 'refused'
  /** a dependency is down or unreachable (store, daemon, network); retrying later may work */
  | 'unavailable'
  /** not allowed: credentials, file permissions, access control */
  | 'permission'
  /** retries, time or space ran out */
  | 'exhausted'
  /** stored or supplied data is damaged or in the wrong format */
  | 'corrupt'
  /** a bug or an unexpected failure */
  | 'internal';

export const ERROR_KINDS: readonly ErrorKind[] =
  ['invalid', 'not-found', 'conflict', 'refused', 'unavailable', 'permission', 'exhausted', 'corrupt', 'internal'];

export interface ErrorDetails {
  /** one line a person can act on ("run `layerkeep init`", "did you mean --key?") */
  hint?: string;
  /** the path or store object the error concerns, when there is one */
  object?: string;
  cause?: unknown;
}

export class LayerkeepError extends Error {
  readonly hint?: string;
  readonly object?: string;
  constructor(readonly kind: ErrorKind, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'LayerkeepError';
    if (details.hint !== undefined) this.hint = details.hint;
    if (details.object !== undefined) this.object = details.object;
  }
}

/** A command-line or request usage error (wrong/unknown flag, missing argument). */
export class UsageError extends LayerkeepError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('invalid', message, details);
    this.name = 'UsageError';
  }
}

export const invalid = (message: string, d?: ErrorDetails): LayerkeepError => new LayerkeepError('invalid', message, d);
export const notFound = (message: string, d?: ErrorDetails): LayerkeepError => new LayerkeepError('not-found', message, d);
export const conflict = (message: string, d?: ErrorDetails): LayerkeepError => new LayerkeepError('conflict', message, d);
export const refused = (message: string, d?: ErrorDetails): LayerkeepError => new LayerkeepError('refused', message, d);
export const unavailable = (message: string, d?: ErrorDetails): LayerkeepError => new LayerkeepError('unavailable', message, d);
export const corrupt = (message: string, d?: ErrorDetails): LayerkeepError => new LayerkeepError('corrupt', message, d);
export const internal = (message: string, d?: ErrorDetails): LayerkeepError => new LayerkeepError('internal', message, d);

/** Node system errors (errno codes) get a kind too, so a missing file is not-found everywhere. */
const ERRNO_KINDS: Record<string, ErrorKind> = {
  ENOENT: 'not-found', ENOTDIR: 'not-found',
  EACCES: 'permission', EPERM: 'permission', EROFS: 'permission',
  ENOSPC: 'exhausted', EDQUOT: 'exhausted', EMFILE: 'exhausted',
  EEXIST: 'conflict',
  ECONNREFUSED: 'unavailable', ECONNRESET: 'unavailable', ETIMEDOUT: 'unavailable', EHOSTUNREACH: 'unavailable', ENOTFOUND: 'unavailable',
  EINVAL: 'invalid',
};

/** The kind of any thrown value: a LayerkeepError's own, a system error's by errno, else internal. */
export function kindOf(e: unknown): ErrorKind {
  if (e instanceof LayerkeepError) return e.kind;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && ERRNO_KINDS[code]) return ERRNO_KINDS[code];
  return 'internal';
}

/** The path or object an error concerns: a LayerkeepError's, or a system error's path. */
export function objectOf(e: unknown): string | undefined {
  if (e instanceof LayerkeepError) return e.object;
  const p = (e as { path?: unknown } | null)?.path;
  return typeof p === 'string' ? p : undefined;
}
