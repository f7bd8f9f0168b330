import { and, eq, isNull, sql } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import type { Database } from '../../db/client.js';
import { Problem } from '../../http/problem.js';
import { communities, houses } from '../estate/estate.schema.js';
import { houseMembers } from './people.schema.js';

/**
 * A membership grants access while it has not been ended and, for a tenant, while today (in the
 * community's time zone) lies within the tenancy. Every feature that serves a resident a house (bills,
 * keys, doors) asks this one function, so removing a member ends their access everywhere at once.
 */
export function membershipIsLive(now: Date) {
  // The app's clock, not the database's now(): every check in one request agrees, and tests can move it.
  const today = sql`(${now.toISOString()}::timestamptz at time zone ${communities.timeZone})::date`;
  return sql`${houseMembers.endedAt} is null and (${houseMembers.role} <> 'tenant' or ${today} between ${houseMembers.tenancyStart} and ${houseMembers.tenancyEnd})`;
}

export async function liveMembership(db: Database, residentId: string, houseId: string, now: Date) {
  const [row] = await db
    .select({ member: houseMembers, house: houses, community: communities })
    .from(houseMembers)
    .innerJoin(houses, eq(houses.id, houseMembers.houseId))
    .innerJoin(communities, eq(communities.id, houses.communityId))
    .where(and(eq(houseMembers.residentId, residentId), eq(houseMembers.houseId, houseId), membershipIsLive(now)));
  return row ?? null;
}

/**
 * The caller's live membership of a house, or 404: a resident cannot tell another's house from one that
 * does not exist.
 *
 * @example
 * const { member, house } = await requireMembership(deps, principal.residentId, houseId);
 */
export async function requireMembership(deps: Pick<AppDeps, 'db' | 'now'>, residentId: string, houseId: string) {
  const row = await liveMembership(deps.db, residentId, houseId, deps.now());
  if (!row) throw new Problem('not-found', 'You are not a member of this house');
  return row;
}

export async function requirePrimaryOwner(deps: Pick<AppDeps, 'db' | 'now'>, residentId: string, houseId: string) {
  const row = await requireMembership(deps, residentId, houseId);
  if (!row.member.isPrimary) throw new Problem('forbidden', 'Only the primary owner of this house can manage its members');
  return row;
}

export async function activeMembers(db: Database, houseId: string) {
  return db
    .select()
    .from(houseMembers)
    .where(and(eq(houseMembers.houseId, houseId), isNull(houseMembers.endedAt)));
}
