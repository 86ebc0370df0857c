// PAX extended headers (POSIX.1-2001 'x' entries) with raw byte values.
// https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_03
// tar-stream's own PAX support builds records as JS strings (UTF-8), which corrupts binary
// xattr values such as security.capability; so records are encoded here as bytes, and the
// 'x' header block is encoded here too. Everything else in the archive is tar-stream's.

/** One "<len> <key>=<value>\n" record, where len counts its own digits. */
function record(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

export function encodePaxRecords(records: [string, Buffer | string][]): Buffer {
  return Buffer.concat(records.map(([k, v]) => record(k, typeof v === 'string' ? Buffer.from(v) : v)));
}

/** The 512-byte ustar header of an 'x' entry followed by its records and padding. */
export function paxHeaderBlock(records: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write('PaxHeader', 0, 'ascii');
  header.write('0000644\0', 100, 'ascii'); // mode
  header.write('0000000\0', 108, 'ascii'); // uid
  header.write('0000000\0', 116, 'ascii'); // gid
  header.write(records.length.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  header.write('00000000000\0', 136, 'ascii'); // mtime: fixed, keeps archives deterministic
  header.write('x', 156, 'ascii');
  header.write('ustar\x0000', 257, 'ascii');
  header.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  let sum = 0;
  for (const b of header) sum += b;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  const pad = (512 - (records.length % 512)) % 512;
  return Buffer.concat([header, records, Buffer.alloc(pad)]);
}

/** Nanoseconds since the epoch as PAX decimal seconds ("1700000000.123456789"). */
export function paxTime(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const s = abs / 1_000_000_000n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, '0');
  return `${neg ? '-' : ''}${s}.${frac}`;
}
