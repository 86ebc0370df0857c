// Finding and reading manifests: by key (the store's ref is the source of truth), by digest,
// or by a unique digest prefix. Every manifest read is checked against its digest.
import { createHash } from 'node:crypto';
import { digestHex, MANIFEST_MEDIA_TYPE, manifestKey } from '../store/layout.js';
import type { BlobRef, ChainManifest } from '../incremental/format.js';
import { snapshotsByPrefix } from '../state/snapshots.js';
import { readRef } from './publish.js';
import type { OpsContext } from './types.js';
import { corrupt, invalid, notFound } from '../errors.js';

export async function readManifest(ctx: OpsContext, digest: string): Promise<ChainManifest> {
  const hex = digestHex(digest);
  const got = await ctx.store.getSmall(manifestKey(hex));
  if (!got) throw notFound(`snapshot sha256:${hex} not found in ${ctx.store.description}`);
  if (createHash('sha256').update(got.body).digest('hex') !== hex) {
    throw corrupt(`manifest sha256:${hex} in ${ctx.store.description} is corrupt (digest mismatch)`);
  }
  const m = JSON.parse(got.body.toString('utf8')) as ChainManifest;
  const bad = (what: string) => new Error(`manifest sha256:${hex} is invalid: ${what}`);
  if (m.mediaType !== MANIFEST_MEDIA_TYPE || m.schemaVersion !== 1) throw bad(`unsupported format ${m.mediaType} v${m.schemaVersion}`);
  digestHex(m.blob?.digest ?? '');
  digestHex(m.diffId ?? '');
  for (const n of [m.blob.size, m.uncompressedSize, m.files]) {
    if (!Number.isSafeInteger(n) || n < 0) throw bad('sizes must be non-negative integers');
  }
  // Incremental fields (src/incremental/format.ts); absent from older full snapshots.
  if (m.kind !== 'full' && m.kind !== 'diff') throw bad(`unknown kind ${JSON.stringify(m.kind)}`);
  if (!Array.isArray(m.base)) throw bad('base is not a list');
  for (const b of m.base) digestHex(typeof b === 'string' ? b : '');
  if ((m.kind === 'full') !== (m.base.length === 0)) throw bad(`a ${m.kind} snapshot with ${m.base.length} base(s)`);
  if (m.kind === 'diff' && m.parent !== m.base[m.base.length - 1]) throw bad('its parent is not the last snapshot of its base chain');
  for (const [name, ref] of [['index', m.index], ['chunks', m.chunks]] as const) {
    if (ref !== undefined) checkBlobRef(ref, name, bad);
  }
  if (m.kind === 'diff' && !m.index) throw bad('a diff snapshot without a layer index');
  if (m.chain !== undefined) {
    const c = m.chain;
    for (const n of [c?.length, c?.fullSize, c?.deltaSize, c?.ownSize, c?.restoreSize, c?.treeSize]) {
      if (!Number.isSafeInteger(n) || (n as number) < 0) throw bad('chain sizes must be non-negative integers');
    }
    if (c.length !== m.base.length + 1) throw bad(`chain length ${c.length} disagrees with its ${m.base.length} base(s)`);
  }
  return m;
}

/** Resolves what the user named (digest, prefix, or nothing = the key's current) to a digest. */
export async function resolveSnapshot(ctx: OpsContext, key: string | undefined, snapshot: string | undefined): Promise<string> {
  if (snapshot) {
    const hex = snapshot.startsWith('sha256:') ? snapshot.slice(7) : snapshot;
    if (/^[0-9a-f]{64}$/.test(hex)) return `sha256:${hex}`;
    if (!/^[0-9a-f]{4,63}$/.test(hex)) throw invalid(`invalid snapshot ${JSON.stringify(snapshot)}: give a sha256 digest or at least 4 hex digits of one`);
    const found = new Set(snapshotsByPrefix(ctx.state, hex).map((r) => r.manifest_digest));
    for await (const o of ctx.store.list(`manifests/${hex}`)) {
      const name = o.key.slice('manifests/'.length);
      if (name.startsWith(hex) && name.endsWith('.json')) found.add(`sha256:${name.slice(0, -5)}`);
    }
    if (found.size === 0) throw notFound(`no snapshot matches ${snapshot}`);
    if (found.size > 1) throw invalid(`${snapshot} is ambiguous: ${[...found].join(', ')}`);
    return [...found][0]!;
  }
  if (!key) throw invalid('name a key (--key) or a snapshot (--snapshot)');
  const ref = await readRef(ctx, key);
  if (!ref) throw notFound(`key ${key} has no snapshot in ${ctx.store.description}`);
  return ref.ref.current;
}

function checkBlobRef(ref: BlobRef, name: string, bad: (what: string) => Error): void {
  if (!ref || typeof ref !== 'object') throw bad(`${name} is not an object`);
  digestHex(ref.digest ?? '');
  digestHex(ref.diffId ?? '');
  for (const n of [ref.size, ref.uncompressedSize]) {
    if (!Number.isSafeInteger(n) || n < 0) throw bad(`${name} sizes must be non-negative integers`);
  }
}
