// export: a snapshot -> a plain tar or the .tar.zst blob itself (standard tools read both).
// import: an OCI layer tar or tar.zst -> a snapshot (validated entry by entry first).
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, mkdtempSync, openSync, readSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { keyringOf } from '../snapshot/frameCipher.js';
import { createFrameEncoder } from '../snapshot/frameEncoder.js';
import { decodeBlob } from '../snapshot/frameDecoder.js';
import { bufferedSink, packLayer } from '../snapshot/pack.js';
import { readTar } from '../snapshot/tarReader.js';
import { validateLayer } from '../snapshot/validateLayer.js';
import { removeTree } from '../snapshot/removeTree.js';
import { walkUpperDir } from '../snapshot/walk.js';
import { blobKey, canonicalJson, digestHex, LAYER_MEDIA_TYPE, type Manifest, MANIFEST_MEDIA_TYPE, validateKey } from '../store/layout.js';
import { sealManifest } from '../incremental/encryption.js';
import { readManifest, resolveSnapshot } from './manifests.js';
import { restore } from './restore.js';
import { publishWritten } from './publish.js';
import { TOOL } from './snapshot.js';
import type { OpsContext } from './types.js';
import { notFound } from '../errors.js';

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

type ExportResult = { digest: string; bytes: number; format: 'tar' | 'tar.zst' };

export async function exportSnapshot(ctx: OpsContext, opts: { key?: string; snapshot?: string; output: string }): Promise<ExportResult> {
  const digest = await resolveSnapshot(ctx, opts.key, opts.snapshot);
  const m = await readManifest(ctx, digest);
  const compressed = /\.(zst|zstd)$/.test(opts.output);
  const format = compressed ? 'tar.zst' : 'tar';
  // A diff snapshot's own layer is not the whole tree: resolve its chain into a scratch dir and
  // write that as one layer.
  // An encrypted layer is exported decrypted, as a plain OCI layer.
  if (m.kind !== 'full' || (m as { chunks?: unknown }).chunks || m.encryption) {
    return { digest, bytes: await exportResolved(ctx, m.key, digest, opts.output, compressed), format };
  }
  const bytes = await writeOutput(opts.output, async (write) => {
    if (compressed) {
      // the stored blob is already a valid .tar.zst
      let copied = 0;
      for await (const c of await ctx.store.read(blobKey(m.blob.digest))) { copied += (c as Buffer).length; await write(c as Buffer); }
      if (copied !== m.blob.size) throw new Error(`export of ${digest}: copied ${copied} bytes, blob has ${m.blob.size}`);
    } else {
      const tar = decodeBlob(ctx.store, {
        key: blobKey(m.blob.digest), blobSize: m.blob.size, blobDigestHex: digestHex(m.blob.digest),
        diffIdHex: digestHex(m.diffId), uncompressedSize: m.uncompressedSize,
      });
      for await (const c of tar) await write(c);
    }
  }, (n) => ctx.progress?.update('export', n));
  return { digest, bytes, format };
}

async function exportResolved(ctx: OpsContext, key: string, digest: string, output: string, compressed: boolean): Promise<number> {
  const scratch = mkdtempSync(join(output === '-' ? tmpdir() : dirname(resolve(output)), '.layerkeep-export-'));
  try {
    const tree = join(scratch, 'tree');
    await restore(ctx, { key, snapshot: digest, dir: tree, remember: false, allowDevices: true });
    const { entries } = walkUpperDir(tree, { allowDevices: true });
    return await writeOutput(output, async (write) => {
      if (compressed) {
        const enc = createFrameEncoder(write);
        await packLayer(entries, enc);
        await enc.end();
      } else {
        const plain = bufferedSink(write);
        await packLayer(entries, plain);
        await plain.end();
      }
    });
  } finally {
    removeTree(scratch);
  }
}

/**
 * Streams what `produce` writes to stdout ("-") or to a file, through a temp file renamed into
 * place only on success, so a failed export never leaves a partial file under the requested name.
 */
