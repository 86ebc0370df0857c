// Small files of a restore into a fresh directory, created in batches on the thread pool
// (writeFilesBatch in the native addon) while the unpacker goes on with the next entries.
// The unpacker has checked and created each file's parent directory before handing it over,
// and waits for the batches (flush) before anything that depends on a file being there:
// a hard link to it, a whiteout, directory times, the end of the layer.
import { batchSyscallError, type BatchFile, writeFilesBatch } from '../native/index.js';
import type { LayerEntry } from './entry.js';

/** Files up to this size are batched; bigger ones are streamed by the unpacker itself. */
export const BATCH_FILE_MAX = 256 << 10;
const BATCH_BYTES = 4 << 20;
const BATCH_FILES = 1024;
const IN_FLIGHT = 1;

export class BatchWriteError extends Error {
  override name = 'BatchWriteError';
  constructor(readonly entryPath: string, message: string) { super(message); }
}

export interface BatchWriter {
  /** Copies a file's body into the current batch; returns its size. */
  add(abs: string, e: LayerEntry, body: AsyncIterable<Buffer>): Promise<number>;
  /** Every file handed over so far is on disk (or the first failure is thrown). */
  flush(): Promise<void>;
  /** Waits for batches in flight, ignoring their failures (after an error elsewhere). */
  close(): Promise<void>;
}

export function createBatchWriter(): BatchWriter {
  const spare: Buffer[] = [];
  let buf: Buffer = Buffer.allocUnsafe(BATCH_BYTES);
  let fill = 0;
  let files: BatchFile[] = [];
  let paths: string[] = [];
  const inFlight: Promise<void>[] = [];

  // One batch is written while the next one fills: a new batch is handed over once fewer
  // than IN_FLIGHT are being written.
  const submit = async (): Promise<void> => {
    if (files.length === 0) return;
    while (inFlight.length >= IN_FLIGHT) await inFlight.shift();
    const data = buf;
    const batch = files;
    const entryPaths = paths;
    const job = writeFilesBatch(batch, data.subarray(0, fill)).then((failure) => {
      spare.push(data);
      if (!failure) return;
      throw new BatchWriteError(entryPaths[failure.index]!, batchSyscallError(failure, batch[failure.index]!.path).message);
    });
    job.catch(() => {}); // observed by flush or the next add
    inFlight.push(job);
    buf = spare.pop() ?? Buffer.allocUnsafe(BATCH_BYTES);
    fill = 0;
    files = [];
    paths = [];
  };

  return {
    async add(abs, e, body) {
      if (e.size > BATCH_FILE_MAX) throw new Error(`${e.path}: too big for a batch`);
      if (fill + e.size > BATCH_BYTES || files.length >= BATCH_FILES) await submit();
      let got = 0;
      for await (const chunk of body) {
        if (got + chunk.length > e.size) throw new Error(`content is longer than the ${e.size} bytes the header says`);
        chunk.copy(buf, fill + got);
        got += chunk.length;
      }
      if (got !== e.size) throw new Error(`content is ${got} bytes, the header says ${e.size}`);
      files.push({ path: abs, size: e.size, mode: e.mode, uid: e.uid, gid: e.gid, mtimeNs: e.mtimeNs });
      paths.push(e.path);
      fill += got;
      return got;
    },
    async flush() {
      await submit();
      while (inFlight.length) await inFlight.shift();
    },
    async close() {
      await Promise.allSettled(inFlight.splice(0));
    },
  };
}
