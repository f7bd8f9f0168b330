import { sql } from 'drizzle-orm';
import { check, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { communities, houses } from '../estate/estate.schema.js';
import { residents } from '../people/people.schema.js';

export const SPACE_KINDS = ['owned', 'rented', 'public'] as const;
export type SpaceKind = (typeof SPACE_KINDS)[number];

export const parkingLots = pgTable(
  'parking_lots',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    name: text('name').notNull(),
    capacity: integer('capacity').notNull(),
  },
  (t) => [uniqueIndex('parking_lots_community_name_uq').on(t.communityId, t.name), check('parking_lots_capacity', sql`${t.capacity} >= 0`)],
);

export const parkingSpaces = pgTable(
  'parking_spaces',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    lotId: uuid('lot_id')
      .notNull()
      .references(() => parkingLots.id),
    number: text('number').notNull(),
    kind: text('kind', { enum: SPACE_KINDS }).notNull(),
    // Owned and rented spaces belong to a house; public spaces are for visitors and pay-per-stay.
    houseId: uuid('house_id').references(() => houses.id),
  },
  (t) => [
    uniqueIndex('parking_spaces_lot_number_uq').on(t.lotId, t.number),
    check('parking_spaces_kind_known', sql`${t.kind} in ('owned', 'rented', 'public')`),
    check('parking_spaces_public_has_no_house', sql`(${t.kind} = 'public') = (${t.houseId} is null)`),
  ],
);

export const vehicles = pgTable(
  'vehicles',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
    // Normalised plate: upper case, no spaces or dots, e.g. "沪A12345" or new-energy "粤B D12345" -> "粤BD12345".
    plate: text('plate').notNull(),
    houseId: uuid('house_id').references(() => houses.id),
    ownerResidentId: uuid('owner_resident_id').references(() => residents.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('vehicles_community_plate_uq').on(t.communityId, t.plate)],
);
