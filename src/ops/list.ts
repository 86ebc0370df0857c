// Listing keys and snapshots. The store's refs are the truth (so `ls` works against a bucket
// alone); snapshots this host stored that no ref names (e.g. a lost race) come from local state.
import { listSnapshotRows } from '../state/snapshots.js';
import { readManifest } from './manifests.js';
import { readRef } from './publish.js';
import type { OpsContext } from './types.js';

export interface SnapshotListing {
  key: string;
  digest: string;
  created: string;
  kind: string;
  current: boolean;
  blobSize: number;
  /** Stored bytes this snapshot added (layer blob + chunk pack + layer index). */
  ownSize: number;
  /** Stored bytes a restore reads: own sizes summed over the snapshot's chain. */
  restoreSize: number;
  /** Layers a restore reads (1 for a full snapshot). */
  chainLength: number;
  uncompressedSize: number;
  files: number;
  host: string;
  /** Where the listing came from: the key's ref history, or only this host's state. */
  source: 'ref' | 'local';
  status?: string;
}

export async function listKeys(ctx: OpsContext): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of ctx.store.list('refs/')) keys.push(o.key.slice('refs/'.length));
  return keys.sort();
}

export async function listSnapshots(ctx: OpsContext, key?: string): Promise<SnapshotListing[]> {
  const keys = key ? [key] : await listKeys(ctx);
  const out: SnapshotListing[] = [];
  const seen = new Set<string>();
  for (const k of keys) {
    const ref = await readRef(ctx, k);
    for (const h of ref?.ref.history ?? []) {
      const m = await readManifest(ctx, h.manifest).catch(() => null);
      if (!m) continue;
      seen.add(h.manifest);
      out.push({
        key: k, digest: h.manifest, created: m.created, kind: m.kind, current: h.manifest === ref!.ref.current,
        blobSize: m.blob.size, ownSize: m.chain?.ownSize ?? m.blob.size, restoreSize: m.chain?.restoreSize ?? m.blob.size,
        chainLength: m.chain?.length ?? m.base.length + 1,
        uncompressedSize: m.uncompressedSize, files: m.files, host: m.host, source: 'ref',
      });
    }
  }
  for (const r of listSnapshotRows(ctx.state, key)) {
    if (seen.has(r.manifest_digest) || (key === undefined && !keys.includes(r.key) && r.status === 'complete')) continue;
    // Stored but not current (a lost race): its manifest, if the store has it, knows its chain.
    const m = r.status === 'failed' ? null : await readManifest(ctx, r.manifest_digest).catch(() => null);
    if (!m && r.status === 'complete') continue; // stored once, reclaimed by gc since: nothing to restore
    out.push({
      key: r.key, digest: r.manifest_digest, created: r.created, kind: r.kind, current: false, blobSize: r.blob_size,
      ownSize: m?.chain?.ownSize ?? r.blob_size, restoreSize: m?.chain?.restoreSize ?? r.blob_size,
      chainLength: m ? (m.chain?.length ?? m.base.length + 1) : r.kind === 'full' ? 1 : 0,
      uncompressedSize: r.uncompressed_size, files: r.files, host: '', source: 'local', status: r.status,
    });
  }
  return out;
}
