// Restores the tree of the last layer of a chain in one pass over the chain, newest layer
// first. An entry is written only from the newest layer that has it: once a layer is done, its
// paths and the paths it deleted shadow the same paths in every older layer, so each surviving
// entry is written exactly once and overwritten versions are only decompressed (to verify the
// blob) and skipped. All entries of all layers go through one unpacker run (safe paths, no
// links out, devices refused, whiteouts converted), so the result is exactly what unpacking the
// equivalent full layer would give.
//
// Chunk-referenced files (no tar entry) are assembled in a staging directory: each chunk is
// copied out of whichever tar or chunk pack holds it while that stream goes by. In a fresh
// root the finished file is renamed into place (its directory was made by the unpacker);
// on a live tree the unpacker first makes a zero-length placeholder (replacing what was
// there) and the content is copied into it.
import fs from 'node:fs';
import path from 'node:path';
import type { LayerEntry } from '../snapshot/entry.js';
import { readTar, type TarItem } from '../snapshot/tarReader.js';
import { resolveUnder } from '../snapshot/safePath.js';
import { unpackLayer } from '../snapshot/unpack.js';
import type { WhiteoutConverter } from '../snapshot/whiteout.js';
import { lsetxattr, lutimesNs, renameNoReplace } from '../native/index.js';
import type { ObjectStore } from '../store/types.js';
import { blobStream } from './blobs.js';
import type { ChainLayer } from './chain.js';
import { type FileMap, STREAM_CHUNKS, STREAM_TAR } from './format.js';
import { corrupt } from '../errors.js';

export interface MaterializeOptions {
  /** Where the chain's blobs are read from. */
  store: ObjectStore;
  layers: ChainLayer[];
  /** Unpack root: a fresh directory (upper mode) or the live tree (apply mode). */
  root: string;
  /** An empty directory for assembling chunk-referenced files (same filesystem as root for 'rename'). */
  stagingDir: string;
  /** 'rename': move assembled files into place (fresh root); 'copy': write them into the placeholder. */
  place: 'rename' | 'copy';
  whiteouts: WhiteoutConverter;
  /** Regular-file bytes the restored tree may hold (what the manifest claims): a bomb guard. */
  maxTreeBytes?: number;
  allowDevices?: boolean;
  onWarning?: (msg: string) => void;
  onCompressed?: (bytes: number) => void;
}

export interface MaterializeResult {
  files: number;
  bytes: number;
  /** Chunk maps of the restored tree's large files (the next diff reuses their chunks). */
  chunkMaps: FileMap[];
}

/** One chunk's worth of bytes to copy: stream range [offset, offset+length) -> file position. */
interface Piece { offset: number; length: number; file: Assembly; at: number }

interface Assembly { map: FileMap; stagingPath: string; fd: number }

export async function materializeChain(o: MaterializeOptions): Promise<MaterializeResult> {
  const assemblies: Assembly[] = [];
  const pieces = new Map<string, Piece[]>(); // "<layer>:<stream>" -> pieces
  const chunkMaps: FileMap[] = [];
  const tarBytes = o.layers.reduce((a, l) => a + l.manifest.uncompressedSize, 0);
  const maxBytes = Math.min(tarBytes, o.maxTreeBytes ?? tarBytes);
  let counts = { files: 0, bytes: 0 };
  try {
    counts = await unpackLayer(entriesNewestFirst(o, assemblies, pieces, chunkMaps, o.place === 'copy'), o.root, {
      whiteouts: o.whiteouts,
      allowDevices: o.allowDevices,
      freshRoot: o.place === 'rename',
      onWarning: o.onWarning,
      limits: { maxBytes },
    });
    let bytes = counts.bytes;
    for (const a of assemblies) {
      placeAssembled(o.root, a, o.place);
      bytes += a.map.size;
    }
    return { files: counts.files + (o.place === 'copy' ? 0 : assemblies.length), bytes, chunkMaps };
  } finally {
    for (const a of assemblies) if (a.fd >= 0) fs.closeSync(a.fd);
  }
}

