// The in-memory description of one layer entry, shared by the walker, the tar writer,
// the tar reader and the unpacker. Paths are relative, '/'-separated, without a leading
// './' or trailing '/', as in an OCI image layer.

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block';

export interface LayerEntry {
  /** Relative path inside the layer, e.g. "etc/passwd" or "var/.wh.cache". */
  path: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Byte length of the content; 0 for everything but regular files. */
  size: number;
  /** Modification time in nanoseconds since the epoch. */
  mtimeNs: bigint;
  /** Symlink target, or for a hardlink the layer path of the entry it links to. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes by full name ("user.foo", "security.capability"); raw values. */
  xattrs: Map<string, Buffer>;
}

/** Names used by the OCI image-layer spec for overlay deletions.
 *  https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts */
export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

/** Longest layer path in bytes that layerkeep writes or reads (the walk leaves deeper entries
 *  out with a warning; the tar reader refuses them). Far past PATH_MAX: paths are resolved
 *  relative to their parent directory, never whole. */
export const MAX_LAYER_PATH_BYTES = 64 * 1024;
