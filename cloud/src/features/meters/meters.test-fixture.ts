import type { MeterReading, ReadingsMessage } from '@estate/protocol';
import type { Harness } from '../../../test/harness.js';
import { gateways } from '../gateways/gateways.schema.js';
import { billingPoint } from './meter-facts.js';
import { meters } from './meters.schema.js';

// Test-only setup for the meter tests, written straight into the tables. Not a *.test.ts file.

/** A gateway row of a community, as provisioning would leave it (the credential is irrelevant here). */
export async function seedGateway(h: Harness, communityId: string, name = 'gw') {
  const [row] = await h.deps.db.insert(gateways).values({ communityId, name, credentialHash: 'x', config: {} }).returning();
  return row!;
}

/** A meter on a gateway device id (or read by hand when `gatewayId` is null). */
export async function seedMeter(
  h: Harness,
  m: { communityId: string; houseId?: string | null; gatewayId: string | null; deviceId?: string; model?: string; serialNo?: string; pollSeconds?: number; installedAt?: Date },
) {
  const model = m.model ?? 'DTSY-TOU';
  const point = billingPoint(model)!;
  const [row] = await h.deps.db
    .insert(meters)
    .values({
      communityId: m.communityId,
      houseId: m.houseId ?? null,
      kind: model === 'LXSY-RS485' ? 'water' : 'electricity',
      model,
      serialNo: m.serialNo ?? `SN-${Math.random().toString(36).slice(2, 10)}`,
      billingQuantity: point.quantity,
      unit: point.unit,
      gatewayId: m.gatewayId,
      deviceId: m.gatewayId ? (m.deviceId ?? `m${Math.random().toString(36).slice(2, 8)}`) : null,
      pollSeconds: m.pollSeconds ?? 900,
      installedAt: m.installedAt ?? new Date('2020-01-01T00:00:00Z'),
    })
    .returning();
  return row!;
}

/** One reading of an energy meter: `energy_import` (and a voltage, as a real poll would carry). */
export function energyReading(seq: number, meterId: string, readAt: string | Date, kWh: string): MeterReading {
  return {
    seq,
    meterId,
    readAt: typeof readAt === 'string' ? readAt : readAt.toISOString(),
    values: { energy_import: { value: kWh, unit: 'kWh' }, voltage: { value: '229.8', unit: 'V' } },
  };
}

export function readingsMessage(gatewayId: string, items: MeterReading[]): ReadingsMessage {
  return { v: 1, gatewayId, sentAt: new Date().toISOString(), items };
}

/** 15-minute poll times from a start, as ISO strings. */
export function pollTimes(startIso: string, count: number, stepSeconds = 900): string[] {
  const start = Date.parse(startIso);
  return Array.from({ length: count }, (_, i) => new Date(start + i * stepSeconds * 1000).toISOString());
}
