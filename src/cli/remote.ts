// When the daemon is running, snapshot and restore go through it (it owns the per-key locks
// and the capture queue, so a CLI snapshot never races a container's stop); the results are
// printed exactly as in standalone mode.
import { resolve } from 'node:path';
import type { ServiceError } from '@grpc/grpc-js';
import type { RestoreProgress__Output } from '../service/generated/layerkeep/v1/RestoreProgress.js';
import type { SnapshotReply__Output } from '../service/generated/layerkeep/v1/SnapshotReply.js';
import type { SyncReply__Output } from '../service/generated/layerkeep/v1/SyncReply.js';
import type { DaemonConnection } from './client.js';
import { unary } from './client.js';
import type { CommandResult } from './commands.js';
import { formatBytes, short } from './output.js';

type Values = Record<string, string | boolean | undefined>;

/** Commands the daemon serves; the others (and any with an explicit --store/--state-dir) run here. */
export const REMOTE_COMMANDS = new Set(['snapshot', 'restore', 'sync']);

function plainError(err: unknown): Error {
  const e = err as ServiceError;
  return new Error(e.details || e.message);
}

export async function runRemote(conn: DaemonConnection, name: string, v: Values, args: string[]): Promise<CommandResult> {
  const c = conn.client;
  if (name === 'snapshot') {
    const r = await unary<object, SnapshotReply__Output>(c, c.Snapshot as never, {
      key: v.key, dir: resolve(args[0]!), force: !!v.force, allowDevices: !!v['allow-devices'],
    }, 24 * 3_600_000).catch((err) => { throw plainError(err); });
    const text = r.changed
      ? `${r.key}: snapshot ${short(r.manifestDigest)} stored (${r.files} entries, ${formatBytes(r.uncompressedSize)} -> ${formatBytes(r.blobSize)})`
      : `${r.key}: unchanged since snapshot ${short(r.manifestDigest)}; nothing uploaded`;
    return { json: { ...r, via: 'daemon' }, text };
  }
  if (name === 'restore') {
    const call = c.Restore({ key: String(v.key ?? ''), snapshot: String(v.snapshot ?? ''), dir: resolve(args[0]!), force: !!v.force, mode: String(v.mode ?? 'upper'), allowDevices: !!v['allow-devices'] });
    let last: RestoreProgress__Output | undefined;
    await new Promise<void>((ok, fail) => {
      call.on('data', (p: RestoreProgress__Output) => { last = p; });
      call.on('error', (err) => fail(plainError(err)));
      call.on('end', () => ok());
    });
    const r = last?.result;
    if (!r) throw new Error('the daemon ended the restore without a result');
    return { json: { ...r, via: 'daemon' }, text: `${r.key}: restored ${short(r.manifestDigest)} into ${args[0]} (${r.files} entries, ${formatBytes(Number(r.bytes))})` };
  }
  if (name === 'sync') {
    if (!v.key === !v.container) throw new Error('layerkeep sync needs exactly one of --key KEY or --container ID');
    const r = await unary<object, SyncReply__Output>(c, c.Sync as never, {
      key: v.key ?? '', containerId: v.container ?? '', noWait: !!v['no-wait'],
    }, 24 * 3_600_000).catch((err) => { throw plainError(err); });
    const text = !r.durable
      ? `${r.key}: captured; the snapshot is being stored`
      : r.changed
        ? `${r.key}: synced ${short(r.manifestDigest)} (frozen ${r.frozenMs.toFixed(1)} ms)`
        : `${r.key}: unchanged since the last sync; nothing uploaded`;
    return { json: { ...r, via: 'daemon' }, text };
  }
  throw new Error(`layerkeep ${name} does not run through the daemon`);
}
