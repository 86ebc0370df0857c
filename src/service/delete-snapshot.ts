// DeleteSnapshot: drops a snapshot from its key's ref history (a conditional write of the ref,
// so a concurrent update is never overwritten). The manifest and blob stay until `gc` finds them
// unreachable. The current snapshot can only go when it is the key's last one (the key then
// has no snapshot at all); otherwise it would silently roll the key back.
import { resolveSnapshot } from '../ops/manifests.js';
import { readRef } from '../ops/publish.js';
import type { OpsContext } from '../ops/types.js';
import { canonicalJson, refKey, type Ref } from '../store/layout.js';
import { invalid, notFound } from '../errors.js';

export async function deleteSnapshot(ctx: OpsContext, key: string, snapshot: string): Promise<{ deleted: string[] }> {
  if (!snapshot) throw invalid('invalid request: name the snapshot to delete (a digest or a unique prefix)');
  const digest = await resolveSnapshot(ctx, key, snapshot);
  const remote = await readRef(ctx, key);
  if (!remote || !remote.ref.history.some((h) => h.manifest === digest)) {
    throw notFound(`snapshot ${digest} not found in the history of key ${key}`);
  }
  const rest = remote.ref.history.filter((h) => h.manifest !== digest);
  if (remote.ref.current === digest) {
    if (rest.length > 0) {
      throw invalid(`invalid request: ${digest} is the current snapshot of key ${key}; delete older ones, or take a new snapshot first`);
    }
    await ctx.store.delete(refKey(key));
    ctx.state.prepare('DELETE FROM keys WHERE key = ?').run(key);
  } else {
    const ref: Ref = { ...remote.ref, history: rest };
    await ctx.store.putSmall(refKey(key), canonicalJson(ref), { ifMatch: remote.etag });
  }
  ctx.state.prepare('DELETE FROM snapshots WHERE manifest_digest = ?').run(digest);
  return { deleted: [digest] };
}
