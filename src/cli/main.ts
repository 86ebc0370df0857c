#!/usr/bin/env node
// layerkeep command line entry. Kept small so `--version` answers without loading the store
// code; errors are reported here, in one place: one line (plus a hint) on stderr, or one JSON
// object under --json, and an exit code from the error's kind (cli/errors.ts).
import { readFileSync } from 'node:fs';
import { errorJson, exitCodeOf, hintOf, withObject } from './errors.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `layerkeep/${pkg.version}`;
}

const isEpipe = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === 'EPIPE';

// A reader that went away (`layerkeep ls | head -1`) ends the command quietly and successfully.
let pipeClosed = false;
process.stdout.on('error', (err) => {
  if (!isEpipe(err)) throw err;
  pipeClosed = true;
  process.exit(0);
});

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--version' || argv[0] === 'version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const { run } = await import('./run.js');
  return run(argv);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (pipeClosed || isEpipe(err)) {
      process.exitCode = 0;
      return;
    }
    const hint = hintOf(err);
    const dashDash = process.argv.indexOf('--');
    const argv = dashDash < 0 ? process.argv : process.argv.slice(0, dashDash);
    // with `-o -` stdout carries a tar stream: the JSON error goes to stderr instead
    const dataOnStdout = argv.some((a, i) => a === '--output=-' || a === '-o-' || ((a === '-o' || a === '--output') && argv[i + 1] === '-'));
    if (argv.includes('--json')) (dataOnStdout ? process.stderr : process.stdout).write(`${JSON.stringify(errorJson(err))}\n`);
    process.stderr.write(`layerkeep: error: ${withObject(err)}\n${hint ? `hint: ${hint}\n` : ''}`);
    if (process.env.LAYERKEEP_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = exitCodeOf(err);
  },
);
