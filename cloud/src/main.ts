import { createLogger } from './http/logger.js';
import { configFromEnvironmentOrExit, stopOnSignals } from './process-lifecycle.js';
import { cloudBanner, startCloud } from './server.js';

/**
 * `npm start -w cloud`: the cloud alone, on embedded defaults (PGlite in DATA_DIR, in-process jobs,
 * embedded MQTT broker) or on PostgreSQL / Redis / an external broker when DATABASE_URL / REDIS_URL /
 * MQTT_URL are set. The root `npm start` adds a gateway and simulated devices around it.
 */
async function main(): Promise<void> {
  const config = configFromEnvironmentOrExit();
  const log = createLogger(config.LOG_LEVEL, undefined, { pretty: config.NODE_ENV === 'development' && process.stdout.isTTY === true });
  let cloud;
  try {
    cloud = await startCloud(config, log);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    log.fatal({ err: error }, e.code === 'EADDRINUSE' ? `a port is in use (${e.message}); set PORT or MQTT_PORT to another one` : 'start-up failed');
    process.exit(1);
  }
  console.log(['', ...cloudBanner(cloud), ''].join('\n'));
  stopOnSignals(log, () => cloud.stop());
}

await main();
