// What incremental snapshots add to the store, and how it is encoded.
//
// A snapshot is one layer of a chain: position 0 is a full layer, positions 1.. are diffs,
// each against the tree of the layer before it. Besides its layer blob (an OCI layer tar as
// seekable zstd), a snapshot may store two more blobs under blobs/sha256/, both seekable zstd:
//   - a layer index (JSON): what the tar alone cannot say — the upper-dir paths this layer
//     deleted, which `.wh.` entries of the tar only express a deletion, and the maps of large
//     files (where a file whole in the tar starts; the chunks of one stored as references),
//     which let a later diff upload only the chunks that changed;
//   - a chunk pack (diffs only): the new chunks of large files stored as chunk references,
//     concatenated. Such a file has no tar entry: its metadata is in the index and its bytes
//     are ranges of earlier layers' tars and chunk packs. This is the layerkeep-specific
//     part; everything else in a diff tar is a plain OCI layer (entries plus whiteouts).
// The manifest names both blobs and its whole base chain, so any host can restore or continue
// a chain from the store alone.
import { layerPathComponents } from '../snapshot/safePath.js';
import { digestHex, type Manifest } from '../store/layout.js';
import { CHUNK_MAX } from './chunker.js';
import { corrupt, type ErrorDetails, LayerkeepError } from '../errors.js';

export const INDEX_MEDIA_TYPE = 'application/vnd.layerkeep.layer-index.v1+json+zstd';
export const CHUNKS_MEDIA_TYPE = 'application/vnd.layerkeep.chunk-pack.v1+zstd';
const INDEX_JSON_TYPE = 'application/vnd.layerkeep.layer-index.v1+json';

/** A seekable-zstd blob a manifest refers to, with what decodeBlob needs to verify it. */
export interface BlobRef {
  digest: string;
  size: number;
  diffId: string;
  uncompressedSize: number;
  mediaType: string;
}

/** Where a snapshot sits in its chain, and the sizes `ls` and compaction need. */
export interface ChainInfo {
  /** Layers in the chain including this one (1 for a full snapshot). */
  length: number;
  /** Uncompressed tar size of the chain's full layer. */
  fullSize: number;
  /** Uncompressed bytes (tars + chunk packs) of the chain's diffs up to and including this one. */
  deltaSize: number;
  /** Stored bytes this snapshot added: its blob, chunk pack and index. */
  ownSize: number;
  /** Stored bytes a restore of this snapshot reads: ownSize summed over the chain. */
  restoreSize: number;
  /** Regular-file bytes of the tree (what a restore writes). */
  treeSize: number;
}

/** The manifest fields incremental snapshots add (all optional: older full manifests lack them). */
export type ChainManifest = Manifest & { index?: BlobRef; chunks?: BlobRef; chain?: ChainInfo };

/** Every blob a manifest needs besides the ones its base manifests need: gc keeps all of them. */
export function blobsOfManifest(m: ChainManifest): string[] {
  return [m.blob, m.index, m.chunks].filter((b): b is NonNullable<typeof b> => !!b?.digest).map((b) => `sha256:${digestHex(b.digest)}`);
}

export const STREAM_TAR = 0;
export const STREAM_CHUNKS = 1;
export type StreamKind = typeof STREAM_TAR | typeof STREAM_CHUNKS;

/** A chunk and where its bytes are: `offset` in the decompressed tar or chunk pack of chain position `layer`. */
export interface ChunkRef {
  hash: Buffer;
  length: number;
  layer: number;
  stream: StreamKind;
  offset: number;
}

export interface FileMeta {
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  xattrs: Map<string, Buffer>;
}

