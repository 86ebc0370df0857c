// Packs a layer's entries into a layer blob while the tar tap records the chunk maps of its
// large files (where each chunk sits in the uncompressed tar).
import { LAYER_MEDIA_TYPE } from '../store/layout.js';
import { packLayer } from '../snapshot/pack.js';
import type { WalkedEntry } from '../snapshot/walk.js';
import type { ObjectStore } from '../store/types.js';
import { writeBlob, type WrittenBlob } from './blobs.js';
import { CHUNK_FILE_MIN } from './chunker.js';
import type { FileMap } from './format.js';
import { createTarTap } from './tarTap.js';

export async function writeLayerBlob(
  store: ObjectStore,
  entries: WalkedEntry[],
  layer: number,
  onContent?: (bytes: number) => void,
  noteFor?: (b: WrittenBlob) => string,
): Promise<{ blob: WrittenBlob; maps: FileMap[] }> {
  const chosen = new Map<number, { path: string; size: number }>();
  entries.forEach((e, i) => { if (e.type === 'file' && e.size >= CHUNK_FILE_MIN) chosen.set(i, { path: e.path, size: e.size }); });
  const tap = createTarTap(chosen, layer);
  const blob = await writeBlob(store, LAYER_MEDIA_TYPE, async (write) => {
    await packLayer(entries, async (chunk) => { tap.write(chunk); await write(chunk); }, onContent);
  }, noteFor);
  return { blob, maps: tap.end() };
}
