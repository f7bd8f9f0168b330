import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * The ingest's Prometheus metrics, on the app's registry. Looked up before being created so a second
 * ingest on the same registry (a restart in a test, a bench run) reuses them instead of throwing.
 */
export function ingestMetrics(registry: Registry) {
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    (registry.getSingleMetric(name) as Counter<string> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
  return {
    ingested: counter('meter_readings_ingested_total', 'Meter readings stored, by source', ['source']),
    duplicates: counter('meter_readings_duplicate_total', 'Gateway readings delivered again and already stored (QoS 1 redelivery, outbox replay)'),
    rejected: counter('meter_readings_rejected_total', 'Meter readings kept in ingest_rejections instead of meter_readings, by reason', ['reason']),
    anomalies: counter('meter_readings_anomalies_total', 'Readings stored with an anomaly flag, by anomaly', ['anomaly']),
    lag:
      (registry.getSingleMetric('meter_reading_lag_seconds') as Histogram<string> | undefined) ??
      new Histogram({
        name: 'meter_reading_lag_seconds',
        help: 'From a reading\'s readAt on the gateway to its commit in the database',
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400],
        registers: [registry],
      }),
  };
}

export type IngestMetrics = ReturnType<typeof ingestMetrics>;
