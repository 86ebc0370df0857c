// check: is everything a ref reaches still in the store, whole? refs -> manifests (digest and
// form) -> their base chains -> blobs, layer indexes and chunk packs (present, recorded size).
// With readData every blob is also read back: decrypted and authenticated when encrypted,
// decompressed, and both digests verified (the blob's over what is stored, the diff id over
// the tar). Damage is collected, not thrown: one report names every object that is wrong.
import type { BlobRef } from '../incremental/format.js';
import { blobStream } from '../incremental/blobs.js';
import { checkManifestKey } from '../incremental/encryption.js';
import { blobKey, digestHex } from '../store/layout.js';
import { listKeys } from './list.js';
import { readManifest } from './manifests.js';
import { readRef } from './publish.js';
import type { OpsContext } from './types.js';

export interface CheckRequest {
  /** Only this key's ref and what it reaches. */
  key?: string;
  /** Read every blob back and verify its digests (and, when encrypted, authenticate it). */
  readData?: boolean;
}

export interface CheckProblem {
  /** The store object concerned, e.g. refs/k, manifests/<hex>.json, blobs/sha256/<hex>. */
  object: string;
  problem: string;
  /** A snapshot (manifest digest) that needs the object, when there is one. */
  snapshot?: string;
}

export interface CheckResult {
  ok: boolean;
  readData: boolean;
  keys: number;
  snapshots: number;
  blobs: number;
  /** Stored bytes read back (readData). */
  bytesRead: number;
  problems: CheckProblem[];
}

export async function check(ctx: OpsContext, req: CheckRequest = {}): Promise<CheckResult> {
  const problems: CheckProblem[] = [];
  const keys = req.key ? [req.key] : await listKeys(ctx);
  // Manifests to check, with a snapshot that reaches them (for the report).
  const pending: { digest: string; from: string }[] = [];
  for (const k of keys) {
    let ref;
    try {
      ref = await readRef(ctx, k);
    } catch (err) {
      problems.push({ object: `refs/${k}`, problem: (err as Error).message });
      continue;
    }
    if (!ref) {
      problems.push({ object: `refs/${k}`, problem: 'ref is missing' });
      continue;
    }
    const names = new Set([ref.ref.current, ...(Array.isArray(ref.ref.history) ? ref.ref.history.map((h) => h?.manifest) : [])]);
    for (const d of names) pending.push({ digest: d, from: `refs/${k}` });
  }

  const seenManifests = new Set<string>();
  const blobs = new Map<string, { ref: BlobRef; snapshot: string }>();
  while (pending.length) {
    const { digest, from } = pending.shift()!;
    let hex: string;
    try { hex = digestHex(typeof digest === 'string' ? digest : ''); } catch {
      problems.push({ object: from, problem: `names an invalid snapshot digest ${JSON.stringify(digest)}` });
      continue;
    }
    if (seenManifests.has(hex)) continue;
    seenManifests.add(hex);
    const object = `manifests/${hex}.json`;
    let m;
    try {
      m = await readManifest(ctx, `sha256:${hex}`);
    } catch (err) {
      const msg = (err as Error).message;
      problems.push({ object, problem: / not found in /.test(msg) ? `manifest is missing (needed by ${from})` : msg });
      continue;
    }
    const snapshot = `sha256:${hex}`;
    if (req.readData) {
      try { checkManifestKey(ctx.store, snapshot, m); } catch (err) { problems.push({ object, snapshot, problem: (err as Error).message }); }
    }
    for (const b of m.base) pending.push({ digest: b, from: object });
    const layer: BlobRef = { ...m.blob, diffId: m.diffId, uncompressedSize: m.uncompressedSize };
    for (const ref of [layer, m.index, m.chunks]) {
      if (ref && !blobs.has(digestHex(ref.digest))) blobs.set(digestHex(ref.digest), { ref, snapshot });
    }
  }

  let bytesRead = 0;
  let done = 0;
  for (const [hex, { ref, snapshot }] of blobs) {
    const object = blobKey(hex);
    const what = ref.mediaType?.includes('chunk-pack') ? 'chunk pack' : ref.mediaType?.includes('layer-index') ? 'layer index' : 'layer blob';
    ctx.progress?.update('check', ++done, blobs.size);
    let head;
    try {
      head = await ctx.store.head(object);
    } catch (err) {
      problems.push({ object, snapshot, problem: `${what} cannot be read: ${(err as Error).message}` });
      continue;
    }
    if (!head) {
      problems.push({ object, snapshot, problem: `${what} is missing` });
      continue;
    }
    if (head.size !== ref.size) {
      problems.push({ object, snapshot, problem: `${what} is ${head.size} bytes, the manifest records ${ref.size}` });
      continue;
    }
    if (!req.readData) continue;
    try {
      for await (const _ of blobStream(ctx.store, ref, (n) => { bytesRead += n; })) { /* verifies as it reads */ }
    } catch (err) {
      problems.push({ object, snapshot, problem: `${what}: ${(err as Error).message.replace(`${object}: `, '')}` });
    }
  }
  if (problems.length) ctx.log.warn('check found damage', { problems: problems.length });
  return {
    ok: problems.length === 0, readData: !!req.readData, keys: keys.length, snapshots: seenManifests.size, blobs: blobs.size,
    bytesRead, problems,
  };
}
