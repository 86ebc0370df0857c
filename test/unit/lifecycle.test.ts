// What a store keeps: `gc --keep N` cuts the refs' histories (the truth `ls` and restore read),
// so nothing gc deleted is listed afterwards.
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
});