/** The chunk map of one large file as of one layer. */
export interface FileMap {
  path: string;
  size: number;
  /** Chain position of the layer index that holds this map. */
  layer: number;
  /** true: the layer's tar holds the file whole; false: it is stored as chunk references only. */
  inTar: boolean;
  /**
   * For files in the tar: where their bytes start in it. Such a map usually has no chunks: a
   * file is chunked (from these stored bytes) only when a later diff finds it changed.
   */
  tarOffset?: number;
  /** For chunk-referenced files: the metadata a tar entry would have carried. */
  meta?: FileMeta;
  chunks: ChunkRef[];
  /**
   * How to write `chunks` compactly (encoder only): a number is one chunk written out, a copy
   * names `count` chunks of an earlier layer's map from `start`, so an edit inside a huge file
   * costs a few runs instead of its whole chunk list.
   */
  runs?: ChunkRun[];
}

export type ChunkRun = number | { layer: number; path: string; start: number; count: number };

export interface LayerIndex {
  layer: number;
  /** Upper-dir paths present after the previous layer and gone after this one. */
  deleted: string[];
  /** `.wh.` entries of this layer's tar that only say "deleted" and are not in the tree. */
  deleteOnly: string[];
  files: FileMap[];
}

// ---- encoding ---------------------------------------------------------------------------

/** First element of a run that copies chunks from an earlier layer's map. */
const COPY = '=';
/** Chunk references one index may expand to (runs repeat earlier maps; 4 M chunks ~ 128 GiB of large files). */
export const MAX_INDEX_CHUNKS = 4_000_000;

/** Finds the chunk map of `path` in the index of chain position `layer` (an earlier one). */
export type MapLookup = (layer: number, path: string) => ChunkRef[] | undefined;

export function encodeLayerIndex(ix: LayerIndex): Buffer {
  const files = ix.files.map((f) => {
    if (f.inTar) {
      const tar = f.tarOffset ?? f.chunks[0]?.offset ?? 0;
      if (f.chunks.length === 0) return { path: f.path, size: f.size, tar };
      return { path: f.path, size: f.size, tar, chunks: f.chunks.map((c) => [c.hash.toString('base64url'), c.length]) };
    }
    const m = f.meta!;
    const one = (c: ChunkRef) => [c.hash.toString('base64url'), c.length, c.layer, c.stream, c.offset];
    return {
      path: f.path, size: f.size, mode: m.mode, uid: m.uid, gid: m.gid, mtimeNs: m.mtimeNs.toString(),
      xattrs: Object.fromEntries([...m.xattrs.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.toString('base64')])),
      chunks: f.runs
        ? f.runs.map((r) => (typeof r === 'number' ? one(f.chunks[r]!) : [COPY, r.layer, r.path, r.start, r.count]))
        : f.chunks.map(one),
    };
  });
  return Buffer.from(JSON.stringify({ mediaType: INDEX_JSON_TYPE, layer: ix.layer, deleted: ix.deleted, deleteOnly: ix.deleteOnly, files }));
}

class IndexFormatError extends LayerkeepError {
  override name = 'IndexFormatError';
  constructor(message: string, details?: ErrorDetails) { super('corrupt', message, details); }
}

