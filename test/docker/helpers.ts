// Shared set-up for the Docker end-to-end tests: the private dockerd started by
// test/infra/dockerd-start.sh (the Makefile runs it and exports its variables), a layerkeep
// daemon process on the socket the runtime wrapper was registered with, and docker CLI calls.
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createClient, type LayerKeepClient } from '../../src/service/client.js';
import { startServe } from '../support/daemon.js';
import { currentSnapshotIn, waitForSnapshotIn } from '../support/refs.js';
import { tempDir } from '../support/scratch.js';

export { REPO } from '../support/daemon.js';
export { tempDir } from '../support/scratch.js';

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
  const serve = await startServe([
    `--socket=${env.socket}`, `--run-dir=${join(env.dockerdDir, 'lk', 'run')}`,
    `--store=${opts.store}`, `--state-dir=${stateDir}`,
    `--docker-host=${env.dockerHost}`, `--docker-root=${env.dockerRoot}`, '--log-level=debug',
    // one capture staging dir per state dir, inside the overlay2 mount so hard links work
    `--capture-dir=${join(env.dockerRoot, 'overlay2', 'layerkeep-captures-' + basename(stateDir))}`,
    ...(opts.extra ?? []),
  ], env.socket);
  const clients: LayerKeepClient[] = [];
  return {
    proc: serve.proc, stateDir, store: opts.store,
    logs: serve.logs,
    client() {
      const c = createClient({ address: env.socket });
      clients.push(c);
      return c;
    },
    async stop(signal = 'SIGTERM') {
      for (const c of clients) c.close();
      return serve.stop(signal);
    },
  };
}

export { sleep, waitFor } from '../support/wait.js';

/** The key's current snapshot digest in the store (file:// stores only), or '' if none. */
export const currentSnapshot = (store: string, key: string): string => currentSnapshotIn(new URL(store).pathname, key);

/** Waits until the key's current snapshot differs from `previous` (a capture landed). */
export const waitForNewSnapshot = (store: string, key: string, previous = '', timeoutMs = 60_000): Promise<string> =>
  waitForSnapshotIn(new URL(store).pathname, key, previous, timeoutMs);

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
