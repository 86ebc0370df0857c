// The one parser for durations and sizes in flags, environment variables and config files.
// Units are explicit; a bare number means SECONDS for a duration and BYTES for a size,
// everywhere (CLI flags, `serve` options, S3 options, hook arguments).
import { invalid } from './errors.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "90s", "15m", "24h", "7d", or a bare number of seconds -> milliseconds. `what` names
 *  the option in the error ("--grace", "LAYERKEEP_S3_MAX_RETRY_TIME"). */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw invalid(`${what}: expected a duration like 500ms, 90s, 15m, 24h or 7d (a bare number is seconds), got ${JSON.stringify(text)}`);
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!);
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
};

/** "16MiB", "5GiB", "512k", or a bare number of bytes -> bytes. Units are binary (k = KiB). */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const mult = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || mult === undefined) throw invalid(`${what}: expected a size like 16MiB, 5GiB or a number of bytes, got ${JSON.stringify(text)}`);
  const n = Math.round(Number(m[1]) * mult);
  if (!Number.isSafeInteger(n)) throw invalid(`${what}: ${JSON.stringify(text)} is too large`);
  return n;
}
