import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, jsonb, numeric, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { communities, houses } from '../estate/estate.schema.js';
import { gateways } from '../gateways/gateways.schema.js';

export const METER_KINDS = ['electricity', 'water', 'gas', 'heat'] as const;
export const READING_SOURCES = ['gateway', 'manual', 'import'] as const;
export const READING_ANOMALIES = ['backwards', 'rollover', 'spike', 'gap', 'replaced'] as const;
export type ReadingAnomaly = (typeof READING_ANOMALIES)[number];

/**
 * A physical meter. A replaced meter keeps its row (removedAt, replacedBy) and its readings, so both
 * histories stay; the new meter starts its own. Meters without a gateway are read by hand.
 */
export const meters = pgTable(
  'meters',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    /** Null for shared-area meters (lifts, corridor lights, the pump room), split by area when billed. */
    houseId: uuid('house_id').references(() => houses.id),
    kind: text('kind', { enum: METER_KINDS }).notNull(),
    model: text('model').notNull(),
    serialNo: text('serial_no').notNull(),
    /** The quantity bills are computed from, e.g. energy_import (kWh) or volume (m3). */
    billingQuantity: text('billing_quantity').notNull(),
    unit: text('unit').notNull(),
    gatewayId: uuid('gateway_id').references(() => gateways.id),
    /** The meter's id on its gateway (config and topics). */
    deviceId: text('device_id'),
    busId: text('bus_id'),
    modbusUnitId: integer('modbus_unit_id'),
    pollSeconds: integer('poll_seconds').notNull().default(900),
    installedAt: timestamp('installed_at', { withTimezone: true }).notNull().defaultNow(),
    removedAt: timestamp('removed_at', { withTimezone: true }),
    replacedById: uuid('replaced_by_id'),
  },
  (t) => [
    uniqueIndex('meters_gateway_device_active_uq').on(t.gatewayId, t.deviceId).where(sql`${t.removedAt} is null and ${t.gatewayId} is not null`),
    uniqueIndex('meters_community_serial_uq').on(t.communityId, t.serialNo),
    index('meters_house_idx').on(t.houseId),
    check('meters_kind_known', sql`${t.kind} in ('electricity', 'water', 'gas', 'heat')`),
    check('meters_gateway_has_device', sql`(${t.gatewayId} is null) = (${t.deviceId} is null)`),
  ],
);

/**
 * Meter readings, exactly once: unique on (meter, read time) for every source and on (gateway, sequence)
 * for gateway readings, so a redelivered MQTT message or a replayed outbox inserts nothing new.
 */
export const meterReadings = pgTable(
  'meter_readings',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    meterId: uuid('meter_id')
      .notNull()
      .references(() => meters.id),
    readAt: timestamp('read_at', { withTimezone: true }).notNull(),
    /** The billing quantity's value, exact. */
    value: numeric('value', { precision: 20, scale: 6 }).notNull(),
    /** Every quantity the meter reported: { energy_import: { value: "12.34", unit: "kWh" }, ... }. */
    values: jsonb('values').$type<Record<string, { value: string; unit: string }>>().notNull(),
    source: text('source', { enum: READING_SOURCES }).notNull(),
    gatewayId: uuid('gateway_id'),
    gatewaySeq: bigint('gateway_seq', { mode: 'number' }),
    /** Flagged, never silently used by billing: backwards, rollover, spike, gap. */
    anomalies: jsonb('anomalies').$type<ReadingAnomaly[]>().notNull().default([]),
    enteredBy: uuid('entered_by'),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('meter_readings_meter_time_uq').on(t.meterId, t.readAt),
    uniqueIndex('meter_readings_gateway_seq_uq').on(t.gatewayId, t.gatewaySeq).where(sql`${t.gatewaySeq} is not null`),
    // The few readings flagged backwards, which billing looks for in every usage period.
    index('meter_readings_backwards_idx').on(t.meterId, t.readAt).where(sql`${t.anomalies} @> '["backwards"]'::jsonb`),
    check('meter_readings_source_known', sql`${t.source} in ('gateway', 'manual', 'import')`),
    check('meter_readings_gateway_source', sql`(${t.source} = 'gateway') = (${t.gatewaySeq} is not null)`),
  ],
);
