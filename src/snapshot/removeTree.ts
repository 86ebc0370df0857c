// Removes a directory tree without following symlinks: with an explicit stack (a tree may be
// thousands of levels deep; a recursive remove overflows the call stack there) and through a
// DirChain (no path handed to the kernel grows past PATH_MAX). Node's fs.rmSync does neither.
import fs from 'node:fs';
import { DirChain } from './dirChain.js';
import { nameFromBytes, osPath } from './fsName.js';

/** Removes `path` (a directory tree or any other node); nothing there is fine. */
export function removeTree(path: string): void {
  const st = fs.lstatSync(osPath(path), { throwIfNoEntry: false });
  if (!st) return;
  if (!st.isDirectory()) {
    unlinkIfThere(path);
    return;
  }
  const chain = new DirChain(path);
  try {
    // pending[i]: subdirectories of the directory at depth i still to remove
    const pending: string[][] = [clearFiles(chain)];
    while (pending.length > 0) {
      const next = pending[pending.length - 1]!.pop();
      if (next !== undefined) {
        chain.push(next);
        pending.push(clearFiles(chain));
        continue;
      }
      pending.pop();
      if (pending.length === 0) break;
      const name = chain.name;
      chain.pop();
      rmdirIfThere(chain.child(name));
    }
  } finally {
    chain.close();
  }
  rmdirIfThere(path);
}

/** Unlinks every non-directory in the chain's current directory; returns its subdirectories. */
function clearFiles(chain: DirChain): string[] {
  const dirs: string[] = [];
  let names: Buffer[];
  try {
    names = fs.readdirSync(osPath(chain.path), { encoding: 'buffer' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return dirs;
    throw err;
  }
  for (const raw of names) {
    const name = nameFromBytes(raw);
    const p = chain.child(name);
    const st = fs.lstatSync(osPath(p), { throwIfNoEntry: false });
    if (st?.isDirectory()) dirs.push(name);
    else if (st) unlinkIfThere(p);
  }
  return dirs;
}

function unlinkIfThere(p: string): void {
  try {
    fs.unlinkSync(osPath(p));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function rmdirIfThere(p: string): void {
  try {
    fs.rmdirSync(osPath(p));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
