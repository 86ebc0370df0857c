// A strict, streaming tar reader for restoring layers.
//
// Why not tar-stream's extract (we still use tar-stream for packing): it decodes PAX values as
// UTF-8, which corrupts binary xattr values such as security.capability, and it buffers a PAX
// header of any declared size in memory, so a hostile archive can make it allocate gigabytes.
// This reader keeps PAX values as raw bytes (records are length-prefixed, so a value may hold
// any byte, '\n' and '=' included), refuses oversized headers before reading them, verifies
// every header checksum, and treats anything it does not understand as an error naming the
// entry. It never normalises names: "..", absolute paths and the like reach the unpacker,
// which refuses them.
//
// Formats: what GNU tar and Go's archive/tar read, but sparse files and multi-volume parts:
// v7, ustar (any version field), star and GNU headers, PAX 'x'/'g' extended headers, GNU
// 'L'/'K' long names, base-256 numeric fields, names in any bytes (not only UTF-8), and
// archives that end without the two zero blocks.
// https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_06
// https://www.gnu.org/software/tar/manual/html_node/Standard.html
import { type EntryType, type LayerEntry, MAX_LAYER_PATH_BYTES } from './entry.js';
import { nameFromBytes } from './fsName.js';
import { BLOCK, type PaxOverrides, TarFormatError, interpretPax, isZero, parseHeader, parsePaxRecords, where } from './tarHeader.js';

export { TarFormatError };

export interface TarLimits {
  /** Largest PAX or GNU long-name header body buffered in memory (default 1 MiB). */
  maxHeaderBytes?: number;
  /** Longest path or link name in bytes (default MAX_LAYER_PATH_BYTES, 64 KiB). */
  maxPathBytes?: number;
  /** Largest regular-file size accepted (default Number.MAX_SAFE_INTEGER). */
  maxEntrySize?: number;
}

export interface TarReaderOptions extends TarLimits {
  /** Told about things skipped on purpose (ignored PAX keys, global headers). */
  onWarning?: (msg: string) => void;
}

export interface TarItem {
  entry: LayerEntry;
  /** The entry's content (regular files only; empty otherwise). Drain it or leave it: the
   *  reader skips whatever is left when the next item is requested. */
  body: AsyncIterable<Buffer>;
}

const DEFAULT_MAX_HEADER = 1024 * 1024;
const DEFAULT_MAX_PATH = MAX_LAYER_PATH_BYTES;

/** Pulls exact byte counts out of an async stream of chunks, tracking the offset. */
class ByteSource {
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private done = false;
  offset = 0;
  private readonly it: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Makes sure some unread bytes are buffered; false at end of stream. */
  private async fill(): Promise<boolean> {
    while (this.pos >= this.chunk.length) {
      if (this.done) return false;
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        return false;
      }
      this.chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
      this.pos = 0;
    }
    return true;
  }

  /** Reads exactly n bytes; returns fewer only at end of stream. */
  async read(n: number): Promise<Buffer> {
    if (!(await this.fill())) return Buffer.alloc(0);
    if (this.chunk.length - this.pos >= n) {
      const out = this.chunk.subarray(this.pos, this.pos + n);
      this.pos += n;
      this.offset += n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n && (await this.fill())) {
      const take = Math.min(n - got, this.chunk.length - this.pos);
      this.chunk.copy(out, got, this.pos, this.pos + take);
      this.pos += take;
      got += take;
      this.offset += take;
    }
    return got === n ? out : out.subarray(0, got);
  }

  /** Yields the next n bytes as slices of the underlying chunks (no copy). */
  async *slices(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) return;
      const take = Math.min(left, this.chunk.length - this.pos);
      const out = this.chunk.subarray(this.pos, this.pos + take);
      this.pos += take;
      this.offset += take;
      left -= take;
      yield out;
    }
  }

  /** Releases the source if it was not read to its end. */
  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.it.return?.();
    } catch {
      // The source failing to close must not hide the error that stopped the read.
    }
  }

  /** Skips n bytes; returns how many were actually skipped. */
  async skip(n: number): Promise<number> {
    let skipped = 0;
    while (skipped < n && (await this.fill())) {
      const take = Math.min(n - skipped, this.chunk.length - this.pos);
      this.pos += take;
      this.offset += take;
      skipped += take;
    }
    return skipped;
  }
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

// ---- entries -------------------------------------------------------------------------

const ENTRY_TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** Strips one leading "./" and one trailing "/" (directories); the archive root becomes ".". */
function layerName(raw: string): string {
  let n = raw.startsWith('./') ? raw.slice(2) : raw;
  if (n.length > 1 && n.endsWith('/')) n = n.slice(0, -1);
  return n === '' ? '.' : n;
}

