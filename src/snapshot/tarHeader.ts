// Tar header parsing for the strict reader (tarReader.ts): numeric and name fields of ustar,
// GNU, star and v7 headers with their checksum, and PAX extended records kept as raw bytes.
// Pure functions over one 512-byte block or one record body; the streaming is in tarReader.ts.
import { isUtf8 } from 'node:buffer';
import { nameFromBytes } from './fsName.js';
import { corrupt, type ErrorDetails, LayerkeepError } from '../errors.js';

export class TarFormatError extends LayerkeepError {
  override name = 'TarFormatError';
  constructor(message: string, details?: ErrorDetails) { super('corrupt', message, details); }
}


export const BLOCK = 512;

export function isZero(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Names the entry in an error: its path when known, else the header's byte offset. */
export function where(offset: number, path?: string): string {
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
export function parseHeader(block: Buffer, offset: number, pendingName?: Buffer): RawHeader {
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
export function parsePaxRecords(data: Buffer): Map<string, Buffer> {
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

export interface PaxOverrides {
  path?: Buffer;
  linkpath?: Buffer;
  size?: number;
  uid?: number;
  gid?: number;
  mtimeNs?: bigint;
  xattrs: Map<string, Buffer>;
}

export function interpretPax(records: Map<string, Buffer>, warn: (msg: string) => void): PaxOverrides {
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
