// Client-side encryption keys from key files and the environment. A key is 32 bytes: a file
// holds them raw, or as base64 or hex text. Error messages name the file or variable, never
// any byte of what it holds.
import { readFileSync, statSync } from 'node:fs';
import { EncryptionKey, Keyring } from '../snapshot/frameCipher.js';
import { invalid } from '../errors.js';

export interface KeySources {
  /** Key files in order; the first key overall encrypts new snapshots. */
  files?: string[];
  env?: NodeJS.ProcessEnv;
}

function parseKey(bytes: Buffer, where: string): EncryptionKey {
  if (bytes.length === 32) return new EncryptionKey(bytes);
  const text = bytes.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return new EncryptionKey(Buffer.from(text, 'hex'));
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    const b = Buffer.from(text, 'base64');
    if (b.length === 32) return new EncryptionKey(b);
  }
  throw invalid(`${where}: an encryption key must be 32 raw bytes, or 32 bytes as base64 (44 characters) or hex (64 digits)`);
}

function readKeyFile(file: string): EncryptionKey {
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st?.isFile()) throw invalid(`encryption key file ${file}: not a file`);
  if (st.size > 4096) throw invalid(`encryption key file ${file}: too large to be a key`);
  return parseKey(readFileSync(file), `encryption key file ${file}`);
}

/**
 * The keyring from `--encryption-key-file` (repeatable), then LAYERKEEP_ENCRYPTION_KEY_FILE,
 * then LAYERKEEP_ENCRYPTION_KEY (base64 or hex); undefined when none is given (no encryption).
 */
export function loadKeyring(src: KeySources): Keyring | undefined {
  const env = src.env ?? process.env;
  const keys = (src.files ?? []).map(readKeyFile);
  if (env.LAYERKEEP_ENCRYPTION_KEY_FILE) keys.push(readKeyFile(env.LAYERKEEP_ENCRYPTION_KEY_FILE));
  if (env.LAYERKEEP_ENCRYPTION_KEY) keys.push(parseKey(Buffer.from(env.LAYERKEEP_ENCRYPTION_KEY), 'LAYERKEEP_ENCRYPTION_KEY'));
  const unique = keys.filter((k, i) => keys.findIndex((o) => o.id === k.id) === i);
  return unique.length ? new Keyring(unique) : undefined;
}
