import { and, eq, isNull } from 'drizzle-orm';
import type { z } from 'zod';
import {
  DeviceAvailability,
  GatewayState,
  MAX_PAYLOAD_BYTES,
  ReadingsMessage,
  UPLINK_SCHEMAS,
  decodePayload,
  parseTopic,
  type AccessMessage,
  type GatewayAddress,
  type LockEventsMessage,
  type RejectReason,
} from '@estate/protocol';
import type { AppDeps } from '../../context.js';
import { mqttMetrics } from '../../mqtt/mqtt-metrics.js';
import { commandEvents } from './command-events.js';
import { applyAvailability, applyGatewayState, applyResults, applyTelemetry } from './gateway-uplink.js';
import { gateways, ingestRejections } from './gateways.schema.js';

/** Where readings go; the meters feature's `createReadingIngest(deps)` is one. Resolves once committed. */
export type ReadingsHandler = { handle(gateway: GatewayAddress, message: ReadingsMessage): Promise<void> };
/** Where door access records and lock events go (the doors feature); both resolve once committed. */
export type DoorHandlers = {
  access(gateway: GatewayAddress, items: AccessMessage['items']): Promise<void>;
  locks(gateway: GatewayAddress, items: LockEventsMessage['items']): Promise<void>;
  /** The gateway said it is online (a new connection): what it should hold is sent again. */
  online(gateway: GatewayAddress): Promise<void>;
};

/** The protocol's reasons plus the cloud's own: a gateway the registry does not know (external brokers). */
export type CloudRejectReason = RejectReason | 'unknown-gateway' | 'unknown-command';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const GATEWAY_CACHE_MS = 30_000;

/**
 * The payload as an operator can read it: text when it is UTF-8 (NUL removed, which PostgreSQL text
 * cannot hold), base64 otherwise. All of it: a gateway message is at most MAX_PAYLOAD_BYTES (the broker
 * closes a connection sending more), and a refused batch's readings can then be recovered from here
 * (from a gateway upgraded to a newer version before the cloud, say); an oversized one keeps its first
 * MAX_PAYLOAD_BYTES.
 */
export function keptPayload(payload: Buffer): string {
  const head = payload.subarray(0, MAX_PAYLOAD_BYTES);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(head).replaceAll('\u0000', '\uFFFD');
  } catch {
    return `base64:${head.toString('base64')}`;
  }
}

const knownByDeps = new WeakMap<AppDeps, Map<string, { communityId: string; until: number }>>();

/** The dispatcher's cache of gateways it found in the registry, shared per app so the API can clear it. */
function knownGateways(deps: AppDeps): Map<string, { communityId: string; until: number }> {
  let known = knownByDeps.get(deps);
  if (!known) {
    known = new Map();
    knownByDeps.set(deps, known);
  }
  return known;
}

/** Drops a gateway from the dispatcher's cache (revoked: its messages are refused from now on). */
export function forgetKnownGateway(deps: AppDeps, gatewayId: string): void {
  knownByDeps.get(deps)?.delete(gatewayId);
}

/**
 * Routes every gateway message by topic, decodes it against its schema and applies it. A message that
 * cannot be used is counted (`mqtt_messages_rejected_total{reason}`), logged without its contents and
 * kept in ingest_rejections, and then resolves, so the transport acknowledges it: a poison message must
 * not block the queue. A database failure rejects, so the transport retries and does not acknowledge.
 *
 * @example
 * const dispatcher = createGatewayDispatcher(deps, { readings: createReadingIngest(deps) });
 * deps.mqtt.onMessage(dispatcher.handle);
 */
