// Object names inside a store, and the JSON documents kept there. The same layout is used
// by every backend:
//   blobs/sha256/<hex>          seekable-zstd OCI layer tar
//   manifests/<hex>.json        snapshot metadata (Manifest), named by sha256 of its bytes
//   refs/<key>                  the key's current snapshot and short history (Ref)

export const LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+zstd';
import { invalid } from '../errors.js';
export const MANIFEST_MEDIA_TYPE = 'application/vnd.layerkeep.snapshot.manifest.v1+json';
export const REF_MEDIA_TYPE = 'application/vnd.layerkeep.ref.v1+json';

const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const HEX_RE = /^[0-9a-f]{64}$/;

/** Keys name refs/<key> objects and DB rows: a conservative character set, no '/'. */
export function validateKey(key: string): string {
  if (!KEY_RE.test(key) || key.endsWith('.lock')) {
    throw invalid(`invalid key ${JSON.stringify(key)}: use 1-128 of [A-Za-z0-9_.-], starting with a letter or digit, not ending in .lock`);
  }
  return key;
}

/** "sha256:<hex>" -> "<hex>", validating the form. */
export function digestHex(digest: string): string {
  const hex = digest.startsWith('sha256:') ? digest.slice(7) : digest;
  if (!HEX_RE.test(hex)) throw invalid(`invalid digest ${JSON.stringify(digest)}: expected sha256:<64 hex digits>`);
  return hex;
}

export const blobKey = (digest: string): string => `blobs/sha256/${digestHex(digest)}`;
export const manifestKey = (digest: string): string => `manifests/${digestHex(digest)}.json`;
export const refKey = (key: string): string => `refs/${validateKey(key)}`;

export interface FrameSummary {
  count: number;
  /** Uncompressed bytes per frame (the last may be shorter). */
  frameSize: number;
  /** Byte length of the trailing seek-table frame. */
  seekTableSize: number;
}

export interface Manifest {
  mediaType: typeof MANIFEST_MEDIA_TYPE;
  schemaVersion: 1;
  key: string;
  created: string;
  host: string;
  image: { id: string; name?: string } | null;
  kind: 'full' | 'diff';
  /** Manifest digests this one applies on top of, oldest first (empty for a full snapshot). */
  base: string[];
  parent: string | null;
  diffId: string;
  blob: { digest: string; size: number; mediaType: string };
  uncompressedSize: number;
  files: number;
  frames: FrameSummary;
  /** sha256 over the sorted metadata index: equal fingerprints mean an unchanged tree. */
  treeFingerprint: string;
  /** The upper dir's own metadata (the tar has no entry for the root). */
  root?: { mode: number; uid: number; gid: number; mtimeNs: string };
  tool: string;
  /**
   * Present when the snapshot's blobs (layer, index, chunk pack) are encrypted on the client:
   * the id of the key (never the key), and a keyed MAC over the rest of the manifest.
   */
  encryption?: ManifestEncryption;
}

export interface ManifestEncryption {
  algorithm: 'AES-256-GCM';
  keyId: string;
  /** HMAC-SHA256 (hex) of the canonical manifest without this field, under a subkey of the key. */
  mac: string;
}

export interface RefHistoryItem { manifest: string; created: string }

export interface Ref {
  mediaType: typeof REF_MEDIA_TYPE;
  key: string;
  current: string;
  generation: number;
  /** Newest first, including current; trimmed to the retention count. */
  history: RefHistoryItem[];
}

/** Canonical JSON (sorted keys, no spaces) so the same document always has the same digest. */
export function canonicalJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(sortKeys(value)));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}
