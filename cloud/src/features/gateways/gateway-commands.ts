import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { Command, topics, type CommandName } from '@estate/protocol';
import type { AppDeps } from '../../context.js';
import { Problem } from '../../http/problem.js';
import { commandEvents } from './command-events.js';
import { gatewayCommands } from './gateways.schema.js';
import type { Gateway } from './gateways.service.js';

export type GatewayCommand = typeof gatewayCommands.$inferSelect;

/** How long a gateway has to answer before the command counts as expired. */
export const COMMAND_TTL_MS = 60_000;
/**
 * config.apply takes longer: the gateway applies the config and waits up to 30 s for the cloud to be
 * reachable with it (rolling back if not) before it answers, so its deadline is that window plus a margin
 * for the outbox and the broker. A result that still comes later is recorded, marked `arrivedLate`.
 */
export const CONFIG_APPLY_TTL_MS = 120_000;
/** A door opens for someone standing at it: an open that reaches the gateway later than this is answered `expired`, not done. */
export const DOOR_OPEN_TTL_MS = 10_000;
/**
 * A door roster stays valid however late it arrives (the gateway ignores one older than it holds), so it
 * waits out an outage in the broker's session for the gateway.
 */
export const DOORS_SYNC_TTL_MS = 7 * 24 * 3600 * 1000;

/** The cloud-side deadline of a command. */
export function commandTtlMs(name: CommandName): number {
  if (name === 'config.apply') return CONFIG_APPLY_TTL_MS;
  if (name === 'door.open') return DOOR_OPEN_TTL_MS;
  if (name === 'doors.sync') return DOORS_SYNC_TTL_MS;
  return COMMAND_TTL_MS;
}
const POLL_MS = 250;

/**
 * `storedParams` is what the command table keeps when the params carry secrets (a door roster's lock
 * secrets): the gateway gets `params`, the table a redacted copy.
 *
 * Stores a command and publishes it on the gateway's downlink at QoS 1 ([MQTT-4.3.2-1]: the broker
 * keeps it for the gateway's persistent session if it is offline). The row is written first, so a
 * result can never arrive for a command the cloud does not know.
 *
 * @example
 * const command = await sendCommand(deps, gateway, 'ping', {}, staffId);
 */
export async function sendCommand(
  deps: AppDeps,
  gateway: Pick<Gateway, 'id' | 'communityId'>,
  name: CommandName,
  params: Record<string, unknown>,
  issuedBy: string | null,
  options: { storedParams?: Record<string, unknown> } = {},
): Promise<GatewayCommand> {
  const issuedAt = deps.now();
  const expiresAt = new Date(issuedAt.getTime() + commandTtlMs(name));
  const message = Command.parse({ v: 1, commandId: randomUUID(), name, params, issuedAt: issuedAt.toISOString(), expiresAt: expiresAt.toISOString() });
  const [row] = await deps.db
    .insert(gatewayCommands)
    .values({ id: message.commandId, gatewayId: gateway.id, name, params: options.storedParams ?? params, issuedAt, expiresAt, issuedBy })
    .returning();
  try {
    await deps.mqtt.publish(topics.downlink({ communityId: gateway.communityId, gatewayId: gateway.id }, 'commands'), JSON.stringify(message), { qos: 1 });
  } catch (error) {
    const detail = `the broker did not take the command: ${(error as Error).message}`;
    await deps.db
      .update(gatewayCommands)
      .set({ state: 'error', result: { error: { code: 'not-sent', message: detail } }, completedAt: deps.now() })
      .where(eq(gatewayCommands.id, message.commandId));
    throw new Problem('service-unavailable', `The command was not sent: ${detail}`);
  }
  return row!;
}

/**
 * A command as stored, marked expired once its window has passed without a result (a result that comes
 * later still replaces that: see applyResults).
 */
export async function loadCommand(deps: AppDeps, gatewayId: string, commandId: string): Promise<GatewayCommand | null> {
  const [row] = await deps.db.select().from(gatewayCommands).where(and(eq(gatewayCommands.id, commandId), eq(gatewayCommands.gatewayId, gatewayId)));
  if (!row || row.state !== 'pending' || row.expiresAt.getTime() > deps.now().getTime()) return row ?? null;
  const [expired] = await deps.db
    .update(gatewayCommands)
    .set({ state: 'expired', completedAt: deps.now() })
    .where(and(eq(gatewayCommands.id, commandId), eq(gatewayCommands.state, 'pending')))
    .returning();
  return expired ?? (await loadCommand(deps, gatewayId, commandId));
}

/**
 * Waits up to `timeoutMs` for the command's result: woken at once when this process ingests it, and
 * polling the table for one ingested by another process. Returns the command as it stands then.
 */
export async function waitForResult(deps: AppDeps, command: GatewayCommand, timeoutMs: number): Promise<GatewayCommand> {
  const deadline = Date.now() + timeoutMs;
  const events = commandEvents(deps);
  for (;;) {
    const current = (await loadCommand(deps, command.gatewayId, command.id)) ?? command;
    const remaining = deadline - Date.now();
    if (current.state !== 'pending' || remaining <= 0) return current;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(POLL_MS, remaining));
      function done() {
        clearTimeout(timer);
        events.off(command.id, done);
        resolve();
      }
      events.once(command.id, done);
    });
  }
}

/** The API shape of a command. */
export function commandView(c: GatewayCommand) {
  return {
    id: c.id,
    gatewayId: c.gatewayId,
    name: c.name,
    params: c.params,
    state: c.state,
    result: c.result ?? null,
    issuedAt: c.issuedAt.toISOString(),
    expiresAt: c.expiresAt.toISOString(),
    completedAt: c.completedAt?.toISOString() ?? null,
  };
}
