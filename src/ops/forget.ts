// Forgetting snapshots and removing keys: the ref is rewritten with a conditional write (a
// concurrent update is never overwritten, the command fails and can be run again); manifests
// and blobs stay until `gc` finds them unreachable. The current snapshot can only go when it is
// the key's last one (the key then has no snapshot at all): otherwise it would silently roll
// the key back to an older state.
import { canonicalJson, refKey, type Ref, type RefHistoryItem } from '../store/layout.js';
import { PreconditionFailedError } from '../store/types.js';
import { resolveSnapshot } from './manifests.js';
import { readRef } from './publish.js';
import type { OpsContext } from './types.js';
import { invalid, notFound } from '../errors.js';

export interface ForgetOptions {
  key: string;
  /** One snapshot (a digest or a unique prefix). */
  snapshot?: string;
  /** Keep the newest N of the history (the current one always stays). */
  keepLast?: number;
  /** Keep the snapshots created within this many milliseconds before `now` (and the current one). */
  keepWithinMs?: number;
  now?: Date;
}

export interface ForgetResult { key: string; forgotten: string[]; kept: string[]; keyRemoved: boolean }

/** The gRPC DeleteSnapshot: one snapshot out of a key's history. */
export async function deleteSnapshot(ctx: OpsContext, key: string, snapshot: string): Promise<{ deleted: string[] }> {
  if (!snapshot) throw invalid('invalid request: name the snapshot to delete (a digest or a unique prefix)');
  const r = await forget(ctx, { key, snapshot });
  return { deleted: r.forgotten };
}

export async function forget(ctx: OpsContext, opts: ForgetOptions): Promise<ForgetResult> {
  const { key } = opts;
  const chosen = [opts.snapshot !== undefined, opts.keepLast !== undefined, opts.keepWithinMs !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw invalid('forget needs exactly one of --snapshot, --keep-last, --keep-within');
  const remote = await readRef(ctx, key);
  if (!remote) throw notFound(`key ${key} has no snapshot in ${ctx.store.description}`, { object: key });
  const { ref } = remote;
  let rest: RefHistoryItem[];
  if (opts.snapshot !== undefined) {
    const digest = await resolveSnapshot(ctx, key, opts.snapshot);
    if (!ref.history.some((h) => h.manifest === digest)) throw notFound(`snapshot ${digest} not found in the history of key ${key}`, { object: digest });
    rest = ref.history.filter((h) => h.manifest !== digest);
    if (ref.current === digest && rest.length > 0) {
      throw invalid(`invalid request: ${digest} is the current snapshot of key ${key}; forget older ones, or take a new snapshot first`, { object: digest });
    }
  } else if (opts.keepLast !== undefined) {
    rest = ref.history.filter((h, i) => i < opts.keepLast! || h.manifest === ref.current);
  } else {
    const since = (opts.now ?? new Date()).getTime() - opts.keepWithinMs!;
    rest = ref.history.filter((h) => h.manifest === ref.current || Date.parse(h.created) >= since);
  }
  const forgotten = ref.history.filter((h) => !rest.includes(h)).map((h) => h.manifest);
  if (forgotten.length === 0) return { key, forgotten, kept: rest.map((h) => h.manifest), keyRemoved: false };
  if (rest.length === 0) {
    await removeRef(ctx, key, remote.etag);
  } else {
    const next: Ref = { ...ref, history: rest };
    await conditional(key, () => ctx.store.putSmall(refKey(key), canonicalJson(next), { ifMatch: remote.etag }));
  }
  const drop = ctx.state.prepare('DELETE FROM snapshots WHERE manifest_digest = ?');
  for (const d of forgotten) drop.run(d);
  return { key, forgotten, kept: rest.map((h) => h.manifest), keyRemoved: rest.length === 0 };
}

/** `rm --key K`: the key's ref goes (gc reclaims its snapshots); this host forgets its baseline. */
export async function removeKey(ctx: OpsContext, key: string): Promise<ForgetResult> {
  const remote = await readRef(ctx, key);
  if (!remote) throw notFound(`key ${key} has no snapshot in ${ctx.store.description}`, { object: key });
  await removeRef(ctx, key, remote.etag);
  const forgotten = remote.ref.history.map((h) => h.manifest);
  ctx.state.prepare('DELETE FROM snapshots WHERE key = ?').run(key);
  return { key, forgotten, kept: [], keyRemoved: true };
}

async function removeRef(ctx: OpsContext, key: string, etag: string): Promise<void> {
  // Deletes are not conditional on every backend: check the version just before.
  const now = await readRef(ctx, key);
  if (!now || now.etag !== etag) throw new PreconditionFailedError(refKey(key), `key ${key} changed while it was being removed; nothing was removed — run the command again`);
  await ctx.store.delete(refKey(key));
  ctx.state.prepare('DELETE FROM keys WHERE key = ?').run(key);
}

async function conditional<T>(key: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PreconditionFailedError) throw new PreconditionFailedError(refKey(key), `key ${key} changed meanwhile; nothing was forgotten — run the command again`);
    throw err;
  }
}
