// How the CLI reports a failure, in one place: the exit code and hint follow from the error's
// kind (errors.ts), never from its message text; --json gets the same facts as one object.
import { type ErrorKind, kindOf, LayerkeepError, objectOf, UsageError } from '../errors.js';

/** 0 success, 1 failure, 2 usage error or invalid input (nothing was changed). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function exitCodeOf(e: unknown): number {
  return e instanceof UsageError || kindOf(e) === 'invalid' ? EXIT_USAGE : EXIT_FAILURE;
}

const KIND_HINTS: Partial<Record<ErrorKind, string>> = {
  permission: 'layerkeep needs root to read and restore every file, owner and xattr',
  conflict: 'another process or host changed it first; see `layerkeep ls`',
};
const ERRNO_HINTS: Record<string, string> = {
  ENOSPC: 'the disk is full; nothing was changed — free space and run the command again',
  ERR_DLOPEN_FAILED: 'run `make build` first',
  MODULE_NOT_FOUND: 'run `make build` first',
};

export function hintOf(e: unknown): string | undefined {
  if (e instanceof LayerkeepError && e.hint) return e.hint;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && ERRNO_HINTS[code]) return ERRNO_HINTS[code];
  return KIND_HINTS[kindOf(e)];
}

/** The one shape of an error under --json: {"error": {kind, message, hint?, object?}}. */
export function errorJson(e: unknown): { error: { kind: ErrorKind; message: string; hint?: string; object?: string } } {
  const message = withObject(e);
  const hint = hintOf(e);
  const object = objectOf(e);
  return { error: { kind: kindOf(e), message, ...(hint ? { hint } : {}), ...(object ? { object } : {}) } };
}

/** The message, naming the path or object it concerns when the message itself does not. */
export function withObject(e: unknown): string {
  const message = (e as Error | null)?.message ?? String(e);
  const object = objectOf(e);
  return object && !message.includes(object) ? `${object}: ${message}` : message;
}

/** Edit distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest candidate within a small distance, if any. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) { best = c; bestD = d; }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
