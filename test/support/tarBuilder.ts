// Crafts tar byte streams block by block, including malformed and hostile ones, so reader and
// unpacker tests do not depend on the packer. Layout per POSIX ustar / pax and GNU tar:
// https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_06

export const BLOCK = 512;

export interface HeaderSpec {
  /** Name bytes as written into the header (no prefix splitting unless `prefix` is given). */
  name: string | Buffer;
  prefix?: string;
  /** One character; defaults to '0'. */
  typeflag?: string;
  mode?: number;
  uid?: number | bigint;
  gid?: number | bigint;
  /** The declared size; the builder writes whatever data it is given regardless. */
  size?: number | bigint;
  /** Seconds. */
  mtime?: number | bigint;
  linkname?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  /** 'ustar' (POSIX, default), 'gnu' ("ustar  \0"), 'v7' (no magic: the block past the
   *  link name stays zero) or 'star' (ustar with a 131-byte prefix and "tar\0" at 508). */
  format?: 'ustar' | 'gnu' | 'v7' | 'star';
  /** The 2-byte version after a ustar magic (default "00"). */
  version?: string;
  /** Numbers as old writers put them: leading spaces, then " \0" (v7 tar), instead of zeros and NUL. */
  spacedNumbers?: boolean;
  /** Force base-256 encoding of these numeric fields. */
  base256?: Array<'uid' | 'gid' | 'size' | 'mtime'>;
  /** 'unsigned' (default), 'signed' (historic), or a wrong value. */
  checksum?: 'unsigned' | 'signed' | 'bad';
}

function writeString(block: Buffer, start: number, len: number, value: string | Buffer): void {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (bytes.length > len) throw new Error(`tarBuilder: ${bytes.length} bytes do not fit a ${len}-byte field`);
  bytes.copy(block, start);
}

function writeNumber(block: Buffer, start: number, len: number, value: number | bigint, base256: boolean, spaced = false): void {
  const v = BigInt(value);
  const octal = v >= 0n ? v.toString(8) : '';
  if (spaced && octal.length <= len - 2) {
    block.write(octal.padStart(len - 2, ' ') + ' \0', start, 'latin1');
    return;
  }
  if (!base256 && octal !== '' && octal.length <= len - 1) {
    block.write(octal.padStart(len - 1, '0') + '\0', start, 'latin1');
    return;
  }
  // GNU base-256: big-endian two's complement, high bit of the first byte set.
  let x = v < 0n ? (1n << BigInt(8 * len)) + v : v;
  for (let i = len - 1; i >= 0; i--) {
    block[start + i] = Number(x & 0xffn);
    x >>= 8n;
  }
  block[start] |= 0x80;
}

/** One 512-byte header block. */
export function header(spec: HeaderSpec): Buffer {
  const b = Buffer.alloc(BLOCK);
  const b256 = new Set(spec.base256 ?? []);
  writeString(b, 0, 100, spec.name);
  const sp = !!spec.spacedNumbers;
  writeNumber(b, 100, 8, spec.mode ?? 0o644, false, sp);
  writeNumber(b, 108, 8, spec.uid ?? 0, b256.has('uid'), sp);
  writeNumber(b, 116, 8, spec.gid ?? 0, b256.has('gid'), sp);
  writeNumber(b, 124, 12, spec.size ?? 0, b256.has('size'), sp);
  writeNumber(b, 136, 12, spec.mtime ?? 1700000000, b256.has('mtime'), sp);
  b.write(spec.typeflag ?? '0', 156, 'latin1');
  writeString(b, 157, 100, spec.linkname ?? '');
  if (spec.format === 'gnu') b.write('ustar  \0', 257, 'latin1');
  else if (spec.format !== 'v7') b.write(`ustar\0${spec.version ?? '00'}`, 257, 'latin1');
  if (spec.format !== 'v7') {
    writeNumber(b, 329, 8, spec.devmajor ?? 0, false);
    writeNumber(b, 337, 8, spec.devminor ?? 0, false);
  }
  if (spec.prefix !== undefined) writeString(b, 345, spec.format === 'star' ? 131 : 155, spec.prefix);
  if (spec.format === 'star') b.write('tar\0', 508, 'latin1');
  let sum = 0;
  b.fill(0x20, 148, 156);
  for (const byte of b) sum += spec.checksum === 'signed' && byte > 127 ? byte - 256 : byte;
  if (spec.checksum === 'bad') sum += 1;
  if (sum < 0) sum += 0o1000000; // never happens for sane headers; keeps the field octal
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return b;
}

