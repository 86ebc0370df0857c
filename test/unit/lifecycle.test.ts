// What a store keeps: `gc --keep N` cuts the refs' histories (the truth `ls` and restore read),
// so nothing gc deleted is listed afterwards; forget and rm rewrite refs, gc reclaims the bytes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { tempDir } from '../support/scratch.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
function lk(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, LAYERKEEP_STANDALONE: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('gc and ls agree', { timeout: 120_000 }, () => {
  it('gc --keep 1 removes the older snapshots from ls, and the current one still restores', () => {
    const base = tempDir();
    const common = ['--store', join(base, 'store'), '--state-dir', join(base, 'state')];
    assert.equal(lk(['init', ...common]).code, 0);
    const upper = join(base, 'upper');
    mkdirSync(upper);
    const digests: string[] = [];
    for (let i = 0; i < 3; i++) {
      writeFileSync(join(upper, `f${i}`), `v${i}\n`);
      const r = lk(['snapshot', ...common, '--key', 'app', '--max-diffs', '0', '--json', upper]);
      assert.equal(r.code, 0, r.stderr);
      digests.push(JSON.parse(r.stdout).manifestDigest);
    }
    const before = JSON.parse(lk(['ls', ...common, '--json']).stdout).snapshots;
    assert.equal(before.length, 3);

    const g = lk(['gc', ...common, '--keep', '1', '--grace', '0', '--json']);
    assert.equal(g.code, 0, g.stderr);
    assert.equal(JSON.parse(g.stdout).deleted.manifests.length, 2);
    const after = JSON.parse(lk(['ls', ...common, '--json']).stdout).snapshots as { digest: string; current: boolean }[];
    assert.deepEqual(after.map((s) => [s.digest, s.current]), [[digests[2], true]]);
    for (const old of digests.slice(0, 2)) {
      assert.ok(!existsSync(join(base, 'store', 'manifests', `${old.slice(7)}.json`)));
      assert.equal(lk(['restore', ...common, '--key', 'app', '--snapshot', old, join(base, 'r-old')]).code, 1);
    }
    const r = lk(['restore', ...common, '--key', 'app', join(base, 'r')]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(base, 'r', 'f2')));
    // a dry run after that deletes nothing more
    assert.deepEqual(JSON.parse(lk(['gc', ...common, '--keep', '1', '--grace', '0', '--json']).stdout).deleted.manifests, []);
  });

  it('forget --snapshot / --keep-last / --keep-within and rm --key change the ref; gc then reclaims', () => {
    const base = tempDir();
    const common = ['--store', join(base, 'store'), '--state-dir', join(base, 'state')];
    assert.equal(lk(['init', ...common]).code, 0);
    const upper = join(base, 'upper');
    mkdirSync(upper);
    const digests: string[] = [];
    for (let i = 0; i < 4; i++) {
      writeFileSync(join(upper, `f${i}`), `v${i}\n`);
      const r = lk(['snapshot', ...common, '--key', 'app', '--max-diffs', '0', '--keep', '10', '--json', upper]);
      assert.equal(r.code, 0, r.stderr);
      digests.push(JSON.parse(r.stdout).manifestDigest);
    }
    const listed = (): string[] => (JSON.parse(lk(['ls', ...common, '--key', 'app', '--json']).stdout).snapshots as { digest: string }[]).map((s) => s.digest).sort();

    const usage = lk(['forget', ...common, '--key', 'app', '--json']);
    assert.equal(usage.code, 2, 'invalid input is a usage error');
    assert.match(usage.stderr, /exactly one of --snapshot, --keep-last, --keep-within/);
    const cur = lk(['forget', ...common, '--key', 'app', '--snapshot', digests[3]!]);
    assert.equal(cur.code, 2, 'refused as invalid input, nothing changed');
    assert.match(cur.stderr, /is the current snapshot of key app/);

    const one = JSON.parse(lk(['forget', ...common, '--key', 'app', '--snapshot', digests[0]!.slice(7, 19), '--json']).stdout);
    assert.deepEqual(one.forgotten, [digests[0]]);
    assert.deepEqual(listed(), digests.slice(1).sort());
    const last = JSON.parse(lk(['forget', ...common, '--key', 'app', '--keep-last', '2', '--json']).stdout);
    assert.deepEqual(last.forgotten, [digests[1]]);
    assert.deepEqual(listed(), digests.slice(2).sort());
    // everything is younger than a week: nothing goes; with 0s only the current one stays
    assert.deepEqual(JSON.parse(lk(['forget', ...common, '--key', 'app', '--keep-within', '7d', '--json']).stdout).forgotten, []);
    assert.deepEqual(JSON.parse(lk(['forget', ...common, '--key', 'app', '--keep-within', '0s', '--json']).stdout).forgotten, [digests[2]]);
    assert.deepEqual(listed(), [digests[3]]);
    const g = JSON.parse(lk(['gc', ...common, '--grace', '0', '--json']).stdout);
    assert.equal(g.deleted.manifests.length, 3);
    assert.ok(existsSync(join(base, 'store', 'manifests', `${digests[3]!.slice(7)}.json`)));

    const rm = lk(['rm', ...common, '--key', 'app', '--json']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(JSON.parse(rm.stdout).keyRemoved, true);
    assert.deepEqual(JSON.parse(lk(['ls', ...common, '--json']).stdout).snapshots, []);
    assert.equal(lk(['restore', ...common, '--key', 'app', join(base, 'gone')]).code, 1);
    assert.equal(JSON.parse(lk(['gc', ...common, '--grace', '0', '--json']).stdout).deleted.manifests.length, 1);
    assert.equal(lk(['rm', ...common, '--key', 'app']).code, 1, 'removing a key that is gone fails');
    // the key starts afresh: the next snapshot is a full one, not a diff against a removed baseline
    const again = JSON.parse(lk(['snapshot', ...common, '--key', 'app', '--json', upper]).stdout);
    assert.equal(again.changed, true);
    assert.equal(again.kind, 'full');
  });

  it('a restore into a scratch dir leaves the key\'s baseline alone: the live upper dir is still unchanged', () => {
    const base = tempDir();
    const common = ['--store', join(base, 'store'), '--state-dir', join(base, 'state')];
    assert.equal(lk(['init', ...common]).code, 0);
    const upper = join(base, 'upper');
    mkdirSync(upper);
    for (let i = 0; i < 20; i++) writeFileSync(join(upper, `f${i}`), `content ${i}\n`.repeat(1000));
    const first = JSON.parse(lk(['snapshot', ...common, '--key', 'app', '--json', upper]).stdout);
    assert.equal(first.changed, true);
    const r = lk(['restore', ...common, '--key', 'app', join(base, 'scratch')]);
    assert.equal(r.code, 0, r.stderr);
    const again = lk(['snapshot', ...common, '--key', 'app', '--json', upper]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).changed, false, 'the live upper dir is unchanged since its snapshot');
    // a second host (no baseline yet) still continues from what it restored
    const host2 = ['--store', join(base, 'store'), '--state-dir', join(base, 'state2')];
    assert.equal(lk(['restore', ...host2, '--key', 'app', join(base, 'up2')]).code, 0);
    assert.equal(JSON.parse(lk(['snapshot', ...host2, '--key', 'app', '--json', join(base, 'up2')]).stdout).changed, false);
  });
});
