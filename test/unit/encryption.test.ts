// Client-side encryption on the local store: round trips, a wrong or missing key refused with
// the key id named and the target untouched, tampering (a flipped ciphertext byte, frames
// swapped, taken from another blob or dropped, a manifest edited) refused, key rotation with
// chains mixing keys, and `check` finding damaged, missing and unreadable objects.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { check } from '../../src/ops/check.js';
import { closeContext, openContext } from '../../src/ops/context.js';
import { loadKeyring } from '../../src/ops/keys.js';
import { readManifest } from '../../src/ops/manifests.js';
import { restore } from '../../src/ops/restore.js';
import { snapshot } from '../../src/ops/snapshot.js';
import type { OpsContext, SnapshotResult } from '../../src/ops/types.js';
import { attachKeyring, ENCRYPTION_HEADER_SIZE, EncryptionKey, Keyring } from '../../src/snapshot/frameCipher.js';
import { decodeBlob } from '../../src/snapshot/frameDecoder.js';
import { createFrameEncoder } from '../../src/snapshot/frameEncoder.js';
import { encodeSeekTable, type FrameEntry } from '../../src/snapshot/seekTable.js';
import { openFsStore } from '../../src/store/fs.js';
import { blobKey, manifestKey } from '../../src/store/layout.js';
import { describeTree, treeList } from '../support/tree.js';
import { tempDir } from '../support/scratch.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const scratch = (): string => { const d = tempDir('lk-crypt-'); dirs.push(d); return d; };

function keyFile(dir: string, name: string, form: 'raw' | 'hex' | 'base64'): { path: string; secret: Buffer } {
  const secret = randomBytes(32);
  const path = join(dir, name);
  writeFileSync(path, form === 'raw' ? secret : `${secret.toString(form)}\n`, { mode: 0o600 });
  return { path, secret };
}

async function withHost<T>(store: string, state: string, keys: string[], f: (ctx: OpsContext) => Promise<T>): Promise<T> {
  const ctx = await openContext({ store, stateDir: state, encryptionKeyFiles: keys });
  try { return await f(ctx); } finally { await closeContext(ctx); }
}

/** A tree with compressible text, incompressible bytes and a large file (chunked by diffs). */
function makeTree(dir: string, marker: string): void {
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(join(dir, 'etc/secret.conf'), `${marker}\n`.repeat(2000));
  writeFileSync(join(dir, 'random.bin'), randomBytes(300_000));
  writeFileSync(join(dir, 'db'), randomBytes(3 << 20));
}

const storeFiles = (store: string, sub: string): string[] => readdirSync(join(store, sub)).map((f) => join(store, sub, f));
const view = (d: string) => treeList(describeTree(d));

