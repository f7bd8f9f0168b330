import { sql } from 'drizzle-orm';
import { boolean, check, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { communities, propertyCompanies } from '../estate/estate.schema.js';

export const STAFF_ROLES = ['super_admin', 'finance', 'customer_service', 'technician', 'gate_guard'] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

export const staffAccounts = pgTable(
  'staff_accounts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    companyId: uuid('company_id')
      .notNull()
      .references(() => propertyCompanies.id),
    username: text('username').notNull().unique(),
    displayName: text('display_name').notNull(),
    // argon2id PHC string.
    passwordHash: text('password_hash').notNull(),
    role: text('role', { enum: STAFF_ROLES }).notNull(),
    disabled: boolean('disabled').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // Usernames are one login namespace, compared without regard to case.
    uniqueIndex('staff_accounts_username_lower_uq').on(sql`lower(${t.username})`),
    check('staff_role_known', sql`${t.role} in ('super_admin', 'finance', 'customer_service', 'technician', 'gate_guard')`),
  ],
);

/** The communities a staff member works in. A super admin is company-wide and needs no rows here. */
export const staffCommunities = pgTable(
  'staff_communities',
  {
    staffId: uuid('staff_id')
      .notNull()
      .references(() => staffAccounts.id, { onDelete: 'cascade' }),
    communityId: uuid('community_id')
      .notNull()
      .references(() => communities.id),
  },
  (t) => [primaryKey({ columns: [t.staffId, t.communityId] })],
);
