// Chunking on a worker thread: the packing thread already hashes and copies every byte of the
// layer, so the content-defined chunking of its large files (gear hash + sha256 per chunk)
// runs beside it instead. Protocol (main -> worker): {begin: id}, {data: id, buf}, {end: id},
// {finish}; the worker acknowledges each data message with its byte count and answers
// {finish} with every file's chunks.
import { parentPort } from 'node:worker_threads';
import { type Chunk, createChunker, type Chunker } from './chunker.js';

export type ToWorker = { begin: number } | { data: number; buf: Uint8Array } | { end: number } | { finish: true };
export type FromWorker = { ack: number } | { done: [number, { hash: Uint8Array; length: number }[]][] } | { error: string };

if (parentPort) {
  const port = parentPort;
  const open = new Map<number, Chunker>();
  const done: [number, Chunk[]][] = [];
  port.on('message', (m: ToWorker) => {
    try {
      if ('begin' in m) open.set(m.begin, createChunker());
      else if ('data' in m) {
        open.get(m.data)!.push(Buffer.from(m.buf.buffer, m.buf.byteOffset, m.buf.byteLength));
        port.postMessage({ ack: m.buf.byteLength } satisfies FromWorker);
      } else if ('end' in m) {
        done.push([m.end, open.get(m.end)!.end()]);
        open.delete(m.end);
      } else {
        port.postMessage({ done: done.map(([id, cs]) => [id, cs.map((c) => ({ hash: c.hash, length: c.length }))]) } satisfies FromWorker);
      }
    } catch (err) {
      port.postMessage({ error: (err as Error).message } satisfies FromWorker);
    }
  });
}
