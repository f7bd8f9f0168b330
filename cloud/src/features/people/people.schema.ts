import { sql } from 'drizzle-orm';
import { boolean, check, date, index, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { houses } from '../estate/estate.schema.js';

export const MEMBER_ROLES = ['owner', 'family', 'tenant'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

/**
 * A person who logs in by phone. Phone numbers are stored encrypted (AES-256-GCM) and found through a
 * keyed blind index, so a database dump reveals neither the number nor which rows share one.
 */
export const residents = pgTable(
  'residents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    phoneEnc: text('phone_enc').notNull(),
    phoneIndex: text('phone_index').notNull(),
    name: text('name'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastLoginAt: timestamp('last_login_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('residents_phone_index_uq').on(t.phoneIndex)],
);

/** Owners as the property company's roster records them: the ground truth a binding is checked against. */
export const rosterOwners = pgTable(
  'roster_owners',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    houseId: uuid('house_id')
      .notNull()
      .references(() => houses.id),
    name: text('name').notNull(),
    idNumberEnc: text('id_number_enc').notNull(),
    idNumberIndex: text('id_number_index').notNull(),
    phoneEnc: text('phone_enc'),
    phoneIndex: text('phone_index'),
    // The one owner per house who receives bill notices.
    isPrimary: boolean('is_primary').notNull().default(false),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('roster_owners_house_id_number_uq').on(t.houseId, t.idNumberIndex),
    uniqueIndex('roster_owners_one_primary_uq').on(t.houseId).where(sql`${t.isPrimary}`),
  ],
);

/** A resident's link to a house. Ending it (endedAt) ends every access that flows from it. */
export const houseMembers = pgTable(
  'house_members',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    houseId: uuid('house_id')
      .notNull()
      .references(() => houses.id),
    residentId: uuid('resident_id')
      .notNull()
      .references(() => residents.id),
    role: text('role', { enum: MEMBER_ROLES }).notNull(),
    isPrimary: boolean('is_primary').notNull().default(false),
    rosterOwnerId: uuid('roster_owner_id').references(() => rosterOwners.id),
    tenancyStart: date('tenancy_start'),
    tenancyEnd: date('tenancy_end'),
    invitedBy: uuid('invited_by').references(() => residents.id),
    /** Which doors the member's keys open, as the primary owner chose: all, community gates only, none. */
    doorAccess: text('door_access', { enum: ['all', 'gates-only', 'none'] }).notNull().default('all'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    endedBy: uuid('ended_by'),
  },
  (t) => [
    uniqueIndex('house_members_active_uq').on(t.houseId, t.residentId).where(sql`${t.endedAt} is null`),
    // One live account per roster owner: two phones binding the same owner at once cannot both win.
    uniqueIndex('house_members_roster_owner_active_uq').on(t.rosterOwnerId).where(sql`${t.rosterOwnerId} is not null and ${t.endedAt} is null`),
    uniqueIndex('house_members_one_primary_uq').on(t.houseId).where(sql`${t.isPrimary} and ${t.endedAt} is null`),
    index('house_members_resident_idx').on(t.residentId),
    check('house_members_role_known', sql`${t.role} in ('owner', 'family', 'tenant')`),
    check('house_members_primary_is_owner', sql`not ${t.isPrimary} or ${t.role} = 'owner'`),
    check(
      'house_members_tenancy_dates',
      sql`(${t.role} = 'tenant') = (${t.tenancyStart} is not null and ${t.tenancyEnd} is not null) and (${t.tenancyEnd} is null or ${t.tenancyEnd} >= ${t.tenancyStart})`,
    ),
  ],
);
