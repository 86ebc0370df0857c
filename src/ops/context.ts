// Builds the context every operation runs in: the store named by a URL, the state DB, a logger.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { attachKeyring } from '../snapshot/frameCipher.js';
import { DEFAULT_STATE_DIR, openState } from '../state/db.js';
import { openFsStore } from '../store/fs.js';
import { holdsSnapshots, MARKER_KEY, NoStoreError, readMarker, writeMarker } from '../store/marker.js';
import { parseStoreUrl, type StoreLocation } from '../store/url.js';
import type { ObjectStore } from '../store/types.js';
import type { StateDb } from '../state/db.js';
import { loadKeyring } from './keys.js';
import type { Logger, OpsContext, Progress } from './types.js';

export const DEFAULT_STORE = 'file:///var/lib/layerkeep/store';

export interface ContextOptions {
  store?: string;
  stateDir?: string;
  log?: Logger;
  progress?: Progress;
  /** Backend-specific flags (e.g. s3-region), as given on the command line. */
  storeFlags?: Record<string, string | undefined>;
  /** Client-side encryption key files (the first encrypts); the environment may add more (keys.ts). */
  encryptionKeyFiles?: string[];
  /**
   * How the store's marker is treated (store/marker.ts):
   *  read   the location must be a store (marker, or refs/ or manifests/ to adopt); nothing is created
   *  write  as read, and an adopted store gets its marker
   *  init   the marker is written (the location is created if needed)
   *  serve  as init, logged: the daemon makes its configured store on its first start
   *  open   no check (library callers and tests that build stores directly)
   */
  storeMode?: StoreMode;
}

export type StoreMode = 'read' | 'write' | 'init' | 'serve' | 'open';

export async function openContext(opts: ContextOptions = {}): Promise<OpsContext> {
  const stateDir = opts.stateDir ?? process.env.LAYERKEEP_STATE_DIR ?? DEFAULT_STATE_DIR;
  const keyring = loadKeyring({ files: opts.encryptionKeyFiles }); // before anything is opened: a bad key file fails fast
  const spec = opts.store ?? process.env.LAYERKEEP_STORE ?? DEFAULT_STORE;
  precheckLocal(parseStoreUrl(spec), opts.storeMode ?? 'open'); // a bad URL or no store: refused before the state dir is made
  const state = openState(stateDir);
  try {
    const log = opts.log ?? silentLogger;
    const store = await openStore(spec, state, opts.storeFlags ?? {}, log, opts.storeMode ?? 'open');
    attachKeyring(store, keyring);
    if (keyring) log.debug('client-side encryption on', { keyIds: keyring.keys.map((k) => k.id) });
    return { store, state, log, progress: opts.progress, host: hostname() };
  } catch (err) {
    state.close();
    throw err;
  }
}

export async function closeContext(ctx: OpsContext): Promise<void> {
  await ctx.store.close();
  ctx.state.close();
}

export async function openStore(spec: string, state: StateDb, flags: Record<string, string | undefined>, log: Logger = silentLogger, mode: StoreMode = 'open'): Promise<ObjectStore> {
  const loc = parseStoreUrl(spec);
  if (loc.kind === 'file') {
    precheckLocal(loc, mode);
    const store = openFsStore(loc.root);
    return settleMarker(store, mode, log);
  }
  const s3 = await import('../s3/open.js'); // the AWS SDK loads only for s3:// stores
  const store = await s3.openS3Store(loc.url, s3.s3OptionsFrom(flags, process.env), state, log);
  try {
    return await settleMarker(store, mode, log);
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** Checked before opening: opening a local store creates its directories. */
function precheckLocal(loc: StoreLocation, mode: StoreMode): void {
  if (loc.kind !== 'file' || (mode !== 'read' && mode !== 'write')) return;
  if (['refs', 'manifests', MARKER_KEY].some((n) => existsSync(join(loc.root, n)))) return;
  throw new NoStoreError(loc.url);
}

/** Applies the store mode to an opened store: refuse a location without a store, adopt or initialise. */
async function settleMarker(store: ObjectStore, mode: StoreMode, log: Logger): Promise<ObjectStore> {
  if (mode === 'open') return store;
  if (await readMarker(store)) return store;
  const by = `${TOOL_NAME} on ${hostname()}`;
  if (mode === 'init' || mode === 'serve') {
    const adopted = await holdsSnapshots(store);
    const r = await writeMarker(store, by);
    if (r.created) log.info(adopted ? `adopted the existing store at ${store.description} (wrote its marker)` : `created a new layerkeep store at ${store.description}`);
    return store;
  }
  if (!(await holdsSnapshots(store))) throw new NoStoreError(store.description);
  if (mode === 'write') {
    await writeMarker(store, by);
    log.info(`adopted the existing store at ${store.description} (wrote its marker)`);
  }
  return store;
}

const TOOL_NAME = 'layerkeep';

/**
 * Finishes uploads that earlier runs left unfinished (crash, kill, network loss) and
 * publishes their snapshots. Every command that writes, and the daemon, call this first.
 */
export async function resumeUploads(ctx: OpsContext): Promise<void> {
  const { resumePendingUploads } = await import('../upload/resume.js');
  const { publishManifest } = await import('./publish.js');
  const report = await resumePendingUploads(ctx.store, ctx.state, async (_key, json) => { await publishManifest(ctx, json); }, ctx.log);
  for (const c of report.completed) ctx.log.warn(`finished an upload left unfinished by an earlier run: ${c.blobDigest} for key ${c.key}`);
  for (const f of report.failed) ctx.log.warn(`an earlier upload could not be finished: ${f.reason}`);
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
