// The S3 store's object operations, conditional writes, open-time checks and secrecy,
// against a real S3 server (RGW).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { describe, test } from 'node:test';
import { S3OpenError, type S3Store } from '../../src/s3/open.js';
import { PreconditionFailedError } from '../../src/store/types.js';
import { startFaultProxy } from '../support/faultProxy.js';
import {
  memoryLog, MIB, openTestStore, patternChunks, patternDigest, type S3TestEnv, streamToBuffer, tempStateDir, type TestBucket, useTestBucket,
} from './helpers.js';

let env: S3TestEnv;
let bucket: TestBucket;
useTestBucket('store', (f) => ({ env, bucket } = f));

async function withStore<T>(prefix: string, fn: (store: S3Store, log: ReturnType<typeof memoryLog>) => Promise<T>): Promise<T> {
  const s = await tempStateDir('store');
  const log = memoryLog();
  const store = await openTestStore(env, bucket.name, s.state, { prefix }, log);
  try {
    return await fn(store, log);
  } finally {
    for (const k of await bucket.keys(`${prefix}/`)) await store.delete(k.slice(prefix.length + 1));
    await store.close();
    await s.cleanup();
  }
}

/** Temporarily replaces environment variables (the SDK reads credentials from them). */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

async function openError(opts: Parameters<typeof openTestStore>[3], bucketName = bucket.name): Promise<S3OpenError> {
  const s = await tempStateDir('open');
  try {
    await openTestStore(env, bucketName, s.state, { ...opts, openTimeoutMs: 2000, retry: { maxAttempts: 1 } });
  } catch (err) {
    assert.ok(err instanceof S3OpenError, `expected S3OpenError, got ${(err as Error).stack}`);
    return err;
  } finally {
    await s.cleanup();
  }
  assert.fail('opening the store succeeded');
}

