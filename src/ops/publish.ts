// Making a stored snapshot visible: manifest first, then the key's ref by a conditional
// write. The ref only ever points at a manifest whose blob is complete and verified.
import { createHash } from 'node:crypto';
import { canonicalJson, type Manifest, manifestKey, type Ref, REF_MEDIA_TYPE, refKey } from '../store/layout.js';
import { type BlobWriter, PreconditionFailedError } from '../store/types.js';
import { getKey, recordSnapshot, setKeyCurrent } from '../state/snapshots.js';
import type { OpsContext } from './types.js';
import { corrupt } from '../errors.js';

export const DEFAULT_KEEP = 3;

/** A lost race for a key's ref: a conditional write that lost, so resume treats it as one. */
export class RefConflictError extends PreconditionFailedError {
  override name = 'RefConflictError';
  constructor(key: string, readonly other: string, readonly mine: string) {
    super(
      key,
      `key ${key} was updated elsewhere: its current snapshot is ${other}, not the one this host last saw; ` +
        `this snapshot (${mine}) is stored but not current — restore ${other} first, or pass --take-over to make ${mine} current`,
      `another host advanced this key; see \`layerkeep ls --key ${key}\``,
    );
  }
}

export function manifestDigest(m: Manifest): string {
  return `sha256:${createHash('sha256').update(canonicalJson(m)).digest('hex')}`;
}

export async function readRef(ctx: OpsContext, key: string): Promise<{ ref: Ref; etag: string } | null> {
  const got = await ctx.store.getSmall(refKey(key));
  if (!got) return null;
  let ref: Ref;
  try {
    ref = JSON.parse(got.body.toString('utf8')) as Ref;
  } catch {
    throw corrupt(`refs/${key} in ${ctx.store.description} is not valid JSON`);
  }
  if (ref.mediaType !== REF_MEDIA_TYPE || ref.key !== key || typeof ref.current !== 'string') {
    throw corrupt(`refs/${key} in ${ctx.store.description} is not a layerkeep ref`);
  }
  return { ref, etag: got.etag };
}

export interface PublishOptions {
  /** Make this snapshot current even if the ref moved since this host last saw it. */
  takeOver?: boolean;
  keep?: number;
}

/** Writes the manifest and advances refs/<key>; returns the new generation. */
export async function publishManifest(ctx: OpsContext, manifestJson: string, opts: PublishOptions = {}): Promise<{ digest: string; generation: number }> {
  const manifest = JSON.parse(manifestJson) as Manifest;
  const body = Buffer.from(manifestJson);
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const mKey = manifestKey(digest);
  if (!(await ctx.store.head(mKey))) await ctx.store.putSmall(mKey, body);
  recordSnapshot(ctx.state, digest, manifest, 'stored');

  const key = manifest.key;
  const known = getKey(ctx.state, key);
  const keep = Math.max(1, opts.keep ?? DEFAULT_KEEP);
  for (let attempt = 0; ; attempt++) {
    const remote = await readRef(ctx, key);
    // already published (a resumed upload whose publisher died after writing the ref)
    if (remote?.ref.history.some((h) => h.manifest === digest)) return { digest, generation: remote.ref.generation };
    if (remote && !opts.takeOver && remote.ref.current !== known?.current_manifest) {
      throw new RefConflictError(key, remote.ref.current, digest);
    }
    const ref: Ref = {
      mediaType: REF_MEDIA_TYPE,
      key,
      current: digest,
      generation: (remote?.ref.generation ?? 0) + 1,
      history: [{ manifest: digest, created: manifest.created }, ...(remote?.ref.history ?? [])].slice(0, keep),
    };
    try {
      const { etag } = await ctx.store.putSmall(refKey(key), canonicalJson(ref), remote ? { ifMatch: remote.etag } : { ifNoneMatch: '*' });
      ctx.state.transaction(() => {
        recordSnapshot(ctx.state, digest, manifest, 'complete');
        setKeyCurrent(ctx.state, key, digest, etag, ref.generation);
      })();
      return { digest, generation: ref.generation };
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
      // Someone wrote the ref between our read and write. With --take-over, try again on the new
      // version; otherwise report whoever won.
      if (!opts.takeOver || attempt >= 5) {
        const now = await readRef(ctx, key);
        throw new RefConflictError(key, now?.ref.current ?? 'unknown', digest);
      }
    }
  }
}

/**
 * Publishes the manifest of a blob just written by `writer`, then lets the upload journal
 * forget it — also when the ref race was lost (the snapshot is stored either way). On any
 * other failure the journal keeps it, and the next start publishes it.
 */
export async function publishWritten(ctx: OpsContext, writer: BlobWriter, manifestJson: string, opts: PublishOptions = {}): Promise<{ digest: string; generation: number }> {
  try {
    const r = await publishManifest(ctx, manifestJson, opts);
    await writer.published?.();
    return r;
  } catch (err) {
    if (err instanceof RefConflictError) await writer.published?.();
    throw err;
  }
}