/** Data padded with zeros to a whole number of blocks. */
export function padded(data: Buffer): Buffer {
  const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
  return pad === 0 ? data : Buffer.concat([data, Buffer.alloc(pad)]);
}

/** PAX records "<len> <key>=<value>\n"; the value is written byte for byte. */
export function paxRecords(records: Array<[string, string | Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), typeof value === 'string' ? Buffer.from(value, 'utf8') : value, Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    parts.push(Buffer.from(String(len), 'latin1'), body);
  }
  return Buffer.concat(parts);
}

export type EntryOptions = Omit<HeaderSpec, 'name' | 'typeflag' | 'size' | 'linkname'>;

/** Appends entries to an in-memory archive; `bytes()` adds the end-of-archive marker. */
export class TarBuilder {
  private readonly parts: Buffer[] = [];

  raw(buf: Buffer): this {
    this.parts.push(buf);
    return this;
  }

  entry(spec: HeaderSpec, data: Buffer = Buffer.alloc(0)): this {
    this.parts.push(header({ size: data.length, ...spec }), padded(data));
    return this;
  }

  file(name: string | Buffer, content: string | Buffer, opts: EntryOptions = {}): this {
    return this.entry({ ...opts, name, typeflag: '0' }, typeof content === 'string' ? Buffer.from(content) : content);
  }

  dir(name: string, opts: EntryOptions = {}): this {
    return this.entry({ mode: 0o755, ...opts, name: name.endsWith('/') ? name : `${name}/`, typeflag: '5' });
  }

  symlink(name: string, target: string, opts: EntryOptions = {}): this {
    return this.entry({ mode: 0o777, ...opts, name, typeflag: '2', linkname: target });
  }

  hardlink(name: string, target: string, opts: EntryOptions = {}): this {
    return this.entry({ ...opts, name, typeflag: '1', linkname: target });
  }

  fifo(name: string, opts: EntryOptions = {}): this {
    return this.entry({ ...opts, name, typeflag: '6' });
  }

  device(kind: 'char' | 'block', name: string, major: number, minor: number, opts: EntryOptions = {}): this {
    return this.entry({ ...opts, name, typeflag: kind === 'char' ? '3' : '4', devmajor: major, devminor: minor });
  }

  /** A PAX 'x' header for the next entry (or 'g' for a global one). */
  pax(records: Array<[string, string | Buffer]>, typeflag: 'x' | 'g' = 'x'): this {
    return this.entry({ name: 'PaxHeader', typeflag, mode: 0o644 }, paxRecords(records));
  }

  /** A GNU 'L' (long name) or 'K' (long link name) header for the next entry. */
  gnuLong(kind: 'L' | 'K', value: string | Buffer): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    return this.entry({ name: '././@LongLink', typeflag: kind, format: 'gnu' }, Buffer.concat([bytes, Buffer.alloc(1)]));
  }

  /** The archive so far, without an end marker. */
  body(): Buffer {
    return Buffer.concat(this.parts);
  }

  /** The archive with its two zero blocks. */
  bytes(): Buffer {
    return Buffer.concat([...this.parts, Buffer.alloc(2 * BLOCK)]);
  }
}

/** Feeds a buffer as an async stream in chunks of `chunkSize` (to exercise boundaries). */
export async function* chunked(buf: Buffer, chunkSize = 4096): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += chunkSize) yield buf.subarray(i, Math.min(buf.length, i + chunkSize));
}
