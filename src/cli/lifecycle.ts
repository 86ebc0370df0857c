// Commands that create a store and manage what it keeps: init (the store marker), forget
// (snapshots out of a key's history) and rm (a key). gc reclaims the bytes afterwards.
import { forget, removeKey, type ForgetResult } from '../ops/forget.js';
import { TOOL } from '../ops/snapshot.js';
import { readMarker, writeMarker } from '../store/marker.js';
import type { CommandSpec } from './commands.js';
import { short } from './output.js';
import { UsageError } from '../errors.js';
import { parseDuration } from '../units.js';

type Values = Record<string, string | boolean | undefined>;

function required(v: Values, k: string): string {
  const s = v[k];
  if (typeof s !== 'string' || !s) throw new UsageError(`--${k} is required`);
  return s;
}

function report(r: ForgetResult, verb: string): string {
  const lines = r.forgotten.map((d) => `${verb} ${short(d)}`);
  lines.push(r.forgotten.length === 0 ? `${r.key}: nothing to forget (${r.kept.length} snapshot(s) kept)`
    : `${r.key}: ${verb} ${r.forgotten.length} snapshot(s)${r.keyRemoved ? ', the key is gone' : `, kept ${r.kept.length}`}; \`layerkeep gc\` reclaims their bytes`);
  return lines.join('\n');
}

export const LIFECYCLE_COMMANDS: Record<string, CommandSpec> = {
  init: {
    usage: 'init --store URL',
    summary: 'create a store (writes its marker; every other command refuses a location without one)',
    positionals: 0,
    storeMode: 'init',
    options: {},
    async run(ctx) {
      const marker = (await readMarker(ctx.store)) ?? (await writeMarker(ctx.store, `${TOOL} on ${ctx.host}`)).marker;
      return {
        json: { store: ctx.store.description, ...marker },
        text: `layerkeep store at ${ctx.store.description} (format ${marker.formatVersion}, created ${marker.created} by ${marker.by})`,
      };
    },
  },
  forget: {
    usage: 'forget --key KEY (--snapshot DIGEST | --keep-last N | --keep-within DURATION)',
    summary: 'drop snapshots from a key\'s history (the current one stays unless it is the last); gc reclaims the bytes',
    writes: true,
    positionals: 0,
    options: {
      key: { type: 'string', help: 'the key' },
      snapshot: { type: 'string', help: 'forget this snapshot (a digest or a unique prefix)' },
      'keep-last': { type: 'string', help: 'keep the N newest snapshots, forget the rest' },
      'keep-within': { type: 'string', help: 'keep snapshots younger than DURATION (e.g. 7d), forget older ones' },
    },
    async run(ctx, v) {
      const last = v['keep-last'];
      if (last !== undefined && !/^[1-9]\d*$/.test(String(last))) throw new UsageError('--keep-last must be a positive whole number');
      const within = v['keep-within'];
      const r = await forget(ctx, {
        key: required(v, 'key'), snapshot: v.snapshot as string | undefined,
        keepLast: last === undefined ? undefined : Number(last),
        keepWithinMs: within === undefined ? undefined : parseDuration(String(within), '--keep-within'),
      });
      return { json: { ...r }, text: report(r, 'forgot') };
    },
  },
  rm: {
    usage: 'rm --key KEY',
    summary: 'remove a key (its ref and this host\'s record of it); gc reclaims its snapshots',
    writes: true,
    positionals: 0,
    options: { key: { type: 'string', help: 'the key to remove' } },
    async run(ctx, v) {
      const r = await removeKey(ctx, required(v, 'key'));
      return { json: { ...r }, text: report(r, 'removed') };
    },
  },
};
