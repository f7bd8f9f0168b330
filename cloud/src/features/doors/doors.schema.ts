import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { buildings, communities, houses } from '../estate/estate.schema.js';
import { gateways } from '../gateways/gateways.schema.js';

export const DOOR_KINDS = ['community-gate', 'building-entrance', 'other'] as const;
export const HOLDER_KINDS = ['resident', 'staff', 'visitor'] as const;
export const ACCESS_METHODS = ['online', 'qr'] as const;
/** `pending` while an online open waits for its gateway; `unknown` when it did not answer in time. */
export const ACCESS_OUTCOMES = ['pending', 'opened', 'denied', 'failed', 'unknown'] as const;
export const DOOR_ACCESS_LEVELS = ['all', 'gates-only', 'none'] as const;
export type DoorAccessLevel = (typeof DOOR_ACCESS_LEVELS)[number];

/**
 * The community's Ed25519 signing keys for virtual keys. The private key is sealed with the PII vault
 * (AES-256-GCM). A retired key stays in the published key set until `not_after`: the latest valid-until
 * of anything it signed, after which it can verify nothing still valid.
 */
export const doorSigningKeys = pgTable(
  'door_signing_keys',
  {
    keyId: text('key_id').primaryKey(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    publicKey: text('public_key').notNull(),
    privateKeySealed: text('private_key_sealed').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    retiredAt: timestamp('retired_at', { withTimezone: true }),
    notAfter: timestamp('not_after', { withTimezone: true }),
  },
  (t) => [uniqueIndex('door_signing_keys_one_active_uq').on(t.communityId).where(sql`${t.retiredAt} is null`)],
);

/** Door groups: keys name groups, so a new door in a group needs no new keys. */
export const doorGroups = pgTable(
  'door_groups',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    code: integer('code').notNull(),
    name: text('name').notNull(),
    /** `community-gates` (every resident), `building` (residents of that building), `custom`. */
    kind: text('kind', { enum: ['community-gates', 'building', 'custom'] }).notNull(),
    buildingId: uuid('building_id').references(() => buildings.id),
  },
  (t) => [
    uniqueIndex('door_groups_code_uq').on(t.communityId, t.code),
    uniqueIndex('door_groups_building_uq').on(t.buildingId).where(sql`${t.kind} = 'building'`),
    uniqueIndex('door_groups_gates_uq').on(t.communityId).where(sql`${t.kind} = 'community-gates'`),
    check('door_groups_code_range', sql`${t.code} between 1 and 32767`),
  ],
);

/** The registry: door <-> lock <-> gateway. The lock secret is sealed; battery and sensor come from the lock. */
export const doors = pgTable(
  'doors',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    code: integer('code').notNull(),
    name: text('name').notNull(),
    kind: text('kind', { enum: DOOR_KINDS }).notNull(),
    buildingId: uuid('building_id').references(() => buildings.id),
    gatewayId: uuid('gateway_id').references(() => gateways.id),
    lockId: text('lock_id').notNull(),
    lockAddress: text('lock_address').notNull(),
    lockSecretSealed: text('lock_secret_sealed').notNull(),
    holdMs: integer('hold_ms').notNull().default(5000),
    battery: integer('battery'),
    doorOpen: boolean('door_open'),
    /** The lock's last reported status (LockStatus). */
    lockStatus: jsonb('lock_status'),
    statusAt: timestamp('status_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    removedAt: timestamp('removed_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('doors_code_uq').on(t.communityId, t.code),
    uniqueIndex('doors_lock_uq').on(t.gatewayId, t.lockId).where(sql`${t.removedAt} is null`),
    check('doors_code_range', sql`${t.code} between 1 and 32767`),
    check('doors_building_entrance_has_building', sql`${t.kind} <> 'building-entrance' or ${t.buildingId} is not null`),
  ],
);

export const doorGroupMembers = pgTable(
  'door_group_members',
  {
    groupId: uuid('group_id')
      .notNull()
      .references(() => doorGroups.id),
    doorId: uuid('door_id')
      .notNull()
      .references(() => doors.id),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.doorId] })],
);

/** Each door roster sent to a gateway has the next revision; the gateway ignores older ones. */
export const gatewayDoorRosters = pgTable('gateway_door_rosters', {
  gatewayId: uuid('gateway_id')
    .primaryKey()
    .references(() => gateways.id),
  revision: integer('revision').notNull(),
  sentAt: timestamp('sent_at', { withTimezone: true }).notNull(),
  lastCommandId: uuid('last_command_id'),
});

