// Entries -> PAX tar bytes, with tar-stream writing the ustar headers, bodies, padding and
// the end-of-archive marker. Each entry whose metadata does not fit ustar (nanosecond mtime,
// xattrs, long or non-ASCII names, large ids) is preceded by a PAX 'x' header of our own
// (see paxHeader.ts for why), pushed into the same stream between entries.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import tar from 'tar-stream';
import type { EntryType } from './entry.js';
import { encodePaxRecords, paxHeaderBlock, paxTime } from './paxHeader.js';
import type { WalkedEntry } from './walk.js';

type TarHeaders = Parameters<tar.Pack['entry']>[0];

const READ_CHUNK = 1 << 20;
const USTAR_ID_MAX = 0o777777; // tar-stream writes ids in 6 octal digits

const TAR_TYPE: Record<EntryType, TarHeaders['type']> = {
  file: 'file', dir: 'directory', symlink: 'symlink', hardlink: 'link',
  fifo: 'fifo', char: 'character-device', block: 'block-device',
};

export interface PackStats {
  entries: number;
  contentBytes: number;
}

/** Writes the layer tar for `entries` to `write`, which applies back-pressure by awaiting. */
export async function packLayer(
  entries: WalkedEntry[],
  write: (chunk: Buffer) => Promise<void>,
  onContent?: (bytes: number) => void,
): Promise<PackStats> {
  const pack = tar.pack();
  const drained = (async () => {
    for await (const chunk of pack) await write(chunk as Buffer);
  })();
  drained.catch(() => {}); // observed below; avoids an unhandled rejection while producing
  const stats: PackStats = { entries: 0, contentBytes: 0 };
  try {
    for (const e of entries) {
      const { header, pax } = headersFor(e);
      if (pax.length) pack.push(paxHeaderBlock(encodePaxRecords(pax)));
      await addEntry(pack, header, e, (n) => { stats.contentBytes += n; onContent?.(n); });
      stats.entries++;
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    throw err;
  }
  await drained;
  return stats;
}

function headersFor(e: WalkedEntry): { header: TarHeaders; pax: [string, Buffer | string][] } {
  const pax: [string, Buffer | string][] = [];
  const header: TarHeaders = {
    name: e.path,
    type: TAR_TYPE[e.type],
    // tar-stream treats mode 0 as "unset" and writes 0644; a file-type bit makes it truthy
    // and is masked away when the header is encoded (only the low 12 bits are written).
    mode: e.mode === 0 ? 0o100000 : e.mode,
    uid: e.uid,
    gid: e.gid,
    size: e.type === 'file' ? e.size : 0,
    mtime: new Date(Number(e.mtimeNs / 1_000_000_000n) * 1000),
    uname: '',
    gname: '',
  };
  if (!fitsUstar(e.path)) {
    pax.push(['path', e.path]);
    header.name = placeholderName(e.path);
  }
  if (e.linkname !== undefined) {
    if (isAscii(e.linkname) && Buffer.byteLength(e.linkname) <= 100) header.linkname = e.linkname;
    else {
      pax.push(['linkpath', e.linkname]);
      header.linkname = 'PaxLinkpath';
    }
  }
  if (e.uid > USTAR_ID_MAX) pax.push(['uid', String(e.uid)]);
  if (e.gid > USTAR_ID_MAX) pax.push(['gid', String(e.gid)]);
  if (e.mtimeNs % 1_000_000_000n !== 0n || e.mtimeNs < 0n) pax.push(['mtime', paxTime(e.mtimeNs)]);
  if (e.type === 'char' || e.type === 'block') {
    header.devmajor = e.devmajor;
    header.devminor = e.devminor;
  }
  for (const name of [...e.xattrs.keys()].sort()) pax.push([`SCHILY.xattr.${name}`, e.xattrs.get(name)!]);
  return { header, pax };
}

async function addEntry(pack: tar.Pack, header: TarHeaders, e: WalkedEntry, onContent: (n: number) => void): Promise<void> {
  if (e.type !== 'file' || e.size === 0) {
    // an empty body ends a zero-length file's entry; other types carry no body at all
    const body = e.type === 'file' ? Buffer.alloc(0) : null;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) pack.entry(header, body, done);
      else pack.entry(header, done);
    });
    return;
  }
  let finish!: Promise<void>;
  const sink = (() => {
    let s!: ReturnType<tar.Pack['entry']>;
    finish = new Promise<void>((resolve, reject) => { s = pack.entry(header, (err) => (err ? reject(err) : resolve())); });
    return s;
  })();
  // Synchronous reads: this thread only drives the pipeline (compression runs on the thread
  // pool), and an async open/stat/read/close costs four thread-pool round trips per file,
  // which dominates for layers of many small files.
  const fd = openSync(e.absPath!, 'r');
  try {
    const st = fstatSync(fd, { bigint: true });
    if (Number(st.size) !== e.size || st.mtimeNs !== e.mtimeNs) {
      throw new Error(`${e.path}: file changed while the snapshot was taken (stop the container first)`);
    }
    let done = 0;
    while (done < e.size) {
      const want = Math.min(READ_CHUNK, e.size - done);
      const buf = Buffer.allocUnsafe(want);
      const bytesRead = readSync(fd, buf, 0, want, done);
      if (bytesRead === 0) throw new Error(`${e.path}: file shrank while the snapshot was taken`);
      done += bytesRead;
      onContent(bytesRead);
      if (!sink.write(bytesRead === want ? buf : buf.subarray(0, bytesRead))) {
        await new Promise<void>((resolve) => sink.once('drain', () => resolve()));
      }
    }
  } catch (err) {
    sink.destroy(err as Error);
    throw err;
  } finally {
    closeSync(fd);
  }
  sink.end(() => {});
  await finish;
}

function isAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/** Mirrors tar-stream's ustar encoder: ASCII, name <= 100 bytes after moving leading dirs to a 155-byte prefix. */
function fitsUstar(name: string): boolean {
  if (!isAscii(name)) return false;
  if (name.length <= 100) return true;
  let rest = name;
  let prefix = '';
  while (rest.length > 100) {
    const i = rest.indexOf('/');
    if (i === -1) return false;
    prefix += prefix ? `/${rest.slice(0, i)}` : rest.slice(0, i);
    rest = rest.slice(i + 1);
  }
  return prefix.length <= 155;
}

/** What a reader without PAX support sees; the PAX 'path' record carries the real name. */
function placeholderName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/[^\x20-\x7e]/g, '_');
  return `PaxPath/${base.slice(-80) || '_'}`;
}
