// The CLI uses a running daemon for snapshot and restore, and runs standalone without one.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../support/scratch.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

describe('CLI with and without a running daemon', { timeout: 120_000 }, () => {
  const base = tempDir();
  const socket = join(base, 'run/layerkeep.sock');
  const env = {
    ...process.env,
    LAYERKEEP_SOCKET: socket,
    LAYERKEEP_STORE: `file://${join(base, 'store')}`,
    LAYERKEEP_STATE_DIR: join(base, 'state'),
    LAYERKEEP_RUN_DIR: join(base, 'run'),
    LAYERKEEP_DOCKER: 'off',
  };
  const daemon = spawn(process.execPath, [CLI, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let daemonLog = '';
  daemon.stderr.on('data', (d) => { daemonLog += d; });
  after(async () => {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('close', r));
    rmSync(base, { recursive: true, force: true });
  });
  const lk = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...env, ...extraEnv } });

  it('goes through the daemon when it answers', async () => {
    for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(socket), `daemon did not start: ${daemonLog}`);
    const upper = join(base, 'upper');
    mkdirSync(upper);
    writeFileSync(join(upper, 'f'), 'via daemon\n');
    const snap = lk(['snapshot', '--key', 'cli', '--json', upper]);
    assert.equal(snap.status, 0, snap.stderr);
    const out = JSON.parse(snap.stdout);
    assert.equal(out.via, 'daemon');
    assert.equal(out.changed, true);
    const restored = join(base, 'restored');
    const rest = lk(['restore', '--key', 'cli', '--json', restored]);
    assert.equal(rest.status, 0, rest.stderr);
    assert.equal(JSON.parse(rest.stdout).via, 'daemon');
    assert.equal(readFileSync(join(restored, 'f'), 'utf8'), 'via daemon\n');
  });

  it('runs standalone when asked to, or when the daemon is absent', () => {
    const upper = join(base, 'upper');
    const standalone = lk(['snapshot', '--key', 'cli2', '--json', upper], { LAYERKEEP_STANDALONE: '1' });
    assert.equal(standalone.status, 0, standalone.stderr);
    assert.equal(JSON.parse(standalone.stdout).via, undefined);
    const noDaemon = lk(['snapshot', '--key', 'cli3', '--json', upper], { LAYERKEEP_SOCKET: join(base, 'nothing.sock') });
    assert.equal(noDaemon.status, 0, noDaemon.stderr);
    assert.equal(JSON.parse(noDaemon.stdout).via, undefined);
  });
});
