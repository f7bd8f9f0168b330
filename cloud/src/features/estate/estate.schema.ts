import { sql } from 'drizzle-orm';
import { check, date, integer, numeric, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

export const HOUSE_STATUSES = ['occupied', 'vacant', 'under_renovation', 'unsold'] as const;
export type HouseStatus = (typeof HOUSE_STATUSES)[number];

export const propertyCompanies = pgTable('property_companies', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const communities = pgTable(
  'communities',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    companyId: uuid('company_id')
      .notNull()
      .references(() => propertyCompanies.id),
    code: text('code').notNull(),
    name: text('name').notNull(),
    // IANA zone: billing periods and parking day boundaries are cut in the community's local time.
    timeZone: text('time_zone').notNull().default('Asia/Shanghai'),
    address: text('address').notNull().default(''),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('communities_company_code_uq').on(t.companyId, t.code)],
);

export const buildings = pgTable(
  'buildings',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    name: text('name').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('buildings_community_name_uq').on(t.communityId, t.name)],
);

export const units = pgTable(
  'units',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    buildingId: uuid('building_id')
      .notNull()
      .references(() => buildings.id),
    name: text('name').notNull(),
  },
  (t) => [uniqueIndex('units_building_name_uq').on(t.buildingId, t.name)],
);

export const houses = pgTable(
  'houses',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    unitId: uuid('unit_id')
      .notNull()
      .references(() => units.id),
    // Room number inside the unit, e.g. "301".
    number: text('number').notNull(),
    // The address residents type when binding: "<building>-<unit>-<room>", unique per community.
    code: text('code').notNull(),
    floor: integer('floor').notNull(),
    // Exact decimal so the property fee (area x unit price) is computed without float error.
    floorAreaM2: numeric('floor_area_m2', { precision: 10, scale: 2 }).notNull(),
    status: text('status', { enum: HOUSE_STATUSES }).notNull().default('occupied'),
    // Move-in and move-out for billing: time-based fees are prorated to the days inside this span.
    // Null start: billed from the first period; null end: billed on.
    billingStartsOn: date('billing_starts_on'),
    billingEndsOn: date('billing_ends_on'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('houses_unit_number_uq').on(t.unitId, t.number),
    uniqueIndex('houses_community_code_uq').on(t.communityId, t.code),
    check('houses_area_positive', sql`${t.floorAreaM2} > 0`),
    check('houses_billing_window', sql`${t.billingEndsOn} is null or ${t.billingStartsOn} is null or ${t.billingEndsOn} > ${t.billingStartsOn}`),
    check('houses_status_known', sql`${t.status} in ('occupied', 'vacant', 'under_renovation', 'unsold')`),
  ],
);
