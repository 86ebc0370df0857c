// Server-side encryption round trips against RGW: SSE-C (customer key on every request,
// ranged reads and part uploads included; resume too) and SSE-KMS (RGW's test key testkey-1).
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { S3Store } from '../../src/s3/open.js';
import type { S3Options } from '../../src/s3/options.js';
import { startFaultProxy } from '../support/faultProxy.js';
import {
  MIB, openTestStore, patternChunks, patternDigest, patternRange, runChild, type S3TestEnv, sha256OfStream, streamToBuffer, tempStateDir, type TestBucket, useTestBucket,
} from './helpers.js';

let env: S3TestEnv;
let bucket: TestBucket;
useTestBucket('sse', (f) => ({ env, bucket } = f));

const SIZE = 13 * MIB;

/** Writes a multipart blob and a small object, reads both back (whole and ranged). */
async function roundTrip(prefix: string, opts: S3Options): Promise<{ digest: string; cleanup(): Promise<void> }> {
  const s = await tempStateDir(prefix);
  const store = await openTestStore(env, bucket.name, s.state, { prefix, partSize: 5 * MIB, ...opts });
  const cleanup = async (): Promise<void> => {
    for (const k of await bucket.keys(`${prefix}/`)) await store.delete(k.slice(prefix.length + 1));
    await store.close();
    await s.cleanup();
  };
  try {
    return { digest: await writeAndReadBack(store, prefix), cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function writeAndReadBack(store: S3Store, prefix: string): Promise<string> {
  const digest = patternDigest(prefix, SIZE);
  const w = await store.createBlobWriter();
  for (const c of patternChunks(prefix, SIZE)) await w.write(c);
  await w.finish(digest, SIZE);
  await store.putSmall('refs/k', Buffer.from('{"ref":1}'), { ifNoneMatch: '*' });
  assert.deepEqual(await sha256OfStream(await store.read(`blobs/sha256/${digest}`)), { hex: digest, size: SIZE });
  const range = await streamToBuffer(await store.read(`blobs/sha256/${digest}`, 5 * MIB - 3, 5 * MIB + 3));
  assert.ok(range.equals(patternRange(prefix, 5 * MIB - 3, 5 * MIB + 3)));
  assert.equal((await store.getSmall('refs/k'))?.body.toString(), '{"ref":1}');
  assert.equal((await store.head(`blobs/sha256/${digest}`))?.size, SIZE);
  return digest;
}

describe('server-side encryption', () => {
  test('SSE-C: blobs, ranged reads and refs round-trip with the key; without it the server refuses', async () => {
    const key = randomBytes(32).toString('base64');
    const { digest, cleanup } = await roundTrip('ssec', { sseCustomerKey: key });
    try {
      for (const k of [`ssec/blobs/sha256/${digest}`, 'ssec/refs/k']) {
        await assert.rejects(bucket.client.send(new GetObjectCommand({ Bucket: bucket.name, Key: k })), /InvalidArgument|BadRequest|400|encrypt/i);
        const head = await bucket.client.send(new HeadObjectCommand({
          Bucket: bucket.name, Key: k, SSECustomerAlgorithm: 'AES256', SSECustomerKey: key,
        }));
        assert.equal(head.SSECustomerAlgorithm, 'AES256');
      }
    } finally {
      await cleanup();
    }
  });

  test('SSE-C: an upload killed midway resumes with the key (part ETags are not MD5s here)', async () => {
    const key = randomBytes(32).toString('base64');
    const s = await tempStateDir('ssecresume');
    const proxy = await startFaultProxy({ target: env.endpoint, delayMs: { UploadPart: 150 } });
    const size = 23 * MIB;
    const common = {
      stateDir: s.dir, bucket: bucket.name, prefix: 'ssecresume', endpoint: proxy.url, seed: 'ssecresume', size, partSize: 5 * MIB,
      concurrency: 1, storeOptions: { sseCustomerKey: key },
    };
    try {
      const first = await runChild({ ...common, killAfterParts: 2 });
      assert.equal(first.signal, 'SIGKILL');
      const second = await runChild({ ...common, resumeOnly: true });
      assert.equal(second.code, 0, second.stderr);
      const digest = patternDigest('ssecresume', size);
      const store = await openTestStore(env, bucket.name, s.state, { prefix: 'ssecresume', sseCustomerKey: key });
      try {
        assert.deepEqual(await sha256OfStream(await store.read(`blobs/sha256/${digest}`)), { hex: digest, size });
        await store.delete(`blobs/sha256/${digest}`);
      } finally {
        await store.close();
      }
    } finally {
      await proxy.close();
      await s.cleanup();
    }
  });

  test('SSE-KMS with key id testkey-1: objects are stored encrypted under that key and round-trip', async () => {
    const { digest, cleanup } = await roundTrip('ssekms', { sse: 'aws:kms', sseKmsKeyId: 'testkey-1' });
    try {
      for (const k of [`ssekms/blobs/sha256/${digest}`, 'ssekms/refs/k']) {
        const head = await bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: k }));
        assert.equal(head.ServerSideEncryption, 'aws:kms', k);
        assert.equal(head.SSEKMSKeyId, 'testkey-1', k);
      }
    } finally {
      await cleanup();
    }
  });

  test('SSE-S3 (AES256) is requested without error', async () => {
    const { cleanup } = await roundTrip('sses3', { sse: 'AES256' });
    await cleanup();
  });
});
