// The CLI's commands: option specs (with the help text for each flag) and a run function each,
// over src/ops. Per-command help is generated from these specs, so it lists every flag.
import { check } from '../ops/check.js';
import { gc } from '../ops/gc.js';
import { inspect as inspectSnapshot } from '../ops/inspect.js';
import { listSnapshots } from '../ops/list.js';
import { restore } from '../ops/restore.js';
import { snapshot } from '../ops/snapshot.js';
import { clearFailedCaptures, status } from '../ops/status.js';
import { exportSnapshot, importLayer } from '../ops/transfer.js';
import type { StoreMode } from '../ops/context.js';
import type { OpsContext } from '../ops/types.js';
import { UsageError, unavailable } from '../errors.js';
import { parseDuration } from '../units.js';
import { LIFECYCLE_COMMANDS } from './lifecycle.js';
import { formatBytes, short } from './output.js';
import { join } from 'node:path';
import { DEFAULT_STATE_DIR } from '../state/db.js';
import { listSyncRecords } from '../sync/sync.js';

export interface CommandResult {
  json: Record<string, unknown>;
  text?: string;
  exitCode?: number;
  /** stdout carries data (export -o -): the result goes to stderr so it never mixes in */
  resultToStderr?: boolean;
}

type Values = Record<string, string | boolean | undefined>;

/** One flag: its parser type, and what help says about it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** placeholder for the value in help ("KEY", "DURATION") */
  arg?: string;
  help: string;
  /** the default, as help shows it */
  default?: string;
}

export interface CommandSpec {
  usage: string;
  /** Writes to the store: unfinished uploads from earlier runs are resumed first. */
  writes?: boolean;
  summary: string;
  positionals: number;
  options: Record<string, OptionSpec>;
  run(ctx: OpsContext, v: Values, args: string[]): Promise<CommandResult>;
  /** How the store must exist (ops/context.ts); default: write for writing commands, else read. */
  storeMode?: StoreMode;
}

