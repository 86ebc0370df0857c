// Help texts and argument parsing for the CLI, generated from the option specs in commands.ts,
// so `layerkeep CMD --help` lists every flag with its meaning and default. Parse failures are
// UsageErrors with one line and a "did you mean" hint, never Node's raw parser text.
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { closest } from './errors.js';
import { COMMANDS, COMMON, type CommandSpec, type OptionSpec } from './commands.js';

/** Names `layerkeep NAME` accepts besides COMMANDS (handled by main.ts). */
const EXTRA_COMMANDS = ['serve', 'help', 'version'];

export function topUsage(): string {
  return `usage: layerkeep <command> [options]

commands:
${Object.entries(COMMANDS).map(([, c]) => `  ${c.usage}\n      ${c.summary}`).join('\n')}
  serve [options]
      run the daemon (see layerkeep serve --help)
  help [COMMAND]
      show this help, or a command's
  version
      print the version (also --version)

Run \`layerkeep COMMAND --help\` for a command's flags, meanings and defaults.
Durations take units (500ms, 90s, 15m, 24h, 7d; a bare number is seconds); sizes too (16MiB, 5GiB; a bare number is bytes).
Exit codes: 0 success, 1 failure, 2 usage error or invalid input.`;
}

function flagLines(options: Record<string, OptionSpec>): string[] {
  const lines: string[] = [];
  for (const [name, o] of Object.entries(options)) {
    const head = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.arg ? ` ${o.arg}` : ''}`;
    lines.push(`  ${head}`);
    lines.push(`        ${o.help}${o.multiple ? ' (repeatable)' : ''}${o.default !== undefined ? ` (default: ${o.default})` : ''}`);
  }
  return lines;
}

export function commandHelp(name: string): string {
  const cmd = COMMANDS[name]!;
  return [
    `usage: layerkeep ${cmd.usage}`,
    '',
    cmd.summary,
    '',
    ...(Object.keys(cmd.options).length ? ['options:', ...flagLines(cmd.options), ''] : []),
    'common options:',
    ...flagLines(COMMON),
  ].join('\n');
}

export function unknownCommand(name: string): UsageError {
  const guess = closest(name, [...Object.keys(COMMANDS), ...EXTRA_COMMANDS]);
  return new UsageError(`unknown command ${JSON.stringify(name)}`, { hint: guess ? `did you mean \`layerkeep ${guess}\`? (see layerkeep --help)` : 'see layerkeep --help' });
}

export interface Parsed { values: Record<string, string | boolean | undefined>; keyFiles: string[]; positionals: string[] }

/** Parses a command's arguments; every failure is one UsageError line with a hint. */
export function parseCommand(name: string, cmd: CommandSpec, args: string[]): Parsed {
  const specs = { ...COMMON, ...cmd.options };
  const usageHint = `usage: layerkeep ${cmd.usage} (see layerkeep ${name} --help)`;
  // Unknown flags first, with a suggestion, before Node's parser words it its own way.
  for (const a of args) {
    if (a === '--') break;
    const long = /^--([^=]+)/.exec(a);
    const short = /^-([^-])/.exec(a);
    if (long && !(long[1]! in specs)) {
      const guess = closest(long[1]!, Object.keys(specs));
      throw new UsageError(`unknown option --${long[1]} for layerkeep ${name}`, { hint: guess ? `did you mean --${guess}?` : usageHint });
    }
    if (short && !Object.values(specs).some((o) => o.short === short[1])) {
      throw new UsageError(`unknown option -${short[1]} for layerkeep ${name}`, { hint: usageHint });
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true, strict: true,
      options: Object.fromEntries(Object.entries(specs).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }])),
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const flag = /'(-[^' ]*)/.exec((err as Error).message)?.[1];
    const msg = code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
      ? `option ${flag ?? ''} ${/argument missing/.test((err as Error).message) ? 'needs a value' : 'takes no value'}`.replace(/ {2}/, ' ')
      : (err as Error).message.split('\n')[0]!;
    throw new UsageError(msg, { hint: usageHint });
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const keyFiles = (values['encryption-key-file'] as string[] | undefined) ?? [];
  delete values['encryption-key-file'];
  if (!values.help && parsed.positionals.length !== cmd.positionals) {
    throw new UsageError(`layerkeep ${name} takes ${cmd.positionals === 0 ? 'no' : cmd.positionals} argument${cmd.positionals === 1 ? '' : 's'}, got ${parsed.positionals.length}`, { hint: usageHint });
  }
  return { values: values as Parsed['values'], keyFiles, positionals: parsed.positionals };
}