async function* entriesNewestFirst(
  o: MaterializeOptions, assemblies: Assembly[], pieces: Map<string, Piece[]>, chunkMaps: FileMap[], placeholders: boolean,
): AsyncGenerator<TarItem> {
  const shadowed = new Set<string>();
  let assembled = 0;
  for (let l = o.layers.length - 1; l >= 0; l--) {
    const layer = o.layers[l]!;
    const ix = layer.index;
    const mine: Assembly[] = [];
    // Chunk-referenced files of this layer that no newer layer replaced or deleted: their
    // chunks come from this layer or older ones, all still to be streamed.
    for (const f of ix.files) {
      if (f.inTar || shadowed.has(f.path)) continue;
      assembled += f.size;
      if (o.maxTreeBytes !== undefined && assembled > o.maxTreeBytes) {
        throw new Error(`chunked files of the chain add up to more than the ${o.maxTreeBytes} bytes its manifest claims for the tree: refusing`);
      }
      const a = startAssembly(o.stagingDir, f, assemblies.length);
      assemblies.push(a);
      mine.push(a);
      chunkMaps.push(f);
      let at = 0;
      for (const c of f.chunks) {
        const k = `${c.layer}:${c.stream}`;
        let list = pieces.get(k);
        if (!list) pieces.set(k, (list = []));
        const last = list[list.length - 1];
        // consecutive chunks stored consecutively: one piece, one write per stream buffer
        if (last && last.file === a && last.offset + last.length === c.offset && last.at + last.length === at) last.length += c.length;
        else list.push({ offset: c.offset, length: c.length, file: a, at });
        at += c.length;
      }
    }

    const seen = new Set<string>();
    const deleteOnly = new Set(ix.deleteOnly);
    const inTar = new Map(ix.files.filter((f) => f.inTar).map((f) => [f.path, f]));
    const tar = copyPieces(blobStream(o.store, { ...layer.manifest.blob, diffId: layer.manifest.diffId, uncompressedSize: layer.manifest.uncompressedSize }, o.onCompressed),
      pieces.get(`${l}:${STREAM_TAR}`) ?? [], `layer ${layer.digest}`);
    for await (const item of readTar(tar, { onWarning: o.onWarning })) {
      const p = item.entry.path;
      if (shadowed.has(p) || deleteOnly.has(p)) continue; // an older version, or only a deletion
      seen.add(p);
      const m = inTar.get(p);
      if (m && item.entry.type === 'file' && item.entry.size === m.size) chunkMaps.push(m);
      yield item;
    }
    for (const a of mine) {
      seen.add(a.map.path);
      if (placeholders) yield placeholder(a.map);
    }
    const packPieces = pieces.get(`${l}:${STREAM_CHUNKS}`) ?? [];
    if (packPieces.length > 0) {
      if (!layer.manifest.chunks) throw new Error(`snapshot ${layer.digest} has no chunk pack, but its chain reads from one`);
      for await (const _ of copyPieces(blobStream(o.store, layer.manifest.chunks, o.onCompressed), packPieces, `chunk pack of ${layer.digest}`)) { /* drain: verifies */ }
    }
    for (const p of seen) shadowed.add(p);
    for (const p of ix.deleted) shadowed.add(p);
  }
}