/** Options every store command takes. */
export const COMMON: Record<string, OptionSpec> = {
  store: { type: 'string', arg: 'URL', help: 'the store: file:///DIR or s3://BUCKET/PREFIX (env LAYERKEEP_STORE)', default: 'file:///var/lib/layerkeep/store' },
  'state-dir': { type: 'string', arg: 'DIR', help: 'local state of this host (env LAYERKEEP_STATE_DIR)', default: '/var/lib/layerkeep/state' },
  json: { type: 'boolean', help: 'print one JSON object on stdout (errors too: {"error":{kind,message,hint}})' },
  quiet: { type: 'boolean', short: 'q', help: 'print only errors' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  's3-region': { type: 'string', arg: 'REGION', help: 'S3 region (env AWS_REGION)', default: 'us-east-1' },
  's3-endpoint': { type: 'string', arg: 'URL', help: 'S3 endpoint for S3-compatible servers, http(s)://HOST:PORT' },
  's3-part-size': { type: 'string', arg: 'SIZE', help: 'multipart part size, 5MiB..5GiB (bare number = bytes)', default: '16MiB' },
  's3-concurrency': { type: 'string', arg: 'N', help: 'parts uploaded in parallel', default: '4' },
  's3-storage-class': { type: 'string', arg: 'CLASS', help: 'storage class of new objects (e.g. STANDARD_IA)' },
  's3-sse': { type: 'string', arg: 'AES256|aws:kms', help: 'server-side encryption of new objects' },
  's3-sse-kms-key-id': { type: 'string', arg: 'ID', help: 'KMS key for --s3-sse aws:kms' },
  's3-sse-c-key-file': { type: 'string', arg: 'FILE', help: 'SSE-C customer key (32 bytes, raw or base64)' },
  's3-checksum': { type: 'string', arg: 'when_supported|when_required', help: 'when to send request checksums', default: 'when_supported' },
  's3-path-style': { type: 'string', arg: 'true|false', help: 'path-style bucket addressing', default: 'true with --s3-endpoint' },
  's3-max-attempts': { type: 'string', arg: 'N', help: 'attempts per S3 request before giving up' },
  's3-max-retry-time': { type: 'string', arg: 'DURATION', help: 'longest time to retry one S3 operation (bare number = seconds)' },
  's3-request-timeout': { type: 'string', arg: 'DURATION', help: 'timeout of one S3 request (bare number = seconds)' },
  's3-staging-dir': { type: 'string', arg: 'DIR', help: 'where upload staging files live', default: 'STATE-DIR/staging' },
  'encryption-key-file': { type: 'string', multiple: true, arg: 'FILE', help: 'client-side encryption key (32 bytes raw, base64 or hex); repeatable: the first encrypts, all decrypt (env LAYERKEEP_ENCRYPTION_KEY[_FILE])' },
};

const str = (v: Values, k: string): string | undefined => v[k] as string | undefined;
function need(v: Values, k: string): string {
  const s = str(v, k);
  if (!s) throw new UsageError(`--${k} is required`);
  return s;
}
/** A duration flag (units.ts: "90s", "15m", "24h", "7d"; a bare number is seconds) -> ms. */
function duration(v: Values, k: string): number | undefined {
  const s = str(v, k);
  if (s === undefined) return undefined;
  try {
    return parseDuration(s, `--${k}`);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function int(v: Values, k: string): number | undefined {
  const s = str(v, k);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${k} must be a positive whole number, got ${JSON.stringify(s)}`);
  return n;
}

/** Export formats by the output's name; anything else is refused rather than written as a
 *  plain tar under a misleading name. */
function checkExportName(out: string): void {
  if (out === '-' || /\.(tar|tar\.zst|tar\.zstd|tzst)$/.test(out)) return;
  if (/\.(tgz|gz|gzip)$/.test(out)) {
    throw new UsageError(`cannot write ${out}: export writes .tar or .tar.zst, not gzip`, { hint: `use -o - | gzip > ${out}, or name the file .tar or .tar.zst`, object: out });
  }
  throw new UsageError(`cannot write ${out}: unknown extension (export writes .tar, or .tar.zst compressed)`, { hint: 'name the file .tar or .tar.zst, or use - for stdout', object: out });
}

const KEY: OptionSpec = { type: 'string', arg: 'KEY', help: 'the key (a name for one container\'s state)' };
const SNAPSHOT: OptionSpec = { type: 'string', arg: 'DIGEST', help: 'a snapshot digest or unique prefix of at least 4 hex digits', default: 'the key\'s current snapshot' };
const ALLOW_DEVICES: OptionSpec = { type: 'boolean', help: 'keep device nodes (left out with a warning otherwise)' };

export const COMMANDS: Record<string, CommandSpec> = {
  ...LIFECYCLE_COMMANDS,
  snapshot: {
    usage: 'snapshot --key KEY [--force] [--take-over] [--keep N] [--max-diffs N] [--max-delta-share PCT] [--ignore-ctime] [--allow-devices] DIR',
    summary: 'snapshot an overlay upper dir into the store',
    writes: true,
    positionals: 1,
    options: {
      key: KEY,
      force: { type: 'boolean', help: 'snapshot even if nothing changed since this host\'s last snapshot' },
      'take-over': { type: 'boolean', help: 'make this snapshot current even if another host advanced the key' },
      keep: { type: 'string', arg: 'N', help: 'snapshots of the key kept in its history', default: '3' },
      'max-diffs': { type: 'string', arg: 'N', help: 'diffs allowed in a chain before a full snapshot (0 = always full)', default: '8' },
      'max-delta-share': { type: 'string', arg: 'PCT', help: 'a diff larger than this percentage of the full layer becomes a full snapshot', default: '50' },
      'ignore-ctime': { type: 'boolean', help: 'decide "changed" without ctime (for trees copied with preserved mtimes)' },
      'allow-devices': ALLOW_DEVICES,
    },
    async run(ctx, v, [dir]) {
      const maxDiffs = str(v, 'max-diffs');
      const share = str(v, 'max-delta-share');
      if (maxDiffs !== undefined && !/^\d+$/.test(maxDiffs)) throw new UsageError('--max-diffs must be a whole number (0 = always full)');
      if (share !== undefined && !/^\d+(\.\d+)?$/.test(share)) throw new UsageError('--max-delta-share must be a percentage');
      const r = await snapshot(ctx, {
        key: need(v, 'key'), dir: dir!, force: !!v.force, takeOver: !!v['take-over'], keep: int(v, 'keep'),
        allowDevices: !!v['allow-devices'], ignoreCtime: !!v['ignore-ctime'],
        maxDiffs: maxDiffs === undefined ? undefined : Number(maxDiffs),
        maxDeltaShare: share === undefined ? undefined : Number(share) / 100,
      });
      const text = r.changed
        ? `${r.key}: ${r.kind} snapshot ${short(r.manifestDigest)} stored (${r.files} entries, ${formatBytes(r.storedBytes ?? r.blobSize)} added` +
          `${r.kind === 'diff' ? `, chain of ${r.chainLength}` : ''})${r.fullReason ? ` — full: ${r.fullReason}` : ''}`
        : `${r.key}: unchanged since snapshot ${short(r.manifestDigest)}; nothing uploaded`;
      return { json: { ...r }, text };
    },
  },
  restore: {
    usage: 'restore --key KEY [--snapshot DIGEST] [--force] [--mode upper|apply] [--allow-devices] DIR',
    summary: 'restore a snapshot into a directory',
    positionals: 1,
    options: {
      key: KEY, snapshot: SNAPSHOT,
      force: { type: 'boolean', help: 'replace the contents of a non-empty DIR' },
      mode: { type: 'string', arg: 'upper|apply', help: 'upper: DIR becomes the upper dir; apply: apply the layer onto a live tree', default: 'upper' },
      'allow-devices': ALLOW_DEVICES,
    },
    async run(ctx, v, [dir]) {
      const mode = str(v, 'mode') ?? 'upper';
      if (mode !== 'upper' && mode !== 'apply') throw new UsageError(`--mode must be upper or apply, got ${JSON.stringify(mode)}`);
      if (!v.key && !v.snapshot) throw new UsageError('--key or --snapshot is required');
      const r = await restore(ctx, {
        key: str(v, 'key')!, snapshot: str(v, 'snapshot'), dir: dir!, force: !!v.force, mode,
        allowDevices: !!v['allow-devices'], baseline: 'auto',
      });
      return { json: { ...r }, text: `${r.key}: restored ${short(r.manifestDigest)} into ${dir} (${r.files} entries, ${formatBytes(r.bytes)})` };
    },
  },
  ls: {
    usage: 'ls [--key KEY]',
    summary: 'list keys and their snapshots',
    positionals: 0,
    options: { key: { ...KEY, help: 'list only this key' } },
    async run(ctx, v) {
      const rows = await listSnapshots(ctx, str(v, 'key'));
      const header = `  ${'KEY'.padEnd(24)} ${'SNAPSHOT'.padEnd(12)}  ${'CREATED'.padEnd(19)}  KIND CHAIN  ${'OWN'.padStart(10)}  ${'RESTORE'.padStart(10)}  ${'FILES'.padStart(7)}  HOST`;
      const lines = rows.map((r) =>
        `${r.current ? '*' : ' '} ${r.key.padEnd(24)} ${short(r.digest)}  ${r.created.slice(0, 19).replace('T', ' ')}  ${r.kind.padEnd(4)} ${String(r.chainLength).padStart(5)}  ` +
        `${formatBytes(r.ownSize).padStart(10)}  ${formatBytes(r.restoreSize).padStart(10)}  ${String(r.files).padStart(7)}  ${r.source === 'local' ? `(not current: ${r.status})` : r.host}`);
      return { json: { snapshots: rows }, text: lines.length ? [header, ...lines].join('\n') : 'no snapshots' };
    },
  },
  inspect: {
    usage: 'inspect DIGEST',
    summary: 'show a snapshot\'s manifest and frame table',
    positionals: 1,
    options: {},
    async run(ctx, _v, [digest]) {
      const r = await inspectSnapshot(ctx, digest!);
      return { json: { ...r }, text: JSON.stringify(r, null, 2) };
    },
  },
  export: {
    usage: 'export --key KEY [--snapshot DIGEST] -o FILE',
    summary: 'write a snapshot as a plain tar, or .tar.zst by extension (- for stdout)',
    positionals: 0,
    options: { key: KEY, snapshot: SNAPSHOT, output: { type: 'string', short: 'o', arg: 'FILE', help: 'FILE.tar (plain tar), FILE.tar.zst (the stored blob) or - (plain tar on stdout)' } },
    async run(ctx, v) {
      if (!v.key && !v.snapshot) throw new UsageError('--key or --snapshot is required');
      const output = need(v, 'output');
      checkExportName(output);
      const r = await exportSnapshot(ctx, { key: str(v, 'key'), snapshot: str(v, 'snapshot'), output });
      return { resultToStderr: output === '-', json: { ...r }, text: r.format && v.output !== '-' ? `exported ${short(r.digest)} to ${v.output} (${r.format}, ${formatBytes(r.bytes)})` : undefined };
    },
  },
  import: {
    usage: 'import --key KEY [--take-over] [--allow-devices] FILE',
    summary: 'make a snapshot from an OCI layer tar or tar.zst (seeds a key)',
    writes: true,
    positionals: 1,
    options: { key: KEY, 'take-over': { type: 'boolean', help: 'make the import current even if another host advanced the key' }, 'allow-devices': { type: 'boolean', help: 'keep device nodes other than whiteouts (refused by default, as restore refuses them)' } },
    async run(ctx, v, [file]) {
      const r = await importLayer(ctx, { key: need(v, 'key'), file: file!, takeOver: !!v['take-over'], allowDevices: !!v['allow-devices'] });
      return { json: { ...r }, text: `${v.key}: imported ${file} as snapshot ${short(r.digest)} (${r.files} entries)` };
    },
  },
  gc: {
    usage: 'gc [--dry-run] [--grace DURATION] [--keep N]',
    summary: 'delete snapshots no ref reaches and abandoned multipart uploads (older than --grace, default 24h)',
    writes: true,
    positionals: 0,
    options: {
      'dry-run': { type: 'boolean', help: 'report what would be deleted, delete nothing' },
      grace: { type: 'string', arg: 'DURATION', help: 'spare unreached objects younger than this (500ms, 90s, 15m, 24h, 7d; bare number = seconds)', default: '24h' },
      keep: { type: 'string', arg: 'N', help: 'trim every key\'s history to its N newest snapshots first', default: 'each key\'s own' },
    },
    async run(ctx, v) {
      const r = await gc(ctx, { dryRun: !!v['dry-run'], graceMs: duration(v, 'grace'), keep: int(v, 'keep') });
      const verb = r.dryRun ? 'would delete' : 'deleted';
      const lines = [
        ...r.deleted.manifests.map((k) => `${verb} ${k}`),
        ...r.deleted.blobs.map((k) => `${verb} ${k}`),
        ...r.deleted.temporaries.map((k) => `${verb} ${k}`),
        ...r.abortedUploads.map((u) => `${r.dryRun ? 'would abort' : 'aborted'} multipart upload ${u.uploadId} of ${u.key}`),
        `${verb} ${r.deleted.manifests.length} manifests and ${r.deleted.blobs.length} blobs (${formatBytes(r.bytesFreed)}); ` +
          `kept ${r.reachable.manifests} reachable manifests, ${r.keptYoung} unreached objects younger than the grace period`,
      ];
      for (const w of r.warnings) ctx.log.warn(w);
      return { json: { ...r }, text: lines.join('\n') };
    },
  },
  check: {
    usage: 'check [--key KEY] [--read-data]',
    summary: 'verify refs -> manifests -> blobs exist with their recorded sizes; --read-data also reads, decrypts and verifies every blob',
    positionals: 0,
    options: { key: { ...KEY, help: 'check only this key', default: 'every key' }, 'read-data': { type: 'boolean', help: 'also read, decrypt and verify every blob' } },
    async run(ctx, v) {
      const r = await check(ctx, { key: str(v, 'key'), readData: !!v['read-data'] });
      const summary = `${r.ok ? 'no damage' : `${r.problems.length} problem(s)`}: ${r.keys} key(s), ${r.snapshots} snapshot(s), ${r.blobs} blob(s)` +
        (r.readData ? `, ${formatBytes(r.bytesRead)} read and verified` : ' (sizes only; --read-data verifies contents)');
      const lines = r.problems.map((p) => `problem: ${p.object}: ${p.problem}${p.snapshot ? ` (snapshot ${short(p.snapshot)})` : ''}`);
      return { json: { ...r }, text: [...lines, summary].join('\n'), exitCode: r.ok ? 0 : 1 };
    },
  },
  sync: {
    usage: 'sync (--key KEY | --container ID) [--no-wait]',
    summary: 'live-sync a running container now (through the daemon); waits until the snapshot is durable, or only for the capture with --no-wait',
    positionals: 0,
    options: {
      key: { type: 'string', help: 'the key of a running, opted-in container to sync' },
      container: { type: 'string', help: 'the id or name of the running container to sync' },
      'no-wait': { type: 'boolean', help: 'return once the capture is taken, before the upload is durable' },
    },
    run() {
      return Promise.reject(unavailable('layerkeep sync needs the running daemon (it knows the running containers); none answers on its socket', { hint: 'start the daemon: layerkeep serve (systemctl start layerkeep)' }));
    },
  },
  status: {
    usage: 'status',
    summary: 'show pending and recently failed uploads with their progress',
    positionals: 0,
    options: {},
    async run(ctx, v) {
      const r = status(ctx);
      const line = (u: (typeof r.pending)[number]) =>
        `${String(u.id).padStart(5)}  ${u.key.padEnd(24)} ${u.status.padEnd(10)} ${u.partsDone}/${u.partsTotal ?? '?'} parts  ` +
        `${formatBytes(u.bytesDone)}${u.size ? ` / ${formatBytes(u.size)}` : ''}${u.error ? `  ${u.error}` : ''}`;
      const syncs = listSyncRecords(join(str(v, 'state-dir') ?? process.env.LAYERKEEP_STATE_DIR ?? DEFAULT_STATE_DIR, 'sync'));
      const text = [
        r.pending.length ? 'pending uploads:' : 'no pending uploads',
        ...r.pending.map(line),
        ...(r.failed.length ? ['failed uploads:', ...r.failed.map(line)] : []),
        ...(r.failedCaptures.length ? ['captures that failed permanently (state not saved; clear with `layerkeep clear-failure --key KEY`):',
          ...r.failedCaptures.map((f) => `  ${f.key.padEnd(24)} ${f.captureId}  container ${f.containerId.slice(0, 12)}  ${f.failedAt}  ${f.error}`)] : []),
        ...(syncs.length ? ['last live syncs:', ...syncs.map((s) => `  ${s.key.padEnd(24)} ${s.lastSync}  ${short(s.manifestDigest)}  frozen ${s.frozenMs.toFixed(1)} ms`)] : []),
      ].join('\n');
      return { json: { ...r, syncs }, text };
    },
  },
  'clear-failure': {
    usage: 'clear-failure --key KEY',
    summary: 'acknowledge the permanently failed captures of a key (starts of it proceed under failed-capture-policy=refuse)',
    positionals: 0,
    options: { key: KEY },
    async run(ctx, v) {
      const key = need(v, 'key');
      const cleared = clearFailedCaptures(ctx, key);
      return { json: { key, cleared }, text: cleared ? `cleared ${cleared} failed capture(s) of ${key}` : `no failed capture of ${key} to clear` };
    },
  },
};
