import type { Logger } from 'pino';
import type { MqttMessageHandler } from './cloud-mqtt.js';
import type { MqttMetrics } from './mqtt-metrics.js';

export type RetryPolicy = { firstDelayMs: number; maxDelayMs: number };
export const DEFAULT_RETRY: RetryPolicy = { firstDelayMs: 200, maxDelayMs: 30_000 };

/** Thrown when the transport closes while a message still waits for its handler to succeed. */
export class DeliveryAbortedError extends Error {
  constructor() {
    super('The MQTT transport closed before the message was handled; it stays unacknowledged and the broker redelivers it');
    this.name = 'DeliveryAbortedError';
  }
}

/**
 * Runs the handler until it resolves, backing off exponentially with full jitter between attempts.
 * The caller acknowledges only after this resolves, so a message whose effects did not commit is never
 * acknowledged; if the transport closes first, the message stays unacknowledged and the broker
 * redelivers it to the next session ([MQTT-4.4.0-1]).
 *
 * @example
 * await handleUntilDone(handler, topic, payload, { log, metrics, signal });
 * sendPuback();
 */
export async function handleUntilDone(
  handler: MqttMessageHandler,
  topic: string,
  payload: Buffer,
  context: { log: Logger; metrics: MqttMetrics; signal: AbortSignal; retry?: RetryPolicy },
): Promise<void> {
  const policy = context.retry ?? DEFAULT_RETRY;
  const meta = { receivedAtMs: Date.now() };
  for (let attempt = 0; ; attempt++) {
    if (context.signal.aborted) throw new DeliveryAbortedError();
    try {
      await handler(topic, payload, meta);
      return;
    } catch (error) {
      context.metrics.retries.inc();
      const ceiling = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.min(attempt, 20));
      const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      // The topic names the gateway; the payload is never logged (it may carry anything).
      context.log.warn({ err: error, topic, attempt: attempt + 1, retryInMs: delayMs }, 'gateway message handler failed; retrying before acknowledging');
      await sleep(delayMs, context.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