function startAssembly(dir: string, map: FileMap, n: number): Assembly {
  const stagingPath = path.join(dir, `chunked-${n}`);
  const fd = fs.openSync(stagingPath, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  fs.ftruncateSync(fd, map.size); // zero chunks are left as holes
  return { map, stagingPath, fd };
}

/** A zero-length file with the chunked file's metadata: the unpacker places it safely. */
function placeholder(map: FileMap): TarItem {
  const m = map.meta!;
  const entry: LayerEntry = { path: map.path, type: 'file', mode: m.mode, uid: m.uid, gid: m.gid, size: 0, mtimeNs: m.mtimeNs, xattrs: new Map(m.xattrs) };
  return { entry, body: (async function* () { /* empty */ })() };
}

const ZEROS = Buffer.alloc(64 << 10);
function allZero(b: Buffer): boolean {
  for (let o = 0; o < b.length; o += ZEROS.length) {
    const n = Math.min(ZEROS.length, b.length - o);
    if (ZEROS.compare(b, o, o + n, 0, n) !== 0) return false;
  }
  return true;
}

/** Passes `source` through unchanged, writing every piece's bytes into its staging file. */
async function* copyPieces(source: AsyncIterable<Buffer>, pieces: Piece[], what: string): AsyncGenerator<Buffer> {
  pieces.sort((a, b) => a.offset - b.offset);
  let next = 0;
  let active: Piece[] = [];
  let pos = 0;
  for await (const buf of source) {
    const end = pos + buf.length;
    while (next < pieces.length && pieces[next]!.offset < end) active.push(pieces[next++]!);
    if (active.length > 0) {
      for (const p of active) {
        const from = Math.max(p.offset, pos);
        const to = Math.min(p.offset + p.length, end);
        if (to <= from) continue;
        const slice = buf.subarray(from - pos, to - pos);
        if (!allZero(slice)) writeAll(p.file.fd, slice, p.at + (from - p.offset));
      }
      active = active.filter((p) => p.offset + p.length > end);
    }
    pos = end;
    yield buf;
  }
  if (active.length > 0 || next < pieces.length) throw new Error(`${what} ended at byte ${pos} before the chunks read from it`);
}

function writeAll(fd: number, buf: Buffer, position: number): void {
  for (let o = 0; o < buf.length; ) {
    const n = fs.writeSync(fd, buf, o, buf.length - o, position + o);
    o += n;
  }
}

/** Puts an assembled file in place with its metadata: renamed to a new name, or copied into its placeholder. */
function placeAssembled(root: string, a: Assembly, place: 'rename' | 'copy'): void {
  const m = a.map.meta!;
  const abs = resolveUnder(root, a.map.path);
  if (abs === null) throw new Error(`${a.map.path}: the directory of the chunked file is missing`);
  if (place === 'rename') {
    fs.fchownSync(a.fd, m.uid, m.gid);
    fs.fchmodSync(a.fd, m.mode);
    fs.closeSync(a.fd);
    a.fd = -1;
    for (const [k, v] of m.xattrs) lsetxattr(a.stagingPath, k, v);
    const parent = path.dirname(abs);
    const parentTime = fs.lstatSync(parent, { bigint: true }).mtimeNs;
    renameNoReplace(a.stagingPath, abs); // anything already there means a duplicate entry
    lutimesNs(abs, m.mtimeNs, m.mtimeNs);
    lutimesNs(parent, parentTime, parentTime); // the rename touched the directory
    return;
  }
  if (!fs.lstatSync(abs, { throwIfNoEntry: false })?.isFile()) throw corrupt(`${a.map.path}: the placeholder for the chunked file is missing or not a regular file`);
  const out = fs.openSync(abs, fs.constants.O_WRONLY | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW);
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0; pos < a.map.size; ) {
      const n = fs.readSync(a.fd, buf, 0, Math.min(buf.length, a.map.size - pos), pos);
      if (n === 0) throw new Error(`${a.map.path}: staging copy is short`);
      const slice = buf.subarray(0, n);
      if (!allZero(slice)) writeAll(out, slice, pos);
      pos += n;
    }
    fs.ftruncateSync(out, a.map.size);
    fs.fchownSync(out, m.uid, m.gid);
    fs.fchmodSync(out, m.mode);
  } finally {
    fs.closeSync(out);
  }
  lutimesNs(abs, m.mtimeNs, m.mtimeNs);
}
