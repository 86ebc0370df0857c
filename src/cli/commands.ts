// The CLI's commands: option specs and a run function each, over src/ops.
import type { ParseArgsConfig } from 'node:util';
import { inspect as inspectSnapshot } from '../ops/inspect.js';
import { listSnapshots } from '../ops/list.js';
import { restore } from '../ops/restore.js';
import { snapshot } from '../ops/snapshot.js';
import { exportSnapshot, importLayer } from '../ops/transfer.js';
import type { OpsContext } from '../ops/types.js';
import { formatBytes, short } from './output.js';

export interface CommandResult {
  json: Record<string, unknown>;
  text?: string;
  exitCode?: number;
}

type Values = Record<string, string | boolean | undefined>;

export interface CommandSpec {
  usage: string;
  summary: string;
  positionals: number;
  options: NonNullable<ParseArgsConfig['options']>;
  run(ctx: OpsContext, v: Values, args: string[]): Promise<CommandResult>;
}

const str = (v: Values, k: string): string | undefined => v[k] as string | undefined;
function need(v: Values, k: string): string {
  const s = str(v, k);
  if (!s) throw new Error(`--${k} is required`);
  return s;
}
function int(v: Values, k: string): number | undefined {
  const s = str(v, k);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${k} must be a positive whole number`);
  return n;
}

export const COMMANDS: Record<string, CommandSpec> = {
  snapshot: {
    usage: 'snapshot --key KEY [--force] [--take-over] [--keep N] [--allow-devices] DIR',
    summary: 'snapshot an overlay upper dir into the store',
    positionals: 1,
    options: {
      key: { type: 'string' }, force: { type: 'boolean' }, 'take-over': { type: 'boolean' },
      keep: { type: 'string' }, 'allow-devices': { type: 'boolean' },
    },
    async run(ctx, v, [dir]) {
      const r = await snapshot(ctx, {
        key: need(v, 'key'), dir: dir!, force: !!v.force, takeOver: !!v['take-over'], keep: int(v, 'keep'),
        allowDevices: !!v['allow-devices'],
      });
      const text = r.changed
        ? `${r.key}: snapshot ${short(r.manifestDigest)} stored (${r.files} entries, ${formatBytes(r.uncompressedSize)} -> ${formatBytes(r.blobSize)})`
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
        allowDevices: !!v['allow-devices'],
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
      const lines = rows.map((r) =>
        `${r.current ? '*' : ' '} ${r.key.padEnd(24)} ${short(r.digest)}  ${r.created.slice(0, 19).replace('T', ' ')}  ${r.kind.padEnd(4)}  ` +
        `${formatBytes(r.blobSize).padStart(10)}  ${String(r.files).padStart(7)} files  ${r.source === 'local' ? `(not current: ${r.status})` : r.host}`);
      return { json: { snapshots: rows }, text: lines.length ? lines.join('\n') : 'no snapshots' };
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
    positionals: 1,
    options: { key: { type: 'string' }, 'take-over': { type: 'boolean' } },
    async run(ctx, v, [file]) {
      const r = await importLayer(ctx, { key: need(v, 'key'), file: file!, takeOver: !!v['take-over'] });
      return { json: { ...r }, text: `${v.key}: imported ${file} as snapshot ${short(r.digest)} (${r.files} entries)` };
    },
  },
};
