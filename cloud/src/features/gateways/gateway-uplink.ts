import { and, eq, inArray, sql } from 'drizzle-orm';
import type { CommandResult, DeviceAvailability, GatewayAddress, GatewayState, TelemetryMessage } from '@estate/protocol';
import type { Database } from '../../db/client.js';
import { gatewayCommands, gatewayDevices, gateways } from './gateways.schema.js';

// What each uplink does to the registry. Every write is idempotent and ordered by the message's own
// sequence or time, since QoS 1 may deliver a message twice or after a newer one ([MQTT-4.3.2], [MQTT-4.6.0]).

/**
 * Online / offline from the retained state message or the last will ([MQTT-3.1.2-8]). An `offline` will
 * of an earlier boot that arrives after the new boot said `online` is ignored.
 */
export async function applyGatewayState(db: Database, gw: GatewayAddress, state: GatewayState, at: Date): Promise<void> {
  const staleOffline = state.state === 'offline' ? sql`and not (${gateways.state} = 'online' and ${gateways.bootId} is distinct from ${state.bootId}::uuid)` : sql``;
  await db.execute(sql`
    update ${gateways}
       set state = ${state.state}, boot_id = ${state.bootId}::uuid, version = ${state.version},
           last_seen_at = greatest(coalesce(${gateways.lastSeenAt}, ${at.toISOString()}::timestamptz), ${at.toISOString()}::timestamptz)
     where ${gateways.id} = ${gw.gatewayId} ${staleOffline}`);
}

/** Health telemetry: the newest report (by sequence) is kept; every report counts as a heartbeat. */
export async function applyTelemetry(db: Database, gw: GatewayAddress, message: TelemetryMessage, at: Date): Promise<void> {
  const latest = message.items.reduce((a, b) => (b.seq > a.seq ? b : a));
  await db.execute(sql`
    update ${gateways}
       set last_seen_at = greatest(coalesce(${gateways.lastSeenAt}, ${at.toISOString()}::timestamptz), ${at.toISOString()}::timestamptz),
           last_health = case when coalesce((${gateways.lastHealth} ->> 'seq')::bigint, 0) < ${latest.seq}
                              then ${JSON.stringify(latest)}::jsonb else ${gateways.lastHealth} end,
           version = case when coalesce((${gateways.lastHealth} ->> 'seq')::bigint, 0) < ${latest.seq}
                          then ${latest.version} else ${gateways.version} end
     where ${gateways.id} = ${gw.gatewayId}`);
}

/** Device availability, upserted; an older report than the stored one changes nothing. */
export async function applyAvailability(db: Database, gw: GatewayAddress, availability: DeviceAvailability, at: Date): Promise<void> {
  await db
    .insert(gatewayDevices)
    .values({
      gatewayId: gw.gatewayId,
      deviceId: availability.deviceId,
      kind: availability.kind,
      available: availability.available,
      reason: availability.reason,
      since: new Date(availability.since),
      updatedAt: at,
    })
    .onConflictDoUpdate({
      target: [gatewayDevices.gatewayId, gatewayDevices.deviceId],
      set: {
        kind: sql`excluded.kind`,
        available: sql`excluded.available`,
        reason: sql`excluded.reason`,
        since: sql`excluded.since`,
        updatedAt: sql`excluded.updated_at`,
      },
      setWhere: sql`excluded.since >= ${gatewayDevices.since}`,
    });
}

/**
 * Command results: a pending command takes its result once; a result for a command that is already
 * complete changes nothing. Returns the ids that became complete now, and those this gateway never had.
 */
export async function applyResults(db: Database, gw: GatewayAddress, results: CommandResult[], at: Date): Promise<{ completed: string[]; unknown: string[] }> {
  const completed: string[] = [];
  for (const result of results) {
    const rows = await db
      .update(gatewayCommands)
      .set({ state: result.status, result: result as unknown as Record<string, unknown>, completedAt: at })
      .where(and(eq(gatewayCommands.id, result.commandId), eq(gatewayCommands.gatewayId, gw.gatewayId), eq(gatewayCommands.state, 'pending')))
      .returning({ id: gatewayCommands.id });
    if (rows.length) completed.push(result.commandId);
  }
  const rest = [...new Set(results.map((r) => r.commandId).filter((id) => !completed.includes(id)))];
  if (!rest.length) return { completed, unknown: [] };
  const known = await db
    .select({ id: gatewayCommands.id })
    .from(gatewayCommands)
    .where(and(inArray(gatewayCommands.id, rest), eq(gatewayCommands.gatewayId, gw.gatewayId)));
  const knownIds = new Set(known.map((k) => k.id));
  return { completed, unknown: rest.filter((id) => !knownIds.has(id)) };
}
