import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import tls from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import redisPersistence from 'aedes-persistence-redis';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { gatewayMayPublish, gatewayMaySubscribe, parseTopic, TOPIC_ROOT, type GatewayAddress } from '@estate/protocol';
import type { CloudMqtt, MqttMessageHandler, PublishOptions } from './cloud-mqtt.js';
import { MqttUnavailableError } from './cloud-mqtt.js';
import type { MqttMetrics } from './mqtt-metrics.js';
import { handleUntilDone, type RetryPolicy } from './redelivery.js';

/** Who may connect: the gateway registry, answered from the database. */
export interface GatewayAuthority {
  /** The gateway named by `username` when `password` is its current credential and it is not revoked. */
  verify(username: string, password: string): Promise<GatewayAddress | null>;
  /** A gateway that is not revoked, by id: for wills the broker publishes after their client is gone. */
  find(gatewayId: string): Promise<GatewayAddress | null>;
}

export type EmbeddedBrokerOptions = {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** A TLS listener beside the plain one; cert and key are PEM text. */
  tls?: { port: number; cert: string; key: string };
  /** Retained messages, sessions and wills in Redis, so they survive a restart; in memory otherwise. */
  redis?: { url: string; keyPrefix: string };
  authority: GatewayAuthority;
  log: Logger;
  metrics: MqttMetrics;
  retry?: RetryPolicy;
};

export type EmbeddedBroker = CloudMqtt & { readonly kind: 'embedded'; readonly port: number; readonly tlsPort: number | null; readonly aedes: Aedes };

function refusal(returnCode: AuthenticateError['returnCode'], message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode });
}

/** PEM given inline, or the path of a PEM file. */
export function readPem(value: string): string {
  return value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8');
}

