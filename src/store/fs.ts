// The embedded default store: a local directory with the standard layout. Every write goes
// to a temp file, is fsynced, and is renamed into place (then the directory is fsynced), so
// a crash never leaves a partial object visible. Conditional writes of small objects are
// serialised with an O_EXCL lock file per object.
// Snapshots hold a container's secrets: every file is created 0600 and every directory 0700,
// set explicitly (not left to the umask or the mode of a store dir that already existed).
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { fsyncDir } from '../native/index.js';
import { readAt } from './fileBytes.js';
import { blobKey } from './layout.js';
import { type BlobWriter, type ObjectInfo, type ObjectStore, type PutCondition, PreconditionFailedError } from './types.js';
import { invalid } from '../errors.js';

const LOCK_STALE_MS = 30_000;
const WRITE_BEHIND = 32 << 20;

export function openFsStore(root: string): ObjectStore {
  mkdirPrivate(join(root, 'tmp'));
  removeDeadTemps(join(root, 'tmp'));
  const pathOf = (key: string): string => {
    if (key.split('/').some((c) => c === '' || c === '.' || c === '..')) throw invalid(`invalid object key ${JSON.stringify(key)}`);
    return join(root, ...key.split('/'));
  };
  const tmpPath = (): string => join(root, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);

  async function publish(tmp: string, dest: string): Promise<void> {
    mkdirPrivate(dirname(dest));
    await rename(tmp, dest);
    fsyncDir(dirname(dest));
  }

  async function writeDurably(path: string, body: Buffer): Promise<void> {
    const fh = await open(path, 'wx', FILE_MODE);
    try {
      await fh.chmod(FILE_MODE);
      await fh.writeFile(body);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  return {
    description: `file://${root}`,

    async createBlobWriter(): Promise<BlobWriter> {
      const tmp = tmpPath();
      const fh = await open(tmp, 'wx', FILE_MODE);
      await fh.chmod(FILE_MODE);
      let closed = false;
      // Write-behind: flush every WRITE_BEHIND bytes while the blob is still being produced,
      // so the fsync that makes it durable at the end has little left to do.
      let unsynced = 0;
      let syncing: Promise<void> | null = null;
      const close = async () => { if (!closed) { closed = true; await syncing?.catch(() => {}); await fh.close(); } };
      return {
        async write(chunk) {
          await fh.write(chunk);
          unsynced += chunk.length;
          if (unsynced >= WRITE_BEHIND && !syncing) {
            unsynced = 0;
            syncing = fh.datasync().finally(() => { syncing = null; });
            syncing.catch(() => {}); // the final sync reports a failing disk
          }
        },
        async finish(digestHex, size) {
          await syncing?.catch(() => {});
          await fh.sync();
          await close();
          const st = await stat(tmp);
          if (st.size !== size) throw new Error(`blob ${digestHex}: wrote ${st.size} bytes, expected ${size}`);
          const dest = pathOf(blobKey(digestHex));
          if (existsSync(dest)) {
            // same content already stored: refresh its mtime so gc's grace period covers the new user
            await unlink(tmp);
            const now = new Date();
            await utimes(dest, now, now);
            return;
          }
          await publish(tmp, dest);
        },
        async abort() { await close().catch(() => {}); await rm(tmp, { force: true }); },
      };
    },

    async read(key, start, end): Promise<Readable> {
      const p = pathOf(key);
      if (end !== undefined && end <= (start ?? 0)) return Readable.from([]);
      await stat(p); // fail with ENOENT now rather than on the first read
      return createReadStream(p, { start, end: end === undefined ? undefined : end - 1, highWaterMark: 1 << 20 });
    },

    async readBytes(key, start, end): Promise<Buffer> {
      const fh = await open(pathOf(key), 'r');
      try {
        return await readAt(fh, start, end);
      } finally {
        await fh.close();
      }
    },

    async head(key): Promise<ObjectInfo | null> {
      try {
        const st = await stat(pathOf(key));
        return { key, size: st.size, modified: st.mtime };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },

    // A string prefix, as in S3: walk the deepest directory it names, then filter.
    async *list(prefix): AsyncIterable<ObjectInfo> {
      const dir = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
      const walk = async function* (rel: string): AsyncGenerator<ObjectInfo> {
        let names: string[];
        try { names = (await readdir(join(root, rel))).sort(); } catch { return; }
        for (const n of names) {
          if (!rel && n === 'tmp') continue; // in-progress writes are not objects
          const childRel = rel ? `${rel}/${n}` : n;
          const st = await stat(join(root, childRel)).catch(() => null);
          if (!st) continue;
          if (st.isDirectory()) yield* walk(childRel);
          else if (!n.endsWith('.lock')) yield { key: childRel.split(sep).join('/'), size: st.size, modified: st.mtime };
        }
      };
      for await (const o of walk(dir)) if (o.key.startsWith(prefix)) yield o;
    },

    async delete(key) {
      await rm(pathOf(key), { force: true });
    },

    async getSmall(key) {
      try {
        const body = await readFile(pathOf(key));
        return { body, etag: etagOf(body) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },

    async putSmall(key, body, condition?: PutCondition) {
      const dest = pathOf(key);
      mkdirPrivate(dirname(dest));
      const tmp = tmpPath();
      await writeDurably(tmp, body);
      const unlock = condition ? await lock(`${dest}.lock`) : () => {};
      try {
        if (condition) {
          const current = existsSync(dest) ? etagOf(readFileSync(dest)) : null;
          if ('ifNoneMatch' in condition && current !== null) throw new PreconditionFailedError(key, `${key} already exists`);
          if ('ifMatch' in condition && current !== condition.ifMatch) {
            throw new PreconditionFailedError(key, `${key} changed since it was read`);
          }
        }
        await publish(tmp, dest);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      } finally {
        unlock();
      }
      return { etag: etagOf(body) };
    },

    async close() {},
  };
}

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/** mkdir -p whose every new directory is 0700 whatever the umask; existing ones are left as they are. */
function mkdirPrivate(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  if (first === undefined) return;
  for (let d = dir; ; d = dirname(d)) {
    chmodSync(d, DIR_MODE);
    if (d === first || dirname(d) === d) break;
  }
}

/** Temp files are named "<pid>-<random>": those of processes that died mid-write are garbage. */
function removeDeadTemps(dir: string): void {
  for (const name of readdirSync(dir)) {
    const pid = Number(name.split('-')[0]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try { process.kill(pid, 0); } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(dir, name), { force: true });
    }
  }
}

function etagOf(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 32);
}

/** An O_EXCL lock file holding our pid; a lock left by a dead process (or older than 30 s) is broken. */
async function lock(path: string): Promise<() => void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx', FILE_MODE);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (isStale(path)) { rmSync(path, { force: true }); continue; }
      if (attempt > 1000) throw new Error(`timed out waiting for lock ${path}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

function isStale(path: string): boolean {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    if (pid > 0) {
      try { process.kill(pid, 0); } catch { return true; }
    }
    const age = Date.now() - statSync(path).mtimeMs;
    return age > LOCK_STALE_MS;
  } catch {
    return false;
  }
}
