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
import { isUtf8 } from 'node:buffer';
import { type EntryType, type LayerEntry, MAX_LAYER_PATH_BYTES } from './entry.js';
import { nameFromBytes } from './fsName.js';
import { corrupt, type ErrorDetails, LayerkeepError } from '../errors.js';

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

export class TarFormatError extends LayerkeepError {
  override name = 'TarFormatError';
  constructor(message: string, details?: ErrorDetails) { super('corrupt', message, details); }
}

const BLOCK = 512;
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

function isZero(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Names the entry in an error: its path when known, else the header's byte offset. */
function where(offset: number, path?: string): string {
  return path === undefined
    ? `tar header at byte ${offset}`
    : `tar entry ${JSON.stringify(path)} (header at byte ${offset})`;
}

// ---- header fields -------------------------------------------------------------------

/** A NUL-terminated (or full-width) byte field. */
function fieldBytes(block: Buffer, start: number, len: number): Buffer {
  const f = block.subarray(start, start + len);
  const nul = f.indexOf(0);
  return nul === -1 ? f : f.subarray(0, nul);
}

function decodeUtf8(bytes: Buffer, what: string): string {
  if (!isUtf8(bytes)) throw new Error(`${what} is not valid UTF-8`);
  return bytes.toString('utf8');
}

/** Octal ASCII (leading spaces, trailing space/NUL) or GNU base-256 (high bit set). */
function parseNumeric(block: Buffer, start: number, len: number, what: string): bigint {
  const f = block.subarray(start, start + len);
  if (f[0] === 0x80 || f[0] === 0xff) {
    // Base-256: big-endian two's complement over the whole field, marker bit included.
    let v = 0n;
    for (const b of f) v = (v << 8n) | BigInt(b);
    if (f[0] === 0xff) v -= 1n << BigInt(8 * len);
    else v -= 0x80n << BigInt(8 * (len - 1));
    return v;
  }
  // Octal fields hold at most 12 digits (36 bits): plain number arithmetic is exact.
  let i = 0;
  while (i < len && f[i] === 0x20) i++;
  let v = 0;
  for (; i < len; i++) {
    const c = f[i];
    if (c >= 0x30 && c <= 0x37) v = v * 8 + (c - 0x30);
    else break;
  }
  for (; i < len; i++) {
    if (f[i] !== 0 && f[i] !== 0x20) throw new Error(`${what} field is not an octal number`);
  }
  return BigInt(v);
}

function toSafeInt(v: bigint, what: string, max = BigInt(Number.MAX_SAFE_INTEGER)): number {
  if (v < 0n || v > max) throw new Error(`${what} ${v} is out of range`);
  return Number(v);
}

/** Unsigned and signed (historic) sums with the checksum field counted as spaces. */
function checksumMatches(block: Buffer): boolean {
  const stored = parseNumeric(block, 148, 8, 'checksum');
  let unsigned = 8 * 0x20;
  for (let i = 0; i < 148; i++) unsigned += block[i];
  for (let i = 156; i < BLOCK; i++) unsigned += block[i];
  if (stored === BigInt(unsigned)) return true;
  let high = 0; // bytes >= 0x80 count 256 less in the signed sum
  for (let i = 0; i < BLOCK; i++) if ((i < 148 || i >= 156) && block[i] > 127) high++;
  return stored === BigInt(unsigned - 256 * high);
}

const USTAR_MAGIC = Buffer.from('ustar\x00', 'latin1');
const GNU_MAGIC = Buffer.from('ustar  \x00', 'latin1');
const STAR_TRAILER = Buffer.from('tar\x00', 'latin1');

interface RawHeader {
  offset: number;
  typeflag: string;
  /** Name bytes from the header (prefix/name joined for ustar). */
  name: Buffer;
  linkname: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: bigint;
  devmajor: number;
  devminor: number;
}

/** `pendingName` is a long name from a preceding PAX/GNU header, used in error messages. */
function parseHeader(block: Buffer, offset: number, pendingName?: Buffer): RawHeader {
  if (!checksumMatches(block)) throw new TarFormatError(`${where(offset)}: header checksum mismatch`);
  // Format detection as Go's archive/tar does it: "ustar\0" with any version is ustar (a
  // star header if it ends in "tar\0"), "ustar  \0" is GNU, and anything else with a valid
  // checksum is a v7 header (name and numbers only; the rest of the block is not looked at).
  const gnu = block.subarray(257, 265).equals(GNU_MAGIC);
  const ustar = !gnu && block.subarray(257, 263).equals(USTAR_MAGIC);
  let name = fieldBytes(block, 0, 100);
  if (ustar) {
    // In GNU headers this area holds atime/ctime instead of a name prefix; star's prefix is shorter.
    const prefix = fieldBytes(block, 345, block.subarray(508, 512).equals(STAR_TRAILER) ? 131 : 155);
    if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from('/'), name]);
  }
  const typeflag = String.fromCharCode(block[156]);
  try {
    return {
      offset,
      typeflag,
      name,
      linkname: fieldBytes(block, 157, 100),
      mode: Number(parseNumeric(block, 100, 8, 'mode') & 0o7777n),
      uid: toSafeInt(parseNumeric(block, 108, 8, 'uid'), 'uid', 0xffffffffn),
      gid: toSafeInt(parseNumeric(block, 116, 8, 'gid'), 'gid', 0xffffffffn),
      size: toSafeInt(parseNumeric(block, 124, 12, 'size'), 'size'),
      mtime: parseNumeric(block, 136, 12, 'mtime'),
      devmajor: gnu || ustar ? toSafeInt(parseNumeric(block, 329, 8, 'devmajor'), 'devmajor', 0xffffffffn) : 0,
      devminor: gnu || ustar ? toSafeInt(parseNumeric(block, 337, 8, 'devminor'), 'devminor', 0xffffffffn) : 0,
    };
  } catch (e) {
    throw new TarFormatError(`${where(offset, nameFromBytes(pendingName ?? name))}: ${(e as Error).message}`);
  }
}

