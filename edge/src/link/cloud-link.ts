import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { encodePayload, topics, type GatewayConfig, type GatewayState } from '@estate/protocol';
import { errorText, type Logger } from '../log.js';
import { DEFAULT_BACKOFF, reconnectDelay, type BackoffOptions } from './backoff.js';

export type CloudLinkOptions = {
  config: GatewayConfig;
  /** Identifies this process run in the retained state, so the cloud sees restarts. */
  bootId: string;
  version: string;
  log: Logger;
  backoff?: BackoffOptions;
  /**
   * Handles one downlink message. The PUBACK is sent when the returned promise settles, so the handler
   * takes ownership (e.g. journals a command) before the broker forgets the message ([MQTT-4.3.2-2]).
   * Keep it short: MQTT.js reads the next packet only after it.
   */
  onMessage(topic: string, payload: Buffer): void | Promise<void>;
};

export class LinkDownError extends Error {
  constructor(message = 'the cloud link is down') {
    super(message);
    this.name = 'LinkDownError';
  }
}

/**
 * The MQTT connection to the cloud broker (MQTT 3.1.1, MQTT.js).
 *
 * - clientId = gatewayId, so the broker's ACL and session belong to this gateway ([MQTT-3.1.3-2]).
 * - Clean session off ([MQTT-3.1.2-4]): the broker keeps the subscriptions and queues QoS 1 commands
 *   while the gateway is offline, so a `config.apply` or `meter.read-now` sent during an outage arrives
 *   afterwards (commands carry `expiresAt`, and stale ones are answered `expired`). Uplink does not rely
 *   on the session: the outbox, not MQTT.js's in-memory store, re-sends whatever was not acknowledged.
 * - Last will: retained `offline` GatewayState on `.../state` ([MQTT-3.1.2-8], retained per
 *   [MQTT-3.1.2-17]); on connect the retained `online` state replaces it, and on a graceful stop the
 *   gateway publishes `offline` itself, since a DISCONNECT discards the will ([MQTT-3.1.2-10]).
 * - Reconnects are ours: MQTT.js's fixed `reconnectPeriod` is off; each attempt is a fresh client after an
 *   exponential backoff with full jitter, reset once a CONNACK arrives.
 */
export class CloudLink extends EventEmitter<{ up: []; down: [reason: string] }> {
  private client: MqttClient | null = null;
  private connected = false;
  private stopped = true;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly log: Logger;

  constructor(private readonly options: CloudLinkOptions) {
    super();
    this.log = options.log.child({ component: 'link' });
  }

  get config(): GatewayConfig {
    return this.options.config;
  }

  isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  /** Publishes the retained offline state (if connected), then disconnects and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (this.connected) {
      this.connected = false;
      try {
        await withTimeout(client.publishAsync(this.stateTopic(), this.statePayload('offline'), { qos: 1, retain: true }), 2_000);
      } catch (error) {
        this.log.warn('could not publish the offline state before stopping', { error: errorText(error) });
      }
      this.emit('down', 'stopped');
    }
    await withTimeout(client.endAsync(false), 2_000).catch(() => client.end(true));
  }

  /** Resolves true once connected (and subscribed), false when `timeoutMs` passes first. */
  waitUntilConnected(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.off('up', onUp);
        resolve(false);
      }, timeoutMs);
      const onUp = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.once('up', onUp);
    });
  }

  /**
   * QoS 1 publish; resolves on PUBACK ([MQTT-4.3.2]: the sender treats the message as unacknowledged
   * until then). Rejects with LinkDownError when not connected. If the connection dies before the PUBACK
   * the promise never settles: callers track their in-flight messages per connection (see the publisher).
   */
  publish(topic: string, payload: string | Buffer, options: { retain?: boolean } = {}): Promise<void> {
    const client = this.client;
    if (!client || !this.connected) return Promise.reject(new LinkDownError());
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, { qos: 1, retain: options.retain ?? false }, (error) => (error ? reject(error) : resolve()));
    });
  }

  private connect(): void {
    const { config } = this.options;
    const gw = { communityId: config.communityId, gatewayId: config.gatewayId };
    const clientOptions: IClientOptions = {
      clientId: config.gatewayId,
      username: config.cloud.username,
      password: config.cloud.password,
      protocolVersion: 4,
      clean: false,
      keepalive: config.cloud.keepaliveSeconds,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      will: { topic: this.stateTopic(), payload: Buffer.from(this.statePayload('offline')), qos: 1, retain: true },
      ...(config.cloud.caPem ? { ca: config.cloud.caPem } : {}),
      rejectUnauthorized: true,
    };
    const client = mqtt.connect(config.cloud.mqttUrl, clientOptions);
    this.client = client;
    // Replaces MQTT.js's default, which acknowledges before the application has the message.
    client.handleMessage = (packet, done) => {
      Promise.resolve()
        .then(() => this.options.onMessage(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)))
        .catch((error: unknown) => this.log.error('downlink handler failed', { topic: packet.topic, error: errorText(error) }))
        .finally(() => done());
    };
    client.on('connect', (connack) => {
      if (client !== this.client) return;
      // Small packets someone waits on (a door's command and result): no Nagle delay on the socket.
      noDelay(client);
      void this.onConnected(client, gw, connack.sessionPresent);
    });
    client.on('error', (error) => {
      if (client === this.client) this.log.warn('mqtt error', { error: errorText(error) });
    });
    client.on('close', () => {
      if (client !== this.client) return;
      this.client = null;
      client.removeAllListeners('connect');
      client.end(true);
      if (this.connected) {
        this.connected = false;
        this.log.warn('disconnected from the cloud broker');
        this.emit('down', 'connection closed');
      }
      this.scheduleReconnect();
    });
  }

  private async onConnected(client: MqttClient, gw: { communityId: string; gatewayId: string }, sessionPresent: boolean): Promise<void> {
    try {
      // Subscribed before announcing: the cloud answers `online` with what the gateway should hold (its
      // door roster), and on a first connection there is no session yet to keep that for it.
      const granted = await client.subscribeAsync(topics.gatewaySubscriptions(gw), { qos: 1 });
      // SUBACK 0x80 is a refusal ([MQTT-3.9.3-2]); the broker's ACL is wrong for this gateway.
      const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
      if (refused.length > 0) throw new Error(`subscription refused by the broker: ${refused.join(', ')}`);
      await client.publishAsync(this.stateTopic(), this.statePayload('online'), { qos: 1, retain: true });
    } catch (error) {
      this.log.error('connected but could not announce or subscribe; reconnecting', { error: errorText(error) });
      client.end(true);
      return;
    }
    if (client !== this.client) return;
    this.attempt = 0;
    this.connected = true;
    this.log.info('connected to the cloud broker', { url: redactUrl(this.options.config.cloud.mqttUrl), sessionPresent });
    this.emit('up');
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    const delay = reconnectDelay(this.attempt, this.options.backoff ?? DEFAULT_BACKOFF);
    this.attempt += 1;
    this.log.debug('reconnecting', { attempt: this.attempt, delayMs: delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }

  private stateTopic(): string {
    return topics.state({ communityId: this.options.config.communityId, gatewayId: this.options.config.gatewayId });
  }

  private statePayload(state: GatewayState['state']): string {
    return encodePayload('state', { v: 1, state, version: this.options.version, bootId: this.options.bootId });
  }
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    parsed.username = '';
    return parsed.toString();
  } catch {
    return '(unparseable url)';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Turns off Nagle's algorithm on the client's TCP (or TLS over TCP) socket, where there is one. */
export function noDelay(client: MqttClient): void {
  const stream = client.stream as unknown as { setNoDelay?: (on: boolean) => void } | undefined;
  stream?.setNoDelay?.(true);
}
