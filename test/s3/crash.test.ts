// Crash test: a child process uploading a 200 MiB blob is SIGKILLed at random moments, again
// and again; each restart resumes. At the end the blob is whole, its digest verifies, and
// little was sent twice (measured by the fault proxy's byte counts).
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import type { UploadRow } from '../../src/upload/journal.js';
import { startFaultProxy } from '../support/faultProxy.js';
import {
  MIB, openTestStore, patternDigest, runChild, type S3TestEnv, sha256OfStream, tempStateDir, type TestBucket, useTestBucket,
} from './helpers.js';

const SIZE = 200 * MIB;
const PART = 5 * MIB;
const CONCURRENCY = 2;
const KILLS = 10;

let env: S3TestEnv;
let bucket: TestBucket;
useTestBucket('crash', (f) => ({ env, bucket } = f));

test(`a 200 MiB upload killed ${KILLS} times at random points resumes each time and re-sends at most one part per kill plus the parts in flight`, async () => {
  const s = await tempStateDir('crash');
  // Slow part uploads down so that an upload spans many kills.
  const proxy = await startFaultProxy({ target: env.endpoint, delayMs: { UploadPart: 1000 } });
  const args = {
    stateDir: s.dir, bucket: bucket.name, prefix: 'crash', endpoint: proxy.url, seed: 'crash', size: SIZE,
    partSize: PART, concurrency: CONCURRENCY, note: '{"key":"crashkey"}',
  };
  const digest = patternDigest('crash', SIZE);
  try {
    let kills = 0;
    const killedAt: number[] = [];
    while (kills < KILLS) {
      // 10 kills x at most ~1.5 s of progress each stays below the ~20 s the upload needs.
      const at = randomInt(300, 2000);
      const r = await runChild(args, at);
      if (r.signal === 'SIGKILL') {
        kills++;
        killedAt.push(at);
        continue;
      }
      assert.fail(`run ${kills + 1} finished (code ${r.code}) before it could be killed at ${at} ms: ${r.stderr}${JSON.stringify(r.events)}`);
    }
    const journaled = s.state.prepare('SELECT count(*) FROM parts').pluck().get();
    const last = await runChild(args);
    assert.equal(last.code, 0, `final run failed: ${last.stderr} ${JSON.stringify(last.events)}`);
    assert.ok(last.events.some((e) => e.finished === digest), JSON.stringify(last.events));

    // The blob is whole and its sha256 verifies.
    const store = await openTestStore(env, bucket.name, s.state, { prefix: 'crash' });
    try {
      assert.deepEqual(await sha256OfStream(await store.read(`blobs/sha256/${digest}`)), { hex: digest, size: SIZE });
      // The journal says done; no temporary object is left.
      const done = s.state.prepare(`SELECT * FROM uploads WHERE blob_digest = ? AND status = 'done'`).all(digest) as UploadRow[];
      assert.equal(done.length, 1);
      assert.deepEqual(await bucket.keys('crash/uploads/'), []);
      // Multipart uploads left on the server are exactly those of interrupted writers the journal
      // still knows (kept for adoption, aborted by resume later or by gc) — nothing unknown.
      const known = new Set((s.state.prepare(`SELECT upload_id FROM uploads WHERE status = 'packing' AND upload_id IS NOT NULL`).pluck().all() as string[]));
      for await (const u of store.listMultipartUploads()) assert.ok(known.has(u.uploadId), `multipart upload ${u.uploadId} unknown to the journal`);
      await store.delete(`blobs/sha256/${digest}`);
    } finally {
      await store.close();
    }

    const sent = proxy.stat('UploadPart').bytesIn;
    const resent = sent - SIZE;
    const bound = kills * (1 + CONCURRENCY) * PART;
    console.log(`# kills at ${killedAt.join(', ')} ms; ${journaled} parts journaled before the last run; sent ${(sent / MIB).toFixed(1)} MiB for a ${SIZE / MIB} MiB blob: re-sent ${(resent / MIB).toFixed(1)} MiB (bound ${bound / MIB} MiB)`);
    assert.ok(resent <= bound, `re-sent ${resent} bytes after ${kills} kills; at most ${bound} allowed`);
  } finally {
    await proxy.close();
    await s.cleanup();
  }
});
