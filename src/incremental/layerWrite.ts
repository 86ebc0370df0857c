// Packs a layer's entries into a layer blob while the tar tap records the chunk maps of its
// large files (where each chunk sits in the uncompressed tar).
import { LAYER_MEDIA_TYPE } from '../store/layout.js';
import { packLayer } from '../snapshot/pack.js';
import type { WalkedEntry } from '../snapshot/walk.js';
import type { ObjectStore } from '../store/types.js';
import { writeBlob, type WrittenBlob } from './blobs.js';
import { CHUNK_FILE_MIN } from './chunker.js';
import type { FileMap } from './format.js';
import { createTarTap, inlineSink, workerSink } from './tarTap.js';

const WORKER_MIN_BYTES = 16 << 20;

export async function writeLayerBlob(
  store: ObjectStore,
  entries: WalkedEntry[],
  layer: number,
  onContent?: (bytes: number) => void,
  noteFor?: (b: WrittenBlob) => string,
): Promise<{ blob: WrittenBlob; maps: FileMap[] }> {
  const chosen = new Map<number, { path: string; size: number }>();
  entries.forEach((e, i) => { if (e.type === 'file' && e.size >= CHUNK_FILE_MIN) chosen.set(i, { path: e.path, size: e.size }); });
  // Chunking a few MiB is quicker than starting a thread for it.
  const chosenBytes = [...chosen.values()].reduce((a, c) => a + c.size, 0);
  const tap = createTarTap(chosen, layer, chosenBytes >= WORKER_MIN_BYTES ? workerSink() : inlineSink());
  try {
    let maps: FileMap[] = [];
    const blob = await writeBlob(store, LAYER_MEDIA_TYPE, async (write) => {
      await packLayer(entries, async (chunk) => { await tap.write(chunk); await write(chunk); }, onContent);
      maps = await tap.end();
    }, noteFor);
    return { blob, maps };
  } finally {
    await tap.close();
  }
}
