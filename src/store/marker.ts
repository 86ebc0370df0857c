// The marker object at a store's root: a store is created on purpose (`layerkeep init`), so a
// typo in a store URL is "no layerkeep store at URL" instead of a new empty store. Stores made
// before the marker existed are adopted: a location that already holds refs/ or manifests/ is
// a store, and the marker is written on its first write.
import { corrupt, LayerkeepError, refused } from '../errors.js';
import { PreconditionFailedError, type ObjectStore } from './types.js';

export const MARKER_KEY = 'layerkeep-store.json';
export const MARKER_MEDIA_TYPE = 'application/vnd.layerkeep.store.v1+json';
export const STORE_FORMAT_VERSION = 1;

export interface StoreMarker {
  mediaType: typeof MARKER_MEDIA_TYPE;
  formatVersion: number;
  created: string;
  by: string;
}

/** The location holds no layerkeep store (no marker, nothing to adopt). */
export class NoStoreError extends LayerkeepError {
  override name = 'NoStoreError';
  constructor(readonly location: string) {
    super('not-found', `no layerkeep store at ${location}`, {
      object: location, hint: 'create it with `layerkeep init --store URL` (or check the store URL for a typo)',
    });
  }
}

export function parseMarker(body: Buffer, where: string): StoreMarker {
  let m: StoreMarker;
  try {
    m = JSON.parse(body.toString('utf8')) as StoreMarker;
  } catch {
    throw corrupt(`${where}/${MARKER_KEY} is not valid JSON: not a layerkeep store marker`, { object: `${where}/${MARKER_KEY}` });
  }
  if (m?.mediaType !== MARKER_MEDIA_TYPE || !Number.isSafeInteger(m.formatVersion)) throw corrupt(`${where}/${MARKER_KEY} is not a layerkeep store marker`, { object: `${where}/${MARKER_KEY}` });
  if (m.formatVersion > STORE_FORMAT_VERSION) {
    throw refused(`the store at ${where} has format version ${m.formatVersion}; this layerkeep understands up to ${STORE_FORMAT_VERSION} (upgrade layerkeep)`);
  }
  return m;
}

export async function readMarker(store: ObjectStore): Promise<StoreMarker | null> {
  const got = await store.getSmall(MARKER_KEY);
  return got ? parseMarker(got.body, store.description) : null;
}

/** A marker-less location that already holds snapshots (made before markers existed). */
export async function holdsSnapshots(store: ObjectStore): Promise<boolean> {
  for (const prefix of ['refs/', 'manifests/']) {
    for await (const _ of store.list(prefix)) return true;
  }
  return false;
}

/** Writes the marker unless one exists; returns whether this call wrote it. */
export async function writeMarker(store: ObjectStore, by: string, now = new Date()): Promise<{ marker: StoreMarker; created: boolean }> {
  const marker: StoreMarker = { mediaType: MARKER_MEDIA_TYPE, formatVersion: STORE_FORMAT_VERSION, created: now.toISOString(), by };
  try {
    await store.putSmall(MARKER_KEY, Buffer.from(`${JSON.stringify(marker, null, 2)}\n`), { ifNoneMatch: '*' });
    return { marker, created: true };
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err;
    const existing = await readMarker(store);
    if (!existing) throw err;
    return { marker: existing, created: false };
  }
}
