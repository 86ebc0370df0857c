// What the benchmarks share: a generated mixed layer and timing of a child command with its
// peak RSS. Each benchmark generates its own data, so runs are comparable across machines.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export { mulberry32 } from '../test/support/random.js';

/** Log-like text: compresses about as well as real logs and configs do. */
export function textish(n: number): Buffer {
  const words = ['layer', 'keep', 'container', 'state', 'overlay', 'snapshot', 'log', 'INFO', 'request', '200', 'GET', '/api/v1'];
  const parts: string[] = [];
  let len = 0;
  while (len < n) { const w = words[(Math.random() * words.length) | 0]! + (Math.random() < 0.1 ? '\n' : ' '); parts.push(w); len += w.length; }
  return Buffer.from(parts.join('')).subarray(0, n);
}

export interface MixedLayer { small: string[]; large: string[]; random: string[] }

/** ~totalMb of files: 20 % small text files (1-16 KiB), 50 % large text files, 30 % incompressible. */
export function generateMixedLayer(dir: string, totalMb: number): MixedLayer {
  const budget = totalMb << 20;
  const l: MixedLayer = { small: [], large: [], random: [] };
  let used = 0;
  for (let i = 0; used < budget * 0.2; i++) {
    const d = join(dir, `small/${i % 50}/${i % 7}`);
    if (i < 350) mkdirSync(d, { recursive: true });
    const size = 1024 + ((Math.random() * 15 * 1024) | 0);
    const p = join(d, `f${i}.txt`);
    writeFileSync(p, textish(size));
    l.small.push(p);
    used += size;
  }
  mkdirSync(join(dir, 'large'), { recursive: true });
  for (let i = 0; used < budget * 0.7; i++) {
    const size = Math.min(64 << 20, budget * 0.7 - used);
    const p = join(dir, `large/log${i}`);
    writeFileSync(p, textish(size));
    l.large.push(p);
    used += size;
  }
  mkdirSync(join(dir, 'random'), { recursive: true });
  for (let i = 0; used < budget; i++) {
    const size = Math.min(32 << 20, budget - used);
    const p = join(dir, `random/blob${i}`);
    writeFileSync(p, randomBytes(size));
    l.random.push(p);
    used += size;
  }
  return l;
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

/** Runs per measurement (LAYERKEEP_BENCH_RUNS, default 3): the benchmarks report medians. */
export const RUNS = Math.max(1, Number(process.env.LAYERKEEP_BENCH_RUNS ?? 3));

/** One timed run: wall seconds, CPU seconds (user + system, children included), peak RSS. */
export interface Timed { s: number; cpuS: number; rssMiB: number }

/**
 * Runs each command `runs` times, alternating between them so that a noisy stretch of the
 * machine hits all of them alike; `before` runs ahead of every run (clean-up, cache drops).
 * Median wall and CPU time and largest peak RSS per command.
 */
export function timeAlternating(cmds: { cmd: string; args: string[]; before?: () => void }[], runs = RUNS): Timed[] {
  const all = cmds.map(() => [] as Timed[]);
  for (let r = 0; r < runs; r++) {
    cmds.forEach((c, i) => { c.before?.(); all[i]!.push(timeCommand(c.cmd, c.args)); });
  }
  return all.map((xs) => ({ s: median(xs.map((x) => x.s)), cpuS: median(xs.map((x) => x.cpuS)), rssMiB: Math.max(...xs.map((x) => x.rssMiB)) }));
}

/** Wall time of a command, and its CPU time and peak RSS as GNU time reports them. */
export function timeCommand(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Timed {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  // NaN if time printed nothing
  const [rssKiB, user, sys] = (r.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
  return { s, cpuS: user! + sys!, rssMiB: rssKiB! / 1024 };
}

/** Empties the page cache so a read-side measurement starts cold (silently skipped where not permitted). */
export function dropCaches(): void {
  try { execFileSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches']); } catch { /* not permitted */ }
}