/** Parses and checks a layer index read from the store; `layer` is the position it must describe. */
export function decodeLayerIndex(body: Buffer, layer: number, what: string, lookup: MapLookup = () => undefined): LayerIndex {
  const bad = (msg: string): never => { throw new IndexFormatError(`layer index ${what} is invalid: ${msg}`); };
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return bad('not JSON');
  }
  if (!doc || typeof doc !== 'object' || doc.mediaType !== INDEX_JSON_TYPE) bad(`unsupported format ${String(doc?.mediaType)}`);
  if (doc.layer !== layer) bad(`describes chain position ${String(doc.layer)}, expected ${layer}`);
  const paths = (v: unknown, name: string): string[] => {
    if (!Array.isArray(v)) return bad(`${name} is not a list`);
    for (const p of v) checkPath(p, name, bad);
    return v as string[];
  };
  const deleted = paths(doc.deleted, 'deleted');
  const deleteOnly = paths(doc.deleteOnly, 'deleteOnly');
  for (const p of deleteOnly) if (!p.slice(p.lastIndexOf('/') + 1).startsWith('.wh.')) bad(`deleteOnly entry ${JSON.stringify(p)} is not a whiteout`);
  if (!Array.isArray(doc.files)) bad('files is not a list');
  const seen = new Set<string>();
  let expanded = 0;
  const files = (doc.files as Record<string, unknown>[]).map((f): FileMap => {
    if (!f || typeof f !== 'object') return bad('a files item is not an object');
    checkPath(f.path, 'files', bad);
    const path = f.path as string;
    if (seen.has(path)) bad(`${JSON.stringify(path)} has two chunk maps`);
    seen.add(path);
    const size = count(f.size, `${path}: size`, bad);
    const inTar = f.tar !== undefined;
    const tarStart = inTar ? count(f.tar, `${path}: tar offset`, bad) : 0;
    if (inTar && f.chunks === undefined) return { path, size, layer, inTar, tarOffset: tarStart, chunks: [] }; // not chunked yet
    if (!Array.isArray(f.chunks)) bad(`${path}: chunks is not a list`);
    let tarOffset = tarStart;
    let total = 0;
    const chunks: ChunkRef[] = [];
    const add = (ref: ChunkRef, where: string) => {
      if (ref.length === 0 || ref.length > CHUNK_MAX) bad(`${where} length ${ref.length} is outside 1..${CHUNK_MAX}`);
      if (++expanded > MAX_INDEX_CHUNKS) bad(`it lists more than ${MAX_INDEX_CHUNKS} chunks`);
      total += ref.length;
      chunks.push(ref);
    };
    (f.chunks as unknown[][]).forEach((c, i) => {
      const where = `${path}: chunk ${i}`;
      if (!inTar && Array.isArray(c) && c[0] === COPY) {
        if (c.length !== 5 || typeof c[2] !== 'string') bad(`${where} is a malformed run`);
        const from = count(c[1], `${where} layer`, bad);
        const start = count(c[3], `${where} start`, bad);
        const n = count(c[4], `${where} count`, bad);
        if (from >= layer) bad(`${where} copies from chain position ${from}, not an earlier one`);
        const src = lookup(from, c[2] as string);
        if (!src) bad(`${where} copies the chunk map of ${JSON.stringify(c[2])} at chain position ${from}, which that layer does not have`);
        if (n === 0 || start + n > src!.length) bad(`${where} copies chunks ${start}+${n} of a ${src!.length}-chunk map`);
        if (expanded + n > MAX_INDEX_CHUNKS) bad(`it lists more than ${MAX_INDEX_CHUNKS} chunks`);
        for (const ref of src!.slice(start, start + n)) add(ref, where);
        return;
      }
      if (!Array.isArray(c) || c.length !== (inTar ? 2 : 5) || typeof c[0] !== 'string') return bad(`${where} is malformed`);
      const hash = Buffer.from(c[0], 'base64url');
      if (hash.length !== 32) bad(`${where} has no sha256`);
      const length = count(c[1], `${where} length`, bad);
      if (inTar) {
        add({ hash, length, layer, stream: STREAM_TAR, offset: tarOffset }, where);
        tarOffset += length;
        return;
      }
      const from = count(c[2], `${where} layer`, bad);
      if (from > layer) bad(`${where} points at chain position ${from}, after this layer`);
      if (c[3] !== STREAM_TAR && c[3] !== STREAM_CHUNKS) bad(`${where} names no stream`);
      add({ hash, length, layer: from, stream: c[3] as StreamKind, offset: count(c[4], `${where} offset`, bad) }, where);
    });
    if (total !== size) bad(`${path}: chunks add up to ${total} bytes, the file has ${size}`);
    if (inTar) return { path, size, layer, inTar, tarOffset: tarStart, chunks };
    const mode = count(f.mode, `${path}: mode`, bad);
    const uid = count(f.uid, `${path}: uid`, bad);
    const gid = count(f.gid, `${path}: gid`, bad);
    if (mode > 0o7777 || uid > 0xffffffff || gid > 0xffffffff) bad(`${path}: mode or owner out of range`);
    if (typeof f.mtimeNs !== 'string' || !/^-?[0-9]{1,20}$/.test(f.mtimeNs)) bad(`${path}: mtimeNs is not a decimal string`);
    const xattrs = new Map<string, Buffer>();
    if (!f.xattrs || typeof f.xattrs !== 'object') bad(`${path}: xattrs is not an object`);
    for (const [k, v] of Object.entries(f.xattrs as Record<string, unknown>)) {
      if (k.length === 0 || k.includes('\0') || typeof v !== 'string') bad(`${path}: xattr ${JSON.stringify(k)} is malformed`);
      xattrs.set(k, Buffer.from(v as string, 'base64'));
    }
    return { path, size, layer, inTar, chunks, meta: { mode, uid, gid, mtimeNs: BigInt(f.mtimeNs as string), xattrs } };
  });
  return { layer, deleted, deleteOnly, files };
}

