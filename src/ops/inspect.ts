// inspect: a snapshot's manifest, checked against its digest, with its frame summary.
import { readManifest, resolveSnapshot } from './manifests.js';
import type { OpsContext } from './types.js';

export async function inspect(ctx: OpsContext, snapshot: string) {
  const digest = await resolveSnapshot(ctx, undefined, snapshot);
  const manifest = await readManifest(ctx, digest);
  return { digest, manifest };
}
