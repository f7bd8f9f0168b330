import { and, eq, inArray, sql } from 'drizzle-orm';
import type { CommandResult, DeviceAvailability, GatewayAddress, GatewayState, TelemetryMessage } from '@estate/protocol';
import type { Database } from '../../db/client.js';
import { gatewayCommands, gatewayDevices, gateways } from './gateways.schema.js';

// What each uplink does to the registry. Every write is idempotent and ordered by the message's own
// sequence or time, since QoS 1 may deliver a message twice or after a newer one ([MQTT-4.3.2], [MQTT-4.6.0]).

/**
 * Online / offline from the retained state message or the last will ([MQTT-3.1.2-8]), ordered by when
 * each message reached the cloud (`at`, taken once before the first attempt, so a retried message keeps
 * its place), since QoS 1 messages of two connections are handled concurrently and a database retry can
 * hold one back:
 *
 * - `online` (and telemetry, in `applyTelemetry`) sets the state unless something newer was recorded.
 * - `offline` is applied only if nothing was recorded at or after its receipt: when a gateway reconnects,
 *   the broker closes the old connection and publishes its will before the new connection's `online` can
 *   arrive, so a will handled after that `online` (same bootId or not) is older than it and is ignored.
 *   A tie goes to online: the will of a connection taken over and the new `online` can land in the same
 *   millisecond, a death in the same millisecond as a heartbeat hardly can (and the next heartbeat
 *   would say online again; a dead gateway shows as heartbeatOverdue).
 * - An `offline` will of an earlier boot while the gateway is online under a newer boot is ignored.
 *
 * `last_seen_at` is the newest receipt time of any of them, and is what the next message is ordered
 * against.
 */
export async function applyGatewayState(db: Database, gw: GatewayAddress, state: GatewayState, at: Date): Promise<void> {
  const atSql = sql`${at.toISOString()}::timestamptz`;
  const newest =
    state.state === 'offline'
      ? sql`(${gateways.lastSeenAt} is null or ${gateways.lastSeenAt} < ${atSql})
            and not (${gateways.state} = 'online' and ${gateways.bootId} is distinct from ${state.bootId}::uuid)`
      : sql`(${gateways.lastSeenAt} is null or ${gateways.lastSeenAt} <= ${atSql})`;
  await db.execute(sql`
    update ${gateways}
       set state = case when ${newest} then ${state.state} else ${gateways.state} end,
           boot_id = case when ${newest} then ${state.bootId}::uuid else ${gateways.bootId} end,
           version = case when ${newest} then ${state.version} else ${gateways.version} end,
           last_seen_at = greatest(coalesce(${gateways.lastSeenAt}, ${atSql}), ${atSql})
     where ${gateways.id} = ${gw.gatewayId}`);
}

/**
 * Health telemetry: the newest report (by sequence) is kept; every report counts as a heartbeat and says
 * the gateway is online, unless something newer (its will, say) was recorded (see applyGatewayState).
 */
export async function applyTelemetry(db: Database, gw: GatewayAddress, message: TelemetryMessage, at: Date): Promise<void> {
  const latest = message.items.reduce((a, b) => (b.seq > a.seq ? b : a));
  const atSql = sql`${at.toISOString()}::timestamptz`;
  await db.execute(sql`
    update ${gateways}
       set state = case when ${gateways.lastSeenAt} is null or ${gateways.lastSeenAt} <= ${atSql} then 'online' else ${gateways.state} end,
           last_seen_at = greatest(coalesce(${gateways.lastSeenAt}, ${atSql}), ${atSql}),
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
 * complete changes nothing. A result that comes after the command's deadline (the cloud may already have
 * marked it `expired`) is still recorded, with its own state and `arrivedLate: true`, since the gateway did
 * act on it. Returns the ids that became complete now, and those this gateway never had.
 */
export async function applyResults(db: Database, gw: GatewayAddress, results: CommandResult[], at: Date): Promise<{ completed: string[]; unknown: string[] }> {
  const completed: string[] = [];
  const atSql = sql`${at.toISOString()}::timestamptz`;
  for (const result of results) {
    const rows = await db
      .update(gatewayCommands)
      .set({
        state: result.status,
        result: sql`${JSON.stringify(result)}::jsonb || case when ${gatewayCommands.state} = 'expired' or ${gatewayCommands.expiresAt} < ${atSql}
                                                          then '{"arrivedLate": true}'::jsonb else '{}'::jsonb end`,
        completedAt: at,
      })
      .where(and(eq(gatewayCommands.id, result.commandId), eq(gatewayCommands.gatewayId, gw.gatewayId), inArray(gatewayCommands.state, ['pending', 'expired'])))
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