async function writeOutput(output: string, produce: (write: (b: Buffer) => Promise<void>) => Promise<void>, onBytes?: (n: number) => void): Promise<number> {
  let bytes = 0;
  if (output === '-') {
    await produce(async (b) => {
      bytes += b.length;
      if (!process.stdout.write(b)) await new Promise((r) => process.stdout.once('drain', r));
    });
    return bytes;
  }
  const tmp = `${output}.layerkeep-tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    await produce(async (b) => { bytes += b.length; await fh.write(b); onBytes?.(bytes); });
    await fh.sync();
    await fh.close();
    await rename(tmp, output);
    return bytes;
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
}

/** The tar bytes of a local file that holds a tar or any zstd stream (decoded by the zstd CLI). */
function tarStream(file: string): AsyncIterable<Buffer> {
  const head = Buffer.alloc(4);
  const fd = openSync(file, 'r');
  try { readSync(fd, head, 0, 4, 0); } finally { closeSync(fd); }
  if (!head.equals(ZSTD_MAGIC)) return createReadStream(file, { highWaterMark: 1 << 20 });
  const child = spawn('zstd', ['-dcq', '--', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(new Error(`cannot run zstd to read ${file}: ${e.message} (install the zstd package)`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${file}: zstd -d failed: ${stderr.trim() || `exit ${code}`}`))));
  });
  exited.catch(() => {});
  return (async function* () {
    for await (const c of child.stdout as Readable) yield c as Buffer;
    await exited;
  })();
}

export async function importLayer(ctx: OpsContext, opts: { key: string; file: string; takeOver?: boolean; allowDevices?: boolean }): Promise<{ digest: string; files: number; blobSize: number; uncompressedSize: number }> {
  const key = validateKey(opts.key);
  if (!statSync(opts.file, { throwIfNoEntry: false })?.isFile()) throw notFound(`${opts.file}: no such file`);
  // Pass 1: every entry must pass what a restore checks (the reader's checks, then the unpacker's:
  // paths, duplicates, links, whiteouts, devices) before anything is stored: a published layer
  // is one a restore accepts.
  const files = await validateLayer(readTar(tarStream(opts.file), { onWarning: (w) => ctx.log.warn(w, { key }) }), { allowDevices: opts.allowDevices });
  // Pass 2: the same bytes, framed and compressed, become the blob (its diff id is the tar's sha256).
  const writer = await ctx.store.createBlobWriter();
  let blob;
  try {
    const encoder = createFrameEncoder((b) => writer.write(b), { encryptWith: keyringOf(ctx.store)?.writeKey });
    for await (const c of tarStream(opts.file)) await encoder.write(c);
    blob = await encoder.end();
  } catch (err) {
    await writer.abort().catch(() => {});
    throw err;
  }
  const manifest: Manifest = sealManifest(ctx.store, {
    mediaType: MANIFEST_MEDIA_TYPE, schemaVersion: 1, key, created: new Date().toISOString(), host: ctx.host,
    image: null, kind: 'full', base: [], parent: null,
    diffId: `sha256:${blob.diffIdHex}`,
    blob: { digest: `sha256:${blob.blobDigestHex}`, size: blob.blobSize, mediaType: LAYER_MEDIA_TYPE },
    uncompressedSize: blob.uncompressedSize, files,
    frames: { count: blob.frames.length, frameSize: blob.frames[0]?.decompressedSize ?? 0, seekTableSize: blob.seekTableSize },
    treeFingerprint: `sha256:${blob.diffIdHex}`, // no local tree: never matches a walked one
    tool: TOOL,
  }, blob.keyId);
  const json = canonicalJson(manifest).toString('utf8');
  try {
    await writer.finish(blob.blobDigestHex, blob.blobSize, json);
  } catch (err) {
    await writer.abort().catch(() => {});
    throw err;
  }
  const { digest } = await publishWritten(ctx, writer, json, { takeOver: opts.takeOver });
  return { digest, files, blobSize: blob.blobSize, uncompressedSize: blob.uncompressedSize };
}
