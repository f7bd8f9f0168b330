import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/migrate.js';
import { meterFacts, type MeterFacts } from './meter-facts.js';
import { meters } from './meters.schema.js';

export type DeviceKey = { gatewayId: string; deviceId: string };

export const deviceKey = (gatewayId: string, deviceId: string) => `${gatewayId}/${deviceId}`;

/**
 * Maps a gateway's device id to the meters that have sat there (the one there now and any it replaced),
 * cached per ingest. A miss is looked up again on every batch, never remembered, so a meter registered
 * a second ago is found on its next reading. A cached meter that has since been replaced (its row got
 * `removed_at`, perhaps by another API node) is noticed by one cheap query per batch and reloaded, so
 * readings after a replacement reach the new meter.
 */
export class MeterDirectory {
  private readonly byDevice = new Map<string, MeterFacts[]>();

  /** The meters of every key, in one or two queries inside the batch's transaction. */
  async resolve(tx: Database, keys: Iterable<DeviceKey>): Promise<Map<string, MeterFacts[]>> {
    const wanted = new Map<string, DeviceKey>();
    for (const k of keys) wanted.set(deviceKey(k.gatewayId, k.deviceId), k);

    const cachedActive: string[] = [];
    for (const key of wanted.keys()) {
      for (const m of this.byDevice.get(key) ?? []) if (m.removedAtMs === null) cachedActive.push(m.id);
    }
    if (cachedActive.length > 0) {
      const replaced = rowsOf<{ gateway_id: string; device_id: string }>(
        await tx.execute(sql`
          select gateway_id::text as gateway_id, device_id from ${meters}
          where removed_at is not null and id in (select value::uuid from json_array_elements_text(${JSON.stringify(cachedActive)}::json))`),
      );
      for (const r of replaced) this.byDevice.delete(deviceKey(r.gateway_id, r.device_id));
    }

    const missing = [...wanted].filter(([key]) => !this.byDevice.has(key)).map(([, k]) => ({ g: k.gatewayId, d: k.deviceId }));
    if (missing.length > 0) {
      const rows = await tx
        .select()
        .from(meters)
        .where(sql`(${meters.gatewayId}, ${meters.deviceId}) in (select k.g, k.d from json_to_recordset(${JSON.stringify(missing)}::json) as k(g uuid, d text))`);
      for (const row of rows) {
        const key = deviceKey(row.gatewayId!, row.deviceId!);
        const list = this.byDevice.get(key) ?? [];
        list.push(meterFacts(row));
        this.byDevice.set(key, list);
      }
    }
    const out = new Map<string, MeterFacts[]>();
    for (const key of wanted.keys()) out.set(key, this.byDevice.get(key) ?? []);
    return out;
  }

  /** Drops every cached entry; the next batch reloads what it needs. */
  clear(): void {
    this.byDevice.clear();
  }
}
