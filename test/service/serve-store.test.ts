// The daemon and its store: a malformed store URL stops `serve` from starting (and creates
// nothing); a location without a store is initialised on the first start, with a log line.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { MARKER_KEY } from '../../src/store/marker.js';
import { tempDir } from '../support/scratch.js';
import { waitFor } from '../support/wait.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function envFor(base: string, store: string): NodeJS.ProcessEnv {
  return {
    ...process.env, LAYERKEEP_SOCKET: join(base, 'run/layerkeep.sock'), LAYERKEEP_STORE: store,
    LAYERKEEP_STATE_DIR: join(base, 'state'), LAYERKEEP_RUN_DIR: join(base, 'run'), LAYERKEEP_DOCKER: 'off',
  };
}

describe('serve and the store', { timeout: 120_000 }, () => {
  it('refuses to start on a malformed store URL', () => {
    const base = tempDir();
    for (const store of ['s3:/oops', 'file://relative/path']) {
      const r = spawnSync(process.execPath, [CLI, 'serve'], { encoding: 'utf8', env: envFor(base, store), cwd: base, timeout: 60_000 });
      assert.notEqual(r.status, 0, `serve started on ${store}`);
      assert.match(r.stderr, /invalid store URL/);
    }
    assert.ok(!existsSync(join(base, 's3:')) && !readdirSync(base).includes('relative'));
  });

  it('initialises a location without a store on its first start, and says so', async () => {
    const base = tempDir();
    const root = join(base, 'store');
    const daemon = spawn(process.execPath, [CLI, 'serve'], { env: envFor(base, `file://${root}`), stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    daemon.stdout.on('data', (d) => { log += d; });
    daemon.stderr.on('data', (d) => { log += d; });
    try {
      await waitFor('the daemon to create its store', () => existsSync(join(root, MARKER_KEY)) && /created a new layerkeep store/.test(log));
      assert.equal(JSON.parse(readFileSync(join(root, MARKER_KEY), 'utf8')).formatVersion, 1);
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('close', r));
    }
  });
});
