// Builds the context every operation runs in: the store named by a URL, the state DB, a logger.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { attachKeyring } from '../snapshot/frameCipher.js';
import { DEFAULT_STATE_DIR, openState } from '../state/db.js';
import { openFsStore } from '../store/fs.js';
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
}

export async function openContext(opts: ContextOptions = {}): Promise<OpsContext> {
  const stateDir = opts.stateDir ?? process.env.LAYERKEEP_STATE_DIR ?? DEFAULT_STATE_DIR;
  const keyring = loadKeyring({ files: opts.encryptionKeyFiles }); // before anything is opened: a bad key file fails fast
  const state = openState(stateDir);
  try {
    const log = opts.log ?? silentLogger;
    const store = await openStore(opts.store ?? process.env.LAYERKEEP_STORE ?? DEFAULT_STORE, state, opts.storeFlags ?? {}, log);
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

export async function openStore(spec: string, state: StateDb, flags: Record<string, string | undefined>, log: Logger = silentLogger): Promise<ObjectStore> {
  if (!spec.includes('://')) return openFsStore(resolve(spec)); // a plain path means a local directory
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new Error(`invalid store URL ${JSON.stringify(spec)}: expected file:///DIR or s3://BUCKET/PREFIX`);
  }
  if (url.protocol === 'file:') return openFsStore(decodeURIComponent(url.pathname));
  if (url.protocol === 's3:') {
    const s3 = await import('../s3/open.js'); // the AWS SDK loads only for s3:// stores
    return s3.openS3Store(url, s3.s3OptionsFrom(flags, process.env), state, log);
  }
  throw new Error(`unsupported store ${url.protocol}//: use file:///DIR or s3://BUCKET/PREFIX`);
}

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
