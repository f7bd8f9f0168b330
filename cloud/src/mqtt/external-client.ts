import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { topics } from '@estate/protocol';
import type { CloudMqtt, MqttMessageHandler, PublishOptions } from './cloud-mqtt.js';
import { MqttUnavailableError } from './cloud-mqtt.js';
import type { MqttMetrics } from './mqtt-metrics.js';
import { DeliveryAbortedError, handleUntilDone, type RetryPolicy } from './redelivery.js';

export type ExternalClientOptions = {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** Subscribe as `$share/<group>/<filter>`, so several cloud processes split the gateways' messages. */
  sharedGroup?: string;
  log: Logger;
  metrics: MqttMetrics;
  retry?: RetryPolicy;
  /** Extra MQTT.js options (tests: reconnectPeriod). */
  mqtt?: Partial<IClientOptions>;
};

export type ExternalClient = CloudMqtt & {
  readonly kind: 'external';
  readonly client: MqttClient;
  /** Settles when the broker has answered the cloud's SUBSCRIBE (a fresh session hears nothing before). */
  readonly subscribed: Promise<void>;
};

/** The URL without credentials, for the banner and logs. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

/**
 * The cloud as a client of an external broker (Mosquitto, EMQX). A persistent session (clean: false,
 * a fixed client id) keeps QoS 1 messages queued at the broker while the cloud restarts
 * ([MQTT-3.1.2-4]); each message is acknowledged only after the handler resolves, through MQTT.js's
 * `handleMessage` hook, which sends the PUBACK when its callback is called ([MQTT-4.3.2-4]).
 *
 * @example
 * const client = await connectExternalBroker({ url: 'mqtt://127.0.0.1:1883', clientId: 'estate-cloud', log, metrics });
 * client.onMessage(dispatcher.handle);
 */
export async function connectExternalBroker(options: ExternalClientOptions): Promise<ExternalClient> {
  const { log, metrics } = options;
  const stopping = new AbortController();
  let resolveHandler!: (handler: MqttMessageHandler) => void;
  const handlerReady = new Promise<MqttMessageHandler>((resolve) => (resolveHandler = resolve));
  const filters = topics.cloudSubscriptions().map((filter) => (options.sharedGroup ? `$share/${options.sharedGroup}/${filter}` : filter));

  const client = mqtt.connect(options.url, {
    clientId: options.clientId,
    clean: false,
    protocolVersion: 4,
    username: options.username,
    password: options.password,
    reconnectPeriod: 2000,
    connectTimeout: 10_000,
    // Subscriptions live in the persistent session; re-sending them after a reconnect is harmless.
    resubscribe: true,
    ...options.mqtt,
  });

  // Command round trips wait on small packets: no Nagle delay on the socket.
  client.on('connect', () => (client.stream as unknown as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true));

  client.handleMessage = (packet, callback) => {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    handlerReady
      .then((handler) => handleUntilDone(handler, packet.topic, payload, { log, metrics, signal: stopping.signal, retry: options.retry }))
      .then(
        () => callback(),
        (error: Error) => {
          // Not acknowledged: the broker redelivers it in the next session ([MQTT-4.4.0-1]).
          if (!(error instanceof DeliveryAbortedError)) log.error({ err: error, topic: packet.topic }, 'gateway message not handled');
          callback(error);
        },
      );
  };
  client.on('error', (error) => log.warn({ err: error }, 'MQTT client error'));
  client.on('offline', () => log.warn({ url: redact(options.url) }, 'MQTT broker unreachable; reconnecting'));

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      cleanup();
      client.end(true);
      reject(new MqttUnavailableError(`Cannot connect to the MQTT broker at ${redact(options.url)}: ${error.message}`));
    };
    const onConnect = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      client.off('error', onError);
      client.off('connect', onConnect);
    };
    client.once('error', onError);
    client.once('connect', onConnect);
    setTimeout(() => {
      if (!client.connected) onError(new Error('no CONNACK within 15 s'));
    }, 15_000).unref();
  });
  // Not awaited: with a persistent session the broker may redeliver unacknowledged messages right after
  // CONNACK, and MQTT.js handles packets one at a time, so waiting here for the SUBACK (queued behind
  // a message that waits for the handler) would deadlock. A refusal is logged loudly instead.
  const subscribed = new Promise<void>((resolve) => {
    client.subscribe(filters, { qos: 1 }, (error, granted) => {
      const refused = (granted ?? []).filter((g) => g.qos === 128);
      if (error || refused.length) {
        log.error({ err: error, refused: refused.map((g) => g.topic) }, 'the broker refused the cloud’s subscriptions; check its ACL (docs/mqtt-brokers.md)');
      }
      resolve();
    });
  });

  return {
    kind: 'external',
    url: redact(options.url),
    client,
    subscribed,
    async publish(topic: string, payload: string | Buffer, publishOptions: PublishOptions): Promise<void> {
      await client.publishAsync(topic, payload, { qos: publishOptions.qos, retain: publishOptions.retain ?? false });
    },
    onMessage(handler: MqttMessageHandler): void {
      resolveHandler(handler);
    },
    async ping(): Promise<void> {
      if (!client.connected) throw new MqttUnavailableError(`Not connected to the MQTT broker at ${redact(options.url)}`);
    },
    async close(): Promise<void> {
      stopping.abort();
      await client.endAsync(true);
    },
  };
}
