// What encryption adds to a manifest, and the checks made before any blob of a chain is read.
// Manifests stay plaintext (ls, gc and check work without keys) but an encrypted snapshot's
// manifest names its key by id and carries a MAC under that key over everything else in it: the
// blob digests (over ciphertext), sizes and base chain it names are then as the key's holder
// wrote them, and a manifest swapped or edited in the store is refused before anything is read.
import { type EncryptionKey, EncryptionKeyMissingError, ENCRYPTION_ALGORITHM, keyringOf } from '../snapshot/frameCipher.js';
import { canonicalJson, type Manifest } from '../store/layout.js';

function macOf(key: EncryptionKey, m: Manifest): string {
  const { encryption: _, ...rest } = m;
  return key.mac('manifest', canonicalJson(rest)).toString('hex');
}

/** `m` with its encryption field when the store's keyring encrypts (its blobs were written with `keyId`). */
export function sealManifest<M extends Manifest>(store: object, m: M, keyId: string | undefined): M {
  const ring = keyringOf(store);
  if (!ring || !keyId) {
    if (ring || keyId) throw new Error('internal: a snapshot\'s blobs and manifest disagree on encryption');
    return m;
  }
  const key = ring.get(keyId);
  if (!key) throw new Error(`internal: blobs written with key ${keyId}, which is not configured`);
  const plain = { ...m };
  delete plain.encryption;
  return { ...plain, encryption: { algorithm: ENCRYPTION_ALGORITHM, keyId, mac: macOf(key, plain) } };
}

/**
 * For an encrypted manifest: its key is configured (else a clear error naming the key id) and
 * its MAC verifies. A plaintext manifest passes.
 */
export function checkManifestKey(store: object, digest: string, m: Manifest): void {
  const e = m.encryption;
  if (e === undefined) return;
  if (!e || typeof e !== 'object' || e.algorithm !== ENCRYPTION_ALGORITHM || typeof e.keyId !== 'string' || !/^[0-9a-f]{16}$/.test(e.keyId) ||
    typeof e.mac !== 'string') {
    throw new Error(`snapshot ${digest}: unsupported or malformed encryption field`);
  }
  const key = keyringOf(store)?.get(e.keyId);
  if (!key) throw new EncryptionKeyMissingError(e.keyId, `snapshot ${digest}`);
  if (macOf(key, m) !== e.mac) throw new Error(`snapshot ${digest}: its manifest fails authentication under key ${e.keyId} (altered in the store)`);
}

/** Why a new snapshot cannot continue this chain without reading data it cannot or should not. */
export function encryptionChangeReason(store: object, chain: Manifest[]): string | null {
  const ring = keyringOf(store);
  const last = chain[chain.length - 1];
  if (!last) return null;
  if (!!ring !== !!last.encryption) return ring ? 'encryption was turned on' : 'encryption was turned off';
  const missing = chain.map((m) => m.encryption?.keyId).find((id) => id !== undefined && !ring?.get(id));
  return missing ? `its chain is encrypted with key ${missing}, which is not configured` : null;
}
