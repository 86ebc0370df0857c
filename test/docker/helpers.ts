// Shared set-up for the Docker end-to-end tests: the private dockerd started by
// test/infra/dockerd-start.sh (the Makefile runs it and exports its variables), a layerkeep
// daemon process on the socket the runtime wrapper was registered with, and docker CLI calls.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, unary } from '../../src/service/client.js';
import type { LayerKeepClient } from '../../src/service/client.js';

export interface DockerEnv {
  dockerHost: string;
  dockerRoot: string;
  dockerdDir: string;
  socket: string;
  image: string;
}

/** The private dockerd's coordinates; a missing variable fails the test with the reason. */
export function dockerEnv(): DockerEnv {
  const need = ['DOCKER_HOST', 'LAYERKEEP_TEST_DOCKER_ROOT', 'LAYERKEEP_TEST_DOCKERD_DIR', 'LAYERKEEP_TEST_SOCKET', 'LAYERKEEP_TEST_IMAGE'];
  const missing = need.filter((n) => !process.env[n]);
  if (missing.length) {
    throw new Error(`Docker tests need a private dockerd: ${missing.join(', ')} unset. Run them with \`make test-docker\` or \`test/infra/with-dockerd.sh node --test dist/test/docker/\``);
  }
  return {
    dockerHost: process.env.DOCKER_HOST!,
    dockerRoot: process.env.LAYERKEEP_TEST_DOCKER_ROOT!,
    dockerdDir: process.env.LAYERKEEP_TEST_DOCKERD_DIR!,
    socket: process.env.LAYERKEEP_TEST_SOCKET!,
    image: process.env.LAYERKEEP_TEST_IMAGE!,
  };
}

// Temp dirs this test process made (stores, state dirs); removed when it exits.
const tempDirs: string[] = [];
process.on('exit', () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export interface RunResult { code: number; stdout: string; stderr: string }

export function docker(args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(DOCKER, args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      const r = { code, stdout: stdout.toString(), stderr: stderr.toString() };
      if (code !== 0 && !opts.allowFail) reject(new Error(`docker ${args.join(' ')} exited ${code}: ${r.stderr.trim()}`));
      else resolve(r);
    });
  });
}

export const uniq = (prefix: string): string => `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

export interface LayerkeepProcess {
  proc: ChildProcess;
  stateDir: string;
  store: string;
  logs(): string;
  client(): LayerKeepClient;
  /** SIGTERM and wait for exit (graceful) — or SIGKILL. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `layerkeep serve` on the socket the wrapper was registered with, and waits for Health. */
export async function startLayerkeep(env: DockerEnv, opts: { store: string; stateDir?: string; extra?: string[] }): Promise<LayerkeepProcess> {
  const stateDir = opts.stateDir ?? tempDir('layerkeep-state-');
  const args = [
    join(REPO, 'dist/src/cli/main.js'), 'serve',
    `--socket=${env.socket}`, `--run-dir=${join(env.dockerdDir, 'lk', 'run')}`,
    `--store=${opts.store}`, `--state-dir=${stateDir}`,
    `--docker-host=${env.dockerHost}`, `--docker-root=${env.dockerRoot}`, '--log-level=debug',
    // one capture staging dir per state dir, inside the overlay2 mount so hard links work
    `--capture-dir=${join(env.dockerRoot, 'overlay2', 'layerkeep-captures-' + basename(stateDir))}`,
    ...(opts.extra ?? []),
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const clients: LayerKeepClient[] = [];
  const lk: LayerkeepProcess = {
    proc, stateDir, store: opts.store,
    logs: () => out,
    client() {
      const c = createClient({ address: env.socket });
      clients.push(c);
      return c;
    },
    async stop(signal = 'SIGTERM') {
      for (const c of clients) c.close();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`layerkeep serve exited ${proc.exitCode}: ${out}`);
    if (existsSync(env.socket)) {
      const c = createClient({ address: env.socket });
      try {
        await unary(c, c.Health as never, {}, 1000);
        c.close();
        break;
      } catch {
        c.close();
      }
    }
    if (Date.now() > deadline) {
      await lk.stop('SIGKILL');
      throw new Error(`layerkeep serve did not answer on ${env.socket} within 20s: ${out}`);
    }
    await sleep(100);
  }
  return lk;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until fn returns a truthy value, or fails naming what was awaited. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
    await sleep(100);
  }
}

/** The key's current snapshot digest in the store (file:// stores only), or '' if none. */
export function currentSnapshot(store: string, key: string): string {
  const p = join(new URL(store).pathname, 'refs', key);
  if (!existsSync(p)) return '';
  return (JSON.parse(readFileSync(p, 'utf8')) as { current: string }).current;
}

/** Waits until the key's current snapshot differs from `previous` (a capture landed). */
export function waitForNewSnapshot(store: string, key: string, previous = '', timeoutMs = 60_000): Promise<string> {
  return waitFor(`a new snapshot of key ${key}`, () => {
    const cur = currentSnapshot(store, key);
    return cur && cur !== previous ? cur : '';
  }, timeoutMs);
}

/**
 * The file tree a fresh look inside a container shows under the given paths: one line per entry
 * ("path type size"), with each regular file's content, sorted.
 */
export const TREE_SCRIPT = (paths: string[]): string =>
  `for p in $(find ${paths.join(' ')} 2>/dev/null | sort); do ` +
  `if [ -L "$p" ]; then echo "$p link $(readlink "$p")"; elif [ -d "$p" ]; then echo "$p dir"; ` +
  `elif [ -f "$p" ]; then echo "$p file $(cat "$p" | head -c 200)"; else echo "$p other"; fi; done`;

export function fileStore(): string {
  return 'file://' + tempDir('layerkeep-store-');
}