describe('client-side encryption', () => {
  it('round-trips, stores no plaintext, and names the key only by id', async () => {
    const base = scratch();
    const store = join(base, 'store');
    const k = keyFile(base, 'k', 'raw');
    const tree = join(base, 'tree');
    const marker = 'PLAINTEXT-MARKER-7f3a';
    makeTree(tree, marker);
    const r = await withHost(store, join(base, 'a'), [k.path], (ctx) => snapshot(ctx, { key: 'app', dir: tree }));
    const out = join(base, 'out');
    await withHost(store, join(base, 'b'), [k.path], (ctx) => restore(ctx, { key: 'app', dir: out }));
    assert.deepEqual(view(out), view(tree));

    const random = readFileSync(join(tree, 'random.bin')).subarray(1000, 1064);
    const hexKey = k.secret.toString('hex');
    for (const f of [...storeFiles(store, 'blobs/sha256'), ...storeFiles(store, 'manifests'), ...storeFiles(store, 'refs')]) {
      const bytes = readFileSync(f);
      assert.equal(bytes.includes(marker), false, `${f} holds plaintext`);
      assert.equal(bytes.includes(random), false, `${f} holds file bytes`);
      assert.equal(bytes.includes(k.secret) || bytes.includes(hexKey) || bytes.includes(k.secret.toString('base64')), false);
    }
    const m = await withHost(store, join(base, 'b'), [], (ctx) => readManifest(ctx, r.manifestDigest));
    const id = new EncryptionKey(k.secret).id;
    assert.equal(m.encryption?.keyId, id);
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.notEqual(id, createHash('sha256').update(k.secret).digest('hex').slice(0, 16)); // not a plain hash of the key
    // the key serializes as its id only
    const ring = new Keyring([new EncryptionKey(k.secret)]);
    for (const s of [JSON.stringify(ring), inspect(ring), inspect(ring.writeKey), String(ring.writeKey)]) {
      assert.equal(s.includes(hexKey) || s.includes(k.secret.toString('base64')), false);
      assert.ok(s.includes(id));
    }
  });

  it('accepts hex and base64 key files and the environment; refuses a bad key file without echoing it', () => {
    const base = scratch();
    const hex = keyFile(base, 'h', 'hex');
    const b64 = keyFile(base, 'b', 'base64');
    const env = randomBytes(32);
    const ring = loadKeyring({ files: [hex.path, b64.path], env: { LAYERKEEP_ENCRYPTION_KEY: env.toString('base64') } })!;
    assert.deepEqual(ring.keys.map((x) => x.id), [hex.secret, b64.secret, env].map((s) => new EncryptionKey(s).id));
    assert.equal(loadKeyring({ env: {} }), undefined);
    writeFileSync(join(base, 'bad'), 'not-a-key-0123456789');
    assert.throws(() => loadKeyring({ files: [join(base, 'bad')], env: {} }), (e: Error) => /must be 32 raw bytes/.test(e.message) && !e.message.includes('not-a-key'));
  });

  it('refuses a restore without the snapshot\'s key, naming the key id, and leaves the target untouched', async () => {
    const base = scratch();
    const store = join(base, 'store');
    const k1 = keyFile(base, 'k1', 'raw');
    const k2 = keyFile(base, 'k2', 'hex');
    const tree = join(base, 'tree');
    makeTree(tree, 'x');
    await withHost(store, join(base, 'a'), [k1.path], (ctx) => snapshot(ctx, { key: 'app', dir: tree }));
    const target = join(base, 'target');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'mine');
    const before = view(target);
    for (const keys of [[], [k2.path]]) {
      await assert.rejects(withHost(store, join(base, 'b'), keys, (ctx) => restore(ctx, { key: 'app', dir: target, force: true })),
        (e: Error) => e.name === 'EncryptionKeyMissingError' && e.message.includes(new EncryptionKey(k1.secret).id));
      await assert.rejects(withHost(store, join(base, 'b'), keys, (ctx) => restore(ctx, { key: 'app', dir: target, mode: 'apply' })),
        /is encrypted with key/);
      assert.deepEqual(view(target), before);
      assert.deepEqual(readdirSync(base).filter((n) => n.includes('layerkeep')), []);
    }
  });

  it('refuses a blob with a flipped ciphertext byte, and check --read-data reports it', async () => {
    const base = scratch();
    const store = join(base, 'store');
    const k = keyFile(base, 'k', 'raw');
    const tree = join(base, 'tree');
    makeTree(tree, 'y');
    const r = await withHost(store, join(base, 'a'), [k.path], (ctx) => snapshot(ctx, { key: 'app', dir: tree }));
    const blob = join(store, blobKey(r.blobDigest));
    const bytes = readFileSync(blob);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(blob, bytes);
    const target = join(base, 'target');
    await assert.rejects(withHost(store, join(base, 'b'), [k.path], (ctx) => restore(ctx, { key: 'app', dir: target })), /failed authentication/);
    assert.equal(existsSync(target), false);
    const sizesOnly = await withHost(store, join(base, 'b'), [k.path], (ctx) => check(ctx, {}));
    assert.equal(sizesOnly.ok, true); // same size: only reading the data finds it
    const full = await withHost(store, join(base, 'b'), [k.path], (ctx) => check(ctx, { readData: true }));
    assert.equal(full.ok, false);
    assert.deepEqual(full.problems.map((p) => p.object), [blobKey(r.blobDigest)]);
    assert.match(full.problems[0]!.problem, /failed authentication/);
  });

  it('refuses an edited manifest of an encrypted snapshot', async () => {
    const base = scratch();
    const store = join(base, 'store');
    const k = keyFile(base, 'k', 'raw');
    const tree = join(base, 'tree');
    makeTree(tree, 'z');
    const r = await withHost(store, join(base, 'a'), [k.path], (ctx) => snapshot(ctx, { key: 'app', dir: tree }));
    // a bucket writer rewrites the manifest (new digest) and points a snapshot at it
    const m = JSON.parse(readFileSync(join(store, manifestKey(r.manifestDigest)), 'utf8'));
    m.image = { id: 'sha256:evil' };
    const body = Buffer.from(JSON.stringify(m));
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    writeFileSync(join(store, manifestKey(digest)), body);
    await assert.rejects(withHost(store, join(base, 'b'), [k.path], (ctx) => restore(ctx, { key: 'app', snapshot: digest, dir: join(base, 't') })),
      /fails authentication/);
  });

  it('rotates keys: new snapshots use the first key, a chain mixing keys restores with all of them', async () => {
    const base = scratch();
    const store = join(base, 'store');
    const k1 = keyFile(base, 'k1', 'raw');
    const k2 = keyFile(base, 'k2', 'base64');
    const id1 = new EncryptionKey(k1.secret).id;
    const id2 = new EncryptionKey(k2.secret).id;
    const tree = join(base, 'tree');
    makeTree(tree, 'r');
    const state = join(base, 'a');
    const s1 = await withHost(store, state, [k1.path], (ctx) => snapshot(ctx, { key: 'app', dir: tree }));
    writeFileSync(join(tree, 'etc/new'), 'after rotation');
    const db = readFileSync(join(tree, 'db'));
    randomBytes(4096).copy(db, 1 << 20);
    writeFileSync(join(tree, 'db'), db); // a partial edit: the diff references chunks of the k1 layer
    const s2 = await withHost(store, state, [k2.path, k1.path], (ctx) => snapshot(ctx, { key: 'app', dir: tree }));
    assert.equal(s2.kind, 'diff');
    const [m1, m2] = await withHost(store, state, [], async (ctx) => [await readManifest(ctx, s1.manifestDigest), await readManifest(ctx, s2.manifestDigest)]);
    assert.equal(m1!.encryption?.keyId, id1);
    assert.equal(m2!.encryption?.keyId, id2);

    const out = join(base, 'out');
    await withHost(store, join(base, 'b'), [k2.path, k1.path], (ctx) => restore(ctx, { key: 'app', dir: out }));
    assert.deepEqual(view(out), view(tree));
    await assert.rejects(withHost(store, join(base, 'c'), [k2.path], (ctx) => restore(ctx, { key: 'app', dir: join(base, 'out2') })),
      (e: Error) => e.message.includes(id1) && e.message.includes(s1.manifestDigest));
    assert.equal(existsSync(join(base, 'out2')), false);
    // the old snapshot stays readable while its key is configured
    await withHost(store, join(base, 'd'), [k1.path], (ctx) => restore(ctx, { key: 'app', snapshot: s1.manifestDigest, dir: join(base, 'old') }));
    const c = await withHost(store, join(base, 'b'), [k2.path, k1.path], (ctx) => check(ctx, { readData: true }));
    assert.deepEqual(c.problems, []);

    // without the old key this host cannot read the chain: the next snapshot is full, with the new key
    writeFileSync(join(tree, 'etc/newer'), 'x');
    const s3 = await withHost(store, state, [k2.path], (ctx) => snapshot(ctx, { key: 'app', dir: tree }));
    assert.equal(s3.kind, 'full');
    assert.match(s3.fullReason ?? '', new RegExp(`key ${id1}`));
    // turning encryption off starts a new, plaintext chain
    writeFileSync(join(tree, 'etc/newest'), 'y');
    const s4 = await withHost(store, state, [], (ctx) => snapshot(ctx, { key: 'app', dir: tree }));
    assert.equal(s4.kind, 'full');
    assert.match(s4.fullReason ?? '', /encryption was turned off/);
  });

  it('check reports a missing manifest, a missing chunk pack and layer index, and a truncated blob', async () => {
    const base = scratch();
    const store = join(base, 'store');
    const k = keyFile(base, 'k', 'raw');
    const state = join(base, 'a');
    const trees = ['one', 'two', 'three'].map((n) => { const t = join(base, n); makeTree(t, n); return t; });
    const snaps: SnapshotResult[] = [];
    for (const [i, t] of trees.entries()) snaps.push(await withHost(store, state, [k.path], (ctx) => snapshot(ctx, { key: `k${i}`, dir: t })));
    // k0: a diff with a chunk pack
    const db = readFileSync(join(trees[0]!, 'db'));
    randomBytes(8192).copy(db, 2 << 20);
    writeFileSync(join(trees[0]!, 'db'), db);
    const diff = await withHost(store, state, [k.path], (ctx) => snapshot(ctx, { key: 'k0', dir: trees[0]! }));
    const dm = await withHost(store, state, [], (ctx) => readManifest(ctx, diff.manifestDigest));
    assert.ok(dm.chunks, 'the diff stores a chunk pack');
    const clean = await withHost(store, state, [k.path], (ctx) => check(ctx, { readData: true }));
    assert.deepEqual(clean.problems, []);

    unlinkSync(join(store, blobKey(dm.chunks!.digest)));
    unlinkSync(join(store, manifestKey(snaps[1]!.manifestDigest)));
    const m2 = await withHost(store, state, [], (ctx) => readManifest(ctx, snaps[2]!.manifestDigest));
    unlinkSync(join(store, blobKey(m2.index!.digest)));
    const blob2 = join(store, blobKey(m2.blob.digest));
    writeFileSync(blob2, readFileSync(blob2).subarray(0, statSync(blob2).size - 10));

    for (const readData of [false, true]) {
      const r = await withHost(store, state, [], (ctx) => check(ctx, { readData }));
      assert.equal(r.ok, false);
      const by = new Map(r.problems.map((p) => [p.object, p.problem]));
      assert.match(by.get(blobKey(dm.chunks!.digest)) ?? '', /chunk pack is missing/);
      assert.match(by.get(manifestKey(snaps[1]!.manifestDigest)) ?? '', /manifest is missing/);
      assert.match(by.get(blobKey(m2.index!.digest)) ?? '', /layer index is missing/);
      assert.match(by.get(blobKey(m2.blob.digest)) ?? '', /manifest records/);
      if (readData) assert.ok(r.problems.some((p) => /is encrypted with key/.test(p.problem)), 'without the key, --read-data cannot verify');
    }
  });
});

