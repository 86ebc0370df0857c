// Starting `layerkeep serve` for end-to-end tests (Docker and OCI suites) and waiting until it
// answers Health on its socket; its output is kept for failure messages.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, unary } from '../../src/service/client.js';
import { waitFor } from './wait.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export interface ServeProcess {
  proc: ChildProcess;
  logs(): string;
  /** Sends `signal` unless it has exited already, and resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs `layerkeep serve ARGS` and resolves once it answers Health on `socket`. */
export async function startServe(args: string[], socket: string, timeoutMs = 60_000): Promise<ServeProcess> {
  const proc = spawn(process.execPath, [join(REPO, 'dist/src/cli/main.js'), 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const serve: ServeProcess = {
    proc,
    logs: () => out,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
  const gone = (): boolean => proc.exitCode !== null || proc.signalCode !== null;
  try {
    await waitFor(`layerkeep serve to answer on ${socket}`, async () => {
      if (gone()) return true;
      if (!existsSync(socket)) return false;
      const c = createClient({ address: socket });
      try {
        await unary(c, c.Health as never, {}, 1000);
        return true;
      } catch {
        return false;
      } finally {
        c.close();
      }
    }, timeoutMs, 100);
    if (gone()) throw new Error(`layerkeep serve exited ${proc.exitCode ?? proc.signalCode}`);
  } catch (err) {
    await serve.stop('SIGKILL');
    throw new Error(`${(err as Error).message}\n${out}`);
  }
  return serve;
}
