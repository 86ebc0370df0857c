// Watches the tar bytes a layer is packed into and chunks the content of chosen entries on the
// way, so the chunk map of a large file describes exactly the bytes stored (never a second
// read that could differ) and knows where they sit in the uncompressed tar.
//
// The tar is our own packer's output, walked header by header: ustar headers, PAX/GNU meta
// headers ('x', 'g', 'L', 'K') skipped with their data, content padded to 512-byte blocks.
import { createChunker, type Chunker } from './chunker.js';
import { type FileMap, STREAM_TAR } from './format.js';

const BLOCK = 512;
const META_TYPES = new Set(['x', 'g', 'L', 'K']);

export interface TarTap {
  write(chunk: Buffer): void;
  /** Chunk maps of the chosen entries, in tar order; throws if one was not seen whole. */
  end(): FileMap[];
}

/**
 * `chosen` maps an entry's position in the packed list (0-based, meta headers not counted)
 * to its path and size; `layer` is the chain position the tar will have.
 */
export function createTarTap(chosen: Map<number, { path: string; size: number }>, layer: number): TarTap {
  const header = Buffer.alloc(BLOCK);
  let headerFill = 0;
  let offset = 0; // tar offset of the next byte
  let skip = 0; // bytes to pass over (meta data, content we do not chunk, padding)
  let entry = -1;
  let content: { map: FileMap; left: number; chunker: Chunker; pad: number } | null = null;
  let ended = false;
  const maps: FileMap[] = [];

  const onHeader = (): void => {
    if (header.every((b) => b === 0)) { ended = true; return; }
    const type = String.fromCharCode(header[156]!);
    const size = parseSize(header);
    const padded = size + ((BLOCK - (size % BLOCK)) % BLOCK);
    if (META_TYPES.has(type)) { skip = padded; return; }
    entry++;
    const want = chosen.get(entry);
    if (!want || size === 0) { skip = padded; return; }
    if ((type !== '0' && type !== '\0') || size !== want.size) {
      throw new Error(`tar tap: entry ${entry} (${want.path}) is a ${JSON.stringify(type)} entry of ${size} bytes, expected a ${want.size}-byte file`);
    }
    const map: FileMap = { path: want.path, size, layer, inTar: true, chunks: [] };
    let at = offset; // content starts right after this header
    const chunker = createChunker((c) => {
      map.chunks.push({ hash: c.hash, length: c.length, layer, stream: STREAM_TAR, offset: at });
      at += c.length;
    });
    content = { map, left: size, chunker, pad: padded - size };
  };

  return {
    write(buf: Buffer): void {
      let i = 0;
      while (i < buf.length && !ended) {
        if (content) {
          const take = Math.min(content.left, buf.length - i);
          content.chunker.push(buf.subarray(i, i + take));
          content.left -= take;
          i += take;
          offset += take;
          if (content.left === 0) {
            content.chunker.end();
            maps.push(content.map);
            skip = content.pad;
            content = null;
          }
        } else if (skip > 0) {
          const take = Math.min(skip, buf.length - i);
          skip -= take;
          i += take;
          offset += take;
        } else {
          const take = Math.min(BLOCK - headerFill, buf.length - i);
          buf.copy(header, headerFill, i, i + take);
          headerFill += take;
          i += take;
          offset += take;
          if (headerFill === BLOCK) {
            headerFill = 0;
            onHeader();
          }
        }
      }
    },
    end(): FileMap[] {
      if (content || maps.length !== [...chosen.values()].filter((c) => c.size > 0).length) {
        throw new Error(`tar tap: saw ${maps.length} of ${chosen.size} chosen files whole (packer output not understood)`);
      }
      return maps;
    },
  };
}

/** Octal ASCII, or base-256 for big sizes (tar-stream writes those with a 0x80 lead byte). */
function parseSize(h: Buffer): number {
  if (h[124]! & 0x80) {
    let v = 0;
    for (let i = 125; i < 136; i++) v = v * 256 + h[i]!;
    return v;
  }
  const text = h.toString('latin1', 124, 136).replace(/[\0 ]+$/, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}
