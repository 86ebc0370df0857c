// PAX extended headers (POSIX.1-2001 'x' entries) with raw byte values.
// https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_03
// tar-stream's own PAX support builds records as JS strings (UTF-8), which corrupts binary
// xattr values such as security.capability; so records are encoded here as bytes, and the
// 'x' header block is encoded here too. Everything else in the archive is tar-stream's.

/** One "<len> <key>=<value>\n" record, where len counts its own digits. */
function recordLength(key: string, valueLength: number): number {
  const body = 1 + Buffer.byteLength(key) + 1 + valueLength + 1; // " key=value\n"
  let len = body + 1;
  while (String(len).length + body !== len) len = String(len).length + body;
  return len;
}

export function encodePaxRecords(records: [string, Buffer | string][]): Buffer {
  const values = records.map(([, v]) => (typeof v === 'string' ? Buffer.from(v) : v));
  const lengths = records.map(([k], i) => recordLength(k, values[i]!.length));
  const out = Buffer.allocUnsafe(lengths.reduce((a, n) => a + n, 0));
  let o = 0;
  records.forEach(([k], i) => {
    o += out.write(`${lengths[i]} ${k}=`, o, 'utf8');
    o += values[i]!.copy(out, o);
    out[o++] = 0x0a;
  });
  return out;
}

/** The 512-byte ustar header of an 'x' entry: fixed but for the size (and so the checksum). */
const PAX_TEMPLATE = (() => {
  const h = Buffer.alloc(512);
  h.write('PaxHeader', 0, 'ascii');
  h.write('0000644\0', 100, 'ascii'); // mode
  h.write('0000000\0', 108, 'ascii'); // uid
  h.write('0000000\0', 116, 'ascii'); // gid
  h.write('00000000000\0', 136, 'ascii'); // mtime: fixed, keeps archives deterministic
  h.write('x', 156, 'ascii');
  h.write('ustar\x0000', 257, 'ascii');
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  return h;
})();
const PAX_TEMPLATE_SUM = PAX_TEMPLATE.reduce((a, b) => a + b, 0);

/** The 512-byte ustar header of an 'x' entry followed by its records and padding, in one buffer. */
export function paxHeaderBlock(records: Buffer): Buffer {
  const pad = (512 - (records.length % 512)) % 512;
  // allocUnsafe takes small blocks from Node's shared pool instead of one ArrayBuffer each
  // (a snapshot writes one per file with a nanosecond mtime); every byte is written below.
  const out = Buffer.allocUnsafe(512 + records.length + pad);
  PAX_TEMPLATE.copy(out, 0);
  out.fill(0, 512 + records.length);
  const size = records.length.toString(8).padStart(11, '0') + '\0';
  out.write(size, 124, 'ascii');
  let sum = PAX_TEMPLATE_SUM;
  for (let i = 124; i < 136; i++) sum += out[i]!; // the template has zeros there
  out.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  records.copy(out, 512);
  return out;
}

/** Nanoseconds since the epoch as PAX decimal seconds ("1700000000.123456789"). */
export function paxTime(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const s = abs / 1_000_000_000n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, '0');
  return `${neg ? '-' : ''}${s}.${frac}`;
}