export function createGatewayDispatcher(deps: AppDeps, handlers: { readings: ReadingsHandler; doors?: DoorHandlers }) {
  const metrics = mqttMetrics(deps.metrics.registry);
  const log = deps.log.child({ component: 'gateway-dispatcher' });
  const known = knownGateways(deps);

  async function reject(topic: string, payload: Buffer, gatewayId: string | null, reason: CloudRejectReason, detail: string): Promise<void> {
    await deps.db.insert(ingestRejections).values({
      receivedAt: deps.now(),
      topic: topic.slice(0, 1000),
      gatewayId: gatewayId && UUID.test(gatewayId) ? gatewayId : null,
      reason,
      detail: detail.slice(0, 1000),
      payload: keptPayload(payload),
    });
    metrics.rejected.inc({ reason });
    // Never the payload itself: it may carry anything.
    log.warn({ topic: topic.slice(0, 300), gatewayId, reason, detail: detail.slice(0, 300), bytes: payload.byteLength }, 'gateway message rejected');
  }

  /** The topic's gateway, if the registry has it (not revoked) in the topic's community. */
  async function isKnown(gw: GatewayAddress): Promise<boolean> {
    const cached = known.get(gw.gatewayId);
    if (cached && cached.until > Date.now()) return cached.communityId === gw.communityId;
    if (!UUID.test(gw.gatewayId)) return false;
    const [row] = await deps.db
      .select({ communityId: gateways.communityId })
      .from(gateways)
      .where(and(eq(gateways.id, gw.gatewayId), isNull(gateways.revokedAt)));
    if (!row) return false;
    known.set(gw.gatewayId, { communityId: row.communityId, until: Date.now() + GATEWAY_CACHE_MS });
    return row.communityId === gw.communityId;
  }

  async function handle(topic: string, payload: Buffer, meta?: { receivedAtMs: number }): Promise<void> {
    const parsed = parseTopic(topic);
    if (!parsed || parsed.kind === 'shared' || parsed.kind === 'downlink') {
      const gatewayId = /\/gw\/([^/]+)\//.exec(topic)?.[1] ?? null;
      return reject(topic, payload, gatewayId, 'wrong-topic', parsed ? `${parsed.kind} topics are not uplink` : 'not a topic of the estate/v1 tree');
    }
    const gw: GatewayAddress = { communityId: parsed.communityId, gatewayId: parsed.gatewayId };
    if (!(await isKnown(gw))) return reject(topic, payload, gw.gatewayId, 'unknown-gateway', 'no such gateway in this community, or it is revoked');
    // When the transport took the message, on the app's clock: the same on every retry, so state changes
    // are ordered by arrival, not by when a retry finally got through (see applyGatewayState).
    const at = new Date(deps.now().getTime() - (meta ? Math.max(0, Date.now() - meta.receivedAtMs) : 0));

    if (parsed.kind === 'state') {
      const decoded = decodePayload(GatewayState, payload);
      if (!decoded.ok) return reject(topic, payload, gw.gatewayId, decoded.reason, decoded.detail);
      await applyGatewayState(deps.db, gw, decoded.message, at);
      if (decoded.message.state === 'online' && handlers.doors) {
        // Not awaited: the state is committed, and a failed resend must not make the broker redeliver it.
        handlers.doors.online(gw).catch((error: unknown) => log.error({ gatewayId: gw.gatewayId, err: error }, 'door roster resend failed'));
      }
    } else if (parsed.kind === 'deviceAvailability') {
      const decoded = decodePayload(DeviceAvailability, payload);
      if (!decoded.ok) return reject(topic, payload, gw.gatewayId, decoded.reason, decoded.detail);
      if (decoded.message.deviceId !== parsed.deviceId) {
        return reject(topic, payload, gw.gatewayId, 'wrong-topic', `the body names device ${decoded.message.deviceId}, the topic ${parsed.deviceId}`);
      }
      await applyAvailability(deps.db, gw, decoded.message, at);
    } else {
      const decoded = decodePayload(UPLINK_SCHEMAS[parsed.channel], payload);
      if (!decoded.ok) return reject(topic, payload, gw.gatewayId, decoded.reason, decoded.detail);
      const message = decoded.message;
      if (message.gatewayId !== gw.gatewayId) {
        return reject(topic, payload, gw.gatewayId, 'gateway-mismatch', `the body names gateway ${message.gatewayId}, the topic ${gw.gatewayId}`);
      }
      if (parsed.channel === 'readings') {
        await handlers.readings.handle(gw, message as ReadingsMessage);
      } else if (parsed.channel === 'access' || parsed.channel === 'locks') {
        if (!handlers.doors) return reject(topic, payload, gw.gatewayId, 'wrong-topic', 'this cloud does not take door messages');
        if (parsed.channel === 'access') await handlers.doors.access(gw, (message as AccessMessage).items);
        else await handlers.doors.locks(gw, (message as LockEventsMessage).items);
      } else if (parsed.channel === 'telemetry') {
        await applyTelemetry(deps.db, gw, message as z.infer<(typeof UPLINK_SCHEMAS)['telemetry']>, at);
      } else {
        const { completed, unknown } = await applyResults(deps.db, gw, (message as z.infer<(typeof UPLINK_SCHEMAS)['results']>).items, at);
        for (const id of completed) commandEvents(deps).emit(id);
        if (unknown.length) await reject(topic, payload, gw.gatewayId, 'unknown-command', `no command ${unknown.slice(0, 5).join(', ')} was sent to this gateway`);
      }
    }
    metrics.processed.inc({ kind: parsed.kind === 'uplink' ? parsed.channel : parsed.kind });
  }

  return { handle };
}

export type GatewayDispatcher = ReturnType<typeof createGatewayDispatcher>;
