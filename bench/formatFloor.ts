// What the blob format alone costs on this machine, with no tree read or written: the part of
// a snapshot or restore that no walk, packer or unpacker can make faster. Run by the benchmarks
// in a fresh process as
//   node dist/bench/formatFloor.js encode TAR          (tar bytes -> frames, zstd, both sha256)
//   node dist/bench/formatFloor.js decode STORE_DIR MANIFEST.json   (blob -> verified tar bytes)
// with the input already in the page cache; the output is discarded. Timed from outside.
import { openSync, fstatSync, readFileSync, readSync } from 'node:fs';
import { createFrameEncoder } from '../src/snapshot/frameEncoder.js';
import { decodeBlob } from '../src/snapshot/frameDecoder.js';
import { openFsStore } from '../src/store/fs.js';
import { blobKey, digestHex, type Manifest } from '../src/store/layout.js';

const [mode, a, b] = process.argv.slice(2);
if (mode === 'encode' && a) {
  const fd = openSync(a, 'r');
  const size = fstatSync(fd).size;
  const enc = createFrameEncoder(async () => {});
  for (let pos = 0; pos < size; ) {
    const { n, wait } = enc.fill(size - pos, (buf, offset, length) => readSync(fd, buf, offset, length, pos));
    pos += n;
    if (wait) await wait;
  }
  await enc.end();
} else if (mode === 'decode' && a && b) {
  const m = JSON.parse(readFileSync(b, 'utf8')) as Manifest;
  const want = {
    key: blobKey(m.blob.digest), blobSize: m.blob.size, blobDigestHex: digestHex(m.blob.digest),
    diffIdHex: digestHex(m.diffId), uncompressedSize: m.uncompressedSize,
  };
  let n = 0;
  for await (const raw of decodeBlob(openFsStore(a), want)) n += raw.length;
  if (n !== m.uncompressedSize) throw new Error(`decoded ${n} bytes, expected ${m.uncompressedSize}`);
} else {
  throw new Error('usage: formatFloor.js encode TAR | decode STORE_DIR MANIFEST.json');
}
