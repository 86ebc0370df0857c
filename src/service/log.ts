// Structured logs: one JSON object per line on stderr (time, level, msg, fields).
import type { Logger } from '../ops/types.js';
import { invalid } from '../errors.js';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

export function parseLogLevel(v: string): LogLevel {
  if (v in LEVELS) return v as LogLevel;
  throw invalid(`invalid log level ${JSON.stringify(v)}: use debug, info, warn or error`);
}

export function jsonLogger(level: LogLevel = 'info', write: (line: string) => void = (l) => process.stderr.write(l), base: Record<string, unknown> = {}): Logger {
  const min = LEVELS[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[lvl] < min) return;
    const rec: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg, ...base };
    if (fields) for (const [k, v] of Object.entries(fields)) rec[k] = v instanceof Error ? v.message : v;
    write(JSON.stringify(rec) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
