import { Counter, type Registry } from 'prom-client';

function build(registry: Registry) {
  return {
    rejected: new Counter({
      name: 'mqtt_messages_rejected_total',
      help: 'Gateway messages refused by the cloud and kept in ingest_rejections, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    processed: new Counter({
      name: 'mqtt_messages_processed_total',
      help: 'Gateway messages handled and acknowledged, by topic kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: 'mqtt_message_retries_total',
      help: 'Handler attempts that failed and were retried before the message was acknowledged',
      registers: [registry],
    }),
    aclDenied: new Counter({
      name: 'mqtt_acl_denied_total',
      help: 'Publishes and subscriptions refused because they reach outside the gateway’s own subtree',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    oversizedPackets: new Counter({
      name: 'mqtt_oversized_packets_total',
      help: 'Connections closed because a packet declared a length above the limit, by phase (connect: the first packet, before authentication)',
      labelNames: ['phase'] as const,
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'mqtt_auth_failures_total',
      help: 'MQTT connections refused, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
}

export type MqttMetrics = ReturnType<typeof build>;

const byRegistry = new WeakMap<Registry, MqttMetrics>();

/** The MQTT counters on an app's registry, created once per registry (broker and dispatcher share them). */
export function mqttMetrics(registry: Registry): MqttMetrics {
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    metrics = build(registry);
    byRegistry.set(registry, metrics);
  }
  return metrics;
}
