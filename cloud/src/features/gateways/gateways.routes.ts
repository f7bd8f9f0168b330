import { randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { GatewayConfig } from '@estate/protocol';
import { problemResponses } from '../../http/openapi.js';
import { Problem } from '../../http/problem.js';
import { createRouter } from '../../http/router.js';
import { bearerSecurity, CommunityParams, jsonBody, jsonResponse, staffOnly } from '../../http/route-kit.js';
import { recordAudit } from '../audit/audit-log.js';
import { scopedCommunity } from '../estate/estate.service.js';
import { hashPassword } from '../staff/passwords.js';
import type { AppDeps } from '../../context.js';
import { commandView, sendCommand, loadCommand, waitForResult } from './gateway-commands.js';
import { forgetKnownGateway } from './gateway-dispatcher.js';
import { CommandParams, ConfigApplied, ConfigUpdate, GatewayCommand, Gateway, GatewayParams, NewCommand, NewGateway, ProvisionedGateway, WaitQuery } from './gateways.api.js';
import { gatewayDevices, gateways } from './gateways.schema.js';
import { buildGatewayConfig, devicesOf, gatewayMqttUrl, gatewayView, loadScopedGateway, newGatewayPassword, storedConfig } from './gateways.service.js';

const tags = ['Gateways'];

/**
 * Ends a gateway's live MQTT session after its credential was rotated or it was revoked: a credential
 * is only checked at CONNECT, so without this the old session would go on. The embedded broker closes
 * the connection (the next CONNECT is checked against the registry); an external broker must be told by
 * its operator (docs/mqtt-brokers.md), which is logged.
 */
async function endGatewaySession(deps: AppDeps, gatewayId: string, why: 'credential rotated' | 'revoked'): Promise<void> {
  forgetKnownGateway(deps, gatewayId);
  if (deps.mqtt.disconnect) {
    const closed = await deps.mqtt.disconnect(gatewayId);
    deps.log.info({ gatewayId, closed }, `gateway ${why}: its MQTT connection on this broker was ${closed ? 'closed' : 'not open'}`);
  } else if (deps.mqtt.kind === 'external') {
    deps.log.warn({ gatewayId }, `gateway ${why}: the external MQTT broker keeps any live connection it has; disconnect the client there (docs/mqtt-brokers.md)`);
  }
}

/**
 * The gateway registry, mounted under /v1: provisioning (credential shown once, config bundle),
 * credential rotation, revocation, status with device availability, commands over MQTT and config push.
 */
export const gatewayRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/communities/{communityId}/gateways',
      tags,
      summary: 'Provision an edge gateway for a community',
      description: 'Answers with the gateway, its MQTT credential (shown this once; only an argon2id hash is kept) and the config bundle to install on it.',
      security: bearerSecurity,
      middleware: [staffOnly('gateway:manage')] as const,
      request: { params: CommunityParams, body: jsonBody(NewGateway) },
      responses: { 201: jsonResponse(ProvisionedGateway, 'Provisioned'), ...problemResponses(400, 401, 403, 409, 413, 415) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const { name } = c.req.valid('json');
      const deps = c.get('deps');
      await scopedCommunity(c, 'gateway:manage', communityId);
      const id = randomUUID();
      const password = newGatewayPassword();
      const config = await buildGatewayConfig(deps, { id, communityId, config: {} }, password);
      const credentialHash = await hashPassword(password);
      const gateway = await deps.db.transaction(async (tx) => {
        const [row] = await tx.insert(gateways).values({ id, communityId, name, credentialHash, config: storedConfig(config) }).returning();
        await recordAudit(c, { action: 'gateway.provision', outcome: 'success', communityId, targetKind: 'gateway', targetId: id, details: { name } }, tx);
        return row!;
      });
      return c.json({ gateway: gatewayView(gateway, deps.now(), []), credential: { username: id, password }, config }, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/communities/{communityId}/gateways',
      tags,
      summary: 'Gateways of a community, with their devices',
      security: bearerSecurity,
      middleware: [staffOnly('gateway:read')] as const,
      request: { params: CommunityParams },
      responses: { 200: jsonResponse(z.object({ items: z.array(Gateway) }), 'The gateways, by name'), ...problemResponses(400, 401, 403) },
    }),
    async (c) => {
      const { communityId } = c.req.valid('param');
      const deps = c.get('deps');
      await scopedCommunity(c, 'gateway:read', communityId);
      const rows = await deps.db.select().from(gateways).where(eq(gateways.communityId, communityId)).orderBy(asc(gateways.name), asc(gateways.id));
      const devices = rows.length
        ? await deps.db.select().from(gatewayDevices).where(inArray(gatewayDevices.gatewayId, rows.map((r) => r.id))).orderBy(asc(gatewayDevices.deviceId))
        : [];
      const now = deps.now();
      return c.json({ items: rows.map((g) => gatewayView(g, now, devices.filter((d) => d.gatewayId === g.id))) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/gateways/{gatewayId}',
      tags,
      summary: 'A gateway: online state, last seen, version, health and device availability',
      security: bearerSecurity,
      middleware: [staffOnly('gateway:read')] as const,
      request: { params: GatewayParams },
      responses: { 200: jsonResponse(Gateway, 'The gateway'), ...problemResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { gatewayId } = c.req.valid('param');
      const { gateway } = await loadScopedGateway(c, gatewayId, 'gateway:read');
      const deps = c.get('deps');
      return c.json(gatewayView(gateway, deps.now(), await devicesOf(deps.db, gateway.id)), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/gateways/{gatewayId}/credential',
      tags,
      summary: 'Rotate a gateway’s MQTT credential',
      description:
        'The old password stops working at once: a live connection made with it is closed (embedded broker; with an external broker the operator disconnects it) and its next connection is refused. The new one is shown this once, with the config bundle that carries it.',
      security: bearerSecurity,
      middleware: [staffOnly('gateway:manage')] as const,
      request: { params: GatewayParams },
      responses: { 200: jsonResponse(ProvisionedGateway, 'The new credential'), ...problemResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { gatewayId } = c.req.valid('param');
      const { gateway } = await loadScopedGateway(c, gatewayId, 'gateway:manage');
      if (gateway.revokedAt) throw new Problem('conflict', 'The gateway is revoked');
      const deps = c.get('deps');
      const password = newGatewayPassword();
      const config = await buildGatewayConfig(deps, gateway, password);
      const credentialHash = await hashPassword(password);
      const updated = await deps.db.transaction(async (tx) => {
        const [row] = await tx.update(gateways).set({ credentialHash }).where(eq(gateways.id, gateway.id)).returning();
        await recordAudit(c, { action: 'gateway.rotate_credential', outcome: 'success', communityId: gateway.communityId, targetKind: 'gateway', targetId: gateway.id }, tx);
        return row!;
      });
      await endGatewaySession(deps, gateway.id, 'credential rotated');
      return c.json({ gateway: gatewayView(updated, deps.now(), await devicesOf(deps.db, gateway.id)), credential: { username: gateway.id, password }, config }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/gateways/{gatewayId}/revoke',
      tags,
      summary: 'Revoke a gateway',
      description:
        'For good: its credential stops working, a live connection is closed (embedded broker; with an external broker the operator disconnects it and removes its ACL block), and messages still arriving from it are refused as `unknown-gateway`. Its history stays.',
      security: bearerSecurity,
      middleware: [staffOnly('gateway:manage')] as const,
      request: { params: GatewayParams },
      responses: { 200: jsonResponse(Gateway, 'The revoked gateway'), ...problemResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { gatewayId } = c.req.valid('param');
      const { gateway } = await loadScopedGateway(c, gatewayId, 'gateway:manage');
      if (gateway.revokedAt) throw new Problem('conflict', 'The gateway is already revoked');
      const deps = c.get('deps');
      const updated = await deps.db.transaction(async (tx) => {
        const [row] = await tx
          .update(gateways)
          // Shown offline from now on: its session is ended, and whatever still comes from it is refused.
          .set({ revokedAt: deps.now(), state: sql`case when ${gateways.state} = 'online' then 'offline' else ${gateways.state} end` })
          .where(and(eq(gateways.id, gateway.id), isNull(gateways.revokedAt)))
          .returning();
        if (!row) throw new Problem('conflict', 'The gateway is already revoked');
        await recordAudit(c, { action: 'gateway.revoke', outcome: 'success', communityId: gateway.communityId, targetKind: 'gateway', targetId: gateway.id }, tx);
        return row;
      });
      await endGatewaySession(deps, gateway.id, 'revoked');
      return c.json(gatewayView(updated, deps.now(), await devicesOf(deps.db, gateway.id)), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/gateways/{gatewayId}/commands',
      tags,
      summary: 'Send a command to a gateway and wait for its result',
      description: 'Publishes the command at QoS 1 on the gateway’s downlink and waits up to `wait` seconds (default 10) for the result: 200 with it, or 202 with the command to poll.',
      security: bearerSecurity,
      middleware: [staffOnly('gateway:manage')] as const,
      request: { params: GatewayParams, query: WaitQuery, body: jsonBody(NewCommand) },
      responses: {
        200: jsonResponse(GatewayCommand, 'The command with its result'),
        202: jsonResponse(GatewayCommand, 'Sent; no result yet. Poll GET …/commands/{commandId}'),
        ...problemResponses(400, 401, 403, 404, 409, 413, 415, 503),
      },
    }),
    async (c) => {
      const { gatewayId } = c.req.valid('param');
      const { wait } = c.req.valid('query');
      const body = c.req.valid('json');
      const { gateway, staff } = await loadScopedGateway(c, gatewayId, 'gateway:manage');
      if (gateway.revokedAt) throw new Problem('conflict', 'The gateway is revoked');
      const deps = c.get('deps');
      const params = body.name === 'config.apply' ? { config: gateway.config } : body.params;
      const command = await sendCommand(deps, gateway, body.name, params, staff.staffId);
      await recordAudit(c, { action: 'gateway.command', outcome: 'success', communityId: gateway.communityId, targetKind: 'gateway', targetId: gateway.id, details: { commandId: command.id, name: body.name } });
      const current = await waitForResult(deps, command, wait * 1000);
      return c.json(commandView(current), current.state === 'pending' ? 202 : 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/gateways/{gatewayId}/commands/{commandId}',
      tags,
      summary: 'A command and its result',
      security: bearerSecurity,
      middleware: [staffOnly('gateway:read')] as const,
      request: { params: CommandParams },
      responses: { 200: jsonResponse(GatewayCommand, 'The command'), ...problemResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { gatewayId, commandId } = c.req.valid('param');
      await loadScopedGateway(c, gatewayId, 'gateway:read');
      const command = await loadCommand(c.get('deps'), gatewayId, commandId);
      if (!command) throw new Problem('not-found', `No command ${commandId} for this gateway`);
      return c.json(commandView(command), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/gateways/{gatewayId}/config',
      tags,
      summary: 'Replace a gateway’s config and push it',
      description:
        'Validated with the protocol GatewayConfig, every problem listed. Stored as the next revision and pushed with `config.apply` (without the password: the gateway keeps its own); the gateway answers `rejected` if it cannot use it.',
      security: bearerSecurity,
      middleware: [staffOnly('gateway:manage')] as const,
      request: { params: GatewayParams, body: jsonBody(ConfigUpdate) },
      responses: { 202: jsonResponse(ConfigApplied, 'Stored and sent'), ...problemResponses(400, 401, 403, 404, 409, 413, 415, 503) },
    }),
    async (c) => {
      const { gatewayId } = c.req.valid('param');
      const body = c.req.valid('json');
      const { gateway, staff } = await loadScopedGateway(c, gatewayId, 'gateway:manage');
      if (gateway.revokedAt) throw new Problem('conflict', 'The gateway is revoked');
      const deps = c.get('deps');
      const config = validateConfigUpdate(body, gateway.id, gateway.communityId, gatewayMqttUrl(deps));
      const [updated] = await deps.db
        .update(gateways)
        .set({ config, configRevision: sql`${gateways.configRevision} + 1` })
        .where(eq(gateways.id, gateway.id))
        .returning();
      const command = await sendCommand(deps, updated!, 'config.apply', { config }, staff.staffId);
      await recordAudit(c, {
        action: 'gateway.command',
        outcome: 'success',
        communityId: gateway.communityId,
        targetKind: 'gateway',
        targetId: gateway.id,
        details: { commandId: command.id, name: 'config.apply', configRevision: updated!.configRevision },
      });
      return c.json({ configRevision: updated!.configRevision, config, command: commandView(command) }, 202);
    },
  );

/** Checks a config update with GatewayConfig, listing every problem; the result is stored without a password. */
function validateConfigUpdate(body: Record<string, unknown>, gatewayId: string, communityId: string, mqttUrl: string): Record<string, unknown> {
  const errors: { path: string; message: string; code: string }[] = [];
  const cloud = (body['cloud'] && typeof body['cloud'] === 'object' ? body['cloud'] : {}) as Record<string, unknown>;
  if ('password' in cloud) errors.push({ path: 'cloud.password', message: 'is managed by POST /v1/gateways/{gatewayId}/credential, not by config', code: 'custom' });
  if (body['gatewayId'] !== undefined && body['gatewayId'] !== gatewayId) errors.push({ path: 'gatewayId', message: 'must be this gateway’s id', code: 'custom' });
  if (body['communityId'] !== undefined && body['communityId'] !== communityId) errors.push({ path: 'communityId', message: 'must be this gateway’s community', code: 'custom' });
  const candidate = {
    v: 1,
    ...body,
    gatewayId,
    communityId,
    // A stand-in so the rest of the section is checked; it is removed before storing.
    cloud: { mqttUrl, username: gatewayId, ...cloud, password: 'kept-by-the-gateway' },
  };
  const parsed = GatewayConfig.safeParse(candidate);
  if (!parsed.success) errors.push(...parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code })));
  if (errors.length || !parsed.success) {
    throw new Problem('validation-failed', errors.map((e) => `${e.path || '(root)'}: ${e.message}`).join('; '), { errors });
  }
  return storedConfig(parsed.data);
}
