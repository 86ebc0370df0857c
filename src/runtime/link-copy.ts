// A fast, consistent copy of an upper dir taken while dockerd waits (poststop, held DELETE):
// GNU cp -a --link recreates directories (mode, owner, times, xattrs such as the overlay opaque
// marker) and hard-links everything else, whiteout device nodes included, so it costs metadata
// only. The copy survives `docker rm`, which removes the upper dir. Hard links only work within
// one mount (dockerd bind-mounts <data-root>/overlay2 onto itself, so even the same filesystem
// outside that mount gets EXDEV); elsewhere it falls back to a full copy.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseMountinfo } from './mountinfo.js';
import { invalid } from '../errors.js';

export interface LinkCopyResult {
  /** true when files are hard links into the source (they change if the source is written). */
  linked: boolean;
}

export async function linkCopyTree(src: string, dst: string): Promise<LinkCopyResult> {
  const [s, d] = await Promise.all([stat(src), stat(dirname(dst))]);
  if (!s.isDirectory()) throw invalid(`capture source ${src} is not a directory`);
  const linked = s.dev === d.dev && mountOf(src) === mountOf(dirname(dst));
  const args = linked ? ['-a', '--link', '--no-target-directory', src, dst] : ['-a', '--no-target-directory', src, dst];
  await run('cp', args);
  return { linked };
}

/** The mount point a path lives under (longest matching mount point in /proc/self/mountinfo). */
export function mountOf(path: string): string {
  let best = '/';
  for (const m of parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))) {
    const mp = m.mountPoint;
    if ((path === mp || path.startsWith(mp.endsWith('/') ? mp : mp + '/')) && mp.length >= best.length) best = mp;
  }
  return best;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 4000) err += c.toString();
    });
    child.on('error', (e) => reject(new Error(`${cmd} failed to start: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim().split('\n').slice(0, 3).join('; ')}`));
    });
  });
}
