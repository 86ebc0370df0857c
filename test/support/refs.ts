// What a local (file://) store says about a key, for end-to-end tests that wait for captures.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './wait.js';

/** The key's current snapshot digest in a local store directory, or '' if the key has none. */
export function currentSnapshotIn(storeDir: string, key: string): string {
  const p = join(storeDir, 'refs', key);
  if (!existsSync(p)) return '';
  return (JSON.parse(readFileSync(p, 'utf8')) as { current: string }).current;
}

/** Waits until the key's current snapshot differs from `previous` (a capture landed). */
export function waitForSnapshotIn(storeDir: string, key: string, previous = '', timeoutMs = 60_000): Promise<string> {
  return waitFor(`a new snapshot of key ${key}`, () => {
    const cur = currentSnapshotIn(storeDir, key);
    return cur && cur !== previous ? cur : '';
  }, timeoutMs);
}
