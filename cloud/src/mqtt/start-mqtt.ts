import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { CloudMqtt } from './cloud-mqtt.js';
import { readPem, startEmbeddedBroker, type GatewayAuthority } from './embedded-broker.js';
import { connectExternalBroker } from './external-client.js';
import type { MqttMetrics } from './mqtt-metrics.js';
import type { RetryPolicy } from './redelivery.js';

/**
 * The broker the configuration asks for: a client of `MQTT_URL` when it is set, else aedes embedded on
 * MQTT_HOST:MQTT_PORT (plus MQTT_TLS_PORT when a certificate is configured), persisted in Redis when
 * REDIS_URL is set.
 *
 * @example
 * const mqtt = await startCloudMqtt(config, { log, metrics, authority });
 */
export async function startCloudMqtt(
  config: Config,
  parts: { log: Logger; metrics: MqttMetrics; authority: GatewayAuthority; retry?: RetryPolicy },
): Promise<CloudMqtt> {
  const log = parts.log.child({ component: 'mqtt' });
  if (config.MQTT_URL) {
    return connectExternalBroker({
      url: config.MQTT_URL,
      clientId: config.MQTT_CLIENT_ID,
      username: config.MQTT_USERNAME,
      password: config.MQTT_PASSWORD,
      sharedGroup: config.MQTT_SHARED_GROUP,
      log,
      metrics: parts.metrics,
      retry: parts.retry,
    });
  }
  return startEmbeddedBroker({
    host: config.MQTT_HOST,
    port: config.MQTT_PORT,
    tls: config.MQTT_TLS_CERT && config.MQTT_TLS_KEY ? { port: config.MQTT_TLS_PORT, cert: readPem(config.MQTT_TLS_CERT), key: readPem(config.MQTT_TLS_KEY) } : undefined,
    redis: config.REDIS_URL ? { url: config.REDIS_URL, keyPrefix: `${config.QUEUE_PREFIX}:mqtt:` } : undefined,
    authority: parts.authority,
    log,
    metrics: parts.metrics,
    retry: parts.retry,
  });
}
