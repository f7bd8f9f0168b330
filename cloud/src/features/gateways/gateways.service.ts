import { randomBytes } from 'node:crypto';
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Context } from 'hono';
import { GatewayConfig, type GatewayConfigInput } from '@estate/protocol';
import type { AppDeps, AppEnv, StaffPrincipal } from '../../context.js';
import type { Database } from '../../db/client.js';
import { requireStaff } from '../../http/auth-middleware.js';
import { Problem } from '../../http/problem.js';
import type { Permission } from '../rbac/permissions.js';
import { communities } from '../estate/estate.schema.js';
import { meters } from '../meters/meters.schema.js';
import { gatewayDevices, gateways } from './gateways.schema.js';

export type Gateway = typeof gateways.$inferSelect;
type Device = typeof gatewayDevices.$inferSelect;

/** A gateway that has sent nothing for this long is shown as overdue, even if its last will never came. */
export const HEARTBEAT_OVERDUE_MS = 5 * 60_000;

/** A fresh gateway password: 192 random bits, shown once; only its argon2id hash is stored. */
export function newGatewayPassword(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The gateway named in the path, after checking the caller's permission and community scope. A gateway of
 * another company is "not found", one of a community outside the caller's scope is forbidden.
 */
export async function loadScopedGateway(c: Context<AppEnv>, gatewayId: string, permission: Permission): Promise<{ gateway: Gateway; staff: StaffPrincipal }> {
  const staff = requireStaff(c, permission);
  const [row] = await c
    .get('deps')
    .db.select({ gateway: gateways })
    .from(gateways)
    .innerJoin(communities, eq(communities.id, gateways.communityId))
    .where(and(eq(gateways.id, gatewayId), eq(communities.companyId, staff.companyId)));
  if (!row) throw new Problem('not-found', `No gateway ${gatewayId}`);
  requireStaff(c, permission, row.gateway.communityId);
  return { gateway: row.gateway, staff };
}

/** The broker URL gateways are told to use: PUBLIC_MQTT_URL, else derived from the running broker. */
export function gatewayMqttUrl(deps: AppDeps): string {
  if (deps.config.PUBLIC_MQTT_URL) return deps.config.PUBLIC_MQTT_URL;
  if (deps.mqtt.kind === 'external') return deps.mqtt.url;
  const host = deps.config.PUBLIC_URL ? new URL(deps.config.PUBLIC_URL).hostname : 'localhost';
  const listener = deps.mqtt.tlsUrl ?? deps.mqtt.url;
  const port = deps.mqtt.kind === 'embedded' ? new URL(listener).port : String(deps.config.MQTT_PORT);
  return `${deps.mqtt.tlsUrl ? 'mqtts' : 'mqtt'}://${host}:${port}`;
}

/** Modbus meters of this gateway, from the meters table (active rows that name it). */
async function metersOf(db: Database, gatewayId: string): Promise<NonNullable<GatewayConfigInput['modbus']>['meters']> {
  const rows = await db
    .select()
    .from(meters)
    .where(and(eq(meters.gatewayId, gatewayId), isNull(meters.removedAt)))
    .orderBy(asc(meters.deviceId));
  return rows
    .filter((m) => m.deviceId && m.busId && m.modbusUnitId)
    .map((m) => ({ id: m.deviceId!, bus: m.busId!, unitId: m.modbusUnitId!, model: m.model, pollSeconds: m.pollSeconds }));
}

/**
 * The config a gateway runs: identity, where the broker is, its credential, and its Modbus buses
 * (from the stored config) and meters (from the meters table). Checked with the protocol's
 * GatewayConfig, so a bundle the gateway would refuse is never handed out.
 */
export async function buildGatewayConfig(deps: AppDeps, gateway: Pick<Gateway, 'id' | 'communityId' | 'config'>, password: string): Promise<GatewayConfig> {
  const stored = gateway.config as Partial<GatewayConfigInput>;
  const input: GatewayConfigInput = {
    ...stored,
    v: 1,
    gatewayId: gateway.id,
    communityId: gateway.communityId,
    cloud: { ...stored.cloud, mqttUrl: gatewayMqttUrl(deps), username: gateway.id, password },
    modbus: { buses: stored.modbus?.buses ?? [], meters: await metersOf(deps.db, gateway.id) },
  };
  const parsed = GatewayConfig.safeParse(input);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code }));
    throw new Problem('conflict', `The gateway's meters and buses do not make a valid config: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { errors });
  }
  return parsed.data;
}

/** The config as stored: everything but the password, which only the gateway holds. */
export function storedConfig(config: GatewayConfig): Record<string, unknown> {
  const { password: _password, ...cloud } = config.cloud;
  return { ...config, cloud };
}

function deviceView(d: Device) {
  return { deviceId: d.deviceId, kind: d.kind, available: d.available, reason: d.reason, since: d.since.toISOString(), updatedAt: d.updatedAt.toISOString() };
}

/** The API shape of a gateway, with its devices when given. */
export function gatewayView(g: Gateway, now: Date, devices?: Device[]) {
  const health = g.lastHealth as { outbox?: { depth?: number; alarm?: boolean } } | null;
  return {
    id: g.id,
    communityId: g.communityId,
    name: g.name,
    state: g.state,
    lastSeenAt: g.lastSeenAt?.toISOString() ?? null,
    heartbeatOverdue: g.state === 'online' && (!g.lastSeenAt || now.getTime() - g.lastSeenAt.getTime() > HEARTBEAT_OVERDUE_MS),
    version: g.version,
    bootId: g.bootId,
    configRevision: g.configRevision,
    outboxDepth: health?.outbox?.depth ?? null,
    outboxAlarm: health?.outbox?.alarm ?? null,
    lastHealth: g.lastHealth ?? null,
    revoked: g.revokedAt !== null,
    createdAt: g.createdAt.toISOString(),
    ...(devices ? { devices: devices.map(deviceView) } : {}),
  };
}

export async function devicesOf(db: Database, gatewayId: string): Promise<Device[]> {
  return db.select().from(gatewayDevices).where(eq(gatewayDevices.gatewayId, gatewayId)).orderBy(asc(gatewayDevices.deviceId));
}
