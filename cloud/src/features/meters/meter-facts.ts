import { METER_MODELS, type RegisterPoint } from '@estate/protocol';
import { rolloverModulusMicro, type MeterRules } from './reading-anomalies.js';
import type { meters } from './meters.schema.js';

export type MeterRow = typeof meters.$inferSelect;

/** What ingest, entry and import need to know about a meter, with its model's counter facts resolved. */
export type MeterFacts = MeterRules & {
  id: string;
  communityId: string;
  gatewayId: string | null;
  deviceId: string | null;
  billingQuantity: string;
  installedAtMs: number;
  removedAtMs: number | null;
};

/**
 * The point bills are computed from: the model's first cumulative point. A model without one cannot
 * be billed, so registering a meter of it is refused.
 *
 * @example
 * billingPoint('DTSY-TOU')?.quantity // 'energy_import'
 */
export function billingPoint(modelName: string): RegisterPoint | undefined {
  return METER_MODELS.get(modelName)?.points.find((p) => p.cumulative);
}

export function meterFacts(row: MeterRow): MeterFacts {
  const point = METER_MODELS.get(row.model)?.points.find((p) => p.quantity === row.billingQuantity);
  return {
    id: row.id,
    communityId: row.communityId,
    gatewayId: row.gatewayId,
    deviceId: row.deviceId,
    billingQuantity: row.billingQuantity,
    unit: row.unit,
    pollSeconds: row.pollSeconds,
    polled: row.gatewayId !== null,
    rolloverModulusMicro: point ? rolloverModulusMicro(point.rolloverAt, point.scale) : null,
    installedAtMs: row.installedAt.getTime(),
    removedAtMs: row.removedAt?.getTime() ?? null,
  };
}

/**
 * Which of the meters that have sat on one gateway device id a reading belongs to: of the replaced
 * meters, the first one removed after the read time (the one in service then), else the meter there
 * now. A reading from before a replacement that arrives late (an outbox replay) so lands on the old
 * meter, not the new one. Installation times are not consulted: a meter registered after the gateway
 * started reading it still owns those earlier readings.
 */
export function meterAt(candidates: readonly MeterFacts[], atMs: number): MeterFacts | undefined {
  let best: MeterFacts | undefined;
  for (const m of candidates) {
    if (m.removedAtMs !== null && atMs < m.removedAtMs && (!best || m.removedAtMs < best.removedAtMs!)) best = m;
  }
  return best ?? candidates.find((m) => m.removedAtMs === null);
}
