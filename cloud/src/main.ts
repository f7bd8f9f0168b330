import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './http/logger.js';
import { cloudBanner, startCloud } from './server.js';

function readConfig(): Config {
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

/**
 * `npm start -w cloud`: the cloud alone, on embedded defaults (PGlite in DATA_DIR, in-process jobs,
 * embedded MQTT broker) or on PostgreSQL / Redis / an external broker when DATABASE_URL / REDIS_URL /
 * MQTT_URL are set. The root `npm start` adds a gateway and simulated devices around it.
 */
async function main(): Promise<void> {
  const config = readConfig();
  const log = createLogger(config.LOG_LEVEL, undefined, { pretty: config.NODE_ENV === 'development' && process.stdout.isTTY === true });
  let cloud;
  try {
    cloud = await startCloud(config, log);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { port?: number };
    log.fatal({ err: error }, e.code === 'EADDRINUSE' ? `a port is in use (${e.message}); set PORT or MQTT_PORT to another one` : 'start-up failed');
    process.exit(1);
  }
  console.log(['', ...cloudBanner(cloud), ''].join('\n'));

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await cloud.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

await main();
