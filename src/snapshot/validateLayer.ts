// What unpacking a layer into a fresh directory would refuse, found without writing anything:
// import runs it before publishing, so a layer in the store is one a restore accepts. The rules
// are unpack.ts's for a fresh root (the tree holds only this layer's entries and the parents
// made for them), checked against an in-memory model of that tree; the messages are the same.
import { WHITEOUT_PREFIX, type LayerEntry } from './entry.js';
import { layerPathComponents } from './safePath.js';
import { TarFormatError, type TarItem } from './tarReader.js';
import { layerPaths } from './layerPaths.js';
import { UnpackError } from './unpack.js';
import { classifyWhiteout } from './whiteout.js';

export interface ValidateOptions {
  /** Accept char/block device entries (a restore does only with --allow-devices). */
  allowDevices?: boolean;
}

type Node = 'dir' | 'file' | 'symlink' | 'other';

const AUFS_META_PREFIX = WHITEOUT_PREFIX + WHITEOUT_PREFIX;

/** Reads every item (bodies drained) and throws what unpackLayer would throw; returns the entry count. */
export async function validateLayer(items: AsyncIterable<TarItem>, opts: ValidateOptions = {}): Promise<number> {
  const nodes = new Map<string, Node>([['.', 'dir']]);
  const { claimed, touched, markTouched, claim } = layerPaths();
  let count = 0;

  /** The parents of an entry: real directories, missing ones made (as resolveDirUnder does). */
  const parents = (comps: string[]): void => {
    let p = '';
    for (const c of comps) {
      p = p ? `${p}/${c}` : c;
      const n = nodes.get(p);
      if (n === undefined) {
        nodes.set(p, 'dir');
        markTouched(p);
      } else if (n === 'symlink') throw new Error(`"${p}" on the way is a symlink`);
      else if (n !== 'dir') throw new Error(`"${p}" on the way is not a directory`);
    }
  };

  const check = (e: LayerEntry): void => {
    if (e.path === '.') {
      if (e.type !== 'dir') throw new Error(`the layer root must be a directory, not a ${e.type}`);
      claim('.', e);
      return;
    }
    const comps = layerPathComponents(e.path);
    const parentComps = comps.slice(0, -1);
    const marker = classifyWhiteout(e);
    if (marker === 'meta' || parentComps.some((c) => c.startsWith(AUFS_META_PREFIX))) return; // skipped by unpack
    if (parentComps.some((c) => c.startsWith(WHITEOUT_PREFIX))) throw new Error('a whiteout name cannot be a directory');
    if (marker !== null) {
      claim(e.path, e);
      if (marker.target !== undefined) {
        if (touched.has(marker.target)) throw new Error(`whiteout of ${JSON.stringify(marker.target)}, which this layer itself creates`);
        claim(marker.target, e);
      }
      parents(parentComps);
      if (marker.target !== undefined) nodes.set(marker.target, 'other'); // the overlay whiteout device
      return;
    }
    claim(e.path, e);
    if ((e.type === 'char' || e.type === 'block') && !opts.allowDevices) {
      throw new Error(`${e.type} device ${e.devmajor ?? 0}:${e.devminor ?? 0} refused (device nodes are not allowed)`);
    }
    if (e.type === 'hardlink') {
      const target = e.linkname as string;
      try {
        layerPathComponents(target);
      } catch (err) {
        throw new Error(`hard link target ${JSON.stringify(target)} refused: ${(err as Error).message}`);
      }
      if (target === e.path) throw new Error('hard link to itself');
      if (nodes.get(target) !== 'file' || !claimed.has(target)) {
        throw new Error(`hard link target ${JSON.stringify(target)} is not an earlier regular file of this layer`);
      }
    }
    parents(parentComps);
    const existing = nodes.get(e.path);
    if (existing !== undefined && !(e.type === 'dir' && existing === 'dir')) {
      throw new Error(`a ${e.type} entry after entries of this layer beneath it`);
    }
    nodes.set(e.path, e.type === 'dir' ? 'dir' : e.type === 'file' || e.type === 'hardlink' ? 'file' : e.type === 'symlink' ? 'symlink' : 'other');
    markTouched(e.path);
  };

  for await (const item of items) {
    try {
      check(item.entry);
    } catch (err) {
      if (err instanceof TarFormatError) throw err;
      throw new UnpackError(`layer entry ${JSON.stringify(item.entry.path)}: ${(err as Error).message}`, { cause: err });
    }
    for await (const _ of item.body) { /* drain: the reader checks the content is all there */ }
    count++;
  }
  return count;
}