// ---- PAX records ---------------------------------------------------------------------

/** Parses "<len> <key>=<value>\n" records by their length prefix; values stay raw bytes. */
function parsePaxRecords(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    // Some writers pad the data with NULs after the last record.
    if (data[pos] === 0 && isZero(data.subarray(pos))) break;
    const space = data.indexOf(0x20, pos);
    if (space === -1 || space - pos > 20 || space === pos) throw new Error(`PAX record at ${pos}: no length prefix`);
    const lenText = data.toString('latin1', pos, space);
    if (!/^[0-9]+$/.test(lenText)) throw new Error(`PAX record at ${pos}: bad length ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    const end = pos + len;
    if (len < lenText.length + 3 || end > data.length) throw new Error(`PAX record at ${pos}: length ${len} does not fit`);
    if (data[end - 1] !== 0x0a) throw new Error(`PAX record at ${pos}: does not end with a newline`);
    const eq = data.indexOf(0x3d, space + 1);
    if (eq === -1 || eq >= end - 1 || eq === space + 1) throw new Error(`PAX record at ${pos}: no key=value`);
    const key = decodeUtf8(data.subarray(space + 1, eq), `PAX key at ${pos}`);
    out.set(key, data.subarray(eq + 1, end - 1));
    pos = end;
  }
  return out;
}

function paxText(value: Buffer, key: string): string {
  return decodeUtf8(value, `PAX ${key}`);
}

function paxInteger(value: Buffer, key: string, max: bigint): number {
  const t = paxText(value, key);
  if (!/^[0-9]{1,20}$/.test(t)) throw corrupt(`PAX ${key} ${JSON.stringify(t)} is not a decimal number`);
  return toSafeInt(BigInt(t), `PAX ${key}`, max);
}

/** "<seconds>[.<fraction>]" with an optional '-', to exact nanoseconds (extra digits truncate). */
export function parsePaxTime(text: string): bigint {
  const m = /^(-?)([0-9]{1,20})(?:\.([0-9]{0,30}))?$/.exec(text);
  if (!m) throw corrupt(`PAX time ${JSON.stringify(text)} is not a decimal number`);
  const frac = (m[3] ?? '').slice(0, 9).padEnd(9, '0');
  const ns = BigInt(m[2]) * 1_000_000_000n + BigInt(frac);
  return m[1] === '-' ? -ns : ns;
}

const XATTR_PREFIX = 'SCHILY.xattr.';
/** Keys that carry nothing a layer entry can hold; skipping them loses nothing we restore. */
const IGNORED_KEYS = new Set(['atime', 'ctime', 'uname', 'gname', 'comment', 'charset']);

interface PaxOverrides {
  path?: Buffer;
  linkpath?: Buffer;
  size?: number;
  uid?: number;
  gid?: number;
  mtimeNs?: bigint;
  xattrs: Map<string, Buffer>;
}

function interpretPax(records: Map<string, Buffer>, warn: (msg: string) => void): PaxOverrides {
  const o: PaxOverrides = { xattrs: new Map() };
  for (const [key, value] of records) {
    if (key.startsWith(XATTR_PREFIX)) {
      const name = key.slice(XATTR_PREFIX.length);
      if (name.length === 0) throw new Error('PAX xattr record without a name');
      o.xattrs.set(name, Buffer.from(value));
      continue;
    }
    // An empty value means "no override" (POSIX: it deletes the keyword).
    if (value.length === 0) continue;
    switch (key) {
      case 'path':
        o.path = Buffer.from(value);
        break;
      case 'linkpath':
        o.linkpath = Buffer.from(value);
        break;
      case 'size':
        o.size = paxInteger(value, key, BigInt(Number.MAX_SAFE_INTEGER));
        break;
      case 'uid':
        o.uid = paxInteger(value, key, 0xffffffffn);
        break;
      case 'gid':
        o.gid = paxInteger(value, key, 0xffffffffn);
        break;
      case 'mtime':
        o.mtimeNs = parsePaxTime(paxText(value, key));
        break;
      case 'hdrcharset':
        // Names are kept as bytes whichever it says (fsName.ts); BINARY marks names that are not UTF-8.
        if (!['ISO-IEC 10646 2000 UTF-8', 'BINARY'].includes(paxText(value, key))) {
          throw new Error(`PAX hdrcharset ${JSON.stringify(value.toString('latin1'))} is not supported`);
        }
        break;
      default:
        if (key.startsWith('GNU.sparse.')) throw new Error('GNU sparse files are not supported');
        if (!IGNORED_KEYS.has(key)) warn(`PAX key ${JSON.stringify(key)} ignored (reported once per archive)`);
    }
  }
  return o;
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