function checkPath(p: unknown, name: string, bad: (m: string) => never): void {
  if (typeof p !== 'string') bad(`${name} holds a non-string path`);
  try {
    layerPathComponents(p as string);
  } catch (err) {
    bad(`${name} path ${JSON.stringify(p)}: ${(err as Error).message}`);
  }
}

function count(v: unknown, what: string, bad: (m: string) => never): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${what} is not a non-negative integer`);
  return v as number;
}

// ---- compact binary form for the local state DB ---------------------------------------

const MAP_MAGIC = 0x4d434b4c; // "LKCM"
const TAR_MAP_MAGIC = 0x55434b4c; // "LKCU": a file whole in a layer's tar, not chunked yet
const MAP_HEADER = 8; // magic u32 | layer of the index holding the map u16 | reserved u16
const REF_BYTES = 48; // sha256 32 | length u32 | layer u16 | stream u8 | pad u8 | offset u48 | pad u16
const TAR_MAP_BYTES = 16; // header 8 | tar offset u64

/** A file map's layer and chunk references (or tar offset), packed for the chunk_maps table. */
export function packFileMap(map: Pick<FileMap, 'layer' | 'chunks' | 'tarOffset'>): Buffer {
  if (map.chunks.length === 0 && map.tarOffset !== undefined) {
    const t = Buffer.alloc(TAR_MAP_BYTES);
    t.writeUInt32LE(TAR_MAP_MAGIC, 0);
    t.writeUInt16LE(map.layer, 4);
    t.writeBigUInt64LE(BigInt(map.tarOffset), 8);
    return t;
  }
  const b = Buffer.alloc(MAP_HEADER + map.chunks.length * REF_BYTES);
  b.writeUInt32LE(MAP_MAGIC, 0);
  b.writeUInt16LE(map.layer, 4);
  map.chunks.forEach((c, i) => {
    const o = MAP_HEADER + i * REF_BYTES;
    c.hash.copy(b, o);
    b.writeUInt32LE(c.length, o + 32);
    b.writeUInt16LE(c.layer, o + 36);
    b.writeUInt8(c.stream, o + 38);
    b.writeUIntLE(c.offset, o + 40, 6);
  });
  return b;
}

export function unpackFileMap(b: Buffer): Pick<FileMap, 'layer' | 'chunks' | 'tarOffset'> {
  if (b.length === TAR_MAP_BYTES && b.readUInt32LE(0) === TAR_MAP_MAGIC) {
    return { layer: b.readUInt16LE(4), chunks: [], tarOffset: Number(b.readBigUInt64LE(8)) };
  }
  if (b.length < MAP_HEADER || b.readUInt32LE(0) !== MAP_MAGIC || (b.length - MAP_HEADER) % REF_BYTES !== 0) {
    throw corrupt(`stored chunk map of ${b.length} bytes is not in the expected format`);
  }
  const chunks: ChunkRef[] = [];
  for (let o = MAP_HEADER; o < b.length; o += REF_BYTES) {
    chunks.push({
      hash: Buffer.from(b.subarray(o, o + 32)),
      length: b.readUInt32LE(o + 32),
      layer: b.readUInt16LE(o + 36),
      stream: b.readUInt8(o + 38) as StreamKind,
      offset: b.readUIntLE(o + 40, 6),
    });
  }
  return { layer: b.readUInt16LE(4), chunks };
}