describe('S3 store', () => {
  test('objects live under the prefix; list, head, getSmall, delete; description names bucket, prefix and endpoint', async () => {
    await withStore('basic', async (store) => {
      assert.equal(store.description, `s3://${bucket.name}/basic/ (${env.endpoint})`);
      assert.equal(store.conditionalWrites, true);
      await store.putSmall('refs/one', Buffer.from('1'));
      await store.putSmall('manifests/x.json', Buffer.from('{}'));
      assert.deepEqual((await bucket.keys('basic/')).sort(), ['basic/manifests/x.json', 'basic/refs/one']);
      const got = await store.getSmall('refs/one');
      assert.equal(got?.body.toString(), '1');
      assert.match(got?.etag ?? '', /^[0-9a-f]{32}$/);
      const head = await store.head('refs/one');
      assert.equal(head?.size, 1);
      assert.equal(head?.etag, got?.etag);
      assert.equal(await store.head('refs/none'), null);
      assert.equal(await store.getSmall('refs/none'), null);
      await assert.rejects(store.read('refs/none'), /no such object/);
      const listed = [];
      for await (const o of store.list('refs/')) listed.push(o.key);
      assert.deepEqual(listed, ['refs/one']);
      await store.delete('refs/one');
      assert.equal(await store.head('refs/one'), null);
    });
  });

  test('list pages through more than 1000 objects', async () => {
    await withStore('many', async (store) => {
      const n = 1003;
      for (let i = 0; i < n; i += 100) {
        await Promise.all(Array.from({ length: Math.min(100, n - i) }, (_, j) => store.putSmall(`refs/k${String(i + j).padStart(4, '0')}`, Buffer.from('x'))));
      }
      const keys: string[] = [];
      for await (const o of store.list('refs/')) keys.push(o.key);
      assert.equal(keys.length, n);
      assert.equal(new Set(keys).size, n);
    });
  });

  test('putSmall conditions: If-None-Match creates only, If-Match replaces only the version read (quoted or not)', async () => {
    await withStore('cond', async (store) => {
      const v1 = await store.putSmall('refs/k', Buffer.from('v1'), { ifNoneMatch: '*' });
      await assert.rejects(store.putSmall('refs/k', Buffer.from('v1b'), { ifNoneMatch: '*' }), PreconditionFailedError);
      const v2 = await store.putSmall('refs/k', Buffer.from('v2'), { ifMatch: v1.etag });
      await assert.rejects(store.putSmall('refs/k', Buffer.from('v3'), { ifMatch: v1.etag }), (err: Error) => {
        assert.ok(err instanceof PreconditionFailedError);
        assert.equal(err.key, 'refs/k');
        return true;
      });
      await store.putSmall('refs/k', Buffer.from('v3'), { ifMatch: `"${v2.etag}"` });
      assert.equal((await store.getSmall('refs/k'))?.body.toString(), 'v3');
    });
  });

  test('two writers racing on one ref: exactly one wins each round, for create and for replace', async () => {
    const s2 = await tempStateDir('race');
    const other = await openTestStore(env, bucket.name, s2.state, { prefix: 'race' });
    try {
      await withStore('race', async (store) => {
        for (let round = 0; round < 10; round++) {
          const key = `refs/r${round}`;
          const created = await Promise.allSettled([
            store.putSmall(key, Buffer.from(`a${round}`), { ifNoneMatch: '*' }),
            other.putSmall(key, Buffer.from(`b${round}`), { ifNoneMatch: '*' }),
          ]);
          assert.equal(created.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: create`);
          const loser = created.find((r) => r.status === 'rejected') as PromiseRejectedResult;
          assert.ok(loser.reason instanceof PreconditionFailedError);
          const current = await store.getSmall(key);
          const replaced = await Promise.allSettled([
            store.putSmall(key, Buffer.from(`c${round}`), { ifMatch: current?.etag as string }),
            other.putSmall(key, Buffer.from(`d${round}`), { ifMatch: current?.etag as string }),
          ]);
          assert.equal(replaced.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: replace`);
          const winner = replaced[0].status === 'fulfilled' ? `c${round}` : `d${round}`;
          assert.equal((await store.getSmall(key))?.body.toString(), winner);
        }
      });
    } finally {
      await other.close();
      await s2.cleanup();
    }
  });

  test('a conditional write whose response was lost is retried and recognised as our own', async () => {
    const proxy = await startFaultProxy({ target: env.endpoint });
    const s = await tempStateDir('lost');
    const store = await openTestStore(env, bucket.name, s.state, { endpoint: proxy.url, prefix: 'lostresp', retry: { baseDelayMs: 10, maxDelayMs: 50 } });
    try {
      // The server stores the first PUT, but the client never hears back and tries again:
      // the retry meets its own object (412) and must not report a conflict.
      proxy.resetStats(); // forget the conditional-write probe of open
      proxy.failNext('PutObject', 'reset-after');
      await store.putSmall('refs/once', Buffer.from('mine'), { ifNoneMatch: '*' });
      assert.equal(proxy.stat('PutObject').faults, 1);
      assert.equal(proxy.stat('PutObject').requests, 2);
      assert.equal((await store.getSmall('refs/once'))?.body.toString(), 'mine');
      // Someone else's object is still a conflict.
      proxy.failNext('PutObject', 'reset-after');
      await assert.rejects(store.putSmall('refs/once', Buffer.from('other'), { ifNoneMatch: '*' }), PreconditionFailedError);
    } finally {
      for (const k of await bucket.keys('lostresp/')) await store.delete(k.slice('lostresp/'.length));
      await store.close();
      await proxy.close();
      await s.cleanup();
    }
  });

  test('misconfiguration fails fast and says which: missing bucket', async () => {
    const err = await openError({}, 'lk-no-such-bucket-here');
    assert.equal(err.reason, 'no-bucket');
    assert.match(err.message, /bucket "lk-no-such-bucket-here" does not exist at http:\/\/127\.0\.0\.1:\d+/);
  });

  test('misconfiguration: an unknown access key and a wrong secret key are told apart', async () => {
    const unknown = await withEnv({ AWS_ACCESS_KEY_ID: 'LKNOSUCHKEY000000000' }, () => openError({}));
    assert.equal(unknown.reason, 'bad-credentials');
    assert.match(unknown.message, /bad credentials: the access key id is not known/);
    const wrongSecret = 'wrong-secret-' + randomBytes(8).toString('hex');
    const bad = await withEnv({ AWS_SECRET_ACCESS_KEY: wrongSecret }, () => openError({}));
    assert.equal(bad.reason, 'bad-credentials');
    assert.match(bad.message, /secret access key does not match/);
    assert.ok(!bad.message.includes(wrongSecret));
  });

  test('misconfiguration: endpoint refusing connections, and endpoint that never answers', async () => {
    const closed = await freePort();
    const refused = await openError({ endpoint: `http://127.0.0.1:${closed}` });
    assert.equal(refused.reason, 'unreachable');
    assert.match(refused.message, new RegExp(`endpoint http://127\\.0\\.0\\.1:${closed} unreachable`));
    const silent = await silentServer();
    try {
      // Request and connect limits of an hour: only the 2 s open limit can end this open (no
      // stopwatch in the assertion; a busy machine may take longer than 2 s to report it).
      const stalled = await openError({ endpoint: `http://127.0.0.1:${silent.port}`, requestTimeoutMs: 3_600_000, connectTimeoutMs: 3_600_000 });
      assert.equal(stalled.reason, 'unreachable');
      assert.match(stalled.message, /unreachable: no answer within 2 s/);
    } finally {
      await silent.close();
    }
  });

  test('an HTTP 500 from the server on open is a server error with its status, not "unreachable"', async () => {
    const proxy = await startFaultProxy({ target: env.endpoint });
    try {
      proxy.failNext('HeadBucket', 'error500');
      const err = await openError({ endpoint: proxy.url });
      assert.equal(err.reason, 'server-error');
      assert.match(err.message, new RegExp(`cannot open .*: server error: ${proxy.url.replace(/[.]/g, '\\.')} answered HTTP 500`));
      assert.doesNotMatch(err.message, /unreachable/);
      assert.equal(proxy.stat('HeadBucket').faults, 1);
    } finally {
      await proxy.close();
    }
  });

  test('secrets never appear in errors, logs, the journal or the description', async () => {
    const ssecKey = randomBytes(32).toString('base64');
    const secret = env.secretAccessKey;
    const proxy = await startFaultProxy({ target: env.endpoint, faults: ['error500'], kinds: ['UploadPart'] });
    const s = await tempStateDir('secret');
    const log = memoryLog();
    const store = await openTestStore(env, bucket.name, s.state, {
      endpoint: proxy.url, prefix: 'secret', sseCustomerKey: ssecKey, partSize: 5 * MIB, retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
    }, log);
    const messages: string[] = [store.description];
    try {
      // a failing upload
      proxy.failureRate = 1;
      const w = await store.createBlobWriter();
      for (const c of patternChunks('secret', 11 * MIB)) await w.write(c);
      await w.finish(patternDigest('secret', 11 * MIB), 11 * MIB).catch((e: Error) => messages.push(e.message, String(e.stack), JSON.stringify(e)));
      proxy.failureRate = 0;
      // a read with the wrong SSE-C key
      await store.putSmall('refs/enc', Buffer.from('x'));
      const s2 = await tempStateDir('secret2');
      const wrongKey = randomBytes(32).toString('base64');
      const wrong = await openTestStore(env, bucket.name, s2.state, { prefix: 'secret', sseCustomerKey: wrongKey });
      await wrong.getSmall('refs/enc').then(
        () => assert.fail('reading with the wrong SSE-C key worked'),
        (e: Error) => messages.push(e.message, String(e.stack), JSON.stringify(e)),
      );
      await wrong.close();
      await s2.cleanup();
      // bad credentials
      await withEnv({ AWS_SECRET_ACCESS_KEY: `${secret}-wrong` }, () => openError({ sseCustomerKey: ssecKey })).then((e) => messages.push(e.message, String(e.stack)));
      assert.ok(messages.length >= 8, `expected failures to inspect, got ${messages.length}`);
      const journal = JSON.stringify(s.state.prepare('SELECT * FROM uploads').all()) + JSON.stringify(s.state.prepare('SELECT * FROM parts').all());
      const hay = [...messages, log.text(), journal].join('\n');
      const rawKeyHex = Buffer.from(ssecKey, 'base64').toString('hex');
      for (const needle of [ssecKey, rawKeyHex, secret, env.accessKeyId]) {
        assert.ok(!hay.includes(needle), `a secret leaked: ...${hay.slice(Math.max(0, hay.indexOf(needle) - 80), hay.indexOf(needle) + 20)}`);
      }
      assert.match(messages[1] ?? '', /upload of part \d+ of s3:\/\/.*: failed after 2 attempts: InternalError/);
    } finally {
      for (const k of await bucket.keys('secret/')) await store.delete(k.slice('secret/'.length));
      const ups = [];
      for await (const u of store.listMultipartUploads()) ups.push(u);
      for (const u of ups) await store.abortMultipartUpload(u.key, u.uploadId);
      await store.close();
      await proxy.close();
      await s.cleanup();
    }
  });

  test('ranged reads (streamed, and into one buffer) survive connections that break mid-transfer', async () => {
    const proxy = await startFaultProxy({ target: env.endpoint, faults: ['reset-after', 'error500', 'slowdown'], kinds: ['GetObject'], seed: 7 });
    const s = await tempStateDir('readfault');
    const store = await openTestStore(env, bucket.name, s.state, { endpoint: proxy.url, prefix: 'readfault', retry: { maxAttempts: 30, baseDelayMs: 5, maxDelayMs: 50 } });
    try {
      const digest = patternDigest('rf', 9 * MIB);
      const w = await store.createBlobWriter();
      for (const c of patternChunks('rf', 9 * MIB)) await w.write(c);
      await w.finish(digest, 9 * MIB);
      const whole = Buffer.concat([...patternChunks('rf', 9 * MIB)]);
      proxy.failureRate = 0.5;
      for (let i = 0; i < 5; i++) {
        const want = whole.subarray(MIB * i + 17, MIB * (i + 3));
        const streamed = await streamToBuffer(await store.read(`blobs/sha256/${digest}`, MIB * i + 17, MIB * (i + 3)));
        assert.ok(streamed.equals(want), `read() of range ${i} differs`);
        const direct = await store.readBytes!(`blobs/sha256/${digest}`, MIB * i + 17, MIB * (i + 3));
        assert.ok(direct.equals(want), `readBytes() of range ${i} differs`);
      }
      assert.ok(proxy.stat('GetObject').faults > 0);
      proxy.failureRate = 0;
      // past the end: shorter, never padded
      assert.ok((await store.readBytes!(`blobs/sha256/${digest}`, 9 * MIB - 5, 9 * MIB + 100)).equals(whole.subarray(9 * MIB - 5)));
    } finally {
      proxy.failureRate = 0;
      for (const k of await bucket.keys('readfault/')) await store.delete(k.slice('readfault/'.length));
      await store.close();
      await proxy.close();
      await s.cleanup();
    }
  });
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A TCP server on loopback that accepts connections and never says a word. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const srv: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    port: (srv.address() as { port: number }).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}
