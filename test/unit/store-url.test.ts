// A store is created on purpose: malformed store URLs are usage errors naming what is wrong,
// a location without a store is refused by every command but init, and nothing is created on
// the way; stores made before the marker existed are adopted.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseStoreUrl } from '../../src/store/url.js';
import { MARKER_KEY } from '../../src/store/marker.js';
import { tempDir } from '../support/scratch.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
function lk(args: string[], cwd?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd, env: { ...process.env, LAYERKEEP_STANDALONE: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('store URLs', () => {
  it('parses the accepted forms', () => {
    assert.deepEqual(parseStoreUrl('file:///var/lib/x/'), { kind: 'file', root: '/var/lib/x', url: 'file:///var/lib/x' });
    assert.deepEqual(parseStoreUrl('/srv/store'), { kind: 'file', root: '/srv/store', url: 'file:///srv/store' });
    const s3 = parseStoreUrl('s3://my-bucket/a/b/');
    assert.equal(s3.kind, 's3');
    assert.ok(s3.kind === 's3' && s3.bucket === 'my-bucket' && s3.prefix === 'a/b');
  });

  const table: [string, RegExp][] = [
    ['s3:/bucket', /s3: must be followed by \/\//],
    ['s3:bucket', /s3: must be followed by \/\//],
    ['file://relative/path', /followed by the host "relative".*file:\/\/\/relative\/path/],
    ['relative/store', /needs an absolute path/],
    ['./store', /needs an absolute path/],
    ['', /it is empty/],
    ['http://example.com/x', /unsupported scheme "http:"/],
    ['s3://', /bucket name is missing/],
    ['s3://Bad_Bucket/p', /not a valid S3 bucket name/],
    ['s3://bucket:9000/p', /not a host:port/],
    ['s3://key:secret@bucket/p', /credentials do not belong/],
    ['file:///a/../b', /\. or \.\. components/],
    ['file:///a?x=1', /query/],
  ];
  for (const [spec, message] of table) {
    it(`refuses ${JSON.stringify(spec)} as a usage error, creating nothing`, () => {
      assert.throws(() => parseStoreUrl(spec), message);
      const cwd = tempDir();
      const state = join(cwd, 'state');
      for (const cmd of [['ls'], ['snapshot', '--key', 'k', cwd], ['init']]) {
        const r = lk([...cmd, '--store', spec, '--state-dir', state], cwd);
        assert.equal(r.code, 2, `${cmd[0]}: ${r.stderr}`);
        assert.match(r.stderr, /^layerkeep: error: invalid store URL/);
        assert.match(r.stderr, message);
      }
      assert.deepEqual(readdirSync(cwd), [], 'nothing is created');
    });
  }
});

describe('the store marker', { timeout: 120_000 }, () => {
  it('refuses a location without a store in every command but init, and creates nothing', () => {
    const base = tempDir();
    const store = `file://${join(base, 'nostore')}`;
    const state = join(base, 'state');
    mkdirSync(join(base, 'upper'));
    writeFileSync(join(base, 'upper', 'f'), 'x');
    for (const cmd of [['ls'], ['status'], ['check'], ['inspect', `sha256:${'0'.repeat(64)}`], ['gc'], ['snapshot', '--key', 'k', join(base, 'upper')]]) {
      const r = lk([...cmd, '--store', store, '--state-dir', state, '--json']);
      assert.equal(r.code, 1, `${cmd[0]}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`no layerkeep store at ${store}\\nhint: .*layerkeep init`));
      const e = (JSON.parse(r.stdout) as { error: { kind: string; message: string } }).error;
      assert.equal(e.kind, 'not-found');
      assert.match(e.message, /no layerkeep store at/);
    }
    assert.deepEqual(readdirSync(base).sort(), ['upper'], 'neither the store nor the state dir was created');

    const init = lk(['init', '--store', store, '--state-dir', state, '--json']);
    assert.equal(init.code, 0, init.stderr);
    const marker = JSON.parse(readFileSync(join(base, 'nostore', MARKER_KEY), 'utf8'));
    assert.equal(marker.formatVersion, 1);
    assert.match(marker.by, /^layerkeep/);
    assert.ok(!Number.isNaN(Date.parse(marker.created)));
    assert.equal(JSON.parse(init.stdout).created, marker.created);
    // init again keeps the marker
    assert.equal(JSON.parse(lk(['init', '--store', store, '--state-dir', state, '--json']).stdout).created, marker.created);
    const snap = lk(['snapshot', '--store', store, '--state-dir', state, '--key', 'k', join(base, 'upper')]);
    assert.equal(snap.code, 0, snap.stderr);
    assert.equal(lk(['ls', '--store', store, '--state-dir', state]).code, 0);
  });

  it('adopts a store made before markers: reads work, the first write adds the marker', () => {
    const base = tempDir();
    const state = join(base, 'state');
    const root = join(base, 'old');
    mkdirSync(join(base, 'upper'));
    writeFileSync(join(base, 'upper', 'f'), 'x');
    assert.equal(lk(['init', '--store', root, '--state-dir', state]).code, 0);
    assert.equal(lk(['snapshot', '--store', root, '--state-dir', state, '--key', 'k', join(base, 'upper')]).code, 0);
    // as made by an older version: no marker
    spawnSync('rm', [join(root, MARKER_KEY)]);
    const ls = lk(['ls', '--store', root, '--state-dir', state, '--json']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(JSON.parse(ls.stdout).snapshots.length, 1);
    assert.ok(!existsSync(join(root, MARKER_KEY)), 'a read does not write the marker');
    writeFileSync(join(base, 'upper', 'g'), 'y');
    assert.equal(lk(['snapshot', '--store', root, '--state-dir', state, '--key', 'k', join(base, 'upper')]).code, 0);
    assert.ok(existsSync(join(root, MARKER_KEY)), 'the first write adopts the store');
  });
});
