// Reads a part from the staging file and hashes it (MD5 for Content-MD5, SHA-256 for the
// request signature, CRC32) on a worker thread, so the main thread, busy packing the next
// bytes, only sends the part. The buffer comes
// back transferred, not copied.
import { Worker } from 'node:worker_threads';

export interface PartBytes {
  body: Buffer;
  md5: Buffer;
  /** Hex SHA-256 of the body: the SigV4 payload hash, so the signer need not compute it. */
  sha256: string;
  /** CRC32 of the body (for servers that validate flexible checksums), when Node has zlib.crc32. */
  crc32?: number;
}

interface Reply {
  id: number;
  body?: ArrayBuffer;
  md5?: ArrayBuffer;
  sha256?: string;
  crc32?: number;
  error?: string;
}

// The worker's source, inline so that the compiled layout (dist/...) does not matter.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { crc32 } = require('node:zlib');
parentPort.on('message', ({ id, path, start, end }) => {
  try {
    const body = Buffer.allocUnsafeSlow(end - start);
    const fd = openSync(path, 'r');
    try {
      for (let got = 0; got < body.length; ) {
        const n = readSync(fd, body, got, body.length - got, start + got);
        if (n === 0) throw new Error('staging file ' + path + ' ends at ' + (start + got) + ', expected bytes up to ' + end);
        got += n;
      }
    } finally {
      closeSync(fd);
    }
    const md5 = createHash('md5').update(body).digest();
    const sha256 = createHash('sha256').update(body).digest('hex');
    const crc = typeof crc32 === 'function' ? crc32(body) : undefined;
    const ab = body.buffer;
    const md5ab = md5.buffer.slice(md5.byteOffset, md5.byteOffset + md5.length);
    parentPort.postMessage({ id, body: ab, md5: md5ab, sha256, crc32: crc }, [ab]);
  } catch (err) {
    parentPort.postMessage({ id, error: err.message });
  }
});
`;

/** A small pool of reader threads; unref'd, so it never keeps the process alive. */
export class PartReader {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (p: PartBytes) => void; reject: (e: Error) => void }>();
  private next = 0;
  private seq = 0;

  constructor(threads: number) {
    for (let i = 0; i < Math.max(1, threads); i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.unref();
      w.on('message', (r: Reply) => this.settle(r));
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      this.workers.push(w);
    }
  }

  read(path: string, start: number, end: number): Promise<PartBytes> {
    const id = ++this.seq;
    const w = this.workers[this.next++ % this.workers.length];
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, path, start, end });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private settle(r: Reply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (r.error !== undefined) p.reject(new Error(r.error));
    else p.resolve({ body: Buffer.from(r.body as ArrayBuffer), md5: Buffer.from(r.md5 as ArrayBuffer), sha256: r.sha256 as string, crc32: r.crc32 });
  }
}
