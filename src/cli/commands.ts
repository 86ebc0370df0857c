// The CLI's commands: option specs and a run function each, over src/ops.
import type { ParseArgsConfig } from 'node:util';
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
import { LIFECYCLE_COMMANDS } from './lifecycle.js';
import { formatBytes, short } from './output.js';

export interface CommandResult {
  json: Record<string, unknown>;
  text?: string;
  exitCode?: number;
}

type Values = Record<string, string | boolean | undefined>;

export interface CommandSpec {
  usage: string;
  /** Writes to the store: unfinished uploads from earlier runs are resumed first. */
  writes?: boolean;
  summary: string;
  positionals: number;
  options: NonNullable<ParseArgsConfig['options']>;
  run(ctx: OpsContext, v: Values, args: string[]): Promise<CommandResult>;
  /** How the store must exist (ops/context.ts); default: write for writing commands, else read. */
  storeMode?: StoreMode;
}

const str = (v: Values, k: string): string | undefined => v[k] as string | undefined;
function need(v: Values, k: string): string {
  const s = str(v, k);
  if (!s) throw new Error(`--${k} is required`);
  return s;
}
/** "90s", "15m", "24h", "7d" or plain seconds -> milliseconds. */
function duration(v: Values, k: string): number | undefined {
  const s = str(v, k);
  if (s === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s);
  if (!m) throw new Error(`--${k} must be a duration like 90s, 15m, 24h or 7d`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

function int(v: Values, k: string): number | undefined {
  const s = str(v, k);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${k} must be a positive whole number`);
  return n;
}

export const COMMANDS: Record<string, CommandSpec> = {
  ...LIFECYCLE_COMMANDS,
  snapshot: {
    usage: 'snapshot --key KEY [--force] [--take-over] [--keep N] [--max-diffs N] [--max-delta-share PCT] [--ignore-ctime] [--allow-devices] DIR',
    summary: 'snapshot an overlay upper dir into the store',
    writes: true,
    positionals: 1,
    options: {
      key: { type: 'string' }, force: { type: 'boolean' }, 'take-over': { type: 'boolean' },
      keep: { type: 'string' }, 'allow-devices': { type: 'boolean' },
      'max-diffs': { type: 'string' }, 'max-delta-share': { type: 'string' }, 'ignore-ctime': { type: 'boolean' },
    },
    async run(ctx, v, [dir]) {
      const maxDiffs = str(v, 'max-diffs');
      const share = str(v, 'max-delta-share');
      if (maxDiffs !== undefined && !/^\d+$/.test(maxDiffs)) throw new Error('--max-diffs must be a whole number (0 = always full)');
      if (share !== undefined && !/^\d+(\.\d+)?$/.test(share)) throw new Error('--max-delta-share must be a percentage');
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
      key: { type: 'string' }, snapshot: { type: 'string' }, force: { type: 'boolean' },
      mode: { type: 'string' }, 'allow-devices': { type: 'boolean' },
    },
    async run(ctx, v, [dir]) {
      const mode = str(v, 'mode') ?? 'upper';
      if (mode !== 'upper' && mode !== 'apply') throw new Error('--mode must be upper or apply');
      if (!v.key && !v.snapshot) throw new Error('--key or --snapshot is required');
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
    options: { key: { type: 'string' } },
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
    options: { key: { type: 'string' }, snapshot: { type: 'string' }, output: { type: 'string', short: 'o' } },
    async run(ctx, v) {
      if (!v.key && !v.snapshot) throw new Error('--key or --snapshot is required');
      const r = await exportSnapshot(ctx, { key: str(v, 'key'), snapshot: str(v, 'snapshot'), output: need(v, 'output') });
      return { json: { ...r }, text: r.format && v.output !== '-' ? `exported ${short(r.digest)} to ${v.output} (${r.format}, ${formatBytes(r.bytes)})` : undefined };
    },
  },
  import: {
    usage: 'import --key KEY [--take-over] FILE',
    summary: 'make a snapshot from an OCI layer tar or tar.zst (seeds a key)',
    writes: true,
    positionals: 1,
    options: { key: { type: 'string' }, 'take-over': { type: 'boolean' } },
    async run(ctx, v, [file]) {
      const r = await importLayer(ctx, { key: need(v, 'key'), file: file!, takeOver: !!v['take-over'] });
      return { json: { ...r }, text: `${v.key}: imported ${file} as snapshot ${short(r.digest)} (${r.files} entries)` };
    },
  },
  gc: {
    usage: 'gc [--dry-run] [--grace DURATION] [--keep N]',
    summary: 'delete snapshots no ref reaches and abandoned multipart uploads (older than --grace, default 24h)',
    writes: true,
    positionals: 0,
    options: { 'dry-run': { type: 'boolean' }, grace: { type: 'string' }, keep: { type: 'string' } },
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
    options: { key: { type: 'string' }, 'read-data': { type: 'boolean' } },
    async run(ctx, v) {
      const r = await check(ctx, { key: str(v, 'key'), readData: !!v['read-data'] });
      const summary = `${r.ok ? 'no damage' : `${r.problems.length} problem(s)`}: ${r.keys} key(s), ${r.snapshots} snapshot(s), ${r.blobs} blob(s)` +
        (r.readData ? `, ${formatBytes(r.bytesRead)} read and verified` : ' (sizes only; --read-data verifies contents)');
      const lines = r.problems.map((p) => `problem: ${p.object}: ${p.problem}${p.snapshot ? ` (snapshot ${short(p.snapshot)})` : ''}`);
      return { json: { ...r }, text: [...lines, summary].join('\n'), exitCode: r.ok ? 0 : 1 };
    },
  },
  status: {
    usage: 'status',
    summary: 'show pending and recently failed uploads with their progress',
    positionals: 0,
    options: {},
    async run(ctx) {
      const r = status(ctx);
      const line = (u: (typeof r.pending)[number]) =>
        `${String(u.id).padStart(5)}  ${u.key.padEnd(24)} ${u.status.padEnd(10)} ${u.partsDone}/${u.partsTotal ?? '?'} parts  ` +
        `${formatBytes(u.bytesDone)}${u.size ? ` / ${formatBytes(u.size)}` : ''}${u.error ? `  ${u.error}` : ''}`;
      const text = [
        r.pending.length ? 'pending uploads:' : 'no pending uploads',
        ...r.pending.map(line),
        ...(r.failed.length ? ['failed uploads:', ...r.failed.map(line)] : []),
        ...(r.failedCaptures.length ? ['captures that failed permanently (state not saved; clear with `layerkeep clear-failure --key KEY`):',
          ...r.failedCaptures.map((f) => `  ${f.key.padEnd(24)} ${f.captureId}  container ${f.containerId.slice(0, 12)}  ${f.failedAt}  ${f.error}`)] : []),
      ].join('\n');
      return { json: { ...r }, text };
    },
  },
  'clear-failure': {
    usage: 'clear-failure --key KEY',
    summary: 'acknowledge the permanently failed captures of a key (starts of it proceed under failed-capture-policy=refuse)',
    positionals: 0,
    options: { key: { type: 'string' } },
    async run(ctx, v) {
      const key = need(v, 'key');
      const cleared = clearFailedCaptures(ctx, key);
      return { json: { key, cleared }, text: cleared ? `cleared ${cleared} failed capture(s) of ${key}` : `no failed capture of ${key} to clear` };
    },
  },
};
