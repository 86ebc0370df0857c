// Shared set-up for the OCI end-to-end tests: a layerkeep daemon of the test's own (file:// store,
// Docker off), a busybox root file system, and runc/podman calls. Temp dirs and overlay mounts
// come from test/support/scratch.ts and are removed (unmounted) when the test process exits.
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, startServe } from '../support/daemon.js';
import { tempDir } from '../support/scratch.js';

export { REPO } from '../support/daemon.js';
export { mountOverlay, tempDir, umount } from '../support/scratch.js';
export { sleep } from '../support/wait.js';
export const HOOK = join(REPO, 'hooks', 'layerkeep-hook');
export const BUSYBOX = '/bin/busybox';

export const uniq = (prefix: string): string => `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/** Fails (never skips) with what to install when a tool the tests drive is missing. */
export function requireTool(name: string, aptPackage: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/sbin', '/bin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`the OCI tests need ${name}: apt-get install ${aptPackage}`);
}

export function requireStaticBusybox(): void {
  if (!existsSync(BUSYBOX)) throw new Error(`the OCI tests need a static ${BUSYBOX}: apt-get install busybox-static`);
  // A dynamically linked ELF names its loader (PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2) near the start.
  const head = readFileSync(BUSYBOX).subarray(0, 4096).toString('latin1');
  if (head.includes('/ld-linux') || head.includes('/ld-musl')) throw new Error(`${BUSYBOX} is dynamically linked: apt-get install busybox-static`);
}

/**
 * A busybox root: /bin/busybox with a link per applet, /etc/image-file.txt ("from-image"),
 * /srv/image-dir/{a,b}.txt, and the mount points runc needs.
 */
export function busyboxRootfs(dir: string): string {
  requireStaticBusybox();
  for (const d of ['bin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'srv/image-dir', 'run']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const applet of execFileSync(BUSYBOX, ['--list']).toString().split('\n')) {
    if (applet && applet !== 'busybox') symlinkSync('busybox', join(dir, 'bin', applet));
  }
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\n');
  writeFileSync(join(dir, 'etc', 'image-file.txt'), 'from-image\n');
  writeFileSync(join(dir, 'srv', 'image-dir', 'a.txt'), 'a\n');
  writeFileSync(join(dir, 'srv', 'image-dir', 'b.txt'), 'b\n');
  return dir;
}

export interface RunResult { code: number; stdout: string; stderr: string }

export function run(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export function mustRun(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  return run(cmd, args, opts).then((r) => {
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r;
  });
}

export interface Daemon {
  proc: ChildProcess;
  socket: string;
  runDir: string;
  storeDir: string;
  /** Hook arguments that point the hook at this daemon. */
  hookArgs: string[];
  logs(): string;
  stop(): Promise<void>;
}

/** `layerkeep serve` with a file:// store, Docker off, everything under one temp dir; waits for Health. */
export async function startDaemon(extra: string[] = []): Promise<Daemon> {
  const base = tempDir('layerkeep-oci-');
  const socket = join(base, 'lk.sock');
  const runDir = join(base, 'run');
  const storeDir = join(base, 'store');
  mkdirSync(storeDir);
  const serve = await startServe([
    `--socket=${socket}`, `--run-dir=${runDir}`,
    `--store=file://${storeDir}`, `--state-dir=${join(base, 'state')}`, `--capture-dir=${join(base, 'captures')}`,
    '--docker=off', '--log-level=debug', ...extra,
  ], socket);
  return {
    proc: serve.proc, socket, runDir, storeDir,
    hookArgs: [`--node=${process.execPath}`, `--socket=${socket}`, `--run-dir=${runDir}`],
    logs: serve.logs,
    async stop() {
      await serve.stop();
    },
  };
}

/** Ref names in a local store (a `<key>.lock` file held during a publish is not a ref). */
export function refNames(storeDir: string): string[] {
  const dir = join(storeDir, 'refs');
  return existsSync(dir) ? readdirSync(dir).filter((n) => !n.endsWith('.lock')) : [];
}

export { currentSnapshotIn as currentSnapshot, waitForSnapshotIn as waitForSnapshot } from '../support/refs.js';

export interface OciHookEntry { path: string; args: string[]; timeout: number }

/** The hook entries a runc/crun bundle's config.json carries (what the README's OCI section shows). */
export function layerkeepHooks(hookArgs: string[]): { createRuntime: OciHookEntry[]; poststop: OciHookEntry[] } {
  return {
    createRuntime: [{ path: HOOK, args: ['layerkeep-hook', 'oci', ...hookArgs], timeout: 600 }],
    poststop: [{ path: HOOK, args: ['layerkeep-hook', 'oci', ...hookArgs], timeout: 30 }],
  };
}

/**
 * A runc bundle in `dir`: config.json from `runc spec`, root = `rootPath` (read-write), the
 * process `sh -c script`, the given annotations and hooks.
 */
export async function writeBundle(runc: string, dir: string, rootPath: string, script: string, opts: { annotations?: Record<string, string>; hooks?: object }): Promise<void> {
  mkdirSync(dir, { recursive: true });
  rmSync(join(dir, 'config.json'), { force: true });
  await mustRun(runc, ['spec', '--bundle', dir]);
  const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { process: { terminal: boolean; args: string[]; env: string[] }; [k: string]: unknown };
  spec.root = { path: rootPath, readonly: false };
  spec.process.terminal = false;
  spec.process.args = ['/bin/sh', '-c', script];
  spec.process.env = ['PATH=/bin'];
  if (opts.annotations) spec.annotations = opts.annotations;
  if (opts.hooks) spec.hooks = opts.hooks;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
}
