// A snapshot's chain, loaded from the store and checked: its full layer, its diffs in order,
// and every layer's index. Everything here comes from verified manifests (each read checks its
// digest) and digest-checked index blobs, and is still validated as untrusted input: positions,
// chunk references and the chain's shape must all agree.
import type { ObjectStore } from '../store/types.js';
import { readWholeBlob } from './blobs.js';
import { checkManifestKey } from './encryption.js';
import { type ChainManifest, type ChunkRef, decodeLayerIndex, type LayerIndex, STREAM_CHUNKS } from './format.js';

/** Largest layer index accepted (uncompressed). */
const MAX_INDEX_BYTES = 512 << 20;

export interface ChainLayer {
  digest: string;
  manifest: ChainManifest;
  index: LayerIndex;
}

export type ManifestReader = (digest: string) => Promise<ChainManifest>;

/** The layers of `digest`'s chain, full layer first, the snapshot itself last. */
export async function loadChain(store: ObjectStore, digest: string, manifest: ChainManifest, read: ManifestReader): Promise<ChainLayer[]> {
  checkShape(digest, manifest);
  const digests = [...manifest.base, digest];
  const manifests: ChainManifest[] = [];
  for (const [i, d] of manifest.base.entries()) {
    const m = await read(d);
    checkShape(d, m);
    const expected = manifest.base.slice(0, i);
    if (m.base.length !== expected.length || m.base.some((b, j) => b !== expected[j])) {
      throw new Error(`snapshot ${digest}: its chain is inconsistent (base ${d} has a different chain before it)`);
    }
    if (m.key !== manifest.key) throw new Error(`snapshot ${digest}: base ${d} belongs to key ${m.key}, not ${manifest.key}`);
    manifests.push(m);
  }
  manifests.push(manifest);
  // every key the chain needs, before any blob is read (nothing is written on a missing one)
  for (const [i, m] of manifests.entries()) checkManifestKey(store, digests[i]!, m);
  const layers: ChainLayer[] = [];
  const maps: Map<string, ChunkRef[]>[] = [];
  const lookup = (layer: number, path: string) => maps[layer]?.get(path);
  for (const [i, m] of manifests.entries()) {
    const what = `of snapshot ${digests[i]}`;
    const index = m.index
      ? decodeLayerIndex(await readWholeBlob(store, m.index, MAX_INDEX_BYTES, `layer index ${what}`), i, what, lookup)
      : { layer: i, deleted: [], deleteOnly: [], files: [] };
    maps.push(new Map(index.files.map((f) => [f.path, f.chunks])));
    layers.push({ digest: digests[i]!, manifest: m, index });
  }
  checkChunkRefs(layers);
  return layers;
}

function checkShape(digest: string, m: ChainManifest): void {
  const bad = (msg: string): never => { throw new Error(`snapshot ${digest}: ${msg}`); };
  if (!Array.isArray(m.base)) bad('its base chain is not a list');
  if (m.kind === 'full') {
    if (m.base.length !== 0) bad('a full snapshot with a base chain');
  } else if (m.kind === 'diff') {
    if (m.base.length === 0) bad('a diff snapshot without a base');
    if (!m.index) bad('a diff snapshot without a layer index');
  } else {
    bad(`unknown kind ${JSON.stringify(m.kind)}`);
  }
  if (m.chain && m.chain.length !== m.base.length + 1) bad(`chain length ${m.chain.length} disagrees with its ${m.base.length} base(s)`);
}

/** Every chunk reference must point inside a stream that exists at or before its layer. */
function checkChunkRefs(layers: ChainLayer[]): void {
  for (const l of layers) {
    for (const f of l.index.files) {
      if (f.inTar && f.tarOffset !== undefined && f.tarOffset + f.size > l.manifest.uncompressedSize) {
        throw new Error(`layer index of snapshot ${l.digest}: ${f.path} is said to lie at bytes ${f.tarOffset}+${f.size} of a ` +
          `${l.manifest.uncompressedSize}-byte layer`);
      }
      for (const c of f.chunks) {
        const src = layers[c.layer];
        const size = !src ? undefined : c.stream === STREAM_CHUNKS ? src.manifest.chunks?.uncompressedSize : src.manifest.uncompressedSize;
        if (size === undefined || c.offset + c.length > size) {
          throw new Error(`layer index of snapshot ${l.digest}: ${f.path} names bytes ${c.offset}+${c.length} of a ` +
            `${c.stream === STREAM_CHUNKS ? 'chunk pack' : 'layer'} at chain position ${c.layer} that does not hold them`);
        }
      }
    }
  }
}
