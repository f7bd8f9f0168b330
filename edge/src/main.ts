/**
 * The gateway process, one per community:
 *
 *   npx tsx edge/src/main.ts --config /etc/estate/gateway.json [--data-dir /var/lib/estate-edge]
 *
 * Environment: EDGE_DATA_DIR, EDGE_LOG_LEVEL, EDGE_MQTT_URL, EDGE_MQTT_USERNAME, EDGE_MQTT_PASSWORD,
 * EDGE_MQTT_CA_FILE, EDGE_BLE=noble|off, EDGE_DOOR_READER_HOST, EDGE_DOOR_READER_PORT (see edge/README.md). SIGTERM / SIGINT stop it gracefully: drivers stop, the
 * retained state turns `offline`, the outbox is closed with everything not yet acknowledged kept.
 */
import { parseArgs } from 'node:util';
import { GatewayConfigError, loadGatewayConfig, readEdgeEnvironment } from './config/load-config.js';
import { modbusMeterDriver } from './drivers/modbus-factory.js';
import { openNobleCentral } from './drivers/ble/noble-central.js';
import { startGateway } from './gateway.js';
import { createLogger, errorText } from './log.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, 'data-dir': { type: 'string' } } });
  if (!values.config) {
    process.stderr.write('usage: npx tsx edge/src/main.ts --config path/to/gateway.json [--data-dir dir]\n');
    process.exit(2);
  }
  const env = await readEdgeEnvironment();
  const log = createLogger({ level: env.logLevel });
  const config = await loadGatewayConfig(values.config, env.overrides);
  const gateway = await startGateway({
    config,
    dataDir: values['data-dir'] ?? env.dataDir,
    drivers: [modbusMeterDriver],
    // Doors need a Bluetooth controller: noble is imported only here, when the operator asks for it.
    ...(env.ble === 'noble' ? { doors: { openCentral: () => openNobleCentral({ log: log.child({ component: 'ble' }) }), reader: env.doorReader } } : {}),
    log,
    overrides: env.overrides,
    isolateUncaught: true,
    onUnattributedError: (error) => {
      // Not a driver's: the runtime itself is broken. Exit and let the supervisor restart it; the outbox keeps everything.
      log.error('fatal error in the gateway runtime', { error: errorText(error) });
      process.exit(1);
    },
  });
  const shutdown = (signal: string) => {
    log.info('stopping', { signal });
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error('stop failed', { error: errorText(error) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof GatewayConfigError ? error.message : `gateway failed to start: ${errorText(error)}`}\n`);
  process.exit(error instanceof GatewayConfigError ? 2 : 1);
});
