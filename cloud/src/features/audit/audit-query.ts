import { and, desc, eq, gte, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import { z } from '@hono/zod-openapi';
import type { StaffPrincipal } from '../../context.js';
import type { Database } from '../../db/client.js';
import { decodeCursor, encodeCursor } from '../../http/paging.js';
import { staffAccounts } from '../staff/staff.schema.js';
import { auditEvents } from './audit.schema.js';

export type AuditFilter = { communityId?: string | undefined; action?: string | undefined; from?: string | undefined; to?: string | undefined };

/**
 * The events a staff member may read: those of the communities in their scope, and those whose actor
 * or target is an account of their company (logins, role changes, exports, which carry no community).
 * Residents' own events without a community belong to no company and are shown to none.
 */
function visibleTo(db: Database, staff: StaffPrincipal): SQL {
  const companyStaff = db.select({ id: staffAccounts.id }).from(staffAccounts).where(eq(staffAccounts.companyId, staff.companyId));
  const companyStaffText = db.select({ id: sql<string>`${staffAccounts.id}::text` }).from(staffAccounts).where(eq(staffAccounts.companyId, staff.companyId));
  const clauses: SQL[] = [
    and(eq(auditEvents.actorKind, 'staff'), inArray(auditEvents.actorId, companyStaff))!,
    and(eq(auditEvents.targetKind, 'staff'), inArray(auditEvents.targetId, companyStaffText))!,
  ];
  if (staff.communityIds.size) clauses.push(inArray(auditEvents.communityId, [...staff.communityIds]));
  return or(...clauses)!;
}

// The cursor keeps the instant to the microsecond as PostgreSQL stores it, not as a JS Date
// (milliseconds), so rows written within the same millisecond are neither skipped nor repeated. It is
// ISO 8601 in UTC and checked as such: a forged cursor is a 400, never a failed ::timestamptz cast.
const AuditKey = z.tuple([z.iso.datetime(), z.number().int()]);
const atKey = sql<string>`to_char(${auditEvents.at} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * One page of audit events, newest first, for `staff` under `filter`. `from` is inclusive, `to` exclusive.
 *
 * @example
 * const page = await auditPage(db, staff, { action: 'staff.login' }, { limit: 50 });
 */
export async function auditPage(db: Database, staff: StaffPrincipal, filter: AuditFilter, page: { limit: number; cursor?: string | undefined }) {
  const conditions: SQL[] = [visibleTo(db, staff)];
  if (filter.communityId) conditions.push(eq(auditEvents.communityId, filter.communityId));
  if (filter.action) conditions.push(eq(auditEvents.action, filter.action));
  if (filter.from) conditions.push(gte(auditEvents.at, new Date(filter.from)));
  if (filter.to) conditions.push(lt(auditEvents.at, new Date(filter.to)));
  if (page.cursor) {
    const [at, id] = decodeCursor(page.cursor, AuditKey);
    conditions.push(sql`(${auditEvents.at}, ${auditEvents.id}) < (${at}::timestamptz, ${id}::bigint)`);
  }
  const rows = await db
    .select({ event: auditEvents, atKey, actorName: staffAccounts.displayName })
    .from(auditEvents)
    .leftJoin(staffAccounts, and(eq(auditEvents.actorKind, 'staff'), eq(staffAccounts.id, auditEvents.actorId)))
    .where(and(...conditions))
    .orderBy(desc(auditEvents.at), desc(auditEvents.id))
    .limit(page.limit + 1);
  const more = rows.length > page.limit;
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return {
    items: items.map(({ event: e, actorName }) => ({
      id: e.id,
      at: e.at.toISOString(),
      actorKind: e.actorKind,
      actorId: e.actorId,
      actorName,
      action: e.action,
      outcome: e.outcome,
      communityId: e.communityId,
      targetKind: e.targetKind,
      targetId: e.targetId,
      ip: e.ip,
      requestId: e.requestId,
      details: e.details,
    })),
    nextCursor: more && last ? encodeCursor([last.atKey, last.event.id]) : null,
  };
}

export type AuditItem = Awaited<ReturnType<typeof auditPage>>['items'][number];
