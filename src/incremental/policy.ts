// When the next snapshot of a key is full instead of a diff: restore reads a whole chain, so
// its length and the bytes its diffs add on top of the full layer are both bounded.

export const DEFAULT_MAX_DIFFS = 8;
import { invalid } from '../errors.js';
export const DEFAULT_MAX_DELTA_SHARE = 0.5;

export interface CompactionLimits {
  /** Diffs on top of a full layer before the next snapshot is full (0: every snapshot is full). */
  maxDiffs?: number;
  /** Largest (diff bytes / full-layer bytes), uncompressed, a chain may reach. */
  maxDeltaShare?: number;
}

export interface ChainState {
  /** Layers in the base chain (the full one included). */
  length: number;
  fullSize: number;
  deltaSize: number;
}

/** null: a diff is fine; otherwise why the next snapshot must be full. */
export function fullSnapshotReason(base: ChainState, estimatedDiffBytes: number | null, limits: CompactionLimits = {}): string | null {
  const maxDiffs = limits.maxDiffs ?? DEFAULT_MAX_DIFFS;
  const maxShare = limits.maxDeltaShare ?? DEFAULT_MAX_DELTA_SHARE;
  if (base.length - 1 >= maxDiffs) return `the chain already has ${base.length - 1} diff(s) (limit ${maxDiffs})`;
  if (estimatedDiffBytes === null) return null;
  const share = (base.deltaSize + estimatedDiffBytes) / Math.max(1, base.fullSize);
  if (share > maxShare) {
    return `diffs would reach ${(share * 100).toFixed(0)} % of the full layer (limit ${(maxShare * 100).toFixed(0)} %)`;
  }
  return null;
}

export function checkLimits(limits: CompactionLimits): void {
  if (limits.maxDiffs !== undefined && (!Number.isSafeInteger(limits.maxDiffs) || limits.maxDiffs < 0 || limits.maxDiffs > 1000)) {
    throw invalid(`max diffs per chain must be a whole number 0..1000, not ${limits.maxDiffs}`);
  }
  if (limits.maxDeltaShare !== undefined && !(limits.maxDeltaShare > 0 && limits.maxDeltaShare <= 100)) {
    throw invalid(`max delta share must be above 0 (a fraction of the full layer), not ${limits.maxDeltaShare}`);
  }
}