/** Names are bytes: any byte but NUL is kept (as fsName.ts maps it), UTF-8 or not. */
function checkName(bytes: Buffer, what: string, maxPathBytes: number): string {
  if (bytes.includes(0)) throw new Error(`${what} contains a NUL byte`);
  if (bytes.length > maxPathBytes) throw new Error(`${what} is ${bytes.length} bytes, over the ${maxPathBytes}-byte limit`);
  return nameFromBytes(bytes);
}

/**
 * Reads a tar stream entry by entry. Each item's body must be consumed (or abandoned)
 * before the next item is requested; the reader skips what is left.
 */
export async function* readTar(source: AsyncIterable<Buffer>, options: TarReaderOptions = {}): AsyncGenerator<TarItem> {
  const src = new ByteSource(source);
  try {
    yield* readEntries(src, options);
  } finally {
    await src.close(); // also when the consumer stops early or fails
  }
}

async function* readEntries(src: ByteSource, options: TarReaderOptions): AsyncGenerator<TarItem> {
  const maxHeader = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  const maxPath = options.maxPathBytes ?? DEFAULT_MAX_PATH;
  const maxSize = options.maxEntrySize ?? Number.MAX_SAFE_INTEGER;
  // Each distinct warning once: an archive can repeat the same ignored key on every entry.
  const warned = new Set<string>();
  const warn = (msg: string): void => {
    if (warned.has(msg)) return;
    warned.add(msg);
    options.onWarning?.(msg);
  };

  let pax: PaxOverrides | undefined;
  let longName: Buffer | undefined;
  let longLink: Buffer | undefined;
  let metaOffset = -1;

  for (;;) {
    const offset = src.offset;
    const block = await src.read(BLOCK);
    // The end: two zero blocks, or (as GNU tar and Go's archive/tar accept) the end of the
    // stream at an entry boundary, or one zero block and the end of the stream.
    if (block.length === 0 && metaOffset === -1) {
      options.onWarning?.(`tar archive ends at byte ${offset} without an end-of-archive marker`);
      return;
    }
    if (block.length < BLOCK) {
      throw new TarFormatError(`${where(metaOffset === -1 ? offset : metaOffset)}: archive truncated in a header`);
    }
    if (isZero(block)) {
      const second = await src.read(BLOCK);
      if (second.length > 0 && (second.length < BLOCK || !isZero(second))) {
        throw new TarFormatError(
          second.length < BLOCK
            ? `tar archive truncated at byte ${src.offset}: a partial block after a zero block`
            : `${where(offset)}: zero block followed by data`,
        );
      }
      if (metaOffset !== -1) throw new TarFormatError(`${where(metaOffset)}: extended header with no entry after it`);
      if (second.length === 0) options.onWarning?.(`tar archive ends with a single zero block at byte ${offset}`);
      else await drainTrailer(src);
      return;
    }

    const h = parseHeader(block, offset, pax?.path ?? longName);
    const t = h.typeflag;
    if (t === 'x' || t === 'g' || t === 'L' || t === 'K') {
      if (metaOffset === -1) metaOffset = offset;
      if (h.size > maxHeader) {
        throw new TarFormatError(`${where(offset)}: '${t}' header declares ${h.size} bytes, over the ${maxHeader}-byte limit`);
      }
      const data = await src.read(h.size);
      if (data.length < h.size || (await src.skip(padding(h.size))) < padding(h.size)) {
        throw new TarFormatError(`${where(offset)}: archive truncated in a '${t}' header`);
      }
      try {
        if (t === 'x') {
          if (pax) throw new Error('two PAX headers for one entry');
          pax = interpretPax(parsePaxRecords(data), warn);
        } else if (t === 'g') {
          const records = parsePaxRecords(data);
          interpretPax(records, () => {});
          const keys = [...records.keys()].filter((k) => k !== 'comment');
          if (keys.length > 0) warn(`${where(offset)}: global PAX header ignored (keys: ${keys.join(', ')})`);
        } else {
          const nul = data.indexOf(0);
          const value = nul === -1 ? data : data.subarray(0, nul);
          if (nul !== -1 && !isZero(data.subarray(nul))) throw new Error(`GNU '${t}' name contains a NUL byte`);
          if (t === 'L') {
            if (longName) throw new Error("two GNU 'L' headers for one entry");
            longName = Buffer.from(value);
          } else {
            if (longLink) throw new Error("two GNU 'K' headers for one entry");
            longLink = Buffer.from(value);
          }
        }
      } catch (e) {
        throw new TarFormatError(`${where(offset)}: ${(e as Error).message}`);
      }
      if (t === 'g' && !pax && !longName && !longLink) metaOffset = -1;
      continue;
    }

    // A real entry: combine it with the extended headers before it.
    const nameBytes = pax?.path ?? longName ?? h.name;
    const linkBytes = pax?.linkpath ?? longLink ?? h.linkname;
    // Errors name the entry as written until its layer path is known.
    let shown = nameBytes.toString('utf8');
    const fail = (reason: string): never => {
      throw new TarFormatError(`${where(offset, shown)}: ${reason}`);
    };
    let path = '';
    let linkname = '';
    try {
      path = layerName(checkName(nameBytes, 'name', maxPath));
      shown = path;
      linkname = checkName(linkBytes, 'link name', maxPath);
    } catch (e) {
      fail((e as Error).message);
    }
    if (t === 'V') {
      // A GNU volume label names the archive, not a file: skipped, as GNU tar does.
      warn(`${where(offset)}: GNU volume label skipped`);
      pax = undefined; longName = undefined; longLink = undefined; metaOffset = -1;
      const rest = h.size + padding(h.size);
      if ((await src.skip(rest)) < rest) fail('archive truncated in the content');
      continue;
    }
    // A regular-file header whose name ends in '/' is a directory (v7 and old BSD archives;
    // GNU tar and Go read it so); a GNU 'D' (incremental dump directory) is a directory whose
    // data lists its contents, which is skipped.
    const slashDir = (t === '0' || t === '\0') && nameBytes.length > 1 && nameBytes[nameBytes.length - 1] === 0x2f;
    const type = slashDir || t === 'D' ? 'dir' : ENTRY_TYPES[t];
    if (type === undefined) {
      const what = t === 'S' ? 'GNU sparse file' : t === 'M' ? 'GNU multi-volume continuation' : t === 'V' ? 'GNU volume label' : 'unknown';
      fail(`${what} typeflag ${JSON.stringify(t)} is not supported`);
    }
    const size = pax?.size ?? h.size;
    if (type === 'file') {
      if (size > maxSize) fail(`size ${size} is over the ${maxSize}-byte limit`);
    } else if (size !== 0 && t !== 'D') {
      fail(`a ${type} entry must not carry data (size ${size})`);
    }
    if ((type === 'hardlink' || type === 'symlink') && linkname === '') fail(`${type} without a target`);

    const entry: LayerEntry = {
      path,
      type,
      mode: h.mode,
      uid: pax?.uid ?? h.uid,
      gid: pax?.gid ?? h.gid,
      size: type === 'file' ? size : 0,
      mtimeNs: pax?.mtimeNs ?? h.mtime * 1_000_000_000n,
      xattrs: pax?.xattrs ?? new Map(),
    };
    if (type === 'hardlink') entry.linkname = layerName(linkname);
    if (type === 'symlink') entry.linkname = linkname;
    if (type === 'char' || type === 'block') {
      entry.devmajor = h.devmajor;
      entry.devminor = h.devminor;
    }
    pax = undefined;
    longName = undefined;
    longLink = undefined;
    metaOffset = -1;

    // The body reads straight from the source; whatever the consumer leaves is skipped below
    // (a 'D' entry's listing included).
    let left = type === 'file' ? entry.size : size;
    let current = true;
    const body = async function* (): AsyncGenerator<Buffer> {
      if (!current) throw new TarFormatError(`${where(offset, path)}: body read after the next entry was requested`);
      if (type !== 'file') return;
      for await (const slice of src.slices(left)) {
        left -= slice.length;
        yield slice;
      }
      if (left > 0) fail(`archive truncated in the content (${left} of ${entry.size} bytes missing)`);
    };
    yield { entry, body: { [Symbol.asyncIterator]: body } };
    current = false;
    const rest = left + padding(type === 'file' ? entry.size : size);
    if ((await src.skip(rest)) < rest) fail(`archive truncated in the content`);
  }
}

/** Reads what follows the end-of-archive marker (record padding) so the whole stream is
 *  consumed (callers hash it); anything but zeros there is refused. */
async function drainTrailer(src: ByteSource): Promise<void> {
  for (;;) {
    const offset = src.offset;
    const chunk = await src.read(64 * 1024);
    if (chunk.length === 0) return;
    if (!isZero(chunk)) throw new TarFormatError(`tar archive has data after the end-of-archive marker (near byte ${offset})`);
  }
}
