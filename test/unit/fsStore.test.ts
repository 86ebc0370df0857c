// The local directory store's ranged reads: the positional path (readBytes) that restore uses
// and the stream path every backend has must return the same bytes, and a read past the end
// is reported as a truncated blob, never padded.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlobVerificationError, readRange } from '../../src/snapshot/frameDecoder.js';
import { openFsStore } from '../../src/store/fs.js';
import { blobKey } from '../../src/store/layout.js';
import type { ObjectStore } from '../../src/store/types.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'layerkeep-fsstore-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

async function storeBlob(store: ObjectStore, body: Buffer): Promise<string> {
  const hex = createHash('sha256').update(body).digest('hex');
  const w = await store.createBlobWriter();
  for (let o = 0; o < body.length; o += 100_000) await w.write(body.subarray(o, o + 100_000));
  await w.finish(hex, body.length);
  return blobKey(`sha256:${hex}`);
}

describe('local store ranged reads', () => {
  it('readBytes returns exactly the bytes the stream read returns, and is short only at the end', async () => {
    const store = openFsStore(path.join(root, 'a'));
    const body = randomBytes(3 << 20);
    const key = await storeBlob(store, body);
    for (const [s, e] of [[0, body.length], [1, 2], [12_345, 2_000_000], [body.length - 10, body.length]] as const) {
      assert.deepEqual(await store.readBytes!(key, s, e), body.subarray(s, e), `readBytes ${s}-${e}`);
      const chunks: Buffer[] = [];
      for await (const c of await store.read(key, s, e)) chunks.push(c as Buffer);
      assert.deepEqual(Buffer.concat(chunks), body.subarray(s, e), `read ${s}-${e}`);
    }
    assert.equal((await store.readBytes!(key, body.length - 5, body.length + 100)).length, 5);
    await assert.rejects(store.readBytes!('blobs/sha256/missing', 0, 1), { code: 'ENOENT' });
  });

  it('readRange reports a range past the end as a truncated blob on both paths', async () => {
    const store = openFsStore(path.join(root, 'b'));
    const body = randomBytes(1000);
    const key = await storeBlob(store, body);
    const streamOnly: ObjectStore = { ...store, readBytes: undefined };
    for (const s of [store, streamOnly]) {
      assert.deepEqual(await readRange(s, key, 10, 990), body.subarray(10, 990));
      await assert.rejects(readRange(s, key, 900, 1100), (err: Error) =>
        err instanceof BlobVerificationError && /short read at 900-1100 \(100 bytes\): truncated blob/.test(err.message));
    }
  });
});
