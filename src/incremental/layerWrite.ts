// Packs a layer's entries into a layer blob and records where each large file's bytes sit in
// the uncompressed tar. Those files are not chunked here: a later diff chunks a file's stored
// bytes only if the file changes (planDiff in ops/snapshot.ts), so a full snapshot pays
// nothing for incremental storage beyond this list.
import { LAYER_MEDIA_TYPE } from '../store/layout.js';
import { packLayer } from '../snapshot/pack.js';
import type { WalkedEntry } from '../snapshot/walk.js';
import type { ObjectStore } from '../store/types.js';
import { writeBlob, type WrittenBlob } from './blobs.js';
import { CHUNK_FILE_MIN } from './chunker.js';
import type { FileMap } from './format.js';

export async function writeLayerBlob(
  store: ObjectStore,
  entries: WalkedEntry[],
  layer: number,
  onContent?: (bytes: number) => void,
  noteFor?: (b: WrittenBlob) => string,
): Promise<{ blob: WrittenBlob; maps: FileMap[] }> {
  const maps: FileMap[] = [];
  const onFile = (i: number, tarOffset: number): void => {
    const e = entries[i]!;
    if (e.size >= CHUNK_FILE_MIN) maps.push({ path: e.path, size: e.size, layer, inTar: true, tarOffset, chunks: [] });
  };
  const blob = await writeBlob(store, LAYER_MEDIA_TYPE, (out) => packLayer(entries, out, { onContent, onFile }).then(() => {}), noteFor);
  return { blob, maps };
}