/**
 * aedes in this process, speaking MQTT 3.1.1 to gateways: one credential per gateway, each confined
 * to its own subtree, and every gateway message handed to the cloud's handler before it is acknowledged.
 *
 * aedes 1.x writes the PUBACK of a QoS 1 PUBLISH *before* it hands the message to subscribers
 * (lib/handlers/publish.js, enqueuePublish), so a subscriber's deliver callback cannot hold the PUBACK
 * back. `authorizePublish` runs before that write, so the message is handled there and the callback is
 * called only once the handler has committed: the gateway's PUBACK follows the database commit
 * ([MQTT-4.3.2-4]), and a gateway that is not acknowledged keeps the message in its outbox.
 *
 * @example
 * const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, authority, log, metrics });
 * broker.onMessage(dispatcher.handle);
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { authority, log, metrics } = options;
  const identities = new WeakMap<Client, GatewayAddress>();
  const stopping = new AbortController();
  let resolveHandler!: (handler: MqttMessageHandler) => void;
  const handlerReady = new Promise<MqttMessageHandler>((resolve) => (resolveHandler = resolve));

  const redis = options.redis ? new Redis(options.redis.url, { keyPrefix: options.redis.keyPrefix, maxRetriesPerRequest: 3 }) : null;
  const persistence = redis ? redisPersistence({ conn: redis }) : undefined;

  const aedes = await Aedes.createBroker({
    persistence,
    authenticate(client, username, password, done) {
      if (!username || !password) {
        metrics.authFailures.inc({ reason: 'no-credentials' });
        return done(refusal(4, 'username and password are required'), null);
      }
      authority.verify(username, password.toString('utf8')).then(
        (gateway) => {
          if (!gateway) {
            metrics.authFailures.inc({ reason: 'bad-credentials' });
            log.warn({ clientId: client.id, username }, 'MQTT connection refused: unknown or revoked gateway, or wrong password');
            return done(refusal(4, 'bad username or password'), null); // CONNACK 0x04
          }
          // One client id per gateway: otherwise a gateway could take over another's session, since the
          // broker closes an existing connection with the same client id ([MQTT-3.1.4-2]).
          if (client.id !== gateway.gatewayId) {
            metrics.authFailures.inc({ reason: 'client-id' });
            log.warn({ clientId: client.id, gatewayId: gateway.gatewayId }, 'MQTT connection refused: the client id must be the gateway id');
            return done(refusal(2, 'the client id must be the gateway id'), null); // CONNACK 0x02
          }
          identities.set(client, gateway);
          done(null, true);
        },
        (error: unknown) => {
          log.error({ err: error, clientId: client.id }, 'gateway authentication failed; is the database up?');
          done(refusal(3, 'server unavailable'), null); // CONNACK 0x03: the gateway retries later
        },
      );
    },

    authorizePublish(client, packet, done) {
      resolvePublisher(client, packet.topic).then(
        (gateway) => {
          if (!gateway || !mayPublish(gateway, packet.topic)) {
            metrics.aclDenied.inc({ action: 'publish' });
            log.warn({ gatewayId: gateway?.gatewayId ?? null, clientId: client?.id ?? null, topic: packet.topic }, 'MQTT publish outside the gateway’s subtree refused');
            // MQTT 3.1.1 cannot refuse one PUBLISH: the broker drops it and closes the connection ([MQTT-3.3.5-2]).
            return done(new Error('not authorized to publish to this topic'));
          }
          const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
          return handlerReady
            .then((handler) => handleUntilDone(handler, packet.topic, payload, { log, metrics, signal: stopping.signal, retry: options.retry }))
            .then(() => done(null), (error: Error) => done(error));
        },
        (error: Error) => done(error),
      );
    },

    authorizeSubscribe(client, subscription, done) {
      const gateway = identities.get(client);
      if (!gateway || !gatewayMaySubscribe(gateway, subscription.topic)) {
        metrics.aclDenied.inc({ action: 'subscribe' });
        log.warn({ gatewayId: gateway?.gatewayId ?? null, filter: subscription.topic }, 'MQTT subscription outside the gateway’s subtree refused');
        return done(null, null); // SUBACK return code 0x80, failure ([MQTT-3.9.3-2])
      }
      done(null, subscription);
    },
  });

  /** The gateway a publish comes from; with no live client (a will left by a dead broker), from the topic. */
  async function resolvePublisher(client: Client | null, topic: string): Promise<GatewayAddress | null> {
    if (client) return identities.get(client) ?? null;
    const parsed = parseTopic(topic);
    if (!parsed || parsed.kind === 'shared') return null;
    const gateway = await authority.find(parsed.gatewayId);
    return gateway && gateway.communityId === parsed.communityId ? gateway : null;
  }

  aedes.on('clientError', (client, error) => log.debug({ clientId: client.id, err: error }, 'MQTT client error'));
  aedes.on('connectionError', (client, error) => log.debug({ clientId: client.id, err: error }, 'MQTT connection error'));

  const server = createServer(aedes.handle);
  const port = await listen(server, options.host, options.port);
  let tlsServer: tls.Server | null = null;
  let tlsPort: number | null = null;
  if (options.tls) {
    tlsServer = tls.createServer({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' }, aedes.handle);
    tlsPort = await listen(tlsServer, options.host, options.tls.port);
  }
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;

  return {
    kind: 'embedded',
    url: `mqtt://${shownHost}:${port}`,
    tlsUrl: tlsPort === null ? undefined : `mqtts://${shownHost}:${tlsPort}`,
    port,
    tlsPort,
    aedes,
    publish(topic: string, payload: string | Buffer, publishOptions: PublishOptions): Promise<void> {
      const packet: PublishPacket = { cmd: 'publish', topic, payload: Buffer.from(payload), qos: publishOptions.qos, retain: publishOptions.retain ?? false, dup: false };
      return new Promise((resolve, reject) => aedes.publish(packet, (error) => (error ? reject(error) : resolve())));
    },
    onMessage(handler: MqttMessageHandler): void {
      resolveHandler(handler);
    },
    async ping(): Promise<void> {
      if (aedes.closed) throw new MqttUnavailableError('The embedded broker is closed');
      if (redis) await redis.ping();
    },
    async close(): Promise<void> {
      stopping.abort();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await Promise.all([closeServer(server), tlsServer ? closeServer(tlsServer) : undefined]);
      if (persistence) await persistence.destroy().catch(() => {});
    },
  };
}

/**
 * Publishing rights, plus unknown uplink channels in the gateway's own subtree (a newer gateway, say):
 * those reach the dispatcher, which keeps them as `wrong-topic` rejections, instead of the connection
 * being dropped over the same outbox message again and again.
 */
function mayPublish(gateway: GatewayAddress, topic: string): boolean {
  if (gatewayMayPublish(gateway, topic)) return true;
  return topic.startsWith(`${TOPIC_ROOT}/${gateway.communityId}/gw/${gateway.gatewayId}/up/`) && parseTopic(topic) === null;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
