import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';

/** The configuration from the environment, or every problem printed and exit 1: what a person at a shell needs. */
export function configFromEnvironmentOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

/** Runs `stop` once on SIGINT or SIGTERM, then exits; a second signal while stopping is ignored. */
export function stopOnSignals(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void handle('SIGINT'));
  process.on('SIGTERM', () => void handle('SIGTERM'));
}
