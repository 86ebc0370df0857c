#!/usr/bin/env node
// layerkeep command line. Each command is a small function over src/ops; errors print as
// one line plus a hint, and the exit code is 0 only on success (2 for usage errors).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closeContext, openContext, resumeUploads } from '../ops/context.js';
import type { OpsContext } from '../ops/types.js';
import { cliLogger, ttyProgress, type OutputOptions } from './output.js';
import { connectDaemon } from './client.js';
import { COMMANDS, type CommandSpec } from './commands.js';
import { REMOTE_COMMANDS, runRemote } from './remote.js';

class UsageError extends Error {}

const COMMON: NonNullable<ParseArgsConfig['options']> = {
  store: { type: 'string' },
  'state-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  's3-region': { type: 'string' },
  's3-endpoint': { type: 'string' },
  's3-part-size': { type: 'string' },
  's3-concurrency': { type: 'string' },
  's3-storage-class': { type: 'string' },
  's3-sse': { type: 'string' },
  's3-sse-kms-key-id': { type: 'string' },
  's3-sse-c-key-file': { type: 'string' },
  's3-checksum': { type: 'string' },
  's3-path-style': { type: 'string' },
  's3-max-attempts': { type: 'string' },
  's3-max-retry-time': { type: 'string' },
  's3-request-timeout': { type: 'string' },
  's3-staging-dir': { type: 'string' },
  'encryption-key-file': { type: 'string', multiple: true },
};

const USAGE = `usage: layerkeep <command> [options]

commands:
${Object.values(COMMANDS).map((c) => `  ${c.usage}\n      ${c.summary}`).join("\n")}
  serve [options]                                            run the daemon (see layerkeep serve --help)

common options:
  --store URL        file:///DIR (default file:///var/lib/layerkeep/store, env LAYERKEEP_STORE) or s3://BUCKET/PREFIX
  --state-dir DIR    local state (default /var/lib/layerkeep/state, env LAYERKEEP_STATE_DIR)
  --json             print one JSON object (machine output)
  -q, --quiet        print only errors
  --s3-*             S3 options, see README (region, endpoint, part size, concurrency, SSE, checksums)
  --encryption-key-file FILE
                     client-side encryption key (32 bytes raw, base64 or hex; repeatable: the first
                     encrypts new snapshots, all decrypt; env LAYERKEEP_ENCRYPTION_KEY[_FILE])`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === 'version') {
    const { TOOL } = await import('../ops/snapshot.js');
    process.stdout.write(`${TOOL}\n`);
    return 0;
  }
  if (name === 'serve') {
    const serveModule = './serve.js'; // the daemon, loaded only when asked for
    const { runServe } = (await import(serveModule)) as { runServe: (a: string[]) => Promise<number> };
    return runServe(rest);
  }
  const cmd: CommandSpec | undefined = COMMANDS[name];
  if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(name)} (see layerkeep --help)`);

  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...COMMON, ...cmd.options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: layerkeep ${cmd.usage}`);
  }
  const keyFiles = (parsed.values['encryption-key-file'] as string[] | undefined) ?? [];
  delete (parsed.values as Record<string, unknown>)['encryption-key-file'];
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    process.stdout.write(`usage: layerkeep ${cmd.usage}\n${cmd.summary}\n`);
    return 0;
  }
  if (parsed.positionals.length !== cmd.positionals) {
    throw new UsageError(`layerkeep ${name} takes ${cmd.positionals} argument(s)\nusage: layerkeep ${cmd.usage}`);
  }
  const out: OutputOptions = { json: !!values.json, quiet: !!values.quiet };
  // A running daemon serves snapshot and restore, unless this run names its own store or state.
  if (REMOTE_COMMANDS.has(name) && !values.store && !values['state-dir'] && !process.env.LAYERKEEP_STANDALONE) {
    const conn = await connectDaemon();
    if (conn && keyFiles.length) {
      conn.close();
      throw new UsageError('--encryption-key-file cannot be sent to the running daemon (it uses its own keys, from its environment); ' +
        'give --store and --state-dir to run this command standalone');
    }
    if (conn) {
      try {
        const result = await runRemote(conn, name, values, parsed.positionals);
        if (out.json) process.stdout.write(`${JSON.stringify(result.json)}\n`);
        else if (!out.quiet && result.text) process.stdout.write(`${result.text}\n`);
        return 0;
      } finally {
        conn.close();
      }
    }
  }
  const warnings: string[] = [];
  const progress = ttyProgress(out);
  const storeFlags = Object.fromEntries(Object.entries(values).filter(([k]) => k.startsWith('s3-')).map(([k, v]) => [k, v as string]));
  const ctx: OpsContext = await openContext({
    store: values.store as string | undefined,
    stateDir: values['state-dir'] as string | undefined,
    log: cliLogger(out, warnings),
    progress,
    storeFlags,
    encryptionKeyFiles: keyFiles,
    storeMode: cmd.storeMode ?? (cmd.writes ? 'write' : 'read'),
  });
  try {
    if (cmd.writes) await resumeUploads(ctx);
    const result = await cmd.run(ctx, values, parsed.positionals);
    progress.done();
    if (out.json) process.stdout.write(`${JSON.stringify({ ...result.json, warnings })}\n`);
    else if (!out.quiet && result.text) process.stdout.write(`${result.text}\n`);
    return result.exitCode ?? 0;
  } finally {
    progress.done();
    await closeContext(ctx);
  }
}

function hintFor(err: Error): string | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'layerkeep needs root to read and restore every file, owner and xattr';
  if (code === 'ENOSPC') return 'the disk is full; nothing was changed — free space and run the command again';
  if (err.name === 'RefConflictError') return 'another host advanced this key; see `layerkeep ls --key KEY`';
  if (err.message.includes('native addon not built')) return 'run `make build` first';
  if (typeof (err as { hint?: unknown }).hint === 'string') return (err as unknown as { hint: string }).hint;
  return undefined;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: Error) => {
    if (err instanceof UsageError || (err as { usage?: boolean }).usage) {
      process.stderr.write(`layerkeep: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    const wantJson = process.argv.includes('--json');
    const hint = hintFor(err);
    if (wantJson) process.stdout.write(`${JSON.stringify({ error: err.message, hint })}\n`);
    process.stderr.write(`layerkeep: error: ${err.message}\n${hint ? `hint: ${hint}\n` : ''}`);
    if (process.env.LAYERKEEP_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  },
);