/** Versions of the retained shared state per community: key set and revocation list. */
export const doorSharedState = pgTable('door_shared_state', {
  communityId: uuid('community_id')
    .primaryKey()
    .references(() => communities.id),
  keySetVersion: integer('key_set_version').notNull().default(0),
  revocationsVersion: integer('revocations_version').notNull().default(0),
  keySetPublishedAt: timestamp('key_set_published_at', { withTimezone: true }),
  revocationsPublishedAt: timestamp('revocations_published_at', { withTimezone: true }),
});

/** Every virtual key issued, as signed (`credential`, base64url), so a phone can fetch it again. */
export const doorCredentials = pgTable(
  'door_credentials',
  {
    id: uuid('id').primaryKey(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    holderKind: text('holder_kind', { enum: HOLDER_KINDS }).notNull(),
    holderId: uuid('holder_id').notNull(),
    /** For a resident's key: the house it flows from (removing the member revokes it). */
    houseId: uuid('house_id').references(() => houses.id),
    devicePublicKey: text('device_public_key').notNull(),
    keyId: text('key_id')
      .notNull()
      .references(() => doorSigningKeys.keyId),
    /** DoorScope: { doors: number[], groups: number[] }. */
    scope: jsonb('scope').notNull(),
    validFrom: timestamp('valid_from', { withTimezone: true }).notNull(),
    validUntil: timestamp('valid_until', { withTimezone: true }).notNull(),
    useLimit: integer('use_limit').notNull().default(0),
    uses: integer('uses').notNull().default(0),
    credential: text('credential').notNull(),
    issuedAt: timestamp('issued_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    revokeReason: text('revoke_reason'),
  },
  (t) => [
    index('door_credentials_holder_idx').on(t.holderKind, t.holderId),
    index('door_credentials_revoked_idx').on(t.communityId, t.validUntil).where(sql`${t.revokedAt} is not null`),
  ],
);

/** A pass an owner shares by link; the first device that claims it gets its key. */
export const visitorPasses = pgTable(
  'visitor_passes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    houseId: uuid('house_id')
      .notNull()
      .references(() => houses.id),
    createdBy: uuid('created_by').notNull(),
    visitorName: text('visitor_name').notNull(),
    validFrom: timestamp('valid_from', { withTimezone: true }).notNull(),
    validUntil: timestamp('valid_until', { withTimezone: true }).notNull(),
    useLimit: integer('use_limit').notNull(),
    doorScope: jsonb('door_scope').notNull(),
    claimSecretHash: text('claim_secret_hash').notNull(),
    credentialId: uuid('credential_id').references(() => doorCredentials.id),
    claimedAt: timestamp('claimed_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [index('visitor_passes_house_idx').on(t.houseId, t.createdAt)],
);

/**
 * Every attempt to open a door: online ones from the moment the cloud takes them, QR ones when the
 * gateway's record arrives. `attempt_id` is the online command's id or the gateway's own id for a scan,
 * so a record delivered twice (QoS 1) or by both the command result and the access channel is one row.
 */
export const doorAccessEvents = pgTable(
  'door_access_events',
  {
    attemptId: uuid('attempt_id').primaryKey(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    doorId: uuid('door_id').references(() => doors.id),
    method: text('method', { enum: ACCESS_METHODS }).notNull(),
    outcome: text('outcome', { enum: ACCESS_OUTCOMES }).notNull(),
    reason: text('reason'),
    detail: text('detail'),
    credentialId: uuid('credential_id'),
    holderKind: text('holder_kind', { enum: HOLDER_KINDS }),
    holderId: uuid('holder_id'),
    gatewayId: uuid('gateway_id'),
    readerId: text('reader_id'),
    /** Who decided: the cloud (refused before sending) or the gateway. */
    decidedBy: text('decided_by', { enum: ['cloud', 'gateway'] }).notNull(),
    requestedAt: timestamp('requested_at', { withTimezone: true }).notNull(),
    decidedAt: timestamp('decided_at', { withTimezone: true }),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull(),
    gatewaySeq: bigint('gateway_seq', { mode: 'number' }),
  },
  (t) => [
    index('door_access_events_community_idx').on(t.communityId, t.requestedAt, t.attemptId),
    index('door_access_events_door_idx').on(t.doorId, t.requestedAt),
    index('door_access_events_credential_idx').on(t.credentialId),
  ],
);

/** Lock notifications worth keeping: tamper, jam, low battery, door sensor. */
export const lockEvents = pgTable(
  'lock_events',
  {
    gatewayId: uuid('gateway_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    doorId: uuid('door_id').references(() => doors.id),
    lockId: text('lock_id').notNull(),
    kind: text('kind').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    battery: integer('battery').notNull(),
    status: jsonb('status').notNull(),
  },
  (t) => [primaryKey({ columns: [t.gatewayId, t.seq] }), index('lock_events_door_idx').on(t.doorId, t.at)],
);
