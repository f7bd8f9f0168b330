import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { communities } from '../estate/estate.schema.js';

export const GATEWAY_STATES = ['never_connected', 'online', 'offline'] as const;
export const DEVICE_KINDS = ['meter', 'lock', 'gate', 'camera'] as const;

/** One edge gateway per community. Its MQTT username is its id; the password is stored as argon2id. */
export const gateways = pgTable(
  'gateways',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    name: text('name').notNull(),
    credentialHash: text('credential_hash').notNull(),
    state: text('state', { enum: GATEWAY_STATES }).notNull().default('never_connected'),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }),
    version: text('version'),
    bootId: uuid('boot_id'),
    lastHealth: jsonb('last_health').$type<Record<string, unknown>>(),
    /** The config the gateway should run (without its password), and how many times it changed. */
    config: jsonb('config').$type<Record<string, unknown>>().notNull(),
    configRevision: integer('config_revision').notNull().default(1),
    /** Highest gateway sequence number ingested, for gap reports. */
    highestSeq: bigint('highest_seq', { mode: 'number' }).notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    index('gateways_community_idx').on(t.communityId),
    check('gateways_state_known', sql`${t.state} in ('never_connected', 'online', 'offline')`),
  ],
);

/** Devices a gateway reports availability for (retained `.../devices/{deviceId}/availability`). */
export const gatewayDevices = pgTable(
  'gateway_devices',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    gatewayId: uuid('gateway_id')
      .notNull()
      .references(() => gateways.id),
    deviceId: text('device_id').notNull(),
    kind: text('kind', { enum: DEVICE_KINDS }).notNull(),
    available: boolean('available').notNull(),
    reason: text('reason'),
    since: timestamp('since', { withTimezone: true }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('gateway_devices_gateway_device_uq').on(t.gatewayId, t.deviceId)],
);

export const COMMAND_STATES = ['pending', 'ok', 'error', 'rejected', 'expired'] as const;

/** Commands sent to gateways; `id` is the correlation id the result carries back. */
export const gatewayCommands = pgTable(
  'gateway_commands',
  {
    id: uuid('id').primaryKey(),
    gatewayId: uuid('gateway_id')
      .notNull()
      .references(() => gateways.id),
    name: text('name').notNull(),
    params: jsonb('params').$type<Record<string, unknown>>().notNull(),
    issuedAt: timestamp('issued_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    state: text('state', { enum: COMMAND_STATES }).notNull().default('pending'),
    result: jsonb('result').$type<Record<string, unknown>>(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    issuedBy: uuid('issued_by'),
  },
  (t) => [index('gateway_commands_gateway_idx').on(t.gatewayId, t.issuedAt)],
);

/**
 * Messages the cloud refused, with why: malformed, oversized, unknown version, wrong topic, unknown
 * meter. Nothing a gateway sends is dropped without a row here (DESIGN.md, "Nothing is lost").
 */
export const ingestRejections = pgTable(
  'ingest_rejections',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    topic: text('topic').notNull(),
    gatewayId: uuid('gateway_id'),
    reason: text('reason').notNull(),
    detail: text('detail').notNull(),
    /** The payload as received (whole, at most MAX_PAYLOAD_BYTES; base64 if not UTF-8), so what came can be recovered. */
    payload: text('payload').notNull(),
  },
  (t) => [index('ingest_rejections_received_idx').on(t.receivedAt), index('ingest_rejections_gateway_idx').on(t.gatewayId, t.receivedAt)],
);
