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

/** A one-line progress bar on stderr, redrawn at most 10 times a second, only on a TTY. */
export function ttyProgress(o: OutputOptions): Progress & { done(): void } {
  const enabled = !o.quiet && !o.json && process.stderr.isTTY;
  let last = 0;
  let shown = false;
  return {
    update(phase, done, total) {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      shown = true;
      const pct = total ? Math.min(100, Math.floor((done / total) * 100)) : undefined;
      const bar = pct === undefined ? '' : `[${'#'.repeat(Math.floor(pct / 4)).padEnd(25, '.')}] ${pct}% `;
      process.stderr.write(`\r${phase} ${bar}${formatBytes(done)}${total ? ` / ${formatBytes(total)}` : ''}\x1b[K`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export const short = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);
