import type { AppDeps } from '../../context.js';
import type { CloudMqtt } from '../../mqtt/cloud-mqtt.js';
import { mqttMetrics } from '../../mqtt/mqtt-metrics.js';
import type { RetryPolicy } from '../../mqtt/redelivery.js';
import { startCloudMqtt } from '../../mqtt/start-mqtt.js';
import { createGatewayAuthority } from './gateway-authority.js';
import { createGatewayDispatcher, type DoorHandlers, type ReadingsHandler } from './gateway-dispatcher.js';

/**
 * Starts the broker the configuration asks for, routes every gateway message through the dispatcher and
 * puts the broker on `deps.mqtt` for the command API. main.ts calls it once; tests call it with a port
 * of 0 (env MQTT_PORT) and a fake readings handler.
 *
 * @example
 * const mqtt = await attachGatewayBroker(deps, { readings: createReadingIngest(deps) });
 * // ... on shutdown
 * await mqtt.close();
 */
export async function attachGatewayBroker(deps: AppDeps, handlers: { readings: ReadingsHandler; doors?: DoorHandlers; retry?: RetryPolicy }): Promise<CloudMqtt> {
  const mqtt = await startCloudMqtt(deps.config, {
    log: deps.log,
    metrics: mqttMetrics(deps.metrics.registry),
    authority: createGatewayAuthority(deps.db),
    retry: handlers.retry,
  });
  mqtt.onMessage(createGatewayDispatcher(deps, { readings: handlers.readings, doors: handlers.doors }).handle);
  deps.mqtt = mqtt;
  return mqtt;
}
