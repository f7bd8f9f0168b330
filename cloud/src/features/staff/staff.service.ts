import { and, asc, count, eq, inArray } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { Problem } from '../../http/problem.js';
import { communities } from '../estate/estate.schema.js';
import { staffAccounts, staffCommunities } from './staff.schema.js';

type StaffRow = typeof staffAccounts.$inferSelect;
type ScopeCommunity = { id: string; code: string; name: string };

/** Ids of every community of a company. */
export async function companyCommunityIds(db: Database, companyId: string): Promise<Set<string>> {
  const rows = await db.select({ id: communities.id }).from(communities).where(eq(communities.companyId, companyId));
  return new Set(rows.map((r) => r.id));
}

/**
 * The API shape of staff accounts, with their community scope. Only communities of the company are
 * shown (the estate routes honour no others), whatever stray rows staff_communities may hold.
 */
async function withScope(db: Database, companyId: string, rows: StaffRow[]) {
  const scope = rows.length
    ? await db
        .select({ staffId: staffCommunities.staffId, id: communities.id, code: communities.code, name: communities.name })
        .from(staffCommunities)
        .innerJoin(communities, eq(communities.id, staffCommunities.communityId))
        .where(and(inArray(staffCommunities.staffId, rows.map((r) => r.id)), eq(communities.companyId, companyId)))
        .orderBy(asc(communities.code))
    : [];
  return rows.map((s) => ({
    id: s.id,
    username: s.username,
    displayName: s.displayName,
    role: s.role,
    disabled: s.disabled,
    createdAt: s.createdAt.toISOString(),
    scope: s.role === 'super_admin' ? ('company' as const) : ('communities' as const),
    communities: s.role === 'super_admin' ? [] : scope.filter((r) => r.staffId === s.id).map(({ id, code, name }): ScopeCommunity => ({ id, code, name })),
  }));
}

/** One page of a company's staff accounts, by username, with the total. */
export async function listStaff(db: Database, companyId: string, limit: number, offset: number) {
  const where = eq(staffAccounts.companyId, companyId);
  const [rows, [total]] = await Promise.all([
    db.select().from(staffAccounts).where(where).orderBy(asc(staffAccounts.username)).limit(limit).offset(offset),
    db.select({ n: count() }).from(staffAccounts).where(where),
  ]);
  return { items: await withScope(db, companyId, rows), total: total?.n ?? 0 };
}

/** One account of the company, as the API shows it; 404 for any other. */
export async function staffView(db: Database, companyId: string, staffId: string) {
  const rows = await db
    .select()
    .from(staffAccounts)
    .where(and(eq(staffAccounts.id, staffId), eq(staffAccounts.companyId, companyId)));
  if (!rows.length) throw new Problem('not-found', 'Your company has no such staff account');
  return (await withScope(db, companyId, rows))[0]!;
}
