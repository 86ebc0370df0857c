// One CLI command from parsed arguments to its result on stdout: help, the daemon path for
// the commands the running daemon serves, and otherwise the command over a local context.
import { UsageError } from '../errors.js';
import { closeContext, openContext, resumeUploads } from '../ops/context.js';
import type { OpsContext } from '../ops/types.js';
import { connectDaemon } from './client.js';
import { COMMANDS, type CommandResult } from './commands.js';
import { commandHelp, parseCommand, topUsage, unknownCommand } from './help.js';
import { cliLogger, ttyProgress, type OutputOptions } from './output.js';
import { REMOTE_COMMANDS, runRemote } from './remote.js';

function emit(out: OutputOptions, result: CommandResult, extra: Record<string, unknown> = {}): void {
  const stream = result.resultToStderr ? process.stderr : process.stdout;
  if (out.json) stream.write(`${JSON.stringify({ ...result.json, ...extra })}\n`);
  else if (!out.quiet && result.text) stream.write(`${result.text}\n`);
}

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    (name ? process.stdout : process.stderr).write(`${topUsage()}\n`);
    return name ? 0 : 2;
  }
  if (name === 'help') {
    const [what] = rest;
    if (!what) process.stdout.write(`${topUsage()}\n`);
    else if (what === 'serve') return run(['serve', '--help']);
    else if (COMMANDS[what]) process.stdout.write(`${commandHelp(what)}\n`);
    else throw unknownCommand(what);
    return 0;
  }
  if (name === 'serve') {
    const serveModule = './serve.js'; // the daemon, loaded only when asked for
    const { runServe } = (await import(serveModule)) as { runServe: (a: string[]) => Promise<number> };
    return runServe(rest);
  }
  const cmd = COMMANDS[name];
  if (!cmd) throw unknownCommand(name);
  const { values, keyFiles, positionals } = parseCommand(name, cmd, rest);
  if (values.help) {
    process.stdout.write(`${commandHelp(name)}\n`);
    return 0;
  }
  const out: OutputOptions = { json: !!values.json, quiet: !!values.quiet };
  // A running daemon serves snapshot and restore, unless this run names its own store or state.
  if (REMOTE_COMMANDS.has(name) && !values.store && !values['state-dir'] && !process.env.LAYERKEEP_STANDALONE) {
    const conn = await connectDaemon();
    if (conn && keyFiles.length) {
      conn.close();
      throw new UsageError('--encryption-key-file cannot be sent to the running daemon (it uses its own keys, from its environment)',
        { hint: 'give --store and --state-dir to run this command standalone' });
    }
    if (conn) {
      try {
        emit(out, await runRemote(conn, name, values, positionals));
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
    const result = await cmd.run(ctx, values, positionals);
    progress.done();
    emit(out, result, { warnings });
    return result.exitCode ?? 0;
  } finally {
    progress.done();
    await closeContext(ctx);
  }
}
