// How the CLI talks to people and to scripts: one JSON object with --json, short lines
// otherwise, warnings on stderr, a progress bar only on a terminal.
import type { Logger, Progress } from '../ops/types.js';

export interface OutputOptions { json: boolean; quiet: boolean }

export function cliLogger(o: OutputOptions, warnings: string[]): Logger {
  const emit = (level: string, msg: string) => {
    if (level === 'warn') warnings.push(msg);
    if (o.quiet && level !== 'error') return;
    if (o.json && level !== 'error') return; // collected into the JSON result instead
    // the command's own result line says what info messages say; debug is for LAYERKEEP_DEBUG
    if ((level === 'debug' || level === 'info') && !process.env.LAYERKEEP_DEBUG) return;
    process.stderr.write(`${level === 'info' ? '' : `${level === 'warn' ? 'warning' : level}: `}${msg}\n`);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
  };
}

/** A one-line progress bar on stderr, redrawn at most 10 times a second, only on a TTY.
 *  `now` and `stream` are injectable for tests. */
export function ttyProgress(o: OutputOptions, now: () => number = Date.now, stream: NodeJS.WriteStream = process.stderr): Progress & { done(): void } {
  const enabled = !o.quiet && !o.json && stream.isTTY;
  let last = 0;
  let shown = false;
  let started: { phase: string; at: number } | undefined;
  return {
    update(phase, done, total) {
      if (!enabled) return;
      const t = now();
      if (started?.phase !== phase) started = { phase, at: t };
      if (t - last < 100) return;
      last = t;
      shown = true;
      stream.write(`\r${progressLine(phase, done, total, t - started.at)}\x1b[K`);
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}

/** "restore [######...] 40% 40.0 MiB / 100.0 MiB  12.5 MiB/s  ETA 5s": rate over the phase so
 *  far, and the time left at that rate (no ETA without a total or before a rate is known). */
export function progressLine(phase: string, done: number, total: number | undefined, elapsedMs: number): string {
  const pct = total ? Math.min(100, Math.floor((done / total) * 100)) : undefined;
  const bar = pct === undefined ? '' : `[${'#'.repeat(Math.floor(pct / 4)).padEnd(25, '.')}] ${pct}% `;
  const rate = elapsedMs >= 500 ? done / (elapsedMs / 1000) : undefined;
  const eta = rate && total && total > done ? ` ETA ${formatDuration(((total - done) / rate) * 1000)}` : '';
  return `${phase} ${bar}${formatBytes(done)}${total ? ` / ${formatBytes(total)}` : ''}${rate !== undefined ? `  ${formatBytes(rate)}/s${eta}` : ''}`;
}

export function formatDuration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export const short = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);
