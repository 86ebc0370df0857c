// Shared set-up for the containerd end-to-end tests. They run under test/infra/with-containerd.sh:
// a private containerd in a private mount namespace (own /run), whose environment points
// layerkeep-runc at a layerkeep socket and run dir (LAYERKEEP_TEST_CTRD_LK_*). The daemon started
// here listens there, in the same mount namespace (it restores through the container's root mount).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, unary } from '../../src/service/client.js';
import { REPO, run, sleep, tempDir, type RunResult } from '../oci/helpers.js';

export interface Node {
  dir: string;
  socket: string;
  root: string;
  lkSocket: string;
  lkRunDir: string;
  image: string;
}

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the containerd tests through test/infra/with-containerd.sh (make test-containerd)`);
  return v;
}

/** The containerd with-containerd.sh started. */
export function firstNode(): Node {
  return {
    dir: env('LAYERKEEP_TEST_CONTAINERD_DIR'),
    socket: env('LAYERKEEP_TEST_CONTAINERD_SOCKET'),
    root: env('LAYERKEEP_TEST_CONTAINERD_ROOT'),
    lkSocket: env('LAYERKEEP_TEST_CTRD_LK_SOCKET'),
    lkRunDir: env('LAYERKEEP_TEST_CTRD_LK_RUN_DIR'),
    image: env('LAYERKEEP_TEST_CTRD_IMAGE'),
  };
}

/** A second containerd ("another node": its own root, state, socket and layerkeep run dir) in the same namespace. */
export async function startNode(dir: string): Promise<Node & { stop(): Promise<void> }> {
  const infra = env('LAYERKEEP_TEST_CONTAINERD_INFRA');
  const r = await run('bash', [join(infra, 'containerd-start.sh'), dir], { timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`containerd-start.sh ${dir} failed: ${r.stderr}`);
  const vars = Object.fromEntries([...r.stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
  return {
    dir, socket: vars.LAYERKEEP_TEST_CONTAINERD_SOCKET, root: vars.LAYERKEEP_TEST_CONTAINERD_ROOT,
    lkSocket: vars.LAYERKEEP_TEST_CTRD_LK_SOCKET, lkRunDir: vars.LAYERKEEP_TEST_CTRD_LK_RUN_DIR, image: vars.LAYERKEEP_TEST_CTRD_IMAGE,
    async stop() {
      await run('bash', [join(infra, 'containerd-stop.sh'), dir], { timeoutMs: 120_000 });
    },
  };
}

export function ctr(node: Node, namespace: string, args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return run('ctr', ['--address', node.socket, '-n', namespace, ...args], { timeoutMs });
}

export interface Daemon {
  proc: ChildProcess;
  stateDir: string;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * `layerkeep serve --docker=off` on a node's layerkeep socket and run dir, with the given store
 * and its own state dir; the capture dir is left to its default (on containerd's snapshotter).
 */
export async function startDaemon(node: Node, storeDir: string, stateDir = tempDir('layerkeep-ctrd-state-'), extra: string[] = []): Promise<Daemon> {
  mkdirSync(storeDir, { recursive: true });
  const args = [
    join(REPO, 'dist/src/cli/main.js'), 'serve', `--socket=${node.lkSocket}`, `--run-dir=${node.lkRunDir}`,
    `--store=file://${storeDir}`, `--state-dir=${stateDir}`, `--containerd-root=${node.root}`,
    '--docker=off', '--log-level=debug', ...extra,
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const d: Daemon = {
    proc, stateDir,
    logs: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`layerkeep serve exited ${proc.exitCode}: ${out}`);
    if (existsSync(node.lkSocket)) {
      const c = createClient({ address: node.lkSocket });
      try {
        await unary(c, c.Health as never, {}, 1000);
        c.close();
        return d;
      } catch {
        c.close();
      }
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`layerkeep serve did not answer on ${node.lkSocket} within 30s: ${out}`);
    }
    await sleep(100);
  }
}
