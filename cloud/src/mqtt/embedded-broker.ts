import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import redisPersistence, { type StoredWill } from 'aedes-persistence-redis';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { gatewayMayPublish, gatewayMaySubscribe, MAX_PAYLOAD_BYTES, parseTopic, TOPIC_ROOT, type GatewayAddress } from '@estate/protocol';
import type { CloudMqtt, MqttMessageHandler, PublishOptions } from './cloud-mqtt.js';
import { MqttUnavailableError } from './cloud-mqtt.js';
import type { MqttMetrics } from './mqtt-metrics.js';
import { GuardedConnection, type PacketLimits } from './packet-size-guard.js';
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
  /** How often aedes beats and looks for wills left by dead brokers (every 4 beats); 60 s unless given (tests). */
  heartbeatIntervalMs?: number;
};

/**
 * The largest packets the broker reads. A gateway's PUBLISH is at most MAX_PAYLOAD_BYTES of payload plus
 * its topic and headers; a CONNECT (credentials, client id, a will) is small. A larger fixed header
 * closes the connection before the body is buffered.
 */
export const PACKET_LIMITS: PacketLimits = { firstPacketBytes: 8 * 1024, packetBytes: MAX_PAYLOAD_BYTES + 8 * 1024 };

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

  // Wills left by a dead broker go through publishableWills (below) before aedes publishes them.
  if (persistence) {
    const streamWill = persistence.streamWill.bind(persistence);
    persistence.streamWill = (brokers) => Readable.from(publishableWills(streamWill(brokers)));
  }

  /** The will each connection asked for, kept from its CONNECT until `authenticate` has checked it. */
  const willTopics = new WeakMap<Client, string>();

  const aedes = await Aedes.createBroker({
    persistence,
    ...(options.heartbeatIntervalMs ? { heartbeatInterval: options.heartbeatIntervalMs } : {}),
    preConnect(client, packet, done) {
      if (packet.will) willTopics.set(client, packet.will.topic);
      done(null, true);
    },
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
          // A will is published by the broker, perhaps by the next broker after this one died (Redis
          // persistence keeps it) with no client attached: so it must name the gateway's own subtree now.
          const willTopic = willTopics.get(client);
          if (willTopic !== undefined && !gatewayMayPublish(gateway, willTopic)) {
            metrics.authFailures.inc({ reason: 'will-topic' });
            log.warn({ clientId: client.id, willTopic: willTopic.slice(0, 300) }, 'MQTT connection refused: the last will is outside the gateway’s subtree');
            return done(refusal(5, 'the last will must be on the gateway’s own topics'), null); // CONNACK 0x05
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
      resolvePublisher(client, packet).then(
        (gateway) => {
          if (!gateway || !(client ? mayPublish(gateway, packet.topic) : gatewayMayPublish(gateway, packet.topic))) {
            metrics.aclDenied.inc({ action: client ? 'publish' : 'will' });
            log.warn({ gatewayId: gateway?.gatewayId ?? null, clientId: client?.id ?? willOwner(packet), topic: packet.topic }, 'MQTT publish outside the gateway’s subtree refused');
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

  /**
   * The gateway a publish comes from. With no live client it is a will that a dead broker left in Redis
   * (aedes publishes those with no client attached): the gateway is the one whose connection left it
   * (the will's stored client id, which `authenticate` tied to the gateway id), and it must be the
   * gateway the topic names, so one gateway's will can never speak for another.
   */
  async function resolvePublisher(client: Client | null, packet: PublishPacket): Promise<GatewayAddress | null> {
    if (client) return identities.get(client) ?? null;
    const parsed = parseTopic(packet.topic);
    if (!parsed || parsed.kind === 'shared' || willOwner(packet) !== parsed.gatewayId) return null;
    const gateway = await authority.find(parsed.gatewayId);
    return gateway && gateway.communityId === parsed.communityId ? gateway : null;
  }

  /**
   * The wills a dead broker left in Redis, as aedes sweeps them, without those no gateway may publish
   * (a forged topic, a revoked gateway): those are deleted here. They must not reach `authorizePublish`:
   * aedes's sweep publishes wills in eagerly started batches, and a refusal there becomes an unhandled
   * rejection (and leaves the will to be refused again on every sweep).
   */
  async function* publishableWills(wills: AsyncIterable<StoredWill>): AsyncGenerator<StoredWill> {
    for await (const will of wills) {
      const gateway = await resolvePublisher(null, will);
      if (gateway && gatewayMayPublish(gateway, will.topic)) {
        yield will;
        continue;
      }
      metrics.aclDenied.inc({ action: 'will' });
      log.warn({ clientId: willOwner(will), topic: String(will.topic).slice(0, 300) }, 'stored last will refused: it is not on its own gateway’s topics; deleted');
      await persistence!.delWill({ id: String(will.clientId), brokerId: String(will.brokerId) });
    }
  }
  // Parts of aedes 1.x its type declarations leave out.
  const internals = aedes as unknown as {
    clients: Record<string, Client | undefined>;
    on(event: 'error', listener: (error: Error) => void): void;
  };

  aedes.on('clientError', (client, error) => log.debug({ clientId: client.id, err: error }, 'MQTT client error'));
  aedes.on('connectionError', (client, error) => log.debug({ clientId: client.id, err: error }, 'MQTT connection error'));
  // aedes emits 'error' when its sweep of dead brokers' wills fails (a refused will, Redis down); without a
  // listener that would be thrown and end the process.
  internals.on('error', (error) => log.warn({ err: error }, 'MQTT broker error'));

  /** Every connection goes through the packet size guard before aedes reads from it. */
  function accept(socket: Socket): void {
    socket.on('error', () => {}); // reported through the guarded connection
    // MQTT packets are small and a door open waits on each one: no Nagle delay (RFC 896) on top of them.
    socket.setNoDelay(true);
    const guarded = new GuardedConnection(socket, PACKET_LIMITS, (packet) => {
      metrics.oversizedPackets.inc({ phase: packet.firstPacket ? 'connect' : 'connected' });
      log.warn(
        { remoteAddress: socket.remoteAddress ?? null, declaredBytes: packet.declaredBytes, limitBytes: packet.limitBytes, firstPacket: packet.firstPacket },
        'MQTT connection closed: a packet declared a length above the limit',
      );
    });
    aedes.handle(guarded as unknown as Socket);
  }

  const server = createServer(accept);
  const port = await listen(server, options.host, options.port);
  let tlsServer: tls.Server | null = null;
  let tlsPort: number | null = null;
  if (options.tls) {
    tlsServer = tls.createServer({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' }, accept);
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
    /** Closes this broker's connection of a client (its will is published as for any lost connection). */
    disconnect(clientId: string): Promise<boolean> {
      const client = internals.clients[clientId];
      if (!client) return Promise.resolve(false);
      return new Promise((resolve) => client.close(() => resolve(true)));
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

/** The client id a stored will was left by (aedes-persistence-redis keeps it on the packet). */
function willOwner(packet: PublishPacket): string | null {
  const clientId = (packet as { clientId?: unknown }).clientId;
  return typeof clientId === 'string' ? clientId : null;
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
