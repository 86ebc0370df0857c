// Does an overlay upper dir hold anything of the container's own? At createRuntime runc and
// dockerd may already have made mount points (and their parent directories) in it; those are
// not user data. Anything else is, and then a restore would overwrite the container's own state.
import { lstat, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';

/** Relative paths (no leading '/') that may exist without counting as user data. */
function allowedPaths(mountDestinations: string[]): Set<string> {
  const allowed = new Set<string>();
  for (const dest of mountDestinations) {
    let p = posix.normalize('/' + dest).replace(/^\/+/, '').replace(/\/+$/, '');
    while (p && p !== '.') {
      allowed.add(p);
      p = posix.dirname(p);
    }
  }
  return allowed;
}

/** First entry that is user data, or null if the upper dir is empty of it. Missing dir = empty. */
export async function firstUserEntry(upperDir: string, mountDestinations: string[] = []): Promise<string | null> {
  const allowed = allowedPaths(mountDestinations);
  async function walk(rel: string): Promise<string | null> {
    let names: string[];
    try {
      names = await readdir(join(upperDir, rel));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && rel === '') return null;
      throw new Error(`cannot read upper dir ${join(upperDir, rel)}: ${(e as Error).message}`);
    }
    for (const name of names) {
      const child = rel ? `${rel}/${name}` : name;
      if (!allowed.has(child)) return child;
      const st = await lstat(join(upperDir, child));
      if (st.isDirectory()) {
        const inner = await walk(child);
        if (inner) return inner;
      }
    }
    return null;
  }
  return walk('');
}
