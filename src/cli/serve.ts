// `layerkeep serve`: runs the daemon until SIGTERM/SIGINT, then shuts down gracefully.
import { helpText, loadConfig } from '../service/config.js';
import { startDaemon } from '../service/daemon.js';
import { jsonLogger, parseLogLevel } from '../service/log.js';

export async function runServe(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = loadConfig(argv);
  } catch (e) {
    process.stderr.write(`layerkeep serve: ${(e as Error).message}\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(helpText());
    return 0;
  }
  const log = jsonLogger(parseLogLevel(parsed.config['log-level']));
  let daemon;
  try {
    daemon = await startDaemon(parsed.config, log);
  } catch (e) {
    log.error('layerkeep daemon failed to start', { error: (e as Error).message });
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('signal received', { signal });
      daemon.close().then(() => resolve(0), (e) => {
        log.error('shutdown failed', { error: (e as Error).message });
        resolve(1);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
