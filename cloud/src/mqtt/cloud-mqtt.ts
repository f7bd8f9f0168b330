/**
 * The cloud's one view of MQTT, whichever broker carries it: aedes inside this process (`embedded`) or
 * the cloud as a client of Mosquitto / EMQX (`external`). Everything above this file (the gateway
 * dispatcher, the command API) is written against it and does not know which one runs.
 */
/**
 * `receivedAtMs` (Date.now() when the transport took the message, before its first attempt) stays the
 * same on every retry, so a handler can order a message against others by when it arrived.
 */
export type MqttMessageHandler = (topic: string, payload: Buffer, meta?: { receivedAtMs: number }) => Promise<void>;

export type PublishOptions = { qos: 0 | 1; retain?: boolean };

export interface CloudMqtt {
  readonly kind: 'embedded' | 'external' | 'none';
  /** Where the broker is, for the banner and logs (never with a password in it). */
  readonly url: string;
  /** The TLS listener's URL, when the embedded broker has one. */
  readonly tlsUrl?: string;
  /**
   * Publishes as the cloud. Resolves for QoS 1 once the broker has taken the message
   * ([MQTT-4.3.2-1]: stored by the broker, or PUBACK received by the external client).
   */
  publish(topic: string, payload: string | Buffer, options: PublishOptions): Promise<void>;
  /**
   * The one handler for every gateway message. The transport acknowledges a QoS 1 message only after
   * the handler resolves ([MQTT-4.3.2-4]: the PUBACK is the receiver taking ownership), and calls it
   * again with backoff while it rejects, so a database outage delays messages but never loses them.
   * A handler must therefore be idempotent, and must itself resolve for a message it refuses (poison).
   */
  onMessage(handler: MqttMessageHandler): void;
  /**
   * Ends a client's live connection (a gateway whose credential was rotated or that was revoked), if
   * this process holds it; resolves true when there was one. Only the embedded broker can: an external
   * broker must be told by its operator (Mosquitto: `mosquitto_ctrl dynsec disableClient`, EMQX: its
   * clients API), so this is absent there.
   */
  disconnect?(clientId: string): Promise<boolean>;
  /** Rejects when the broker is not usable, for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class MqttUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MqttUnavailableError';
  }
}

/**
 * Stands in until a broker is attached (tests that do not need MQTT, scripts). Publishing fails with a
 * sentence that says why; /readyz leaves the broker out while this is in place.
 */
export class NoMqtt implements CloudMqtt {
  readonly kind = 'none' as const;
  readonly url = 'none';
  publish(): Promise<void> {
    return Promise.reject(new MqttUnavailableError('No MQTT broker is attached to this process'));
  }
  onMessage(): void {}
  ping(): Promise<void> {
    return Promise.reject(new MqttUnavailableError('No MQTT broker is attached to this process'));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
