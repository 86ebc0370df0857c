// Against a real S3 server: a prefix without a store is refused by every command but init (and
// nothing is written there), init writes the marker, an older store is adopted, and forget, rm
// and gc --keep change the refs that ls reads.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { MARKER_KEY } from '../../src/store/marker.js';
import { MIB, type TestBucket, useTestBucket } from './helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

let bucket: TestBucket;
useTestBucket('lifecycle', (f) => ({ bucket } = f));
let work: string;
before(async () => { work = await mkdtemp(join(tmpdir(), 'lk-s3life-')); });
after(async () => { if (work) await rm(work, { recursive: true, force: true }); });

interface Run { code: number; stdout: string; stderr: string }
function lk(args: string[], prefix: string): Promise<Run> {
  const full = [...args, '--store', `s3://${bucket.name}/${prefix}`, '--state-dir', join(work, `state-${prefix}`), '--s3-part-size', '5MiB'];
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...full], { env: { ...process.env, LAYERKEEP_STANDALONE: '1' }, maxBuffer: 16 * MIB }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function keysUnder(prefix: string): Promise<string[]> {
  const r = await bucket.client.send(new ListObjectsV2Command({ Bucket: bucket.name, Prefix: `${prefix}/` }));
  return (r.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1)).sort();
}

describe('S3 store marker and lifecycle', () => {
  test('a prefix without a store is refused and left empty; init makes it a store', async () => {
    for (const cmd of [['ls'], ['check'], ['gc'], ['forget', '--key', 'k', '--keep-last', '1']]) {
      const r = await lk([...cmd, '--json'], 'empty');
      assert.equal(r.code, 1, `${cmd[0]}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`no layerkeep store at s3://${bucket.name}/empty[\\s\\S]*layerkeep init`));
    }
    assert.deepEqual(await keysUnder('empty'), []);
    const init = await lk(['init', '--json'], 'empty');
    assert.equal(init.code, 0, init.stderr);
    assert.deepEqual(await keysUnder('empty'), [MARKER_KEY]);
    assert.equal((await lk(['ls'], 'empty')).code, 0);
  });

  test('forget, rm and gc --keep change what ls lists; an unmarked older store is adopted on write', async () => {
    const src = join(work, 'src');
    await mkdir(src, { recursive: true });
    assert.equal((await lk(['init'], 'life')).code, 0);
    const digests: string[] = [];
    for (let i = 0; i < 3; i++) {
      await writeFile(join(src, `f${i}`), `v${i}\n`);
      const r = await lk(['snapshot', '--key', 'app', '--max-diffs', '0', '--json', src], 'life');
      assert.equal(r.code, 0, r.stderr);
      digests.push(JSON.parse(r.stdout).manifestDigest);
    }
    // as made by an older version: no marker; reads work, the first write adopts it
    await bucket.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: `life/${MARKER_KEY}` }));
    const listed = async (): Promise<string[]> => {
      const r = await lk(['ls', '--json'], 'life');
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout).snapshots as { digest: string }[]).map((s) => s.digest).sort();
    };
    assert.deepEqual(await listed(), [...digests].sort());
    assert.ok(!(await keysUnder('life')).includes(MARKER_KEY));

    const f = await lk(['forget', '--key', 'app', '--snapshot', digests[0]!, '--json'], 'life');
    assert.equal(f.code, 0, f.stderr);
    assert.ok((await keysUnder('life')).includes(MARKER_KEY), 'the first write adopted the store');
    assert.deepEqual(await listed(), digests.slice(1).sort());
    const g = await lk(['gc', '--keep', '1', '--grace', '0', '--json'], 'life');
    assert.equal(g.code, 0, g.stderr);
    assert.equal(JSON.parse(g.stdout).deleted.manifests.length, 2);
    assert.deepEqual(await listed(), [digests[2]]);
    assert.equal((await lk(['restore', '--key', 'app', join(work, 'r1')], 'life')).code, 0);

    assert.equal((await lk(['rm', '--key', 'app'], 'life')).code, 0);
    assert.deepEqual(await listed(), []);
    assert.equal(JSON.parse((await lk(['gc', '--grace', '0', '--json'], 'life')).stdout).deleted.manifests.length, 1);
    assert.deepEqual((await keysUnder('life')).filter((k) => k.startsWith('manifests/') || k.startsWith('refs/')), []);
  });
});
