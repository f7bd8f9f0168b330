import { and, count, eq, gt, isNull, min } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import { normalizeIdNumber } from '../../crypto/pii.js';
import { Problem } from '../../http/problem.js';
import { throttleEvents } from '../auth/auth.schema.js';
import { houses } from '../estate/estate.schema.js';
import { houseMembers, residents, rosterOwners } from './people.schema.js';

export const BINDING_MAX_FAILURES = 5;
export const BINDING_WINDOW_SECONDS = 3600;

export type BindRequest = { communityId: string; houseCode: string; ownerName: string; idNumber: string };

/** "1栋-2单元-301", "1－2－301" and " 1-2-301 " all name house 1-2-301. */
export function normalizeHouseCode(input: string): string {
  return input
    .trim()
    .replace(/[－—–_/\s]+/g, '-')
    .replace(/(号楼|栋|幢|号|楼)-/g, '-')
    .replace(/单元-/g, '-')
    .replace(/室$/, '');
}

async function assertNotLocked(deps: AppDeps, residentId: string, now: Date): Promise<void> {
  const since = new Date(now.getTime() - BINDING_WINDOW_SECONDS * 1000);
  const [row] = await deps.db
    .select({ n: count(), oldest: min(throttleEvents.at) })
    .from(throttleEvents)
    .where(and(eq(throttleEvents.bucket, 'binding'), eq(throttleEvents.subject, residentId), gt(throttleEvents.at, since)));
  if (row && row.n >= BINDING_MAX_FAILURES && row.oldest) {
    const retryAfter = Math.max(1, Math.ceil((row.oldest.getTime() + BINDING_WINDOW_SECONDS * 1000 - now.getTime()) / 1000));
    throw new Problem(
      'locked',
      `Binding is locked after ${BINDING_MAX_FAILURES} failed attempts; try again in ${Math.ceil(retryAfter / 60)} min or ask property service`,
      { retryAfterSeconds: retryAfter },
      { 'retry-after': String(retryAfter) },
    );
  }
}

export type BindOutcome =
  | { ok: true; created: boolean; member: typeof houseMembers.$inferSelect; house: typeof houses.$inferSelect }
  | { ok: false; problem: Problem; houseId: string | null };

/**
 * Binds a resident to a house as owner when house code, owner name and ID number match the roster.
 * Every mismatch gets the same answer, so the endpoint cannot be used to learn who owns what; each one
 * counts toward a lock. Binding again is harmless (returns the existing membership).
 */
export async function bindHouse(deps: AppDeps, residentId: string, request: BindRequest): Promise<BindOutcome> {
  const now = deps.now();
  await assertNotLocked(deps, residentId, now);
  const refuse = async (houseId: string | null): Promise<BindOutcome> => {
    await deps.db.insert(throttleEvents).values({ bucket: 'binding', subject: residentId, at: now });
    return { ok: false, houseId, problem: new Problem('binding-refused', 'No owner with this name and ID number is registered for this house. Check the house number as printed on your property contract.') };
  };
  const idNumber = normalizeIdNumber(request.idNumber);
  const [house] = await deps.db
    .select()
    .from(houses)
    .where(and(eq(houses.communityId, request.communityId), eq(houses.code, normalizeHouseCode(request.houseCode))));
  if (!house || !idNumber) return refuse(house?.id ?? null);
  const [owner] = await deps.db
    .select()
    .from(rosterOwners)
    .where(and(eq(rosterOwners.houseId, house.id), eq(rosterOwners.idNumberIndex, deps.vault.blindIndex(idNumber, 'id_number'))));
  if (!owner || owner.name !== request.ownerName.trim()) return refuse(house.id);

  return deps.db.transaction(async (tx) => {
    const [existing] = await tx
      .select()
      .from(houseMembers)
      .where(and(eq(houseMembers.houseId, house.id), eq(houseMembers.residentId, residentId), isNull(houseMembers.endedAt)));
    if (existing?.role === 'owner') return { ok: true as const, created: false, member: existing, house };
    const [otherAccount] = await tx
      .select()
      .from(houseMembers)
      .where(and(eq(houseMembers.rosterOwnerId, owner.id), isNull(houseMembers.endedAt)));
    if (otherAccount && otherAccount.residentId !== residentId) {
      return {
        ok: false as const,
        houseId: house.id,
        problem: new Problem('conflict', 'This owner is already bound to the house from another phone number; ask property service to move the binding'),
      };
    }
    // A family member or tenant who turns out to be an owner is promoted rather than duplicated.
    if (existing) await tx.update(houseMembers).set({ endedAt: now, endedBy: residentId }).where(eq(houseMembers.id, existing.id));
    const [member] = await tx
      .insert(houseMembers)
      .values({ houseId: house.id, residentId, role: 'owner', isPrimary: owner.isPrimary, rosterOwnerId: owner.id, createdAt: now })
      .returning();
    await tx.update(residents).set({ name: owner.name }).where(and(eq(residents.id, residentId), isNull(residents.name)));
    return { ok: true as const, created: true, member: member!, house };
  });
}
