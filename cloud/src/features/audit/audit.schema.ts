import { bigserial, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** Append-only record of security-relevant acts: logins, bindings, role changes, exports, imports. */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    actorKind: text('actor_kind').notNull(),
    actorId: uuid('actor_id'),
    action: text('action').notNull(),
    outcome: text('outcome').notNull(),
    communityId: uuid('community_id'),
    targetKind: text('target_kind'),
    targetId: text('target_id'),
    ip: text('ip'),
    requestId: text('request_id'),
    // Never holds a phone or ID number in clear: callers pass masked values only.
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index('audit_events_community_at_idx').on(t.communityId, t.at), index('audit_events_action_idx').on(t.action, t.at)],
);
