// Writing and reading the extra blobs of an incremental snapshot (layer index, chunk pack):
// seekable zstd like layer blobs, so the same verified reader serves all of them. When the
// store has a keyring attached, every blob written here is encrypted with its write key.
import { createFrameEncoder, type EncodedBlob, type FrameSink } from '../snapshot/frameEncoder.js';
import { decodeBlob } from '../snapshot/frameDecoder.js';
import { keyringOf } from '../snapshot/frameCipher.js';
import { blobKey, digestHex } from '../store/layout.js';
import type { BlobWriter, ObjectStore } from '../store/types.js';
import type { BlobRef } from './format.js';

export interface WrittenBlob {
  ref: BlobRef;
  encoded: EncodedBlob;
  /** The finished writer: the blob that carried the manifest note is released through it once published. */
  writer: BlobWriter;
}

/**
 * Streams what `produce` writes into a new blob. `noteFor` builds, once the blob's digest is
 * known, the manifest JSON journaled with it (the last blob of a snapshot carries it, so a
 * resumed upload can publish the snapshot).
 */
export async function writeBlob(
  store: ObjectStore,
  mediaType: string,
  produce: (out: FrameSink) => Promise<void>,
  noteFor?: (b: WrittenBlob) => string,
): Promise<WrittenBlob> {
  const writer = await store.createBlobWriter();
  try {
    const encoder = createFrameEncoder((bytes) => writer.write(bytes), { encryptWith: keyringOf(store)?.writeKey });
    await produce(encoder);
    const encoded = await encoder.end();
    const ref: BlobRef = {
      digest: `sha256:${encoded.blobDigestHex}`, size: encoded.blobSize, diffId: `sha256:${encoded.diffIdHex}`,
      uncompressedSize: encoded.uncompressedSize, mediaType,
    };
    const written = { ref, encoded, writer };
    await writer.finish(encoded.blobDigestHex, encoded.blobSize, noteFor?.(written));
    return written;
  } catch (err) {
    await writer.abort().catch(() => {});
    throw err;
  }
}

/** The verified decompressed bytes of a blob, for a BlobRef taken from a verified manifest. */
export function blobStream(store: ObjectStore, ref: Pick<BlobRef, 'digest' | 'size' | 'diffId' | 'uncompressedSize'>, onCompressed?: (n: number) => void): AsyncGenerator<Buffer> {
  return decodeBlob(store, {
    key: blobKey(ref.digest), blobSize: ref.size, blobDigestHex: digestHex(ref.digest),
    diffIdHex: digestHex(ref.diffId), uncompressedSize: ref.uncompressedSize,
  }, { onCompressed });
}

/** A small blob read whole (a layer index); refuses anything over `maxBytes` before reading. */
export async function readWholeBlob(store: ObjectStore, ref: BlobRef, maxBytes: number, what: string): Promise<Buffer> {
  if (ref.uncompressedSize > maxBytes) throw new Error(`${what} would decompress to ${ref.uncompressedSize} bytes (limit ${maxBytes}): refusing`);
  const parts: Buffer[] = [];
  for await (const b of blobStream(store, ref)) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}
