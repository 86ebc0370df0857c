// The paths one layer claims and touches, shared by the unpacker (unpack.ts) and the import
// validator (validateLayer.ts), so both refuse exactly the same duplicates and orderings.
import type { LayerEntry } from './entry.js';

export interface LayerPaths {
  /** Layer paths taken by an entry of this layer (whiteout targets included). */
  claimed: Set<string>;
  /** Layer paths this layer created, and every ancestor of them. */
  touched: Set<string>;
  /** Records p and its ancestors as created by this layer. */
  markTouched(p: string): void;
  /** Takes p for entry e; a path taken twice is a duplicate entry. */
  claim(p: string, e: LayerEntry): void;
}

export function layerPaths(): LayerPaths {
  const claimed = new Set<string>();
  const touched = new Set<string>();
  return {
    claimed,
    touched,
    markTouched(p) {
      for (let q = p; q !== '.' && !touched.has(q); ) {
        touched.add(q);
        const i = q.lastIndexOf('/');
        q = i === -1 ? '.' : q.slice(0, i);
      }
    },
    claim(p, e) {
      if (claimed.has(p)) {
        throw new Error(p === e.path ? 'duplicate entry: the path appears twice in the layer' : `duplicate entry: ${JSON.stringify(p)} appears twice in the layer`);
      }
      claimed.add(p);
    },
  };
}
