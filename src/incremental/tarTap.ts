// Watches the tar bytes a layer is packed into and chunks the content of chosen entries on the
// way, so the chunk map of a large file describes exactly the bytes stored (never a second
// read that could differ) and knows where they sit in the uncompressed tar. The chunking
// itself runs on a worker thread (chunkWorker.ts) while the packing thread goes on.
//
// The tar is our own packer's output, walked header by header: ustar headers, PAX/GNU meta
// headers ('x', 'g', 'L', 'K') skipped with their data, content padded to 512-byte blocks.
import { Worker } from 'node:worker_threads';
import { type Chunk, createChunker, type Chunker } from './chunker.js';
import type { FromWorker, ToWorker } from './chunkWorker.js';
import { type FileMap, STREAM_TAR } from './format.js';

const BLOCK = 512;
const META_TYPES = new Set(['x', 'g', 'L', 'K']);

/** Where the tap sends content bytes to be chunked. */
export interface ChunkSink {
  begin(id: number): void;
  data(id: number, buf: Buffer): Promise<void> | void;
  end(id: number): void;
  /** Every file's chunks, by id. */
  finish(): Promise<Map<number, Chunk[]>>;
  close(): Promise<void>;
}

export interface TarTap {
  /** Resolves when the sink can take more (back-pressure from the chunking thread). */
  write(chunk: Buffer): Promise<void>;
  /** Chunk maps of the chosen entries, in tar order; throws if one was not seen whole. */
  end(): Promise<FileMap[]>;
  /** Releases the chunking thread (after a failure). */
  close(): Promise<void>;
}

/**
 * `chosen` maps an entry's position in the packed list (0-based, meta headers not counted)
 * to its path and size; `layer` is the chain position the tar will have.
 */
export function createTarTap(chosen: Map<number, { path: string; size: number }>, layer: number, sink: ChunkSink = inlineSink()): TarTap {
  const header = Buffer.alloc(BLOCK);
  let headerFill = 0;
  let offset = 0; // tar offset of the next byte
  let skip = 0; // bytes to pass over (meta data, content we do not chunk, padding)
  let entry = -1;
  let content: { id: number; left: number; pad: number } | null = null;
  let ended = false;
  const started: { id: number; path: string; size: number; offset: number }[] = [];

  const onHeader = (): void => {
    if (header.every((b) => b === 0)) { ended = true; return; }
    const type = String.fromCharCode(header[156]!);
    const size = parseSize(header);
    const padded = size + ((BLOCK - (size % BLOCK)) % BLOCK);
    if (META_TYPES.has(type)) { skip = padded; return; }
    entry++;
    const want = chosen.get(entry);
    if (!want || size === 0) { skip = padded; return; }
    if ((type !== '0' && type !== '\0') || size !== want.size) {
      throw new Error(`tar tap: entry ${entry} (${want.path}) is a ${JSON.stringify(type)} entry of ${size} bytes, expected a ${want.size}-byte file`);
    }
    started.push({ id: entry, path: want.path, size, offset }); // content starts right after this header
    sink.begin(entry);
    content = { id: entry, left: size, pad: padded - size };
  };

  return {
    async write(buf: Buffer): Promise<void> {
      let i = 0;
      while (i < buf.length && !ended) {
        if (content) {
          const take = Math.min(content.left, buf.length - i);
          await sink.data(content.id, buf.subarray(i, i + take));
          content.left -= take;
          i += take;
          offset += take;
          if (content.left === 0) {
            sink.end(content.id);
            skip = content.pad;
            content = null;
          }
        } else if (skip > 0) {
          const take = Math.min(skip, buf.length - i);
          skip -= take;
          i += take;
          offset += take;
        } else {
          const take = Math.min(BLOCK - headerFill, buf.length - i);
          buf.copy(header, headerFill, i, i + take);
          headerFill += take;
          i += take;
          offset += take;
          if (headerFill === BLOCK) {
            headerFill = 0;
            onHeader();
          }
        }
      }
    },
    async end(): Promise<FileMap[]> {
      const expected = [...chosen.values()].filter((c) => c.size > 0).length;
      if (content || started.length !== expected) {
        await sink.close();
        throw new Error(`tar tap: saw ${started.length} of ${expected} chosen files whole (packer output not understood)`);
      }
      const chunks = await sink.finish();
      return started.map((s) => {
        let at = s.offset;
        const map: FileMap = { path: s.path, size: s.size, layer, inTar: true, chunks: [] };
        for (const c of chunks.get(s.id) ?? []) {
          map.chunks.push({ hash: c.hash, length: c.length, layer, stream: STREAM_TAR, offset: at });
          at += c.length;
        }
        if (at - s.offset !== s.size) throw new Error(`tar tap: chunks of ${s.path} cover ${at - s.offset} of ${s.size} bytes`);
        return map;
      });
    },
    close: () => sink.close(),
  };
}

