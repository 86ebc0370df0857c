// Freezing a container's cgroup for a crash-consistent capture, with a thaw that is guaranteed.
//
// cgroup v2: write 1 to cgroup.freeze and wait for "frozen 1" in cgroup.events (the kernel
// freezes the tasks asynchronously). cgroup v1 (hybrid hosts where the runtime only uses the v1
// hierarchies): freezer.state FROZEN, wait until it reads FROZEN. Three layers make sure a
// container is never left frozen:
//   1. the freeze is bounded: the caller's work is given a deadline and thaw() runs in finally;
//   2. a record of the frozen cgroup is written to the run dir before the freeze and removed after
//      the thaw, so the next daemon start thaws whatever a killed daemon left frozen;
//   3. a watchdog process (sleep + write "thawed") is started before the freeze and killed after
//      the thaw: it thaws even when the daemon dies and is not restarted.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMountinfo } from '../runtime/mountinfo.js';
import { refused, unavailable } from '../errors.js';

export interface Cgroup {
  /** Absolute path of the cgroup directory. */
  dir: string;
  version: 1 | 2;
}

export class FreezeTimeout extends Error {}

/** The cgroup a process lives in: the v2 one when it has a freezer, else the v1 freezer's. */
export function cgroupOfPid(pid: number, procRoot = '/proc'): Cgroup {
  const lines = readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8').split('\n').filter(Boolean);
  const mounts = parseMountinfo(readFileSync(`${procRoot}/self/mountinfo`, 'utf8'));
  const v2Path = lines.find((l) => l.startsWith('0::'))?.slice(3);
  const v2Mount = mounts.find((m) => m.fsType === 'cgroup2');
  if (v2Path && v2Path !== '/' && v2Mount) {
    const dir = join(v2Mount.mountPoint, v2Path);
    if (existsSync(join(dir, 'cgroup.freeze'))) return { dir, version: 2 };
  }
  const v1 = lines.map((l) => l.split(':')).find((p) => p.length >= 3 && p[1]!.split(',').includes('freezer'));
  const v1Mount = mounts.find((m) => m.fsType === 'cgroup' && m.superOptions.split(',').includes('freezer'));
  if (v1 && v1Mount) {
    const dir = join(v1Mount.mountPoint, v1.slice(2).join(':'));
    if (existsSync(join(dir, 'freezer.state'))) return { dir, version: 1 };
  }
  throw unavailable(`process ${pid} is in no cgroup with a freezer (neither cgroup v2 cgroup.freeze nor the v1 freezer)`);
}

const control = (c: Cgroup): string => join(c.dir, c.version === 2 ? 'cgroup.freeze' : 'freezer.state');
const thawValue = (c: Cgroup): string => (c.version === 2 ? '0' : 'THAWED');

export function isFrozen(c: Cgroup): boolean {
  if (c.version === 2) return /^frozen 1$/m.test(readFileSync(join(c.dir, 'cgroup.events'), 'utf8'));
  return readFileSync(join(c.dir, 'freezer.state'), 'utf8').trim() === 'FROZEN';
}

export function thaw(c: Cgroup): void {
  try {
    writeFileSync(control(c), thawValue(c));
  } catch (e) {
    // a cgroup that is gone (the container exited) has nothing left to thaw
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

const recordDir = (runDir: string): string => join(runDir, 'sync-frozen');
const recordName = (c: Cgroup): string => createHash('sha256').update(c.dir).digest('hex').slice(0, 32) + '.json';

/** Thaws every cgroup a previous daemon recorded as frozen; returns how many. */
export function thawRecorded(runDir: string, onError: (dir: string, e: Error) => void = () => undefined): number {
  const dir = recordDir(runDir);
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    try {
      const rec = JSON.parse(readFileSync(file, 'utf8')) as Partial<Cgroup>;
      // The record is ours (root-only run dir), but check its shape before writing anywhere.
      if (typeof rec.dir !== 'string' || (rec.version !== 1 && rec.version !== 2) || !rec.dir.startsWith('/')) throw new Error('malformed record');
      if (existsSync(rec.dir)) {
        thaw({ dir: rec.dir, version: rec.version });
        n++;
      }
      rmSync(file, { force: true });
    } catch (e) {
      onError(file, e as Error);
      rmSync(file, { force: true });
    }
  }
  return n;
}

export interface FreezeOptions {
  runDir: string;
  /** Longest time the cgroup may stay frozen, freezing included. */
  timeoutMs: number;
}

export interface FreezeStats {
  /** Time from the freeze request until the thaw was written. */
  frozenMs: number;
}

/**
 * Freezes `c`, runs `work(deadline)` while it is frozen, and thaws, whatever happens. The work
 * must give up (throw FreezeTimeout) once Date.now() passes the deadline; if freezing itself
 * takes longer than the timeout the cgroup is thawed and FreezeTimeout thrown.
 */
export async function withFrozen<T>(c: Cgroup, opts: FreezeOptions, work: (deadline: number) => Promise<T>): Promise<{ value: T } & FreezeStats> {
  // Paused by someone else (docker pause): freezing and thawing would unpause it behind their back.
  if (isFrozen(c)) throw refused(`cgroup ${c.dir} is frozen already (paused?); not syncing it now`, { object: c.dir });
  const recDir = recordDir(opts.runDir);
  mkdirSync(recDir, { recursive: true, mode: 0o700 });
  const rec = join(recDir, recordName(c));
  writeFileSync(rec, JSON.stringify(c) + '\n');
  const watchdog = startWatchdog(c, opts.timeoutMs);
  const t0 = performance.now();
  const deadline = Date.now() + opts.timeoutMs;
  let frozenMs = 0;
  let value: T;
  try {
    writeFileSync(control(c), c.version === 2 ? '1' : 'FROZEN');
    while (!isFrozen(c)) {
      if (Date.now() > deadline) throw new FreezeTimeout(`cgroup ${c.dir} did not freeze within ${opts.timeoutMs} ms`);
      if (c.version === 1) writeFileSync(control(c), 'FROZEN'); // v1 may stay FREEZING until asked again
      await sleep(1);
    }
    value = await work(deadline);
  } finally {
    thaw(c);
    frozenMs = performance.now() - t0;
    watchdog?.kill('SIGKILL');
    rmSync(rec, { force: true });
  }
  return { value, frozenMs };
}

/**
 * A detached shell that thaws the cgroup a little after the deadline unless killed first: the
 * thaw survives a daemon killed mid-freeze even if no daemon starts again. Best effort (no sh:
 * the run dir record and the next start still thaw).
 */
function startWatchdog(c: Cgroup, timeoutMs: number): ChildProcess | undefined {
  try {
    const secs = ((timeoutMs + 1000) / 1000).toFixed(3);
    const child = spawn('/bin/sh', ['-c', 'sleep "$1" && printf %s "$2" > "$3"', 'layerkeep-thaw', secs, thawValue(c), control(c)], {
      detached: true, stdio: 'ignore',
    });
    child.on('error', () => undefined);
    child.unref();
    return child;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
