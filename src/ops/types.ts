// The operations layerkeep offers, shared by the CLI (standalone) and the daemon (gRPC).
// Both front ends build an OpsContext and call the functions in src/ops/*.ts.
import type { ObjectStore } from '../store/types.js';
import type { StateDb } from '../state/db.js';
import type { Logger, Progress } from '../log.js';

// Logger and Progress live in the bottom layer (src/log.ts); re-exported for the front ends.
export type { Logger, Progress } from '../log.js';

export interface OpsContext {
  store: ObjectStore;
  state: StateDb;
  log: Logger;
  progress?: Progress;
  /** Host name recorded in manifests. */
  host: string;
}

export interface SnapshotRequest {
  key: string;
  dir: string;
  /** Image the layer sits on, recorded in the manifest (policy checks on restore). */
  image?: { id: string; name?: string };
  /** Include char/block device nodes other than whiteouts. */
  allowDevices?: boolean;
  /** Snapshot even when the metadata index says nothing changed (always a full snapshot). */
  force?: boolean;
  /** Diffs on top of a full snapshot before the next one is full again (default 8; 0: always full). */
  maxDiffs?: number;
  /** Largest share of the full layer (uncompressed) a chain's diffs may add up to (default 0.5). */
  maxDeltaShare?: number;
  /**
   * Treat a regular file as unchanged when only its ctime changed (inode, size, mtime, mode,
   * owner and xattrs equal). For trees that are hard-link copies of the upper dir: link(2)
   * changes every file's ctime but no content.
   */
  ignoreCtime?: boolean;
}

export interface SnapshotResult {
  key: string;
  /** False when the tree was unchanged since the key's last snapshot (nothing uploaded). */
  changed: boolean;
  manifestDigest: string;
  blobDigest: string;
  diffId: string;
  blobSize: number;
  uncompressedSize: number;
  files: number;
  warnings: string[];
  /** 'full': the whole tree; 'diff': changes against the key's previous snapshot. */
  kind?: 'full' | 'diff';
  /** Bytes this snapshot added to the store (layer blob, chunk pack, layer index); 0 if unchanged. */
  storedBytes?: number;
  /** Layers a restore of this snapshot reads (1 for a full snapshot). */
  chainLength?: number;
  /** Why a full snapshot was taken although the key had one. */
  fullReason?: string;
}

export interface RestoreRequest {
  key: string;
  dir: string;
  /**
   * Whether the restored tree becomes the key's baseline on this host (the base of its next
   * diff). 'always' (default: the runtime restores into the container's upper dir); 'auto'
   * (the CLI): only when this host has no baseline for the key yet or `dir` is an upper dir a
   * container of the key uses, so a restore into a scratch dir leaves the live one's alone.
   */
  baseline?: 'always' | 'auto';
  /** Manifest digest (or unique prefix); default: the key's current snapshot. */
  snapshot?: string;
  /** Replace a non-empty target. */
  force?: boolean;
  allowDevices?: boolean;
  /**
   * 'upper' (default): write an overlay upper dir (whiteouts become 0/0 char devices,
   * opaque markers become the opaque xattr) into a temp dir and swap it in atomically.
   * 'apply': apply as an image layer onto an existing tree (e.g. a mounted merged dir):
   * whiteouts delete, opaque markers clear lower content.
   */
  mode?: 'upper' | 'apply';
  /** false: a scratch restore (e.g. for export) that must not become the key's baseline here. */
  remember?: boolean;
}

export interface RestoreResult {
  key: string;
  manifestDigest: string;
  files: number;
  bytes: number;
}