describe('encrypted frames', () => {
  /** An encrypted blob of several frames, stored, with its parts. */
  async function encryptedBlob(store: ReturnType<typeof openFsStore>, key: EncryptionKey, data: Buffer) {
    const parts: Buffer[] = [];
    const enc = createFrameEncoder(async (b) => { parts.push(Buffer.from(b)); }, { frameSize: 64 << 10, encryptWith: key });
    await enc.write(data);
    const e = await enc.end();
    // split what was emitted into header, frames (by the seek table's sizes) and table
    const whole = Buffer.concat(parts);
    const out = [whole.subarray(0, ENCRYPTION_HEADER_SIZE)];
    let at = ENCRYPTION_HEADER_SIZE;
    for (const f of e.frames) { out.push(whole.subarray(at, at + f.compressedSize)); at += f.compressedSize; }
    out.push(whole.subarray(at));
    return { e, parts: out }; // header, frames..., table
  }
  async function put(store: ReturnType<typeof openFsStore>, bytes: Buffer): Promise<string> {
    const hex = createHash('sha256').update(bytes).digest('hex');
    const w = await store.createBlobWriter();
    await w.write(bytes);
    await w.finish(hex, bytes.length);
    return hex;
  }
  async function decode(store: ReturnType<typeof openFsStore>, bytes: Buffer, data: Buffer): Promise<Buffer> {
    const hex = await put(store, bytes); // the blob digest of the tampered blob: only the AEAD can tell
    const out: Buffer[] = [];
    for await (const b of decodeBlob(store, {
      key: blobKey(hex), blobSize: bytes.length, blobDigestHex: hex,
      diffIdHex: createHash('sha256').update(data).digest('hex'), uncompressedSize: data.length,
    })) out.push(Buffer.from(b));
    return Buffer.concat(out);
  }
  const table = (frames: FrameEntry[]) => encodeSeekTable(frames);

  it('decodes its own blobs and refuses swapped, foreign, dropped and flipped frames', async () => {
    const store = openFsStore(join(scratch(), 'store'));
    const key = new EncryptionKey(randomBytes(32));
    attachKeyring(store, new Keyring([key]));
    const data = randomBytes(5 * (64 << 10)); // 5 equal frames
    const a = await encryptedBlob(store, key, data);
    const b = await encryptedBlob(store, key, data);
    assert.equal(a.e.frames.length, 5);
    assert.equal(a.e.keyId, key.id);
    assert.deepEqual(await decode(store, Buffer.concat(a.parts), data), data);
    const [header, ...rest] = a.parts;
    const frames = rest.slice(0, -1);
    const sizes = a.e.frames;

    const swapped = Buffer.concat([header!, frames[1]!, frames[0]!, ...frames.slice(2), table(sizes)]);
    await assert.rejects(decode(store, swapped, data), /frame 0 failed authentication/);
    const foreign = Buffer.concat([header!, b.parts[1]!, ...frames.slice(1), table(sizes)]); // same index, other blob
    await assert.rejects(decode(store, foreign, data), /frame 0 failed authentication/);
    const dropped = Buffer.concat([header!, ...frames.slice(0, 4), table(sizes.slice(0, 4))]);
    await assert.rejects(decode(store, dropped, data.subarray(0, 4 * (64 << 10))), /frame 3 failed authentication/);
    const flipped = Buffer.from(Buffer.concat(a.parts));
    flipped[header!.length + 8 + 100]! ^= 0x80;
    await assert.rejects(decode(store, flipped, data), /frame 0 failed authentication/);
    const otherKey = openFsStore(join(scratch(), 'store'));
    attachKeyring(otherKey, new Keyring([new EncryptionKey(randomBytes(32))]));
    await assert.rejects(decode(otherKey, Buffer.concat(a.parts), data), new RegExp(`encrypted with key ${key.id}`));
  });
});