/** Chunks on the calling thread (small layers, tests). */
export function inlineSink(): ChunkSink {
  const open = new Map<number, Chunker>();
  const done = new Map<number, Chunk[]>();
  return {
    begin: (id) => { open.set(id, createChunker()); },
    data: (id, buf) => { open.get(id)!.push(buf); },
    end: (id) => { done.set(id, open.get(id)!.end()); open.delete(id); },
    finish: async () => done,
    close: async () => {},
  };
}

const BATCH = 1 << 20;
const MAX_IN_FLIGHT = 8 << 20;

/** Chunks on a worker thread; at most 32 MiB of copied content waits for it. */
export function workerSink(): ChunkSink {
  const worker = new Worker(new URL('./chunkWorker.js', import.meta.url));
  let inFlight = 0;
  let failure: Error | null = null;
  let waiting: (() => void)[] = [];
  let result: ((m: Map<number, Chunk[]>) => void) | null = null;
  let rejectResult: ((e: Error) => void) | null = null;
  const wake = (): void => { const w = waiting; waiting = []; for (const f of w) f(); };
  const fail = (err: Error): void => { failure ??= err; wake(); rejectResult?.(failure); };
  worker.on('message', (m: FromWorker) => {
    if ('ack' in m) { inFlight -= m.ack; if (inFlight < MAX_IN_FLIGHT) wake(); } else if ('done' in m) {
      result?.(new Map(m.done.map(([id, cs]) => [id, cs.map((c) => ({ hash: Buffer.from(c.hash.buffer, c.hash.byteOffset, c.hash.byteLength), length: c.length }))])));
    } else fail(new Error(`chunking thread: ${m.error}`));
  });
  worker.on('error', (e) => fail(e));
  let closing = false;
  worker.on('exit', (code) => { if (!closing) fail(new Error(`chunking thread exited with code ${code}`)); });
  let batch: { id: number; buf: Uint8Array; fill: number } | null = null;
  const send = (m: ToWorker, transfer?: ArrayBuffer[]) => worker.postMessage(m, transfer);
  const flush = (): void => {
    if (!batch || batch.fill === 0) return;
    const buf = batch.fill === batch.buf.length ? batch.buf : batch.buf.slice(0, batch.fill);
    inFlight += buf.byteLength;
    send({ data: batch.id, buf }, [buf.buffer as ArrayBuffer]);
    batch = null;
  };
  return {
    begin: (id) => send({ begin: id }),
    async data(id, b) {
      if (failure) throw failure;
      for (let o = 0; o < b.length; ) {
        batch ??= { id, buf: new Uint8Array(BATCH), fill: 0 };
        const n = Math.min(b.length - o, BATCH - batch.fill);
        batch.buf.set(b.subarray(o, o + n), batch.fill);
        batch.fill += n;
        o += n;
        if (batch.fill === BATCH) flush();
      }
      while (inFlight >= MAX_IN_FLIGHT && !failure) await new Promise<void>((r) => waiting.push(r));
      if (failure) throw failure;
    },
    end(id) {
      flush();
      send({ end: id });
    },
    async finish() {
      if (failure) throw failure;
      const done = new Promise<Map<number, Chunk[]>>((resolve, reject) => {
        result = resolve;
        rejectResult = reject;
      });
      send({ finish: true });
      try {
        return await done;
      } finally {
        closing = true;
        await worker.terminate();
      }
    },
    async close() {
      closing = true;
      await worker.terminate();
    },
  };
}

/** Octal ASCII, or base-256 for big sizes (tar-stream writes those with a 0x80 lead byte). */
function parseSize(h: Buffer): number {
  if (h[124]! & 0x80) {
    let v = 0;
    for (let i = 125; i < 136; i++) v = v * 256 + h[i]!;
    return v;
  }
  const text = h.toString('latin1', 124, 136).replace(/[\0 ]+$/, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}
