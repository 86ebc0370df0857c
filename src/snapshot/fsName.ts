// File names are bytes on Linux, and a container may use any byte but '/' and NUL. layerkeep
// keeps names and paths as JS strings in which every byte that is not part of valid UTF-8 stands
// as a lone surrogate U+DC80..U+DCFF (the byte plus 0xDC00: Python's "surrogateescape"). Valid
// UTF-8 never decodes to a surrogate, so the mapping is one-to-one: any name survives the trip
// through the walk, the tar, JSON (lone surrogates are written as \udcXX escapes) and back to
// the disk. The native addon applies the same mapping (src/native/fsname.c); Node's fs is handed
// a Buffer whenever a path holds an escaped byte.
import { isUtf8 } from 'node:buffer';

const SURROGATE = /[\ud800-\udfff]/;

/** The string form of a name or path read as bytes (a tar header, readlink). */
export function nameFromBytes(b: Buffer): string {
  if (isUtf8(b)) return b.toString('utf8');
  let out = '';
  let i = 0;
  while (i < b.length) {
    const n = utf8Sequence(b, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + b[i]!);
      i++;
    } else {
      out += b.toString('utf8', i, i + n);
      i += n;
    }
  }
  return out;
}

/** The bytes of a name or path in string form. */
export function nameToBytes(s: string): Buffer {
  if (!SURROGATE.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; } // a real pair: a character past U+FFFF
    }
    if (c >= 0xdc80 && c <= 0xdcff) {
      parts.push(Buffer.from(s.slice(start, i), 'utf8'), Buffer.of(c - 0xdc00));
      start = i + 1;
    }
  }
  parts.push(Buffer.from(s.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/** Whether the name's bytes are valid UTF-8 (it holds no escaped byte). */
export const isUtf8Name = (s: string): boolean => !SURROGATE.test(s) || isUtf8(nameToBytes(s));

/** A path for Node's fs: the string itself, or its bytes when it holds an escaped byte. */
export function osPath(s: string): string | Buffer {
  return SURROGATE.test(s) ? nameToBytes(s) : s;
}

/** Shows a name in a message: escaped bytes as \xNN. */
export function showName(s: string): string {
  return SURROGATE.test(s) ? s.replace(/[\udc80-\udcff]/g, (c) => `\\x${(c.charCodeAt(0) - 0xdc00).toString(16)}`) : s;
}

/** Length of the valid UTF-8 sequence at b[i], or 0. */
function utf8Sequence(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  let n: number;
  let cp: number;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
  else return 0;
  if (i + n > b.length) return 0;
  for (let k = 1; k < n; k++) {
    const x = b[i + k]!;
    if ((x & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (x & 0x3f);
  }
  if ((n === 3 && cp < 0x800) || (n === 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  return n;
}
